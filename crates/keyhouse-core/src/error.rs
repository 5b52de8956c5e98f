//! Protocol errors: a code (from `keyhouse-types`, shared with the browser),
//! a description for the client and a cause for the logs.

use std::fmt;

pub use keyhouse_types::ErrorCode;

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
    fn display_hides_nothing_from_logs() {
        let e = OAuthError::invalid_grant("expired").with_debug("code abc");
        assert_eq!(e.to_string(), "invalid_grant: expired (code abc)");
    }
}
