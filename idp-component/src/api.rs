//! A small client for the Keyhouse browser API (`/api/session*`,
//! `/api/idp/*`), built on gloo-net. Host apps can reuse it for their own
//! login and sign-up pages.

use gloo_net::http::{Request, RequestBuilder, Response};
use keyhouse_types::ErrorCode;
use keyhouse_types::b2b::{
    ConnectedAppsSettings, DiscoveryRequest, DiscoveryResponse, DiscoverySelectRequest,
    MemberEmailLoginRequest, MemberInfo, MemberLoginRequest, MemberSessionResponse,
    OrganizationSettings, SetRolesRequest,
};
use keyhouse_types::{
    AuthorizeDecision, AuthorizeParams, AuthorizeStartResponse, EmailChallengeSent,
    EmailCodeRequest, EmailLinkRequest, EmailLinkResponse, EmailLoginRequest, ErrorBody,
    LoginRequest, PasswordResetConfirm, PasswordResetRequest, RedirectResponse, SecondFactorCode,
    SessionResponse, SignupRequest,
};
use keyhouse_types::{ConfirmHolder, PasskeyList};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What sign-up did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignupOutcome {
    /// The account exists and this browser is signed in.
    SignedIn(SessionResponse),
    /// A link and code were mailed; the account is created when one comes
    /// back (the answer is the same when the address is taken).
    CheckEmail(EmailChallengeSent),
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// The server answered with an error (`status`, RFC error body).
    Server {
        /// HTTP status.
        status: u16,
        /// The error and its description.
        body: ErrorBody,
    },
    /// The request never got an answer (offline, server down), or the
    /// answer could not be read.
    Network(String),
}

impl ApiError {
    /// The RFC error code (`invalid_client`, `login_required`, …), or
    /// `network_error`.
    pub fn code(&self) -> &str {
        match self {
            ApiError::Server { body, .. } => &body.error,
            ApiError::Network(_) => "network_error",
        }
    }

    /// The error code as an enum: `None` for a network failure or a code
    /// Keyhouse never sends. Decide what to show from this, not from strings.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Server { body, .. } => body.code(),
            ApiError::Network(_) => None,
        }
    }

    /// Whether the server could not be reached (or answered something
    /// unreadable).
    pub fn is_network(&self) -> bool {
        matches!(self, ApiError::Network(_))
    }

    /// The server's explanation, if it sent one.
    pub fn description(&self) -> Option<&str> {
        match self {
            ApiError::Server { body, .. } => body.error_description.as_deref(),
            ApiError::Network(m) => Some(m),
        }
    }

    /// With `login_required`: the host app's sign-in page, when the backend
    /// names it (an app that keeps its own login).
    pub fn login_url(&self) -> Option<&str> {
        match self {
            ApiError::Server { body, .. } => body.login_url.as_deref(),
            ApiError::Network(_) => None,
        }
    }

    /// The HTTP status (0 for network failures).
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Server { status, .. } => *status,
            ApiError::Network(_) => 0,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.description() {
            Some(d) => write!(f, "{}: {d}", self.code()),
            None => f.write_str(self.code()),
        }
    }
}

impl std::error::Error for ApiError {}

/// The Keyhouse browser API at `base` (empty: the page's own origin).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiClient {
    base: String,
}

impl ApiClient {
    /// The API at the page's own origin.
    pub fn same_origin() -> ApiClient {
        ApiClient::default()
    }

