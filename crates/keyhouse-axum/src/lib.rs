//! The Keyhouse axum backend: mount [`Keyhouse::router`] in any axum app to
//! turn it into an OAuth 2.1 / OpenID Connect provider, and use
//! [`AccessToken`] in the app's own handlers to accept the tokens it issues.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use keyhouse_axum::{Config, Keyhouse};
//! let store = keyhouse_store::Store::connect("sqlite://data/keyhouse.db?mode=rwc").await?;
//! store.migrate().await?;
//! let master = keyhouse_axum::MasterKey::load_or_create("data/keyhouse.key".as_ref())?;
//! let kh = Keyhouse::new(Config::for_issuer("http://127.0.0.1:3000"), store, master).await?;
//! let app = axum::Router::new().merge(kh.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! keyhouse_axum::serve(listener, app, std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod accounts;
pub mod admin;
pub mod agents;
pub mod b2b;
pub mod config;
pub mod error;
pub mod housekeeping;
pub mod http;
pub mod mail;
pub mod oauth;
pub mod open;
mod router;

use std::sync::Arc;

use keyhouse_core::{Clock, OAuthError, SystemClock};
use keyhouse_store::Store;

pub use accounts::deletion::HookFuture;
pub use accounts::passkeys::AUTOFILL_SIGN_INS_PER_IP_PER_HOUR as PASSKEY_AUTOFILL_SIGN_INS_PER_IP_PER_HOUR;
pub use accounts::passkeys::SIGN_INS_PER_IP_PER_HOUR as PASSKEY_SIGN_INS_PER_IP_PER_HOUR;
pub use accounts::second_factor::FAILURES_PER_DAY;
pub use accounts::session::CurrentSession;
pub use accounts::subjects::{ResolveError, SignedIn, SubjectProfile, SubjectResolver};
pub use admin::clients::{ClientSpec, CreatedClient};
pub use b2b::CurrentMember;
pub use config::Config;
pub use housekeeping::{Housekeeping, PurgeTurn};
pub use http::client_ip::{ClientIp, IpRange};
pub use http::csrf::{csrf_guard, same_origin_or_safe};
pub use http::extract::{AccessToken, BoundResource, Caller, TokenSubject};
pub use http::member_caller::MemberCaller;
pub use http::security_headers::SecurityHeadersLayer;
pub use http::serve::{ServeOptions, serve, serve_starting, serve_with};
pub use mail::{MailConfig, MailError, MailTransport};
pub use oauth::backchannel::LogoutDelivery;
pub use oauth::keys::{Keys, MasterKey, SigningAlg};
pub use open::{OpenError, serve_from_env};

/// Largest request body accepted (docs/threat-model.md row 33).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The longest access-token lifetime a client can have, seconds.
pub const MAX_ACCESS_TOKEN_TTL: i64 = *keyhouse_core::client::ACCESS_TOKEN_TTL_RANGE.end();

/// A Keyhouse instance: configuration, store, keys. Cheap to clone.
#[derive(Clone)]
pub struct Keyhouse(Arc<Inner>);

struct Inner {
    config: Config,
    store: Store,
    keys: Keys,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    secret_key: Vec<u8>,
    clients: oauth::client_auth::ClientCache,
    passwords: accounts::password::Hasher,
    agents: agents::Agents,
    logos: agents::logos::Logos,
    /// Outgoing mail.
    mailer: Arc<mail::Mailer>,
    /// The host app's own users, when it keeps them ([`Keyhouse::with_subjects`]).
    subjects: std::sync::OnceLock<Box<dyn accounts::subjects::DynResolver>>,
    /// What the host app deletes with an account ([`Keyhouse::on_account_deleted`]).
    account_deleted: std::sync::OnceLock<accounts::deletion::Hook>,
    /// The discovery document, serialised once for each of its variants
    /// (see `oauth::discovery::metadata`).
    discovery: [std::sync::OnceLock<http::prebuilt::Prebuilt>; 4],
    /// Set when the server stops: `/health/ready` then answers 503 so a
    /// load balancer sends no new requests while the open ones finish.
    draining: std::sync::atomic::AtomicBool,
    /// The id this instance takes leases under (see `housekeeping`).
    holder_id: String,
    /// Organizations' OpenID Providers, discovered.
    sso: b2b::sso::ProviderCache,
}

impl std::fmt::Debug for Keyhouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyhouse")
            .field("issuer", &self.0.config.issuer)
            .finish_non_exhaustive()
    }
}

/// A failure while starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] oauth::keys::KeyError),
    /// The default RBAC policy could not be stored.
    #[error("defining the default roles: {0}")]
    Policy(OAuthError),
    /// The mail settings are wrong.
    #[error(transparent)]
    Mail(#[from] mail::MailError),
}

impl Keyhouse {
    /// Builds an instance on a migrated store, with the wall clock.
    pub async fn new(
        config: Config,
        store: Store,
        master: MasterKey,
    ) -> Result<Keyhouse, StartError> {
        Keyhouse::with_clock(config, store, master, Arc::new(SystemClock)).await
    }

    /// Builds an instance with a given clock (tests freeze time with it).
    pub async fn with_clock(
        config: Config,
        store: Store,
        master: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Keyhouse, StartError> {
        let config = config.normalized();
        let keys = Keys::load(store.clone(), master.clone(), clock.now()).await?;
        let mailer = Arc::new(mail::Mailer::new(&config.mail)?);
        tracing::debug!(to = %mailer.describe(), "mail");
        let kh = Keyhouse(Arc::new(Inner {
            draining: std::sync::atomic::AtomicBool::new(false),
            holder_id: format!("{:032x}", rand::random::<u128>()),
            sso: b2b::sso::ProviderCache::default(),
            mailer,
            clients: oauth::client_auth::ClientCache::new(config.client_cache_ttl),
            secret_key: master.client_secret_key(),
            passwords: accounts::password::Hasher::new(),
            agents: agents::Agents::new(&config.agents),
            logos: agents::logos::Logos::default(),
            subjects: std::sync::OnceLock::new(),
            account_deleted: std::sync::OnceLock::new(),
            discovery: Default::default(),
            config,
            store,
            keys,
            master,
            clock,
        }));
        let defaults = kh.config().rbac_defaults.clone();
        kh.ensure_policy(&defaults)
            .await
            .map_err(StartError::Policy)?;
        Ok(kh)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// From now on `/health/ready` answers 503 (the server is stopping);
    /// everything else is still served. See [`open::drain_then`].
    pub fn start_draining(&self) {
        self.0
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether [`Keyhouse::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The signing keys.
    pub fn keys(&self) -> &Keys {
        &self.0.keys
    }

    /// The master key.
    pub fn master_key(&self) -> &MasterKey {
        &self.0.master
    }

    /// Where mail goes, in words ("SMTP", "the outbox folder data/outbox"),
    /// for a start-up message.
    pub fn mail_destination(&self) -> String {
        self.0.mailer.describe()
    }

    pub(crate) fn mailer(&self) -> &Arc<mail::Mailer> {
        &self.0.mailer
    }

    /// Now, in unix seconds.
    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }
}
