//! `/account/connected-apps`: the apps the signed-in user has allowed to use
//! their account, what each may do, and revoking them (the grant is deleted
//! and every token the app holds stops working; the next time it asks, the
//! user is asked again).

use keyhouse_idp_component::{ApiClient, ApiError, use_session};
use keyhouse_types::admin::ConnectedApp;
use keyhouse_types::{ClientSummary, ScopeDescription};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::RequireSession;
use super::Spinner;
use super::admin::widgets::{ConfirmActions, format_date, party_label, sentence};
use super::encode_segment;

const CONNECTED_APPS: &str = "/api/account/connected-apps";

/// The connected-apps page.
#[component]
pub fn ConnectedAppsPage() -> impl IntoView {
    view! {
        <RequireSession>
            <ConnectedApps/>
        </RequireSession>
    }
}

fn message(e: &ApiError) -> String {
    match (e.status(), e.code()) {
        (_, "network_error") => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        (401, _) => "Your session has ended. Sign in again.".into(),
        (400 | 409, _) => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "That didn't work. Reload the page and try again.".into()),
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}

#[component]
fn ConnectedApps() -> impl IntoView {
    let session = use_session();
    let apps = RwSignal::new(None::<Result<Vec<ConnectedApp>, String>>);
    let announcement = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        spawn_local(async move {
            let r = ApiClient::same_origin()
                .get_json::<Vec<ConnectedApp>>(CONNECTED_APPS)
                .await;
            if let Err(e) = &r
                && e.status() == 401
            {
                session.mark_signed_out();
            }
            apps.set(Some(r.map_err(|e| message(&e))));
        })
    });
    let on_removed = Callback::new(move |(id, name): (String, String)| {
        apps.update(|a| {
            if let Some(Ok(list)) = a {
                list.retain(|x| x.client.client_id != id);
            }
        });
        announcement.set(Some(format!(
            "“{name}” no longer has access to your account."
        )));
    });

    view! {
        <div class="kh-settings kh-connected">
            <section class="kh-card" aria-labelledby="connected-title">
                <p class="kh-eyebrow"><A href="/account" attr:data-testid="connected-apps-account-link">"Your account"</A></p>
                <h1 id="connected-title">"Connected apps"</h1>
                <p class="kh-muted">
                    "Apps you've allowed to use your account, and what each one may do. Revoke an app and it loses access at once; if it asks again, you'll be asked again."
                </p>
                <p class="kh-saved kh-connected__status" role="status" aria-live="polite" data-testid="connected-apps-status">
                    {move || announcement.get()}
                </p>
            </section>
            {move || match apps.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(m)) => view! {
                    <p class="kh-alert" role="alert" data-testid="connected-apps-error">{m}</p>
                }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <p class="kh-empty" data-testid="connected-apps-empty">
                        "No apps are connected to your account. When you allow an app, such as a custom GPT, to use your account, it shows up here."
                    </p>
                }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="kh-app-list" aria-label="Connected apps">
                        {list.into_iter().map(|app| view! { <AppItem app on_removed/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </div>
    }
}

/// One connected app: who it is, what it may do, when it was used, and
/// revoking it.
#[component]
fn AppItem(
    /// The app and its grant.
    app: ConnectedApp,
    /// Called with the app's id and name once it is revoked.
    on_removed: Callback<(String, String)>,
) -> impl IntoView {
    let ConnectedApp {
        client,
        scopes,
        granted_at,
        last_used_at,
    } = app;
    let title_id = format!("app-{}", encode_segment(&client.client_id));
    let labelled_by = title_id.clone();
    let last_used = match last_used_at {
        Some(t) => format!("Last used {}", format_date(t)),
        None => "Never used yet".to_owned(),
    };
    view! {
        <li class="kh-card kh-app" data-testid="connected-app" data-client-id=client.client_id.clone()
            aria-labelledby=labelled_by>
            <AppHead client=client.clone() title_id/>
            {(!client.description.is_empty()).then(|| view! { <p class="kh-muted kh-app__description">{client.description.clone()}</p> })}
            <h3 class="kh-subtitle">"It can"</h3>
            <ul class="kh-scopes">
                {scopes.into_iter().map(|scope| view! { <GrantedScope scope/> }).collect_view()}
            </ul>
            <p class="kh-app__meta">
                <span data-testid="connected-app-granted">{format!("Granted {}", format_date(granted_at))}</span>
                <span aria-hidden="true">" · "</span>
                <span data-testid="connected-app-last-used">{last_used}</span>
            </p>
            <Revoke id=client.client_id.clone() name=client.name.clone() on_removed/>
        </li>
    }
}

/// A connected app's logo, name, kind and verified domain.
#[component]
fn AppHead(
    /// The app.
    client: ClientSummary,
    /// The name's id (the list item is labelled by it).
    title_id: String,
) -> impl IntoView {
    let third_party = !client.client_type.is_first_party();
    view! {
        <div class="kh-app__head">
            <keyhouse_idp_component::consent::Logo src=client.logo_uri.clone() name=client.name.clone()/>
            <div class="kh-app__title">
                <h2 id=title_id class="kh-app__name" data-testid="connected-app-name">{client.name.clone()}</h2>
                <span class=if third_party { "kh-badge kh-badge--warn" } else { "kh-badge" } data-testid="connected-app-type">
                    {if client.self_registered { "Self-registered, unverified" } else { party_label(client.client_type) }}
                </span>
                {client.verified_domain.clone().map(|d| view! {
                    <p class="kh-app__domain" data-testid="connected-app-domain">"Identified by " <strong>{d}</strong></p>
                })}
            </div>
        </div>
    }
}

/// One scope the app was granted, in words (or its name when it has none).
#[component]
fn GrantedScope(
    /// The scope.
    scope: ScopeDescription,
) -> impl IntoView {
    let words = if scope.description.is_empty() {
        scope.scope.clone()
    } else {
        scope.description.clone()
    };
    view! {
        <li class="kh-scope" data-testid="connected-app-scope" data-scope=scope.scope.clone()>
            <span class="kh-scope__check" aria-hidden="true">"✓"</span>
            <span>{words} " " <code class="kh-muted">{scope.scope.clone()}</code></span>
        </li>
    }
}

/// "Revoke access", confirmed first: the grant is deleted and the app's
/// tokens stop working.
#[component]
fn Revoke(
    /// The app's client id.
    id: String,
    /// The app's name.
    name: String,
    /// Called with the app's id and name once it is revoked.
    on_removed: Callback<(String, String)>,
) -> impl IntoView {
    let session = use_session();
    let confirming = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let revoke_label = format!("Revoke “{name}”");
    let id = StoredValue::new(id);
    let name = StoredValue::new(name);
    let revoke = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let (id, name) = (id.get_value(), name.get_value());
        spawn_local(async move {
            let path = format!("{CONNECTED_APPS}/{}", encode_segment(&id));
            match ApiClient::same_origin().delete(&path).await {
                // 404: already gone (revoked elsewhere).
                Ok(()) => on_removed.run((id, name)),
                Err(e) if e.status() == 404 => on_removed.run((id, name)),
                Err(e) => {
                    if e.status() == 401 {
                        session.mark_signed_out();
                    }
                    error.set(Some(message(&e)));
                    pending.set(false);
                }
            }
        });
    };
    view! {
        {move || error.get().map(|e| view! { <p class="kh-alert" role="alert" data-testid="connected-app-error">{e}</p> })}
        {move || if confirming.get() {
            view! { <RevokeConfirm name=name.get_value() pending confirming on_confirm=revoke/> }.into_any()
        } else {
            view! {
                <div class="kh-actions kh-actions--start">
                    <button type="button" class="kh-button kh-button--ghost kh-button--outline" data-testid="connected-app-revoke"
                        aria-label=revoke_label.clone() on:click=move |_| confirming.set(true)>
                        "Revoke access"
                    </button>
                </div>
            }.into_any()
        }}
    }
}

/// "Revoke …?", with the buttons doing it or not.
#[component]
fn RevokeConfirm(
    /// The app's name.
    name: String,
    /// The revocation is running.
    pending: RwSignal<bool>,
    /// Whether the confirmation is shown ("Keep it" clears it).
    confirming: RwSignal<bool>,
    /// Revokes the app's access.
    on_confirm: impl FnMut(leptos::ev::MouseEvent) + 'static,
) -> impl IntoView {
    view! {
        <div class="kh-confirm" role="group" aria-label=format!("Confirm: revoke “{name}”")>
            <p>
                <strong>{format!("Revoke “{name}”?")}</strong>
                " It stops working with your account right away. You can connect it again later."
            </p>
            <ConfirmActions confirm_testid="connected-app-revoke-confirm" cancel_testid="connected-app-revoke-cancel"
                pending confirming on_confirm
                label=move || if pending.get() { "Revoking…" } else { "Yes, revoke access" }/>
        </div>
    }
}
