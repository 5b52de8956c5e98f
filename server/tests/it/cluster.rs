//! Three instances of the real binary on one PostgreSQL database behind
//! HAProxy (Debian's package, through `scripts/haproxy.sh`), as
//! docs/scaling.md deploys them: a code issued by one instance is redeemed
//! through another, a refresh token raced across instances rotates once, a
//! key rotation while every instance serves fails no verification, and an
//! instance killed with SIGKILL mid-load loses nothing that was answered.
//!
//! On SQLite (one file, one writer process) these are skipped: the cluster
//! is a PostgreSQL deployment. With `KEYHOUSE_TEST_DB=postgres` a missing
//! HAProxy fails them (`scripts/setup.sh test` installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{self, Agent, Env, Server, active};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::Mutex;

const REDIRECT: &str = "https://gpt.example/callback";
const PASSWORD: &str = "correct horse battery";

/// The instances, each reachable directly, and the balancer in front.
struct Cluster {
    env: Env,
    instances: Vec<(Server, String)>,
    /// The balancer's URL: every instance's issuer.
    front: String,
    _balancer: Server,
}

/// Whether this run is on PostgreSQL; `false` means skip.
fn on_postgres() -> bool {
    if std::env::var("KEYHOUSE_TEST_DB").as_deref() == Ok("postgres") {
        return true;
    }
    eprintln!("cluster: skipped on SQLite (run with KEYHOUSE_TEST_DB=postgres)");
    false
}

impl Cluster {
    /// `n` instances on a fresh database, HAProxy in front, a user and a
    /// third-party client (refresh tokens always, `client_credentials`).
    async fn start(n: usize) -> (Cluster, Agent) {
        assert!(
            std::path::Path::new("/usr/sbin/haproxy").exists()
                || std::process::Command::new("haproxy")
                    .arg("-v")
                    .output()
                    .is_ok(),
            "no haproxy: run scripts/setup.sh test"
        );
        // The operator's first commands, then every instance at once, as an
        // orchestrator starts replicas: they take turns migrating the app's
        // tables (the CLI migrated Keyhouse's and made the key file).
        let env = common::env().await;
        let agent = common::register_agent(
            &env,
            "GPT",
            REDIRECT,
            &[
                "--refresh-policy",
                "always",
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "refresh_token",
                "--grant-type",
                "client_credentials",
            ],
        );
        common::create_user(&env, "ada@example.com", PASSWORD);
        let front = common::free_address();
        let issuer = format!("http://{front}");
        let mut instances = Vec::new();
        for _ in 0..n {
            let bind = common::free_address();
            let server = env.spawn_server(&bind, &issuer, &instance_flags(), &[], None);
            instances.push((server, format!("http://{bind}")));
        }
        for (_, base) in &instances {
            common::wait_ready(base).await;
        }
        // One key set for all: every instance publishes the same JWKS.
        let jwks = common::get_json(format!("{}/.well-known/jwks.json", instances[0].1)).await;
        // A current and a next key per algorithm, not one set per instance.
        let mut per_alg: HashMap<&str, usize> = HashMap::new();
        for k in jwks["keys"].as_array().unwrap() {
            *per_alg.entry(k["alg"].as_str().unwrap()).or_default() += 1;
        }
        assert!(
            per_alg.len() >= 2 && per_alg.values().all(|&n| n == 2),
            "{jwks}"
        );
        for (_, base) in &instances[1..] {
            assert_eq!(
                common::get_json(format!("{base}/.well-known/jwks.json")).await,
                jwks
            );
        }
        let backends: Vec<&str> = instances
            .iter()
            .map(|(_, b)| b.trim_start_matches("http://"))
            .collect();
        let balancer = std::process::Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scripts/haproxy.sh"
            ))
            .arg(&front)
            .args(&backends)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let balancer = Server(balancer);
        common::wait_ready(&issuer).await;
        let cluster = Cluster {
            env,
            instances,
            front: issuer,
            _balancer: balancer,
        };
        (cluster, agent)
    }

    fn base(&self, i: usize) -> &str {
        &self.instances[i].1
    }

    /// Restarts instance `i` on its address (SIGKILL, then a new process).
    async fn restart(&mut self, i: usize) {
        self.instances[i].0.kill();
        let base = self.instances[i].1.clone();
        let bind = base.trim_start_matches("http://");
        self.instances[i].0 =
            self.env
                .spawn_server(bind, &self.front, &instance_flags(), &[], None);
        common::wait_ready(&base).await;
    }
}

