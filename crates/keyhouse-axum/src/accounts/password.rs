//! Password hashing: Argon2id with OWASP's parameters (m=19456 KiB, t=2,
//! p=1), on the blocking pool, with concurrency bounded so a burst of logins
//! cannot take every core and all the memory.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use keyhouse_core::OAuthError;
use rand::RngCore;
use tokio::sync::Semaphore;

use crate::Keyhouse;
use crate::accounts::users::check_password;

#[derive(Clone)]
pub(crate) struct Hasher {
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
}

fn argon2() -> Argon2<'static> {
    // Params::new only fails for values outside Argon2's ranges; these are fixed.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Option<String> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).ok()?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|h| h.to_string())
}

fn verify_now(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

impl Hasher {
    pub(crate) fn new() -> Hasher {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hasher {
            permits: Arc::new(Semaphore::new(cores)),
            // Verified against when the email is unknown, so both answers
            // cost the same (docs/threat-model.md row 25).
            dummy: Arc::new(hash_now("keyhouse dummy password").unwrap_or_default()),
        }
    }

    pub(crate) async fn hash(&self, password: String) -> Option<String> {
        let _permit = self.permits.acquire().await.ok()?;
        tokio::task::spawn_blocking(move || hash_now(&password))
            .await
            .ok()
            .flatten()
    }

    /// Verifies `password` against `phc`, or against the dummy hash when
    /// there is no user, and returns false then.
    pub(crate) async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        // An account that signs in by mail only has no hash: it checks
        // against the dummy like an unknown one, in the same time.
        let phc = phc.filter(|p| !p.is_empty());
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.as_ref().clone());
        let ok = tokio::task::spawn_blocking(move || verify_now(&password, &phc))
            .await
            .unwrap_or(false);
        ok && known
    }
}

/// Verifies `password` against `phc` (a dummy hash when `None`, so unknown
/// accounts take as long as known ones).
pub(crate) async fn verify_password(kh: &Keyhouse, password: &str, phc: Option<String>) -> bool {
    kh.0.passwords.verify(password.to_owned(), phc).await
}

/// Hashes a new password (Argon2id, on the blocking pool).
pub(crate) async fn hash_password(kh: &Keyhouse, password: &str) -> Result<String, OAuthError> {
    check_password(password)?;
    kh.0.passwords
        .hash(password.to_owned())
        .await
        .ok_or_else(|| OAuthError::server("password hashing failed"))
}
