//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a client
//! authenticates with a JWT signed by a key it published, in its metadata
//! document (`jwks`) or at a URL the document names (`jwks_uri`, fetched
//! through the guarded fetcher). docs/threat-model.md rows 71–73.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keyhouse_core::client::Client;
use keyhouse_core::metadata_document::{KeySource, check_jwks};
use keyhouse_core::{ErrorCode, OAuthError};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use crate::Keyhouse;
use crate::error::store_error;

/// Seconds of clock difference tolerated.
pub const LEEWAY: i64 = 30;
/// The longest an assertion may live: its `jti` is remembered until then.
pub const MAX_LIFETIME: i64 = 3600;
/// A `jwks_uri` whose set lacks the `kid` asked for is fetched again, but
/// not more often than this (a stream of made-up `kid`s cannot make
/// Keyhouse fetch for every request).
pub const REFETCH_AFTER: Duration = Duration::from_secs(10);

/// Signature algorithms accepted: asymmetric only. `none` and the HMAC
/// family are refused before any key is looked at, so a public key can
/// never be used as an HMAC secret.
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The names of [`ALGORITHMS`], for discovery.
pub const ALGORITHM_NAMES: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Where a `private_key_jwt` client's keys are: a set from its document,
/// read once when the document is, or a `jwks_uri`.
#[derive(Debug)]
pub(crate) enum ClientKeys {
    /// `jwks`, parsed (or why it could not be: refused at the first
    /// assertion, like a bad key set behind a `jwks_uri`).
    Inline(Result<Arc<JwkSet>, String>),
    /// `jwks_uri`.
    Uri(Url),
}

impl From<KeySource> for ClientKeys {
    fn from(source: KeySource) -> ClientKeys {
        match source {
            KeySource::Inline(v) => ClientKeys::Inline(parse_set(&v)),
            KeySource::Uri(u) => ClientKeys::Uri(u),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
}

fn failed(why: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, "client authentication failed").with_debug(why)
}

impl Keyhouse {
    /// Verifies `assertion` as `client`'s `private_key_jwt`: an accepted
    /// algorithm, a signature by one of its published keys, `iss` and `sub`
    /// the client, `aud` this issuer or one of its endpoints, not expired,
    /// not living longer than [`MAX_LIFETIME`], and a `jti` never seen
    /// before (recorded in the database, so across instances too).
    pub(crate) async fn verify_client_assertion(
        &self,
        client: &Client,
        assertion: &str,
    ) -> Result<(), OAuthError> {
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|e| failed(format!("assertion header: {e}")))?;
        // `none` and HS* are refused before any key is used, so a public key
        // can never serve as an HMAC secret.
        if !ALGORITHMS.contains(&header.alg) {
            return Err(failed(format!("assertion algorithm {:?}", header.alg)));
        }
        let keys = self.published_keys(client, header.kid.as_deref()).await?;
        let validation = assertion_validation(&self.config().issuer, client, header.alg);
        let claims = decode_with_any(assertion, &keys, &validation)?;
        let exp = check_times(&claims, self.now())?;
        self.first_use(client, claims.jti, exp).await
    }

    /// The client's published keys that may have signed: those with the
    /// header's `kid`, or all. An unknown `kid` fetches a `jwks_uri` again
    /// (at most every [`REFETCH_AFTER`]), for a client that rotated its keys.
    async fn published_keys(
        &self,
        client: &Client,
        kid: Option<&str>,
    ) -> Result<Vec<DecodingKey>, OAuthError> {
        let document = self.metadata_document(&client.id).await?;
        let source = document
            .keys
            .as_ref()
            .ok_or_else(|| failed(format!("{} published no keys", client.id)))?;
        let mut set = self.key_set(source, false).await?;
        if candidates(&set, kid).is_empty() && matches!(source, ClientKeys::Uri(_)) {
            set = self.key_set(source, true).await?;
        }
        let keys = candidates(&set, kid);
        if keys.is_empty() {
            return Err(failed(format!("no published key matches kid {kid:?}")));
        }
        Ok(keys)
    }

