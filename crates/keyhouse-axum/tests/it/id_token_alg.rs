//! Each client's `id_token_signed_response_alg` (decision 0036): ID tokens
//! in RS256 (the default), ES256 or EdDSA, checked against the published
//! JWKS by `jsonwebtoken`; refused algorithms in dynamic registration; the
//! EdDSA keys added to a key set from before they existed, once, however
//! many instances start together; rotation of every algorithm.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use keyhouse_axum::oauth::keys::{Keys, generate_key};
use keyhouse_axum::{ClientSpec, MasterKey, SigningAlg};
use keyhouse_core::ClientType;
use keyhouse_core::client::IdTokenAlg;
use keyhouse_store::{Store, StoredKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

/// A confidential client whose ID tokens use `alg`.
async fn client_signed_with(s: &TestServer, alg: IdTokenAlg) -> keyhouse_axum::CreatedClient {
    let mut spec = ClientSpec::new("Partner", ClientType::ThirdParty, vec![REDIRECT.to_owned()]);
    spec.id_token_alg = alg;
    s.client_with(spec).await
}

/// Verifies `token` with the key its `kid` names in the server's JWKS,
/// allowing `alg` only; the claims and that key.
async fn verified_with_jwks(
    s: &TestServer,
    token: &str,
    alg: jsonwebtoken::Algorithm,
) -> (Value, Value) {
    let jwks = get_json(s.url("/.well-known/jwks.json")).await;
    let head = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(head.alg, alg);
    let kid = head.kid.expect("a kid");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("{kid} is not in the JWKS"))
        .clone();
    let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&parsed).unwrap();
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_audience(&[claims(token)["aud"].as_str().unwrap()]);
    v.set_issuer(&[s.kh.config().issuer.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap_or_else(|e| panic!("{alg:?} token refused: {e}"))
        .claims;
    (claims, jwk)
}

/// OIDC Core §3.1.3.6, computed here apart from the server's code: the left
/// half of SHA-256 (RS256, ES256) or SHA-512 (EdDSA on Ed25519).
fn expected_at_hash(alg: IdTokenAlg, access_token: &str) -> String {
    match alg {
        IdTokenAlg::EdDsa => URL_SAFE_NO_PAD.encode(&Sha512::digest(access_token.as_bytes())[..32]),
        _ => URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16]),
    }
}

#[tokio::test]
async fn each_client_gets_id_tokens_in_its_algorithm_verified_against_the_jwks() {
    let s = spawn().await;
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let default = s.client(ClientType::ThirdParty).await;
    assert_eq!(
        default.client.id_token_alg,
        IdTokenAlg::Rs256,
        "RS256 unless asked"
    );
    let cases = [
        (
            &default,
            IdTokenAlg::Rs256,
            jsonwebtoken::Algorithm::RS256,
            ("RSA", None),
        ),
        (
            &client_signed_with(&s, IdTokenAlg::Es256).await,
            IdTokenAlg::Es256,
            jsonwebtoken::Algorithm::ES256,
            ("EC", Some("P-256")),
        ),
        (
            &client_signed_with(&s, IdTokenAlg::EdDsa).await,
            IdTokenAlg::EdDsa,
            jsonwebtoken::Algorithm::EdDSA,
            ("OKP", Some("Ed25519")),
        ),
    ];
    for (c, alg, jwt_alg, (kty, crv)) in cases {
        let t = tokens(&s, &b, c, &[]).await;
        let id_token = t["id_token"].as_str().unwrap();
        let access = t["access_token"].as_str().unwrap();
        assert_eq!(header(id_token)["alg"], alg.as_str());
        assert_eq!(header(id_token)["typ"], "JWT");
        let (claims, jwk) = verified_with_jwks(&s, id_token, jwt_alg).await;
        assert_eq!(jwk["kty"], kty, "{alg:?}");
        assert_eq!(jwk["alg"], alg.as_str());
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk.get("crv").and_then(Value::as_str), crv);
        assert_eq!(claims["aud"], c.client.id.as_str());
        assert_eq!(claims["nonce"], "n-456");
        assert_eq!(claims["at_hash"], expected_at_hash(alg, access), "{alg:?}");
        // The access token is the deployment's, whatever the ID token's.
        assert_eq!(header(access)["alg"], "ES256");
        assert_eq!(userinfo(&s, access).await.status(), 200);
    }
}

