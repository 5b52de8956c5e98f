//! What tokens are good for afterwards: userinfo, introspection (RFC 7662),
//! revocation (RFC 7009), ID token contents (docs/threat-model.md row 35), key
//! rotation and client deletion.
#![allow(clippy::unwrap_used)]
use crate::common;

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{
    CHALLENGE, REDIRECT, TestServer, VERIFIER, active, claims, client_credentials, code,
    exchange_with, get_json, header, header_str, introspect, refresh, tokens, userinfo,
    with_client,
};
use keyhouse_axum::{ClientSpec, CreatedClient};
use keyhouse_core::ClientType;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn kid(jwt: &str) -> String {
    header(jwt)["kid"].as_str().unwrap().to_owned()
}

fn at(t: &Value) -> &str {
    t["access_token"].as_str().unwrap()
}

fn rt(t: &Value) -> &str {
    t["refresh_token"].as_str().unwrap()
}

async fn revoke(s: &TestServer, c: &CreatedClient, token: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(s.url("/oauth2/revoke"))
        .form(&with_client(c, &[("token", token)]))
        .send()
        .await
        .unwrap()
        .status()
}

async fn refresh_status(s: &TestServer, c: &CreatedClient, token: &str) -> u16 {
    refresh(s, c, token, None).await.status().as_u16()
}

async fn setup() -> (TestServer, reqwest::Client, CreatedClient) {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client(ClientType::ThirdParty).await;
    (s, b, c)
}

#[tokio::test]
async fn userinfo_releases_claims_by_scope() {
    let (s, b, c) = setup().await;
    let user = s.find_user("ada@example.com").await.unwrap();

    let t = tokens(&s, &b, &c, &[("scope", "openid")]).await;
    let res = userinfo(&s, at(&t)).await;
    assert_eq!(res.status(), 200);
    let u: Value = res.json().await.unwrap();
    assert_eq!(u["sub"], user.id.as_str());
    assert_eq!(
        u.as_object().unwrap().len(),
        1,
        "openid alone: sub only: {u}"
    );

    let t = tokens(&s, &b, &c, &[("scope", "openid email")]).await;
    let u: Value = userinfo(&s, at(&t)).await.json().await.unwrap();
    assert_eq!(u["email"], "ada@example.com");
    assert_eq!(u["email_verified"], false);
    assert!(u.get("name").is_none(), "{u}");

    let t = tokens(&s, &b, &c, &[("scope", "openid profile")]).await;
    let u: Value = userinfo(&s, at(&t)).await.json().await.unwrap();
    assert_eq!(u["name"], "Ada Lovelace");
    assert!(u["updated_at"].is_i64());
    assert!(u.get("email").is_none(), "{u}");

    // POST works as well (OIDC Core §5.3.1).
    let t = tokens(&s, &b, &c, &[("scope", "openid profile email")]).await;
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/userinfo"))
        .bearer_auth(at(&t))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let u: Value = res.json().await.unwrap();
    assert_eq!(u["sub"], user.id.as_str());
    assert_eq!(u["name"], "Ada Lovelace");
    assert_eq!(u["email"], "ada@example.com");

    // Without openid: 403 insufficient_scope.
    let t = tokens(&s, &b, &c, &[("scope", "notes:read")]).await;
    assert!(t.get("id_token").is_none());
    let res = userinfo(&s, at(&t)).await;
    assert_eq!(res.status(), 403);
    let challenge = header_str(&res, "www-authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"openid\""), "{challenge}");
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "insufficient_scope");
}

