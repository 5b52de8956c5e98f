//! Passkeys in the browser: [`PasskeyLogin`], the "Sign in with a passkey"
//! button (the sign-in page's, and the step-up an app's `acr_values` can
//! ask for), and [`create_passkey`], which an account page calls to add
//! one.
//!
//! The server's options go to `navigator.credentials` through the
//! browser's own JSON forms (`PublicKeyCredential.parseRequestOptionsFromJSON`,
//! `parseCreationOptionsFromJSON`, `credential.toJSON()`), so no WebAuthn
//! type is compiled into the bundle. A browser without them, or a page on
//! an IP address (browsers allow passkeys on a domain name only), shows no
//! button ([`passkeys_supported`]).

use keyhouse_types::b2b::MemberSessionResponse;
use keyhouse_types::{ConfirmHolder, ErrorCode, PasskeyInfo, SessionResponse, StartPasskeySignIn};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use wasm_bindgen::{JsCast, JsValue};

use crate::api::{ApiClient, ApiError};

/// Why the browser gave no credential.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The person closed the browser's dialog, or it timed out (the
    /// browser does not say which: `NotAllowedError`).
    Cancelled,
    /// This passkey is on the account already (`InvalidStateError`, when
    /// adding).
    AlreadyAdded,
    /// The browser cannot do it here.
    Unsupported,
    /// The server refused or could not be reached.
    Api(ApiError),
    /// Anything else the browser said.
    Browser(String),
}

impl From<ApiError> for PasskeyError {
    fn from(e: ApiError) -> PasskeyError {
        PasskeyError::Api(e)
    }
}

fn browser_error(e: JsValue) -> PasskeyError {
    let name = js_sys::Reflect::get(&e, &"name".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "AbortError" => PasskeyError::Cancelled,
        "InvalidStateError" => PasskeyError::AlreadyAdded,
        "NotSupportedError" | "SecurityError" => PasskeyError::Unsupported,
        _ => PasskeyError::Browser(
            js_sys::Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or(name),
        ),
    }
}

/// Whether this browser, on this page, can sign in with a passkey: it has
/// the WebAuthn JSON helpers, and the page is on a domain name. Always
/// `false` outside a browser.
pub fn passkeys_supported() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(pkc) = js_sys::Reflect::get(&window, &"PublicKeyCredential".into()) else {
        return false;
    };
    if pkc.is_undefined() {
        return false;
    }
    let helpers = [
        "parseRequestOptionsFromJSON",
        "parseCreationOptionsFromJSON",
    ];
    let has_helpers = helpers
        .iter()
        .all(|name| js_sys::Reflect::get(&pkc, &(*name).into()).is_ok_and(|f| f.is_function()));
    let host = window.location().hostname().unwrap_or_default();
    // An IPv6 address has colons; an IPv4 one is all digits and dots (a
    // domain name's last label never is).
    let on_address = host.contains(':') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    has_helpers && !on_address
}

/// Whether the browser also offers this site's passkeys among an address
/// field's suggestions (passkey autofill: WebAuthn conditional mediation,
/// `PublicKeyCredential.isConditionalMediationAvailable()`), where
/// [`passkeys_supported`]. Always `false` outside a browser.
pub async fn autofill_available() -> bool {
    use js_sys::{Function, Promise, Reflect};
    if !passkeys_supported() {
        return false;
    }
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(pkc) = Reflect::get(&window, &"PublicKeyCredential".into()) else {
        return false;
    };
    let Ok(ask) =
        Reflect::get(&pkc, &"isConditionalMediationAvailable".into()).and_then(|f| f.dyn_into())
    else {
        return false;
    };
    let ask: Function = ask;
    let Ok(promise) = ask.call0(&pkc).and_then(|p| p.dyn_into::<Promise>()) else {
        return false;
    };
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .is_ok_and(|available| available.as_bool() == Some(true))
}

/// An unused autofill request is replaced by a fresh one this long after it
/// started, before the server's ceremony (five minutes) runs out.
const AUTOFILL_RENEW_MS: i32 = 270_000;

/// How many times one page renews its autofill request (about an hour):
/// a tab left open stops starting ceremonies; the button still works.
const AUTOFILL_RENEWALS: u32 = 12;

