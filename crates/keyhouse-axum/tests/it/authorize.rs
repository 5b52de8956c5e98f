//! The authorize API behind `/idp`: describing a request, consent, and every
//! way a request is refused (docs/threat-model.md rows 1, 3, 8, 10, 11, 13, 23, 34).
#![allow(clippy::unwrap_used)]
use crate::common;

use std::collections::BTreeMap;

use common::with_or_without as with;
use common::{CHALLENGE, REDIRECT, TestServer, browser, exchange, params, query_of};
use keyhouse_axum::ClientSpec;
use keyhouse_core::ClientType;
use serde_json::{Value, json};

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body)
}

/// Posts an arbitrary JSON body to an authorize endpoint.
async fn post_raw(s: &TestServer, b: &reqwest::Client, path: &str, body: &Value) -> (u16, Value) {
    json_of(b.post(s.url(path)).json(body).send().await.unwrap()).await
}

/// The query of a `{redirect_uri}` answer, checking that it goes to the
/// registered URI and carries our issuer (RFC 9207).
fn redirect_query(s: &TestServer, body: &Value) -> BTreeMap<String, String> {
    let uri = body["redirect_uri"]
        .as_str()
        .unwrap_or_else(|| panic!("no redirect_uri in {body}"));
    assert!(uri.starts_with(&format!("{REDIRECT}?")), "{uri}");
    let q = query_of(uri);
    assert_eq!(
        q.get("iss").map(String::as_str),
        Some(s.base.as_str()),
        "{uri}"
    );
    q
}

/// Asserts the request is redirected back with `error`, from both the start
/// and the decision endpoints.
async fn assert_redirected_error(
    s: &TestServer,
    b: &reqwest::Client,
    p: &[(&str, &str)],
    error: &str,
) {
    let (status, body) = json_of(s.start(b, p).await).await;
    assert_eq!(status, 200, "{p:?}: {body}");
    let q = redirect_query(s, &body);
    assert_eq!(q.get("error").map(String::as_str), Some(error), "{p:?}");
    assert!(!q.contains_key("code"));
    if let Some((_, state)) = p.iter().find(|(k, _)| *k == "state") {
        assert_eq!(q.get("state").map(String::as_str), Some(*state));
    }
    let (status, body) = json_of(s.authorize(b, p, true).await).await;
    assert_eq!(status, 200, "{p:?}: {body}");
    let q = redirect_query(s, &body);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some(error),
        "{p:?} (decision)"
    );
    assert!(!q.contains_key("code"), "{p:?} (decision)");
}

/// Asserts the request is refused with a page error: 4xx JSON, never a
/// redirect.
fn assert_shown(status: u16, body: &Value, context: &str) {
    assert!((400..500).contains(&status), "{context}: {status} {body}");
    assert!(body["error"].is_string(), "{context}: {body}");
    assert!(
        body.get("redirect_uri").is_none(),
        "{context}: redirected: {body}"
    );
    assert!(!body.to_string().contains("code="), "{context}: {body}");
}

async fn setup(t: ClientType) -> (TestServer, reqwest::Client, String) {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client(t).await;
    (s, b, c.client.id)
}

