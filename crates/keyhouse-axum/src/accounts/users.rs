//! Accounts: the e-mail and password rules, creating a user, sign-up and login.

use std::net::IpAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keyhouse_core::assurance::amr;
use keyhouse_core::{ErrorCode, OAuthError, return_to, secret};
use keyhouse_store::{NewUser, StoreError, User};
use keyhouse_types::{LoginRequest, SignupRequest};

use crate::Keyhouse;
use crate::accounts::password::verify_password;
use crate::accounts::session::{Device, Started, cookie_name, start_session};
use crate::accounts::throttle::{ip_within_hourly_limit, throttled};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::{read_cookie, see_other, with_cookie};
use crate::http::json::JsonBody;

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

pub(crate) fn check_password(password: &str) -> Result<(), OAuthError> {
    let n = password.chars().count();
    if !(8..=128).contains(&n) {
        return Err(OAuthError::invalid_request(
            "the password must be 8 to 128 characters",
        ));
    }
    Ok(())
}

/// A display name, trimmed (at most 100 characters).
pub(crate) fn check_name(name: &str) -> Result<String, OAuthError> {
    let name = name.trim();
    if name.chars().count() > 100 {
        return Err(OAuthError::invalid_request("the name is too long"));
    }
    Ok(name.to_owned())
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
    let name = check_name(name)?;
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
            name,
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

/// `POST /api/session/signup`. Throttled per client IP (counted first, every
/// attempt): an open sign-up is otherwise free Argon2 work for anyone
/// (docs/threat-model.md row 45). With `verify_email_at_signup` (the
/// default) the account is created only when the mailed link or code comes
/// back, and the answer is `202` whether or not the address is taken
/// (`accounts::email`); without, it is created at once, unverified, and a
/// taken address answers `409`.
pub(crate) async fn signup(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SignupRequest>,
) -> Result<Response, ApiError> {
    let c = kh.config();
    if !c.signup_enabled {
        return Err(OAuthError::new(ErrorCode::AccessDenied, "sign-up is closed").into());
    }
    ip_within_hourly_limit(&kh, "signup", ip, c.signups_per_ip_per_hour, "sign-ups").await?;
    if c.verify_email_at_signup {
        return crate::accounts::email::verified_signup(&kh, ip, &headers, req).await;
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
    let started = start_session(&kh, &user, old, &Device::of(ip, &headers), amr::PASSWORD).await?;
    Ok(started.respond(|s| (StatusCode::CREATED, Json(s.response())).into_response()))
}

pub(crate) fn invalid_credentials() -> OAuthError {
    // One answer for an unknown email and a wrong password (docs/threat-model.md row 25).
    OAuthError::new(
        ErrorCode::InvalidCredentials,
        "the email or password is incorrect",
    )
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
    .and_then(may_sign_in)
}

/// Whether an account an operator acted on may sign in: told only after
/// its password was right, so it says nothing to someone guessing.
pub(crate) fn may_sign_in(user: User) -> Result<User, OAuthError> {
    if user.is_disabled() {
        tracing::info!(user_id = %user.id, "sign-in refused: the account is disabled");
        return Err(OAuthError::new(
            ErrorCode::AccountDisabled,
            "this account is disabled; contact the service to have it enabled",
        ));
    }
    if user.password_reset_required {
        tracing::info!(user_id = %user.id, "password sign-in refused: a reset is required");
        return Err(crate::accounts::reauth::reset_required());
    }
    Ok(user)
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
                let device = Device::of(peer, &headers);
                let started =
                    start_session(&kh, &user, old.as_deref(), &device, amr::PASSWORD).await?;
                Ok(match started {
                    Started::SignedIn(_, cookie) => with_cookie(see_other(target), cookie),
                    // The login page asks for the code, then goes on.
                    Started::SecondFactor(cookie) => with_cookie(
                        see_other(&login_page(ErrorCode::SecondFactorRequired, target)),
                        cookie,
                    ),
                })
            }
            Err(e)
                if matches!(
                    e.code,
                    ErrorCode::InvalidCredentials
                        | ErrorCode::TooManyAttempts
                        | ErrorCode::AccountDisabled
                        | ErrorCode::PasswordResetRequired
                ) =>
            {
                Ok(see_other(&login_page(e.code, target)))
            }
            Err(e) => Err(e.into()),
        };
    }
    let req: LoginRequest = serde_json::from_slice(&body)
        .map_err(|_| OAuthError::invalid_request("send {\"email\", \"password\"} as JSON"))?;
    let user = authenticate(&kh, &req.email, &req.password, peer).await?;
    let device = Device::of(peer, &headers);
    let started = start_session(&kh, &user, old.as_deref(), &device, amr::PASSWORD).await?;
    tracing::info!(user_id = %user.id, "password right");
    Ok(started.respond(|s| Json(s.response()).into_response()))
}

/// The login page, told what happened and where to go afterwards.
fn login_page(code: ErrorCode, target: &str) -> String {
    format!(
        "/login?error={}&returnTo={}",
        code.as_str(),
        url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
    )
}

impl Keyhouse {
    /// Creates a user (email normalised, password checked and hashed).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<User, OAuthError> {
        crate::accounts::users::create_user(self, email, password, name).await
    }
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
}
