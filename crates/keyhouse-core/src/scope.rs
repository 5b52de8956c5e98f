//! Scopes (RFC 6749 §3.3) and the catalogue of scopes a deployment offers.

use std::fmt;

use crate::error::{ErrorCode, OAuthError};

/// The OpenID Connect scope that asks for an ID token.
pub const OPENID: &str = "openid";
/// The scope that asks for a refresh token (OIDC Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";
/// Standard profile claims.
pub const PROFILE: &str = "profile";
/// The `email` and `email_verified` claims.
pub const EMAIL: &str = "email";

/// Most scope tokens one request may name. Parsing is linear, but a request
/// of thousands of tokens is never legitimate and is refused before any
/// lookup (docs/threat-model.md row 44).
pub const MAX_SCOPE_TOKENS: usize = 64;
/// Longest scope token accepted, bytes.
pub const MAX_SCOPE_TOKEN_LEN: usize = 128;

/// A set of scope tokens, deduplicated, in the order first seen. Membership
/// is a hash lookup, so building a set is linear in its size.
#[derive(Debug, Clone, Default)]
pub struct ScopeSet {
    order: Vec<String>,
    members: std::collections::HashSet<String>,
}

impl PartialEq for ScopeSet {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl Eq for ScopeSet {}

impl std::hash::Hash for ScopeSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.order.hash(state);
    }
}

impl ScopeSet {
    /// Parses a space-delimited scope string (RFC 6749 §3.3:
    /// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`), with at most
    /// [`MAX_SCOPE_TOKENS`] tokens of at most [`MAX_SCOPE_TOKEN_LEN`] bytes.
    pub fn parse(raw: &str) -> Result<ScopeSet, OAuthError> {
        let mut set = ScopeSet::default();
        for (i, token) in raw.split(' ').filter(|t| !t.is_empty()).enumerate() {
            if i >= MAX_SCOPE_TOKENS || token.len() > MAX_SCOPE_TOKEN_LEN {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the scope names too many or too long tokens",
                ));
            }
            let valid = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "scope contains characters RFC 6749 §3.3 does not allow",
                ));
            }
            set.insert(token);
        }
        Ok(set)
    }

    /// Builds a set from tokens already known to be valid.
    pub fn from_tokens<I, S>(tokens: I) -> ScopeSet
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = ScopeSet::default();
        for t in tokens {
            set.insert(t.as_ref());
        }
        set
    }

    /// Adds a token if it is not there yet.
    pub fn insert(&mut self, token: &str) {
        if self.members.insert(token.to_owned()) {
            self.order.push(token.to_owned());
        }
    }

    /// Whether the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.members.contains(token)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.iter().all(|t| other.contains(t))
    }

    /// The tokens of `self` that are not in `other`.
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        self.filter(|t| !other.contains(t))
    }

    /// The tokens in either set.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        let mut out = self.clone();
        for t in other.iter() {
            out.insert(t);
        }
        out
    }

    /// The tokens kept by `keep`.
    pub fn filter(&self, keep: impl Fn(&str) -> bool) -> ScopeSet {
        ScopeSet::from_tokens(self.iter().filter(|t| keep(t)))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// How many tokens the set holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// The tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.order.join(" "))
    }
}

/// One scope a deployment offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDefinition {
    /// The token.
    pub name: String,
    /// What it allows, in plain words for the consent screen.
    pub description: String,
    /// Whether a client may obtain it without a user (client_credentials).
    pub machine: bool,
}

/// The scopes a deployment offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeCatalog(Vec<ScopeDefinition>);

impl Default for ScopeCatalog {
    fn default() -> Self {
        let oidc = [
            (OPENID, "Sign you in and know who you are"),
            (PROFILE, "See your name"),
            (EMAIL, "See your email address"),
            (
                OFFLINE_ACCESS,
                "Keep access when you are not using it (until you revoke it)",
            ),
        ];
        ScopeCatalog(
            oidc.into_iter()
                .map(|(name, description)| ScopeDefinition {
                    name: name.into(),
                    description: description.into(),
                    machine: false,
                })
                .collect(),
        )
    }
}

