//! Several instances on one database: one key set, one code redeemed once.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;

use common::get_json;
use keyhouse_axum::{Config, Keyhouse, MasterKey};
use keyhouse_core::ClientType;
use keyhouse_store::Store;
use serde_json::Value;

/// A second server on the first one's database, with the same master key.
async fn second(
    first: &common::TestServer,
    db_url: &str,
    master: MasterKey,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let store = Store::connect(db_url).await.unwrap();
    store.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Same issuer: both sit behind one public URL.
    let mut config = Config::for_issuer(&first.base);
    config.scopes = first.kh.config().scopes.clone();
    let kh = Keyhouse::new(config, store, master).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(keyhouse_axum::serve(
        listener,
        axum::Router::new().merge(kh.router()),
        async {
            let _ = rx.await;
        },
    ));
    (base, tx)
}

#[tokio::test]
async fn instances_share_keys_and_codes() {
    let master = MasterKey::from_bytes(rand::random());
    let (db_url, dir) = common::fresh_database().await;
    let first = common::spawn_on(&db_url, master.clone()).await;
    let (b_base, _stop) = second(&first, &db_url, master).await;

    let jwks_a = get_json(first.url("/.well-known/jwks.json")).await;
    let jwks_b = get_json(format!("{b_base}/.well-known/jwks.json")).await;
    assert_eq!(jwks_a, jwks_b, "one key set for every instance");

    let c = first.client(ClientType::ThirdParty).await;
    first.user("ada@example.com").await;
    let b = first.signed_in("ada@example.com").await;
    let q = first.code_for(&b, &common::params(&c.client.id)).await;
    let code = q["code"].clone();
    let secret = c.client_secret.clone().unwrap();
    // The same code raced across both instances: exactly one success.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", common::REDIRECT),
    ];
    let http = reqwest::Client::new();
    let mut calls = Vec::new();
    for i in 0..20 {
        let url = if i % 2 == 0 {
            first.url("/oauth2/token")
        } else {
            format!("{b_base}/oauth2/token")
        };
        calls.push(
            http.post(url)
                .basic_auth(&c.client.id, Some(&secret))
                .form(&form)
                .send(),
        );
    }
    let results = futures::future::join_all(calls).await;
    let ok: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|r| r.status() == 200)
        .collect();
    assert_eq!(ok.len(), 1, "exactly one exchange wins");

    // A token issued through one instance is accepted by the other.
    let fresh = first.code_for(&b, &common::params(&c.client.id)).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", fresh["code"].as_str()),
        ("redirect_uri", common::REDIRECT),
    ];
    let tokens: Value = http
        .post(first.url("/oauth2/token"))
        .basic_auth(&c.client.id, Some(&secret))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let info = http
        .get(format!("{b_base}/oauth2/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    drop(first);
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}
