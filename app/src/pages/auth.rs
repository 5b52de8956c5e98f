//! Sign-up and login pages. Both honour `?returnTo=` when it is a
//! same-origin relative path (docs/threat-model.md row 4); anything else lands on `/`.

use keyhouse_types::ErrorCode;
use std::borrow::Cow;

use keyhouse_idp_component::{
    ApiError, MagicLink, OneTimeCode, PasskeyLogin, SignupOutcome, TotpChallenge, use_session,
};
use keyhouse_types::{EmailChallengeSent, LoginRequest, SessionResponse, SignupRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use super::Bundle;
use crate::APP_NAME;

/// The sanitised `returnTo` of the page, or `home`. Read from the address
/// bar's query and decoded once: the router's query map decodes values a
/// second time, which would turn a percent-encoded route parameter (an
/// agent's client id URL in `/admin/apps/…`) into several path segments.
pub(crate) fn return_target(home: &'static str) -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.track();
        let search = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        keyhouse_idp_component::params::return_to(&search).unwrap_or_else(|| home.to_owned())
    })
}

/// `returnTo` carried over to the other auth page's link.
fn with_return(path: &str, target: &str) -> String {
    if target == "/" {
        path.to_owned()
    } else {
        keyhouse_idp_component::params::login_url(path, target)
    }
}

/// Goes to the (sanitised) `target` after signing in, from a page of
/// `here`. The Authorization URLs (`/idp`, `/org/idp`) get a full page load,
/// so they read their request from a clean page, and so do pages of another
/// bundle; the rest use the router.
pub(crate) fn after_sign_in(target: &str, here: Bundle, navigate: impl Fn(&str, NavigateOptions)) {
    let authorize = target.starts_with("/idp") || target.starts_with("/org/idp");
    if authorize || Bundle::of(target) != here {
        if let Some(w) = web_sys::window() {
            let _ = w.location().assign(target);
        }
    } else {
        navigate(target, NavigateOptions::default());
    }
}

fn login_message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::InvalidCredentials) => {
            "That email and password don't match an account.".into()
        }
        Some(ErrorCode::TooManyAttempts) => {
            "Too many attempts. For your security, wait 15 minutes and try again.".into()
        }
        Some(ErrorCode::AccountDisabled) => {
            "This account is disabled. Contact us to have it enabled.".into()
        }
        Some(ErrorCode::PasswordResetRequired) => {
            "This account needs a new password. Use the link we emailed you, or \"Forgot your password?\" below.".into()
        }
        _ => general_message(e),
    }
}

/// What every form says for a refused field, a network failure or anything
/// unexpected.
pub(crate) fn general_message(e: &ApiError) -> String {
    match e.error_code() {
        None if e.is_network() => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        Some(ErrorCode::InvalidRequest) => e
            .description()
            .map(capitalise)
            .unwrap_or_else(|| "Check the form and try again.".into()),
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}

fn signup_message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::Conflict) => {
            "An account with this email already exists. Sign in instead.".into()
        }
        Some(ErrorCode::AccessDenied) => "Sign-up is closed on this server.".into(),
        _ => login_message(e),
    }
}

pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            c.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

