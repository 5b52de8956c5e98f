//! The error codes of the OAuth and OpenID Connect specifications, shared
//! by the server (which sends them) and the browser components (which decide
//! what to show from them), so neither side matches on string literals.

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
    /// Not an RFC code: a mailed sign-in link was opened in a browser other
    /// than the one that asked for it (`400`); the code in the same message
    /// works in that one.
    WrongBrowser,
    /// Not an RFC code: the action needs a recent sign-in (an account with
    /// no password whose session is older than the window), `403`; signing
    /// in again allows it.
    ReauthenticationRequired,
    /// Not an RFC code: an operator requires a new password before this
    /// account's password signs in again (`403`); a reset link was mailed.
    PasswordResetRequired,
    /// Not an RFC code: an operator disabled this account (`403`), told
    /// only after its password or mailed code was right.
    AccountDisabled,
    /// Not an RFC code: the first factor was right and a second one is
    /// needed (`401`): a code from the authenticator app, or a recovery
    /// code, to `POST /api/session/second-factor`. Also the answer of an
    /// authorization request whose `acr_values` ask for two factors from a
    /// session that used one: the same call steps it up.
    SecondFactorRequired,
    /// Not an RFC code: the app asks for two factors (`acr_values`) and the
    /// account has no second factor to step up with (`403`); turning one
    /// on in the account settings allows it.
    SecondFactorSetupRequired,
    /// Not an RFC code: the app asks for a phishing-resistant sign-in
    /// (`acr_values`), which only a passkey gives (`401`): signing in with
    /// one (`POST /api/session/passkey`) steps the session up; an account
    /// with none adds one in its settings first.
    PasskeyRequired,
    /// Not an RFC code: the organization's members sign in only through its
    /// single sign-on (`403`): `GET /api/b2b/sso/start` begins it.
    SsoRequired,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidClient,
        ErrorCode::InvalidGrant,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::UnsupportedResponseType,
        ErrorCode::InvalidScope,
        ErrorCode::AccessDenied,
        ErrorCode::ServerError,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::InvalidTarget,
        ErrorCode::LoginRequired,
        ErrorCode::ConsentRequired,
        ErrorCode::InteractionRequired,
        ErrorCode::InvalidToken,
        ErrorCode::InsufficientScope,
        ErrorCode::InvalidRedirectUri,
        ErrorCode::InvalidClientMetadata,
        ErrorCode::SessionRequired,
        ErrorCode::InvalidCredentials,
        ErrorCode::CsrfDetected,
        ErrorCode::TooManyAttempts,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::WrongBrowser,
        ErrorCode::ReauthenticationRequired,
        ErrorCode::PasswordResetRequired,
        ErrorCode::AccountDisabled,
        ErrorCode::SecondFactorRequired,
        ErrorCode::SecondFactorSetupRequired,
        ErrorCode::PasskeyRequired,
        ErrorCode::SsoRequired,
    ];

    /// Reads a code from the wire (`None` for a code Keyhouse never sends).
    pub fn parse(s: &str) -> Option<ErrorCode> {
        use ErrorCode::*;
        Some(match s {
            "invalid_request" => InvalidRequest,
            "invalid_client" => InvalidClient,
            "invalid_grant" => InvalidGrant,
            "unauthorized_client" => UnauthorizedClient,
            "unsupported_grant_type" => UnsupportedGrantType,
            "unsupported_response_type" => UnsupportedResponseType,
            "invalid_scope" => InvalidScope,
            "access_denied" => AccessDenied,
            "server_error" => ServerError,
            "temporarily_unavailable" => TemporarilyUnavailable,
            "invalid_target" => InvalidTarget,
            "login_required" => LoginRequired,
            "consent_required" => ConsentRequired,
            "interaction_required" => InteractionRequired,
            "invalid_token" => InvalidToken,
            "insufficient_scope" => InsufficientScope,
            "invalid_redirect_uri" => InvalidRedirectUri,
            "invalid_client_metadata" => InvalidClientMetadata,
            "session_required" => SessionRequired,
            "invalid_credentials" => InvalidCredentials,
            "csrf_detected" => CsrfDetected,
            "too_many_attempts" => TooManyAttempts,
            "not_found" => NotFound,
            "conflict" => Conflict,
            "wrong_browser" => WrongBrowser,
            "reauthentication_required" => ReauthenticationRequired,
            "password_reset_required" => PasswordResetRequired,
            "account_disabled" => AccountDisabled,
            "second_factor_required" => SecondFactorRequired,
            "second_factor_setup_required" => SecondFactorSetupRequired,
            "passkey_required" => PasskeyRequired,
            "sso_required" => SsoRequired,
            _ => return None,
        })
    }

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
            WrongBrowser => "wrong_browser",
            ReauthenticationRequired => "reauthentication_required",
            PasswordResetRequired => "password_reset_required",
            AccountDisabled => "account_disabled",
            SecondFactorRequired => "second_factor_required",
            SecondFactorSetupRequired => "second_factor_setup_required",
            PasskeyRequired => "passkey_required",
            SsoRequired => "sso_required",
        }
    }

    /// The HTTP status this code is answered with when it is not redirected.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            // RFC 6749 §5.2: 401 for invalid_client when the client tried to authenticate.
            // login_required shown on a page (not redirected): the user must sign in.
            InvalidClient | InvalidToken | SessionRequired | InvalidCredentials | LoginRequired
            | SecondFactorRequired | PasskeyRequired => 401,
            AccessDenied
            | InsufficientScope
            | CsrfDetected
            | ReauthenticationRequired
            | PasswordResetRequired
            | AccountDisabled
            | SecondFactorSetupRequired
            | SsoRequired => 403,
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

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_reads_back_from_its_wire_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("made_up"), None);
    }

    #[test]
    fn statuses_follow_the_specifications() {
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
}
