//! Sign-up, login, logout and the session cookie.

use std::net::IpAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyhouse_core::{ErrorCode, OAuthError, return_to, secret};
use keyhouse_store::{Attempt, NewUser, SessionRecord, StoreError, User};
use keyhouse_types::{LoginRequest, SessionResponse, SessionUser, SignupRequest};

use crate::Keyhouse;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, store_error};

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
        }
    }
}

pub(crate) fn session_user(u: &User) -> SessionUser {
    SessionUser {
        user_id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
    }
}

fn cookie_name(kh: &Keyhouse) -> &'static str {
    // docs/threat-model.md row 27: `__Host-` binds the cookie to this exact origin.
    if kh.config().secure_cookies() {
        "__Host-keyhouse_session"
    } else {
        "keyhouse_session"
    }
}

pub(crate) fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(kh: &Keyhouse, value: &str, max_age: i64) -> Option<HeaderValue> {
    set_named_cookie(kh, cookie_name(kh), value, max_age)
}

/// A session cookie header: HttpOnly, SameSite=Lax, Secure under https
/// (docs/threat-model.md row 27).
pub(crate) fn set_named_cookie(
    kh: &Keyhouse,
    name: &str,
    value: &str,
    max_age: i64,
) -> Option<HeaderValue> {
    let secure = if kh.config().secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
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
    let Some(session) = kh
        .store()
        .find_session(&hash, now)
        .await
        .map_err(store_error)?
        .filter(|s| s.subject_kind == "user")
    else {
        return Ok(None);
    };
    let user = kh
        .store()
        .find_user(&session.subject_id)
        .await
        .map_err(store_error)?;
    Ok(user.map(|user| CurrentSession { session, user }))
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

/// Whether a request may act with the ambient session cookie: safe methods
/// always may; others only when the browser says the request came from our
/// own origin (docs/threat-model.md row 12).
///
/// A write that carries a session cookie but neither `Origin` nor
/// `Sec-Fetch-Site` is refused (row 53): every browser that sends cookies
/// sends one of them on a POST, so their absence means a client that strips
/// them, not an old browser. Requests without a session cookie (API
/// clients, sign-in forms) have no ambient authority to forge.
pub fn same_origin_or_safe(kh: &Keyhouse, method: &Method, headers: &HeaderMap) -> bool {
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return true;
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    if site.is_none() && origin.is_none() {
        return !carries_session_cookie(kh, headers);
    }
    let site_ok = site.is_none_or(|v| v == "same-origin" || v == "none");
    let origin_ok = origin.is_none_or(|o| o == kh.config().origin());
    site_ok && origin_ok
}

/// Whether the request carries a user or member session cookie.
fn carries_session_cookie(kh: &Keyhouse, headers: &HeaderMap) -> bool {
    read_cookie(headers, cookie_name(kh)).is_some()
        || read_cookie(headers, crate::b2b::member_cookie_name(kh)).is_some()
}

/// docs/threat-model.md row 12: state-changing browser requests must come from our
/// own origin. Browsers send `Sec-Fetch-Site` and `Origin` on cross-site
/// POSTs; non-browser clients send neither and carry no ambient cookie
/// authority worth forging.
///
/// Mount it on the app's own cookie-authenticated routes too:
/// `.route_layer(axum::middleware::from_fn_with_state(kh, keyhouse_axum::csrf_guard))`.
pub async fn csrf_guard(State(kh): State<Keyhouse>, req: Request, next: Next) -> Response {
    if !same_origin_or_safe(&kh, req.method(), req.headers()) {
        return ApiError(OAuthError::new(
            ErrorCode::CsrfDetected,
            "cross-site request refused",
        ))
        .into_response();
    }
    next.run(req).await
}

/// `GET /api/session`: 200 with the user, or 401.
pub(crate) async fn current(session: CurrentSession) -> Json<SessionResponse> {
    Json(session.response())
}

pub(crate) fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(e)
}

fn check_password(password: &str) -> Result<(), OAuthError> {
    let n = password.chars().count();
    if !(8..=128).contains(&n) {
        return Err(OAuthError::invalid_request(
            "the password must be 8 to 128 characters",
        ));
    }
    Ok(())
}

