//! The app's API for agents (`/api/notes`), its OpenAPI document, the app's
//! server functions and the static app with its security headers, through
//! the real `keyhouse serve` binary.

use crate::common;

use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

use common::{Agent, Side, signed_up as user};

fn register(env: &common::Env) -> Agent {
    // A GPT given refresh tokens without offline_access by its operator,
    // and (for the check that the API refuses such tokens) allowed the
    // client_credentials grant.
    common::register_agent(
        env,
        "Notes GPT",
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
    )
}

/// The code flow through the JSON authorize API: an access token for the
/// signed-in `browser` with `scope`.
async fn token(base: &str, browser: &reqwest::Client, agent: &Agent, scope: &str) -> Value {
    common::code_flow(base, browser, Side::Users, agent, REDIRECT, scope, None).await
}

/// Sends `req` with `token`'s access token.
async fn send(req: reqwest::RequestBuilder, token: &Value) -> reqwest::Response {
    req.header("authorization", bearer(token))
        .send()
        .await
        .expect("request")
}

fn bearer(v: &Value) -> String {
    format!(
        "Bearer {}",
        v["access_token"].as_str().expect("access_token")
    )
}

#[tokio::test]
async fn an_agent_reads_and_writes_notes_within_its_scopes() {
    let env = common::env().await;
    let agent = register(&env);
    let (_server, base) = env.serve().await;
    let http = reqwest::Client::new();
    let alice = user(&env, &base, "alice@example.test").await;

    let rw = token(&base, &alice, &agent, "openid notes:read notes:write").await;
    let res = send(
        http.post(format!("{base}/api/notes"))
            .json(&json!({"title": "  Groceries ", "body": "eggs"})),
        &rw,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let note: Value = res.json().await.expect("json");
    assert_eq!(note["title"], "Groceries", "the title is trimmed");
    let id = note["id"].as_str().expect("id").to_owned();

    let list: Value = send(http.get(format!("{base}/api/notes")), &rw)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], id.as_str());

    // The session cookie works too (the app's own pages).
    let mine: Value = alice
        .get(format!("{base}/api/notes/{id}"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(mine["body"], "eggs");

    // Read-only token: 403 insufficient_scope naming notes:write; nothing written.
    let ro = token(&base, &alice, &agent, "openid notes:read").await;
    let res = send(
        http.post(format!("{base}/api/notes"))
            .json(&json!({"title": "nope"})),
        &ro,
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"notes:write\""),
        "{challenge}"
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "insufficient_scope");
    let res = send(http.delete(format!("{base}/api/notes/{id}")), &ro).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Bad bodies get a 400 JSON error.
    for body in [
        json!({"title": ""}),
        json!({"title": "x".repeat(201)}),
        json!({"body": "no title"}),
    ] {
        let res = send(http.post(format!("{base}/api/notes")).json(&body), &rw).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let e: Value = res.json().await.expect("json");
        assert_eq!(e["error"], "invalid_request");
    }

    let res = send(http.delete(format!("{base}/api/notes/{id}")), &rw).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = send(http.get(format!("{base}/api/notes/{id}")), &rw).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn credentials_are_checked_and_users_are_kept_apart() {
    let env = common::env().await;
    let agent = register(&env);
    let (_server, base) = env.serve().await;
    let http = reqwest::Client::new();

    // No credentials: 401 with a bare Bearer challenge (RFC 6750 §3.1).
    let res = http
        .get(format!("{base}/api/notes"))
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Bearer")
    );
    // A forged token.
    let res = http
        .get(format!("{base}/api/notes"))
        .header("authorization", "Bearer eyJhbGciOiJub25lIn0.e30.")
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );

    let alice = user(&env, &base, "alice@example.test").await;
    let bob = user(&env, &base, "bob@example.test").await;
    let alice_token = token(&base, &alice, &agent, "notes:read notes:write").await;
    let bob_token = token(&base, &bob, &agent, "notes:read notes:write offline_access").await;
    let note: Value = send(
        http.post(format!("{base}/api/notes"))
            .json(&json!({"title": "alice's"})),
        &alice_token,
    )
    .await
    .json()
    .await
    .expect("json");
    let id = note["id"].as_str().expect("id");
    // Bob's token can neither see nor delete Alice's note.
    for req in [
        http.get(format!("{base}/api/notes/{id}")),
        http.delete(format!("{base}/api/notes/{id}")),
    ] {
        let res = req
            .header("authorization", bearer(&bob_token))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let bobs: Value = send(http.get(format!("{base}/api/notes")), &bob_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(bobs, json!([]));

    // Revoking Bob's refresh token revokes the grant family, access tokens included.
    let res = http
        .post(format!("{base}/oauth2/revoke"))
        .form(&[
            (
                "token",
                bob_token["refresh_token"].as_str().expect("refresh"),
            ),
            ("client_id", &agent.client_id),
            ("client_secret", &agent.client_secret),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(http.get(format!("{base}/api/notes")), &bob_token).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // A client_credentials token acts for no user: refused.
    let cc: Value = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &agent.client_id),
            ("client_secret", &agent.client_secret),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert!(cc.get("access_token").is_some(), "{cc}");
    let res = send(http.get(format!("{base}/api/notes")), &cc).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_writes_must_come_from_our_origin() {
    let env = common::env().await;
    let (_server, base) = env.serve().await;
    let alice = user(&env, &base, "alice@example.test").await;
    // docs/threat-model.md row 12: a cross-site form or fetch riding the cookie is refused.
    let res = alice
        .post(format!("{base}/api/notes"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"title": "forged"}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = alice
        .post(format!("{base}/api/app/notes/create"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("title", "forged"), ("body", "")])
        .send()
        .await
        .expect("server fn");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let list: Value = alice
        .get(format!("{base}/api/notes"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list, json!([]), "no forged note was written");

    // Same-origin: the server functions the pages use.
    let res = alice
        .post(format!("{base}/api/app/notes/create"))
        .header("origin", base.as_str())
        .header("sec-fetch-site", "same-origin")
        .form(&[("title", "from the page"), ("body", "hello")])
        .send()
        .await
        .expect("server fn");
    assert_eq!(res.status(), StatusCode::OK);
    let note: Value = res.json().await.expect("json");
    assert_eq!(note["title"], "from the page");
    let res = alice
        .post(format!("{base}/api/app/notes/list"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("server fn");
    let list: Value = res.json().await.expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    // Without a session the server function refuses and writes nothing.
    let res = reqwest::Client::new()
        .post(format!("{base}/api/app/notes/create"))
        .form(&[("title", "anonymous"), ("body", "")])
        .send()
        .await
        .expect("server fn");
    assert!(!res.status().is_success());
    let text = res.text().await.expect("body");
    assert!(text.contains("SignedOut"), "{text}");
}

#[tokio::test]
async fn openapi_document_describes_the_oauth_flow() {
    let env = common::env().await;
    let (_server, base) = env.serve().await;
    let doc: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], base.as_str());
    let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"];
    assert_eq!(flow["authorizationUrl"], format!("{base}/idp"));
    assert_eq!(flow["tokenUrl"], format!("{base}/oauth2/token"));
    assert_eq!(flow["scopes"]["notes:read"], "Read your notes");
    assert!(flow["scopes"]["notes:write"].is_string());
    for (path, method, scope) in [
        ("/api/notes", "get", "notes:read"),
        ("/api/notes", "post", "notes:write"),
        ("/api/notes/{id}", "get", "notes:read"),
        ("/api/notes/{id}", "delete", "notes:write"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op["operationId"].is_string(), "{method} {path}");
        assert_eq!(op["security"][0]["oauth2"][0], scope, "{method} {path}");
    }
}

#[tokio::test]
async fn the_app_is_served_with_security_headers() {
    let env = common::env().await;
    let dist = env.dir.join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    let loader = "import init from '/app-0123456789abcdef.js';init();";
    std::fs::write(
        dist.join("index.html"),
        format!("<!DOCTYPE html><html><head><script type=\"module\">{loader}</script></head><body></body></html>"),
    )
    .expect("index");
    std::fs::write(
        dist.join("app-0123456789abcdef.js"),
        "export default function init() {}",
    )
    .expect("js");
    // The operator dashboard is its own bundle, under /admin.
    std::fs::create_dir_all(dist.join("admin")).expect("admin");
    let admin_loader = "import init from '/admin/admin-0123456789abcdef.js';init();";
    std::fs::write(
        dist.join("admin/index.html"),
        format!("<!DOCTYPE html><html><head><script type=\"module\">{admin_loader}</script></head><body>admin</body></html>"),
    )
    .expect("admin index");
    let (_server, base) = env.serve().await;
    for (path, bundle) in [
        ("/admin", true),
        ("/admin/apps/client-1", true),
        ("/administrator", false),
        ("/idp", false),
    ] {
        let res = reqwest::get(format!("{base}{path}")).await.expect("get");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_owned();
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(admin_loader.as_bytes()));
        assert!(
            csp.contains(&hash),
            "every bundle's loader is allowed: {csp}"
        );
        let body = res.text().await.expect("body");
        assert_eq!(
            body.contains("admin</body>"),
            bundle,
            "{path} is served by the right bundle"
        );
    }

    for path in [
        "/",
        "/idp?client_id=x&state=y",
        "/login?returnTo=%2Faccount",
        "/account",
    ] {
        let res = reqwest::get(format!("{base}{path}")).await.expect("get");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        assert!(
            h["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{csp}");
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(loader.as_bytes()));
        assert!(
            csp.contains(&format!("'sha256-{hash}'")),
            "the inline loader is allowed by hash: {csp}"
        );
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
    }
    let res = reqwest::get(format!("{base}/app-0123456789abcdef.js"))
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("immutable")
    );
    for missing in [
        "/missing.js",
        "/api/nothing",
        "/oauth2/nothing",
        "/../Cargo.toml",
    ] {
        let res = reqwest::get(format!("{base}{missing}")).await.expect("get");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn built_files_go_out_precompressed_to_browsers_that_accept_them() {
    let env = common::env().await;
    let dist = env.dir.join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    std::fs::write(dist.join("index.html"), "<!DOCTYPE html><html></html>").expect("index");
    // The build's copies (scripts/precompress.mjs); their bytes are what
    // must go out, whatever they hold.
    let wasm = "app-0123456789abcdef_bg.wasm";
    std::fs::write(dist.join(wasm), b"\0asm raw bytes").expect("wasm");
    std::fs::write(dist.join(format!("{wasm}.br")), b"brotli bytes").expect("br");
    std::fs::write(dist.join(format!("{wasm}.gz")), b"gzip bytes").expect("gz");
    std::fs::write(dist.join("robots.txt"), "User-agent: *").expect("txt");
    let (_server, base) = env.serve().await;
    let client = reqwest::Client::new();
    let get = |path: &str, accept: Option<&str>| {
        let mut req = client.get(format!("{base}{path}"));
        if let Some(a) = accept {
            req = req.header("accept-encoding", a);
        }
        req.send()
    };
    let path = format!("/{wasm}");
    for (accept, encoding, body) in [
        (Some("gzip, deflate, br, zstd"), Some("br"), "brotli bytes"),
        (Some("gzip"), Some("gzip"), "gzip bytes"),
        (Some("br;q=0, gzip"), Some("gzip"), "gzip bytes"),
        (Some("identity"), None, "\0asm raw bytes"),
        (None, None, "\0asm raw bytes"),
    ] {
        let res = get(&path, accept).await.expect("get");
        assert_eq!(res.status(), StatusCode::OK, "{accept:?}");
        let h = res.headers();
        assert_eq!(
            h.get("content-encoding")
                .map(|v| v.to_str().expect("ascii")),
            encoding,
            "{accept:?}"
        );
        assert_eq!(h["content-type"], "application/wasm", "{accept:?}");
        assert_eq!(h["vary"], "accept-encoding", "{accept:?}");
        assert!(
            h["cache-control"]
                .to_str()
                .expect("ascii")
                .contains("immutable")
        );
        assert_eq!(res.text().await.expect("body"), body, "{accept:?}");
    }
    // A file the build left no copies of goes out as it is.
    let res = get("/robots.txt", Some("br, gzip")).await.expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.text().await.expect("body"), "User-agent: *");
    // Neither a directory nor a copy whose original is gone is a file.
    std::fs::create_dir_all(dist.join("folder.js")).expect("dir");
    let orphan = "orphan-0123456789abcdef.js";
    std::fs::write(dist.join(format!("{orphan}.br")), b"stale").expect("orphan");
    for (path, accept) in [
        ("/folder.js", "identity"),
        (&format!("/{orphan}")[..], "br"),
    ] {
        let res = get(path, Some(accept)).await.expect("get");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // A range of the file; with If-Range (which the file service cannot
    // check) the whole file; past its end, nothing any cache may keep.
    let ranged = |range: &str, if_range: Option<&str>| {
        let mut req = client.get(format!("{base}{path}")).header("range", range);
        if let Some(v) = if_range {
            req = req.header("if-range", v);
        }
        req.send()
    };
    let res = ranged("bytes=0-3", None).await.expect("get");
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.text().await.expect("body"), "\0asm");
    let res = ranged("bytes=0-3", Some("\"old\"")).await.expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.expect("body"), "\0asm raw bytes");
    let res = ranged("bytes=1000-", None).await.expect("get");
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn deleting_an_account_deletes_its_notes_and_no_one_elses() {
    let env = common::env().await;
    let (_server, base) = env.serve().await;
    let alice = user(&env, &base, "alice@example.test").await;
    let bob = user(&env, &base, "bob@example.test").await;
    for (who, title) in [(&alice, "alice's"), (&bob, "bob's")] {
        let res = who
            .post(format!("{base}/api/notes"))
            .json(&json!({"title": title, "body": "private"}))
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let me: Value = alice
        .get(format!("{base}/api/session"))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let alice_id = me["user"]["user_id"].as_str().expect("id").to_owned();
    let bob_me: Value = bob
        .get(format!("{base}/api/session"))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let bob_id = bob_me["user"]["user_id"].as_str().expect("id").to_owned();

    let res = alice
        .post(format!("{base}/api/account/delete"))
        .json(&json!({"confirm_email": "alice@example.test", "password": "correct horse battery"}))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::OK);

    // Read straight from the database: the rows are gone, not just hidden.
    let store = keyhouse_store::Store::connect(&env.url)
        .await
        .expect("store");
    let notes = keyhouse_app::server::NotesStore::new(store.connection().clone());
    let owner = keyhouse_app::server::Owner::User;
    assert!(notes.list(owner(&alice_id)).await.expect("list").is_empty());
    assert_eq!(notes.list(owner(&bob_id)).await.expect("list").len(), 1);
}
