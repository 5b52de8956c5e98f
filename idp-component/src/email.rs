//! Signing in by mail: [`MagicLink`] asks for a message with a link and a
//! code, [`OneTimeCode`] takes the code in the same browser, and
//! [`EmailLink`] is the page the link opens. Each is usable on its own on
//! a host app's pages; [`crate::SignIn`] combines them. Members of
//! organizations have [`MemberMagicLink`] and [`MemberOneTimeCode`], whose
//! code answers with the organizations it opens.

use keyhouse_types::b2b::{DiscoveryResponse, MemberEmailLoginRequest};
use keyhouse_types::{
    EmailChallengeSent, EmailCodeRequest, EmailLinkRequest, EmailLoginRequest, ErrorCode,
    SessionResponse,
};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiClient, ApiError};
use crate::second_factor::TotpChallenge;

/// Every string of the mail components, English by default. `{email}` is
/// replaced by the address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EmailText {
    /// The address field's label.
    pub email_label: String,
    /// [`MagicLink`]'s button.
    pub send_button: String,
    /// [`OneTimeCode`]'s heading.
    pub check_title: String,
    /// Under it (`{email}`).
    pub check_text: String,
    /// The code field's label.
    pub code_label: String,
    /// The code's button.
    pub verify_button: String,
    /// Asks for another message.
    pub resend: String,
    /// After another message went.
    pub resent: String,
    /// A wrong, used or expired code.
    pub wrong_code: String,
    /// A used, expired or unknown link.
    pub bad_link: String,
    /// A link opened in another browser.
    pub wrong_browser: String,
    /// While a link is checked.
    pub checking_link: String,
    /// Heading when a link was refused.
    pub link_refused_title: String,
    /// Heading when a verification link worked.
    pub verified_title: String,
    /// A verification link worked.
    pub verified: String,
    /// The way on after a verification link.
    pub continue_label: String,
    /// Too many requests.
    pub too_many: String,
    /// The server cannot be reached.
    pub unreachable: String,
    /// Anything else.
    pub failed: String,
}

impl Default for EmailText {
    fn default() -> EmailText {
        EmailText {
            email_label: "Email".into(),
            send_button: "Email me a sign-in code".into(),
            check_title: "Check your email".into(),
            check_text: "We sent a code to {email}. Enter it here, or open the link in the message in this browser.".into(),
            code_label: "Code".into(),
            verify_button: "Continue".into(),
            resend: "Send a new code".into(),
            resent: "A new code is on its way.".into(),
            wrong_code: "That code is wrong or expired. Check the newest message, or send a new code.".into(),
            bad_link: "This link is used, expired or wrong. Ask for a new one.".into(),
            wrong_browser: "Open this link in the browser where you asked for it, or type the code from the message there.".into(),
            checking_link: "Checking your link…".into(),
            link_refused_title: "This link didn't work".into(),
            verified_title: "Email verified".into(),
            verified: "Your email address is verified.".into(),
            continue_label: "Continue".into(),
            too_many: "Too many attempts. Wait a while and try again.".into(),
            unreachable: "Can't reach the server. Check your connection and try again.".into(),
            failed: "Something went wrong. Try again in a moment.".into(),
        }
    }
}

impl EmailText {
    /// The message for a failed call.
    pub fn error_message(&self, e: &ApiError) -> String {
        match e.error_code() {
            Some(ErrorCode::InvalidGrant) => self.wrong_code.clone(),
            Some(ErrorCode::WrongBrowser) => self.wrong_browser.clone(),
            Some(ErrorCode::TooManyAttempts) => self.too_many.clone(),
            Some(
                ErrorCode::InvalidRequest
                | ErrorCode::Conflict
                | ErrorCode::AccessDenied
                | ErrorCode::AccountDisabled
                | ErrorCode::InvalidCredentials,
            ) => e
                .description()
                .map(crate::sign_in::sentence)
                .unwrap_or_else(|| self.failed.clone()),
            None if e.is_network() => self.unreachable.clone(),
            _ => self.failed.clone(),
        }
    }
}

/// Whose sign-in a mailed message is for.
#[derive(Clone)]
enum Flow {
    /// An account's: the code signs in (or finishes a sign-up).
    Account(Callback<SessionResponse>),
    /// Organization members': the code answers with the organizations it
    /// opens (only the one named, when there is one).
    Member {
        on_discovered: Callback<DiscoveryResponse>,
        organization_slug: Option<String>,
    },
}