impl ScopeCatalog {
    /// Adds (or replaces) an application scope that acts for a user: it is
    /// granted on a consent screen and never to a client alone.
    pub fn with_scope(mut self, name: &str, description: &str) -> Self {
        self.push(name, description, false);
        self
    }

    /// Adds (or replaces) a machine scope: one a confidential client allowed
    /// the `client_credentials` grant may obtain for itself, with no user
    /// (docs/threat-model.md row 46).
    pub fn with_machine_scope(mut self, name: &str, description: &str) -> Self {
        self.push(name, description, true);
        self
    }

    fn push(&mut self, name: &str, description: &str, machine: bool) {
        self.0.retain(|d| d.name != name);
        self.0.push(ScopeDefinition {
            name: name.into(),
            description: description.into(),
            machine,
        });
    }

    /// Looks a scope up.
    pub fn get(&self, name: &str) -> Option<&ScopeDefinition> {
        self.0.iter().find(|d| d.name == name)
    }

    /// All the scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &ScopeDefinition> {
        self.0.iter()
    }

    /// Refuses a set that names a scope this deployment does not offer.
    pub fn check_known(&self, scopes: &ScopeSet) -> Result<(), OAuthError> {
        match scopes.iter().find(|s| self.get(s).is_none()) {
            None => Ok(()),
            // docs/threat-model.md row 54: the description is fixed so a
            // client cannot have its own text shown on the redirect target.
            Some(unknown) => Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "the request names a scope this server does not offer",
            )
            .with_debug(format!("unknown scope {unknown:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let table: [(&str, Option<&str>); 6] = [
            ("openid profile", Some("openid profile")),
            ("  openid   openid email ", Some("openid email")),
            ("", Some("")),
            ("notes:read", Some("notes:read")),
            ("bad\"quote", None),
            ("back\\slash", None),
        ];
        for (input, expected) in table {
            let got = ScopeSet::parse(input).ok().map(|s| s.to_string());
            assert_eq!(got.as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn parse_caps_count_and_length() {
        let many: String = (0..=MAX_SCOPE_TOKENS).map(|i| format!("s{i} ")).collect();
        let err = ScopeSet::parse(&many).err().map(|e| e.code);
        assert_eq!(err, Some(ErrorCode::InvalidScope));
        let just_enough: String = (0..MAX_SCOPE_TOKENS).map(|i| format!("s{i} ")).collect();
        assert_eq!(
            ScopeSet::parse(&just_enough).map(|s| s.len()).ok(),
            Some(MAX_SCOPE_TOKENS)
        );
        let long = "a".repeat(MAX_SCOPE_TOKEN_LEN + 1);
        assert!(ScopeSet::parse(&long).is_err());
        assert!(ScopeSet::parse(&long[1..]).is_ok());
        // Repeats count too: 64 KiB of the same token is still refused.
        assert!(ScopeSet::parse(&"openid ".repeat(10_000)).is_err());
    }

    #[test]
    fn set_algebra() {
        let a = ScopeSet::from_tokens(["openid", "email"]);
        let b = ScopeSet::from_tokens(["openid", "email", "profile"]);
        assert!(a.is_subset_of(&b));
        assert!(!b.is_subset_of(&a));
        assert_eq!(b.difference(&a).to_string(), "profile");
        assert_eq!(a.union(&b).to_string(), "openid email profile");
    }

    #[test]
    fn catalog_refuses_unknown() {
        let c = ScopeCatalog::default().with_scope("notes:read", "Read your notes");
        assert!(
            c.check_known(&ScopeSet::from_tokens(["openid", "notes:read"]))
                .is_ok()
        );
        let err = c.check_known(&ScopeSet::from_tokens(["admin"])).err();
        assert_eq!(err.map(|e| e.code), Some(ErrorCode::InvalidScope));
    }
}
