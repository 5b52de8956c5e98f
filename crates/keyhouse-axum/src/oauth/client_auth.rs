//! Client authentication at the token, revocation and introspection
//! endpoints, with a short-lived cache of client rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use keyhouse_core::client::Client;
use keyhouse_core::token::{ClientAuth, Form};
use keyhouse_core::{ErrorCode, OAuthError, secret};

use crate::Keyhouse;
use crate::error::store_error;

#[derive(Clone)]
struct Entry {
    client: Option<Arc<Client>>,
    secret_hashes: Arc<Vec<String>>,
    at: Instant,
}

/// Client rows and secret hashes, cached for a couple of seconds so the hot
/// token paths do not read the same row on every request.
pub(crate) struct ClientCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl ClientCache {
    pub(crate) fn new(ttl_seconds: u64) -> ClientCache {
        ClientCache {
            ttl: Duration::from_secs(ttl_seconds),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, id: &str) -> Option<Entry> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        entries
            .get(id)
            .filter(|e| e.at.elapsed() < self.ttl)
            .cloned()
    }

    fn put(&self, id: &str, entry: Entry) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(id.to_owned(), entry);
        }
    }

    pub(crate) fn invalidate(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }
}

impl Keyhouse {
    async fn cached_client(&self, id: &str) -> Result<Entry, OAuthError> {
        if let Some(e) = self.0.clients.get(id) {
            return Ok(e);
        }
        if keyhouse_core::metadata_document::is_metadata_url(id) {
            // Its own cache, with the lifetime the document's host chose.
            return Ok(Entry {
                client: Some(self.metadata_client(id).await?),
                secret_hashes: Arc::new(Vec::new()),
                at: Instant::now(),
            });
        }
        let client = self.store().find_client(id).await.map_err(store_error)?;
        let secret_hashes = match &client {
            Some(c) if !c.is_public() => self
                .store()
                .client_secret_hashes(id)
                .await
                .map_err(store_error)?,
            _ => Vec::new(),
        };
        let entry = Entry {
            client: client.map(Arc::new),
            secret_hashes: Arc::new(secret_hashes),
            at: Instant::now(),
        };
        self.0.clients.put(id, entry.clone());
        Ok(entry)
    }

    /// A client by id, through the cache.
    pub(crate) async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        Ok(self.cached_client(id).await?.client)
    }

    /// [`Keyhouse::client`] for something that only names a client (a
    /// logout request, a queued logout notice): a metadata document that
    /// cannot be fetched or is refused names no client, instead of failing.
    pub(crate) async fn named_client(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        match self.client(id).await {
            Err(_) if keyhouse_core::metadata_document::is_metadata_url(id) => Ok(None),
            found => found,
        }
    }

    /// Forgets a cached client (after it changed on this instance).
    pub(crate) fn forget_client(&self, id: &str) {
        self.0.clients.invalidate(id);
    }

    /// Authenticates the client of a token-endpoint style request.
    ///
    /// docs/threat-model.md row 24: an unknown client and a wrong secret answer alike,
    /// and the secret is compared as a keyed hash in constant time.
    pub(crate) async fn authenticate_client(
        &self,
        headers: &HeaderMap,
        form: &Form,
    ) -> Result<(Arc<Client>, ClientAuth), OAuthError> {
        let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let auth = ClientAuth::extract(header, form)?;
        let entry = self.cached_client(auth.client_id()).await?;
        let failed = || OAuthError::new(ErrorCode::InvalidClient, "client authentication failed");
        let Some(client) = entry.client else {
            // Spend the same work as a real comparison.
            let _ = secret::hash_client_secret(&self.0.secret_key, auth.secret().unwrap_or(""));
            return Err(failed().with_debug(format!("unknown client {}", auth.client_id())));
        };
        // docs/threat-model.md row 60: a client registered with one method
        // cannot authenticate with another.
        if let Some(pinned) = &client.token_endpoint_auth_method
            && pinned != auth.method()
        {
            return Err(failed().with_debug(format!(
                "{} authenticated with {}, registered for {pinned}",
                client.id,
                auth.method()
            )));
        }
        if let ClientAuth::Jwt { assertion, .. } = &auth {
            // Only a client registered for private_key_jwt gets here (the
            // pin above); one without a pin cannot use it.
            if client.token_endpoint_auth_method.as_deref() != Some("private_key_jwt") {
                return Err(failed().with_debug("client not registered for private_key_jwt"));
            }
            self.verify_client_assertion(&client, assertion).await?;
            return Ok((client, auth));
        }
        match (client.is_public(), auth.secret()) {
            (true, None) => Ok((client, auth)),
            (true, Some(_)) => Err(failed().with_debug("public client sent a secret")),
            (false, None) => Err(failed().with_debug("confidential client sent no secret")),
            (false, Some(s)) => {
                let presented = secret::hash_client_secret(&self.0.secret_key, s);
                let mut ok = false;
                for stored in entry.secret_hashes.iter() {
                    ok |= secret::hashes_equal(&presented, stored);
                }
                if ok {
                    Ok((client, auth))
                } else {
                    Err(failed().with_debug(format!("wrong secret for {}", client.id)))
                }
            }
        }
    }
}