    /// The API under another base URL or path prefix (no trailing slash).
    pub fn with_base(base: impl Into<String>) -> ApiClient {
        ApiClient { base: base.into() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Where the consent screen's form posts its decision
    /// (`/api/idp/authorize/form`, or the B2B one for `members`).
    pub(crate) fn decision_form_action(&self, members: bool) -> String {
        self.url(if members {
            "/api/b2b/idp/authorize/form"
        } else {
            "/api/idp/authorize/form"
        })
    }

    /// `GET /api/session`: the signed-in user, or `None`.
    pub async fn session(&self) -> Result<Option<SessionResponse>, ApiError> {
        let res = send(Request::get(&self.url("/api/session")), None::<&()>).await?;
        if res.status() == 401 {
            return Ok(None);
        }
        read(res).await.map(Some)
    }

    /// `POST /api/session/login`.
    pub async fn login(&self, req: &LoginRequest) -> Result<SessionResponse, ApiError> {
        let res = send(Request::post(&self.url("/api/session/login")), Some(req)).await?;
        read(res).await
    }

    /// `POST /api/session/second-factor`: a code from the authenticator
    /// app, or a recovery code, after a sign-in that answered
    /// `second_factor_required` (or to step a signed-in session up).
    pub async fn second_factor(&self, req: &SecondFactorCode) -> Result<SessionResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/session/second-factor")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `GET /api/account/passkeys`.
    pub async fn passkeys(&self) -> Result<PasskeyList, ApiError> {
        self.get_json("/api/account/passkeys").await
    }

    /// `POST /api/account/passkeys/{id}/remove`.
    pub async fn remove_passkey(&self, id: &str, req: &ConfirmHolder) -> Result<(), ApiError> {
        let path = format!("/api/account/passkeys/{}/remove", url_escape(id));
        self.post_empty(&path, req).await
    }

    /// `GET /api/b2b/member/passkeys`: the signed-in member's.
    pub async fn member_passkeys(&self) -> Result<PasskeyList, ApiError> {
        self.get_json("/api/b2b/member/passkeys").await
    }

    /// `POST /api/b2b/member/passkeys/{id}/remove` (the member's password).
    pub async fn remove_member_passkey(
        &self,
        id: &str,
        req: &ConfirmHolder,
    ) -> Result<(), ApiError> {
        let path = format!("/api/b2b/member/passkeys/{}/remove", url_escape(id));
        self.post_empty(&path, req).await
    }

    /// `POST /api/session/signup`. Where addresses are verified first (the
    /// default), a link and code were mailed and the account exists once
    /// one comes back ([`SignupOutcome::CheckEmail`]); else the user is
    /// created and signed in at once.
    pub async fn signup(&self, req: &SignupRequest) -> Result<SignupOutcome, ApiError> {
        let res = send(Request::post(&self.url("/api/session/signup")), Some(req)).await?;
        if res.status() == 202 {
            return read(res).await.map(SignupOutcome::CheckEmail);
        }
        read(res).await.map(SignupOutcome::SignedIn)
    }

    /// `POST /api/session/email-login`: mails a sign-in link and code (the
    /// answer is the same whether or not the address has an account).
    pub async fn email_login(
        &self,
        req: &EmailLoginRequest,
    ) -> Result<EmailChallengeSent, ApiError> {
        let res = send(
            Request::post(&self.url("/api/session/email-login")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/session/email/code`: the mailed code, typed in this
    /// browser; signs in (or finishes a sign-up).
    pub async fn email_code(&self, req: &EmailCodeRequest) -> Result<SessionResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/session/email/code")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/session/email/link`: the `token` of a mailed link.
    pub async fn email_link(&self, req: &EmailLinkRequest) -> Result<EmailLinkResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/session/email/link")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/account/email/verify`: mails the signed-in user a link
    /// that verifies their address.
    pub async fn request_email_verification(&self) -> Result<EmailChallengeSent, ApiError> {
        let res = send(
            Request::post(&self.url("/api/account/email/verify")),
            None::<&()>,
        )
        .await?;
        read(res).await
    }

    /// `POST /api/session/logout`.
    pub async fn logout(&self) -> Result<(), ApiError> {
        let res = send(Request::post(&self.url("/api/session/logout")), None::<&()>).await?;
        if res.ok() {
            Ok(())
        } else {
            Err(error_of(res).await)
        }
    }

    /// `POST /api/session/password-reset`: mails a reset link to the
    /// address if an account has it (the answer is the same either way).
    pub async fn request_password_reset(&self, req: &PasswordResetRequest) -> Result<(), ApiError> {
        self.post_empty("/api/session/password-reset", req).await
    }

    /// `POST /api/session/password-reset/confirm`: sets the new password
    /// with the mailed token; every session of the account ends.
    pub async fn confirm_password_reset(&self, req: &PasswordResetConfirm) -> Result<(), ApiError> {
        self.post_empty("/api/session/password-reset/confirm", req)
            .await
    }

    /// `POST /api/idp/authorize/start`: validates the request and describes
    /// it for the consent screen, or answers a redirect to the client.
    pub async fn authorize_start(
        &self,
        params: &AuthorizeParams,
    ) -> Result<AuthorizeStartResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/idp/authorize/start")),
            Some(params),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/idp/authorize`: records the decision; the answer is where
    /// the browser goes next (a code or an error for the client).
    pub async fn authorize(
        &self,
        decision: &AuthorizeDecision,
    ) -> Result<RedirectResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/idp/authorize")),
            Some(decision),
        )
        .await?;
        read(res).await
    }
}

/// Plain JSON calls, for a host app's own endpoints on the same API base
/// (same error handling as the Keyhouse calls).
impl ApiClient {
    /// `GET path`, reading JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        read(send(Request::get(&self.url(path)), None::<&()>).await?).await
    }

    /// `POST path` with a JSON body, reading JSON.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        read(send(Request::post(&self.url(path)), Some(body)).await?).await
    }

    /// `PATCH path` with a JSON body, reading JSON.
    pub async fn patch_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        read(send(Request::patch(&self.url(path)), Some(body)).await?).await
    }

    /// `POST path` with a JSON body; any 2xx (a 204 included) is success.
    pub async fn post_empty<B: Serialize>(&self, path: &str, body: &B) -> Result<(), ApiError> {
        let res = send(Request::post(&self.url(path)), Some(body)).await?;
        if res.ok() {
            Ok(())
        } else {
            Err(error_of(res).await)
        }
    }

    /// `PUT path` with a JSON body.
    pub async fn put_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        read(send(Request::put(&self.url(path)), Some(body)).await?).await
    }

    /// `DELETE path`, reading the JSON answer.
    pub async fn delete_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        read(send(Request::delete(&self.url(path)), None::<&()>).await?).await
    }

    /// `DELETE path`; any 2xx is success.
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        let res = send(Request::delete(&self.url(path)), None::<&()>).await?;
        if res.ok() {
            Ok(())
        } else {
            Err(error_of(res).await)
        }
    }
}

/// The B2B side: member sessions, discovery, organization settings.
impl ApiClient {
    /// `GET /api/b2b/session`: the signed-in member, or `None`.
    pub async fn member_session(&self) -> Result<Option<MemberSessionResponse>, ApiError> {
        let res = send(Request::get(&self.url("/api/b2b/session")), None::<&()>).await?;
        if res.status() == 401 {
            return Ok(None);
        }
        read(res).await.map(Some)
    }

    /// `POST /api/b2b/session/login`: password login into one organization.
    pub async fn member_login(
        &self,
        req: &MemberLoginRequest,
    ) -> Result<MemberSessionResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/session/login")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/b2b/discovery`: the organizations these credentials open.
    pub async fn discover(&self, req: &DiscoveryRequest) -> Result<DiscoveryResponse, ApiError> {
        let res = send(Request::post(&self.url("/api/b2b/discovery")), Some(req)).await?;
        read(res).await
    }

    /// `POST /api/b2b/discovery/email`: mails a link and a code that open
    /// the address's organizations (or the one named); the answer is the
    /// same whether or not the address belongs to a member.
    pub async fn member_email_login(
        &self,
        req: &MemberEmailLoginRequest,
    ) -> Result<EmailChallengeSent, ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/discovery/email")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/b2b/discovery/email/code`: the mailed code, typed in this
    /// browser: the organizations it opens.
    pub async fn member_email_code(
        &self,
        req: &EmailCodeRequest,
    ) -> Result<DiscoveryResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/discovery/email/code")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/b2b/discovery/email/link`: the `token` of a mailed link:
    /// the organizations it opens, and where to go afterwards.
    pub async fn member_email_link(
        &self,
        req: &EmailLinkRequest,
    ) -> Result<DiscoveryResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/discovery/email/link")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/b2b/session/second-factor`: a member's code from the
    /// authenticator app, or a recovery code, after a sign-in that answered
    /// `second_factor_required` (or to step a signed-in member up).
    pub async fn member_second_factor(
        &self,
        req: &SecondFactorCode,
    ) -> Result<MemberSessionResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/session/second-factor")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/b2b/discovery/select`: signs in to one of them.
    pub async fn discover_select(
        &self,
        req: &DiscoverySelectRequest,
    ) -> Result<MemberSessionResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/discovery/select")),
            Some(req),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/b2b/session/logout`.
    pub async fn member_logout(&self) -> Result<(), ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/session/logout")),
            None::<&()>,
        )
        .await?;
        if res.ok() {
            Ok(())
        } else {
            Err(error_of(res).await)
        }
    }

    /// `POST /api/b2b/idp/authorize/start`.
    pub async fn b2b_authorize_start(
        &self,
        params: &AuthorizeParams,
    ) -> Result<AuthorizeStartResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/idp/authorize/start")),
            Some(params),
        )
        .await?;
        read(res).await
    }

    /// `POST /api/b2b/idp/authorize`.
    pub async fn b2b_authorize(
        &self,
        decision: &AuthorizeDecision,
    ) -> Result<RedirectResponse, ApiError> {
        let res = send(
            Request::post(&self.url("/api/b2b/idp/authorize")),
            Some(decision),
        )
        .await?;
        read(res).await
    }

    /// `GET /api/b2b/organization`: settings, RBAC policy and members (admins).
    pub async fn organization_settings(&self) -> Result<OrganizationSettings, ApiError> {
        let res = send(
            Request::get(&self.url("/api/b2b/organization")),
            None::<&()>,
        )
        .await?;
        read(res).await
    }

    /// `PUT /api/b2b/organization/connected-apps`.
    pub async fn set_connected_apps(
        &self,
        settings: &ConnectedAppsSettings,
    ) -> Result<ConnectedAppsSettings, ApiError> {
        let url = self.url("/api/b2b/organization/connected-apps");
        let res = send(Request::put(&url), Some(settings)).await?;
        read(res).await
    }

    /// `PUT /api/b2b/members/{member_id}/roles`.
    pub async fn set_member_roles(
        &self,
        member_id: &str,
        roles: &SetRolesRequest,
    ) -> Result<MemberInfo, ApiError> {
        let id: String = form_urlencoded::byte_serialize(member_id.as_bytes()).collect();
        let res = send(
            Request::put(&self.url(&format!("/api/b2b/members/{id}/roles"))),
            Some(roles),
        )
        .await?;
        read(res).await
    }
}

async fn send<B: Serialize>(req: RequestBuilder, body: Option<&B>) -> Result<Response, ApiError> {
    let req = req.header("Accept", "application/json");
    let sent = match body {
        Some(b) => {
            req.json(b)
                .map_err(|e| ApiError::Network(e.to_string()))?
                .send()
                .await
        }
        None => req.send().await,
    };
    sent.map_err(|e| ApiError::Network(e.to_string()))
}

async fn read<T: DeserializeOwned>(res: Response) -> Result<T, ApiError> {
    if !res.ok() {
        return Err(error_of(res).await);
    }
    res.json::<T>()
        .await
        .map_err(|e| ApiError::Network(format!("unreadable answer: {e}")))
}

async fn error_of(res: Response) -> ApiError {
    let status = res.status();
    let body = res.json::<ErrorBody>().await.unwrap_or_else(|_| {
        let code = if status >= 500 {
            ErrorCode::ServerError
        } else {
            ErrorCode::InvalidRequest
        };
        ErrorBody::new(code.as_str(), Some(format!("the server answered {status}")))
    });
    ApiError::Server { status, body }
}

/// A server's refusal with `code` (400, no description), for tests.
#[cfg(test)]
pub(crate) fn refused(code: &str) -> ApiError {
    ApiError::Server {
        status: 400,
        body: ErrorBody::new(code, None),
    }
}

/// A path segment, percent-encoded (ids are base64url, but nothing here
/// relies on it).
fn url_escape(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}
