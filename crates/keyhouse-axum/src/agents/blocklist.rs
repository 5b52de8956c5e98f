//! Blocking agents: a whole domain (and its subdomains) or one metadata-document
//! client. Blocking removes the clients and revokes their tokens at once.

use keyhouse_core::OAuthError;
use keyhouse_core::metadata_document::{self};

use crate::Keyhouse;
use crate::error::store_error;

impl Keyhouse {
    /// Blocks client metadata documents from `domain` and its subdomains:
    /// the clients it published are deleted, which revokes every grant and
    /// token they hold. Returns how many clients went.
    pub async fn block_agent_domain(&self, domain: &str) -> Result<usize, OAuthError> {
        let domain = normalize_domain(domain)?;
        self.store()
            .block_domain(&domain, self.now())
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        let removed = self
            .remove_metadata_clients(|host| host == domain || host.ends_with(&format!(".{domain}")))
            .await?;
        tracing::info!(domain, removed, "agent domain blocked");
        Ok(removed)
    }

    /// Deletes the metadata-document clients whose host `gone` picks, which
    /// revokes every grant and token they hold; how many went.
    pub(crate) async fn remove_metadata_clients(
        &self,
        gone: impl Fn(&str) -> bool,
    ) -> Result<usize, OAuthError> {
        let mut removed = 0;
        for id in self
            .store()
            .metadata_client_ids()
            .await
            .map_err(store_error)?
        {
            let host = url::Url::parse(&id)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                .unwrap_or_default();
            if gone(&host) {
                if let Ok(mut docs) = self.0.agents.documents.lock() {
                    docs.remove(&id);
                }
                if self.delete_client(&id).await? {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Lets `domain` in again; whether it was blocked.
    pub async fn unblock_agent_domain(&self, domain: &str) -> Result<bool, OAuthError> {
        let domain = normalize_domain(domain)?;
        let was = self
            .store()
            .unblock_domain(&domain)
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        Ok(was)
    }

    /// The blocked hosts.
    pub async fn blocked_agent_domains(&self) -> Result<Vec<String>, OAuthError> {
        let all = self.store().blocked_domains().await.map_err(store_error)?;
        Ok(split_blocked(all).0)
    }

    /// Blocks one metadata-document agent by its client id (the URL), not
    /// its whole domain: the client is deleted, which revokes every grant
    /// and token it holds, and its document is refused from then on. Other
    /// clients cannot be blocked this way: an operator's client is
    /// deleted, and a self-registered one with it.
    pub async fn block_agent_client(&self, client_id: &str) -> Result<bool, OAuthError> {
        let url = metadata_document::validate_client_id_url(client_id).map_err(|_| {
            OAuthError::invalid_request(
                "only agents identified by a metadata document URL can be blocked; delete other apps",
            )
        })?;
        self.store()
            .block_domain(url.as_str(), self.now())
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        if let Ok(mut docs) = self.0.agents.documents.lock() {
            docs.remove(url.as_str());
        }
        let removed = self.delete_client(url.as_str()).await?;
        tracing::info!(client_id = %url, removed, "agent blocked");
        Ok(removed)
    }

    /// Lets a blocked agent in again; whether it was blocked. Only a client
    /// id is unblocked here: a domain (which shares the table) is not.
    pub async fn unblock_agent_client(&self, client_id: &str) -> Result<bool, OAuthError> {
        if !is_blocked_client(client_id) {
            return Ok(false);
        }
        let was = self
            .store()
            .unblock_domain(client_id)
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        Ok(was)
    }

    /// The agents blocked one by one (their client ids).
    pub async fn blocked_agent_clients(&self) -> Result<Vec<String>, OAuthError> {
        let all = self.store().blocked_domains().await.map_err(store_error)?;
        Ok(split_blocked(all).1)
    }
}

/// Whether an entry of the block table is one agent's client id (a URL)
/// rather than a domain.
fn is_blocked_client(entry: &str) -> bool {
    entry.contains("://")
}

/// The block table's entries: the domains, then the agents' client ids.
pub(crate) fn split_blocked(all: Vec<String>) -> (Vec<String>, Vec<String>) {
    all.into_iter().partition(|e| !is_blocked_client(e))
}

/// A host name as blocked: lower case, letters, digits, dots and dashes.
pub(crate) fn normalize_domain(domain: &str) -> Result<String, OAuthError> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok {
        Ok(d)
    } else {
        Err(OAuthError::invalid_request(
            "a domain is a host name such as agent.example",
        ))
    }
}
