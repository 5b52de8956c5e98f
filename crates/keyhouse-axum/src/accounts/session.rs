//! The user's browser session: the cookie, loading it, issuing a new one on
//! login, `GET /api/session` and logout.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::{SessionRecord, User};
use keyhouse_types::{SessionResponse, SessionUser, SubjectKind};

use crate::Keyhouse;
use crate::error::{ApiError, store_error};
use crate::http::cookies::{read_cookie, set_named_cookie, with_cookie};

/// The signed-in user of a browser request.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    /// The session.
    pub session: SessionRecord,
    /// Its user.
    pub user: User,
}

impl CurrentSession {
    /// The wire form.
    pub fn response(&self) -> SessionResponse {
        SessionResponse {
            user: session_user(&self.user),
            authenticated_at: self.session.auth_time,
            expires_at: self.session.expires_at,
            is_admin: self.user.is_admin,
            amr: self.session.amr.clone(),
        }
    }
}

pub(crate) fn session_user(u: &User) -> SessionUser {
    SessionUser {
        user_id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        email_verified: u.email_verified,
        has_password: !u.password_hash.is_empty(),
        second_factor: u.has_second_factor(),
    }
}

pub(crate) fn cookie_name(kh: &Keyhouse) -> &'static str {
    // docs/threat-model.md row 27: `__Host-` binds the cookie to this exact origin.
    if kh.config().secure_cookies() {
        "__Host-keyhouse_session"
    } else {
        "keyhouse_session"
    }
}

fn set_cookie(kh: &Keyhouse, value: &str, max_age: i64) -> Option<HeaderValue> {
    set_named_cookie(kh, cookie_name(kh), value, max_age)
}

impl Keyhouse {
    /// The live session of a request with these headers, if any (for server
    /// functions and handlers that cannot use the [`CurrentSession`] extractor).
    pub async fn session(&self, headers: &HeaderMap) -> Result<Option<CurrentSession>, OAuthError> {
        load(self, headers).await
    }
}

/// Loads the session of a request, if it has a live one.
pub(crate) async fn load(
    kh: &Keyhouse,
    headers: &HeaderMap,
) -> Result<Option<CurrentSession>, OAuthError> {
    let Some(token) = read_cookie(headers, cookie_name(kh)) else {
        return Ok(None);
    };
    let hash = secret::hash_token(token);
    let now = kh.now();
    let found = kh
        .store()
        .find_session(&hash, now)
        .await
        .map_err(store_error)?;
    let Some((session, user)) = with_user(kh, found).await? else {
        return Ok(None);
    };
    Ok(Some(CurrentSession {
        session: touched(kh, session, now).await,
        user,
    }))
}

/// A user's session with its account: `None` for a member's session, or
/// when the account is gone or disabled (a disabled account's sessions
/// were deleted when it was disabled; this keeps one that slipped past, a
/// race, signed out all the same).
pub(crate) async fn with_user(
    kh: &Keyhouse,
    session: Option<SessionRecord>,
) -> Result<Option<(SessionRecord, User)>, OAuthError> {
    let Some(session) = session.filter(|s| s.subject_kind == Some(SubjectKind::User)) else {
        return Ok(None);
    };
    let user = kh
        .store()
        .find_user(&session.subject_id)
        .await
        .map_err(store_error)?;
    Ok(user.filter(|u| !u.is_disabled()).map(|u| (session, u)))
}

/// The user session this cookie names, whether signed in or waiting for
/// its second factor, with its live account (see [`with_user`]).
pub(crate) async fn waiting_or_signed_in(
    kh: &Keyhouse,
    token: Option<&str>,
) -> Result<Option<(SessionRecord, User)>, OAuthError> {
    let Some(token) = token else {
        return Ok(None);
    };
    with_user(kh, waiting_or_live(kh, token).await?).await
}

/// The session a cookie value names, whether waiting for its second
/// factor or signed in (a user's or a member's).
pub(crate) async fn waiting_or_live(
    kh: &Keyhouse,
    token: &str,
) -> Result<Option<SessionRecord>, OAuthError> {
    let hash = secret::hash_token(token);
    let (now, store) = (kh.now(), kh.store());
    match store
        .find_pending_session(&hash, now)
        .await
        .map_err(store_error)?
    {
        Some(s) => Ok(Some(s)),
        None => store.find_session(&hash, now).await.map_err(store_error),
    }
}

