//! Opening Keyhouse from the environment, the way the `keyhouse` command
//! does, so an app embedding it shares its database, key file and
//! settings with that command (which then registers its clients).
//!
//! | Variable | Default |
//! |---|---|
//! | `DATABASE_URL` | `sqlite://data/keyhouse.db?mode=rwc` |
//! | `KEYHOUSE_MASTER_KEY` | (base64 of 32 bytes; else the key file) |
//! | `KEYHOUSE_KEY_FILE` | beside the SQLite file (`….db.key`), else `data/keyhouse.key` |
//! | `KEYHOUSE_ISSUER` | `http://127.0.0.1:3000` |
//! | `KEYHOUSE_SMTP_URL` | (none: mail goes to the outbox folder) |
//! | `KEYHOUSE_OUTBOX` | `data/outbox` |
//! | `KEYHOUSE_MAIL_FROM` | `Keyhouse <no-reply@localhost>` |
//! | `KEYHOUSE_MAIL_TEMPLATES` | (the built-in templates) |
//! | `KEYHOUSE_BIND` ([`serve_from_env`]) | `127.0.0.1:3000` |

use std::path::PathBuf;

use axum::Router;
use keyhouse_store::{DEFAULT_DATABASE_URL, Store, StoreError};

use crate::oauth::keys::KeyError;
use crate::{Config, Keyhouse, MailConfig, MailTransport, MasterKey, StartError};

/// The default issuer, and the default address of [`serve_from_env`].
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:3000";

/// Why [`Keyhouse::from_env`] could not open Keyhouse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The master key could not be read, created or decoded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Keyhouse could not start on the store.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The database's directory could not be created.
    #[error("creating {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Keyhouse {
    /// Opens the database at `DATABASE_URL` (migrating it), the master key,
    /// and builds Keyhouse for the issuer `KEYHOUSE_ISSUER` with the
    /// configuration `configure` returns (it receives
    /// [`Config::for_issuer`]). See the table in this module.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), keyhouse_axum::open::OpenError> {
    /// let kh = keyhouse_axum::Keyhouse::from_env(|c| {
    ///     c.with_scope("notes:read", "Read your notes")
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn from_env(configure: impl FnOnce(Config) -> Config) -> Result<Keyhouse, OpenError> {
        let url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let sqlite = keyhouse_store::sqlite_path(&url).map(PathBuf::from);
        if let Some(dir) = sqlite.as_ref().and_then(|p| p.parent())
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        let master = match var("KEYHOUSE_MASTER_KEY") {
            Some(k) => MasterKey::from_base64(&k)?,
            None => {
                let file = var("KEYHOUSE_KEY_FILE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| default_key_file(&url));
                MasterKey::load_or_create(&file)?
            }
        };
        let issuer = var("KEYHOUSE_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.to_owned());
        let mut config = Config::for_issuer(&issuer);
        config.mail = mail_from_env();
        Ok(Keyhouse::new(configure(config), store, master).await?)
    }
}

/// Outgoing mail as the variables in the module's table say.
fn mail_from_env() -> MailConfig {
    let defaults = MailConfig::default();
    let transport = match var("KEYHOUSE_SMTP_URL") {
        Some(url) => MailTransport::Smtp(url),
        None => MailTransport::Outbox(
            var("KEYHOUSE_OUTBOX").map_or_else(|| PathBuf::from("data/outbox"), PathBuf::from),
        ),
    };
    let mut mail = MailConfig::new(
        var("KEYHOUSE_MAIL_FROM").unwrap_or(defaults.from),
        transport,
    );
    mail.templates = var("KEYHOUSE_MAIL_TEMPLATES").map(PathBuf::from);
    mail
}

/// Where the master key file is when none is named: beside the SQLite
/// database (`….db.key`), else `data/keyhouse.key`.
pub fn default_key_file(database_url: &str) -> PathBuf {
    match keyhouse_store::sqlite_path(database_url) {
        Some(db) => PathBuf::from(format!("{db}.key")),
        None => PathBuf::from("data/keyhouse.key"),
    }
}

/// Serves `app` on `KEYHOUSE_BIND` (default `127.0.0.1:3000`) with
/// [`crate::serve`]'s limits, until Ctrl-C or SIGTERM.
pub async fn serve_from_env(app: Router) -> std::io::Result<()> {
    let bind = var("KEYHOUSE_BIND").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    tracing::info!(address = %bind, "listening");
    crate::serve(listener, app, shutdown_signal()).await
}

/// Resolves `delay` after `signal`, having told `kh` to drain first:
/// `/health/ready` answers 503 during the delay while every other request
/// is still served, so a load balancer that checks readiness every few
/// seconds stops sending new requests before the listener closes. Give it
/// to [`crate::serve`] as the shutdown future.
pub async fn drain_then(
    kh: crate::Keyhouse,
    signal: impl std::future::Future<Output = ()>,
    delay: std::time::Duration,
) {
    signal.await;
    kh.start_draining();
    tracing::info!(
        delay_ms = delay.as_millis(),
        "stopping: /health/ready answers 503 until the listener closes"
    );
    tokio::time::sleep(delay).await;
}

/// Resolves at Ctrl-C or SIGTERM: the graceful-shutdown signal for
/// [`crate::serve`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
