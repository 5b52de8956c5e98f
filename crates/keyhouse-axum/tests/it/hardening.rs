//! Findings of the external review (docs/threat-model.md rows 41 and on),
//! each written as the attack first.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;

use common::{REDIRECT, params, query_of};
use keyhouse_types::ClientType;
use serde_json::Value;

/// About 60 KiB of distinct scope tokens.
fn huge_scope() -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < 60 * 1024 {
        s.push_str(&format!("s{i} "));
        i += 1;
    }
    s
}

/// Row 44: an unauthenticated caller's scope is not parsed at all: the
/// client is authenticated first, and a known client's oversized scope is a
/// clear `invalid_scope`.
#[tokio::test]
async fn a_huge_scope_is_refused_before_any_parsing() {
    let s = common::spawn().await;
    let scope = huge_scope();
    let c = s.machine_client(ClientType::FirstParty, false).await;
    let secret = c.client_secret.as_deref().unwrap();
    let form = |id: &'static str, secret: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ]
    };
    let mut unknown = form("nobody", "x");
    unknown.push(("scope", &scope));
    let res = s.token(&unknown).await;
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_client");

    let res = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client.id),
            ("client_secret", secret),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_scope");
    assert_eq!(
        err["error_description"],
        "the scope names too many or too long tokens"
    );
}

/// Row 44: the same caps at the authorization endpoint.
#[tokio::test]
async fn a_huge_scope_is_refused_at_authorize() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client(ClientType::ThirdParty).await;
    let scope: String = (0..65).map(|i| format!("s{i} ")).collect();
    let p = common::with(&params(&c.client.id), &[("scope", &scope)]);
    let res = s.start(&b, &p).await;
    let body: Value = res.json().await.unwrap();
    let to = body["redirect_uri"].as_str().unwrap_or_default().to_owned();
    assert!(to.starts_with(REDIRECT), "{body}");
    assert_eq!(query_of(&to)["error"], "invalid_scope");
}

/// Row 54: nothing the client sends is echoed in `error_description`.
#[tokio::test]
async fn error_descriptions_do_not_echo_the_request() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client(ClientType::ThirdParty).await;
    let bait = "Your_account_is_locked._Call_+1-555-0100";
    for (name, value) in [
        ("scope", format!("openid {bait}")),
        ("prompt", bait.to_owned()),
    ] {
        let p = common::with(&params(&c.client.id), &[(name, &value)]);
        let body: Value = s.start(&b, &p).await.json().await.unwrap();
        let to = body["redirect_uri"].as_str().unwrap_or_default().to_owned();
        let q = query_of(&to);
        assert!(q.contains_key("error"), "{name}: {body}");
        let description = q.get("error_description").cloned().unwrap_or_default();
        assert!(!description.contains("Call"), "{name}: {description}");
    }
    // A repeated parameter at the token endpoint: the name is not echoed.
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=x&{bait}=1&{bait}=2"))
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(!text.contains("Call"), "{text}");
}

/// Row 56: tokens with made-up `kid`s cause one key reload for a burst,
/// not one per request.
#[tokio::test]
async fn unknown_kids_reload_the_key_set_once_per_burst() {
    let s = common::spawn().await;
    // The set is reloaded for unknown kids only once it is 5 s old.
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    let before = s.kh.keys().reload_count();
    let forged = |i: usize| {
        use base64::Engine;
        let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let header = enc(
            serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": format!("made-up-{i}")}),
        );
        let claims = enc(serde_json::json!({"sub": "x", "iss": s.base, "exp": 4_000_000_000_i64}));
        format!("{header}.{claims}.c2ln")
    };
    let calls = (0..50).map(|i| {
        let token = forged(i);
        let s = &s;
        async move { common::userinfo(s, &token).await.status().as_u16() }
    });
    let statuses = futures::future::join_all(calls).await;
    assert!(statuses.iter().all(|&c| c == 401), "{statuses:?}");
    let reloads = s.kh.keys().reload_count() - before;
    assert_eq!(reloads, 1, "{reloads} reloads for one burst");
}

