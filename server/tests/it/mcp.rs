//! The example app's MCP server (`/mcp`) through the real `keyhouse serve`
//! binary, spoken to in raw streamable HTTP: discovery from the 401, tokens
//! bound to the MCP resource only, tools with their scopes, and the 403
//! that lets a client step up. The official SDK clients drive the same
//! server in e2e/specs/11-mcp-agents.spec.mjs.

use crate::common;

use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

use common::{Agent, Side, signed_up};

fn register(env: &common::Env) -> Agent {
    common::register_agent(env, "Agent", REDIRECT, &["--refresh-policy", "always"])
}

/// An access token for `scope`, bound to `resource` when given.
async fn token(
    base: &str,
    browser: &reqwest::Client,
    agent: &Agent,
    scope: &str,
    resource: Option<&str>,
) -> String {
    let t = common::code_flow(base, browser, Side::Users, agent, REDIRECT, scope, resource).await;
    t["access_token"].as_str().expect("access_token").to_owned()
}

/// One MCP session over streamable HTTP.
struct Session {
    base: String,
    token: String,
    id: Option<String>,
    next: u64,
}

impl Session {
    fn new(base: &str, token: &str) -> Session {
        Session {
            base: base.to_owned(),
            token: token.to_owned(),
            id: None,
            next: 1,
        }
    }

    async fn post(&mut self, body: &Value) -> reqwest::Response {
        let mut req = reqwest::Client::new()
            .post(format!("{}/mcp", self.base))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .bearer_auth(&self.token)
            .json(body);
        if let Some(id) = &self.id {
            req = req.header("mcp-session-id", id);
        }
        req.send().await.expect("mcp request")
    }

    /// A request; the JSON-RPC answer (from JSON or from the SSE stream).
    async fn call(&mut self, method: &str, params: Value) -> Result<Value, reqwest::Response> {
        let id = self.next;
        self.next += 1;
        let res = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        if res.status() != StatusCode::OK {
            return Err(res);
        }
        if let Some(s) = res.headers().get("mcp-session-id") {
            self.id = Some(s.to_str().expect("ascii").to_owned());
        }
        let text = res.text().await.expect("body");
        let answer = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .chain(serde_json::from_str::<Value>(&text).ok())
            .find(|v| v["id"] == json!(id))
            .unwrap_or_else(|| panic!("no answer to {method} in {text}"));
        Ok(answer)
    }

