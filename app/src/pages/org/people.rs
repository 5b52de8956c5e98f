//! The people side of `/org/settings`: a member's standing (deactivate,
//! reactivate, remove), invitations (invite by e-mail, send again, revoke),
//! and the organization's audit log.

use keyhouse_idp_component::{ApiError, use_member};
use keyhouse_types::admin::{AuditEvent, Page};
use keyhouse_types::b2b::{InvitationInfo, InviteRequest, MemberInfo};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::sentence;
use crate::pages::Spinner;
use crate::pages::admin::widgets::format_datetime;
use crate::pages::encode_segment;

/// What to tell the admin when a call fails.
fn message(e: &ApiError) -> String {
    match e.status() {
        _ if e.is_network() => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        401 => "Your session has ended. Sign in again.".into(),
        403 => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Your role doesn't allow that.".into()),
        404 => "That no longer exists. Reload the page.".into(),
        400 | 409 => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "That change isn't possible.".into()),
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}

/// The actions that change a member's standing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Deactivate,
    Reactivate,
    Remove,
}

impl Change {
    fn path(self) -> &'static str {
        match self {
            Change::Deactivate => "deactivate",
            Change::Reactivate => "reactivate",
            Change::Remove => "remove",
        }
    }
}

/// A member row's status and the actions on it. Deactivating and removing
/// ask twice: they sign the member out and disconnect their apps at once.
#[component]
pub(super) fn MemberStanding(
    /// The member.
    m: MemberInfo,
    /// Called after a change, to load the members again.
    reload: Callback<()>,
) -> impl IntoView {
    let member = use_member();
    let confirming = RwSignal::new(None::<Change>);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = StoredValue::new(m.member_id.clone());
    let is_me = member
        .member()
        .is_some_and(|me| me.member.member_id == m.member_id);
    let active = m.status == "active";
    let email = m.email.clone();
    let run = move |change: Change| {
        if confirming.get_untracked() != Some(change) && change != Change::Reactivate {
            confirming.set(Some(change));
            return;
        }
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            let path = format!(
                "/api/b2b/members/{}/{}",
                encode_segment(&id.get_value()),
                change.path()
            );
            let answer = member.api().post_empty(&path, &()).await;
            pending.set(false);
            confirming.set(None);
            match answer {
                Ok(_) => reload.run(()),
                Err(e) => {
                    if e.status() == 401 {
                        member.mark_signed_out();
                    }
                    error.set(Some(message(&e)));
                }
            }
        });
    };
    let badge = if active {
        view! { <span class="kh-badge kh-badge--ok" data-testid="org-member-status">"Active"</span> }
            .into_any()
    } else {
        view! { <span class="kh-badge kh-badge--warn" data-testid="org-member-status">"Deactivated"</span> }
            .into_any()
    };
    let warning = move || match confirming.get() {
        Some(Change::Deactivate) => Some(format!(
            "Deactivate {email}? They are signed out and every app they connected loses access now. You can reactivate them later."
        )),
        Some(Change::Remove) => Some(format!(
            "Remove {email}? They are signed out, every app they connected loses access now, and the membership is deleted."
        )),
        _ => None,
    };
    let label_of = move |change: Change| {
        let confirm = confirming.get() == Some(change);
        match (change, confirm) {
            (Change::Deactivate, false) => "Deactivate",
            (Change::Deactivate, true) => "Confirm: deactivate",
            (Change::Remove, false) => "Remove",
            (Change::Remove, true) => "Confirm: remove",
            (Change::Reactivate, _) => "Reactivate",
        }
    };
    let who = m.email.clone();
    view! {
        <td data-label="Status" class="kh-standing">
            {badge}
            {(!is_me).then(|| view! {
                <div class="kh-standing__actions">
                    {if active {
                        view! {
                            <button type="button" class="kh-button kh-button--secondary kh-button--small"
                                data-testid="org-member-deactivate" aria-label=format!("Deactivate {who}")
                                disabled=move || pending.get() on:click=move |_| run(Change::Deactivate)>
                                {move || label_of(Change::Deactivate)}
                            </button>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" class="kh-button kh-button--secondary kh-button--small"
                                data-testid="org-member-reactivate" aria-label=format!("Reactivate {who}")
                                disabled=move || pending.get() on:click=move |_| run(Change::Reactivate)>
                                "Reactivate"
                            </button>
                        }.into_any()
                    }}
                    <button type="button" class="kh-button kh-button--danger kh-button--small"
                        data-testid="org-member-remove" aria-label=format!("Remove {}", m.email)
                        disabled=move || pending.get() on:click=move |_| run(Change::Remove)>
                        {move || label_of(Change::Remove)}
                    </button>
                    {move || confirming.get().is_some().then(|| view! {
                        <button type="button" class="kh-link-button" data-testid="org-member-keep"
                            on:click=move |_| confirming.set(None)>"Keep"</button>
                    })}
                </div>
            })}
            {move || warning().map(|w| view! { <p class="kh-row-warning" role="alert" data-testid="org-member-confirm">{w}</p> })}
            {move || error.get().map(|e| view! { <span class="kh-row-error" data-testid="org-member-standing-error">{e}</span> })}
        </td>
    }
}

