//! The token endpoint: code exchange, refresh, client credentials and client
//! authentication (docs/threat-model.md rows 5–9, 11, 21, 22, 24).
#![allow(clippy::unwrap_used)]
use crate::common;

use common::{
    CHALLENGE, REDIRECT, TestServer, VERIFIER, active, claims, client_credentials, code, code_form,
    exchange, exchange_with, header, header_str, ok_json, refresh, tokens, userinfo,
};
use futures::future::join_all;
use keyhouse_axum::{ClientSpec, CreatedClient};
use keyhouse_core::ClientType;
use serde_json::{Value, json};

const OTHER_REDIRECT: &str = "https://client.example/other-callback";

fn secret(c: &CreatedClient) -> &str {
    c.client_secret.as_deref().unwrap()
}

async fn setup(t: ClientType) -> (TestServer, reqwest::Client, CreatedClient) {
    let s = common::spawn_with(|_| {}, false).await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let mut spec = ClientSpec::new(
        "Test GPT",
        t,
        vec![REDIRECT.to_owned(), OTHER_REDIRECT.to_owned()],
    );
    // A GPT its operator set to receive refresh tokens without
    // offline_access (the registration default is tested in hardening.rs).
    if t == ClientType::ThirdParty {
        spec.refresh_policy = Some(keyhouse_core::client::RefreshPolicy::Always);
    }
    let c = s.client_with(spec).await;
    (s, b, c)
}

/// A token request authenticated with client_secret_basic.
async fn token_basic(
    s: &TestServer,
    c: &CreatedClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.url("/oauth2/token"))
        .basic_auth(&c.client.id, c.client_secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

fn assert_no_store(res: &reqwest::Response) {
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    assert_eq!(res.headers().get("pragma").unwrap(), "no-cache");
}

#[tokio::test]
async fn code_exchange_with_client_secret_basic() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let user = s.find_user("ada@example.com").await.unwrap();
    let code = code(&s, &b, &c.client.id, &[]).await;
    let res = token_basic(
        &s,
        &c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_no_store(&res);
    let t = ok_json(res).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "openid profile email notes:read");
    assert!(t["id_token"].is_string(), "openid gives an ID token");
    assert!(
        t["refresh_token"].as_str().unwrap().len() >= 43,
        "the operator's always policy: a refresh token without offline_access"
    );

    let at = t["access_token"].as_str().unwrap();
    let h = header(at);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["typ"], "at+jwt");
    assert!(h["kid"].is_string());
    let cl = claims(at);
    assert_eq!(cl["iss"], s.base.as_str());
    assert_eq!(cl["sub"], user.id.as_str());
    assert_eq!(cl["aud"], s.base.as_str(), "default audience: the issuer");
    assert_eq!(cl["client_id"], c.client.id.as_str());
    assert_eq!(cl["scope"], "openid profile email notes:read");
    assert_eq!(
        cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(cl["nbf"], cl["iat"]);
    assert!(cl["jti"].is_string());
    assert!(cl["fid"].is_string());
    assert!(active(&s, &c, at).await);
    assert_eq!(userinfo(&s, at).await.status(), 200);
}

#[tokio::test]
async fn code_exchange_with_client_secret_post() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let code = code(&s, &b, &c.client.id, &[]).await;
    let res = exchange(&s, &c, &code).await;
    assert_no_store(&res);
    let t = ok_json(res).await;
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["client_id"],
        c.client.id.as_str()
    );
    assert!(t["refresh_token"].is_string());

    // Using two methods at once is refused (RFC 6749 §2.3).
    let code2 = self::code(&s, &b, &c.client.id, &[]).await;
    let res = token_basic(
        &s,
        &c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", REDIRECT),
            ("client_secret", secret(&c)),
        ],
    )
    .await;
    assert_eq!(error_of(res).await, (401, "invalid_client".to_owned()));
    // A confidential client must authenticate.
    let res = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", REDIRECT),
            ("client_id", &c.client.id),
        ])
        .await;
    assert_eq!(error_of(res).await, (401, "invalid_client".to_owned()));
}

