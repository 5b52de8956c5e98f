//! Agents that onboard themselves: resource indicators and protected
//! resource metadata, default scopes, the refresh grace period, dynamic
//! registration, and Client ID Metadata Documents fetched through the
//! SSRF-safe client (docs/threat-model.md rows 61–68).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::tls::{TestLookup, TlsServer};
use common::*;
use keyhouse_axum::ClientSpec;
use keyhouse_axum::config::{LookupOverride, RegistrationPolicy};
use keyhouse_core::ClientType;
use serde_json::{Value, json};

fn challenge(res: &reqwest::Response) -> String {
    header_str(res, reqwest::header::WWW_AUTHENTICATE)
}

async fn bearer_get(s: &TestServer, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn mcp(s: &TestServer) -> String {
    s.url("/mcp")
}

// ---------------------------------------------------------------- resources

#[tokio::test]
async fn protected_resource_metadata_describes_each_resource_on_this_host() {
    let s = spawn().await;
    let doc = get_json(s.url("/.well-known/oauth-protected-resource/mcp")).await;
    assert_eq!(doc["resource"], json!(mcp(&s)));
    assert_eq!(doc["authorization_servers"], json!([s.base]));
    assert_eq!(
        doc["scopes_supported"],
        json!(["notes:read", "notes:write"])
    );
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert_eq!(doc["resource_name"], json!("Test MCP server"));
    // No resource lives at the root or at an unknown path.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/nothing",
    ] {
        let res = reqwest::get(s.url(path)).await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let meta = get_json(s.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(meta["client_id_metadata_document_supported"], json!(true));
    assert_eq!(
        meta["registration_endpoint"],
        json!(s.url("/oauth2/register"))
    );
    assert_eq!(
        meta["authorization_response_iss_parameter_supported"],
        json!(true)
    );
}

#[tokio::test]
async fn a_request_without_a_token_is_told_where_the_resource_metadata_is() {
    let s = spawn().await;
    let res = reqwest::get(s.url("/test/mcp/read")).await.unwrap();
    assert_eq!(res.status(), 401);
    let c = challenge(&res);
    assert!(
        c.contains(&format!(
            "resource_metadata=\"{}\"",
            s.url("/.well-known/oauth-protected-resource/mcp")
        )),
        "{c}"
    );
}

#[tokio::test]
async fn a_token_is_accepted_only_by_the_resource_it_was_issued_for() {
    let s = spawn().await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = s.client(ClientType::ThirdParty).await;
    let resource = mcp(&s);
    let bound = tokens(&s, &b, &c, &[("resource", &resource)]).await;
    let bound = bound["access_token"].as_str().unwrap();
    assert_eq!(claims(bound)["aud"], json!(resource));
    let unbound = tokens(&s, &b, &c, &[]).await;
    let unbound = unbound["access_token"].as_str().unwrap();
    assert_eq!(claims(unbound)["aud"], json!(s.base));

    assert_eq!(bearer_get(&s, "/test/mcp/read", bound).await.status(), 200);
    assert_eq!(bearer_get(&s, "/test/api", unbound).await.status(), 200);
    // The other way round: refused, and the challenge says where to look.
    let res = bearer_get(&s, "/test/api", bound).await;
    assert_eq!(res.status(), 401);
    let res = bearer_get(&s, "/test/mcp/read", unbound).await;
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).contains("error=\"invalid_token\""));
    assert!(challenge(&res).contains("resource_metadata="));
}

