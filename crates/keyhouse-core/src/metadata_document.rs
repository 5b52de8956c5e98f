//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document)
//! and dynamic registration metadata (RFC 7591 §2): turning what a client
//! says about itself into a [`Client`], lenient where real clients are
//! sloppy and strict wherever trust would widen.

use keyhouse_types::ClientType;
use serde_json::Value;
use url::Url;

use crate::client::{Client, ClientOrigin, GrantType, IdTokenAlg, RefreshPolicy};
use crate::error::{ErrorCode, OAuthError};
use crate::logout;
use crate::redirect_uri;

/// Longest `client_id` URL accepted, bytes.
pub const MAX_CLIENT_ID_URL_LEN: usize = 255;
/// Most redirect URIs a self-described client may list.
pub const MAX_REDIRECT_URIS: usize = 10;
/// Longest client name kept, characters.
pub const MAX_NAME_CHARS: usize = 100;

fn bad_id(why: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, format!("client_id URL {why}"))
}

fn bad_metadata(why: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, why)
}

/// Whether `client_id` is meant as a metadata document URL (an https URL);
/// operators' client ids never start with a scheme.
pub fn is_metadata_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// Checks a `client_id` URL (draft §3): https, a host, a path other than
/// `/`, no dot segments, no fragment, no user info, no query (refused by
/// policy: the draft discourages it and it would let one host mint
/// endless client ids), at most [`MAX_CLIENT_ID_URL_LEN`] bytes.
pub fn validate_client_id_url(raw: &str) -> Result<Url, OAuthError> {
    if raw.len() > MAX_CLIENT_ID_URL_LEN {
        return Err(bad_id("is too long"));
    }
    let url = Url::parse(raw).map_err(|_| bad_id("is not an absolute URL"))?;
    if url.scheme() != "https" {
        return Err(bad_id("must use https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad_id("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad_id("must not carry user information"));
    }
    if raw.contains('#') {
        return Err(bad_id("must not have a fragment"));
    }
    if raw.contains('?') {
        return Err(bad_id("must not have a query string"));
    }
    // The parser removes dot segments; look at what was sent.
    let after_host = raw
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    if after_host.split('/').any(|seg| {
        seg == "."
            || seg == ".."
            || seg.eq_ignore_ascii_case("%2e")
            || seg.eq_ignore_ascii_case("%2e%2e")
    }) {
        return Err(bad_id("must not contain dot segments"));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(bad_id("must have a path"));
    }
    // A normalised form different from what was sent (upper-case host,
    // default port) would make the document's client_id comparison depend
    // on the spelling: only the canonical spelling is accepted.
    if url.as_str() != raw {
        return Err(bad_id("is not in canonical form"));
    }
    Ok(url)
}

/// What a client says about itself, read leniently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfDescription {
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Display name (defaults to the host for documents).
    pub name: String,
    /// Its home page, shown as a claim only.
    pub client_uri: Option<String>,
    /// Its logo, never loaded by the browser from the client's host.
    pub logo_uri: Option<String>,
    /// `none` (public) or a confidential method.
    pub auth_method: String,
    /// Grants: authorization_code and, when listed, refresh_token.
    pub grant_types: Vec<GrantType>,
    /// The requested default scope (`scope` member), if any.
    pub scope: Option<String>,
    /// Where the browser may go after signing out (RP-Initiated Logout).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are posted (Back-Channel Logout).
    pub backchannel_logout_uri: Option<String>,
    /// Whether logout tokens must carry `sid`.
    pub backchannel_logout_session_required: bool,
    /// What its ID tokens are signed with (`id_token_signed_response_alg`,
    /// RS256 when absent).
    pub id_token_alg: IdTokenAlg,
}

fn string_field(doc: &Value, name: &str, max: usize) -> Result<Option<String>, OAuthError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.trim().to_owned())),
        Some(Value::String(_)) => Err(bad_metadata(format!("{name} is too long"))),
        Some(_) => Err(bad_metadata(format!("{name} must be a string"))),
    }
}

fn display_url(doc: &Value, name: &str) -> Result<Option<String>, OAuthError> {
    let Some(u) = string_field(doc, name, 2000)? else {
        return Ok(None);
    };
    // Shown (or ignored), never fetched by the browser: https only, else dropped.
    Ok(Url::parse(&u)
        .ok()
        .filter(|p| p.scheme() == "https")
        .map(|_| u))
}

