//! Proving an address: sign-up verification, sign-in by a mailed link or
//! code, and a signed-in user's verification.
//!
//! Each message carries a link (`email_link_path?token=…`, a 256-bit token)
//! and a six-digit code; only their hashes are stored. Both are single use,
//! short-lived, and spent together. Sign-up and sign-in messages are bound
//! to the browser that asked: it gets a cookie whose hash the challenge
//! keeps, and the link and the code work only with it, so a link forwarded,
//! intercepted or planted in someone else's browser signs nobody in there
//! (the message's code still works in the asking browser). A browser has
//! one live message per address (a newer one spends the older), a code is
//! checked only against it, and a message survives `email_code_attempts`
//! wrong codes.
//!
//! Sign-up answers `202` the same way whether or not the address is taken:
//! a new address gets the link and code (its account, with the password
//! hashed now, waits in the challenge), a taken one gets a notice pointing
//! to sign-in and password reset. Either way the password is hashed, so the
//! time taken says nothing either.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyhouse_core::assurance::amr;
use keyhouse_core::{ErrorCode, OAuthError, return_to, secret};
use keyhouse_store::{
    ChallengePurpose, EmailChallenge, NewEmailChallenge, NewUser, StoreError, User,
};
use keyhouse_types::{
    EmailChallengeSent, EmailCodeRequest, EmailLinkRequest, EmailLinkResponse, EmailLoginRequest,
    SignupRequest,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::Keyhouse;
use crate::accounts::password::hash_password;
use crate::accounts::reset::security_vars;
use crate::accounts::session::{CurrentSession, Device, Started, cookie_name, start_session};
use crate::accounts::throttle::{ip_within_hourly_limit, within_hourly_limit};
use crate::accounts::users::{check_name, normalize_email};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::{read_cookie, set_named_cookie};
use crate::http::json::JsonBody;

/// Digits in a mailed code.
pub(crate) const CODE_DIGITS: u8 = 6;

/// What a challenge keeps for its completion.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// A pending sign-up's Argon2id hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) password_hash: Option<String>,
    /// A pending sign-up's name.
    #[serde(default)]
    pub(crate) name: String,
    /// Where the link leads back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) return_to: Option<String>,
    /// An address change's old address (told when the change is made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous_email: Option<String>,
    /// A member's sign-in asked from one organization's page: only it is
    /// offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) organization_slug: Option<String>,
}

fn bind_cookie_name(kh: &Keyhouse) -> &'static str {
    if kh.config().secure_cookies() {
        "__Host-keyhouse_email"
    } else {
        "keyhouse_email"
    }
}

/// The hash of the asking browser's binding cookie, and the cookie to set:
/// the one it has (several tabs share one) or a new one, its lifetime
/// renewed to the newest message's, so an older cookie never expires
/// before the message it binds.
fn browser_binding(kh: &Keyhouse, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let value = read_cookie(headers, bind_cookie_name(kh))
        .filter(|v| v.len() >= 32)
        .map_or_else(|| secret::generate_token(&mut rand::rng()), str::to_owned);
    let cookie = set_named_cookie(kh, bind_cookie_name(kh), &value, kh.config().email_code_ttl);
    (secret::hash_token(&value), cookie)
}

fn code_hash(id_hash: &str, code: &str) -> String {
    secret::hash_token(&format!("{id_hash}:{code}"))
}

fn new_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// The answer to every request for a message, whatever was sent.
pub(crate) fn sent(kh: &Keyhouse, email: String, cookie: Option<HeaderValue>) -> Response {
    let body = EmailChallengeSent {
        email,
        code_length: CODE_DIGITS,
        expires_in: kh.config().email_code_ttl,
    };
    let mut res = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Some(c) = cookie {
        res.headers_mut().append(axum::http::header::SET_COOKIE, c);
    }
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    res
}

/// Whether another message may go to `email` this hour (counted for every
/// request, an account or not, so the limit behaves the same for both).
pub(crate) async fn address_within_limit(kh: &Keyhouse, email: &str) -> Result<bool, OAuthError> {
    let bucket = format!("email:addr:{email}");
    within_hourly_limit(kh, &bucket, kh.config().email_codes_per_address_per_hour).await
}

