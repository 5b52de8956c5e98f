//! Storage for Keyhouse: sea-orm entities, dated migrations, and the
//! operations the protocol needs, on SQLite (default) and PostgreSQL.
//!
//! Every single-use artifact (codes, refresh tokens) is consumed with a
//! conditional `UPDATE … WHERE consumed_at IS NULL` whose affected-row count
//! decides the winner, inside a write transaction; on SQLite write
//! transactions start with `BEGIN IMMEDIATE`, so they wait on `busy_timeout`
//! instead of failing when a deferred read upgrades to a write.
#![warn(missing_docs)]

// Row structs mirror the migration column by column; the migration documents them.
#[allow(missing_docs)]
pub mod entities;
mod migration;

mod account;
mod account_tokens;
mod admin;
pub mod backup;
mod batch;
mod clients;
mod email_challenges;
mod keys;
mod leases;
mod limits;
mod logout;
mod members;
mod operators;
mod orgs;
mod passkeys;
mod second_factor;
mod settings;
mod sso;
mod tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

pub use account::DeletedAccount;
pub use account_tokens::{AccountTokenPurpose, NewAccountToken};
pub use admin::{AuditRecord, GrantRecord, RotationError};
pub use clients::{NewClient, StoredClient};
pub use email_challenges::{ChallengePurpose, EmailChallenge, NewEmailChallenge};
pub use keys::StoredKey;
pub use leases::Lease;
pub use limits::{Attempt, DELAY_STEP};
pub use logout::LogoutNotice;
pub use members::{
    Accepted, DeletedOrganization, Invitation, InviteRefusal, NewInvitation, OrganizationDomain,
    RolesChange, Standing, StandingChange,
};
pub use operators::Disabled;
pub use orgs::{Member, Organization};
pub use passkeys::{Ceremony, CeremonyKind, StoredPasskey};
pub use second_factor::FactorHolder;
pub use sso::{RoleMapping, SsoConnection, SsoRequest};
pub use tokens::{
    CodeRecord, FamilyRecord, NewCode, NewGrant, RedeemOutcome, RefreshOutcome, RefreshRecord,
    Rotation,
};
pub use users::{NewUser, SessionRecord, User};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was hit (an email or id already exists).
    #[error("already exists")]
    Conflict,
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A stored value could not be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    fn from_insert(e: DbErr) -> StoreError {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("unique") || text.contains("duplicate") {
            StoreError::Conflict
        } else {
            StoreError::Db(e)
        }
    }
}

/// The result type of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Metric: writes committed together in one SQLite transaction (histogram).
pub const WRITE_BATCH_SIZE: &str = "keyhouse_store_write_batch_size";
/// Metric: writes waiting for the SQLite writer when a batch starts (gauge).
pub const WRITE_QUEUE_DEPTH: &str = "keyhouse_store_write_queue_depth";

/// The connection pool's state, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
}

/// The default SQLite database of the `keyhouse` binary.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/keyhouse.db?mode=rwc";

/// A connection pool and the operations on it.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite allows one writer at a time. Writers of this process queue here
    /// instead of in SQLite's busy handler, which sleeps in steps of up to
    /// 100 ms and turned write contention into 100 ms tail latencies. Other
    /// processes (the CLI) still meet `busy_timeout`. `None` on PostgreSQL.
    writer: Option<Arc<Mutex<()>>>,
    /// SQLite's group commit for the hot write paths (see `batch`).
    batcher: Option<batch::Batcher>,
}

/// A future borrowing a write transaction.
pub(crate) type TxnFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::result::Result<T, DbErr>> + Send + 'a>>;

