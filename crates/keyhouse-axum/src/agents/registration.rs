//! Dynamic client registration (RFC 7591) and its management API (RFC 7592).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keyhouse_core::client::{Client, ClientOrigin, GrantType, IdTokenAlg, RefreshPolicy};
use keyhouse_core::metadata_document::{self, SelfDescription};
use keyhouse_core::{ClientType, ErrorCode, OAuthError, secret};
use keyhouse_store::NewClient;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Keyhouse;
use crate::config::RegistrationPolicy;
use crate::error::{BearerError, TokenError, store_error};
use crate::http::client_ip::ClientIp;

/// Largest registration request accepted, bytes.
pub const REGISTRATION_BODY_LIMIT: usize = 8 * 1024;

fn registration_error(code: ErrorCode, description: impl Into<String>) -> TokenError {
    TokenError(OAuthError::new(code, description))
}

/// What a registration answers (RFC 7591 §3.2.1), for `client`.
fn registration_body(
    kh: &Keyhouse,
    client: &Client,
    client_uri: Option<&str>,
    secret: Option<&str>,
    registration_token: Option<&str>,
) -> Value {
    let mut body = json!({
        "client_id": client.id,
        "client_id_issued_at": client.created_at,
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "grant_types": GrantType::list_string(&client.grant_types).split(' ').collect::<Vec<_>>(),
        "response_types": ["code"],
        "token_endpoint_auth_method": client.token_endpoint_auth_method.as_deref().unwrap_or("none"),
        "id_token_signed_response_alg": client.id_token_alg.as_str(),
    });
    if !client.default_scopes.is_empty() {
        body["scope"] = json!(client.default_scopes.join(" "));
    }
    if !client.post_logout_redirect_uris.is_empty() {
        body["post_logout_redirect_uris"] = json!(client.post_logout_redirect_uris);
    }
    if let Some(u) = &client.backchannel_logout_uri {
        body["backchannel_logout_uri"] = json!(u);
        body["backchannel_logout_session_required"] =
            json!(client.backchannel_logout_session_required);
    }
    if let Some(u) = client_uri {
        body["client_uri"] = json!(u);
    }
    if let Some(s) = secret {
        body["client_secret"] = json!(s);
        body["client_secret_expires_at"] = json!(0);
    }
    if let Some(t) = registration_token {
        body["registration_access_token"] = json!(t);
        body["registration_client_uri"] = json!(format!(
            "{}/oauth2/register/{}",
            kh.config().issuer,
            client.id
        ));
    }
    body
}