/// Row 58: the library's own routes carry the security headers, HSTS on an
/// https issuer, and COOP on HTML.
#[tokio::test]
async fn the_router_sends_the_security_headers() {
    let s = common::spawn_with(|c| c.issuer = "https://id.example".into(), false).await;
    let res = reqwest::get(s.url("/.well-known/openid-configuration"))
        .await
        .unwrap();
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    let plain = common::spawn().await;
    let res = reqwest::get(plain.url("/health/live")).await.unwrap();
    assert!(!res.headers().contains_key("strict-transport-security"));
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

/// Row 58: an app that mounts only `Keyhouse::router()` and its own HTML
/// page gets COOP and a framing-proof CSP on that page from the layer.
#[tokio::test]
async fn an_embedding_apps_html_gets_coop_and_a_default_csp() {
    use axum::response::Html;
    use tower::ServiceExt;
    let s = common::spawn().await;
    let app = axum::Router::new()
        .route("/home", axum::routing::get(|| async { Html("<p>hi</p>") }))
        .merge(s.kh.router())
        .layer(s.kh.security_headers());
    let res = app
        .oneshot(
            axum::http::Request::get("/home")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let h = res.headers();
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
}

/// Row 51: a third-party confidential client gets a refresh token only when
/// `offline_access` was requested and consented to, unless its operator set
/// the `always` policy, which consent then states.
#[tokio::test]
async fn refresh_tokens_need_offline_access_unless_the_operator_says_always() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client_default(ClientType::ThirdParty).await;
    let (_, d) = json_start(&s, &b, &params(&c.client.id)).await;
    assert_eq!(d["continues_until_revoked"], false);
    let t = common::tokens(&s, &b, &c, &[]).await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    let t = common::tokens(&s, &b, &c, &[("scope", "openid offline_access")]).await;
    assert!(t["refresh_token"].is_string(), "{t}");

    let always = s.client(ClientType::ThirdParty).await;
    let (_, d) = json_start(&s, &b, &params(&always.client.id)).await;
    assert_eq!(d["continues_until_revoked"], true, "consent must say so");
    let t = common::tokens(&s, &b, &always, &[]).await;
    assert!(t["refresh_token"].is_string(), "{t}");
}

async fn json_start(
    s: &common::TestServer,
    b: &reqwest::Client,
    p: &[(&str, &str)],
) -> (u16, Value) {
    let res = s.start(b, p).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Row 57: one client cannot introspect another's access token; a client
/// the operator marked as a resource server can.
#[tokio::test]
async fn introspection_is_for_the_tokens_client_and_resource_servers() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let gpt = s.client(ClientType::ThirdParty).await;
    let other = s.client(ClientType::ThirdParty).await;
    let api = s.machine_client(ClientType::FirstParty, true).await;
    let t = common::tokens(&s, &b, &gpt, &[]).await;
    let at = t["access_token"].as_str().unwrap();
    assert!(common::active(&s, &gpt, at).await, "its own client");
    assert!(common::active(&s, &api, at).await, "a resource server");
    let seen = common::introspect(&s, &other, at).await;
    assert_eq!(
        seen,
        serde_json::json!({"active": false}),
        "another client learns nothing"
    );
    // Refresh tokens stay with their own client, resource server or not.
    let rt = t["refresh_token"].as_str().unwrap();
    assert!(!common::active(&s, &api, rt).await);
}

/// Row 60: a client pinned to one authentication method cannot use another.
#[tokio::test]
async fn a_pinned_auth_method_is_enforced() {
    let s = common::spawn().await;
    let mut spec = keyhouse_axum::ClientSpec::new(
        "Basic only",
        ClientType::FirstParty,
        vec![REDIRECT.to_owned()],
    );
    spec.grant_types = Some(vec!["client_credentials".to_owned()]);
    spec.token_endpoint_auth_method = Some("client_secret_basic".to_owned());
    let c = s.client_with(spec).await;
    let secret = c.client_secret.as_deref().unwrap();
    let basic = reqwest::Client::new()
        .post(s.url("/oauth2/token"))
        .basic_auth(&c.client.id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let post = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client.id),
            ("client_secret", secret),
        ])
        .await;
    assert_eq!(post.status(), 401);
    let err: Value = post.json().await.unwrap();
    assert_eq!(err["error"], "invalid_client");
    // A public client cannot be pinned to a secret method.
    let mut spec = keyhouse_axum::ClientSpec::new(
        "CLI",
        ClientType::FirstPartyPublic,
        vec!["http://127.0.0.1/cb".to_owned()],
    );
    spec.token_endpoint_auth_method = Some("client_secret_post".to_owned());
    assert!(s.kh.create_client(spec).await.is_err());
}

/// Row 46: the extractor's subject says whether a token acts for a user, a
/// member or only a client.
#[tokio::test]
async fn a_client_credentials_token_has_no_user_subject() {
    use keyhouse_axum::{AccessToken, TokenSubject};
    let s = common::spawn().await;
    let svc = s.machine_client(ClientType::FirstParty, false).await;
    let t =
        common::ok_json(common::client_credentials(&s, &svc, &[("scope", "reports:read")]).await)
            .await;
    let claims =
        s.kh.verify_access_token(t["access_token"].as_str().unwrap(), None)
            .await
            .unwrap()
            .unwrap();
    let token = AccessToken {
        claims,
        resource_metadata: None,
    };
    assert_eq!(token.subject(), TokenSubject::Client(&svc.client.id));
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let t = common::tokens(&s, &b, &svc, &[]).await;
    let claims =
        s.kh.verify_access_token(t["access_token"].as_str().unwrap(), None)
            .await
            .unwrap()
            .unwrap();
    let user = claims.sub.clone();
    let token = AccessToken {
        claims,
        resource_metadata: None,
    };
    assert_eq!(token.subject(), TokenSubject::User(&user));
}