#[tokio::test]
async fn insufficient_scope_names_every_scope_the_operation_needs() {
    let s = spawn().await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = s.client(ClientType::ThirdParty).await;
    let resource = mcp(&s);
    let t = tokens(
        &s,
        &b,
        &c,
        &[("resource", &resource), ("scope", "notes:read")],
    )
    .await;
    let res = bearer_get(&s, "/test/mcp/write", t["access_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 403);
    let ch = challenge(&res);
    assert!(ch.contains("error=\"insufficient_scope\""), "{ch}");
    assert!(ch.contains("scope=\"notes:read notes:write\""), "{ch}");
    assert!(ch.contains("resource_metadata="), "{ch}");
}

#[tokio::test]
async fn a_request_naming_no_scope_gets_the_resource_default() {
    let s = spawn().await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = s.client(ClientType::ThirdParty).await;
    let resource = mcp(&s);
    let mut p: Vec<(&str, &str)> = params(&c.client.id)
        .into_iter()
        .filter(|(k, _)| *k != "scope")
        .collect();
    p.push(("resource", &resource));
    let described = ok_json(s.start(&b, &p).await).await;
    let scopes: Vec<&str> = described["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["notes:read"]);
    assert_eq!(described["resource_name"], json!("Test MCP server"));
    let q = s.code_for(&b, &p).await;
    let t = ok_json(exchange(&s, &c, &q["code"]).await).await;
    assert_eq!(t["scope"], json!("notes:read"));
    // Without a resource and with no deployment default, still an error.
    let p: Vec<(&str, &str)> = p.into_iter().filter(|(k, _)| *k != "resource").collect();
    let q = s.code_for(&b, &p).await;
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_scope"));
}

#[tokio::test]
async fn a_refresh_keeps_its_resource_and_cannot_widen_it() {
    let s = spawn().await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = s.client(ClientType::ThirdParty).await;
    let resource = mcp(&s);
    let t = tokens(&s, &b, &c, &[("resource", &resource)]).await;
    let mut rt = t["refresh_token"].as_str().unwrap().to_owned();
    for other in ["https://api.example/", "https://elsewhere.example/mcp"] {
        let mut form = with_client(
            &c,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        );
        form.push(("resource", other));
        let res = s.token(&form).await;
        assert_eq!(res.status(), 400, "{other}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_target"
        );
    }
    // The same resource (a trailing slash does not matter), or none.
    let same = format!("{resource}/");
    let mut form = with_client(
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    );
    form.push(("resource", &same));
    let next = ok_json(s.token(&form).await).await;
    assert_eq!(
        claims(next["access_token"].as_str().unwrap())["aud"],
        json!(resource)
    );
    rt = next["refresh_token"].as_str().unwrap().to_owned();
    let next = ok_json(refresh(&s, &c, &rt, None).await).await;
    assert_eq!(
        claims(next["access_token"].as_str().unwrap())["aud"],
        json!(resource)
    );
}

// ------------------------------------------------------------ grace period

async fn graced_client(s: &TestServer, grace: i64) -> keyhouse_axum::CreatedClient {
    let mut spec = ClientSpec::new("Agent", ClientType::ThirdParty, vec![REDIRECT.to_owned()]);
    spec.refresh_policy = Some(keyhouse_core::client::RefreshPolicy::Always);
    spec.refresh_grace = grace;
    s.client_with(spec).await
}

#[tokio::test]
async fn within_the_grace_period_the_previous_token_returns_the_same_successor() {
    let s = spawn_with(|_| {}, true).await;
    let clock = s.clock.clone().unwrap();
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = graced_client(&s, 10).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let r0 = t["refresh_token"].as_str().unwrap().to_owned();
    let first = ok_json(refresh(&s, &c, &r0, None).await).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    // The last second of the grace period: the same successor again.
    clock.advance(10);
    let again = ok_json(refresh(&s, &c, &r0, None).await).await;
    assert_eq!(again["refresh_token"].as_str(), Some(r1.as_str()));
    assert_ne!(again["access_token"], first["access_token"]);
    // One second past it: a replay, and the family dies with it.
    clock.advance(1);
    let res = refresh(&s, &c, &r0, None).await;
    assert_eq!(res.status(), 400);
    let res = refresh(&s, &c, &r1, None).await;
    assert_eq!(res.status(), 400, "the successor must die with its family");
}

#[tokio::test]
async fn without_a_grace_period_a_second_presentation_revokes_at_once() {
    let s = spawn_with(|_| {}, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = graced_client(&s, 0).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let r0 = t["refresh_token"].as_str().unwrap().to_owned();
    let r1 = ok_json(refresh(&s, &c, &r0, None).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(refresh(&s, &c, &r0, None).await.status(), 400);
    assert_eq!(refresh(&s, &c, &r1, None).await.status(), 400);
}

#[tokio::test]
async fn fifty_concurrent_refreshes_leave_the_agent_one_live_token() {
    let s = spawn_with(|_| {}, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = graced_client(&s, 10).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let r0 = t["refresh_token"].as_str().unwrap().to_owned();
    let answers = futures::future::join_all((0..50).map(|_| refresh(&s, &c, &r0, None))).await;
    let mut successors = std::collections::HashSet::new();
    for res in answers {
        let body = ok_json(res).await;
        successors.insert(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "every caller gets the same successor");
    let live = successors.into_iter().next().unwrap();
    ok_json(refresh(&s, &c, &live, None).await).await;
}

#[tokio::test]
async fn fifty_concurrent_refreshes_without_grace_kill_the_family() {
    let s = spawn_with(|_| {}, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = graced_client(&s, 0).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let r0 = t["refresh_token"].as_str().unwrap().to_owned();
    let answers = futures::future::join_all((0..50).map(|_| refresh(&s, &c, &r0, None))).await;
    let mut winners = Vec::new();
    for res in answers {
        if res.status() == 200 {
            winners.push(
                res.json::<Value>().await.unwrap()["refresh_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert_eq!(winners.len(), 1);
    // The losers counted as replays: the winner's token is dead too.
    assert_eq!(refresh(&s, &c, &winners[0], None).await.status(), 400);
}

// ------------------------------------------------- dynamic registration

async fn register(s: &TestServer, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.url("/oauth2/register"))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn registration() -> Value {
    json!({
        "client_name": "Cursor",
        "redirect_uris": ["http://127.0.0.1:33418/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": "notes:read unknown:scope",
    })
}

#[tokio::test]
async fn a_public_agent_registers_itself_and_identical_registrations_share_a_client() {
    let s = spawn().await;
    let res = register(&s, &registration()).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    let id = first["client_id"].as_str().unwrap().to_owned();
    assert!(first["registration_access_token"].is_string());
    assert_eq!(
        first["scope"],
        json!("notes:read"),
        "unknown scopes are dropped"
    );
    assert!(first.get("client_secret").is_none());
    let again: Value = register(&s, &registration()).await.json().await.unwrap();
    assert_eq!(again["client_id"].as_str(), Some(id.as_str()));
    assert!(again.get("registration_access_token").is_none());
    let mut other = registration();
    other["client_name"] = json!("Cursor Nightly");
    let third: Value = register(&s, &other).await.json().await.unwrap();
    assert_ne!(third["client_id"].as_str(), Some(id.as_str()));

    // Consent marks it as self-registered.
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let described = ok_json(
        s.start(
            &b,
            &[
                ("client_id", id.as_str()),
                ("redirect_uri", "http://127.0.0.1:33418/callback"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("state", "s"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(described["client"]["self_registered"], json!(true));
    assert_eq!(described["redirect_is_local"], json!(true));
    assert_eq!(described["continues_until_revoked"], json!(true));
}

#[tokio::test]
async fn a_registered_agent_gets_the_configured_access_token_lifetime() {
    let s = spawn_with(|c| c.access_token_ttl = 900, false).await;
    let res = register(&s, &registration()).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.kh.admin_view(&id).await.unwrap().access_token_ttl, 900);
}

#[tokio::test]
async fn registration_management_needs_the_registration_access_token() {
    let s = spawn().await;
    let reg: Value = register(&s, &registration()).await.json().await.unwrap();
    let id = reg["client_id"].as_str().unwrap();
    let token = reg["registration_access_token"].as_str().unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(uri, s.url(&format!("/oauth2/register/{id}")));
    let http = reqwest::Client::new();
    assert_eq!(http.get(&uri).send().await.unwrap().status(), 401);
    assert_eq!(
        http.get(&uri)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let read: Value = ok_json(http.get(&uri).bearer_auth(token).send().await.unwrap()).await;
    assert_eq!(read["client_name"], json!("Cursor"));
    let mut update = registration();
    update["client_id"] = json!(id);
    update["client_name"] = json!("Cursor 2");
    let updated = ok_json(
        http.put(&uri)
            .bearer_auth(token)
            .json(&update)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(updated["client_name"], json!("Cursor 2"));
    update["token_endpoint_auth_method"] = json!("client_secret_basic");
    let res = http
        .put(&uri)
        .bearer_auth(token)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = http.delete(&uri).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        http.get(&uri)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert!(s.kh.store().find_client(id).await.unwrap().is_none());
}

#[tokio::test]
async fn abusive_registrations_are_refused_and_leave_no_row() {
    let s = spawn().await;
    let before = s.kh.store().list_clients().await.unwrap().len();
    let mut cases: Vec<(Value, u16, &str)> = Vec::new();
    let mut many = registration();
    many["redirect_uris"] = json!(
        (0..11)
            .map(|i| format!("https://a.example/{i}"))
            .collect::<Vec<_>>()
    );
    cases.push((many, 400, "invalid_client_metadata"));
    for bad in [
        "javascript:alert(1)",
        "https://a.example/cb#frag",
        "http://a.example/cb",
        "data:text/html,hi",
    ] {
        let mut r = registration();
        r["redirect_uris"] = json!([bad]);
        cases.push((r, 400, "invalid_redirect_uri"));
    }
    let mut machine = registration();
    machine["grant_types"] = json!(["client_credentials"]);
    cases.push((machine, 400, "invalid_client_metadata"));
    let mut jwt = registration();
    jwt["token_endpoint_auth_method"] = json!("private_key_jwt");
    cases.push((jwt, 400, "invalid_client_metadata"));
    for (body, status, error) in cases {
        let res = register(&s, &body).await;
        assert_eq!(res.status(), status, "{body}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            json!(error),
            "{body}"
        );
    }
    // An oversized body is refused before it is read.
    let mut huge = registration();
    huge["client_name"] = json!("x".repeat(20_000));
    let res = register(&s, &huge).await;
    assert!(
        res.status() == 413 || res.status() == 400,
        "{}",
        res.status()
    );
    assert_eq!(s.kh.store().list_clients().await.unwrap().len(), before);
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let s = spawn_with(|c| c.agents.registrations_per_ip_per_hour = 3, false).await;
    for i in 0..3 {
        let mut r = registration();
        r["client_name"] = json!(format!("Agent {i}"));
        assert_eq!(register(&s, &r).await.status(), 201);
    }
    let mut r = registration();
    r["client_name"] = json!("Agent 4");
    let res = register(&s, &r).await;
    assert_eq!(res.status(), 429);
    // Identical ones count too: the limit is on requests, not rows.
    assert_eq!(register(&s, &registration()).await.status(), 429);
}

#[tokio::test]
async fn registration_can_be_closed_or_need_an_initial_access_token() {
    let s = spawn_with(|c| c.agents.registration = RegistrationPolicy::Off, false).await;
    assert_eq!(register(&s, &registration()).await.status(), 403);
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert!(meta.get("registration_endpoint").is_none());

    let s = spawn_with(
        |c| {
            c.agents.registration = RegistrationPolicy::InitialAccessToken(vec!["let-me-in".into()])
        },
        false,
    )
    .await;
    assert_eq!(register(&s, &registration()).await.status(), 401);
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/register"))
        .bearer_auth("let-me-in")
        .json(&registration())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn self_registered_clients_left_unused_are_purged() {
    let s = spawn_with(|c| c.agents.unused_client_days = 30, true).await;
    let clock = s.clock.clone().unwrap();
    let idle: Value = register(&s, &registration()).await.json().await.unwrap();
    let mut busy_reg = registration();
    busy_reg["client_name"] = json!("Busy agent");
    busy_reg["redirect_uris"] = json!([REDIRECT]);
    let busy: Value = register(&s, &busy_reg).await.json().await.unwrap();
    let busy_id = busy["client_id"].as_str().unwrap().to_owned();
    let manual = s.client(ClientType::ThirdPartyPublic).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    // The busy agent gets a token on day 20.
    clock.advance(20 * 86_400);
    let b2 = s.signed_in("ada@example.test").await;
    drop(b);
    let code = code(
        &s,
        &b2,
        &busy_id,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "notes:read"),
        ],
    )
    .await;
    let res = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &busy_id),
            ("code_verifier", VERIFIER),
        ])
        .await;
    ok_json(res).await;
    // Day 31: the idle one goes, the busy one (used 11 days ago) and the
    // operator's client stay.
    clock.advance(11 * 86_400);
    assert_eq!(s.kh.purge_unused_clients().await.unwrap(), 1);
    let store = s.kh.store();
    assert!(
        store
            .find_client(idle["client_id"].as_str().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.find_client(&busy_id).await.unwrap().is_some());
    assert!(
        store
            .find_client(&manual.client.id)
            .await
            .unwrap()
            .is_some()
    );
}

// ------------------------------------------ Client ID Metadata Documents

/// An https server on 127.0.0.1 with a certificate for `agent.test` from a
/// CA made for the test; it counts the TCP connections it accepts.
struct DocServer {
    port: u16,
    ca_pem: String,
    connections: Arc<AtomicUsize>,
    flaky: Arc<AtomicUsize>,
    /// The agent's private key (PKCS#8), whose public half its
    /// `private_key_jwt` documents publish as `k1`.
    agent_key: Vec<u8>,
    /// Fetches of `/jwks.json`.
    jwks_fetches: Arc<AtomicUsize>,
}

/// A P-256 key pair: PKCS#8 and the public JWK with `kid`.
fn ec_key(kid: &str) -> (Vec<u8>, Value) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    let point = kp.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (doc.as_ref().to_vec(), jwk)
}

impl DocServer {
    async fn start() -> DocServer {
        let flaky = Arc::new(AtomicUsize::new(0));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let (agent_key, agent_jwk) = ec_key("k1");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app =
            doc_app(port, flaky.clone()).merge(key_docs(port, agent_jwk, jwks_fetches.clone()));
        let tls = TlsServer::serve(listener, &["agent.test", "other.test"], app);
        DocServer {
            port,
            ca_pem: tls.ca_pem,
            connections: tls.connections,
            flaky,
            agent_key,
            jwks_fetches,
        }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port)
    }
}

fn doc_app(port: u16, flaky: Arc<AtomicUsize>) -> axum::Router {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    let doc = move |name: &str, id: String| {
        json!({
            "client_id": id,
            "client_name": name,
            "client_uri": format!("https://agent.test:{port}/"),
            "redirect_uris": ["https://agent.test/callback", "http://127.0.0.1:33418/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        })
    };
    let json_with = |body: Value, cache: &'static str| {
        (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, cache),
            ],
            body.to_string(),
        )
            .into_response()
    };
    let base = format!("https://agent.test:{port}");
    let b1 = base.clone();
    let b2 = base.clone();
    let b3 = base.clone();
    axum::Router::new()
        .route(
            "/client.json",
            get(move || {
                let body = doc("Agent", format!("{b1}/client.json"));
                async move { json_with(body, "max-age=300") }
            }),
        )
        .route(
            "/nocache.json",
            get(move || {
                let body = doc("Agent", format!("{b2}/nocache.json"));
                async move { json_with(body, "no-store") }
            }),
        )
        .route(
            "/mismatch.json",
            get(move || {
                let body = doc("Agent", format!("{b3}/client.json"));
                async move { json_with(body, "max-age=300") }
            }),
        )
        .route(
            "/flaky.json",
            get(move || {
                let n = flaky.fetch_add(1, Ordering::SeqCst);
                let body = doc("Agent", format!("{base}/flaky.json"));
                async move {
                    if n == 0 {
                        StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    } else {
                        json_with(body, "max-age=300")
                    }
                }
            }),
        )
        .route(
            "/redirect.json",
            get(|| async {
                (StatusCode::FOUND, [(header::LOCATION, "/client.json")]).into_response()
            }),
        )
        .route(
            "/text.json",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], "{}").into_response() }),
        )
        .route(
            "/huge.json",
            get(|| async {
                // 6 MB, streamed without a length.
                let chunks = (0..600).map(|_| Ok::<_, std::io::Error>(vec![b' '; 10_000]));
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    axum::body::Body::from_stream(futures::stream::iter(chunks)),
                )
                    .into_response()
            }),
        )
        .route(
            "/slow.json",
            get(|| async {
                let slow = futures::stream::unfold(0u32, |n| async move {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    (n < 30).then(|| (Ok::<_, std::io::Error>(vec![b' ']), n + 1))
                });
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    axum::body::Body::from_stream(slow),
                )
                    .into_response()
            }),
        )
}

/// Documents of agents that authenticate with `private_key_jwt`: one
/// publishing its key in the document, one at a `jwks_uri`.
fn key_docs(port: u16, jwk: Value, fetches: Arc<AtomicUsize>) -> axum::Router {
    use axum::http::header;
    use axum::response::IntoResponse;
    use axum::routing::get;
    let base = format!("https://agent.test:{port}");
    let doc = |path: &str, keys: (&str, Value)| {
        let mut d = json!({
            "client_id": format!("{base}{path}"),
            "client_name": "Keyed agent",
            "redirect_uris": ["https://agent.test/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "private_key_jwt",
        });
        d[keys.0] = keys.1;
        d.to_string()
    };
    let inline = doc("/keyed.json", ("jwks", json!({ "keys": [jwk.clone()] })));
    let by_uri = doc(
        "/keyed-uri.json",
        ("jwks_uri", json!(format!("{base}/jwks.json"))),
    );
    let set = json!({ "keys": [jwk] }).to_string();
    let json_response = |body: String, kind: &'static str| {
        (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "max-age=300"),
            ],
            body,
        )
            .into_response()
    };
    let logo_doc = |path: &str, logo: &str| {
        json!({
            "client_id": format!("{base}{path}"),
            "client_name": "Agent with a logo",
            "logo_uri": format!("{base}{logo}"),
            "redirect_uris": ["https://agent.test/callback"],
        })
        .to_string()
    };
    // Public agents choosing their ID tokens' algorithm (decision 0036).
    let alg_doc = |path: &str, alg: &str| {
        json!({
            "client_id": format!("{base}{path}"),
            "client_name": "Agent with an algorithm",
            "redirect_uris": ["https://agent.test/callback"],
            "id_token_signed_response_alg": alg,
        })
        .to_string()
    };
    let eddsa_doc = alg_doc("/eddsa-client.json", "EdDSA");
    let none_doc = alg_doc("/alg-none-client.json", "none");
    let png_doc = logo_doc("/logo-client.json", "/logo.png");
    let svg_doc = logo_doc("/svg-client.json", "/logo.svg");
    let fake_doc = logo_doc("/fake-client.json", "/fake.png");
    axum::Router::new()
        .route(
            "/eddsa-client.json",
            get(move || async move { json_response(eddsa_doc, "application/json") }),
        )
        .route(
            "/alg-none-client.json",
            get(move || async move { json_response(none_doc, "application/json") }),
        )
        .route(
            "/logo-client.json",
            get(move || async move { json_response(png_doc, "application/json") }),
        )
        .route(
            "/svg-client.json",
            get(move || async move { json_response(svg_doc, "application/json") }),
        )
        .route(
            "/fake-client.json",
            get(move || async move { json_response(fake_doc, "application/json") }),
        )
        .route(
            "/logo.png",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], png()).into_response() }),
        )
        .route(
            "/logo.svg",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/svg+xml")],
                    r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
                )
                    .into_response()
            }),
        )
        .route(
            "/fake.png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    "<html>not a png</html>",
                )
                    .into_response()
            }),
        )
        .route(
            "/keyed.json",
            get(move || async move { json_response(inline, "application/json") }),
        )
        .route(
            "/keyed-uri.json",
            get(move || async move { json_response(by_uri, "application/json") }),
        )
        .route(
            "/jwks.json",
            get(move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                async move { json_response(set, "application/jwk-set+json") }
            }),
        )
}

