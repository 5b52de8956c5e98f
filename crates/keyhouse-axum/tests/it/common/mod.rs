//! The harness every backend test uses: a real server on 127.0.0.1:0 over a
//! fresh database (a SQLite file, or a new PostgreSQL database when
//! `KEYHOUSE_TEST_DB=postgres` and `KEYHOUSE_TEST_PG_URL` are set).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod authenticator;
pub mod smtp;
pub mod tls;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhouse_axum::{ClientSpec, CreatedClient};
use keyhouse_axum::{Config, Keyhouse, MasterKey};
use keyhouse_core::ClientType;
use keyhouse_core::clock::FixedClock;
use keyhouse_core::resource::ProtectedResource;
use keyhouse_store::Store;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT: &str = "https://client.example/callback";
/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct TestServer {
    pub base: String,
    pub kh: Keyhouse,
    pub clock: Option<FixedClock>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    dir: Option<PathBuf>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn unique(prefix: &str) -> String {
    let n: u64 = rand::random();
    format!("{prefix}{}_{n:x}", std::process::id())
}

/// A fresh database URL for one test.
pub async fn fresh_database() -> (String, Option<PathBuf>) {
    if std::env::var("KEYHOUSE_TEST_DB").as_deref() == Ok("postgres") {
        let admin = std::env::var("KEYHOUSE_TEST_PG_URL").expect("KEYHOUSE_TEST_PG_URL");
        let name = unique("kh_");
        let store = Store::connect(&admin).await.expect("connect to postgres");
        sea_orm::ConnectionTrait::execute_unprepared(
            store.connection(),
            &format!("CREATE DATABASE {name}"),
        )
        .await
        .expect("create database");
        store.close().await.expect("close");
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or(admin);
        (format!("{base}/{name}"), None)
    } else {
        let dir = std::env::temp_dir().join(unique("keyhouse-test-"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.join("keyhouse.db").display());
        (url, Some(dir))
    }
}

pub async fn spawn() -> TestServer {
    spawn_with(|_| {}, false).await
}

/// Starts a server; `configure` adjusts the config, `frozen` gives it a
/// clock the test moves by hand.
pub async fn spawn_with(configure: impl FnOnce(&mut Config), frozen: bool) -> TestServer {
    let (url, dir) = fresh_database().await;
    let mut s = start(
        &url,
        MasterKey::from_bytes(rand::random()),
        configure,
        frozen,
        |kh| kh,
    )
    .await;
    s.dir = dir;
    s
}

/// Starts a server for an app that keeps its own users: `resolver` says
/// who is signed in.
pub async fn spawn_keeping(resolver: impl keyhouse_axum::SubjectResolver) -> TestServer {
    let (url, dir) = fresh_database().await;
    let master = MasterKey::from_bytes(rand::random());
    let mut s = start(&url, master, |_| {}, true, |kh| kh.with_subjects(resolver)).await;
    s.dir = dir;
    s
}

/// Starts a server on an existing database (the caller owns its cleanup).
pub async fn spawn_on(url: &str, master: MasterKey) -> TestServer {
    start(url, master, |_| {}, false, |kh| kh).await
}

async fn start(
    url: &str,
    master: MasterKey,
    configure: impl FnOnce(&mut Config),
    frozen: bool,
    adopt: impl FnOnce(Keyhouse) -> Keyhouse,
) -> TestServer {
    let dir = None;
    let store = Store::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = Config::for_issuer(&base);
    config.scopes = config
        .scopes
        .clone()
        .with_scope("notes:read", "Read your notes")
        .with_scope("notes:write", "Create and delete your notes")
        .with_machine_scope("reports:read", "Read usage reports");
    config.resources = vec![
        ProtectedResource::new("https://api.example/", "Example API").unwrap(),
        ProtectedResource::new(&format!("{base}/mcp"), "Test MCP server")
            .unwrap()
            .with_scopes(&["notes:read", "notes:write"])
            .with_default_scopes(&["notes:read"]),
    ];
    // Mail stays out of the working tree: an outbox of its own unless the
    // test points it at an SMTP server.
    config.mail.transport =
        keyhouse_axum::MailTransport::Outbox(std::env::temp_dir().join(unique("keyhouse-outbox-")));
    configure(&mut config);
    let clock = frozen.then(|| FixedClock::new(1_800_000_000));
    let kh = match &clock {
        Some(c) => Keyhouse::with_clock(config, store, master, Arc::new(c.clone())).await,
        None => Keyhouse::new(config, store, master).await,
    }
    .expect("keyhouse");
    let kh = adopt(kh);
    let app = axum::Router::new()
        .merge(kh.router())
        .merge(protected_routes(&kh));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = keyhouse_axum::serve(listener, app, async {
            let _ = rx.await;
        })
        .await;
    });
    TestServer {
        base,
        kh,
        clock,
        shutdown: Some(tx),
        dir,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client of type `t`. Third-party confidential ones are set to
    /// receive refresh tokens without `offline_access` (the operator's
    /// per-client `always` policy, what a custom GPT is usually given), so
    /// the refresh tests need not ask for it; `client_default` has the
    /// registration defaults.
    pub async fn client(&self, t: ClientType) -> CreatedClient {
        let mut spec = ClientSpec::new("Test GPT", t, vec![REDIRECT.to_owned()]);
        if t == ClientType::ThirdParty {
            spec.refresh_policy = Some(keyhouse_core::client::RefreshPolicy::Always);
        }
        self.client_with(spec).await
    }

    /// A client of type `t` with every registration default.
    pub async fn client_default(&self, t: ClientType) -> CreatedClient {
        self.client_with(ClientSpec::new("Test GPT", t, vec![REDIRECT.to_owned()]))
            .await
    }

    /// A confidential client of type `t` that may also use
    /// `client_credentials` (and introspect others' tokens when
    /// `resource_server`).
    pub async fn machine_client(&self, t: ClientType, resource_server: bool) -> CreatedClient {
        let mut spec = ClientSpec::new("Test service", t, vec![REDIRECT.to_owned()]);
        spec.grant_types = Some(
            ["authorization_code", "refresh_token", "client_credentials"]
                .map(str::to_owned)
                .to_vec(),
        );
        spec.resource_server = resource_server;
        if t == ClientType::ThirdParty {
            spec.refresh_policy = Some(keyhouse_core::client::RefreshPolicy::Always);
        }
        self.client_with(spec).await
    }

    pub async fn client_with(&self, spec: ClientSpec) -> CreatedClient {
        self.kh.create_client(spec).await.expect("create client")
    }

    pub async fn user(&self, email: &str) -> keyhouse_store::User {
        self.kh
            .create_user(email, PASSWORD, "Ada Lovelace")
            .await
            .expect("create user")
    }

    /// The stored user with `email`, if any.
    pub async fn find_user(&self, email: &str) -> Option<keyhouse_store::User> {
        self.kh
            .store()
            .find_user_by_email(email)
            .await
            .expect("find user")
    }

    /// A browser-like HTTP client with a cookie jar, signed in as `email`.
    pub async fn signed_in(&self, email: &str) -> reqwest::Client {
        let b = browser();
        let res = b
            .post(self.url("/api/session/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), 200, "login failed");
        b
    }

    /// Posts the authorize decision and returns the redirect URI.
    pub async fn authorize(
        &self,
        b: &reqwest::Client,
        params: &[(&str, &str)],
        consent: bool,
    ) -> reqwest::Response {
        let mut body: BTreeMap<String, Value> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        body.insert("consent_granted".into(), Value::Bool(consent));
        b.post(self.url("/api/idp/authorize"))
            .json(&body)
            .send()
            .await
            .expect("authorize")
    }

    pub async fn start(&self, b: &reqwest::Client, params: &[(&str, &str)]) -> reqwest::Response {
        let body: BTreeMap<String, Value> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        b.post(self.url("/api/idp/authorize/start"))
            .json(&body)
            .send()
            .await
            .expect("start")
    }

    /// Runs the authorize decision and returns the query of the redirect.
    pub async fn code_for(
        &self,
        b: &reqwest::Client,
        params: &[(&str, &str)],
    ) -> BTreeMap<String, String> {
        let res = self.authorize(b, params, true).await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.expect("json");
        query_of(v["redirect_uri"].as_str().expect("redirect_uri"))
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url("/oauth2/token"))
            .form(form)
            .send()
            .await
            .expect("token")
    }
}

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
        .expect("client")
}

pub fn query_of(url: &str) -> BTreeMap<String, String> {
    let u = url::Url::parse(url).expect("url");
    u.query_pairs().into_owned().collect()
}

/// The standard authorize parameters for `client_id`.
pub fn params(client_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email notes:read"),
        ("state", "st-123"),
        ("nonce", "n-456"),
    ]
}

