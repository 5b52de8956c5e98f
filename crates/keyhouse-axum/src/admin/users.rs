//! End users, for operators (`/api/admin/users`): find them, disable an
//! account (every session, grant and token ends at once) and enable it
//! again, require a password reset (every session ends, the password stops
//! signing in, a reset link is mailed), turn two-step verification off for
//! someone who lost their authenticator app and recovery codes (the address
//! is told). Every action is in the audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_store::User;
use keyhouse_types::ErrorBody;
use keyhouse_types::admin::{AdminUser, Page, ResetRequired, UserDisabled};
use serde::Deserialize;
use serde_json::json;

use crate::Keyhouse;
use crate::accounts::reset::mail_reset_link;
use crate::admin::{Admin, Paging, created_cursor};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;

fn shown(u: &User) -> AdminUser {
    AdminUser {
        user_id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        email_verified: u.email_verified,
        has_password: !u.password_hash.is_empty(),
        is_admin: u.is_admin,
        created_at: u.created_at,
        disabled_at: u.disabled_at,
        password_reset_required: u.password_reset_required,
        second_factor: u.has_second_factor(),
    }
}

/// `?q=`: part of an address or a name.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    q: String,
}

fn no_such_user() -> ApiError {
    OAuthError::new(ErrorCode::NotFound, "no such user").into()
}

async fn user_of(kh: &Keyhouse, id: &str) -> Result<User, ApiError> {
    kh.store()
        .find_user(id)
        .await
        .map_err(store_error)?
        .ok_or_else(no_such_user)
}

