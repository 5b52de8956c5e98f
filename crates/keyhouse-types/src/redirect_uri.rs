//! The rule for which redirect URIs a client may register (RFC 6749 §3.1.2,
//! RFC 8252 §7, RFC 9700 §4.1.3), shared by the server, which enforces it,
//! and the dashboard's form, which explains it before anything is sent.
//!
//! Matching a requested URI against the registered ones is the server's
//! business and lives in `keyhouse-core`; what may be registered lives here
//! so that both sides run one implementation.

use url::Url;

/// The longest redirect URI accepted.
pub const MAX_LENGTH: usize = 2000;

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectUriError {
    /// Longer than [`MAX_LENGTH`] characters.
    TooLong,
    /// Contains whitespace or control characters.
    Whitespace,
    /// Not an absolute URL (no scheme, or unparseable, or a bad port).
    NotAbsolute,
    /// An `http`/`https` URI without a valid host or port (`https:///cb`,
    /// `https://a.example:99999/cb`).
    BadHost,
    /// Has a `#fragment` (RFC 6749 §3.1.2).
    Fragment,
    /// Has user information (`user:pass@`).
    UserInfo,
    /// Plain `http` on a host that is not a loopback one.
    HttpNotLoopback,
    /// A scheme that can run code or is not a redirect (`javascript:`, `data:`, …).
    DangerousScheme,
    /// Any other scheme; private-use schemes (`com.example.app:`) are for
    /// public clients only (RFC 8252 §7.1).
    SchemeNotAllowed,
}

impl RedirectUriError {
    /// The `error_description` the server sends with `invalid_redirect_uri`.
    pub fn description(self) -> &'static str {
        match self {
            RedirectUriError::TooLong => "redirect URI is longer than 2000 characters",
            RedirectUriError::Whitespace => {
                "redirect URI contains whitespace or control characters"
            }
            RedirectUriError::NotAbsolute => "redirect URI is not an absolute URL",
            RedirectUriError::BadHost => "redirect URI has no valid host or port",
            RedirectUriError::Fragment => "redirect URI must not contain a fragment",
            RedirectUriError::UserInfo => "redirect URI must not contain user information",
            RedirectUriError::HttpNotLoopback => {
                "http redirect URIs are only allowed on loopback hosts"
            }
            RedirectUriError::DangerousScheme => "this redirect URI scheme is not allowed",
            RedirectUriError::SchemeNotAllowed => {
                "redirect URIs must be https, loopback http, or (public clients) a private-use scheme"
            }
        }
    }
}

/// Whether `host` is one of the loopback names a development or native
/// client may use over plain http.
pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

/// Checks a redirect URI a client wants to register.
///
/// Allowed: `https` URLs; `http` on a loopback host (`127.0.0.1`, `[::1]`,
/// `localhost`) for development and native apps; for public clients, a
/// private-use scheme with a dot (`com.example.app:/cb`, RFC 8252 §7.1).
/// Never: fragments, user info, `javascript:`, `data:` and friends.
pub fn validate_registration(uri: &str, public_client: bool) -> Result<(), RedirectUriError> {
    if uri.len() > MAX_LENGTH {
        return Err(RedirectUriError::TooLong);
    }
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(RedirectUriError::Whitespace);
    }
    let url = Url::parse(uri).map_err(|e| match e {
        url::ParseError::EmptyHost
        | url::ParseError::InvalidPort
        | url::ParseError::InvalidIpv4Address
        | url::ParseError::InvalidIpv6Address
        | url::ParseError::InvalidDomainCharacter
        | url::ParseError::IdnaError => RedirectUriError::BadHost,
        _ => RedirectUriError::NotAbsolute,
    })?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::UserInfo);
    }
    match url.scheme() {
        scheme @ ("https" | "http") => {
            // The URL parser reads `https:///cb` as `https://cb/`; the
            // browser would too, so such a URI is refused as written.
            let written = &uri[scheme.len()..];
            if !written.starts_with("://") || written[3..].starts_with('/') {
                return Err(RedirectUriError::BadHost);
            }
            match (scheme, url.host_str()) {
                ("https", _) => Ok(()),
                (_, Some(host)) if is_loopback_host(host) => Ok(()),
                _ => Err(RedirectUriError::HttpNotLoopback),
            }
        }
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" | "ftp" | "ws" | "wss" => {
            Err(RedirectUriError::DangerousScheme)
        }
        scheme if public_client && scheme.contains('.') => Ok(()),
        _ => Err(RedirectUriError::SchemeNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::{RedirectUriError as E, validate_registration};

    #[test]
    fn registration_follows_the_table() {
        let table = [
            (
                "https://chat.openai.com/aip/g-123/oauth/callback",
                false,
                Ok(()),
            ),
            ("HTTPS://chatgpt.com/cb", false, Ok(())),
            ("http://127.0.0.1:8080/cb", false, Ok(())),
            ("http://[::1]:8080/cb", false, Ok(())),
            ("http://localhost/cb", false, Ok(())),
            ("http://LOCALHOST/cb", false, Ok(())),
            ("http://example.com/cb", false, Err(E::HttpNotLoopback)),
            (
                "http://127.0.0.1.evil.example/cb",
                false,
                Err(E::HttpNotLoopback),
            ),
            ("https://good.example/cb#frag", false, Err(E::Fragment)),
            ("https://user@good.example/cb", false, Err(E::UserInfo)),
            ("https://good.example:99999/cb", false, Err(E::BadHost)),
            ("https:///cb", false, Err(E::BadHost)),
            ("https:/cb", false, Err(E::BadHost)),
            ("javascript:alert(1)", true, Err(E::DangerousScheme)),
            ("data:text/html,hi", true, Err(E::DangerousScheme)),
            ("com.example.app:/cb", true, Ok(())),
            ("com.example.app:/cb", false, Err(E::SchemeNotAllowed)),
            ("relative/path", false, Err(E::NotAbsolute)),
            ("https://good.example/c b", false, Err(E::Whitespace)),
        ];
        for (uri, public, expected) in table {
            assert_eq!(validate_registration(uri, public), expected, "{uri}");
        }
        let long = format!("https://a.example/{}", "x".repeat(2000));
        assert_eq!(validate_registration(&long, false), Err(E::TooLong));
    }
}
