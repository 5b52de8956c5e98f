//! `keyhouse_core::scope::ScopeSet::parse`.
//!
//! Invariants: it accepts exactly the strings whose space-separated tokens are
//! RFC 6749 §3.3 `scope-token`s, at most `MAX_SCOPE_TOKENS` of at most
//! `MAX_SCOPE_TOKEN_LEN` bytes; the set holds each distinct token once, in
//! first-seen order; its display re-parses to the same set.
#![no_main]

use keyhouse_core::ErrorCode;
use keyhouse_core::scope::{MAX_SCOPE_TOKEN_LEN, MAX_SCOPE_TOKENS, ScopeSet};
use libfuzzer_sys::fuzz_target;

fn scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let tokens: Vec<&str> = raw.split(' ').filter(|t| !t.is_empty()).collect();
    let acceptable = tokens.len() <= MAX_SCOPE_TOKENS
        && tokens
            .iter()
            .all(|t| t.len() <= MAX_SCOPE_TOKEN_LEN && t.bytes().all(scope_char));

    match ScopeSet::parse(raw) {
        Err(e) => {
            assert!(!acceptable, "{raw:?} refused: {e:?}");
            assert_eq!(e.code, ErrorCode::InvalidScope);
        }
        Ok(set) => {
            assert!(acceptable, "{raw:?} accepted");
            let mut distinct: Vec<&str> = Vec::new();
            for t in &tokens {
                if !distinct.contains(t) {
                    distinct.push(t);
                }
            }
            assert_eq!(set.iter().collect::<Vec<_>>(), distinct);
            assert_eq!(set.len(), distinct.len());
            assert!(distinct.iter().all(|t| set.contains(t)));
            let shown = set.to_string();
            assert!(!shown.starts_with(' ') && !shown.ends_with(' ') && !shown.contains("  "));
            let again = ScopeSet::parse(&shown).expect("a displayed set re-parses");
            assert_eq!(again, set, "{shown:?}");
            assert_eq!(again.to_string(), shown);
            // Set algebra stays inside the set.
            let none = set.difference(&set);
            assert!(none.is_empty());
            assert_eq!(set.union(&set), set);
            assert!(set.is_subset_of(&set));
        }
    }
});