#[tokio::test]
async fn userinfo_refuses_bad_tokens() {
    let (s, b, c) = setup().await;
    let t = tokens(&s, &b, &c, &[]).await;
    let good = at(&t);

    // No token: 401 with a bare Bearer challenge (RFC 6750 §3.1).
    let res = reqwest::Client::new()
        .get(s.url("/oauth2/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = header_str(&res, "www-authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");

    // A tampered payload, a forged alg=none token, garbage, the refresh
    // token, the ID token and a token for another audience.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut payload = claims(good);
    payload["sub"] = Value::from("user-someone-else");
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = parts.join(".");
    let none_header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#,
        kid(good)
    ));
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let api_token = tokens(&s, &b, &c, &[("resource", "https://api.example/")]).await;
    let id_token = t["id_token"].as_str().unwrap();
    // Algorithm confusion: HS256 keyed with what is public about our key
    // (the JWK as published, and its coordinates or modulus), under our kid.
    let jwks = common::get_json(s.url("/.well-known/jwks.json")).await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid(good).as_str())
        .expect("the token's key is published")
        .clone();
    let mut hmac_forgeries = Vec::new();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid(good));
    let mut secrets = vec![jwk.to_string()];
    for field in ["x", "y", "n"] {
        if let Some(v) = jwk[field].as_str() {
            secrets.push(v.to_owned());
        }
    }
    for secret in secrets {
        let forged = jsonwebtoken::encode(
            &header,
            &claims(good),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        hmac_forgeries.push(forged);
    }
    for forged in &hmac_forgeries {
        let res = userinfo(&s, forged).await;
        assert_eq!(res.status(), 401, "HS256 under our kid: {forged}");
    }
    for bad in [
        tampered.as_str(),
        alg_none.as_str(),
        "garbage",
        rt(&t),
        id_token,
        at(&api_token),
    ] {
        let res = userinfo(&s, bad).await;
        assert_eq!(res.status(), 401, "{bad}");
        let challenge = header_str(&res, "www-authenticate");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_token");
    }
    // Basic instead of Bearer.
    let res = reqwest::Client::new()
        .get(s.url("/oauth2/userinfo"))
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The genuine token still works.
    assert_eq!(userinfo(&s, good).await.status(), 200);
}

#[tokio::test]
async fn introspection_describes_live_tokens() {
    let (s, b, c) = setup().await;
    let user = s.find_user("ada@example.com").await.unwrap();
    let t = tokens(&s, &b, &c, &[]).await;

    let i = introspect(&s, &c, at(&t)).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["token_type"], "Bearer");
    assert_eq!(i["scope"], "openid profile email notes:read");
    assert_eq!(i["client_id"], c.client.id.as_str());
    assert_eq!(i["sub"], user.id.as_str());
    assert_eq!(i["iss"], s.base.as_str());
    assert_eq!(i["aud"], s.base.as_str());
    let cl = claims(at(&t));
    for k in ["exp", "iat", "nbf", "jti"] {
        assert_eq!(i[k], cl[k], "{k}");
    }

    let i = introspect(&s, &c, rt(&t)).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["token_type"], "refresh_token");
    assert_eq!(i["client_id"], c.client.id.as_str());
    assert_eq!(i["sub"], user.id.as_str());
    assert_eq!(i["scope"], "openid profile email notes:read");
    assert!(i["exp"].as_i64().unwrap() > i["iat"].as_i64().unwrap());

    // A resource server may introspect an access token (another client may
    // not: hardening.rs); a refresh token only its own client.
    let rs = s.machine_client(ClientType::FirstParty, true).await;
    assert_eq!(introspect(&s, &rs, at(&t)).await["active"], true);
    let i = introspect(&s, &rs, rt(&t)).await;
    assert_eq!(i, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn introspection_reports_garbage_revoked_and_expired_as_inactive() {
    let s = common::spawn_with(|_| {}, true).await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let mut spec = ClientSpec::new("Short", ClientType::ThirdParty, vec![REDIRECT.to_owned()]);
    spec.access_token_ttl = 60;
    spec.refresh_policy = Some(keyhouse_core::client::RefreshPolicy::Always);
    let c = s.client_with(spec).await;
    let clock = s.clock.as_ref().unwrap();

    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let i = introspect(&s, &c, garbage).await;
        assert_eq!(i, serde_json::json!({"active": false}), "{garbage:?}");
    }

    // Revoked.
    let t = tokens(&s, &b, &c, &[]).await;
    assert!(active(&s, &c, at(&t)).await);
    assert_eq!(revoke(&s, &c, at(&t)).await, 200);
    assert_eq!(
        introspect(&s, &c, at(&t)).await,
        serde_json::json!({"active": false})
    );

    // Expired, on the server's clock.
    let t = tokens(&s, &b, &c, &[]).await;
    assert_eq!(t["expires_in"], 60);
    assert!(active(&s, &c, at(&t)).await, "live when issued");
    clock.advance(45);
    assert!(active(&s, &c, at(&t)).await, "live before exp");
    assert_eq!(userinfo(&s, at(&t)).await.status(), 200);
    clock.advance(60 + 30 - 45 + 1);
    assert!(
        !active(&s, &c, at(&t)).await,
        "expired (past the 30 s leeway)"
    );
    assert_eq!(userinfo(&s, at(&t)).await.status(), 401);
    // The refresh token lives on (idle lifetime 30 days) and gives a new one.
    assert!(active(&s, &c, rt(&t)).await);
    assert_eq!(refresh_status(&s, &c, rt(&t)).await, 200);

    // A refresh token past its idle lifetime.
    let t = tokens(&s, &b, &c, &[]).await;
    clock.advance(30 * 24 * 3600 + 1);
    assert!(!active(&s, &c, rt(&t)).await);
    assert_eq!(refresh_status(&s, &c, rt(&t)).await, 400);
}

