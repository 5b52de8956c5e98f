//! A small client for the Keyhouse browser API (`/api/session*`,
//! `/api/idp/*`), built on gloo-net. Host apps can reuse it for their own
//! login and sign-up pages.

use gloo_net::http::{Request, RequestBuilder, Response};
use keyhouse_types::{
    AuthorizeDecision, AuthorizeParams, AuthorizeStartResponse, ErrorBody, LoginRequest,
    RedirectResponse, SessionResponse, SignupRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// The server's explanation, if it sent one.
    pub fn description(&self) -> Option<&str> {
        match self {
            ApiError::Server { body, .. } => body.error_description.as_deref(),
            ApiError::Network(m) => Some(m),
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

    /// `POST /api/session/signup`: creates the user and signs them in.
    pub async fn signup(&self, req: &SignupRequest) -> Result<SessionResponse, ApiError> {
        let res = send(Request::post(&self.url("/api/session/signup")), Some(req)).await?;
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
    let body = res.json::<ErrorBody>().await.unwrap_or_else(|_| ErrorBody {
        error: if status >= 500 {
            "server_error".into()
        } else {
            "invalid_request".into()
        },
        error_description: Some(format!("the server answered {status}")),
    });
    ApiError::Server { status, body }
}
