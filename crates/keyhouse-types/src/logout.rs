//! Signing out through the `end_session_endpoint` (OpenID Connect
//! RP-Initiated Logout 1.0): the parameters a client sends the browser with,
//! and what `/api/session/end-session/*` answer the page that handles them.

use serde::{Deserialize, Serialize};

/// The request a client sends the browser to `{issuer}/logout` with (query
/// or form), passed on as is by the page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndSessionRequest {
    /// An ID token Keyhouse issued to the client (expired ones count): says
    /// which client asks and which session it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_hint: Option<String>,
    /// The client, when there is no hint (or the same as the hint's `aud`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Where to send the browser afterwards: one of the client's registered
    /// `post_logout_redirect_uris`, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uri: Option<String>,
    /// Given back with the redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Accepted and ignored (RP-Initiated Logout §2: a hint only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout_hint: Option<String>,
    /// Accepted and ignored: the page's words come from the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales: Option<String>,
}

/// `POST /api/session/end-session/check`: what the page should do with a
/// valid request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndSessionCheck {
    /// The client's name, when the request says which client asks.
    pub client_name: Option<String>,
    /// Whether this browser has a session to end.
    pub signed_in: bool,
    /// Whether to ask the person first: the request does not prove it
    /// comes from a client this session signed into (no `id_token_hint`,
    /// or one for another session). Without a session there is nothing to
    /// ask.
    pub confirm: bool,
    /// Whether the browser goes back to the client afterwards.
    pub returns_to_client: bool,
}

/// `POST /api/session/end-session`: the sessions have ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndSessionDone {
    /// The client's `post_logout_redirect_uri` with `state`, when the
    /// request named a registered one; else the page says it is done.
    pub redirect_to: Option<String>,
}