/// A passkey picked this long after its autofill request started may have
/// outlived the server's ceremony (a timer held back in a background tab,
/// a sleeping laptop): its refusal re-arms instead of blaming the passkey.
const AUTOFILL_LATE_MS: f64 = 280_000.0;

/// An autofill request in flight: dropping it (the button was pressed, the
/// component unmounted, a fresh one replaced it) ends the browser's request.
struct AutofillRequest(web_sys::AbortController);

impl Drop for AutofillRequest {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Ends an autofill request when it is due for renewal; dropped first, it
/// never fires.
struct Renewal {
    handle: i32,
    due: std::rc::Rc<std::cell::Cell<bool>>,
    _fire: wasm_bindgen::closure::Closure<dyn FnMut()>,
}

impl Renewal {
    fn after(ms: i32, controller: web_sys::AbortController) -> Option<Renewal> {
        let due = std::rc::Rc::new(std::cell::Cell::new(false));
        let fired = due.clone();
        let fire = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
            fired.set(true);
            controller.abort();
        });
        let handle = web_sys::window()?
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                fire.as_ref().unchecked_ref(),
                ms,
            )
            .ok()?;
        Some(Renewal {
            handle,
            due,
            _fire: fire,
        })
    }

    fn due(&self) -> bool {
        self.due.get()
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            window.clear_timeout_with_handle(self.handle);
        }
    }
}

/// The server's start of a ceremony ([`keyhouse_types::PasskeyOptions`]),
/// its options kept as JSON text for the browser to parse.
#[derive(Deserialize)]
struct Started {
    ceremony: String,
    options: Box<RawValue>,
}

/// The browser's answer ([`keyhouse_types::PasskeySignIn`],
/// [`keyhouse_types::AddPasskey`]), the credential as the JSON text
/// `toJSON()` gave.
#[derive(Serialize)]
struct Finished<'a> {
    ceremony: &'a str,
    credential: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// Runs `navigator.credentials.create()` (`get` when `create` is false)
/// with the server's `{"publicKey": …}` options (JSON text); answers the
/// credential's `toJSON()` as JSON text. A `get` for `autofill` waits
/// among the address field's suggestions (conditional mediation) until a
/// passkey is picked or its signal aborts it.
async fn ceremony(
    options: &RawValue,
    create: bool,
    autofill: Option<&AutofillCall<'_>>,
) -> Result<Box<RawValue>, PasskeyError> {
    use js_sys::{Function, JSON, Object, Reflect};
    let unsupported = |_| PasskeyError::Unsupported;
    let window = web_sys::window().ok_or(PasskeyError::Unsupported)?;
    let pkc = Reflect::get(&window, &"PublicKeyCredential".into()).map_err(unsupported)?;
    let parse = match create {
        true => "parseCreationOptionsFromJSON",
        false => "parseRequestOptionsFromJSON",
    };
    let parse: Function = Reflect::get(&pkc, &parse.into())
        .map_err(unsupported)?
        .dyn_into()
        .map_err(|_| PasskeyError::Unsupported)?;
    let options = JSON::parse(options.get()).map_err(browser_error)?;
    let json = Reflect::get(&options, &"publicKey".into()).map_err(browser_error)?;
    let public_key = parse.call1(&pkc, &json).map_err(browser_error)?;
    let request = Object::new();
    Reflect::set(&request, &"publicKey".into(), &public_key).map_err(browser_error)?;
    if let Some(call) = autofill {
        Reflect::set(&request, &"mediation".into(), &"conditional".into())
            .map_err(browser_error)?;
        Reflect::set(&request, &"signal".into(), call.signal).map_err(browser_error)?;
    }
    let credentials = Reflect::get(&window, &"navigator".into())
        .and_then(|navigator| Reflect::get(&navigator, &"credentials".into()))
        .map_err(unsupported)?;
    let call: Function = Reflect::get(
        &credentials,
        &(if create { "create" } else { "get" }).into(),
    )
    .map_err(unsupported)?
    .dyn_into()
    .map_err(|_| PasskeyError::Unsupported)?;
    let promise: js_sys::Promise = call
        .call1(&credentials, &request)
        .map_err(browser_error)?
        .dyn_into()
        .map_err(|_| PasskeyError::Unsupported)?;
    if let Some(call) = autofill {
        (call.asked)();
    }
    let credential = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(browser_error)?;
    if credential.is_null() {
        return Err(PasskeyError::Cancelled);
    }
    let to_json: Function = Reflect::get(&credential, &"toJSON".into())
        .map_err(unsupported)?
        .dyn_into()
        .map_err(|_| PasskeyError::Unsupported)?;
    let json = to_json.call0(&credential).map_err(browser_error)?;
    let text = JSON::stringify(&json)
        .map_err(browser_error)?
        .as_string()
        .unwrap_or_default();
    RawValue::from_string(text).map_err(|e| PasskeyError::Browser(e.to_string()))
}