/// The code step: "check your email", a code field, and a way to send a
/// new message. `on_signed_in` runs with the session once the code is
/// accepted (the account exists then, for a sign-up).
#[component]
pub fn OneTimeCode(
    /// Where the code was sent (from [`EmailChallengeSent`]).
    sent: EmailChallengeSent,
    /// Called after the code was accepted.
    #[prop(into)]
    on_signed_in: Callback<SessionResponse>,
    /// Sends another message; without, no "send a new code" button.
    #[prop(optional, into)]
    resend: Option<Callback<()>>,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<EmailText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    view! {
        <CodeStep sent flow=Flow::Account(on_signed_in) resend text=text.unwrap_or_default()
            api=api.unwrap_or_default()/>
    }
}

/// [`OneTimeCode`] for members of organizations: the code answers with the
/// organizations the address opens (`on_discovered`), for the host's
/// choice (`POST /api/b2b/discovery/select`, [`crate::MemberSession::select`]).
#[component]
pub fn MemberOneTimeCode(
    /// Where the code was sent (from [`EmailChallengeSent`]).
    sent: EmailChallengeSent,
    /// Called with the organizations once the code was accepted.
    #[prop(into)]
    on_discovered: Callback<DiscoveryResponse>,
    /// Sends another message; without, no "send a new code" button.
    #[prop(optional, into)]
    resend: Option<Callback<()>>,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<EmailText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    let flow = Flow::Member {
        on_discovered,
        organization_slug: None,
    };
    view! {
        <CodeStep sent flow resend text=text.unwrap_or_default() api=api.unwrap_or_default()/>
    }
}

/// The code step of either flow.
#[component]
fn CodeStep(
    sent: EmailChallengeSent,
    flow: Flow,
    resend: Option<Callback<()>>,
    text: EmailText,
    api: ApiClient,
) -> impl IntoView {
    let t = StoredValue::new(text);
    let api = StoredValue::new(api);
    let flow = StoredValue::new(flow);
    let code = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let email = StoredValue::new(sent.email.clone());
    // The code was right and the account takes a second factor.
    let second_factor = RwSignal::new(false);
    // The app's session, when it keeps one, learns of the sign-in at once.
    let session = use_context::<crate::Session>();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            let req = EmailCodeRequest {
                email: email.get_value(),
                code: code.get_untracked(),
            };
            let refused = match flow.get_value() {
                Flow::Account(on_signed_in) => match api.get_value().email_code(&req).await {
                    Ok(s) => {
                        if let Some(app) = session {
                            app.mark_signed_in(s.clone());
                        }
                        on_signed_in.run(s);
                        return;
                    }
                    Err(e) if e.error_code() == Some(ErrorCode::SecondFactorRequired) => {
                        second_factor.set(true);
                        return;
                    }
                    Err(e) => e,
                },
                Flow::Member { on_discovered, .. } => {
                    match api.get_value().member_email_code(&req).await {
                        Ok(found) => {
                            on_discovered.run(found);
                            // The host may keep this step on screen (its
                            // choice failed): the code can be sent again.
                            pending.set(false);
                            return;
                        }
                        Err(e) => e,
                    }
                }
            };
            error.set(Some(t.with_value(|t| t.error_message(&refused))));
            pending.set(false);
        });
    };
    let text_line = t.with_value(|t| t.check_text.replace("{email}", &sent.email));
    let text_line = StoredValue::new(text_line);
    let digits = StoredValue::new(sent.code_length.to_string());
    view! {
        <Show when=move || !second_factor.get()
            fallback=move || {
                let on_signed_in = match flow.get_value() {
                    Flow::Account(on_signed_in) => on_signed_in,
                    Flow::Member { .. } => Callback::new(|_| ()),
                };
                view! { <TotpChallenge on_signed_in api=api.get_value()/> }
            }>
        <div class="kh-code" data-testid="one-time-code">
            <h2 class="kh-code__title">{t.with_value(|t| t.check_title.clone())}</h2>
            <p class="kh-muted">{text_line.get_value()}</p>
            <form on:submit=on_submit>
                {move || error.get().map(|e| view! {
                    <p class="kh-alert" role="alert" data-testid="code-error">{e}</p>
                })}
                {move || notice.get().map(|n| view! {
                    <p class="kh-notice" role="status">{n}</p>
                })}
                <div class="kh-field">
                    <label for="kh-code-input">{t.with_value(|t| t.code_label.clone())}</label>
                    <input id="kh-code-input" class="kh-code__input" name="code" required
                        inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*"
                        maxlength=digits.get_value() data-testid="code-input" bind:value=code/>
                </div>
                <button type="submit" class="kh-button kh-button--primary kh-button--block"
                    data-testid="code-submit" disabled=move || pending.get()>
                    {t.with_value(|t| t.verify_button.clone())}
                </button>
            </form>
            {resend.map(|again| view! {
                <p class="kh-muted kh-sign-in__switch">
                    <button type="button" class="kh-link" data-testid="code-resend"
                        on:click=move |_| {
                            error.set(None);
                            notice.set(Some(t.with_value(|t| t.resent.clone())));
                            again.run(());
                        }>
                        {t.with_value(|t| t.resend.clone())}
                    </button>
                </p>
            })}
        </div>
        </Show>
    }
}

