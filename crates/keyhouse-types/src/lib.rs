//! Wire types shared by the Keyhouse server and its browser components.
//!
//! Everything here is plain serde data: no I/O, no framework types, so the
//! wasm crates (`idp-component`, `app`) can depend on it without pulling in
//! the server.
#![warn(missing_docs)]

pub mod error_code;
pub mod redirect_uri;
pub mod return_to;

pub use error_code::ErrorCode;

#[cfg(test)]
mod proptests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One authorize parameter as the browser saw it in the query string.
///
/// A parameter that appeared more than once is sent as a list, so the server
/// can refuse it (RFC 6749 §3.1: "Request and response parameters MUST NOT be
/// included more than once").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// The parameter appeared once.
    One(String),
    /// The parameter appeared several times.
    Many(Vec<String>),
}

/// The raw authorization request: the query of the `/idp` URL as a map.
pub type AuthorizeParams = BTreeMap<String, ParamValue>;

/// Parses a query string (with or without the leading `?`) into authorize
/// parameters. Repeated parameters are kept as lists so the server can refuse
/// them (RFC 6749 §3.1); malformed percent-encoding is decoded lossily, never
/// a panic.
pub fn parse_authorize_query(query: &str) -> AuthorizeParams {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut params = AuthorizeParams::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let (k, v) = (k.into_owned(), v.into_owned());
        match params.remove(&k) {
            None => {
                params.insert(k, ParamValue::One(v));
            }
            Some(ParamValue::One(first)) => {
                params.insert(k, ParamValue::Many(vec![first, v]));
            }
            Some(ParamValue::Many(mut all)) => {
                all.push(v);
                params.insert(k, ParamValue::Many(all));
            }
        }
    }
    params
}

/// Body of `POST /api/idp/authorize`: the same parameters as the start call
/// plus the user's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeDecision {
    /// `true` when the user approved (or when no consent screen was needed).
    pub consent_granted: bool,
    /// The raw authorize parameters.
    #[serde(flatten)]
    pub params: AuthorizeParams,
}

/// Body of `POST /api/idp/authorize/form` (and `/api/b2b/idp/authorize/form`):
/// the consent screen's decision sent by the HTML form itself
/// (`application/x-www-form-urlencoded`), for a page whose script is not
/// running: JavaScript off, or the server's paint before the bundle has
/// loaded. The answer is an HTML page that forwards the browser to the
/// client, or a redirect (`303 See Other`) back to the page; not JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeDecisionForm {
    /// The consent page's path and query (`/idp?client_id=…`): the
    /// authorization request, parsed as [`parse_authorize_query`] parses
    /// it. It must be a same-origin path ([`return_to::sanitize`]).
    pub page: String,
    /// Which button was pressed.
    pub decision: FormDecision,
}

impl AuthorizeDecisionForm {
    /// The form field that carries [`AuthorizeDecisionForm::page`].
    pub const PAGE_FIELD: &'static str = "page";
    /// The buttons' `name` ([`AuthorizeDecisionForm::decision`]).
    pub const DECISION_FIELD: &'static str = "decision";
}

/// A consent form's button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormDecision {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
}

impl FormDecision {
    /// The button's `value`.
    pub fn as_str(self) -> &'static str {
        match self {
            FormDecision::Allow => "allow",
            FormDecision::Deny => "deny",
        }
    }
}

/// Any answer that sends the browser back to the client, success or error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectResponse {
    /// Where the browser must go next.
    pub redirect_uri: String,
}

/// When a client receives refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefreshPolicy {
    /// Only when `offline_access` was requested and shown on consent (the
    /// default for every client: docs/threat-model.md row 51).
    #[default]
    OfflineAccess,
    /// With every authorization-code exchange, when the operator chose so
    /// for this client; the consent screen then says that access continues
    /// until revoked.
    Always,
}

impl RefreshPolicy {
    /// The name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshPolicy::OfflineAccess => "offline_access",
            RefreshPolicy::Always => "always",
        }
    }

    /// Reads a name from the wire or the store.
    pub fn parse(s: &str) -> Option<RefreshPolicy> {
        match s {
            "offline_access" => Some(RefreshPolicy::OfflineAccess),
            "always" => Some(RefreshPolicy::Always),
            _ => None,
        }
    }
}

