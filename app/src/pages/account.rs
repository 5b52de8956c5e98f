//! `/account`: who is signed in, and signing out.

use keyhouse_idp_component::{SessionStatus, use_session};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::RequireSession;
use super::auth::ErrorNote;

fn format_time(unix: i64) -> String {
    let date = js_date(unix);
    if date.is_empty() {
        unix.to_string()
    } else {
        date
    }
}

#[cfg(target_arch = "wasm32")]
fn js_date(unix: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix as f64 * 1000.0));
    String::from(d.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

#[cfg(not(target_arch = "wasm32"))]
fn js_date(_unix: i64) -> String {
    String::new()
}

/// The account page.
#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <RequireSession>
            <Account/>
        </RequireSession>
    }
}

#[component]
fn Account() -> impl IntoView {
    let session = use_session();
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let navigate = use_navigate();
    let logout = move |_| {
        pending.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match session.logout().await {
                Ok(()) => navigate("/login", Default::default()),
                Err(e) => {
                    error.set(Some(format!("Could not sign out: {e}")));
                    pending.set(false);
                }
            }
        });
    };
    let info = move || match session.status() {
        SessionStatus::SignedIn(s) => Some(s),
        _ => None,
    };
    view! {
        <section class="kh-card kh-narrow" aria-labelledby="account-title">
            <h1 id="account-title">"Your account"</h1>
            <ErrorNote error testid="account-error"/>
            {move || info().map(|s| view! {
                <dl class="kh-details">
                    <dt>"Name"</dt>
                    <dd data-testid="account-name">{if s.user.name.is_empty() { "—".to_owned() } else { s.user.name.clone() }}</dd>
                    <dt>"Email"</dt>
                    <dd data-testid="account-email">{s.user.email.clone()}</dd>
                    <dt>"Signed in"</dt>
                    <dd>{format_time(s.authenticated_at)}</dd>
                    <dt>"Session ends"</dt>
                    <dd>{format_time(s.expires_at)}</dd>
                </dl>
            })}
            <div class="kh-actions">
                <A href="/account/connected-apps" attr:class="kh-button kh-button--secondary" attr:data-testid="account-connected-apps-link">
                    "Connected apps"
                </A>
                <button type="button" class="kh-button kh-button--secondary" data-testid="logout-button"
                    disabled=move || pending.get() on:click=logout>
                    "Sign out"
                </button>
            </div>
        </section>
    }
}
