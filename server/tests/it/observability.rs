//! Metrics on their own listener, request ids on every answer and in the
//! JSON logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use crate::common::{self, env};
use serde_json::{Value, json};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of the sample `name{labels}` in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test]
async fn metrics_are_served_apart_and_count_what_happened() {
    let e = env().await;
    let metrics_port = free_port();
    let file = e.dir.join("keyhouse.toml");
    std::fs::write(
        &file,
        format!("[metrics]\nbind = \"127.0.0.1:{metrics_port}\"\n"),
    )
    .unwrap();
    let agent = common::register_agent(
        &e,
        "Machine",
        "https://app.example/cb",
        &["--grant-type", "client_credentials"],
    );
    common::create_user(&e, "ada@example.test", "correct horse battery");
    let file = file.display().to_string();
    let (_server, base) = e.serve_with(None, &["--config", &file]).await;
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let res = http
            .get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let token = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&agent.client_id, Some(&agent.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200, "{}", token.text().await.unwrap());
    let refused = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&agent.client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let login = common::browser()
        .post(format!("{base}/api/session/login"))
        .json(&json!({"email": "ada@example.test", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    let registered = http
        .post(format!("{base}/oauth2/register"))
        .json(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);

    let page = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expect = [
        (
            r#"keyhouse_http_requests_total{route="/.well-known/openid-configuration",method="GET",status="200"}"#,
            2.0,
        ),
        (
            r#"keyhouse_http_requests_total{route="/oauth2/token",method="POST",status="401"}"#,
            1.0,
        ),
        (
            r#"keyhouse_http_requests_total{route="/oauth2/token",method="POST",status="200"}"#,
            1.0,
        ),
        (
            r#"keyhouse_tokens_issued_total{grant_type="client_credentials",client_type="third_party"}"#,
            1.0,
        ),
        ("keyhouse_sign_in_failures_total", 1.0),
        (
            r#"keyhouse_dynamic_registrations_total{outcome="registered"}"#,
            1.0,
        ),
        (
            r#"keyhouse_http_request_duration_seconds_count{route="/oauth2/token",method="POST",status="200"}"#,
            1.0,
        ),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&page, series), Some(value), "{series}\n{page}");
    }
    assert!(sample(&page, "keyhouse_db_pool_max_connections").is_some_and(|n| n >= 1.0));
    assert!(sample(&page, r#"keyhouse_signing_key_age_seconds{alg="RS256"}"#).is_some());
    assert!(page.contains("# HELP keyhouse_tokens_issued_total"));
    // No raw paths as labels: an unknown path is `fallback`.
    reqwest::get(format!("{base}/no/such/page/12345"))
        .await
        .unwrap();
    let page = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("12345"), "{page}");
    assert!(page.contains(r#"route="fallback""#));
    // Not on the public listener.
    let public = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_ne!(public.status(), 200);
    assert!(
        !public
            .text()
            .await
            .unwrap()
            .contains("keyhouse_http_requests_total")
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_so_do_the_logs() {
    let e = env().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = e.dir.join("server.log");
    let child = Command::new(env!("CARGO_BIN_EXE_keyhouse"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &e.url)
        .env("KEYHOUSE_KEY_FILE", e.dir.join("keyhouse.key"))
        .env("KEYHOUSE_LOG__FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let _server = common::Server(child);
    let mut up = false;
    for _ in 0..200 {
        if reqwest::get(format!("{base}/health/ready"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up);
    let http = reqwest::Client::new();
    let ask = |id: Option<&str>| {
        let mut req = http.post(format!("{base}/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "x"),
        ]);
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    // A caller's plain id is kept; a generated one is a UUID; a hostile
    // one is replaced.
    let kept = ask(Some("lb-7f3a.42")).await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-7f3a.42");
    let fresh = ask(None).await.unwrap();
    let id = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{id}");
    let hostile = ask(Some("x\"}, {\"level\":\"ERROR")).await.unwrap();
    let replaced = hostile.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(replaced.len(), 36, "{replaced}");

    // The refusal is logged, as JSON, with the request's id.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "no JSON log lines");
    for wanted in ["lb-7f3a.42", id.as_str()] {
        assert!(
            lines
                .iter()
                .any(|l| l["span"]["request_id"] == json!(wanted)
                    && l["fields"]["message"] == json!("token endpoint request refused")),
            "no log line of request {wanted}"
        );
    }
}
