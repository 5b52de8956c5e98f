//! Backing up a SQLite database while it serves, and restoring one.
//!
//! A backup is `VACUUM INTO` a file of its own: one read transaction, so
//! the copy is the database as of one instant while writers go on (WAL
//! readers do not block them), and compact. It is written beside its final
//! name and linked into place only once whole, so a backup that fails
//! leaves no half file under that name. PostgreSQL has its own tools
//! (`pg_dump`, `pg_restore`; docs/operations.md).

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Database, DatabaseBackend, DbErr, Statement};
use sea_orm_migration::MigratorTrait;

use crate::{Store, migration, sqlite_path};

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Refused before anything was written; the reason says what to do.
    #[error("{0}")]
    Refused(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A backup or a checked database file.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The migrations applied to it (all known to this version).
    pub migrations: usize,
}

/// A restore.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The backup now in place.
    pub restored: BackupReport,
    /// Where the database it replaced was moved, if there was one.
    pub previous: Option<PathBuf>,
}

const POSTGRES: &str = "this is a PostgreSQL database: back it up with pg_dump and restore it with pg_restore (docs/operations.md)";

impl Store {
    /// Writes a consistent copy of this SQLite database to `to`, which must
    /// not exist, while the database serves; then checks the copy.
    pub async fn backup_to(&self, to: &Path) -> Result<BackupReport, BackupError> {
        if self.db.get_database_backend() != DatabaseBackend::Sqlite {
            return Err(BackupError::Refused(POSTGRES.into()));
        }
        plain_path(to)?;
        if to.exists() {
            return Err(BackupError::Refused(format!(
                "{} exists: a backup never replaces a file",
                to.display()
            )));
        }
        let partial = partial_name(to);
        if partial.exists() {
            std::fs::remove_file(&partial).map_err(io(&partial))?;
        }
        // Created empty and the owner's only before a byte is written:
        // password hashes, encrypted keys and personal data. (`VACUUM INTO`
        // accepts an empty file.)
        create_private(&partial)?;
        let written = self.vacuum_into(&partial).await;
        let checked = match written {
            Ok(()) => check_file(&partial).await,
            Err(e) => Err(e),
        };
        let report = match checked {
            Ok(report) => report,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        // A link, not a rename: it fails if `to` appeared meanwhile.
        let linked = std::fs::hard_link(&partial, to).map_err(io(to));
        let _ = std::fs::remove_file(&partial);
        linked?;
        Ok(BackupReport {
            path: to.to_owned(),
            ..report
        })
    }

    async fn vacuum_into(&self, partial: &Path) -> Result<(), BackupError> {
        let target = partial.to_str().ok_or_else(|| {
            BackupError::Refused(format!("{}: not a UTF-8 path", partial.display()))
        })?;
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "VACUUM INTO ?",
                [target.into()],
            ))
            .await?;
        std::fs::File::open(partial)
            .and_then(|f| f.sync_all())
            .map_err(io(partial))
    }
}

/// A new empty file, readable and writable by its owner only; fails if
/// anything (a file, a link) is already there.
fn create_private(path: &Path) -> Result<(), BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop).map_err(io(path))
}

/// Paths go into SQLite URLs, whose driver decodes `%` and stops at `?`
/// and `#`: such a name would open another file.
fn plain_path(path: &Path) -> Result<(), BackupError> {
    let text = path
        .to_str()
        .ok_or_else(|| BackupError::Refused(format!("{}: not a UTF-8 path", path.display())))?;
    if text.contains(['?', '#', '%']) {
        return Err(BackupError::Refused(format!(
            "{text}: a path with ?, # or % is not supported here"
        )));
    }
    Ok(())
}

/// The lock file beside a SQLite database: every `serve` holds it shared,
/// a restore exclusively.
fn lock_path(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", db.display()))
}

/// Opens (creating it if need be) the lock file beside `db`.
fn open_lock(db: &Path) -> Result<std::fs::File, BackupError> {
    let path = lock_path(db);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))
}

/// Taken by a server for as long as it runs on the SQLite database of
/// `url` (`None` on PostgreSQL), so that [`restore`] can tell it is in use.
/// Several servers may hold it together.
pub fn hold_while_serving(url: &str) -> Result<Option<std::fs::File>, BackupError> {
    let Some(db) = sqlite_path(url) else {
        return Ok(None);
    };
    let path = lock_path(Path::new(db));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let file = open_lock(Path::new(db))?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::Refused(format!(
            "{db} is being restored: start the server when the restore is over"
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path)(e)),
    }
}

