//! Client-secret rotation: a second secret that works beside the first until
//! the rotation is completed or cancelled.

use axum::Json;
use axum::extract::{Path, State};
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::RotationError;
use keyhouse_types::ErrorBody;
use keyhouse_types::admin::{AdminClient, RotationStarted};
use serde_json::json;

use crate::Keyhouse;
use crate::admin::Admin;
use crate::admin::clients::{admin_client, find, find_editable};
use crate::error::{ApiError, store_error};

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
