//! Property tests for the pure parsers, run by the normal `cargo test`.
//!
//! Each property runs at most 256 cases so the suite stays fast; the
//! open-ended search is the fuzz targets' job (`fuzz/`, `scripts/fuzz.sh`).
#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::collection::vec;
use proptest::prelude::*;
use url::Url;

use crate::ErrorCode;
use crate::redirect_uri::{find_match, validate_registration};
use crate::return_to::sanitize;
use crate::scope::{MAX_SCOPE_TOKEN_LEN, MAX_SCOPE_TOKENS, ScopeSet};
use crate::token::{Form, MAX_FORM_PARAMS, parse_basic};

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

// ---------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

fn scope_token() -> impl Strategy<Value = String> {
    "[!#-\\[\\]-~]{1,12}"
}

/// Scope-like text with the characters that must be refused mixed in.
fn scope_text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z:/ ]{0,40}", "[ -~\t\"\\\\é]{0,40}", any::<String>()]
}

fn dedup<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for t in tokens {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn scope_display_round_trips(
        tokens in vec(scope_token(), 0..=MAX_SCOPE_TOKENS),
        gaps in vec(1usize..4, MAX_SCOPE_TOKENS + 1),
    ) {
        let mut raw = " ".repeat(gaps[0] - 1);
        for (i, t) in tokens.iter().enumerate() {
            raw.push_str(t);
            raw.push_str(&" ".repeat(gaps[i + 1]));
        }
        let set = ScopeSet::parse(&raw).unwrap();
        prop_assert_eq!(set.iter().collect::<Vec<_>>(), dedup(tokens.iter().map(String::as_str)));
        let shown = set.to_string();
        prop_assert!(!shown.contains("  ") && !shown.starts_with(' ') && !shown.ends_with(' '));
        let again = ScopeSet::parse(&shown).unwrap();
        prop_assert_eq!(&again, &set);
        prop_assert_eq!(again.to_string(), shown);
    }

    #[test]
    fn scope_parse_accepts_exactly_valid_input(raw in scope_text()) {
        let tokens: Vec<&str> = raw.split(' ').filter(|t| !t.is_empty()).collect();
        let acceptable = tokens.len() <= MAX_SCOPE_TOKENS
            && tokens
                .iter()
                .all(|t| t.len() <= MAX_SCOPE_TOKEN_LEN && t.bytes().all(scope_char));
        match ScopeSet::parse(&raw) {
            Ok(set) => {
                prop_assert!(acceptable, "accepted {:?}", raw);
                prop_assert_eq!(set.iter().collect::<Vec<_>>(), dedup(tokens));
                prop_assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
            }
            Err(e) => {
                prop_assert!(!acceptable, "refused {:?}", raw);
                prop_assert_eq!(e.code, ErrorCode::InvalidScope);
            }
        }
    }

    #[test]
    fn scope_token_count_cap(n in 0usize..=2 * MAX_SCOPE_TOKENS, repeat in any::<bool>()) {
        // Repeats count against the cap like distinct tokens do.
        let raw: String = (0..n)
            .map(|i| if repeat { "openid ".to_owned() } else { format!("s{i} ") })
            .collect();
        let got = ScopeSet::parse(&raw);
        prop_assert_eq!(got.is_ok(), n <= MAX_SCOPE_TOKENS, "{} tokens", n);
        if let Err(e) = got {
            prop_assert_eq!(e.code, ErrorCode::InvalidScope);
        }
    }

    #[test]
    fn scope_token_length_cap(len in 1usize..=2 * MAX_SCOPE_TOKEN_LEN, others in 0usize..8) {
        let mut raw = "openid ".repeat(others);
        raw.push_str(&"a".repeat(len));
        prop_assert_eq!(ScopeSet::parse(&raw).is_ok(), len <= MAX_SCOPE_TOKEN_LEN, "{} bytes", len);
    }
}

// ---------------------------------------------------------------------------
// returnTo
// ---------------------------------------------------------------------------

