//! Two-step verification for members of organizations: the same
//! authenticator app and recovery codes an account has
//! (`crate::accounts::second_factor`), kept on the member, and the second
//! step of a member's sign-in.
//!
//! - `GET /api/b2b/member/second-factor`, `POST …/setup`, `…/enable`,
//!   `…/disable`, `…/recovery-codes`: the member's own settings. Setting up,
//!   turning off and new codes take the member's current password; while
//!   the app is on, a session that used it.
//! - `POST /api/b2b/session/second-factor`: a session waiting for its
//!   second factor (a member with the app on, after the password), or a
//!   signed-in one being stepped up (an organization or an app asking for
//!   two factors), becomes a full one with `otp mfa` added (a new id, the
//!   same `sid`).
//!
//! These take [`AnyMember`]: a member whose sign-in is weaker than the
//! organization asks may still turn the app on and use it, and nothing
//! else.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keyhouse_core::assurance::amr;
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_types::{
    ConfirmHolder, RecoveryCodes, SecondFactorCode, SecondFactorStatus, TotpSetup,
};

use crate::Keyhouse;
use crate::accounts::password::verify_password;
use crate::accounts::second_factor::{
    Holder, check_code, enable_for, replace_codes, set_up, status_of, stepped_up, turn_off, used_it,
};
use crate::accounts::session::Device;
use crate::accounts::throttle::throttled;
use crate::b2b::{AnyMember, CurrentMember};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::with_cookie;
use crate::http::json::JsonBody;

impl CurrentMember {
    /// The member as the holder of their two-step verification.
    pub(crate) fn holder(&self) -> Holder<'_> {
        Holder::Member(&self.member, &self.organization.name)
    }
}

/// `GET /api/b2b/member/second-factor`.
pub(crate) async fn status(
    State(kh): State<Keyhouse>,
    AnyMember(me): AnyMember,
) -> Result<Json<SecondFactorStatus>, ApiError> {
    Ok(Json(status_of(&kh, me.holder()).await?))
}

/// `POST /api/b2b/member/second-factor/setup`: a new secret for the app.
pub(crate) async fn setup(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    AnyMember(me): AnyMember,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<Json<TotpSetup>, ApiError> {
    used_it(me.holder(), &me.session)?;
    confirm_member(&kh, &me, req.password.as_deref(), ip).await?;
    Ok(Json(set_up(&kh, me.holder()).await?))
}

/// `POST /api/b2b/member/second-factor/enable`: the app's first code turns
/// it on; answers the recovery codes, once, and steps this session up.
pub(crate) async fn enable(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    AnyMember(me): AnyMember,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SecondFactorCode>,
) -> Result<Response, ApiError> {
    Ok(enable_for(&kh, me.holder(), &me.session, &req.code, ip, &headers).await?)
}

/// `POST /api/b2b/member/second-factor/disable`. Refused while the
/// organization asks every member for two factors.
pub(crate) async fn disable(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    AnyMember(me): AnyMember,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<StatusCode, ApiError> {
    used_it(me.holder(), &me.session)?;
    // Where passkeys are asked for, the app is each member's choice.
    if me.organization.required_sign_in == keyhouse_types::b2b::RequiredSignIn::TwoFactors {
        return Err(OAuthError::new(
            keyhouse_core::ErrorCode::Conflict,
            format!(
                "{} asks every member to use two-step verification; it cannot be turned off",
                me.organization.name
            ),
        )
        .into());
    }
    confirm_member(&kh, &me, req.password.as_deref(), ip).await?;
    turn_off(&kh, me.holder(), ip, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/b2b/member/second-factor/recovery-codes`: new codes, the old
/// ones stop working.
pub(crate) async fn new_recovery_codes(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    AnyMember(me): AnyMember,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    used_it(me.holder(), &me.session)?;
    confirm_member(&kh, &me, req.password.as_deref(), ip).await?;
    let codes = replace_codes(&kh, me.holder(), ip, &headers).await?;
    Ok(Json(RecoveryCodes { codes }))
}

/// `POST /api/b2b/session/second-factor`: finishes a member's sign-in
/// waiting for its second factor, or steps a signed-in one up. Answers the
/// member session (a new cookie).
pub(crate) async fn verify(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SecondFactorCode>,
) -> Result<Response, ApiError> {
    let (session, member) = kh.member_waiting_or_signed_in(&headers).await?;
    let organization = kh
        .store()
        .find_organization(&member.organization_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| OAuthError::server("the member's organization vanished"))?;
    // A code steps up no session opened around a required single sign-on
    // (docs/threat-model.md row 183).
    if crate::b2b::opened_around_sso(&organization, &session.amr) {
        return Err(crate::b2b::sso::sso_required(&organization).into());
    }
    let holder = Holder::Member(&member, &organization.name);
    check_code(&kh, holder, &req.code, ip, &headers).await?;
    let (cookie, session) = stepped_up(&kh, &session, &Device::of(ip, &headers)).await?;
    let permissions = kh.rbac().await?.permissions_of(&member.roles);
    let me = CurrentMember {
        session,
        member,
        organization,
        permissions,
    };
    Ok(with_cookie(Json(me.response()).into_response(), cookie))
}

/// The member at the keyboard: their current password, checked under the
/// sign-in throttle; for a member with none (who joined with a passkey or
/// through single sign-on), a recent sign-in, as for accounts without one.
pub(crate) async fn confirm_member(
    kh: &Keyhouse,
    me: &CurrentMember,
    password: Option<&str>,
    ip: Option<IpAddr>,
) -> Result<(), OAuthError> {
    if me.member.password_hash.is_empty() {
        let age = kh.now() - me.session.auth_time;
        if age > kh.config().recent_sign_in {
            tracing::info!(member_id = %me.member.id, age, "refused: the sign-in is too old to confirm the member");
            return Err(OAuthError::new(
                ErrorCode::ReauthenticationRequired,
                "for your security, sign in again to do this",
            ));
        }
        // A mailed code alone enrols the first factor and nothing more: a
        // member who holds a passkey or the app confirms with a sign-in
        // that used one (or the organization's provider), so a mailbox
        // alone never swaps their factors (docs/threat-model.md row 186).
        let holds_factor = me.member.totp_enabled_at.is_some()
            || !kh
                .store()
                .passkeys_of(&me.member.id)
                .await
                .map_err(store_error)?
                .is_empty();
        let strong = me
            .session
            .amr
            .iter()
            .any(|a| a == amr::POP || a == amr::OTP || a == amr::FED);
        if holds_factor && !strong {
            tracing::info!(member_id = %me.member.id, amr = ?me.session.amr, "refused: a member without a password confirms with a passkey or the app they hold");
            return Err(OAuthError::new(
                ErrorCode::ReauthenticationRequired,
                "sign in with your passkey or authenticator app to do this",
            ));
        }
        return Ok(());
    }
    let Some(password) = password.filter(|p| !p.is_empty()).map(str::to_owned) else {
        return Err(OAuthError::invalid_request("enter your current password"));
    };
    let phc = me.member.password_hash.clone();
    throttled(kh, &me.member.email, ip, |_| async move {
        Ok(verify_password(kh, &password, Some(phc)).await.then_some(()))
    })
    .await
    .inspect_err(|e| tracing::info!(member_id = %me.member.id, error = %e, "refused: the member was not confirmed"))
}
