//! `/org/settings`: for administrators. What the organization asks of its
//! members' sign-in (two-step verification for everyone), its Connected
//! Apps policy (which first- and third-party apps members may connect),
//! single sign-on through the organization's own identity provider, its
//! members' roles and standing, invitations, the RBAC policy (roles and
//! custom scopes, read-only), and the organization's audit log.

use keyhouse_idp_component::{ApiError, MemberSession, passkeys_supported, use_member};
use keyhouse_types::ErrorCode;
use keyhouse_types::b2b::{
    AppAccess, AppAccessPolicy, ConnectedAppsSettings, MemberInfo, OrganizationSettings,
    Permission, RequiredSignIn, RoleInfo, ScopeInfo, SetRolesRequest, SignInPolicy,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::sentence;
use super::domains::Domains;
use super::people::{Invitations, MemberStanding, OrgAudit};
use super::profile::{DeleteOrganization, OrganizationProfileCard};
use super::sso::SingleSignOn;
use super::{OrgTabs, RequireMember};
use crate::pages::Spinner;
use crate::pages::auth::ErrorNote;

/// The settings page.
#[component]
pub fn OrgSettingsPage() -> impl IntoView {
    view! {
        <RequireMember>
            <Settings/>
        </RequireMember>
    }
}

const ACCESS_CHOICES: [(AppAccess, &str, &str); 3] = [
    (AppAccess::AllAllowed, "all_allowed", "All apps allowed"),
    (
        AppAccess::Restricted,
        "restricted",
        "Only the apps on the allow-list",
    ),
    (AppAccess::NotAllowed, "not_allowed", "No apps allowed"),
];

fn parse_access(v: &str) -> Option<AppAccess> {
    ACCESS_CHOICES
        .iter()
        .find(|(_, x, _)| *x == v)
        .map(|(a, _, _)| *a)
}

/// One client id per line; blanks and repeats dropped.
fn parse_allowlist(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|x| x == id) {
            out.push(id.to_owned());
        }
    }
    out
}

fn describe_permission(p: &Permission) -> String {
    let actions = if p.actions.iter().any(|a| a == "*") {
        "every action".to_owned()
    } else {
        p.actions.join(", ")
    };
    let resource = if p.resource_id == "*" {
        "everything"
    } else {
        p.resource_id.as_str()
    };
    format!("{resource}: {actions}")
}

fn settings_message(e: &ApiError) -> String {
    match (e.status(), e.code()) {
        (_, "network_error") => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        (401, _) => "Your session has ended. Sign in again.".into(),
        (403, _) => DENIED.into(),
        (400, _) => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Check the settings and try again.".into()),
        (404, _) => "That member no longer exists. Reload the page.".into(),
        (409, _) => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "That change isn't possible.".into()),
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}

const DENIED: &str = "Only administrators can change organization settings.";

