//! The OpenAPI document of the admin API (`/api/admin/openapi.json`).

use axum::Json;
use keyhouse_types::ErrorBody;
use keyhouse_types::admin::{
    AdminClient, AuditEvent, CreatedClientResponse, NewClientRequest, RotationStarted,
    UpdateClientRequest,
};

use crate::admin::audit::__path_audit_log;
use crate::admin::clients::{
    __path_create_client, __path_delete_client, __path_get_client, __path_list_clients,
    __path_update_client,
};
use crate::admin::rotation::{__path_rotate_cancel, __path_rotate_complete, __path_rotate_start};

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
          crate::admin::agents::list_blocked, crate::admin::agents::block, crate::admin::agents::unblock,
          crate::admin::agents::list_blocked_clients, crate::admin::agents::block_client,
          crate::admin::agents::unblock_client,
          crate::admin::agents::get_settings, crate::admin::agents::put_policy,
          crate::admin::agents::reset_policy, crate::admin::agents::list_resources,
          crate::admin::agents::put_resource, crate::admin::agents::delete_resource,
          crate::admin::users::list_users, crate::admin::users::get_user,
          crate::admin::users::disable_user, crate::admin::users::enable_user,
          crate::admin::users::require_password_reset, crate::admin::users::turn_off_two_step),
    components(schemas(AdminClient, NewClientRequest, CreatedClientResponse, UpdateClientRequest,
                       RotationStarted, AuditEvent, ErrorBody, keyhouse_types::ClientType,
                       keyhouse_types::admin::MetadataPolicy, keyhouse_types::admin::AgentSettings,
                       keyhouse_types::admin::PolicyChange, keyhouse_types::admin::ResourceView,
                       keyhouse_types::admin::ResourceRequest,
                       keyhouse_types::admin::BlockDomainRequest,
                       keyhouse_types::admin::BlockClientRequest,
                       keyhouse_types::admin::BlockDomainResponse,
                       keyhouse_types::admin::AdminUser, keyhouse_types::admin::UserDisabled,
                       keyhouse_types::admin::ResetRequired)),
    tags((name = "connected apps"), (name = "audit"), (name = "agents"), (name = "resources"), (name = "users"))
)]
pub struct AdminApiDoc;

/// `GET /api/admin/openapi.json`.
pub(crate) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<AdminApiDoc as utoipa::OpenApi>::openapi())
}
