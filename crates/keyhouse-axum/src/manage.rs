//! Operator actions shared by the CLI, tests and (later) the admin API:
//! creating and deleting clients and users, rotating keys.

use keyhouse_core::client::{self, Client, RefreshPolicy};
use keyhouse_core::{ClientType, OAuthError, secret};
use keyhouse_store::{NewClient, User};

use crate::Keyhouse;
use crate::error::store_error;
use crate::keys::{KeyError, Keys};

/// What an operator asks for when creating a client.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Display name.
    pub name: String,
    /// Type.
    pub client_type: ClientType,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Description.
    pub description: String,
    /// https logo.
    pub logo_uri: Option<String>,
    /// Access-token lifetime (default 3600).
    pub access_token_ttl: i64,
    /// Refresh policy (default by type).
    pub refresh_policy: Option<RefreshPolicy>,
}

impl ClientSpec {
    /// A spec with defaults.
    pub fn new(name: &str, client_type: ClientType, redirect_uris: Vec<String>) -> ClientSpec {
        ClientSpec {
            name: name.to_owned(),
            client_type,
            redirect_uris,
            description: String::new(),
            logo_uri: None,
            access_token_ttl: 3600,
            refresh_policy: None,
        }
    }
}

/// A client just created, with its secret (shown once; only its hash is kept).
#[derive(Clone)]
pub struct CreatedClient {
    /// The client.
    pub client: Client,
    /// The secret, for confidential clients.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for CreatedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedClient")
            .field("client", &self.client)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

impl Keyhouse {
    /// Registers a client.
    pub async fn create_client(&self, spec: ClientSpec) -> Result<CreatedClient, OAuthError> {
        client::validate_new_client(
            &spec.name,
            spec.client_type,
            &spec.redirect_uris,
            spec.logo_uri.as_deref(),
            spec.access_token_ttl,
        )?;
        let mut rng = rand::rng();
        let c = Client {
            id: secret::generate_id("client", &mut rng),
            client_type: spec.client_type,
            name: spec.name.trim().to_owned(),
            description: spec.description,
            logo_uri: spec.logo_uri,
            redirect_uris: spec.redirect_uris,
            access_token_ttl: spec.access_token_ttl,
            refresh_policy: spec
                .refresh_policy
                .unwrap_or_else(|| RefreshPolicy::default_for(spec.client_type)),
            created_at: self.now(),
        };
        let client_secret = (!c.is_public()).then(|| secret::generate_token(&mut rng));
        let new = NewClient {
            secret_hash: client_secret
                .as_deref()
                .map(|s| secret::hash_client_secret(&self.0.secret_key, s)),
            secret_id: secret::generate_id("secret", &mut rng),
            client: c.clone(),
        };
        self.store()
            .create_client(&new)
            .await
            .map_err(store_error)?;
        tracing::info!(client_id = %c.id, client_type = c.client_type.as_str(), "client created");
        Ok(CreatedClient {
            client: c,
            client_secret,
        })
    }

    /// Deletes a client and revokes everything issued to it.
    pub async fn delete_client(&self, id: &str) -> Result<bool, OAuthError> {
        let existed = self
            .store()
            .delete_client(id, self.now())
            .await
            .map_err(store_error)?;
        self.forget_client(id);
        Ok(existed)
    }

    /// Creates a user (email normalised, password checked and hashed).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<User, OAuthError> {
        crate::session::create_user(self, email, password, name).await
    }

    /// Rotates the signing keys; the retiring ones stay published until
    /// every token they signed has expired.
    pub async fn rotate_keys(&self) -> Result<(), KeyError> {
        let now = self.now();
        let longest = self.config().id_token_ttl.max(crate::MAX_ACCESS_TOKEN_TTL);
        Keys::rotate(self.store(), self.master_key(), now, now + longest + 60).await?;
        self.keys().reload().await
    }
}