/// Paths built from the characters that matter to a URL parser.
fn return_to_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[/\\\\%2fF5cC:.@?#a \t\n]{0,16}",
        "/[/\\\\%2fF5cC:.@?#a é]{0,16}",
        any::<String>()
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    /// An accepted `returnTo`, resolved against the IdP's URL the way a
    /// browser does (WHATWG URL rules), stays on the IdP's origin.
    #[test]
    fn return_to_stays_on_origin(raw in return_to_text()) {
        if let Some(safe) = sanitize(&raw) {
            prop_assert_eq!(safe, raw.as_str());
            prop_assert!(safe.starts_with('/'));
            prop_assert!(!safe.starts_with("//") && !safe.starts_with("/\\"));
            let base = Url::parse("https://idp.example/login").unwrap();
            let resolved = base.join(safe).unwrap();
            prop_assert_eq!(resolved.origin(), base.origin(), "{:?} -> {}", safe, resolved);
        }
    }
}

// ---------------------------------------------------------------------------
// Redirect URIs
// ---------------------------------------------------------------------------

fn redirect_uri() -> impl Strategy<Value = String> {
    prop_oneof![
        "https://[a-z]{1,6}\\.example(:[0-9]{1,5})?(/[a-zA-Z0-9._~%-]{0,6}){0,3}(\\?[a-z=&]{0,6})?",
        "http://(127\\.0\\.0\\.1|\\[::1\\]|localhost)(:[0-9]{0,6})?(/[a-z]{0,4}){0,2}",
        "[a-z]{2,4}\\.[a-z]{2,5}:/[a-z]{0,6}",
        "[ -~]{0,24}",
    ]
}

const LOOPBACKS: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

/// The part of a loopback URI after the host and an optional valid port.
fn after_port(rest: &str) -> Option<&str> {
    let rest = match rest.strip_prefix(':') {
        Some(p) => {
            let n = p.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 5 || p[..n].parse::<u32>().ok()? > 65535 {
                return None;
            }
            &p[n..]
        }
        None => rest,
    };
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn redirect_match_is_byte_exact_for_confidential_clients(
        registered in vec(redirect_uri(), 0..5),
        other in redirect_uri(),
        pick in any::<prop::sample::Index>(),
        use_registered in any::<bool>(),
    ) {
        let requested = if use_registered && !registered.is_empty() {
            registered[pick.index(registered.len())].clone()
        } else {
            other
        };
        let found = find_match(&registered, &requested, false);
        prop_assert_eq!(found, registered.iter().find(|r| **r == requested));
    }

    #[test]
    fn redirect_match_public_differs_only_by_loopback_port(
        registered in vec(redirect_uri(), 1..5),
        other in redirect_uri(),
    ) {
        let Some(m) = find_match(&registered, &other, true) else {
            prop_assert!(!registered.contains(&other));
            return Ok(());
        };
        if *m != other {
            let prefix = LOOPBACKS
                .iter()
                .find(|p| m.starts_with(**p) && other.starts_with(**p));
            prop_assert!(prefix.is_some(), "{:?} matched {:?}", other, m);
            let prefix = prefix.unwrap();
            let req_path = after_port(&other[prefix.len()..]);
            prop_assert!(req_path.is_some());
            prop_assert_eq!(after_port(&m[prefix.len()..]), req_path);
            if validate_registration(m, true).is_ok() {
                let (a, b) = (Url::parse(m).unwrap(), Url::parse(&other).unwrap());
                prop_assert_eq!(a.host(), b.host());
                prop_assert_eq!(a.path(), b.path());
                prop_assert_eq!(a.query(), b.query());
            }
        }
    }

    #[test]
    fn redirect_loopback_port_may_vary_for_public_clients_only(
        v6 in any::<bool>(),
        path in "(/[a-z]{0,6}){0,3}",
        port in 0u32..=65535,
        bad_port in 65536u32..1_000_000,
    ) {
        let host = if v6 { "http://[::1]" } else { "http://127.0.0.1" };
        let registered = vec![format!("{host}{path}")];
        let requested = format!("{host}:{port}{path}");
        prop_assert!(find_match(&registered, &requested, true).is_some());
        prop_assert!(find_match(&registered, &requested, false).is_none());
        let too_big = format!("{host}:{bad_port}{path}");
        prop_assert!(find_match(&registered, &too_big, true).is_none());
        let other_path = format!("{host}:{port}{path}x");
        prop_assert!(find_match(&registered, &other_path, true).is_none());
    }

    #[test]
    fn redirect_one_byte_off_never_matches(
        registered in "https://[a-z]{1,6}\\.example(/[a-z]{0,6}){1,3}",
        at in any::<prop::sample::Index>(),
        insert in "[ -~]",
    ) {
        let i = at.index(registered.len() + 1);
        let mut requested = registered.clone();
        requested.insert_str(i, &insert);
        let list = vec![registered];
        prop_assert!(find_match(&list, &requested, false).is_none(), "{:?}", requested);
        prop_assert!(find_match(&list, &requested, true).is_none(), "{:?}", requested);
    }
}