/// What every instance is started with: behind the balancer on loopback,
/// and without the per-session decision limit (tests make many codes).
fn instance_flags() -> Vec<&'static str> {
    vec!["--decisions-per-minute", "0"]
}

/// A browser signed in through `base`.
async fn signed_in(base: &str) -> reqwest::Client {
    let browser = common::browser();
    let res = browser
        .post(format!("{base}/api/session/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login through {base}");
    browser
}

/// A code approved through `base`.
async fn code_through(browser: &reqwest::Client, base: &str, agent: &Agent, state: &str) -> String {
    let res = browser
        .post(format!("{base}/api/idp/authorize"))
        .json(&json!({
            "consent_granted": true, "response_type": "code", "client_id": agent.client_id,
            "redirect_uri": REDIRECT, "scope": "openid notes:read", "state": state,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "authorize through {base}");
    common::code_of(&res.json().await.unwrap())
}

/// `POST /oauth2/token` at `base` with HTTP Basic; status and body.
async fn token(
    http: &reqwest::Client,
    base: &str,
    agent: &Agent,
    form: &[(&str, &str)],
) -> Result<(u16, Value), reqwest::Error> {
    let res = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&agent.client_id, Some(&agent.client_secret))
        .form(form)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// The `kid` in a JWT's header.
fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_code_issued_by_one_instance_is_redeemed_through_another_once() {
    if !on_postgres() {
        return;
    }
    let (cluster, agent) = Cluster::start(3).await;
    let http = reqwest::Client::new();

    // Signed in at the first instance, approved at the second, redeemed at
    // the third: the session, the consent and the code live in the database.
    let browser = signed_in(cluster.base(0)).await;
    let code = code_through(&browser, cluster.base(1), &agent, "s1").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, tokens) = token(&http, cluster.base(2), &agent, &form).await.unwrap();
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    // Every instance signs for the one issuer, the balancer's URL.
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], cluster.front);

    // The token is good at every instance.
    let userinfo = |i: usize| {
        http.get(format!("{}/oauth2/userinfo", cluster.base(i)))
            .bearer_auth(access)
            .send()
    };
    for i in 0..3 {
        let res = userinfo(i).await.unwrap();
        assert_eq!(res.status(), 200, "userinfo at instance {i}");
    }
    // The same code a second time, at each of the three: refused everywhere,
    // and the first replay (at the first instance) revoked what the code
    // gave (RFC 6749 §4.1.2) for every instance.
    for i in 0..3 {
        let (status, body) = token(&http, cluster.base(i), &agent, &form).await.unwrap();
        assert_eq!(status, 400, "second redemption at instance {i}: {body}");
        assert_eq!(body["error"], "invalid_grant");
        for j in 0..3 {
            let res = userinfo(j).await.unwrap();
            assert_eq!(res.status(), 401, "userinfo at {j} after a replay at {i}");
        }
    }

    // The whole flow through the balancer, round robin across instances.
    let browser = signed_in(&cluster.front).await;
    for i in 0..6 {
        let code = code_through(&browser, &cluster.front, &agent, &format!("b{i}")).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        let (status, tokens) = token(&http, &cluster.front, &agent, &form).await.unwrap();
        assert_eq!(status, 200, "{tokens}");
        let res = http
            .get(format!("{}/oauth2/userinfo", cluster.front))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn a_refresh_token_raced_across_instances_rotates_once() {
    if !on_postgres() {
        return;
    }
    let (cluster, agent) = Cluster::start(3).await;
    let http = reqwest::Client::new();
    let browser = signed_in(cluster.base(0)).await;
    for round in 0..3 {
        let code = code_through(&browser, cluster.base(0), &agent, "r").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        let (_, tokens) = token(&http, cluster.base(0), &agent, &form).await.unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let first_access = tokens["access_token"].as_str().unwrap().to_owned();

        // Four copies of the token at each instance, all at once.
        let barrier = Arc::new(tokio::sync::Barrier::new(12));
        let tasks: Vec<_> = (0..12)
            .map(|k| {
                let http = http.clone();
                let base = cluster.base(k % 3).to_owned();
                let agent = Agent {
                    client_id: agent.client_id.clone(),
                    client_secret: agent.client_secret.clone(),
                };
                let refresh = refresh.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let form = [
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh.as_str()),
                    ];
                    token(&http, &base, &agent, &form).await.unwrap()
                })
            })
            .collect();
        let mut won = Vec::new();
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                200 => won.push(body),
                400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
                other => panic!("round {round}: HTTP {other}: {body}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one rotation wins");
        // The others were reuse: the family is revoked, so the winner's
        // successor and every access token of the family are dead too, at
        // every instance.
        let successor = won[0]["refresh_token"].as_str().unwrap();
        let winner_access = won[0]["access_token"].as_str().unwrap();
        for i in 0..3 {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", successor),
            ];
            let (status, _) = token(&http, cluster.base(i), &agent, &form).await.unwrap();
            assert_eq!(status, 400, "round {round}: successor after reuse at {i}");
            assert!(!active(&http, cluster.base(i), &agent, winner_access).await);
            assert!(!active(&http, cluster.base(i), &agent, &first_access).await);
        }
    }
}

