//! The audit log: every change to a client, and every consent, with its actor.

use axum::Json;
use axum::extract::{Query, State};
use keyhouse_core::OAuthError;
use keyhouse_types::ErrorBody;
use keyhouse_types::admin::{AuditEvent, Page};
use serde_json::Value;

use crate::Keyhouse;
use crate::admin::{Admin, Paging, cursor_of};
use crate::error::{ApiError, store_error};

impl Keyhouse {
    /// Appends to the audit log. A failure is logged, not fatal: the action
    /// itself has already happened. An event whose details name an
    /// `organization_id` belongs to that organization's log as well, which
    /// its admins read.
    pub async fn audit(&self, actor: &str, action: &str, client_id: Option<&str>, details: Value) {
        let organization = details
            .get("organization_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let details = details.to_string();
        if let Err(e) = self
            .store()
            .audit(
                self.now(),
                actor,
                action,
                client_id,
                organization.as_deref(),
                &details,
            )
            .await
        {
            tracing::error!(error = %e, actor, action, "audit event lost");
        }
    }
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
    Ok(Json(audit_page(&kh, &paging, None).await?))
}

/// A page of the audit log, newest first: every event, or one
/// organization's.
pub(crate) async fn audit_page(
    kh: &Keyhouse,
    paging: &Paging,
    organization_id: Option<&str>,
) -> Result<Page<AuditEvent>, ApiError> {
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
        .list_audit(limit + 1, before, organization_id)
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
    Ok(Page { items, next_cursor })
}
