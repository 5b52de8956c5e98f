//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) as a
//! pipeline of small named checks.
//!
//! The types carry what has been proven: only a [`VerifiedRedirect`] can be
//! redirected to, and it can only be built by [`verify_client_redirect`],
//! after the client and its redirect URI have been matched. Errors before that
//! point are shown on a page, never redirected (RFC 9700 §4.11.2).

use keyhouse_types::{AuthorizeParams, ParamValue};
use url::Url;

use crate::assurance::Level;
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::resource::{self, ProtectedResource};
use crate::scope::{ScopeCatalog, ScopeSet};
use crate::{pkce, redirect_uri};

/// Longest `state` or `nonce` accepted.
pub const MAX_PARAM_LEN: usize = 2048;

/// The authorize parameters with duplicates refused.
#[derive(Debug, Clone)]
pub struct RawRequest {
    params: std::collections::BTreeMap<String, String>,
}

impl RawRequest {
    /// RFC 6749 §3.1: parameters must not be repeated. A repeated parameter
    /// is refused before anything else, so a duplicated `redirect_uri` can
    /// never be matched against one copy and redirected to with the other.
    pub fn from_params(params: &AuthorizeParams) -> Result<RawRequest, OAuthError> {
        let mut out = std::collections::BTreeMap::new();
        for (name, value) in params {
            match value {
                ParamValue::One(v) => {
                    out.insert(name.clone(), v.clone());
                }
                ParamValue::Many(v) if v.len() == 1 => {
                    out.insert(name.clone(), v[0].clone());
                }
                // An empty list is an absent parameter, not a repeated one.
                ParamValue::Many(v) if v.is_empty() => {}
                ParamValue::Many(_) => {
                    // docs/threat-model.md row 54: a fixed description; the
                    // attacker's text goes to the log only.
                    return Err(OAuthError::invalid_request("a parameter is repeated")
                        .with_debug(format!("repeated parameter {name:?}")));
                }
            }
        }
        Ok(RawRequest { params: out })
    }

    /// A parameter, with empty values treated as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The `client_id`, required before anything can be looked up.
    pub fn client_id(&self) -> Result<&str, OAuthError> {
        self.get("client_id")
            .ok_or_else(|| OAuthError::invalid_request("client_id is missing"))
    }
}

/// A redirect URI proven to be registered for the client: the only thing an
/// error or a code may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRedirect {
    /// The client the redirect belongs to.
    pub client_id: String,
    /// The redirect URI exactly as requested (and matched).
    pub redirect_uri: String,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
}

impl VerifiedRedirect {
    /// Builds the authorization response URL (RFC 6749 §4.1.2) with `iss`
    /// (RFC 9207) and `state`. Parameters are percent-encoded, so nothing a
    /// client sends can inject into a `Location` header.
    pub fn response_url(&self, issuer: &str, params: &[(&str, &str)]) -> String {
        let mut url = match Url::parse(&self.redirect_uri) {
            Ok(url) => url,
            // Unreachable: the URI was parsed at registration and matched
            // byte-exactly. Fall back to the plain string rather than panic.
            Err(_) => return self.redirect_uri.clone(),
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if let Some(state) = &self.state {
                q.append_pair("state", state);
            }
            q.append_pair("iss", issuer);
        }
        url.into()
    }

    /// An error response for the client (RFC 6749 §4.1.2.1).
    pub fn error_url(&self, issuer: &str, error: &OAuthError) -> String {
        let mut params = vec![("error", error.code.as_str())];
        if let Some(d) = &error.description {
            params.push(("error_description", d.as_str()));
        }
        self.response_url(issuer, &params)
    }
}

/// Matches the request's `redirect_uri` against the client's registered ones.
pub fn verify_client_redirect(
    raw: &RawRequest,
    client: &Client,
) -> Result<VerifiedRedirect, OAuthError> {
    let requested = raw
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
    let matched = redirect_uri::find_match(&client.redirect_uris, requested, client.is_public())
        .ok_or_else(|| {
            OAuthError::invalid_request(
                "redirect_uri is not registered for this client (it must match exactly)",
            )
        })?;
    let state = raw.get("state").map(str::to_owned);
    if state.as_ref().is_some_and(|s| s.len() > MAX_PARAM_LEN) {
        return Err(OAuthError::invalid_request("state is too long"));
    }
    debug_assert!(!matched.is_empty());
    Ok(VerifiedRedirect {
        client_id: client.id.clone(),
        redirect_uri: requested.to_owned(),
        state,
    })
}