/// Creates a user (used by sign-up, the CLI and tests).
pub(crate) async fn create_user(
    kh: &Keyhouse,
    email: &str,
    password: &str,
    name: &str,
) -> Result<User, OAuthError> {
    let email = normalize_email(email)
        .ok_or_else(|| OAuthError::invalid_request("enter a valid email address"))?;
    check_password(password)?;
    let name = name.trim();
    if name.chars().count() > 100 {
        return Err(OAuthError::invalid_request("the name is too long"));
    }
    // Refuse a taken address before spending an Argon2 hash on it; the
    // unique index still decides a race between two sign-ups.
    if kh
        .store()
        .find_user_by_email(&email)
        .await
        .map_err(store_error)?
        .is_some()
    {
        return Err(email_taken());
    }
    let hash =
        kh.0.passwords
            .hash(password.to_owned())
            .await
            .ok_or_else(|| OAuthError::server("password hashing failed"))?;
    let id = secret::generate_id("user", &mut rand::rng());
    kh.store()
        .create_user(NewUser {
            id,
            email,
            password_hash: hash,
            name: name.to_owned(),
            now: kh.now(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => email_taken(),
            other => store_error(other),
        })
}

fn email_taken() -> OAuthError {
    OAuthError::new(
        ErrorCode::Conflict,
        "an account with this email already exists",
    )
}

/// Who a new session is for.
pub(crate) struct NewSession<'a> {
    /// `user` or `member`.
    pub kind: &'a str,
    /// The user or member id.
    pub subject_id: &'a str,
    /// For members: their organization.
    pub organization_id: Option<&'a str>,
    /// The cookie that carries it.
    pub cookie: &'a str,
}

/// Stores a new session and makes its cookie, replacing `old` (docs/threat-model.md
/// row 26: a new id at every login; the old one is destroyed server-side).
pub(crate) async fn issue_session(
    kh: &Keyhouse,
    new: NewSession<'_>,
    old: Option<&str>,
) -> Result<(SessionRecord, HeaderValue), OAuthError> {
    if let Some(old) = old {
        kh.store()
            .delete_session(&secret::hash_token(old))
            .await
            .map_err(store_error)?;
    }
    let token = secret::generate_token(&mut rand::rng());
    let now = kh.now();
    let session = SessionRecord {
        id_hash: secret::hash_token(&token),
        subject_kind: new.kind.to_owned(),
        subject_id: new.subject_id.to_owned(),
        organization_id: new.organization_id.map(str::to_owned),
        auth_time: now,
        created_at: now,
        expires_at: now + kh.config().session_ttl,
    };
    kh.store()
        .create_session(&session)
        .await
        .map_err(store_error)?;
    let cookie = set_named_cookie(kh, new.cookie, &token, kh.config().session_ttl)
        .ok_or_else(|| OAuthError::server("cookie header"))?;
    Ok((session, cookie))
}

/// Starts a session for `user`, replacing `old`.
async fn start_session(
    kh: &Keyhouse,
    user: &User,
    old: Option<&str>,
) -> Result<(CurrentSession, HeaderValue), OAuthError> {
    let new = NewSession {
        kind: "user",
        subject_id: &user.id,
        organization_id: None,
        cookie: cookie_name(kh),
    };
    let (session, cookie) = issue_session(kh, new, old).await?;
    Ok((
        CurrentSession {
            session,
            user: user.clone(),
        },
        cookie,
    ))
}

pub(crate) fn with_cookie(mut res: Response, cookie: HeaderValue) -> Response {
    res.headers_mut().insert(SET_COOKIE, cookie);
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    res
}