#[tokio::test]
async fn resource_sets_the_audience() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    // The audience is the resource's canonical URI (no trailing slash).
    let t = tokens(&s, &b, &c, &[("resource", "https://api.example/")]).await;
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["aud"],
        "https://api.example"
    );
    // The refreshed token keeps the audience.
    let r = ok_json(refresh(&s, &c, t["refresh_token"].as_str().unwrap(), None).await).await;
    assert_eq!(
        claims(r["access_token"].as_str().unwrap())["aud"],
        "https://api.example"
    );

    // A different resource at the token endpoint is refused.
    let code = code(
        &s,
        &b,
        &c.client.id,
        &[("resource", "https://api.example/")],
    )
    .await;
    let res = exchange_with(&s, &c, &code, &[("resource", "https://other.example/")]).await;
    assert_eq!(error_of(res).await, (400, "invalid_target".to_owned()));
}

#[tokio::test]
async fn public_client_uses_pkce_and_none() {
    let (s, b, c) = setup(ClientType::ThirdPartyPublic).await;
    assert!(c.client_secret.is_none());
    let pkce = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let code = code(&s, &b, &c.client.id, &pkce).await;
    let res = exchange_with(&s, &c, &code, &[("code_verifier", VERIFIER)]).await;
    assert_no_store(&res);
    let t = ok_json(res).await;
    assert!(t["access_token"].is_string());
    assert!(t["id_token"].is_string());
    assert!(
        t.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );

    // With offline_access a public client gets one.
    let mut offline = pkce.to_vec();
    offline.push(("scope", "openid offline_access"));
    let code = self::code(&s, &b, &c.client.id, &offline).await;
    let t = ok_json(exchange_with(&s, &c, &code, &[("code_verifier", VERIFIER)]).await).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let r = ok_json(refresh(&s, &c, rt, None).await).await;
    assert!(r["refresh_token"].is_string());

    // A public client that sends a secret is refused.
    let code = self::code(&s, &b, &c.client.id, &pkce).await;
    let res = exchange_with(
        &s,
        &c,
        &code,
        &[("client_secret", "anything"), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!(error_of(res).await, (401, "invalid_client".to_owned()));
}

/// docs/threat-model.md row 5: a replayed code fails and revokes what it issued.
#[tokio::test]
async fn code_replay_revokes_the_tokens_it_issued() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let code = code(&s, &b, &c.client.id, &[]).await;
    let t = ok_json(exchange(&s, &c, &code).await).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    assert_eq!(userinfo(&s, at).await.status(), 200);
    assert!(active(&s, &c, at).await);

    let res = exchange(&s, &c, &code).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));

    assert_eq!(userinfo(&s, at).await.status(), 401);
    assert!(!active(&s, &c, at).await);
    assert!(!active(&s, &c, rt).await);
    let res = refresh(&s, &c, rt, None).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    // A third try is refused too.
    let res = exchange(&s, &c, &code).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
}