/// `GET /api/admin/users`: newest first; `q` keeps those whose address or
/// name contains it (any case).
#[utoipa::path(get, path = "/api/admin/users", tag = "users", operation_id = "listUsers",
    params(("q" = Option<String>, Query, description = "part of an address or a name"),
           ("limit" = Option<u64>, Query, description = "1 to 200, default 50"),
           ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = Page<AdminUser>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_users(
    State(kh): State<Keyhouse>,
    _admin: Admin,
    Query(search): Query<Search>,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<AdminUser>>, ApiError> {
    let limit = paging.limit();
    let after = paging.after_created()?;
    let rows = kh
        .store()
        .search_users(
            &search.q,
            limit + 1,
            after.as_ref().map(|(at, id)| (*at, id.as_str())),
        )
        .await
        .map_err(store_error)?;
    let more = rows.len() as u64 > limit;
    let items: Vec<AdminUser> = rows.iter().take(limit as usize).map(shown).collect();
    let next_cursor = more
        .then(|| {
            items
                .last()
                .map(|u| created_cursor(u.created_at, &u.user_id))
        })
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

/// `GET /api/admin/users/{id}`.
#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "users", operation_id = "getUser",
    params(("id" = String, Path)), responses((status = 200, body = AdminUser), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_user(
    State(kh): State<Keyhouse>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<AdminUser>, ApiError> {
    Ok(Json(shown(&user_of(&kh, &id).await?)))
}

/// `POST /api/admin/users/{id}/disable`: the account signs in nowhere, and
/// every session, grant and token of it ends now.
#[utoipa::path(post, path = "/api/admin/users/{id}/disable", tag = "users", operation_id = "disableUser",
    params(("id" = String, Path)), responses((status = 200, body = UserDisabled), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn disable_user(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<UserDisabled>, ApiError> {
    if admin.actor() == format!("user:{id}") {
        return Err(OAuthError::new(
            ErrorCode::Conflict,
            "you cannot disable your own account; ask another operator",
        )
        .into());
    }
    let done = kh
        .store()
        .disable_user(&id, kh.now())
        .await
        .map_err(store_error)?
        .ok_or_else(no_such_user)?;
    kh.deliver_logout_notices_later();
    tracing::info!(user_id = %id, sessions = done.sessions, grants = done.grants, actor = %admin.actor(), "user disabled");
    kh.audit(
        &admin.actor(),
        "user.disabled",
        None,
        json!({ "user_id": id, "sessions_ended": done.sessions, "apps_disconnected": done.grants }),
    )
    .await;
    Ok(Json(UserDisabled {
        sessions_ended: done.sessions,
        apps_disconnected: done.grants,
    }))
}

/// `POST /api/admin/users/{id}/enable`: the account signs in again (its
/// apps stay disconnected until the user connects them again).
#[utoipa::path(post, path = "/api/admin/users/{id}/enable", tag = "users", operation_id = "enableUser",
    params(("id" = String, Path)), responses((status = 200, body = AdminUser), (status = 404, body = ErrorBody)))]
pub(crate) async fn enable_user(
    State(kh): State<Keyhouse>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<AdminUser>, ApiError> {
    if !kh
        .store()
        .enable_user(&id, kh.now())
        .await
        .map_err(store_error)?
    {
        return Err(no_such_user());
    }
    tracing::info!(user_id = %id, actor = %admin.actor(), "user enabled");
    kh.audit(
        &admin.actor(),
        "user.enabled",
        None,
        json!({ "user_id": id }),
    )
    .await;
    Ok(Json(shown(&user_of(&kh, &id).await?)))
}

/// `POST /api/admin/users/{id}/turn-off-two-step`: for someone who lost
/// their authenticator app and every recovery code. The app's secret and
/// the codes are deleted (the password, or a mailed code, signs in alone
/// again), the address is told, and the audit log keeps who did it.
#[utoipa::path(post, path = "/api/admin/users/{id}/turn-off-two-step", tag = "users", operation_id = "turnOffTwoStep",
    params(("id" = String, Path)), responses((status = 200, body = AdminUser), (status = 404, body = ErrorBody)))]
pub(crate) async fn turn_off_two_step(
    State(kh): State<Keyhouse>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<AdminUser>, ApiError> {
    let user = user_of(&kh, &id).await?;
    let was_on = kh
        .store()
        .disable_totp(keyhouse_store::FactorHolder::User(&id), kh.now())
        .await
        .map_err(store_error)?;
    if was_on {
        tracing::info!(user_id = %id, actor = %admin.actor(), "two-step verification turned off by an operator");
        crate::accounts::second_factor::notify(
            &kh,
            crate::accounts::second_factor::Holder::User(&user),
            ip,
            &headers,
            "Two-step verification was turned off by the service's staff",
        );
        kh.audit(
            &admin.actor(),
            "user.second_factor_removed",
            None,
            json!({ "user_id": id }),
        )
        .await;
    }
    Ok(Json(shown(&user_of(&kh, &id).await?)))
}

/// `POST /api/admin/users/{id}/require-password-reset`: every session
/// ends, the password stops signing in until a reset, and a reset link is
/// mailed to the account's address.
#[utoipa::path(post, path = "/api/admin/users/{id}/require-password-reset", tag = "users", operation_id = "requirePasswordReset",
    params(("id" = String, Path)), responses((status = 200, body = ResetRequired), (status = 404, body = ErrorBody)))]
pub(crate) async fn require_password_reset(
    State(kh): State<Keyhouse>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ResetRequired>, ApiError> {
    let sessions = kh
        .store()
        .require_password_reset(&id, kh.now())
        .await
        .map_err(store_error)?
        .ok_or_else(no_such_user)?;
    kh.deliver_logout_notices_later();
    let user = user_of(&kh, &id).await?;
    if !user.is_disabled() {
        mail_reset_link(&kh, &user, ip, &headers).await?;
    }
    tracing::info!(user_id = %id, sessions, actor = %admin.actor(), "password reset required");
    kh.audit(
        &admin.actor(),
        "user.password_reset_required",
        None,
        json!({ "user_id": id, "sessions_ended": sessions }),
    )
    .await;
    Ok(Json(ResetRequired {
        sessions_ended: sessions,
    }))
}