/// A 1×1 PNG.
fn png() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
        .unwrap()
}

async fn cimd_server(docs: &DocServer, lookup: Arc<TestLookup>, test_mode: bool) -> TestServer {
    let ca = docs.ca_pem.clone();
    spawn_with(
        move |c| {
            c.agents.insecure_allow_loopback_metadata_for_tests = test_mode;
            c.agents.test_ca_pem = Some(ca);
            c.agents.test_lookup = LookupOverride(Some(lookup));
            c.access_token_ttl = 1200;
        },
        false,
    )
    .await
}

fn cimd_params(client_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", client_id),
        ("redirect_uri", "https://agent.test/callback"),
        ("scope", "notes:read"),
        ("state", "s"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

async fn start_status(s: &TestServer, b: &reqwest::Client, client_id: &str) -> (u16, Value) {
    let res = s.start(b, &cimd_params(client_id)).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_agent_identified_by_its_metadata_document_connects_and_the_document_is_cached() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/client.json");
    let described = ok_json(s.start(&b, &cimd_params(&id)).await).await;
    assert_eq!(described["client"]["verified_domain"], json!("agent.test"));
    assert_eq!(described["client"]["name"], json!("Agent"));
    assert_eq!(
        described["client"]["client_type"],
        json!("third_party_public")
    );
    assert_eq!(described["consent_required"], json!(true));
    assert_eq!(s.kh.metadata_fetches(), 1);
    let q = s.code_for(&b, &cimd_params(&id)).await;
    let res = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "https://agent.test/callback"),
            ("client_id", &id),
            ("code_verifier", VERIFIER),
        ])
        .await;
    let t = ok_json(res).await;
    assert!(
        t["refresh_token"].is_string(),
        "agents always get rotating refresh tokens"
    );
    assert_eq!(t["expires_in"], json!(1200), "the configured lifetime");
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["client_id"],
        json!(id)
    );
    // Warm: no second fetch.
    ok_json(s.start(&b, &cimd_params(&id)).await).await;
    assert_eq!(s.kh.metadata_fetches(), 1);
    // A redirect URI the document does not list is an error page.
    let mut p = cimd_params(&id);
    p[1] = ("redirect_uri", "https://agent.test/elsewhere");
    let res = s.start(&b, &p).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.json::<Value>()
            .await
            .unwrap()
            .get("redirect_uri")
            .is_none()
    );
}