/// `POST /api/session/signup`. Throttled per client IP (counted first, every
/// attempt): an open sign-up is otherwise free Argon2 work for anyone, and
/// its answer for a taken address would list accounts at full speed
/// (docs/threat-model.md row 45).
pub(crate) async fn signup(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<SignupRequest>,
) -> Result<Response, ApiError> {
    let c = kh.config();
    if !c.signup_enabled {
        return Err(OAuthError::new(ErrorCode::AccessDenied, "sign-up is closed").into());
    }
    if let Some(ip) = ip.filter(|_| c.signups_per_ip_per_hour > 0) {
        let bucket = format!("signup:ip:{ip}");
        let hits = kh
            .store()
            .hit(&bucket, 3600, kh.now())
            .await
            .map_err(store_error)?;
        if hits > c.signups_per_ip_per_hour {
            tracing::warn!(%bucket, hits, "sign-up throttled");
            return Err(OAuthError::new(
                ErrorCode::TooManyAttempts,
                "too many sign-ups from this network; try again later",
            )
            .into());
        }
    }
    let user = create_user(
        &kh,
        &req.email,
        &req.password,
        req.name.as_deref().unwrap_or(""),
    )
    .await?;
    tracing::info!(user_id = %user.id, "user signed up");
    let old = read_cookie(&headers, cookie_name(&kh));
    let (session, cookie) = start_session(&kh, &user, old).await?;
    Ok(with_cookie(
        (StatusCode::CREATED, Json(session.response())).into_response(),
        cookie,
    ))
}

pub(crate) fn invalid_credentials() -> OAuthError {
    // One answer for an unknown email and a wrong password (docs/threat-model.md row 25).
    OAuthError::new(
        ErrorCode::InvalidCredentials,
        "the email or password is incorrect",
    )
}

fn too_many() -> OAuthError {
    OAuthError::new(
        ErrorCode::TooManyAttempts,
        "too many failed sign-ins; wait a little and try again",
    )
}

/// Runs a password check with throttling shared by every instance
/// (docs/threat-model.md rows 25, 41, 42 and 52). Every attempt is counted
/// *before* the password is checked, in one atomic statement per counter, so
/// simultaneous guesses cannot all slip under the limit:
/// - per client IP ([`crate::ClientIp`]): a fixed window; past the limit 429
///   until it ends;
/// - per email address: the first `login_attempts_per_account` attempts go
///   at once, then each further one waits a delay that grows with every
///   failure (15·k² seconds, at most `login_max_delay`). Refused attempts do
///   not lengthen it, so an attacker cannot keep the owner out for the
///   whole window. The bucket exists for unknown emails too, so throttling
///   reveals nothing.
///
/// A success takes its counts back. `check` gets the normalised email
/// (`None` when malformed) and answers `Some` on success.
pub(crate) async fn throttled<T, F, Fut>(
    kh: &Keyhouse,
    email: &str,
    ip: Option<IpAddr>,
    check: F,
) -> Result<T, OAuthError>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, OAuthError>>,
{
    let c = kh.config();
    let now = kh.now();
    let normalized = normalize_email(email);
    let ip_bucket = ip
        .filter(|_| c.login_attempts_per_ip > 0)
        .map(|ip| format!("login:ip:{ip}"));
    if let Some(bucket) = &ip_bucket {
        let hits = kh
            .store()
            .hit(bucket, c.login_window, now)
            .await
            .map_err(store_error)?;
        if hits > c.login_attempts_per_ip {
            tracing::warn!(%bucket, hits, "sign-in throttled (per IP)");
            return Err(too_many());
        }
    }
    let email_bucket = normalized.as_ref().map(|e| format!("login:email:{e}"));
    if let Some(bucket) = &email_bucket {
        let attempt = kh
            .store()
            .attempt(
                bucket,
                c.login_window,
                now,
                c.login_attempts_per_account,
                c.login_max_delay,
            )
            .await
            .map_err(store_error)?;
        if let Attempt::Delayed { until } = attempt {
            tracing::warn!(%bucket, retry_in = until - now, "sign-in throttled (per account)");
            return Err(too_many());
        }
    }
    match check(normalized.clone()).await? {
        Some(found) => {
            if let Some(bucket) = &email_bucket {
                kh.store().clear_hits(bucket).await.map_err(store_error)?;
            }
            if let Some(bucket) = &ip_bucket {
                kh.store().unhit(bucket).await.map_err(store_error)?;
            }
            Ok(found)
        }
        None => Err(invalid_credentials()),
    }
}

