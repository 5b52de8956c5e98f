//! The address: whether it is verified, and moving the account to a new
//! one (the new address gets a code and a link; nothing changes until one
//! comes back).

use keyhouse_idp_component::{ApiClient, ApiError, use_session};
use keyhouse_types::{
    ChangeEmailRequest, ConfirmEmailChangeRequest, EmailChallengeSent, ErrorCode, SessionResponse,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{CurrentPassword, SignInAgain, refusal};
use crate::pages::auth::{ErrorNote, general_message};

/// Whether the address is verified; when not, a button that mails a
/// verification link.
#[component]
pub(crate) fn EmailStatus(verified: bool) -> impl IntoView {
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

/// Where the address change is.
#[derive(Clone, PartialEq)]
enum Step {
    /// Asking for the new address (and the password).
    Ask,
    /// A code went to this address.
    Code(EmailChallengeSent),
}

/// The card that moves the account to a new address.
#[component]
pub(crate) fn ChangeEmail() -> impl IntoView {
    let session = use_session();
    let step = RwSignal::new(Step::Ask);
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let reauth = RwSignal::new(false);
    let done = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let ask = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        reauth.set(false);
        done.set(None);
        let req = ChangeEmailRequest {
            email: email.get_untracked().trim().to_owned(),
            password: Some(password.get_untracked()).filter(|p| !p.is_empty()),
        };
        spawn_local(async move {
            let answer: Result<EmailChallengeSent, ApiError> = ApiClient::same_origin()
                .post_json("/api/account/email", &req)
                .await;
            match answer {
                Ok(sent) => {
                    password.set(String::new());
                    code.set(String::new());
                    step.set(Step::Code(sent));
                }
                Err(e) => {
                    reauth.set(e.error_code() == Some(ErrorCode::ReauthenticationRequired));
                    error.set(Some(refusal(&e)));
                }
            }
            pending.set(false);
        });
    };

    let confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let req = ConfirmEmailChangeRequest {
            code: code.get_untracked(),
        };
        spawn_local(async move {
            let answer: Result<SessionResponse, ApiError> = ApiClient::same_origin()
                .post_json("/api/account/email/confirm", &req)
                .await;
            match answer {
                Ok(now) => {
                    done.set(Some(format!(
                        "Your email is now {}. We told your old address.",
                        now.user.email
                    )));
                    session.mark_signed_in(now);
                    email.set(String::new());
                    step.set(Step::Ask);
                }
                Err(e) => error.set(Some(match e.error_code() {
                    Some(ErrorCode::InvalidGrant) => {
                        "That code is wrong or expired. Check the newest message, or ask for a new code.".into()
                    }
                    Some(ErrorCode::Conflict) => {
                        "Another account uses that address now. Nothing changed.".into()
                    }
                    _ => general_message(&e),
                })),
            }
            pending.set(false);
        });
    };

    let ask_form = move || {
        view! {
            <form on:submit=ask data-testid="change-email-form">
                <div class="kh-field">
                    <label for="change-email-new">"New email"</label>
                    <input id="change-email-new" type="email" name="email" required autocomplete="email"
                        data-testid="change-email-input" bind:value=email/>
                </div>
                <CurrentPassword id="change-email-password" value=password/>
                <button type="submit" class="kh-button kh-button--primary" data-testid="change-email-submit"
                    disabled=move || pending.get()>
                    {move || if pending.get() { "Sending…" } else { "Send a code" }}
                </button>
            </form>
        }
    };

    let code_form = move |sent: EmailChallengeSent| {
        let hint = format!(
            "We sent a {}-digit code to {}. It works for {} minutes. If nothing arrives, check the address and spam folder.",
            sent.code_length,
            sent.email,
            sent.expires_in / 60
        );
        let length = sent.code_length.to_string();
        view! {
            <form on:submit=confirm data-testid="change-email-code-form">
                <p class="kh-notice" role="status" data-testid="change-email-sent">{hint}</p>
                <div class="kh-field">
                    <label for="change-email-code">"Code"</label>
                    <input id="change-email-code" type="text" name="one-time-code" required
                        inputmode="numeric" autocomplete="one-time-code" maxlength=length
                        class="kh-code__input" data-testid="change-email-code" bind:value=code/>
                </div>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="change-email-confirm"
                        disabled=move || pending.get()>
                        {move || if pending.get() { "Checking…" } else { "Use this address" }}
                    </button>
                    <button type="button" class="kh-link" data-testid="change-email-back"
                        on:click=move |_| { error.set(None); step.set(Step::Ask); }>
                        "Use a different address"
                    </button>
                </div>
            </form>
        }
    };

    view! {
        <section class="kh-card kh-narrow" aria-labelledby="change-email-title">
            <h2 id="change-email-title" class="kh-card__title">"Email address"</h2>
            <p class="kh-muted">
                "To move your account to another address, we send a code there. Your account keeps its current address until you enter it."
            </p>
            <ErrorNote error testid="change-email-error"/>
            {move || reauth.get().then(|| view! { <div class="kh-actions kh-actions--start"><SignInAgain/></div> })}
            {move || done.get().map(|m| view! {
                <p class="kh-notice" role="status" data-testid="change-email-done">{m}</p>
            })}
            {move || match step.get() {
                Step::Ask => ask_form().into_any(),
                Step::Code(sent) => code_form(sent).into_any(),
            }}
        </section>
    }
}
