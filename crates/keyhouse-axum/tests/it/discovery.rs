//! Discovery, JWKS and health.
#![allow(clippy::unwrap_used)]
use crate::common;

use common::get_json;

#[tokio::test]
async fn both_metadata_documents_are_the_same_and_complete() {
    let s = common::spawn().await;
    let oidc = get_json(s.url("/.well-known/openid-configuration")).await;
    let oauth = get_json(s.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(oidc, oauth);
    assert_eq!(oidc["issuer"], s.base.as_str());
    assert_eq!(oidc["authorization_endpoint"], format!("{}/idp", s.base));
    assert_eq!(oidc["token_endpoint"], format!("{}/oauth2/token", s.base));
    assert_eq!(
        oidc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(oidc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        oidc["response_types_supported"],
        serde_json::json!(["code"])
    );
    // docs/threat-model.md row 11: no implicit or password grant is offered.
    let grants = oidc["grant_types_supported"].as_array().unwrap();
    assert!(!grants.iter().any(|g| g == "password" || g == "implicit"));
}

#[tokio::test]
async fn jwks_publishes_current_and_next_keys() {
    let s = common::spawn().await;
    let jwks = get_json(s.url("/.well-known/jwks.json")).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 6, "current and next for RS256, ES256 and EdDSA");
    assert!(
        keys.iter()
            .all(|k| k.get("d").is_none() && k.get("p").is_none()),
        "no private parts"
    );
    let ready = reqwest::get(s.url("/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// JWKS and discovery are answered from bytes built once, with an entity
/// tag: a client that sends the tag back gets `304` and no body. After a
/// key rotation the JWKS tag a client holds is stale: it gets the new set.
#[tokio::test]
async fn documents_carry_entity_tags_and_a_rotation_changes_the_jwks_one() {
    let s = common::spawn().await;
    let client = reqwest::Client::new();
    let get = |path: &str, tag: Option<&str>| {
        let mut req = client.get(s.url(path));
        if let Some(tag) = tag {
            req = req.header("if-none-match", tag);
        }
        req.send()
    };
    for (path, max_age) in [
        ("/.well-known/jwks.json", "public, max-age=60"),
        ("/.well-known/openid-configuration", "public, max-age=300"),
        (
            "/.well-known/oauth-authorization-server",
            "public, max-age=300",
        ),
    ] {
        let first = get(path, None).await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        assert_eq!(first.headers()["content-type"], "application/json");
        assert_eq!(first.headers()["cache-control"], max_age);
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        let body = first.text().await.unwrap();
        let again = get(path, Some(&tag)).await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], tag.as_str());
        assert!(again.text().await.unwrap().is_empty());
        let other = get(path, Some("\"another\"")).await.unwrap();
        assert_eq!(other.status(), 200);
        assert_eq!(other.text().await.unwrap(), body, "the same bytes");
    }

    let before = get("/.well-known/jwks.json", None).await.unwrap();
    let old_tag = before.headers()["etag"].to_str().unwrap().to_owned();
    let old: serde_json::Value = before.json().await.unwrap();
    s.kh.rotate_keys().await.unwrap();
    let after = get("/.well-known/jwks.json", Some(&old_tag)).await.unwrap();
    assert_eq!(after.status(), 200, "the old tag is stale after a rotation");
    assert_ne!(after.headers()["etag"], old_tag.as_str());
    let new: serde_json::Value = after.json().await.unwrap();
    let kids = |v: &serde_json::Value| -> Vec<String> {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        kids(&new).iter().any(|k| !kids(&old).contains(k)),
        "the rotation's new keys are published"
    );
}

/// While the server starts (database opened and migrated, keys loaded),
/// its port already answers: alive, not ready, every other request 503
/// with `Retry-After`; then the app is served on the same listener. Once
/// told to drain, `/health/ready` answers 503 while the rest is served.
#[tokio::test]
async fn readiness_is_false_while_starting_and_while_draining() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (started, started_rx) = tokio::sync::oneshot::channel::<()>();
    let url = base.clone();
    let probe = async move {
        let ready = reqwest::get(format!("{url}/health/ready")).await.unwrap();
        assert_eq!(ready.status(), 503);
        assert_eq!(ready.headers()["retry-after"], "1");
        assert_eq!(ready.headers()["connection"], "close");
        let other = reqwest::get(format!("{url}/.well-known/openid-configuration"))
            .await
            .unwrap();
        assert_eq!(other.status(), 503);
        let live = reqwest::get(format!("{url}/health/live")).await.unwrap();
        assert_eq!(live.status(), 200);
        started.send(()).unwrap();
    };
    tokio::join!(
        keyhouse_axum::serve_starting(&listener, async {
            let _ = started_rx.await;
        }),
        probe
    );
    let s = common::spawn().await;
    let app = s.kh.router();
    tokio::spawn(keyhouse_axum::serve(
        listener,
        app,
        std::future::pending::<()>(),
    ));
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200, "the app on the same listener");
    s.kh.start_draining();
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let jwks = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200, "draining still serves");
}