/// `/login`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let target = return_target("/");
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let by_email = RwSignal::new(false);
    let query = use_query_map();
    let deleted = move || query.with(|q| q.get("deleted").is_some());
    // The password (or a mailed code) was right and the account takes a
    // second factor; the form-post sign-in lands here with `?error=`.
    let second_factor = RwSignal::new(false);
    Effect::new(move |_| {
        if query
            .with(|q| q.get("error").as_deref() == Some(ErrorCode::SecondFactorRequired.as_str()))
        {
            second_factor.set(true);
        }
    });
    let navigate = use_navigate();
    let nav = navigate.clone();
    let signed_in = Callback::new(move |_: SessionResponse| {
        after_sign_in(&target.get_untracked(), Bundle::Main, nav.clone())
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let req = LoginRequest {
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        let navigate = navigate.clone();
        spawn_local(async move {
            match session.login(&req).await {
                Ok(_) => after_sign_in(&target.get_untracked(), Bundle::Main, navigate),
                Err(e) if e.error_code() == Some(ErrorCode::SecondFactorRequired) => {
                    password.set(String::new());
                    second_factor.set(true);
                    pending.set(false);
                }
                Err(e) => {
                    error.set(Some(login_message(&e)));
                    password.set(String::new());
                    pending.set(false);
                }
            }
        });
    };
    view! {
        <section class="kh-card kh-narrow kh-auth" aria-labelledby="login-title">
            <h1 id="login-title">"Sign in"</h1>
            {move || deleted().then(|| view! {
                <p class="kh-notice" role="status" data-testid="login-account-deleted">
                    "Your account was deleted, and every app you had connected lost access to it."
                </p>
            })}
            {move || second_factor.get().then(|| view! {
                <TotpChallenge on_signed_in=signed_in
                    on_start_over=Callback::new(move |()| second_factor.set(false))/>
            })}
            <div class="kh-auth__first" hidden=move || second_factor.get()>
            <p class="kh-muted">{format!("Welcome back to {APP_NAME}.")}</p>
            <Show when=move || by_email.get() fallback=move || {
                let on_submit = on_submit.clone();
                view! {
                    <CredentialsForm prefix="login" purpose=Purpose::SignIn email password error pending on_submit
                        submit_label=move || if pending.get() { "Signing in…" } else { "Sign in" }/>
                    <p class="kh-auth__forgot"><a data-testid="login-forgot-link" href="/forgot-password">"Forgot your password?"</a></p>
                    <PasskeyLogin on_signed_in=signed_in separated=true autofill=true/>
                }
            }>
                <MagicLink on_signed_in=signed_in return_to=target.get_untracked() email=email.get_untracked()/>
            </Show>
            <p class="kh-auth__alt">
                <button type="button" class="kh-link" data-testid="login-by-email"
                    on:click=move |_| { error.set(None); by_email.update(|b| *b = !*b); }>
                    {move || if by_email.get() { "Sign in with a password instead" } else { "Email me a sign-in code instead" }}
                </button>
            </p>
            <p class="kh-auth__switch">"New here? "
                <a data-testid="login-signup-link" href=move || with_return("/signup", &target.get())>"Create an account"</a>
            </p>
            </div>
        </section>
    }
}

/// `/signup`.
#[component]
pub fn SignupPage() -> impl IntoView {
    let session = use_session();
    let target = return_target("/");
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let sent = RwSignal::new(None::<EmailChallengeSent>);
    let navigate = use_navigate();
    let nav = navigate.clone();
    let signed_in = Callback::new(move |_: SessionResponse| {
        after_sign_in(&target.get_untracked(), Bundle::Main, nav.clone())
    });
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
        let n = name.get_untracked().trim().to_owned();
        let req = SignupRequest {
            email: email.get_untracked().trim().to_owned(),
            password: pw,
            name: (!n.is_empty()).then_some(n),
            return_to: Some(target.get_untracked()),
        };
        let navigate = navigate.clone();
        spawn_local(async move {
            match session.signup(&req).await {
                Ok(SignupOutcome::CheckEmail(s)) => {
                    password.set(String::new());
                    sent.set(Some(s));
                    pending.set(false);
                }
                Ok(_) => after_sign_in(&target.get_untracked(), Bundle::Main, navigate),
                Err(e) => {
                    error.set(Some(signup_message(&e)));
                    pending.set(false);
                }
            }
        });
    };
    view! {
        <section class="kh-card kh-narrow kh-auth" aria-labelledby="signup-title">
            <h1 id="signup-title">"Create your account"</h1>
            {move || match sent.get() {
                Some(s) => view! { <OneTimeCode sent=s on_signed_in=signed_in/> }.into_any(),
                None => {
                    let on_submit = on_submit.clone();
                    view! {
                    <p class="kh-muted">{format!("Keep your notes in {APP_NAME}, and choose which apps may read them.")}</p>
                    <CredentialsForm prefix="signup" purpose=Purpose::SignUp email password error pending on_submit
                        submit_label=move || if pending.get() { "Creating account…" } else { "Create account" }>
                        <div class="kh-field">
                            <label for="signup-name">"Name " <span class="kh-muted">"(optional)"</span></label>
                            <input id="signup-name" type="text" name="name" autocomplete="name" maxlength="100"
                                data-testid="signup-name" bind:value=name/>
                        </div>
                    </CredentialsForm>
                    }.into_any()
                }
            }}
            <p class="kh-auth__switch">"Already have an account? "
                <a data-testid="signup-login-link" href=move || with_return("/login", &target.get())>"Sign in"</a>
            </p>
        </section>
    }
}