#[tokio::test]
async fn a_burst_of_first_requests_fetches_the_document_once() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/client.json");
    let answers = futures::future::join_all((0..20).map(|_| start_status(&s, &b, &id))).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    assert_eq!(s.kh.metadata_fetches(), 1);
}

#[tokio::test]
async fn a_failed_fetch_is_not_cached() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/flaky.json");
    let (status, body) = start_status(&s, &b, &id).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], json!("invalid_client"));
    let (status, _) = start_status(&s, &b, &id).await;
    assert_eq!(status, 200);
    assert_eq!(s.kh.metadata_fetches(), 2);
    assert_eq!(docs.flaky.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn bad_documents_and_bad_hosts_are_refused_with_an_error_page() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    for path in [
        "/mismatch.json",
        "/redirect.json",
        "/text.json",
        "/huge.json",
        "/missing.json",
    ] {
        let (status, body) = start_status(&s, &b, &docs.url("agent.test", path)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], json!("invalid_client"), "{path}");
        assert!(
            body.get("redirect_uri").is_none(),
            "{path}: never a redirect"
        );
    }
    // Not https, a query, a fragment, no path: refused before any fetch.
    let fetched = s.kh.metadata_fetches();
    for id in [
        format!("http://agent.test:{}/client.json", docs.port),
        format!("{}?v=1", docs.url("agent.test", "/client.json")),
        docs.url("agent.test", "/"),
    ] {
        let (status, _) = start_status(&s, &b, &id).await;
        assert_eq!(status, 400, "{id}");
    }
    assert_eq!(s.kh.metadata_fetches(), fetched);
}

/// A metadata document may ask for EdDSA ID tokens (and gets them, with the
/// SHA-512 `at_hash`); one asking for `none` is refused and nothing is stored.
#[tokio::test]
async fn a_document_chooses_its_id_token_algorithm_and_none_is_refused() {
    use base64::Engine;
    use sha2::{Digest, Sha512};
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;

    let none = docs.url("agent.test", "/alg-none-client.json");
    let (status, body) = start_status(&s, &b, &none).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.get("redirect_uri").is_none(), "never a redirect");
    assert!(s.kh.store().find_client(&none).await.unwrap().is_none());

    let id = docs.url("agent.test", "/eddsa-client.json");
    let mut p = cimd_params(&id);
    p[2] = ("scope", "openid notes:read");
    p.push(("nonce", "n-1"));
    let q = s.code_for(&b, &p).await;
    let t = ok_json(
        s.token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "https://agent.test/callback"),
            ("client_id", &id),
            ("code_verifier", VERIFIER),
        ])
        .await,
    )
    .await;
    let id_token = t["id_token"].as_str().unwrap();
    let head = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(head.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(get_json(s.url("/.well-known/jwks.json")).await).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&head.kid.unwrap()).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&[id.as_str()]);
    let verified = jsonwebtoken::decode::<Value>(id_token, &key, &v)
        .unwrap()
        .claims;
    let access = t["access_token"].as_str().unwrap();
    let half = &Sha512::digest(access.as_bytes())[..32];
    assert_eq!(
        verified["at_hash"],
        json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half))
    );
    assert_eq!(
        s.kh.store()
            .find_client(&id)
            .await
            .unwrap()
            .unwrap()
            .id_token_alg,
        keyhouse_core::client::IdTokenAlg::EdDsa
    );
}

