//! The error codes of the OAuth and OpenID Connect specifications.

use std::fmt;

/// Every error code Keyhouse answers with, from RFC 6749 §4.1.2.1 and §5.2,
/// RFC 6750 §3.1, RFC 8707 §2, RFC 7591 §3.2.2 and OIDC Core §3.1.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// RFC 6749 §5.2: "The request is missing a required parameter, includes an
    /// unsupported parameter value …, repeats a parameter, … or is otherwise malformed."
    InvalidRequest,
    /// RFC 6749 §5.2: "Client authentication failed."
    InvalidClient,
    /// RFC 6749 §5.2: "The provided authorization grant … or refresh token is
    /// invalid, expired, revoked, does not match the redirection URI …"
    InvalidGrant,
    /// RFC 6749 §5.2: "The authenticated client is not authorized to use this
    /// authorization grant type."
    UnauthorizedClient,
    /// RFC 6749 §5.2: "The authorization grant type is not supported."
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1: response type not supported.
    UnsupportedResponseType,
    /// RFC 6749 §5.2: "The requested scope is invalid, unknown, malformed, or
    /// exceeds the scope granted by the resource owner."
    InvalidScope,
    /// RFC 6749 §4.1.2.1: "The resource owner … denied the request."
    AccessDenied,
    /// RFC 6749 §4.1.2.1: an unexpected condition.
    ServerError,
    /// RFC 6749 §4.1.2.1: temporarily overloaded or under maintenance.
    TemporarilyUnavailable,
    /// RFC 8707 §2: the requested resource is invalid or unknown.
    InvalidTarget,
    /// OIDC Core §3.1.2.6: `prompt=none` and the user is not signed in.
    LoginRequired,
    /// OIDC Core §3.1.2.6: `prompt=none` and consent is needed.
    ConsentRequired,
    /// OIDC Core §3.1.2.6: `prompt=none` and some interaction is needed.
    InteractionRequired,
    /// RFC 6750 §3.1: the access token is expired, revoked or malformed.
    InvalidToken,
    /// RFC 6750 §3.1: the token lacks a required scope.
    InsufficientScope,
    /// RFC 7591 §3.2.2: a redirect URI is invalid.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: a metadata field is invalid.
    InvalidClientMetadata,
    /// Not an RFC code: the browser call needs a session (`401`).
    SessionRequired,
    /// Not an RFC code: login failed; one answer for an unknown email and a
    /// wrong password (`401`).
    InvalidCredentials,
    /// Not an RFC code: a cross-site browser request was refused (`403`).
    CsrfDetected,
    /// Not an RFC code: too many failed attempts; try later (`429`).
    TooManyAttempts,
    /// Not an RFC code: the thing asked for does not exist (`404`).
    NotFound,
    /// Not an RFC code: the request conflicts with existing data (`409`).
    Conflict,
}

impl ErrorCode {
    /// The code as sent on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            UnsupportedResponseType => "unsupported_response_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
            InvalidTarget => "invalid_target",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            InteractionRequired => "interaction_required",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            InvalidRedirectUri => "invalid_redirect_uri",
            InvalidClientMetadata => "invalid_client_metadata",
            SessionRequired => "session_required",
            InvalidCredentials => "invalid_credentials",
            CsrfDetected => "csrf_detected",
            TooManyAttempts => "too_many_attempts",
            NotFound => "not_found",
            Conflict => "conflict",
        }
    }

    /// The HTTP status this code is answered with when it is not redirected.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            // RFC 6749 §5.2: 401 for invalid_client when the client tried to authenticate.
            // login_required shown on a page (not redirected): the user must sign in.
            InvalidClient | InvalidToken | SessionRequired | InvalidCredentials | LoginRequired => {
                401
            }
            AccessDenied | InsufficientScope | CsrfDetected => 403,
            NotFound => 404,
            TooManyAttempts => 429,
            Conflict => 409,
            ServerError => 500,
            TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol error: a code, a description that may be sent to the client,
/// and a debug cause that is only logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC code.
    pub code: ErrorCode,
    /// Sent as `error_description`.
    pub description: Option<String>,
    /// Logged, never sent.
    pub debug: Option<String>,
}

impl OAuthError {
    /// An error with a description for the client.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: Some(description.into()),
            debug: None,
        }
    }

    /// An error with no description.
    pub fn bare(code: ErrorCode) -> Self {
        OAuthError {
            code,
            description: None,
            debug: None,
        }
    }

    /// Adds a cause for the logs.
    pub fn with_debug(mut self, debug: impl Into<String>) -> Self {
        self.debug = Some(debug.into());
        self
    }

    /// A shorthand for `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    /// A shorthand for `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        OAuthError::new(ErrorCode::InvalidGrant, description)
    }

    /// A `server_error` carrying a cause for the logs only.
    pub fn server(debug: impl Into<String>) -> Self {
        OAuthError::bare(ErrorCode::ServerError).with_debug(debug)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        if let Some(d) = &self.debug {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let table = [
            (ErrorCode::InvalidRequest, 400, "invalid_request"),
            (ErrorCode::InvalidClient, 401, "invalid_client"),
            (ErrorCode::InvalidGrant, 400, "invalid_grant"),
            (ErrorCode::InsufficientScope, 403, "insufficient_scope"),
            (ErrorCode::InvalidToken, 401, "invalid_token"),
            (ErrorCode::ServerError, 500, "server_error"),
            (
                ErrorCode::TemporarilyUnavailable,
                503,
                "temporarily_unavailable",
            ),
            (ErrorCode::InvalidTarget, 400, "invalid_target"),
        ];
        for (code, status, name) in table {
            assert_eq!(code.status(), status, "{name}");
            assert_eq!(code.as_str(), name);
        }
    }

    #[test]
    fn display_hides_nothing_from_logs() {
        let e = OAuthError::invalid_grant("expired").with_debug("code abc");
        assert_eq!(e.to_string(), "invalid_grant: expired (code abc)");
    }
}