/// The `prompt` parameter (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// `none`: no UI at all.
    pub none: bool,
    /// `login`: re-authenticate.
    pub login: bool,
    /// `consent`: ask again.
    pub consent: bool,
}

impl Prompt {
    fn parse(raw: Option<&str>) -> Result<Prompt, OAuthError> {
        let mut p = Prompt::default();
        for value in raw.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => {}
                other => {
                    return Err(OAuthError::invalid_request("unsupported prompt value")
                        .with_debug(format!("prompt value {other:?}")));
                }
            }
        }
        if p.none && (p.login || p.consent) {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(p)
    }
}

/// Settings of the deployment that the pipeline checks against.
#[derive(Debug, Clone)]
pub struct AuthorizePolicy<'a> {
    /// The scopes offered.
    pub catalog: &'a ScopeCatalog,
    /// Resource indicators (RFC 8707) tokens may be issued for.
    pub resources: &'a [String],
    /// The registered resources, for their default scopes.
    pub protected: &'a [ProtectedResource],
    /// The scopes a request naming none gets when neither its client nor
    /// its resource has a default (RFC 6749 §3.3); empty: `invalid_scope`.
    pub default_scopes: &'a [String],
}

/// A fully validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRequest {
    /// Where responses go.
    pub redirect: VerifiedRedirect,
    /// Requested scopes.
    pub scopes: ScopeSet,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// S256 PKCE challenge.
    pub code_challenge: Option<String>,
    /// prompt values.
    pub prompt: Prompt,
    /// max_age in seconds.
    pub max_age: Option<i64>,
    /// RFC 8707 resource.
    pub resource: Option<String>,
    /// login_hint, passed to the login page.
    pub login_hint: Option<String>,
    /// The weakest authentication `acr_values` accepts (`None`: any).
    pub acr: Option<Level>,
}

/// The error of the redirectable stage: sent to the verified redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    /// Where to send it.
    pub redirect: VerifiedRedirect,
    /// What went wrong.
    pub error: OAuthError,
}

/// Runs the checks that come after the redirect URI is verified; each
/// failure is reported to the client through its redirect URI.
pub fn validate(
    raw: &RawRequest,
    redirect: VerifiedRedirect,
    client: &Client,
    policy: &AuthorizePolicy<'_>,
) -> Result<ValidatedRequest, Box<RedirectError>> {
    match validate_inner(raw, client, policy) {
        Ok(parts) => Ok(ValidatedRequest {
            redirect,
            scopes: parts.scopes,
            nonce: parts.nonce,
            code_challenge: parts.code_challenge,
            prompt: parts.prompt,
            max_age: parts.max_age,
            resource: parts.resource,
            login_hint: parts.login_hint,
            acr: parts.acr,
        }),
        Err(error) => Err(Box::new(RedirectError { redirect, error })),
    }
}

struct Parts {
    scopes: ScopeSet,
    nonce: Option<String>,
    code_challenge: Option<String>,
    prompt: Prompt,
    max_age: Option<i64>,
    resource: Option<String>,
    login_hint: Option<String>,
    acr: Option<Level>,
}

