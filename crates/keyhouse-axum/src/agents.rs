//! Clients that arrive unannounced: Client ID Metadata Documents (an https
//! `client_id` names a document its host publishes) and dynamic client
//! registration (RFC 7591, with RFC 7592 management).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keyhouse_core::client::{Client, ClientOrigin, GrantType, RefreshPolicy};
use keyhouse_core::metadata_document::{self, SelfDescription};
use keyhouse_core::{ClientType, ErrorCode, OAuthError, secret};
use keyhouse_store::NewClient;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Keyhouse;
use crate::client_ip::ClientIp;
use crate::config::RegistrationPolicy;
use crate::error::{BearerError, TokenError, store_error};
use crate::fetch::{Fetcher, SystemLookup};
use crate::single_flight::SingleFlight;

/// A fetched metadata document: the client it describes and, for a
/// `private_key_jwt` client, where its keys are.
#[derive(Debug)]
pub(crate) struct Document {
    pub(crate) client: Arc<Client>,
    pub(crate) keys: Option<crate::client_assertion::ClientKeys>,
}

/// A `jwks_uri` key set (or why it is unreadable), when it was fetched,
/// until when it holds.
pub(crate) type CachedKeySet = (
    Result<Arc<jsonwebtoken::jwk::JwkSet>, String>,
    Instant,
    Instant,
);

/// Fetched documents, and the fetches under way.
pub(crate) struct Agents {
    /// What operators change at run time, read again after two seconds
    /// (another instance may have changed it).
    pub(crate) runtime: Mutex<Option<(Arc<crate::agent_settings::Runtime>, Instant)>>,
    fetcher: Result<Fetcher, String>,
    documents: Mutex<HashMap<String, (Arc<Document>, Instant)>>,
    in_flight: SingleFlight<Result<Arc<Document>, OAuthError>>,
    fetches: AtomicU64,
    /// `jwks_uri` key sets by URL.
    pub(crate) key_sets: Mutex<HashMap<String, CachedKeySet>>,
}

impl Agents {
    pub(crate) fn new(policy: &crate::config::AgentPolicy) -> Agents {
        let lookup = policy
            .test_lookup
            .0
            .clone()
            .unwrap_or_else(|| Arc::new(SystemLookup));
        if policy.insecure_allow_loopback_metadata_for_tests {
            tracing::warn!("metadata documents may be fetched from loopback: a test setting");
        }
        Agents {
            runtime: Mutex::new(None),
            fetcher: Fetcher::new(
                lookup,
                policy.insecure_allow_loopback_metadata_for_tests,
                policy.test_ca_pem.as_deref(),
            )
            .map_err(|e| e.to_string()),
            documents: Mutex::new(HashMap::new()),
            in_flight: SingleFlight::default(),
            fetches: AtomicU64::new(0),
            key_sets: Mutex::new(HashMap::new()),
        }
    }
}

fn refused(description: String) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

impl Keyhouse {
    /// How many metadata documents this instance has fetched (tests and the
    /// benchmark count cold and warm authorizations with it).
    pub fn metadata_fetches(&self) -> u64 {
        self.0.agents.fetches.load(Ordering::Relaxed)
    }

    /// The client a metadata-document `client_id` describes: from the cache
    /// while its lifetime lasts, else fetched once however many requests
    /// ask at the same time. Failures are never cached.
    pub(crate) async fn metadata_client(&self, id: &str) -> Result<Arc<Client>, OAuthError> {
        Ok(self.metadata_document(id).await?.client.clone())
    }

    /// The metadata document behind a `client_id` URL (see
    /// [`Keyhouse::metadata_client`]).
    pub(crate) async fn metadata_document(&self, id: &str) -> Result<Arc<Document>, OAuthError> {
        let runtime = self.runtime().await?;
        if !runtime.policy.metadata_documents {
            return Err(refused("this application is not registered here".into()));
        }
        let url = metadata_document::validate_client_id_url(id)?;
        let host = url.host_str().unwrap_or_default();
        if !runtime.policy.host_allowed(host) || runtime.blocks(host) || runtime.blocks_client(id) {
            return Err(refused(format!(
                "applications from {host} are not accepted here"
            )));
        }
        if let Some(c) = self.cached_document(id) {
            return Ok(c);
        }
        let kh = self.clone();
        self.0
            .agents
            .in_flight
            .run(id, move || async move { kh.fetch_document(url).await })
            .await
    }