pub(crate) struct Mail<'a> {
    pub(crate) purpose: ChallengePurpose,
    pub(crate) email: &'a str,
    pub(crate) user: Option<&'a User>,
    pub(crate) browser_hash: Option<String>,
    pub(crate) pending: Pending,
    pub(crate) template: &'static str,
}

/// Stores a challenge and mails its link (to `email_link_path`) and code.
pub(crate) async fn mail_challenge(
    kh: &Keyhouse,
    m: Mail<'_>,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<(), OAuthError> {
    let name = m.user.map_or("", |u| u.name.as_str());
    let vars = security_vars(kh, m.email, name, ip, headers);
    send_challenge(kh, m, vars, &kh.config().email_link_path).await
}

/// Stores a challenge and mails it with `vars`, its link leading to the
/// app's page at `link_path`.
pub(crate) async fn send_challenge(
    kh: &Keyhouse,
    m: Mail<'_>,
    mut vars: crate::mail::templates::Vars,
    link_path: &str,
) -> Result<(), OAuthError> {
    let c = kh.config();
    let now = kh.now();
    let token = secret::generate_token(&mut rand::rng());
    let id_hash = secret::hash_token(&token);
    let code = new_code();
    let payload =
        serde_json::to_string(&m.pending).map_err(|_| OAuthError::server("challenge payload"))?;
    kh.store()
        .create_email_challenge(&NewEmailChallenge {
            code_hash: code_hash(&id_hash, &code),
            id_hash,
            purpose: m.purpose,
            email: m.email.to_owned(),
            user_id: m.user.map(|u| u.id.clone()),
            browser_hash: m.browser_hash,
            payload: Some(payload),
            created_at: now,
            expires_at: now + c.email_code_ttl,
        })
        .await
        .map_err(store_error)?;
    vars.insert("link", format!("{}{link_path}?token={token}", c.issuer));
    vars.insert("code", code);
    vars.insert("minutes", (c.email_code_ttl / 60).to_string());
    kh.mailer().send_later(m.email.to_owned(), m.template, vars);
    tracing::info!(purpose = m.purpose.as_str(), user_id = ?m.user.map(|u| &u.id), "email challenge mailed");
    Ok(())
}

/// `POST /api/session/signup` when addresses are verified first.
pub(crate) async fn verified_signup(
    kh: &Keyhouse,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    req: SignupRequest,
) -> Result<Response, ApiError> {
    let email = normalize_email(&req.email)
        .ok_or_else(|| OAuthError::invalid_request("enter a valid email address"))?;
    let name = check_name(req.name.as_deref().unwrap_or(""))?;
    // Hashed whether or not the address is taken: the same work, the same time.
    let password_hash = hash_password(kh, &req.password).await?;
    let (browser_hash, cookie) = browser_binding(kh, headers);
    if !address_within_limit(kh, &email).await? {
        tracing::info!("sign-up: the address's hourly messages are used up; nothing sent");
        return Ok(sent(kh, email, cookie));
    }
    match kh
        .store()
        .find_user_by_email(&email)
        .await
        .map_err(store_error)?
    {
        Some(owner) => {
            let vars = security_vars(kh, &owner.email, &owner.name, ip, headers);
            kh.mailer()
                .send_later(owner.email.clone(), "account_exists", vars);
            tracing::info!(user_id = %owner.id, "sign-up with a taken address; its owner was told");
        }
        None => {
            let pending = Pending {
                password_hash: Some(password_hash),
                name,
                return_to: req
                    .return_to
                    .as_deref()
                    .and_then(return_to::sanitize)
                    .map(str::to_owned),
                ..Pending::default()
            };
            let m = Mail {
                purpose: ChallengePurpose::SignUp,
                email: &email,
                user: None,
                browser_hash: Some(browser_hash),
                pending,
                template: "verify_email",
            };
            mail_challenge(kh, m, ip, headers).await?;
        }
    }
    Ok(sent(kh, email, cookie))
}