/// docs/threat-model.md row 6: exactly one of N simultaneous exchanges succeeds.
#[tokio::test]
async fn concurrent_exchanges_of_one_code_succeed_once() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let code = code(&s, &b, &c.client.id, &[]).await;
    let http = reqwest::Client::new();
    let url = s.url("/oauth2/token");
    let attempts = (0..50).map(|_| {
        http.post(&url)
            .basic_auth(&c.client.id, c.client_secret.as_deref())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .send()
    });
    let mut ok = 0;
    let mut refused = 0;
    for res in join_all(attempts).await {
        let res = res.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        match status {
            200 => {
                assert!(body["access_token"].is_string());
                ok += 1;
            }
            400 => {
                assert_eq!(body["error"], "invalid_grant", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1, "exactly one exchange wins");
    assert_eq!(refused, 49);
}

/// docs/threat-model.md row 7: codes expire after five minutes.
#[tokio::test]
async fn code_expires_after_five_minutes() {
    let s = common::spawn_with(|_| {}, true).await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client(ClientType::ThirdParty).await;
    let clock = s.clock.as_ref().unwrap();

    let fresh = code(&s, &b, &c.client.id, &[]).await;
    clock.advance(299);
    let res = exchange(&s, &c, &fresh).await;
    assert_eq!(res.status(), 200, "still valid at 299 s");

    let stale = code(&s, &b, &c.client.id, &[]).await;
    clock.advance(301);
    let res = exchange(&s, &c, &stale).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
}

/// docs/threat-model.md row 7: a code is bound to its redirect URI and its client.
#[tokio::test]
async fn code_is_bound_to_redirect_uri_and_client() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let other = s
        .client_with(ClientSpec::new(
            "Other",
            ClientType::ThirdParty,
            vec![REDIRECT.to_owned()],
        ))
        .await;

    // Another registered redirect URI of the same client.
    let code1 = code(&s, &b, &c.client.id, &[]).await;
    let res = exchange_with(&s, &c, &code1, &[("redirect_uri", OTHER_REDIRECT)]).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    // The refused code is burned: the right request cannot use it any more.
    let res = exchange(&s, &c, &code1).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));

    // No redirect_uri at all.
    let code2 = code(&s, &b, &c.client.id, &[]).await;
    let res = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("client_id", &c.client.id),
            ("client_secret", secret(&c)),
        ])
        .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));

    // A redirect URI the code was not issued for, slightly different.
    let code3 = code(&s, &b, &c.client.id, &[]).await;
    let res = exchange_with(
        &s,
        &c,
        &code3,
        &[("redirect_uri", "https://client.example/callback/")],
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));

    // Another (properly authenticated) client presenting the code.
    let code4 = code(&s, &b, &c.client.id, &[]).await;
    let res = exchange(&s, &other, &code4).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));

    // A code issued for OTHER_REDIRECT works with OTHER_REDIRECT only.
    let code5 = code(&s, &b, &c.client.id, &[("redirect_uri", OTHER_REDIRECT)]).await;
    let res = exchange_with(&s, &c, &code5, &[("redirect_uri", OTHER_REDIRECT)]).await;
    assert_eq!(res.status(), 200);

    // An unknown code.
    let res = exchange(&s, &c, "not-a-code-0123456789012345678901234567890123").await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
}

/// docs/threat-model.md rows 8 and 9.
#[tokio::test]
async fn pkce_verifier_is_checked_and_cannot_be_downgraded() {
    let (s, b, public) = setup(ClientType::ThirdPartyPublic).await;
    let pkce = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
    let short = "a".repeat(42);
    let bad_chars = format!("{}+/=", "a".repeat(43));
    for verifier in [
        Some(wrong),
        None,
        Some(short.as_str()),
        Some(bad_chars.as_str()),
    ] {
        let code = code(&s, &b, &public.client.id, &pkce).await;
        let mut form = code_form(&public, &code);
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let res = s.token(&form).await;
        assert_eq!(
            error_of(res).await,
            (400, "invalid_grant".to_owned()),
            "{verifier:?}"
        );
        // And the code is burned even for the right verifier now.
        let mut retry = form.clone();
        retry.retain(|(k, _)| *k != "code_verifier");
        retry.push(("code_verifier", VERIFIER));
        assert_eq!(s.token(&retry).await.status(), 400);
    }

    // Confidential client: PKCE optional, but checked when used.
    let c = s
        .client_with(ClientSpec::new(
            "Conf",
            ClientType::ThirdParty,
            vec![REDIRECT.to_owned()],
        ))
        .await;
    let with_pkce = code(&s, &b, &c.client.id, &pkce).await;
    let ok = exchange_with(&s, &c, &with_pkce, &[("code_verifier", VERIFIER)]).await;
    assert_eq!(ok.status(), 200);
    let with_pkce = code(&s, &b, &c.client.id, &pkce).await;
    let res = exchange(&s, &c, &with_pkce).await;
    assert_eq!(
        error_of(res).await,
        (400, "invalid_grant".to_owned()),
        "challenge but no verifier"
    );

    // Row 9: a verifier for a code issued without a challenge.
    let without = code(&s, &b, &c.client.id, &[]).await;
    let res = exchange_with(&s, &c, &without, &[("code_verifier", VERIFIER)]).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
}

