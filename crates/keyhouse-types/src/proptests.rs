//! Property tests for the pure parsers, run by the normal `cargo test`.
//!
//! Each property runs at most 256 cases so the suite stays fast; the
//! open-ended search is the fuzz targets' job (`fuzz/`, `scripts/fuzz.sh`).
#![allow(clippy::unwrap_used)]

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use crate::return_to::sanitize;
use crate::{AuthorizeParams, ParamValue};

/// `n` cases, or `PROPTEST_CASES` when it is set (for a longer run).
fn cases(n: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            n
        },
        ..default
    }
}

/// Paths built from the characters that matter to a URL parser.
fn return_to_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[/\\\\%2fF5cC:.@?#a \t\r\n]{0,16}",
        "/[/\\\\%2fF5cC:.@?#a é\u{7f}\u{85}]{0,16}",
        any::<String>()
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn return_to_accepted_shape(raw in return_to_text()) {
        if let Some(safe) = sanitize(&raw) {
            prop_assert_eq!(safe, raw.as_str());
            let b = safe.as_bytes();
            prop_assert_eq!(b[0], b'/');
            prop_assert!(!matches!(b.get(1), Some(b'/' | b'\\')), "{:?}", safe);
            prop_assert!(!safe.contains('\\'), "{:?}", safe);
            prop_assert!(!safe.chars().any(char::is_control), "{:?}", safe);
            prop_assert!(safe.len() <= 2048);
            let lower = safe.to_ascii_lowercase();
            prop_assert!(!lower.starts_with("/%2f") && !lower.contains("%5c"), "{:?}", safe);
        }
    }

    #[test]
    fn return_to_refuses_other_origins(rest in any::<String>()) {
        for prefix in ["//", "/\\", "\\", "\\\\", "https:", "https://", "javascript:", "/%2F", "/%2f", "/%5C"] {
            let raw = format!("{prefix}{rest}");
            prop_assert_eq!(sanitize(&raw), None, "{:?}", raw);
        }
    }

    #[test]
    fn return_to_keeps_plain_paths(
        segments in vec("[a-zA-Z0-9._~-]{1,8}", 0..6),
        query in proptest::option::of("[a-zA-Z0-9=&%_-]{0,16}"),
    ) {
        let mut raw = format!("/{}", segments.join("/"));
        if let Some(q) = query.filter(|q| !q.to_ascii_lowercase().contains("%5c")) {
            raw.push('?');
            raw.push_str(&q);
        }
        prop_assert_eq!(sanitize(&raw), Some(raw.as_str()));
    }

    #[test]
    fn return_to_length_cap(n in 0usize..4096) {
        let raw = format!("/{}", "a".repeat(n));
        prop_assert_eq!(sanitize(&raw).is_some(), raw.len() <= 2048);
    }

    /// The authorize parameters survive the JSON the consent page posts:
    /// a list stays a list (even of one), so a repeat reaches the server.
    #[test]
    fn authorize_params_json_round_trip(
        params in btree_map(
            "[a-z_]{1,12}",
            prop_oneof![
                any::<String>().prop_map(ParamValue::One),
                vec(any::<String>(), 0..3).prop_map(ParamValue::Many),
            ],
            0..8,
        ),
    ) {
        let json = serde_json::to_string(&params).unwrap();
        let back: AuthorizeParams = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, params);
    }
}
