//! HTTP error responses, one type per endpoint family.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_types::ErrorBody;

fn body(e: &OAuthError) -> ErrorBody {
    ErrorBody::new(e.code.as_str(), e.description.clone())
}

fn log(e: &OAuthError, what: &str) {
    match e.code {
        ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable => {
            tracing::error!(error = %e, "{what} failed");
        }
        _ => tracing::info!(error = %e, "{what} refused"),
    }
}

/// An error of the JSON APIs the browser calls (`/api/...`): shown on a page,
/// never redirected.
#[derive(Debug)]
pub struct ApiError(pub OAuthError);

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> ApiError {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        api_response(&self.0, None)
    }
}

fn api_response(e: &OAuthError, login_url: Option<String>) -> Response {
    let (status, body) = api_refusal(e, login_url);
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The status and body of a JSON API's refusal, logged.
pub(crate) fn api_refusal(e: &OAuthError, login_url: Option<String>) -> (StatusCode, ErrorBody) {
    log(e, "api request");
    let status = match e.code {
        // Authorize errors before the redirect URI is verified are about the
        // request, not about authenticating a client: 400, not 401.
        ErrorCode::InvalidClient => StatusCode::BAD_REQUEST,
        c => StatusCode::from_u16(c.status()).unwrap_or(StatusCode::BAD_REQUEST),
    };
    let mut body = body(e);
    body.login_url = login_url;
    (status, body)
}

/// An error of the authorize API the `/idp` component calls: an
/// [`ApiError`], and with `login_required` the host app's sign-in page when
/// the app keeps its own login.
#[derive(Debug)]
pub(crate) struct PageError {
    pub error: ApiError,
    pub login_url: Option<String>,
}

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> PageError {
        PageError {
            error: e.into(),
            login_url: None,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        api_response(&self.error.0, self.login_url)
    }
}

/// An error of the token, revocation and introspection endpoints
/// (RFC 6749 §5.2): JSON, `Cache-Control: no-store`, and 401 with
/// `WWW-Authenticate` for `invalid_client`.
#[derive(Debug)]
pub struct TokenError(pub OAuthError);

impl From<OAuthError> for TokenError {
    fn from(e: OAuthError) -> TokenError {
        TokenError(e)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        log(&self.0, "token endpoint request");
        let status = StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut res = (status, Json(body(&self.0))).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.0.code == ErrorCode::InvalidClient {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"keyhouse\""),
            );
        }
        res
    }
}

/// An error of a bearer-protected resource (RFC 6750 §3).
#[derive(Debug)]
pub struct BearerError {
    /// `invalid_token`, `insufficient_scope`, `invalid_request`, or none
    /// (no token at all: RFC 6750 §3.1 says to send no error code).
    pub error: Option<OAuthError>,
    /// Every scope the operation needs, for `insufficient_scope`.
    pub scope: Option<String>,
    /// The RFC 9728 metadata URL of the resource, sent in the challenge so
    /// a client that has no token (or not the right one) can find where to
    /// get one.
    pub resource_metadata: Option<String>,
}

impl BearerError {
    /// No credentials were sent.
    pub fn missing() -> BearerError {
        BearerError {
            error: None,
            scope: None,
            resource_metadata: None,
        }
    }

    /// The token is not valid.
    pub fn invalid(description: &str) -> BearerError {
        BearerError {
            error: Some(OAuthError::new(ErrorCode::InvalidToken, description)),
            scope: None,
            resource_metadata: None,
        }
    }

    /// The token lacks `scope`.
    pub fn insufficient(scope: &str) -> BearerError {
        BearerError::insufficient_all(&[scope])
    }

    /// The token lacks some of `scopes`, every scope the operation needs:
    /// the challenge names them all, so a client stepping up asks for all
    /// of them at once (MCP authorization, "Scope challenge handling").
    pub fn insufficient_all(scopes: &[&str]) -> BearerError {
        let list = scopes.join(" ");
        BearerError {
            error: Some(OAuthError::new(
                ErrorCode::InsufficientScope,
                format!("this request needs the scopes: {list}"),
            )),
            scope: Some(list),
            resource_metadata: None,
        }
    }

    /// A forbidden or refused request, with its code.
    pub fn refused(code: ErrorCode, description: String) -> BearerError {
        BearerError {
            error: Some(OAuthError::new(code, description)),
            scope: None,
            resource_metadata: None,
        }
    }

    /// For a request without a token: the scopes a client should ask for.
    pub fn with_scope_hint(mut self, scopes: &[String]) -> BearerError {
        if self.error.is_none() && self.scope.is_none() && !scopes.is_empty() {
            self.scope = Some(scopes.join(" "));
        }
        self
    }

    /// Names the resource's metadata in the challenge.
    pub fn with_resource_metadata(mut self, url: Option<&str>) -> BearerError {
        if self.resource_metadata.is_none() {
            self.resource_metadata = url.map(str::to_owned);
        }
        self
    }

    /// The store failed while checking the token.
    pub fn unavailable(debug: String) -> BearerError {
        BearerError {
            error: Some(OAuthError::bare(ErrorCode::TemporarilyUnavailable).with_debug(debug)),
            scope: None,
            resource_metadata: None,
        }
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let mut challenge = "Bearer realm=\"keyhouse\"".to_owned();
        if let Some(url) = &self.resource_metadata {
            challenge.push_str(&format!(", resource_metadata=\"{url}\""));
        }
        let (status, json) = match &self.error {
            None => {
                // No token at all: the scopes to start with (MCP clients
                // take them from here), no error code (RFC 6750 §3.1).
                if let Some(s) = &self.scope {
                    challenge.push_str(&format!(", scope=\"{s}\""));
                }
                (StatusCode::UNAUTHORIZED, None)
            }
            Some(e) => {
                log(e, "bearer request");
                challenge.push_str(&format!(", error=\"{}\"", e.code.as_str()));
                if let Some(d) = &e.description {
                    challenge.push_str(&format!(", error_description=\"{}\"", d.replace('"', "'")));
                }
                if let Some(s) = &self.scope {
                    challenge.push_str(&format!(", scope=\"{s}\""));
                }
                let status =
                    StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::UNAUTHORIZED);
                (status, Some(body(e)))
            }
        };
        let mut res = match json {
            Some(b) => (status, Json(b)).into_response(),
            None => status.into_response(),
        };
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}

/// Maps a store failure to a protocol error (503: the database is down or
/// busy; the cause goes to the log).
pub(crate) fn store_error(e: keyhouse_store::StoreError) -> OAuthError {
    OAuthError::bare(ErrorCode::TemporarilyUnavailable).with_debug(e.to_string())
}