/// docs/threat-model.md row 21: rotation, reuse detection, family revocation.
#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let t0 = tokens(&s, &b, &c, &[]).await;
    let (at0, rt0) = (
        t0["access_token"].as_str().unwrap(),
        t0["refresh_token"].as_str().unwrap(),
    );

    let res = refresh(&s, &c, rt0, None).await;
    assert_no_store(&res);
    let t1 = ok_json(res).await;
    let (at1, rt1) = (
        t1["access_token"].as_str().unwrap(),
        t1["refresh_token"].as_str().unwrap(),
    );
    assert_ne!(rt1, rt0, "rotated");
    assert!(t1.get("id_token").is_none());
    assert_eq!(t1["scope"], t0["scope"]);
    assert_eq!(claims(at1)["fid"], claims(at0)["fid"], "same family");
    assert_eq!(claims(at1)["sub"], claims(at0)["sub"]);
    assert!(!active(&s, &c, rt0).await, "the used token is spent");
    assert!(active(&s, &c, rt1).await);

    let t2 = ok_json(refresh(&s, &c, rt1, None).await).await;
    let (at2, rt2) = (
        t2["access_token"].as_str().unwrap(),
        t2["refresh_token"].as_str().unwrap(),
    );
    for at in [at0, at1, at2] {
        assert!(active(&s, &c, at).await);
    }

    // Replay of the first refresh token.
    let res = refresh(&s, &c, rt0, None).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));

    // The whole family is dead, the newest refresh token included.
    let res = refresh(&s, &c, rt2, None).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    for token in [at0, at1, at2, rt1, rt2] {
        assert!(!active(&s, &c, token).await);
    }
    for at in [at0, at1, at2] {
        assert_eq!(userinfo(&s, at).await.status(), 401);
    }

    // Another family of the same user and client is unaffected.
    let other = tokens(&s, &b, &c, &[]).await;
    assert!(active(&s, &c, other["access_token"].as_str().unwrap()).await);
    assert!(
        refresh(&s, &c, other["refresh_token"].as_str().unwrap(), None)
            .await
            .status()
            == 200
    );
}

#[tokio::test]
async fn refresh_token_belongs_to_its_client() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let other = s.client(ClientType::ThirdParty).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let res = refresh(&s, &other, rt, None).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    // The owner can still use it.
    assert_eq!(refresh(&s, &c, rt, None).await.status(), 200);
    // Garbage.
    let res = refresh(&s, &c, "garbage", None).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
}

/// docs/threat-model.md row 21 (RFC 6749 §6): the scope can only shrink.
#[tokio::test]
async fn refresh_scope_can_only_shrink() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let rt = t["refresh_token"].as_str().unwrap();

    for wider in [
        "openid profile email notes:read notes:write",
        "notes:write",
        "openid offline_access",
    ] {
        let res = refresh(&s, &c, rt, Some(wider)).await;
        assert_eq!(
            error_of(res).await,
            (400, "invalid_scope".to_owned()),
            "{wider}"
        );
    }
    // A refused request spends nothing.
    let res = refresh(&s, &c, rt, Some("openid notes:read")).await;
    let narrow = ok_json(res).await;
    assert_eq!(narrow["scope"], "openid notes:read");
    assert_eq!(
        claims(narrow["access_token"].as_str().unwrap())["scope"],
        "openid notes:read"
    );

    // Without a scope the original grant applies again (RFC 6749 §6).
    let again =
        ok_json(refresh(&s, &c, narrow["refresh_token"].as_str().unwrap(), None).await).await;
    assert_eq!(again["scope"], "openid profile email notes:read");
    // But never more than the original grant.
    let res = refresh(
        &s,
        &c,
        again["refresh_token"].as_str().unwrap(),
        Some("openid notes:write"),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_scope".to_owned()));
}

