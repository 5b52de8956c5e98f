//! Proof Key for Code Exchange (RFC 7636), S256 only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::OAuthError;

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`.
pub fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && verifier.bytes().all(is_unreserved)
}

/// An S256 challenge is the base64url of a SHA-256 digest: exactly 43
/// characters of the base64url alphabet.
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks a verifier sent at the token endpoint against what the code holds.
///
/// RFC 9700 §4.8.2: a verifier sent for a code issued *without* a challenge
/// is refused, so an attacker cannot downgrade a PKCE flow.
pub fn verify(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent for a code issued without code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some(challenge), Some(verifier)) => {
            if !valid_verifier(verifier) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier must be 43 to 128 unreserved characters",
                ));
            }
            if bool::from(s256(verifier).as_bytes().ct_eq(challenge.as_bytes())) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant("code_verifier does not match"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(s256(VERIFIER), CHALLENGE);
        assert!(valid_challenge(CHALLENGE));
    }

    #[test]
    fn verify_table() {
        let short = "a".repeat(42);
        let long = "a".repeat(129);
        let table: [(Option<&str>, Option<&str>, bool); 7] = [
            (None, None, true),
            (Some(CHALLENGE), Some(VERIFIER), true),
            (None, Some(VERIFIER), false),
            (Some(CHALLENGE), None, false),
            (Some(CHALLENGE), Some(short.as_str()), false),
            (Some(CHALLENGE), Some(long.as_str()), false),
            (
                Some(CHALLENGE),
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"),
                false,
            ),
        ];
        for (c, v, ok) in table {
            assert_eq!(verify(c, v).is_ok(), ok, "{c:?} {v:?}");
        }
    }
}
