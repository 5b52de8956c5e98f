//! `keyhouse-bench`: load-tests a real `keyhouse` server binary.
//!
//! It creates a throw-away SQLite database with one user and one
//! `third_party` client (through the `keyhouse` CLI), starts `keyhouse serve`
//! on a free local port and measures, for every concurrency level `c`, with
//! exactly `c` keep-alive HTTP/1.1 connections (one per worker):
//!
//! * `client_credentials`: token requests;
//! * `authorization_code`: code exchanges, from a pool of codes prepared
//!   beforehand through `POST /api/idp/authorize` (preparation not timed);
//! * `refresh_token`: rotations, each worker walking its own refresh chain;
//! * `introspection`: introspection of one valid access token;
//! * `userinfo`: `GET /oauth2/userinfo` with one valid access token;
//! * `jwks`: `GET /.well-known/jwks.json`;
//! * `discovery`: `GET /.well-known/openid-configuration`.
//!
//! Every response is checked; failures are counted and printed. Besides
//! requests per second and latencies, each row gives the CPU time the
//! server process spent in its measured window (`/proc/<pid>/stat`) and the
//! requests answered per server CPU-second: on a machine whose cores the
//! load generator shares, that is the figure that says what a request
//! costs. The table goes to stdout, progress to stderr.
//!
//! With `--instances N` (N > 1, PostgreSQL only) it starts N servers on one
//! database behind HAProxy (`scripts/haproxy.sh`, round robin) and sends
//! everything through the balancer: `cpu_s` is then the instances' CPU time
//! added up, and the balancer's own is noted under the table.
//!
//! ```sh
//! keyhouse-bench --server target/release/keyhouse [--seconds 5] [--concurrency 1,16,64] [--ops jwks,userinfo]
//! keyhouse-bench --server target/release/keyhouse --postgres-url postgres://postgres@127.0.0.1:55432/postgres --instances 3
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::fs::File;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

type BoxError = Box<dyn Error + Send + Sync>;
type Sender = SendRequest<Full<Bytes>>;

/// The redirect URI registered for the benchmark client.
const REDIRECT_URI: &str = "https://bench.example/cb";
/// The scope requested at the authorization endpoint.
const SCOPE: &str = "openid";
/// Lifetime of an authorization code on the server (its default `code_ttl`).
const CODE_TTL: Duration = Duration::from_secs(300);
/// Safety margin kept between the end of a code-exchange measurement and
/// the expiry of the oldest prepared code.
const CODE_TTL_MARGIN: Duration = Duration::from_secs(30);
/// Concurrency used to prepare authorization codes.
const PREPARE_CONCURRENCY: usize = 16;
/// A request taking longer than this counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The JWKS document's path.
const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The discovery document's path.
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// How long to wait for `/health/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Parser, Debug)]
#[command(
    name = "keyhouse-bench",
    about = "Benchmarks a keyhouse server binary: the token grants, introspection, userinfo, JWKS and discovery"
)]
struct Args {
    /// Path to the `keyhouse` binary to benchmark.
    #[arg(long)]
    server: PathBuf,
    /// Measured seconds per (operation, concurrency).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Concurrency levels (number of keep-alive connections), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Warm-up seconds before each measurement (requests not counted).
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Minimum number of authorization codes prepared per concurrency level
    /// (more are prepared when an earlier level showed a higher exchange rate).
    #[arg(long, default_value_t = 10_000)]
    codes: usize,
    /// Keep the temporary directory (database, key file, server log).
    #[arg(long)]
    keep_temp: bool,
    /// The operations to measure, comma separated (default: all of them):
    /// client_credentials, authorization_code, refresh_token,
    /// introspection, userinfo, jwks, discovery.
    #[arg(long, value_delimiter = ',', value_parser = parse_operation)]
    ops: Vec<Operation>,
    /// Run on PostgreSQL instead of SQLite: the URL of a server and a
    /// database to connect to first (e.g. `postgres://postgres@127.0.0.1:55432/postgres`,
    /// what `scripts/pg.sh start` prints); a fresh database is created on it.
    #[arg(long)]
    postgres_url: Option<String>,
    /// Start this many servers on the one database, behind HAProxy
    /// (needs `--postgres-url` when more than one).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// The script that runs HAProxy in front of the instances
    /// (`SCRIPT FRONTEND BACKEND...`).
    #[arg(long, default_value = "scripts/haproxy.sh")]
    balancer: PathBuf,
    /// The algorithm of the benchmark client's ID tokens
    /// (`clients create --id-token-alg`; the server's default when absent).
    #[arg(long)]
    id_token_alg: Option<String>,
}

fn parse_operation(name: &str) -> Result<Operation, String> {
    Operation::ALL
        .into_iter()
        .find(|op| op.name() == name)
        .ok_or_else(|| {
            let known: Vec<&str> = Operation::ALL.iter().map(|op| op.name()).collect();
            format!("unknown operation {name:?}; known: {}", known.join(", "))
        })
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    validate_args(&args).map_err(unsend)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut tmp = TempDir::create(args.keep_temp).map_err(unsend)?;
    let result = runtime.block_on(async {
        tokio::select! {
            r = run(&args, &tmp.path) => r,
            _ = tokio::signal::ctrl_c() => Err(BoxError::from("interrupted")),
        }
    });
    // Dropping the runtime drops the server guard if `run` was cancelled.
    drop(runtime);
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            tmp.keep = true;
            eprintln!(
                "keyhouse-bench failed; files kept in {}",
                tmp.path.display()
            );
            for log in std::fs::read_dir(&tmp.path).into_iter().flatten().flatten() {
                if log.path().extension().is_some_and(|e| e == "log") {
                    print_log_tail(&log.path());
                }
            }
            Err(unsend(e))
        }
    }
}

/// `main`'s error type.
fn unsend(e: BoxError) -> Box<dyn Error> {
    e
}

