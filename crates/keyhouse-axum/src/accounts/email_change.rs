//! Moving an account to a new address, from its account page.
//!
//! The holder confirms it is them (`reauth`), then the new address gets a
//! link and a code; the account keeps its address until one comes back,
//! so a typo or an address the user does not control changes nothing.
//! When it does, the account moves in one transaction (verified, its open
//! reset links spent: they went to the old address) and the old address is
//! told, so a stolen session moving an account away does not go unseen.
//!
//! An address that already has an account answers the same `202` (a
//! signed-in user learns nothing about who else has an account); its owner
//! is told someone asked. One change is pending at a time: a new request
//! spends the older, and its code survives `email_code_attempts` wrong
//! guesses.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keyhouse_core::{OAuthError, secret};
use keyhouse_store::{ChallengePurpose, NewEmailChallenge, User};
use keyhouse_types::{ChangeEmailRequest, ConfirmEmailChangeRequest};

use crate::Keyhouse;
use crate::accounts::email::{
    Mail, Pending, address_within_limit, check_code, complete, mail_challenge, sent, wrong_code,
};
use crate::accounts::reauth::confirm_holder;
use crate::accounts::reset::security_vars;
use crate::accounts::session::CurrentSession;
use crate::accounts::throttle::ip_within_hourly_limit;
use crate::accounts::users::normalize_email;
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::json::JsonBody;

/// `POST /api/account/email`: mails a link and code to the new address.
pub(crate) async fn request_change(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ChangeEmailRequest>,
) -> Result<Response, ApiError> {
    let limit = kh.config().email_codes_per_ip_per_hour;
    ip_within_hourly_limit(&kh, "email", ip, limit, "email messages").await?;
    let email = normalize_email(&req.email)
        .ok_or_else(|| OAuthError::invalid_request("enter a valid email address"))?;
    let user = &current.user;
    if email == user.email {
        return Err(OAuthError::invalid_request("that is already your address").into());
    }
    confirm_holder(&kh, &current, req.password.as_deref(), ip).await?;
    if !address_within_limit(&kh, &email).await? {
        tracing::info!(user_id = %user.id, "address change: the address's hourly messages are used up; nothing sent");
        return Ok(sent(&kh, email, None));
    }
    let owner = kh
        .store()
        .find_user_by_email(&email)
        .await
        .map_err(store_error)?;
    if let Some(owner) = owner {
        // The same write as for a free address (a pending change that
        // spends the older one), but one nothing can complete: its link and
        // code are never sent. So what happens to the user's earlier
        // request, and the time taken, say nothing about the address.
        let now = kh.now();
        let never_sent = || secret::hash_token(&secret::generate_token(&mut rand::rng()));
        kh.store()
            .create_email_challenge(&NewEmailChallenge {
                id_hash: never_sent(),
                purpose: ChallengePurpose::ChangeEmail,
                email: email.clone(),
                user_id: Some(user.id.clone()),
                code_hash: never_sent(),
                browser_hash: None,
                payload: None,
                created_at: now,
                expires_at: now + kh.config().email_code_ttl,
            })
            .await
            .map_err(store_error)?;
        let vars = security_vars(&kh, &owner.email, &owner.name, ip, &headers);
        kh.mailer()
            .send_later(owner.email.clone(), "address_in_use", vars);
        tracing::info!(user_id = %user.id, "address change to a taken address; its owner was told");
        return Ok(sent(&kh, email, None));
    }
    let m = Mail {
        purpose: ChallengePurpose::ChangeEmail,
        email: &email,
        user: Some(user),
        browser_hash: None,
        pending: Pending {
            previous_email: Some(user.email.clone()),
            ..Pending::default()
        },
        template: "confirm_new_address",
    };
    mail_challenge(&kh, m, ip, &headers).await?;
    Ok(sent(&kh, email, None))
}

/// `POST /api/account/email/confirm`: the code mailed to the new address,
/// typed on the account page. Answers with the session, its new address in.
pub(crate) async fn confirm_change(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ConfirmEmailChangeRequest>,
) -> Result<Response, ApiError> {
    let limit = kh.config().email_code_checks_per_ip_per_hour;
    ip_within_hourly_limit(&kh, "email-check", ip, limit, "code checks").await?;
    let now = kh.now();
    let Some(challenge) = kh
        .store()
        .pending_email_change(&current.user.id, now)
        .await
        .map_err(store_error)?
    else {
        tracing::info!(user_id = %current.user.id, "address change code refused: none pending");
        return Err(wrong_code());
    };
    check_code(&kh, &challenge, &req.code).await?;
    let (user, pending) = complete(&kh, &challenge).await?;
    changed(&kh, &user, &pending, ip, &headers).await;
    let now_signed_in = CurrentSession {
        session: current.session,
        user,
    };
    Ok(Json(now_signed_in.response()).into_response())
}

/// After an account moved: the old address is told, and the audit log
/// keeps the event (without either address).
pub(crate) async fn changed(
    kh: &Keyhouse,
    user: &User,
    pending: &Pending,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) {
    tracing::info!(user_id = %user.id, "account moved to a new address");
    if let Some(old) = &pending.previous_email {
        let mut vars = security_vars(kh, old, &user.name, ip, headers);
        vars.insert("new_email", user.email.clone());
        kh.mailer().send_later(old.clone(), "email_changed", vars);
    }
    kh.audit(
        &format!("user:{}", user.id),
        "account.email_changed",
        None,
        serde_json::json!({}),
    )
    .await;
}
