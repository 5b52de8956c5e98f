//! Throttling of password guesses, per account and per IP address, decided in
//! the store so every instance counts the same attempts.

use std::net::IpAddr;

use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_store::Attempt;

use crate::Keyhouse;
use crate::accounts::users::{invalid_credentials, normalize_email};
use crate::error::store_error;

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
    let normalized = normalize_email(email);
    let bucket = normalized.as_ref().map(|e| format!("login:email:{e}"));
    guarded(kh, bucket, ip, || check(normalized)).await
}

/// [`throttled`] for any account bucket (`None`: the IP's only): the
/// second factor counts its wrong codes per account the same way.
pub(crate) async fn guarded<T, F, Fut>(
    kh: &Keyhouse,
    email_bucket: Option<String>,
    ip: Option<IpAddr>,
    check: F,
) -> Result<T, OAuthError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, OAuthError>>,
{
    let c = kh.config();
    let now = kh.now();
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
            metrics::counter!(crate::http::metrics::SIGN_IN_THROTTLED, "scope" => "ip")
                .increment(1);
            return Err(too_many());
        }
    }
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
            metrics::counter!(crate::http::metrics::SIGN_IN_THROTTLED, "scope" => "account")
                .increment(1);
            return Err(too_many());
        }
    }
    match check().await? {
        Some(found) => {
            if let Some(bucket) = &email_bucket {
                kh.store().clear_hits(bucket).await.map_err(store_error)?;
            }
            if let Some(bucket) = &ip_bucket {
                kh.store().unhit(bucket).await.map_err(store_error)?;
            }
            Ok(found)
        }
        None => {
            metrics::counter!(crate::http::metrics::SIGN_IN_FAILURES).increment(1);
            Err(invalid_credentials())
        }
    }
}

/// Counts one request in `bucket` for the current hour and answers whether
/// it is within `limit` (sign-ups, reset requests and reset mails). A limit
/// of 0 means none: nothing is counted.
pub(crate) async fn within_hourly_limit(
    kh: &Keyhouse,
    bucket: &str,
    limit: i64,
) -> Result<bool, OAuthError> {
    if limit <= 0 {
        return Ok(true);
    }
    let hits = kh
        .store()
        .hit(bucket, 3600, kh.now())
        .await
        .map_err(store_error)?;
    if hits > limit {
        tracing::warn!(%bucket, hits, "hourly limit reached");
        return Ok(false);
    }
    Ok(true)
}

/// Counts one request from `ip` in the `kind` bucket (`{kind}:ip:{ip}`) for
/// the current hour; past `limit`, `429` "too many {what} from this network".
/// A request whose address is unknown is not counted.
pub(crate) async fn ip_within_hourly_limit(
    kh: &Keyhouse,
    kind: &str,
    ip: Option<IpAddr>,
    limit: i64,
    what: &str,
) -> Result<(), OAuthError> {
    let Some(ip) = ip else {
        return Ok(());
    };
    if within_hourly_limit(kh, &format!("{kind}:ip:{ip}"), limit).await? {
        return Ok(());
    }
    Err(OAuthError::new(
        ErrorCode::TooManyAttempts,
        format!("too many {what} from this network; try again later"),
    ))
}
