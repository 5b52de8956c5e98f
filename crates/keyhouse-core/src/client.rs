//! Connected Apps (OAuth clients) as the protocol sees them.

use keyhouse_types::ClientType;

use crate::error::{ErrorCode, OAuthError};
use crate::redirect_uri;

/// When a client receives refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshPolicy {
    /// Only when `offline_access` was requested and granted.
    OfflineAccess,
    /// With every authorization-code exchange (what ChatGPT's Actions expect
    /// from a confidential third-party app).
    Always,
}

impl RefreshPolicy {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshPolicy::OfflineAccess => "offline_access",
            RefreshPolicy::Always => "always",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<RefreshPolicy> {
        match s {
            "offline_access" => Some(RefreshPolicy::OfflineAccess),
            "always" => Some(RefreshPolicy::Always),
            _ => None,
        }
    }

    /// The default for a client type: `Always` for confidential third-party
    /// apps (a GPT must keep working after the access token expires),
    /// `OfflineAccess` for everyone else.
    pub fn default_for(client_type: ClientType) -> RefreshPolicy {
        match client_type {
            ClientType::ThirdParty => RefreshPolicy::Always,
            _ => RefreshPolicy::OfflineAccess,
        }
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// One of Stytch's four types.
    pub client_type: ClientType,
    /// Display name.
    pub name: String,
    /// Description, may be empty.
    pub description: String,
    /// https logo, if any.
    pub logo_uri: Option<String>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Access-token lifetime in seconds.
    pub access_token_ttl: i64,
    /// When refresh tokens are issued.
    pub refresh_policy: RefreshPolicy,
    /// Creation time (unix seconds).
    pub created_at: i64,
    /// A custom `aud` for this client's access tokens (an absolute URL),
    /// when they are meant for another API than the default audience. An
    /// RFC 8707 `resource` in the request still wins.
    pub audience: Option<String>,
    /// Extra access-token claims: a JSON object whose string values may
    /// use `{{sub}}`, `{{email}}`, `{{name}}`, `{{organization_id}}` and
    /// `{{organization_slug}}`. See [`crate::claims::render_template`].
    pub claims_template: Option<String>,
}

impl Client {
    /// Public clients authenticate with `none` and must use PKCE.
    pub fn is_public(&self) -> bool {
        self.client_type.is_public()
    }
}

/// Bounds on the access-token lifetime a client may be given, in seconds.
pub const ACCESS_TOKEN_TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=86_400;

/// Checks a custom audience: an absolute http(s) URL of at most 200 bytes.
pub fn validate_audience(audience: Option<&str>) -> Result<(), OAuthError> {
    let Some(a) = audience else { return Ok(()) };
    let ok = a.len() <= 200
        && url::Url::parse(a)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
    if ok {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "audience must be an absolute https URL",
        ))
    }
}

/// Checks what an operator asks to register.
pub fn validate_new_client(
    name: &str,
    client_type: ClientType,
    redirect_uris: &[String],
    logo_uri: Option<&str>,
    access_token_ttl: i64,
) -> Result<(), OAuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "name must be 1 to 100 characters",
        ));
    }
    if redirect_uris.is_empty() || redirect_uris.len() > 20 {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "register 1 to 20 redirect URIs",
        ));
    }
    for uri in redirect_uris {
        redirect_uri::validate_registration(uri, client_type.is_public())?;
    }
    if let Some(logo) = logo_uri {
        let ok = url::Url::parse(logo).is_ok_and(|u| u.scheme() == "https");
        if !ok {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "logo_uri must be an https URL",
            ));
        }
    }
    if !ACCESS_TOKEN_TTL_RANGE.contains(&access_token_ttl) {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "access-token lifetime must be between 60 and 86400 seconds",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_client_table() {
        let good = vec!["https://a.example/cb".to_owned()];
        // name, redirect URIs, logo, ttl, accepted
        type Case<'a> = (&'a str, Vec<String>, Option<&'a str>, i64, bool);
        let table: [Case; 6] = [
            ("GPT", good.clone(), None, 3600, true),
            ("", good.clone(), None, 3600, false),
            ("GPT", vec![], None, 3600, false),
            (
                "GPT",
                good.clone(),
                Some("javascript:alert(1)"),
                3600,
                false,
            ),
            (
                "GPT",
                good.clone(),
                Some("http://a.example/logo.png"),
                3600,
                false,
            ),
            ("GPT", good.clone(), None, 10, false),
        ];
        for (name, uris, logo, ttl, ok) in table {
            let got = validate_new_client(name, ClientType::ThirdParty, &uris, logo, ttl);
            assert_eq!(got.is_ok(), ok, "{name:?} {uris:?} {logo:?} {ttl}");
        }
    }
}
