//! Connected Apps (OAuth clients) as the protocol sees them.

use keyhouse_types::ClientType;
pub use keyhouse_types::RefreshPolicy;

use crate::error::{ErrorCode, OAuthError};
use crate::redirect_uri;

/// Where a client came from: an operator registered it, it identified
/// itself with a Client ID Metadata Document (its `client_id` is the URL of
/// that document), or it registered itself (RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientOrigin {
    /// Registered by an operator or an administrator.
    #[default]
    Manual,
    /// A Client ID Metadata Document: the `client_id` is an https URL
    /// whose host vouches for the metadata.
    MetadataDocument,
    /// Dynamic client registration: nobody vouches for it.
    Dynamic,
}

impl ClientOrigin {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientOrigin::Manual => "manual",
            ClientOrigin::MetadataDocument => "cimd",
            ClientOrigin::Dynamic => "dcr",
        }
    }

    /// Parses a stored name (unknown names read as manual).
    pub fn parse(s: &str) -> ClientOrigin {
        match s {
            "cimd" => ClientOrigin::MetadataDocument,
            "dcr" => ClientOrigin::Dynamic,
            _ => ClientOrigin::Manual,
        }
    }
}

/// Longest refresh grace period a client may have, seconds: long enough
/// for a burst of concurrent refreshes, short enough that a stolen token
/// replayed later still kills the family.
pub const MAX_REFRESH_GRACE: i64 = 60;

/// A grant type a client may use at the token endpoint (RFC 7591 §2
/// `grant_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `client_credentials`: tokens for the client itself, with no user.
    ClientCredentials,
}

impl GrantType {
    /// Every grant type, in display order.
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// What a registration gets when it names none: the code flow and its
    /// refresh tokens. `client_credentials` is never a default
    /// (docs/threat-model.md row 46).
    pub fn defaults() -> Vec<GrantType> {
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    }

    /// Parses a space-separated stored list, skipping unknown names.
    pub fn parse_list(s: &str) -> Vec<GrantType> {
        s.split(' ').filter_map(GrantType::parse).collect()
    }

