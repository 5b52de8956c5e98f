//! `/account`: who is signed in, changing the password, and signing out.

use keyhouse_idp_component::{ApiClient, ApiError, SessionStatus, use_session};
use keyhouse_types::{ChangePasswordRequest, ChangePasswordResponse, ErrorCode};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::RequireSession;
use super::auth::{ErrorNote, general_message};

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
                        <EmailStatus verified=s.user.email_verified/></dd>
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
        <ChangePassword/>
        </div>
    }
}

fn change_message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::InvalidCredentials) => "Your current password is not right.".into(),
        Some(ErrorCode::TooManyAttempts) => {
            "Too many wrong passwords. Wait 15 minutes and try again.".into()
        }
        Some(ErrorCode::SessionRequired | ErrorCode::LoginRequired) => {
            "Your session has ended. Sign in again.".into()
        }
        _ => general_message(e),
    }
}

/// The account page's password form.
#[component]
fn ChangePassword() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let new_password = new.get_untracked();
        if new_password.chars().count() < 8 {
            error.set(Some("Use a new password of at least 8 characters.".into()));
            return;
        }
        pending.set(true);
        error.set(None);
        done.set(None);
        let req = ChangePasswordRequest {
            current_password: current.get_untracked(),
            new_password,
        };
        spawn_local(async move {
            let answer: Result<ChangePasswordResponse, ApiError> = ApiClient::same_origin()
                .post_json("/api/account/password", &req)
                .await;
            match answer {
                Ok(r) => {
                    current.set(String::new());
                    new.set(String::new());
                    done.set(Some(match r.other_sessions_ended {
                        0 => "Password changed.".to_owned(),
                        1 => "Password changed. Your other session was signed out.".to_owned(),
                        n => format!("Password changed. Your {n} other sessions were signed out."),
                    }));
                }
                Err(e) => error.set(Some(change_message(&e))),
            }
            pending.set(false);
        });
    };
    view! {
        <section class="kh-card kh-narrow" aria-labelledby="password-title">
            <h2 id="password-title" class="kh-card__title">"Password"</h2>
            <p class="kh-muted">"Changing it signs you out on your other devices."</p>
            <form on:submit=on_submit>
                <ErrorNote error testid="password-error"/>
                {move || done.get().map(|m| view! {
                    <p class="kh-notice" role="status" data-testid="password-done">{m}</p>
                })}
                <div class="kh-field">
                    <label for="password-current">"Current password"</label>
                    <input id="password-current" type="password" name="current-password" required
                        autocomplete="current-password" data-testid="password-current" bind:value=current/>
                </div>
                <div class="kh-field">
                    <label for="password-new">"New password"</label>
                    <input id="password-new" type="password" name="new-password" required minlength="8"
                        autocomplete="new-password" aria-describedby="password-new-hint"
                        data-testid="password-new" bind:value=new/>
                    <small id="password-new-hint" class="kh-muted">"At least 8 characters."</small>
                </div>
                <button type="submit" class="kh-button kh-button--primary" data-testid="password-submit"
                    disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { "Change password" }}
                </button>
            </form>
        </section>
    }
}

/// Whether the address is verified; when not, a button that mails a
/// verification link.
#[component]
fn EmailStatus(verified: bool) -> impl IntoView {
    let session = use_session();
    let state = RwSignal::new(None::<Result<String, String>>);
    let pending = RwSignal::new(false);
    let send = move |_| {
        pending.set(true);
        spawn_local(async move {
            let res = session.api().request_email_verification().await;
            state.set(Some(match res {
                Ok(s) => Ok(format!(
                    "We sent a link to {}. Open it within {} minutes.",
                    s.email,
                    s.expires_in / 60
                )),
                Err(e) => Err(general_message(&e)),
            }));
            pending.set(false);
        });
    };
    if verified {
        return view! { <span class="kh-badge kh-badge--ok" data-testid="account-email-verified">"Verified"</span> }.into_any();
    }
    view! {
        <span class="kh-badge kh-badge--warn" data-testid="account-email-unverified">"Not verified"</span>
        <span class="kh-account__verify">
            {move || match state.get() {
                Some(Ok(m)) => view! { <span class="kh-muted" role="status" data-testid="account-verify-sent">{m}</span> }.into_any(),
                Some(Err(m)) => view! { <span class="kh-alert" role="alert">{m}</span> }.into_any(),
                None => view! {
                    <button type="button" class="kh-link" data-testid="account-verify" on:click=send
                        disabled=move || pending.get()>"Send a verification link"</button>
                }.into_any(),
            }}
        </span>
    }
    .into_any()
}