/// What a [`CredentialsForm`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Signing in: both fields are marked invalid while an error is shown.
    SignIn,
    /// Creating an account: a new password of at least 8 characters.
    SignUp,
}

/// The e-mail and password form of the sign-in, sign-up and organization
/// sign-in pages: the error, any extra fields, the e-mail and password
/// fields and the submit button. Ids and test ids are `{prefix}-error`,
/// `{prefix}-email`, `{prefix}-password` and `{prefix}-submit`.
#[component]
pub(crate) fn CredentialsForm(
    /// Starts the ids and test ids: `login`, `signup`, `org-login`.
    prefix: &'static str,
    /// Signing in or signing up (autocomplete hints, password rules).
    purpose: Purpose,
    /// The e-mail field's label.
    #[prop(default = "Email")]
    email_label: &'static str,
    /// The e-mail address typed.
    email: RwSignal<String>,
    /// The password typed.
    password: RwSignal<String>,
    /// The form's error message.
    error: RwSignal<Option<String>>,
    /// A request is running: the button is disabled.
    pending: RwSignal<bool>,
    /// The submit button's words.
    #[prop(into)]
    submit_label: Signal<&'static str>,
    /// Sends the form.
    on_submit: impl FnMut(leptos::ev::SubmitEvent) + 'static,
    /// Fields shown before the e-mail field (the sign-up page's name).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let sign_up = purpose == Purpose::SignUp;
    let invalid = move || (!sign_up && error.get().is_some()).then_some("true");
    let hint_id = format!("{prefix}-password-hint");
    view! {
        <form on:submit=on_submit>
            <ErrorNote error testid=format!("{prefix}-error")/>
            {children.map(|c| c())}
            <div class="kh-field">
                <label for=format!("{prefix}-email")>{email_label}</label>
                <input id=format!("{prefix}-email") type="email" name="email" required
                    autocomplete=if sign_up { "email" } else { "username webauthn" }
                    data-testid=format!("{prefix}-email") bind:value=email aria-invalid=invalid/>
            </div>
            <div class="kh-field">
                <label for=format!("{prefix}-password")>"Password"</label>
                <input id=format!("{prefix}-password") type="password" name="password" required
                    autocomplete=if sign_up { "new-password" } else { "current-password" }
                    minlength=sign_up.then_some("8") aria-describedby=sign_up.then(|| hint_id.clone())
                    data-testid=format!("{prefix}-password") bind:value=password aria-invalid=invalid/>
                {sign_up.then(|| view! { <small id=hint_id class="kh-muted">"At least 8 characters."</small> })}
            </div>
            <button type="submit" class="kh-button kh-button--primary kh-button--block"
                data-testid=format!("{prefix}-submit") disabled=move || pending.get()>
                {move || submit_label.get()}
            </button>
        </form>
    }
}

/// A form's error message, announced to screen readers.
#[component]
pub(crate) fn ErrorNote(
    /// The message, when there is one.
    error: RwSignal<Option<String>>,
    /// The message's `data-testid`.
    #[prop(into)]
    testid: Cow<'static, str>,
) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! { <p class="kh-alert" role="alert" data-testid=testid.clone()>{e}</p> }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let e = ApiError::Server {
            status: 400,
            body: keyhouse_types::ErrorBody::new(
                "invalid_request",
                Some("enter a valid email address".into()),
            ),
        };
        assert_eq!(login_message(&e), "Enter a valid email address.");
        assert_eq!(with_return("/signup", "/"), "/signup");
        assert_eq!(
            with_return("/signup", "/idp?a=b"),
            "/signup?returnTo=%2Fidp%3Fa%3Db"
        );
    }
}
