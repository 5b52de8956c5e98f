//! The Keyhouse axum backend: mount [`Keyhouse::router`] in any axum app to
//! turn it into an OAuth 2.1 / OpenID Connect provider, and use
//! [`AccessToken`] in the app's own handlers to accept the tokens it issues.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use keyhouse_axum::{Config, Keyhouse};
//! let store = keyhouse_store::Store::connect("sqlite://data/keyhouse.db?mode=rwc").await?;
//! store.migrate().await?;
//! let master = keyhouse_axum::keys::MasterKey::load_or_create("data/keyhouse.key".as_ref())?;
//! let kh = Keyhouse::new(Config::for_issuer("http://127.0.0.1:3000"), store, master).await?;
//! let app = axum::Router::new().merge(kh.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! keyhouse_axum::serve(listener, app, std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod admin;
mod agent_settings;
mod agents;
mod authorize;
pub mod b2b;
mod client_assertion;
mod client_auth;
pub mod client_ip;
pub mod config;
mod discovery;
pub mod error;
pub mod extract;
pub mod fetch;
mod introspection;
pub mod keys;
mod logos;
pub mod manage;
mod password;
mod revocation;
mod security_headers;
mod serve;
mod session;
mod single_flight;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use keyhouse_core::{Clock, OAuthError, SystemClock};
use keyhouse_store::Store;