/// A request for a sign-in message, checked: mailed sign-in is on, the IP
/// is within its hourly requests, the address is one.
pub(crate) struct Asking {
    /// The normalised address.
    pub(crate) email: String,
    /// The asking browser's binding, for the challenge.
    pub(crate) browser_hash: String,
    /// The binding cookie to set.
    pub(crate) cookie: Option<HeaderValue>,
    /// Whether another message may go to the address this hour (if not,
    /// nothing is sent and the answer is the same).
    pub(crate) within_limit: bool,
}

/// The checks every request for a sign-in message passes (an account's or
/// a member's), and the browser's binding.
pub(crate) async fn asking(
    kh: &Keyhouse,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    typed: &str,
) -> Result<Asking, OAuthError> {
    let c = kh.config();
    if !c.email_sign_in {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "sign-in by email is off",
        ));
    }
    let limit = c.email_codes_per_ip_per_hour;
    ip_within_hourly_limit(kh, "email", ip, limit, "sign-in codes").await?;
    let email = normalize_email(typed)
        .ok_or_else(|| OAuthError::invalid_request("enter a valid email address"))?;
    let (browser_hash, cookie) = browser_binding(kh, headers);
    let within_limit = address_within_limit(kh, &email).await?;
    if !within_limit {
        tracing::info!("mailed sign-in: the address's hourly messages are used up; nothing sent");
    }
    Ok(Asking {
        email,
        browser_hash,
        cookie,
        within_limit,
    })
}

/// `POST /api/session/email-login`: mails a sign-in link and code.
pub(crate) async fn email_login(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EmailLoginRequest>,
) -> Result<Response, ApiError> {
    let c = kh.config();
    let Asking {
        email,
        browser_hash,
        cookie,
        within_limit,
    } = asking(&kh, ip, &headers, &req.email).await?;
    if !within_limit {
        return Ok(sent(&kh, email, cookie));
    }
    let user = kh
        .store()
        .find_user_by_email(&email)
        .await
        .map_err(store_error)?;
    if user.as_ref().is_some_and(User::is_disabled) {
        tracing::info!("email sign-in asked for a disabled account; nothing sent");
        return Ok(sent(&kh, email, cookie));
    }
    if user.is_none() && !c.signup_enabled {
        tracing::info!("email sign-in asked for an address with no account (sign-up closed)");
        return Ok(sent(&kh, email, cookie));
    }
    let m = Mail {
        purpose: ChallengePurpose::SignIn,
        email: &email,
        user: user.as_ref(),
        browser_hash: Some(browser_hash),
        pending: Pending {
            return_to: req
                .return_to
                .as_deref()
                .and_then(return_to::sanitize)
                .map(str::to_owned),
            ..Pending::default()
        },
        template: if user.is_some() {
            "sign_in_code"
        } else {
            "sign_up_code"
        },
    };
    mail_challenge(&kh, m, ip, &headers).await?;
    Ok(sent(&kh, email, cookie))
}

pub(crate) fn wrong_code() -> ApiError {
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "the code is wrong or expired; check the newest message or ask for a new code",
    )
    .into()
}

pub(crate) fn bad_link() -> ApiError {
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "this link is invalid, used or expired; ask for a new one",
    )
    .into()
}

/// `POST /api/session/email/code`: a code typed in the browser that asked.
pub(crate) async fn email_code(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EmailCodeRequest>,
) -> Result<Response, ApiError> {
    let purposes = [ChallengePurpose::SignUp, ChallengePurpose::SignIn];
    let challenge = typed_code(&kh, ip, &headers, &req, &purposes).await?;
    let (user, _) = complete(&kh, &challenge).await?;
    let old = read_cookie(&headers, cookie_name(&kh));
    let started = start_session(&kh, &user, old, &Device::of(ip, &headers), amr::EMAIL).await?;
    tracing::info!(user_id = %user.id, purpose = ?challenge.purpose, "signed in by an emailed code");
    Ok(started.respond(|s| Json(s.response()).into_response()))
}