#[tokio::test]
async fn a_slow_document_is_abandoned_after_the_total_timeout() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let started = std::time::Instant::now();
    let (status, body) = start_status(&s, &b, &docs.url("agent.test", "/slow.json")).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("too long"),
        "{body}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

#[tokio::test]
async fn special_use_addresses_are_refused_before_any_connection() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[
        ("loopback4.test", &["127.0.0.1"]),
        ("loopback6.test", &["::1"]),
        ("private.test", &["10.1.2.3"]),
        ("metadata.test", &["169.254.169.254"]),
        ("mapped.test", &["::ffff:10.0.0.1"]),
        ("mixed.test", &["93.184.216.34"]),
    ]);
    // Production settings: loopback is not allowed.
    let s = cimd_server(&docs, lookup.clone(), false).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    for host in [
        "loopback4.test",
        "loopback6.test",
        "private.test",
        "metadata.test",
        "mapped.test",
    ] {
        let (status, body) = start_status(&s, &b, &docs.url(host, "/client.json")).await;
        assert_eq!(status, 400, "{host}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap_or("")
                .contains("special-use"),
            "{host}: {body}"
        );
    }
    // IP literals are checked without a lookup.
    let (status, body) = start_status(
        &s,
        &b,
        &format!("https://127.0.0.1:{}/client.json", docs.port),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        docs.connections.load(Ordering::SeqCst),
        0,
        "the refusal must come before any connection"
    );
}

#[tokio::test]
async fn a_dns_answer_that_changes_after_the_check_is_checked_again_at_connect() {
    let docs = DocServer::start().await;
    // First answer: the test server (allowed in test mode); every later
    // one: a private address.
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1", "10.0.0.7"])]);
    let s = {
        let ca = docs.ca_pem.clone();
        let l = lookup.clone();
        spawn_with(
            move |c| {
                c.agents.insecure_allow_loopback_metadata_for_tests = true;
                c.agents.test_ca_pem = Some(ca);
                c.agents.test_lookup = LookupOverride(Some(l));
                c.agents.metadata_ttl = (0, 0);
            },
            false,
        )
        .await
    };
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/nocache.json");
    let (status, body) = start_status(&s, &b, &id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(docs.connections.load(Ordering::SeqCst), 1);
    // The name now points inside: the connection is never made, because
    // the address connected to is the address just checked.
    let (status, body) = start_status(&s, &b, &id).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("special-use")
    );
    assert_eq!(docs.connections.load(Ordering::SeqCst), 1);
    assert_eq!(lookup.lookups.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn operator_policy_can_allow_only_some_domains_and_deny_others() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[
        ("agent.test", &["127.0.0.1"]),
        ("other.test", &["127.0.0.1"]),
    ]);
    let ca = docs.ca_pem.clone();
    let s = spawn_with(
        move |c| {
            c.agents.insecure_allow_loopback_metadata_for_tests = true;
            c.agents.test_ca_pem = Some(ca);
            c.agents.test_lookup = LookupOverride(Some(lookup));
            c.agents.allowed_domains = vec!["agent.test".into()];
        },
        false,
    )
    .await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let (status, _) = start_status(&s, &b, &docs.url("agent.test", "/client.json")).await;
    assert_eq!(status, 200);
    let (status, body) = start_status(&s, &b, &docs.url("other.test", "/client.json")).await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("not accepted")
    );
    let s2 = spawn_with(|c| c.agents.metadata_documents = false, false).await;
    s2.user("ada@example.test").await;
    let b2 = s2.signed_in("ada@example.test").await;
    let (status, _) = start_status(&s2, &b2, &docs.url("agent.test", "/client.json")).await;
    assert_eq!(status, 400);
    assert_eq!(docs.connections.load(Ordering::SeqCst), 1);
}

/// The tokens a public metadata-document agent `id` gets for the MCP server
/// after the signed-in browser `b` consents.
async fn mcp_tokens(s: &TestServer, b: &reqwest::Client, id: &str) -> Value {
    let resource = mcp(s);
    let mut p = cimd_params(id);
    p.push(("resource", &resource));
    let q = s.code_for(b, &p).await;
    ok_json(
        s.token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "https://agent.test/callback"),
            ("client_id", id),
            ("code_verifier", VERIFIER),
            ("resource", &resource),
        ])
        .await,
    )
    .await
}

#[tokio::test]
async fn blocking_a_domain_revokes_its_agents_at_once_and_refuses_them_after() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/client.json");
    let t = mcp_tokens(&s, &b, &id).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(bearer_get(&s, "/test/mcp/read", access).await.status(), 200);
    assert_eq!(s.kh.block_agent_domain("Agent.Test").await.unwrap(), 1);
    // The token already issued is refused on its next call, the refresh
    // token too, and the domain cannot come back in.
    assert_eq!(bearer_get(&s, "/test/mcp/read", access).await.status(), 401);
    let res = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &id),
        ])
        .await;
    assert!(
        res.status() == 400 || res.status() == 401,
        "{}",
        res.status()
    );
    let (status, body) = start_status(&s, &b, &id).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("not accepted")
    );
    assert_eq!(s.kh.blocked_agent_domains().await.unwrap(), ["agent.test"]);
    assert!(s.kh.unblock_agent_domain("agent.test").await.unwrap());
    let (status, _) = start_status(&s, &b, &id).await;
    assert_eq!(status, 200);
}

// ------------------------------------------------------- private_key_jwt

/// A client assertion (RFC 7523 §3) signed with `pkcs8`.
fn assertion(pkcs8: &[u8], alg: jsonwebtoken::Algorithm, kid: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ec_der(pkcs8),
    )
    .unwrap()
}

fn assertion_claims(s: &TestServer, id: &str, jti: &str) -> Value {
    let now = s.kh.now();
    json!({
        "iss": id, "sub": id, "aud": s.kh.config().issuer,
        "jti": jti, "iat": now, "exp": now + 60,
    })
}

fn jwt_form<'a>(grant: &'a [(&'a str, &'a str)], jwt: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut f = grant.to_vec();
    f.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ));
    f.push(("client_assertion", jwt));
    f
}

