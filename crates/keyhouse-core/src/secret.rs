//! Random tokens and how they are stored.
//!
//! Codes, refresh tokens, session ids and client secrets are 256-bit random
//! strings. Only hashes are stored. Because the inputs carry 256 bits of
//! entropy, a fast hash is the right tool (a slow password hash would add
//! nothing but latency to every token request); client secrets use a keyed
//! hash so a leaked table cannot even be checked offline without the key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new 256-bit random token, base64url without padding (43 characters).
pub fn generate_token(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new random identifier with a readable prefix (`client-…`, `user-…`).
pub fn generate_id(prefix: &str, rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    format!("{prefix}-{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The lookup hash of a code, refresh token or session id.
pub fn hash_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The keyed hash of a client secret.
pub fn hash_client_secret(key: &[u8], secret: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(secret.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Constant-time equality of two stored hashes (docs/threat-model.md row 24).
pub fn hashes_equal(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let mut rng = rand::rng();
        let a = generate_token(&mut rng);
        let b = generate_token(&mut rng);
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(generate_id("client", &mut rng).starts_with("client-"));
    }

    #[test]
    fn hashes() {
        assert_eq!(hash_token("abc"), hash_token("abc"));
        assert_ne!(hash_token("abc"), hash_token("abd"));
        let k = b"key";
        let h = hash_client_secret(k, "s3cret");
        assert!(hashes_equal(&h, &hash_client_secret(k, "s3cret")));
        assert!(!hashes_equal(&h, &hash_client_secret(b"other", "s3cret")));
        assert!(!hashes_equal("", ""));
    }
}