#[tokio::test]
async fn introspection_needs_a_confidential_client() {
    let (s, b, c) = setup().await;
    let t = tokens(&s, &b, &c, &[]).await;
    let public = s.client(ClientType::ThirdPartyPublic).await;
    let http = reqwest::Client::new();

    let res = http
        .post(s.url("/oauth2/introspect"))
        .form(&[("token", at(&t)), ("client_id", public.client.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_client");
    assert!(err.get("active").is_none());

    let res = http
        .post(s.url("/oauth2/introspect"))
        .form(&[("token", at(&t))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));

    let res = http
        .post(s.url("/oauth2/introspect"))
        .basic_auth(&c.client.id, Some("wrong secret"))
        .form(&[("token", at(&t))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_client");

    let res = http
        .post(s.url("/oauth2/introspect"))
        .basic_auth(&c.client.id, c.client_secret.as_deref())
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "token is required");
}

/// RFC 7009: revoking a refresh token revokes its grant, access tokens
/// included.
#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let (s, b, c) = setup().await;
    let t0 = tokens(&s, &b, &c, &[]).await;
    let res = refresh(&s, &c, rt(&t0), None).await;
    let t1: Value = res.json().await.unwrap();
    let other = tokens(&s, &b, &c, &[]).await;
    for token in [at(&t0), at(&t1), rt(&t1)] {
        assert!(active(&s, &c, token).await);
    }

    assert_eq!(revoke(&s, &c, rt(&t1)).await, 200);
    for token in [at(&t0), at(&t1), rt(&t1)] {
        assert!(!active(&s, &c, token).await);
    }
    assert_eq!(userinfo(&s, at(&t1)).await.status(), 401);
    assert_eq!(refresh_status(&s, &c, rt(&t1)).await, 400);
    // Revoking twice is fine.
    assert_eq!(revoke(&s, &c, rt(&t1)).await, 200);
    // The other grant is untouched.
    assert!(active(&s, &c, at(&other)).await);
    assert!(active(&s, &c, rt(&other)).await);
}

#[tokio::test]
async fn revoking_an_access_token_revokes_only_it() {
    let (s, b, c) = setup().await;
    let t = tokens(&s, &b, &c, &[]).await;
    assert_eq!(revoke(&s, &c, at(&t)).await, 200);
    assert!(!active(&s, &c, at(&t)).await);
    assert_eq!(userinfo(&s, at(&t)).await.status(), 401);
    // Its refresh token still works and gives a working access token.
    assert!(active(&s, &c, rt(&t)).await);
    let res = refresh(&s, &c, rt(&t), None).await;
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(userinfo(&s, at(&fresh)).await.status(), 200);

    // client_credentials tokens can be revoked too.
    let c = s.machine_client(ClientType::FirstParty, false).await;
    let res = client_credentials(&s, &c, &[]).await;
    let cc: Value = res.json().await.unwrap();
    assert!(active(&s, &c, at(&cc)).await);
    assert_eq!(revoke(&s, &c, at(&cc)).await, 200);
    assert!(!active(&s, &c, at(&cc)).await);
}

#[tokio::test]
async fn revocation_answers_200_for_unknown_tokens_and_needs_the_owner() {
    let (s, b, c) = setup().await;
    for unknown in [
        "garbage",
        "a.b.c",
        "0123456789012345678901234567890123456789012",
    ] {
        assert_eq!(revoke(&s, &c, unknown).await, 200, "{unknown}");
    }

    // Another client cannot revoke this client's tokens (and learns nothing).
    let t = tokens(&s, &b, &c, &[]).await;
    let other = s.client(ClientType::ThirdParty).await;
    assert_eq!(revoke(&s, &other, rt(&t)).await, 200);
    assert_eq!(revoke(&s, &other, at(&t)).await, 200);
    assert!(active(&s, &c, rt(&t)).await);
    assert!(active(&s, &c, at(&t)).await);

    // Client authentication is required.
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/revoke"))
        .form(&[("token", rt(&t))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/revoke"))
        .form(&[
            ("token", rt(&t)),
            ("client_id", c.client.id.as_str()),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(active(&s, &c, rt(&t)).await);

    // A public client revokes its own tokens with `none`.
    let public = s.client(ClientType::ThirdPartyPublic).await;
    let code = code(
        &s,
        &b,
        &public.client.id,
        &[
            ("scope", "openid offline_access"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let res = exchange_with(&s, &public, &code, &[("code_verifier", VERIFIER)]).await;
    let pt: Value = res.json().await.unwrap();
    assert_eq!(revoke(&s, &public, rt(&pt)).await, 200);
    let res = refresh(&s, &public, rt(&pt), None).await;
    assert_eq!(res.status(), 400);
    assert!(!active(&s, &c, at(&pt)).await);
}

/// docs/threat-model.md row 35.
#[tokio::test]
async fn id_token_is_correct() {
    let (s, b, c) = setup().await;
    let user = s.find_user("ada@example.com").await.unwrap();
    let t = tokens(&s, &b, &c, &[]).await;
    let id_token = t["id_token"].as_str().unwrap();
    let access_token = at(&t);

    let h = header(id_token);
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["typ"], "JWT");
    let cl = claims(id_token);
    assert_eq!(cl["iss"], s.base.as_str());
    assert_eq!(cl["aud"], c.client.id.as_str());
    assert_eq!(cl["azp"], c.client.id.as_str());
    assert_eq!(cl["sub"], user.id.as_str());
    assert_eq!(cl["nonce"], "n-456");
    let (iat, exp) = (cl["iat"].as_i64().unwrap(), cl["exp"].as_i64().unwrap());
    assert!(exp > iat);
    assert_eq!(exp - iat, 3600);
    let auth_time = cl["auth_time"].as_i64().unwrap();
    assert!(auth_time <= iat && auth_time > 0);
    let digest = Sha256::digest(access_token.as_bytes());
    assert_eq!(cl["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    // Scoped claims.
    assert_eq!(cl["email"], "ada@example.com");
    assert_eq!(cl["name"], "Ada Lovelace");

    // The signature verifies with the published key of its kid.
    let jwks = get_json(s.url("/.well-known/jwks.json")).await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == h["kid"])
        .unwrap();
    assert_eq!(jwk["alg"], "RS256");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[c.client.id.as_str()]);
    validation.set_issuer(&[s.base.as_str()]);
    let verified = jsonwebtoken::decode::<Value>(id_token, &key, &validation).unwrap();
    assert_eq!(verified.claims, cl);

    // No nonce asked, none echoed; fewer scopes, fewer claims.
    let plain = [("scope", "openid"), ("nonce", "")];
    let t = tokens(&s, &b, &c, &plain).await;
    let cl = claims(t["id_token"].as_str().unwrap());
    assert!(cl.get("nonce").is_none(), "{cl}");
    assert!(
        cl.get("email").is_none() && cl.get("name").is_none(),
        "{cl}"
    );
    assert_eq!(cl["at_hash"], {
        let d = Sha256::digest(at(&t).as_bytes());
        URL_SAFE_NO_PAD.encode(&d[..16])
    });
}

#[tokio::test]
async fn sub_is_stable_across_logins_and_distinct_between_users() {
    let (s, b1, c) = setup().await;
    let first = tokens(&s, &b1, &c, &[]).await;
    // A second, separate login of the same user.
    let b2 = s.signed_in("ada@example.com").await;
    let second = tokens(&s, &b2, &c, &[]).await;
    let sub1 = claims(first["id_token"].as_str().unwrap())["sub"].clone();
    let sub2 = claims(second["id_token"].as_str().unwrap())["sub"].clone();
    assert_eq!(sub1, sub2);
    assert_eq!(claims(at(&first))["sub"], sub1);
    assert_eq!(claims(at(&second))["sub"], sub1);
    let u: Value = userinfo(&s, at(&second)).await.json().await.unwrap();
    assert_eq!(u["sub"], sub1);

    s.user("bob@example.com").await;
    let bob = s.signed_in("bob@example.com").await;
    let theirs = tokens(&s, &bob, &c, &[]).await;
    assert_ne!(claims(theirs["id_token"].as_str().unwrap())["sub"], sub1);
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid() {
    let (s, b, c) = setup().await;
    let jwks = || async {
        let v = get_json(s.url("/.well-known/jwks.json")).await;
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<BTreeSet<_>>()
    };
    let before_kids = jwks().await;
    let before = tokens(&s, &b, &c, &[]).await;
    let (old_at_kid, old_id_kid) = (kid(at(&before)), kid(before["id_token"].as_str().unwrap()));
    assert!(before_kids.contains(&old_at_kid) && before_kids.contains(&old_id_kid));

    s.kh.rotate_keys().await.unwrap();

    let after_kids = jwks().await;
    assert!(
        after_kids.contains(&old_at_kid),
        "the retiring access-token key stays published"
    );
    assert!(
        after_kids.contains(&old_id_kid),
        "the retiring ID-token key stays published"
    );
    assert_eq!(
        after_kids.len(),
        9,
        "retiring, current and next for three algorithms"
    );

    let after = tokens(&s, &b, &c, &[]).await;
    let (new_at_kid, new_id_kid) = (kid(at(&after)), kid(after["id_token"].as_str().unwrap()));
    assert_ne!(new_at_kid, old_at_kid);
    assert_ne!(new_id_kid, old_id_kid);
    // The key that now signs was published before it signed anything.
    assert!(before_kids.contains(&new_at_kid));
    assert!(before_kids.contains(&new_id_kid));

    // Tokens from both sides of the rotation work.
    assert_eq!(userinfo(&s, at(&before)).await.status(), 200);
    assert_eq!(userinfo(&s, at(&after)).await.status(), 200);
    assert!(active(&s, &c, at(&before)).await);
    assert!(active(&s, &c, at(&after)).await);
    // Refresh tokens survive too, and their new access tokens use the new key.
    let res = refresh(&s, &c, rt(&before), None).await;
    let refreshed: Value = res.json().await.unwrap();
    assert_eq!(kid(at(&refreshed)), new_at_kid);
}

#[tokio::test]
async fn deleting_a_client_revokes_its_tokens() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.machine_client(ClientType::ThirdParty, false).await;
    let rs = s.machine_client(ClientType::FirstParty, true).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let res = client_credentials(&s, &c, &[]).await;
    let cc: Value = res.json().await.unwrap();
    let res = client_credentials(&s, &rs, &[]).await;
    let survivor: Value = res.json().await.unwrap();
    for token in [at(&t), at(&cc)] {
        assert!(active(&s, &rs, token).await);
    }

    assert!(s.kh.delete_client(&c.client.id).await.unwrap());
    assert!(
        !s.kh.delete_client(&c.client.id).await.unwrap(),
        "already gone"
    );

    assert!(!active(&s, &rs, at(&t)).await);
    assert!(!active(&s, &rs, at(&cc)).await);
    assert_eq!(userinfo(&s, at(&t)).await.status(), 401);
    // The deleted client cannot authenticate any more.
    let res = refresh(&s, &c, rt(&t), None).await;
    assert_eq!(res.status(), 401);
    // Other clients' tokens are untouched.
    assert!(active(&s, &rs, at(&survivor)).await);
}

/// Claims to set and claims to remove.
type Mutation<'a> = (&'a [(&'a str, Value)], &'a [&'a str]);

/// docs/threat-model.md row 20: `exp`/`nbf` must be numbers, and are checked against
/// the server's clock with a bounded leeway. The tokens are signed with the
/// server's own current key, so only the claims differ.
#[tokio::test]
async fn access_token_times_are_numeric_and_checked_on_the_server_clock() {
    let s = common::spawn_with(|_| {}, true).await;
    let user = s.user("ada@example.com").await;
    let c = s.client(ClientType::FirstParty).await;
    let now = s.kh.now();
    let mint = |changes: &[(&str, Value)], remove: &[&str]| {
        let mut claims = serde_json::json!({
            "iss": s.base, "sub": user.id, "aud": s.base, "client_id": c.client.id,
            "scope": "openid", "exp": now + 600, "iat": now, "nbf": now,
            "jti": format!("at-test-{}", changes.len() * 10 + remove.len()),
        });
        for (k, v) in changes {
            claims[*k] = v.clone();
        }
        for k in remove {
            claims.as_object_mut().unwrap().remove(*k);
        }
        s.kh.keys()
            .sign(keyhouse_axum::SigningAlg::Es256, "at+jwt", &claims)
            .unwrap()
    };

    assert_eq!(
        userinfo(&s, &mint(&[], &[])).await.status(),
        200,
        "the control token is good"
    );
    assert_eq!(
        userinfo(&s, &mint(&[("exp", Value::from(now - 29))], &[]))
            .await
            .status(),
        200,
        "within leeway"
    );

    let refused: [Mutation<'_>; 8] = [
        (&[("exp", Value::from((now + 600).to_string()))], &[]),
        (&[("exp", Value::from(now as f64 + 600.5))], &[]),
        (&[("nbf", Value::from(now.to_string()))], &[]),
        (&[("exp", Value::from(now - 31))], &[]),
        (&[("nbf", Value::from(now + 31))], &[]),
        (&[], &["exp"]),
        (&[], &["nbf"]),
        (&[("iss", Value::from("https://evil.example"))], &[]),
    ];
    for (changes, remove) in refused {
        let token = mint(changes, remove);
        assert_eq!(
            userinfo(&s, &token).await.status(),
            401,
            "{changes:?} {remove:?}"
        );
        assert_eq!(
            introspect(&s, &c, &token).await,
            serde_json::json!({"active": false})
        );
    }

    // The server's clock decides, not the wall clock: a token issued now is
    // refused once the server's clock has moved past its expiry.
    let token = mint(&[], &[]);
    s.clock.as_ref().unwrap().advance(600 + 30);
    assert_eq!(userinfo(&s, &token).await.status(), 401);
}
