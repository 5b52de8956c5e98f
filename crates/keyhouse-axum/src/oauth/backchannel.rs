//! OpenID Connect Back-Channel Logout 1.0: delivering the logout notices
//! the store queued when sessions ended.
//!
//! Each notice becomes a logout token (RS256 like ID tokens, `typ`
//! `logout+jwt`, `sub`, `sid`, the event, a fresh `jti`, two minutes of
//! life, never a `nonce`) posted as a form to the client's
//! `backchannel_logout_uri` through the guarded fetcher: https only, no
//! redirects, no special-use address (the check comes before any
//! connection), a few seconds at most. A 200 (or 204) removes the notice.
//! A failure to reach the client, a timeout, a 5xx, 408 or 429 tries again
//! later ([`RETRY_AFTER`]); any other 4xx is the client refusing the token,
//! which another try would not change. Instances share the queue: each notice is claimed
//! by a conditional update before it is sent, so one instance posts it.

use keyhouse_core::logout::{LOGOUT_TOKEN_TYPE, LogoutTokenClaims};
use keyhouse_core::secret;
use keyhouse_store::LogoutNotice;

use crate::Keyhouse;
use crate::agents::fetch::FetchError;
use crate::oauth::keys::SigningAlg;

/// Seconds before each next try, after the first, second, … failure: six
/// tries over about 15 hours; a notice still failing after the last is
/// given up (and logged).
pub const RETRY_AFTER: [i64; 5] = [60, 300, 1800, 7200, 43_200];

/// Notices handled per run.
const BATCH: u64 = 100;

/// What became of one notice in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutDelivery {
    /// The client answered 200 or 204.
    Delivered {
        /// The client.
        client_id: String,
    },
    /// It failed and will be tried again.
    Retrying {
        /// The client.
        client_id: String,
        /// Why.
        error: String,
    },
    /// It failed for good (a 4xx, the last try, or no such client or URI
    /// any more): the notice is removed.
    Dropped {
        /// The client.
        client_id: String,
        /// Why.
        error: String,
    },
}

impl Keyhouse {
    /// Delivers the due logout notices in the background (after a request
    /// that ended sessions; the housekeeping task also runs them every
    /// minute).
    pub(crate) fn deliver_logout_notices_later(&self) {
        let kh = self.clone();
        tokio::spawn(async move {
            kh.deliver_logout_notices().await;
        });
    }

    /// Delivers the logout notices that are due now, one at a time, and
    /// says what became of each.
    pub async fn deliver_logout_notices(&self) -> Vec<LogoutDelivery> {
        let due = match self.store().due_logout_notices(self.now(), BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading logout notices failed");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for notice in due {
            // Each its own time: a batch of slow clients takes minutes, and
            // a token or a claim must not start out of date.
            if let Some(d) = self.deliver_notice(&notice, self.now()).await {
                out.push(d);
            }
        }
        out
    }

    /// One notice: claimed, posted, then removed or left for later. `None`
    /// when another instance claimed it first.
    async fn deliver_notice(&self, n: &LogoutNotice, now: i64) -> Option<LogoutDelivery> {
        let tries = usize::try_from(n.attempts).unwrap_or(usize::MAX);
        let wait = RETRY_AFTER.get(tries).copied().unwrap_or(0);
        // Claimed until the next try would be due anyway; longer than any
        // delivery takes, so two instances never post the same notice.
        let until = now + wait.max(60);
        match self
            .store()
            .claim_logout_notice(&n.id, n.next_attempt_at, until)
            .await
        {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "claiming a logout notice failed");
                return None;
            }
        }
        let client_id = n.client_id.clone();
        let outcome = self.post_logout_token(n, now).await;
        // `tries` failed before this one; after the last wait, no more.
        let last_try = tries >= RETRY_AFTER.len();
        let delivery = match outcome {
            Ok(()) => LogoutDelivery::Delivered { client_id },
            Err(Failure::Final(error)) => LogoutDelivery::Dropped { client_id, error },
            Err(Failure::Again(error)) if last_try => LogoutDelivery::Dropped { client_id, error },
            Err(Failure::Again(error)) => LogoutDelivery::Retrying { client_id, error },
        };
        match &delivery {
            LogoutDelivery::Delivered { client_id } => {
                tracing::info!(%client_id, sid = ?n.sid, "logout token delivered");
            }
            LogoutDelivery::Retrying { client_id, error } => {
                tracing::warn!(%client_id, %error, attempts = n.attempts + 1, "logout token not delivered; will try again");
            }
            LogoutDelivery::Dropped { client_id, error } => {
                tracing::warn!(%client_id, %error, attempts = n.attempts + 1, "logout token not delivered; given up");
            }
        }
        if !matches!(delivery, LogoutDelivery::Retrying { .. })
            && let Err(e) = self.store().delete_logout_notice(&n.id).await
        {
            tracing::warn!(error = %e, "removing a logout notice failed");
        }
        Some(delivery)
    }

    async fn post_logout_token(&self, n: &LogoutNotice, now: i64) -> Result<(), Failure> {
        let client = self
            .named_client(&n.client_id)
            .await
            .map_err(|e| Failure::Again(format!("{:?}", e.code)))?;
        let Some(client) = client else {
            return Err(Failure::Final("the client is gone".into()));
        };
        let Some(uri) = client.backchannel_logout_uri.as_deref() else {
            return Err(Failure::Final(
                "the client no longer has a backchannel_logout_uri".into(),
            ));
        };
        let url = url::Url::parse(uri).map_err(|e| Failure::Final(e.to_string()))?;
        let claims = LogoutTokenClaims::new(
            &self.config().issuer,
            &client.id,
            &n.subject_id,
            n.sid.as_deref(),
            secret::generate_id("lt", &mut rand::rng()),
            now,
        );
        let token = self
            .keys()
            // Signed like the client's ID tokens (Back-Channel Logout §2.4:
            // the same keys), so it verifies them with the same rules.
            .sign(
                SigningAlg::from(client.id_token_alg),
                LOGOUT_TOKEN_TYPE,
                &claims,
            )
            .map_err(|e| Failure::Again(e.to_string()))?;
        let fetcher = self
            .fetcher()
            .map_err(|e| Failure::Again(format!("{:?}", e.debug)))?;
        fetcher
            .post_form(&url, &[("logout_token", &token)])
            .await
            .map_err(|e| match e {
                FetchError::Status(s) if (400..500).contains(&s) && s != 408 && s != 429 => {
                    Failure::Final(e.to_string())
                }
                FetchError::NotHttps => Failure::Final(e.to_string()),
                e => Failure::Again(e.to_string()),
            })
    }
}

/// Why a post failed, and whether to try again.
enum Failure {
    Again(String),
    Final(String),
}
