//! Clients that arrive unannounced: Client ID Metadata Documents (an https
//! `client_id` names a document its host publishes) and dynamic client
//! registration (RFC 7591, with RFC 7592 management).

pub(crate) mod blocklist;
pub mod fetch;
pub(crate) mod logos;
pub(crate) mod registration;
pub(crate) mod settings;
pub(crate) mod single_flight;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use keyhouse_core::client::{Client, ClientOrigin};
use keyhouse_core::metadata_document::{self};
use keyhouse_core::{ErrorCode, OAuthError};
use serde_json::Value;

use crate::Keyhouse;
use crate::agents::fetch::{Fetcher, SystemLookup};
use crate::agents::single_flight::SingleFlight;
use crate::error::store_error;

/// A fetched metadata document: the client it describes and, for a
/// `private_key_jwt` client, where its keys are.
#[derive(Debug)]
pub(crate) struct Document {
    pub(crate) client: Arc<Client>,
    pub(crate) keys: Option<crate::oauth::client_assertion::ClientKeys>,
}

/// A `jwks_uri` key set (or why it is unreadable), when it was fetched,
/// until when it holds.
pub(crate) type CachedKeySet = (
    Result<Arc<jsonwebtoken::jwk::JwkSet>, String>,
    Instant,
    Instant,
);

/// Fetched documents, and the fetches under way.
pub(crate) struct Agents {
    /// What operators change at run time, read again after two seconds
    /// (another instance may have changed it).
    pub(crate) runtime: Mutex<Option<(Arc<crate::agents::settings::Runtime>, Instant)>>,
    fetcher: Result<Fetcher, String>,
    documents: Mutex<HashMap<String, (Arc<Document>, Instant)>>,
    in_flight: SingleFlight<Result<Arc<Document>, OAuthError>>,
    fetches: AtomicU64,
    /// `jwks_uri` key sets by URL.
    pub(crate) key_sets: Mutex<HashMap<String, CachedKeySet>>,
}

impl Agents {
    pub(crate) fn new(policy: &crate::config::AgentPolicy) -> Agents {
        let lookup = policy
            .test_lookup
            .0
            .clone()
            .unwrap_or_else(|| Arc::new(SystemLookup));
        if policy.insecure_allow_loopback_metadata_for_tests {
            tracing::warn!("metadata documents may be fetched from loopback: a test setting");
        }
        Agents {
            runtime: Mutex::new(None),
            fetcher: Fetcher::new(
                lookup,
                policy.insecure_allow_loopback_metadata_for_tests,
                policy.test_ca_pem.as_deref(),
            )
            .map_err(|e| e.to_string()),
            documents: Mutex::new(HashMap::new()),
            in_flight: SingleFlight::default(),
            fetches: AtomicU64::new(0),
            key_sets: Mutex::new(HashMap::new()),
        }
    }
}

fn refused(description: String) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

impl Keyhouse {
    /// How many metadata documents this instance has fetched (tests and the
    /// benchmark count cold and warm authorizations with it).
    pub fn metadata_fetches(&self) -> u64 {
        self.0.agents.fetches.load(Ordering::Relaxed)
    }

    /// The client a metadata-document `client_id` describes: from the cache
    /// while its lifetime lasts, else fetched once however many requests
    /// ask at the same time. Failures are never cached.
    pub(crate) async fn metadata_client(&self, id: &str) -> Result<Arc<Client>, OAuthError> {
        Ok(self.metadata_document(id).await?.client.clone())
    }

    /// The metadata document behind a `client_id` URL (see
    /// [`Keyhouse::metadata_client`]).
    pub(crate) async fn metadata_document(&self, id: &str) -> Result<Arc<Document>, OAuthError> {
        let runtime = self.runtime().await?;
        if !runtime.policy.metadata_documents {
            metrics::counter!(crate::http::metrics::METADATA_FETCHES, "outcome" => "refused")
                .increment(1);
            return Err(refused("this application is not registered here".into()));
        }
        let url = metadata_document::validate_client_id_url(id)?;
        let host = url.host_str().unwrap_or_default();
        if !runtime.policy.host_allowed(host) || runtime.blocks(host) || runtime.blocks_client(id) {
            metrics::counter!(crate::http::metrics::METADATA_FETCHES, "outcome" => "refused")
                .increment(1);
            return Err(refused(format!(
                "applications from {host} are not accepted here"
            )));
        }
        if let Some(c) = self.cached_document(id) {
            return Ok(c);
        }
        let kh = self.clone();
        self.0
            .agents
            .in_flight
            .run(id, move || async move { kh.fetch_document(url).await })
            .await
    }

