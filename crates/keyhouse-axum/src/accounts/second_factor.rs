//! The second factor: an authenticator app (TOTP, RFC 6238) and its
//! recovery codes (docs/threat-model.md rows 108–117).
//!
//! - Setting it up: `POST /api/account/second-factor/setup` (the current
//!   password, or a recent sign-in) makes a secret, sealed with the master
//!   key for this account alone, and answers it as a QR code; nothing is
//!   turned on until `…/enable` brings back a first code from the app. Then
//!   ten recovery codes are shown once (stored as keyed hashes), the
//!   session is stepped up, and the address is told.
//! - Signing in: a right password or mailed code for such an account gives
//!   a session that waits for the second factor (`pending_factor`), which
//!   signs in nothing; `POST /api/session/second-factor` with a code from
//!   the app or a recovery code replaces it with a full one (a new id),
//!   whose `amr` adds `otp` and `mfa`.
//! - Stepping up: the same call from a session that used one factor, when
//!   an app's `acr_values` ask for two.
//! - A code works once: the step it answered is recorded with a
//!   conditional update, so a replay, or two requests racing with one
//!   code, get one success. Wrong codes are throttled per account and per
//!   IP like passwords, and [`FAILURES_PER_DAY`] wrong codes stop the
//!   second step for a day (the owner is told: someone has the password).
//! - While it is on, turning it off and new recovery codes need a session
//!   that used it (`mfa`): a session from before it was turned on, or a
//!   stolen one-factor cookie, cannot remove it.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyhouse_core::{ErrorCode, OAuthError, assurance, secret, totp};
use keyhouse_store::{FactorHolder, Member, SessionRecord, User};
use keyhouse_types::{
    ConfirmHolder, RecoveryCodes, SecondFactorCode, SecondFactorStatus, SubjectKind, TotpSetup,
};

use crate::Keyhouse;
use crate::accounts::reauth::confirm_holder;
use crate::accounts::reset::{issuer_name, security_vars};
use crate::accounts::session::{
    CurrentSession, Device, NewSession, cookie_name, replace_keeping_sid,
    waiting_or_signed_in as session_of_cookie,
};
use crate::accounts::throttle::guarded;
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::{read_cookie, with_cookie};
use crate::http::json::JsonBody;

/// Wrong second-factor codes an account may get in a day before its
/// second step stops until the day is over (on top of the sign-in
/// throttle's growing delays): NIST SP 800-63B §5.2.2 asks for at most 100
/// consecutive failures; a day of these is a thief with the password.
pub const FAILURES_PER_DAY: i64 = 20;

const DAY: i64 = 86_400;

/// Whose second factor a request is about: an account's, or an
/// organization member's (`crate::b2b::second_factor`). Both keep the same
/// app and recovery codes, under their own id.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Holder<'a> {
    /// An account.
    User(&'a User),
    /// A member of an organization, and the organization's name (their
    /// mails say which membership changed).
    Member(&'a Member, &'a str),
}

impl Holder<'_> {
    pub(crate) fn id(&self) -> &str {
        match self {
            Holder::User(u) => &u.id,
            Holder::Member(m, _) => &m.id,
        }
    }

    fn store(&self) -> FactorHolder<'_> {
        match self {
            Holder::User(u) => FactorHolder::User(&u.id),
            Holder::Member(m, _) => FactorHolder::Member(&m.id),
        }
    }

    pub(crate) fn email(&self) -> &str {
        match self {
            Holder::User(u) => &u.email,
            Holder::Member(m, _) => &m.email,
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            Holder::User(u) => &u.name,
            Holder::Member(m, _) => &m.name,
        }
    }

    pub(crate) fn has_second_factor(&self) -> bool {
        match self {
            Holder::User(u) => u.has_second_factor(),
            Holder::Member(m, _) => m.has_second_factor(),
        }
    }

    fn totp_secret(&self) -> Option<&str> {
        match self {
            Holder::User(u) => u.totp_secret.as_deref(),
            Holder::Member(m, _) => m.totp_secret.as_deref(),
        }
    }

    fn totp_last_step(&self) -> Option<i64> {
        match self {
            Holder::User(u) => u.totp_last_step,
            Holder::Member(m, _) => m.totp_last_step,
        }
    }

    /// The audit log's actor.
    pub(crate) fn actor(&self) -> String {
        match self {
            Holder::User(u) => format!("user:{}", u.id),
            Holder::Member(m, _) => format!("member:{}", m.id),
        }
    }

    /// The audit action's prefix.
    pub(crate) fn action(&self, what: &str) -> String {
        match self {
            Holder::User(_) => format!("account.{what}"),
            Holder::Member(..) => format!("member.{what}"),
        }
    }

    /// The throttle's bucket for this holder's codes.
    fn bucket(&self) -> String {
        match self {
            Holder::User(u) => format!("second-factor:user:{}", u.id),
            Holder::Member(m, _) => format!("second-factor:member:{}", m.id),
        }
    }
}

