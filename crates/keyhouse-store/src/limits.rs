//! Fixed-window attempt counters shared by every instance.

use sea_orm::{ConnectionTrait, Statement, Value};

use crate::{Result, Store};

impl Store {
    /// Counts one hit on `bucket` in the current window of `window` seconds
    /// (a window older than that starts over) and returns the hits so far.
    pub async fn hit(&self, bucket: &str, window: i64, now: i64) -> Result<i64> {
        let p = self.placeholders(3);
        // One atomic upsert: concurrent hits on every instance are all counted.
        let sql = format!(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ({b}, {now}, 1) \
             ON CONFLICT (bucket) DO UPDATE SET \
             hits = CASE WHEN rate_limits.window_start <= {cutoff} THEN 1 ELSE rate_limits.hits + 1 END, \
             window_start = CASE WHEN rate_limits.window_start <= {cutoff} THEN excluded.window_start \
             ELSE rate_limits.window_start END \
             RETURNING hits",
            b = p[0],
            now = p[1],
            cutoff = p[2],
        );
        let values: Vec<Value> = vec![bucket.into(), now.into(), (now - window).into()];
        let _lane = self.lane().await;
        self.scalar(sql, values, "hits").await
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