pub use b2b::{CurrentMember, MemberCaller};
pub use client_ip::{ClientIp, IpRange};
pub use config::Config;
pub use extract::{AccessToken, BoundResource, Caller, TokenSubject};
pub use keys::{Keys, MasterKey, SigningAlg};
pub use security_headers::SecurityHeadersLayer;
pub use serve::{ServeOptions, serve, serve_with};
pub use session::{CurrentSession, csrf_guard, same_origin_or_safe};

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
    clients: client_auth::ClientCache,
    passwords: password::Hasher,
    agents: agents::Agents,
    logos: logos::Logos,
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
pub enum StartError {
    /// Keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The default RBAC policy could not be stored.
    #[error("defining the default roles: {0}")]
    Policy(OAuthError),
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
        let kh = Keyhouse(Arc::new(Inner {
            clients: client_auth::ClientCache::new(config.client_cache_ttl),
            secret_key: master.client_secret_key(),
            passwords: password::Hasher::new(),
            agents: agents::Agents::new(&config.agents),
            logos: logos::Logos::default(),
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

    /// Now, in unix seconds.
    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    /// Every Keyhouse route: discovery, JWKS, the OAuth endpoints, the
    /// session API and the authorize API the `/idp` component calls.
    pub fn router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let browser = Router::new()
            .route("/api/session", get(session::current))
            .route("/api/session/signup", post(session::signup))
            .route("/api/session/login", post(session::login))
            .route("/api/session/logout", post(session::logout))
            .route("/api/idp/authorize/start", post(authorize::start))
            .route("/api/idp/logo", get(logos::serve))
            .route("/api/idp/authorize", post(authorize::decide))
            .route("/api/b2b/session", get(b2b::current))
            .route("/api/b2b/session/login", post(b2b::login))
            .route("/api/b2b/session/logout", post(b2b::logout))
            .route("/api/b2b/discovery", post(b2b::discovery))
            .route("/api/b2b/discovery/select", post(b2b::discovery_select))
            .route("/api/b2b/idp/authorize/start", post(authorize::start_b2b))
            .route("/api/b2b/idp/authorize", post(authorize::decide_b2b))
            .route("/api/b2b/organization", get(b2b::organization))
            .route(
                "/api/b2b/organization/connected-apps",
                axum::routing::put(b2b::set_connected_apps),
            )
            .route(
                "/api/b2b/members/{member_id}/roles",
                axum::routing::put(b2b::set_member_roles),
            )
            .route(
                "/api/admin/clients",
                get(admin::list_clients).post(admin::create_client),
            )
            .route(
                "/api/admin/clients/{id}",
                get(admin::get_client)
                    .patch(admin::update_client)
                    .delete(admin::delete_client),
            )
            .route(
                "/api/admin/clients/{id}/secrets/rotate",
                post(admin::rotate_start),
            )
            .route(
                "/api/admin/clients/{id}/secrets/rotate/complete",
                post(admin::rotate_complete),
            )
            .route(
                "/api/admin/clients/{id}/secrets/rotate/cancel",
                post(admin::rotate_cancel),
            )
            .route("/api/admin/audit", get(admin::audit_log))
            .route(
                "/api/admin/agents/blocked-domains",
                get(agents::list_blocked).post(agents::block),
            )
            .route(
                "/api/admin/agents/blocked-domains/{domain}",
                axum::routing::delete(agents::unblock),
            )
            .route(
                "/api/admin/agents/blocked-clients",
                get(agents::list_blocked_clients)
                    .post(agents::block_client)
                    .delete(agents::unblock_client),
            )
            .route(
                "/api/admin/agents/settings",
                get(agent_settings::get_settings),
            )
            .route(
                "/api/admin/agents/policy",
                axum::routing::put(agent_settings::put_policy).delete(agent_settings::reset_policy),
            )
            .route(
                "/api/admin/resources",
                get(agent_settings::list_resources)
                    .put(agent_settings::put_resource)
                    .delete(agent_settings::delete_resource),
            )
            .route("/api/admin/openapi.json", get(admin::openapi))
            .route("/api/account/connected-apps", get(admin::connected_apps))
            .route(
                "/api/account/connected-apps/{client_id}",
                axum::routing::delete(admin::revoke_connected_app),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                self.clone(),
                session::csrf_guard,
            ));
        let registration = Router::new()
            .route("/oauth2/register", post(agents::register))
            .route(
                "/oauth2/register/{client_id}",
                get(agents::read_registration)
                    .put(agents::update_registration)
                    .delete(agents::delete_registration),
            )
            .layer(DefaultBodyLimit::max(agents::REGISTRATION_BODY_LIMIT));
        let oauth = Router::new()
            .route("/oauth2/token", post(token::token))
            .route(
                "/oauth2/userinfo",
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .route("/oauth2/revoke", post(revocation::revoke))
            .route("/oauth2/introspect", post(introspection::introspect))
            .route(
                "/.well-known/openid-configuration",
                get(discovery::metadata),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(discovery::metadata),
            )
            .route("/.well-known/jwks.json", get(discovery::jwks))
            .route(
                "/.well-known/oauth-protected-resource",
                get(discovery::protected_resource),
            )
            .route(
                "/.well-known/oauth-protected-resource/{*path}",
                get(discovery::protected_resource),
            )
            .route("/health/live", get(discovery::live))
            .route("/health/ready", get(discovery::ready));
        browser
            .merge(oauth)
            .merge(registration)
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(self.security_headers())
            .with_state(self.clone())
    }

    /// Starts the housekeeping task: reloads keys every minute (so a
    /// rotation made by another instance or the CLI is picked up), retires
    /// expired keys and purges expired rows every ten minutes.
    pub fn spawn_housekeeping(&self) -> tokio::task::JoinHandle<()> {
        let kh = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                if let Err(e) = kh.keys().reload().await {
                    tracing::warn!(error = %e, "key reload failed");
                }
                if n.is_multiple_of(10) {
                    let now = kh.now();
                    match kh.store().purge_expired(now).await {
                        Ok(removed) => tracing::debug!(removed, "purged expired rows"),
                        Err(e) => tracing::warn!(error = %e, "purge failed"),
                    }
                    if let Err(e) = kh.store().retire_keys(now).await {
                        tracing::warn!(error = %e, "retiring keys failed");
                    }
                    if let Err(e) = kh.purge_unused_clients().await {
                        tracing::warn!(error = %e, "purging unused clients failed");
                    }
                }
                n = n.wrapping_add(1);
            }
        })
    }
}