fn validate_inner(
    raw: &RawRequest,
    client: &Client,
    policy: &AuthorizePolicy<'_>,
) -> Result<Parts, OAuthError> {
    check_response_type(raw)?;
    check_unsupported(raw)?;
    let resource = check_resource(raw.get("resource"), policy.resources)?;
    let defaults = || {
        let registered = resource
            .as_deref()
            .and_then(|r| policy.protected.iter().find(|p| p.uri == r));
        resource::default_scopes(&client.default_scopes, registered, policy.default_scopes)
    };
    let scopes = check_scopes(raw, policy.catalog, defaults)?;
    let code_challenge = check_pkce(raw, client)?;
    let prompt = Prompt::parse(raw.get("prompt"))?;
    let max_age = check_max_age(raw)?;
    let nonce = raw.get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_PARAM_LEN) {
        return Err(OAuthError::invalid_request("nonce is too long"));
    }
    let login_hint = raw.get("login_hint").map(str::to_owned);
    let acr_values = raw.get("acr_values");
    if acr_values.is_some_and(|a| a.len() > MAX_PARAM_LEN) {
        return Err(OAuthError::invalid_request("acr_values is too long"));
    }
    let acr = crate::assurance::demanded(acr_values);
    Ok(Parts {
        scopes,
        nonce,
        code_challenge,
        prompt,
        max_age,
        resource,
        login_hint,
        acr,
    })
}

/// `response_type` defaults to `code` (ChatGPT omits it); only `code` is
/// offered: the implicit grant is not (OAuth 2.1, docs/threat-model.md row 11).
fn check_response_type(raw: &RawRequest) -> Result<(), OAuthError> {
    match raw.get("response_type").unwrap_or("code") {
        "code" => {}
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    match raw.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(_) => Err(OAuthError::invalid_request(
            "only response_mode=query is supported",
        )),
    }
}

fn check_unsupported(raw: &RawRequest) -> Result<(), OAuthError> {
    if raw.get("request").is_some() || raw.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request objects are not supported",
        ));
    }
    Ok(())
}

/// The requested scopes; a request naming none (MCP clients often send
/// none) gets the default set instead of an error, as RFC 6749 §3.3 allows.
fn check_scopes(
    raw: &RawRequest,
    catalog: &ScopeCatalog,
    defaults: impl FnOnce() -> ScopeSet,
) -> Result<ScopeSet, OAuthError> {
    let scopes = match raw.get("scope") {
        Some(s) => ScopeSet::parse(s)?,
        None => defaults(),
    };
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "no scope requested",
        ));
    }
    catalog.check_known(&scopes)?;
    Ok(scopes)
}

/// PKCE: S256 only (`plain` is refused), required for public clients
/// (docs/threat-model.md row 8), optional for confidential ones (GPT Actions send none).
fn check_pkce(raw: &RawRequest, client: &Client) -> Result<Option<String>, OAuthError> {
    let challenge = raw.get("code_challenge");
    match (challenge, raw.get("code_challenge_method")) {
        (None, None) if client.is_public() => Err(OAuthError::invalid_request(
            "public clients must use PKCE (code_challenge with S256)",
        )),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method without code_challenge",
        )),
        // RFC 7636 §4.3 defaults a missing method to `plain`, which is refused.
        (Some(_), None | Some("plain")) => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        )),
        (Some(_), Some(m)) if m != "S256" => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        )),
        (Some(c), Some(_)) if !pkce::valid_challenge(c) => Err(OAuthError::invalid_request(
            "code_challenge must be 43 base64url characters",
        )),
        (Some(c), Some(_)) => Ok(Some(c.to_owned())),
    }
}

fn check_max_age(raw: &RawRequest) -> Result<Option<i64>, OAuthError> {
    raw.get("max_age")
        .map(|v| {
            v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                OAuthError::invalid_request("max_age must be a non-negative integer")
            })
        })
        .transpose()
}

/// RFC 8707 §2: an absolute URI without a fragment, and one this deployment
/// serves; otherwise `invalid_target`. A trailing slash or upper-case host
/// does not matter (the comparison is between canonical forms); the answer
/// is the resource as the deployment spells it, which becomes the `aud`.
pub fn check_resource(
    resource: Option<&str>,
    allowed: &[String],
) -> Result<Option<String>, OAuthError> {
    let Some(resource) = resource else {
        return Ok(None);
    };
    let refused = || {
        OAuthError::new(
            ErrorCode::InvalidTarget,
            "the requested resource is not served here",
        )
    };
    let wanted = resource::canonical_uri(resource).map_err(|_| refused())?;
    allowed
        .iter()
        .find(|a| resource::canonical_uri(a).is_ok_and(|c| c == wanted))
        .cloned()
        .map(Some)
        .ok_or_else(refused)
}

#[cfg(test)]
mod tests;