#[tokio::test]
async fn start_describes_the_client_scopes_and_redirect_host() {
    let (s, b, id) = setup(ClientType::ThirdParty).await;
    let (status, d) = json_of(s.start(&b, &params(&id)).await).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["client"]["client_id"], id.as_str());
    assert_eq!(d["client"]["name"], "Test GPT");
    assert_eq!(d["client"]["client_type"], "third_party");
    assert_eq!(d["redirect_host"], "client.example");
    assert_eq!(d["resource"], Value::Null);
    assert_eq!(d["consent_required"], true);
    assert_eq!(d["user"]["email"], "ada@example.com");
    let scopes: Vec<&str> = d["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["openid", "profile", "email", "notes:read"]);
    let notes = d["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["scope"] == "notes:read")
        .unwrap();
    assert_eq!(notes["description"], "Read your notes");
    assert!(
        d["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["grantable"] == true && x["description"] != "")
    );
    assert!(d.get("redirect_uri").is_none());

    // With a resource (RFC 8707) the description names it, in its
    // canonical form (no trailing slash), with its registered name.
    let p = with(&params(&id), &[("resource", Some("https://api.example/"))]);
    let (status, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(status, 200);
    assert_eq!(d["resource"], "https://api.example");
    assert_eq!(d["resource_name"], "Example API");
}

/// docs/threat-model.md rows 13 and 48: third-party clients ask; so does a
/// first-party public client the first time (its id is no secret, and any
/// local program can present it with a loopback port of its own); only the
/// confidential first party skips consent, and `prompt=consent` always asks.
#[tokio::test]
async fn consent_is_required_except_for_the_confidential_first_party() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let pkce = [
        ("code_challenge", Some(CHALLENGE)),
        ("code_challenge_method", Some("S256")),
    ];
    for (t, expected) in [
        (ClientType::ThirdParty, true),
        (ClientType::ThirdPartyPublic, true),
        (ClientType::FirstParty, false),
        (ClientType::FirstPartyPublic, true),
    ] {
        let c = s.client(t).await;
        let p = with(&params(&c.client.id), &pkce);
        let (status, d) = json_of(s.start(&b, &p).await).await;
        assert_eq!(status, 200, "{t:?}: {d}");
        assert_eq!(d["consent_required"], expected, "{t:?}");
        assert_eq!(d["client"]["client_type"], t.as_str());
    }
    // Confidential first party: no consent even for offline_access...
    let c = s.client(ClientType::FirstParty).await;
    let p = with(
        &params(&c.client.id),
        &[("scope", Some("openid offline_access"))],
    );
    let (_, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(d["consent_required"], false);
    // ...but prompt=consent is honoured.
    let p = with(&p, &[("prompt", Some("consent"))]);
    let (_, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(d["consent_required"], true);

    // A first-party public client: once approved, not asked again for the
    // same scopes, and asked again on prompt=consent.
    let c = s.client(ClientType::FirstPartyPublic).await;
    let p = with(&params(&c.client.id), &pkce);
    let q = s.code_for(&b, &p).await;
    assert!(q.contains_key("code"), "{q:?}");
    let (_, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(d["consent_required"], false);
    let again = with(&p, &[("prompt", Some("consent"))]);
    let (_, d) = json_of(s.start(&b, &again).await).await;
    assert_eq!(d["consent_required"], true);
}

/// docs/threat-model.md row 13: consent is remembered per user × client × scopes.
#[tokio::test]
async fn consent_is_remembered_and_asked_again_when_needed() {
    let (s, b, id) = setup(ClientType::ThirdParty).await;
    let p = params(&id);
    let (_, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(d["consent_required"], true);
    let q = s.code_for(&b, &p).await;
    assert!(q.contains_key("code"));

    // Same scopes, and a subset: remembered.
    let (_, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(d["consent_required"], false);
    let (_, d) = json_of(
        s.start(&b, &with(&p, &[("scope", Some("openid email"))]))
            .await,
    )
    .await;
    assert_eq!(d["consent_required"], false);

    // A new scope asks again.
    let wider = with(
        &p,
        &[("scope", Some("openid profile email notes:read notes:write"))],
    );
    let (_, d) = json_of(s.start(&b, &wider).await).await;
    assert_eq!(d["consent_required"], true);
    // prompt=consent asks again.
    let (_, d) = json_of(s.start(&b, &with(&p, &[("prompt", Some("consent"))])).await).await;
    assert_eq!(d["consent_required"], true);
    // offline_access always asks, even once granted.
    let offline = with(&p, &[("scope", Some("openid offline_access"))]);
    let (_, d) = json_of(s.start(&b, &offline).await).await;
    assert_eq!(d["consent_required"], true);
    s.code_for(&b, &offline).await;
    let (_, d) = json_of(s.start(&b, &offline).await).await;
    assert_eq!(d["consent_required"], true);
    // A consent for another resource is a different consent.
    let (_, d) = json_of(
        s.start(&b, &with(&p, &[("resource", Some("https://api.example/"))]))
            .await,
    )
    .await;
    assert_eq!(d["consent_required"], true);

    // Granting the wider set is remembered as a union.
    s.code_for(&b, &wider).await;
    let (_, d) = json_of(s.start(&b, &wider).await).await;
    assert_eq!(d["consent_required"], false);

    // Another client of the same user starts from nothing.
    let other = s.client(ClientType::ThirdParty).await;
    let (_, d) = json_of(s.start(&b, &params(&other.client.id)).await).await;
    assert_eq!(d["consent_required"], true);
    // Another user of the same client too.
    s.user("bob@example.com").await;
    let bob = s.signed_in("bob@example.com").await;
    let (_, d) = json_of(s.start(&bob, &p).await).await;
    assert_eq!(d["consent_required"], true);
}

#[tokio::test]
async fn denying_redirects_access_denied_with_state_and_iss() {
    let (s, b, id) = setup(ClientType::ThirdParty).await;
    let (status, body) = json_of(s.authorize(&b, &params(&id), false).await).await;
    assert_eq!(status, 200);
    let q = redirect_query(&s, &body);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("code"));
    // Nothing was remembered: the next request asks again.
    let (_, d) = json_of(s.start(&b, &params(&id)).await).await;
    assert_eq!(d["consent_required"], true);
}

/// docs/threat-model.md rows 1 and 3: byte-exact redirect URI matching; a mismatch is
/// shown, never redirected.
#[tokio::test]
async fn redirect_uri_must_match_exactly() {
    let (s, b, id) = setup(ClientType::ThirdParty).await;
    let variants = [
        "https://client.example/callback/",
        "https://Client.example/callback",
        "https://CLIENT.EXAMPLE/callback",
        "https://client.example/Callback",
        "HTTPS://client.example/callback",
        "https://client.example/x/../callback",
        "https://client.example/callback/../callback",
        "https://client.example/callback?x=1",
        "https://client.example/callback?",
        "https://client.example/callback#frag",
        "https://client.example@evil.example/callback",
        "https://client.example:443/callback",
        "https://client.example.evil.example/callback",
        "https://evil.example/callback",
        "http://client.example/callback",
        "https://client.example/callbackx",
        "https://client.example/callback%2F",
    ];
    for uri in variants {
        let p = with(&params(&id), &[("redirect_uri", Some(uri))]);
        let (status, body) = json_of(s.start(&b, &p).await).await;
        assert_shown(status, &body, uri);
        assert_eq!(body["error"], "invalid_request", "{uri}");
        let (status, body) = json_of(s.authorize(&b, &p, true).await).await;
        assert_shown(status, &body, uri);
    }
    // Missing redirect_uri.
    let p = with(&params(&id), &[("redirect_uri", None)]);
    let (status, body) = json_of(s.start(&b, &p).await).await;
    assert_shown(status, &body, "missing");

    // Duplicated redirect_uri: refused before either copy is matched.
    for copies in [
        json!([REDIRECT, "https://evil.example/cb"]),
        json!(["https://evil.example/cb", REDIRECT]),
        json!([REDIRECT, REDIRECT]),
    ] {
        let mut body = json!({
            "client_id": id, "response_type": "code", "scope": "openid", "state": "st",
        });
        body["redirect_uri"] = copies.clone();
        let (status, res) = post_raw(&s, &b, "/api/idp/authorize/start", &body).await;
        assert_shown(status, &res, &copies.to_string());
        assert_eq!(res["error"], "invalid_request");
        assert!(!res.to_string().contains("evil.example"), "{res}");
        body["consent_granted"] = json!(true);
        let (status, res) = post_raw(&s, &b, "/api/idp/authorize", &body).await;
        assert_shown(status, &res, &copies.to_string());
    }
    // Any other duplicated parameter too.
    let body =
        json!({"client_id": id, "redirect_uri": REDIRECT, "scope": "openid", "state": ["a", "b"]});
    let (status, res) = post_raw(&s, &b, "/api/idp/authorize/start", &body).await;
    assert_shown(status, &res, "duplicated state");

    // The exact URI still works after all that.
    let q = s.code_for(&b, &params(&id)).await;
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn unknown_client_is_shown_not_redirected() {
    let (s, b, _) = setup(ClientType::ThirdParty).await;
    for client_id in ["client-does-not-exist", "x' OR 1=1 --"] {
        let p = params(client_id);
        let (status, body) = json_of(s.start(&b, &p).await).await;
        assert_shown(status, &body, client_id);
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_client");
        let (status, body) = json_of(s.authorize(&b, &p, true).await).await;
        assert_shown(status, &body, client_id);
    }
    let p = with(&params("x"), &[("client_id", None)]);
    let (status, body) = json_of(s.start(&b, &p).await).await;
    assert_shown(status, &body, "no client_id");
    assert_eq!(body["error"], "invalid_request");

    // A deleted client is unknown too.
    let c = s.client(ClientType::ThirdParty).await;
    assert!(s.kh.delete_client(&c.client.id).await.unwrap());
    let (status, body) = json_of(s.start(&b, &params(&c.client.id)).await).await;
    assert_shown(status, &body, "deleted");
}

/// docs/threat-model.md row 8: PKCE with S256 is required for public clients, and
/// `plain` is refused for everyone.
#[tokio::test]
async fn pkce_is_required_for_public_clients_and_plain_is_refused() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let public = s.client(ClientType::ThirdPartyPublic).await.client.id;
    let first_public = s.client(ClientType::FirstPartyPublic).await.client.id;
    let confidential = s.client(ClientType::ThirdParty).await.client.id;

    for id in [&public, &first_public] {
        assert_redirected_error(&s, &b, &params(id), "invalid_request").await;
    }
    for id in [&public, &confidential] {
        let plain = with(
            &params(id),
            &[
                ("code_challenge", Some(CHALLENGE)),
                ("code_challenge_method", Some("plain")),
            ],
        );
        assert_redirected_error(&s, &b, &plain, "invalid_request").await;
        // A challenge without a method means plain (RFC 7636 §4.3).
        let implicit_plain = with(&params(id), &[("code_challenge", Some(CHALLENGE))]);
        assert_redirected_error(&s, &b, &implicit_plain, "invalid_request").await;
        let bad = with(
            &params(id),
            &[
                ("code_challenge", Some("too-short")),
                ("code_challenge_method", Some("S256")),
            ],
        );
        assert_redirected_error(&s, &b, &bad, "invalid_request").await;
        let method_only = with(&params(id), &[("code_challenge_method", Some("S256"))]);
        assert_redirected_error(&s, &b, &method_only, "invalid_request").await;
    }
    // S256 works for the public client.
    let ok = with(
        &params(&public),
        &[
            ("code_challenge", Some(CHALLENGE)),
            ("code_challenge_method", Some("S256")),
        ],
    );
    let (status, d) = json_of(s.start(&b, &ok).await).await;
    assert_eq!(status, 200);
    assert_eq!(d["client"]["client_id"], public.as_str());
    let q = s.code_for(&b, &ok).await;
    assert!(q.contains_key("code"));
}

/// docs/threat-model.md row 10 (RFC 9207): `iss` on every authorization response.
#[tokio::test]
async fn every_redirect_carries_iss() {
    let (s, b, id) = setup(ClientType::ThirdParty).await;
    // Success.
    let (status, body) = json_of(s.authorize(&b, &params(&id), true).await).await;
    assert_eq!(status, 200);
    let q = redirect_query(&s, &body);
    assert!(q["code"].len() >= 43, "a 256-bit code");
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("error"));
    // Without state: still iss, and no state invented.
    let (_, body) = json_of(
        s.authorize(&b, &with(&params(&id), &[("state", None)]), true)
            .await,
    )
    .await;
    let q = redirect_query(&s, &body);
    assert!(q.contains_key("code"));
    assert!(!q.contains_key("state"));
    // Errors.
    let (_, body) = json_of(s.authorize(&b, &params(&id), false).await).await;
    assert_eq!(redirect_query(&s, &body)["error"], "access_denied");
    for (change, error) in [
        (("scope", Some("openid admin")), "invalid_scope"),
        (("scope", None), "invalid_scope"),
        (
            ("response_type", Some("token")),
            "unsupported_response_type",
        ),
        (("prompt", Some("none login")), "invalid_request"),
        (("max_age", Some("-1")), "invalid_request"),
        (("response_mode", Some("fragment")), "invalid_request"),
        (
            ("request", Some("eyJhbGciOiJub25lIn0.e30.")),
            "invalid_request",
        ),
        (
            ("resource", Some("https://other.example/")),
            "invalid_target",
        ),
    ] {
        assert_redirected_error(&s, &b, &with(&params(&id), &[change]), error).await;
    }
    // State with characters that need encoding comes back intact.
    let tricky = "a b&c=d\r\nLocation: https://evil.example";
    let (_, body) = json_of(
        s.authorize(&b, &with(&params(&id), &[("state", Some(tricky))]), true)
            .await,
    )
    .await;
    let uri = body["redirect_uri"].as_str().unwrap();
    assert!(
        !uri.contains('\n') && !uri.contains('\r') && !uri.contains(' '),
        "{uri}"
    );
    assert_eq!(query_of(uri)["state"], tricky);
}

/// docs/threat-model.md row 34 (OIDC Core §3.1.2.6).
#[tokio::test]
async fn prompt_none_without_a_session_redirects_login_required() {
    let (s, _, id) = setup(ClientType::ThirdParty).await;
    let anonymous = browser();
    let p = with(&params(&id), &[("prompt", Some("none"))]);
    assert_redirected_error(&s, &anonymous, &p, "login_required").await;

    // Without prompt=none the page is asked to sign the user in: an error to
    // show, not a redirect.
    let (status, body) = json_of(s.start(&anonymous, &params(&id)).await).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "login_required");
    assert!(body.get("redirect_uri").is_none());
    let (status, body) = json_of(s.authorize(&anonymous, &params(&id), true).await).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "login_required");

    // A redirect URI mismatch is still shown, not redirected, without a session.
    let bad = with(&p, &[("redirect_uri", Some("https://evil.example/cb"))]);
    let (status, body) = json_of(s.start(&anonymous, &bad).await).await;
    assert_shown(status, &body, "prompt=none, bad redirect");
}

#[tokio::test]
async fn prompt_none_without_consent_redirects_consent_required() {
    let (s, b, id) = setup(ClientType::ThirdParty).await;
    let p = with(&params(&id), &[("prompt", Some("none"))]);
    assert_redirected_error(&s, &b, &p, "consent_required").await;

    // Once consented, prompt=none goes straight through.
    s.code_for(&b, &params(&id)).await;
    let (status, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(status, 200);
    assert_eq!(d["consent_required"], false);
    let q = s.code_for(&b, &p).await;
    assert!(q.contains_key("code"));
    // But not for new scopes.
    let wider = with(&p, &[("scope", Some("openid notes:write"))]);
    assert_redirected_error(&s, &b, &wider, "consent_required").await;

    // A first-party client never needs consent.
    let fp = s.client(ClientType::FirstParty).await.client.id;
    let q = s
        .code_for(&b, &with(&params(&fp), &[("prompt", Some("none"))]))
        .await;
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn max_age_forces_a_fresh_sign_in() {
    let s = common::spawn_with(|_| {}, true).await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let id = s.client(ClientType::FirstParty).await.client.id;
    let p = with(&params(&id), &[("max_age", Some("60"))]);
    let q = s.code_for(&b, &p).await;
    assert!(q.contains_key("code"));
    s.clock.as_ref().unwrap().advance(61);
    let (status, body) = json_of(s.start(&b, &p).await).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "login_required");
    assert_redirected_error(
        &s,
        &b,
        &with(&p, &[("prompt", Some("none"))]),
        "login_required",
    )
    .await;
}

#[tokio::test]
async fn response_type_defaults_to_code() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let c = s.client(ClientType::ThirdParty).await;
    let id = c.client.id.clone();
    let p = with(&params(&id), &[("response_type", None)]);
    let (status, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["consent_required"], true);
    let q = s.code_for(&b, &p).await;
    assert_eq!(q["iss"], s.base);
    // And the code it gives is a real one.
    let res = exchange(&s, &c, &q["code"]).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert!(tokens["access_token"].is_string());
}

/// docs/threat-model.md row 11: no implicit or hybrid flow.
#[tokio::test]
async fn implicit_response_types_are_refused() {
    let (s, b, id) = setup(ClientType::ThirdParty).await;
    for rt in [
        "token",
        "id_token",
        "code token",
        "code id_token",
        "id_token token",
        "none",
    ] {
        let p = with(&params(&id), &[("response_type", Some(rt))]);
        assert_redirected_error(&s, &b, &p, "unsupported_response_type").await;
    }
}

/// docs/threat-model.md row 23 (RFC 8707).
#[tokio::test]
async fn unknown_resource_is_invalid_target() {
    let (s, b, id) = setup(ClientType::ThirdParty).await;
    for resource in [
        "https://other.example/",
        "https://api.example/v2",
        "https://api.example/#frag",
        "https://api.example/?x=1",
        "http://api.example/",
        "not a uri",
    ] {
        let p = with(&params(&id), &[("resource", Some(resource))]);
        assert_redirected_error(&s, &b, &p, "invalid_target").await;
    }
    // The configured resource (with or without its trailing slash, any
    // case of host) and the default audience are accepted, and named in
    // their canonical spelling.
    for (resource, canonical) in [
        ("https://api.example/", "https://api.example"),
        ("https://API.example", "https://api.example"),
        (s.base.as_str(), s.base.as_str()),
    ] {
        let p = with(&params(&id), &[("resource", Some(resource))]);
        let (status, d) = json_of(s.start(&b, &p).await).await;
        assert_eq!(status, 200, "{resource}: {d}");
        assert_eq!(d["resource"], canonical);
    }
}

#[tokio::test]
async fn redirect_host_names_the_destination_with_its_port() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let uri = "http://127.0.0.1:8765/cb";
    let c = s
        .client_with(ClientSpec::new(
            "Local",
            ClientType::ThirdParty,
            vec![uri.to_owned()],
        ))
        .await;
    let p = with(&params(&c.client.id), &[("redirect_uri", Some(uri))]);
    let (status, d) = json_of(s.start(&b, &p).await).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["redirect_host"], "127.0.0.1:8765");
    // Loopback port variation is for public clients only (RFC 8252 §7.3).
    let other_port = with(&p, &[("redirect_uri", Some("http://127.0.0.1:9999/cb"))]);
    let (status, body) = json_of(s.start(&b, &other_port).await).await;
    assert_shown(status, &body, "confidential loopback port");
}