/// The challenge a code typed in this browser is right for: the newest
/// live one of `purposes` this browser asked for at that address (another
/// browser's code never works here, and a guess here never costs another
/// browser's message), within the IP's hourly checks.
pub(crate) async fn typed_code(
    kh: &Keyhouse,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    req: &EmailCodeRequest,
    purposes: &[ChallengePurpose],
) -> Result<EmailChallenge, ApiError> {
    let limit = kh.config().email_code_checks_per_ip_per_hour;
    ip_within_hourly_limit(kh, "email-check", ip, limit, "code checks").await?;
    let Some(email) = normalize_email(&req.email) else {
        return Err(wrong_code());
    };
    let Some(browser) = read_cookie(headers, bind_cookie_name(kh)) else {
        tracing::info!("email code refused: the browser asked for no message");
        return Err(wrong_code());
    };
    let challenge = kh
        .store()
        .newest_email_challenge(&email, purposes, &secret::hash_token(browser), kh.now())
        .await
        .map_err(store_error)?;
    let Some(challenge) = challenge else {
        tracing::info!("email code refused: no live message to this address from this browser");
        return Err(wrong_code());
    };
    check_code(kh, &challenge, &req.code).await?;
    Ok(challenge)
}

/// Checks a typed code against its challenge (spaces and dashes ignored);
/// a wrong one counts against the challenge, which dies at
/// `email_code_attempts`.
pub(crate) async fn check_code(
    kh: &Keyhouse,
    challenge: &EmailChallenge,
    typed: &str,
) -> Result<(), ApiError> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let code_ok = code.len() == usize::from(CODE_DIGITS)
        && secret::hashes_equal(&code_hash(&challenge.id_hash, &code), &challenge.code_hash);
    if code_ok {
        return Ok(());
    }
    let live = kh
        .store()
        .note_wrong_code(
            &challenge.id_hash,
            kh.config().email_code_attempts,
            kh.now(),
        )
        .await
        .map_err(store_error)?;
    tracing::info!(purpose = ?challenge.purpose, still_live = live, "email code refused: wrong code");
    Err(wrong_code())
}

fn same_browser(kh: &Keyhouse, headers: &HeaderMap, c: &EmailChallenge) -> bool {
    match &c.browser_hash {
        None => true,
        Some(expected) => read_cookie(headers, bind_cookie_name(kh))
            .is_some_and(|v| secret::hashes_equal(&secret::hash_token(v), expected)),
    }
}

/// Spends a checked challenge and does what it proves: the account, and
/// where to go next.
pub(crate) async fn complete(
    kh: &Keyhouse,
    c: &EmailChallenge,
) -> Result<(User, Pending), ApiError> {
    let pending: Pending = c
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    let new_user = match c.purpose {
        Some(ChallengePurpose::SignUp) => Some(NewUser {
            id: secret::generate_id("user", &mut rand::rng()),
            email: c.email.clone(),
            password_hash: pending.password_hash.clone().unwrap_or_default(),
            name: pending.name.clone(),
            now: kh.now(),
        }),
        // Signing in by mail with sign-up open creates a password-less account.
        Some(ChallengePurpose::SignIn) if kh.config().signup_enabled => Some(NewUser {
            id: secret::generate_id("user", &mut rand::rng()),
            email: c.email.clone(),
            password_hash: String::new(),
            name: String::new(),
            now: kh.now(),
        }),
        _ => None,
    };
    match kh
        .store()
        .complete_email_challenge(&c.id_hash, new_user, kh.now())
        .await
    {
        // A message mailed before an operator disabled the account.
        Ok(Some(user)) if user.is_disabled() => {
            tracing::info!(user_id = %user.id, "email code or link refused: the account is disabled");
            Err(OAuthError::new(ErrorCode::AccountDisabled, "this account is disabled").into())
        }
        Ok(Some(user)) => Ok((user, pending)),
        Ok(None) => Err(bad_link()),
        Err(StoreError::Conflict) if c.purpose == Some(ChallengePurpose::ChangeEmail) => {
            Err(OAuthError::new(
                ErrorCode::Conflict,
                "another account has this email now; nothing changed",
            )
            .into())
        }
        Err(StoreError::Conflict) => Err(OAuthError::new(
            ErrorCode::Conflict,
            "an account with this email exists now; sign in instead",
        )
        .into()),
        Err(e) => Err(store_error(e).into()),
    }
}