/// Who a session or a grant belongs to: an end user (B2C) or an
/// organization's member (B2B). Stored beside each session, so a user's
/// cookie can never be read as a member's, nor the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// An end user.
    User,
    /// A member of one organization.
    Member,
}

impl SubjectKind {
    /// The name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::Member => "member",
        }
    }

    /// Reads a name from the wire or the store.
    pub fn parse(s: &str) -> Option<SubjectKind> {
        match s {
            "user" => Some(SubjectKind::User),
            "member" => Some(SubjectKind::Member),
            _ => None,
        }
    }
}

/// The kind of a Connected App, as Stytch names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// Confidential, trusted by the operator: no consent screen.
    FirstParty,
    /// Public (no secret, PKCE), trusted by the operator: no consent screen.
    FirstPartyPublic,
    /// Confidential, run by someone else: consent required.
    ThirdParty,
    /// Public (no secret, PKCE), run by someone else: consent required.
    ThirdPartyPublic,
}

impl ClientType {
    /// All four types, in display order.
    pub const ALL: [ClientType; 4] = [
        ClientType::FirstParty,
        ClientType::FirstPartyPublic,
        ClientType::ThirdParty,
        ClientType::ThirdPartyPublic,
    ];

    /// The wire name (`first_party`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::FirstParty => "first_party",
            ClientType::FirstPartyPublic => "first_party_public",
            ClientType::ThirdParty => "third_party",
            ClientType::ThirdPartyPublic => "third_party_public",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<ClientType> {
        ClientType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Public clients hold no secret and must use PKCE.
    pub fn is_public(self) -> bool {
        matches!(
            self,
            ClientType::FirstPartyPublic | ClientType::ThirdPartyPublic
        )
    }

    /// First-party clients skip the consent screen.
    pub fn is_first_party(self) -> bool {
        matches!(self, ClientType::FirstParty | ClientType::FirstPartyPublic)
    }
}

/// The client as the consent screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientSummary {
    /// The client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Longer description, may be empty.
    pub description: String,
    /// Logo (https), if any.
    pub logo_uri: Option<String>,
    /// The client type.
    pub client_type: ClientType,
    /// For a client identified by a metadata document: the domain that
    /// publishes it, the only thing vouched for (its name and description
    /// are that domain's claims).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_domain: Option<String>,
    /// Whether it registered itself (RFC 7591): nobody vouches for it.
    #[serde(default)]
    pub self_registered: bool,
}

/// One requested scope, described for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScopeDescription {
    /// The scope token, e.g. `notes:read`.
    pub scope: String,
    /// What it lets the client do, in plain words.
    pub description: String,
    /// Whether this user may grant it.
    pub grantable: bool,
}

/// The answer of `POST /api/idp/authorize/start` when the request is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeStart {
    /// Who is asking.
    pub client: ClientSummary,
    /// The host (and port) the browser will be sent to afterwards.
    pub redirect_host: String,
    /// The requested scopes.
    pub scopes: Vec<ScopeDescription>,
    /// The resource (RFC 8707) the token will be for, if one was requested.
    pub resource: Option<String>,
    /// The resource's name ("Notes MCP server"), when it is registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Whether the browser will be sent to this device (a loopback
    /// redirect URI): fine for a desktop agent, a warning sign otherwise.
    #[serde(default)]
    pub redirect_is_local: bool,
    /// Whether the consent screen must be shown.
    pub consent_required: bool,
    /// The signed-in user the grant is for (for B2B: the member).
    pub user: SessionUser,
    /// The organization being authorized (B2B only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationSummary>,
    /// Whether the operator set this client to receive refresh tokens even
    /// without `offline_access`: its access then continues until revoked,
    /// and consent must say so.
    #[serde(default)]
    pub continues_until_revoked: bool,
}

/// Either a description to show, or a redirect to follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AuthorizeStartResponse {
    /// Send the browser to the client (an error the client must hear about).
    Redirect(RedirectResponse),
    /// Show this request (consent, or proceed straight to the decision).
    Describe(Box<AuthorizeStart>),
}