/// Row 49: unredeemed codes leave no family behind, dead families are
/// purged, and one session cannot write decisions without bound.
#[tokio::test]
async fn families_are_purged_and_decisions_are_throttled() {
    let s = common::spawn_with(|c| c.decisions_per_session_per_minute = 5, true).await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client(ClientType::ThirdParty).await;
    let clock = s.clock.as_ref().unwrap();
    // One code left unredeemed, one exchanged and then revoked.
    let abandoned = common::code(&s, &b, &c.client.id, &[]).await;
    let used = common::tokens(&s, &b, &c, &[]).await;
    let fid = |at: &str| common::claims(at)["fid"].as_str().unwrap().to_owned();
    let live_family = fid(used["access_token"].as_str().unwrap());
    // Decisions 3 to 5 pass, the sixth in the same minute is refused.
    for _ in 0..3 {
        common::code(&s, &b, &c.client.id, &[]).await;
    }
    let res = s.authorize(&b, &params(&c.client.id), true).await;
    assert_eq!(res.status(), 429);
    clock.advance(61);
    common::code(&s, &b, &c.client.id, &[]).await;

    let families_before = count_families(&s).await;
    assert!(families_before >= 6, "{families_before}");
    // Past the codes' expiry plus the purge's hour: only the exchanged
    // family remains.
    clock.advance(600 + 3600);
    s.kh.store().purge_expired(s.kh.now()).await.unwrap();
    assert_eq!(count_families(&s).await, 1);
    assert!(
        s.kh.store()
            .find_family(&live_family)
            .await
            .unwrap()
            .is_some()
    );
    let _ = abandoned;
    // Revoked a day ago: gone too, its refresh tokens with it.
    s.kh.store()
        .revoke_family(&live_family, s.kh.now())
        .await
        .unwrap();
    clock.advance(86_400);
    s.kh.store().purge_expired(s.kh.now()).await.unwrap();
    assert_eq!(count_families(&s).await, 0);
    let rt = used["refresh_token"].as_str().unwrap();
    assert!(!common::active(&s, &c, rt).await);
}

async fn count_families(s: &common::TestServer) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = s.kh.store().connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM token_families",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Bad input gets the protocol's own error: a JSON body of the wrong shape
/// (a field of the wrong type, or not JSON at all) is answered
/// `invalid_request` as JSON, naming the field and echoing nothing, not with
/// the framework's plain-text 422.
#[tokio::test]
async fn a_json_body_of_the_wrong_shape_gets_the_protocols_json_error() {
    let s = common::spawn().await;
    let bait = "Your_account_is_locked._Call_+1-555-0100";
    let bodies = [
        (r#"{"email": 5, "password": "x"}"#.to_owned(), Some("email")),
        (
            format!(r#"{{"email": "a@b.example", "password": ["{bait}"]}}"#),
            Some("password"),
        ),
        (format!("{{not json {bait}"), None),
    ];
    for (body, field) in bodies {
        let res = common::browser()
            .post(s.url("/api/session/signup"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert!(
            common::header_str(&res, "content-type").starts_with("application/json"),
            "{body}"
        );
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["error"], "invalid_request", "{body}");
        let description = answer["error_description"].as_str().unwrap_or_default();
        if let Some(field) = field {
            assert!(description.contains(field), "{body}: {description}");
        }
        assert!(!description.contains("Call"), "{description}");
    }
}

/// An admin update with a refresh policy the API does not know is refused as
/// `invalid_client_metadata` (RFC 7591 §3.2.2), like every other bad client
/// field, and changes nothing.
#[tokio::test]
async fn an_unknown_refresh_policy_is_refused_as_client_metadata() {
    let s = common::spawn().await;
    let ops = s.user("ops@example.com").await;
    s.kh.store()
        .set_user_admin(&ops.id, true)
        .await
        .expect("admin");
    let b = s.signed_in("ops@example.com").await;
    let c = s.client(ClientType::ThirdParty).await;
    let url = s.url(&format!("/api/admin/clients/{}", c.client.id));
    let res = b
        .patch(&url)
        .json(&serde_json::json!({"name": "Renamed", "refresh_policy": "forever"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"], "invalid_client_metadata", "{answer}");
    let description = answer["error_description"].as_str().unwrap_or_default();
    assert!(description.contains("refresh_policy"), "{description}");
    assert!(!description.contains("forever"), "{description}");
    let now: Value = b.get(&url).send().await.unwrap().json().await.unwrap();
    assert_ne!(now["name"], "Renamed", "nothing changed");
}
