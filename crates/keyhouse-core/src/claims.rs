//! The claims Keyhouse puts in tokens (RFC 9068 for access tokens, OIDC Core
//! §2 and §5.1 for ID tokens and userinfo).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use crate::client::IdTokenAlg;
use crate::scope::{EMAIL, PROFILE, ScopeSet};

/// A JWT access token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user (or, for client_credentials, the client).
    pub sub: String,
    /// The resource server the token is for (RFC 8707).
    pub aud: String,
    /// The client the token was issued to (RFC 9068 §2.2).
    pub client_id: String,
    /// Granted scopes, space-delimited.
    pub scope: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Unique id, used for revocation.
    pub jti: String,
    /// When the user authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The grant family the token belongs to: revoking the family (a refresh
    /// token revoked or replayed, a code replayed) revokes the token too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<String>,
    /// The organization, for tokens issued to a member (B2B); `sub` is then
    /// the member id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationClaim>,
    /// Claims from the client's template ([`render_template`]).
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Claims a template may not set: the ones Keyhouse issues itself.
pub const RESERVED_CLAIMS: [&str; 19] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "auth_time",
    "fid",
    "organization",
    "azp",
    "cnf",
    "act",
    "typ",
    "acr",
    "amr",
    "sid",
];

/// Checks a claims template: a JSON object of at most 20 claims, none
/// reserved, placeholders only from the known set.
pub fn validate_template(template: &str) -> Result<(), crate::OAuthError> {
    let bad = |m: String| crate::OAuthError::new(crate::ErrorCode::InvalidClientMetadata, m);
    let v: serde_json::Value = serde_json::from_str(template)
        .map_err(|e| bad(format!("claims template is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("claims template must be a JSON object".into()))?;
    if obj.len() > 20 || template.len() > 4096 {
        return Err(bad("claims template: at most 20 claims and 4 KiB".into()));
    }
    for (k, val) in obj {
        if RESERVED_CLAIMS.contains(&k.as_str()) {
            return Err(bad(format!("claims template may not set {k}")));
        }
        if let Some(text) = val.as_str() {
            let mut rest = text;
            while let Some(i) = rest.find("{{") {
                let end = rest[i..]
                    .find("}}")
                    .ok_or_else(|| bad(format!("unclosed placeholder in {k}")))?;
                let name = rest[i + 2..i + end].trim();
                if !PLACEHOLDERS.contains(&name) {
                    return Err(bad(format!("unknown placeholder {{{{{name}}}}} in {k}")));
                }
                rest = &rest[i + end + 2..];
            }
        }
    }
    Ok(())
}

const PLACEHOLDERS: [&str; 5] = [
    "sub",
    "email",
    "name",
    "organization_id",
    "organization_slug",
];

/// Evaluates a (validated) claims template against the user's profile:
/// placeholders in string values are replaced, other values are copied.
pub fn render_template(
    template: &str,
    user: &UserProfile,
) -> serde_json::Map<String, serde_json::Value> {
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(template) else {
        return serde_json::Map::new();
    };
    let org = user.organization.as_ref();
    let value_of = |name: &str| match name {
        "sub" => Some(user.subject.as_str()),
        "email" => Some(user.email.as_str()),
        "name" => Some(user.name.as_str()),
        "organization_id" => Some(org.map_or("", |o| o.organization_id.as_str())),
        "organization_slug" => Some(org.map_or("", |o| o.slug.as_str())),
        _ => None,
    };
    // One pass over the template's own text (docs/threat-model.md row 60):
    // a user named `{{email}}` stays named `{{email}}`; values are never
    // scanned for placeholders again.
    let subst = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            match after.find("}}") {
                Some(end) => {
                    let name = after[..end].trim();
                    out.push_str(value_of(name).unwrap_or(""));
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    };
    obj.into_iter()
        .filter(|(k, _)| !RESERVED_CLAIMS.contains(&k.as_str()))
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, serde_json::Value::String(subst(&s))),
            other => (k, other),
        })
        .collect()
}

/// The `organization` claim of tokens issued for a member of an
/// organization: in access tokens, ID tokens, userinfo and introspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationClaim {
    /// The organization's stable id.
    pub organization_id: String,
    /// Its slug.
    pub slug: String,
}

/// The user data that claims are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    /// `sub`.
    pub subject: String,
    /// Email.
    pub email: String,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Display name.
    pub name: String,
    /// Last profile change (unix seconds).
    pub updated_at: i64,
    /// For members: their organization.
    pub organization: Option<OrganizationClaim>,
}