fn partial_name(to: &Path) -> PathBuf {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    to.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Checks that `path` is a whole Keyhouse database this version can run:
/// SQLite's integrity check passes and every migration applied to it is
/// one this version knows.
pub async fn check_file(path: &Path) -> Result<BackupReport, BackupError> {
    let bytes = std::fs::metadata(path).map_err(io(path))?.len();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let db = Database::connect(url).await?;
    let checked = async {
        let integrity = db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await
            .map_err(|e| {
                BackupError::Refused(format!("{}: not a SQLite database ({e})", path.display()))
            })?
            .and_then(|row| row.try_get_by_index::<String>(0).ok())
            .unwrap_or_default();
        if integrity != "ok" {
            return Err(BackupError::Refused(format!(
                "{}: the integrity check failed: {integrity}",
                path.display()
            )));
        }
        let applied: Vec<String> = db
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT version FROM seaql_migrations",
            ))
            .await
            .map_err(|_| {
                BackupError::Refused(format!("{}: not a Keyhouse database", path.display()))
            })?
            .iter()
            .filter_map(|row| row.try_get_by_index::<String>(0).ok())
            .collect();
        let known: Vec<String> = migration::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        if applied.is_empty() {
            return Err(BackupError::Refused(format!(
                "{}: not a Keyhouse database (no migration applied)",
                path.display()
            )));
        }
        if let Some(unknown) = applied.iter().find(|a| !known.contains(a)) {
            return Err(BackupError::Refused(format!(
                "{}: written by a newer Keyhouse (migration {unknown} is unknown to this one)",
                path.display()
            )));
        }
        Ok(applied.len())
    }
    .await;
    db.close().await?;
    Ok(BackupReport {
        path: path.to_owned(),
        bytes,
        migrations: checked?,
    })
}

/// Replaces the SQLite database of `url` with the backup `from`, after
/// checking the backup. Refused while a server runs on the database (see
/// [`hold_while_serving`]). The database it replaces, its write-ahead log
/// first folded in, is kept as `<file>.before-restore-<time>`; there is no
/// moment without a database at the path (the backup is copied beside it
/// and renamed over it).
pub async fn restore(url: &str, from: &Path) -> Result<RestoreReport, BackupError> {
    let Some(db_path) = sqlite_path(url) else {
        return Err(BackupError::Refused(POSTGRES.into()));
    };
    let db_path = Path::new(db_path);
    plain_path(db_path)?;
    plain_path(from)?;
    if db_path.exists() && std::fs::canonicalize(from).ok() == std::fs::canonicalize(db_path).ok() {
        return Err(BackupError::Refused(format!(
            "{} is the database itself",
            from.display()
        )));
    }
    let restored = check_file(from).await?;
    // No server may run meanwhile: each holds the lock shared.
    let lock = lock_path(db_path);
    let lock_file = open_lock(db_path)?;
    match lock_file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(BackupError::Refused(format!(
                "a server is running on {}: stop every instance first",
                db_path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock)(e)),
    }
    // The backup beside the database first, whole and on disk.
    let partial = partial_name(db_path);
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(io(&partial))?;
    }
    std::fs::copy(from, &partial).map_err(io(&partial))?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(io(&partial))?;
    let previous = if db_path.exists() {
        match keep_previous(db_path).await {
            Ok(aside) => Some(aside),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        }
    } else {
        None
    };
    // A log left beside the old file would be replayed into the restored
    // one (it is empty after the checkpoint).
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db_path.display()));
        if side.exists() {
            std::fs::remove_file(&side).map_err(io(&side))?;
        }
    }
    std::fs::rename(&partial, db_path).map_err(io(db_path))?;
    drop(lock_file);
    Ok(RestoreReport {
        restored: BackupReport {
            path: db_path.to_owned(),
            ..restored
        },
        previous,
    })
}

/// Folds the database's log into its file and links it under a new name
/// (never over an existing one); returns that name.
async fn keep_previous(db_path: &Path) -> Result<PathBuf, BackupError> {
    let db = Database::connect(format!("sqlite://{}", db_path.display())).await?;
    let busy = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ))
        .await?
        .and_then(|row| row.try_get_by_index::<i32>(0).ok())
        .unwrap_or(0);
    db.close().await?;
    if busy != 0 {
        return Err(BackupError::Refused(format!(
            "{} is in use (its log could not be folded in): stop every instance first",
            db_path.display()
        )));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let aside = PathBuf::from(format!(
        "{}.before-restore-{}-{:09}",
        db_path.display(),
        now.as_secs(),
        now.subsec_nanos()
    ));
    std::fs::hard_link(db_path, &aside).map_err(io(&aside))?;
    Ok(aside)
}
