//! Signing keys: generation, encryption at rest, rotation, JWKS, signing and
//! verification.
//!
//! Keys live in the database so every instance signs with the same set.
//! Parsed keys are cached in memory and reloaded periodically (and on an
//! unknown `kid`). jsonwebtoken 11's `encode` re-parses the private key DER on
//! every call (1.6–2.6× the cost of a signature), so signing uses the same
//! aws-lc-rs primitives jsonwebtoken's `aws_lc_rs` backend uses, on keys
//! parsed once; verification goes through `jsonwebtoken::decode` with an
//! explicit algorithm allow-list.
//!
//! Three algorithms, each with its own `next`, `current` and `retiring`
//! keys: RS256 and ES256 since the start, EdDSA (Ed25519) since ID tokens
//! can be signed with the client's registered algorithm (decision 0036).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keyhouse_core::client::IdTokenAlg;
use keyhouse_store::{Store, StoredKey};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::Keyhouse;
use crate::http::prebuilt::Prebuilt;

/// How long clients and caches may keep the JWKS document (`max-age`):
/// short, so a verifier that meets an unknown `kid` after a rotation finds
/// it at the next fetch.
pub(crate) const JWKS_MAX_AGE: u32 = 60;

/// A key-handling failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Crypto failed (generation, parsing, signing).
    #[error("crypto: {0}")]
    Crypto(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] keyhouse_store::StoreError),
    /// No current key for an algorithm.
    #[error("no current {0} signing key")]
    NoKey(&'static str),
    /// The master key file could not be read or written.
    #[error("master key: {0}")]
    MasterKey(String),
}

fn crypto<E: std::fmt::Debug>(e: E) -> KeyError {
    KeyError::Crypto(format!("{e:?}"))
}

/// The 256-bit key that encrypts private keys at rest and keys the client
/// secret hashes.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// From 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    /// From base64 (standard or url-safe) of 32 bytes.
    pub fn from_base64(s: &str) -> Result<MasterKey, KeyError> {
        let s = s.trim();
        let bytes = STANDARD
            .decode(s)
            .or_else(|_| URL_SAFE_NO_PAD.decode(s))
            .map_err(|_| KeyError::MasterKey("not base64".into()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::MasterKey("must be 32 bytes".into()))?;
        Ok(MasterKey(arr))
    }

    /// Reads the key file, or creates it (mode 0600) with a random key.
    ///
    /// The file appears whole or not at all (written under a temporary name,
    /// then linked into place, never over an existing file), so processes
    /// starting together on one key file agree: the ones that lose the race
    /// read the winner's key. On a file system without hard links the file
    /// is created exclusively in place instead, and a process that finds it
    /// still being written waits for it to be whole.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, KeyError> {
        MasterKey::load_or_create_with(path, |from, to| std::fs::hard_link(from, to))
    }

    fn load_or_create_with(
        path: &Path,
        link: impl Fn(&Path, &Path) -> std::io::Result<()>,
    ) -> Result<MasterKey, KeyError> {
        let failed = |e: std::io::Error| KeyError::MasterKey(format!("{}: {e}", path.display()));
        match std::fs::read_to_string(path) {
            Ok(_) => read_whole_key(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                aws_lc_rs::rand::fill(&mut bytes).map_err(crypto)?;
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| KeyError::MasterKey(e.to_string()))?;
                }
                let encoded = STANDARD.encode(bytes);
                let mut tmp = path.as_os_str().to_owned();
                tmp.push(format!(".{:016x}.tmp", rand::random::<u64>()));
                let tmp = std::path::PathBuf::from(tmp);
                write_private(&tmp, &encoded)?;
                let linked = link(&tmp, path);
                let _ = std::fs::remove_file(&tmp);
                let linked = match linked {
                    // No hard links here (some network and FAT file
                    // systems): create the file itself, exclusively.
                    Err(e) if no_hard_links(&e) => {
                        tracing::warn!(path = %path.display(), error = %e, "no hard links on this file system: the master key file is created in place");
                        write_private_in_place(path, &encoded)
                    }
                    other => other,
                };
                match linked {
                    Ok(()) => Ok(MasterKey(bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_whole_key(path),
                    Err(e) => Err(failed(e)),
                }
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// The key for client-secret hashes, derived so the two uses never share
    /// a key.
    pub fn client_secret_key(&self) -> Vec<u8> {
        keyhouse_core::secret::hash_client_secret(&self.0, "keyhouse client secrets v1")
            .into_bytes()
    }

    /// Seals a short secret for storage (AES-256-GCM with a random nonce);
    /// `context` names its use and row and must be given again to open it.
    pub(crate) fn seal(&self, context: &str, plain: &[u8]) -> Result<String, KeyError> {
        self.encrypt(context, plain)
    }

    /// Opens what [`MasterKey::seal`] sealed with the same `context`.
    pub(crate) fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        self.decrypt(context, sealed)
    }

    fn encrypt(&self, kid: &str, plain: &[u8]) -> Result<String, KeyError> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, &self.0).map_err(crypto)?;
        let mut data = plain.to_vec();
        let nonce = key
            .seal_in_place_append_tag(Aad::from(kid.as_bytes()), &mut data)
            .map_err(crypto)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&data);
        Ok(STANDARD.encode(out))
    }

    fn decrypt(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, &self.0).map_err(crypto)?;
        let raw = STANDARD.decode(sealed).map_err(crypto)?;
        if raw.len() < 12 {
            return Err(KeyError::Crypto("sealed key too short".into()));
        }
        let (nonce, rest) = raw.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(crypto)?;
        let mut buf = rest.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf)
            .map_err(|_| {
                KeyError::Crypto("cannot decrypt a signing key: wrong master key?".into())
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| KeyError::MasterKey(format!("{}: {e}", path.display())))?;
    f.write_all(content.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| KeyError::MasterKey(e.to_string()))
}