/// While two-step verification is on, changing it takes a session that
/// used it.
pub(crate) fn needs_two_factors(current: &CurrentSession) -> Result<(), OAuthError> {
    used_it(Holder::User(&current.user), &current.session)
}

/// While the holder has two-step verification on, `session` must have used
/// it.
pub(crate) fn used_it(holder: Holder<'_>, session: &SessionRecord) -> Result<(), OAuthError> {
    if holder.has_second_factor()
        && assurance::Level::of(&session.amr) < assurance::Level::TwoFactors
    {
        tracing::info!(holder = %holder.actor(), "second-factor change refused: this session used one factor");
        return Err(OAuthError::new(
            ErrorCode::SecondFactorRequired,
            "confirm it's you with your authenticator app first",
        ));
    }
    Ok(())
}

/// `GET /api/account/second-factor`.
pub(crate) async fn status(
    State(kh): State<Keyhouse>,
    current: CurrentSession,
) -> Result<Json<SecondFactorStatus>, ApiError> {
    Ok(Json(status_of(&kh, Holder::User(&current.user)).await?))
}

/// Whether the holder's app is on, and how many recovery codes are left.
pub(crate) async fn status_of(
    kh: &Keyhouse,
    holder: Holder<'_>,
) -> Result<SecondFactorStatus, OAuthError> {
    let enabled = holder.has_second_factor();
    let recovery_codes_left = match enabled {
        true => kh
            .store()
            .recovery_codes_left(holder.store())
            .await
            .map_err(store_error)?,
        false => 0,
    };
    Ok(SecondFactorStatus {
        enabled,
        recovery_codes_left,
    })
}

