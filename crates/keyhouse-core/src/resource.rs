//! Protected resources (RFC 8707 resource indicators, RFC 9728 metadata):
//! the APIs and MCP servers tokens are issued for, each named by an absolute
//! URI that becomes the access token's `aud`.

use url::Url;

use crate::error::{ErrorCode, OAuthError};
use crate::scope::{OFFLINE_ACCESS, ScopeSet};

/// Longest resource URI accepted, bytes.
pub const MAX_RESOURCE_URI_LEN: usize = 200;

/// A resource server tokens may be issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedResource {
    /// Its canonical URI (RFC 8707 §2; RFC 9728 §1.2): scheme, host,
    /// optional port and path, no query, no fragment, no trailing slash.
    pub uri: String,
    /// The name shown on consent ("Notes API", "Notes MCP server").
    pub name: String,
    /// The scopes it understands, listed in its metadata.
    pub scopes: Vec<String>,
    /// The scopes a request for it gets when it names none (RFC 6749 §3.3).
    pub default_scopes: Vec<String>,
    /// Whether it also accepts tokens issued without any `resource` (their
    /// `aud` is the deployment's default audience). Off for resources that
    /// must only see tokens bound to them, such as an MCP server.
    pub accepts_unbound_tokens: bool,
}

impl ProtectedResource {
    /// A resource with no scopes yet, accepting only tokens bound to it.
    pub fn new(uri: &str, name: &str) -> Result<ProtectedResource, OAuthError> {
        Ok(ProtectedResource {
            uri: canonical_uri(uri)?,
            name: name.trim().to_owned(),
            scopes: Vec::new(),
            default_scopes: Vec::new(),
            accepts_unbound_tokens: false,
        })
    }

    /// Adds scopes it understands.
    pub fn with_scopes(mut self, scopes: &[&str]) -> ProtectedResource {
        self.scopes.extend(scopes.iter().map(|s| (*s).to_owned()));
        self
    }

    /// Sets the scopes a request that names none gets.
    pub fn with_default_scopes(mut self, scopes: &[&str]) -> ProtectedResource {
        self.default_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Lets tokens issued without a `resource` in too.
    pub fn accepting_unbound_tokens(mut self) -> ProtectedResource {
        self.accepts_unbound_tokens = true;
        self
    }

    /// The URL of its metadata document (RFC 9728 §3.1): the well-known
    /// path inserted between the host and the resource's path.
    pub fn metadata_url(&self) -> String {
        metadata_url(&self.uri)
    }

    /// The scopes listed in its metadata: never `offline_access`, which is
    /// about the authorization server, not the resource.
    pub fn advertised_scopes(&self) -> Vec<&str> {
        self.scopes
            .iter()
            .map(String::as_str)
            .filter(|s| *s != OFFLINE_ACCESS)
            .collect()
    }
}

/// The RFC 9728 §3.1 metadata URL of the resource `uri`.
pub fn metadata_url(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(u) => {
            let origin = u.origin().ascii_serialization();
            let path = u.path().trim_end_matches('/');
            format!("{origin}/.well-known/oauth-protected-resource{path}")
        }
        Err(_) => String::new(),
    }
}

/// Checks a resource URI and returns its canonical form: http(s), a host,
/// no userinfo, query or fragment, lower-case scheme and host (the URL
/// parser's job), no trailing slash on the path.
pub fn canonical_uri(uri: &str) -> Result<String, OAuthError> {
    let bad = || {
        OAuthError::new(
            ErrorCode::InvalidTarget,
            "a resource must be an absolute https URI without query or fragment",
        )
    };
    if uri.len() > MAX_RESOURCE_URI_LEN || uri.contains('#') || uri.contains('?') {
        return Err(bad());
    }
    let u = Url::parse(uri).map_err(|_| bad())?;
    if !matches!(u.scheme(), "https" | "http")
        || u.host().is_none()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(bad());
    }
    let path = u.path().trim_end_matches('/');
    Ok(format!("{}{path}", u.origin().ascii_serialization()))
}

/// The scopes a request that names none gets (RFC 6749 §3.3): the
/// client's own default, else the requested resource's, else the
/// deployment's. Empty means there is no default and the request fails
/// with `invalid_scope`.
pub fn default_scopes(
    client_default: &[String],
    resource: Option<&ProtectedResource>,
    deployment_default: &[String],
) -> ScopeSet {
    let pick = if !client_default.is_empty() {
        client_default
    } else if let Some(r) = resource.filter(|r| !r.default_scopes.is_empty()) {
        &r.default_scopes
    } else {
        deployment_default
    };
    ScopeSet::from_tokens(pick.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_insert_the_well_known_path_before_the_resource_path() {
        assert_eq!(
            metadata_url("https://api.example/mcp"),
            "https://api.example/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://api.example"),
            "https://api.example/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:3000/api/v1"),
            "http://127.0.0.1:3000/.well-known/oauth-protected-resource/api/v1"
        );
    }

    #[test]
    fn canonical_uris_drop_the_trailing_slash_and_refuse_queries_and_fragments() {
        assert_eq!(
            canonical_uri("HTTPS://API.example/mcp/").as_deref(),
            Ok("https://api.example/mcp")
        );
        assert_eq!(
            canonical_uri("https://api.example/").as_deref(),
            Ok("https://api.example")
        );
        for bad in [
            "https://api.example/mcp?x=1",
            "https://api.example/mcp#f",
            "https://u:p@api.example/mcp",
            "ftp://api.example/",
            "/relative",
        ] {
            assert_eq!(
                canonical_uri(bad).map_err(|e| e.code),
                Err(ErrorCode::InvalidTarget),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_client_default_wins_then_the_resource_then_the_deployment() {
        let r = ProtectedResource::new("https://api.example/mcp", "MCP")
            .map(|r| r.with_default_scopes(&["notes:read"]))
            .ok();
        let dep = vec!["openid".to_owned()];
        let client = vec!["profile".to_owned()];
        assert_eq!(
            default_scopes(&client, r.as_ref(), &dep).to_string(),
            "profile"
        );
        assert_eq!(
            default_scopes(&[], r.as_ref(), &dep).to_string(),
            "notes:read"
        );
        assert_eq!(default_scopes(&[], None, &dep).to_string(), "openid");
        assert!(default_scopes(&[], None, &[]).is_empty());
    }

    #[test]
    fn offline_access_is_never_advertised_by_a_resource() {
        let r = ProtectedResource::new("https://api.example", "API")
            .map(|r| r.with_scopes(&["notes:read", "offline_access"]));
        assert_eq!(
            r.map(|r| r.advertised_scopes().join(" ")).as_deref(),
            Ok("notes:read")
        );
    }
}
