//! When to ask the user, and when to ask them to sign in again.

use keyhouse_types::ClientType;

use crate::authorize::Prompt;
use crate::scope::{OFFLINE_ACCESS, ScopeSet};

/// How recent a sign-in must be for `prompt=login` to be satisfied. The
/// component sends the user to the login page and back; the request then
/// arrives again with `prompt=login`, and a sign-in this recent is the one
/// the prompt asked for.
pub const PROMPT_LOGIN_FRESHNESS: i64 = 120;

/// Whether the session's sign-in is too old for this request
/// (`max_age`, `prompt=login`; OIDC Core §3.1.2.1).
pub fn reauthentication_required(
    prompt: Prompt,
    max_age: Option<i64>,
    auth_time: i64,
    now: i64,
) -> bool {
    let age = now - auth_time;
    let too_old_for_max_age = max_age.is_some_and(|m| age > m.max(0));
    let too_old_for_prompt = prompt.login && age > PROMPT_LOGIN_FRESHNESS;
    too_old_for_max_age || too_old_for_prompt
}

/// Whether the consent screen must be shown (docs/threat-model.md row 13).
///
/// First-party clients never ask. Third-party clients ask when nothing was
/// granted before, when new scopes are requested, for `prompt=consent`, and
/// whenever `offline_access` is requested (OIDC Core §11: "the
/// Authorization Server MUST ensure that the prompt parameter contains
/// consent" — we ask rather than refuse).
pub fn consent_required(
    client_type: ClientType,
    prompt: Prompt,
    requested: &ScopeSet,
    previously_granted: Option<&ScopeSet>,
) -> bool {
    if client_type.is_first_party() {
        return false;
    }
    if prompt.consent || requested.contains(OFFLINE_ACCESS) {
        return true;
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
                ClientType::FirstPartyPublic,
                consent,
                "openid offline_access",
                None,
                false,
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
            (Prompt::default(), Some(0), 1000, 1001, true),
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
