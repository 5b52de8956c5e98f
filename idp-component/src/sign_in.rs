//! `SignIn`: a sign-in page (with account creation) for apps whose users
//! live in Keyhouse, and `PasswordLogin`, its password step on its own. Mount it at the login path the `/idp` page sends
//! people to (`/login` by default); after signing in it returns to the
//! page's `returnTo` when that is a same-origin path, else to `/`.
//!
//! Apps that keep their own users and login do not need it: their own page
//! signs people in and the backend's `SubjectResolver` says who they are.

use keyhouse_types::{EmailChallengeSent, ErrorCode, LoginRequest, SessionResponse, SignupRequest};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiClient, ApiError, SignupOutcome};
use crate::email::{EmailText, MagicLink, OneTimeCode};
use crate::passkey::{PasskeyLogin, PasskeyText};
use crate::second_factor::TotpChallenge;

/// Every string [`SignIn`] shows, English by default. `{app}` is replaced
/// by the `app_name` prop.
///
/// ```
/// let mut text = keyhouse_idp_component::SignInText::default();
/// text.sign_in_title = "Connexion à {app}".into();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SignInText {
    /// Heading while signing in.
    pub sign_in_title: String,
    /// Heading while creating an account.
    pub sign_up_title: String,
    /// The name field's label (account creation).
    pub name_label: String,
    /// The email field's label.
    pub email_label: String,
    /// The password field's label.
    pub password_label: String,
    /// Under the password field, when creating an account.
    pub password_hint: String,
    /// The submit button, signing in.
    pub sign_in_button: String,
    /// The submit button, creating an account.
    pub sign_up_button: String,
    /// Before the switch to account creation.
    pub no_account: String,
    /// The switch to account creation.
    pub create_account: String,
    /// Before the switch back to signing in.
    pub have_account: String,
    /// The switch back to signing in.
    pub sign_in_instead: String,
    /// Wrong email or password.
    pub invalid_credentials: String,
    /// Too many attempts.
    pub too_many_attempts: String,
    /// An account with that email exists.
    pub account_exists: String,
    /// Sign-up is closed.
    pub sign_up_closed: String,
    /// An operator disabled the account.
    pub account_disabled: String,
    /// An operator requires a new password first.
    pub password_reset_required: String,
    /// The server cannot be reached.
    pub unreachable: String,
    /// Anything else.
    pub failed: String,
    /// The switch to signing in by mail.
    pub use_email: String,
    /// The switch back to the password.
    pub use_password: String,
    /// The words of the mailed-code steps.
    pub email: EmailText,
    /// The words of the passkey button.
    pub passkey: PasskeyText,
}

impl Default for SignInText {
    fn default() -> SignInText {
        SignInText {
            sign_in_title: "Sign in to {app}".into(),
            sign_up_title: "Create your {app} account".into(),
            name_label: "Name".into(),
            email_label: "Email".into(),
            password_label: "Password".into(),
            password_hint: "At least 8 characters.".into(),
            sign_in_button: "Sign in".into(),
            sign_up_button: "Create account".into(),
            no_account: "New here?".into(),
            create_account: "Create an account".into(),
            have_account: "Already have an account?".into(),
            sign_in_instead: "Sign in".into(),
            invalid_credentials: "That email and password don't match an account.".into(),
            too_many_attempts: "Too many attempts. Wait 15 minutes and try again.".into(),
            account_exists: "An account with this email already exists. Sign in instead.".into(),
            sign_up_closed: "Sign-up is closed.".into(),
            account_disabled: "This account is disabled. Contact the service to have it enabled."
                .into(),
            password_reset_required:
                "This account needs a new password. Use the link we emailed you, or ask for a new one with \"Forgot your password?\"."
                    .into(),
            unreachable: "Can't reach the server. Check your connection and try again.".into(),
            failed: "Something went wrong. Try again in a moment.".into(),
            use_email: "Email me a sign-in code instead".into(),
            use_password: "Sign in with a password instead".into(),
            email: EmailText::default(),
            passkey: PasskeyText::default(),
        }
    }
}

impl SignInText {
    /// The message for a failed sign-in or sign-up.
    pub fn error_message(&self, e: &ApiError) -> String {
        match e.error_code() {
            Some(ErrorCode::InvalidCredentials) => self.invalid_credentials.clone(),
            Some(ErrorCode::TooManyAttempts) => self.too_many_attempts.clone(),
            Some(ErrorCode::Conflict) => self.account_exists.clone(),
            Some(ErrorCode::AccessDenied) => self.sign_up_closed.clone(),
            Some(ErrorCode::AccountDisabled) => self.account_disabled.clone(),
            Some(ErrorCode::PasswordResetRequired) => self.password_reset_required.clone(),
            // The server's own sentence names the field at fault.
            Some(ErrorCode::InvalidRequest) => e
                .description()
                .map(sentence)
                .unwrap_or_else(|| self.failed.clone()),
            None if e.is_network() => self.unreachable.clone(),
            _ => self.failed.clone(),
        }
    }
}