/// Reads the metadata of a document or a registration request.
///
/// Refused: no redirect URIs, more than [`MAX_REDIRECT_URIS`], any redirect
/// URI a public client may not register (dangerous schemes, fragments,
/// non-loopback http), grant types other than `authorization_code` and
/// `refresh_token`, response types other than `code`.
pub fn read_metadata(doc: &Value, default_name: &str) -> Result<SelfDescription, OAuthError> {
    if !doc.is_object() {
        return Err(bad_metadata("the metadata must be a JSON object"));
    }
    let redirect_uris = redirect_uris_of(doc)?;
    // Lenient: `token_endpoint_auth_methods_supported` (a server metadata
    // name some clients copy) or nothing at all means a public client.
    let auth_method = match doc.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err(bad_metadata("token_endpoint_auth_method must be a string")),
    };
    let grant_types = grant_types_of(doc)?;
    if let Some(types) = doc.get("response_types") {
        let only_code = types
            .as_array()
            .is_some_and(|l| l.iter().all(|t| t.as_str() == Some("code")));
        if !only_code {
            return Err(bad_metadata("response_types may only be [\"code\"]"));
        }
    }
    let name = string_field(doc, "client_name", 200)?
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(MAX_NAME_CHARS)
                .collect::<String>()
        })
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| default_name.to_owned());
    Ok(SelfDescription {
        redirect_uris,
        name,
        client_uri: display_url(doc, "client_uri")?,
        logo_uri: display_url(doc, "logo_uri")?,
        auth_method,
        grant_types,
        scope: string_field(doc, "scope", 1000)?,
        post_logout_redirect_uris: post_logout_redirect_uris_of(doc)?,
        backchannel_logout_uri: backchannel_logout_uri_of(doc)?,
        backchannel_logout_session_required: match doc.get("backchannel_logout_session_required") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(bad_metadata(
                    "backchannel_logout_session_required must be a boolean",
                ));
            }
        },
        id_token_alg: id_token_alg_of(doc)?,
    })
}

/// `id_token_signed_response_alg`: RS256, ES256 or EdDSA (RS256 when
/// absent). `none`, the HMAC algorithms and anything else are refused, not
/// ignored: a client that asked for them would verify its ID tokens with
/// other rules than the ones it registered (docs/threat-model.md rows 166
/// and 167).
fn id_token_alg_of(doc: &Value) -> Result<IdTokenAlg, OAuthError> {
    match doc.get("id_token_signed_response_alg") {
        None | Some(Value::Null) => Ok(IdTokenAlg::default()),
        Some(Value::String(name)) => IdTokenAlg::validate(Some(name)),
        Some(_) => Err(bad_metadata(
            "id_token_signed_response_alg must be a string",
        )),
    }
}

/// `post_logout_redirect_uris`: strings a public client may register as
/// redirect URIs, at most [`logout::MAX_POST_LOGOUT_REDIRECT_URIS`].
fn post_logout_redirect_uris_of(doc: &Value) -> Result<Vec<String>, OAuthError> {
    let list: Vec<String> = match doc.get("post_logout_redirect_uris") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad_metadata("post_logout_redirect_uris must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad_metadata("post_logout_redirect_uris must be an array")),
    };
    logout::validate_post_logout_redirect_uris(&list, true)
}

/// `backchannel_logout_uri`: an https URL (see
/// [`logout::validate_backchannel_logout_uri`]).
fn backchannel_logout_uri_of(doc: &Value) -> Result<Option<String>, OAuthError> {
    let uri = string_field(doc, "backchannel_logout_uri", 500)?;
    logout::validate_backchannel_logout_uri(uri.as_deref())?;
    Ok(uri)
}

/// 1 to [`MAX_REDIRECT_URIS`] strings, each one a public client may register.
fn redirect_uris_of(doc: &Value) -> Result<Vec<String>, OAuthError> {
    let redirect_uris: Vec<String> = match doc.get("redirect_uris") {
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad_metadata("redirect_uris must be strings"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad_metadata("redirect_uris must be a non-empty array")),
    };
    if redirect_uris.is_empty() {
        return Err(bad_metadata("redirect_uris must be a non-empty array"));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(bad_metadata("at most 10 redirect_uris"));
    }
    for uri in &redirect_uris {
        redirect_uri::validate_registration(uri, true)?;
    }
    Ok(redirect_uris)
}

