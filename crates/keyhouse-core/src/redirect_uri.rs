//! Redirect URI registration rules and matching (RFC 6749 §3.1.2, RFC 8252
//! §7.3, RFC 9700 §4.1.3).
//!
//! Matching is done on the bytes, never on a parsed-and-normalised URL:
//! normalisation is exactly what attackers exploit (Keycloak CVE-2023-6291).

use keyhouse_types::redirect_uri;
use url::Url;

use crate::error::{ErrorCode, OAuthError};

const LOOPBACK_V4: &str = "http://127.0.0.1";
const LOOPBACK_V6: &str = "http://[::1]";

/// Checks a redirect URI an operator or a registration request wants to
/// register for a client: the shared rule of
/// [`keyhouse_types::redirect_uri::validate_registration`], answered with
/// `invalid_redirect_uri`.
pub fn validate_registration(uri: &str, public_client: bool) -> Result<(), OAuthError> {
    redirect_uri::validate_registration(uri, public_client)
        .map_err(|e| OAuthError::new(ErrorCode::InvalidRedirectUri, e.description()))
}

/// Finds the registered URI that `requested` matches, if any.
///
/// Byte-exact comparison, with one exception from RFC 8252 §7.3: for public
/// (native) clients registered with a loopback IP literal, the port may vary.
pub fn find_match<'a>(
    registered: &'a [String],
    requested: &str,
    public_client: bool,
) -> Option<&'a String> {
    registered
        .iter()
        .find(|r| r.as_str() == requested || (public_client && loopback_port_match(r, requested)))
}

fn loopback_port_match(registered: &str, requested: &str) -> bool {
    for host in [LOOPBACK_V4, LOOPBACK_V6] {
        if let (Some(reg_rest), Some(req_rest)) =
            (registered.strip_prefix(host), requested.strip_prefix(host))
        {
            return strip_port(reg_rest) == strip_port(req_rest) && strip_port(req_rest).is_some();
        }
    }
    false
}

/// After the host: an optional `:port` (1–5 digits, ≤ 65535), then a path
/// that must begin with `/` (or nothing).
fn strip_port(rest: &str) -> Option<&str> {
    let after = match rest.strip_prefix(':') {
        None => rest,
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            let port: u32 = p.get(..digits)?.parse().ok()?;
            if digits == 0 || digits > 5 || port > 65535 {
                return None;
            }
            &p[digits..]
        }
    };
    (after.is_empty() || after.starts_with('/')).then_some(after)
}

/// The host (and port, when not the scheme's default) the browser will be
/// sent to, for the consent screen ("you will be sent to …").
pub fn display_host(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => url.scheme().to_owned(),
        },
        Err(_) => String::new(),
    }
}

/// Whether `uri` sends the browser to this device (an http loopback URI).
pub fn is_loopback(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http" && matches!(u.host_str(), Some(h) if redirect_uri::is_loopback_host(h))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:33418/cb"));
        assert!(is_loopback("http://localhost/cb"));
        assert!(is_loopback("http://[::1]:9/cb"));
        assert!(!is_loopback("https://127.0.0.1.example/cb"));
        assert!(!is_loopback("https://chat.example/cb"));
    }

    #[test]
    fn exact_match_table() {
        let reg = vec!["https://good.example/cb".to_owned()];
        let table = [
            ("https://good.example/cb", true),
            ("https://good.example/cb/", false),
            ("https://GOOD.example/cb", false),
            ("https://good.example/CB", false),
            ("https://good.example/cb/../cb", false),
            ("https://good.example/cb?x=1", false),
            ("https://good.example/cb#x", false),
            ("https://good.example@evil.example/cb", false),
            ("https://good.example:443/cb", false),
        ];
        for (req, ok) in table {
            assert_eq!(find_match(&reg, req, false).is_some(), ok, "{req}");
            assert_eq!(find_match(&reg, req, true).is_some(), ok, "{req} (public)");
        }
    }

    #[test]
    fn loopback_port_table() {
        let reg = vec![
            "http://127.0.0.1/cb".to_owned(),
            "http://[::1]:1/cb".to_owned(),
        ];
        let table = [
            ("http://127.0.0.1:51000/cb", true, true),
            ("http://127.0.0.1/cb", true, true),
            ("http://[::1]:8080/cb", true, true),
            ("http://127.0.0.1:51000/cb", false, false),
            ("HTTP://127.0.0.1:51000/cb", true, false),
            ("http://127.000.000.001:51000/cb", true, false),
            ("http://127.0.0.1:51000/other", true, false),
            ("http://127.0.0.1:99999/cb", true, false),
            ("http://127.0.0.1:/cb", true, false),
            ("http://127.0.0.1:80@evil.example/cb", true, false),
        ];
        for (req, public, ok) in table {
            assert_eq!(
                find_match(&reg, req, public).is_some(),
                ok,
                "{req} public={public}"
            );
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            display_host("https://chat.openai.com/aip/cb"),
            "chat.openai.com"
        );
        assert_eq!(display_host("http://127.0.0.1:5000/cb"), "127.0.0.1:5000");
    }
}
