//! The admin endpoints for agents: blocked domains and clients, the
//! metadata-document policy and the protected resources.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_types::admin::{
    AgentSettings, MetadataPolicy, PolicyChange, ResourceRequest, ResourceView,
};
use serde::Deserialize;
use serde_json::json;

use crate::Keyhouse;
use crate::admin::Admin;
use crate::agents::blocklist::normalize_domain;
use crate::error::ApiError;
use crate::http::json::JsonBody;

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
    JsonBody(body): JsonBody<keyhouse_types::admin::BlockDomainRequest>,
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
    JsonBody(body): JsonBody<keyhouse_types::admin::BlockClientRequest>,
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

/// `GET /api/admin/agents/settings`.
#[utoipa::path(get, path = "/api/admin/agents/settings", tag = "agents", operation_id = "getAgentSettings",
    responses((status = 200, body = AgentSettings), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn get_settings(
    State(kh): State<Keyhouse>,
    _admin: Admin,
) -> Result<Json<AgentSettings>, ApiError> {
    Ok(Json(kh.agent_settings().await?))
}

/// `PUT /api/admin/agents/policy`: overrides the configuration's policy.
#[utoipa::path(put, path = "/api/admin/agents/policy", tag = "agents", operation_id = "setMetadataPolicy",
    request_body = MetadataPolicy,
    responses((status = 200, description = "in force; clients it no longer accepts were removed", body = PolicyChange),
              (status = 400, description = "a domain is not a host name", body = keyhouse_types::ErrorBody), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn put_policy(
    State(kh): State<Keyhouse>,
    admin: Admin,
    JsonBody(body): JsonBody<MetadataPolicy>,
) -> Result<Json<PolicyChange>, ApiError> {
    let change = kh.set_metadata_policy(Some(body)).await?;
    kh.audit(
        &admin.actor(),
        "agents.policy_changed",
        None,
        json!({ "policy": change.settings.policy, "clients_removed": change.clients_removed }),
    )
    .await;
    Ok(Json(change))
}

/// `DELETE /api/admin/agents/policy`: the configuration's policy again.
#[utoipa::path(delete, path = "/api/admin/agents/policy", tag = "agents", operation_id = "resetMetadataPolicy",
    responses((status = 200, body = PolicyChange), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn reset_policy(
    State(kh): State<Keyhouse>,
    admin: Admin,
) -> Result<Json<PolicyChange>, ApiError> {
    let change = kh.set_metadata_policy(None).await?;
    kh.audit(
        &admin.actor(),
        "agents.policy_reset",
        None,
        json!({ "policy": change.settings.policy, "clients_removed": change.clients_removed }),
    )
    .await;
    Ok(Json(change))
}

/// `GET /api/admin/resources`.
#[utoipa::path(get, path = "/api/admin/resources", tag = "resources", operation_id = "listResources",
    responses((status = 200, body = Vec<ResourceView>), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn list_resources(
    State(kh): State<Keyhouse>,
    _admin: Admin,
) -> Result<Json<Vec<ResourceView>>, ApiError> {
    Ok(Json(kh.resource_views().await?))
}

/// `PUT /api/admin/resources`: registers or replaces a resource.
#[utoipa::path(put, path = "/api/admin/resources", tag = "resources", operation_id = "putResource",
    request_body = ResourceRequest,
    responses((status = 200, body = ResourceView),
              (status = 400, description = "invalid_request, invalid_target or invalid_scope", body = keyhouse_types::ErrorBody),
              (status = 409, description = "the application declares this URI", body = keyhouse_types::ErrorBody), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn put_resource(
    State(kh): State<Keyhouse>,
    admin: Admin,
    JsonBody(body): JsonBody<ResourceRequest>,
) -> Result<Json<ResourceView>, ApiError> {
    let view = kh.register_resource(&body).await?;
    kh.audit(
        &admin.actor(),
        "resource.registered",
        None,
        json!({ "uri": view.uri, "scopes": view.scopes }),
    )
    .await;
    Ok(Json(view))
}

/// The resource a delete names.
#[derive(Deserialize)]
pub(crate) struct ResourceQuery {
    uri: String,
}

/// `DELETE /api/admin/resources?uri=…`: its grants and tokens are revoked.
#[utoipa::path(delete, path = "/api/admin/resources", tag = "resources", operation_id = "deleteResource",
    params(("uri" = String, Query, description = "the resource URI")),
    responses((status = 204, description = "removed"), (status = 404, body = keyhouse_types::ErrorBody),
              (status = 409, body = keyhouse_types::ErrorBody), (status = 401, body = keyhouse_types::ErrorBody), (status = 403, body = keyhouse_types::ErrorBody)))]
pub(crate) async fn delete_resource(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Query(q): Query<ResourceQuery>,
) -> Result<StatusCode, ApiError> {
    if !kh.unregister_resource(&q.uri).await? {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such registered resource").into());
    }
    kh.audit(
        &admin.actor(),
        "resource.removed",
        None,
        json!({ "uri": q.uri }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