/// `authorization_code` (required) and `refresh_token`, nothing else; both
/// when the document names none.
fn grant_types_of(doc: &Value) -> Result<Vec<GrantType>, OAuthError> {
    let list = match doc.get("grant_types") {
        None | Some(Value::Null) => {
            return Ok(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
        }
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad_metadata("grant_types must be an array")),
    };
    let mut out = Vec::new();
    for g in list {
        match g.as_str().and_then(GrantType::parse) {
            Some(g @ (GrantType::AuthorizationCode | GrantType::RefreshToken)) => {
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            _ => {
                return Err(bad_metadata(
                    "grant_types may name authorization_code and refresh_token only",
                ));
            }
        }
    }
    if !out.contains(&GrantType::AuthorizationCode) {
        return Err(bad_metadata("grant_types must include authorization_code"));
    }
    Ok(out)
}

/// Most keys a document's `jwks` may hold.
pub const MAX_KEYS: usize = 10;

/// Where a `private_key_jwt` client's public keys are.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// `jwks`: in the document itself (a JWK Set, checked to be public keys).
    Inline(Value),
    /// `jwks_uri`: an https URL, fetched through the guarded fetcher.
    Uri(Url),
}

/// The key source a document names (RFC 7591 §2: `jwks` or `jwks_uri`,
/// never both). Private key members are refused: a document publishing a
/// private key has given it away.
pub fn document_keys(doc: &Value) -> Result<Option<KeySource>, OAuthError> {
    match (doc.get("jwks"), doc.get("jwks_uri")) {
        (Some(_), Some(_)) => Err(bad_metadata("jwks and jwks_uri must not both be present")),
        (Some(set), None) => check_jwks(set).map(|()| Some(KeySource::Inline(set.clone()))),
        (None, Some(Value::String(uri))) => {
            let url = Url::parse(uri).map_err(|_| bad_metadata("jwks_uri is not a URL"))?;
            if url.scheme() != "https"
                || url.host_str().is_none()
                || url.fragment().is_some()
                || uri.len() > MAX_CLIENT_ID_URL_LEN
                || !url.username().is_empty()
            {
                return Err(bad_metadata("jwks_uri must be an https URL"));
            }
            Ok(Some(KeySource::Uri(url)))
        }
        (None, Some(_)) => Err(bad_metadata("jwks_uri must be a string")),
        (None, None) => Ok(None),
    }
}

/// Checks a JWK Set holds 1 to [`MAX_KEYS`] public signing keys.
pub fn check_jwks(set: &Value) -> Result<(), OAuthError> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEYS)
        .ok_or_else(|| bad_metadata(format!("jwks must hold 1 to {MAX_KEYS} keys")))?;
    for k in keys {
        let kty = k.get("kty").and_then(Value::as_str).unwrap_or_default();
        if !matches!(kty, "RSA" | "EC" | "OKP") {
            return Err(bad_metadata("jwks keys must be RSA, EC or OKP public keys"));
        }
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| k.get(m).is_some())
        {
            return Err(bad_metadata("jwks must not contain private keys"));
        }
        if k.get("use")
            .and_then(Value::as_str)
            .is_some_and(|u| u != "sig")
        {
            return Err(bad_metadata("jwks keys must be for signatures"));
        }
    }
    Ok(())
}

/// The client a metadata document at `url` describes (draft §4): its
/// `client_id` must be `url` exactly. It becomes a third-party public
/// client, or, when it asks for `private_key_jwt` and publishes its keys
/// (`jwks` or `jwks_uri`), a third-party confidential one. Any other
/// confidential method is refused: a public document cannot vouch for a
/// shared secret.
pub fn client_from_document(url: &Url, doc: &Value, now: i64) -> Result<Client, OAuthError> {
    client_and_keys_from_document(url, doc, now).map(|(client, _)| client)
}

