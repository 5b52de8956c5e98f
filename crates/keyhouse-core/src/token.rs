//! Token endpoint requests (RFC 6749 §4.1.3, §4.4.2, §6) and client
//! authentication (RFC 6749 §2.3.1).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{ErrorCode, OAuthError};
use crate::scope::ScopeSet;

/// A token request, one variant per grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// `grant_type=authorization_code`.
    AuthorizationCode {
        /// The code.
        code: String,
        /// Must equal the one of the authorization request.
        redirect_uri: Option<String>,
        /// PKCE verifier.
        code_verifier: Option<String>,
        /// RFC 8707 resource, must equal the one of the code if both are set.
        resource: Option<String>,
    },
    /// `grant_type=refresh_token`.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
        /// A narrower scope, if asked.
        scope: Option<ScopeSet>,
        /// RFC 8707 resource: must be the family's.
        resource: Option<String>,
    },
    /// `grant_type=client_credentials`.
    ClientCredentials {
        /// Requested scope.
        scope: Option<ScopeSet>,
        /// RFC 8707 resource.
        resource: Option<String>,
    },
}

/// Most parameters a token, revocation or introspection form may carry.
pub const MAX_FORM_PARAMS: usize = 32;

/// Form parameters with duplicates refused (RFC 6749 §3.2: "Request and
/// response parameters MUST NOT be included more than once").
#[derive(Debug, Clone, Default)]
pub struct Form(BTreeMap<String, String>);

impl Form {
    /// Collects decoded pairs.
    pub fn from_pairs<I>(pairs: I) -> Result<Form, OAuthError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            // No token request has more than a dozen parameters; thousands
            // are refused before anything else is read.
            if map.len() >= MAX_FORM_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request("a parameter is repeated")
                    .with_debug(format!("repeated parameter {k:?}")));
            }
            map.insert(k, v);
        }
        Ok(Form(map))
    }

    /// A parameter; empty means absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<String, OAuthError> {
        self.get(name)
            .map(str::to_owned)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
    }

    fn scope(&self) -> Result<Option<ScopeSet>, OAuthError> {
        self.get("scope").map(ScopeSet::parse).transpose()
    }
}

impl TokenRequest {
    /// The grant type of the request.
    pub fn grant_type(&self) -> crate::client::GrantType {
        use crate::client::GrantType;
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }

    /// Reads the grant from the form.
    pub fn parse(form: &Form) -> Result<TokenRequest, OAuthError> {
        match form.get("grant_type") {
            Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
                code: form.required("code")?,
                redirect_uri: form.get("redirect_uri").map(str::to_owned),
                code_verifier: form.get("code_verifier").map(str::to_owned),
                resource: form.get("resource").map(str::to_owned),
            }),
            Some("refresh_token") => Ok(TokenRequest::RefreshToken {
                refresh_token: form.required("refresh_token")?,
                scope: form.scope()?,
                resource: form.get("resource").map(str::to_owned),
            }),
            Some("client_credentials") => Ok(TokenRequest::ClientCredentials {
                scope: form.scope()?,
                resource: form.get("resource").map(str::to_owned),
            }),
            // docs/threat-model.md row 11: the password and implicit grants are not offered.
            Some(_) => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "supported grant types: authorization_code, refresh_token, client_credentials",
            )),
            None => Err(OAuthError::invalid_request("grant_type is missing")),
        }
    }
}

/// How the client said who it is.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`.
    Basic {
        /// client_id.
        client_id: String,
        /// client_secret.
        secret: String,
    },
    /// `client_secret_post`.
    Post {
        /// client_id.
        client_id: String,
        /// client_secret.
        secret: String,
    },
    /// `none`: a public client naming itself.
    None {
        /// client_id.
        client_id: String,
    },
    /// `private_key_jwt` (RFC 7523 §2.2): a JWT the client signed.
    Jwt {
        /// client_id: the form's, else the assertion's `sub`.
        client_id: String,
        /// The compact JWT, not yet verified.
        assertion: String,
    },
}