/// An Ed25519 public key is 32 bytes, its signature 64 (RFC 8037).
#[tokio::test]
async fn eddsa_keys_and_signatures_have_the_rfc_8037_shapes() {
    let s = spawn().await;
    let jwks = get_json(s.url("/.well-known/jwks.json")).await;
    let okp: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "OKP")
        .collect();
    assert_eq!(okp.len(), 2, "current and next");
    for k in &okp {
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["alg"], "EdDSA");
        let x = URL_SAFE_NO_PAD.decode(k["x"].as_str().unwrap()).unwrap();
        assert_eq!(x.len(), 32);
        assert!(k.get("d").is_none(), "no private part");
    }
    let token =
        s.kh.keys()
            .sign(
                SigningAlg::EdDsa,
                "JWT",
                &json!({"iss": s.kh.config().issuer, "sub": "x", "exp": 4_000_000_000i64}),
            )
            .unwrap();
    let sig = URL_SAFE_NO_PAD
        .decode(token.rsplit('.').next().unwrap())
        .unwrap();
    assert_eq!(sig.len(), 64);
    // Our own verifier takes it when EdDSA is allowed, and only then.
    let ok: Option<Value> =
        s.kh.keys()
            .verify(
                &token,
                "JWT",
                &SigningAlg::ID_TOKEN,
                &s.kh.config().issuer,
                None,
                s.kh.now(),
            )
            .await;
    assert!(ok.is_some());
    let refused: Option<Value> =
        s.kh.keys()
            .verify(
                &token,
                "JWT",
                &[SigningAlg::Rs256, SigningAlg::Es256],
                &s.kh.config().issuer,
                None,
                s.kh.now(),
            )
            .await;
    assert!(refused.is_none());
}

// ------------------------------------------------- dynamic registration

fn open_registration() -> impl FnOnce(&mut keyhouse_axum::Config) {
    |c| c.agents.registration = keyhouse_axum::config::RegistrationPolicy::Open
}