    /// The space-separated stored form.
    pub fn list_string(list: &[GrantType]) -> String {
        list.iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Checks a requested `grant_types` list: known names, no repeats, and
/// `client_credentials` only for confidential clients (a public client has
/// no secret to prove it is itself).
pub fn validate_grant_types(
    client_type: ClientType,
    requested: &[String],
) -> Result<Vec<GrantType>, OAuthError> {
    let bad = |m: &'static str| OAuthError::new(ErrorCode::InvalidClientMetadata, m);
    let mut out = Vec::new();
    for name in requested {
        let g = GrantType::parse(name).ok_or_else(|| {
            bad("grant_types may name authorization_code, refresh_token and client_credentials")
        })?;
        if !out.contains(&g) {
            out.push(g);
        }
    }
    if out.is_empty() {
        return Err(bad("grant_types must name at least one grant"));
    }
    if client_type.is_public() && out.contains(&GrantType::ClientCredentials) {
        return Err(bad("a public client cannot use client_credentials"));
    }
    Ok(out)
}

/// The algorithm a client's ID tokens are signed with (OpenID Connect
/// Dynamic Client Registration 1.0 §2, `id_token_signed_response_alg`).
///
/// `none` and the HMAC algorithms are never offered: an unsigned ID token
/// proves nothing, and an HMAC one would be keyed with a secret the client
/// holds too (docs/threat-model.md rows 166 and 167).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdTokenAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: OpenID Connect's default, which
    /// every relying party supports.
    #[default]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// EdDSA with Ed25519 (RFC 8037).
    EdDsa,
}

impl IdTokenAlg {
    /// Every algorithm offered, the default first (discovery's
    /// `id_token_signing_alg_values_supported`).
    pub const ALL: [IdTokenAlg; 3] = [IdTokenAlg::Rs256, IdTokenAlg::Es256, IdTokenAlg::EdDsa];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdTokenAlg::Rs256 => "RS256",
            IdTokenAlg::Es256 => "ES256",
            IdTokenAlg::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name, exactly as spelt (JOSE names are case-sensitive).
    pub fn parse(s: &str) -> Option<IdTokenAlg> {
        IdTokenAlg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Checks a requested `id_token_signed_response_alg`: absent means
    /// RS256; anything but RS256, ES256 or EdDSA is `invalid_client_metadata`.
    pub fn validate(requested: Option<&str>) -> Result<IdTokenAlg, OAuthError> {
        match requested {
            None => Ok(IdTokenAlg::default()),
            Some(name) => IdTokenAlg::parse(name).ok_or_else(|| {
                OAuthError::new(
                    ErrorCode::InvalidClientMetadata,
                    "id_token_signed_response_alg must be RS256, ES256 or EdDSA",
                )
            }),
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
    /// The grants it may use at the token endpoint.
    pub grant_types: Vec<GrantType>,
    /// Whether it is a resource server that may introspect access tokens
    /// issued to other clients (docs/threat-model.md row 57).
    pub resource_server: bool,
    /// The one client authentication method it uses at the token
    /// endpoints (`client_secret_basic` or `client_secret_post`), pinned at
    /// registration or at its first authentication (row 60).
    pub token_endpoint_auth_method: Option<String>,
    /// Where it came from.
    pub origin: ClientOrigin,
    /// The scopes a request naming none gets (RFC 6749 §3.3); empty means
    /// the resource's or the deployment's default.
    pub default_scopes: Vec<String>,
    /// Seconds after a rotation during which the previous refresh token
    /// still returns the same successor instead of counting as a replay
    /// (0: strict, at most [`MAX_REFRESH_GRACE`]).
    pub refresh_grace: i64,
    /// Where the browser may be sent after signing out (exact matches;
    /// OpenID Connect RP-Initiated Logout).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are posted when a session it signed in with ends
    /// (OpenID Connect Back-Channel Logout); an https URL.
    pub backchannel_logout_uri: Option<String>,
    /// Whether its logout tokens must carry `sid`.
    pub backchannel_logout_session_required: bool,
    /// What its ID tokens (and logout tokens) are signed with.
    pub id_token_alg: IdTokenAlg,
}

impl Client {
    /// Public clients authenticate with `none` and must use PKCE.
    pub fn is_public(&self) -> bool {
        self.client_type.is_public()
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// Bounds on the access-token lifetime a client may be given, in seconds.
pub const ACCESS_TOKEN_TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=86_400;

/// Checks a refresh grace period: 0 to [`MAX_REFRESH_GRACE`] seconds.
pub fn validate_refresh_grace(seconds: i64) -> Result<i64, OAuthError> {
    if (0..=MAX_REFRESH_GRACE).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "refresh_grace must be 0 to 60 seconds",
        ))
    }
}

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

/// Checks a requested token-endpoint authentication method: a confidential
/// client uses `client_secret_basic` or `client_secret_post`, a public one
/// `none`.
pub fn validate_auth_method(
    client_type: ClientType,
    method: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let ok = match method {
        None => return Ok(None),
        Some("none") => client_type.is_public(),
        Some("client_secret_basic" | "client_secret_post") => !client_type.is_public(),
        Some(_) => false,
    };
    if ok {
        Ok(method.map(str::to_owned))
    } else {
        Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "token_endpoint_auth_method must be client_secret_basic or client_secret_post \
             (none for public clients)",
        ))
    }
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

    #[test]
    fn id_token_algorithms_are_rs256_es256_and_eddsa_only() {
        assert_eq!(IdTokenAlg::validate(None).ok(), Some(IdTokenAlg::Rs256));
        for a in IdTokenAlg::ALL {
            assert_eq!(IdTokenAlg::validate(Some(a.as_str())).ok(), Some(a));
        }
        for bad in [
            "none", "None", "HS256", "HS384", "HS512", "PS256", "PS512", "RS512", "ES384", "ES512",
            "Ed25519", "EDDSA", "eddsa", "rs256", "", " RS256",
        ] {
            let err = IdTokenAlg::validate(Some(bad)).err().map(|e| e.code);
            assert_eq!(err, Some(ErrorCode::InvalidClientMetadata), "{bad:?}");
        }
    }

    #[test]
    fn grant_types_table() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let ok = validate_grant_types(
            ClientType::ThirdParty,
            &names(&["client_credentials", "client_credentials"]),
        );
        assert_eq!(ok.ok(), Some(vec![GrantType::ClientCredentials]));
        for (t, list) in [
            (ClientType::ThirdPartyPublic, vec!["client_credentials"]),
            (
                ClientType::FirstPartyPublic,
                vec!["authorization_code", "client_credentials"],
            ),
            (ClientType::FirstParty, vec!["password"]),
            (ClientType::FirstParty, vec!["implicit"]),
            (ClientType::FirstParty, vec![]),
        ] {
            assert!(
                validate_grant_types(t, &names(&list)).is_err(),
                "{t:?} {list:?}"
            );
        }
        assert!(!GrantType::defaults().contains(&GrantType::ClientCredentials));
        let stored = GrantType::list_string(&GrantType::ALL);
        assert_eq!(GrantType::parse_list(&stored), GrantType::ALL.to_vec());
    }
}