/// The invitations: a form to invite an address with a role, and the open
/// invitations with "Send again" and "Revoke".
#[component]
pub(super) fn Invitations(
    /// Every role of the organization (the form offers them).
    role_ids: Vec<String>,
) -> impl IntoView {
    let member = use_member();
    let list = RwSignal::new(None::<Result<Vec<InvitationInfo>, String>>);
    let version = RwSignal::new(0u32);
    Effect::new(move |_| {
        version.track();
        spawn_local(async move {
            let r: Result<Vec<InvitationInfo>, ApiError> =
                member.api().get_json("/api/b2b/invitations").await;
            list.set(Some(r.map_err(|e| message(&e))));
        });
    });
    let reload = Callback::new(move |()| version.update(|v| *v += 1));
    let email = RwSignal::new(String::new());
    let default_role = if role_ids.iter().any(|r| r == "member") {
        "member".to_owned()
    } else {
        role_ids.first().cloned().unwrap_or_default()
    };
    let role = RwSignal::new(default_role);
    let pending = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let req = InviteRequest {
            email: email.get_untracked().trim().to_owned(),
            roles: vec![role.get_untracked()],
        };
        if req.email.is_empty() {
            outcome.set(Some(Err("Enter the address to invite.".into())));
            return;
        }
        pending.set(true);
        outcome.set(None);
        spawn_local(async move {
            let r: Result<InvitationInfo, ApiError> =
                member.api().post_json("/api/b2b/invitations", &req).await;
            pending.set(false);
            match r {
                Ok(i) => {
                    outcome.set(Some(Ok(format!("Invitation sent to {}.", i.email))));
                    email.set(String::new());
                    reload.run(());
                }
                Err(e) => outcome.set(Some(Err(message(&e)))),
            }
        });
    };
    view! {
        <section class="kh-card" aria-labelledby="org-invitations-title">
            <h2 id="org-invitations-title" class="kh-section-title">"Invitations"</h2>
            <p class="kh-muted">"Invite a colleague by e-mail. They get a link that works once; accepting makes them a member with the role you choose."</p>
            <form class="kh-invite-form" on:submit=submit data-testid="org-invite-form">
                <div class="kh-field">
                    <label for="org-invite-email">"E-mail address"</label>
                    <input id="org-invite-email" type="email" autocomplete="off" required
                        data-testid="org-invite-email" placeholder="colleague@example.com"
                        prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
                </div>
                <div class="kh-field">
                    <label for="org-invite-role">"Role"</label>
                    <select id="org-invite-role" data-testid="org-invite-role"
                        on:change=move |ev| role.set(event_target_value(&ev))>
                        {role_ids.into_iter().map(|r| {
                            let selected = r == role.get_untracked();
                            view! { <option value=r.clone() selected=selected>{r.clone()}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <button type="submit" class="kh-button kh-button--primary" data-testid="org-invite-submit"
                    disabled=move || pending.get()>
                    {move || if pending.get() { "Sending…" } else { "Send invitation" }}
                </button>
            </form>
            <div role="status" aria-live="polite">
                {move || outcome.get().map(|o| match o {
                    Ok(m) => view! { <p class="kh-notice" data-testid="org-invite-sent">{m}</p> }.into_any(),
                    Err(m) => view! { <p class="kh-alert" data-testid="org-invite-error">{m}</p> }.into_any(),
                })}
            </div>
            {move || match list.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(m)) => view! { <p class="kh-alert" role="alert">{m}</p> }.into_any(),
                Some(Ok(v)) if v.is_empty() => view! {
                    <p class="kh-empty" data-testid="org-invitations-empty">"No open invitations."</p>
                }.into_any(),
                Some(Ok(v)) => view! {
                    <div class="kh-table-wrap">
                        <table class="kh-table">
                            <caption class="kh-visually-hidden">"Open invitations"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"E-mail"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Sent"</th>
                                    <th scope="col">"Link"</th>
                                    <th scope="col"><span class="kh-visually-hidden">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {v.into_iter().map(|i| view! { <InvitationRow i reload/> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            }}
        </section>
    }
}

/// One open invitation.
#[component]
fn InvitationRow(i: InvitationInfo, reload: Callback<()>) -> impl IntoView {
    let member = use_member();
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = StoredValue::new(i.invitation_id.clone());
    let act = move |what: &'static str| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            let path = format!(
                "/api/b2b/invitations/{}/{what}",
                encode_segment(&id.get_value())
            );
            let r = member.api().post_empty(&path, &()).await;
            pending.set(false);
            match r {
                Ok(_) => reload.run(()),
                Err(e) => error.set(Some(message(&e))),
            }
        });
    };
    let link = if i.expired {
        view! { <span class="kh-badge kh-badge--warn" data-testid="org-invitation-state">"Expired"</span> }
            .into_any()
    } else {
        view! { <span class="kh-badge" data-testid="org-invitation-state">{format!("Until {}", format_datetime(i.expires_at))}</span> }
            .into_any()
    };
    view! {
        <tr data-testid="org-invitation" data-invitation-id=i.invitation_id.clone()>
            <td data-label="E-mail" class="kh-table__strong" data-testid="org-invitation-email">{i.email.clone()}</td>
            <td data-label="Role">{i.roles.join(", ")}</td>
            <td data-label="Sent">{format_datetime(i.sent_at)}</td>
            <td data-label="Link">{link}</td>
            <td data-label="" class="kh-table__action">
                <div class="kh-standing__actions">
                    <button type="button" class="kh-button kh-button--secondary kh-button--small" data-testid="org-invitation-resend"
                        aria-label=format!("Send the invitation to {} again", i.email)
                        disabled=move || pending.get() on:click=move |_| act("resend")>"Send again"</button>
                    <button type="button" class="kh-button kh-button--danger kh-button--small" data-testid="org-invitation-revoke"
                        aria-label=format!("Revoke the invitation to {}", i.email)
                        disabled=move || pending.get() on:click=move |_| act("revoke")>"Revoke"</button>
                </div>
                {move || error.get().map(|e| view! { <span class="kh-row-error">{e}</span> })}
            </td>
        </tr>
    }
}

/// An audit action in words.
fn action_words(action: &str) -> &'static str {
    match action {
        "organization.member_invited" => "Member invited",
        "organization.invitation_resent" => "Invitation sent again",
        "organization.invitation_revoked" => "Invitation revoked",
        "organization.invitation_accepted" => "Invitation accepted",
        "organization.member_deactivated" => "Member deactivated",
        "organization.member_reactivated" => "Member reactivated",
        "organization.member_removed" => "Member removed",
        "organization.sign_in_policy_changed" => "Sign-in requirement changed",
        "organization.member_second_factor_removed" => {
            "A member's two-step verification turned off"
        }
        "organization.member_joined_by_domain" => "Member joined by e-mail domain",
        "organization.member_provisioned_by_sso" => "Member added by single sign-on",
        "organization.member_roles_from_sso" => "Roles set by single sign-on",
        "organization.renamed" => "Organization renamed",
        "organization.domain_added" => "Domain added",
        "organization.domain_removed" => "Domain removed",
        "organization.domain_verified" => "Domain verified",
        "organization.join_by_domain_changed" => "Joining by domain changed",
        "organization.sso_configured" => "Single sign-on set up",
        "organization.sso_tested" => "Single sign-on tested",
        "organization.sso_required_changed" => "Single sign-on requirement changed",
        "organization.sso_removed" => "Single sign-on removed",
        "organization.logo_changed" => "Logo changed",
        "consent.granted" => "Access granted to an app",
        "consent.revoked" => "Access revoked from an app",
        _ => "",
    }
}

