//! The admin API (`/api/admin/...`) and the discovery document, called with
//! the operator's session cookie (same origin; the browser adds
//! `Sec-Fetch-Site: same-origin`, which cookie-authenticated writes need).

use keyhouse_idp_component::{ApiClient, ApiError};
use keyhouse_types::admin::{
    AdminClient, AdminUser, AgentSettings, AuditEvent, BlockClientRequest, BlockDomainRequest,
    BlockDomainResponse, CreatedClientResponse, MetadataPolicy, NewClientRequest, Page,
    PolicyChange, ResetRequired, ResourceRequest, ResourceView, RotationStarted,
    UpdateClientRequest, UserDisabled,
};
use serde::Deserialize;

const CLIENTS: &str = "/api/admin/clients";
const AUDIT: &str = "/api/admin/audit";
/// Items per page of a list.
pub const PAGE_SIZE: u32 = 25;

fn api() -> ApiClient {
    ApiClient::same_origin()
}

fn client_path(id: &str) -> String {
    format!("{CLIENTS}/{}", encode_component(id))
}

fn list_path(base: &str, cursor: Option<&str>) -> String {
    match cursor {
        Some(c) => format!("{base}?limit={PAGE_SIZE}&cursor={}", encode_component(c)),
        None => format!("{base}?limit={PAGE_SIZE}"),
    }
}

pub use crate::pages::encode_segment as encode_component;

/// The body of the action POSTs: an empty JSON object.
fn no_fields() -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::new()
}

/// `GET /api/admin/clients`: one page of apps.
pub async fn list_clients(cursor: Option<String>) -> Result<Page<AdminClient>, ApiError> {
    api().get_json(&list_path(CLIENTS, cursor.as_deref())).await
}

const BLOCKED: &str = "/api/admin/agents/blocked-domains";

/// `GET /api/admin/agents/blocked-domains`.
pub async fn blocked_domains() -> Result<Vec<String>, ApiError> {
    api().get_json(BLOCKED).await
}

/// `POST /api/admin/agents/blocked-domains`: also deletes the domain's
/// metadata-document clients, revoking their grants.
pub async fn block_domain(domain: &str) -> Result<BlockDomainResponse, ApiError> {
    let req = BlockDomainRequest {
        domain: domain.to_owned(),
    };
    api().post_json(BLOCKED, &req).await
}

/// `DELETE /api/admin/agents/blocked-domains/{domain}`.
pub async fn unblock_domain(domain: &str) -> Result<(), ApiError> {
    api()
        .delete(&format!("{BLOCKED}/{}", encode_component(domain)))
        .await
}

const BLOCKED_CLIENTS: &str = "/api/admin/agents/blocked-clients";

/// `GET /api/admin/agents/blocked-clients`: agents blocked one by one.
pub async fn blocked_clients() -> Result<Vec<String>, ApiError> {
    api().get_json(BLOCKED_CLIENTS).await
}

/// `POST /api/admin/agents/blocked-clients`: deletes the agent (revoking
/// its grants and tokens) and refuses its document from then on.
pub async fn block_client(client_id: &str) -> Result<(), ApiError> {
    let req = BlockClientRequest {
        client_id: client_id.to_owned(),
    };
    api().post_empty(BLOCKED_CLIENTS, &req).await
}

/// `DELETE /api/admin/agents/blocked-clients?client_id=…`.
pub async fn unblock_client(client_id: &str) -> Result<(), ApiError> {
    api()
        .delete(&format!(
            "{BLOCKED_CLIENTS}?client_id={}",
            encode_component(client_id)
        ))
        .await
}

const POLICY: &str = "/api/admin/agents/policy";
const RESOURCES: &str = "/api/admin/resources";

/// `GET /api/admin/agents/settings`.
pub async fn agent_settings() -> Result<AgentSettings, ApiError> {
    api().get_json("/api/admin/agents/settings").await
}

/// `PUT /api/admin/agents/policy`: overrides the configuration's policy;
/// agents it no longer accepts are removed.
pub async fn set_policy(policy: &MetadataPolicy) -> Result<PolicyChange, ApiError> {
    api().put_json(POLICY, policy).await
}

/// `DELETE /api/admin/agents/policy`: the configuration's policy again.
pub async fn reset_policy() -> Result<PolicyChange, ApiError> {
    api().delete_json(POLICY).await
}

/// `GET /api/admin/resources`.
pub async fn resources() -> Result<Vec<ResourceView>, ApiError> {
    api().get_json(RESOURCES).await
}