#[component]
fn Settings() -> impl IntoView {
    let member = use_member();
    let loaded = RwSignal::new(None::<Result<OrganizationSettings, ApiError>>);
    let version = RwSignal::new(0u32);
    let reload = Callback::new(move |()| version.update(|v| *v += 1));
    Effect::new(move |_| {
        version.track();
        spawn_local(async move {
            let r = member.api().organization_settings().await;
            if let Err(e) = &r {
                super::after_refusal(member, e);
            }
            loaded.set(Some(r));
        })
    });
    view! {
        <div class="kh-settings">
            <section class="kh-card" aria-labelledby="org-settings-title">
                <p class="kh-eyebrow">{move || member.member().map(|m| m.organization.name).unwrap_or_default()}</p>
                <h1 id="org-settings-title">"Organization settings"</h1>
                <p class="kh-muted">"Decide which apps your members may connect, and what each member may do."</p>
                <OrgTabs/>
            </section>
            {move || match loaded.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(e)) if e.status() == 403 => view! {
                    <section class="kh-card kh-denied" role="alert" data-testid="org-settings-denied">
                        <h2>{DENIED}</h2>
                        <p class="kh-muted">"Ask one of your organization's administrators if something here needs to change."</p>
                    </section>
                }.into_any(),
                Some(Err(e)) => view! {
                    <p class="kh-alert" role="alert" data-testid="org-settings-load-error">{settings_message(&e)}</p>
                }.into_any(),
                Some(Ok(s)) => {
                    let role_ids: Vec<String> = s.roles.iter().map(|r| r.role_id.clone()).collect();
                    let emails: Vec<(String, String)> = s
                        .members
                        .iter()
                        .map(|m| (m.member_id.clone(), m.email.clone()))
                        .collect();
                    let can_invite = member.can("members", "create");
                    let can_audit = member.can("audit", "read");
                    let invite_roles = role_ids.clone();
                    let domain_roles = role_ids.clone();
                    let sso_roles = role_ids.clone();
                    let can_rename = member.can("organization", "update");
                    let can_delete = member.can("organization", "delete");
                    let slug = s.organization.slug.clone();
                    view! {
                        {can_rename.then(|| view! { <OrganizationProfileCard organization=s.organization.clone() logo_uri=s.logo_uri.clone() reload/> })}
                        <SignInSettings initial=s.required_sign_in/>
                        <ConnectedApps initial=s.connected_apps/>
                        <Members members=s.members role_ids reload/>
                        {can_invite.then(|| view! { <Invitations role_ids=invite_roles/> })}
                        {can_rename.then(|| view! { <Domains role_ids=domain_roles/> })}
                        {can_rename.then(|| view! { <SingleSignOn slug=slug.clone() role_ids=sso_roles/> })}
                        <Policy roles=s.roles scopes=s.scopes/>
                        {can_audit.then(|| view! { <OrgAudit emails/> })}
                        {can_delete.then(|| view! { <DeleteOrganization slug/> })}
                    }.into_any()
                }
            }}
        </div>
    }
}

