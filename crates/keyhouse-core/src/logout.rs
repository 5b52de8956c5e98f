//! Signing out of the clients a session signed into: OpenID Connect
//! RP-Initiated Logout 1.0 (the client sends the browser to the
//! `end_session_endpoint`) and Back-Channel Logout 1.0 (Keyhouse tells
//! each client that registered a `backchannel_logout_uri`, server to
//! server, that a session it signed in with has ended).
//!
//! The rules live here; the endpoint, the stored notices and their delivery
//! are `keyhouse-axum`'s and `keyhouse-store`'s.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ErrorCode, OAuthError};
use crate::redirect_uri;

/// The one event a logout token carries (Back-Channel Logout §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `typ` header of a logout token (Back-Channel Logout §2.4).
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";

/// How long a logout token is valid, seconds: long enough for clock skew,
/// short enough that a captured one is soon worthless.
pub const LOGOUT_TOKEN_TTL: i64 = 120;

/// The most post-logout redirect URIs one client may register.
pub const MAX_POST_LOGOUT_REDIRECT_URIS: usize = 20;

/// The `sid` of a browser session: what ID tokens and logout tokens name it
/// by. Derived from the stored hash of the session id (itself a hash of the
/// cookie), so it is stable for the session's life, needs no column, and
/// leads back to nothing a browser holds.
pub fn session_sid(session_id_hash: &str) -> String {
    let digest = Sha256::digest(format!("keyhouse:sid:{session_id_hash}").as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..18])
}

/// Claims of a logout token (Back-Channel Logout §2.4): never a `nonce`,
/// always the event, `sid` when the session is known.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogoutTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The subject whose session ended.
    pub sub: String,
    /// The client told.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry ([`LOGOUT_TOKEN_TTL`] after `iat`).
    pub exp: i64,
    /// Unique per token, so a client can refuse a replay.
    pub jti: String,
    /// `{ BACKCHANNEL_EVENT: {} }`.
    pub events: serde_json::Value,
    /// The session that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl LogoutTokenClaims {
    /// The claims telling `client_id` that `subject`'s session `sid` ended.
    pub fn new(
        issuer: &str,
        client_id: &str,
        subject: &str,
        sid: Option<&str>,
        jti: String,
        now: i64,
    ) -> LogoutTokenClaims {
        LogoutTokenClaims {
            iss: issuer.to_owned(),
            sub: subject.to_owned(),
            aud: client_id.to_owned(),
            iat: now,
            exp: now + LOGOUT_TOKEN_TTL,
            jti,
            events: serde_json::json!({ BACKCHANNEL_EVENT: {} }),
            sid: sid.map(str::to_owned),
        }
    }
}