    /// Blocks client metadata documents from `domain` and its subdomains:
    /// the clients it published are deleted, which revokes every grant and
    /// token they hold. Returns how many clients went.
    pub async fn block_agent_domain(&self, domain: &str) -> Result<usize, OAuthError> {
        let domain = normalize_domain(domain)?;
        self.store()
            .block_domain(&domain, self.now())
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        let removed = self
            .remove_metadata_clients(|host| host == domain || host.ends_with(&format!(".{domain}")))
            .await?;
        tracing::info!(domain, removed, "agent domain blocked");
        Ok(removed)
    }

    /// Deletes the metadata-document clients whose host `gone` picks, which
    /// revokes every grant and token they hold; how many went.
    pub(crate) async fn remove_metadata_clients(
        &self,
        gone: impl Fn(&str) -> bool,
    ) -> Result<usize, OAuthError> {
        let mut removed = 0;
        for id in self
            .store()
            .metadata_client_ids()
            .await
            .map_err(store_error)?
        {
            let host = url::Url::parse(&id)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                .unwrap_or_default();
            if gone(&host) {
                if let Ok(mut docs) = self.0.agents.documents.lock() {
                    docs.remove(&id);
                }
                if self.delete_client(&id).await? {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Lets `domain` in again; whether it was blocked.
    pub async fn unblock_agent_domain(&self, domain: &str) -> Result<bool, OAuthError> {
        let domain = normalize_domain(domain)?;
        let was = self
            .store()
            .unblock_domain(&domain)
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        Ok(was)
    }

    /// The blocked hosts.
    pub async fn blocked_agent_domains(&self) -> Result<Vec<String>, OAuthError> {
        let all = self.store().blocked_domains().await.map_err(store_error)?;
        Ok(split_blocked(all).0)
    }

    /// Blocks one metadata-document agent by its client id (the URL), not
    /// its whole domain: the client is deleted, which revokes every grant
    /// and token it holds, and its document is refused from then on. Other
    /// clients cannot be blocked this way: an operator's client is
    /// deleted, and a self-registered one with it.
    pub async fn block_agent_client(&self, client_id: &str) -> Result<bool, OAuthError> {
        let url = metadata_document::validate_client_id_url(client_id).map_err(|_| {
            OAuthError::invalid_request(
                "only agents identified by a metadata document URL can be blocked; delete other apps",
            )
        })?;
        self.store()
            .block_domain(url.as_str(), self.now())
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        if let Ok(mut docs) = self.0.agents.documents.lock() {
            docs.remove(url.as_str());
        }
        let removed = self.delete_client(url.as_str()).await?;
        tracing::info!(client_id = %url, removed, "agent blocked");
        Ok(removed)
    }

    /// Lets a blocked agent in again; whether it was blocked. Only a client
    /// id is unblocked here: a domain (which shares the table) is not.
    pub async fn unblock_agent_client(&self, client_id: &str) -> Result<bool, OAuthError> {
        if !is_blocked_client(client_id) {
            return Ok(false);
        }
        let was = self
            .store()
            .unblock_domain(client_id)
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        Ok(was)
    }

    /// The agents blocked one by one (their client ids).
    pub async fn blocked_agent_clients(&self) -> Result<Vec<String>, OAuthError> {
        let all = self.store().blocked_domains().await.map_err(store_error)?;
        Ok(split_blocked(all).1)
    }

    /// The guarded fetcher (docs/threat-model.md rows 62–64).
    pub(crate) fn fetcher(&self) -> Result<&Fetcher, OAuthError> {
        self.0.agents.fetcher.as_ref().map_err(|e| {
            OAuthError::bare(ErrorCode::ServerError).with_debug(format!("fetcher: {e}"))
        })
    }

    fn cached_document(&self, id: &str) -> Option<Arc<Document>> {
        let docs = self.0.agents.documents.lock().ok()?;
        docs.get(id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(c, _)| c.clone())
    }

    async fn fetch_document(&self, url: url::Url) -> Result<Arc<Document>, OAuthError> {
        let policy = &self.config().agents;
        let fetcher = self.fetcher()?;
        self.0.agents.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = fetcher.get_json(&url).await.map_err(|e| {
            tracing::warn!(client_id = %url, error = %e, "client metadata document refused");
            refused(format!(
                "the application's metadata document could not be used: {e}"
            ))
        })?;
        let (mut client, keys) = metadata_document::client_and_keys_from_document(
            &url,
            &fetched.body,
            self.now(),
        )
        .map_err(|e| {
            tracing::warn!(client_id = %url, error = %e, "client metadata document invalid");
            refused(format!(
                "the application's metadata document is not acceptable: {}",
                e.description.unwrap_or_default()
            ))
        })?;
        client.refresh_grace = policy.refresh_grace;
        if let Some(scope) = fetched.body.get("scope").and_then(Value::as_str) {
            client.default_scopes = self.known_scopes(scope);
        }
        // The row makes grants, codes and the dashboard work like for any
        // client; the document stays the source of truth.
        self.store()
            .upsert_metadata_client(&client)
            .await
            .map_err(store_error)?;
        match self
            .store()
            .find_client(&client.id)
            .await
            .map_err(store_error)?
        {
            Some(row) if row.origin == ClientOrigin::MetadataDocument => {}
            _ => {
                return Err(refused(
                    "this client id belongs to another application".into(),
                ));
            }
        }
        let ttl = policy.cache_lifetime(fetched.max_age);
        let document = Arc::new(Document {
            client: Arc::new(client),
            keys: keys.map(crate::client_assertion::ClientKeys::from),
        });
        if let Ok(mut docs) = self.0.agents.documents.lock() {
            if docs.len() > 10_000 {
                docs.clear();
            }
            docs.insert(
                document.client.id.clone(),
                (document.clone(), Instant::now() + ttl),
            );
        }
        tracing::info!(client_id = %document.client.id, ttl = ttl.as_secs(), "client metadata document fetched");
        self.prefetch_logo(&document.client);
        Ok(document)
    }

    /// The known scopes of a space-separated list (unknown ones dropped:
    /// a client's wish for a default is not a reason to refuse it).
    fn known_scopes(&self, scope: &str) -> Vec<String> {
        scope
            .split(' ')
            .filter(|s| self.config().scopes.get(s).is_some())
            .take(keyhouse_core::scope::MAX_SCOPE_TOKENS)
            .map(str::to_owned)
            .collect()
    }
}

/// Whether an entry of the block table is one agent's client id (a URL)
/// rather than a domain.
fn is_blocked_client(entry: &str) -> bool {
    entry.contains("://")
}

/// The block table's entries: the domains, then the agents' client ids.
pub(crate) fn split_blocked(all: Vec<String>) -> (Vec<String>, Vec<String>) {
    all.into_iter().partition(|e| !is_blocked_client(e))
}

/// A host name as blocked: lower case, letters, digits, dots and dashes.
pub(crate) fn normalize_domain(domain: &str) -> Result<String, OAuthError> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok {
        Ok(d)
    } else {
        Err(OAuthError::invalid_request(
            "a domain is a host name such as agent.example",
        ))
    }
}

/// `GET /api/admin/agents/blocked-domains`.
#[utoipa::path(get, path = "/api/admin/agents/blocked-domains", tag = "agents", operation_id = "listBlockedDomains",
    responses((status = 200, body = Vec<String>), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn list_blocked(
    State(kh): State<Keyhouse>,
    _admin: crate::admin::Admin,
) -> Result<Json<Vec<String>>, crate::error::ApiError> {
    Ok(Json(kh.blocked_agent_domains().await?))
}

/// `POST /api/admin/agents/blocked-domains` with `{"domain": "..."}`.
#[utoipa::path(post, path = "/api/admin/agents/blocked-domains", tag = "agents", operation_id = "blockDomain",
    request_body = keyhouse_types::admin::BlockDomainRequest,
    responses((status = 200, body = keyhouse_types::admin::BlockDomainResponse), (status = 400, body = keyhouse_types::ErrorBody), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn block(
    State(kh): State<Keyhouse>,
    admin: crate::admin::Admin,
    Json(body): Json<keyhouse_types::admin::BlockDomainRequest>,
) -> Result<Json<keyhouse_types::admin::BlockDomainResponse>, crate::error::ApiError> {
    let removed = kh.block_agent_domain(&body.domain).await?;
    kh.audit(
        &admin.actor(),
        "agents.domain_blocked",
        None,
        json!({ "domain": body.domain, "clients_removed": removed }),
    )
    .await;
    Ok(Json(keyhouse_types::admin::BlockDomainResponse {
        domain: normalize_domain(&body.domain)?,
        clients_removed: removed as u64,
    }))
}

/// `DELETE /api/admin/agents/blocked-domains/{domain}`.
#[utoipa::path(delete, path = "/api/admin/agents/blocked-domains/{domain}", tag = "agents", operation_id = "unblockDomain",
    params(("domain" = String, Path)),
    responses((status = 204, description = "unblocked"), (status = 404, body = keyhouse_types::ErrorBody), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn unblock(
    State(kh): State<Keyhouse>,
    admin: crate::admin::Admin,
    Path(domain): Path<String>,
) -> Result<StatusCode, crate::error::ApiError> {
    if !kh.unblock_agent_domain(&domain).await? {
        return Err(OAuthError::new(ErrorCode::NotFound, "this domain is not blocked").into());
    }
    kh.audit(
        &admin.actor(),
        "agents.domain_unblocked",
        None,
        json!({ "domain": domain }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/agents/blocked-clients`.
#[utoipa::path(get, path = "/api/admin/agents/blocked-clients", tag = "agents", operation_id = "listBlockedClients",
    responses((status = 200, body = Vec<String>), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn list_blocked_clients(
    State(kh): State<Keyhouse>,
    _admin: crate::admin::Admin,
) -> Result<Json<Vec<String>>, crate::error::ApiError> {
    Ok(Json(kh.blocked_agent_clients().await?))
}

/// The agent a client block names.
#[derive(serde::Deserialize)]
pub(crate) struct ClientQuery {
    client_id: String,
}

/// `POST /api/admin/agents/blocked-clients` with `{"client_id": "https://…"}`.
#[utoipa::path(post, path = "/api/admin/agents/blocked-clients", tag = "agents", operation_id = "blockClient",
    request_body = keyhouse_types::admin::BlockClientRequest,
    responses((status = 204, description = "blocked; the client was deleted and its grants and tokens revoked"),
              (status = 400, description = "not a metadata-document client id", body = keyhouse_types::ErrorBody),
              (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn block_client(
    State(kh): State<Keyhouse>,
    admin: crate::admin::Admin,
    Json(body): Json<keyhouse_types::admin::BlockClientRequest>,
) -> Result<StatusCode, crate::error::ApiError> {
    let removed = kh.block_agent_client(&body.client_id).await?;
    kh.audit(
        &admin.actor(),
        "agents.client_blocked",
        Some(&body.client_id),
        json!({ "client_removed": removed }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/admin/agents/blocked-clients?client_id=…`.
#[utoipa::path(delete, path = "/api/admin/agents/blocked-clients", tag = "agents", operation_id = "unblockClient",
    params(("client_id" = String, Query)),
    responses((status = 204, description = "unblocked"), (status = 404, body = keyhouse_types::ErrorBody),
              (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn unblock_client(
    State(kh): State<Keyhouse>,
    admin: crate::admin::Admin,
    axum::extract::Query(q): axum::extract::Query<ClientQuery>,
) -> Result<StatusCode, crate::error::ApiError> {
    if !kh.unblock_agent_client(&q.client_id).await? {
        return Err(OAuthError::new(ErrorCode::NotFound, "this agent is not blocked").into());
    }
    kh.audit(
        &admin.actor(),
        "agents.client_unblocked",
        Some(&q.client_id),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

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
    });
    if !client.default_scopes.is_empty() {
        body["scope"] = json!(client.default_scopes.join(" "));
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
    let canonical = json!({
        "redirect_uris": d.redirect_uris,
        "name": d.name,
        "client_uri": d.client_uri,
        "logo_uri": d.logo_uri,
        "grant_types": GrantType::list_string(&d.grant_types),
        "scope": d.scope,
    });
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
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, TokenError> {
    let policy = &kh.config().agents;
    match &policy.registration {
        RegistrationPolicy::Off => {
            return Err(registration_error(
                ErrorCode::AccessDenied,
                "dynamic client registration is not offered here",
            ));
        }
        RegistrationPolicy::Open => {}
        RegistrationPolicy::InitialAccessToken(tokens) => {
            let presented = crate::extract::bearer_header(&headers).map(secret::hash_token);
            let ok = presented.is_some_and(|p| {
                tokens
                    .iter()
                    .any(|t| secret::hashes_equal(&secret::hash_token(t), &p))
            });
            if !ok {
                return Err(TokenError(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "registration needs an initial access token",
                )));
            }
        }
    }
    // docs/threat-model.md row 66: registrations per address are limited.
    let limit = policy.registrations_per_ip_per_hour;
    if limit > 0 {
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
    }
    let doc = parse_body(&body)?;
    let d = metadata_document::read_metadata(&doc, "Unnamed application")?;
    let client_type = client_type_for(&d.auth_method)?;
    let default_scopes = d
        .scope
        .as_deref()
        .map(|s| kh.known_scopes(s))
        .unwrap_or_default();
    // Identical public registrations (the same software registering on
    // every start) get the same client instead of a new row each time.
    let fp = client_type.is_public().then(|| fingerprint(&d));
    let existing = match &fp {
        Some(fp) => kh
            .store()
            .find_client_by_fingerprint(fp)
            .await
            .map_err(store_error)?,
        None => None,
    };
    if let Some(existing) = existing {
        tracing::info!(client_id = %existing.id, "identical registration: same client");
        // No registration access token: the first registrant manages it.
        let body = registration_body(&kh, &existing, d.client_uri.as_deref(), None, None);
        return Ok((StatusCode::CREATED, no_store(Json(body))).into_response());
    }
    let now = kh.now();
    let (client, client_secret, registration_token, secret_id) = {
        let mut rng = rand::rng();
        let client = Client {
            id: secret::generate_id("dcr", &mut rng),
            client_type,
            name: d.name.clone(),
            description: d.client_uri.clone().unwrap_or_default(),
            logo_uri: d.logo_uri.clone(),
            redirect_uris: d.redirect_uris.clone(),
            access_token_ttl: 3600,
            refresh_policy: RefreshPolicy::Always,
            created_at: now,
            audience: None,
            claims_template: None,
            grant_types: d.grant_types.clone(),
            resource_server: false,
            token_endpoint_auth_method: Some(d.auth_method.clone()),
            origin: ClientOrigin::Dynamic,
            default_scopes,
            refresh_grace: policy.refresh_grace,
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
        metadata_fingerprint: fp,
    };
    kh.store().create_client(&new).await.map_err(store_error)?;
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
        &client,
        d.client_uri.as_deref(),
        client_secret.as_deref(),
        Some(&registration_token),
    );
    Ok((StatusCode::CREATED, no_store(Json(body))).into_response())
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
    let presented = crate::extract::bearer_header(headers)
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