/// RFC 7523 §2.2's `client_assertion_type`.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (method, id) = match self {
            ClientAuth::Basic { client_id, .. } => ("client_secret_basic", client_id),
            ClientAuth::Post { client_id, .. } => ("client_secret_post", client_id),
            ClientAuth::None { client_id } => ("none", client_id),
            ClientAuth::Jwt { client_id, .. } => ("private_key_jwt", client_id),
        };
        write!(f, "ClientAuth({method}, {id}, secret: [redacted])")
    }
}

impl ClientAuth {
    /// The client id the request names.
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuth::Basic { client_id, .. }
            | ClientAuth::Post { client_id, .. }
            | ClientAuth::None { client_id }
            | ClientAuth::Jwt { client_id, .. } => client_id,
        }
    }

    /// The RFC 7591 name of the method.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::Basic { .. } => "client_secret_basic",
            ClientAuth::Post { .. } => "client_secret_post",
            ClientAuth::None { .. } => "none",
            ClientAuth::Jwt { .. } => "private_key_jwt",
        }
    }

    /// The secret, for the methods that carry one.
    pub fn secret(&self) -> Option<&str> {
        match self {
            ClientAuth::Basic { secret, .. } | ClientAuth::Post { secret, .. } => Some(secret),
            ClientAuth::None { .. } | ClientAuth::Jwt { .. } => None,
        }
    }

    /// Reads client authentication from the `Authorization` header and the
    /// form. RFC 6749 §2.3: a client must not use more than one method.
    pub fn extract(authorization: Option<&str>, form: &Form) -> Result<ClientAuth, OAuthError> {
        let post_id = form.get("client_id");
        let post_secret = form.get("client_secret");
        if let Some(kind) = form.get("client_assertion_type") {
            if kind != JWT_BEARER_ASSERTION {
                return Err(invalid_client("unsupported client_assertion_type"));
            }
            if authorization.is_some() || post_secret.is_some() {
                return Err(invalid_client("use one client authentication method"));
            }
            let assertion = form
                .get("client_assertion")
                .filter(|a| !a.is_empty() && a.len() <= MAX_ASSERTION_LEN)
                .ok_or_else(|| invalid_client("client_assertion is missing or too long"))?;
            let sub = assertion_subject(assertion)
                .ok_or_else(|| invalid_client("client_assertion is not a JWT with a sub"))?;
            if post_id.is_some_and(|id| id != sub) {
                return Err(invalid_client("client_id does not match the assertion"));
            }
            return Ok(ClientAuth::Jwt {
                client_id: sub,
                assertion: assertion.to_owned(),
            });
        }
        if form.get("client_assertion").is_some() {
            return Err(invalid_client("client_assertion_type is missing"));
        }
        match authorization {
            Some(header) => {
                if post_secret.is_some() {
                    return Err(invalid_client("use one client authentication method"));
                }
                let (client_id, secret) = parse_basic(header)?;
                if post_id.is_some_and(|id| id != client_id) {
                    return Err(invalid_client("client_id does not match"));
                }
                Ok(ClientAuth::Basic { client_id, secret })
            }
            None => match (post_id, post_secret) {
                (Some(id), Some(secret)) => Ok(ClientAuth::Post {
                    client_id: id.to_owned(),
                    secret: secret.to_owned(),
                }),
                (Some(id), None) => Ok(ClientAuth::None {
                    client_id: id.to_owned(),
                }),
                (None, _) => Err(invalid_client("client authentication is missing")),
            },
        }
    }
}

/// Longest client assertion read, bytes.
pub const MAX_ASSERTION_LEN: usize = 8 * 1024;

/// The `sub` of a compact JWT, read without verifying anything: only to
/// learn which client's keys to verify it with.
fn assertion_subject(jwt: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = jwt.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn invalid_client(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
pub fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let (scheme, value) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| invalid_client("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client(
            "only Basic client authentication is supported",
        ));
    }
    let decoded = STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
    let id = form_decode(id)?;
    let secret = form_decode(secret)?;
    if id.is_empty() {
        return Err(invalid_client("malformed Basic credentials"));
    }
    Ok((id, secret))
}