/// Sign-in by mail: an address field, then [`OneTimeCode`]. The message's
/// link, opened in this browser, signs in too (through [`EmailLink`]) and
/// comes back to `return_to`.
#[component]
pub fn MagicLink(
    /// Called after the code was accepted.
    #[prop(into)]
    on_signed_in: Callback<SessionResponse>,
    /// Where the mailed link leads back to (a same-origin path).
    #[prop(optional, into)]
    return_to: Option<String>,
    /// The address to start with.
    #[prop(optional, into)]
    email: Option<String>,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<EmailText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    view! {
        <MailedSignIn flow=Flow::Account(on_signed_in) return_to email on_sent=None
            text=text.unwrap_or_default() api=api.unwrap_or_default()/>
    }
}

/// [`MagicLink`] for members of organizations: an address field, then
/// [`MemberOneTimeCode`], whose code answers with the organizations the
/// address opens (`on_discovered`; only `organization_slug`'s, when given).
/// The message's link leads to the backend's `member_email_link_path`
/// (`/org/login/email` by default), where the host posts its token with
/// [`ApiClient::member_email_link`] and offers the same choice.
#[component]
pub fn MemberMagicLink(
    /// Called with the organizations once the code was accepted.
    #[prop(into)]
    on_discovered: Callback<DiscoveryResponse>,
    /// Only this organization (its own sign-in page).
    #[prop(optional, into)]
    organization_slug: Option<String>,
    /// Where the mailed link leads back to (a same-origin path).
    #[prop(optional, into)]
    return_to: Option<String>,
    /// The address to start with.
    #[prop(optional, into)]
    email: Option<String>,
    /// Called once a message was asked for (e.g. to clear the host's own
    /// notices).
    #[prop(optional, into)]
    on_sent: Option<Callback<EmailChallengeSent>>,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<EmailText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    let flow = Flow::Member {
        on_discovered,
        organization_slug,
    };
    view! {
        <MailedSignIn flow return_to email on_sent text=text.unwrap_or_default()
            api=api.unwrap_or_default()/>
    }
}

/// The address step of either flow, then its code step.
#[component]
fn MailedSignIn(
    flow: Flow,
    return_to: Option<String>,
    email: Option<String>,
    on_sent: Option<Callback<EmailChallengeSent>>,
    text: EmailText,
    api: ApiClient,
) -> impl IntoView {
    let t = StoredValue::new(text);
    let api = StoredValue::new(api);
    let flow = StoredValue::new(flow);
    let return_to = StoredValue::new(return_to);
    let email = RwSignal::new(email.unwrap_or_default());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let sent = RwSignal::new(None::<EmailChallengeSent>);
    let send = move || {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            let (email, return_to) = (email.get_untracked(), return_to.get_value());
            let asked = match flow.get_value() {
                Flow::Account(_) => {
                    let req = EmailLoginRequest { email, return_to };
                    api.get_value().email_login(&req).await
                }
                Flow::Member {
                    organization_slug, ..
                } => {
                    let req = MemberEmailLoginRequest {
                        email,
                        organization_slug,
                        return_to,
                    };
                    api.get_value().member_email_login(&req).await
                }
            };
            match asked {
                Ok(s) => {
                    if let Some(told) = on_sent {
                        told.run(s.clone());
                    }
                    sent.set(Some(s));
                }
                Err(e) => error.set(Some(t.with_value(|t| t.error_message(&e)))),
            }
            pending.set(false);
        });
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send();
    };
    view! {
        {move || match sent.get() {
            Some(s) => view! {
                <CodeStep sent=s flow=flow.get_value() resend=Some(Callback::new(move |()| send()))
                    text=t.get_value() api=api.get_value()/>
            }.into_any(),
            None => view! {
                <form class="kh-magic-link" data-testid="magic-link" on:submit=on_submit>
                    {move || error.get().map(|e| view! {
                        <p class="kh-alert" role="alert" data-testid="magic-link-error">{e}</p>
                    })}
                    <div class="kh-field">
                        <label for="kh-magic-link-email">{t.with_value(|t| t.email_label.clone())}</label>
                        <input id="kh-magic-link-email" type="email" name="email" required
                            autocomplete="username webauthn" data-testid="magic-link-email" bind:value=email/>
                    </div>
                    <button type="submit" class="kh-button kh-button--primary kh-button--block"
                        data-testid="magic-link-submit" disabled=move || pending.get()>
                        {t.with_value(|t| t.send_button.clone())}
                    </button>
                </form>
            }.into_any(),
        }}
    }
}