/// Whether a failed hard link means the file system has none.
fn no_hard_links(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::Unsupported | std::io::ErrorKind::PermissionDenied
    ) || e.raw_os_error() == Some(95) // EOPNOTSUPP on Linux
}

/// Creates `path` exclusively (mode 0600 on Unix) with `content`.
fn write_private_in_place(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// Reads the key file, waiting up to two seconds for one that another
/// process is still writing in place (empty or short meanwhile).
fn read_whole_key(path: &Path) -> Result<MasterKey, KeyError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let s = std::fs::read_to_string(path)
            .map_err(|e| KeyError::MasterKey(format!("{}: {e}", path.display())))?;
        match MasterKey::from_base64(&s) {
            Ok(key) => return Ok(key),
            Err(_) if s.trim().len() < 43 && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> Result<(), KeyError> {
    std::fs::write(path, content).map_err(|e| KeyError::MasterKey(e.to_string()))
}

/// The signature algorithms Keyhouse signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: OIDC's mandatory ID-token algorithm.
    Rs256,
    /// ECDSA P-256 with SHA-256: the default for access tokens.
    Es256,
    /// EdDSA with Ed25519 (RFC 8037): for ID tokens of clients that
    /// registered it.
    EdDsa,
}

impl SigningAlg {
    /// Every algorithm the key set holds keys for.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa];

    /// The algorithms an ID token may be signed with: every client's
    /// choice, for verifying an `id_token_hint`.
    pub const ID_TOKEN: [SigningAlg; 3] = SigningAlg::ALL;

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name.
    pub fn parse(s: &str) -> Option<SigningAlg> {
        SigningAlg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    fn jwt(self) -> Algorithm {
        match self {
            SigningAlg::Rs256 => Algorithm::RS256,
            SigningAlg::Es256 => Algorithm::ES256,
            SigningAlg::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl From<IdTokenAlg> for SigningAlg {
    fn from(alg: IdTokenAlg) -> SigningAlg {
        match alg {
            IdTokenAlg::Rs256 => SigningAlg::Rs256,
            IdTokenAlg::Es256 => SigningAlg::Es256,
            IdTokenAlg::EdDsa => SigningAlg::EdDsa,
        }
    }
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct SigningKey {
    kid: String,
    alg: SigningAlg,
    signer: Signer,
}

struct VerifyKey {
    alg: SigningAlg,
    key: DecodingKey,
}

struct KeySet {
    signing: HashMap<SigningAlg, Arc<SigningKey>>,
    verify: HashMap<String, Arc<VerifyKey>>,
    jwks: Arc<serde_json::Value>,
    /// `jwks` as the endpoint sends it.
    jwks_document: Prebuilt,
    loaded_at: std::time::Instant,
}

/// The key set of this deployment, cached.
#[derive(Clone)]
pub struct Keys {
    store: Store,
    master: MasterKey,
    set: Arc<RwLock<Arc<KeySet>>>,
    rng: SystemRandom,
    /// One reload at a time for unknown `kid`s (docs/threat-model.md row 56).
    reload_lane: Arc<tokio::sync::Mutex<()>>,
    /// Key-set reads from the database, for metrics and tests.
    reloads: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys")
    }
}

/// Generates a key and seals its private half.
pub fn generate_key(
    master: &MasterKey,
    alg: SigningAlg,
    state: &str,
    now: i64,
) -> Result<StoredKey, KeyError> {
    let mut rng = rand::rng();
    let kid = keyhouse_core::secret::generate_id(&alg.as_str().to_ascii_lowercase(), &mut rng);
    let (pkcs8, jwk) = match alg {
        SigningAlg::Rs256 => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(crypto)?;
            let der = kp.as_der().map_err(crypto)?;
            let public = kp.public_key();
            let jwk = json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            });
            (der.as_ref().to_vec(), jwk)
        }
        SigningAlg::Es256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(crypto)?;
            let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .map_err(crypto)?;
            let point = kp.public_key().as_ref();
            if point.len() != 65 || point[0] != 4 {
                return Err(KeyError::Crypto("unexpected EC point encoding".into()));
            }
            let jwk = json!({
                "kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            });
            (doc.as_ref().to_vec(), jwk)
        }
        SigningAlg::EdDsa => {
            let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(crypto)?;
            let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(crypto)?;
            let public = kp.public_key().as_ref();
            if public.len() != 32 {
                return Err(KeyError::Crypto("unexpected Ed25519 key length".into()));
            }
            // RFC 8037 §2: an Octet Key Pair, `x` the raw public key.
            let jwk = json!({
                "kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": kid, "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(public),
            });
            (doc.as_ref().to_vec(), jwk)
        }
    };
    Ok(StoredKey {
        private_key: master.encrypt(&kid, &pkcs8)?,
        kid,
        alg: alg.as_str().to_owned(),
        state: state.to_owned(),
        public_jwk: jwk.to_string(),
        created_at: now,
        activated_at: (state == "current").then_some(now),
        retire_at: None,
    })
}

fn decoding_key(jwk: &serde_json::Value) -> Result<DecodingKey, KeyError> {
    let field = |k: &str| jwk.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    match field("kty") {
        "RSA" => DecodingKey::from_rsa_components(field("n"), field("e")).map_err(crypto),
        "EC" => DecodingKey::from_ec_components(field("x"), field("y")).map_err(crypto),
        "OKP" if field("crv") == "Ed25519" => {
            DecodingKey::from_ed_components(field("x")).map_err(crypto)
        }
        other => Err(KeyError::Crypto(format!(
            "unsupported key {other} {}",
            field("crv")
        ))),
    }
}

impl Keys {
    /// Loads the key set, first adding a current and a next key for each
    /// algorithm that has none: every algorithm on an empty database, and
    /// an algorithm a newer version brought (EdDSA) on an older one. Several
    /// instances may start at once: the store installs each key once (see
    /// [`Store::install_missing_keys`]).
    pub async fn load(store: Store, master: MasterKey, now: i64) -> Result<Keys, KeyError> {
        Keys::install_missing(&store, &master, now).await?;
        let set = build_set(&store, &master).await?;
        Ok(Keys {
            store,
            master,
            set: Arc::new(RwLock::new(Arc::new(set))),
            rng: SystemRandom::new(),
            reload_lane: Arc::new(tokio::sync::Mutex::new(())),
            reloads: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        })
    }

    /// Generates a `current` and a `next` key for each algorithm the stored
    /// set lacks one of, and has the store install those still lacking;
    /// the `kid`s installed. Nothing is generated when the set is whole, so
    /// a start does not pay for RSA key generation.
    async fn install_missing(
        store: &Store,
        master: &MasterKey,
        now: i64,
    ) -> Result<Vec<String>, KeyError> {
        let stored = store.list_keys().await?;
        let mut candidates = Vec::new();
        for alg in SigningAlg::ALL {
            for state in ["current", "next"] {
                let present = stored
                    .iter()
                    .any(|k| k.alg == alg.as_str() && k.state == state);
                if !present {
                    candidates.push(generate_key(master, alg, state, now)?);
                }
            }
        }
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let installed = store.install_missing_keys(&candidates).await?;
        for k in candidates.iter().filter(|k| installed.contains(&k.kid)) {
            tracing::info!(kid = %k.kid, alg = %k.alg, state = %k.state, "signing key added");
        }
        Ok(installed)
    }

    /// Re-reads the key set from the database.
    pub async fn reload(&self) -> Result<(), KeyError> {
        self.reloads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let set = build_set(&self.store, &self.master).await?;
        if let Ok(mut guard) = self.set.write() {
            *guard = Arc::new(set);
        }
        Ok(())
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.set.read().ok().map(|g| Arc::clone(&g))
    }

    /// The JWKS document: every non-retired key, `next` and `retiring` included.
    pub fn jwks(&self) -> Arc<serde_json::Value> {
        self.current()
            .map(|s| Arc::clone(&s.jwks))
            .unwrap_or_else(|| Arc::new(json!({"keys": []})))
    }

    /// [`Keys::jwks`] serialised, with its entity tag: built when the key
    /// set is (re)loaded, not per request.
    pub(crate) fn jwks_document(&self) -> Prebuilt {
        self.current()
            .map(|s| s.jwks_document.clone())
            .unwrap_or_else(|| Prebuilt::json(&json!({"keys": []}), JWKS_MAX_AGE))
    }

    /// Signs `claims` as a compact JWS with the current key for `alg`.
    pub fn sign<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        let set = self.current().ok_or(KeyError::NoKey(alg.as_str()))?;
        let key = set.signing.get(&alg).ok_or(KeyError::NoKey(alg.as_str()))?;
        let header = json!({"alg": key.alg.as_str(), "typ": typ, "kid": key.kid});
        let mut out = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(crypto)?);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(crypto)?));
        let signature = match &key.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut sig)
                    .map_err(crypto)?;
                sig
            }
            Signer::Ec(kp) => kp
                .sign(&self.rng, out.as_bytes())
                .map_err(crypto)?
                .as_ref()
                .to_vec(),
            // RFC 8037 §3.1: the 64-byte Ed25519 signature of the signing input.
            Signer::Ed(kp) => kp
                .try_sign(out.as_bytes())
                .map_err(crypto)?
                .as_ref()
                .to_vec(),
        };
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(out)
    }

    /// Verifies a JWT of type `typ` signed by one of our keys and decodes
    /// its claims.
    ///
    /// The `kid` is looked up only in our own key set (docs/threat-model.md row 19);
    /// the algorithm must be the key's own and in `allowed` (row 18: no
    /// `none`, no HMAC with a public key, `jku`/`x5u`/`jwk` headers are never
    /// followed); `exp`/`nbf` must be numeric and are checked against `now`
    /// (the instance's clock, not the wall clock) with 30 s leeway (row 20).
    pub async fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        allowed: &[SigningAlg],
        issuer: &str,
        audiences: Option<&[String]>,
        now: i64,
    ) -> Option<T> {
        let claims = self
            .signed_claims(token, typ, allowed, issuer, audiences)
            .await?;
        const LEEWAY: i64 = 30;
        if claims.get("exp")?.as_i64()? <= now - LEEWAY {
            return None;
        }
        if let Some(nbf) = claims.get("nbf")
            && nbf.as_i64()? > now + LEEWAY
        {
            return None;
        }
        serde_json::from_value(claims).ok()
    }

    /// [`Keys::verify`] without the time checks: for an `id_token_hint`,
    /// which names a session whether or not the ID token has expired
    /// (RP-Initiated Logout §2). Signature, key, algorithm, type and issuer
    /// are checked the same.
    pub async fn verify_ignoring_expiry<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        allowed: &[SigningAlg],
        issuer: &str,
    ) -> Option<T> {
        let claims = self
            .signed_claims(token, typ, allowed, issuer, None)
            .await?;
        serde_json::from_value(claims).ok()
    }

    /// The claims of a token signed by one of our keys, with its header,
    /// algorithm and issuer checked; no time checks.
    async fn signed_claims(
        &self,
        token: &str,
        typ: &str,
        allowed: &[SigningAlg],
        issuer: &str,
        audiences: Option<&[String]>,
    ) -> Option<serde_json::Value> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        // RFC 8725 §3.11 / RFC 9068 §4: the type keeps an ID token from
        // passing as an access token.
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return None;
        }
        let kid = header.kid?;
        let key = match self.verify_key(&kid) {
            Some(k) => k,
            None => {
                self.reload_if_stale().await;
                self.verify_key(&kid)?
            }
        };
        if !allowed.contains(&key.alg) || header.alg != key.alg.jwt() {
            return None;
        }
        let mut validation = Validation::new(key.alg.jwt());
        // jsonwebtoken compares exp/nbf with the wall clock; they are checked
        // below against `now` so an instance with another clock agrees with itself.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        match audiences {
            Some(auds) => validation.set_audience(auds),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation)
            .ok()
            .map(|d| d.claims)
    }

    fn verify_key(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        self.current()?.verify.get(kid).cloned()
    }

    /// How many times the key set was read from the database.
    pub fn reload_count(&self) -> u64 {
        self.reloads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reloads for an unknown `kid`, at most once per 5 s and single-flight:
    /// a burst of tokens with made-up `kid`s waits for one reload instead of
    /// each reading the key table (docs/threat-model.md row 56).
    async fn reload_if_stale(&self) {
        let stale = || {
            self.current()
                .is_none_or(|s| s.loaded_at.elapsed() > std::time::Duration::from_secs(5))
        };
        if !stale() {
            return;
        }
        let _lane = self.reload_lane.lock().await;
        // Whoever held the lane before us may have just reloaded.
        if !stale() {
            return;
        }
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "reloading signing keys failed");
            // A failing database must not be asked again by every request:
            // keep the old set and wait the interval again.
            if let Ok(mut guard) = self.set.write() {
                let old = Arc::clone(&guard);
                *guard = Arc::new(KeySet {
                    signing: old.signing.clone(),
                    verify: old.verify.clone(),
                    jwks: Arc::clone(&old.jwks),
                    jwks_document: old.jwks_document.clone(),
                    loaded_at: std::time::Instant::now(),
                });
            }
        }
    }

    /// Rotates every algorithm's keys (see [`Store::rotate_keys`]); `retire_at`
    /// should be past the longest lifetime of anything the old key signed.
    pub async fn rotate(
        store: &Store,
        master: &MasterKey,
        now: i64,
        retire_at: i64,
    ) -> Result<Vec<StoredKey>, KeyError> {
        let mut fresh = Vec::new();
        for alg in SigningAlg::ALL {
            fresh.push(generate_key(master, alg, "next", now)?);
        }
        store.rotate_keys(&fresh, now, retire_at).await?;
        store.retire_keys(now).await?;
        Ok(fresh)
    }
}