/// The answer of the authorize API's start (`POST /api/idp/authorize/start`,
/// or the B2B one) that the server already put in the `/idp` page, so the
/// component does not have to ask for it: a `<script type="application/json"
/// id="kh-authorize-start">` data block (never executed, so the page's
/// script policy is unchanged). The component uses it once, and only on the
/// page it was written for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeStartInPage {
    /// The path and query of the page it answers (`/idp?client_id=…`), as
    /// the browser sent them.
    pub page: String,
    /// Whether it is the members' start (`/api/b2b/idp/authorize/start`,
    /// for `B2BIdentityProvider`).
    #[serde(default)]
    pub members: bool,
    /// The HTTP status the API would have answered.
    pub status: u16,
    /// With 200: the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AuthorizeStartResponse>,
    /// Otherwise: the refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl AuthorizeStartInPage {
    /// The `id` of the data block.
    pub const ELEMENT_ID: &'static str = "kh-authorize-start";

    /// The data block's element, ready to put in HTML: the JSON with every
    /// `<`, `>` and `&` escaped (`\u003c`…), so nothing a client registered
    /// (its name, say) can close the element or open a comment.
    pub fn to_html(&self) -> String {
        // Serialising plain data cannot fail; an empty object keeps the
        // page valid if it ever did, and the component then asks the API.
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        let mut escaped = String::with_capacity(json.len() + 16);
        for c in json.chars() {
            match c {
                '<' => escaped.push_str("\\u003c"),
                '>' => escaped.push_str("\\u003e"),
                '&' => escaped.push_str("\\u0026"),
                c => escaped.push(c),
            }
        }
        format!(
            r#"<script type="application/json" id="{}">{escaped}</script>"#,
            Self::ELEMENT_ID
        )
    }
}

/// An error to show on the page; never redirected (unknown client, bad
/// redirect URI, missing session, CSRF…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The RFC error code (`invalid_request`, `invalid_client`, …).
    pub error: String,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// With `login_required` from the authorize API: the host app's sign-in
    /// page, when the backend knows it (an app that keeps its own login).
    /// The component appends `returnTo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
}

impl ErrorBody {
    /// An error with this code and description.
    pub fn new(error: impl Into<String>, error_description: Option<String>) -> ErrorBody {
        ErrorBody {
            error: error.into(),
            error_description,
            login_url: None,
        }
    }

    /// The error code, when it is one Keyhouse sends.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.error)
    }
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// Stable subject identifier (`sub`).
    pub user_id: String,
    /// Email address.
    pub email: String,
    /// Display name, may be empty.
    pub name: String,
    /// Whether the holder of the address proved they read it.
    #[serde(default)]
    pub email_verified: bool,
    /// Whether the account has a password (one made by a mailed sign-in
    /// code has none until it sets one through a reset); the account page
    /// asks for it before a change only when there is one.
    #[serde(default)]
    pub has_password: bool,
    /// Whether signing in takes a second factor (an authenticator app).
    #[serde(default)]
    pub second_factor: bool,
}

/// The answer of `GET /api/session` and of a successful login or sign-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    /// The user.
    pub user: SessionUser,
    /// When the user authenticated (unix seconds).
    pub authenticated_at: i64,
    /// When the session expires (unix seconds).
    pub expires_at: i64,
    /// Whether the user is an operator (may use `/api/admin` and `/admin`).
    #[serde(default)]
    pub is_admin: bool,
    /// How this session was authenticated (RFC 8176 `amr` values: `pwd`,
    /// `email`, `otp`, `mfa`, `pop`).
    #[serde(default)]
    pub amr: Vec<String>,
}

/// `POST /api/session/signup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupRequest {
    /// Email address.
    pub email: String,
    /// Password (at least 8 characters).
    pub password: String,
    /// Optional display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Where the mailed verification link leads back to afterwards (a
    /// same-origin path; anything else is dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