/// Signs in, authorizes the keyed agent `id` and redeems the code with an
/// assertion; returns the refresh token.
async fn keyed_agent_tokens(s: &TestServer, docs: &DocServer, id: &str) -> String {
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let described = ok_json(s.start(&b, &cimd_params(id)).await).await;
    assert_eq!(described["client"]["client_type"], json!("third_party"));
    let q = s.code_for(&b, &cimd_params(id)).await;
    let jwt = assertion(
        &docs.agent_key,
        jsonwebtoken::Algorithm::ES256,
        "k1",
        &assertion_claims(s, id, "first"),
    );
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", "https://agent.test/callback"),
        ("code_verifier", VERIFIER),
    ];
    let t = ok_json(s.token(&jwt_form(&grant, &jwt)).await).await;
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["client_id"],
        json!(id)
    );
    t["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_agent_publishing_its_keys_authenticates_with_private_key_jwt() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    let id = docs.url("agent.test", "/keyed.json");
    let refresh = keyed_agent_tokens(&s, &docs, &id).await;
    let grant = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let now = s.kh.now();
    let issuer = s.kh.config().issuer.clone();
    let (other_key, _) = ec_key("k1");
    let good = |jti: &str| assertion_claims(&s, &id, jti);
    let with = |jti: &str, field: &str, value: Value| {
        let mut c = good(jti);
        c[field] = value;
        c
    };
    let es = jsonwebtoken::Algorithm::ES256;
    // Each attack is refused, and none of them uses up the refresh token.
    let attacks: Vec<(&str, String)> = vec![
        ("no assertion", String::new()),
        (
            "the first assertion again (replay)",
            assertion(&docs.agent_key, es, "k1", &good("first")),
        ),
        (
            "for another audience",
            assertion(
                &docs.agent_key,
                es,
                "k1",
                &with("a", "aud", json!("https://elsewhere.example")),
            ),
        ),
        (
            "expired",
            assertion(
                &docs.agent_key,
                es,
                "k1",
                &with("b", "exp", json!(now - 120)),
            ),
        ),
        (
            "living a day",
            assertion(
                &docs.agent_key,
                es,
                "k1",
                &with("c", "exp", json!(now + 86_400)),
            ),
        ),
        (
            "without a jti",
            assertion(&docs.agent_key, es, "k1", &with("d", "jti", Value::Null)),
        ),
        (
            "issued by someone else",
            assertion(
                &docs.agent_key,
                es,
                "k1",
                &with("e", "iss", json!("https://evil.example/c.json")),
            ),
        ),
        (
            "signed by another key with the same kid",
            assertion(&other_key, es, "k1", &good("f")),
        ),
        ("signed with no algorithm", {
            use base64::Engine;
            use base64::engine::general_purpose::URL_SAFE_NO_PAD;
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#),
                URL_SAFE_NO_PAD.encode(good("g").to_string())
            )
        }),
        ("HS256 with the public key as the secret", {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            header.kid = Some("k1".into());
            jsonwebtoken::encode(
                &header,
                &good("h"),
                &jsonwebtoken::EncodingKey::from_secret(b"public key material"),
            )
            .unwrap()
        }),
    ];
    for (what, jwt) in &attacks {
        let res = if jwt.is_empty() {
            let mut f = grant.to_vec();
            f.push(("client_id", &id));
            s.token(&f).await
        } else {
            s.token(&jwt_form(&grant, jwt)).await
        };
        assert_eq!(res.status(), 401, "{what}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            json!("invalid_client"),
            "{what}"
        );
    }
    // The token endpoint URL is an audience too.
    let mut c = good("i");
    c["aud"] = json!(format!("{issuer}/oauth2/token"));
    let jwt = assertion(&docs.agent_key, es, "k1", &c);
    let t = ok_json(s.token(&jwt_form(&grant, &jwt)).await).await;
    assert!(t["refresh_token"].is_string());
}

#[tokio::test]
async fn a_key_set_at_jwks_uri_is_fetched_through_the_guard_and_kept() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    let id = docs.url("agent.test", "/keyed-uri.json");
    let refresh = keyed_agent_tokens(&s, &docs, &id).await;
    assert_eq!(docs.jwks_fetches.load(Ordering::SeqCst), 1);
    // Made-up key ids do not make Keyhouse fetch again and again.
    let grant = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    for n in 0..5 {
        let jwt = assertion(
            &docs.agent_key,
            jsonwebtoken::Algorithm::ES256,
            &format!("unknown-{n}"),
            &assertion_claims(&s, &id, &format!("u{n}")),
        );
        assert_eq!(s.token(&jwt_form(&grant, &jwt)).await.status(), 401);
    }
    assert_eq!(docs.jwks_fetches.load(Ordering::SeqCst), 1);
    let jwt = assertion(
        &docs.agent_key,
        jsonwebtoken::Algorithm::ES256,
        "k1",
        &assertion_claims(&s, &id, "second"),
    );
    ok_json(s.token(&jwt_form(&grant, &jwt)).await).await;
    assert_eq!(docs.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_public_agent_cannot_switch_to_an_assertion_nor_a_keyed_one_to_none() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/client.json");
    let q = s.code_for(&b, &cimd_params(&id)).await;
    let jwt = assertion(
        &docs.agent_key,
        jsonwebtoken::Algorithm::ES256,
        "k1",
        &assertion_claims(&s, &id, "x"),
    );
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", "https://agent.test/callback"),
        ("code_verifier", VERIFIER),
    ];
    assert_eq!(s.token(&jwt_form(&grant, &jwt)).await.status(), 401);
    // The keyed agent's code cannot be redeemed by naming the client alone.
    let keyed = docs.url("agent.test", "/keyed.json");
    let q = s.code_for(&b, &cimd_params(&keyed)).await;
    let res = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "https://agent.test/callback"),
            ("code_verifier", VERIFIER),
            ("client_id", &keyed),
        ])
        .await;
    assert_eq!(res.status(), 401);
}

// ------------------------------------------ what operators change at run time

fn policy(on: bool, allow: &[&str], deny: &[&str]) -> keyhouse_types::admin::MetadataPolicy {
    keyhouse_types::admin::MetadataPolicy {
        metadata_documents: on,
        allowed_domains: allow.iter().map(|d| (*d).to_owned()).collect(),
        denied_domains: deny.iter().map(|d| (*d).to_owned()).collect(),
    }
}

#[tokio::test]
async fn a_policy_change_revokes_agents_it_no_longer_accepts_and_a_reset_restores_the_configuration()
 {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/client.json");
    let t = mcp_tokens(&s, &b, &id).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(bearer_get(&s, "/test/mcp/read", access).await.status(), 200);

    // An allow list that leaves agent.test out: its token, issued before,
    // stops at once, and it cannot start again.
    let change =
        s.kh.set_metadata_policy(Some(policy(true, &["*.claude.ai", "Chatgpt.com"], &[])))
            .await
            .unwrap();
    assert_eq!(change.clients_removed, 1);
    assert_eq!(change.settings.policy_source, "admin");
    assert_eq!(
        change.settings.policy.allowed_domains,
        ["*.claude.ai", "chatgpt.com"]
    );
    assert_eq!(bearer_get(&s, "/test/mcp/read", access).await.status(), 401);
    assert_eq!(start_status(&s, &b, &id).await.0, 400);

    // Switched off: discovery stops advertising documents.
    s.kh.set_metadata_policy(Some(policy(false, &[], &[])))
        .await
        .unwrap();
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert_eq!(meta["client_id_metadata_document_supported"], json!(false));
    assert_eq!(start_status(&s, &b, &id).await.0, 400);

    // Back to the configuration (on, every host).
    let change = s.kh.set_metadata_policy(None).await.unwrap();
    assert_eq!(change.settings.policy_source, "configuration");
    assert_eq!(start_status(&s, &b, &id).await.0, 200);
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert_eq!(meta["client_id_metadata_document_supported"], json!(true));

    // Nonsense in a list is refused and changes nothing.
    for bad in [
        policy(true, &["not a domain"], &[]),
        policy(true, &[], &["*."]),
    ] {
        assert!(s.kh.set_metadata_policy(Some(bad)).await.is_err());
    }
    assert_eq!(
        s.kh.agent_settings().await.unwrap().policy_source,
        "configuration"
    );
}

