//! Connected Apps (OAuth clients): create, read, update, delete, for the CLI
//! (`Keyhouse::create_client`, ...) and the admin API (`/api/admin/clients`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keyhouse_core::client::{self, Client, GrantType, IdTokenAlg, RefreshPolicy};
use keyhouse_core::client_update::{self, Updated};
use keyhouse_core::{ClientType, ErrorCode, OAuthError, logout, secret};
use keyhouse_store::NewClient;
use keyhouse_types::ErrorBody;
use keyhouse_types::admin::{
    AdminClient, CreatedClientResponse, NewClientRequest, Page, UpdateClientRequest,
};
use serde_json::json;

use crate::Keyhouse;
use crate::admin::{Admin, Paging, created_cursor};
use crate::error::{ApiError, store_error};
use crate::http::json::ClientMetadata;

/// What an operator asks for when creating a client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientSpec {
    /// Display name.
    pub name: String,
    /// Type.
    pub client_type: ClientType,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Description.
    pub description: String,
    /// https logo.
    pub logo_uri: Option<String>,
    /// Access-token lifetime (default 3600).
    pub access_token_ttl: i64,
    /// Refresh policy (default by type).
    pub refresh_policy: Option<RefreshPolicy>,
    /// A custom `aud` for its access tokens.
    pub audience: Option<String>,
    /// Extra access-token claims (see `keyhouse_core::claims::render_template`).
    pub claims_template: Option<String>,
    /// Grant types (default: authorization_code and refresh_token;
    /// `client_credentials` only when named here).
    pub grant_types: Option<Vec<String>>,
    /// Whether it may introspect other clients' access tokens.
    pub resource_server: bool,
    /// `client_secret_basic` or `client_secret_post`; `None` pins the
    /// method of its first authentication.
    pub token_endpoint_auth_method: Option<String>,
    /// Scopes a request naming none gets (RFC 6749 §3.3).
    pub default_scopes: Vec<String>,
    /// Refresh grace period, seconds (0: strict reuse detection).
    pub refresh_grace: i64,
    /// Where the browser may go after signing out (RP-Initiated Logout).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are posted (Back-Channel Logout).
    pub backchannel_logout_uri: Option<String>,
    /// Whether its logout tokens must carry `sid`.
    pub backchannel_logout_session_required: bool,
    /// What its ID tokens are signed with (default RS256).
    pub id_token_alg: IdTokenAlg,
}

impl ClientSpec {
    /// A spec with defaults.
    pub fn new(name: &str, client_type: ClientType, redirect_uris: Vec<String>) -> ClientSpec {
        ClientSpec {
            name: name.to_owned(),
            client_type,
            redirect_uris,
            description: String::new(),
            logo_uri: None,
            access_token_ttl: 3600,
            refresh_policy: None,
            audience: None,
            claims_template: None,
            grant_types: None,
            resource_server: false,
            token_endpoint_auth_method: None,
            default_scopes: Vec::new(),
            refresh_grace: 0,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            id_token_alg: IdTokenAlg::default(),
        }
    }
}

/// A client just created, with its secret (shown once; only its hash is kept).
#[derive(Clone)]
#[non_exhaustive]
pub struct CreatedClient {
    /// The client.
    pub client: Client,
    /// The secret, for confidential clients.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for CreatedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedClient")
            .field("client", &self.client)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// The values of a [`ClientSpec`] that checking normalises.
struct CheckedSpec {
    grant_types: Vec<GrantType>,
    auth_method: Option<String>,
    default_scopes: Vec<String>,
    refresh_grace: i64,
    post_logout_redirect_uris: Vec<String>,
}

impl Keyhouse {
    /// Registers a client.
    pub async fn create_client(&self, spec: ClientSpec) -> Result<CreatedClient, OAuthError> {
        let checked = self.checked_spec(&spec)?;
        // ThreadRng is not Send: use it before the first await.
        let (new, c, client_secret) = {
            let mut rng = rand::rng();
            let c = Client {
                id: secret::generate_id("client", &mut rng),
                client_type: spec.client_type,
                name: spec.name.trim().to_owned(),
                description: spec.description,
                logo_uri: spec.logo_uri,
                redirect_uris: spec.redirect_uris,
                access_token_ttl: spec.access_token_ttl,
                refresh_policy: spec.refresh_policy.unwrap_or_default(),
                created_at: self.now(),
                audience: spec.audience,
                claims_template: spec.claims_template,
                grant_types: checked.grant_types,
                resource_server: spec.resource_server,
                token_endpoint_auth_method: checked.auth_method,
                origin: client::ClientOrigin::Manual,
                default_scopes: checked.default_scopes,
                refresh_grace: checked.refresh_grace,
                post_logout_redirect_uris: checked.post_logout_redirect_uris,
                backchannel_logout_uri: spec.backchannel_logout_uri,
                backchannel_logout_session_required: spec.backchannel_logout_session_required,
                id_token_alg: spec.id_token_alg,
            };
            let client_secret = (!c.is_public()).then(|| secret::generate_token(&mut rng));
            let new = NewClient {
                secret_hash: client_secret
                    .as_deref()
                    .map(|s| secret::hash_client_secret(&self.0.secret_key, s)),
                secret_id: secret::generate_id("secret", &mut rng),
                client: c.clone(),
                registration_token_hash: None,
                metadata_fingerprint: None,
            };
            (new, c, client_secret)
        };
        self.store()
            .create_client(&new)
            .await
            .map_err(store_error)?;
        tracing::info!(client_id = %c.id, client_type = c.client_type.as_str(), "client created");
        Ok(CreatedClient {
            client: c,
            client_secret,
        })
    }