/// The claims a set of scopes releases (OIDC Core §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProfileClaims {
    /// `profile`: name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `profile`: updated_at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl ProfileClaims {
    /// Releases only what the granted scopes allow.
    pub fn for_scopes(user: &UserProfile, scopes: &ScopeSet) -> ProfileClaims {
        let profile = scopes.contains(PROFILE);
        // An app that keeps its own users may have no address for one.
        let email = scopes.contains(EMAIL) && !user.email.is_empty();
        ProfileClaims {
            name: profile.then(|| user.name.clone()),
            updated_at: profile.then_some(user.updated_at),
            email: email.then(|| user.email.clone()),
            email_verified: email.then_some(user.email_verified),
        }
    }
}

/// An ID token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// The client id.
    pub aud: String,
    /// Authorized party: the client id.
    pub azp: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// When the user authenticated.
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176 values; absent when unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The strength of that authentication, one of
    /// [`crate::assurance::ACR_VALUES`] (absent when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Echo of the request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The browser session the user signed in with (OpenID Connect
    /// Back-Channel Logout §2.1): logout tokens name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Half-hash of the access token (OIDC Core §3.1.3.6).
    pub at_hash: String,
    /// Profile and email claims that were granted.
    #[serde(flatten)]
    pub profile: ProfileClaims,
    /// The organization, for members (B2B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationClaim>,
}

/// OIDC Core §3.1.3.6: base64url of the left half of the hash of the
/// access token, with the hash of the ID token's `alg`: SHA-256 for RS256
/// and ES256; SHA-512 for EdDSA on Ed25519, the hash Ed25519 uses inside
/// (what the OpenID Connect errata set says and relying-party libraries
/// such as `openidconnect` check; decision 0036).
pub fn at_hash(alg: IdTokenAlg, access_token: &str) -> String {
    match alg {
        IdTokenAlg::Rs256 | IdTokenAlg::Es256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
        IdTokenAlg::EdDsa => {
            let digest = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_expanded_once() {
        let user = UserProfile {
            subject: "user-1".into(),
            email: "ada@example.com".into(),
            email_verified: false,
            name: "{{email}} {{sub}}".into(),
            updated_at: 0,
            organization: None,
        };
        let out = render_template(r#"{"who":"{{ name }}/{{sub}}","n":3}"#, &user);
        assert_eq!(out["who"], "{{email}} {{sub}}/user-1");
        assert_eq!(out["n"], 3);
    }

    use super::*;

    #[test]
    fn at_hash_is_half_of_the_algorithms_hash() {
        // OIDC Core Appendix A.3 example pair.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        for alg in [IdTokenAlg::Rs256, IdTokenAlg::Es256] {
            assert_eq!(at_hash(alg, token), "77QmUPtjPfzWtF2AnpK9RQ", "{alg:?}");
        }
        // The left 32 bytes of SHA-512, computed apart (`sha512sum`).
        assert_eq!(
            at_hash(IdTokenAlg::EdDsa, token),
            "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM"
        );
    }

    #[test]
    fn how_the_user_signed_in_is_not_a_template_claim() {
        for claim in ["acr", "amr"] {
            let t = format!(r#"{{"{claim}": "urn:keyhouse:acr:2fa"}}"#);
            assert!(super::validate_template(&t).is_err(), "{claim}");
        }
    }

    #[test]
    fn templates() {
        assert!(
            validate_template(r#"{"tenant": "acme-{{organization_slug}}", "tier": 2}"#).is_ok()
        );
        for bad in [
            r#"[1]"#,
            r#"{"sub": "x"}"#,
            r#"{"a": "{{password}}"}"#,
            r#"{"a": "{{email"}"#,
            "nope",
        ] {
            assert!(validate_template(bad).is_err(), "{bad}");
        }
        let user = UserProfile {
            subject: "member-1".into(),
            email: "a@example.com".into(),
            email_verified: false,
            name: "Ada".into(),
            updated_at: 0,
            organization: Some(OrganizationClaim {
                organization_id: "org-1".into(),
                slug: "acme".into(),
            }),
        };
        let out = render_template(
            r#"{"who": "{{name}} <{{email}}>", "org": "{{organization_slug}}", "n": 3}"#,
            &user,
        );
        assert_eq!(out["who"], "Ada <a@example.com>");
        assert_eq!(out["org"], "acme");
        assert_eq!(out["n"], 3);
    }

    #[test]
    fn claims_follow_scopes() {
        let user = UserProfile {
            subject: "user-1".into(),
            email: "a@example.com".into(),
            email_verified: false,
            name: "Ada".into(),
            updated_at: 5,
            organization: None,
        };
        let table = [
            ("openid", false, false),
            ("openid profile", true, false),
            ("openid email", false, true),
            ("openid profile email", true, true),
        ];
        for (scopes, name, email) in table {
            let c = ProfileClaims::for_scopes(&user, &ScopeSet::parse(scopes).unwrap_or_default());
            assert_eq!(c.name.is_some(), name, "{scopes}");
            assert_eq!(c.email.is_some(), email, "{scopes}");
        }
    }
}
