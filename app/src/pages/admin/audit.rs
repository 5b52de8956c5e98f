//! `/admin/audit`: what happened to apps and grants, newest first.

use keyhouse_idp_component::use_session;
use keyhouse_types::admin::AuditEvent;
use leptos::prelude::*;
use leptos_router::components::A;

use super::api;
use super::apps::{Listing, LoadMore, Paged};
use super::widgets::{AdminDenied, AdminHeader, RequireAdmin, format_datetime};
use crate::pages::Spinner;

/// The audit log page.
#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <RequireAdmin>
            <Audit/>
        </RequireAdmin>
    }
}

/// An action in words (the code is shown too).
fn action_words(action: &str) -> &'static str {
    match action {
        "client.created" => "App registered",
        "client.updated" => "App changed",
        "client.deleted" => "App deleted",
        "client.secret_rotation_started" => "Secret rotation started",
        "client.secret_rotation_completed" => "Secret rotation finished",
        "client.secret_rotation_cancelled" | "client.secret_rotation_canceled" => {
            "Secret rotation cancelled"
        }
        "consent.granted" => "Access granted by a user",
        "consent.revoked" => "Access revoked by a user",
        "agents.domain_blocked" => "Agent domain blocked",
        "agents.domain_unblocked" => "Agent domain unblocked",
        "agents.client_blocked" => "Agent blocked",
        "agents.client_unblocked" => "Agent unblocked",
        "agents.policy_changed" => "Agent policy changed",
        "agents.policy_reset" => "Agent policy reset to the configuration",
        "resource.registered" => "Resource registered",
        "resource.removed" => "Resource removed",
        "user.disabled" => "User disabled",
        "user.enabled" => "User enabled",
        "user.password_reset_required" => "New password required",
        "account.deleted" => "Account deleted by its user",
        "account.email_changed" => "Address changed by its user",
        "session.ended" => "Session signed out by its user",
        "session.ended_others" => "Other sessions signed out by their user",
        _ => "",
    }
}

/// Who, in words: "You", "User …", "API key …", "Command line".
fn actor_words(actor: &str, me: Option<&str>) -> String {
    match actor.split_once(':') {
        Some(("user", id)) if Some(id) == me => "You".to_owned(),
        Some(("user", id)) => format!("User {id}"),
        Some(("member", id)) => format!("Member {id}"),
        Some(("api_key", id)) => format!("API key {id}"),
        _ if actor == "cli" => "Command line".to_owned(),
        _ => actor.to_owned(),
    }
}

/// The event's details on one line: `key: value` pairs, lists joined by
/// spaces, nested objects as JSON.
fn details_text(event: &AuditEvent) -> String {
    let d = &event.details;
    if d.is_null() {
        return String::new();
    }
    let Some(map) = d.as_object() else {
        return d
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| d.to_string());
    };
    map.iter()
        .map(|(k, v)| {
            let value = if let Some(s) = v.as_str() {
                s.to_owned()
            } else if let Some(list) = v.as_array() {
                list.iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                v.to_string()
            };
            format!("{}: {value}", k.replace('_', " "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The events, newest first, a page at a time.
#[component]
fn Audit() -> impl IntoView {
    let (list, more) = Paged::start(api::list_audit);
    let Paged { items, state, .. } = list;

    view! {
        <div class="kh-admin">
            <Show when=move || state.get() != Listing::Denied fallback=|| view! { <AdminDenied/> }>
                <AdminHeader title="Audit log".to_owned()
                    intro="Every change to an app, and every grant and revocation by a user, newest first."/>
                <section class="kh-card" aria-labelledby="audit-title">
                    <h2 id="audit-title" class="kh-section-title">"Events"</h2>
                    {move || match state.get() {
                        Listing::Loading | Listing::Denied => view! { <Spinner/> }.into_any(),
                        Listing::Failed(m) => view! {
                            <p class="kh-alert" role="alert" data-testid="audit-error">{m}</p>
                        }.into_any(),
                        Listing::Ready if items.with(Vec::is_empty) => view! {
                            <p class="kh-empty" data-testid="audit-empty">"Nothing has happened yet."</p>
                        }.into_any(),
                        Listing::Ready => view! { <AuditTable items/> }.into_any(),
                    }}
                    <LoadMore list more prefix="audit"/>
                </section>
            </Show>
        </div>
    }
}

#[component]
fn AuditTable(items: RwSignal<Vec<AuditEvent>>) -> impl IntoView {
    let session = use_session();
    let me = Memo::new(move |_| session.user().map(|u| u.user_id));
    view! {
        <div class="kh-table-wrap">
            <table class="kh-table kh-audit-table">
                <caption class="kh-visually-hidden">"Audit events, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"App"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || items.get() key=|e| e.id let:e>
                        {
                            let words = action_words(&e.action);
                            let details = details_text(&e);
                            let actor = actor_words(&e.actor, me.get_untracked().as_deref());
                            view! {
                                <tr data-testid="audit-row" data-action=e.action.clone() data-client-id=e.client_id.clone().unwrap_or_default()>
                                    <td data-label="When" class="kh-nowrap">{format_datetime(e.at)}</td>
                                    <td data-label="Actor" class="kh-break" title=e.actor.clone()>{actor}</td>
                                    <td data-label="Action" data-testid="audit-action">
                                        {(!words.is_empty()).then(|| view! { <span class="kh-table__strong">{words}</span><br/> })}
                                        <code>{e.action.clone()}</code>
                                    </td>
                                    <td data-label="App" class="kh-break">
                                        {match e.client_id.clone() {
                                            Some(id) => view! {
                                                <A href=format!("/admin/apps/{}", api::encode_component(&id)) attr:class="kh-mono">{id}</A>
                                            }.into_any(),
                                            None => view! { <span class="kh-muted">"—"</span> }.into_any(),
                                        }}
                                    </td>
                                    <td data-label="Details" class="kh-break kh-audit-details">
                                        {if details.is_empty() { "—".to_owned() } else { details }}
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(action_words("consent.revoked"), "Access revoked by a user");
        assert_eq!(action_words("nope"), "");
        assert_eq!(actor_words("user:u1", Some("u1")), "You");
        assert_eq!(actor_words("api_key:k1", None), "API key k1");
        assert_eq!(actor_words("cli", None), "Command line");
    }
}
