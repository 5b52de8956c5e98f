//! What operators change about agents at run time, through the admin API,
//! the CLI and the dashboard: the metadata-document switch and domain
//! lists (overriding the configuration until reset), blocked domains, and
//! protected resources registered besides those the application declares
//! in code. Every instance reads them again after two seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyhouse_core::resource::{ProtectedResource, canonical_uri};
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_types::admin::{
    AgentSettings, MetadataPolicy, PolicyChange, ResourceRequest, ResourceView,
};

use crate::Keyhouse;
use crate::agents::blocklist::{normalize_domain, split_blocked};
use crate::config::RegistrationPolicy;
use crate::error::store_error;

/// The settings row holding an admin-set [`MetadataPolicy`].
const POLICY_SETTING: &str = "agents.metadata_policy";

/// How long an instance trusts what it read.
const RELOAD_AFTER: Duration = Duration::from_secs(2);

/// Most entries in a domain list, and most resources registered at run time.
pub const MAX_ENTRIES: usize = 100;

/// The run-time state, as last read.
#[derive(Debug)]
pub(crate) struct Runtime {
    /// The metadata-document policy in force.
    pub(crate) policy: MetadataPolicy,
    /// Whether it came from the admin API (else from the configuration).
    pub(crate) from_admin: bool,
    /// Hosts blocked at run time.
    pub(crate) blocked_domains: Vec<String>,
    /// Agents blocked one by one (their client ids).
    pub(crate) blocked_clients: Vec<String>,
    /// Every resource: the application's, then the registered ones.
    pub(crate) resources: Arc<Vec<ProtectedResource>>,
}

impl Runtime {
    /// Whether `host` is blocked (a blocked domain covers its subdomains).
    pub(crate) fn blocks(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.blocked_domains
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
    }

    /// Whether the agent `client_id` is blocked on its own.
    pub(crate) fn blocks_client(&self, client_id: &str) -> bool {
        self.blocked_clients.iter().any(|d| d == client_id)
    }
}

impl Keyhouse {
    /// The run-time state, read again when older than two seconds.
    pub(crate) async fn runtime(&self) -> Result<Arc<Runtime>, OAuthError> {
        let fresh = self
            .0
            .agents
            .runtime
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .filter(|(_, at)| at.elapsed() < RELOAD_AFTER)
            .map(|(r, _)| r);
        if let Some(r) = fresh {
            return Ok(r);
        }
        let store = self.store();
        let stored = store.setting(POLICY_SETTING).await.map_err(store_error)?;
        let (policy, from_admin) = match stored
            .as_deref()
            .map(serde_json::from_str::<MetadataPolicy>)
        {
            Some(Ok(p)) => (p, true),
            Some(Err(e)) => {
                tracing::error!(error = %e, "stored metadata policy unreadable; using the configuration");
                (self.config().agents.metadata_policy(), false)
            }
            None => (self.config().agents.metadata_policy(), false),
        };
        let mut resources = self.config().resources.clone();
        for r in store.resources().await.map_err(store_error)? {
            if !resources.iter().any(|c| c.uri == r.uri) {
                resources.push(r);
            }
        }
        let (blocked_domains, blocked_clients) =
            split_blocked(store.blocked_domains().await.map_err(store_error)?);
        let runtime = Arc::new(Runtime {
            policy,
            from_admin,
            blocked_domains,
            blocked_clients,
            resources: Arc::new(resources),
        });
        if let Ok(mut r) = self.0.agents.runtime.lock() {
            *r = Some((runtime.clone(), Instant::now()));
        }
        Ok(runtime)
    }

    /// Drops what this instance read, after it changed something.
    pub(crate) fn forget_runtime(&self) {
        if let Ok(mut r) = self.0.agents.runtime.lock() {
            *r = None;
        }
    }

    /// Every protected resource: those the application declares in its
    /// configuration, and those registered through the admin API.
    pub async fn resources(&self) -> Result<Arc<Vec<ProtectedResource>>, OAuthError> {
        Ok(self.runtime().await?.resources.clone())
    }

    /// Every audience a token may be issued for: the default audience and
    /// each resource.
    pub(crate) async fn allowed_resources(&self) -> Result<Vec<String>, OAuthError> {
        Ok(self.audiences(&self.resources().await?))
    }

    /// The default audience and the URI of each of `resources`.
    pub(crate) fn audiences(&self, resources: &[ProtectedResource]) -> Vec<String> {
        let mut all = vec![self.config().default_audience.clone()];
        all.extend(resources.iter().map(|r| r.uri.clone()));
        all
    }

    /// What governs agents now.
    pub async fn agent_settings(&self) -> Result<AgentSettings, OAuthError> {
        let r = self.runtime().await?;
        Ok(AgentSettings {
            policy: r.policy.clone(),
            policy_source: if r.from_admin {
                "admin"
            } else {
                "configuration"
            }
            .to_owned(),
            registration: match self.config().agents.registration {
                RegistrationPolicy::Off => "off",
                RegistrationPolicy::Open => "open",
                RegistrationPolicy::InitialAccessToken(_) => "initial_access_token",
            }
            .to_owned(),
            blocked_domains: r.blocked_domains.clone(),
            blocked_clients: r.blocked_clients.clone(),
        })
    }