/// Who did it: a member's address when known.
fn actor_words(actor: &str, emails: &[(String, String)]) -> String {
    match actor.split_once(':') {
        Some(("member", id)) => emails
            .iter()
            .find(|(m, _)| m == id)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| format!("Former member {id}")),
        _ if actor == "cli" => "An operator (command line)".to_owned(),
        _ if actor == "sso" => "Single sign-on".to_owned(),
        Some(("user", _)) | Some(("api_key", _)) => "An operator".to_owned(),
        _ => actor.to_owned(),
    }
}

/// The event's details that matter to an admin, on one line.
fn details_words(event: &AuditEvent) -> String {
    let d = &event.details;
    let pick = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let mut parts = Vec::new();
    if let Some(e) = pick("email") {
        parts.push(e);
    }
    if let Some(roles) = d.get("roles").and_then(|v| v.as_array()) {
        let names: Vec<&str> = roles.iter().filter_map(|r| r.as_str()).collect();
        parts.push(format!("role {}", names.join(", ")));
    }
    if let Some(r) = pick("required_sign_in") {
        parts.push(r.replace('_', " "));
    }
    if let Some(domain) = pick("domain") {
        parts.push(domain);
    }
    if let Some(with) = pick("with") {
        parts.push(format!("with a {with}"));
    }
    if let Some(issuer) = pick("issuer") {
        parts.push(issuer);
    }
    if let Some(required) = d.get("required").and_then(|v| v.as_bool()) {
        parts.push(if required { "required" } else { "optional" }.to_owned());
    }
    if let (Some(name), Some(slug)) = (pick("name"), pick("slug")) {
        parts.push(format!("now {name} ({slug})"));
    }
    if event.action == "organization.join_by_domain_changed" {
        parts.push(match pick("role") {
            Some(role) => format!("joining as {role}"),
            None => "invitations only".to_owned(),
        });
    }
    if let Some(n) = d
        .get("grants_revoked")
        .and_then(|v| v.as_u64())
        .filter(|n| *n > 0)
    {
        parts.push(format!("{n} app grant(s) revoked"));
    }
    parts.join(" · ")
}

