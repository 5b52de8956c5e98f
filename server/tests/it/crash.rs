//! "Nothing lost" (docs/threat-model.md, reliability): the server is killed with
//! SIGKILL in the middle of code exchanges and refresh rotations. After a
//! restart on the same database, every token a client received still
//! introspects active, and no code that was exchanged redeems again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{self, Agent, active};

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;

const REDIRECT: &str = "https://gpt.example/callback";

#[derive(Default)]
struct Received {
    /// Access tokens the client was given.
    access: Vec<String>,
    /// Refresh tokens the client was given and never sent back.
    refresh_live: Vec<String>,
    /// Codes whose exchange the client saw succeed.
    exchanged: Vec<String>,
}

async fn token(
    http: &reqwest::Client,
    base: &str,
    c: &Agent,
    form: &[(&str, &str)],
) -> Option<Value> {
    let res = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(form)
        .send()
        .await
        .ok()?;
    if res.status() != 200 {
        return None;
    }
    res.json().await.ok()
}

/// Exchanges codes and rotates refresh tokens until the server goes away.
async fn worker(
    base: String,
    c: Arc<Agent>,
    codes: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Received>>,
) {
    let http = reqwest::Client::new();
    loop {
        let Some(code) = codes.lock().await.pop() else {
            return;
        };
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        let Some(t) = token(&http, &base, &c, &form).await else {
            return;
        };
        let mut refresh = t["refresh_token"].as_str().unwrap().to_owned();
        {
            let mut s = seen.lock().await;
            s.access
                .push(t["access_token"].as_str().unwrap().to_owned());
            s.exchanged.push(code);
        }
        for _ in 0..3 {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ];
            // Once sent, the old token may be spent whether or not an answer
            // arrives: only tokens never sent back count as live.
            match token(&http, &base, &c, &form).await {
                Some(t) => {
                    seen.lock()
                        .await
                        .access
                        .push(t["access_token"].as_str().unwrap().to_owned());
                    refresh = t["refresh_token"].as_str().unwrap().to_owned();
                }
                None => return,
            }
        }
        seen.lock().await.refresh_live.push(refresh);
    }
}

#[tokio::test]
async fn kill_9_under_load_loses_nothing_that_was_answered() {
    let e = common::env().await;
    let created: Value = serde_json::from_str(&e.ok(&[
        "clients",
        "create",
        "--name",
        "GPT",
        "--type",
        "third_party",
        // A GPT given refresh tokens without offline_access by its operator.
        "--refresh-policy",
        "always",
        "--redirect-uri",
        REDIRECT,
        "--json",
    ]))
    .unwrap();
    let client = Arc::new(Agent {
        client_id: created["client_id"].as_str().unwrap().to_owned(),
        client_secret: created["client_secret"].as_str().unwrap().to_owned(),
    });
    e.ok(&[
        "users",
        "create",
        "--email",
        "ada@example.com",
        "--password-file",
        &common::secret_file("correct horse"),
    ]);

    // 400 decisions from one session in seconds: the per-session decision
    // limit (docs/threat-model.md row 49) is off for this load.
    let (mut server, base) = e.serve_with(None, &["--decisions-per-minute", "0"]).await;
    let first = base.clone();
    let browser = reqwest::Client::builder()
        // What every browser that keeps cookies sends on its own pages'
        // requests (a cookie-bearing write without it is refused).
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::HeaderName::from_static("sec-fetch-site"),
            reqwest::header::HeaderValue::from_static("same-origin"),
        )]))
        .cookie_store(true)
        .build()
        .unwrap();
    let login = browser
        .post(format!("{base}/api/session/login"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let mut codes = Vec::new();
    for i in 0..400 {
        let v: Value = browser
            .post(format!("{base}/api/idp/authorize"))
            .json(&json!({
                "client_id": client.client_id, "redirect_uri": REDIRECT, "scope": "openid notes:read",
                "state": format!("s{i}"), "consent_granted": true,
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = url::Url::parse(v["redirect_uri"].as_str().unwrap()).unwrap();
        let code = url
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        codes.push(code);
    }

    let codes = Arc::new(Mutex::new(codes));
    let seen = Arc::new(Mutex::new(Received::default()));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            tokio::spawn(worker(
                base.clone(),
                client.clone(),
                codes.clone(),
                seen.clone(),
            ))
        })
        .collect();
    // Kill the server in the middle of the load, once some work has been answered.
    for _ in 0..200 {
        if seen.lock().await.exchanged.len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill(); // SIGKILL: no shutdown, no flush
    for w in workers {
        w.await.unwrap();
    }
    assert!(
        !codes.lock().await.is_empty(),
        "the server died before the load ended"
    );

    // The same issuer on a new port: one deployment, restarted.
    let (mut server, base) = e.serve_as(Some(&first)).await;
    let http = reqwest::Client::new();
    let seen = seen.lock().await;
    assert!(
        seen.exchanged.len() >= 20 && !seen.refresh_live.is_empty(),
        "load was running"
    );
    let mut lost = Vec::new();
    for (kind, list) in [("access", &seen.access), ("refresh", &seen.refresh_live)] {
        for t in list {
            if !active(&http, &base, &client, t).await {
                lost.push(format!("{kind} {}", &t[..t.len().min(24)]));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "tokens the client received were lost: {lost:?} of {} access, {} refresh",
        seen.access.len(),
        seen.refresh_live.len()
    );
    for code in &seen.exchanged {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        assert!(
            token(&http, &base, &client, &form).await.is_none(),
            "a code redeemed twice"
        );
    }
    server.kill();
}
