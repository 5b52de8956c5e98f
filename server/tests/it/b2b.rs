//! B2B through the real binary: organizations and members from the CLI,
//! discovery and member sessions, RBAC-bounded consent and tokens, the
//! organization claim everywhere, organization policies, and organization
//! notes kept apart (docs/threat-model.md rows 13 and 23 for organizations).

use crate::common;

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::Side;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    env: common::Env,
    client_id: String,
    client_secret: String,
}

/// Two organizations; `m@example.test` is a member of acme and an admin of
/// globex; `boss@example.test` is an admin of acme.
fn fixture(env: common::Env) -> Fixture {
    env.ok(&["orgs", "create", "--name", "Acme Inc", "--slug", "acme"]);
    env.ok(&["orgs", "create", "--name", "Globex", "--slug", "globex"]);
    for (org, email, role) in [
        ("acme", "m@example.test", "member"),
        ("globex", "m@example.test", "admin"),
        ("acme", "boss@example.test", "admin"),
    ] {
        env.ok(&[
            "members",
            "create",
            "--org",
            org,
            "--email",
            email,
            "--password-file",
            &common::secret_file(PASSWORD),
            "--role",
            role,
        ]);
    }
    let out = env.ok(&[
        "clients",
        "create",
        "--name",
        "Notes GPT",
        "--type",
        "third_party",
        // A GPT given refresh tokens without offline_access by its operator.
        "--refresh-policy",
        "always",
        "--redirect-uri",
        REDIRECT,
        "--json",
    ]);
    let v: Value = serde_json::from_str(out.trim()).expect("json");
    Fixture {
        env,
        client_id: v["client_id"].as_str().expect("id").to_owned(),
        client_secret: v["client_secret"].as_str().expect("secret").to_owned(),
    }
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let res = http.post(url).json(&body).send().await.expect("post");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Signs `email` in to the organization `slug` through discovery.
async fn member(base: &str, email: &str, slug: &str) -> reqwest::Client {
    let http = common::browser();
    let (status, found) = post(
        &http,
        format!("{base}/api/b2b/discovery"),
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let (status, session) = post(
        &http,
        format!("{base}/api/b2b/discovery/select"),
        json!({"discovery_token": found["discovery_token"], "organization_slug": slug}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["organization"]["slug"], slug);
    http
}

fn authorize_params(f: &Fixture, scope: &str) -> Value {
    json!({"response_type": "code", "client_id": f.client_id, "redirect_uri": REDIRECT,
           "scope": scope, "state": "s1"})
}

/// Consents through the B2B API and exchanges the code: the token response.
async fn token(base: &str, http: &reqwest::Client, f: &Fixture, scope: &str) -> Value {
    let agent = common::Agent {
        client_id: f.client_id.clone(),
        client_secret: f.client_secret.clone(),
    };
    common::code_flow(base, http, Side::Members, &agent, REDIRECT, scope, None).await
}

fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("json")
}

async fn bearer_get(url: String, t: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(t["access_token"].as_str().expect("access_token"))
        .send()
        .await
        .expect("get")
}

#[tokio::test]
async fn consent_and_tokens_are_bounded_by_the_members_role() {
    let f = fixture(common::env().await);
    let (_server, base) = f.env.serve().await;
    let m = member(&base, "m@example.test", "acme").await;

    let scope = "openid email notes:read notes:write";
    let (status, start) = post(
        &m,
        format!("{base}/api/b2b/idp/authorize/start"),
        authorize_params(&f, scope),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert_eq!(start["organization"]["slug"], "acme");
    assert_eq!(start["organization"]["name"], "Acme Inc");
    assert_eq!(start["consent_required"], true);
    let grantable: Vec<(String, bool)> = start["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .map(|s| {
            (
                s["scope"].as_str().unwrap_or_default().to_owned(),
                s["grantable"] == true,
            )
        })
        .collect();
    assert!(
        grantable.contains(&("notes:read".into(), true)),
        "{grantable:?}"
    );
    assert!(
        grantable.contains(&("notes:write".into(), false)),
        "a member cannot delete, so cannot grant notes:write: {grantable:?}"
    );
    assert!(grantable.contains(&("openid".into(), true)));

    let t = token(&base, &m, &f, scope).await;
    assert_eq!(
        t["scope"], "openid email notes:read",
        "the token never holds notes:write"
    );
    let at = jwt_claims(t["access_token"].as_str().expect("at"));
    assert_eq!(at["organization"]["slug"], "acme");
    assert!(
        at["organization"]["organization_id"]
            .as_str()
            .is_some_and(|s| s.starts_with("org"))
    );
    assert!(
        at["sub"].as_str().is_some_and(|s| s.starts_with("member")),
        "sub is the member id: {at}"
    );
    let id = jwt_claims(t["id_token"].as_str().expect("id_token"));
    assert_eq!(id["organization"], at["organization"]);
    assert_eq!(id["email"], "m@example.test");

    let info: Value = bearer_get(format!("{base}/oauth2/userinfo"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(info["organization"], at["organization"]);
    assert_eq!(info["sub"], at["sub"]);
    let intro: Value = reqwest::Client::new()
        .post(format!("{base}/oauth2/introspect"))
        .form(&[
            ("token", t["access_token"].as_str().expect("at")),
            ("client_id", &f.client_id),
            ("client_secret", &f.client_secret),
        ])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(intro["active"], true);
    assert_eq!(intro["organization"], at["organization"]);

    // The token reads the organization's notes but cannot write: the member's
    // role and the token's scopes both bound it.
    let res = bearer_get(format!("{base}/api/b2b/notes"), &t).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = reqwest::Client::new()
        .post(format!("{base}/api/b2b/notes"))
        .bearer_auth(t["access_token"].as_str().expect("at"))
        .json(&json!({"title": "from the agent"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("scope=\"notes:write\"")
    );

    // An admin of the same organization can grant notes:write.
    let boss = member(&base, "boss@example.test", "acme").await;
    let bt = token(&base, &boss, &f, "notes:read notes:write").await;
    assert_eq!(bt["scope"], "notes:read notes:write");
    let res = reqwest::Client::new()
        .post(format!("{base}/api/b2b/notes"))
        .bearer_auth(bt["access_token"].as_str().expect("at"))
        .json(&json!({"title": "written by the agent"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::CREATED);

    // A member token is not a user token, and a user token is not a member's.
    assert_eq!(
        bearer_get(format!("{base}/api/notes"), &t).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn one_email_in_two_organizations_gets_separate_tokens_and_notes() {
    let f = fixture(common::env().await);
    let (_server, base) = f.env.serve().await;
    let (status, found) = post(
        &common::browser(),
        format!("{base}/api/b2b/discovery"),
        json!({"email": "M@Example.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let slugs: Vec<&str> = found["organizations"]
        .as_array()
        .expect("orgs")
        .iter()
        .filter_map(|o| o["slug"].as_str())
        .collect();
    assert_eq!(slugs, ["acme", "globex"]);

    let in_acme = member(&base, "m@example.test", "acme").await;
    let in_globex = member(&base, "m@example.test", "globex").await;
    let (status, secret) = post(
        &in_globex,
        format!("{base}/api/b2b/notes"),
        json!({"title": "Globex secret"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{secret}");
    let (status, _) = post(
        &in_acme,
        format!("{base}/api/b2b/notes"),
        json!({"title": "Acme roadmap"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let acme_token = token(&base, &in_acme, &f, "notes:read").await;
    let globex_token = token(&base, &in_globex, &f, "notes:read").await;
    let a = jwt_claims(acme_token["access_token"].as_str().expect("at"));
    let g = jwt_claims(globex_token["access_token"].as_str().expect("at"));
    assert_ne!(a["sub"], g["sub"], "one member id per organization");
    assert_eq!(
        (
            a["organization"]["slug"].as_str(),
            g["organization"]["slug"].as_str()
        ),
        (Some("acme"), Some("globex"))
    );

    let acme_notes: Value = bearer_get(format!("{base}/api/b2b/notes"), &acme_token)
        .await
        .json()
        .await
        .expect("json");
    let titles: Vec<&str> = acme_notes
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["title"].as_str())
        .collect();
    assert_eq!(titles, ["Acme roadmap"]);
    // docs/threat-model.md row 23 for organizations: a token for acme is refused on globex's note.
    let id = secret["id"].as_str().expect("id");
    assert_eq!(
        bearer_get(format!("{base}/api/b2b/notes/{id}"), &acme_token)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bearer_get(format!("{base}/api/b2b/notes/{id}"), &globex_token)
            .await
            .status(),
        StatusCode::OK
    );

    // docs/threat-model.md row 13: consent given in acme does not carry over to the
    // same person in globex (another member, another grant).
    let (_, again) = post(
        &in_acme,
        format!("{base}/api/b2b/idp/authorize/start"),
        authorize_params(&f, "notes:read"),
    )
    .await;
    assert_eq!(again["consent_required"], false, "acme remembers its grant");
    let (_, other) = post(
        &in_globex,
        format!("{base}/api/b2b/idp/authorize/start"),
        authorize_params(&f, "notes:read notes:write"),
    )
    .await;
    assert_eq!(other["consent_required"], true, "new scopes prompt again");

    // Member and user sessions are separate cookies and separate worlds.
    let res = in_acme
        .get(format!("{base}/api/session"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = post(
        &in_acme,
        format!("{base}/api/idp/authorize/start"),
        authorize_params(&f, "openid"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the consumer /idp needs a user session"
    );
}

#[tokio::test]
async fn organization_policy_refuses_apps_and_ends_their_grants() {
    let f = fixture(common::env().await);
    let (_server, base) = f.env.serve().await;
    let m = member(&base, "m@example.test", "acme").await;
    let boss = member(&base, "boss@example.test", "acme").await;
    let t = token(&base, &m, &f, "notes:read").await;

    // Only admins may change settings.
    let put = |http: &reqwest::Client, body: Value| {
        http.put(format!("{base}/api/b2b/organization/connected-apps"))
            .json(&body)
            .send()
    };
    let res = put(
        &m,
        json!({"first_party": {"access": "all_allowed"}, "third_party": {"access": "not_allowed"}}),
    )
    .await
    .expect("put");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = m
        .get(format!("{base}/api/b2b/organization"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = put(&boss, json!({"first_party": {"access": "all_allowed"}, "third_party": {"access": "restricted", "allowed_client_ids": ["client-nope"]}})).await.expect("put");
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "unknown clients are refused on an allow-list"
    );

    let res = put(
        &boss,
        json!({"first_party": {"access": "all_allowed"}, "third_party": {"access": "not_allowed"}}),
    )
    .await
    .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    // At authorize time: a clear error on the page, never a redirect.
    let (status, e) = post(
        &m,
        format!("{base}/api/b2b/idp/authorize/start"),
        authorize_params(&f, "notes:read"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(e["error"], "access_denied");
    assert!(
        e["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("Acme Inc") && d.contains("third-party")),
        "{e}"
    );
    // docs/threat-model.md row 47: existing grants end at once. The access
    // token already issued is refused right after the change, before any
    // refresh (the policy change revoked its family)...
    assert_eq!(
        bearer_get(format!("{base}/api/b2b/notes"), &t)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let seen = introspect(&base, &f, t["access_token"].as_str().expect("at")).await;
    assert_eq!(seen["active"], false, "{seen}");
    // ...and so is the refresh token.
    assert_eq!(refresh_status(&base, &f, &t).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        bearer_get(format!("{base}/api/b2b/notes"), &t)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // An allow-list with the client lets it in again.
    let settings: Value = boss
        .get(format!("{base}/api/b2b/organization"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        settings["connected_apps"]["third_party"]["access"],
        "not_allowed"
    );
    let res = put(&boss, json!({"first_party": {"access": "not_allowed"}, "third_party": {"access": "restricted", "allowed_client_ids": [f.client_id]}})).await.expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    let (status, start) = post(
        &m,
        format!("{base}/api/b2b/idp/authorize/start"),
        authorize_params(&f, "notes:read"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{start}");

    // Roles: promote the member; the organization keeps at least one admin.
    let member_id = jwt_claims(t["access_token"].as_str().expect("at"))["sub"]
        .as_str()
        .expect("sub")
        .to_owned();
    let res = boss
        .put(format!("{base}/api/b2b/members/{member_id}/roles"))
        .json(&json!({"roles": ["admin"]}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    let members = settings["members"].as_array().expect("members").clone();
    let boss_id = members
        .iter()
        .find(|x| x["email"] == "boss@example.test")
        .and_then(|x| x["member_id"].as_str())
        .expect("boss");
    let res = boss
        .put(format!("{base}/api/b2b/members/{boss_id}/roles"))
        .json(&json!({"roles": ["member"]}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK, "another admin exists now");
    let res = m
        .put(format!("{base}/api/b2b/members/{member_id}/roles"))
        .json(&json!({"roles": ["member"]}))
        .send()
        .await
        .expect("put");
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "the last admin cannot step down"
    );
    let res = m
        .put(format!("{base}/api/b2b/members/{member_id}/roles"))
        .json(&json!({"roles": ["root"]}))
        .send()
        .await
        .expect("put");
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "unknown roles are refused"
    );
}

#[tokio::test]
async fn member_sign_in_refuses_alike_and_discovery_tokens_are_sealed() {
    let f = fixture(common::env().await);
    let (_server, base) = f.env.serve().await;
    let http = common::browser();
    let mut bodies = Vec::new();
    for (org, email, pw) in [
        ("acme", "m@example.test", "wrong password!"),
        ("acme", "nobody@example.test", PASSWORD),
        ("nowhere", "m@example.test", PASSWORD),
        ("globex", "boss@example.test", PASSWORD),
    ] {
        let (status, body) = post(
            &http,
            format!("{base}/api/b2b/session/login"),
            json!({"organization_slug": org, "email": email, "password": pw}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{org} {email}");
        bodies.push(body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every refusal answers alike: {bodies:?}"
    );
    let (status, _) = post(
        &http,
        format!("{base}/api/b2b/discovery"),
        json!({"email": "m@example.test", "password": "wrong password!"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, ok) = post(
        &http,
        format!("{base}/api/b2b/session/login"),
        json!({"organization_slug": "acme", "email": "m@example.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ok["member"]["roles"], json!(["member"]));
    assert_eq!(
        ok["permissions"],
        json!([{"resource_id": "notes", "actions": ["read", "create"]}])
    );

    // A discovery token is bound to the members it proved: it cannot be
    // altered, nor used for another organization; docs/threat-model.md row
    // 50: nor by another browser, nor twice.
    let d = common::browser();
    let discover = || async {
        let (_, found) = post(
            &d,
            format!("{base}/api/b2b/discovery"),
            json!({"email": "boss@example.test", "password": PASSWORD}),
        )
        .await;
        found["discovery_token"].as_str().expect("token").to_owned()
    };
    let select = |http: reqwest::Client, token: String, slug: &'static str| {
        let url = format!("{base}/api/b2b/discovery/select");
        async move {
            post(
                &http,
                url,
                json!({"discovery_token": token, "organization_slug": slug}),
            )
            .await
            .0
        }
    };
    let token = discover().await;
    assert_eq!(
        select(common::browser(), token.clone(), "acme").await,
        StatusCode::UNAUTHORIZED,
        "another browser cannot use it"
    );
    assert_eq!(
        select(d.clone(), token.clone(), "globex").await,
        StatusCode::UNAUTHORIZED,
        "boss is not a member of globex"
    );
    let token = discover().await;
    let mut forged = token.clone();
    forged.insert(0, 'x');
    assert_eq!(
        select(d.clone(), forged, "acme").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        select(d.clone(), token.clone(), "acme").await,
        StatusCode::OK
    );
    assert_eq!(
        select(d.clone(), token, "acme").await,
        StatusCode::UNAUTHORIZED,
        "a discovery token works once"
    );

    // Logout ends the member session server-side.
    let res = http
        .post(format!("{base}/api/b2b/session/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = http
        .get(format!("{base}/api/b2b/session"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn member_session_cookies_carry_the_production_flags() {
    // docs/threat-model.md row 27 for member sessions: HttpOnly, SameSite=Lax, and
    // `__Host-` + Secure when the issuer is https.
    let f = fixture(common::env().await);
    for (issuer, name, secure) in [
        (None, "keyhouse_member_session=", false),
        (
            Some("https://id.example.test"),
            "__Host-keyhouse_member_session=",
            true,
        ),
    ] {
        let (_server, base) = f.env.serve_as(issuer).await;
        let res = reqwest::Client::new()
            .post(format!("{base}/api/b2b/session/login"))
            .json(&json!({"organization_slug": "acme", "email": "m@example.test", "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), StatusCode::OK);
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(cookie.starts_with(name), "{cookie}");
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert_eq!(cookie.contains("; Secure"), secure, "{cookie}");
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
}

/// Refreshes the token response `t` as the fixture's client: the status.
async fn refresh_status(base: &str, f: &Fixture, t: &Value) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().expect("rt")),
            ("client_id", &f.client_id),
            ("client_secret", &f.client_secret),
        ])
        .send()
        .await
        .expect("refresh")
        .status()
}

async fn introspect(base: &str, f: &Fixture, token: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/oauth2/introspect"))
        .form(&[
            ("token", token),
            ("client_id", f.client_id.as_str()),
            ("client_secret", f.client_secret.as_str()),
        ])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json")
}

/// docs/threat-model.md row 47: a role downgrade ends the grants the new
/// roles no longer cover at once: the access token already issued is
/// refused by introspection and the organization API with no refresh in
/// between; grants the new roles still cover keep working.
#[tokio::test]
async fn a_role_downgrade_ends_the_grants_it_no_longer_covers_at_once() {
    let f = fixture(common::env().await);
    let (_server, base) = f.env.serve().await;
    // m is an admin of globex: it may grant notes:write there.
    let m = member(&base, "m@example.test", "globex").await;
    let writer = token(
        &base,
        &m,
        &f,
        "openid notes:read notes:write offline_access",
    )
    .await;
    let claims = jwt_claims(writer["access_token"].as_str().expect("at"));
    assert!(
        claims["scope"]
            .as_str()
            .is_some_and(|s| s.contains("notes:write")),
        "{claims}"
    );
    let member_id = claims["sub"].as_str().expect("sub").to_owned();
    let plain = token(&base, &m, &f, "openid").await;
    let at = writer["access_token"].as_str().expect("at");
    assert_eq!(introspect(&base, &f, at).await["active"], true);
    assert_eq!(
        bearer_get(format!("{base}/api/b2b/notes"), &writer)
            .await
            .status(),
        StatusCode::OK
    );

    // Another admin so m may be demoted, then the demotion.
    let boss = m.clone();
    let settings: Value = boss
        .get(format!("{base}/api/b2b/organization"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(settings["members"].is_array(), "{settings}");
    f.env.ok(&[
        "members",
        "create",
        "--org",
        "globex",
        "--email",
        "second@example.test",
        "--password-file",
        &common::secret_file(PASSWORD),
        "--role",
        "admin",
    ]);
    let res = boss
        .put(format!("{base}/api/b2b/members/{member_id}/roles"))
        .json(&json!({"roles": ["member"]}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);

    // The write grant ended now, not at the next refresh.
    assert_eq!(introspect(&base, &f, at).await["active"], false);
    assert_eq!(
        bearer_get(format!("{base}/api/b2b/notes"), &writer)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh_status(&base, &f, &writer).await,
        StatusCode::BAD_REQUEST
    );
    // A grant the member role still covers is untouched.
    let plain_at = plain["access_token"].as_str().expect("at");
    assert_eq!(introspect(&base, &f, plain_at).await["active"], true);
}