/// Signs in with a passkey: asks the server for a challenge, the browser
/// for a passkey of this site (it shows its own chooser), and the server to
/// check it. Answers the new session.
pub async fn sign_in_with_passkey(api: &ApiClient) -> Result<SessionResponse, PasskeyError> {
    sign_in_at(api, "/api/session", None).await
}

/// [`sign_in_with_passkey`] for members of organizations: the passkey's
/// membership is signed in to its organization. Answers the member session.
pub async fn member_sign_in_with_passkey(
    api: &ApiClient,
) -> Result<MemberSessionResponse, PasskeyError> {
    sign_in_at(api, "/api/b2b/session", None).await
}

/// An autofill sign-in's hooks into its ceremony.
struct AutofillCall<'a> {
    /// Aborts the browser's request.
    signal: &'a web_sys::AbortSignal,
    /// Runs once the browser holds the request (the suggestions list the
    /// passkeys from then on).
    asked: &'a dyn Fn(),
    /// Runs once a passkey was picked, before the server checks it.
    chosen: &'a dyn Fn(),
}

/// The sign-in ceremony at `{base}/passkey/options` and `{base}/passkey`;
/// for `autofill`, among the address field's suggestions.
async fn sign_in_at<T: DeserializeOwned>(
    api: &ApiClient,
    base: &str,
    autofill: Option<&AutofillCall<'_>>,
) -> Result<T, PasskeyError> {
    let start = StartPasskeySignIn {
        autofill: autofill.is_some(),
    };
    let started: Started = api
        .post_json(&format!("{base}/passkey/options"), &start)
        .await?;
    let credential = ceremony(&started.options, false, autofill).await?;
    if let Some(call) = autofill {
        (call.chosen)();
    }
    let req = Finished {
        ceremony: &started.ceremony,
        credential: &credential,
        name: None,
    };
    Ok(api.post_json(&format!("{base}/passkey"), &req).await?)
}

/// Adds a passkey to the signed-in account: `password` is the current
/// one (ignored for an account without). Answers the passkey as listed.
pub async fn create_passkey(
    api: &ApiClient,
    password: Option<String>,
    name: Option<String>,
) -> Result<PasskeyInfo, PasskeyError> {
    create_at(api, "/api/account/passkeys", password, name).await
}

/// Adds a passkey to the signed-in member (`password`: the member's).
/// Answers the passkey as listed.
pub async fn create_member_passkey(
    api: &ApiClient,
    password: Option<String>,
    name: Option<String>,
) -> Result<PasskeyInfo, PasskeyError> {
    create_at(api, "/api/b2b/member/passkeys", password, name).await
}

/// Accepts an organization's invitation (the `token` of its link) with a
/// new passkey instead of a password: the server starts a ceremony for
/// the member the invitation creates, the browser makes the passkey, and
/// accepting creates the member with it and signs them in. Answers the
/// member session.
pub async fn accept_invitation_with_passkey(
    api: &ApiClient,
    token: &str,
    name: &str,
) -> Result<MemberSessionResponse, PasskeyError> {
    #[derive(Serialize)]
    struct Token<'a> {
        token: &'a str,
    }
    #[derive(Serialize)]
    struct Accept<'a> {
        token: &'a str,
        name: &'a str,
        passkey: Finished<'a>,
    }
    let started: Started = api
        .post_json("/api/b2b/invitation/passkey/options", &Token { token })
        .await?;
    let credential = ceremony(&started.options, true, None).await?;
    let req = Accept {
        token,
        name,
        passkey: Finished {
            ceremony: &started.ceremony,
            credential: &credential,
            name: None,
        },
    };
    Ok(api.post_json("/api/b2b/invitation/accept", &req).await?)
}