/// The fields of one kind of Connected App.
#[component]
fn PolicyFields(
    /// `first-party` or `third-party` (ids and test ids).
    kind: &'static str,
    /// Shown as the group's legend.
    legend: &'static str,
    /// Explains what the kind covers.
    hint: &'static str,
    access: RwSignal<AppAccess>,
    allowlist: RwSignal<String>,
    /// Cleared on any edit (the "saved" note would be stale).
    saved: RwSignal<bool>,
) -> impl IntoView {
    let select_id = format!("org-{kind}-access");
    let list_id = format!("org-{kind}-allowlist");
    let hint_id = format!("org-{kind}-hint");
    let list_hint_id = format!("org-{kind}-allowlist-hint");
    let initial = access.get_untracked();
    view! {
        <fieldset class="kh-fieldset">
            <legend>{legend}</legend>
            <p class="kh-muted kh-fieldset__hint" id=hint_id.clone()>{hint}</p>
            <div class="kh-field">
                <label for=select_id.clone()>"Access"</label>
                <select id=select_id.clone() class="kh-select" data-testid=select_id.clone()
                    aria-describedby=hint_id
                    on:change=move |ev| {
                        if let Some(a) = parse_access(&event_target_value(&ev)) {
                            access.set(a);
                            saved.set(false);
                        }
                    }>
                    {ACCESS_CHOICES.iter().map(|(a, value, label)| view! {
                        <option value=*value selected=*a == initial>{*label}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="kh-field">
                <label for=list_id.clone()>"Allow-list " <span class="kh-muted">"(client ids, one per line)"</span></label>
                <textarea id=list_id.clone() rows="3" class="kh-mono" spellcheck="false" autocomplete="off"
                    data-testid=list_id aria-describedby=list_hint_id.clone()
                    bind:value=allowlist on:input=move |_| saved.set(false)></textarea>
                <small id=list_hint_id class="kh-muted">
                    {move || if access.get() == AppAccess::Restricted {
                        "Only these apps may be connected."
                    } else {
                        "Used only when access is “Only the apps on the allow-list”."
                    }}
                </small>
            </div>
        </fieldset>
    }
}

/// The fields of one kind of Connected App.
#[derive(Clone, Copy)]
struct PartyFields {
    access: RwSignal<AppAccess>,
    /// Client ids, one per line.
    allowlist: RwSignal<String>,
}

impl PartyFields {
    fn new(policy: &AppAccessPolicy) -> PartyFields {
        PartyFields {
            access: RwSignal::new(policy.access),
            allowlist: RwSignal::new(policy.allowed_client_ids.join("\n")),
        }
    }

    /// Shows the server's policy.
    fn fill(self, policy: &AppAccessPolicy) {
        self.access.set(policy.access);
        self.allowlist.set(policy.allowed_client_ids.join("\n"));
    }

    /// The policy typed.
    fn policy(self) -> AppAccessPolicy {
        AppAccessPolicy {
            access: self.access.get_untracked(),
            allowed_client_ids: parse_allowlist(&self.allowlist.get_untracked()),
        }
    }
}

/// The Connected Apps form: both kinds' fields, its error, whether it was
/// saved, and whether it is being saved.
#[derive(Clone, Copy)]
struct AppsForm {
    member: MemberSession,
    first: PartyFields,
    third: PartyFields,
    error: RwSignal<Option<String>>,
    saved: RwSignal<bool>,
    pending: RwSignal<bool>,
}

impl AppsForm {
    fn new(initial: &ConnectedAppsSettings) -> AppsForm {
        AppsForm {
            member: use_member(),
            first: PartyFields::new(&initial.first_party),
            third: PartyFields::new(&initial.third_party),
            error: RwSignal::new(None),
            saved: RwSignal::new(false),
            pending: RwSignal::new(false),
        }
    }

    /// Saves the form as the organization's policy.
    fn save(self) {
        if self.pending.get_untracked() {
            return;
        }
        let settings = ConnectedAppsSettings {
            first_party: self.first.policy(),
            third_party: self.third.policy(),
        };
        self.pending.set(true);
        self.saved.set(false);
        self.error.set(None);
        spawn_local(async move {
            match self.member.api().set_connected_apps(&settings).await {
                Ok(now) => {
                    self.first.fill(&now.first_party);
                    self.third.fill(&now.third_party);
                    self.saved.set(true);
                }
                Err(e) => {
                    if e.status() == 401 {
                        self.member.mark_signed_out();
                    }
                    self.error.set(Some(settings_message(&e)));
                }
            }
            self.pending.set(false);
        });
    }
}

/// Which first- and third-party apps members may connect.
#[component]
fn ConnectedApps(
    /// The policy as loaded.
    initial: ConnectedAppsSettings,
) -> impl IntoView {
    let form = AppsForm::new(&initial);
    let AppsForm {
        first,
        third,
        error,
        saved,
        pending,
        ..
    } = form;
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        form.save();
    };
    view! {
        <section class="kh-card" aria-labelledby="org-apps-title">
            <h2 id="org-apps-title" class="kh-section-title">"Connected Apps"</h2>
            <p class="kh-muted">"Apps your members can connect to the organization's notes. A member still approves each app, and only with the permissions their roles allow."</p>
            <form class="kh-settings__form" on:submit=on_submit>
                <ErrorNote error testid="org-settings-error"/>
                <div class="kh-policy-grid">
                    <PolicyFields kind="first-party" legend="First-party apps"
                        hint="Apps made by the operator of this service."
                        access=first.access allowlist=first.allowlist saved/>
                    <PolicyFields kind="third-party" legend="Third-party apps"
                        hint="Apps made by others, such as custom GPTs and AI agents."
                        access=third.access allowlist=third.allowlist saved/>
                </div>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="org-settings-save"
                        disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save Connected Apps" }}
                    </button>
                    <p class="kh-saved" role="status" aria-live="polite">
                        {move || saved.get().then(|| view! {
                            <span data-testid="org-settings-saved">"✓ Saved. New authorizations follow these settings."</span>
                        })}
                    </p>
                </div>
            </form>
        </section>
    }
}

/// What the organization asks of its members' sign-in: each member's
/// choice, two-step verification for everyone, or passkeys.
#[component]
fn SignInSettings(
    /// The requirement as loaded.
    initial: RequiredSignIn,
) -> impl IntoView {
    let member = use_member();
    let required = RwSignal::new(initial);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        saved.set(false);
        let req = SignInPolicy {
            required_sign_in: required.get_untracked(),
        };
        spawn_local(async move {
            let answer: Result<SignInPolicy, ApiError> = member
                .api()
                .put_json("/api/b2b/organization/sign-in", &req)
                .await;
            match answer {
                // The page's member session keeps its old `required_sign_in`
                // until the next load: asking for it again would re-render
                // this page (and drop the "saved" note).
                Ok(_) => saved.set(true),
                Err(e) if e.error_code() == Some(ErrorCode::SecondFactorRequired) => error.set(Some(
                    "First turn two-step verification on for yourself (on the Membership tab) and sign in with it: then you can ask it of everyone.".into(),
                )),
                Err(e) if e.error_code() == Some(ErrorCode::PasskeyRequired) => error.set(Some(
                    "First add a passkey for yourself (on the Membership tab) and sign in with it: then you can ask it of everyone.".into(),
                )),
                Err(e) => error.set(Some(settings_message(&e))),
            }
            pending.set(false);
        });
    };
    let choices = [
        (
            RequiredSignIn::OneFactor,
            "org-require-nothing",
            "Each member's choice",
            "A password or an emailed code is enough; members may add two-step verification or passkeys.",
        ),
        (
            RequiredSignIn::TwoFactors,
            "org-require-two-step",
            "Require two-step verification",
            "An authenticator app's code after the password (or a passkey). Members without one are asked to set it up before anything else.",
        ),
        (
            RequiredSignIn::Passkey,
            "org-require-passkey",
            "Require a passkey",
            "Phishing-resistant: members sign in with a passkey on their device, and are asked to add one before anything else.",
        ),
    ];
    view! {
        <section class="kh-card" aria-labelledby="org-sign-in-title">
            <h2 id="org-sign-in-title" class="kh-section-title">"Sign-in"</h2>
            <form class="kh-settings__form" on:submit=on_submit>
                <ErrorNote error testid="org-sign-in-error"/>
                <fieldset class="kh-choices">
                    <legend>"How members must sign in"</legend>
                    {choices.into_iter()
                        // Passkeys need the page at a domain name: not
                        // offered where no member could meet it.
                        .filter(|(value, ..)| *value != RequiredSignIn::Passkey || initial == RequiredSignIn::Passkey || passkeys_supported())
                        .map(|(value, testid, label, hint)| {
                        let hint_id = format!("{testid}-hint");
                        view! {
                            <label class="kh-check kh-choice">
                                <input type="radio" name="required-sign-in" data-testid=testid
                                    aria-describedby=hint_id.clone()
                                    prop:checked=move || required.get() == value
                                    on:change=move |_| {
                                        saved.set(false);
                                        required.set(value);
                                    }/>
                                <span>
                                    <strong>{label}</strong>
                                    <small id=hint_id class="kh-muted">{hint}</small>
                                </span>
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <p class="kh-muted">
                    "Apps that members connected after a weaker sign-in are disconnected at once when you raise the requirement, and ask again."
                </p>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="org-sign-in-save"
                        disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save sign-in" }}
                    </button>
                    <p class="kh-saved" role="status" aria-live="polite">
                        {move || saved.get().then(|| view! {
                            <span data-testid="org-sign-in-saved">"✓ Saved."</span>
                        })}
                    </p>
                </div>
            </form>
        </section>
    }
}

#[component]
fn Members(
    members: Vec<MemberInfo>,
    role_ids: Vec<String>,
    /// Loads the members again after a change of standing.
    reload: Callback<()>,
) -> impl IntoView {
    let role_ids = StoredValue::new(role_ids);
    let count = members.len();
    view! {
        <section class="kh-card" aria-labelledby="org-members-title">
            <h2 id="org-members-title" class="kh-section-title">"Members"</h2>
            <p class="kh-muted">{format!("{count} {}. Roles decide what each member may do, and what they can let apps do.", if count == 1 { "member" } else { "members" })}</p>
            <div class="kh-table-wrap">
                <table class="kh-table">
                    <thead>
                        <tr>
                            <th scope="col">"Email"</th>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Roles"</th>
                            <th scope="col">"Two-step"</th>
                            <th scope="col"><span class="kh-visually-hidden">"Save"</span></th>
                            <th scope="col">"Status"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {members.into_iter().map(|m| view! { <MemberRow m role_ids=role_ids.get_value() reload/> }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// One member: their roles, changed and saved on the row.
#[component]
fn MemberRow(
    /// The member.
    m: MemberInfo,
    /// Every role of the organization.
    role_ids: Vec<String>,
    /// Loads the members again after a change of standing.
    reload: Callback<()>,
) -> impl IntoView {
    let roles = RwSignal::new(m.roles.clone());
    let status = RwSignal::new(None::<Result<(), String>>);
    let group_label = format!("Roles of {}", m.email);
    view! {
        <tr data-testid="org-member" data-member-id=m.member_id.clone()>
            <td data-label="Email" class="kh-table__strong" data-testid="org-member-email">{m.email.clone()}</td>
            <td data-label="Name" data-testid="org-member-name">{if m.name.is_empty() { "—".to_owned() } else { m.name.clone() }}</td>
            <td data-label="Roles">
                <div class="kh-checks" role="group" aria-label=group_label>
                    {role_ids.into_iter().map(|role| view! { <RoleCheck role roles status/> }).collect_view()}
                </div>
            </td>
            <td data-label="Two-step">
                <TwoStepCell member_id=m.member_id.clone() email=m.email.clone() enabled=m.second_factor/>
            </td>
            <SaveRoles member_id=m.member_id.clone() email=m.email.clone() roles status/>
            <MemberStanding m=m.clone() reload/>
        </tr>
    }
}

/// A member row's two-step verification: on or off, and turning it off for
/// a member who lost their authenticator app (asked twice; the member is
/// mailed).
#[component]
fn TwoStepCell(
    /// The member's id.
    member_id: String,
    /// The member's e-mail (names the button).
    email: String,
    /// Whether it is on.
    enabled: bool,
) -> impl IntoView {
    let member = use_member();
    let on = RwSignal::new(enabled);
    let confirming = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = StoredValue::new(member_id);
    let is_me = member
        .member()
        .is_some_and(|m| m.member.member_id == id.get_value());
    let turn_off = move |_| {
        if !confirming.get_untracked() {
            confirming.set(true);
            return;
        }
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            let path = format!(
                "/api/b2b/members/{}/turn-off-two-step",
                crate::pages::encode_segment(&id.get_value())
            );
            let answer: Result<MemberInfo, ApiError> = member.api().post_json(&path, &()).await;
            match answer {
                Ok(info) => on.set(info.second_factor),
                Err(e) => error.set(Some(settings_message(&e))),
            }
            confirming.set(false);
            pending.set(false);
        });
    };
    view! {
        {move || if on.get() {
            view! { <span class="kh-badge kh-badge--ok" data-testid="org-member-two-step">"On"</span> }.into_any()
        } else {
            view! { <span class="kh-badge" data-testid="org-member-two-step">"Off"</span> }.into_any()
        }}
        {move || (on.get() && !is_me).then(|| view! {
            <button type="button" class="kh-button kh-button--danger kh-button--small" data-testid="org-member-turn-off-two-step"
                aria-label=format!("Turn off two-step verification for {email}")
                disabled=move || pending.get() on:click=turn_off>
                {move || if confirming.get() { "Confirm: turn off" } else { "Turn off" }}
            </button>
        })}
        {move || error.get().map(|e| view! { <span class="kh-row-error" data-testid="org-member-two-step-error">{e}</span> })}
    }
}

/// A member row's "Save" button, and what saving did.
#[component]
fn SaveRoles(
    /// The member's id.
    member_id: String,
    /// The member's e-mail (names the button).
    email: String,
    /// The member's roles, as ticked (the server's answer replaces them).
    roles: RwSignal<Vec<String>>,
    /// What the last save did.
    status: RwSignal<Option<Result<(), String>>>,
) -> impl IntoView {
    let member = use_member();
    let pending = RwSignal::new(false);
    let id = StoredValue::new(member_id);
    let save = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        status.set(None);
        let req = SetRolesRequest {
            roles: roles.get_untracked(),
        };
        spawn_local(async move {
            match member.api().set_member_roles(&id.get_value(), &req).await {
                Ok(info) => {
                    roles.set(info.roles);
                    status.set(Some(Ok(())));
                }
                Err(e) => {
                    if e.status() == 401 {
                        member.mark_signed_out();
                    }
                    status.set(Some(Err(settings_message(&e))));
                }
            }
            pending.set(false);
        });
    };
    view! {
        <td data-label="" class="kh-table__action">
            <button type="button" class="kh-button kh-button--secondary kh-button--small" data-testid="org-member-save"
                aria-label=format!("Save the roles of {email}") disabled=move || pending.get() on:click=save>
                {move || if pending.get() { "Saving…" } else { "Save" }}
            </button>
            <span class="kh-row-status" role="status" aria-live="polite">
                {move || match status.get() {
                    Some(Ok(())) => view! { <span class="kh-saved" data-testid="org-member-saved">"✓ Saved"</span> }.into_any(),
                    Some(Err(e)) => view! { <span class="kh-row-error" data-testid="org-member-error">{e}</span> }.into_any(),
                    None => ().into_any(),
                }}
            </span>
        </td>
    }
}

/// One role's checkbox in a member's row.
#[component]
fn RoleCheck(
    /// The role.
    role: String,
    /// The member's roles, as ticked.
    roles: RwSignal<Vec<String>>,
    /// The row's save status (a change clears it).
    status: RwSignal<Option<Result<(), String>>>,
) -> impl IntoView {
    let checked = role.clone();
    let changed = role.clone();
    view! {
        <label class="kh-check">
            <input type="checkbox" data-testid="org-member-role" data-role=role.clone()
                prop:checked=move || roles.with(|rs| rs.contains(&checked))
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    status.set(None);
                    roles.update(|rs| {
                        rs.retain(|x| *x != changed);
                        if on {
                            rs.push(changed.clone());
                        }
                    });
                }/>
            <span>{role}</span>
        </label>
    }
}

#[component]
fn Policy(roles: Vec<RoleInfo>, scopes: Vec<ScopeInfo>) -> impl IntoView {
    view! {
        <section class="kh-card" aria-labelledby="org-policy-title">
            <h2 id="org-policy-title" class="kh-section-title">"Roles & scopes"</h2>
            <p class="kh-muted">"The organization's access policy. A member can let an app use a scope only if their roles cover all of its permissions."</p>
            <h3 class="kh-subtitle">"Roles"</h3>
            <ul class="kh-policy-list">
                {roles.into_iter().map(|r| view! {
                    <li class="kh-policy-item" data-testid="org-role" data-role=r.role_id.clone()>
                        <p class="kh-policy-item__name"><code>{r.role_id.clone()}</code></p>
                        {(!r.description.is_empty()).then(|| view! { <p class="kh-muted">{r.description.clone()}</p> })}
                        <ul class="kh-perms">
                            {r.permissions.iter().map(|p| view! { <li data-testid="org-role-permission">{describe_permission(p)}</li> }).collect_view()}
                        </ul>
                    </li>
                }).collect_view()}
            </ul>
            <h3 class="kh-subtitle">"Custom scopes"</h3>
            {if scopes.is_empty() {
                view! { <p class="kh-muted">"No custom scopes."</p> }.into_any()
            } else {
                view! {
                    <ul class="kh-policy-list">
                        {scopes.into_iter().map(|s| view! {
                            <li class="kh-policy-item" data-testid="org-scope" data-scope=s.scope.clone()>
                                <p class="kh-policy-item__name"><code>{s.scope.clone()}</code></p>
                                {(!s.description.is_empty()).then(|| view! { <p class="kh-muted">{s.description.clone()}</p> })}
                                <ul class="kh-perms">
                                    {s.permissions.iter().map(|p| view! { <li>{describe_permission(p)}</li> }).collect_view()}
                                </ul>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            parse_allowlist(" a \n\nb\na\n"),
            vec!["a".to_owned(), "b".to_owned()]
        );
        for (a, v, _) in ACCESS_CHOICES {
            assert_eq!(parse_access(v), Some(a));
        }
        assert_eq!(parse_access("nope"), None);
        let p = Permission {
            resource_id: "notes".into(),
            actions: vec!["read".into(), "create".into()],
        };
        assert_eq!(describe_permission(&p), "notes: read, create");
    }
}