    async fn open(&mut self) {
        let init = self
            .call(
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "1"},
                }),
            )
            .await
            .unwrap_or_else(|r| panic!("initialize: {}", r.status()));
        assert_eq!(init["result"]["serverInfo"]["name"], "keyhouse-notes");
        let res = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }

    async fn tool(&mut self, name: &str, arguments: Value) -> Result<Value, reqwest::Response> {
        let v = self
            .call("tools/call", json!({"name": name, "arguments": arguments}))
            .await?;
        Ok(v["result"].clone())
    }
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn challenge(res: &reqwest::Response) -> String {
    res.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_agent_discovers_the_server_and_calls_its_tools_within_its_scopes() {
    let env = common::env().await;
    let agent = register(&env);
    let (_server, base) = env.serve().await;
    let mcp = format!("{base}/mcp");

    // Discovery starts from the server URL alone.
    let res = reqwest::Client::new()
        .post(&mcp)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
    assert!(
        challenge(&res).contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{}",
        challenge(&res)
    );
    // The scope to start with: the resource's default (read-only).
    assert!(
        challenge(&res).contains("scope=\"notes:read\""),
        "{}",
        challenge(&res)
    );
    let prm: Value = reqwest::get(&metadata_url)
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(prm["resource"], mcp.as_str());
    assert_eq!(prm["authorization_servers"], json!([base]));
    assert_eq!(
        prm["scopes_supported"],
        json!(["notes:read", "notes:write"])
    );

    let alice = signed_up(&env, &base, "alice@example.test").await;
    let rw = token(&base, &alice, &agent, "notes:read notes:write", Some(&mcp)).await;
    let mut s = Session::new(&base, &rw);
    s.open().await;
    let tools = s.call("tools/list", json!({})).await.expect("tools/list");
    let mut names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["create_note", "delete_note", "list_notes", "read_note"]
    );
    let created = s
        .tool(
            "create_note",
            json!({"title": "From an agent", "body": "hi"}),
        )
        .await
        .expect("create");
    assert_ne!(created["isError"], json!(true), "{created}");
    let note: Value = serde_json::from_str(&text_of(&created)).expect("note json");
    let id = note["id"].as_str().expect("id").to_owned();
    let listed = s.tool("list_notes", json!({})).await.expect("list");
    assert!(text_of(&listed).contains(&id));
    // The same note through the app's own API, with the user's session.
    let mine = alice
        .get(format!("{base}/api/notes/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(mine.status(), StatusCode::OK);

    // A read-only token: reading works, writing is a 403 naming every
    // scope to ask for, so the client can step up without losing any.
    let ro = token(&base, &alice, &agent, "notes:read", Some(&mcp)).await;
    let mut s = Session::new(&base, &ro);
    s.open().await;
    let read = s.tool("read_note", json!({"id": id})).await.expect("read");
    assert!(text_of(&read).contains("From an agent"));
    let Err(res) = s.tool("delete_note", json!({"id": id})).await else {
        panic!("a read-only token deleted a note");
    };
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let c = challenge(&res);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("scope=\"notes:read notes:write\""), "{c}");
    assert!(
        c.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{c}"
    );
}

#[tokio::test]
async fn tokens_for_the_api_and_for_the_mcp_server_are_not_interchangeable() {
    let env = common::env().await;
    let agent = register(&env);
    let (_server, base) = env.serve().await;
    let alice = signed_up(&env, &base, "alice@example.test").await;
    let mcp = format!("{base}/mcp");
    let api = format!("{base}/api");
    let for_mcp = token(&base, &alice, &agent, "notes:read", Some(&mcp)).await;
    let for_api = token(&base, &alice, &agent, "notes:read", Some(&api)).await;
    let unbound = token(&base, &alice, &agent, "notes:read", None).await;
    let http = reqwest::Client::new();
    let notes = |t: &str| http.get(format!("{base}/api/notes")).bearer_auth(t).send();
    assert_eq!(notes(&for_api).await.expect("get").status(), StatusCode::OK);
    assert_eq!(notes(&unbound).await.expect("get").status(), StatusCode::OK);
    let res = notes(&for_mcp).await.expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).contains(&format!(
        "resource_metadata=\"{base}/.well-known/oauth-protected-resource/api\""
    )));
    for t in [&for_api, &unbound] {
        let mut s = Session::new(&base, t);
        let Err(res) = s.call("initialize", json!({})).await else {
            panic!("the MCP server took a token for another resource");
        };
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let mut s = Session::new(&base, &for_mcp);
    s.open().await;
}

/// How many SQL statements one `tools/call` round trip costs on the real
/// server (every statement is logged at TRACE): the token check and the
/// tool's own query, nothing per session or per tool lookup. The bound
/// fails the test if a change adds statements to this path.
#[tokio::test]
async fn a_tools_call_costs_a_handful_of_statements() {
    let env = common::env().await;
    let agent = register(&env);
    let log = env_log_path();
    let (_server, base) = env.serve_counting_statements(&log).await;
    let alice = signed_up(&env, &base, "alice@example.test").await;
    let mcp = format!("{base}/mcp");
    let rw = token(&base, &alice, &agent, "notes:read notes:write", Some(&mcp)).await;
    let mut s = Session::new(&base, &rw);
    s.open().await;
    s.tool("list_notes", json!({})).await.expect("warm-up");
    let statements = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("keyhouse_store::sql"))
            .count()
    };
    let mut counts = Vec::new();
    for tool in ["list_notes", "create_note"] {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let before = statements();
        let args = if tool == "create_note" {
            json!({"title": "counted"})
        } else {
            json!({})
        };
        let r = s.tool(tool, args).await.expect("tools/call");
        assert_ne!(r["isError"], json!(true), "{r}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        counts.push((tool, statements() - before));
    }
    println!("SQL statements per tools/call round trip: {counts:?}");
    for (tool, n) in counts {
        assert!((1..=4).contains(&n), "{tool}: {n} statements");
    }
}