/// The registration ceremony at `{base}/options` and `{base}`.
async fn create_at(
    api: &ApiClient,
    base: &str,
    password: Option<String>,
    name: Option<String>,
) -> Result<PasskeyInfo, PasskeyError> {
    let started: Started = api
        .post_json(&format!("{base}/options"), &ConfirmHolder { password })
        .await?;
    let credential = ceremony(&started.options, true, None).await?;
    let req = Finished {
        ceremony: &started.ceremony,
        credential: &credential,
        name,
    };
    Ok(api.post_json(base, &req).await?)
}

/// Every string of [`PasskeyLogin`], English by default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PasskeyText {
    /// The button.
    pub button: String,
    /// While the browser's dialog is open.
    pub waiting: String,
    /// The dialog was closed or timed out.
    pub cancelled: String,
    /// The passkey did not verify (or is no longer on any account).
    pub refused: String,
    /// An operator disabled the account.
    pub account_disabled: String,
    /// Too many attempts from this network.
    pub too_many: String,
    /// The server cannot be reached.
    pub unreachable: String,
    /// Anything else.
    pub failed: String,
    /// The divider above the button, under another way to sign in.
    pub or: String,
}

impl Default for PasskeyText {
    fn default() -> PasskeyText {
        PasskeyText {
            button: "Sign in with a passkey".into(),
            waiting: "Follow your browser's prompt…".into(),
            cancelled: "No passkey was used. Try again, or sign in another way.".into(),
            refused: "That passkey isn't recognised here. It may have been removed from your account. Sign in another way.".into(),
            account_disabled: "This account is disabled. Contact the service to have it enabled.".into(),
            too_many: "Too many attempts from this network. Try again later.".into(),
            unreachable: "Can't reach the server. Check your connection and try again.".into(),
            failed: "Something went wrong. Try again in a moment.".into(),
            or: "or".into(),
        }
    }
}

impl PasskeyText {
    /// The message for a sign-in that did not happen.
    pub fn error_message(&self, e: &PasskeyError) -> String {
        match e {
            PasskeyError::Cancelled => self.cancelled.clone(),
            PasskeyError::Api(e) => match e.error_code() {
                Some(ErrorCode::InvalidCredentials | ErrorCode::InvalidGrant) => {
                    self.refused.clone()
                }
                Some(ErrorCode::AccountDisabled) => self.account_disabled.clone(),
                Some(ErrorCode::TooManyAttempts) => self.too_many.clone(),
                None if e.is_network() => self.unreachable.clone(),
                _ => self.failed.clone(),
            },
            _ => self.failed.clone(),
        }
    }
}

/// Whose sign-in the button is.
#[derive(Clone, Copy)]
enum Who {
    Account(Callback<SessionResponse>),
    Member(Callback<MemberSessionResponse>),
}

/// "Sign in with a passkey": one button; the browser shows the passkeys it
/// holds for this site, and `on_signed_in` runs with the new session (a
/// passkey is two factors and phishing-resistant: no code follows). It
/// renders nothing where passkeys cannot work ([`passkeys_supported`]),
/// decided after mounting, so server and browser render alike.
///
/// With `autofill`, the page's address field also lists the passkeys among
/// its suggestions from the moment the page loads (where the browser can:
/// [`autofill_available`]): the field needs `autocomplete="username
/// webauthn"`, as [`crate::PasswordLogin`]'s and [`crate::MagicLink`]'s
/// have. Use it on a sign-in page, once per page.
#[component]
pub fn PasskeyLogin(
    /// Called with the session once the passkey was accepted.
    #[prop(into)]
    on_signed_in: Callback<SessionResponse>,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<PasskeyText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
    /// Under another way to sign in: an "or" divider goes above the
    /// button (only when the button shows).
    #[prop(optional)]
    separated: bool,
    /// Also offer the passkeys in the address field's suggestions.
    #[prop(optional)]
    autofill: bool,
) -> impl IntoView {
    view! {
        <PasskeyButton who=Who::Account(on_signed_in) text=text.unwrap_or_default()
            api=api.unwrap_or_default() separated autofill/>
    }
}

