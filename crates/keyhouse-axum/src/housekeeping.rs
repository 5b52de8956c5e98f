//! Housekeeping. Every instance reloads the key set and delivers due
//! back-channel logout notices every minute. The purge (expired rows, keys
//! past their time, self-registered clients left unused) runs every
//! [`Config::purge_interval`](crate::Config::purge_interval) on one
//! instance at a time: the one holding the purge lease (decision 0035).
//!
//! The lease is a row in the database ([`keyhouse_store::Store::take_lease`]),
//! taken for twice the interval and renewed by its holder at each of its
//! turns and while its purge runs. Another instance finds it held and skips
//! its turn. A holder that dies leaves a lease that expires; the next
//! instance whose turn comes after that takes it, so the purge resumes
//! within three intervals. A holder that stops cleanly
//! ([`Housekeeping::stop`]) or whose purge fails gives it up, and the next
//! turn of any instance takes it.

use std::convert::Infallible;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::Keyhouse;
use crate::http::metrics;

/// The name of the purge's lease.
pub const PURGE_LEASE: &str = "purge";

/// How often every instance reloads keys and delivers logout notices.
const MINUTE: Duration = Duration::from_secs(60);

/// What one purge turn did on this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PurgeTurn {
    /// This instance holds the lease and did the work.
    Purged {
        /// Expired rows deleted.
        rows: u64,
        /// Keys retired (they left the JWKS).
        keys_retired: u64,
        /// Self-registered clients deleted for being unused.
        clients_deleted: usize,
    },
    /// Another instance holds the lease: nothing was done.
    Skipped,
    /// The lease could not be taken (the database failed), or a step of
    /// the work failed; the lease was given up.
    Failed,
}

/// The running housekeeping task of an instance. Dropping it stops the
/// task where it is, as if the process died: a lease it held stays until
/// it expires. [`Housekeeping::stop`] stops it and gives the lease up.
#[derive(Debug)]
#[must_use = "dropping the handle stops housekeeping: keep it while the instance serves"]
pub struct Housekeeping {
    task: tokio::task::JoinHandle<()>,
    kh: Keyhouse,
}

impl Housekeeping {
    /// Stops the task and gives the purge lease up if this instance holds
    /// it, so another instance takes it at its next turn instead of after
    /// the lease expires. Call it when the server stops.
    pub async fn stop(mut self) {
        self.task.abort();
        // Cancelled (or it had panicked): either way it is no longer running.
        // A renewal already sent to the database when the task was cut off
        // can still land after the release below; the lease then expires
        // as a dead holder's would, which is the worst case anyway.
        let _ = (&mut self.task).await;
        let store = self.kh.store();
        match store.release_lease(PURGE_LEASE, self.kh.holder_id()).await {
            Ok(true) => {
                ::metrics::gauge!(metrics::PURGE_LEASE_HELD).set(0.0);
                tracing::info!("gave the purge lease up");
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "giving the purge lease up failed; it expires"),
        }
    }
}

impl Drop for Housekeeping {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Keyhouse {
    /// The id this instance takes leases under: random, drawn when the
    /// instance was built (so once per process start).
    pub fn holder_id(&self) -> &str {
        &self.0.holder_id
    }

    /// How long a purge lease lasts from its last renewal: twice the
    /// interval, so one late turn of the holder does not lose it.
    fn purge_lease_ttl(&self) -> i64 {
        let ttl = self.config().purge_interval.saturating_mul(2).as_secs();
        i64::try_from(ttl).unwrap_or(i64::MAX)
    }

    /// Takes or renews the purge lease, from now.
    async fn take_purge_lease(&self) -> keyhouse_store::Result<bool> {
        let now = self.now();
        self.store()
            .take_lease(
                PURGE_LEASE,
                self.holder_id(),
                now,
                now.saturating_add(self.purge_lease_ttl()),
            )
            .await
    }

    /// Starts the housekeeping task: every minute it reloads keys (so a
    /// rotation made by another instance or the CLI is picked up) and
    /// delivers due back-channel logout notices; every `purge_interval` it
    /// takes a [`Keyhouse::purge_turn`]. The first of each comes at once.
    #[must_use = "dropping the handle stops housekeeping: keep it while the instance serves"]
    pub fn spawn_housekeeping(&self) -> Housekeeping {
        let kh = self.clone();
        let task = tokio::spawn(async move {
            let mut minute = tokio::time::interval(MINUTE);
            minute.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut purge = tokio::time::interval(kh.config().purge_interval);
            purge.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut held = false;
            loop {
                tokio::select! {
                    _ = minute.tick() => {
                        if let Err(e) = kh.keys().reload().await {
                            tracing::warn!(error = %e, "key reload failed");
                        }
                        kh.deliver_logout_notices().await;
                    }
                    _ = purge.tick() => {
                        let turn = kh.purge_turn().await;
                        let holds = matches!(turn, PurgeTurn::Purged { .. });
                        if holds && !held {
                            tracing::info!(holder = kh.holder_id(), "this instance took the purge lease");
                        } else if held && !holds {
                            tracing::info!(holder = kh.holder_id(), "this instance no longer holds the purge lease");
                        }
                        held = holds;
                    }
                }
            }
        });
        Housekeeping {
            task,
            kh: self.clone(),
        }
    }