/// What the load of the rotation test saw.
#[derive(Default)]
struct Verified {
    checks: usize,
    failures: Vec<String>,
    /// Signing `kid`s seen per instance that issued the token.
    kids: HashMap<usize, BTreeSet<String>>,
}

#[tokio::test]
async fn key_rotations_while_every_instance_serves_fail_no_verification() {
    if !on_postgres() {
        return;
    }
    let (mut cluster, agent) = Cluster::start(3).await;
    let agent = Arc::new(agent);
    let bases: Arc<Vec<String>> = Arc::new((0..3).map(|i| cluster.base(i).to_owned()).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Verified::default()));
    // Each worker takes a token from one instance and has the other two
    // verify it (introspection checks the signature against their key set).
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let (agent, bases, stop, seen) =
                (agent.clone(), bases.clone(), stop.clone(), seen.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut n = w;
                while !stop.load(Ordering::Relaxed) {
                    let issuer = n % 3;
                    n += 1;
                    let Ok((200, t)) = token(
                        &http,
                        &bases[issuer],
                        &agent,
                        &[("grant_type", "client_credentials")],
                    )
                    .await
                    else {
                        // An instance being restarted: not a verification.
                        continue;
                    };
                    let access = t["access_token"].as_str().unwrap().to_owned();
                    for other in (0..3).filter(|&o| o != issuer) {
                        let res = http
                            .post(format!("{}/oauth2/introspect", bases[other]))
                            .basic_auth(&agent.client_id, Some(&agent.client_secret))
                            .form(&[("token", access.as_str())])
                            .send()
                            .await;
                        // An instance being restarted (no answer, or 503
                        // while it starts) verifies nothing either way.
                        let Ok(res) = res else { continue };
                        if res.status() == 503 {
                            continue;
                        }
                        let status = res.status();
                        let Ok(v) = res.json::<Value>().await else {
                            continue;
                        };
                        let mut s = seen.lock().await;
                        s.checks += 1;
                        if status != 200 || v["active"] != true {
                            s.failures.push(format!(
                                "issued by {issuer}, refused by {other}: {status} {v}"
                            ));
                        }
                        s.kids.entry(issuer).or_default().insert(kid_of(&access));
                    }
                }
            })
        })
        .collect();

    let started = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Two rotations, each picked up by the first instance at once (as it
    // would within a minute, by its reload), while the other two keep the
    // key set they loaded at start and serve throughout. After the first,
    // the first instance signs with the key the others loaded as `next`;
    // after the second, with one they never loaded: they must fetch it when
    // they meet it. (They reload for an unknown `kid` at most once per 5 s,
    // so the second rotation comes more than 5 s after their start, as any
    // two rotations a JWKS cache lifetime apart do.)
    cluster.env.ok(&["keys", "rotate"]);
    cluster.restart(0).await;
    tokio::time::sleep_until(started + Duration::from_millis(6000)).await;
    cluster.env.ok(&["keys", "rotate"]);
    cluster.restart(0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let seen = seen.lock().await;
    assert!(seen.checks > 100, "only {} verifications", seen.checks);
    assert!(seen.failures.is_empty(), "{:#?}", seen.failures);
    // The test crossed keys: the first instance signed with three keys in
    // turn while the others kept signing with their start-up key, the
    // first of the three (they may pick the third up when they meet it).
    let first = &seen.kids[&0];
    assert_eq!(first.len(), 3, "{:?}", seen.kids);
    for other in [1, 2] {
        let theirs = &seen.kids[&other];
        assert!(theirs.len() < 3, "{:?}", seen.kids);
        assert!(theirs.is_subset(first), "{:?}", seen.kids);
    }
}

/// What the clients of the SIGKILL test were answered.
#[derive(Default)]
struct Received {
    access: Vec<String>,
    /// Refresh tokens received and never sent back.
    refresh_live: Vec<String>,
    exchanged: Vec<String>,
    failed_requests: usize,
}

#[tokio::test]
async fn sigkill_of_one_instance_under_load_loses_nothing_answered() {
    if !on_postgres() {
        return;
    }
    let (mut cluster, agent) = Cluster::start(3).await;
    let agent = Arc::new(agent);
    let front = cluster.front.clone();
    let browser = signed_in(&front).await;
    let mut codes = Vec::new();
    for i in 0..300 {
        codes.push(code_through(&browser, &front, &agent, &format!("k{i}")).await);
    }
    let codes = Arc::new(Mutex::new(codes));
    let seen = Arc::new(Mutex::new(Received::default()));
    let exchanges = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (agent, front, codes, seen, exchanges) = (
                agent.clone(),
                front.clone(),
                codes.clone(),
                seen.clone(),
                exchanges.clone(),
            );
            tokio::spawn(async move {
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
                    exchanges.fetch_add(1, Ordering::Relaxed);
                    let Ok((200, t)) = token(&http, &front, &agent, &form).await else {
                        seen.lock().await.failed_requests += 1;
                        continue;
                    };
                    let mut refresh = t["refresh_token"].as_str().unwrap().to_owned();
                    {
                        let mut s = seen.lock().await;
                        s.access
                            .push(t["access_token"].as_str().unwrap().to_owned());
                        s.exchanged.push(code);
                    }
                    let mut live = true;
                    for _ in 0..3 {
                        let form = [
                            ("grant_type", "refresh_token"),
                            ("refresh_token", refresh.as_str()),
                        ];
                        // Once sent, the old token may be spent whether or not
                        // an answer arrives.
                        match token(&http, &front, &agent, &form).await {
                            Ok((200, t)) => {
                                seen.lock()
                                    .await
                                    .access
                                    .push(t["access_token"].as_str().unwrap().to_owned());
                                refresh = t["refresh_token"].as_str().unwrap().to_owned();
                            }
                            _ => {
                                seen.lock().await.failed_requests += 1;
                                live = false;
                                break;
                            }
                        }
                    }
                    if live {
                        seen.lock().await.refresh_live.push(refresh);
                    }
                }
            })
        })
        .collect();

    // Kill the second instance once the load is well under way.
    while exchanges.load(Ordering::Relaxed) < 60 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.instances[1].0.kill();
    for w in workers {
        w.await.unwrap();
    }

    let seen = seen.lock().await;
    eprintln!(
        "cluster: {} codes exchanged, {} access tokens answered, {} requests failed around the kill",
        seen.exchanged.len(),
        seen.access.len(),
        seen.failed_requests
    );
    let http = reqwest::Client::new();
    // Most of the work was answered; what was lost is at most what was in
    // flight at the kill (16 connections), whatever HAProxy had not yet
    // taken the dead instance out for.
    assert!(
        seen.exchanged.len() >= 250,
        "{} exchanged",
        seen.exchanged.len()
    );
    assert!(
        seen.failed_requests <= 32,
        "{} failed",
        seen.failed_requests
    );
    // Nothing answered is lost: every access token a client received is
    // active at the survivors, every refresh token it holds still rotates,
    // and no exchanged code redeems again.
    for (k, access) in seen.access.iter().enumerate() {
        let base = cluster.base(if k % 2 == 0 { 0 } else { 2 });
        assert!(
            active(&http, base, &agent, access).await,
            "access token {k} lost"
        );
    }
    for refresh in &seen.refresh_live {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let (status, body) = token(&http, &front, &agent, &form).await.unwrap();
        assert_eq!(status, 200, "a live refresh token was lost: {body}");
    }
    for code in seen.exchanged.iter().take(50) {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        let (status, _) = token(&http, &front, &agent, &form).await.unwrap();
        assert_eq!(status, 400, "an exchanged code redeemed again");
    }
}

#[tokio::test]
async fn instances_migrating_the_apps_tables_together_take_turns() {
    if !on_postgres() {
        return;
    }
    // Six instances' start-up at the same instant on a database with no
    // tables of the app yet: each its own connection, as separate processes.
    let env = common::env().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(6));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (url, barrier) = (env.url.clone(), barrier.clone());
            tokio::spawn(async move {
                let store = keyhouse_store::Store::connect(&url).await.unwrap();
                let notes = keyhouse_app::server::NotesStore::new(store.connection().clone());
                barrier.wait().await;
                notes.migrate().await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("a concurrent migration failed");
    }
}