pub(crate) fn sentence(s: &str) -> String {
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

/// Where to go after signing in: the page's `returnTo` when it is a
/// same-origin path, else `/`. Read in the browser only.
fn return_target() -> String {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    crate::params::return_to(&search).unwrap_or_else(|| "/".to_owned())
}

/// The form's fields and state.
#[derive(Clone, Copy)]
struct Form {
    creating: RwSignal<bool>,
    by_email: RwSignal<bool>,
    sent: RwSignal<Option<EmailChallengeSent>>,
    name: RwSignal<String>,
    email: RwSignal<String>,
    password: RwSignal<String>,
    error: RwSignal<Option<String>>,
    pending: RwSignal<bool>,
    /// The first factor was right: the authenticator app's code is next.
    second_factor: RwSignal<bool>,
}

impl Form {
    /// Creates the account: whether the browser is signed in now (else a
    /// code was mailed).
    async fn sign_up(self, api: ApiClient) -> Result<bool, ApiError> {
        let name = Some(self.name.get_untracked()).filter(|n| !n.trim().is_empty());
        let req = SignupRequest {
            email: self.email.get_untracked(),
            password: self.password.get_untracked(),
            name,
            return_to: Some(return_target()),
        };
        match api.signup(&req).await? {
            SignupOutcome::CheckEmail(sent) => {
                self.sent.set(Some(sent));
                Ok(false)
            }
            _ => Ok(true),
        }
    }
}

fn go_on() {
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(&return_target());
    }
}

