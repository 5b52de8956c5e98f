//! Passwords: a forgotten one is not a lost account, and a signed-in user
//! can change theirs.
//!
//! `POST /api/session/password-reset` mails a single-use link (its token
//! stored hashed, short-lived) to the address if an account has it, and
//! answers `202` the same way whether or not one does, without waiting for
//! the mail. `POST /api/session/password-reset/confirm` spends the token:
//! in one transaction the new password replaces the old, every session of
//! the account ends and every other reset link of the account stops; then
//! a notice is mailed. Connected apps keep their grants and tokens (a
//! password reset is not a revocation; the account page revokes apps).
//!
//! `POST /api/account/password` changes the password of the signed-in
//! user: the current password is checked (throttled like a sign-in, since a
//! stolen session cookie is not the password), every other session of the
//! account ends, unused reset links are spent, and a notice is mailed.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::{AccountTokenPurpose, NewAccountToken, User};
use keyhouse_types::{
    ChangePasswordRequest, ChangePasswordResponse, PasswordResetConfirm, PasswordResetRequest,
};

use crate::Keyhouse;
use crate::accounts::password::{hash_password, verify_password};
use crate::accounts::session::CurrentSession;
use crate::accounts::throttle::{ip_within_hourly_limit, throttled, within_hourly_limit};
use crate::accounts::users::{check_password, normalize_email};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::json::JsonBody;
use crate::mail::templates::Vars;

/// `POST /api/session/password-reset`.
pub(crate) async fn request_reset(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PasswordResetRequest>,
) -> Result<Response, ApiError> {
    let c = kh.config();
    // Per network, counted first: this limit tells nothing about accounts.
    let limit = c.password_resets_per_ip_per_hour;
    ip_within_hourly_limit(&kh, "reset", ip, limit, "reset requests").await?;
    let email = normalize_email(&req.email)
        .ok_or_else(|| OAuthError::invalid_request("enter a valid email address"))?;
    // Per address, counted for every request (an account or not), so the
    // limit behaves the same for both; past it nothing is sent, and the
    // answer does not change.
    let bucket = format!("reset:email:{email}");
    if !within_hourly_limit(&kh, &bucket, c.password_resets_per_address_per_hour).await? {
        return Ok(accepted());
    }
    match kh
        .store()
        .find_user_by_email(&email)
        .await
        .map_err(store_error)?
    {
        Some(user) if user.is_disabled() => {
            tracing::info!(user_id = %user.id, "password reset asked for a disabled account; nothing sent");
        }
        Some(user) => mail_reset_link(&kh, &user, ip, &headers).await?,
        None => tracing::info!("password reset asked for an address with no account"),
    }
    Ok(accepted())
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response()
}

