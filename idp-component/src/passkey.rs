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
use keyhouse_types::{ConfirmHolder, ErrorCode, PasskeyInfo, SessionResponse};
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

/// The server's start of a ceremony ([`keyhouse_types::PasskeyOptions`]),
/// its options kept as JSON text for the browser to parse.
#[derive(Deserialize)]
struct Started {
    ceremony: String,
    options: Box<RawValue>,
}

/// `{}`.
#[derive(Serialize)]
struct NoBody {}

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
/// credential's `toJSON()` as JSON text.
async fn ceremony(options: &RawValue, create: bool) -> Result<Box<RawValue>, PasskeyError> {
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
    sign_in_at(api, "/api/session").await
}

/// [`sign_in_with_passkey`] for members of organizations: the passkey's
/// membership is signed in to its organization. Answers the member session.
pub async fn member_sign_in_with_passkey(
    api: &ApiClient,
) -> Result<MemberSessionResponse, PasskeyError> {
    sign_in_at(api, "/api/b2b/session").await
}

/// The sign-in ceremony at `{base}/passkey/options` and `{base}/passkey`.
async fn sign_in_at<T: DeserializeOwned>(api: &ApiClient, base: &str) -> Result<T, PasskeyError> {
    let started: Started = api
        .post_json(&format!("{base}/passkey/options"), &NoBody {})
        .await?;
    let credential = ceremony(&started.options, false).await?;
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
    let credential = ceremony(&started.options, true).await?;
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
) -> impl IntoView {
    view! {
        <PasskeyButton who=Who::Account(on_signed_in) text=text.unwrap_or_default()
            api=api.unwrap_or_default() separated/>
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
) -> impl IntoView {
    view! {
        <PasskeyButton who=Who::Member(on_signed_in) text=text.unwrap_or_default()
            api=api.unwrap_or_default() separated/>
    }
}

/// The button of either sign-in.
#[component]
fn PasskeyButton(who: Who, text: PasskeyText, api: ApiClient, separated: bool) -> impl IntoView {
    let t = StoredValue::new(text);
    let api = StoredValue::new(api);
    let supported = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    // The app's session hooks, when it keeps them, learn of the sign-in.
    let session = use_context::<crate::Session>();
    let member = use_context::<crate::MemberSession>();
    Effect::new(move |_| supported.set(passkeys_supported()));
    let on_click = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            let api = api.get_value();
            let failed = match who {
                Who::Account(on_signed_in) => match sign_in_with_passkey(&api).await {
                    Ok(s) => {
                        if let Some(app) = session {
                            app.mark_signed_in(s.clone());
                        }
                        on_signed_in.run(s);
                        return;
                    }
                    Err(e) => e,
                },
                Who::Member(on_signed_in) => match member_sign_in_with_passkey(&api).await {
                    Ok(m) => {
                        if let Some(app) = member {
                            app.mark_signed_in(m.clone());
                        }
                        on_signed_in.run(m);
                        return;
                    }
                    Err(e) => e,
                },
            };
            error.set(Some(t.with_value(|t| t.error_message(&failed))));
            pending.set(false);
        });
    };
    let words = move |pick: fn(&PasskeyText) -> &String| t.with_value(|t| pick(t).clone());
    move || {
        supported.get().then(|| {
            view! {
                <div class="kh-passkey" data-testid="passkey-login">
                    {separated.then(|| view! {
                        <p class="kh-divider" role="separator"><span>{words(|t| &t.or)}</span></p>
                    })}
                    {move || error.get().map(|e| view! {
                        <p class="kh-alert" role="alert" data-testid="passkey-error">{e}</p>
                    })}
                    <button type="button" class="kh-button kh-button--secondary kh-button--block kh-passkey__button"
                        data-testid="passkey-sign-in" disabled=move || pending.get() on:click=on_click>
                        <svg class="kh-passkey__icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                            <circle cx="9" cy="7" r="4" fill="none" stroke="currentColor" stroke-width="2"/>
                            <path d="M2 21v-1a6 6 0 0 1 10-4.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>
                            <circle cx="18" cy="13" r="3" fill="none" stroke="currentColor" stroke-width="2"/>
                            <path d="M18 16v5m0-2h2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>
                        </svg>
                        <span>{move || if pending.get() { words(|t| &t.waiting) } else { words(|t| &t.button) }}</span>
                    </button>
                </div>
            }
        })
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