    /// The guarded fetcher (docs/threat-model.md rows 62–64).
    pub(crate) fn fetcher(&self) -> Result<&Fetcher, OAuthError> {
        self.0.agents.fetcher.as_ref().map_err(|e| {
            OAuthError::bare(ErrorCode::ServerError).with_debug(format!("fetcher: {e}"))
        })
    }

    fn cached_document(&self, id: &str) -> Option<Arc<Document>> {
        let docs = self.0.agents.documents.lock().ok()?;
        docs.get(id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(c, _)| c.clone())
    }

    async fn fetch_document(&self, url: url::Url) -> Result<Arc<Document>, OAuthError> {
        let fetched = self.fetch_and_read_document(url).await;
        let outcome = if fetched.is_ok() {
            "accepted"
        } else {
            "failed"
        };
        metrics::counter!(crate::http::metrics::METADATA_FETCHES, "outcome" => outcome)
            .increment(1);
        fetched
    }

    async fn fetch_and_read_document(&self, url: url::Url) -> Result<Arc<Document>, OAuthError> {
        let policy = &self.config().agents;
        let fetcher = self.fetcher()?;
        self.0.agents.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = fetcher.get_json(&url).await.map_err(|e| {
            tracing::warn!(client_id = %url, error = %e, "client metadata document refused");
            refused(format!(
                "the application's metadata document could not be used: {e}"
            ))
        })?;
        let (mut client, keys) = metadata_document::client_and_keys_from_document(
            &url,
            &fetched.body,
            self.now(),
        )
        .map_err(|e| {
            tracing::warn!(client_id = %url, error = %e, "client metadata document invalid");
            refused(format!(
                "the application's metadata document is not acceptable: {}",
                e.description.unwrap_or_default()
            ))
        })?;
        client.refresh_grace = policy.refresh_grace;
        client.access_token_ttl = self.config().access_token_ttl;
        if let Some(scope) = fetched.body.get("scope").and_then(Value::as_str) {
            client.default_scopes = self.known_scopes(scope);
        }
        self.claim_client_row(&client).await?;
        let ttl = policy.cache_lifetime(fetched.max_age);
        let document = Arc::new(Document {
            client: Arc::new(client),
            keys: keys.map(crate::oauth::client_assertion::ClientKeys::from),
        });
        self.remember_document(&document, ttl);
        tracing::info!(client_id = %document.client.id, ttl = ttl.as_secs(), "client metadata document fetched");
        self.prefetch_logo(&document.client);
        Ok(document)
    }

    /// Writes the document's client row: grants, codes and the dashboard
    /// work as for any client, while the document stays the source of truth.
    /// An id that already names a client of another origin is refused.
    async fn claim_client_row(&self, client: &Client) -> Result<(), OAuthError> {
        self.store()
            .upsert_metadata_client(client)
            .await
            .map_err(store_error)?;
        match self
            .store()
            .find_client(&client.id)
            .await
            .map_err(store_error)?
        {
            Some(row) if row.origin == ClientOrigin::MetadataDocument => Ok(()),
            _ => Err(refused(
                "this client id belongs to another application".into(),
            )),
        }
    }

    /// Caches a document for `ttl` (the cache is emptied past 10,000 entries,
    /// so made-up client ids cannot grow it without bound).
    fn remember_document(&self, document: &Arc<Document>, ttl: std::time::Duration) {
        if let Ok(mut docs) = self.0.agents.documents.lock() {
            if docs.len() > 10_000 {
                docs.clear();
            }
            docs.insert(
                document.client.id.clone(),
                (document.clone(), Instant::now() + ttl),
            );
        }
    }

    /// The known scopes of a space-separated list (unknown ones dropped:
    /// a client's wish for a default is not a reason to refuse it).
    fn known_scopes(&self, scope: &str) -> Vec<String> {
        scope
            .split(' ')
            .filter(|s| self.config().scopes.get(s).is_some())
            .take(keyhouse_core::scope::MAX_SCOPE_TOKENS)
            .map(str::to_owned)
            .collect()
    }
}

/// Dynamic registration (RFC 7591/7592), with its own smaller body limit.
pub(crate) fn registration_routes() -> Router<Keyhouse> {
    Router::new()
        .route("/oauth2/register", post(registration::register))
        .route(
            "/oauth2/register/{client_id}",
            get(registration::read_registration)
                .put(registration::update_registration)
                .delete(registration::delete_registration),
        )
        .layer(DefaultBodyLimit::max(registration::REGISTRATION_BODY_LIMIT))
}

/// The consent screen's logos, fetched through the guarded fetcher (a browser
/// route, behind the CSRF guard).
pub(crate) fn browser_routes() -> Router<Keyhouse> {
    Router::new().route("/api/idp/logo", get(logos::serve))
}