fn validate_args(args: &Args) -> Result<(), BoxError> {
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err("--seconds must be in (0, 3600]".into());
    }
    if !(args.warmup.is_finite() && args.warmup >= 0.0 && args.warmup <= 60.0) {
        return Err("--warmup must be in [0, 60]".into());
    }
    if args.concurrency.is_empty() || args.concurrency.iter().any(|&c| c == 0 || c > 1024) {
        return Err("--concurrency takes numbers between 1 and 1024".into());
    }
    let measured = Duration::from_secs_f64(args.seconds + args.warmup);
    if measured + CODE_TTL_MARGIN + Duration::from_secs(10) >= CODE_TTL {
        return Err(format!(
            "--seconds + --warmup must stay well under the {} s code lifetime",
            CODE_TTL.as_secs()
        )
        .into());
    }
    if args.instances == 0 || args.instances > 16 {
        return Err("--instances takes a number between 1 and 16".into());
    }
    if args.instances > 1 {
        if args.postgres_url.is_none() {
            return Err(
                "--instances above 1 needs --postgres-url (one database shared by all)".into(),
            );
        }
        if !args.balancer.is_file() {
            return Err(format!("--balancer {}: no such file", args.balancer.display()).into());
        }
    }
    if !args.server.is_file() {
        return Err(format!("--server {}: no such file", args.server.display()).into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Temporary directory and server process
// ---------------------------------------------------------------------------

struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    fn create(keep: bool) -> Result<TempDir, BoxError> {
        let base = std::env::temp_dir();
        let path = base.join(format!(
            "keyhouse-bench-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path)?;
        let path = std::fs::canonicalize(&path)?;
        Ok(TempDir { path, keep })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn print_log_tail(log: &Path) {
    let Ok(text) = std::fs::read_to_string(log) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(20)..];
    if !tail.is_empty() {
        eprintln!("--- last lines of {} ---", log.display());
        for l in tail {
            eprintln!("{l}");
        }
    }
}

/// The `keyhouse` binary plus the files it works on.
struct Keyhouse {
    binary: PathBuf,
    database_url: String,
    key_file: PathBuf,
}

impl Keyhouse {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.env("KEYHOUSE_KEY_FILE", &self.key_file)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a CLI command and answers its stdout.
    fn cli(&self, args: &[&str]) -> Result<String, BoxError> {
        let out = self
            .command()
            .args(args)
            .arg("--database-url")
            .arg(&self.database_url)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        if !out.status.success() {
            return Err(format!(
                "`keyhouse {}` failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim(),
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Finds the JSON object in a CLI output (tolerating log lines around it).
fn parse_cli_json(out: &str) -> Result<Value, BoxError> {
    if let Ok(v) = serde_json::from_str::<Value>(out.trim()) {
        return Ok(v);
    }
    if let (Some(a), Some(b)) = (out.find('{'), out.rfind('}'))
        && a < b
        && let Ok(v) = serde_json::from_str::<Value>(&out[a..=b])
    {
        return Ok(v);
    }
    Err(format!("no JSON object in the CLI output: {}", out.trim()).into())
}

/// The running server; killed when dropped.
struct Server {
    child: Child,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmHWM` of the server process, in KiB.
    fn peak_rss_kib(&self) -> Result<u64, BoxError> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .ok_or_else(|| format!("{path} has no VmHWM (did the server exit?)"))?;
        let kib = line
            .trim_start_matches("VmHWM:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .map_err(|e| format!("{path}: bad VmHWM line {line:?}: {e}"))?;
        Ok(kib)
    }

    /// User plus system CPU time the server process has used so far, in
    /// seconds (`/proc/<pid>/stat`, in clock ticks of 1/100 s: Linux's
    /// `USER_HZ`).
    fn cpu_seconds(pid: u32) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces: count fields after its `)`.
        let fields: Vec<&str> = stat
            .get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 of the line; the state,
        // field 3, is the first after `)`.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) as f64 / 100.0)
    }

    /// `Some(status)` once the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The servers under test and, with several, the balancer in front of them.
struct Fleet {
    servers: Vec<Server>,
    balancer: Option<Server>,
}

impl Fleet {
    fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(Server::pid).collect()
    }

    /// `Some(description)` once a server or the balancer has exited.
    fn exited(&mut self) -> Option<String> {
        for (i, s) in self.servers.iter_mut().enumerate() {
            if let Some(status) = s.exited() {
                return Some(format!("server {} exited ({status})", i + 1));
            }
        }
        let status = self.balancer.as_mut()?.exited()?;
        Some(format!("the balancer exited ({status})"))
    }

    /// The largest peak RSS among the servers, in KiB.
    fn peak_rss_kib(&self) -> Result<u64, BoxError> {
        let mut peak = 0;
        for s in &self.servers {
            peak = peak.max(s.peak_rss_kib()?);
        }
        Ok(peak)
    }
}

/// The CPU seconds used so far by all of `pids`.
fn cpu_seconds_of(pids: &[u32]) -> Option<f64> {
    pids.iter().map(|&p| Server::cpu_seconds(p)).sum()
}

fn free_port() -> Result<u16, BoxError> {
    let listener = StdTcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// Where and as whom the benchmark talks.
struct Target {
    addr: SocketAddr,
    host: String,
    issuer: String,
    client_id: String,
    /// `Basic ...` for the client.
    basic: String,
    /// `name=value` of the session cookie, once logged in.
    cookie: String,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// One keep-alive HTTP/1.1 connection (no pool: exactly one TCP connection).
async fn connect(addr: SocketAddr) -> Result<Sender, BoxError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // An error here surfaces on the next request of the sender.
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(sender: &mut Sender, req: Request<Full<Bytes>>) -> Result<Reply, BoxError> {
    let exchange = async {
        sender.ready().await?;
        let res = sender.send_request(req).await?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<Reply, BoxError>(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()).into()),
    }
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A client-authenticated form POST (token and introspection endpoints).
fn form_request(t: &Target, path: &str, body: String) -> Result<Request<Full<Bytes>>, BoxError> {
    Ok(Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(HOST, &t.host)
        .header(AUTHORIZATION, &t.basic)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))?)
}

fn json_request(
    t: &Target,
    path: &str,
    body: &Value,
    with_cookie: bool,
) -> Result<Request<Full<Bytes>>, BoxError> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(HOST, &t.host)
        .header(CONTENT_TYPE, "application/json");
    if with_cookie {
        // What a browser sends with its own page's requests: a write that
        // carries the session cookie without it is refused as cross-site.
        b = b
            .header(COOKIE, &t.cookie)
            .header("sec-fetch-site", "same-origin");
    }
    Ok(b.body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?)
}

/// A `GET` with `Authorization: Bearer <token>`.
fn bearer_request(t: &Target, path: &str, token: &str) -> Result<Request<Full<Bytes>>, BoxError> {
    Ok(Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(HOST, &t.host)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))?)
}

fn get_request(t: &Target, path: &str) -> Result<Request<Full<Bytes>>, BoxError> {
    Ok(Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(HOST, &t.host)
        .body(Full::new(Bytes::new()))?)
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Checks a token-endpoint answer: 200, JSON, an `access_token` and, when
/// asked, a `refresh_token`.
fn check_token(r: &Reply, need_refresh: bool) -> Result<Value, String> {
    if r.status != StatusCode::OK {
        return Err(format!("HTTP {}: {}", r.status.as_u16(), snippet(&r.body)));
    }
    let v: Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("token response is not JSON: {e}"))?;
    if !has_str(&v, "access_token") {
        return Err(format!(
            "token response without access_token: {}",
            snippet(&r.body)
        ));
    }
    if need_refresh && !has_str(&v, "refresh_token") {
        return Err(format!(
            "token response without refresh_token: {}",
            snippet(&r.body)
        ));
    }
    Ok(v)
}

/// Whether `v` has a non-empty string field `name`.
fn has_str(v: &Value, name: &str) -> bool {
    v.get(name)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

/// A 200 JSON answer for which `ok` holds.
fn check_json(r: &Reply, ok: impl FnOnce(&Value) -> bool) -> Result<(), String> {
    if r.status != StatusCode::OK {
        return Err(format!("HTTP {}: {}", r.status.as_u16(), snippet(&r.body)));
    }
    let v: Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("answer is not JSON: {e}"))?;
    if ok(&v) {
        Ok(())
    } else {
        Err(format!("unexpected answer: {}", snippet(&r.body)))
    }
}

fn check_introspection(r: &Reply) -> Result<(), String> {
    if r.status != StatusCode::OK {
        return Err(format!("HTTP {}: {}", r.status.as_u16(), snippet(&r.body)));
    }
    let v: Value = serde_json::from_slice(&r.body)
        .map_err(|e| format!("introspection response is not JSON: {e}"))?;
    if v.get("active") != Some(&Value::Bool(true)) {
        return Err(format!("token not active: {}", snippet(&r.body)));
    }
    Ok(())
}

fn str_field(v: &Value, name: &str) -> Result<String, BoxError> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no {name} in {v}").into())
}

// ---------------------------------------------------------------------------
// Setup steps
// ---------------------------------------------------------------------------

async fn wait_ready(fleet: &mut Fleet, addr: SocketAddr, t: &Target) -> Result<(), BoxError> {
    let start = Instant::now();
    let mut last = String::from("no attempt yet");
    while start.elapsed() < READY_TIMEOUT {
        if let Some(status) = fleet.exited() {
            return Err(format!("during start-up, {status}").into());
        }
        match connect(addr).await {
            Ok(mut s) => match send(&mut s, get_request(t, "/health/ready")?).await {
                Ok(r) if r.status == StatusCode::OK => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status.as_u16()),
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "{addr} was not ready after {} s (last: {last})",
        READY_TIMEOUT.as_secs()
    )
    .into())
}

async fn login(t: &Target, email: &str, password: &str) -> Result<String, BoxError> {
    let mut s = connect(t.addr).await?;
    let r = send(
        &mut s,
        json_request(
            t,
            "/api/session/login",
            &json!({"email": email, "password": password}),
            false,
        )?,
    )
    .await?;
    if r.status != StatusCode::OK {
        return Err(format!("login: HTTP {}: {}", r.status.as_u16(), snippet(&r.body)).into());
    }
    let cookies: Vec<String> = r
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(|pair| pair.trim().to_owned())
        .filter(|pair| {
            pair.split_once('=')
                .is_some_and(|(_, value)| !value.is_empty())
        })
        .collect();
    cookies
        .iter()
        .find(|c| c.contains("keyhouse_session="))
        .or_else(|| cookies.first())
        .cloned()
        .ok_or_else(|| "login answered no session cookie".into())
}

/// One `POST /api/idp/authorize`: answers the code.
async fn authorize(t: &Target, sender: &mut Sender) -> Result<String, String> {
    let state = format!("{:016x}", rand::random::<u64>());
    let body = json!({
        "client_id": t.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPE,
        "state": state,
        "consent_granted": true,
    });
    let req = json_request(t, "/api/idp/authorize", &body, true).map_err(|e| e.to_string())?;
    let r = send(sender, req)
        .await
        .map_err(|e| format!("transport: {e}"))?;
    if r.status != StatusCode::OK {
        return Err(format!("HTTP {}: {}", r.status.as_u16(), snippet(&r.body)));
    }
    let v: Value = serde_json::from_slice(&r.body)
        .map_err(|e| format!("authorize response is not JSON: {e}"))?;
    let uri = v
        .get("redirect_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no redirect_uri: {}", snippet(&r.body)))?;
    let url = url::Url::parse(uri).map_err(|e| format!("bad redirect_uri {uri}: {e}"))?;
    if !uri.starts_with(REDIRECT_URI) {
        return Err(format!("redirected to an unexpected place: {uri}"));
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = param("error") {
        return Err(format!(
            "authorize error {error}: {}",
            param("error_description").unwrap_or_default()
        ));
    }
    if param("state").as_deref() != Some(state.as_str()) {
        return Err(format!("state not echoed: {uri}"));
    }
    if param("iss").as_deref() != Some(t.issuer.as_str()) {
        return Err(format!("wrong or missing iss: {uri}"));
    }
    param("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("no code: {uri}"))
}

struct CodePrep {
    codes: Vec<String>,
    elapsed: Duration,
    errors: BTreeMap<String, usize>,
    hit_deadline: bool,
}

/// Prepares up to `count` authorization codes with `conc` connections,
/// stopping at `deadline` (so that the oldest code is still valid when the
/// measurement ends). Codes come back oldest first.
async fn prepare_codes(
    t: &Arc<Target>,
    count: usize,
    conc: usize,
    deadline: Duration,
) -> Result<CodePrep, BoxError> {
    let conc = conc.clamp(1, count.max(1));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(conc);
    for _ in 0..conc {
        let mut sender = connect(t.addr).await?;
        let t = Arc::clone(t);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut codes: Vec<(Instant, String)> = Vec::new();
            let mut errors: BTreeMap<String, usize> = BTreeMap::new();
            let mut hit_deadline = false;
            while next.fetch_add(1, Ordering::Relaxed) < count {
                if start.elapsed() >= deadline {
                    hit_deadline = true;
                    break;
                }
                let sent = Instant::now();
                match authorize(&t, &mut sender).await {
                    Ok(code) => codes.push((sent, code)),
                    Err(e) => {
                        *errors.entry(e).or_default() += 1;
                        if sender.is_closed() {
                            match connect(t.addr).await {
                                Ok(s) => sender = s,
                                Err(e) => {
                                    *errors.entry(format!("reconnect: {e}")).or_default() += 1;
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            (codes, errors, hit_deadline)
        }));
    }
    let mut all: Vec<(Instant, String)> = Vec::with_capacity(count);
    let mut errors = BTreeMap::new();
    let mut hit_deadline = false;
    for task in futures::future::join_all(tasks).await {
        let (codes, errs, hit) = task?;
        all.extend(codes);
        merge_errors(&mut errors, errs);
        hit_deadline |= hit;
    }
    all.sort_by_key(|(at, _)| *at);
    Ok(CodePrep {
        codes: all.into_iter().map(|(_, c)| c).collect(),
        elapsed: start.elapsed(),
        errors,
        hit_deadline,
    })
}

/// Exchanges one code outside any measurement; answers the token response.
async fn exchange_code(t: &Target, sender: &mut Sender, code: &str) -> Result<Value, BoxError> {
    let body = form_body(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ]);
    let r = send(sender, form_request(t, "/oauth2/token", body)?).await?;
    Ok(check_token(&r, true).map_err(|e| format!("code exchange: {e}"))?)
}

/// `n` fresh token responses from the code flow (for refresh chains and the
/// introspected token).
async fn token_responses(t: &Arc<Target>, n: usize) -> Result<Vec<Value>, BoxError> {
    let prep = prepare_codes(t, n, PREPARE_CONCURRENCY, CODE_TTL / 2).await?;
    if prep.codes.len() < n {
        return Err(format!(
            "could prepare only {} of {n} codes: {}",
            prep.codes.len(),
            format_errors(&prep.errors)
        )
        .into());
    }
    let mut sender = connect(t.addr).await?;
    let mut out = Vec::with_capacity(n);
    for code in &prep.codes {
        out.push(exchange_code(t, &mut sender, code).await?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    ClientCredentials,
    AuthorizationCode,
    Refresh,
    Introspection,
    Userinfo,
    Jwks,
    Discovery,
}

impl Operation {
    const ALL: [Operation; 7] = [
        Operation::ClientCredentials,
        Operation::AuthorizationCode,
        Operation::Refresh,
        Operation::Introspection,
        Operation::Userinfo,
        Operation::Jwks,
        Operation::Discovery,
    ];

    fn name(self) -> &'static str {
        match self {
            Operation::ClientCredentials => "client_credentials",
            Operation::AuthorizationCode => "authorization_code",
            Operation::Refresh => "refresh_token",
            Operation::Introspection => "introspection",
            Operation::Userinfo => "userinfo",
            Operation::Jwks => "jwks",
            Operation::Discovery => "discovery",
        }
    }
}

/// Codes shared by the exchange workers, oldest first.
struct CodePool {
    codes: Vec<String>,
    next: AtomicUsize,
}

impl CodePool {
    fn take(&self) -> Option<&str> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.codes.get(i).map(String::as_str)
    }
}

/// What one worker does in a loop.
enum Job {
    ClientCredentials,
    Exchange(Arc<CodePool>),
    /// The newest refresh token of this worker's chain.
    Refresh(String),
    Introspect(Arc<str>),
    /// `GET /oauth2/userinfo` with this access token.
    Userinfo(Arc<str>),
    /// A `GET` of this public document.
    Document(&'static str),
}

impl Job {
    /// The next request, or `None` once the code pool is empty.
    fn next(&self, t: &Target) -> Result<Option<Request<Full<Bytes>>>, BoxError> {
        let (path, body) = match self {
            Job::Userinfo(token) => return bearer_request(t, "/oauth2/userinfo", token).map(Some),
            Job::Document(path) => return get_request(t, path).map(Some),
            Job::ClientCredentials => (
                "/oauth2/token",
                form_body(&[("grant_type", "client_credentials")]),
            ),
            Job::Exchange(pool) => {
                let Some(code) = pool.take() else {
                    return Ok(None);
                };
                (
                    "/oauth2/token",
                    form_body(&[
                        ("grant_type", "authorization_code"),
                        ("code", code),
                        ("redirect_uri", REDIRECT_URI),
                    ]),
                )
            }
            Job::Refresh(token) => (
                "/oauth2/token",
                form_body(&[("grant_type", "refresh_token"), ("refresh_token", token)]),
            ),
            Job::Introspect(token) => ("/oauth2/introspect", form_body(&[("token", token)])),
        };
        Ok(Some(form_request(t, path, body)?))
    }

    fn check(&mut self, t: &Target, r: &Reply) -> Result<(), String> {
        match self {
            Job::ClientCredentials => check_token(r, false).map(drop),
            Job::Exchange(_) => check_token(r, true).map(drop),
            Job::Refresh(token) => {
                let v = check_token(r, true)?;
                if let Some(next) = v.get("refresh_token").and_then(Value::as_str) {
                    if next == token.as_str() {
                        return Err("refresh did not rotate the refresh token".to_owned());
                    }
                    *token = next.to_owned();
                }
                Ok(())
            }
            Job::Introspect(_) => check_introspection(r),
            Job::Userinfo(_) => check_json(r, |v| has_str(v, "sub")),
            Job::Document(path) => check_json(r, |v| match *path {
                JWKS_PATH => v
                    .get("keys")
                    .and_then(Value::as_array)
                    .is_some_and(|k| !k.is_empty()),
                _ => v.get("issuer").and_then(Value::as_str) == Some(t.issuer.as_str()),
            }),
        }
    }
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

#[derive(Default)]
struct WorkerStats {
    /// Latencies of the successful measured requests, nanoseconds.
    latencies: Vec<u64>,
    errors: BTreeMap<String, usize>,
    warmup_ok: usize,
    warmup_errors: BTreeMap<String, usize>,
    last_end: Option<Instant>,
    exhausted: bool,
    stopped: Option<String>,
}

async fn worker(t: Arc<Target>, mut sender: Sender, mut job: Job, win: Window) -> WorkerStats {
    let mut st = WorkerStats::default();
    loop {
        let start = Instant::now();
        if start >= win.end {
            break;
        }
        let req = match job.next(&t) {
            Ok(Some(req)) => req,
            Ok(None) => {
                st.exhausted = true;
                break;
            }
            Err(e) => {
                st.stopped = Some(format!("cannot build a request: {e}"));
                break;
            }
        };
        let (outcome, transport_failed) = match send(&mut sender, req).await {
            Ok(reply) => (job.check(&t, &reply), false),
            Err(e) => (Err(format!("transport: {e}")), true),
        };
        let end = Instant::now();
        let measured = start >= win.start;
        match outcome {
            Ok(()) if measured => {
                st.latencies
                    .push(u64::try_from((end - start).as_nanos()).unwrap_or(u64::MAX));
                st.last_end = Some(end);
            }
            Ok(()) => st.warmup_ok += 1,
            Err(msg) => {
                if measured {
                    *st.errors.entry(msg).or_default() += 1;
                    st.last_end = Some(end);
                } else {
                    *st.warmup_errors.entry(msg).or_default() += 1;
                }
                if matches!(job, Job::Refresh(_)) {
                    // The chain is dead (or in an unknown state): nothing
                    // more this worker can do.
                    st.stopped = Some("refresh chain broken after an error".to_owned());
                    break;
                }
                if transport_failed || sender.is_closed() {
                    match connect(t.addr).await {
                        Ok(s) => sender = s,
                        Err(e) => {
                            st.stopped = Some(format!("cannot reconnect: {e}"));
                            break;
                        }
                    }
                }
            }
        }
    }
    st
}

struct Row {
    op: Operation,
    conc: usize,
    requests: usize,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    /// The server's CPU time (user + system) over the measured window.
    cpu_seconds: Option<f64>,
}

impl Row {
    /// Requests answered (errors included) per second of the server's CPU
    /// time, over the measured window.
    fn per_cpu_second(&self) -> Option<f64> {
        let answered = (self.requests + self.errors) as f64;
        self.cpu_seconds.filter(|c| *c > 0.0).map(|c| answered / c)
    }
}

struct PhaseResult {
    row: Row,
    notes: Vec<String>,
    error_messages: BTreeMap<String, usize>,
}

fn percentile_ms(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = (q * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1e6
}

fn merge_errors(into: &mut BTreeMap<String, usize>, from: BTreeMap<String, usize>) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}

fn format_errors(errors: &BTreeMap<String, usize>) -> String {
    let mut s = String::new();
    for (msg, n) in errors {
        let _ = write!(s, "\n      {n} × {msg}");
    }
    s
}

async fn run_phase(
    t: &Arc<Target>,
    fleet: &Fleet,
    op: Operation,
    jobs: Vec<Job>,
    warmup: Duration,
    seconds: Duration,
) -> Result<PhaseResult, BoxError> {
    let conc = jobs.len();
    let mut senders = Vec::with_capacity(conc);
    for _ in 0..conc {
        senders.push(connect(t.addr).await?);
    }
    let t0 = Instant::now();
    let win = Window {
        start: t0 + warmup,
        end: t0 + warmup + seconds,
    };
    let tasks: Vec<_> = jobs
        .into_iter()
        .zip(senders)
        .map(|(job, sender)| tokio::spawn(worker(Arc::clone(t), sender, job, win)))
        .collect();
    // The servers' CPU time over the measured window, and the balancer's.
    let pids = fleet.pids();
    let balancer = fleet.balancer.as_ref().map(Server::pid);
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(win.start.into()).await;
        let before = cpu_seconds_of(&pids);
        let balancer_before = balancer.and_then(Server::cpu_seconds);
        tokio::time::sleep_until(win.end.into()).await;
        let servers = cpu_seconds_of(&pids).zip(before).map(|(a, b)| a - b);
        let balancer = balancer
            .and_then(Server::cpu_seconds)
            .zip(balancer_before)
            .map(|(a, b)| a - b);
        (servers, balancer)
    });
    let mut all = WorkerStats::default();
    let mut stopped: BTreeMap<String, usize> = BTreeMap::new();
    for task in futures::future::join_all(tasks).await {
        let st = task?;
        if let Some(reason) = &st.stopped {
            *stopped.entry(reason.clone()).or_default() += 1;
        }
        all.absorb(st);
    }
    all.latencies.sort_unstable();
    let (cpu_seconds, balancer_cpu) = cpu.await.unwrap_or_default();
    let mut result = phase_result(op, conc, all, &stopped, win, seconds);
    result.row.cpu_seconds = cpu_seconds;
    if let Some(b) = balancer_cpu {
        result
            .notes
            .push(format!("balancer: {b:.2} cpu_s (not in the row's cpu_s)"));
    }
    Ok(result)
}

impl WorkerStats {
    /// Adds another worker's figures to these.
    fn absorb(&mut self, st: WorkerStats) {
        self.latencies.extend(st.latencies);
        merge_errors(&mut self.errors, st.errors);
        merge_errors(&mut self.warmup_errors, st.warmup_errors);
        self.warmup_ok += st.warmup_ok;
        self.last_end = self.last_end.max(st.last_end);
        self.exhausted |= st.exhausted;
    }
}

/// The row and the notes of one phase, from every worker's figures (their
/// latencies sorted).
fn phase_result(
    op: Operation,
    conc: usize,
    all: WorkerStats,
    stopped: &BTreeMap<String, usize>,
    win: Window,
    seconds: Duration,
) -> PhaseResult {
    let error_count: usize = all.errors.values().sum();
    // Requests started inside the window; the window ends with the last of
    // them (or when the code pool ran out).
    let elapsed = match all.last_end {
        Some(end) if all.exhausted => end.saturating_duration_since(win.start),
        Some(end) => end.max(win.end).saturating_duration_since(win.start),
        None if all.exhausted => Duration::ZERO,
        None => seconds,
    };
    let rate = if elapsed.is_zero() {
        0.0
    } else {
        all.latencies.len() as f64 / elapsed.as_secs_f64()
    };
    let mut notes = Vec::new();
    if all.exhausted {
        notes.push(format!(
            "code pool ran out {:.2} s into the {:.2} s window; rate = exchanges / {:.2} s",
            elapsed.as_secs_f64(),
            seconds.as_secs_f64(),
            elapsed.as_secs_f64()
        ));
    }
    let warmup_error_count: usize = all.warmup_errors.values().sum();
    if warmup_error_count > 0 {
        notes.push(format!(
            "{warmup_error_count} errors during warm-up ({} ok):{}",
            all.warmup_ok,
            format_errors(&all.warmup_errors)
        ));
    }
    for (reason, n) in stopped {
        notes.push(format!("{n} of {conc} workers stopped early: {reason}"));
    }
    PhaseResult {
        row: Row {
            op,
            conc,
            requests: all.latencies.len(),
            rate,
            p50_ms: percentile_ms(&all.latencies, 0.50),
            p99_ms: percentile_ms(&all.latencies, 0.99),
            errors: error_count,
            cpu_seconds: None,
        },
        notes,
        error_messages: all.errors,
    }
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

async fn run(args: &Args, dir: &Path) -> Result<(), BoxError> {
    let database_url = match &args.postgres_url {
        Some(admin) => fresh_postgres_database(admin).await?,
        None => format!("sqlite://{}?mode=rwc", dir.join("keyhouse.db").display()),
    };
    eprintln!(
        "setup: database {}",
        database_url.split('?').next().unwrap_or_default()
    );
    let kh = Keyhouse {
        binary: std::fs::canonicalize(&args.server)?,
        database_url,
        key_file: dir.join("keyhouse.key"),
    };
    eprintln!("setup: temp dir {}", dir.display());
    let account = create_account_and_client(&kh, dir, args.id_token_alg.as_deref())?;
    let (mut fleet, addr) = start_fleet(&kh, dir, args).await?;
    let mut target = Target {
        addr,
        host: addr.to_string(),
        issuer: format!("http://{addr}"),
        basic: basic_auth(&account.client_id, &account.client_secret),
        client_id: account.client_id,
        cookie: String::new(),
    };
    wait_ready(&mut fleet, addr, &target).await?;
    target.cookie = login(&target, &account.email, &account.password).await?;
    let target = Arc::new(target);
    sanity_flow(&target).await?;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    eprintln!(
        "measuring {:.1} s per row after {:.1} s warm-up; {cores} CPUs shared by server and bench",
        args.seconds, args.warmup
    );
    let results = measure_all(args, &target, &mut fleet).await?;
    let rss = fleet.peak_rss_kib();
    drop(fleet);
    let database = if kh.database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let setup = match (args.instances, &args.id_token_alg) {
        (1, None) => database.to_owned(),
        (1, Some(alg)) => format!("{database}; ID tokens {alg}"),
        (n, alg) => format!(
            "{database}; {n} instances behind HAProxy{}",
            alg.as_ref()
                .map(|a| format!("; ID tokens {a}"))
                .unwrap_or_default()
        ),
    };
    print_report(&results, &setup);
    match rss {
        Ok(kib) => println!(
            "server peak RSS (largest instance): {} MiB",
            kib.div_ceil(1024)
        ),
        Err(e) => return Err(format!("server peak RSS unavailable: {e}").into()),
    }
    Ok(())
}

/// The user and the client the benchmark acts as.
struct Account {
    email: String,
    password: String,
    client_id: String,
    client_secret: String,
}

/// Creates them through the CLI, as an operator would.
fn create_account_and_client(
    kh: &Keyhouse,
    dir: &Path,
    id_token_alg: Option<&str>,
) -> Result<Account, BoxError> {
    let email = "bench@bench.example".to_owned();
    let password = format!("bench-{:016x}", rand::random::<u64>());
    let password_file = dir.join("password");
    std::fs::write(&password_file, &password)?;
    let password_path = password_file.display().to_string();
    kh.cli(&[
        "users",
        "create",
        "--email",
        &email,
        "--password-file",
        &password_path,
    ])?;
    // The client_credentials grant is asked for explicitly, and refresh
    // tokens without offline_access (the operator's `always` policy).
    let mut create = vec![
        "clients",
        "create",
        "--name",
        "keyhouse-bench",
        "--type",
        "third_party",
        "--redirect-uri",
        REDIRECT_URI,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--grant-type",
        "client_credentials",
        "--refresh-policy",
        "always",
        "--json",
    ];
    if let Some(alg) = id_token_alg {
        create.extend(["--id-token-alg", alg]);
    }
    let out = kh.cli(&create)?;
    let client = parse_cli_json(&out)?;
    Ok(Account {
        email,
        password,
        client_id: str_field(&client, "client_id")?,
        client_secret: str_field(&client, "client_secret")?,
    })
}

/// Creates an empty database on the PostgreSQL server of `admin` (a URL
/// whose database exists) and returns its URL.
async fn fresh_postgres_database(admin: &str) -> Result<String, BoxError> {
    use sea_orm::ConnectionTrait;
    let name = format!("kh_bench_{:x}", rand::random::<u32>());
    let store = keyhouse_store::Store::connect(admin).await?;
    store
        .connection()
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    let (base, _) = admin
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .ok_or("--postgres-url: postgres://USER@HOST:PORT/DATABASE")?;
    Ok(format!("{base}/{name}"))
}

/// Starts the servers and, with several, the balancer; answers where to
/// send requests. One server: on a free port, its output in `server.log`.
/// Several: `server-N.log` each, all with the balancer's address as issuer,
/// and the balancer's output in `balancer.log`, started once they are ready.
async fn start_fleet(
    kh: &Keyhouse,
    dir: &Path,
    args: &Args,
) -> Result<(Fleet, SocketAddr), BoxError> {
    let front = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    if args.instances == 1 {
        let server = start_server(kh, front, front, &dir.join("server.log"))?;
        let fleet = Fleet {
            servers: vec![server],
            balancer: None,
        };
        return Ok((fleet, front));
    }
    let mut fleet = Fleet {
        servers: Vec::new(),
        balancer: None,
    };
    let mut backends = Vec::new();
    for i in 1..=args.instances {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let log = dir.join(format!("server-{i}.log"));
        fleet.servers.push(start_server(kh, addr, front, &log)?);
        backends.push(addr);
    }
    let probe = Target {
        addr: front,
        host: front.to_string(),
        issuer: format!("http://{front}"),
        basic: String::new(),
        client_id: String::new(),
        cookie: String::new(),
    };
    for &addr in &backends {
        wait_ready(&mut fleet, addr, &probe).await?;
    }
    let log = File::create(dir.join("balancer.log"))?;
    let log_err = log.try_clone()?;
    let child = Command::new("bash")
        .arg(&args.balancer)
        .arg(front.to_string())
        .args(backends.iter().map(ToString::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.balancer.display()))?;
    let balancer = Server { child };
    eprintln!("setup: balancer pid {} on {front}", balancer.pid());
    fleet.balancer = Some(balancer);
    Ok((fleet, front))
}

/// Starts one server on `addr` with the issuer `http://{front}`, its
/// output in `log`.
fn start_server(
    kh: &Keyhouse,
    addr: SocketAddr,
    front: SocketAddr,
    log: &Path,
) -> Result<Server, BoxError> {
    let log = File::create(log)?;
    let log_err = log.try_clone()?;
    let mut command = kh.command();
    if addr != front {
        // Behind the balancer, the client's address is in X-Forwarded-For.
        command.env("KEYHOUSE_SERVER__TRUSTED_PROXIES", "127.0.0.1/32");
    }
    let child = command
        .args(["serve", "--bind", &addr.to_string()])
        .args(["--issuer", &format!("http://{front}")])
        // Its codes are prepared from one session, thousands a minute.
        .args(["--decisions-per-minute", "0"])
        .arg("--database-url")
        .arg(&kh.database_url)
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", kh.binary.display()))?;
    let server = Server { child };
    eprintln!("setup: server pid {} on {addr}", server.pid());
    Ok(server)
}

/// `Authorization: Basic` for a client (RFC 6749 §2.3.1: each part
/// form-encoded first).
fn basic_auth(client_id: &str, client_secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(client_secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// One full flow before measuring: it proves the setup works and records the
/// consent grant once, before concurrent authorize calls.
async fn sanity_flow(target: &Target) -> Result<(), BoxError> {
    let mut s = connect(target.addr).await?;
    let code = authorize(target, &mut s)
        .await
        .map_err(|e| format!("authorize: {e}"))?;
    let tokens = exchange_code(target, &mut s, &code).await?;
    let access = str_field(&tokens, "access_token")?;
    let body = form_body(&[("token", &access)]);
    let r = send(&mut s, form_request(target, "/oauth2/introspect", body)?).await?;
    check_introspection(&r).map_err(|e| format!("introspection: {e}"))?;
    let body = form_body(&[("grant_type", "client_credentials")]);
    let r = send(&mut s, form_request(target, "/oauth2/token", body)?).await?;
    check_token(&r, false).map_err(|e| format!("client_credentials: {e}"))?;
    Ok(())
}

/// Every operation at every concurrency, one phase each.
async fn measure_all(
    args: &Args,
    target: &Arc<Target>,
    fleet: &mut Fleet,
) -> Result<Vec<PhaseResult>, BoxError> {
    let warmup = Duration::from_secs_f64(args.warmup);
    let seconds = Duration::from_secs_f64(args.seconds);
    let mut results: Vec<PhaseResult> = Vec::new();
    let mut best_exchange_rate = 0.0_f64;
    let ops = if args.ops.is_empty() {
        Operation::ALL.to_vec()
    } else {
        args.ops.clone()
    };
    for op in ops {
        for &conc in &args.concurrency {
            let (jobs, mut notes) = jobs_for(args, target, op, conc, best_exchange_rate).await?;
            eprintln!("{} c={conc}: running", op.name());
            let mut result = run_phase(target, fleet, op, jobs, warmup, seconds).await?;
            if op == Operation::AuthorizationCode {
                best_exchange_rate = best_exchange_rate.max(result.row.rate);
                notes.push(format!(
                    "{} codes exchanged in the measured window",
                    result.row.requests + result.row.errors
                ));
            }
            notes.append(&mut result.notes);
            result.notes = notes;
            eprintln!(
                "{} c={conc}: {:.0} req/s, {} errors",
                op.name(),
                result.row.rate,
                result.row.errors
            );
            results.push(result);
            if let Some(status) = fleet.exited() {
                return Err(format!("during the benchmark, {status}").into());
            }
        }
    }
    Ok(results)
}

/// The workers' jobs for one phase, and notes on their preparation.
async fn jobs_for(
    args: &Args,
    target: &Arc<Target>,
    op: Operation,
    conc: usize,
    best_exchange_rate: f64,
) -> Result<(Vec<Job>, Vec<String>), BoxError> {
    Ok(match op {
        Operation::ClientCredentials => (
            (0..conc).map(|_| Job::ClientCredentials).collect(),
            Vec::new(),
        ),
        Operation::AuthorizationCode => {
            // Twice what the best rate so far would use, warm-up included.
            let wanted = (best_exchange_rate * (args.warmup + args.seconds) * 2.0).ceil() as usize;
            let count = args.codes.max(wanted);
            eprintln!("{} c={conc}: preparing {count} codes", op.name());
            exchange_jobs(args, target, conc, count).await?
        }
        Operation::Refresh => {
            eprintln!("{} c={conc}: preparing {conc} refresh chains", op.name());
            let mut jobs = Vec::with_capacity(conc);
            for v in token_responses(target, conc).await? {
                jobs.push(Job::Refresh(str_field(&v, "refresh_token")?));
            }
            (jobs, Vec::new())
        }
        Operation::Introspection | Operation::Userinfo => {
            let v = token_responses(target, 1).await?;
            let token: Arc<str> = match v.first() {
                Some(v) => str_field(v, "access_token")?.into(),
                None => return Err("no access token to use".into()),
            };
            let jobs = (0..conc)
                .map(|_| match op {
                    Operation::Userinfo => Job::Userinfo(Arc::clone(&token)),
                    _ => Job::Introspect(Arc::clone(&token)),
                })
                .collect();
            (jobs, Vec::new())
        }
        Operation::Jwks => (
            (0..conc).map(|_| Job::Document(JWKS_PATH)).collect(),
            Vec::new(),
        ),
        Operation::Discovery => (
            (0..conc).map(|_| Job::Document(DISCOVERY_PATH)).collect(),
            Vec::new(),
        ),
    })
}

/// A pool of `count` fresh codes shared by `conc` exchanging workers.
async fn exchange_jobs(
    args: &Args,
    target: &Arc<Target>,
    conc: usize,
    count: usize,
) -> Result<(Vec<Job>, Vec<String>), BoxError> {
    // Codes must outlive the preparation plus the measurement.
    let warmup = Duration::from_secs_f64(args.warmup);
    let seconds = Duration::from_secs_f64(args.seconds);
    let deadline = CODE_TTL - CODE_TTL_MARGIN - warmup - seconds;
    let prep = prepare_codes(target, count, PREPARE_CONCURRENCY, deadline).await?;
    let mut notes = vec![format!(
        "pool: {} codes prepared in {:.2} s ({:.0}/s, {PREPARE_CONCURRENCY} connections){}",
        prep.codes.len(),
        prep.elapsed.as_secs_f64(),
        prep.codes.len() as f64 / prep.elapsed.as_secs_f64().max(1e-9),
        if prep.hit_deadline {
            " (stopped early: code lifetime)"
        } else {
            ""
        }
    )];
    let prep_errors: usize = prep.errors.values().sum();
    if prep_errors > 0 {
        notes.push(format!(
            "{prep_errors} errors while preparing codes:{}",
            format_errors(&prep.errors)
        ));
    }
    if prep.codes.is_empty() {
        return Err(format!(
            "no authorization code could be prepared:{}",
            format_errors(&prep.errors)
        )
        .into());
    }
    let pool = Arc::new(CodePool {
        codes: prep.codes,
        next: AtomicUsize::new(0),
    });
    let jobs = (0..conc)
        .map(|_| Job::Exchange(Arc::clone(&pool)))
        .collect();
    Ok((jobs, notes))
}

fn print_report(results: &[PhaseResult], setup: &str) {
    println!();
    println!("database: {setup}");
    println!(
        "{:<20} {:>5} {:>9} {:>10} {:>9} {:>9} {:>7} {:>8} {:>11}",
        "operation",
        "conc",
        "requests",
        "req/s",
        "p50_ms",
        "p99_ms",
        "errors",
        "cpu_s",
        "req/cpu_s"
    );
    for r in results {
        let row = &r.row;
        let cpu = row
            .cpu_seconds
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
        let per_cpu = row
            .per_cpu_second()
            .map_or_else(|| "-".to_owned(), |n| format!("{n:.0}"));
        println!(
            "{:<20} {:>5} {:>9} {:>10.1} {:>9.3} {:>9.3} {:>7} {:>8} {:>11}",
            row.op.name(),
            row.conc,
            row.requests,
            row.rate,
            row.p50_ms,
            row.p99_ms,
            row.errors,
            cpu,
            per_cpu
        );
    }
    println!();
    println!("requests, req/s and latencies count successful responses; errors are counted apart");
    println!(
        "cpu_s: the server's user + system CPU time in the measured window (all instances' together); \
         req/cpu_s: requests answered in it per server CPU-second (what a request costs, whatever the \
         load generator takes)"
    );
    let total_errors: usize = results.iter().map(|r| r.row.errors).sum();
    if total_errors > 0 {
        println!("ERRORS: {total_errors} failed requests in the measured windows");
    }
    for r in results {
        if r.notes.is_empty() && r.error_messages.is_empty() {
            continue;
        }
        println!("{} c={}:", r.row.op.name(), r.row.conc);
        for n in &r.notes {
            println!("    {n}");
        }
        if !r.error_messages.is_empty() {
            println!("    errors:{}", format_errors(&r.error_messages));
        }
    }
}
