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

/// The metrics page of `port`.
async fn metrics_page(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_servers_on_one_database_purge_once_and_a_stopped_holder_gives_the_lease_up() {
    let e = env().await;
    let mut servers = Vec::new();
    let mut ports = Vec::new();
    for i in 0..2 {
        let port = free_port();
        let file = e.dir.join(format!("keyhouse-{i}.toml"));
        std::fs::write(&file, format!("[metrics]\nbind = \"127.0.0.1:{port}\"\n")).unwrap();
        let file = file.display().to_string();
        servers.push(e.serve_with(None, &["--config", &file]).await.0);
        ports.push(port);
    }
    // Each takes its first purge turn at the start: one purges, the other
    // finds the lease held.
    let ok = r#"keyhouse_purge_runs_total{outcome="ok"}"#;
    let skipped = r#"keyhouse_purge_runs_total{outcome="skipped"}"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let pages = loop {
        let mut pages = Vec::new();
        for port in &ports {
            pages.push(metrics_page(*port).await);
        }
        let turns = |p: &String| sample(p, ok).unwrap_or(0.0) + sample(p, skipped).unwrap_or(0.0);
        if pages.iter().all(|p| turns(p) >= 1.0) {
            break pages;
        }
        assert!(std::time::Instant::now() < deadline, "{pages:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let holder = pages
        .iter()
        .position(|p| sample(p, ok) == Some(1.0))
        .expect("one server purged");
    let other = 1 - holder;
    assert_eq!(sample(&pages[holder], skipped), None, "{}", pages[holder]);
    assert_eq!(sample(&pages[other], ok), None, "{}", pages[other]);
    assert_eq!(sample(&pages[other], skipped), Some(1.0));
    assert_eq!(
        sample(&pages[holder], "keyhouse_purge_lease_held"),
        Some(1.0)
    );
    assert_eq!(
        sample(&pages[other], "keyhouse_purge_lease_held"),
        Some(0.0)
    );

    // SIGTERM: the holder gives the lease up before it exits, so the other
    // takes it at its next turn instead of after the lease expires.
    let store = keyhouse_store::Store::connect(&e.url).await.unwrap();
    assert!(store.lease("purge").await.unwrap().is_some());
    let pid = servers[holder].0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = loop {
        if let Some(status) = servers[holder].0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline + std::time::Duration::from_secs(20));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    assert_eq!(store.lease("purge").await.unwrap(), None);
}

/// The database work of the token endpoint and the read paths, counted on
/// the real server (every statement is logged at TRACE): the figures
/// docs/scaling.md sizes a deployment with. A change that adds a statement
/// to one of these paths fails here.
#[tokio::test]
async fn the_token_paths_cost_the_statements_docs_scaling_counts() {
    let e = env().await;
    let agent = common::register_agent(
        &e,
        "Counted",
        "https://agent.example/cb",
        &["--refresh-policy", "always"],
    );
    let n: u64 = rand::random();
    let log = std::env::temp_dir().join(format!("keyhouse-sql-{}-{n:x}.log", std::process::id()));
    let (_server, base) = e.serve_counting_statements(&log).await;
    let alice = common::signed_up(&e, &base, "alice@example.test").await;
    let statements = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("keyhouse_store::sql"))
            .count()
    };
    let http = reqwest::Client::new();
    let mut counts = Vec::new();
    // The first round warms the client cache; the second is counted.
    for round in 0..2 {
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(200));
        let mut decision = json!({
            "consent_granted": true, "response_type": "code", "client_id": agent.client_id,
            "redirect_uri": "https://agent.example/cb", "scope": "openid notes:read",
            "state": "s1",
        });
        decision["nonce"] = json!(format!("n{round}"));
        let answer: Value = alice
            .post(format!("{base}/api/idp/authorize"))
            .json(&decision)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = common::code_of(&answer);
        settle().await;
        let before = statements();
        let tokens = common::exchange(
            &base,
            &code,
            "https://agent.example/cb",
            &agent.client_id,
            &agent.client_secret,
        )
        .await;
        settle().await;
        let exchanged = statements() - before;
        let before = statements();
        let res = http
            .post(format!("{base}/oauth2/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", &agent.client_id),
                ("client_secret", &agent.client_secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "refresh");
        let refreshed: Value = res.json().await.unwrap();
        settle().await;
        let refresh = statements() - before;
        let access = refreshed["access_token"].as_str().unwrap();
        let before = statements();
        assert!(common::active(&http, &base, &agent, access).await);
        settle().await;
        let introspection = statements() - before;
        let before = statements();
        let res = http
            .get(format!("{base}/oauth2/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "userinfo");
        settle().await;
        let userinfo = statements() - before;
        counts = vec![
            ("code exchange", exchanged, 4),
            ("refresh", refresh, 3),
            ("introspection", introspection, 1),
            ("userinfo", userinfo, 2),
        ];
    }
    println!("SQL statements per request: {counts:?}");
    for (path, n, most) in counts {
        assert!(
            (1..=most).contains(&n),
            "{path}: {n} statements, at most {most}"
        );
    }
}