    /// RFC 7523 §3 item 7: each `jti` is accepted once. Recorded in the
    /// database until the assertion expires, so a replay fails on any
    /// instance.
    async fn first_use(
        &self,
        client: &Client,
        jti: Option<String>,
        exp: i64,
    ) -> Result<(), OAuthError> {
        let jti = jti
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| failed("assertion has no jti"))?;
        let key = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{}\n{jti}", client.id)));
        if !self
            .store()
            .record_client_assertion(&key, exp + LEEWAY)
            .await
            .map_err(store_error)?
        {
            tracing::warn!(client_id = %client.id, "client assertion replayed");
            return Err(failed("assertion already used"));
        }
        Ok(())
    }

    /// The key set of `source`: inline, or fetched from `jwks_uri` and kept
    /// as its caching headers say within the metadata bounds. `refresh`
    /// fetches again unless the set is younger than [`REFETCH_AFTER`].
    async fn key_set(&self, source: &ClientKeys, refresh: bool) -> Result<Arc<JwkSet>, OAuthError> {
        let uri = match source {
            ClientKeys::Inline(set) => return set.clone().map_err(failed),
            ClientKeys::Uri(u) => u,
        };
        let cached = self
            .0
            .agents
            .key_sets
            .lock()
            .ok()
            .and_then(|m| m.get(uri.as_str()).cloned());
        if let Some((set, fetched, until)) = cached {
            let fresh = until > Instant::now();
            if fresh && (!refresh || fetched.elapsed() < REFETCH_AFTER) {
                return set.map_err(failed);
            }
        }
        let fetched = self.fetcher()?.get_json(uri).await.map_err(|e| {
            tracing::warn!(jwks_uri = %uri, error = %e, "client key set refused");
            failed(format!("jwks_uri {uri}: {e}"))
        })?;
        check_jwks(&fetched.body).map_err(|e| failed(format!("jwks_uri {uri}: {e}")))?;
        let ttl = self.config().agents.cache_lifetime(fetched.max_age);
        // Kept even when unreadable, so a bad set is not fetched again for
        // every assertion.
        let set = parse_set(&fetched.body);
        if let Ok(mut m) = self.0.agents.key_sets.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(
                uri.as_str().to_owned(),
                (set.clone(), Instant::now(), Instant::now() + ttl),
            );
        }
        set.map_err(failed)
    }
}

fn parse_set(v: &Value) -> Result<Arc<JwkSet>, String> {
    JwkSet::deserialize(v)
        .map(Arc::new)
        .map_err(|e| format!("unreadable key set: {e}"))
}

/// The keys an assertion may be signed with: the one its `kid` names, or
/// every key when it names none.
/// RFC 7523 §3: `iss` and `sub` the client, `aud` this issuer or one of
/// the endpoints that take client authentication. Times are checked apart,
/// against Keyhouse's clock ([`check_times`]).
fn assertion_validation(issuer: &str, client: &Client, alg: jsonwebtoken::Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_audience(&[
        issuer.to_owned(),
        format!("{issuer}/oauth2/token"),
        format!("{issuer}/oauth2/revoke"),
        format!("{issuer}/oauth2/introspect"),
    ]);
    validation.set_issuer(&[&client.id]);
    validation.sub = Some(client.id.clone());
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation
}

/// The claims, from the first key whose signature verifies.
fn decode_with_any(
    assertion: &str,
    keys: &[DecodingKey],
    validation: &Validation,
) -> Result<Claims, OAuthError> {
    let mut last = String::new();
    for key in keys {
        match jsonwebtoken::decode::<Claims>(assertion, key, validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => last = e.to_string(),
        }
    }
    Err(failed(format!("assertion refused: {last}")))
}

/// `exp` present, not passed and at most [`MAX_LIFETIME`] ahead; `nbf` and
/// `iat` not in the future ([`LEEWAY`] either way). Returns `exp`.
fn check_times(claims: &Claims, now: i64) -> Result<i64, OAuthError> {
    let exp = claims.exp.ok_or_else(|| failed("assertion has no exp"))?;
    if exp + LEEWAY <= now {
        return Err(failed("assertion expired"));
    }
    if exp > now + MAX_LIFETIME + LEEWAY {
        return Err(failed("assertion lives longer than an hour"));
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY)
        || claims.iat.is_some_and(|iat| iat > now + LEEWAY)
    {
        return Err(failed("assertion is not valid yet"));
    }
    Ok(exp)
}

fn candidates(set: &JwkSet, kid: Option<&str>) -> Vec<DecodingKey> {
    set.keys
        .iter()
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .collect()
}