/// docs/threat-model.md row 22: parallel refreshes leave at most one live token.
#[tokio::test]
async fn parallel_refreshes_leave_at_most_one_live_token() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();

    let http = reqwest::Client::new();
    let url = s.url("/oauth2/token");
    let attempts = (0..20).map(|_| {
        http.post(&url)
            .basic_auth(&c.client.id, c.client_secret.as_deref())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .send()
    });
    let mut issued = Vec::new();
    let mut successes = 0;
    for res in join_all(attempts).await {
        let res = res.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        match status {
            200 => {
                successes += 1;
                issued.push(body["refresh_token"].as_str().unwrap().to_owned());
            }
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(successes >= 1, "the first rotation succeeds");
    assert!(successes <= 1, "a token rotates once: {successes}");
    let mut live = 0;
    for token in issued.iter().chain(std::iter::once(&rt)) {
        if active(&s, &c, token).await {
            live += 1;
        }
    }
    assert!(live <= 1, "{live} live refresh tokens");
    // And none of the returned tokens works twice.
    for token in &issued {
        let first = refresh(&s, &c, token, None).await.status().as_u16();
        let second = refresh(&s, &c, token, None).await.status().as_u16();
        assert_ne!((first, second), (200, 200));
    }
}

#[tokio::test]
async fn client_credentials_for_confidential_clients_only() {
    let (s, _, plain) = setup(ClientType::ThirdParty).await;
    // docs/threat-model.md row 46: a client not registered for the grant
    // (the default, and every third-party GPT) cannot use it at all.
    let res = client_credentials(&s, &plain, &[("scope", "reports:read")]).await;
    assert_eq!(error_of(res).await, (400, "unauthorized_client".to_owned()));
    let c = s.machine_client(ClientType::ThirdParty, false).await;
    let res = token_basic(
        &s,
        &c,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports:read"),
        ],
    )
    .await;
    assert_no_store(&res);
    let t = ok_json(res).await;
    assert_eq!(t["scope"], "reports:read");
    assert!(t.get("refresh_token").is_none());
    assert!(t.get("id_token").is_none());
    let at = t["access_token"].as_str().unwrap();
    let cl = claims(at);
    assert_eq!(cl["sub"], c.client.id.as_str(), "the client is the subject");
    assert_eq!(cl["client_id"], c.client.id.as_str());
    assert_eq!(cl["aud"], s.base.as_str());
    assert!(cl.get("fid").is_none());
    assert!(cl.get("auth_time").is_none());
    assert!(active(&s, &c, at).await);

    // With a resource.
    let t =
        ok_json(client_credentials(&s, &c, &[("resource", "https://api.example/")]).await).await;
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["aud"],
        "https://api.example"
    );

    // User scopes need a user: the application's own scopes too, unless
    // declared machine scopes.
    for scope in [
        "openid",
        "notes:read",
        "notes:write reports:read",
        "email",
        "offline_access",
    ] {
        let res = client_credentials(&s, &c, &[("scope", scope)]).await;
        assert_eq!(
            error_of(res).await,
            (400, "invalid_scope".to_owned()),
            "{scope}"
        );
    }
    // Unknown scope and unknown resource.
    let res = client_credentials(&s, &c, &[("scope", "admin")]).await;
    assert_eq!(error_of(res).await, (400, "invalid_scope".to_owned()));
    let res = client_credentials(&s, &c, &[("resource", "https://other.example/")]).await;
    assert_eq!(error_of(res).await, (400, "invalid_target".to_owned()));

    // Public clients cannot use it.
    for t in [ClientType::ThirdPartyPublic, ClientType::FirstPartyPublic] {
        let public = s.client(t).await;
        let res = client_credentials(&s, &public, &[("scope", "notes:read")]).await;
        assert_eq!(
            error_of(res).await,
            (400, "unauthorized_client".to_owned()),
            "{t:?}"
        );
    }
}

