//! Metrics, through the `metrics` facade: recording is a no-op until the
//! application installs a recorder (the `keyhouse` binary installs
//! Prometheus's and serves it on a listener of its own). The names are
//! constants here; [`describe`] gives each its help text.
//!
//! Labels have bounded values only: route templates (never raw paths),
//! methods, status codes, grant and client types, outcomes.

use std::time::Instant;

use axum::extract::MatchedPath;

use crate::Keyhouse;

/// HTTP requests answered, by route template, method and status.
pub const HTTP_REQUESTS: &str = "keyhouse_http_requests_total";
/// Time to answer an HTTP request, seconds, by route, method and status.
pub const HTTP_DURATION: &str = "keyhouse_http_request_duration_seconds";
/// Tokens issued by the token endpoint, by grant type and client type.
pub const TOKENS_ISSUED: &str = "keyhouse_tokens_issued_total";
/// Spent refresh tokens presented again (their family is revoked).
pub const REFRESH_REUSE: &str = "keyhouse_refresh_reuse_detected_total";
/// Sign-ins refused for a wrong address or password.
pub const SIGN_IN_FAILURES: &str = "keyhouse_sign_in_failures_total";
/// Sign-ins refused by throttling, by scope (`ip` or `account`).
pub const SIGN_IN_THROTTLED: &str = "keyhouse_sign_in_throttled_total";
/// Client ID Metadata Documents fetched, by outcome (`accepted`,
/// `refused`: a policy or the address guard, `failed`: the fetch or the
/// document).
pub const METADATA_FETCHES: &str = "keyhouse_metadata_document_fetches_total";
/// Single sign-ons through organizations' own providers, by outcome
/// (`signed_in`, `tested`, or why one failed: `invalid_token`,
/// `provider_unreachable`, `expired`, `email_not_verified`…).
pub const SSO_SIGN_INS: &str = "keyhouse_sso_sign_ins_total";
/// Dynamic registrations, by outcome (`registered`, `refused`).
pub const REGISTRATIONS: &str = "keyhouse_dynamic_registrations_total";
/// Database connections, by state (`idle`, `in_use`).
pub const DB_CONNECTIONS: &str = "keyhouse_db_pool_connections";
/// The most database connections the pool opens.
pub const DB_MAX_CONNECTIONS: &str = "keyhouse_db_pool_max_connections";
/// Age of the key that signs, seconds since it started signing, by
/// algorithm.
pub const SIGNING_KEY_AGE: &str = "keyhouse_signing_key_age_seconds";
/// Rows deleted by housekeeping's purge of expired data.
pub const PURGED_ROWS: &str = "keyhouse_purged_rows_total";
/// Purge turns, by outcome (`ok`: this instance held the lease and
/// purged; `skipped`: another instance holds the lease; `failed`: the
/// lease could not be taken or a step failed).
pub const PURGE_RUNS: &str = "keyhouse_purge_runs_total";
/// 1 while this instance holds the purge lease, else 0: summed over the
/// instances it is 1, or 0 for a while after a holder died.
pub const PURGE_LEASE_HELD: &str = "keyhouse_purge_lease_held";

/// The buckets of [`HTTP_DURATION`], seconds: 250 µs to 10 s.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Gives every metric its help text and unit; call once after installing
/// a recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request"
    );
    describe_counter!(
        TOKENS_ISSUED,
        "Tokens issued, by grant type and client type"
    );
    describe_counter!(
        REFRESH_REUSE,
        "Spent refresh tokens presented again; each revoked its family"
    );
    describe_counter!(
        SIGN_IN_FAILURES,
        "Sign-ins refused for a wrong address or password"
    );
    describe_counter!(
        SIGN_IN_THROTTLED,
        "Sign-ins refused by throttling, by scope"
    );
    describe_counter!(
        METADATA_FETCHES,
        "Client ID Metadata Document fetches, by outcome"
    );
    describe_counter!(REGISTRATIONS, "Dynamic client registrations, by outcome");
    describe_counter!(
        SSO_SIGN_INS,
        "Single sign-ons through organizations' providers, by outcome"
    );
    describe_gauge!(DB_CONNECTIONS, "Database connections, by state");
    describe_gauge!(
        DB_MAX_CONNECTIONS,
        "The most database connections the pool opens"
    );
    describe_gauge!(
        SIGNING_KEY_AGE,
        Unit::Seconds,
        "Time since the signing key of each algorithm started signing"
    );
    describe_counter!(PURGED_ROWS, "Expired rows deleted by housekeeping");
    describe_counter!(
        PURGE_RUNS,
        "Housekeeping purge turns, by outcome (ok, skipped: another instance holds the lease, failed)"
    );
    describe_gauge!(
        PURGE_LEASE_HELD,
        "1 while this instance holds the purge lease, else 0"
    );
    describe_histogram!(
        keyhouse_store::WRITE_BATCH_SIZE,
        "Writes committed together in one SQLite transaction"
    );
    describe_gauge!(
        keyhouse_store::WRITE_QUEUE_DEPTH,
        "Writes waiting for the SQLite writer when a batch starts"
    );
}

static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns per-request HTTP metrics on: call it after installing a recorder.
/// Off, requests are not timed nor labelled at all (the labels would be
/// built for a recorder that drops them).
pub fn enable() {
    ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`enable`] was called.
pub fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times one answered request ([`HTTP_REQUESTS`],
/// [`HTTP_DURATION`]), labelled with the route template (`fallback` for
/// what no route matched).
pub(crate) fn record(
    route: Option<&MatchedPath>,
    method: &'static str,
    status: u16,
    started: Instant,
) {
    let labels = [
        (
            "route",
            route.map_or_else(|| "fallback".to_owned(), |r| r.as_str().to_owned()),
        ),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
}

impl Keyhouse {
    /// Sets the gauges read at scrape time: the connection pool and the age
    /// of each signing key. Call it before rendering the metrics.
    pub async fn observe_gauges(&self) {
        let pool = self.store().pool_stats();
        metrics::gauge!(DB_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
        metrics::gauge!(DB_CONNECTIONS, "state" => "in_use")
            .set(f64::from(pool.open.saturating_sub(pool.idle)));
        metrics::gauge!(DB_MAX_CONNECTIONS).set(f64::from(pool.max));
        let now = self.now();
        match self.store().list_keys().await {
            Ok(keys) => {
                for k in keys.iter().filter(|k| k.state == "current") {
                    if let Some(since) = k.activated_at {
                        // Seconds: exact in f64 for any age a key can have.
                        #[allow(clippy::cast_precision_loss)]
                        let age = (now - since).max(0) as f64;
                        metrics::gauge!(SIGNING_KEY_AGE, "alg" => k.alg.clone()).set(age);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the keys for metrics failed"),
        }
    }
}
