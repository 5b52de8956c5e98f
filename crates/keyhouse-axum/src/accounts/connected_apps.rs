//! The signed-in user's own view of the apps they connected
//! (`/api/account/connected-apps`), and disconnecting one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_types::admin::ConnectedApp;
use keyhouse_types::{ClientSummary, ScopeDescription};
use serde_json::json;

use crate::Keyhouse;
use crate::accounts::subjects::EndUser;
use crate::error::{ApiError, store_error};

/// `GET /api/account/connected-apps`: the apps this user granted.
pub(crate) async fn connected_apps(
    State(kh): State<Keyhouse>,
    user: EndUser,
) -> Result<Json<Vec<ConnectedApp>>, ApiError> {
    let grants = kh.store().grants_of(&user.id).await.map_err(store_error)?;
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
                description: kh.scope_description(s),
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
                verified_domain: crate::oauth::authorize::verified_domain(&c),
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
    user: EndUser,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let removed = kh
        .store()
        .revoke_grant(&user.id, &client_id, kh.now())
        .await
        .map_err(store_error)?;
    if !removed {
        return Err(OAuthError::new(ErrorCode::NotFound, "you have not connected this app").into());
    }
    tracing::info!(user_id = %user.id, client_id = %client_id, "connected app revoked by the user");
    kh.audit(
        &format!("user:{}", user.id),
        "consent.revoked",
        Some(&client_id),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
