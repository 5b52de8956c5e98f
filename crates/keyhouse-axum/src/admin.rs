//! The admin API (`/api/admin/...`): Connected Apps, secret rotation and the
//! audit log, for operators (a user with the admin flag, in the browser) and
//! for automation (an admin API key, `Authorization: Bearer kh_admin_…`).
//! Also the users' own view of what they connected (`/api/account/...`).

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhouse_core::client::{Client, RefreshPolicy};
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::RotationError;
use keyhouse_types::admin::{
    AdminClient, AuditEvent, ConnectedApp, CreatedClientResponse, NewClientRequest, Page,
    RotationStarted, UpdateClientRequest,
};
use keyhouse_types::{ClientSummary, ErrorBody, ScopeDescription};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Keyhouse;
use crate::error::{ApiError, store_error};
use crate::manage::ClientSpec;
use crate::session::CurrentSession;

/// Admin API keys start with this, so they are recognisable in logs and
/// secret scanners.
pub const API_KEY_PREFIX: &str = "kh_admin_";

/// Who is calling the admin API.
#[derive(Debug, Clone)]
pub enum Admin {
    /// An operator in the browser.
    User(Box<CurrentSession>),
    /// An admin API key (its id).
    ApiKey(String),
}

impl Admin {
    /// The audit log's `actor`.
    pub fn actor(&self) -> String {
        match self {
            Admin::User(s) => format!("user:{}", s.user.id),
            Admin::ApiKey(id) => format!("api_key:{id}"),
        }
    }
}

impl<S> FromRequestParts<S> for Admin
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kh = Keyhouse::from_ref(state);
        if let Some(h) = parts.headers.get(AUTHORIZATION) {
            let key = h
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|k| k.starts_with(API_KEY_PREFIX));
            let found = match key {
                Some(k) => kh
                    .store()
                    .find_api_key(&secret::hash_token(k))
                    .await
                    .map_err(store_error)?,
                None => None,
            };
            return found.map(Admin::ApiKey).ok_or_else(|| {
                tracing::warn!("admin API: unknown or revoked API key");
                ApiError(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "the admin API key is invalid or revoked",
                ))
            });
        }
        let session = CurrentSession::from_request_parts(parts, state).await?;
        if !session.user.is_admin {
            tracing::warn!(user_id = %session.user.id, "admin API refused: not an operator");
            return Err(
                OAuthError::new(ErrorCode::AccessDenied, "only operators may do this").into(),
            );
        }
        Ok(Admin::User(Box::new(session)))
    }
}

impl Keyhouse {
    /// Appends to the audit log. A failure is logged, not fatal: the action
    /// itself has already happened.
    pub async fn audit(&self, actor: &str, action: &str, client_id: Option<&str>, details: Value) {
        let details = details.to_string();
        if let Err(e) = self
            .store()
            .audit(self.now(), actor, action, client_id, &details)
            .await
        {
            tracing::error!(error = %e, actor, action, "audit event lost");
        }
    }

    /// Creates an admin API key: the key is returned once; only its hash is
    /// stored.
    pub async fn create_api_key(&self, name: &str) -> Result<(String, String), OAuthError> {
        let (id, key) = {
            let mut rng = rand::rng();
            (
                secret::generate_id("key", &mut rng),
                format!("{API_KEY_PREFIX}{}", secret::generate_token(&mut rng)),
            )
        };
        self.store()
            .create_api_key(&id, name.trim(), &secret::hash_token(&key), self.now())
            .await
            .map_err(store_error)?;
        self.audit(
            "cli",
            "api_key.created",
            None,
            json!({ "id": id, "name": name }),
        )
        .await;
        Ok((id, key))
    }
}

async fn admin_client(kh: &Keyhouse, c: &Client) -> Result<AdminClient, OAuthError> {
    let usage = kh.store().client_usage(&c.id).await.map_err(store_error)?;
    Ok(AdminClient {
        client_id: c.id.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        logo_uri: c.logo_uri.clone(),
        client_type: c.client_type,
        redirect_uris: c.redirect_uris.clone(),
        access_token_ttl: c.access_token_ttl,
        refresh_policy: c.refresh_policy.as_str().to_owned(),
        created_at: c.created_at,
        rotation_pending: kh
            .store()
            .rotation_pending(&c.id)
            .await
            .map_err(store_error)?,
        audience: c.audience.clone(),
        claims_template: c.claims_template.clone(),
        grant_types: c
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        resource_server: c.resource_server,
        token_endpoint_auth_method: c.token_endpoint_auth_method.clone(),
        origin: c.origin.as_str().to_owned(),
        verified_domain: crate::authorize::verified_domain(c),
        last_used_at: usage.0,
        users: usage.1,
    })
}