    /// Checks what an operator asks to register, as a registration would be
    /// checked; the values it normalises.
    fn checked_spec(&self, spec: &ClientSpec) -> Result<CheckedSpec, OAuthError> {
        client::validate_new_client(
            &spec.name,
            spec.client_type,
            &spec.redirect_uris,
            spec.logo_uri.as_deref(),
            spec.access_token_ttl,
        )?;
        client::validate_audience(spec.audience.as_deref())?;
        logout::validate_backchannel_logout_uri(spec.backchannel_logout_uri.as_deref())?;
        if let Some(t) = &spec.claims_template {
            keyhouse_core::claims::validate_template(t)?;
        }
        Ok(CheckedSpec {
            grant_types: match &spec.grant_types {
                Some(list) => client::validate_grant_types(spec.client_type, list)?,
                None => GrantType::defaults(),
            },
            auth_method: client::validate_auth_method(
                spec.client_type,
                spec.token_endpoint_auth_method.as_deref(),
            )?,
            default_scopes: self.validate_default_scopes(&spec.default_scopes)?,
            refresh_grace: client::validate_refresh_grace(spec.refresh_grace)?,
            post_logout_redirect_uris: logout::validate_post_logout_redirect_uris(
                &spec.post_logout_redirect_uris,
                spec.client_type.is_public(),
            )?,
        })
    }

    /// Checks a client's default scopes: known scopes of the catalogue.
    pub(crate) fn validate_default_scopes(
        &self,
        scopes: &[String],
    ) -> Result<Vec<String>, OAuthError> {
        let metadata = |mut e: OAuthError| {
            e.code = ErrorCode::InvalidClientMetadata;
            e
        };
        let set = keyhouse_core::ScopeSet::parse(&scopes.join(" ")).map_err(metadata)?;
        self.config().scopes.check_known(&set).map_err(metadata)?;
        Ok(set.iter().map(str::to_owned).collect())
    }

    /// Deletes a client and revokes everything issued to it.
    pub async fn delete_client(&self, id: &str) -> Result<bool, OAuthError> {
        let existed = self
            .store()
            .delete_client(id, self.now())
            .await
            .map_err(store_error)?;
        self.forget_client(id);
        Ok(existed)
    }

    /// Changes the fields present in `req`; the result is validated like a
    /// new registration, and nothing is written when it is refused.
    pub async fn update_client(
        &self,
        id: &str,
        req: UpdateClientRequest,
        actor: &str,
    ) -> Result<Client, OAuthError> {
        let current = find_editable(self, id).await?;
        let Updated { client: c, changed } = client_update::apply_update(&current, &req)?;
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

pub(crate) async fn admin_client(kh: &Keyhouse, c: &Client) -> Result<AdminClient, OAuthError> {
    let usage = kh.store().client_usage(&c.id).await.map_err(store_error)?;
    Ok(AdminClient {
        client_id: c.id.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        logo_uri: c.logo_uri.clone(),
        client_type: c.client_type,
        redirect_uris: c.redirect_uris.clone(),
        access_token_ttl: c.access_token_ttl,
        refresh_policy: c.refresh_policy,
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
        verified_domain: crate::oauth::authorize::verified_domain(c),
        last_used_at: usage.0,
        users: usage.1,
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: c.backchannel_logout_session_required,
        id_token_signed_response_alg: c.id_token_alg.as_str().to_owned(),
    })
}

pub(crate) async fn find(kh: &Keyhouse, id: &str) -> Result<std::sync::Arc<Client>, OAuthError> {
    kh.client(id)
        .await?
        .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no such client"))
}

/// A client the operator may change: not one its metadata document
/// describes (the document is the source of truth, and has no secret).
pub(crate) async fn find_editable(
    kh: &Keyhouse,
    id: &str,
) -> Result<std::sync::Arc<Client>, OAuthError> {
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
    let after = paging.after_created()?;
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
                .map(|c: &AdminClient| created_cursor(c.created_at, &c.client_id))
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
    ClientMetadata(req): ClientMetadata<NewClientRequest>,
) -> Result<(StatusCode, Json<CreatedClientResponse>), ApiError> {
    let mut spec = ClientSpec::new(&req.name, req.client_type, req.redirect_uris);
    spec.description = req.description.trim().to_owned();
    spec.logo_uri = req.logo_uri.filter(|l| !l.trim().is_empty());
    spec.access_token_ttl = req.access_token_ttl.unwrap_or(3600);
    spec.refresh_policy = req.refresh_policy;
    spec.audience = req.audience.filter(|a| !a.trim().is_empty());
    spec.claims_template = req.claims_template.filter(|t| !t.trim().is_empty());
    spec.grant_types = req.grant_types;
    spec.resource_server = req.resource_server;
    spec.token_endpoint_auth_method = req.token_endpoint_auth_method;
    spec.post_logout_redirect_uris = req
        .post_logout_redirect_uris
        .iter()
        .map(|u| u.trim().to_owned())
        .collect();
    spec.backchannel_logout_uri = req
        .backchannel_logout_uri
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty());
    spec.backchannel_logout_session_required = req.backchannel_logout_session_required;
    spec.id_token_alg = IdTokenAlg::validate(req.id_token_signed_response_alg.as_deref())?;
    let created = kh.create_client(spec).await?;
    let c = &created.client;
    kh.audit(
        &admin.actor(),
        "client.created",
        Some(&c.id),
        json!({ "name": c.name, "client_type": c.client_type.as_str(), "redirect_uris": c.redirect_uris,
                "id_token_signed_response_alg": c.id_token_alg.as_str() }),
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
    ClientMetadata(req): ClientMetadata<UpdateClientRequest>,
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
