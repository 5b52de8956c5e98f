//! The admin API and users' connected apps, through the real binary:
//! who may call it, every Connected Apps operation, secret rotation, the
//! audit log, and a user revoking an app.

use crate::common;

use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "https://chat.openai.com/aip/g-123/oauth/callback";

async fn login(base: &str, email: &str) -> reqwest::Client {
    let http = common::browser();
    let res = http
        .post(format!("{base}/api/session/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK, "login {email}");
    http
}

async fn call(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let res = req.send().await.expect("send");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn token_with_secret(base: &str, client_id: &str, secret: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .expect("token")
        .status()
}

/// A running server with an operator (`ops`), a normal user (`joe`) and an
/// admin API key.
struct Operators {
    env: common::Env,
    _server: common::Server,
    base: String,
    /// `{base}/api/admin/clients`.
    url: String,
    ops: reqwest::Client,
    joe: reqwest::Client,
    key: String,
    key_id: String,
}

async fn operators() -> Operators {
    let env = common::env().await;
    for (email, admin) in [("ops@example.test", true), ("joe@example.test", false)] {
        let password = common::secret_file(PASSWORD);
        let mut args = vec![
            "users",
            "create",
            "--email",
            email,
            "--password-file",
            &password,
        ];
        if admin {
            args.push("--admin");
        }
        env.ok(&args);
    }
    let key_out = env.ok(&["admin-keys", "create", "--name", "ci"]);
    let line = |prefix: &str| {
        key_out
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .expect("key output")
            .trim()
            .to_owned()
    };
    let (key, key_id) = (line("key: "), line("id:"));
    let (server, base) = env.serve().await;
    let ops = login(&base, "ops@example.test").await;
    let joe = login(&base, "joe@example.test").await;
    Operators {
        env,
        _server: server,
        url: format!("{base}/api/admin/clients"),
        base,
        ops,
        joe,
        key,
        key_id,
    }
}

/// The operator creates a confidential GPT (allowed the client_credentials
/// grant, which the secret checks use); its id and secret.
async fn create_gpt(o: &Operators) -> (String, String) {
    let (status, created) = call(o.ops.post(&o.url).json(&json!({
        "name": "Notes GPT", "client_type": "third_party", "redirect_uris": [REDIRECT],
        "description": "Reads notes", "logo_uri": "https://cdn.example/logo.png",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"]})))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let field = |v: &Value| v.as_str().expect("string").to_owned();
    (
        field(&created["client"]["client_id"]),
        field(&created["client_secret"]),
    )
}

#[tokio::test]
async fn only_operators_and_live_admin_keys_may_call_the_admin_api() {
    let o = operators().await;
    let me: Value = o
        .ops
        .get(format!("{}/api/session", o.base))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(me["is_admin"], true);
    let anonymous = reqwest::Client::new();
    assert_eq!(
        call(anonymous.get(&o.url)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(o.joe.get(&o.url)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        call(anonymous.get(&o.url).bearer_auth("kh_admin_wrong"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(anonymous.get(&o.url).bearer_auth(&o.key)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(o.joe.get(format!("{}/api/admin/audit", o.base)))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // A revoked key stops working at once.
    o.env.ok(&["admin-keys", "revoke", &o.key_id]);
    assert_eq!(
        call(anonymous.get(&o.url).bearer_auth(&o.key)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_cross_site_write_riding_the_operators_cookie_is_refused() {
    // docs/threat-model.md row 12.
    let o = operators().await;
    let (status, _) = call(
        o.ops
            .post(&o.url)
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .json(
                &json!({"name": "Evil", "client_type": "third_party", "redirect_uris": [REDIRECT]}),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        call(o.ops.get(&o.url)).await.1["items"],
        json!([]),
        "nothing was created"
    );
}

/// The ID-token algorithm of a Connected App, through the admin API: RS256
/// unless asked, ES256 or EdDSA on request, changed by an update; `none`,
/// HMAC and other algorithms are `invalid_client_metadata` and change
/// nothing.
#[tokio::test]
async fn an_operator_chooses_the_id_token_algorithm_of_an_app() {
    let o = operators().await;
    let app = |alg: Option<&str>| {
        let mut body =
            json!({"name": "Partner", "client_type": "third_party", "redirect_uris": [REDIRECT]});
        if let Some(a) = alg {
            body["id_token_signed_response_alg"] = json!(a);
        }
        body
    };
    for bad in ["none", "HS256", "PS512"] {
        let (status, e) = call(o.ops.post(&o.url).json(&app(Some(bad)))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert_eq!(e["error"], "invalid_client_metadata");
    }
    assert_eq!(
        call(o.ops.get(&o.url)).await.1["items"],
        json!([]),
        "nothing created"
    );

    let (status, plain) = call(o.ops.post(&o.url).json(&app(None))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(plain["client"]["id_token_signed_response_alg"], "RS256");
    let (status, created) = call(o.ops.post(&o.url).json(&app(Some("ES256")))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["client"]["id_token_signed_response_alg"], "ES256");
    let one = format!(
        "{}/{}",
        o.url,
        created["client"]["client_id"].as_str().expect("client_id")
    );

    let (status, updated) = call(
        o.ops
            .patch(&one)
            .json(&json!({"id_token_signed_response_alg": "EdDSA"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["id_token_signed_response_alg"], "EdDSA");
    for bad in ["none", "HS256"] {
        let (status, e) = call(
            o.ops
                .patch(&one)
                .json(&json!({"id_token_signed_response_alg": bad, "name": "Renamed"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert_eq!(e["error"], "invalid_client_metadata");
    }
    let (_, now) = call(o.ops.get(&one)).await;
    assert_eq!(now["id_token_signed_response_alg"], "EdDSA");
    assert_eq!(now["name"], "Partner", "a refused update changes nothing");
}

#[tokio::test]
async fn bad_client_metadata_gets_the_rfc_7591_errors() {
    let o = operators().await;
    for (body, code) in [
        (
            json!({"name": "x", "client_type": "third_party", "redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"name": "x", "client_type": "third_party", "redirect_uris": [REDIRECT], "logo_uri": "javascript:alert(1)"}),
            "invalid_client_metadata",
        ),
        (
            json!({"name": "", "client_type": "third_party", "redirect_uris": [REDIRECT]}),
            "invalid_client_metadata",
        ),
    ] {
        let (status, e) = call(o.ops.post(&o.url).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(e["error"], code, "{body}");
    }
    assert_eq!(
        call(o.ops.get(&o.url)).await.1["items"],
        json!([]),
        "nothing was created"
    );
}

#[tokio::test]
async fn the_client_list_pages_with_an_opaque_cursor() {
    let o = operators().await;
    for n in 0..4 {
        let (status, _) = call(reqwest::Client::new().post(&o.url).bearer_auth(&o.key).json(&json!({
            "name": format!("App {n}"), "client_type": "first_party_public", "redirect_uris": ["http://127.0.0.1/cb"]}))).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, first) = call(o.ops.get(format!("{}?limit=3", o.url))).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(3));
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let (_, second) = call(o.ops.get(format!("{}?limit=3&cursor={cursor}", o.url))).await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert!(second["next_cursor"].is_null());
    assert_eq!(
        call(o.ops.get(format!("{}?cursor=%25%25not-base64", o.url)))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn an_update_changes_what_it_names_and_a_refused_one_changes_nothing() {
    let o = operators().await;
    let (id, _) = create_gpt(&o).await;
    let one = format!("{}/{id}", o.url);
    let (status, updated) = call(o.ops.patch(&one).json(&json!({"name": "Notes GPT v2", "redirect_uris": [REDIRECT, "https://chatgpt.com/aip/g-123/oauth/callback"], "access_token_ttl": 600}))).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Notes GPT v2");
    assert_eq!(updated["redirect_uris"].as_array().map(Vec::len), Some(2));
    assert_eq!(updated["access_token_ttl"], 600);
    assert_eq!(
        updated["description"], "Reads notes",
        "fields not named stay"
    );
    // Confidential cannot turn public; a bad redirect URI is refused.
    for change in [
        json!({"client_type": "third_party_public"}),
        json!({"name": "Renamed", "redirect_uris": ["http://evil.example/"]}),
    ] {
        assert_eq!(
            call(o.ops.patch(&one).json(&change)).await.0,
            StatusCode::BAD_REQUEST,
            "{change}"
        );
    }
    let (_, got) = call(o.ops.get(&one)).await;
    assert_eq!(
        got["name"], "Notes GPT v2",
        "a refused update changes nothing"
    );
    assert_eq!(got["redirect_uris"].as_array().map(Vec::len), Some(2));
    assert_eq!(got["client_type"], "third_party");
}

#[tokio::test]
async fn a_rotation_keeps_both_secrets_until_completed_and_cancel_discards_the_new_one() {
    let o = operators().await;
    let (id, secret) = create_gpt(&o).await;
    let base = &o.base;
    let rot = format!("{}/{id}/secrets/rotate", o.url);
    let (status, started) = call(o.ops.post(&rot)).await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = started["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(
        call(o.ops.post(&rot)).await.0,
        StatusCode::CONFLICT,
        "one rotation at a time"
    );
    assert_eq!(
        call(o.ops.get(format!("{}/{id}", o.url))).await.1["rotation_pending"],
        true
    );
    assert_eq!(token_with_secret(base, &id, &secret).await, StatusCode::OK);
    assert_eq!(
        token_with_secret(base, &id, &new_secret).await,
        StatusCode::OK
    );
    let (status, done) = call(o.ops.post(format!("{rot}/complete"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["rotation_pending"], false);
    assert_eq!(
        token_with_secret(base, &id, &secret).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        token_with_secret(base, &id, &new_secret).await,
        StatusCode::OK
    );
    assert_eq!(
        call(o.ops.post(format!("{rot}/complete"))).await.0,
        StatusCode::CONFLICT
    );
    let (_, again) = call(o.ops.post(&rot)).await;
    let discarded = again["client_secret"].as_str().expect("secret").to_owned();
    assert_eq!(
        call(o.ops.post(format!("{rot}/cancel"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        token_with_secret(base, &id, &discarded).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        token_with_secret(base, &id, &new_secret).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deleting_a_client_refuses_its_secret_at_once() {
    let o = operators().await;
    let (id, secret) = create_gpt(&o).await;
    assert_eq!(
        token_with_secret(&o.base, &id, &secret).await,
        StatusCode::OK
    );
    let one = format!("{}/{id}", o.url);
    assert_eq!(call(o.ops.delete(&one)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(o.ops.get(&one)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        token_with_secret(&o.base, &id, &secret).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn every_change_to_a_client_is_audited_newest_first_with_its_actor() {
    let o = operators().await;
    let (id, _) = create_gpt(&o).await;
    let one = format!("{}/{id}", o.url);
    let rot = format!("{one}/secrets/rotate");
    call(o.ops.patch(&one).json(&json!({"name": "Notes GPT v2"}))).await;
    for step in [
        rot.clone(),
        format!("{rot}/complete"),
        rot.clone(),
        format!("{rot}/cancel"),
    ] {
        assert_eq!(call(o.ops.post(&step)).await.0, StatusCode::OK, "{step}");
    }
    assert_eq!(call(o.ops.delete(&one)).await.0, StatusCode::NO_CONTENT);
    let (_, audit) = call(
        reqwest::Client::new()
            .get(format!("{}/api/admin/audit?limit=100", o.base))
            .bearer_auth(&o.key),
    )
    .await;
    let items = audit["items"].as_array().expect("items");
    let actions: Vec<&str> = items.iter().filter_map(|e| e["action"].as_str()).collect();
    for a in [
        "client.created",
        "client.updated",
        "client.secret_rotation_started",
        "client.secret_rotation_completed",
        "client.secret_rotation_cancelled",
        "client.deleted",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert_eq!(actions.first(), Some(&"client.deleted"));
    let created = items
        .iter()
        .find(|e| e["action"] == "client.created" && e["client_id"] == id.as_str())
        .expect("event");
    assert!(
        created["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("user:")),
        "{created}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_generated_from_every_admin_handler() {
    let o = operators().await;
    let (status, doc) =
        call(reqwest::Client::new().get(format!("{}/api/admin/openapi.json", o.base))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/admin/clients",
        "/api/admin/clients/{id}",
        "/api/admin/clients/{id}/secrets/rotate",
        "/api/admin/audit",
        "/api/admin/agents/blocked-domains",
        "/api/admin/agents/blocked-clients",
        "/api/admin/agents/settings",
        "/api/admin/agents/policy",
        "/api/admin/resources",
        "/api/admin/users",
        "/api/admin/users/{id}/disable",
        "/api/admin/users/{id}/require-password-reset",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["NewClientRequest"].is_object());
}

/// Ann connected Notes GPT (`openid notes:read offline_access`): her
/// session, the agent, its tokens and the authorize parameters.
struct Connected {
    env: common::Env,
    _server: common::Server,
    base: String,
    ann: reqwest::Client,
    agent: common::Agent,
    access_token: String,
    refresh_token: String,
    params: Value,
}

const CONNECTED_SCOPE: &str = "openid notes:read offline_access";

async fn ann_connected_the_gpt() -> Connected {
    let env = common::env().await;
    let agent = common::register_agent(&env, "Notes GPT", REDIRECT, &[]);
    create_user(&env, "ann@example.test");
    let (server, base) = env.serve().await;
    let ann = login(&base, "ann@example.test").await;
    let tokens = common::code_flow(
        &base,
        &ann,
        common::Side::Users,
        &agent,
        REDIRECT,
        CONNECTED_SCOPE,
        None,
    )
    .await;
    let field = |name: &str| tokens[name].as_str().expect(name).to_owned();
    Connected {
        params: json!({"response_type": "code", "client_id": agent.client_id, "redirect_uri": REDIRECT, "scope": CONNECTED_SCOPE, "state": "s"}),
        access_token: field("access_token"),
        refresh_token: field("refresh_token"),
        env,
        _server: server,
        base,
        ann,
        agent,
    }
}

fn create_user(env: &common::Env, email: &str) {
    common::create_user(env, email, PASSWORD);
}

impl Connected {
    fn apps_url(&self) -> String {
        format!("{}/api/account/connected-apps", self.base)
    }

    fn app_url(&self) -> String {
        format!("{}/{}", self.apps_url(), self.agent.client_id)
    }
}

#[tokio::test]
async fn a_user_sees_the_apps_they_connected_with_what_they_granted() {
    let c = ann_connected_the_gpt().await;
    let (status, apps) = call(c.ann.get(c.apps_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(apps.as_array().map(Vec::len), Some(1));
    assert_eq!(apps[0]["client"]["name"], "Notes GPT");
    assert_eq!(apps[0]["scopes"][1]["description"], "Read your notes");
    assert!(apps[0]["last_used_at"].as_i64().is_some());
}

#[tokio::test]
async fn another_user_neither_sees_nor_revokes_someone_elses_app() {
    let c = ann_connected_the_gpt().await;
    create_user(&c.env, "bob@example.test");
    let bob = login(&c.base, "bob@example.test").await;
    assert_eq!(call(bob.get(c.apps_url())).await.1, json!([]));
    assert_eq!(call(bob.delete(c.app_url())).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        call(c.ann.get(c.apps_url()))
            .await
            .1
            .as_array()
            .map(Vec::len),
        Some(1),
        "Ann's app is still there"
    );
}

#[tokio::test]
async fn revoking_from_another_site_is_refused() {
    // docs/threat-model.md row 12.
    let c = ann_connected_the_gpt().await;
    let (status, _) = call(
        c.ann
            .delete(c.app_url())
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        call(c.ann.get(c.apps_url()))
            .await
            .1
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn revoking_an_app_kills_its_tokens_at_once_and_consent_is_asked_again() {
    let c = ann_connected_the_gpt().await;
    let (id, secret) = (c.agent.client_id.as_str(), c.agent.client_secret.as_str());
    assert_eq!(
        call(c.ann.delete(c.app_url())).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(c.ann.get(c.apps_url())).await.1, json!([]));
    let http = reqwest::Client::new();
    let (_, intro) = call(http.post(format!("{}/oauth2/introspect", c.base)).form(&[
        ("token", c.access_token.as_str()),
        ("client_id", id),
        ("client_secret", secret),
    ]))
    .await;
    assert_eq!(intro["active"], false);
    let (status, _) = call(
        http.get(format!("{}/api/notes", c.base))
            .bearer_auth(&c.access_token),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, e) = call(http.post(format!("{}/oauth2/token", c.base)).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", c.refresh_token.as_str()),
        ("client_id", id),
        ("client_secret", secret),
    ]))
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, start) = call(
        c.ann
            .post(format!("{}/api/idp/authorize/start", c.base))
            .json(&c.params),
    )
    .await;
    assert_eq!(start["consent_required"], true);
    // The audit log has the grant and the revocation.
    let key = c.env.admin_key("t");
    let (_, audit) = call(
        http.get(format!("{}/api/admin/audit", c.base))
            .bearer_auth(&key),
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"consent.granted") && actions.contains(&"consent.revoked"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn custom_audience_and_claims_template_shape_the_access_token() {
    let env = common::env().await;
    env.ok(&[
        "users",
        "create",
        "--email",
        "ann@example.test",
        "--password-file",
        &common::secret_file(PASSWORD),
        "--name",
        "Ann",
    ]);
    let key = env.admin_key("t");
    let (_server, base) = env.serve().await;
    let admin = |req: reqwest::RequestBuilder| call(req.bearer_auth(&key));
    let url = format!("{base}/api/admin/clients");
    // Templates may not forge what Keyhouse issues, nor use unknown placeholders.
    for t in [r#"{"sub": "admin"}"#, r#"{"x": "{{password}}"}"#, "[]"] {
        let (status, e) = admin(reqwest::Client::new().post(&url).json(&json!({
            "name": "x", "client_type": "third_party", "redirect_uris": [REDIRECT], "claims_template": t}))).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")),
            "{t}"
        );
    }
    let (status, created) = admin(reqwest::Client::new().post(&url).json(&json!({
        "name": "Reports", "client_type": "third_party", "redirect_uris": [REDIRECT],
        "audience": "https://reports.example/api",
        "claims_template": r#"{"user_label": "{{name}} <{{email}}>", "tier": 2}"#})))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["client"]["client_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(created["client"]["audience"], "https://reports.example/api");

    let ann = login(&base, "ann@example.test").await;
    let decision = json!({"consent_granted": true, "response_type": "code", "client_id": id, "redirect_uri": REDIRECT, "scope": "openid notes:read", "state": "s"});
    let (_, to) = call(
        ann.post(format!("{base}/api/idp/authorize"))
            .json(&decision),
    )
    .await;
    let tokens = common::exchange(&base, &common::code_of(&to), REDIRECT, &id, &secret).await;
    let at = tokens["access_token"].as_str().expect("at");
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(at.split('.').nth(1).expect("payload"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(claims["aud"], "https://reports.example/api");
    assert_eq!(claims["user_label"], "Ann <ann@example.test>");
    assert_eq!(claims["tier"], 2);
    // A token for another API is refused by this one (docs/threat-model.md row 23).
    let res = reqwest::Client::new()
        .get(format!("{base}/api/notes"))
        .bearer_auth(at)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Removing the audience brings tokens back to the default one.
    let (status, updated) = admin(
        reqwest::Client::new()
            .patch(format!("{url}/{id}"))
            .json(&json!({"audience": "", "claims_template": ""})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        updated["audience"].is_null() && updated["claims_template"].is_null(),
        "{updated}"
    );
    let (_, stored) = admin(reqwest::Client::new().get(format!("{url}/{id}"))).await;
    assert!(
        stored["audience"].is_null() && stored["claims_template"].is_null(),
        "the change was stored: {stored}"
    );
}

#[tokio::test]
async fn the_cli_updates_and_shows_clients_and_rotates_secrets() {
    let env = common::env().await;
    let out = env.ok(&[
        "clients",
        "create",
        "--name",
        "Tool",
        "--type",
        "third_party",
        "--redirect-uri",
        REDIRECT,
        "--json",
    ]);
    let c: Value = serde_json::from_str(out.trim()).expect("json");
    let id = c["client_id"].as_str().expect("id");
    let shown: Value = serde_json::from_str(
        env.ok(&[
            "clients",
            "update",
            id,
            "--name",
            "Tool v2",
            "--audience",
            "https://tool.example/api",
            "--access-token-ttl",
            "900",
        ])
        .trim(),
    )
    .expect("json");
    assert_eq!(
        (shown["name"].as_str(), shown["access_token_ttl"].as_i64()),
        (Some("Tool v2"), Some(900))
    );
    assert_eq!(shown["audience"], "https://tool.example/api");
    let refused = env.run(&[
        "clients",
        "update",
        id,
        "--redirect-uri",
        "http://evil.example/",
    ]);
    assert!(!refused.status.success(), "an invalid update is refused");
    let again: Value = serde_json::from_str(env.ok(&["clients", "show", id]).trim()).expect("json");
    assert_eq!(
        again["redirect_uris"],
        json!([REDIRECT]),
        "and changes nothing"
    );
    let started = env.ok(&["clients", "rotate", "start", id]);
    assert!(started.starts_with("client_secret: "), "{started}");
    let pending: Value =
        serde_json::from_str(env.ok(&["clients", "show", id]).trim()).expect("json");
    assert_eq!(pending["rotation_pending"], true);
    env.ok(&["clients", "rotate", "complete", id]);
    let audit = env.ok(&["audit", "--limit", "10"]);
    assert!(
        audit.contains("client.updated") && audit.contains("client.secret_rotation_completed"),
        "{audit}"
    );
}