fn bad_metadata(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

/// Checks `post_logout_redirect_uris` for a registration: the redirect URI
/// rules (absolute, no fragment, https or a loopback for a public client),
/// at most [`MAX_POST_LOGOUT_REDIRECT_URIS`], duplicates dropped.
pub fn validate_post_logout_redirect_uris(
    uris: &[String],
    public_client: bool,
) -> Result<Vec<String>, OAuthError> {
    if uris.len() > MAX_POST_LOGOUT_REDIRECT_URIS {
        return Err(bad_metadata(
            "register at most 20 post_logout_redirect_uris",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for uri in uris {
        redirect_uri::validate_registration(uri, public_client).map_err(|e| {
            OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                format!(
                    "post_logout_redirect_uris: {}",
                    e.description.unwrap_or_default()
                ),
            )
        })?;
        if !out.contains(uri) {
            out.push(uri.clone());
        }
    }
    Ok(out)
}

/// Checks a `backchannel_logout_uri` (Back-Channel Logout §2.2): an
/// absolute https URL with a host, no fragment, at most 500 bytes. A query
/// is allowed (the specification keeps it). Where it resolves is checked
/// when a notice is delivered, by the guarded fetcher.
pub fn validate_backchannel_logout_uri(uri: Option<&str>) -> Result<(), OAuthError> {
    let Some(uri) = uri else { return Ok(()) };
    // The parser reads `https:///x` as `https://x/`; refused as written.
    let ok = uri.len() <= 500
        && uri
            .strip_prefix("https://")
            .is_some_and(|rest| !rest.starts_with('/'))
        && !uri.contains('#')
        && url::Url::parse(uri).is_ok_and(|u| {
            u.scheme() == "https"
                && u.host().is_some()
                && u.fragment().is_none()
                && u.username().is_empty()
                && u.password().is_none()
        });
    if ok {
        Ok(())
    } else {
        Err(bad_metadata(
            "backchannel_logout_uri must be an absolute https URL without a fragment or credentials",
        ))
    }
}

/// Where the browser goes after signing out: the registered
/// `post_logout_redirect_uri`, byte for byte, with `state` added when the
/// request had one (RP-Initiated Logout §3). `None` when the URI is not one
/// the client registered: then the browser stays on Keyhouse's page.
pub fn post_logout_redirect(
    registered: &[String],
    requested: &str,
    state: Option<&str>,
) -> Option<String> {
    let uri = registered.iter().find(|r| r.as_str() == requested)?;
    let Some(state) = state else {
        return Some(uri.clone());
    };
    let mut url = url::Url::parse(uri).ok()?;
    url.query_pairs_mut().append_pair("state", state);
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sid_is_stable_per_session_and_differs_between_sessions() {
        assert_eq!(session_sid("a"), session_sid("a"));
        assert_ne!(session_sid("a"), session_sid("b"));
        assert_eq!(session_sid("a").len(), 24);
        assert!(!session_sid("abc").contains("abc"));
    }

    #[test]
    fn only_a_registered_uri_is_redirected_to_and_state_is_kept() {
        let reg = vec!["https://rp.example/bye?x=1".to_owned()];
        assert_eq!(
            post_logout_redirect(&reg, "https://rp.example/bye?x=1", Some("a b")).as_deref(),
            Some("https://rp.example/bye?x=1&state=a+b")
        );
        assert_eq!(
            post_logout_redirect(&reg, "https://rp.example/bye?x=1", None).as_deref(),
            Some("https://rp.example/bye?x=1")
        );
        for near in [
            "https://rp.example/bye",
            "https://rp.example/bye?x=1&y=2",
            "https://RP.example/bye?x=1",
            "https://rp.example/bye?x=1#",
            "https://evil.example/bye?x=1",
        ] {
            assert_eq!(post_logout_redirect(&reg, near, None), None, "{near}");
        }
    }

    #[test]
    fn registration_rules() {
        let v = |u: &[&str], public| {
            validate_post_logout_redirect_uris(
                &u.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
                public,
            )
        };
        assert_eq!(
            v(&["https://a.example/x", "https://a.example/x"], false).ok(),
            Some(vec!["https://a.example/x".to_owned()])
        );
        assert!(v(&["https://a.example/x#f"], false).is_err());
        assert!(v(&["javascript:alert(1)"], false).is_err());
        assert!(v(&["http://a.example/x"], false).is_err());
        assert!(v(&["http://127.0.0.1:4000/x"], true).is_ok());
        assert!(v(&vec!["https://a.example/x"; 21], false).is_err());

        for ok in [
            None,
            Some("https://rp.example/backchannel"),
            Some("https://rp.example/bc?tenant=1"),
        ] {
            assert!(validate_backchannel_logout_uri(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "http://rp.example/backchannel",
            "https://rp.example/bc#x",
            "https://user:pw@rp.example/bc",
            "/relative",
            "https:///nohost",
        ] {
            assert!(validate_backchannel_logout_uri(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_logout_token_has_the_event_and_no_nonce() {
        let c = LogoutTokenClaims::new("https://i", "c", "u", Some("s"), "j".into(), 100);
        let v = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(v["events"][BACKCHANNEL_EVENT], serde_json::json!({}));
        assert_eq!(v["exp"], 100 + LOGOUT_TOKEN_TTL);
        assert!(v.get("nonce").is_none());
        let without = LogoutTokenClaims::new("https://i", "c", "u", None, "j".into(), 100);
        assert!(
            serde_json::to_value(&without)
                .unwrap_or_default()
                .get("sid")
                .is_none()
        );
    }
}