fn fingerprint(d: &SelfDescription) -> String {
    let mut canonical = json!({
        "redirect_uris": d.redirect_uris,
        "name": d.name,
        "client_uri": d.client_uri,
        "logo_uri": d.logo_uri,
        "grant_types": GrantType::list_string(&d.grant_types),
        "scope": d.scope,
    });
    // Only when present, so registrations from before they existed keep
    // their fingerprints.
    if !d.post_logout_redirect_uris.is_empty() {
        canonical["post_logout_redirect_uris"] = json!(d.post_logout_redirect_uris);
    }
    if let Some(u) = &d.backchannel_logout_uri {
        canonical["backchannel_logout"] = json!([u, d.backchannel_logout_session_required]);
    }
    if d.id_token_alg != IdTokenAlg::default() {
        canonical["id_token_signed_response_alg"] = json!(d.id_token_alg.as_str());
    }
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn client_type_for(method: &str) -> Result<ClientType, TokenError> {
    match method {
        "none" => Ok(ClientType::ThirdPartyPublic),
        "client_secret_basic" | "client_secret_post" => Ok(ClientType::ThirdParty),
        _ => Err(registration_error(
            ErrorCode::InvalidClientMetadata,
            "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
        )),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, TokenError> {
    if body.len() > REGISTRATION_BODY_LIMIT {
        return Err(registration_error(
            ErrorCode::InvalidClientMetadata,
            "the registration request is too large",
        ));
    }
    serde_json::from_slice(body).map_err(|_| {
        registration_error(
            ErrorCode::InvalidClientMetadata,
            "the registration request must be a JSON object",
        )
    })
}

/// `POST /oauth2/register` (RFC 7591).
pub(crate) async fn register(
    state: State<Keyhouse>,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, TokenError> {
    let registered = register_client(state, ip, headers, body).await;
    let outcome = if registered.is_ok() {
        "registered"
    } else {
        "refused"
    };
    metrics::counter!(crate::http::metrics::REGISTRATIONS, "outcome" => outcome).increment(1);
    registered
}

async fn register_client(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, TokenError> {
    registration_allowed(&kh, &headers)?;
    within_registration_limit(&kh, ip).await?;
    let d = metadata_document::read_metadata(&parse_body(&body)?, "Unnamed application")?;
    let client_type = client_type_for(&d.auth_method)?;
    // Identical public registrations (the same software registering on
    // every start) get the same client instead of a new row each time.
    let fp = client_type.is_public().then(|| fingerprint(&d));
    if let Some(existing) = same_registration(&kh, fp.as_deref()).await? {
        tracing::info!(client_id = %existing.id, "identical registration: same client");
        // No registration access token: the first registrant manages it.
        let body = registration_body(&kh, &existing, d.client_uri.as_deref(), None, None);
        return Ok((StatusCode::CREATED, no_store(Json(body))).into_response());
    }
    let registered = store_registration(&kh, &d, client_type, fp).await?;
    let client = &registered.client;
    tracing::info!(client_id = %client.id, client_type = client.client_type.as_str(), "client registered dynamically");
    kh.audit(
        "anonymous",
        "client.registered",
        Some(&client.id),
        json!({ "ip": ip.map(|i| i.to_string()), "redirect_uris": client.redirect_uris }),
    )
    .await;
    let body = registration_body(
        &kh,
        client,
        d.client_uri.as_deref(),
        registered.client_secret.as_deref(),
        Some(&registered.registration_token),
    );
    Ok((StatusCode::CREATED, no_store(Json(body))).into_response())
}

/// The deployment's registration policy: off, open, or only with an initial
/// access token (RFC 7591 §3).
fn registration_allowed(kh: &Keyhouse, headers: &HeaderMap) -> Result<(), TokenError> {
    match &kh.config().agents.registration {
        RegistrationPolicy::Off => Err(registration_error(
            ErrorCode::AccessDenied,
            "dynamic client registration is not offered here",
        )),
        RegistrationPolicy::Open => Ok(()),
        RegistrationPolicy::InitialAccessToken(tokens) => {
            let presented = crate::http::extract::bearer_header(headers).map(secret::hash_token);
            let ok = presented.is_some_and(|p| {
                tokens
                    .iter()
                    .any(|t| secret::hashes_equal(&secret::hash_token(t), &p))
            });
            if ok {
                Ok(())
            } else {
                Err(TokenError(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "registration needs an initial access token",
                )))
            }
        }
    }
}

/// docs/threat-model.md row 66: registrations per address are limited.
async fn within_registration_limit(
    kh: &Keyhouse,
    ip: Option<std::net::IpAddr>,
) -> Result<(), TokenError> {
    let limit = kh.config().agents.registrations_per_ip_per_hour;
    if limit == 0 {
        return Ok(());
    }
    let bucket = format!("register:{}", ip.map(|i| i.to_string()).unwrap_or_default());
    let hits = kh
        .store()
        .hit(&bucket, 3600, kh.now())
        .await
        .map_err(store_error)?;
    if hits > limit {
        tracing::warn!(ip = ?ip, hits, "dynamic registrations throttled");
        return Err(registration_error(
            ErrorCode::TooManyAttempts,
            "too many registrations from this address; try again later",
        ));
    }
    Ok(())
}

/// The public client an identical registration created before, if any.
async fn same_registration(
    kh: &Keyhouse,
    fingerprint: Option<&str>,
) -> Result<Option<Client>, TokenError> {
    let Some(fp) = fingerprint else {
        return Ok(None);
    };
    Ok(kh
        .store()
        .find_client_by_fingerprint(fp)
        .await
        .map_err(store_error)?)
}

/// A client just registered, with what is shown once.
struct Registered {
    client: Client,
    client_secret: Option<String>,
    registration_token: String,
}

/// Creates the client a registration describes: a third party, refresh
/// tokens always (an agent cannot be asked again), the deployment's grace
/// period, and a registration access token for RFC 7592 management.
async fn store_registration(
    kh: &Keyhouse,
    d: &SelfDescription,
    client_type: ClientType,
    fingerprint: Option<String>,
) -> Result<Registered, TokenError> {
    let default_scopes = d
        .scope
        .as_deref()
        .map(|s| kh.known_scopes(s))
        .unwrap_or_default();
    // ThreadRng is not Send: use it before the first await.
    let (client, client_secret, registration_token, secret_id) = {
        let mut rng = rand::rng();
        let client = Client {
            id: secret::generate_id("dcr", &mut rng),
            client_type,
            name: d.name.clone(),
            description: d.client_uri.clone().unwrap_or_default(),
            logo_uri: d.logo_uri.clone(),
            redirect_uris: d.redirect_uris.clone(),
            access_token_ttl: kh.config().access_token_ttl,
            refresh_policy: RefreshPolicy::Always,
            created_at: kh.now(),
            audience: None,
            claims_template: None,
            grant_types: d.grant_types.clone(),
            resource_server: false,
            token_endpoint_auth_method: Some(d.auth_method.clone()),
            origin: ClientOrigin::Dynamic,
            default_scopes,
            refresh_grace: kh.config().agents.refresh_grace,
            post_logout_redirect_uris: d.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: d.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: d.backchannel_logout_session_required,
            id_token_alg: d.id_token_alg,
        };
        let client_secret = (!client_type.is_public()).then(|| secret::generate_token(&mut rng));
        (
            client,
            client_secret,
            secret::generate_token(&mut rng),
            secret::generate_id("secret", &mut rng),
        )
    };
    let new = NewClient {
        secret_hash: client_secret
            .as_deref()
            .map(|s| secret::hash_client_secret(&kh.0.secret_key, s)),
        secret_id,
        client: client.clone(),
        registration_token_hash: Some(secret::hash_token(&registration_token)),
        metadata_fingerprint: fingerprint,
    };
    kh.store().create_client(&new).await.map_err(store_error)?;
    Ok(Registered {
        client,
        client_secret,
        registration_token,
    })
}

fn no_store(json: Json<Value>) -> Response {
    let mut res = json.into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

/// The self-registered client `id`, if the request carries its
/// registration access token (RFC 7592 §3); 401 otherwise, alike for an
/// unknown client and a wrong token.
async fn managed(kh: &Keyhouse, headers: &HeaderMap, id: &str) -> Result<Client, Response> {
    let denied = || {
        BearerError::invalid("unknown client or wrong registration access token").into_response()
    };
    let presented = crate::http::extract::bearer_header(headers)
        .ok_or_else(|| BearerError::missing().into_response())?;
    let stored = kh
        .store()
        .registration_token_hash(id)
        .await
        .map_err(|e| TokenError(store_error(e)).into_response())?;
    match stored {
        Some(h) if secret::hashes_equal(&h, &secret::hash_token(presented)) => {}
        _ => return Err(denied()),
    }
    kh.store()
        .find_client(id)
        .await
        .map_err(|e| TokenError(store_error(e)).into_response())?
        .ok_or_else(denied)
}

/// `GET /oauth2/register/{client_id}` (RFC 7592 §2.1).
pub(crate) async fn read_registration(
    State(kh): State<Keyhouse>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match managed(&kh, &headers, &id).await {
        Ok(c) => no_store(Json(registration_body(&kh, &c, None, None, None))),
        Err(r) => r,
    }
}

/// `PUT /oauth2/register/{client_id}` (RFC 7592 §2.2): replaces the
/// metadata; the authentication method cannot change.
pub(crate) async fn update_registration(
    State(kh): State<Keyhouse>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut client = match managed(&kh, &headers, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result: Result<Response, TokenError> = async {
        let doc = parse_body(&body)?;
        if doc.get("client_id").and_then(Value::as_str) != Some(id.as_str()) {
            return Err(registration_error(
                ErrorCode::InvalidRequest,
                "client_id must be the registered one",
            ));
        }
        let d = metadata_document::read_metadata(&doc, &client.name)?;
        if client_type_for(&d.auth_method)? != client.client_type {
            return Err(registration_error(
                ErrorCode::InvalidClientMetadata,
                "token_endpoint_auth_method cannot change",
            ));
        }
        client.name = d.name;
        client.redirect_uris = d.redirect_uris;
        client.logo_uri = d.logo_uri;
        client.description = d.client_uri.clone().unwrap_or_default();
        client.grant_types = d.grant_types;
        client.post_logout_redirect_uris = d.post_logout_redirect_uris;
        client.backchannel_logout_uri = d.backchannel_logout_uri;
        client.backchannel_logout_session_required = d.backchannel_logout_session_required;
        client.id_token_alg = d.id_token_alg;
        client.default_scopes = d
            .scope
            .as_deref()
            .map(|s| kh.known_scopes(s))
            .unwrap_or_default();
        kh.store()
            .update_client(&client)
            .await
            .map_err(store_error)?;
        kh.forget_client(&client.id);
        tracing::info!(client_id = %client.id, "self-registered client updated");
        Ok(no_store(Json(registration_body(
            &kh,
            &client,
            d.client_uri.as_deref(),
            None,
            None,
        ))))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `DELETE /oauth2/register/{client_id}` (RFC 7592 §2.3): the client and
/// everything issued to it go.
pub(crate) async fn delete_registration(
    State(kh): State<Keyhouse>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = managed(&kh, &headers, &id).await {
        return r;
    }
    match kh.delete_client(&id).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => TokenError(e).into_response(),
    }
}

impl Keyhouse {
    /// Deletes self-registered clients with no token issued for
    /// `unused_client_days` (the housekeeping task calls it).
    pub async fn purge_unused_clients(&self) -> Result<usize, OAuthError> {
        let days = self.config().agents.unused_client_days;
        if days <= 0 {
            return Ok(0);
        }
        let before = self.now() - days * 86_400;
        let ids = self
            .store()
            .unused_registered_clients(before)
            .await
            .map_err(store_error)?;
        for id in &ids {
            self.delete_client(id).await?;
            tracing::info!(client_id = %id, "unused self-registered client deleted");
        }
        Ok(ids.len())
    }
}