/// A sign-in form with account creation, for the host app's login page.
/// Strings come from [`SignInText`]; the look from the `kh-*` classes of
/// the component's stylesheet.
///
/// ```ignore
/// view! { <Route path=path!("/login") view=|| view! { <SignIn app_name="Notes"/> }/> }
/// ```
#[component]
pub fn SignIn(
    /// The host app's name, in the headings.
    #[prop(into, default = "this app".to_owned())]
    app_name: String,
    /// Replaces the words; see [`SignInText`].
    #[prop(optional)]
    text: Option<SignInText>,
    /// Offer account creation (default `true`).
    #[prop(default = true)]
    allow_sign_up: bool,
    /// Offer signing in with a mailed link or code (default `true`; the
    /// backend's `email_sign_in`).
    #[prop(default = true)]
    allow_email: bool,
    /// Offer signing in with a passkey (default `true`; shown only where
    /// the browser can, on a page at a domain name).
    #[prop(default = true)]
    allow_passkeys: bool,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    let t = StoredValue::new(text.unwrap_or_default());
    let api = StoredValue::new(api.unwrap_or_default());
    let app = StoredValue::new(app_name);
    let f = Form {
        creating: RwSignal::new(false),
        by_email: RwSignal::new(false),
        sent: RwSignal::new(None),
        name: RwSignal::new(String::new()),
        email: RwSignal::new(String::new()),
        password: RwSignal::new(String::new()),
        error: RwSignal::new(None),
        pending: RwSignal::new(false),
        second_factor: RwSignal::new(false),
    };
    // The form-post sign-in (no script yet) lands here with the waiting
    // session's cookie set.
    Effect::new(move |_| {
        let search = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        if crate::params::query_value(&search, "error").as_deref()
            == Some(ErrorCode::SecondFactorRequired.as_str())
        {
            f.second_factor.set(true);
        }
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if f.pending.get_untracked() {
            return;
        }
        f.pending.set(true);
        f.error.set(None);
        spawn_local(async move {
            match f.sign_up(api.get_value()).await {
                Ok(true) => go_on(),
                Ok(false) => f.pending.set(false),
                Err(e) => {
                    f.error.set(Some(t.with_value(|t| t.error_message(&e))));
                    f.pending.set(false);
                }
            }
        });
    };
    let title = move || {
        let template = t.with_value(|t| {
            if f.creating.get() {
                t.sign_up_title.clone()
            } else {
                t.sign_in_title.clone()
            }
        });
        template.replace("{app}", &app.get_value())
    };
    view! {
        <div class="kh-idp">
            <section class="kh-card kh-sign-in" data-testid="sign-in" aria-labelledby="kh-sign-in-title">
                <h1 id="kh-sign-in-title">{title}</h1>
                {move || {
                    let on_signed_in = Callback::new(|_: SessionResponse| go_on());
                    let words = t.with_value(|t| t.email.clone());
                    if f.second_factor.get() {
                        let api = api.get_value();
                        let on_start_over = Callback::new(move |()| {
                            f.password.set(String::new());
                            f.second_factor.set(false);
                        });
                        return view! { <TotpChallenge on_signed_in on_start_over api/> }.into_any();
                    }
                    if let Some(sent) = f.sent.get() {
                        let api = api.get_value();
                        return view! { <OneTimeCode sent on_signed_in text=words api/> }.into_any();
                    }
                    if f.by_email.get() {
                        let api = api.get_value();
                        return view! {
                            <div class="kh-sign-in__email">
                                <MagicLink on_signed_in return_to=return_target()
                                    email=f.email.get_untracked() text=words api/>
                            </div>
                        }.into_any();
                    }
                    if !f.creating.get() {
                        let on_second_factor = Callback::new(move |()| {
                            f.second_factor.set(true);
                        });
                        return view! {
                            <PasswordLogin on_signed_in on_second_factor text=t.get_value()
                                api=api.get_value() email=f.email/>
                            {allow_passkeys.then(|| {
                                let text = t.with_value(|t| t.passkey.clone());
                                view! { <PasskeyLogin on_signed_in text api=api.get_value() separated=true autofill=true/> }
                            })}
                        }.into_any();
                    }
                    view! {
                        <form on:submit=on_submit>
                            {move || f.error.get().map(|e| view! {
                                <p class="kh-alert" role="alert" data-testid="sign-in-error">{e}</p>
                            })}
                            <Fields f t/>
                            <button type="submit" class="kh-button kh-button--primary kh-button--block"
                                data-testid="sign-in-submit" disabled=move || f.pending.get()>
                                {move || t.with_value(|t| t.sign_up_button.clone())}
                            </button>
                        </form>
                    }.into_any()
                }}
                {move || (allow_email && !f.creating.get() && f.sent.get().is_none() && !f.second_factor.get()).then(|| view! {
                    <p class="kh-muted kh-sign-in__switch">
                        <button type="button" class="kh-link" data-testid="sign-in-by-email"
                            on:click=move |_| {
                                f.error.set(None);
                                f.by_email.update(|b| *b = !*b);
                            }>
                            {move || t.with_value(|t| if f.by_email.get() { t.use_password.clone() } else { t.use_email.clone() })}
                        </button>
                    </p>
                })}
                {move || (allow_sign_up && !f.by_email.get() && f.sent.get().is_none() && !f.second_factor.get()).then(|| view! { <Switch f t/> })}
            </section>
        </div>
    }
}

/// The password step on its own: email and password, for a login page of
/// the host app's own (what [`SignIn`] shows when signing in). For an
/// account with two-step verification it goes on to [`TotpChallenge`]
/// itself, unless `on_second_factor` takes that step over.
///
/// ```ignore
/// view! { <PasswordLogin on_signed_in=move |_| navigate("/", Default::default())/> }
/// ```
#[component]
pub fn PasswordLogin(
    /// Called with the session once signed in (after the second step, for
    /// an account with one).
    #[prop(into)]
    on_signed_in: Callback<SessionResponse>,
    /// Called instead of showing [`TotpChallenge`] when the password was
    /// right and the account asks for its second factor: the host shows
    /// the next step itself.
    #[prop(optional, into)]
    on_second_factor: Option<Callback<()>>,
    /// The words (labels, button, refusals); see [`SignInText`].
    #[prop(optional)]
    text: Option<SignInText>,
    /// The email field's value, to share it with other steps of the host's
    /// page (e.g. a mailed-code sign-in).
    #[prop(optional)]
    email: Option<RwSignal<String>>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    let t = StoredValue::new(text.unwrap_or_default());
    let api = StoredValue::new(api.unwrap_or_default());
    let email = email.unwrap_or_else(|| RwSignal::new(String::new()));
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let second_step = RwSignal::new(false);
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let req = LoginRequest {
            email: email.get_untracked(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match api.get_value().login(&req).await {
                Ok(s) => {
                    if let Some(app) = use_context::<crate::Session>() {
                        app.mark_signed_in(s.clone());
                    }
                    on_signed_in.run(s);
                }
                Err(e) if e.error_code() == Some(ErrorCode::SecondFactorRequired) => {
                    password.set(String::new());
                    pending.set(false);
                    match on_second_factor {
                        Some(host) => host.run(()),
                        None => second_step.set(true),
                    }
                }
                Err(e) => {
                    error.set(Some(t.with_value(|t| t.error_message(&e))));
                    pending.set(false);
                }
            }
        });
    };
    let label = move |pick: fn(&SignInText) -> &String| t.with_value(|t| pick(t).clone());
    move || {
        if second_step.get() {
            let on_start_over = Callback::new(move |()| second_step.set(false));
            return view! { <TotpChallenge on_signed_in on_start_over api=api.get_value()/> }
                .into_any();
        }
        view! {
            <form on:submit=on_submit>
                {move || error.get().map(|e| view! {
                    <p class="kh-alert" role="alert" data-testid="sign-in-error">{e}</p>
                })}
                <div class="kh-field">
                    <label for="kh-sign-in-email">{label(|t| &t.email_label)}</label>
                    <input id="kh-sign-in-email" type="email" name="email" required autocomplete="username webauthn"
                        data-testid="sign-in-email" bind:value=email/>
                </div>
                <div class="kh-field">
                    <label for="kh-sign-in-password">{label(|t| &t.password_label)}</label>
                    <input id="kh-sign-in-password" type="password" name="password" required
                        autocomplete="current-password" data-testid="sign-in-password" bind:value=password/>
                </div>
                <button type="submit" class="kh-button kh-button--primary kh-button--block"
                    data-testid="sign-in-submit" disabled=move || pending.get()>
                    {label(|t| &t.sign_in_button)}
                </button>
            </form>
        }
        .into_any()
    }
}