fn refresh_policy(raw: Option<&str>) -> Result<Option<RefreshPolicy>, OAuthError> {
    raw.map(|p| {
        RefreshPolicy::parse(p).ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "refresh_policy must be always or offline_access",
            )
        })
    })
    .transpose()
}

impl Keyhouse {
    /// Changes the fields present in `req`; the result is validated like a
    /// new registration, and nothing is written when it is refused.
    pub async fn update_client(
        &self,
        id: &str,
        req: UpdateClientRequest,
        actor: &str,
    ) -> Result<Client, OAuthError> {
        let mut c = (*find_editable(self, id).await?).clone();
        let mut changed = Vec::new();
        if let Some(n) = req.name {
            c.name = n.trim().to_owned();
            changed.push("name");
        }
        if let Some(d) = req.description {
            c.description = d.trim().to_owned();
            changed.push("description");
        }
        if let Some(l) = req.logo_uri {
            c.logo_uri = Some(l.trim().to_owned()).filter(|l| !l.is_empty());
            changed.push("logo_uri");
        }
        if let Some(r) = req.redirect_uris {
            c.redirect_uris = r.into_iter().map(|u| u.trim().to_owned()).collect();
            changed.push("redirect_uris");
        }
        if let Some(t) = req.client_type {
            // A secret cannot appear or vanish by editing: confidential
            // stays confidential, public stays public.
            if t.is_public() != c.client_type.is_public() {
                return Err(OAuthError::new(
                    ErrorCode::InvalidClientMetadata,
                    "a client cannot switch between confidential and public; create a new one",
                ));
            }
            c.client_type = t;
            changed.push("client_type");
        }
        if let Some(ttl) = req.access_token_ttl {
            c.access_token_ttl = ttl;
            changed.push("access_token_ttl");
        }
        if let Some(p) = refresh_policy(req.refresh_policy.as_deref())? {
            c.refresh_policy = p;
            changed.push("refresh_policy");
        }
        if let Some(a) = req.audience {
            c.audience = Some(a.trim().to_owned()).filter(|a| !a.is_empty());
            changed.push("audience");
        }
        if let Some(t) = req.claims_template {
            c.claims_template = Some(t.trim().to_owned()).filter(|t| !t.is_empty());
            changed.push("claims_template");
        }
        if let Some(g) = &req.grant_types {
            c.grant_types = keyhouse_core::client::validate_grant_types(c.client_type, g)?;
            changed.push("grant_types");
        }
        if let Some(r) = req.resource_server {
            c.resource_server = r;
            changed.push("resource_server");
        }
        if let Some(m) = &req.token_endpoint_auth_method {
            let m = Some(m.trim()).filter(|m| !m.is_empty());
            c.token_endpoint_auth_method = crate::manage::validate_auth_method(c.client_type, m)?;
            changed.push("token_endpoint_auth_method");
        }
        keyhouse_core::client::validate_audience(c.audience.as_deref())?;
        if let Some(t) = &c.claims_template {
            keyhouse_core::claims::validate_template(t)?;
        }
        keyhouse_core::client::validate_new_client(
            &c.name,
            c.client_type,
            &c.redirect_uris,
            c.logo_uri.as_deref(),
            c.access_token_ttl,
        )?;
        self.store().update_client(&c).await.map_err(store_error)?;
        self.forget_client(&c.id);
        self.audit(
            actor,
            "client.updated",
            Some(&c.id),
            json!({ "name": c.name, "changed": changed }),
        )
        .await;
        Ok(c)
    }

    /// A client as the admin API shows it.
    pub async fn admin_view(&self, id: &str) -> Result<AdminClient, OAuthError> {
        let c = find(self, id).await?;
        admin_client(self, &c).await
    }
}

/// `limit` and an opaque `cursor` (docs/threat-model.md row 31: validated, never
/// spliced into SQL).
#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    limit: Option<u64>,
    cursor: Option<String>,
}

impl Paging {
    fn limit(&self) -> u64 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }

    fn cursor(&self) -> Result<Option<String>, OAuthError> {
        self.cursor
            .as_deref()
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| OAuthError::invalid_request("invalid cursor"))
            })
            .transpose()
    }
}

fn cursor_of(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(last)
}

async fn find(kh: &Keyhouse, id: &str) -> Result<std::sync::Arc<Client>, OAuthError> {
    kh.client(id)
        .await?
        .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no such client"))
}

