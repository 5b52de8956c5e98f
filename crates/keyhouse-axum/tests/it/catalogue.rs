//! Rows of docs/threat-model.md that had no test of their own: incoming JWT
//! headers (rows 18 and 19), the absolute refresh-family lifetime (row 21),
//! `prompt=login` (row 34) and production cookie flags (row 27).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;

use common::{PASSWORD, get_json, params, userinfo, with};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keyhouse_types::ClientType;
use serde_json::{Value, json};

/// Claims our access tokens carry, for `user` on server `s`.
fn claims_for(s: &common::TestServer, user: &str) -> Value {
    let now = s.kh.now();
    json!({
        "iss": s.base, "sub": user, "aud": s.base, "client_id": "client-x",
        "scope": "openid", "exp": now + 600, "iat": now, "nbf": now, "jti": "at-forged",
        "fid": "fam-forged",
    })
}

async fn our_keys(s: &common::TestServer) -> Vec<Value> {
    get_json(s.url("/.well-known/jwks.json")).await["keys"]
        .as_array()
        .unwrap()
        .clone()
}

/// Row 18: HS256 with our own public key as the HMAC secret (the classic
/// algorithm confusion) is refused for every published key.
#[tokio::test]
async fn hs256_signed_with_our_public_key_is_refused() {
    let s = common::spawn().await;
    let user = s.user("ada@example.com").await;
    for jwk in our_keys(&s).await {
        let kid = jwk["kid"].as_str().unwrap().to_owned();
        // The forms an attacker would try as the "secret".
        let secrets = [
            serde_json::to_vec(&jwk).unwrap(),
            jwk.get("n")
                .or(jwk.get("x"))
                .unwrap()
                .as_str()
                .unwrap()
                .as_bytes()
                .to_vec(),
        ];
        for secret in secrets {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some(kid.clone());
            h.typ = Some("at+jwt".into());
            let token = jsonwebtoken::encode(
                &h,
                &claims_for(&s, &user.id),
                &EncodingKey::from_secret(&secret),
            )
            .unwrap();
            assert!(
                s.kh.verify_access_token(&token, None)
                    .await
                    .unwrap()
                    .is_none(),
                "HS256 with {kid}"
            );
            assert_eq!(userinfo(&s, &token).await.status(), 401);
        }
    }
}

/// An ES256 key of the attacker's, as PKCS#8 DER, with its public JWK.
fn attacker_key() -> (EncodingKey, Value) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let public = pair.public_key().as_ref();
    let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": enc(&public[1..33]), "y": enc(&public[33..65]),
                     "kid": "attacker", "alg": "ES256", "use": "sig"});
    (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

/// Rows 18 and 19: `jwk`, `jku` and `x5u` headers are never followed, and a
/// `kid` is looked up only in our own key set, whatever it contains.
#[tokio::test]
async fn key_headers_pointing_elsewhere_and_injected_kids_are_refused() {
    let s = common::spawn().await;
    let user = s.user("ada@example.com").await;
    let (key, jwk) = attacker_key();
    let our_es256 = our_keys(&s)
        .await
        .into_iter()
        .find(|k| k["alg"] == "ES256")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let embedded: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).unwrap();
    let mut headers = Vec::new();
    for kid in [our_es256.as_str(), "attacker"] {
        let mut h = Header::new(Algorithm::ES256);
        h.typ = Some("at+jwt".into());
        h.kid = Some(kid.to_owned());
        let mut with_jwk = h.clone();
        with_jwk.jwk = Some(embedded.clone());
        let mut with_jku = h.clone();
        with_jku.jku = Some("https://attacker.example/jwks.json".into());
        let mut with_x5u = h.clone();
        with_x5u.x5u = Some("https://attacker.example/cert.pem".into());
        headers.extend([with_jwk, with_jku, with_x5u]);
    }
    for kid in [
        "../../../../dev/null",
        "' OR '1'='1",
        "*",
        &"k".repeat(4096),
    ] {
        let mut h = Header::new(Algorithm::ES256);
        h.typ = Some("at+jwt".into());
        h.kid = Some(kid.to_owned());
        headers.push(h);
    }
    for h in headers {
        let token = jsonwebtoken::encode(&h, &claims_for(&s, &user.id), &key).unwrap();
        assert!(
            s.kh.verify_access_token(&token, None)
                .await
                .unwrap()
                .is_none(),
            "{h:?}"
        );
        assert_eq!(userinfo(&s, &token).await.status(), 401, "{h:?}");
    }
}

/// Row 21: a family ends at its absolute lifetime even when it is refreshed
/// well within the idle lifetime every time; the refresh just before the end
/// works, the one at the end does not.
#[tokio::test]
async fn a_refresh_family_ends_at_its_absolute_lifetime() {
    let s = common::spawn_with(
        |c| {
            c.refresh_token_ttl = 600;
            c.refresh_family_ttl = 1000;
        },
        true,
    )
    .await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client(ClientType::ThirdParty).await;
    let clock = s.clock.as_ref().unwrap();
    let t = common::tokens(&s, &b, &c, &[]).await;
    let mut rt = t["refresh_token"].as_str().unwrap().to_owned();
    for step in [500, 499] {
        clock.advance(step);
        let next = common::ok_json(common::refresh(&s, &c, &rt, None).await).await;
        rt = next["refresh_token"].as_str().unwrap().to_owned();
    }
    clock.advance(1);
    let res = common::refresh(&s, &c, &rt, None).await;
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");
}

/// Row 34: `prompt=login` needs a sign-in made for it: an older session is
/// sent to sign in again, a fresh one goes through.
#[tokio::test]
async fn prompt_login_forces_a_fresh_sign_in() {
    let s = common::spawn_with(|_| {}, true).await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let id = s.client(ClientType::FirstParty).await.client.id;
    let p = with(&params(&id), &[("prompt", "login")]);
    s.clock.as_ref().unwrap().advance(3600);
    let res = s.start(&b, &p).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "login_required");
    // Signing in again (what the login page does) satisfies it.
    let res = b
        .post(s.url("/api/session/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let q = s.code_for(&b, &p).await;
    assert!(q.contains_key("code"), "{q:?}");
}

/// Row 27: under an https issuer the user session cookie is `__Host-`
/// prefixed, `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`.
#[tokio::test]
async fn the_user_session_cookie_carries_the_production_flags() {
    let s = common::spawn_with(|c| c.issuer = "https://id.example".into(), false).await;
    s.user("ada@example.com").await;
    let res = reqwest::Client::new()
        .post(s.url("/api/session/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-keyhouse_session="), "{cookie}");
    for flag in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
}