/// [`client_from_document`], with where the client's keys are (for a
/// `private_key_jwt` client), read in the same pass.
pub fn client_and_keys_from_document(
    url: &Url,
    doc: &Value,
    now: i64,
) -> Result<(Client, Option<KeySource>), OAuthError> {
    match doc.get("client_id").and_then(Value::as_str) {
        Some(id) if id == url.as_str() => {}
        _ => {
            return Err(bad_metadata(
                "the document's client_id differs from its URL",
            ));
        }
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let d = read_metadata(doc, &host)?;
    if doc.get("client_secret").is_some() {
        return Err(bad_metadata("a metadata document must not carry a secret"));
    }
    let keys = document_keys(doc)?;
    let client_type = match (d.auth_method.as_str(), &keys) {
        ("none", _) => ClientType::ThirdPartyPublic,
        ("private_key_jwt", Some(_)) => ClientType::ThirdParty,
        ("private_key_jwt", None) => {
            return Err(bad_metadata(
                "private_key_jwt needs the client's keys (jwks or jwks_uri)",
            ));
        }
        _ => {
            return Err(bad_metadata(
                "metadata-document clients use token_endpoint_auth_method none or private_key_jwt",
            ));
        }
    };
    let client = Client {
        id: url.as_str().to_owned(),
        client_type,
        name: d.name,
        description: d.client_uri.unwrap_or_default(),
        logo_uri: d.logo_uri,
        redirect_uris: d.redirect_uris,
        access_token_ttl: 3600,
        refresh_policy: RefreshPolicy::Always,
        created_at: now,
        audience: None,
        claims_template: None,
        grant_types: d.grant_types,
        resource_server: false,
        token_endpoint_auth_method: Some(d.auth_method),
        origin: ClientOrigin::MetadataDocument,
        default_scopes: Vec::new(),
        refresh_grace: 0,
        post_logout_redirect_uris: d.post_logout_redirect_uris,
        backchannel_logout_uri: d.backchannel_logout_uri,
        backchannel_logout_session_required: d.backchannel_logout_session_required,
        id_token_alg: d.id_token_alg,
    };
    Ok((client, keys))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str = "https://agent.example/oauth/client.json";

    fn doc() -> Value {
        json!({
            "client_id": ID,
            "client_name": "Agent",
            "redirect_uris": ["https://agent.example/cb", "http://127.0.0.1:33418/cb"],
        })
    }

    fn code(r: Result<impl std::fmt::Debug, OAuthError>) -> ErrorCode {
        r.err().map(|e| e.code).unwrap_or(ErrorCode::ServerError)
    }

    #[test]
    fn client_id_urls_are_https_with_a_path_and_nothing_ambiguous() {
        assert!(validate_client_id_url(ID).is_ok());
        for bad in [
            "http://agent.example/client.json",
            "https://agent.example",
            "https://agent.example/",
            "https://agent.example/a/../client.json",
            "https://agent.example/a/./client.json",
            "https://agent.example/a/%2e%2e/client.json",
            "https://agent.example/client.json#x",
            "https://agent.example/client.json?v=1",
            "https://user@agent.example/client.json",
            "https://AGENT.example/client.json",
            "https://agent.example:443/client.json",
            "agent.example/client.json",
        ] {
            assert_eq!(
                code(validate_client_id_url(bad)),
                ErrorCode::InvalidClient,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_document_becomes_a_third_party_public_client() {
        let url = validate_client_id_url(ID).map_err(|e| e.code);
        let c = url
            .as_ref()
            .map_err(|e| *e)
            .and_then(|u| client_from_document(u, &doc(), 5).map_err(|e| e.code));
        let c = c.as_ref().ok();
        assert_eq!(c.map(|c| c.client_type), Some(ClientType::ThirdPartyPublic));
        assert_eq!(c.map(|c| c.origin), Some(ClientOrigin::MetadataDocument));
        assert_eq!(c.map(|c| c.id.as_str()), Some(ID));
        assert_eq!(c.map(|c| c.redirect_uris.len()), Some(2));
    }

    #[test]
    fn the_document_must_name_itself_exactly() {
        let Ok(url) = validate_client_id_url(ID) else {
            panic!("valid URL refused")
        };
        let mut d = doc();
        d["client_id"] = json!("https://agent.example/oauth/other.json");
        assert_eq!(
            code(client_from_document(&url, &d, 0)),
            ErrorCode::InvalidClientMetadata
        );
        d["client_id"] = json!(format!("{ID}/"));
        assert_eq!(
            code(client_from_document(&url, &d, 0)),
            ErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn anything_that_widens_trust_is_refused() {
        let Ok(url) = validate_client_id_url(ID) else {
            panic!("valid URL refused")
        };
        let cases = [
            ("token_endpoint_auth_method", json!("client_secret_basic")),
            ("token_endpoint_auth_method", json!("private_key_jwt")),
            ("redirect_uris", json!(["http://agent.example/cb"])),
            ("redirect_uris", json!(["javascript:alert(1)"])),
            ("redirect_uris", json!(["https://agent.example/cb#frag"])),
            ("redirect_uris", json!([])),
            (
                "redirect_uris",
                json!(
                    (0..11)
                        .map(|i| format!("https://a.example/{i}"))
                        .collect::<Vec<_>>()
                ),
            ),
            ("grant_types", json!(["client_credentials"])),
            ("grant_types", json!(["refresh_token"])),
            ("response_types", json!(["token"])),
            ("id_token_signed_response_alg", json!("none")),
            ("id_token_signed_response_alg", json!("HS256")),
            ("id_token_signed_response_alg", json!("PS512")),
            ("id_token_signed_response_alg", json!("rs256")),
            ("id_token_signed_response_alg", json!("")),
            ("id_token_signed_response_alg", json!(["ES256"])),
        ];
        for (field, value) in cases {
            let mut d = doc();
            d[field] = value.clone();
            let c = code(client_from_document(&url, &d, 0));
            assert!(
                matches!(
                    c,
                    ErrorCode::InvalidClientMetadata | ErrorCode::InvalidRedirectUri
                ),
                "{field} = {value}: {c:?}"
            );
        }
    }

    #[test]
    fn the_id_token_algorithm_is_read_and_rs256_by_default() {
        let Ok(url) = validate_client_id_url(ID) else {
            panic!("valid URL refused")
        };
        let alg = |d: &Value| client_from_document(&url, d, 0).map(|c| c.id_token_alg);
        assert_eq!(alg(&doc()).ok(), Some(IdTokenAlg::Rs256));
        for (name, want) in [
            ("RS256", IdTokenAlg::Rs256),
            ("ES256", IdTokenAlg::Es256),
            ("EdDSA", IdTokenAlg::EdDsa),
        ] {
            let mut d = doc();
            d["id_token_signed_response_alg"] = json!(name);
            assert_eq!(alg(&d).ok(), Some(want), "{name}");
        }
        let mut d = doc();
        d["id_token_signed_response_alg"] = Value::Null;
        assert_eq!(alg(&d).ok(), Some(IdTokenAlg::Rs256));
    }

    #[test]
    fn sloppy_but_harmless_documents_are_read_as_public() {
        let Ok(url) = validate_client_id_url(ID) else {
            panic!("valid URL refused")
        };
        let mut d = doc();
        d["token_endpoint_auth_methods_supported"] = json!(["none", "client_secret_basic"]);
        d["logo_uri"] = json!("http://agent.example/logo.png");
        d["client_name"] = json!("  ");
        let c = client_from_document(&url, &d, 0);
        let c = c.as_ref().ok();
        assert_eq!(c.map(Client::is_public), Some(true));
        // An http logo is dropped, a blank name becomes the host.
        assert_eq!(c.and_then(|c| c.logo_uri.clone()), None);
        assert_eq!(c.map(|c| c.name.as_str()), Some("agent.example"));
    }

    #[test]
    fn private_key_jwt_needs_published_public_keys() {
        let Ok(url) = validate_client_id_url(ID) else {
            panic!("valid URL refused")
        };
        let key = json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "k1"});
        let mut d = doc();
        d["token_endpoint_auth_method"] = json!("private_key_jwt");
        d["jwks"] = json!({ "keys": [key] });
        let c = client_from_document(&url, &d, 0);
        assert_eq!(
            c.as_ref().ok().map(|c| c.client_type),
            Some(ClientType::ThirdParty)
        );
        assert_eq!(
            c.ok().and_then(|c| c.token_endpoint_auth_method),
            Some("private_key_jwt".to_owned())
        );
        assert!(matches!(document_keys(&d), Ok(Some(KeySource::Inline(_)))));

        let mut uri = doc();
        uri["token_endpoint_auth_method"] = json!("private_key_jwt");
        uri["jwks_uri"] = json!("https://agent.example/jwks.json");
        assert!(client_from_document(&url, &uri, 0).is_ok());

        let mut private = key.clone();
        private["d"] = json!("secret");
        let refused = [
            ("jwks", json!({ "keys": [private] })),
            ("jwks", json!({ "keys": [] })),
            ("jwks", json!({ "keys": [{"kty": "oct", "k": "c2VjcmV0"}] })),
            ("jwks_uri", json!("http://agent.example/jwks.json")),
        ];
        for (field, value) in refused {
            let mut bad = doc();
            bad["token_endpoint_auth_method"] = json!("private_key_jwt");
            bad[field] = value.clone();
            assert_eq!(
                code(client_from_document(&url, &bad, 0)),
                ErrorCode::InvalidClientMetadata,
                "{field} = {value}"
            );
        }
        let mut both = d.clone();
        both["jwks_uri"] = json!("https://agent.example/jwks.json");
        assert_eq!(
            code(client_from_document(&url, &both, 0)),
            ErrorCode::InvalidClientMetadata
        );
    }
}
