//! Discovery (OIDC Discovery 1.0, RFC 8414), JWKS and health.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use keyhouse_core::client::IdTokenAlg;
use serde_json::{Value, json};

use crate::Keyhouse;
use crate::config::RegistrationPolicy;
use crate::http::prebuilt::Prebuilt;

/// The metadata document; the same at both well-known paths.
pub(crate) fn document(kh: &Keyhouse, metadata_documents: bool) -> Value {
    let c = kh.config();
    let i = &c.issuer;
    let scopes: Vec<&str> = c.scopes.iter().map(|d| d.name.as_str()).collect();
    // The phishing-resistant level only where a passkey can give it.
    let acr_values: Vec<&str> = keyhouse_core::assurance::ACR_VALUES
        .into_iter()
        .filter(|v| {
            // Organization members have passkeys wherever the issuer can
            // (an app that keeps its own users has none for them).
            *v != keyhouse_core::assurance::ACR_PHISHING_RESISTANT
                || crate::accounts::passkeys::relying_party(kh).is_ok()
        })
        .collect();
    let mut doc = json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/idp"),
        "token_endpoint": format!("{i}/oauth2/token"),
        "userinfo_endpoint": format!("{i}/oauth2/userinfo"),
        "jwks_uri": format!("{i}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{i}/oauth2/revoke"),
        "introspection_endpoint": format!("{i}/oauth2/introspect"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": IdTokenAlg::ALL.map(IdTokenAlg::as_str),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": crate::oauth::client_assertion::ALGORITHM_NAMES,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": crate::oauth::client_assertion::ALGORITHM_NAMES,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "amr", "acr", "sid", "nonce", "at_hash", "azp", "name", "updated_at", "email", "email_verified"],
        "acr_values_supported": acr_values,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": metadata_documents,
    });
    // Keyhouse signs out, and tells clients about, only the sessions it
    // keeps: an app with its own users and login signs them out itself.
    let own_sessions = !kh.keeps_own_users();
    if own_sessions {
        doc["end_session_endpoint"] = json!(format!("{i}/oauth2/logout"));
    }
    doc["backchannel_logout_supported"] = json!(own_sessions);
    doc["backchannel_logout_session_supported"] = json!(own_sessions);
    doc["frontchannel_logout_supported"] = json!(false);
    if c.agents.registration != RegistrationPolicy::Off {
        doc["registration_endpoint"] = json!(format!("{i}/oauth2/register"));
    }
    doc
}

/// `GET /.well-known/oauth-protected-resource[/path]` (RFC 9728 §3): the
/// metadata of the registered resource whose metadata URL this is.
pub(crate) async fn protected_resource(State(kh): State<Keyhouse>, uri: Uri) -> Response {
    let c = kh.config();
    let origin = c.origin();
    let wanted = format!("{origin}{}", uri.path().trim_end_matches('/'));
    let resources = match kh.resources().await {
        Ok(r) => r,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let Some(r) = resources.iter().find(|r| r.metadata_url() == wanted) else {
        return (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response();
    };
    let body = json!({
        "resource": r.uri,
        "resource_name": r.name,
        "authorization_servers": [c.issuer],
        "scopes_supported": r.advertised_scopes(),
        "bearer_methods_supported": ["header"],
    });
    cached(Json(body).into_response(), 300)
}

fn cached(body: Response, seconds: u32) -> Response {
    let mut res = body;
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={seconds}")) {
        res.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    res
}

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
///
/// The document depends on the configuration, fixed for the process, on
/// whether the host app keeps its own users (set once, at start), and on
/// the operator's metadata-document policy (changed at run time, read
/// through `runtime`'s cache): it is serialised once per variant, and a
/// client that sends back its entity tag gets `304 Not Modified`.
pub(crate) async fn metadata(State(kh): State<Keyhouse>, headers: HeaderMap) -> Response {
    let metadata_documents = match kh.runtime().await {
        Ok(r) => r.policy.metadata_documents,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let variant = usize::from(metadata_documents) * 2 + usize::from(kh.keeps_own_users());
    kh.0.discovery[variant]
        .get_or_init(|| Prebuilt::json(&document(&kh, metadata_documents), DISCOVERY_MAX_AGE))
        .respond(&headers)
}

/// How long clients and caches may keep the discovery document.
const DISCOVERY_MAX_AGE: u32 = 300;

/// `GET /.well-known/jwks.json`: current, next and retiring public keys,
/// serialised when the key set is loaded (`Keys::jwks_document`).
pub(crate) async fn jwks(State(kh): State<Keyhouse>, headers: HeaderMap) -> Response {
    kh.keys().jwks_document().respond(&headers)
}

/// `GET /health/live`.
pub(crate) async fn live() -> StatusCode {
    StatusCode::OK
}

/// `GET /health/ready`: 503 while the server drains before stopping, or
/// while the database does not answer. (While it starts, migrations
/// included, [`crate::http::serve::serve_starting`] answers 503.)
pub(crate) async fn ready(State(kh): State<Keyhouse>) -> StatusCode {
    if !kh.is_draining() && kh.store().ping().await {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