fn form_decode(s: &str) -> Result<String, OAuthError> {
    let replaced = s.replace('+', " ");
    percent_decode(&replaced).ok_or_else(|| invalid_client("malformed Basic credentials"))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::from_pairs(pairs.iter().map(|(k, v)| ((*k).into(), (*v).into()))).unwrap_or_default()
    }

    #[test]
    fn grant_table() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<&'a str, ErrorCode>);
        let table: [Case; 7] = [
            (
                &[("grant_type", "authorization_code"), ("code", "x")],
                Ok("code"),
            ),
            (
                &[("grant_type", "authorization_code")],
                Err(ErrorCode::InvalidRequest),
            ),
            (
                &[("grant_type", "refresh_token"), ("refresh_token", "r")],
                Ok("refresh"),
            ),
            (&[("grant_type", "client_credentials")], Ok("cc")),
            (
                &[("grant_type", "password"), ("username", "a")],
                Err(ErrorCode::UnsupportedGrantType),
            ),
            (
                &[("grant_type", "implicit")],
                Err(ErrorCode::UnsupportedGrantType),
            ),
            (&[], Err(ErrorCode::InvalidRequest)),
        ];
        for (pairs, expected) in table {
            let got = TokenRequest::parse(&form(pairs)).map(|r| match r {
                TokenRequest::AuthorizationCode { .. } => "code",
                TokenRequest::RefreshToken { .. } => "refresh",
                TokenRequest::ClientCredentials { .. } => "cc",
            });
            assert_eq!(got.map_err(|e| e.code), expected, "{pairs:?}");
        }
    }

    #[test]
    fn repeated_form_parameter_is_refused() {
        let pairs = vec![
            ("code".to_owned(), "a".to_owned()),
            ("code".to_owned(), "b".to_owned()),
        ];
        assert!(Form::from_pairs(pairs).is_err());
    }

    #[test]
    fn basic_table() {
        let enc = |s: &str| format!("Basic {}", STANDARD.encode(s));
        let table = [
            (enc("client:secret"), Some(("client", "secret"))),
            (enc("cl%3Aient:se%2Bcret+x"), Some(("cl:ient", "se+cret x"))),
            (enc("client:with:colon"), Some(("client", "with:colon"))),
            (enc(":secret"), None),
            (enc("nocolon"), None),
            ("Bearer abc".to_owned(), None),
            ("Basic !!!".to_owned(), None),
            (enc("client:bad%zz"), None),
        ];
        for (header, expected) in table {
            let got = parse_basic(&header).ok();
            let expected = expected.map(|(a, b)| (a.to_owned(), b.to_owned()));
            assert_eq!(got, expected, "{header}");
        }
    }

    #[test]
    fn one_method_only() {
        let basic = format!("Basic {}", STANDARD.encode("c:s"));
        let both = form(&[("client_secret", "s")]);
        assert!(ClientAuth::extract(Some(&basic), &both).is_err());
        let post = form(&[("client_id", "c"), ("client_secret", "s")]);
        assert!(matches!(
            ClientAuth::extract(None, &post),
            Ok(ClientAuth::Post { .. })
        ));
        let none = form(&[("client_id", "c")]);
        assert!(matches!(
            ClientAuth::extract(None, &none),
            Ok(ClientAuth::None { .. })
        ));
        let debug = format!("{:?}", ClientAuth::extract(None, &post));
        assert!(!debug.contains("\"s\""), "{debug}");
    }

    #[test]
    fn a_client_assertion_names_its_client_and_excludes_other_methods() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"https://a.example/c.json"}"#)
        );
        let ok = form(&[
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", &jwt),
        ]);
        match ClientAuth::extract(None, &ok) {
            Ok(ClientAuth::Jwt { client_id, .. }) => {
                assert_eq!(client_id, "https://a.example/c.json");
            }
            other => panic!("{other:?}"),
        }
        let refused = [
            form(&[
                ("client_assertion_type", "urn:other"),
                ("client_assertion", &jwt),
            ]),
            form(&[("client_assertion_type", JWT_BEARER_ASSERTION)]),
            form(&[("client_assertion", &jwt)]),
            form(&[
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", &jwt),
                ("client_secret", "s"),
            ]),
            form(&[
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", &jwt),
                ("client_id", "someone-else"),
            ]),
            form(&[
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", "not-a-jwt"),
            ]),
        ];
        for f in refused {
            assert!(ClientAuth::extract(None, &f).is_err());
        }
        let basic = format!("Basic {}", STANDARD.encode("c:s"));
        assert!(ClientAuth::extract(Some(&basic), &ok).is_err());
    }
}
