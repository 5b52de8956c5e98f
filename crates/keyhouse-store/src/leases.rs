//! Leases on housekeeping work that one instance at a time does (the purge
//! of expired rows; decision 0035).
//!
//! A lease is one row of `housekeeping_leases`. It is taken with one
//! conditional upsert, "insert it, or take it over if it has expired or is
//! already mine", and the row the statement returns says whether the
//! caller won. So the database decides a race between instances, as it
//! does for the rate-limit counters (`limits`) and single-use artifacts
//! (`tokens`), and no instance reads the row first and writes it second.
//! Times are the caller's clock, as everywhere in the store.

use sea_orm::{ConnectionTrait, Statement, Value};

use crate::{Result, Store};

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The id of the instance that holds it.
    pub holder: String,
    /// When it expires (unix seconds): from then on another holder may
    /// take it.
    pub expires_at: i64,
}

impl Store {
    /// Takes the lease `name` for `holder` until `until`, if it is free,
    /// expired (`expires_at <= now`), or `holder`'s already (then this
    /// renews it). Returns whether `holder` holds it now. Of several
    /// holders taking a free lease at once, exactly one wins.
    pub async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
        // One statement: an upsert whose update only happens under the
        // condition, returning a row only when it inserted or updated.
        let sql = self.numbered(
            "INSERT INTO housekeeping_leases (name, holder, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET \
             holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE housekeeping_leases.holder = excluded.holder \
             OR housekeeping_leases.expires_at <= ? \
             RETURNING holder",
        );
        let values: Vec<Value> = vec![name.into(), holder.into(), until.into(), now.into()];
        let _lane = self.lane().await;
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                sql,
                values,
            ))
            .await?;
        Ok(row.is_some())
    }

    /// Gives up the lease `name` if `holder` holds it, so another holder
    /// can take it at once. Returns whether it did.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        let sql = self.numbered("DELETE FROM housekeeping_leases WHERE name = ? AND holder = ?");
        let _lane = self.lane().await;
        let res = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                sql,
                vec![Value::from(name), Value::from(holder)],
            ))
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// The lease `name` as stored (expired or not), or `None` when nobody
    /// has taken it or it was given up.
    pub async fn lease(&self, name: &str) -> Result<Option<Lease>> {
        let sql =
            self.numbered("SELECT holder, expires_at FROM housekeeping_leases WHERE name = ?");
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                sql,
                vec![Value::from(name)],
            ))
            .await?;
        Ok(match row {
            Some(r) => Some(Lease {
                holder: r.try_get("", "holder")?,
                expires_at: r.try_get("", "expires_at")?,
            }),
            None => None,
        })
    }
}