/// docs/threat-model.md row 24: a wrong secret and an unknown client answer alike.
#[tokio::test]
async fn wrong_secret_and_unknown_client_answer_alike() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let code = code(&s, &b, &c.client.id, &[]).await;
    let http = reqwest::Client::new();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let wrong_secret = format!("{}x", secret(&c));

    let mut answers = Vec::new();
    for (id, sec) in [
        (c.client.id.as_str(), wrong_secret.as_str()),
        ("client-unknown", secret(&c)),
        ("client-unknown", wrong_secret.as_str()),
    ] {
        // client_secret_basic
        let res = http
            .post(s.url("/oauth2/token"))
            .basic_auth(id, Some(sec))
            .form(&form)
            .send()
            .await
            .unwrap();
        answers.push(res);
        // client_secret_post
        let mut post = form.to_vec();
        post.push(("client_id", id));
        post.push(("client_secret", sec));
        answers.push(
            http.post(s.url("/oauth2/token"))
                .form(&post)
                .send()
                .await
                .unwrap(),
        );
    }
    let mut bodies = Vec::new();
    for res in answers {
        assert_eq!(res.status(), 401);
        let challenge = header_str(&res, "www-authenticate");
        assert!(challenge.starts_with("Basic"), "{challenge}");
        assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
        bodies.push(res.bytes().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "identical bodies: {bodies:?}"
    );
    let err: Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(err["error"], "invalid_client");

    // No client authentication at all.
    let res = http
        .post(s.url("/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    assert_eq!(error_of(res).await, (401, "invalid_client".to_owned()));

    // None of this spent the code.
    assert_eq!(exchange(&s, &c, &code).await.status(), 200);
}

/// docs/threat-model.md row 11.
#[tokio::test]
async fn password_and_implicit_grants_are_not_offered() {
    let (s, _, c) = setup(ClientType::ThirdParty).await;
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "foo",
    ] {
        let res = s
            .token(&[
                ("grant_type", grant),
                ("username", "ada@example.com"),
                ("password", common::PASSWORD),
                ("client_id", &c.client.id),
                ("client_secret", secret(&c)),
            ])
            .await;
        assert_eq!(
            error_of(res).await,
            (400, "unsupported_grant_type".to_owned()),
            "{grant}"
        );
    }
    let res = s
        .token(&[("client_id", &c.client.id), ("client_secret", secret(&c))])
        .await;
    assert_eq!(
        error_of(res).await,
        (400, "invalid_request".to_owned()),
        "no grant_type"
    );
}

#[tokio::test]
async fn token_request_must_be_a_form() {
    let (s, b, c) = setup(ClientType::ThirdParty).await;
    let code = code(&s, &b, &c.client.id, &[]).await;
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/token"))
        .json(&json!({
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": c.client.id, "client_secret": secret(&c),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (400, "invalid_request".to_owned()));

    // Repeated parameters are refused (RFC 6749 §3.2).
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&redirect_uri=https%3A%2F%2Fevil.example%2F&client_id={}&client_secret={}",
        url_encode(REDIRECT),
        c.client.id,
        secret(&c)
    );
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (400, "invalid_request".to_owned()));

    // Neither request spent the code.
    assert_eq!(exchange(&s, &c, &code).await.status(), 200);
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