/// `PUT /api/admin/resources`: registers or replaces a resource.
pub async fn put_resource(req: &ResourceRequest) -> Result<ResourceView, ApiError> {
    api().put_json(RESOURCES, req).await
}

/// `DELETE /api/admin/resources?uri=…`: its grants and tokens are revoked.
pub async fn delete_resource(uri: &str) -> Result<(), ApiError> {
    api()
        .delete(&format!("{RESOURCES}?uri={}", encode_component(uri)))
        .await
}

/// `POST /api/admin/clients`: registers an app; the secret comes back once.
pub async fn create_client(req: &NewClientRequest) -> Result<CreatedClientResponse, ApiError> {
    api().post_json(CLIENTS, req).await
}

/// `GET /api/admin/clients/{id}`.
pub async fn get_client(id: &str) -> Result<AdminClient, ApiError> {
    api().get_json(&client_path(id)).await
}

/// `PATCH /api/admin/clients/{id}`: only the fields present change.
pub async fn update_client(id: &str, req: &UpdateClientRequest) -> Result<AdminClient, ApiError> {
    api().patch_json(&client_path(id), req).await
}

/// `DELETE /api/admin/clients/{id}`: also revokes everything issued to it.
pub async fn delete_client(id: &str) -> Result<(), ApiError> {
    api().delete(&client_path(id)).await
}

/// `POST /api/admin/clients/{id}/secrets/rotate`: the new secret, once.
pub async fn start_rotation(id: &str) -> Result<RotationStarted, ApiError> {
    api()
        .post_json(&format!("{}/secrets/rotate", client_path(id)), &no_fields())
        .await
}

/// `POST /api/admin/clients/{id}/secrets/rotate/complete`: the old secret
/// stops working; the app as it is now.
pub async fn complete_rotation(id: &str) -> Result<AdminClient, ApiError> {
    api()
        .post_json(
            &format!("{}/secrets/rotate/complete", client_path(id)),
            &no_fields(),
        )
        .await
}

/// `POST /api/admin/clients/{id}/secrets/rotate/cancel`: the new secret is
/// discarded; the app as it is now.
pub async fn cancel_rotation(id: &str) -> Result<AdminClient, ApiError> {
    api()
        .post_json(
            &format!("{}/secrets/rotate/cancel", client_path(id)),
            &no_fields(),
        )
        .await
}

/// `GET /api/admin/audit`: one page of events, newest first.
pub async fn list_audit(cursor: Option<String>) -> Result<Page<AuditEvent>, ApiError> {
    api().get_json(&list_path(AUDIT, cursor.as_deref())).await
}

const USERS: &str = "/api/admin/users";

/// `GET /api/admin/users?q=`: one page of the users whose address or name
/// contains `query`, newest first.
pub async fn list_users(query: &str, cursor: Option<String>) -> Result<Page<AdminUser>, ApiError> {
    let base = format!("{USERS}?q={}", encode_component(query.trim()));
    let path = match cursor {
        Some(c) => format!("{base}&limit={PAGE_SIZE}&cursor={}", encode_component(&c)),
        None => format!("{base}&limit={PAGE_SIZE}"),
    };
    api().get_json(&path).await
}

fn user_action(id: &str, action: &str) -> String {
    format!("{USERS}/{}/{action}", encode_component(id))
}

/// `POST /api/admin/users/{id}/disable`.
pub async fn disable_user(id: &str) -> Result<UserDisabled, ApiError> {
    api()
        .post_json(&user_action(id, "disable"), &no_fields())
        .await
}

/// `POST /api/admin/users/{id}/enable`.
pub async fn enable_user(id: &str) -> Result<AdminUser, ApiError> {
    api()
        .post_json(&user_action(id, "enable"), &no_fields())
        .await
}

/// `POST /api/admin/users/{id}/require-password-reset`.
pub async fn require_reset(id: &str) -> Result<ResetRequired, ApiError> {
    api()
        .post_json(&user_action(id, "require-password-reset"), &no_fields())
        .await
}

/// `POST /api/admin/users/{id}/turn-off-two-step`.
pub async fn turn_off_two_step(id: &str) -> Result<AdminUser, ApiError> {
    api()
        .post_json(&user_action(id, "turn-off-two-step"), &no_fields())
        .await
}

/// The two endpoints a custom GPT needs, from the discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoints {
    /// The Authorization URL (`{issuer}/idp`).
    pub authorization_endpoint: String,
    /// The Token URL (`{issuer}/oauth2/token`).
    pub token_endpoint: String,
}

/// `GET /.well-known/openid-configuration`.
pub async fn endpoints() -> Result<Endpoints, ApiError> {
    api().get_json("/.well-known/openid-configuration").await
}