pub(crate) async fn mail_reset_link(
    kh: &Keyhouse,
    user: &User,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<(), OAuthError> {
    let c = kh.config();
    let now = kh.now();
    let token = secret::generate_token(&mut rand::rng());
    kh.store()
        .create_account_token(&NewAccountToken {
            token_hash: secret::hash_token(&token),
            purpose: AccountTokenPurpose::PasswordReset,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now + c.password_reset_ttl,
        })
        .await
        .map_err(store_error)?;
    let link = format!("{}{}?token={token}", c.issuer, c.reset_password_path);
    let mut vars = security_vars(kh, &user.email, &user.name, ip, headers);
    vars.insert("link", link);
    vars.insert("minutes", (c.password_reset_ttl / 60).to_string());
    kh.mailer()
        .send_later(user.email.clone(), "password_reset", vars);
    tracing::info!(user_id = %user.id, "password reset link mailed");
    Ok(())
}

/// `POST /api/session/password-reset/confirm`.
pub(crate) async fn confirm_reset(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PasswordResetConfirm>,
) -> Result<Response, ApiError> {
    check_password(&req.password)?;
    let token_hash = secret::hash_token(req.token.trim());
    // A cheap look first, so a made-up token costs no Argon2 work; then
    // hash, and spend the token and write in one transaction (which checks
    // it again: of two uses racing, one wins).
    let live = kh
        .store()
        .account_token_is_live(&token_hash, AccountTokenPurpose::PasswordReset, kh.now())
        .await
        .map_err(store_error)?;
    if !live {
        return Err(bad_link());
    }
    let hash = hash_password(&kh, &req.password).await?;
    let Some(user) = kh
        .store()
        .reset_password(&token_hash, &hash, kh.now())
        .await
        .map_err(store_error)?
    else {
        return Err(bad_link());
    };
    kh.deliver_logout_notices_later();
    tracing::info!(user_id = %user.id, "password reset; every session of the account ended");
    let vars = security_vars(&kh, &user.email, &user.name, ip, &headers);
    kh.mailer()
        .send_later(user.email.clone(), "password_changed", vars);
    Ok(Json(serde_json::json!({})).into_response())
}

/// `POST /api/account/password`.
pub(crate) async fn change_password(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ChangePasswordRequest>,
) -> Result<Response, ApiError> {
    check_password(&req.new_password)?;
    let user = current.user.clone();
    // A password an operator no longer trusts does not choose its successor
    // (the mailed reset does).
    if user.password_reset_required {
        return Err(crate::accounts::reauth::reset_required().into());
    }
    let phc = user.password_hash.clone();
    let checked = throttled(&kh, &user.email, ip, |_| async {
        let ok = verify_password(&kh, &req.current_password, Some(phc)).await;
        Ok(ok.then_some(()))
    })
    .await;
    if let Err(e) = checked {
        tracing::info!(user_id = %user.id, error = %e, "password change refused");
        return Err(e.into());
    }
    let hash = hash_password(&kh, &req.new_password).await?;
    let ended = kh
        .store()
        .change_password(&user.id, &hash, &current.session.id_hash, kh.now())
        .await
        .map_err(store_error)?
        .ok_or_else(|| OAuthError::new(ErrorCode::LoginRequired, "the account is gone"))?;
    kh.deliver_logout_notices_later();
    tracing::info!(user_id = %user.id, other_sessions_ended = ended, "password changed");
    let vars = security_vars(&kh, &user.email, &user.name, ip, &headers);
    kh.mailer()
        .send_later(user.email.clone(), "password_changed", vars);
    Ok(Json(ChangePasswordResponse {
        other_sessions_ended: ended,
    })
    .into_response())
}

fn bad_link() -> ApiError {
    tracing::info!("password reset refused: unknown, used or expired link");
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "this reset link is invalid, used or expired; ask for a new one",
    )
    .into()
}

/// The issuer's host name ("notes.example"), as mail and authenticator
/// apps name the service; the whole issuer when it has none.
pub(crate) fn issuer_name(kh: &Keyhouse) -> String {
    let issuer = &kh.config().issuer;
    url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| issuer.clone())
}

/// The values every security mail carries: who it is for (an address and
/// a name, possibly empty: the account may not exist yet), who the issuer
/// is, and when, from where and with what the request came.
pub(crate) fn security_vars(
    kh: &Keyhouse,
    email: &str,
    name: &str,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Vars {
    let issuer = kh.config().issuer.clone();
    let issuer_name = issuer_name(kh);
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().filter(|c| !c.is_control()).take(200).collect())
        .unwrap_or_else(|| "an unknown browser".to_owned());
    let when = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(kh.now()).unwrap_or(0));
    let name = if name.trim().is_empty() { email } else { name };
    Vars::from([
        ("issuer", issuer),
        ("issuer_name", issuer_name),
        ("name", name.to_owned()),
        ("email", email.to_owned()),
        ("time", httpdate::fmt_http_date(when)),
        (
            "ip",
            ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string()),
        ),
        ("user_agent", user_agent),
    ])
}