/// [`PasskeyLogin`] for members of organizations: the passkey's membership
/// is signed in to its organization (no address, no choice), and
/// `on_signed_in` runs with the member session.
#[component]
pub fn MemberPasskeyLogin(
    /// Called with the member session once the passkey was accepted.
    #[prop(into)]
    on_signed_in: Callback<MemberSessionResponse>,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<PasskeyText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
    /// Under another way to sign in: an "or" divider goes above the
    /// button (only when the button shows).
    #[prop(optional)]
    separated: bool,
    /// Also offer the passkeys in the address field's suggestions (see
    /// [`PasskeyLogin`]).
    #[prop(optional)]
    autofill: bool,
) -> impl IntoView {
    view! {
        <PasskeyButton who=Who::Member(on_signed_in) text=text.unwrap_or_default()
            api=api.unwrap_or_default() separated autofill/>
    }
}

/// The app's session hooks, when it keeps them.
type Hooks = (Option<crate::Session>, Option<crate::MemberSession>);

/// Signs `who` in with a passkey (from the browser's dialog, or for
/// `autofill` from the address field's suggestions) and tells the app's
/// session hooks (`hooks`, when it keeps them) and `on_signed_in`.
async fn sign_in_as(
    who: Who,
    hooks: Hooks,
    api: &ApiClient,
    autofill: Option<&AutofillCall<'_>>,
) -> Result<(), PasskeyError> {
    match who {
        Who::Account(on_signed_in) => {
            let s: SessionResponse = sign_in_at(api, "/api/session", autofill).await?;
            if let Some(app) = hooks.0 {
                app.mark_signed_in(s.clone());
            }
            on_signed_in.run(s);
        }
        Who::Member(on_signed_in) => {
            let m: MemberSessionResponse = sign_in_at(api, "/api/b2b/session", autofill).await?;
            if let Some(app) = hooks.1 {
                app.mark_signed_in(m.clone());
            }
            on_signed_in.run(m);
        }
    }
    Ok(())
}

/// The state a [`PasskeyButton`] shares with its autofill requests.
#[derive(Clone, Copy)]
struct ButtonState {
    who: Who,
    hooks: Hooks,
    t: StoredValue<PasskeyText>,
    api: StoredValue<ApiClient>,
    error: RwSignal<Option<String>>,
    pending: RwSignal<bool>,
    /// The autofill request waiting in the address field, if any.
    waiting: StoredValue<Option<AutofillRequest>, LocalStorage>,
    /// Whether the browser holds an autofill request (`data-autofill`).
    armed: RwSignal<bool>,
}

/// Offers the passkeys in the address field's suggestions until one is
/// picked, renewing the request before its ceremony ends. Silent unless a
/// picked passkey is refused: a start the server or the browser declines
/// leaves the button and the form as they are. Ends when the button is
/// pressed or the component is gone (either drops the request).
async fn autofill(b: ButtonState) {
    if !autofill_available().await {
        return;
    }
    let Some(api) = b.api.try_get_value() else {
        return;
    };
    for _ in 0..=AUTOFILL_RENEWALS {
        let Ok(controller) = web_sys::AbortController::new() else {
            return;
        };
        let signal = controller.signal();
        let renewal = Renewal::after(AUTOFILL_RENEW_MS, controller.clone());
        // The button was pressed meanwhile, or the component is gone.
        if b.pending.try_get_untracked() != Some(false)
            || b.waiting
                .try_update_value(|w| *w = Some(AutofillRequest(controller)))
                .is_none()
        {
            return;
        }
        let started = js_sys::Date::now();
        let picked = std::cell::Cell::new(false);
        let asked = || {
            b.armed.try_set(true);
        };
        let chosen = || {
            picked.set(true);
            b.armed.try_set(false);
            b.pending.try_set(true);
            b.error.try_set(None);
        };
        let call = AutofillCall {
            signal: &signal,
            asked: &asked,
            chosen: &chosen,
        };
        let outcome = sign_in_as(b.who, b.hooks, &api, Some(&call)).await;
        b.armed.try_set(false);
        let failed = match outcome {
            Ok(()) => return,
            Err(e) => e,
        };
        if !picked.get() {
            // Renewal due: a fresh challenge. Aborted otherwise by the
            // button or the page; or the browser or the server declined to
            // start one: nothing to say.
            if renewal.as_ref().is_some_and(Renewal::due) {
                continue;
            }
            return;
        }
        b.pending.try_set(false);
        let late = js_sys::Date::now() - started > AUTOFILL_LATE_MS;
        let expired = matches!(&failed, PasskeyError::Api(e)
            if e.error_code() == Some(ErrorCode::InvalidGrant));
        if late && expired {
            continue;
        }
        b.error
            .try_set(b.t.try_with_value(|t| t.error_message(&failed)));
        return;
    }
}

