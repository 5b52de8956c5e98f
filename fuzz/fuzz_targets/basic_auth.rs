//! `keyhouse_core::token::parse_basic`: the `Authorization: Basic` header.
//!
//! The input is used twice: as a whole header, and as `id \n secret` that is
//! encoded the RFC 6749 §2.3.1 way (form-urlencode each, join with `:`,
//! base64) and must decode back to exactly the pair.
//!
//! Invariants: never a panic; an accepted header has a non-empty id, and
//! re-encoding what it decoded to gives a header that decodes to the same
//! pair; every encoded pair with a non-empty id round-trips; errors are
//! always `invalid_client`.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyhouse_core::ErrorCode;
use keyhouse_core::token::parse_basic;
use libfuzzer_sys::fuzz_target;

fn encode(id: &str, secret: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let secret: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };

    // 1. The input as the header itself.
    match parse_basic(input) {
        Ok((id, secret)) => {
            assert!(!id.is_empty(), "{input:?} gave an empty client_id");
            let again = parse_basic(&encode(&id, &secret));
            assert_eq!(again.ok(), Some((id, secret)), "{input:?}");
        }
        Err(e) => assert_eq!(e.code, ErrorCode::InvalidClient, "{input:?}"),
    }

    // 2. The input as an id/secret pair to encode.
    let (id, secret) = input.split_once('\n').unwrap_or((input, ""));
    let header = encode(id, secret);
    match parse_basic(&header) {
        Ok(pair) => assert_eq!(pair, (id.to_owned(), secret.to_owned()), "{header:?}"),
        Err(e) => assert!(
            id.is_empty(),
            "{id:?}:{secret:?} as {header:?} refused: {e:?}"
        ),
    }
    // The scheme is case-insensitive and surrounding spaces are tolerated.
    if !id.is_empty() {
        let lower = format!("  basic {}  ", &header["Basic ".len()..]);
        assert_eq!(
            parse_basic(&lower).ok(),
            Some((id.to_owned(), secret.to_owned()))
        );
    }
});