/// Verifies `password` against `phc` (a dummy hash when `None`, so unknown
/// accounts take as long as known ones).
pub(crate) async fn verify_password(kh: &Keyhouse, password: &str, phc: Option<String>) -> bool {
    kh.0.passwords.verify(password.to_owned(), phc).await
}

/// Hashes a new password (Argon2id, on the blocking pool).
pub(crate) async fn hash_password(kh: &Keyhouse, password: &str) -> Result<String, OAuthError> {
    check_password(password)?;
    kh.0.passwords
        .hash(password.to_owned())
        .await
        .ok_or_else(|| OAuthError::server("password hashing failed"))
}

/// Checks a user's email and password, throttled.
async fn authenticate(
    kh: &Keyhouse,
    email: &str,
    password: &str,
    peer: Option<IpAddr>,
) -> Result<User, OAuthError> {
    throttled(kh, email, peer, |normalized| async move {
        let user = match &normalized {
            Some(e) => kh
                .store()
                .find_user_by_email(e)
                .await
                .map_err(store_error)?,
            None => None,
        };
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        let ok = verify_password(kh, password, phc).await;
        Ok(user.filter(|_| ok))
    })
    .await
}

/// `POST /api/session/login`: JSON (`{email,password}` → 200 with the
/// session), or an HTML form post (`email`, `password`, `return_to` → 303 to
/// the sanitised `return_to`; docs/threat-model.md row 17: never 307 after a
/// credential POST, and row 4: only same-origin relative paths).
pub(crate) async fn login(
    State(kh): State<Keyhouse>,
    ClientIp(peer): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let old = read_cookie(&headers, cookie_name(&kh)).map(str::to_owned);
    if is_form {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let target = field("return_to")
            .and_then(return_to::sanitize)
            .unwrap_or("/");
        return match authenticate(
            &kh,
            field("email").unwrap_or(""),
            field("password").unwrap_or(""),
            peer,
        )
        .await
        {
            Ok(user) => {
                let (_, cookie) = start_session(&kh, &user, old.as_deref()).await?;
                Ok(with_cookie(see_other(target), cookie))
            }
            Err(e)
                if matches!(
                    e.code,
                    ErrorCode::InvalidCredentials | ErrorCode::TooManyAttempts
                ) =>
            {
                let back = format!(
                    "/login?error={}&returnTo={}",
                    e.code.as_str(),
                    url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
                );
                Ok(see_other(&back))
            }
            Err(e) => Err(e.into()),
        };
    }
    let req: LoginRequest = serde_json::from_slice(&body)
        .map_err(|_| OAuthError::invalid_request("send {\"email\", \"password\"} as JSON"))?;
    let user = authenticate(&kh, &req.email, &req.password, peer).await?;
    let (session, cookie) = start_session(&kh, &user, old.as_deref()).await?;
    tracing::info!(user_id = %user.id, "user logged in");
    Ok(with_cookie(
        Json(session.response()).into_response(),
        cookie,
    ))
}

fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

/// `POST /api/session/logout`: destroys the session server-side and clears
/// the cookie.
pub(crate) async fn logout(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = read_cookie(&headers, cookie_name(&kh)) {
        kh.store()
            .delete_session(&secret::hash_token(token))
            .await
            .map_err(store_error)?;
    }
    let cookie = set_cookie(&kh, "", 0).ok_or_else(|| OAuthError::server("cookie header"))?;
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), cookie))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        let table = [
            (" Ada@Example.COM ", Some("ada@example.com")),
            ("a@b.co", Some("a@b.co")),
            ("no-at.example.com", None),
            ("a@localhost", None),
            ("a b@example.com", None),
            ("@example.com", None),
        ];
        for (input, expected) in table {
            assert_eq!(normalize_email(input).as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; keyhouse_session=tok; b=2"),
        );
        assert_eq!(read_cookie(&h, "keyhouse_session"), Some("tok"));
        assert_eq!(read_cookie(&h, "missing"), None);
    }
}