/// Notes that a session is in use, when its "last used" is more than
/// [`LAST_SEEN_STEP`] old. A failure is logged: the request goes on.
pub(crate) async fn touched(kh: &Keyhouse, mut s: SessionRecord, now: i64) -> SessionRecord {
    if now - s.last_seen_at >= LAST_SEEN_STEP {
        match kh.store().touch_session(&s.id_hash, now).await {
            Ok(()) => s.last_seen_at = now,
            Err(e) => tracing::warn!(error = %e, "session last-used time not updated"),
        }
    }
    s
}

impl<S> FromRequestParts<S> for CurrentSession
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kh = Keyhouse::from_ref(state);
        load(&kh, &parts.headers)
            .await?
            .ok_or_else(|| ApiError(OAuthError::new(ErrorCode::SessionRequired, "sign in first")))
    }
}

/// `GET /api/session`: 200 with the user, or 401.
pub(crate) async fn current(session: CurrentSession) -> Json<SessionResponse> {
    Json(session.response())
}

/// The browser a session is started for, as its account's session list
/// shows it: the address it came from and its `User-Agent` (trimmed, with
/// no control characters).
#[derive(Debug, Clone, Default)]
pub(crate) struct Device {
    /// The client's address (`ClientIp`).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

impl Device {
    /// The device of a request.
    pub(crate) fn of(ip: Option<IpAddr>, headers: &HeaderMap) -> Device {
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| {
                s.chars()
                    .filter(|c| !c.is_control())
                    .take(300)
                    .collect::<String>()
            })
            .filter(|s| !s.trim().is_empty());
        Device { ip, user_agent }
    }
}

/// How stale a session's "last used" may get before a request updates it:
/// a write every few minutes per session, not one per request.
pub(crate) const LAST_SEEN_STEP: i64 = 300;

/// Who a new session is for.
pub(crate) struct NewSession<'a> {
    /// `user` or `member`.
    pub kind: SubjectKind,
    /// The user or member id.
    pub subject_id: &'a str,
    /// For members: their organization.
    pub organization_id: Option<&'a str>,
    /// The cookie that carries it.
    pub cookie: &'a str,
    /// The browser it is for.
    pub device: &'a Device,
    /// How the subject authenticated (RFC 8176 `amr` values).
    pub amr: Vec<String>,
    /// A factor still to come: the session lives [`PENDING_TTL`] and signs
    /// in nothing until [`Store::replace_session`] swaps it for a full one.
    ///
    /// [`Store::replace_session`]: keyhouse_store::Store::replace_session
    pub pending_factor: Option<&'static str>,
    /// When the subject authenticated, when earlier than now (a switch to
    /// another organization carries the first sign-in's time); `None`: now.
    pub auth_time: Option<i64>,
}

/// How long a sign-in may wait for its second factor.
pub(crate) const PENDING_TTL: i64 = 600;

/// Stores a new session and makes its cookie, replacing `old` (docs/threat-model.md
/// row 26: a new id at every login; the old one is destroyed server-side).
pub(crate) async fn issue_session(
    kh: &Keyhouse,
    new: NewSession<'_>,
    old: Option<&str>,
) -> Result<(SessionRecord, HeaderValue), OAuthError> {
    if let Some(old) = old {
        let ended = kh
            .store()
            .delete_session(&secret::hash_token(old), kh.now())
            .await
            .map_err(store_error)?;
        if ended {
            kh.deliver_logout_notices_later();
        }
    }
    let (token, session) = new_record(kh, &new);
    kh.store()
        .create_session(&session)
        .await
        .map_err(store_error)?;
    let cookie = session_cookie(kh, new.cookie, &token, &session)?;
    Ok((session, cookie))
}

/// The cookie named `name` carrying `token`, for as long as `session` lives.
pub(crate) fn session_cookie(
    kh: &Keyhouse,
    name: &str,
    token: &str,
    session: &SessionRecord,
) -> Result<HeaderValue, OAuthError> {
    set_named_cookie(kh, name, token, session.expires_at - session.created_at)
        .ok_or_else(|| OAuthError::server("cookie header"))
}

