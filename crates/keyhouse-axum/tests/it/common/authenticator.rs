//! A software WebAuthn authenticator for the integration tests, written
//! from the specification (W3C WebAuthn Level 3 §6: authenticator data,
//! the "none" attestation, assertions; RFC 8152 COSE keys; RFC 8949 CBOR),
//! independently of the library the server verifies with. It makes ES256
//! credentials (P-256 with aws-lc) and answers the server's options the
//! way a browser's `PublicKeyCredential.toJSON()` does. Each knob it has
//! is a way to lie: another origin, no user verification, an old counter,
//! another user handle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// User present.
pub const UP: u8 = 0x01;
/// User verified (a PIN or biometric).
pub const UV: u8 = 0x04;
/// Attested credential data follows.
const AT: u8 = 0x40;

/// One credential on a software authenticator.
pub struct SoftPasskey {
    key: EcdsaKeyPair,
    /// The credential id.
    pub id: Vec<u8>,
    /// The user handle the server gave at registration.
    pub user_handle: Vec<u8>,
    /// The RP ID it is bound to.
    pub rp_id: String,
    /// The signature counter, bumped before each assertion.
    pub counter: u32,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// CBOR (RFC 8949): the few shapes an attestation object needs.
fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn cbor_int(v: i64, out: &mut Vec<u8>) {
    if v >= 0 {
        cbor_head(0, v as u64, out);
    } else {
        cbor_head(1, (-1 - v) as u64, out);
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len() as u64, out);
    out.extend_from_slice(b);
}

fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

/// What to say in a ceremony's client data and authenticator data.
#[derive(Clone)]
pub struct Ceremony {
    /// `clientDataJSON.origin`.
    pub origin: String,
    /// The authenticator data flags (user present and verified by default).
    pub flags: u8,
}

impl Ceremony {
    pub fn at(origin: &str) -> Ceremony {
        Ceremony {
            origin: origin.to_owned(),
            flags: UP | UV,
        }
    }
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": kind,
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": false,
    }))
    .unwrap()
}

impl SoftPasskey {
    /// Answers `navigator.credentials.create()` options (`{"publicKey": …}`
    /// as the server sent them): a new credential, and the browser's JSON.
    pub fn create(options: &Value, how: &Ceremony) -> (SoftPasskey, Value) {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().expect("rp.id").to_owned();
        let challenge = pk["challenge"].as_str().expect("challenge");
        let user_handle = unb64(pk["user"]["id"].as_str().expect("user.id"));
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let id: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
        let passkey = SoftPasskey {
            key,
            id,
            user_handle,
            rp_id,
            counter: 0,
        };
        let json = passkey.registration(challenge, how);
        (passkey, json)
    }

    /// The registration response for `challenge` (also to replay one).
    pub fn registration(&self, challenge: &str, how: &Ceremony) -> Value {
        // COSE_Key (RFC 8152 §13.1.1): kty EC2, alg ES256, crv P-256, x, y.
        let point = self.key.public_key().as_ref();
        assert_eq!(point.len(), 65, "uncompressed P-256 point");
        let mut cose = Vec::new();
        cbor_head(5, 5, &mut cose);
        for (k, v) in [(1, 2), (3, -7), (-1, 1)] {
            cbor_int(k, &mut cose);
            cbor_int(v, &mut cose);
        }
        cbor_int(-2, &mut cose);
        cbor_bytes(&point[1..33], &mut cose);
        cbor_int(-3, &mut cose);
        cbor_bytes(&point[33..65], &mut cose);

        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(how.flags | AT);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none
        auth_data.extend((self.id.len() as u16).to_be_bytes());
        auth_data.extend(&self.id);
        auth_data.extend(cose);

        let mut attestation = Vec::new();
        cbor_head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        cbor_head(5, 0, &mut attestation);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);

        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data("webauthn.create", challenge, &how.origin)),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers `navigator.credentials.get()` options: an assertion with the
    /// next counter value.
    pub fn get(&mut self, options: &Value, how: &Ceremony) -> Value {
        self.counter += 1;
        self.assertion(options, how, self.counter, &self.user_handle.clone())
    }

    /// An assertion with a chosen counter and user handle.
    pub fn assertion(&self, options: &Value, how: &Ceremony, counter: u32, handle: &[u8]) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge");
        let client_data = client_data("webauthn.get", challenge, &how.origin);
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(how.flags);
        auth_data.extend(counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = self.key.sign(&SystemRandom::new(), &signed).expect("sign");
        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(handle),
            },
            "clientExtensionResults": {},
        })
    }
}
