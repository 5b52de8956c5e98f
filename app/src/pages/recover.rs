//! A forgotten password: `/forgot-password` asks for a reset link by mail,
//! `/reset-password?token=…` (the link) sets the new password.

use keyhouse_idp_component::{ApiClient, ApiError};
use keyhouse_types::{ErrorCode, PasswordResetConfirm, PasswordResetRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;

use super::auth::{ErrorNote, general_message};

fn request_message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::TooManyAttempts) => {
            "Too many requests from this network. Try again in an hour.".into()
        }
        _ => general_message(e),
    }
}

fn reset_message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::InvalidGrant) => {
            "This link is invalid, already used or expired. Ask for a new one.".into()
        }
        _ => request_message(e),
    }
}

/// `/forgot-password`.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let sent_to = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let address = email.get_untracked().trim().to_owned();
        spawn_local(async move {
            let req = PasswordResetRequest {
                email: address.clone(),
            };
            match ApiClient::same_origin().request_password_reset(&req).await {
                Ok(()) => sent_to.set(Some(address)),
                Err(e) => error.set(Some(request_message(&e))),
            }
            pending.set(false);
        });
    };
    view! {
        <section class="kh-card kh-narrow kh-auth" aria-labelledby="forgot-title">
            {move || match sent_to.get() {
                Some(address) => view! {
                    <h1 id="forgot-title">"Check your email"</h1>
                    <p data-testid="forgot-sent" role="status">
                        "If an account uses " <strong>{address}</strong>
                        ", a link to choose a new password is on its way. It works once, for 30 minutes."
                    </p>
                    <p class="kh-muted">"Nothing after a few minutes? Check your spam folder, or ask again."</p>
                    <p class="kh-auth__switch"><a href="/login">"Back to sign in"</a></p>
                }.into_any(),
                None => view! {
                    <h1 id="forgot-title">"Reset your password"</h1>
                    <p class="kh-muted">"Enter the email address of your account. We'll send you a link to choose a new password."</p>
                    <form on:submit=on_submit>
                        <ErrorNote error testid="forgot-error"/>
                        <div class="kh-field">
                            <label for="forgot-email">"Email"</label>
                            <input id="forgot-email" type="email" name="email" required autocomplete="username"
                                data-testid="forgot-email" bind:value=email/>
                        </div>
                        <button type="submit" class="kh-button kh-button--primary kh-button--block"
                            data-testid="forgot-submit" disabled=move || pending.get()>
                            {move || if pending.get() { "Sending…" } else { "Send reset link" }}
                        </button>
                    </form>
                    <p class="kh-auth__switch">"Remembered it? " <a href="/login">"Sign in"</a></p>
                }.into_any(),
            }}
        </section>
    }
}

/// `/reset-password?token=…`.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = Memo::new(move |_| query.read().get("token").unwrap_or_default());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let done = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let pw = password.get_untracked();
        if pw.chars().count() < 8 {
            error.set(Some("Use a password of at least 8 characters.".into()));
            return;
        }
        pending.set(true);
        error.set(None);
        let req = PasswordResetConfirm {
            token: token.get_untracked(),
            password: pw,
        };
        spawn_local(async move {
            match ApiClient::same_origin().confirm_password_reset(&req).await {
                Ok(()) => done.set(true),
                Err(e) => {
                    error.set(Some(reset_message(&e)));
                    pending.set(false);
                }
            }
        });
    };
    view! {
        <section class="kh-card kh-narrow kh-auth" aria-labelledby="reset-title">
            {move || if done.get() {
                view! {
                    <h1 id="reset-title">"Password changed"</h1>
                    <p data-testid="reset-done" role="status">
                        "Your new password is set. For your security you were signed out everywhere; sign in again with the new password."
                    </p>
                    <a class="kh-button kh-button--primary kh-button--block" href="/login" data-testid="reset-sign-in">"Sign in"</a>
                }.into_any()
            } else if token.get().is_empty() {
                view! {
                    <h1 id="reset-title">"Reset your password"</h1>
                    <p data-testid="reset-no-token">"This page opens from the link in a password-reset email, and this address has no link in it."</p>
                    <a class="kh-button kh-button--primary kh-button--block" href="/forgot-password">"Get a reset link"</a>
                }.into_any()
            } else {
                view! {
                    <h1 id="reset-title">"Choose a new password"</h1>
                    <p class="kh-muted">"Setting it signs you out on every device."</p>
                    <form on:submit=on_submit>
                        <ErrorNote error testid="reset-error"/>
                        <div class="kh-field">
                            <label for="reset-password">"New password"</label>
                            <input id="reset-password" type="password" name="password" required minlength="8"
                                autocomplete="new-password" aria-describedby="reset-password-hint"
                                data-testid="reset-password" bind:value=password/>
                            <small id="reset-password-hint" class="kh-muted">"At least 8 characters."</small>
                        </div>
                        <button type="submit" class="kh-button kh-button--primary kh-button--block"
                            data-testid="reset-submit" disabled=move || pending.get()>
                            {move || if pending.get() { "Saving…" } else { "Set new password" }}
                        </button>
                    </form>
                    <p class="kh-auth__switch"><a href="/forgot-password">"Ask for a new link"</a></p>
                }.into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_link_reads_as_such() {
        let e = ApiError::Server {
            status: 400,
            body: keyhouse_types::ErrorBody::new("invalid_grant", None),
        };
        assert!(reset_message(&e).starts_with("This link is invalid"));
    }
}

/// `/verify-email`: where mailed sign-in, sign-up and verification links
/// lead; the component spends the link and goes on.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    view! {
        <div class="kh-narrow">
            <keyhouse_idp_component::EmailLink home_path="/"/>
        </div>
    }
}

/// `/logout`, the `end_session_endpoint`: a client that signed someone in
/// sends the browser here to sign them out (OpenID Connect RP-Initiated
/// Logout).
#[component]
pub fn LogoutPage() -> impl IntoView {
    view! {
        <div class="kh-narrow">
            <keyhouse_idp_component::EndSession home_path="/"/>
        </div>
    }
}