fn files_resource(uri: &str) -> keyhouse_types::admin::ResourceRequest {
    keyhouse_types::admin::ResourceRequest {
        uri: uri.to_owned(),
        name: "Files API".to_owned(),
        scopes: vec!["notes:read".to_owned()],
        default_scopes: vec!["notes:read".to_owned()],
        accepts_unbound_tokens: false,
    }
}

#[tokio::test]
async fn a_resource_registered_at_run_time_is_served_and_removing_it_revokes_its_tokens() {
    let s = spawn().await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = s.client(ClientType::ThirdParty).await;
    let files = s.url("/files");
    // Not yet registered: invalid_target.
    let q = s
        .code_for(&b, &with(&params(&c.client.id), &[("resource", &files)]))
        .await;
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_target"));

    let view =
        s.kh.register_resource(&files_resource(&files))
            .await
            .unwrap();
    assert_eq!(view.source, "admin");
    let prm = get_json(s.url("/.well-known/oauth-protected-resource/files")).await;
    assert_eq!(prm["resource"], json!(files));
    assert_eq!(prm["scopes_supported"], json!(["notes:read"]));

    let t = tokens(&s, &b, &c, &[("resource", &files)]).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["aud"], json!(files));
    assert!(
        s.kh.verify_access_token(&access, None)
            .await
            .unwrap()
            .is_some()
    );

    assert!(s.kh.unregister_resource(&files).await.unwrap());
    // The token issued before is dead at once, its refresh token too.
    assert!(
        s.kh.verify_access_token(&access, None)
            .await
            .unwrap()
            .is_none()
    );
    let res = refresh(&s, &c, t["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        get_json(s.url("/.well-known/oauth-protected-resource/files")).await["error"],
        json!("not_found")
    );
    assert!(!s.kh.unregister_resource(&files).await.unwrap());
}

#[tokio::test]
async fn resources_that_would_confuse_audiences_are_refused() {
    let s = spawn().await;
    let mut unknown = files_resource("https://files.example.test/api");
    unknown.scopes.push("files:everything".into());
    let mut wider_default = files_resource("https://files.example.test/api");
    wider_default.default_scopes.push("notes:write".into());
    let cases = [
        (files_resource(&mcp(&s)), "conflict"),
        (files_resource(&s.kh.config().default_audience), "conflict"),
        (
            files_resource("http://files.example.test/api"),
            "invalid_request",
        ),
        (
            files_resource("https://files.example.test/api?x=1"),
            "invalid_target",
        ),
        (unknown, "invalid_scope"),
        (wider_default, "invalid_scope"),
    ];
    for (req, error) in cases {
        let e = s.kh.register_resource(&req).await.unwrap_err();
        assert_eq!(e.code.as_str(), error, "{}", req.uri);
    }
    assert!(
        s.kh.resource_views()
            .await
            .unwrap()
            .iter()
            .all(|r| r.source == "code")
    );
    assert!(s.kh.unregister_resource(&mcp(&s)).await.is_err());
}

// ------------------------------------------------------------------ logos

