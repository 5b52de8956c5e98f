//! JWT header and claims decoding: `jsonwebtoken::decode_header` (what
//! `keyhouse-axum` calls first on every token it verifies) and serde_json
//! decoding into `keyhouse_core::claims::{AccessTokenClaims, IdTokenClaims}`.
//!
//! Input: a compact JWT (`header.claims.signature`). Its middle segment is
//! base64url-decoded and read as claims; when the input is not a JWT, the
//! whole input is read as claims JSON too.
//!
//! Invariants: never a panic; decoded claims survive a serialize/deserialize
//! round trip unchanged, and the access token's free-form `extra` map never
//! holds a key of a named claim (so a template or a forged token cannot
//! shadow `iss`, `sub`, `aud`, …).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhouse_core::claims::{AccessTokenClaims, IdTokenClaims};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The named fields of `AccessTokenClaims`.
const NAMED: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "client_id",
    "scope",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "fid",
    "organization",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = jsonwebtoken::decode_header(data) {
        // Re-encoding the parsed header gives a header that parses the same.
        let json = serde_json::to_vec(&header).expect("a header serializes");
        let token = format!("{}.e30.", URL_SAFE_NO_PAD.encode(json));
        let again = jsonwebtoken::decode_header(&token).expect("re-encoded header parses");
        assert_eq!(again, header);
    }

    let mut parts = data.split(|b| *b == b'.');
    let claims_json = match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(claims), Some(_)) => URL_SAFE_NO_PAD.decode(claims).ok(),
        _ => None,
    };
    for json in [claims_json.as_deref(), Some(data)].into_iter().flatten() {
        if let Some(at) = round_trip::<AccessTokenClaims>(json) {
            for key in at.extra.keys() {
                assert!(
                    !NAMED.contains(&key.as_str()),
                    "extra holds the named claim {key:?}"
                );
            }
        }
        let _ = round_trip::<IdTokenClaims>(json);
        let _ = round_trip::<serde_json::Value>(json);
    }
});

fn round_trip<T>(json: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let claims: T = serde_json::from_slice(json).ok()?;
    // Through a `Value`, so float formatting plays no part.
    let value = serde_json::to_value(&claims).expect("decoded claims serialize");
    let again: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{value} does not decode again: {e}"));
    assert_eq!(again, claims);
    Some(claims)
}
