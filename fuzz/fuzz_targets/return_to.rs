//! `keyhouse_types::return_to::sanitize`: the login page's `returnTo`.
//!
//! Invariants: an accepted value is returned unchanged, starts with exactly
//! one `/` (never `//` or `/\`), holds no backslash or control character and
//! no encoded slash or backslash at the start; and, the property that
//! matters, resolving it against the IdP's own URL (WHATWG rules, as a
//! browser does) never leaves the IdP's origin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    // The value arrives percent-encoded in the login URL's query; decode it
    // the way the pages do, and also try the raw text.
    let decoded: Vec<String> = form_urlencoded::parse(format!("returnTo={raw}").as_bytes())
        .filter(|(k, _)| k == "returnTo")
        .map(|(_, v)| v.into_owned())
        .collect();
    for candidate in std::iter::once(raw).chain(decoded.iter().map(String::as_str)) {
        check(candidate);
    }
});

fn check(raw: &str) {
    let Some(safe) = keyhouse_types::return_to::sanitize(raw) else {
        return;
    };
    assert_eq!(safe, raw, "sanitize must return its input unchanged");
    let b = safe.as_bytes();
    assert_eq!(b.first(), Some(&b'/'), "{safe:?} must start with '/'");
    assert!(
        !matches!(b.get(1), Some(b'/' | b'\\')),
        "{safe:?} must not start with // or /\\"
    );
    assert!(!safe.contains('\\'), "{safe:?} holds a backslash");
    assert!(
        !safe.chars().any(char::is_control),
        "{safe:?} holds a control character"
    );
    assert!(safe.len() <= 2048);
    let lower = safe.to_ascii_lowercase();
    assert!(
        !lower.starts_with("/%2f") && !lower.starts_with("/%5c"),
        "{safe:?}"
    );

    let base = Url::parse("https://idp.example/login?returnTo=x").expect("static base URL");
    let resolved = base
        .join(safe)
        .unwrap_or_else(|e| panic!("{safe:?} passed sanitize but does not resolve: {e}"));
    assert_eq!(
        resolved.origin(),
        base.origin(),
        "{safe:?} passed sanitize but resolves to {resolved}"
    );
    assert!(resolved.username().is_empty() && resolved.password().is_none());
}