/// A client the operator may change: not one its metadata document
/// describes (the document is the source of truth, and has no secret).
async fn find_editable(kh: &Keyhouse, id: &str) -> Result<std::sync::Arc<Client>, OAuthError> {
    let c = find(kh, id).await?;
    if c.origin == keyhouse_core::client::ClientOrigin::MetadataDocument {
        return Err(OAuthError::new(
            ErrorCode::Conflict,
            "this agent is described by its metadata document: change it there, or block it",
        ));
    }
    Ok(c)
}

/// `GET /api/admin/clients`: newest first.
#[utoipa::path(get, path = "/api/admin/clients", tag = "connected apps", operation_id = "listClients",
    params(("limit" = Option<u64>, Query, description = "1 to 200, default 50"), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<AdminClient>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_clients(
    State(kh): State<Keyhouse>,
    _admin: Admin,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<AdminClient>>, ApiError> {
    let limit = paging.limit();
    let after = paging
        .cursor()?
        .map(|c| {
            c.split_once('|')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| OAuthError::invalid_request("invalid cursor"))
        })
        .transpose()?;
    let rows = kh
        .store()
        .list_clients_page(limit + 1, after.as_ref().map(|(at, id)| (*at, id.as_str())))
        .await
        .map_err(store_error)?;
    let more = rows.len() as u64 > limit;
    let mut items = Vec::new();
    for c in rows.iter().take(limit as usize) {
        items.push(admin_client(&kh, c).await?);
    }
    let next_cursor = more
        .then(|| {
            items
                .last()
                .map(|c: &AdminClient| cursor_of(&format!("{}|{}", c.created_at, c.client_id)))
        })
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

/// `POST /api/admin/clients`: the secret is in this answer only.
#[utoipa::path(post, path = "/api/admin/clients", tag = "connected apps", operation_id = "createClient",
    request_body = NewClientRequest,
    responses((status = 201, body = CreatedClientResponse), (status = 400, description = "invalid_redirect_uri or invalid_client_metadata", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn create_client(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Json(req): Json<NewClientRequest>,
) -> Result<(StatusCode, Json<CreatedClientResponse>), ApiError> {
    let mut spec = ClientSpec::new(&req.name, req.client_type, req.redirect_uris);
    spec.description = req.description.trim().to_owned();
    spec.logo_uri = req.logo_uri.filter(|l| !l.trim().is_empty());
    spec.access_token_ttl = req.access_token_ttl.unwrap_or(3600);
    spec.refresh_policy = refresh_policy(req.refresh_policy.as_deref())?;
    spec.audience = req.audience.filter(|a| !a.trim().is_empty());
    spec.claims_template = req.claims_template.filter(|t| !t.trim().is_empty());
    spec.grant_types = req.grant_types;
    spec.resource_server = req.resource_server;
    spec.token_endpoint_auth_method = req.token_endpoint_auth_method;
    let created = kh.create_client(spec).await?;
    let c = &created.client;
    kh.audit(
        &admin.actor(),
        "client.created",
        Some(&c.id),
        json!({ "name": c.name, "client_type": c.client_type.as_str(), "redirect_uris": c.redirect_uris }),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedClientResponse {
            client: admin_client(&kh, c).await?,
            client_secret: created.client_secret,
        }),
    ))
}

/// `GET /api/admin/clients/{id}`.
#[utoipa::path(get, path = "/api/admin/clients/{id}", tag = "connected apps", operation_id = "getClient",
    params(("id" = String, Path)), responses((status = 200, body = AdminClient), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_client(
    State(kh): State<Keyhouse>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<AdminClient>, ApiError> {
    let c = find(&kh, &id).await?;
    Ok(Json(admin_client(&kh, &c).await?))
}

#[utoipa::path(patch, path = "/api/admin/clients/{id}", tag = "connected apps", operation_id = "updateClient",
    params(("id" = String, Path)), request_body = UpdateClientRequest,
    responses((status = 200, body = AdminClient), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// `PATCH /api/admin/clients/{id}`: the fields present change; the result
/// is validated like a new registration.
pub(crate) async fn update_client(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Path(id): Path<String>,
    Json(req): Json<UpdateClientRequest>,
) -> Result<Json<AdminClient>, ApiError> {
    let c = kh.update_client(&id, req, &admin.actor()).await?;
    Ok(Json(admin_client(&kh, &c).await?))
}

/// `DELETE /api/admin/clients/{id}`: revokes everything issued to it.
#[utoipa::path(delete, path = "/api/admin/clients/{id}", tag = "connected apps", operation_id = "deleteClient",
    params(("id" = String, Path)), responses((status = 204, description = "Deleted; every grant and token of the client is revoked"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_client(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !kh.delete_client(&id).await? {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such client").into());
    }
    kh.audit(&admin.actor(), "client.deleted", Some(&id), json!({}))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

fn rotation_error(e: RotationError) -> OAuthError {
    match e {
        RotationError::NoSecret => OAuthError::new(
            ErrorCode::InvalidRequest,
            "public clients have no secret to rotate",
        ),
        RotationError::WrongState => OAuthError::new(
            ErrorCode::Conflict,
            "a rotation is already pending, or none is",
        ),
    }
}

impl Keyhouse {
    /// Starts a secret rotation for `client_id`: a second secret (returned
    /// once) works alongside the old one until completed or cancelled.
    pub async fn start_secret_rotation(
        &self,
        client_id: &str,
        actor: &str,
    ) -> Result<String, OAuthError> {
        let c = find_editable(self, client_id).await?;
        let (new_secret, secret_id) = {
            let mut rng = rand::rng();
            (
                secret::generate_token(&mut rng),
                secret::generate_id("secret", &mut rng),
            )
        };
        let hash = secret::hash_client_secret(&self.0.secret_key, &new_secret);
        self.store()
            .start_rotation(&c.id, &secret_id, &hash, self.now())
            .await
            .map_err(store_error)?
            .map_err(rotation_error)?;
        self.forget_client(&c.id);
        self.audit(
            actor,
            "client.secret_rotation_started",
            Some(&c.id),
            json!({}),
        )
        .await;
        Ok(new_secret)
    }

    /// Completes (the old secret stops working) or cancels (the new one is
    /// discarded) a rotation.
    pub async fn finish_secret_rotation(
        &self,
        client_id: &str,
        complete: bool,
        actor: &str,
    ) -> Result<(), OAuthError> {
        let c = find(self, client_id).await?;
        self.store()
            .finish_rotation(&c.id, complete)
            .await
            .map_err(store_error)?
            .map_err(rotation_error)?;
        self.forget_client(&c.id);
        let action = if complete {
            "client.secret_rotation_completed"
        } else {
            "client.secret_rotation_cancelled"
        };
        self.audit(actor, action, Some(&c.id), json!({})).await;
        Ok(())
    }
}

/// `POST /api/admin/clients/{id}/secrets/rotate`.
#[utoipa::path(post, path = "/api/admin/clients/{id}/secrets/rotate", tag = "connected apps", operation_id = "startSecretRotation",
    params(("id" = String, Path)), responses((status = 200, description = "The new secret (shown once); both secrets work", body = RotationStarted), (status = 409, body = ErrorBody)))]
pub(crate) async fn rotate_start(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<RotationStarted>, ApiError> {
    let client_secret = kh.start_secret_rotation(&id, &admin.actor()).await?;
    Ok(Json(RotationStarted { client_secret }))
}

/// `POST /api/admin/clients/{id}/secrets/rotate/complete`.
#[utoipa::path(post, path = "/api/admin/clients/{id}/secrets/rotate/complete", tag = "connected apps", operation_id = "completeSecretRotation",
    params(("id" = String, Path)), responses((status = 200, description = "The old secret stops working", body = AdminClient), (status = 409, body = ErrorBody)))]
pub(crate) async fn rotate_complete(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<AdminClient>, ApiError> {
    kh.finish_secret_rotation(&id, true, &admin.actor()).await?;
    Ok(Json(admin_client(&kh, &*find(&kh, &id).await?).await?))
}

/// `POST /api/admin/clients/{id}/secrets/rotate/cancel`.
#[utoipa::path(post, path = "/api/admin/clients/{id}/secrets/rotate/cancel", tag = "connected apps", operation_id = "cancelSecretRotation",
    params(("id" = String, Path)), responses((status = 200, description = "The new secret is discarded", body = AdminClient), (status = 409, body = ErrorBody)))]
pub(crate) async fn rotate_cancel(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<AdminClient>, ApiError> {
    kh.finish_secret_rotation(&id, false, &admin.actor())
        .await?;
    Ok(Json(admin_client(&kh, &*find(&kh, &id).await?).await?))
}

/// `GET /api/admin/audit`: newest first.
#[utoipa::path(get, path = "/api/admin/audit", tag = "audit", operation_id = "listAuditEvents",
    params(("limit" = Option<u64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<AuditEvent>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn audit_log(
    State(kh): State<Keyhouse>,
    _admin: Admin,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<AuditEvent>>, ApiError> {
    let limit = paging.limit();
    let before = paging
        .cursor()?
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| OAuthError::invalid_request("invalid cursor"))
        })
        .transpose()?;
    let rows = kh
        .store()
        .list_audit(limit + 1, before)
        .await
        .map_err(store_error)?;
    let more = rows.len() as u64 > limit;
    let items: Vec<AuditEvent> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| AuditEvent {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            client_id: r.client_id,
            details: serde_json::from_str(&r.details).unwrap_or(Value::Null),
        })
        .collect();
    let next_cursor = more
        .then(|| items.last().map(|e| cursor_of(&e.id.to_string())))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

/// `GET /api/account/connected-apps`: the apps this user granted.
pub(crate) async fn connected_apps(
    State(kh): State<Keyhouse>,
    session: CurrentSession,
) -> Result<Json<Vec<ConnectedApp>>, ApiError> {
    let grants = kh
        .store()
        .grants_of(&session.user.id)
        .await
        .map_err(store_error)?;
    let mut apps = Vec::new();
    for g in grants {
        let Some(c) = kh.client(&g.client_id).await? else {
            continue;
        };
        let scopes = g
            .scopes
            .iter()
            .map(|s| ScopeDescription {
                scope: s.to_owned(),
                description: kh
                    .config()
                    .scopes
                    .get(s)
                    .map(|d| d.description.clone())
                    .unwrap_or_default(),
                grantable: true,
            })
            .collect();
        apps.push(ConnectedApp {
            client: ClientSummary {
                client_id: c.id.clone(),
                name: c.name.clone(),
                description: c.description.clone(),
                // As on consent (docs/threat-model.md rows 55 and 74).
                logo_uri: kh.logo_url(&c),
                client_type: c.client_type,
                verified_domain: crate::authorize::verified_domain(&c),
                self_registered: c.origin == keyhouse_core::client::ClientOrigin::Dynamic,
            },
            scopes,
            granted_at: g.created_at,
            last_used_at: g.last_used_at,
        });
    }
    Ok(Json(apps))
}

/// `DELETE /api/account/connected-apps/{client_id}`: the grant goes, every
/// token issued from it is revoked, and the next authorization asks again.
pub(crate) async fn revoke_connected_app(
    State(kh): State<Keyhouse>,
    session: CurrentSession,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let removed = kh
        .store()
        .revoke_grant(&session.user.id, &client_id, kh.now())
        .await
        .map_err(store_error)?;
    if !removed {
        return Err(OAuthError::new(ErrorCode::NotFound, "you have not connected this app").into());
    }
    tracing::info!(user_id = %session.user.id, client_id = %client_id, "connected app revoked by the user");
    kh.audit(
        &format!("user:{}", session.user.id),
        "consent.revoked",
        Some(&client_id),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The admin API's OpenAPI 3.1 document (`GET /api/admin/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Keyhouse admin API",
        description = "Connected Apps, secret rotation, the audit log, agents (metadata-document policy, blocked domains) and protected resources. Authorize with an \
                       operator's session or `Authorization: Bearer kh_admin_…` (an admin API key \
                       from `keyhouse admin-keys create`).",
        version = "1.0.0"
    ),
    paths(list_clients, create_client, get_client, update_client, delete_client, rotate_start,
          rotate_complete, rotate_cancel, audit_log,
          crate::agents::list_blocked, crate::agents::block, crate::agents::unblock,
          crate::agents::list_blocked_clients, crate::agents::block_client,
          crate::agents::unblock_client,
          crate::agent_settings::get_settings, crate::agent_settings::put_policy,
          crate::agent_settings::reset_policy, crate::agent_settings::list_resources,
          crate::agent_settings::put_resource, crate::agent_settings::delete_resource),
    components(schemas(AdminClient, NewClientRequest, CreatedClientResponse, UpdateClientRequest,
                       RotationStarted, AuditEvent, ErrorBody, keyhouse_types::ClientType,
                       keyhouse_types::admin::MetadataPolicy, keyhouse_types::admin::AgentSettings,
                       keyhouse_types::admin::PolicyChange, keyhouse_types::admin::ResourceView,
                       keyhouse_types::admin::ResourceRequest,
                       keyhouse_types::admin::BlockDomainRequest,
                       keyhouse_types::admin::BlockClientRequest,
                       keyhouse_types::admin::BlockDomainResponse)),
    tags((name = "connected apps"), (name = "audit"), (name = "agents"), (name = "resources"))
)]
pub struct AdminApiDoc;

/// `GET /api/admin/openapi.json`.
pub(crate) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<AdminApiDoc as utoipa::OpenApi>::openapi())
}