#[component]
fn Fields(f: Form, t: StoredValue<SignInText>) -> impl IntoView {
    let creating = move || f.creating.get();
    let label = move |pick: fn(&SignInText) -> &String| t.with_value(|t| pick(t).clone());
    view! {
        {move || creating().then(|| view! {
            <div class="kh-field">
                <label for="kh-sign-in-name">{label(|t| &t.name_label)}</label>
                <input id="kh-sign-in-name" name="name" autocomplete="name"
                    data-testid="sign-in-name" bind:value=f.name/>
            </div>
        })}
        <div class="kh-field">
            <label for="kh-sign-in-email">{label(|t| &t.email_label)}</label>
            <input id="kh-sign-in-email" type="email" name="email" required
                autocomplete=move || if creating() { "email" } else { "username" }
                data-testid="sign-in-email" bind:value=f.email/>
        </div>
        <div class="kh-field">
            <label for="kh-sign-in-password">{label(|t| &t.password_label)}</label>
            <input id="kh-sign-in-password" type="password" name="password" required
                autocomplete=move || if creating() { "new-password" } else { "current-password" }
                minlength=move || creating().then_some("8")
                aria-describedby=move || creating().then_some("kh-sign-in-hint")
                data-testid="sign-in-password" bind:value=f.password/>
            {move || creating().then(|| view! {
                <small id="kh-sign-in-hint" class="kh-muted">{label(|t| &t.password_hint)}</small>
            })}
        </div>
    }
}

#[component]
fn Switch(f: Form, t: StoredValue<SignInText>) -> impl IntoView {
    let words = move || {
        t.with_value(|t| {
            if f.creating.get() {
                (t.have_account.clone(), t.sign_in_instead.clone())
            } else {
                (t.no_account.clone(), t.create_account.clone())
            }
        })
    };
    view! {
        <p class="kh-muted kh-sign-in__switch">
            {move || words().0} " "
            <button type="button" class="kh-link" data-testid="sign-in-switch"
                on:click=move |_| {
                    f.error.set(None);
                    f.creating.update(|c| *c = !*c);
                }>
                {move || words().1}
            </button>
        </p>
    }
}

#[cfg(test)]
mod tests {
    use keyhouse_types::ErrorBody;

    use super::*;

    fn server(code: &str, description: Option<&str>) -> ApiError {
        ApiError::Server {
            status: 400,
            body: ErrorBody::new(code, description.map(str::to_owned)),
        }
    }

    #[test]
    fn each_failure_gets_its_own_words_and_they_can_be_replaced() {
        let t = SignInText::default();
        assert_eq!(
            t.error_message(&server("invalid_credentials", None)),
            t.invalid_credentials
        );
        assert_eq!(t.error_message(&server("conflict", None)), t.account_exists);
        assert_eq!(
            t.error_message(&server(
                "invalid_request",
                Some("enter a valid email address")
            )),
            "Enter a valid email address."
        );
        assert_eq!(
            t.error_message(&ApiError::Network("down".into())),
            t.unreachable
        );
        let fr = SignInText {
            invalid_credentials: "Identifiants incorrects.".into(),
            ..SignInText::default()
        };
        assert_eq!(
            fr.error_message(&server("invalid_credentials", None)),
            "Identifiants incorrects."
        );
    }
}
