//! When to ask the user, and when to ask them to sign in again.

use keyhouse_types::ClientType;

use crate::authorize::Prompt;
use crate::scope::{OFFLINE_ACCESS, ScopeSet};

/// How recent a sign-in must be for `prompt=login` to be satisfied. The
/// component sends the user to the login page and back; the request then
/// arrives again with `prompt=login`, and a sign-in this recent is the one
/// the prompt asked for.
pub const PROMPT_LOGIN_FRESHNESS: i64 = 120;

/// The smallest `max_age` honoured, seconds: the time to sign in and come
/// back to the request that asked for it.
pub const MAX_AGE_FLOOR: i64 = 30;

/// Whether the session's sign-in is too old for this request
/// (`max_age`, `prompt=login`; OIDC Core §3.1.2.1).
pub fn reauthentication_required(
    prompt: Prompt,
    max_age: Option<i64>,
    auth_time: i64,
    now: i64,
) -> bool {
    let age = now - auth_time;
    // `max_age` counts from MAX_AGE_FLOOR at least (docs/threat-model.md
    // row 60): a sign-in that recent is the one this very request sent the
    // user to make; without the floor `max_age=0` would send them back to
    // the login page for ever.
    let too_old_for_max_age = max_age.is_some_and(|m| age > m.max(MAX_AGE_FLOOR));
    let too_old_for_prompt = prompt.login && age > PROMPT_LOGIN_FRESHNESS;
    too_old_for_max_age || too_old_for_prompt
}

/// Whether the consent screen must be shown (docs/threat-model.md row 13).
///
/// `prompt=consent` always asks. Confidential first-party clients (the
/// operator's own servers, which prove who they are with a secret) ask for
/// nothing else. A first-party *public* client asks once, like a third-party
/// one: its `client_id` is no secret, and any local program can present it
/// with a loopback redirect of its own (RFC 8252 §8.6, docs/threat-model.md
/// row 48). Third-party clients also ask whenever `offline_access` is
/// requested (OIDC Core §11: "the Authorization Server MUST ensure that the
/// prompt parameter contains consent" — we ask rather than refuse).
pub fn consent_required(
    client_type: ClientType,
    prompt: Prompt,
    requested: &ScopeSet,
    previously_granted: Option<&ScopeSet>,
) -> bool {
    if prompt.consent {
        return true;
    }
    match client_type {
        ClientType::FirstParty => return false,
        ClientType::FirstPartyPublic => {}
        ClientType::ThirdParty | ClientType::ThirdPartyPublic => {
            if requested.contains(OFFLINE_ACCESS) {
                return true;
            }
        }
    }
    match previously_granted {
        None => true,
        Some(granted) => !requested.is_subset_of(granted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::from_tokens(s.split(' ').filter(|t| !t.is_empty()))
    }

    #[test]
    fn consent_table() {
        let consent = Prompt {
            consent: true,
            ..Prompt::default()
        };
        let none = Prompt::default();
        let table = [
            (ClientType::FirstParty, none, "openid", None, false),
            (
                ClientType::FirstParty,
                consent,
                "openid",
                Some("openid"),
                true,
            ),
            // A first-party public client asks once, then not again...
            (ClientType::FirstPartyPublic, none, "openid", None, true),
            (
                ClientType::FirstPartyPublic,
                none,
                "openid offline_access",
                Some("openid offline_access"),
                false,
            ),
            // ...unless told to.
            (
                ClientType::FirstPartyPublic,
                consent,
                "openid",
                Some("openid"),
                true,
            ),
            (ClientType::ThirdParty, none, "openid", None, true),
            (
                ClientType::ThirdParty,
                none,
                "openid",
                Some("openid email"),
                false,
            ),
            (
                ClientType::ThirdParty,
                none,
                "openid profile",
                Some("openid email"),
                true,
            ),
            (
                ClientType::ThirdParty,
                consent,
                "openid",
                Some("openid"),
                true,
            ),
            (
                ClientType::ThirdPartyPublic,
                none,
                "openid offline_access",
                Some("openid offline_access"),
                true,
            ),
        ];
        for (t, prompt, req, granted, expected) in table {
            let granted = granted.map(set);
            assert_eq!(
                consent_required(t, prompt, &set(req), granted.as_ref()),
                expected,
                "{t:?} {req} {granted:?}"
            );
        }
    }

    #[test]
    fn reauthentication_table() {
        let login = Prompt {
            login: true,
            ..Prompt::default()
        };
        let table = [
            (Prompt::default(), None, 1000, 5000, false),
            (Prompt::default(), Some(600), 1000, 1500, false),
            (Prompt::default(), Some(600), 1000, 1601, true),
            (Prompt::default(), Some(0), 1000, 1000, false),
            // The sign-in `max_age=0` sent the user to make, a few seconds
            // later, satisfies it (no endless loop back to the login page)...
            (Prompt::default(), Some(0), 1000, 1001, false),
            (
                Prompt::default(),
                Some(0),
                1000,
                1000 + MAX_AGE_FLOOR,
                false,
            ),
            // ...and one older than the floor does not.
            (
                Prompt::default(),
                Some(0),
                1000,
                1000 + MAX_AGE_FLOOR + 1,
                true,
            ),
            (
                Prompt::default(),
                Some(10),
                1000,
                1000 + MAX_AGE_FLOOR + 1,
                true,
            ),
            (login, None, 1000, 1100, false),
            (login, None, 1000, 1000 + PROMPT_LOGIN_FRESHNESS + 1, true),
        ];
        for (prompt, max_age, auth_time, now, expected) in table {
            assert_eq!(
                reauthentication_required(prompt, max_age, auth_time, now),
                expected,
                "{prompt:?} {max_age:?} {auth_time} {now}"
            );
        }
    }
}