/// The page a mailed link opens (the backend's `email_link_path`,
/// `/verify-email` by default): it sends the link's token and then goes
/// where the request said (sign-in and sign-up links) or says the address
/// is verified (a signed-in user's verification link).
#[component]
pub fn EmailLink(
    /// Where to go when the link does not say (default `/`).
    #[prop(into, default = "/".to_owned())]
    home_path: String,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<EmailText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    let t = StoredValue::new(text.unwrap_or_default());
    let api = StoredValue::new(api.unwrap_or_default());
    let home = StoredValue::new(home_path);
    // None: checking; Some(Ok): verified; Some(Err): the refusal.
    let state = RwSignal::new(None::<Result<(), String>>);
    // The link was right and the account takes a second factor: where to
    // go once it is given.
    let second_factor = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let search = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        let token = crate::params::query_value(&search, "token").unwrap_or_default();
        spawn_local(async move {
            match api
                .get_value()
                .email_link(&EmailLinkRequest { token })
                .await
            {
                Ok(res) if res.session.is_some() || res.second_factor => {
                    let target = res
                        .return_to
                        .filter(|p| crate::params::is_same_origin_path(p))
                        .unwrap_or_else(|| home.get_value());
                    if res.second_factor {
                        second_factor.set(Some(target));
                    } else if let Some(w) = web_sys::window() {
                        let _ = w.location().replace(&target);
                    }
                }
                Ok(_) => state.set(Some(Ok(()))),
                Err(e) => {
                    let msg = t.with_value(|t| match e.error_code() {
                        Some(ErrorCode::InvalidGrant) => t.bad_link.clone(),
                        _ => t.error_message(&e),
                    });
                    state.set(Some(Err(msg)));
                }
            }
        });
    });
    view! {
        <div class="kh-idp">
            <section class="kh-card" data-testid="email-link" aria-live="polite">
                {move || match (second_factor.get(), state.get()) {
                    (Some(target), _) => {
                        let target = StoredValue::new(target);
                        let on_signed_in = Callback::new(move |_: SessionResponse| {
                            if let Some(w) = web_sys::window() {
                                let _ = w.location().replace(&target.get_value());
                            }
                        });
                        view! { <TotpChallenge on_signed_in api=api.get_value()/> }.into_any()
                    }
                    (None, state) => match state {
                    None => view! {
                        <p class="kh-working"><span class="kh-spinner" aria-hidden="true"></span>
                            {t.with_value(|t| t.checking_link.clone())}</p>
                    }.into_any(),
                    Some(Ok(())) => view! {
                        <h1>{t.with_value(|t| t.verified_title.clone())}</h1>
                        <p class="kh-notice" role="status" data-testid="email-link-verified">{t.with_value(|t| t.verified.clone())}</p>
                        <a class="kh-button kh-button--primary kh-button--block" href=home.get_value()>
                            {t.with_value(|t| t.continue_label.clone())}</a>
                    }.into_any(),
                    Some(Err(msg)) => view! {
                        <h1>{t.with_value(|t| t.link_refused_title.clone())}</h1>
                        <p class="kh-alert" role="alert" data-testid="email-link-error">{msg}</p>
                        <a class="kh-button kh-button--secondary kh-button--block" href=home.get_value()>
                            {t.with_value(|t| t.continue_label.clone())}</a>
                    }.into_any(),
                    },
                }}
            </section>
        </div>
    }
}
