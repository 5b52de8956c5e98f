//! Shared by the binary's tests: a fresh database (SQLite, or PostgreSQL
//! with `KEYHOUSE_TEST_DB=postgres`) and a key file in a temporary folder.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Output};

pub struct Env {
    pub url: String,
    pub dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn env() -> Env {
    let n: u64 = rand::random();
    let dir = std::env::temp_dir().join(format!("keyhouse-cli-{}-{n:x}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = if std::env::var("KEYHOUSE_TEST_DB").as_deref() == Ok("postgres") {
        let admin = std::env::var("KEYHOUSE_TEST_PG_URL").unwrap();
        let name = format!("kh_cli_{n:x}");
        let store = keyhouse_store::Store::connect(&admin).await.unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(
            store.connection(),
            &format!("CREATE DATABASE {name}"),
        )
        .await
        .unwrap();
        let base = admin.rsplit_once('/').unwrap().0.to_owned();
        format!("{base}/{name}")
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("keyhouse.db").display())
    };
    Env { url, dir }
}

/// Writes a secret to a fresh file readable only by us and returns its
/// path, for `--password-file` (secrets never go on the command line).
pub fn secret_file(value: &str) -> String {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let n: u64 = rand::random();
    let dir = std::env::temp_dir().join(format!("keyhouse-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{n:x}"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(&path).unwrap();
    writeln!(f, "{value}").unwrap();
    path.display().to_string()
}

impl Env {
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[])
    }

    /// [`Env::run`] with more environment variables.
    pub fn run_with_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_keyhouse"))
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("KEYHOUSE_KEY_FILE", self.dir.join("keyhouse.key"))
            .env("RUST_LOG", "warn")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    }

    /// Creates an admin API key with the CLI (`name`) and returns it.
    pub fn admin_key(&self, name: &str) -> String {
        self.ok(&["admin-keys", "create", "--name", name])
            .lines()
            .find_map(|l| l.strip_prefix("key: "))
            .expect("key line")
            .trim()
            .to_owned()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Env {
    /// Starts `keyhouse serve` on a free port and waits until it is ready.
    /// The server is killed when the guard drops, even if the test panics.
    pub async fn serve(&self) -> (Server, String) {
        self.serve_as(None).await
    }

    /// [`Env::serve`] with a fixed issuer (default: the bind address).
    pub async fn serve_as(&self, issuer: Option<&str>) -> (Server, String) {
        self.serve_with(issuer, &[]).await
    }

    /// [`Env::serve_as`] with further `serve` options.
    pub async fn serve_with(&self, issuer: Option<&str>, extra: &[&str]) -> (Server, String) {
        self.serve_logged(issuer, extra, &[], None).await
    }

    /// [`Env::serve_with`] with more environment variables.
    pub async fn serve_with_env(&self, extra: &[&str], vars: &[(&str, &str)]) -> (Server, String) {
        self.serve_logged(None, extra, vars, None).await
    }

    /// [`Env::serve`] logging every SQL statement (`keyhouse_store::sql` at
    /// TRACE) to `log`, so a test can count what a request costs.
    pub async fn serve_counting_statements(&self, log: &std::path::Path) -> (Server, String) {
        self.serve_logged(None, &[], &[], Some(log)).await
    }

    async fn serve_logged(
        &self,
        issuer: Option<&str>,
        extra: &[&str],
        vars: &[(&str, &str)],
        sql_log: Option<&std::path::Path>,
    ) -> (Server, String) {
        let bind = free_address();
        let issuer = issuer.map_or_else(|| format!("http://{bind}"), str::to_owned);
        let child = self.spawn_server(&bind, &issuer, extra, vars, sql_log);
        let base = format!("http://{bind}");
        wait_ready(&base).await;
        (child, base)
    }

    /// Starts `keyhouse serve` on `bind` with `issuer`, `extra` options and
    /// more environment `vars`, without waiting.
    pub fn spawn_server(
        &self,
        bind: &str,
        issuer: &str,
        extra: &[&str],
        vars: &[(&str, &str)],
        sql_log: Option<&std::path::Path>,
    ) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_keyhouse"))
            .args(["serve", "--bind", bind, "--issuer", issuer])
            .args(extra)
            .env("DATABASE_URL", &self.url)
            .env("KEYHOUSE_KEY_FILE", self.dir.join("keyhouse.key"))
            // Tests that need the app's pages write them to <dir>/dist first.
            .env("KEYHOUSE_STATIC_DIR", self.dir.join("dist"))
            .env("KEYHOUSE_OUTBOX", self.dir.join("outbox"))
            .env(
                "RUST_LOG",
                if sql_log.is_some() {
                    "warn,keyhouse_store::sql=trace"
                } else {
                    "warn"
                },
            )
            .env("NO_COLOR", "1")
            // The machine's collector is not the tests' (a build without
            // traces refuses an endpoint).
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .envs(vars.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(match sql_log {
                Some(path) => std::process::Stdio::from(std::fs::File::create(path).unwrap()),
                None => std::process::Stdio::null(),
            })
            .spawn()
            .unwrap();
        Server(child)
    }
}

/// `127.0.0.1:PORT` with a port free a moment ago.
pub fn free_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Waits (10 s at most) until `base` answers `/health/ready` with 200.
pub async fn wait_ready(base: &str) {
    for _ in 0..200 {
        let ready = reqwest::get(format!("{base}/health/ready")).await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{base} did not become ready");
}

/// A running `keyhouse serve`.
pub struct Server(pub Child);

impl Server {
    /// SIGKILL, and wait for the process to go.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A browser-like HTTP client: its own cookie jar, redirects not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        // What every browser that keeps cookies sends on its own pages'
        // requests (a cookie-bearing write without it is refused).
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::HeaderName::from_static("sec-fetch-site"),
            reqwest::header::HeaderValue::from_static("same-origin"),
        )]))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A confidential client registered with `keyhouse clients create`.
