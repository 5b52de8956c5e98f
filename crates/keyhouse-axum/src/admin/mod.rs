//! The admin API (`/api/admin/...`), for operators (a user with the admin flag,
//! in the browser) and for automation (an admin API key,
//! `Authorization: Bearer kh_admin_…`): Connected Apps, secret rotation,
//! end users, the audit log, agent settings and the OpenAPI document.

pub(crate) mod agents;
pub(crate) mod api_keys;
pub(crate) mod audit;
pub mod clients;
pub mod openapi;
pub(crate) mod rotation;
pub(crate) mod users;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{delete, get, post, put};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhouse_core::{ErrorCode, OAuthError, secret};
use serde::Deserialize;

use crate::Keyhouse;
use crate::accounts::session::CurrentSession;
use crate::admin::api_keys::API_KEY_PREFIX;
use crate::error::{ApiError, store_error};

/// Who is calling the admin API.
#[derive(Debug, Clone)]
#[non_exhaustive]
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

/// `limit` and an opaque `cursor` (docs/threat-model.md row 31: validated, never
/// spliced into SQL).
#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    limit: Option<u64>,
    cursor: Option<String>,
}

impl Paging {
    pub(crate) fn limit(&self) -> u64 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }

    pub(crate) fn cursor(&self) -> Result<Option<String>, OAuthError> {
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

impl Paging {
    /// The `(created_at, id)` the page starts after, for lists ordered by
    /// creation (its cursor is [`created_cursor`]).
    fn after_created(&self) -> Result<Option<(i64, String)>, OAuthError> {
        self.cursor()?
            .map(|c| {
                c.split_once('|')
                    .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                    .ok_or_else(|| OAuthError::invalid_request("invalid cursor"))
            })
            .transpose()
    }
}

/// The cursor after the row created at `at` with id `id` (read back by
/// [`Paging::after_created`]).
fn created_cursor(at: i64, id: &str) -> String {
    cursor_of(&format!("{at}|{id}"))
}

/// The admin API: Connected Apps, secret rotation, the audit log, agents and
/// protected resources, and the OpenAPI document that describes them.
pub(crate) fn routes() -> Router<Keyhouse> {
    Router::new()
        .route(
            "/api/admin/clients",
            get(clients::list_clients).post(clients::create_client),
        )
        .route(
            "/api/admin/clients/{id}",
            get(clients::get_client)
                .patch(clients::update_client)
                .delete(clients::delete_client),
        )
        .route(
            "/api/admin/clients/{id}/secrets/rotate",
            post(rotation::rotate_start),
        )
        .route(
            "/api/admin/clients/{id}/secrets/rotate/complete",
            post(rotation::rotate_complete),
        )
        .route(
            "/api/admin/clients/{id}/secrets/rotate/cancel",
            post(rotation::rotate_cancel),
        )
        .route("/api/admin/audit", get(audit::audit_log))
        .route(
            "/api/admin/agents/blocked-domains",
            get(agents::list_blocked).post(agents::block),
        )
        .route(
            "/api/admin/agents/blocked-domains/{domain}",
            delete(agents::unblock),
        )
        .route(
            "/api/admin/agents/blocked-clients",
            get(agents::list_blocked_clients)
                .post(agents::block_client)
                .delete(agents::unblock_client),
        )
        .route("/api/admin/agents/settings", get(agents::get_settings))
        .route(
            "/api/admin/agents/policy",
            put(agents::put_policy).delete(agents::reset_policy),
        )
        .route(
            "/api/admin/resources",
            get(agents::list_resources)
                .put(agents::put_resource)
                .delete(agents::delete_resource),
        )
        .route("/api/admin/users", get(users::list_users))
        .route("/api/admin/users/{id}", get(users::get_user))
        .route("/api/admin/users/{id}/disable", post(users::disable_user))
        .route("/api/admin/users/{id}/enable", post(users::enable_user))
        .route(
            "/api/admin/users/{id}/require-password-reset",
            post(users::require_password_reset),
        )
        .route(
            "/api/admin/users/{id}/turn-off-two-step",
            post(users::turn_off_two_step),
        )
        .route("/api/admin/openapi.json", get(openapi::openapi))
}