/// `base` with some values replaced or added.
pub fn with<'a>(
    base: &[(&'a str, &'a str)],
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let changes: Vec<_> = changes.iter().map(|&(k, v)| (k, Some(v))).collect();
    with_or_without(base, &changes)
}

/// `base` with some values replaced, added (or, with `None`, removed).
pub fn with_or_without<'a>(
    base: &[(&'a str, &'a str)],
    changes: &[(&'a str, Option<&'a str>)],
) -> Vec<(&'a str, &'a str)> {
    let mut out = base.to_vec();
    for (k, v) in changes {
        out.retain(|(bk, _)| bk != k);
        if let Some(v) = v {
            out.push((k, v));
        }
    }
    out
}

/// Decodes one part of a JWT (no verification; the server's job).
fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The decoded header of a JWT.
pub fn header(jwt: &str) -> Value {
    jwt_part(jwt, 0)
}

/// The decoded payload of a JWT.
pub fn claims(jwt: &str) -> Value {
    jwt_part(jwt, 1)
}

/// The value of a response header as text; the header must be there.
pub fn header_str(res: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> String {
    res.headers()
        .get(name)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// GETs `url` and returns its JSON body.
pub async fn get_json(url: impl reqwest::IntoUrl) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// The JSON body of a response that must be a 200.
pub async fn ok_json(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// `form` followed by the client's credentials in the body: `client_id`, and
/// `client_secret` for a confidential client (client_secret_post; `none` for
/// a public one).
pub fn with_client<'a>(
    c: &'a CreatedClient,
    form: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut out = form.to_vec();
    out.push(("client_id", c.client.id.as_str()));
    if let Some(secret) = c.client_secret.as_deref() {
        out.push(("client_secret", secret));
    }
    out
}

/// A code for `client_id` with the standard parameters plus `extra`.
pub async fn code(
    s: &TestServer,
    b: &reqwest::Client,
    client_id: &str,
    extra: &[(&str, &str)],
) -> String {
    let q = s.code_for(b, &with(&params(client_id), extra)).await;
    q.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code: {q:?}"))
}

/// The token request that exchanges `code` (issued for `REDIRECT`) as `c`.
pub fn code_form<'a>(c: &'a CreatedClient, code: &'a str) -> Vec<(&'a str, &'a str)> {
    with_client(
        c,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
}

/// Exchanges `code` as `c`.
pub async fn exchange(s: &TestServer, c: &CreatedClient, code: &str) -> reqwest::Response {
    s.token(&code_form(c, code)).await
}

/// Exchanges `code` as `c`, with some parameters replaced or added.
pub async fn exchange_with(
    s: &TestServer,
    c: &CreatedClient,
    code: &str,
    changes: &[(&str, &str)],
) -> reqwest::Response {
    s.token(&with(&code_form(c, code), changes)).await
}

/// Runs the whole code flow for a confidential client and returns the token
/// response.
pub async fn tokens(
    s: &TestServer,
    b: &reqwest::Client,
    c: &CreatedClient,
    extra: &[(&str, &str)],
) -> Value {
    let code = code(s, b, &c.client.id, extra).await;
    ok_json(exchange(s, c, &code).await).await
}

/// Refreshes `token` as `c`, asking for `scope` if given.
pub async fn refresh(
    s: &TestServer,
    c: &CreatedClient,
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = with_client(
        c,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    );
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    s.token(&form).await
}

/// A client_credentials request by `c`, with `extra` parameters.
pub async fn client_credentials(
    s: &TestServer,
    c: &CreatedClient,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = with_client(c, &[("grant_type", "client_credentials")]);
    form.extend_from_slice(extra);
    s.token(&form).await
}

/// Introspects `token`, asked by `c` (client_secret_basic); the answer must
/// be a 200.
pub async fn introspect(s: &TestServer, c: &CreatedClient, token: &str) -> Value {
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/introspect"))
        .basic_auth(&c.client.id, c.client_secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    ok_json(res).await
}

/// Whether a token introspects active, asked by `c`.
pub async fn active(s: &TestServer, c: &CreatedClient, token: &str) -> bool {
    introspect(s, c, token).await["active"].as_bool().unwrap()
}

/// `GET /oauth2/userinfo` with `token` as the bearer token.
pub async fn userinfo(s: &TestServer, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(s.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Routes of a resource server in front of the tests: `/test/api` takes
/// tokens for the default audience, `/test/mcp/read` and `/test/mcp/write`
/// only tokens bound to the `{base}/mcp` resource (the write route needs
/// notes:read and notes:write), `/test/org` a member (session or token,
/// `MemberCaller`).
fn protected_routes(kh: &Keyhouse) -> axum::Router {
    use axum::routing::get;
    use keyhouse_axum::AccessToken;
    use keyhouse_axum::error::BearerError;
    async fn whoami(t: AccessToken) -> Result<axum::Json<Value>, BearerError> {
        t.require_scope("notes:read")?;
        Ok(axum::Json(
            json!({ "sub": t.claims.sub, "aud": t.claims.aud }),
        ))
    }
    async fn write(t: AccessToken) -> Result<axum::Json<Value>, BearerError> {
        t.require_scopes(&["notes:read", "notes:write"])?;
        Ok(axum::Json(json!({ "written": true })))
    }
    let mcp = format!("{}/mcp", kh.config().issuer);
    let bound = axum::Router::new()
        .route("/test/mcp/read", get(whoami))
        .route("/test/mcp/write", get(write));
    let bound = match kh.resource_layer(&mcp) {
        Some(layer) => bound.route_layer(layer),
        None => bound,
    };
    async fn member(m: keyhouse_axum::MemberCaller) -> axum::Json<Value> {
        axum::Json(json!({ "member_id": m.member_id(), "organization_id": m.organization_id() }))
    }
    axum::Router::new()
        .route("/test/api", get(whoami))
        .route("/test/org", get(member))
        .merge(bound)
        .with_state(kh.clone())
}

/// An error answer's status and `error` code.
pub async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("json");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `GET /api/session`'s status for browser `b`: 200 signed in, 401 not.
pub async fn signed_in_status(b: &reqwest::Client, s: &TestServer) -> u16 {
    b.get(s.url("/api/session"))
        .send()
        .await
        .expect("session")
        .status()
        .as_u16()
}

/// Posts `body` as JSON to `path` with browser (or client) `b`.
pub async fn post(
    b: &reqwest::Client,
    s: &TestServer,
    path: &str,
    body: Value,
) -> reqwest::Response {
    b.post(s.url(path)).json(&body).send().await.expect("post")
}

/// A browser signed in to organization `slug` as the member `email` (with
/// the common password).
pub async fn signed_in_to(s: &TestServer, slug: &str, email: &str) -> reqwest::Client {
    let b = browser();
    let res = post(
        &b,
        s,
        "/api/b2b/session/login",
        json!({"organization_slug": slug, "email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200, "{email} signs in to {slug}");
    b
}

/// A code for the member signed in on `b`, granted to `c` with the
/// request's `extra` parameters (consent given).
pub async fn member_code(
    s: &TestServer,
    b: &reqwest::Client,
    c: &CreatedClient,
    extra: &[(&str, &str)],
) -> String {
    let p = with(
        &with(&params(&c.client.id), &[("scope", "openid email")]),
        extra,
    );
    let mut body: BTreeMap<String, Value> = p
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    body.insert("consent_granted".into(), Value::Bool(true));
    let res = post(
        b,
        s,
        "/api/b2b/idp/authorize",
        serde_json::to_value(body).expect("json"),
    )
    .await;
    let status = res.status();
    let v: Value = res.json().await.expect("json");
    assert_eq!(status, 200, "{v}");
    query_of(v["redirect_uri"].as_str().expect("redirect_uri"))["code"].clone()
}
