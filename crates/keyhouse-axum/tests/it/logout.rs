//! Signing out of clients: RP-Initiated Logout through the end-session API
//! the `/logout` page calls, and Back-Channel Logout notices posted to an
//! https receiver on 127.0.0.1 through the guarded fetcher
//! (docs/threat-model.md rows 118–124).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::tls::{TestLookup, TlsServer};
use common::*;
use keyhouse_axum::ClientSpec;
use keyhouse_axum::config::LookupOverride;
use keyhouse_axum::oauth::backchannel::LogoutDelivery;
use keyhouse_core::ClientType;
use serde_json::{Value, json};

const BYE: &str = "https://rp.test/bye";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The logout tokens a receiver kept.
type Kept = Arc<Mutex<Vec<String>>>;

/// The relying party's back channel: an https server for `rp.test` that
/// keeps each logout token posted to `/bc` and answers `status`.
struct Receiver {
    port: u16,
    ca_pem: String,
    tokens: Kept,
    status: Arc<AtomicU16>,
    connections: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> Receiver {
        use axum::extract::{Form, State};
        use axum::http::StatusCode;
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let app = axum::Router::new()
            .route(
                "/bc",
                axum::routing::post(
                    |State((tokens, status)): State<(Kept, Arc<AtomicU16>)>,
                     Form(form): Form<std::collections::HashMap<String, String>>| async move {
                        let code = status.load(Ordering::SeqCst);
                        if code == 200 {
                            tokens
                                .lock()
                                .unwrap()
                                .push(form.get("logout_token").cloned().unwrap_or_default());
                        }
                        StatusCode::from_u16(code).unwrap()
                    },
                ),
            )
            .with_state((tokens.clone(), status.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tls = TlsServer::serve(listener, &["rp.test"], app);
        Receiver {
            port,
            ca_pem: tls.ca_pem,
            tokens,
            status,
            connections: tls.connections,
        }
    }

    fn uri(&self, host: &str) -> String {
        format!("https://{host}:{}/bc", self.port)
    }

    fn received(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }
}

/// A server whose fetcher reaches `rp.test` on 127.0.0.1 (test mode) and
/// sees `internal.test` at a private address; `frozen` as in `spawn_with`.
async fn server(rp: &Receiver, frozen: bool) -> (TestServer, Arc<TestLookup>) {
    let lookup = TestLookup::with(&[
        ("rp.test", &["127.0.0.1"]),
        ("internal.test", &["10.0.0.5"]),
    ]);
    let ca = rp.ca_pem.clone();
    let l = lookup.clone();
    let s = spawn_with(
        move |c| {
            c.agents.insecure_allow_loopback_metadata_for_tests = true;
            c.agents.test_ca_pem = Some(ca);
            c.agents.test_lookup = LookupOverride(Some(l));
        },
        frozen,
    )
    .await;
    (s, lookup)
}

/// A confidential third-party client that registered `BYE` and, when
/// given, a back-channel URI.
async fn rp_client(s: &TestServer, backchannel: Option<String>) -> keyhouse_axum::CreatedClient {
    let mut spec = ClientSpec::new("Partner", ClientType::ThirdParty, vec![REDIRECT.to_owned()]);
    spec.post_logout_redirect_uris = vec![BYE.to_owned()];
    spec.backchannel_logout_uri = backchannel;
    spec.backchannel_logout_session_required = true;
    s.client_with(spec).await
}

fn end_session_body(hint: Option<&str>, extra: Value) -> Value {
    let mut body = json!({ "post_logout_redirect_uri": BYE, "state": "s-1" });
    if let Some(h) = hint {
        body["id_token_hint"] = json!(h);
    }
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
    body
}

async fn check(b: &reqwest::Client, s: &TestServer, body: Value) -> (u16, Value) {
    let res = post(b, s, "/api/session/end-session/check", body).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The ID token of a code flow for `c` in browser `b`.
async fn id_token(s: &TestServer, b: &reqwest::Client, c: &keyhouse_axum::CreatedClient) -> Value {
    tokens(s, b, c, &[]).await
}

/// Ada signs in, signs in to `c`, and signs out (`POST /api/session/logout`).
async fn signed_in_to_then_out(s: &TestServer, c: &keyhouse_axum::CreatedClient) {
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    id_token(s, &b, c).await;
    let res = post(&b, s, "/api/session/logout", json!({})).await;
    assert_eq!(res.status(), 204);
}

/// Runs deliveries, moving the clock on a minute between runs, until
/// `done` says so (the background run after each request may take the
/// first attempt; the next due one is then this test's).
async fn deliveries_until(
    s: &TestServer,
    mut done: impl FnMut(&[LogoutDelivery]) -> bool,
) -> Vec<LogoutDelivery> {
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen.extend(s.kh.deliver_logout_notices().await);
        if done(&seen) {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if let Some(clock) = &s.clock {
            clock.advance(61);
        }
    }
    panic!("no such delivery: {seen:?}");
}

async fn wait_for_token(rp: &Receiver, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let got = rp.received();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the receiver got {} logout tokens, not {n}",
        rp.received().len()
    );
}

/// Waits for the queue to empty: a delivered notice is removed once the
/// answer comes back, just after the receiver kept the token.
async fn no_notice_left(s: &TestServer) {
    for _ in 0..100 {
        if s.kh.store().pending_logout_notices().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("a logout notice is still queued");
}

/// Verifies an RS256 logout token with the server's published keys.
async fn verified(s: &TestServer, token: &str) -> Value {
    verified_as(s, token, jsonwebtoken::Algorithm::RS256).await
}

/// Verifies a logout token signed with `alg` with the server's published keys.
async fn verified_as(s: &TestServer, token: &str, alg: jsonwebtoken::Algorithm) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(get_json(s.url("/.well-known/jwks.json")).await).unwrap();
    let head = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(head.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(head.alg, alg);
    let jwk = jwks.find(head.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(alg);
    v.validate_aud = false;
    v.validate_exp = false;
    v.set_issuer(&[s.kh.config().issuer.as_str()]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims
}

#[tokio::test]
async fn a_client_signs_its_user_out_with_its_id_token_and_every_listening_client_is_told() {
    let rp = Receiver::start().await;
    let (s, _) = server(&rp, false).await;
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert_eq!(meta["end_session_endpoint"], s.url("/oauth2/logout"));
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);

    let c = rp_client(&s, Some(rp.uri("rp.test"))).await;
    let quiet = s.client(ClientType::ThirdParty).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let t = id_token(&s, &b, &c).await;
    let other = id_token(&s, &b, &quiet).await;
    let id = t["id_token"].as_str().unwrap();
    let sid = claims(id)["sid"].as_str().unwrap().to_owned();
    assert_eq!(
        claims(other["id_token"].as_str().unwrap())["sid"],
        sid,
        "one session, one sid"
    );

    let (status, body) = check(&b, &s, end_session_body(Some(id), json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["confirm"], false,
        "the hint proves this session: {body}"
    );
    assert_eq!(body["client_name"], "Partner");
    assert_eq!(body["returns_to_client"], true);

    let res = post(
        &b,
        &s,
        "/api/session/end-session",
        end_session_body(Some(id), json!({})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let cookies: Vec<String> = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["redirect_to"], format!("{BYE}?state=s-1"));
    assert_eq!(signed_in_status(&b, &s).await, 401);

    // The client with a back channel is told, once, with a token for the
    // session it signed in with; the one without is not (nothing queued).
    let got = wait_for_token(&rp, 1).await;
    assert_eq!(got.len(), 1);
    let lt = verified(&s, &got[0]).await;
    assert_eq!(lt["aud"], c.client.id.as_str());
    assert_eq!(lt["sub"], claims(id)["sub"]);
    assert_eq!(lt["sid"], sid.as_str());
    assert_eq!(lt["events"][EVENT], json!({}));
    assert!(lt.get("nonce").is_none());
    assert!(lt["jti"].as_str().is_some_and(|j| !j.is_empty()));
    no_notice_left(&s).await;

    // The app's tokens are not the session: they still work.
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&s, access).await.status(), 200);
}

/// A client that registered EdDSA for its ID tokens: its ID token is a
/// hint like an RS256 one, and its logout token is signed with EdDSA too
/// (Back-Channel Logout §2.4: the keys of ID tokens).
#[tokio::test]
async fn an_eddsa_client_hints_with_its_id_token_and_gets_an_eddsa_logout_token() {
    let rp = Receiver::start().await;
    let (s, _) = server(&rp, false).await;
    let mut spec = ClientSpec::new("Partner", ClientType::ThirdParty, vec![REDIRECT.to_owned()]);
    spec.post_logout_redirect_uris = vec![BYE.to_owned()];
    spec.backchannel_logout_uri = Some(rp.uri("rp.test"));
    spec.id_token_alg = keyhouse_core::client::IdTokenAlg::EdDsa;
    let c = s.client_with(spec).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let t = id_token(&s, &b, &c).await;
    let id = t["id_token"].as_str().unwrap();
    assert_eq!(header(id)["alg"], "EdDSA");

    let (status, body) = check(&b, &s, end_session_body(Some(id), json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["confirm"], false,
        "the hint proves this session: {body}"
    );
    let res = post(
        &b,
        &s,
        "/api/session/end-session",
        end_session_body(Some(id), json!({})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["redirect_to"], format!("{BYE}?state=s-1"));

    let got = wait_for_token(&rp, 1).await;
    let lt = verified_as(&s, &got[0], jsonwebtoken::Algorithm::EdDSA).await;
    assert_eq!(lt["aud"], c.client.id.as_str());
    assert_eq!(lt["sub"], claims(id)["sub"]);
    no_notice_left(&s).await;
}

#[tokio::test]
async fn refused_requests_redirect_nowhere_and_end_nothing() {
    let rp = Receiver::start().await;
    let (s, _) = server(&rp, false).await;
    let c = rp_client(&s, Some(rp.uri("rp.test"))).await;
    let other = rp_client(&s, None).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = id_token(&s, &b, &c).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut forged = id.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (head, rest) = id.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    let unsigned = format!("{head}.{payload}.");

    let cases = [
        (
            "a near miss of the registered URI",
            end_session_body(
                Some(&id),
                json!({ "post_logout_redirect_uri": "https://rp.test/bye/" }),
            ),
        ),
        (
            "another host",
            end_session_body(
                Some(&id),
                json!({ "post_logout_redirect_uri": "https://evil.test/bye" }),
            ),
        ),
        (
            "a forged signature",
            end_session_body(Some(&forged), json!({})),
        ),
        ("no signature", end_session_body(Some(&unsigned), json!({}))),
        (
            "not a JWT",
            end_session_body(Some("not-a-token"), json!({})),
        ),
        (
            "a client_id other than the hint's audience",
            end_session_body(Some(&id), json!({ "client_id": other.client.id })),
        ),
        (
            "a redirect with no client named",
            end_session_body(None, json!({})),
        ),
        (
            "an unknown client",
            end_session_body(None, json!({ "client_id": "client-nobody" })),
        ),
        (
            "a state too long to carry",
            end_session_body(Some(&id), json!({ "state": "x".repeat(3000) })),
        ),
    ];
    for (why, body) in cases {
        for path in ["/api/session/end-session/check", "/api/session/end-session"] {
            let res = post(&b, &s, path, body.clone()).await;
            let (status, error) = error_of(res).await;
            assert_eq!(
                (status, error.as_str()),
                (400, "invalid_request"),
                "{why} at {path}"
            );
        }
    }
    // The endpoint takes the request by GET or form post (the
    // specification asks for both) and moves it to the page unchanged;
    // nothing ends on the way.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = [
        ("id_token_hint", id.as_str()),
        ("state", "a b"),
        ("post_logout_redirect_uri", BYE),
    ];
    let by_get = no_redirects
        .get(s.url("/oauth2/logout"))
        .query(&form)
        .send()
        .await
        .unwrap();
    let by_post = no_redirects
        .post(s.url("/oauth2/logout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    for res in [by_get, by_post] {
        assert_eq!(res.status(), 303);
        let to = header_str(&res, reqwest::header::LOCATION);
        let page = url::Url::parse(&s.url(&to)).unwrap();
        assert_eq!(page.path(), "/logout");
        let q: std::collections::HashMap<_, _> = page.query_pairs().into_owned().collect();
        assert_eq!(q["id_token_hint"], id);
        assert_eq!(q["state"], "a b");
        assert_eq!(q["post_logout_redirect_uri"], BYE);
    }
    // A cross-site page cannot sign the user out: the API is behind the
    // same-origin check.
    let res = b
        .post(s.url("/api/session/end-session"))
        .header("Origin", "https://evil.test")
        .json(&end_session_body(Some(&id), json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(signed_in_status(&b, &s).await, 200, "nothing ended");
    assert_eq!(s.kh.store().pending_logout_notices().await.unwrap(), 0);
    assert_eq!(rp.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_proof_of_this_session_the_person_is_asked_and_an_expired_hint_still_proves_it() {
    let rp = Receiver::start().await;
    let (s, _) = server(&rp, true).await;
    let c = rp_client(&s, None).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let id = id_token(&s, &b, &c).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // No hint: a page elsewhere may have sent the browser here.
    let body = end_session_body(None, json!({ "client_id": c.client.id }));
    let (status, got) = check(&b, &s, body).await;
    assert_eq!((status, &got["confirm"]), (200, &json!(true)), "{got}");
    assert_eq!(got["returns_to_client"], true);
    // A hint from another session of the same person: asked too.
    let b2 = s.signed_in("ada@example.test").await;
    let (_, got) = check(&b2, &s, end_session_body(Some(&id), json!({}))).await;
    assert_eq!(got["confirm"], true, "{got}");
    // Nobody signed in: nothing to ask, nothing to end.
    let (_, got) = check(&browser(), &s, end_session_body(Some(&id), json!({}))).await;
    assert_eq!(
        (&got["signed_in"], &got["confirm"]),
        (&json!(false), &json!(false))
    );

    // Two hours on, the ID token has expired and still names this session.
    s.clock.as_ref().unwrap().advance(2 * 3600);
    assert!(claims(&id)["exp"].as_i64().unwrap() < s.kh.now());
    let (_, got) = check(&b, &s, end_session_body(Some(&id), json!({}))).await;
    assert_eq!(got["confirm"], false, "{got}");
    let res = post(
        &b,
        &s,
        "/api/session/end-session",
        end_session_body(Some(&id), json!({})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(signed_in_status(&b, &s).await, 401);
    assert_eq!(
        signed_in_status(&b2, &s).await,
        200,
        "only this browser signs out"
    );
}

#[tokio::test]
async fn a_session_ended_from_another_device_is_notified_and_a_failed_delivery_is_retried() {
    let rp = Receiver::start().await;
    rp.status.store(503, Ordering::SeqCst);
    let (s, _) = server(&rp, true).await;
    let c = rp_client(&s, Some(rp.uri("rp.test"))).await;
    s.user("ada@example.test").await;
    let laptop = s.signed_in("ada@example.test").await;
    let id = id_token(&s, &laptop, &c).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = s.signed_in("ada@example.test").await;
    let res = post(
        &phone,
        &s,
        "/api/account/sessions/sign-out-others",
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    assert_eq!(signed_in_status(&laptop, &s).await, 401);
    assert_eq!(s.kh.store().pending_logout_notices().await.unwrap(), 1);

    let seen = deliveries_until(&s, |d| {
        d.iter()
            .any(|d| matches!(d, LogoutDelivery::Retrying { error, .. } if error.contains("503")))
    })
    .await;
    assert!(rp.received().is_empty(), "{seen:?}");
    assert_eq!(
        s.kh.store().pending_logout_notices().await.unwrap(),
        1,
        "kept for later"
    );

    rp.status.store(200, Ordering::SeqCst);
    deliveries_until(&s, |_| !rp.received().is_empty()).await;
    let lt = verified(&s, &rp.received()[0]).await;
    assert_eq!(lt["sid"], claims(&id)["sid"]);
    no_notice_left(&s).await;
}

#[tokio::test]
async fn a_back_channel_uri_inside_the_network_is_refused_before_any_connection() {
    let rp = Receiver::start().await;
    let (s, lookup) = server(&rp, true).await;
    let c = rp_client(&s, Some(rp.uri("internal.test"))).await;
    signed_in_to_then_out(&s, &c).await;
    let seen = deliveries_until(&s, |d| {
        d.iter().any(
            |d| matches!(d, LogoutDelivery::Retrying { error, .. } if error.contains("special-use")),
        )
    })
    .await;
    assert!(lookup.lookups.load(Ordering::SeqCst) >= 1, "{seen:?}");
    assert_eq!(rp.connections.load(Ordering::SeqCst), 0);

    // Registration refuses what is not https, or carries a fragment.
    for bad in [
        "http://rp.test/bc",
        "https://rp.test/bc#x",
        "https://u:p@rp.test/bc",
    ] {
        let mut spec = ClientSpec::new("Bad", ClientType::ThirdParty, vec![REDIRECT.to_owned()]);
        spec.backchannel_logout_uri = Some(bad.to_owned());
        let e = s.kh.create_client(spec).await.unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_client_metadata", "{bad}");
    }
    let mut spec = ClientSpec::new("Bad", ClientType::ThirdParty, vec![REDIRECT.to_owned()]);
    spec.post_logout_redirect_uris = vec!["https://rp.test/bye#frag".to_owned()];
    assert!(s.kh.create_client(spec).await.is_err());
}

#[tokio::test]
async fn a_dynamically_registered_client_registers_its_logout_uris() {
    let rp = Receiver::start().await;
    let s = spawn_with_registration(&rp).await;
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/register"))
        .json(&json!({
            "client_name": "Agent",
            "redirect_uris": ["https://agent.test/callback"],
            "token_endpoint_auth_method": "client_secret_basic",
            "post_logout_redirect_uris": ["https://agent.test/bye"],
            "backchannel_logout_uri": "https://agent.test/bc",
            "backchannel_logout_session_required": true,
        }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["post_logout_redirect_uris"],
        json!(["https://agent.test/bye"]),
        "{body}"
    );
    assert_eq!(body["backchannel_logout_uri"], "https://agent.test/bc");
    assert_eq!(body["backchannel_logout_session_required"], true);
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/register"))
        .json(&json!({
            "redirect_uris": ["https://agent.test/callback"],
            "backchannel_logout_uri": "http://agent.test/bc",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(res).await,
        (400, "invalid_client_metadata".to_owned())
    );
}

/// A server open to dynamic registration.
async fn spawn_with_registration(rp: &Receiver) -> TestServer {
    let ca = rp.ca_pem.clone();
    spawn_with(
        move |c| {
            c.agents.registration = keyhouse_axum::config::RegistrationPolicy::Open;
            c.agents.test_ca_pem = Some(ca);
        },
        false,
    )
    .await
}

#[tokio::test]
async fn only_clients_with_a_back_channel_are_owed_a_notice_and_only_for_sessions_that_ended() {
    let rp = Receiver::start().await;
    let (s, _) = server(&rp, true).await;
    let listening = rp_client(&s, Some(rp.uri("rp.test"))).await;
    let quiet = rp_client(&s, None).await;
    s.user("ada@example.test").await;
    let laptop = s.signed_in("ada@example.test").await;
    let phone = s.signed_in("ada@example.test").await;
    for c in [&listening, &quiet] {
        id_token(&s, &laptop, c).await;
        id_token(&s, &phone, c).await;
    }
    // Ended through the store, so no delivery runs before the queue is read.
    let user = s.find_user("ada@example.test").await.unwrap();
    let store = s.kh.store();
    let sessions = store
        .sessions_of(keyhouse_types::SubjectKind::User, &user.id, s.kh.now())
        .await
        .unwrap();
    assert_eq!(sessions.len(), 2);
    let keep = &sessions[0];
    let ended = store
        .end_sessions_except(
            keyhouse_types::SubjectKind::User,
            &user.id,
            &keep.id_hash,
            s.kh.now(),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1);
    let due = store.due_logout_notices(s.kh.now(), 100).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].client_id, listening.client.id);
    assert_eq!(due[0].sid.as_ref(), Some(&sessions[1].sid));
    assert_ne!(sessions[0].sid, sessions[1].sid);
    // Expiry is not a logout: the kept session, once expired and purged,
    // owes nobody anything.
    s.clock.as_ref().unwrap().advance(8 * 24 * 3600);
    store.purge_expired(s.kh.now()).await.unwrap();
    assert_eq!(store.pending_logout_notices().await.unwrap(), 1);
}

#[tokio::test]
async fn a_self_registered_client_gets_its_sign_out_redirect_only_from_a_session_that_used_it() {
    let rp = Receiver::start().await;
    let s = spawn_with_registration(&rp).await;
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/register"))
        .json(&json!({
            "client_name": "Anyone",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_basic",
            "post_logout_redirect_uris": ["https://phish.example/landing"],
        }))
        .send()
        .await
        .unwrap();
    let reg: Value = res.json().await.unwrap();
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    let to = "https://phish.example/landing";
    let named = json!({ "client_id": client_id, "post_logout_redirect_uri": to, "state": "x" });

    // A visitor who is not signed in, sent by whoever registered it: no
    // redirect, whatever the client registered.
    let visitor = browser();
    let (_, got) = check(&visitor, &s, named.clone()).await;
    assert_eq!(got["returns_to_client"], false, "{got}");
    let done: Value = post(&visitor, &s, "/api/session/end-session", named.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["redirect_to"], Value::Null);
    // A signed-in person who never used it: asked, and still no redirect.
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let (_, got) = check(&b, &s, named.clone()).await;
    assert_eq!(
        (&got["confirm"], &got["returns_to_client"]),
        (&json!(true), &json!(false))
    );
    // Someone who signed in to it in this browser: its ID token proves it.
    let code = code(&s, &b, &client_id, &[]).await;
    let secret = reg["client_secret"].as_str().unwrap();
    // Its registration pinned client_secret_basic.
    let t = ok_json(
        reqwest::Client::new()
            .post(s.url("/oauth2/token"))
            .basic_auth(&client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let hinted = json!({
        "id_token_hint": t["id_token"], "post_logout_redirect_uri": to, "state": "x",
    });
    let done: Value = post(&b, &s, "/api/session/end-session", hinted)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["redirect_to"], format!("{to}?state=x"));
}

#[tokio::test]
async fn a_client_that_never_answers_is_tried_six_times_over_fifteen_hours_then_given_up() {
    use keyhouse_axum::oauth::backchannel::RETRY_AFTER;
    let rp = Receiver::start().await;
    rp.status.store(503, Ordering::SeqCst);
    let (s, _) = server(&rp, true).await;
    let c = rp_client(&s, Some(rp.uri("rp.test"))).await;
    signed_in_to_then_out(&s, &c).await;
    let mut outcomes = Vec::new();
    // Whoever tries first (the run after the request, or this one), each
    // try is one connection; between tries the clock moves by the wait.
    for (tried, wait) in RETRY_AFTER.into_iter().enumerate() {
        for _ in 0..100 {
            if rp.connections.load(Ordering::SeqCst) > tried {
                break;
            }
            outcomes.extend(s.kh.deliver_logout_notices().await);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            rp.connections.load(Ordering::SeqCst),
            tried + 1,
            "{outcomes:?}"
        );
        // Not due again before the wait is over.
        s.clock.as_ref().unwrap().advance(wait - 1);
        assert!(s.kh.deliver_logout_notices().await.is_empty());
        s.clock.as_ref().unwrap().advance(1);
    }
    assert_eq!(
        s.kh.store().pending_logout_notices().await.unwrap(),
        1,
        "{outcomes:?}"
    );
    let last = s.kh.deliver_logout_notices().await;
    assert!(
        matches!(last.as_slice(), [LogoutDelivery::Dropped { error, .. }] if error.contains("503")),
        "{last:?} after {outcomes:?}"
    );
    assert_eq!(rp.connections.load(Ordering::SeqCst), RETRY_AFTER.len() + 1);
    assert_eq!(s.kh.store().pending_logout_notices().await.unwrap(), 0);
}