    /// One purge turn: takes (or renews) the purge lease and, holding it,
    /// deletes expired rows, retires keys past their time and deletes
    /// self-registered clients left unused; when another instance holds
    /// it, does nothing. The lease is renewed while the work runs, so a
    /// long purge keeps it. A failed step gives it up, so an instance whose
    /// purge fails does not keep the others from purging. Housekeeping
    /// calls this every `purge_interval`.
    pub async fn purge_turn(&self) -> PurgeTurn {
        match self.take_purge_lease().await {
            Ok(true) => {}
            Ok(false) => {
                ::metrics::gauge!(metrics::PURGE_LEASE_HELD).set(0.0);
                ::metrics::counter!(metrics::PURGE_RUNS, "outcome" => "skipped").increment(1);
                tracing::debug!("another instance holds the purge lease");
                return PurgeTurn::Skipped;
            }
            Err(e) => {
                ::metrics::gauge!(metrics::PURGE_LEASE_HELD).set(0.0);
                ::metrics::counter!(metrics::PURGE_RUNS, "outcome" => "failed").increment(1);
                tracing::warn!(error = %e, "taking the purge lease failed");
                return PurgeTurn::Failed;
            }
        }
        ::metrics::gauge!(metrics::PURGE_LEASE_HELD).set(1.0);
        let work = self.purge_work();
        let renewals = self.keep_purge_lease();
        tokio::pin!(work, renewals);
        // Both are polled together: on SQLite a renewal waits for the
        // writer lane the purge holds, which must go on meanwhile.
        let turn = tokio::select! {
            turn = &mut work => turn,
            never = &mut renewals => match never {},
        };
        match turn {
            Some(turn) => {
                if let PurgeTurn::Purged { rows, .. } = turn {
                    ::metrics::counter!(metrics::PURGED_ROWS).increment(rows);
                }
                ::metrics::counter!(metrics::PURGE_RUNS, "outcome" => "ok").increment(1);
                turn
            }
            None => {
                ::metrics::counter!(metrics::PURGE_RUNS, "outcome" => "failed").increment(1);
                ::metrics::gauge!(metrics::PURGE_LEASE_HELD).set(0.0);
                if let Err(e) = self
                    .store()
                    .release_lease(PURGE_LEASE, self.holder_id())
                    .await
                {
                    tracing::warn!(error = %e, "giving the purge lease up failed; it expires");
                }
                PurgeTurn::Failed
            }
        }
    }

    /// The purge's steps, each tried whatever the others did; `None` when
    /// one failed (each failure is logged).
    async fn purge_work(&self) -> Option<PurgeTurn> {
        let now = self.now();
        let mut failed = false;
        let rows = match self.store().purge_expired(now).await {
            Ok(rows) => {
                tracing::debug!(rows, "purged expired rows");
                rows
            }
            Err(e) => {
                tracing::warn!(error = %e, "purge failed");
                failed = true;
                0
            }
        };
        let keys_retired = match self.store().retire_keys(now).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "retiring keys failed");
                failed = true;
                0
            }
        };
        let clients_deleted = match self.purge_unused_clients().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "purging unused clients failed");
                failed = true;
                0
            }
        };
        (!failed).then_some(PurgeTurn::Purged {
            rows,
            keys_retired,
            clients_deleted,
        })
    }

    /// Renews the purge lease every half interval, for as long as it is
    /// polled (while the purge runs).
    async fn keep_purge_lease(&self) -> Infallible {
        let mut tick = tokio::time::interval(self.config().purge_interval / 2);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The first tick is at once: the lease was just taken.
        tick.tick().await;
        loop {
            tick.tick().await;
            match self.take_purge_lease().await {
                Ok(true) => {}
                // The purge is safe to run twice at once (its deletes are
                // conditional), so this one finishes; the other instance
                // holds the lease from now on.
                Ok(false) => tracing::warn!(
                    "another instance took the purge lease while this one was purging (a pause longer than the lease?)"
                ),
                Err(e) => tracing::warn!(error = %e, "renewing the purge lease failed"),
            }
        }
    }
}