fn env_log_path() -> std::path::PathBuf {
    let n: u64 = rand::random();
    std::env::temp_dir().join(format!("keyhouse-sql-{}-{n:x}.log", std::process::id()))
}

/// Signs `email` in to the organization `slug` (discovery, then select).
async fn member_session(base: &str, email: &str, password: &str, slug: &str) -> reqwest::Client {
    let http = common::browser();
    let found: Value = http
        .post(format!("{base}/api/b2b/discovery"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let res = http
        .post(format!("{base}/api/b2b/discovery/select"))
        .json(&json!({"discovery_token": found["discovery_token"], "organization_slug": slug}))
        .send()
        .await
        .expect("select");
    assert_eq!(res.status(), StatusCode::OK);
    http
}

#[tokio::test]
async fn members_use_the_organizations_notes_within_their_roles() {
    let env = common::env().await;
    let agent = register(&env);
    let password = "correct horse battery staple";
    env.ok(&["orgs", "create", "--name", "Acme Inc", "--slug", "acme"]);
    for (email, role) in [("boss@example.test", "admin"), ("m@example.test", "member")] {
        env.ok(&[
            "members",
            "create",
            "--org",
            "acme",
            "--email",
            email,
            "--password-file",
            &common::secret_file(password),
            "--role",
            role,
        ]);
    }
    let (_server, base) = env.serve().await;
    let mcp = format!("{base}/mcp");
    let member_token = |http: reqwest::Client| {
        let (base, mcp, agent) = (base.clone(), mcp.clone(), &agent);
        async move {
            let res = http
                .post(format!("{base}/api/b2b/idp/authorize"))
                .json(&json!({
                    "consent_granted": true, "response_type": "code",
                    "client_id": agent.client_id, "redirect_uri": REDIRECT,
                    "scope": "notes:read notes:write", "state": "s", "resource": mcp,
                }))
                .send()
                .await
                .expect("authorize");
            assert_eq!(res.status(), StatusCode::OK);
            let code = common::code_of(&res.json().await.expect("json"));
            let t = common::exchange(
                &base,
                &code,
                REDIRECT,
                &agent.client_id,
                &agent.client_secret,
            )
            .await;
            (
                t["access_token"].as_str().expect("token").to_owned(),
                t["scope"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    // The admin writes the organization's notes through MCP.
    let (boss, scope) =
        member_token(member_session(&base, "boss@example.test", password, "acme").await).await;
    assert_eq!(scope, "notes:read notes:write");
    let mut s = Session::new(&base, &boss);
    s.open().await;
    let created = s
        .tool("create_note", json!({"title": "Acme roadmap"}))
        .await
        .expect("create");
    assert_ne!(created["isError"], json!(true), "{created}");
    // A plain member cannot grant notes:write (the role lacks delete), so
    // reads the organization's note and is refused a write.
    let (m, scope) =
        member_token(member_session(&base, "m@example.test", password, "acme").await).await;
    assert_eq!(scope, "notes:read");
    let mut s = Session::new(&base, &m);
    s.open().await;
    let listed = s.tool("list_notes", json!({})).await.expect("list");
    assert!(text_of(&listed).contains("Acme roadmap"), "{listed}");
    let Err(res) = s.tool("create_note", json!({"title": "x"})).await else {
        panic!("a member without notes:write created a note");
    };
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Nothing of the organization reaches a user's own notes.
    let alice = signed_up(&env, &base, "alice@example.test").await;
    let own = token(&base, &alice, &agent, "notes:read", Some(&mcp)).await;
    let mut s = Session::new(&base, &own);
    s.open().await;
    let mine = s.tool("list_notes", json!({})).await.expect("list");
    assert!(!text_of(&mine).contains("Acme roadmap"), "{mine}");
}