async fn logo_of(s: &TestServer, b: &reqwest::Client, client_id: &str) -> String {
    let described = ok_json(s.start(b, &cimd_params(client_id)).await).await;
    described["client"]["logo_uri"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn logos_come_through_keyhouse_and_only_as_real_raster_images() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[
        ("agent.test", &["127.0.0.1"]),
        ("intranet.test", &["10.0.0.5"]),
    ]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/logo-client.json");
    let logo = logo_of(&s, &b, &id).await;
    let mut expected = url::Url::parse(&s.url("/api/idp/logo")).unwrap();
    expected.query_pairs_mut().append_pair("client_id", &id);
    assert_eq!(logo, expected.as_str(), "served from Keyhouse's origin");
    let res = reqwest::get(&logo).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header_str(&res, "content-type"), "image/png");
    assert_eq!(header_str(&res, "x-content-type-options"), "nosniff");
    assert!(header_str(&res, "content-security-policy").contains("sandbox"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), png());
    // Kept: looking again fetches nothing (the document's read fetched it).
    let fetches = s.kh.logo_fetches();
    assert!(fetches <= 2, "{fetches}");
    for _ in 0..3 {
        assert_eq!(reqwest::get(&logo).await.unwrap().status(), 200);
    }
    assert_eq!(s.kh.logo_fetches(), fetches);

    // An SVG (it can carry scripts) and bytes that are not the type they
    // claim are not served.
    for path in ["/svg-client.json", "/fake-client.json"] {
        let logo = logo_of(&s, &b, &docs.url("agent.test", path)).await;
        assert_eq!(reqwest::get(&logo).await.unwrap().status(), 404, "{path}");
    }

    // An operator's logo on an address inside the network is refused
    // before any connection.
    let mut spec = ClientSpec::new(
        "Intranet app",
        ClientType::ThirdParty,
        vec![REDIRECT.to_owned()],
    );
    spec.logo_uri = Some("https://intranet.test/logo.png".to_owned());
    let c = s.client_with(spec).await;
    let before = docs.connections.load(Ordering::SeqCst);
    let mut url = url::Url::parse(&s.url("/api/idp/logo")).unwrap();
    url.query_pairs_mut().append_pair("client_id", &c.client.id);
    assert_eq!(reqwest::get(url.as_str()).await.unwrap().status(), 404);
    assert_eq!(docs.connections.load(Ordering::SeqCst), before);
    // No such client, no logo.
    let res = reqwest::get(s.url("/api/idp/logo?client_id=nobody"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// `PUT /api/b2b/organization/logo` from `b`.
async fn set_org_logo(s: &TestServer, b: &reqwest::Client, uri: Value) -> reqwest::Response {
    b.put(s.url("/api/b2b/organization/logo"))
        .json(&json!({ "logo_uri": uri }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_organizations_logo_comes_through_keyhouse_and_only_as_a_real_raster_image() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[
        ("agent.test", &["127.0.0.1"]),
        ("intranet.test", &["10.0.0.5"]),
    ]);
    let s = cimd_server(&docs, lookup, true).await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    for (email, role) in [("boss@acme.test", "admin"), ("sam@acme.test", "member")] {
        s.kh.create_member("acme", email, PASSWORD, "", &[role.to_owned()])
            .await
            .unwrap();
    }
    let admin = signed_in_to(&s, "acme", "boss@acme.test").await;
    let sam = signed_in_to(&s, "acme", "sam@acme.test").await;
    let png_url = json!(docs.url("agent.test", "/logo.png"));

    // Only admins set it.
    assert_eq!(set_org_logo(&s, &sam, png_url.clone()).await.status(), 403);
    // Not http, not an SVG (it can carry scripts), not bytes that are not
    // the type they claim, and not an address inside the network, which is
    // refused before any connection.
    let before = docs.connections.load(Ordering::SeqCst);
    let res = set_org_logo(&s, &admin, json!("https://intranet.test/logo.png")).await;
    assert_eq!(res.status(), 400);
    assert_eq!(docs.connections.load(Ordering::SeqCst), before);
    for bad in [
        json!("http://agent.test/logo.png"),
        json!(docs.url("agent.test", "/logo.svg")),
        json!(docs.url("agent.test", "/fake.png")),
    ] {
        let res = set_org_logo(&s, &admin, bad.clone()).await;
        assert_eq!(res.status(), 400, "{bad}");
    }
    let me = ok_json(admin.get(s.url("/api/b2b/session")).send().await.unwrap()).await;
    assert!(me["organization"].get("logo_url").is_none(), "{me}");

    // A PNG: served from Keyhouse's origin, to members and on the
    // sign-in pages alike.
    let summary = ok_json(set_org_logo(&s, &admin, png_url.clone()).await).await;
    let path = summary["logo_url"].as_str().unwrap().to_owned();
    let org_id = summary["organization_id"].as_str().unwrap();
    assert!(
        path.starts_with(&format!("/api/b2b/organizations/{org_id}/logo?v=")),
        "{path}"
    );
    let res = reqwest::get(s.url(&path)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header_str(&res, "content-type"), "image/png");
    assert_eq!(header_str(&res, "x-content-type-options"), "nosniff");
    assert!(header_str(&res, "content-security-policy").contains("sandbox"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), png());
    let me = ok_json(sam.get(s.url("/api/b2b/session")).send().await.unwrap()).await;
    assert_eq!(me["organization"]["logo_url"], json!(path));
    let settings = ok_json(
        admin
            .get(s.url("/api/b2b/organization"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(settings["logo_uri"], png_url);
    let audit = s.kh.store().list_audit(50, None, None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "organization.logo_changed")
    );

    // Removed: no logo anywhere.
    let summary = ok_json(set_org_logo(&s, &admin, Value::Null).await).await;
    assert!(summary.get("logo_url").is_none(), "{summary}");
    assert_eq!(reqwest::get(s.url(&path)).await.unwrap().status(), 404);
    let res = reqwest::get(s.url("/api/b2b/organizations/org-nobody/logo"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn blocking_one_agent_revokes_it_and_leaves_its_neighbours_alone() {
    let docs = DocServer::start().await;
    let lookup = TestLookup::with(&[("agent.test", &["127.0.0.1"])]);
    let s = cimd_server(&docs, lookup, true).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = docs.url("agent.test", "/client.json");
    let neighbour = docs.url("agent.test", "/nocache.json");
    let mut access = Vec::new();
    for client_id in [&id, &neighbour] {
        let t = mcp_tokens(&s, &b, client_id).await;
        access.push(t["access_token"].as_str().unwrap().to_owned());
    }
    // Its document describes it: the operator blocks it, never edits it.
    let edit = keyhouse_types::admin::UpdateClientRequest {
        redirect_uris: Some(vec!["https://evil.example/cb".to_owned()]),
        ..Default::default()
    };
    let e = s.kh.update_client(&id, edit, "test").await.unwrap_err();
    assert_eq!(e.code.as_str(), "conflict");
    assert!(s.kh.start_secret_rotation(&id, "test").await.is_err());
    assert!(s.kh.block_agent_client(&id).await.unwrap());
    // The blocked agent's token stops at once, and it cannot start again;
    // its neighbour on the same domain is untouched.
    assert_eq!(
        bearer_get(&s, "/test/mcp/read", &access[0]).await.status(),
        401
    );
    assert_eq!(start_status(&s, &b, &id).await.0, 400);
    assert_eq!(
        bearer_get(&s, "/test/mcp/read", &access[1]).await.status(),
        200
    );
    assert_eq!(start_status(&s, &b, &neighbour).await.0, 200);
    assert_eq!(
        s.kh.blocked_agent_clients().await.unwrap(),
        vec![id.clone()]
    );
    assert!(s.kh.blocked_agent_domains().await.unwrap().is_empty());
    // Only metadata-document agents are blocked this way.
    let c = s.client(ClientType::ThirdParty).await;
    assert!(s.kh.block_agent_client(&c.client.id).await.is_err());
    // Unblocking an agent never lifts a domain block (they share a table).
    s.kh.block_agent_domain("other.test").await.unwrap();
    assert!(!s.kh.unblock_agent_client("other.test").await.unwrap());
    assert_eq!(s.kh.blocked_agent_domains().await.unwrap(), ["other.test"]);
    assert!(s.kh.unblock_agent_client(&id).await.unwrap());
    assert_eq!(start_status(&s, &b, &id).await.0, 200);
}

/// An MCP endpoint behind `Keyhouse::protect_mcp`, on a listener of its own:
/// it answers the subject of the token the guard left in the extensions.
async fn guarded_mcp(s: &TestServer) -> String {
    use axum::routing::post;
    async fn echo(axum::Extension(t): axum::Extension<keyhouse_axum::AccessToken>) -> String {
        t.claims.sub
    }
    let service = axum::Router::new().route("/mcp", post(echo));
    let app =
        s.kh.protect_mcp(
            &mcp(s),
            &[("list_notes", "notes:read"), ("create_note", "notes:write")],
            service,
        )
        .expect("the /mcp resource is registered");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn call_tool(url: &str, token: Option<&str>, tool: &str) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(url).json(&json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}
    }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn protect_mcp_lets_a_bound_token_call_the_tools_its_scopes_cover() {
    let s = spawn().await;
    let ada = s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = s.client(ClientType::ThirdParty).await;
    let url = guarded_mcp(&s).await;
    let resource = mcp(&s);
    let read_only = tokens(
        &s,
        &b,
        &c,
        &[("resource", &resource), ("scope", "notes:read")],
    )
    .await;
    let read_only = read_only["access_token"].as_str().unwrap();

    let res = call_tool(&url, Some(read_only), "list_notes").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        ada.id,
        "the tool sees the token's subject"
    );

    // Past the boundary: the write tool needs a scope the token lacks; the
    // challenge names what to ask for, keeping what it has.
    let res = call_tool(&url, Some(read_only), "create_note").await;
    assert_eq!(res.status(), 403);
    let ch = challenge(&res);
    assert!(ch.contains("error=\"insufficient_scope\""), "{ch}");
    assert!(ch.contains("scope=\"notes:read notes:write\""), "{ch}");
    assert!(ch.contains("resource_metadata="), "{ch}");
}

#[tokio::test]
async fn protect_mcp_refuses_no_token_and_tokens_for_another_audience() {
    let s = spawn().await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let c = s.client(ClientType::ThirdParty).await;
    let url = guarded_mcp(&s).await;

    // No token: 401 naming the resource metadata (how MCP clients onboard).
    let res = call_tool(&url, None, "list_notes").await;
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).contains(&format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        s.base
    )));
    // A token for the app's own API (not bound to /mcp): refused.
    let unbound = tokens(&s, &b, &c, &[]).await;
    let res = call_tool(&url, unbound["access_token"].as_str(), "list_notes").await;
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).contains("error=\"invalid_token\""));
}