/// The live challenge of a mailed link opened in this browser, when its
/// purpose is one `wanted` takes (within the IP's hourly checks): a link
/// bound to the browser that asked works only there.
pub(crate) async fn opened_link(
    kh: &Keyhouse,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    req: &EmailLinkRequest,
    wanted: impl Fn(Option<ChallengePurpose>) -> bool,
) -> Result<EmailChallenge, ApiError> {
    let limit = kh.config().email_code_checks_per_ip_per_hour;
    ip_within_hourly_limit(kh, "email-check", ip, limit, "code checks").await?;
    let id_hash = secret::hash_token(req.token.trim());
    let Some(challenge) = kh
        .store()
        .live_email_challenge(&id_hash, kh.now())
        .await
        .map_err(store_error)?
        .filter(|c| wanted(c.purpose))
    else {
        tracing::info!("email link refused: unknown, used, expired or for another purpose");
        return Err(bad_link());
    };
    if !same_browser(kh, headers, &challenge) {
        tracing::info!(purpose = ?challenge.purpose, "email link opened in another browser");
        return Err(OAuthError::new(
            ErrorCode::WrongBrowser,
            "open this link in the browser where you asked for it, or type the code from the message there",
        )
        .into());
    }
    Ok(challenge)
}

/// `POST /api/session/email/link`: the token of a mailed link.
pub(crate) async fn email_link(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EmailLinkRequest>,
) -> Result<Response, ApiError> {
    let account_purposes = |p: Option<ChallengePurpose>| p != Some(ChallengePurpose::MemberSignIn);
    let challenge = opened_link(&kh, ip, &headers, &req, account_purposes).await?;
    let (user, pending) = complete(&kh, &challenge).await?;
    if challenge.purpose == Some(ChallengePurpose::ChangeEmail) {
        crate::accounts::email_change::changed(&kh, &user, &pending, ip, &headers).await;
        return Ok(Json(EmailLinkResponse {
            session: None,
            return_to: None,
            second_factor: false,
        })
        .into_response());
    }
    if challenge.purpose == Some(ChallengePurpose::VerifyEmail) {
        tracing::info!(user_id = %user.id, "email address verified");
        return Ok(Json(EmailLinkResponse {
            session: None,
            return_to: None,
            second_factor: false,
        })
        .into_response());
    }
    let old = read_cookie(&headers, cookie_name(&kh));
    let started = start_session(&kh, &user, old, &Device::of(ip, &headers), amr::EMAIL).await?;
    tracing::info!(user_id = %user.id, purpose = ?challenge.purpose, "signed in by an emailed link");
    let (session, cookie) = match started {
        Started::SignedIn(session, cookie) => (Some(session.response()), cookie),
        Started::SecondFactor(cookie) => (None, cookie),
    };
    let second_factor = session.is_none();
    Ok(crate::http::cookies::with_cookie(
        Json(EmailLinkResponse {
            session,
            return_to: pending.return_to,
            second_factor,
        })
        .into_response(),
        cookie,
    ))
}

/// `POST /api/account/email/verify`: mails the signed-in user a link that
/// verifies their address (accounts made before verification, or by an
/// operator).
pub(crate) async fn request_verification(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = current.user;
    if user.email_verified {
        return Ok(sent(&kh, user.email, None));
    }
    if address_within_limit(&kh, &user.email).await? {
        let m = Mail {
            purpose: ChallengePurpose::VerifyEmail,
            email: &user.email,
            user: Some(&user),
            browser_hash: None,
            pending: Pending::default(),
            template: "verify_address",
        };
        mail_challenge(&kh, m, ip, &headers).await?;
    }
    Ok(sent(&kh, user.email, None))
}
