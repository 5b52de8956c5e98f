//! Admin API keys: created by an operator, stored hashed, shown once.

use keyhouse_core::{OAuthError, secret};
use serde_json::json;

use crate::Keyhouse;
use crate::error::store_error;

/// Admin API keys start with this, so they are recognisable in logs and
/// secret scanners.
pub const API_KEY_PREFIX: &str = "kh_admin_";

impl Keyhouse {
    /// Creates an admin API key: the key is returned once; only its hash is
    /// stored.
    pub async fn create_api_key(&self, name: &str) -> Result<(String, String), OAuthError> {
        let (id, key) = {
            let mut rng = rand::rng();
            (
                secret::generate_id("key", &mut rng),
                format!("{API_KEY_PREFIX}{}", secret::generate_token(&mut rng)),
            )
        };
        self.store()
            .create_api_key(&id, name.trim(), &secret::hash_token(&key), self.now())
            .await
            .map_err(store_error)?;
        self.audit(
            "cli",
            "api_key.created",
            None,
            json!({ "id": id, "name": name }),
        )
        .await;
        Ok((id, key))
    }
}
