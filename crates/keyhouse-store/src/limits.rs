//! Attempt counters shared by every instance: fixed windows (per IP, per
//! sign-up source, per session) and the per-account sign-in delay that grows
//! with each failure (docs/threat-model.md rows 25 and 41–42).
//!
//! Every counter is *counted first*: the increment is one atomic statement
//! that returns the new count, and the caller refuses over the limit. Reading
//! the count and recording a failure later let N simultaneous guesses all
//! pass the check before any was recorded.

use sea_orm::{ConnectionTrait, Statement, Value};

use crate::{Result, Store};

/// The first sign-in delay, seconds; the kth is `DELAY_STEP · k²`.
pub const DELAY_STEP: i64 = 15;

/// What the per-account counter says about one more attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go ahead: this is the `n`th counted attempt of the window.
    Allowed(i64),
    /// Wait: the next attempt is allowed at this time (unix seconds).
    Delayed {
        /// When the next attempt will be counted.
        until: i64,
    },
}

impl Store {
    /// Counts one hit on `bucket` in the current fixed window of `window`
    /// seconds (an expired window starts over at 1) and returns the count.
    pub async fn hit(&self, bucket: &str, window: i64, now: i64) -> Result<i64> {
        // One atomic upsert: concurrent hits on every instance are all counted.
        // Each `?` is bound once, in order: the cutoff appears twice.
        let sql = self.numbered(
            "INSERT INTO rate_limits (bucket, window_start, hits, blocked_until) \
             VALUES (?, ?, 1, 0) \
             ON CONFLICT (bucket) DO UPDATE SET \
             hits = CASE WHEN rate_limits.window_start <= ? THEN 1 \
             ELSE rate_limits.hits + 1 END, \
             window_start = CASE WHEN rate_limits.window_start <= ? \
             THEN excluded.window_start ELSE rate_limits.window_start END \
             RETURNING hits",
        );
        let cutoff = now - window;
        let values: Vec<Value> = vec![bucket.into(), now.into(), cutoff.into(), cutoff.into()];
        let _lane = self.lane().await;
        self.scalar(sql, values, "hits").await
    }

    /// Counts one sign-in attempt on an account's `bucket`, unless the
    /// account is in a delay. The first `free` attempts go through at once;
    /// the `free`th and every later counted attempt start a delay before the
    /// next: `DELAY_STEP · k²` seconds for the kth (at most `max_delay`). Refused attempts
    /// change nothing, so an attacker hammering the account cannot stretch
    /// the delay the real user waits out. The count is forgotten `window`
    /// seconds after the last counted attempt.
    pub async fn attempt(
        &self,
        bucket: &str,
        window: i64,
        now: i64,
        free: i64,
        max_delay: i64,
    ) -> Result<Attempt> {
        let _lane = self.lane().await;
        // A concurrent first attempt can take the insert between our two
        // statements; one more round then finds its row.
        for _ in 0..2 {
            if let Some(n) = self
                .count_live(bucket, window, now, free, max_delay)
                .await?
            {
                return Ok(Attempt::Allowed(n));
            }
            if let Some(n) = self.start_window(bucket, window, now).await? {
                return Ok(Attempt::Allowed(n));
            }
        }
        let p = self.placeholders(1);
        let until = self
            .scalar(
                format!(
                    "SELECT blocked_until FROM rate_limits WHERE bucket = {}",
                    p[0]
                ),
                vec![bucket.into()],
                "blocked_until",
            )
            .await?;
        Ok(Attempt::Delayed { until })
    }

    /// Counts an attempt on a live, unblocked row; `None` when the row is
    /// missing, expired or in a delay.
    async fn count_live(
        &self,
        bucket: &str,
        window: i64,
        now: i64,
        free: i64,
        max_delay: i64,
    ) -> Result<Option<i64>> {
        // With n = hits + 1 the count after this attempt, k = n + 1 - free
        // numbers the delays: the free-th attempt starts the first.
        let sql = self.numbered(
            "UPDATE rate_limits SET hits = hits + 1, window_start = ?, \
             blocked_until = CASE WHEN hits + 1 < ? THEN 0 \
             WHEN ? * (hits + 2 - ?) * (hits + 2 - ?) >= ? THEN ? + ? \
             ELSE ? + ? * (hits + 2 - ?) * (hits + 2 - ?) END \
             WHERE bucket = ? AND window_start > ? AND blocked_until <= ? \
             RETURNING hits",
        );
        let values: Vec<Value> = vec![
            now.into(),
            free.into(),
            DELAY_STEP.into(),
            free.into(),
            free.into(),
            max_delay.into(),
            now.into(),
            max_delay.into(),
            now.into(),
            DELAY_STEP.into(),
            free.into(),
            free.into(),
            bucket.into(),
            (now - window).into(),
            now.into(),
        ];
        self.optional_scalar(sql, values, "hits").await
    }

    /// Starts a new window at 1 when the row is missing or expired; `None`
    /// when a live row exists (a delay, or a concurrent first attempt).
    async fn start_window(&self, bucket: &str, window: i64, now: i64) -> Result<Option<i64>> {
        // (A free allowance of one attempt is not a configuration anyone
        // runs; the first attempt of a window never starts a delay.)
        let sql = self.numbered(
            "INSERT INTO rate_limits (bucket, window_start, hits, blocked_until) \
             VALUES (?, ?, 1, 0) \
             ON CONFLICT (bucket) DO UPDATE SET hits = 1, \
             window_start = excluded.window_start, blocked_until = 0 \
             WHERE rate_limits.window_start <= ? \
             RETURNING hits",
        );
        let values: Vec<Value> = vec![bucket.into(), now.into(), (now - window).into()];
        self.optional_scalar(sql, values, "hits").await
    }

    /// The hits on `bucket` in the current window (0 when it has expired).
    pub async fn hits(&self, bucket: &str, window: i64, now: i64) -> Result<i64> {
        let p = self.placeholders(2);
        let sql = format!(
            "SELECT hits FROM rate_limits WHERE bucket = {} AND window_start > {}",
            p[0], p[1]
        );
        let values: Vec<Value> = vec![bucket.into(), (now - window).into()];
        self.scalar(sql, values, "hits").await
    }

    /// Takes one hit back (an attempt that turned out to be legitimate).
    pub async fn unhit(&self, bucket: &str) -> Result<()> {
        let p = self.placeholders(1);
        let _lane = self.lane().await;
        self.db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                format!(
                    "UPDATE rate_limits SET hits = hits - 1 WHERE bucket = {} AND hits > 0",
                    p[0]
                ),
                vec![Value::from(bucket)],
            ))
            .await?;
        Ok(())
    }

    /// Deletes counters whose window started before `cutoff`.
    pub(crate) async fn stale_hits(&self, cutoff: i64) -> Result<u64> {
        let p = self.placeholders(1);
        let _lane = self.lane().await;
        let res = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                format!("DELETE FROM rate_limits WHERE window_start <= {}", p[0]),
                vec![Value::from(cutoff)],
            ))
            .await?;
        Ok(res.rows_affected())
    }

    /// Forgets a bucket (after a successful login).
    pub async fn clear_hits(&self, bucket: &str) -> Result<()> {
        let p = self.placeholders(1);
        let _lane = self.lane().await;
        self.db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                format!("DELETE FROM rate_limits WHERE bucket = {}", p[0]),
                vec![Value::from(bucket)],
            ))
            .await?;
        Ok(())
    }
}