/// The button of either sign-in, and its autofill.
#[component]
fn PasskeyButton(
    who: Who,
    text: PasskeyText,
    api: ApiClient,
    separated: bool,
    autofill: bool,
) -> impl IntoView {
    let b = ButtonState {
        who,
        // The app's session hooks, when it keeps them, learn of the sign-in.
        hooks: (
            use_context::<crate::Session>(),
            use_context::<crate::MemberSession>(),
        ),
        t: StoredValue::new(text),
        api: StoredValue::new(api),
        error: RwSignal::new(None),
        pending: RwSignal::new(false),
        waiting: StoredValue::new_local(None),
        armed: RwSignal::new(false),
    };
    let (t, error, pending, armed) = (b.t, b.error, b.pending, b.armed);
    let supported = RwSignal::new(false);
    Effect::new(move |_| supported.set(passkeys_supported()));
    let with_autofill = autofill;
    if with_autofill {
        Effect::new(move |_| spawn_local(self::autofill(b)));
    }
    let on_click = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        // The browser takes one request at a time: the autofill one ends.
        b.waiting.set_value(None);
        spawn_local(async move {
            let failed = match sign_in_as(who, b.hooks, &b.api.get_value(), None).await {
                Ok(()) => return,
                Err(e) => e,
            };
            error.set(Some(t.with_value(|t| t.error_message(&failed))));
            pending.set(false);
            // The dialog was closed: the suggestions offer the passkeys
            // again.
            if with_autofill && failed == PasskeyError::Cancelled {
                self::autofill(b).await;
            }
        });
    };
    let words = move |pick: fn(&PasskeyText) -> &String| t.with_value(|t| pick(t).clone());
    move || {
        supported.get().then(|| {
            view! {
                <div class="kh-passkey" data-testid="passkey-login"
                    data-autofill=move || if armed.get() { "waiting" } else { "off" }>
                    {separated.then(|| view! {
                        <p class="kh-divider" role="separator"><span>{words(|t| &t.or)}</span></p>
                    })}
                    {move || error.get().map(|e| view! {
                        <p class="kh-alert" role="alert" data-testid="passkey-error">{e}</p>
                    })}
                    <button type="button" class="kh-button kh-button--secondary kh-button--block kh-passkey__button"
                        data-testid="passkey-sign-in" disabled=move || pending.get() on:click=on_click>
                        <PasskeyIcon/>
                        <span>{move || if pending.get() { words(|t| &t.waiting) } else { words(|t| &t.button) }}</span>
                    </button>
                </div>
            }
        })
    }
}

/// The passkey glyph of the passkey buttons (a person and a key),
/// decorative: the button's words name it.
#[component]
pub fn PasskeyIcon() -> impl IntoView {
    view! {
        <svg class="kh-passkey__icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <circle cx="9" cy="7" r="4" fill="none" stroke="currentColor" stroke-width="2"/>
            <path d="M2 21v-1a6 6 0 0 1 10-4.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>
            <circle cx="18" cy="13" r="3" fill="none" stroke="currentColor" stroke-width="2"/>
            <path d="M18 16v5m0-2h2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::refused as server;

    #[test]
    fn each_failure_has_its_words() {
        let t = PasskeyText::default();
        assert_eq!(t.error_message(&PasskeyError::Cancelled), t.cancelled);
        let refused = PasskeyError::Api(server("invalid_credentials"));
        assert_eq!(t.error_message(&refused), t.refused);
        let spent = PasskeyError::Api(server("invalid_grant"));
        assert_eq!(t.error_message(&spent), t.refused);
        let disabled = PasskeyError::Api(server("account_disabled"));
        assert_eq!(t.error_message(&disabled), t.account_disabled);
        let down = PasskeyError::Api(ApiError::Network("down".into()));
        assert_eq!(t.error_message(&down), t.unreachable);
    }
}