async fn build_set(store: &Store, master: &MasterKey) -> Result<KeySet, KeyError> {
    let stored = store.list_keys().await?;
    let mut signing = HashMap::new();
    let mut verify = HashMap::new();
    let mut jwks = Vec::new();
    for k in &stored {
        let Some(alg) = SigningAlg::parse(&k.alg) else {
            tracing::warn!(kid = %k.kid, alg = %k.alg, "skipping a key with an unknown algorithm");
            continue;
        };
        let jwk: serde_json::Value = serde_json::from_str(&k.public_jwk).map_err(crypto)?;
        verify.insert(
            k.kid.clone(),
            Arc::new(VerifyKey {
                alg,
                key: decoding_key(&jwk)?,
            }),
        );
        jwks.push(jwk);
        if k.state == "current" {
            let der = master.decrypt(&k.kid, &k.private_key)?;
            let signer = match alg {
                SigningAlg::Rs256 => Signer::Rsa(RsaKeyPair::from_pkcs8(&der).map_err(crypto)?),
                SigningAlg::Es256 => Signer::Ec(
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                        .map_err(crypto)?,
                ),
                SigningAlg::EdDsa => Signer::Ed(Ed25519KeyPair::from_pkcs8(&der).map_err(crypto)?),
            };
            // With several current keys for one algorithm (a rotation racing
            // a load), the newest wins: `stored` is oldest first.
            signing.insert(
                alg,
                Arc::new(SigningKey {
                    kid: k.kid.clone(),
                    alg,
                    signer,
                }),
            );
        }
    }
    let jwks = json!({ "keys": jwks });
    Ok(KeySet {
        signing,
        verify,
        jwks_document: Prebuilt::json(&jwks, JWKS_MAX_AGE),
        jwks: Arc::new(jwks),
        loaded_at: std::time::Instant::now(),
    })
}