/// `POST /api/account/second-factor/setup`: a new secret for the app.
pub(crate) async fn setup(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<Json<TotpSetup>, ApiError> {
    needs_two_factors(&current)?;
    confirm_holder(&kh, &current, req.password.as_deref(), ip).await?;
    Ok(Json(set_up(&kh, Holder::User(&current.user)).await?))
}

/// A new secret for the holder's app, stored sealed until a first code
/// turns it on. The caller confirmed the holder.
pub(crate) async fn set_up(kh: &Keyhouse, holder: Holder<'_>) -> Result<TotpSetup, OAuthError> {
    if holder.has_second_factor() {
        return Err(already_on());
    }
    let secret = totp::generate_secret(&mut rand::rng());
    let sealed = kh
        .master_key()
        .seal(&seal_context(holder.id()), &secret)
        .map_err(|e| OAuthError::server(e.to_string()))?;
    let stored = kh
        .store()
        .set_pending_totp(holder.store(), &sealed, kh.now())
        .await
        .map_err(store_error)?;
    if !stored {
        return Err(already_on());
    }
    let issuer = issuer_name(kh);
    let uri = totp::otpauth_uri(&issuer, holder.email(), &secret);
    tracing::info!(holder = %holder.actor(), "authenticator app being set up");
    Ok(TotpSetup {
        secret: totp::encode_secret(&secret),
        qr_code: qr_data_url(&uri)?,
        uri,
    })
}

/// `POST /api/account/second-factor/enable`: the app's first code turns
/// it on; answers the recovery codes, once, and steps this session up.
pub(crate) async fn enable(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SecondFactorCode>,
) -> Result<Response, ApiError> {
    Ok(enable_for(
        &kh,
        Holder::User(&current.user),
        &current.session,
        &req.code,
        ip,
        &headers,
    )
    .await?)
}

/// Turns the holder's app on with its first code and answers the recovery
/// codes, stepping `session` up (a new cookie). The codes are shown
/// whatever happens to the session: the app is on, and they exist nowhere
/// else.
pub(crate) async fn enable_for(
    kh: &Keyhouse,
    holder: Holder<'_>,
    session: &SessionRecord,
    code: &str,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<Response, OAuthError> {
    let codes = turn_on(kh, holder, code, ip, headers).await?;
    let body = Json(RecoveryCodes { codes }).into_response();
    match stepped_up(kh, session, &Device::of(ip, headers)).await {
        Ok((cookie, _)) => Ok(with_cookie(body, cookie)),
        Err(e) => {
            tracing::warn!(holder = %holder.actor(), error = %e, "two-step verification on; this session not stepped up");
            Ok(body)
        }
    }
}

/// Turns the holder's app on with its first code: answers the recovery
/// codes; the address is told and the change audited.
async fn turn_on(
    kh: &Keyhouse,
    holder: Holder<'_>,
    code: &str,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<Vec<String>, OAuthError> {
    if holder.has_second_factor() {
        return Err(already_on());
    }
    let Some(sealed) = holder.totp_secret().map(str::to_owned) else {
        return Err(OAuthError::invalid_request(
            "set up the authenticator app first",
        ));
    };
    let secret = open_secret(kh, holder.id(), &sealed)?;
    let now = kh.now();
    let step = guarded(kh, Some(holder.bucket()), ip, || async {
        Ok(totp::verify(&secret, code, now, None))
    })
    .await
    .map_err(wrong_or)?;
    let (codes, hashes) = recovery_codes(kh, holder.id());
    let on = kh
        .store()
        .enable_totp(holder.store(), &sealed, step, &hashes, now)
        .await
        .map_err(store_error)?;
    if !on {
        // Set up again (or turned on) by a parallel request since.
        return Err(OAuthError::new(
            ErrorCode::Conflict,
            "the set-up changed meanwhile; start it again",
        ));
    }
    notify(
        kh,
        holder,
        ip,
        headers,
        "Two-step verification was turned on",
    );
    audit(kh, holder, "second_factor_enabled").await;
    Ok(codes)
}

/// `POST /api/account/second-factor/disable`.
pub(crate) async fn disable(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<StatusCode, ApiError> {
    needs_two_factors(&current)?;
    confirm_holder(&kh, &current, req.password.as_deref(), ip).await?;
    turn_off(&kh, Holder::User(&current.user), ip, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turns the holder's app off (the caller confirmed the holder).
pub(crate) async fn turn_off(
    kh: &Keyhouse,
    holder: Holder<'_>,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<(), OAuthError> {
    let was_on = holder.has_second_factor();
    kh.store()
        .disable_totp(holder.store(), kh.now())
        .await
        .map_err(store_error)?;
    if was_on {
        notify(
            kh,
            holder,
            ip,
            headers,
            "Two-step verification was turned off",
        );
        audit(kh, holder, "second_factor_disabled").await;
    }
    Ok(())
}

/// `POST /api/account/second-factor/recovery-codes`: new codes, the old
/// ones stop working.
pub(crate) async fn new_recovery_codes(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    needs_two_factors(&current)?;
    confirm_holder(&kh, &current, req.password.as_deref(), ip).await?;
    let codes = replace_codes(&kh, Holder::User(&current.user), ip, &headers).await?;
    Ok(Json(RecoveryCodes { codes }))
}

/// New recovery codes for the holder (the caller confirmed the holder).
pub(crate) async fn replace_codes(
    kh: &Keyhouse,
    holder: Holder<'_>,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<Vec<String>, OAuthError> {
    let (codes, hashes) = recovery_codes(kh, holder.id());
    let replaced = kh
        .store()
        .replace_recovery_codes(holder.store(), &hashes, kh.now())
        .await
        .map_err(store_error)?;
    if !replaced {
        return Err(OAuthError::invalid_request(
            "turn two-step verification on first",
        ));
    }
    notify(kh, holder, ip, headers, "New recovery codes were made");
    audit(kh, holder, "recovery_codes_replaced").await;
    Ok(codes)
}

/// `POST /api/session/second-factor`: finishes a sign-in waiting for its
/// second factor, or steps up a signed-in session, with a code from the
/// app or a recovery code. Answers the new session (a new cookie).
pub(crate) async fn verify(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SecondFactorCode>,
) -> Result<Response, ApiError> {
    let (session, user) = waiting_or_signed_in(&kh, &headers).await?;
    check_code(&kh, Holder::User(&user), &req.code, ip, &headers).await?;
    let device = Device::of(ip, &headers);
    let (cookie, session) = stepped_up(&kh, &session, &device).await?;
    let current = CurrentSession { session, user };
    Ok(with_cookie(
        Json(current.response()).into_response(),
        cookie,
    ))
}

/// Checks and spends a second-factor code of the holder's (the app's, or a
/// recovery code), under the sign-in throttle and the daily limit; the
/// owner is told when a recovery code was used, or when the day's limit
/// stops the second step.
pub(crate) async fn check_code(
    kh: &Keyhouse,
    holder: Holder<'_>,
    code: &str,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<(), OAuthError> {
    let Some(sealed) = holder
        .totp_secret()
        .map(str::to_owned)
        .filter(|_| holder.has_second_factor())
    else {
        return Err(OAuthError::new(
            ErrorCode::SecondFactorSetupRequired,
            "this account has no second factor; turn one on in your account settings",
        ));
    };
    let secret = open_secret(kh, holder.id(), &sealed)?;
    let now = kh.now();
    let day = format!("second-factor:day:{}", holder.id());
    let checked = guarded(kh, Some(holder.bucket()), ip, || async {
        // Counted first, among the codes actually checked.
        let today = kh.store().hit(&day, DAY, now).await.map_err(store_error)?;
        if today > FAILURES_PER_DAY {
            return Err(stopped_for_the_day());
        }
        spend_code(kh, holder, &sealed, &secret, code, now).await
    })
    .await;
    let used = match checked {
        Ok(used) => {
            kh.store().clear_hits(&day).await.map_err(store_error)?;
            used
        }
        Err(e) => {
            if e.code == ErrorCode::InvalidCredentials {
                let today = kh.store().hits(&day, DAY, now).await.map_err(store_error)?;
                if today == FAILURES_PER_DAY {
                    tracing::warn!(holder = %holder.actor(), "second step stopped for a day: too many wrong codes");
                    let what = "Sign-ins with your password were stopped after too many wrong two-step codes";
                    notify(kh, holder, ip, headers, what);
                    audit(kh, holder, "second_factor_locked").await;
                }
            }
            return Err(wrong_or(e));
        }
    };
    tracing::info!(holder = %holder.actor(), with = used.as_str(), "second factor right");
    if used == Used::RecoveryCode {
        let left = kh
            .store()
            .recovery_codes_left(holder.store())
            .await
            .map_err(store_error)?;
        let what = format!("A recovery code was used to sign in ({left} left)");
        notify(kh, holder, ip, headers, &what);
        audit(kh, holder, "recovery_code_used").await;
    }
    Ok(())
}

/// What a right second factor was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Used {
    App,
    RecoveryCode,
}

impl Used {
    fn as_str(self) -> &'static str {
        match self {
            Used::App => "authenticator app",
            Used::RecoveryCode => "recovery code",
        }
    }
}

/// Checks and spends a code: a recovery code (spent by a conditional
/// update), else an app's code (its step recorded, conditionally, as the
/// last used). `None` for a wrong, used or replayed code.
async fn spend_code(
    kh: &Keyhouse,
    holder: Holder<'_>,
    sealed: &str,
    secret: &[u8],
    typed: &str,
    now: i64,
) -> Result<Option<Used>, OAuthError> {
    if let Some(code) = totp::normalize_recovery_code(typed) {
        let spent = kh
            .store()
            .spend_recovery_code(holder.store(), &recovery_hash(kh, holder.id(), &code), now)
            .await
            .map_err(store_error)?;
        return Ok(spent.then_some(Used::RecoveryCode));
    }
    let Some(step) = totp::verify(secret, typed, now, holder.totp_last_step()) else {
        return Ok(None);
    };
    let spent = kh
        .store()
        .spend_totp_step(holder.store(), sealed, step)
        .await
        .map_err(store_error)?;
    if !spent {
        tracing::info!(holder = %holder.actor(), step, "authenticator code refused: already used");
    }
    Ok(spent.then_some(Used::App))
}

/// The session of the request: one waiting for its second factor, else a
/// signed-in one (to step up). Either must be a live user's.
async fn waiting_or_signed_in(
    kh: &Keyhouse,
    headers: &HeaderMap,
) -> Result<(SessionRecord, User), OAuthError> {
    session_of_cookie(kh, read_cookie(headers, cookie_name(kh)))
        .await?
        .ok_or_else(|| OAuthError::new(ErrorCode::SessionRequired, "sign in first"))
}

/// Replaces `old` with a session that adds a second factor to its
/// methods, authenticated now (a new id, as at every sign-in), for the
/// same user or member (and organization), in the cookie of its kind.
pub(crate) async fn stepped_up(
    kh: &Keyhouse,
    old: &SessionRecord,
    device: &Device,
) -> Result<(axum::http::HeaderValue, SessionRecord), OAuthError> {
    let kind = old.subject_kind.unwrap_or(SubjectKind::User);
    let new = NewSession {
        kind,
        subject_id: &old.subject_id,
        organization_id: old.organization_id.as_deref(),
        cookie: match kind {
            SubjectKind::Member => crate::b2b::session::member_cookie_name(kh),
            _ => cookie_name(kh),
        },
        device,
        amr: assurance::with_second_factor(&old.amr),
        pending_factor: None,
        auth_time: None,
    };
    match replace_keeping_sid(kh, old, &new).await? {
        Some((record, cookie)) => Ok((cookie, record)),
        // Spent by a parallel request with another code, or signed out.
        None => Err(OAuthError::new(ErrorCode::SessionRequired, "sign in again")),
    }
}

/// A wrong code's answer (the throttle's own refusals pass through).
fn wrong_or(e: OAuthError) -> OAuthError {
    match e.code {
        ErrorCode::InvalidCredentials => OAuthError::new(
            ErrorCode::InvalidGrant,
            "that code is wrong or was already used; wait for the next one in your app",
        ),
        _ => e,
    }
}

fn stopped_for_the_day() -> OAuthError {
    OAuthError::new(
        ErrorCode::TooManyAttempts,
        "too many wrong codes today; try again tomorrow, or ask the service to help",
    )
}

fn already_on() -> OAuthError {
    OAuthError::new(
        ErrorCode::Conflict,
        "two-step verification is already on; turn it off first to use another app",
    )
}

/// The secret is sealed for one account or member: copied onto another
/// row, it does not open.
fn seal_context(holder_id: &str) -> String {
    format!("totp:{holder_id}")
}

fn open_secret(kh: &Keyhouse, holder_id: &str, sealed: &str) -> Result<Vec<u8>, OAuthError> {
    kh.master_key()
        .open(&seal_context(holder_id), sealed)
        .map_err(|e| OAuthError::server(format!("authenticator secret: {e}")))
}

/// New recovery codes and their keyed hashes.
fn recovery_codes(kh: &Keyhouse, holder_id: &str) -> (Vec<String>, Vec<String>) {
    let codes = totp::generate_recovery_codes(&mut rand::rng());
    let hashes = codes
        .iter()
        .filter_map(|c| totp::normalize_recovery_code(c))
        .map(|c| recovery_hash(kh, holder_id, &c))
        .collect();
    (codes, hashes)
}

/// A recovery code's stored form: an HMAC under a key derived from the
/// master key, bound to the account or member (a stolen table cannot be
/// brute-forced offline, and one holder's code is nothing on another).
fn recovery_hash(kh: &Keyhouse, holder_id: &str, normalized: &str) -> String {
    secret::hash_client_secret(
        &kh.0.secret_key,
        &format!("recovery-code\n{holder_id}\n{normalized}"),
    )
}

/// The QR code of `uri`, as a data URL of an SVG image.
fn qr_data_url(uri: &str) -> Result<String, OAuthError> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| OAuthError::server(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg.as_bytes())
    ))
}

/// Mails the holder the security notice that `what` changed (for a
/// member, naming the organization).
pub(crate) fn notify(
    kh: &Keyhouse,
    holder: Holder<'_>,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    what: &str,
) {
    notify_about(kh, "second_factor_changed", holder, ip, headers, what);
}

/// Mails `holder` the security notice `template`, saying `what` changed
/// (naming the organization, for a member), from where and with what.
pub(crate) fn notify_about(
    kh: &Keyhouse,
    template: &'static str,
    holder: Holder<'_>,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    what: &str,
) {
    let mut vars = security_vars(kh, holder.email(), holder.name(), ip, headers);
    let what = match holder {
        Holder::User(_) => what.to_owned(),
        Holder::Member(_, organization) => format!("{what} (your membership of {organization})"),
    };
    vars.insert("what", what);
    kh.mailer()
        .send_later(holder.email().to_owned(), template, vars);
}

async fn audit(kh: &Keyhouse, holder: Holder<'_>, what: &str) {
    kh.audit(
        &holder.actor(),
        &holder.action(what),
        None,
        serde_json::json!({}),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::session::session_user;

    #[test]
    fn qr_codes_are_svg_data_urls() {
        let url = qr_data_url("otpauth://totp/x:y?secret=ABC").unwrap_or_default();
        let b64 = url.strip_prefix("data:image/svg+xml;base64,").unwrap_or("");
        let svg = String::from_utf8(STANDARD.decode(b64).unwrap_or_default()).unwrap_or_default();
        assert!(svg.contains("<svg"), "{svg}");
    }

    #[test]
    fn session_user_says_whether_a_second_factor_is_on() {
        let mut u = User {
            id: "user_1".into(),
            email: "a@b.co".into(),
            password_hash: String::new(),
            name: String::new(),
            email_verified: true,
            is_admin: false,
            created_at: 0,
            updated_at: 0,
            disabled_at: None,
            password_reset_required: false,
            totp_secret: Some("sealed".into()),
            totp_enabled_at: None,
            totp_last_step: None,
        };
        // Being set up is not on.
        assert!(!session_user(&u).second_factor);
        u.totp_enabled_at = Some(1);
        assert!(session_user(&u).second_factor);
    }
}
