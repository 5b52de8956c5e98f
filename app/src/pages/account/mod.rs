//! `/account`: who is signed in, and what they can do about it: their
//! address, their password, where they are signed in, and deleting the
//! account. One card per concern, one module per card.

mod delete;
mod email;
pub(crate) mod passkeys;
mod password;
mod sessions;
pub(crate) mod two_step;

use keyhouse_idp_component::{ApiError, SessionStatus, use_member, use_session};
use keyhouse_types::ErrorCode;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::RequireSession;
use super::auth::{ErrorNote, general_message};

pub(crate) fn format_time(unix: i64) -> String {
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
        <div class="kh-page-stack">
        <section class="kh-card kh-narrow" aria-labelledby="account-title">
            <h1 id="account-title">"Your account"</h1>
            <ErrorNote error testid="account-error"/>
            {move || info().map(|s| view! {
                <dl class="kh-details">
                    <dt>"Name"</dt>
                    <dd data-testid="account-name">{if s.user.name.is_empty() { "—".to_owned() } else { s.user.name.clone() }}</dd>
                    <dt>"Email"</dt>
                    <dd><span data-testid="account-email">{s.user.email.clone()}</span> " "
                        <email::EmailStatus verified=s.user.email_verified/></dd>
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
        <email::ChangeEmail/>
        <password::ChangePassword/>
        <passkeys::Passkeys/>
        <two_step::TwoStep/>
        <sessions::Sessions/>
        <delete::DeleteAccount/>
        </div>
    }
}

/// What to say when a change on this page is refused; `None` leaves it to
/// the card (its own codes mean different things there).
pub(crate) fn refusal(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::InvalidCredentials) => "Your current password is not right.".into(),
        Some(ErrorCode::TooManyAttempts) => {
            "Too many wrong attempts. Wait 15 minutes and try again.".into()
        }
        Some(ErrorCode::SessionRequired | ErrorCode::LoginRequired) => {
            "Your session has ended. Sign in again.".into()
        }
        Some(ErrorCode::ReauthenticationRequired) => {
            "For your security, sign in again to do this.".into()
        }
        _ => general_message(e),
    }
}

/// "Sign in again", shown when a change needs a fresh sign-in: signs this
/// session (the account's, or with `member` the organization's) out and
/// comes back here after the sign-in.
#[component]
pub(crate) fn SignInAgain(
    /// For a member's page: the member session, and `/org/login`.
    #[prop(optional)]
    member: bool,
) -> impl IntoView {
    let session = (!member).then(use_session);
    let membership = member.then(use_member);
    let navigate = use_navigate();
    let go = move |_| {
        let navigate = navigate.clone();
        spawn_local(async move {
            // Signed out either way: a failure here only means it already was.
            let target = match (session, membership) {
                (Some(s), _) => {
                    let _ = s.logout().await;
                    "/login?returnTo=%2Faccount"
                }
                (None, Some(m)) => {
                    let _ = m.logout().await;
                    "/org/login?returnTo=%2Forg%2Fmember"
                }
                (None, None) => "/login",
            };
            navigate(target, Default::default());
        });
    };
    view! {
        <button type="button" class="kh-button kh-button--secondary" data-testid="account-sign-in-again"
            on:click=go>"Sign in again"</button>
    }
}

/// "Current password", for a change that confirms the holder; nothing for
/// an account or a member (`member`) with no password (they confirm by a
/// recent sign-in instead).
#[component]
pub(crate) fn CurrentPassword(
    /// The input's id and `data-testid`.
    id: &'static str,
    /// The typed password.
    value: RwSignal<String>,
    /// For a member's change (the member session says whether they have a
    /// password), not the
    /// account's.
    #[prop(optional)]
    member: bool,
) -> impl IntoView {
    let session = (!member).then(use_session);
    let membership = member.then(use_member);
    move || {
        let has_password = match (session, membership) {
            (Some(s), _) => s.user().is_some_and(|u| u.has_password),
            (None, Some(m)) => m.member().is_none_or(|m| m.member.has_password),
            (None, None) => true,
        };
        has_password.then(|| {
            view! {
                <div class="kh-field">
                    <label for=id>"Current password"</label>
                    <input id=id type="password" name="current-password" required
                        autocomplete="current-password" data-testid=id bind:value=value/>
                </div>
            }
        })
    }
}