impl Keyhouse {
    /// Rotates the signing keys; the retiring ones stay published until
    /// every token they signed has expired.
    pub async fn rotate_keys(&self) -> Result<(), KeyError> {
        let now = self.now();
        let longest = self.config().id_token_ttl.max(crate::MAX_ACCESS_TOKEN_TTL);
        Keys::rotate(self.store(), self.master_key(), now, now + longest + 60).await?;
        self.keys().reload().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Instances starting together on one key file all get the one key
    /// (the file appears whole; the losers read it).
    #[test]
    fn processes_creating_the_key_file_together_agree_on_one_key() {
        for round in 0..20 {
            let dir = std::env::temp_dir().join(format!(
                "keyhouse-master-{}-{round}-{:x}",
                std::process::id(),
                rand::random::<u32>()
            ));
            let path = dir.join("keyhouse.key");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let keys: Vec<[u8; 32]> = (0..8)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        MasterKey::load_or_create(&path).unwrap().0
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            assert!(keys.iter().all(|k| *k == keys[0]), "round {round}");
            assert_eq!(MasterKey::load_or_create(&path).unwrap().0, keys[0]);
            // Nothing left beside it.
            assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// The same on a file system without hard links (the link refused as
    /// it would be there): the file is created in place, and the
    /// processes still agree.
    #[test]
    fn without_hard_links_the_key_file_is_created_in_place_and_agreed_on() {
        let no_link = |_: &Path, _: &Path| -> std::io::Result<()> {
            Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
        };
        for round in 0..20 {
            let dir = std::env::temp_dir().join(format!(
                "keyhouse-master-nolink-{}-{round}-{:x}",
                std::process::id(),
                rand::random::<u32>()
            ));
            let path = dir.join("keyhouse.key");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let keys: Vec<[u8; 32]> = (0..8)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        MasterKey::load_or_create_with(&path, no_link).unwrap().0
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            assert!(keys.iter().all(|k| *k == keys[0]), "round {round}");
            assert_eq!(MasterKey::load_or_create(&path).unwrap().0, keys[0]);
            assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