pub struct Agent {
    pub client_id: String,
    pub client_secret: String,
}

/// Registers a third-party confidential client named `name` for
/// `redirect_uri`, with `extra` options (grant types, refresh policy…).
pub fn register_agent(env: &Env, name: &str, redirect_uri: &str, extra: &[&str]) -> Agent {
    let mut args = vec![
        "clients",
        "create",
        "--name",
        name,
        "--type",
        "third_party",
        "--redirect-uri",
        redirect_uri,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = env.ok(&args);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    Agent {
        client_id: v["client_id"].as_str().expect("id").to_owned(),
        client_secret: v["client_secret"].as_str().expect("secret").to_owned(),
    }
}

/// Creates the user `email` with `password` through the CLI, as an
/// operator would.
pub fn create_user(env: &Env, email: &str, password: &str) {
    env.ok(&[
        "users",
        "create",
        "--email",
        email,
        "--password-file",
        &secret_file(password),
    ]);
}

/// A browser-like client signed in as a new user `email` (created with
/// the CLI: sign-up proves the address by mail first).
pub async fn signed_up(env: &Env, base: &str, email: &str) -> reqwest::Client {
    let password = "correct horse battery";
    create_user(env, email, password);
    let http = browser();
    let res = http
        .post(format!("{base}/api/session/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), reqwest::StatusCode::OK, "login");
    http
}

/// The `code` of an authorize answer (`{"redirect_uri": "…?code=…"}`).
pub fn code_of(answer: &serde_json::Value) -> String {
    let url = url::Url::parse(answer["redirect_uri"].as_str().unwrap()).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {url}"))
}

/// Exchanges a code with `client_secret_post`; the token response.
pub async fn exchange(
    base: &str,
    code: &str,
    redirect_uri: &str,
    client_id: &str,
    client_secret: &str,
) -> serde_json::Value {
    let res = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "token exchange");
    res.json().await.unwrap()
}

/// Which JSON authorize API a code flow goes through.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    /// `/api/idp/authorize`, for a signed-in user.
    Users,
    /// `/api/b2b/idp/authorize`, for a signed-in member.
    Members,
}

/// The code flow as the `/idp` component runs it: `browser` (signed in)
/// approves `agent`'s request for `scope` (bound to `resource` when given),
/// and the code is exchanged; the token response.
pub async fn code_flow(
    base: &str,
    browser: &reqwest::Client,
    side: Side,
    agent: &Agent,
    redirect_uri: &str,
    scope: &str,
    resource: Option<&str>,
) -> serde_json::Value {
    let mut decision = serde_json::json!({
        "consent_granted": true, "response_type": "code", "client_id": agent.client_id,
        "redirect_uri": redirect_uri, "scope": scope, "state": "s1",
    });
    if let Some(r) = resource {
        decision["resource"] = serde_json::json!(r);
    }
    let path = match side {
        Side::Users => "/api/idp/authorize",
        Side::Members => "/api/b2b/idp/authorize",
    };
    let res = browser
        .post(format!("{base}{path}"))
        .json(&decision)
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), reqwest::StatusCode::OK, "authorize");
    let code = code_of(&res.json().await.expect("json"));
    exchange(
        base,
        &code,
        redirect_uri,
        &agent.client_id,
        &agent.client_secret,
    )
    .await
}

/// Whether `base` introspects `token` as active, asked by `agent`.
pub async fn active(http: &reqwest::Client, base: &str, agent: &Agent, token: &str) -> bool {
    let v: serde_json::Value = http
        .post(format!("{base}/oauth2/introspect"))
        .basic_auth(&agent.client_id, Some(&agent.client_secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["active"] == true
}

/// `GET url` as JSON.
pub async fn get_json(url: impl reqwest::IntoUrl) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}
