//! Deleting an account, by its holder, for good.
//!
//! The holder confirms it is them (`reauth`) and types the account's
//! address again. Then, in this order:
//!
//! 1. the host app deletes what it keeps about the user
//!    ([`Keyhouse::on_account_deleted`]); if it fails, nothing of Keyhouse's
//!    is touched and the user can try again;
//! 2. Keyhouse deletes, in one transaction, every grant (so each connected
//!    app's refresh and access tokens stop working at once), unredeemed
//!    code, session, mailed link and code, and the account row;
//! 3. the audit log records it under the account's id only, and the
//!    address gets a last message saying so.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_types::{AccountDeleted, DeleteAccountRequest};

use crate::Keyhouse;
use crate::accounts::reauth::confirm_holder;
use crate::accounts::reset::security_vars;
use crate::accounts::session::{CurrentSession, cookie_name};
use crate::accounts::users::normalize_email;
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::{set_named_cookie, with_cookie};
use crate::http::json::JsonBody;

/// The future a [`Keyhouse::on_account_deleted`] hook returns.
pub type HookFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A stored [`Keyhouse::on_account_deleted`] hook.
pub(crate) type Hook = Arc<dyn Fn(String) -> HookFuture + Send + Sync>;

impl Keyhouse {
    /// Runs `hook` with a user's id when they delete their account, before
    /// Keyhouse deletes anything: the host app deletes what it keeps about
    /// them (their notes, files, rows keyed by the user id). An `Err`
    /// (a message for the log) stops the deletion; nothing of Keyhouse's is
    /// deleted and the user is told to try again, so the hook must be safe
    /// to run twice.
    ///
    /// Set once; a second call is ignored with a warning.
    pub fn on_account_deleted<F, Fut>(self, hook: F) -> Keyhouse
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let hook: Hook = Arc::new(move |id| Box::pin(hook(id)) as HookFuture);
        if self.0.account_deleted.set(hook).is_err() {
            tracing::warn!("an account-deleted hook was already set; keeping the first");
        }
        self
    }
}

/// `POST /api/account/delete`: deletes the signed-in account and signs
/// the browser out.
pub(crate) async fn delete_account(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    JsonBody(req): JsonBody<DeleteAccountRequest>,
) -> Result<Response, ApiError> {
    let user = current.user.clone();
    if normalize_email(&req.confirm_email).as_deref() != Some(user.email.as_str()) {
        return Err(
            OAuthError::invalid_request("type your account's email address to confirm").into(),
        );
    }
    confirm_holder(&kh, &current, req.password.as_deref(), ip).await?;
    if let Some(hook) = kh.0.account_deleted.get()
        && let Err(e) = hook(user.id.clone()).await
    {
        tracing::error!(user_id = %user.id, error = %e, "account not deleted: the app could not delete its data");
        return Err(OAuthError::new(
            ErrorCode::ServerError,
            "your account could not be deleted just now; nothing was deleted, try again",
        )
        .into());
    }
    let Some(deleted) = kh
        .store()
        .delete_user(&user.id, kh.now())
        .await
        .map_err(store_error)?
    else {
        return Err(OAuthError::new(ErrorCode::SessionRequired, "sign in first").into());
    };
    kh.deliver_logout_notices_later();
    tracing::info!(
        user_id = %user.id,
        grants = deleted.grants,
        token_families = deleted.token_families,
        sessions = deleted.sessions,
        "account deleted by its holder"
    );
    kh.audit(
        &format!("user:{}", user.id),
        "account.deleted",
        None,
        serde_json::json!({
            "grants": deleted.grants,
            "token_families": deleted.token_families,
            "sessions": deleted.sessions,
        }),
    )
    .await;
    let mut vars = security_vars(&kh, &user.email, &user.name, ip, &headers);
    vars.insert("apps", deleted.grants.to_string());
    kh.mailer()
        .send_later(user.email.clone(), "account_deleted", vars);
    let body = AccountDeleted {
        apps_disconnected: deleted.grants,
        sessions_ended: deleted.sessions,
    };
    let cookie = set_named_cookie(&kh, cookie_name(&kh), "", 0)
        .ok_or_else(|| OAuthError::server("cookie header"))?;
    Ok(with_cookie(Json(body).into_response(), cookie))
}
