//! The `IdentityProvider` component: the page at the Authorization URL.

use keyhouse_types::{
    AuthorizeDecision, AuthorizeParams, AuthorizeStart, AuthorizeStartInPage,
    AuthorizeStartResponse, ErrorCode,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiClient, ApiError};
use crate::consent::{Consent, ConsentContext, ConsentManifest, DecisionForm, default_manifest};
use crate::params::{login_url, parse_query};
use crate::passkey::{MemberPasskeyLogin, PasskeyLogin, passkeys_supported};
use crate::second_factor::{MemberTotpChallenge, TotpChallenge};
use crate::text::{self, IdpText, fill};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Working(String),
    Consent(Box<AuthorizeStart>),
    /// The app asks for two factors: the authenticator app's code steps
    /// the session up, then the request starts again.
    SecondFactor,
    /// The app asks for a passkey: signing in with one steps the session
    /// up, then the request starts again.
    Passkey,
    Failed(ApiError),
}

fn location() -> Option<web_sys::Location> {
    // Off the browser (server rendering) there is no window to ask.
    if cfg!(target_arch = "wasm32") {
        web_sys::window().map(|w| w.location())
    } else {
        None
    }
}

/// The page's path and query, e.g. `/idp?client_id=…`.
fn path_and_query() -> String {
    location()
        .map(|l| {
            format!(
                "{}{}",
                l.pathname().unwrap_or_default(),
                l.search().unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

/// Leaves for the client. `replace`, so Back does not replay a used request.
fn leave(url: &str) {
    if let Some(l) = location() {
        let _ = l.replace(url);
    }
}

/// Which side of Keyhouse the provider talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Users (`/api/idp/*`).
    Users,
    /// Members of organizations (`/api/b2b/idp/*`).
    Members,
}

impl Side {
    fn default_login_path(self) -> &'static str {
        match self {
            Side::Users => "/login",
            Side::Members => "/org/login",
        }
    }
}

/// The login page: the `login_path` prop, else the one the backend named
/// with `login_required` (an app that keeps its own login), else the
/// side's default.
fn login_page<'a>(side: Side, prop: Option<&'a str>, hint: Option<&'a str>) -> &'a str {
    prop.or(hint).unwrap_or(side.default_login_path())
}

#[derive(Clone, Copy)]
struct Flow {
    side: Side,
    api: StoredValue<ApiClient>,
    params: StoredValue<AuthorizeParams>,
    /// The host app's login page: the prop, else the server's hint.
    login_path: StoredValue<Option<String>>,
    on_login_required: Option<Callback<String>>,
    phase: RwSignal<Phase>,
    busy: RwSignal<bool>,
    text: StoredValue<std::sync::Arc<IdpText>>,
}

impl Flow {
    fn to_login(self, hint: Option<&str>) {
        let path = self
            .login_path
            .with_value(|prop| login_page(self.side, prop.as_deref(), hint).to_owned());
        let url = login_url(&path, &path_and_query());
        let words = self.text.with_value(|t| t.taking_you_to_sign_in.clone());
        self.phase.set(Phase::Working(words));
        match self.on_login_required {
            Some(cb) => cb.run(url),
            None => {
                if let Some(l) = location() {
                    let _ = l.assign(&url);
                }
            }
        }
    }

    fn fail(self, e: ApiError) {
        if matches!(
            e.error_code(),
            Some(ErrorCode::LoginRequired | ErrorCode::SessionRequired)
        ) {
            return self.to_login(e.login_url());
        }
        if e.error_code() == Some(ErrorCode::SecondFactorRequired) {
            self.busy.set(false);
            self.phase.set(Phase::SecondFactor);
            return;
        }
        if e.error_code() == Some(ErrorCode::PasskeyRequired) {
            self.busy.set(false);
            self.phase.set(Phase::Passkey);
            return;
        }
        leptos::logging::warn!("authorization request refused: {e}");
        self.busy.set(false);
        self.phase.set(Phase::Failed(e));
    }

    async fn start(self) {
        let api = self.api.get_value();
        let params = self.params.get_value();
        // The server checks the client and redirect URI before the session,
        // so a bad request is explained here even to a signed-out visitor
        // (no detour through login for a link that can never work), and it
        // answers `login_required` when there is no session, or when
        // `prompt=login` / `max_age` ask for a fresh one. With `prompt=none`
        // it redirects `login_required` to the client itself: no UI.
        let started = match self.side {
            Side::Users => api.authorize_start(&params).await,
            Side::Members => api.b2b_authorize_start(&params).await,
        };
        self.settle(started).await;
    }

    /// Acts on the start's answer, fetched or found in the page.
    async fn settle(self, started: Result<AuthorizeStartResponse, ApiError>) {
        match started {
            Ok(AuthorizeStartResponse::Redirect(r)) => leave(&r.redirect_uri),
            Ok(AuthorizeStartResponse::Describe(start)) if start.consent_required => {
                // The screen rendered from the page's answer is already
                // this one: keep it (and the heading's focus), enable it.
                let phase = Phase::Consent(start);
                if self.phase.with_untracked(|p| *p != phase) {
                    self.phase.set(phase);
                }
                self.busy.set(false);
            }
            Ok(AuthorizeStartResponse::Describe(start)) => {
                let words = self
                    .text
                    .with_value(|t| fill(&t.returning_to_client, "client", &start.client.name));
                self.phase.set(Phase::Working(words));
                self.decide(true).await;
            }
            Err(e) => self.fail(e),
        }
    }

    async fn decide(self, consent_granted: bool) {
        self.busy.set(true);
        let decision = AuthorizeDecision {
            consent_granted,
            params: self.params.get_value(),
        };
        let api = self.api.get_value();
        let decided = match self.side {
            Side::Users => api.authorize(&decision).await,
            Side::Members => api.b2b_authorize(&decision).await,
        };
        match decided {
            Ok(r) => {
                if matches!(self.phase.get_untracked(), Phase::Consent(_)) {
                    let words = self.text.with_value(|t| t.returning_to_app.clone());
                    self.phase.set(Phase::Working(words));
                }
                leave(&r.redirect_uri);
            }
            Err(e) => self.fail(e),
        }
    }
}

/// The start's answer the page carries for this provider: on the server,
/// the one provided as context (an SSR host that asked the backend,
/// `Keyhouse::authorize_start_in_page`); in the browser, the page's data
/// block, taken out of the page (it is used once, and only on the page it
/// was written for).
fn answer_in_page(side: Side) -> Option<AuthorizeStartInPage> {
    let found = use_context::<AuthorizeStartInPage>().or_else(read_data_block)?;
    (found.members == (side == Side::Members)).then_some(found)
}

/// The data block `AuthorizeStartInPage::ELEMENT_ID`, when its page is this
/// one.
#[cfg(target_arch = "wasm32")]
fn read_data_block() -> Option<AuthorizeStartInPage> {
    let element = web_sys::window()?
        .document()?
        .get_element_by_id(AuthorizeStartInPage::ELEMENT_ID)?;
    let text = element.text_content().unwrap_or_default();
    element.remove();
    let found: AuthorizeStartInPage = serde_json::from_str(&text).ok()?;
    (found.page == path_and_query()).then_some(found)
}

/// Off the browser there is no page to read.
#[cfg(not(target_arch = "wasm32"))]
fn read_data_block() -> Option<AuthorizeStartInPage> {
    None
}

/// The answer as the API call would have returned it; `None` for anything
/// else (the component then asks the API).
fn as_answer(found: AuthorizeStartInPage) -> Option<Result<AuthorizeStartResponse, ApiError>> {
    match (found.status, found.answer, found.error) {
        (200, Some(answer), _) => Some(Ok(answer)),
        (status, _, Some(body)) if status >= 400 => Some(Err(ApiError::Server { status, body })),
        _ => None,
    }
}

/// Mount at the Authorization URL (`/idp`). It reads the OAuth request from
/// the page URL, checks the session, sends the user to sign in (with
/// `returnTo` set to this page) when there is none, shows consent to apps
/// that need it, and sends the browser back to the client's `redirect_uri`.
///
/// Requests that must not be redirected (unknown client, unregistered
/// redirect URI, anything wrong before the client is verified) are explained
/// on the page. `prompt=none` never shows UI.
///
/// ```ignore
/// view! { <IdentityProvider app_name="Notes" login_path="/login"/> }
/// ```
#[component]
pub fn IdentityProvider(
    /// Replaces the words of the consent screen; see
    /// [`ConsentManifest`] and [`default_manifest`].
    #[prop(optional)]
    consent_manifest: Option<Callback<ConsentContext, ConsentManifest>>,
    /// The host app's login page; `returnTo=<this page>` is appended.
    /// Default: the page the backend names (an app that keeps its own
    /// login, see `SubjectResolver`), else `/login`.
    #[prop(optional, into)]
    login_path: Option<String>,
    /// The host app's name, used in headings ("… wants to access your
    /// Notes account").
    #[prop(into, default = "this app".to_owned())]
    app_name: String,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
    /// Called with the login URL instead of a full page navigation (e.g. to
    /// use the app's router).
    #[prop(optional)]
    on_login_required: Option<Callback<String>>,
    /// Where the error page's "Go to …" link leads (default `/`).
    #[prop(into, default = "/".to_owned())]
    home_path: String,
    /// The account settings page, where two-step verification is turned
    /// on, for an app that asks for it (`acr_values`) of an account
    /// without; `returnTo=<this page>` is appended. Default `/account`.
    #[prop(into, default = "/account".to_owned())]
    account_path: String,
    /// Replaces the page's words (default: [`crate::provide_idp_text`]'s,
    /// else English); see [`IdpText`].
    #[prop(optional)]
    text: Option<IdpText>,
) -> impl IntoView {
    provider(
        Side::Users,
        Props {
            consent_manifest,
            login_path,
            app_name,
            api,
            on_login_required,
            home_path,
            account_path: Some(account_path),
            text,
        },
    )
}

/// The B2B Authorization URL (e.g. `/org/idp`): [`IdentityProvider`]'s
/// behaviour against the *member* session (`/api/b2b/...`). Consent names the
/// organization being authorized and lists apart the scopes the member's
/// roles do not cover (the token will not contain them). The organization's
/// Connected Apps policy can refuse the app outright; that is explained on
/// the page.
///
/// ```ignore
/// view! { <B2BIdentityProvider app_name="Notes" login_path="/org/login"/> }
/// ```
#[component]
pub fn B2BIdentityProvider(
    /// Replaces the words of the consent screen ([`ConsentContext::organization`]
    /// is set).
    #[prop(optional)]
    consent_manifest: Option<Callback<ConsentContext, ConsentManifest>>,
    /// The host app's organization login page; `returnTo=<this page>` is
    /// appended. Default: the page the backend names, else `/org/login`.
    #[prop(optional, into)]
    login_path: Option<String>,
    /// The host app's name.
    #[prop(into, default = "this app".to_owned())]
    app_name: String,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
    /// Called with the login URL instead of a full page navigation.
    #[prop(optional)]
    on_login_required: Option<Callback<String>>,
    /// Where the error page's "Go to …" link leads (default `/org`).
    #[prop(into, default = "/org".to_owned())]
    home_path: String,
    /// The member's settings page, where two-step verification is turned
    /// on, for an organization (or an app) that asks for it of a member
    /// without; `returnTo=<this page>` is appended. Default `/org/member`.
    #[prop(into, default = "/org/member".to_owned())]
    account_path: String,
    /// Replaces the page's words; see [`IdpText`].
    #[prop(optional)]
    text: Option<IdpText>,
) -> impl IntoView {
    provider(
        Side::Members,
        Props {
            consent_manifest,
            login_path,
            app_name,
            api,
            on_login_required,
            home_path,
            account_path: Some(account_path),
            text,
        },
    )
}

/// The props both components share.
pub(crate) struct Props {
    pub(crate) consent_manifest: Option<Callback<ConsentContext, ConsentManifest>>,
    pub(crate) login_path: Option<String>,
    pub(crate) app_name: String,
    pub(crate) api: Option<ApiClient>,
    pub(crate) on_login_required: Option<Callback<String>>,
    pub(crate) home_path: String,
    /// Where two-step verification is turned on.
    pub(crate) account_path: Option<String>,
    pub(crate) text: Option<IdpText>,
}

pub(crate) fn provider(side: Side, props: Props) -> impl IntoView {
    let Props {
        consent_manifest,
        login_path,
        app_name,
        api,
        on_login_required,
        home_path,
        account_path,
        text,
    } = props;
    let text = text::resolve(text);
    // The start's answer, when the page carries it. A consent screen is
    // shown from the first render (on the server too, so an SSR page names
    // the client before any wasm runs). Its buttons work from the start:
    // in the server's HTML they submit their form; once the script runs it
    // takes their clicks.
    let found = answer_in_page(side);
    let page = found
        .as_ref()
        .map_or_else(path_and_query, |f| f.page.clone());
    let in_page = found.and_then(as_answer);
    let first = match &in_page {
        Some(Ok(AuthorizeStartResponse::Describe(start))) if start.consent_required => {
            Phase::Consent(start.clone())
        }
        _ => Phase::Working(text.checking_session.clone()),
    };
    let api = api.unwrap_or_default();
    let form = StoredValue::new(DecisionForm {
        action: api.decision_form_action(side == Side::Members),
        page,
    });
    let flow = Flow {
        side,
        api: StoredValue::new(api),
        // In the browser, the page's query (on the server there is no
        // `window`; nothing is decided there).
        params: StoredValue::new(parse_query(
            &location().and_then(|l| l.search().ok()).unwrap_or_default(),
        )),
        login_path: StoredValue::new(login_path),
        on_login_required,
        phase: RwSignal::new(first),
        busy: RwSignal::new(false),
        text: StoredValue::new(text),
    };
    // Effects run only in the browser (after hydration, with SSR), once.
    let in_page = StoredValue::new(in_page);
    Effect::new(
        move |_| match in_page.try_update_value(Option::take).flatten() {
            Some(answer) => spawn_local(flow.settle(answer)),
            None => spawn_local(flow.start()),
        },
    );
    let app_name = StoredValue::new(app_name);
    let home_path = StoredValue::new(home_path);
    let account_path = StoredValue::new(account_path);
    let on_stepped_up = Callback::new(move |_: keyhouse_types::SessionResponse| {
        let words = flow.text.with_value(|t| t.checking_session.clone());
        flow.phase.set(Phase::Working(words));
        spawn_local(flow.start());
    });
    let on_member_stepped_up =
        Callback::new(move |_: keyhouse_types::b2b::MemberSessionResponse| {
            let words = flow.text.with_value(|t| t.checking_session.clone());
            flow.phase.set(Phase::Working(words));
            spawn_local(flow.start());
        });
    let on_decide = Callback::new(move |granted: bool| spawn_local(flow.decide(granted)));
    // The passkey sign-in that steps this side's session up.
    let passkey_button = move || match flow.side {
        Side::Users => view! {
            <PasskeyLogin on_signed_in=on_stepped_up api=flow.api.get_value()/>
        }
        .into_any(),
        Side::Members => view! {
            <MemberPasskeyLogin on_signed_in=on_member_stepped_up api=flow.api.get_value()/>
        }
        .into_any(),
    };
    view! {
        <div class="kh-idp">
            {move || match flow.phase.get() {
                Phase::Working(message) => view! { <Working message/> }.into_any(),
                Phase::Consent(start) => {
                    let ctx = ConsentContext::of(&start, &app_name.get_value());
                    let manifest = match consent_manifest {
                        Some(hook) => hook.run(ctx.clone()),
                        None => default_manifest(&ctx),
                    };
                    view! { <Consent ctx manifest on_decide busy=flow.busy form=form.get_value()/> }.into_any()
                }
                Phase::SecondFactor => {
                    let api = flow.api.get_value();
                    let challenge = match flow.side {
                        Side::Users => view! {
                            <TotpChallenge on_signed_in=on_stepped_up api/>
                        }.into_any(),
                        Side::Members => view! {
                            <MemberTotpChallenge on_signed_in=on_member_stepped_up api/>
                        }.into_any(),
                    };
                    view! {
                        <section class="kh-card" data-testid="idp-step-up">
                            <p class="kh-notice" role="status">{flow.text.with_value(|t| t.step_up_text.clone())}</p>
                            {challenge}
                        </section>
                    }.into_any()
                }
                Phase::Passkey => {
                    // Adding a passkey comes back here.
                    let add = account_path
                        .get_value()
                        .map(|path| login_url(&path, &path_and_query()));
                    view! {
                        <section class="kh-card" data-testid="idp-passkey-step-up">
                            <p class="kh-notice" role="status">{flow.text.with_value(|t| t.passkey_step_up_text.clone())}</p>
                            {passkey_button()}
                            {add.map(|href| view! {
                                <p class="kh-muted kh-sign-in__switch">
                                    <a class="kh-link" href=href data-testid="idp-add-passkey">
                                        {flow.text.with_value(|t| t.passkey_add.clone())}
                                    </a>
                                </p>
                            })}
                        </section>
                    }.into_any()
                }
                Phase::Failed(error) => {
                    // Turning two-step verification on comes back here.
                    let set_up = account_path.get_value().filter(|_| {
                        error.error_code() == Some(ErrorCode::SecondFactorSetupRequired)
                    });
                    // A passkey is two steps: one already held signs in
                    // instead of turning the app on (shown where the
                    // browser can use one).
                    let two_steps = error.error_code() == Some(ErrorCode::SecondFactorSetupRequired);
                    let passkey = two_steps.then(|| {
                        let supported = RwSignal::new(false);
                        Effect::new(move |_| supported.set(passkeys_supported()));
                        let button = passkey_button();
                        view! {
                            <section class="kh-card" data-testid="idp-passkey-instead"
                                hidden=move || !supported.get()>
                                <p class="kh-muted">{flow.text.with_value(|t| t.passkey_instead.clone())}</p>
                                {button}
                            </section>
                        }
                    });
                    let set_up = set_up.map(|path| login_url(&path, &path_and_query()));
                    view! {
                        <RequestError error app_name=app_name.get_value()
                            home_path=home_path.get_value() set_up/>
                        {passkey}
                    }.into_any()
                }
            }}
        </div>
    }
}

#[component]
fn Working(message: String) -> impl IntoView {
    view! {
        <div class="kh-card kh-working" data-testid="idp-loading" role="status" aria-live="polite">
            <span class="kh-spinner" aria-hidden="true"></span>
            <p>{message}</p>
        </div>
    }
}

/// Headline and explanation of an error shown on the page.
fn explain(error: &ApiError, app_name: &str, t: &IdpText) -> (String, String, bool) {
    use ErrorCode::*;
    let app = |s: &str| fill(s, "app", app_name);
    match error.error_code() {
        Some(InvalidClient | UnauthorizedClient) => (
            t.unknown_client_title.clone(),
            app(&t.unknown_client_text),
            false,
        ),
        Some(InvalidRequest | UnsupportedResponseType | InvalidScope | InvalidTarget) => (
            t.bad_request_title.clone(),
            t.bad_request_text.clone(),
            false,
        ),
        Some(AccessDenied) => (
            t.not_allowed_title.clone(),
            t.not_allowed_text.clone(),
            false,
        ),
        Some(CsrfDetected) => (t.blocked_title.clone(), t.blocked_text.clone(), false),
        Some(SecondFactorSetupRequired) => (
            t.two_step_needed_title.clone(),
            app(&t.two_step_needed_text),
            false,
        ),
        None if error.is_network() => (app(&t.unreachable_title), t.unreachable_text.clone(), true),
        Some(TemporarilyUnavailable | ServerError) => (
            t.server_error_title.clone(),
            t.server_error_text.clone(),
            true,
        ),
        _ => (
            t.other_error_title.clone(),
            t.other_error_text.clone(),
            false,
        ),
    }
}

#[component]
fn RequestError(
    error: ApiError,
    app_name: String,
    home_path: String,
    /// The account page that turns two-step verification on, with
    /// `returnTo` this request, when that is what is missing.
    set_up: Option<String>,
) -> impl IntoView {
    let t = text::current();
    let (title, text, retry) = explain(&error, &app_name, &t);
    let heading = NodeRef::<leptos::html::H1>::new();
    Effect::new(move |_| {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    view! {
        <section class="kh-card kh-error" data-testid="idp-error" role="alert" aria-labelledby="kh-error-title">
            <div class="kh-error__icon" aria-hidden="true">"!"</div>
            <h1 id="kh-error-title" tabindex="-1" node_ref=heading>{title}</h1>
            <p>{text}</p>
            {error.description().map(|d| view! { <p class="kh-error__detail">{d.to_owned()}</p> })}
            <p class="kh-muted">{t.error_code.clone()} " " <code data-testid="idp-error-code">{error.code().to_owned()}</code></p>
            <div class="kh-actions">
                <a class="kh-button kh-button--secondary" href=home_path>{fill(&t.go_to, "app", &app_name)}</a>
                {set_up.map(|href| view! {
                    <a class="kh-button kh-button--primary" href=href data-testid="idp-turn-on-two-step">
                        {t.two_step_turn_on.clone()}
                    </a>
                })}
                {retry.then(|| view! {
                    <button type="button" class="kh-button kh-button--primary"
                        on:click=move |_| { if let Some(l) = location() { let _ = l.reload(); } }>
                        {t.try_again.clone()}
                    </button>
                })}
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use keyhouse_types::ErrorBody;

    use super::{Side, explain, login_page};
    use crate::api::{ApiError, refused as server};
    use crate::text::IdpText;

    #[test]
    fn each_kind_of_failure_gets_its_own_words() {
        let t = IdpText::default();
        let headline = |e: ApiError| explain(&e, "Notes", &t).0;
        let table = [
            (server("invalid_client"), "This app isn't recognised"),
            (server("invalid_target"), "This sign-in link doesn't work"),
            (server("access_denied"), "This app isn't allowed here"),
            (ApiError::Network("down".into()), "Can't reach Notes"),
            (server("server_error"), "Something went wrong on our side"),
            (server("made_up"), "This request can't be completed"),
        ];
        for (error, expected) in table {
            assert_eq!(headline(error), expected);
        }
    }

    #[test]
    fn the_login_page_is_the_prop_else_the_backends_else_the_default() {
        let hint = Some("/account/sign-in");
        assert_eq!(login_page(Side::Users, Some("/auth"), hint), "/auth");
        assert_eq!(login_page(Side::Users, None, hint), "/account/sign-in");
        assert_eq!(login_page(Side::Users, None, None), "/login");
        assert_eq!(login_page(Side::Members, None, None), "/org/login");
        let body = ErrorBody {
            login_url: Some("/account/sign-in".into()),
            ..ErrorBody::new("login_required", None)
        };
        let e = ApiError::Server { status: 401, body };
        assert_eq!(
            login_page(Side::Members, None, e.login_url()),
            "/account/sign-in"
        );
    }

    #[test]
    fn only_failures_that_may_pass_offer_a_retry() {
        let t = IdpText::default();
        assert!(explain(&ApiError::Network("down".into()), "Notes", &t).2);
        assert!(explain(&server("temporarily_unavailable"), "Notes", &t).2);
        assert!(!explain(&server("invalid_client"), "Notes", &t).2);
    }

    #[test]
    fn replaced_words_are_used_with_the_apps_name() {
        let t = IdpText {
            unknown_client_text: "{app} ne connaît pas cette application.".into(),
            unreachable_title: "Impossible de joindre {app}".into(),
            ..IdpText::default()
        };
        let (_, text, _) = explain(&server("invalid_client"), "Notes", &t);
        assert_eq!(text, "Notes ne connaît pas cette application.");
        let (title, _, _) = explain(&ApiError::Network("down".into()), "Notes", &t);
        assert_eq!(title, "Impossible de joindre Notes");
    }
}