/// `202` from `POST /api/session/signup` (when addresses are verified) and
/// `POST /api/session/email-login`: a message with a link and a code was
/// mailed, if the address may receive one (the answer is the same either
/// way). The code works in this browser only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailChallengeSent {
    /// The normalised address.
    pub email: String,
    /// Digits in the code.
    pub code_length: u8,
    /// Seconds the link and code work.
    pub expires_in: i64,
}

/// `POST /api/session/email-login`: mail me a sign-in link and code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLoginRequest {
    /// Email address.
    pub email: String,
    /// Where the link leads back to afterwards (a same-origin path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

/// `POST /api/session/email/code`: the code from the message, typed in the
/// browser that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailCodeRequest {
    /// The address the code was mailed to.
    pub email: String,
    /// The code.
    pub code: String,
}

/// `POST /api/session/email/link`: the `token` of a mailed link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLinkRequest {
    /// The `token` of the link.
    pub token: String,
}

/// The answer to a mailed link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLinkResponse {
    /// The new session, when the link signed the browser in (sign-up and
    /// sign-in links); `None` for a signed-in user's verification link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionResponse>,
    /// Where to go now (a same-origin path), when the request said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The link was right and the account takes a second factor: the
    /// browser now holds a session waiting for it
    /// (`POST /api/session/second-factor`), then goes to `return_to`.
    #[serde(default)]
    pub second_factor: bool,
}

/// `POST /api/session/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /api/session/password-reset`: mail a reset link to this address
/// if an account has it. The answer is the same either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetRequest {
    /// Email address.
    pub email: String,
}

/// `POST /api/session/password-reset/confirm`: the token from the mailed
/// link and the new password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetConfirm {
    /// The `token` of the link.
    pub token: String,
    /// The new password (8 to 128 characters).
    pub password: String,
}

/// `POST /api/account/password`: a signed-in user changes their password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    /// The password in use now.
    pub current_password: String,
    /// The new one (8 to 128 characters).
    pub new_password: String,
}

/// The answer to [`ChangePasswordRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePasswordResponse {
    /// How many other sessions of the account were signed out.
    pub other_sessions_ended: u64,
}

pub mod account;
pub mod admin;
pub mod b2b;
pub mod logout;
pub use account::{
    AccountDeleted, AccountSession, AddPasskey, ChangeEmailRequest, ConfirmEmailChangeRequest,
    ConfirmHolder, DeleteAccountRequest, PasskeyInfo, PasskeyList, PasskeyOptions, PasskeySignIn,
    RecoveryCodes, SecondFactorCode, SecondFactorStatus, SessionsEnded, StartPasskeySignIn,
    TotpSetup,
};
pub use b2b::OrganizationSummary;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_types_round_trip() {
        for t in ClientType::ALL {
            assert_eq!(ClientType::parse(t.as_str()), Some(t));
            let json = serde_json::to_string(&t).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!(ClientType::parse("nope"), None);
    }

    #[test]
    fn the_data_block_cannot_be_closed_by_what_it_carries() {
        let hostile = "</script><script>alert(1)</script><!-- & </SCRIPT >";
        let block = AuthorizeStartInPage {
            page: format!("/idp?state={hostile}"),
            members: false,
            status: 400,
            answer: None,
            error: Some(ErrorBody::new("invalid_request", Some(hostile.to_owned()))),
        };
        let html = block.to_html();
        let open = r#"<script type="application/json" id="kh-authorize-start">"#;
        let body = html
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix("</script>"))
            .expect("one element");
        // Nothing in it that HTML reads: no tag, no comment, no entity.
        assert!(!body.contains(['<', '>', '&']), "{body}");
        let back: AuthorizeStartInPage = serde_json::from_str(body).expect("JSON");
        assert_eq!(back, block);
    }

    #[test]
    fn decision_flattens_params() {
        let body = r#"{"consent_granted":true,"client_id":"c1","scope":["a","b"]}"#;
        let d: AuthorizeDecision = serde_json::from_str(body).expect("parses");
        assert!(d.consent_granted);
        assert_eq!(
            d.params.get("client_id"),
            Some(&ParamValue::One("c1".into()))
        );
        assert_eq!(
            d.params.get("scope"),
            Some(&ParamValue::Many(vec!["a".into(), "b".into()]))
        );
    }
}