/// The organization's audit log, newest first, twenty at a time.
#[component]
pub(super) fn OrgAudit(
    /// `(member id, e-mail)` of the members, to name who acted.
    emails: Vec<(String, String)>,
) -> impl IntoView {
    let member = use_member();
    let items = RwSignal::new(Vec::<AuditEvent>::new());
    let next = RwSignal::new(None::<String>);
    let state = RwSignal::new(None::<Result<(), String>>);
    let emails = StoredValue::new(emails);
    let load = move |cursor: Option<String>| {
        spawn_local(async move {
            let path = match &cursor {
                Some(c) => format!("/api/b2b/audit?limit=20&cursor={}", encode_segment(c)),
                None => "/api/b2b/audit?limit=20".to_owned(),
            };
            let r: Result<Page<AuditEvent>, ApiError> = member.api().get_json(&path).await;
            match r {
                Ok(page) => {
                    items.update(|v| v.extend(page.items));
                    next.set(page.next_cursor);
                    state.set(Some(Ok(())));
                }
                Err(e) => state.set(Some(Err(message(&e)))),
            }
        });
    };
    load(None);
    view! {
        <section class="kh-card" aria-labelledby="org-audit-title">
            <h2 id="org-audit-title" class="kh-section-title">"Audit log"</h2>
            <p class="kh-muted">"What the organization's admins and members changed, newest first."</p>
            {move || match state.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(m)) => view! { <p class="kh-alert" role="alert" data-testid="org-audit-error">{m}</p> }.into_any(),
                Some(Ok(())) if items.with(Vec::is_empty) => view! {
                    <p class="kh-empty" data-testid="org-audit-empty">"Nothing has happened yet."</p>
                }.into_any(),
                Some(Ok(())) => view! {
                    <ol class="kh-audit-list">
                        <For each=move || items.get() key=|e| e.id let:e>
                            <li class="kh-audit-item" data-testid="org-audit-event" data-action=e.action.clone()>
                                <span class="kh-audit-item__what">{
                                    let w = action_words(&e.action);
                                    if w.is_empty() { e.action.clone() } else { w.to_owned() }
                                }</span>
                                <span class="kh-audit-item__detail">{details_words(&e)}</span>
                                <span class="kh-muted kh-audit-item__who">{
                                    format!("{} · {}", emails.with_value(|m| actor_words(&e.actor, m)), format_datetime(e.at))
                                }</span>
                            </li>
                        </For>
                    </ol>
                }.into_any(),
            }}
            {move || next.get().map(|c| view! {
                <button type="button" class="kh-button kh-button--secondary" data-testid="org-audit-more"
                    on:click=move |_| load(Some(c.clone()))>"Show older events"</button>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_words() {
        let emails = vec![("member-1".to_owned(), "a@example.com".to_owned())];
        assert_eq!(actor_words("member:member-1", &emails), "a@example.com");
        assert_eq!(
            actor_words("member:member-2", &emails),
            "Former member member-2"
        );
        assert_eq!(actor_words("cli", &emails), "An operator (command line)");
        let e = AuditEvent {
            id: 1,
            at: 0,
            actor: "member:member-1".into(),
            action: "organization.member_invited".into(),
            client_id: None,
            details: Default::default(),
        };
        assert_eq!(details_words(&e), "", "no details, no words");
        assert_eq!(action_words(&e.action), "Member invited");
        let required = AuditEvent {
            action: "organization.sso_required_changed".into(),
            details: serde_json::json!({"required": true}),
            ..e.clone()
        };
        assert_eq!(details_words(&required), "required");
        assert_eq!(
            action_words(&required.action),
            "Single sign-on requirement changed"
        );
        let renamed = AuditEvent {
            action: "organization.renamed".into(),
            details: serde_json::json!({
                "name": "Acme Corp", "slug": "acme-corp",
                "previous_name": "Acme", "previous_slug": "acme",
            }),
            ..e.clone()
        };
        assert_eq!(details_words(&renamed), "now Acme Corp (acme-corp)");
        let invitations_only = AuditEvent {
            action: "organization.join_by_domain_changed".into(),
            details: serde_json::json!({"role": null}),
            ..e
        };
        assert_eq!(details_words(&invitations_only), "invitations only");
    }
}
