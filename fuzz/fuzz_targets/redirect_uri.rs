//! `keyhouse_core::redirect_uri::{validate_registration, find_match,
//! display_host}`.
//!
//! Input: one URI per line; every line but the last is registered, the last
//! one is requested. Each input runs for a confidential and a public client.
//!
//! Invariants: an accepted registration parses as an absolute URL with no
//! fragment or user info, no whitespace or control characters, and an
//! allowed scheme (https, http on a loopback host, a dotted private-use
//! scheme for public clients only); `find_match` only returns one of the
//! registered strings, byte-identical to the request, or, for a public
//! client and a loopback registration, one that differs only in the port;
//! a registered string that equals the request is always found; and for a
//! registration that passed `validate_registration`, the matched request
//! has the same scheme, host, path and query as the registration.
#![no_main]

use keyhouse_core::ErrorCode;
use keyhouse_core::redirect_uri::{display_host, find_match, validate_registration};
use libfuzzer_sys::fuzz_target;
use url::Url;

const LOOPBACKS: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines: Vec<&str> = text.split('\n').collect();
    let requested = lines.pop().unwrap_or_default();
    let registered: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();

    for public in [false, true] {
        for r in &registered {
            check_registration(r, public);
        }
        check_match(&registered, requested, public);
    }
    let _ = display_host(requested);
});

fn check_registration(uri: &str, public: bool) {
    let host = display_host(uri);
    let verdict = validate_registration(uri, public);
    if let Err(e) = &verdict {
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
        return;
    }
    if !public {
        assert!(
            validate_registration(uri, true).is_ok(),
            "{uri:?}: public clients may do less"
        );
    }
    assert!(uri.len() <= 2000);
    assert!(
        !uri.chars().any(|c| c.is_whitespace() || c.is_control()),
        "{uri:?}"
    );
    assert!(!uri.contains('#'), "{uri:?}");
    let url = Url::parse(uri).unwrap_or_else(|e| panic!("{uri:?} accepted but {e}"));
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{uri:?}"
    );
    match url.scheme() {
        "https" => assert!(!host.is_empty(), "{uri:?}"),
        "http" => {
            assert!(
                matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
                "{uri:?}: http off loopback"
            );
        }
        other => {
            assert!(public && other.contains('.'), "{uri:?}: scheme {other}");
            assert!(!matches!(
                other,
                "javascript" | "data" | "vbscript" | "file" | "blob" | "about"
            ));
        }
    }
}

/// After a loopback prefix: `""`, `"/…"`, `":digits"` or `":digits/…"`;
/// returns the part from the path on.
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

fn check_match(registered: &[String], requested: &str, public: bool) {
    let found = find_match(registered, requested, public);
    if registered.iter().any(|r| r == requested) {
        assert!(found.is_some(), "{requested:?} is registered but not found");
    }
    let Some(m) = found else {
        return;
    };
    assert!(
        registered.iter().any(|r| std::ptr::eq(r, m)),
        "find_match returned something not from the list"
    );
    if m == requested {
        return;
    }
    assert!(public, "confidential client: {requested:?} matched {m:?}");
    let prefix = LOOPBACKS
        .iter()
        .find(|p| m.starts_with(**p) && requested.starts_with(**p))
        .unwrap_or_else(|| panic!("{requested:?} matched non-loopback {m:?}"));
    let reg_path = after_port(&m[prefix.len()..]);
    let req_path = after_port(&requested[prefix.len()..]);
    assert!(req_path.is_some(), "{requested:?} ~ {m:?}");
    assert_eq!(reg_path, req_path, "{requested:?} ~ {m:?}");

    if validate_registration(m, true).is_ok() {
        let reg = Url::parse(m).expect("validated");
        let req = Url::parse(requested)
            .unwrap_or_else(|e| panic!("{requested:?} matched {m:?} but does not parse: {e}"));
        assert_eq!(req.scheme(), reg.scheme(), "{requested:?} ~ {m:?}");
        assert_eq!(req.host(), reg.host(), "{requested:?} ~ {m:?}");
        assert_eq!(req.path(), reg.path(), "{requested:?} ~ {m:?}");
        assert_eq!(req.query(), reg.query(), "{requested:?} ~ {m:?}");
        assert_eq!(req.fragment(), None, "{requested:?} ~ {m:?}");
        assert!(req.username().is_empty() && req.password().is_none());
    }
}