/// A write transaction; on SQLite it also holds this process's writer lane.
pub(crate) struct WriteTxn {
    txn: DatabaseTransaction,
    _lane: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTxn {
    async fn commit(self) -> Result<()> {
        self.txn.commit().await?;
        Ok(())
    }

    async fn rollback(self) -> Result<()> {
        self.txn.rollback().await?;
        Ok(())
    }
}

impl Store {
    /// Connects to `sqlite://…` or `postgres://…`.
    ///
    /// SQLite gets WAL, `synchronous=NORMAL` (durable across process crashes;
    /// WAL's documented trade-off on power loss), a 5 s busy timeout and
    /// foreign keys on.
    pub async fn connect(url: &str) -> Result<Store> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5));
        if url.starts_with("sqlite:") {
            let parent = sqlite_path(url)
                .and_then(|p| std::path::Path::new(p).parent())
                .filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Corrupt(format!("{}: {e}", parent.display())))?;
            }
            // A local file cannot drop a connection: no ping per checkout
            // (it cost one worker-thread round trip on every query).
            opts.max_connections(4)
                .min_connections(1)
                .test_before_acquire(false);
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
        } else {
            // Ping only connections idle long enough to have been dropped by
            // the server or a proxy, not every checkout.
            opts.max_connections(32)
                .min_connections(2)
                .test_before_acquire_if_idle_for(Duration::from_secs(30));
        }
        let writer = url.starts_with("sqlite:").then(|| Arc::new(Mutex::new(())));
        let mut db = Database::connect(opts).await?;
        // Every statement at TRACE under `keyhouse_store::sql` (off unless
        // asked for: RUST_LOG=keyhouse_store::sql=trace), so how many
        // statements a request costs can be counted on the real server.
        db.set_metric_callback(|info| {
            tracing::trace!(
                target: "keyhouse_store::sql",
                elapsed_us = u64::try_from(info.elapsed.as_micros()).unwrap_or(u64::MAX),
                failed = info.failed,
                "{}",
                info.statement.sql
            );
        });
        let batcher = writer
            .as_ref()
            .map(|lane| batch::Batcher::start(db.clone(), Arc::clone(lane)));
        Ok(Store {
            db,
            writer,
            batcher,
        })
    }

    /// Applies pending migrations. On PostgreSQL this holds an advisory lock
    /// inside one transaction, so several instances starting together migrate
    /// once.
    pub async fn migrate(&self) -> Result<()> {
        match self.db.get_database_backend() {
            DatabaseBackend::Postgres => {
                let txn = self.db.begin().await?;
                txn.execute_unprepared("SELECT pg_advisory_xact_lock(7244551)")
                    .await?;
                migration::Migrator::up(&txn, None).await?;
                txn.commit().await?;
            }
            _ => migration::Migrator::up(&self.db, None).await?,
        }
        Ok(())
    }

    /// The connection pool's state now.
    pub fn pool_stats(&self) -> PoolStats {
        fn stats<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolStats {
            PoolStats {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => stats(self.db.get_sqlite_connection_pool()),
            DatabaseBackend::Postgres => stats(self.db.get_postgres_connection_pool()),
            _ => PoolStats {
                open: 0,
                idle: 0,
                max: 0,
            },
        }
    }

    /// The underlying connection, for applications that add their own tables.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Whether the database answers (for `/health/ready`).
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<()> {
        self.db.close().await?;
        Ok(())
    }

    /// Waits for this process's SQLite writer lane (a no-op on PostgreSQL).
    /// Single-statement writes take it too, so they never meet the busy handler.
    async fn lane(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.writer {
            Some(m) => Some(Arc::clone(m).lock_owned().await),
            None => None,
        }
    }

    /// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite.
    async fn begin_write(&self) -> Result<WriteTxn> {
        let lane = self.lane().await;
        let txn = match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => self.db.begin_with_options(immediate()).await?,
            _ => self.db.begin().await?,
        };
        Ok(WriteTxn { txn, _lane: lane })
    }

    /// `n` bind placeholders in the backend's syntax (`$1…` or `?`), for the
    /// few statements written as SQL; values are always bound, never spliced
    /// (docs/threat-model.md row 31).
    fn placeholders(&self, n: usize) -> Vec<String> {
        let pg = self.db.get_database_backend() == DatabaseBackend::Postgres;
        (1..=n)
            .map(|i| if pg { format!("${i}") } else { "?".to_owned() })
            .collect()
    }

    /// SQL written with `?` placeholders, numbered `$1…` on PostgreSQL.
    /// Each `?` is one bound value, in order (docs/threat-model.md row 31).
    fn numbered(&self, sql: &str) -> String {
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Runs a one-row, one-integer-column query (0 when there is no row).
    async fn scalar(&self, sql: String, values: Vec<sea_orm::Value>, column: &str) -> Result<i64> {
        Ok(self
            .optional_scalar(sql, values, column)
            .await?
            .unwrap_or(0))
    }

    /// Runs a one-row, one-integer-column query (`None` when there is no row).
    async fn optional_scalar(
        &self,
        sql: String,
        values: Vec<sea_orm::Value>,
        column: &str,
    ) -> Result<Option<i64>> {
        let stmt =
            sea_orm::Statement::from_sql_and_values(self.db.get_database_backend(), sql, values);
        let row = self.db.query_one_raw(stmt).await?;
        Ok(match row {
            Some(r) => Some(r.try_get("", column)?),
            None => None,
        })
    }

    /// Runs `work` in a write transaction and returns its value once
    /// committed: in SQLite's next group commit, or in a transaction of its
    /// own on PostgreSQL.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a DatabaseTransaction) -> TxnFuture<'a, T> + Send + 'static,
    {
        match &self.batcher {
            Some(b) => {
                let slot = Arc::new(std::sync::Mutex::new(None));
                let out = Arc::clone(&slot);
                b.run(Box::new(move |txn| {
                    Box::pin(async move {
                        let value = work(txn).await?;
                        if let Ok(mut guard) = out.lock() {
                            *guard = Some(value);
                        }
                        Ok(())
                    })
                }))
                .await?;
                let value = slot.lock().ok().and_then(|mut g| g.take());
                value.ok_or_else(|| StoreError::Corrupt("a committed write left no result".into()))
            }
            None => {
                let txn = self.begin_write().await?;
                let value = work(&txn).await?;
                txn.commit().await?;
                Ok(value)
            }
        }
    }

    /// Deletes expired sessions, codes, revoked-token ids, dead refresh
    /// tokens, invitations that ended 30 days ago and single sign-ons never
    /// finished. Returns the number of
    /// rows removed.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        let removed = {
            let _lane = self.lane().await;
            tokens::purge_expired(&self.db, now).await?
        };
        // Login windows are at most a day.
        let stale = self.stale_hits(now - 86_400).await?;
        let assertions = self.purge_client_assertions(now).await?;
        let account_tokens = self.purge_account_tokens(now).await?;
        let challenges = self.purge_email_challenges(now).await?;
        let ceremonies = self.purge_ceremonies(now).await?;
        let invitations = {
            let _lane = self.lane().await;
            members::purge_invitations(&self.db, now).await?
        };
        let sso = {
            let _lane = self.lane().await;
            sso::purge_requests(&self.db, now).await?
        };
        Ok(removed
            + stale
            + assertions
            + account_tokens
            + challenges
            + ceremonies
            + invitations
            + sso)
    }
}

/// `BEGIN IMMEDIATE`: an SQLite write transaction that waits on
/// `busy_timeout` for the write lock up front, instead of failing when a
/// deferred read later upgrades to a write.
pub(crate) fn immediate() -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    }
}

/// The file of a SQLite database URL (`sqlite://path?mode=rwc`, `sqlite:path`),
/// or `None` for another database or an in-memory one.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Splits a stored space-delimited scope string.
fn scopes_of(s: &str) -> keyhouse_core::ScopeSet {
    keyhouse_core::ScopeSet::from_tokens(s.split(' ').filter(|t| !t.is_empty()))
}

/// Splits a stored space-delimited list (scopes kept in order).
fn list_of(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[test]
    fn sqlite_paths() {
        let table = [
            (
                "sqlite://data/keyhouse.db?mode=rwc",
                Some("data/keyhouse.db"),
            ),
            ("sqlite:/tmp/x.db", Some("/tmp/x.db")),
            ("sqlite::memory:", None),
            ("postgres://x", None),
        ];
        for (url, expected) in table {
            assert_eq!(sqlite_path(url), expected, "{url}");
        }
    }
}