async fn register(s: &TestServer, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.url("/oauth2/register"))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn registration(alg: Option<Value>) -> Value {
    let mut r = json!({
        "client_name": "Agent",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    if let Some(a) = alg {
        r["id_token_signed_response_alg"] = a;
    }
    r
}

#[tokio::test]
async fn registration_refuses_none_hmac_and_unknown_algorithms_and_writes_nothing() {
    let s = spawn_with(open_registration(), false).await;
    let before = s.kh.store().list_clients().await.unwrap().len();
    for bad in [
        json!("none"),
        json!("HS256"),
        json!("HS512"),
        json!("PS512"),
        json!("RS512"),
        json!("eddsa"),
        json!(""),
        json!(256),
        json!(["RS256"]),
    ] {
        let res = register(&s, &registration(Some(bad.clone()))).await;
        assert_eq!(
            error_of(res).await,
            (400, "invalid_client_metadata".to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        s.kh.store().list_clients().await.unwrap().len(),
        before,
        "no row written"
    );
}

#[tokio::test]
async fn a_registration_names_its_algorithm_and_reads_it_back() {
    let s = spawn_with(open_registration(), false).await;
    let plain: Value = register(&s, &registration(None))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain["id_token_signed_response_alg"], "RS256", "{plain}");

    let res = register(&s, &registration(Some(json!("EdDSA")))).await;
    assert_eq!(res.status(), 201);
    let reg: Value = res.json().await.unwrap();
    assert_eq!(reg["id_token_signed_response_alg"], "EdDSA", "{reg}");
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let stored = s.kh.store().find_client(&id).await.unwrap().unwrap();
    assert_eq!(stored.id_token_alg, IdTokenAlg::EdDsa);

    // RFC 7592: read, then replace with ES256; a refused value changes nothing.
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    let token = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let read = ok_json(http.get(&uri).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(read["id_token_signed_response_alg"], "EdDSA");
    let mut update = registration(Some(json!("ES256")));
    update["client_id"] = json!(id);
    let updated = ok_json(
        http.put(&uri)
            .bearer_auth(&token)
            .json(&update)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(updated["id_token_signed_response_alg"], "ES256");
    update["id_token_signed_response_alg"] = json!("none");
    let res = http
        .put(&uri)
        .bearer_auth(&token)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(res).await,
        (400, "invalid_client_metadata".to_owned())
    );
    let stored = s.kh.store().find_client(&id).await.unwrap().unwrap();
    assert_eq!(stored.id_token_alg, IdTokenAlg::Es256);

    // The registered client's ID token is signed with it.
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let code = code(&s, &b, &id, &[]).await;
    let t = ok_json(
        http.post(s.url("/oauth2/token"))
            .basic_auth(&id, reg["client_secret"].as_str())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    verified_with_jwks(
        &s,
        t["id_token"].as_str().unwrap(),
        jsonwebtoken::Algorithm::ES256,
    )
    .await;
}

// ------------------------------------------------- the key set

async fn execute(store: &Store, sql: &str) {
    sea_orm::ConnectionTrait::execute_unprepared(store.connection(), sql)
        .await
        .unwrap();
}

/// (alg, state) → kids, for the keys still published.
async fn key_table(store: &Store) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = store
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.alg, k.state, k.kid))
        .collect();
    v.sort();
    v
}

fn count(table: &[(String, String, String)], alg: &str, state: &str) -> usize {
    table
        .iter()
        .filter(|(a, s, _)| a == alg && s == state)
        .count()
}

/// A database made by a version without EdDSA: its key set has RS256 and
/// ES256 only. Several instances then start on it at once.
#[tokio::test]
async fn a_key_set_from_before_eddsa_gets_its_keys_once_however_many_instances_start() {
    let master = MasterKey::from_bytes(rand::random());
    let (url, dir) = fresh_database().await;
    let first = spawn_on(&url, master.clone()).await;
    execute(
        first.kh.store(),
        "DELETE FROM signing_keys WHERE alg = 'EdDSA'",
    )
    .await;
    let older = key_table(first.kh.store()).await;
    assert_eq!(older.len(), 4, "{older:?}");
    drop(first);

    // Four instances, each with its own connections, load at once: each
    // finds EdDSA missing before any has added it (their candidate keys
    // are made first), and the store lets one install them.
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Store::connect(&url).await.unwrap());
    }
    let mut candidates: Vec<Vec<StoredKey>> = Vec::new();
    for _ in &stores {
        candidates.push(vec![
            generate_key(&master, SigningAlg::EdDsa, "current", 1).unwrap(),
            generate_key(&master, SigningAlg::EdDsa, "next", 1).unwrap(),
        ]);
    }
    let installs = futures::future::join_all(
        stores
            .iter()
            .zip(&candidates)
            .map(|(store, keys)| store.install_missing_keys(keys)),
    )
    .await;
    let installed: Vec<Vec<String>> = installs.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        installed.iter().filter(|i| !i.is_empty()).count(),
        1,
        "one instance installs: {installed:?}"
    );
    let table = key_table(&stores[0]).await;
    assert_eq!(count(&table, "EdDSA", "current"), 1, "{table:?}");
    assert_eq!(count(&table, "EdDSA", "next"), 1, "{table:?}");
    let others: Vec<_> = table
        .iter()
        .filter(|(a, _, _)| a != "EdDSA")
        .cloned()
        .collect();
    assert_eq!(others, older, "RS256 and ES256 untouched");

    // The same again through `Keys::load`, the path a start takes, on a
    // set whose EdDSA keys are gone again: two instances at once.
    execute(&stores[0], "DELETE FROM signing_keys WHERE alg = 'EdDSA'").await;
    let (a, b) = tokio::join!(
        Keys::load(stores[0].clone(), master.clone(), 2),
        Keys::load(stores[1].clone(), master.clone(), 2)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let table = key_table(&stores[0]).await;
    assert_eq!(count(&table, "EdDSA", "current"), 1, "{table:?}");
    assert_eq!(count(&table, "EdDSA", "next"), 1, "{table:?}");
    assert_eq!(table.len(), 6);
    // Both sign with the one current EdDSA key.
    let kid = |k: &Keys| {
        let t = k.sign(SigningAlg::EdDsa, "JWT", &json!({})).unwrap();
        header(&t)["kid"].as_str().unwrap().to_owned()
    };
    assert_eq!(kid(&a), kid(&b));
    // A later start adds nothing.
    Keys::load(stores[2].clone(), master.clone(), 3)
        .await
        .unwrap();
    assert_eq!(key_table(&stores[0]).await, table, "idempotent");

    // A server on it signs an EdDSA client's ID tokens with that key.
    let s = spawn_on(&url, master).await;
    s.user("ada@example.com").await;
    let browser = s.signed_in("ada@example.com").await;
    let c = client_signed_with(&s, IdTokenAlg::EdDsa).await;
    let t = tokens(&s, &browser, &c, &[]).await;
    let id_token = t["id_token"].as_str().unwrap();
    assert_eq!(header(id_token)["kid"].as_str().unwrap(), kid(&a));
    verified_with_jwks(&s, id_token, jsonwebtoken::Algorithm::EdDSA).await;
    for store in stores {
        store.close().await.unwrap();
    }
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test]
async fn a_rotation_rotates_every_algorithm_eddsa_included() {
    let s = spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = client_signed_with(&s, IdTokenAlg::EdDsa).await;
    let before = key_table(s.kh.store()).await;
    assert_eq!(before.len(), 6);
    let kid_of = |t: &Value| {
        header(t["id_token"].as_str().unwrap())["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let old = tokens(&s, &b, &c, &[]).await;
    let old_kid = kid_of(&old);
    let next_kid = before
        .iter()
        .find(|(a, st, _)| a == "EdDSA" && st == "next")
        .map(|(_, _, k)| k.clone())
        .unwrap();

    s.kh.rotate_keys().await.unwrap();

    let after = key_table(s.kh.store()).await;
    for alg in ["RS256", "ES256", "EdDSA"] {
        for state in ["retiring", "current", "next"] {
            assert_eq!(count(&after, alg, state), 1, "{alg} {state}: {after:?}");
        }
    }
    let jwks = get_json(s.url("/.well-known/jwks.json")).await;
    let published: BTreeSet<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(published.len(), 9);
    assert!(
        published.contains(old_kid.as_str()),
        "the retiring EdDSA key stays published"
    );
    let new = tokens(&s, &b, &c, &[]).await;
    assert_eq!(kid_of(&new), next_kid, "the published next key now signs");
    for t in [&old, &new] {
        verified_with_jwks(
            &s,
            t["id_token"].as_str().unwrap(),
            jsonwebtoken::Algorithm::EdDSA,
        )
        .await;
    }
}
