//! Confirming it is really the account holder before an action that cannot
//! be undone by signing in again (a new address, deleting the account): a
//! session found on an unlocked computer is not enough.
//!
//! An account with a password types it (checked with the same throttle as
//! sign-in, so this is no way around it). An account with none has nothing
//! to type: its sign-in must be recent ([`Config::recent_sign_in`]), else
//! `reauthentication_required` asks it to sign in again.
//!
//! [`Config::recent_sign_in`]: crate::Config::recent_sign_in

use std::net::IpAddr;

use keyhouse_core::{ErrorCode, OAuthError};

use crate::Keyhouse;
use crate::accounts::password::verify_password;
use crate::accounts::session::CurrentSession;
use crate::accounts::throttle::throttled;

/// Whether the account has a password (password-less accounts sign in by
/// mailed codes and links only).
pub(crate) fn has_password(current: &CurrentSession) -> bool {
    !current.user.password_hash.is_empty()
}

/// Checks that the holder of `current` is at the keyboard: their password,
/// or a recent sign-in for an account with none.
pub(crate) async fn confirm_holder(
    kh: &Keyhouse,
    current: &CurrentSession,
    password: Option<&str>,
    ip: Option<IpAddr>,
) -> Result<(), OAuthError> {
    let user = &current.user;
    if !has_password(current) {
        let age = kh.now() - current.session.auth_time;
        if age > kh.config().recent_sign_in {
            tracing::info!(user_id = %user.id, age, "refused: the sign-in is too old to confirm the holder");
            return Err(OAuthError::new(
                ErrorCode::ReauthenticationRequired,
                "for your security, sign in again to do this",
            ));
        }
        return Ok(());
    }
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(OAuthError::invalid_request("enter your current password"));
    };
    // An operator no longer trusts this password: it confirms nothing
    // until a reset replaces it.
    if user.password_reset_required {
        return Err(reset_required());
    }
    let phc = user.password_hash.clone();
    let password = password.to_owned();
    throttled(kh, &user.email, ip, |_| async move {
        let ok = verify_password(kh, &password, Some(phc)).await;
        Ok(ok.then_some(()))
    })
    .await
    .inspect_err(
        |e| tracing::info!(user_id = %user.id, error = %e, "refused: the holder was not confirmed"),
    )
}

/// The refusal of a password an operator required to be replaced.
pub(crate) fn reset_required() -> OAuthError {
    OAuthError::new(
        ErrorCode::PasswordResetRequired,
        "this account needs a new password: use the link we mailed you, or ask for a new one",
    )
}