// ---------------------------------------------------------------------------
// Token endpoint form
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn form_accepts_exactly_distinct_names_under_the_cap(
        pairs in vec(("[a-e]{1,2}", "[a-z]{0,3}"), 0..=MAX_FORM_PARAMS + 8),
    ) {
        let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let acceptable = pairs.len() <= MAX_FORM_PARAMS && names.len() == pairs.len();
        match Form::from_pairs(pairs.clone()) {
            Ok(form) => {
                prop_assert!(acceptable);
                for (k, v) in &pairs {
                    prop_assert_eq!(form.get(k), Some(v.as_str()).filter(|v| !v.is_empty()));
                }
            }
            Err(e) => {
                prop_assert!(!acceptable);
                prop_assert_eq!(e.code, ErrorCode::InvalidRequest);
            }
        }
    }

    #[test]
    fn form_refuses_a_repeat_anywhere(
        n in 1usize..MAX_FORM_PARAMS,
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        value in "[a-z]{0,4}",
    ) {
        let mut pairs: Vec<(String, String)> =
            (0..n).map(|i| (format!("p{i}"), format!("v{i}"))).collect();
        let repeated = pairs[which.index(n)].0.clone();
        pairs.insert(at.index(n + 1), (repeated, value));
        let err = Form::from_pairs(pairs).err().map(|e| e.code);
        prop_assert_eq!(err, Some(ErrorCode::InvalidRequest));
    }

    #[test]
    fn form_parameter_cap(n in 0usize..=4 * MAX_FORM_PARAMS) {
        let pairs = (0..n).map(|i| (format!("p{i}"), "v".to_owned()));
        prop_assert_eq!(Form::from_pairs(pairs).is_ok(), n <= MAX_FORM_PARAMS, "{} params", n);
    }
}

// ---------------------------------------------------------------------------
// HTTP Basic client authentication
// ---------------------------------------------------------------------------

/// `%XX` for every byte, in upper or lower case hex.
fn percent_encode_all(s: &str, upper: bool) -> String {
    s.bytes()
        .map(|b| {
            if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn parse_basic_never_panics(
        header in prop_oneof![
            any::<String>(),
            "(Basic|basic|BASIC|Bearer)? ?[A-Za-z0-9+/=%: ]{0,24}",
            "[ -~]{0,8}".prop_map(|s| format!("Basic {}", STANDARD.encode(s))),
        ],
    ) {
        match parse_basic(&header) {
            Ok((id, _)) => prop_assert!(!id.is_empty()),
            Err(e) => prop_assert_eq!(e.code, ErrorCode::InvalidClient),
        }
    }

    #[test]
    fn parse_basic_round_trips_encoded_pairs(
        id in any::<String>().prop_filter("a client id is never empty", |s| !s.is_empty()),
        secret in any::<String>(),
        style in 0u8..3,
    ) {
        let (eid, esecret) = match style {
            0 => (form_encode(&id), form_encode(&secret)),
            1 => (percent_encode_all(&id, true), percent_encode_all(&secret, true)),
            _ => (percent_encode_all(&id, false), percent_encode_all(&secret, false)),
        };
        let header = format!("Basic {}", STANDARD.encode(format!("{eid}:{esecret}")));
        prop_assert_eq!(parse_basic(&header).ok(), Some((id, secret)));
    }

    #[test]
    fn parse_basic_splits_at_the_first_colon(
        id in "[a-zA-Z0-9._~-]{1,12}",
        secret in "[a-zA-Z0-9._~:-]{0,12}",
    ) {
        let header = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        prop_assert_eq!(parse_basic(&header).ok(), Some((id, secret)));
    }
}