    /// Puts `policy` in force over the configuration's (`None`: the
    /// configuration's again). Metadata-document clients the new policy no
    /// longer accepts are deleted at once, with their grants and tokens.
    pub async fn set_metadata_policy(
        &self,
        policy: Option<MetadataPolicy>,
    ) -> Result<PolicyChange, OAuthError> {
        let now = self.now();
        let effective = match policy {
            Some(p) => {
                let p = MetadataPolicy {
                    metadata_documents: p.metadata_documents,
                    allowed_domains: domain_patterns(&p.allowed_domains)?,
                    denied_domains: domain_patterns(&p.denied_domains)?,
                };
                let text = serde_json::to_string(&p).map_err(|e| {
                    OAuthError::bare(ErrorCode::ServerError).with_debug(e.to_string())
                })?;
                self.store()
                    .put_setting(POLICY_SETTING, &text, now)
                    .await
                    .map_err(store_error)?;
                p
            }
            None => {
                self.store()
                    .clear_setting(POLICY_SETTING)
                    .await
                    .map_err(store_error)?;
                self.config().agents.metadata_policy()
            }
        };
        self.forget_runtime();
        let removed = self
            .remove_metadata_clients(|host| {
                !effective.metadata_documents || !effective.host_allowed(host)
            })
            .await?;
        tracing::info!(?effective, removed, "metadata-document policy changed");
        Ok(PolicyChange {
            settings: self.agent_settings().await?,
            clients_removed: removed as u64,
        })
    }

    /// Every resource, as the admin API shows it.
    pub async fn resource_views(&self) -> Result<Vec<ResourceView>, OAuthError> {
        let code = &self.config().resources;
        Ok(self
            .resources()
            .await?
            .iter()
            .map(|r| ResourceView {
                uri: r.uri.clone(),
                name: r.name.clone(),
                scopes: r.scopes.clone(),
                default_scopes: r.default_scopes.clone(),
                accepts_unbound_tokens: r.accepts_unbound_tokens,
                source: if code.iter().any(|c| c.uri == r.uri) {
                    "code"
                } else {
                    "admin"
                }
                .to_owned(),
                metadata_url: r.metadata_url(),
            })
            .collect())
    }

    /// Registers a resource, or replaces one registered before. The
    /// application's own resources cannot be replaced here.
    pub async fn register_resource(
        &self,
        req: &ResourceRequest,
    ) -> Result<ResourceView, OAuthError> {
        let r = self.checked_resource(req)?;
        let existing = self.store().resources().await.map_err(store_error)?;
        if existing.len() >= MAX_ENTRIES && !existing.iter().any(|e| e.uri == r.uri) {
            return Err(OAuthError::invalid_request(format!(
                "at most {MAX_ENTRIES} resources can be registered"
            )));
        }
        self.store()
            .put_resource(&r, self.now())
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        tracing::info!(uri = %r.uri, "resource registered");
        self.resource_views()
            .await?
            .into_iter()
            .find(|v| v.uri == r.uri)
            .ok_or_else(|| OAuthError::bare(ErrorCode::ServerError))
    }

    fn checked_resource(&self, req: &ResourceRequest) -> Result<ProtectedResource, OAuthError> {
        let bad = |why: &str| OAuthError::invalid_request(why.to_owned());
        let uri = canonical_uri(req.uri.trim())?;
        if !uri.starts_with("https://") && !keyhouse_core::redirect_uri::is_loopback(&uri) {
            return Err(bad("a resource URI must use https (http only on loopback)"));
        }
        let c = self.config();
        if c.resources.iter().any(|r| r.uri == uri) {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "this resource is declared by the application and cannot be changed here",
            ));
        }
        if canonical_uri(&c.default_audience).ok().as_deref() == Some(uri.as_str()) {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "this URI is the default audience of tokens issued without a resource",
            ));
        }
        let name = req.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(bad("a resource needs a name of 1 to 100 characters"));
        }
        if req.scopes.len() > MAX_ENTRIES {
            return Err(bad("too many scopes"));
        }
        let mut scopes: Vec<String> = Vec::new();
        for s in &req.scopes {
            if c.scopes.get(s).is_none() {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("unknown scope {s:?}"),
                ));
            }
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        if let Some(d) = req.default_scopes.iter().find(|d| !scopes.contains(d)) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("default scope {d:?} is not one of the resource's scopes"),
            ));
        }
        Ok(ProtectedResource {
            uri,
            name: name.to_owned(),
            scopes,
            default_scopes: req.default_scopes.clone(),
            accepts_unbound_tokens: req.accepts_unbound_tokens,
        })
    }

    /// Removes a registered resource: grants for it go and every token
    /// bound to it is revoked at once. Whether it was registered.
    pub async fn unregister_resource(&self, uri: &str) -> Result<bool, OAuthError> {
        let uri = canonical_uri(uri.trim())?;
        if self.config().resources.iter().any(|r| r.uri == uri) {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "this resource is declared by the application and cannot be removed here",
            ));
        }
        let removed = self
            .store()
            .delete_resource(&uri, self.now())
            .await
            .map_err(store_error)?;
        self.forget_runtime();
        if removed {
            tracing::info!(%uri, "resource removed; its grants and tokens revoked");
        }
        Ok(removed)
    }
}

/// A domain list as stored: each a host or `*.` and a host, lower case,
/// without repeats.
fn domain_patterns(list: &[String]) -> Result<Vec<String>, OAuthError> {
    if list.len() > MAX_ENTRIES {
        return Err(OAuthError::invalid_request(format!(
            "at most {MAX_ENTRIES} domains per list"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for d in list {
        let d = d.trim();
        let p = match d.strip_prefix("*.") {
            Some(parent) => format!("*.{}", normalize_domain(parent)?),
            None => normalize_domain(d)?,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}