/// Replaces `old` with a session for `new` that keeps `old`'s `sid`: the
/// same sign-in, one step further (the clients it signed in to know it by
/// its sid). `None` when `old` was spent meanwhile (signed out, or stepped
/// up by a parallel request).
pub(crate) async fn replace_keeping_sid(
    kh: &Keyhouse,
    old: &SessionRecord,
    new: &NewSession<'_>,
) -> Result<Option<(SessionRecord, HeaderValue)>, OAuthError> {
    let (token, mut record) = new_record(kh, new);
    record.sid = old.sid.clone();
    let replaced = kh
        .store()
        .replace_session(&old.id_hash, &record)
        .await
        .map_err(store_error)?;
    if !replaced {
        return Ok(None);
    }
    let cookie = session_cookie(kh, new.cookie, &token, &record)?;
    Ok(Some((record, cookie)))
}

/// A new session's cookie value and record (not stored yet).
pub(crate) fn new_record(kh: &Keyhouse, new: &NewSession<'_>) -> (String, SessionRecord) {
    let token = secret::generate_token(&mut rand::rng());
    let now = kh.now();
    let ttl = match new.pending_factor {
        Some(_) => PENDING_TTL,
        None => kh.config().session_ttl,
    };
    let id_hash = secret::hash_token(&token);
    let session = SessionRecord {
        sid: keyhouse_core::logout::session_sid(&id_hash),
        id_hash,
        subject_kind: Some(new.kind),
        subject_id: new.subject_id.to_owned(),
        organization_id: new.organization_id.map(str::to_owned),
        auth_time: new.auth_time.map_or(now, |t| t.min(now)),
        created_at: now,
        expires_at: now + ttl,
        user_agent: new.device.user_agent.clone(),
        ip: new.device.ip.map(|ip| ip.to_string()),
        last_seen_at: now,
        amr: new.amr.clone(),
        pending_factor: new.pending_factor.map(str::to_owned),
    };
    (token, session)
}

/// How a sign-in ended: signed in, or waiting for a second factor.
pub(crate) enum Started {
    /// Signed in: the session and its cookie.
    SignedIn(Box<CurrentSession>, HeaderValue),
    /// The first factor was right; the cookie names a session that waits
    /// for the second ([`crate::accounts::second_factor`]).
    SecondFactor(HeaderValue),
}

impl Started {
    /// The JSON answer: `ok` for a session, else `401
    /// second_factor_required` with the waiting session's cookie.
    pub(crate) fn respond(self, ok: impl FnOnce(&CurrentSession) -> Response) -> Response {
        match self {
            Started::SignedIn(session, cookie) => with_cookie(ok(&session), cookie),
            Started::SecondFactor(cookie) => {
                with_cookie(ApiError(second_factor_required()).into_response(), cookie)
            }
        }
    }
}

/// The answer that asks for the second factor.
pub(crate) fn second_factor_required() -> OAuthError {
    OAuthError::new(
        ErrorCode::SecondFactorRequired,
        "enter the code from your authenticator app, or a recovery code",
    )
}

/// Starts a session for `user`, who proved `amr` (one factor), replacing
/// `old`. An account with a second factor gets a session that waits for it
/// instead, whatever the first factor was: a mailbox is no way around the
/// authenticator app.
pub(crate) async fn start_session(
    kh: &Keyhouse,
    user: &User,
    old: Option<&str>,
    device: &Device,
    amr: &str,
) -> Result<Started, OAuthError> {
    let pending = user.has_second_factor();
    let new = NewSession {
        kind: SubjectKind::User,
        subject_id: &user.id,
        organization_id: None,
        cookie: cookie_name(kh),
        device,
        amr: vec![amr.to_owned()],
        pending_factor: pending.then_some(TOTP),
        auth_time: None,
    };
    let (session, cookie) = issue_session(kh, new, old).await?;
    if pending {
        tracing::info!(user_id = %user.id, first = amr, "first factor right; waiting for the second");
        return Ok(Started::SecondFactor(cookie));
    }
    Ok(Started::SignedIn(
        Box::new(CurrentSession {
            session,
            user: user.clone(),
        }),
        cookie,
    ))
}

/// The `pending_factor` of a session that waits for an authenticator code.
pub(crate) const TOTP: &str = "totp";

/// `POST /api/session/logout`: destroys the session server-side and clears
/// the cookie.
pub(crate) async fn logout(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = read_cookie(&headers, cookie_name(&kh)) {
        kh.store()
            .delete_session(&secret::hash_token(token), kh.now())
            .await
            .map_err(store_error)?;
        kh.deliver_logout_notices_later();
    }
    let cookie = set_cookie(&kh, "", 0).ok_or_else(|| OAuthError::server("cookie header"))?;
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), cookie))
}
