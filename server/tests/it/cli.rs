//! The `keyhouse` command line, in the exact forms other tools rely on, on
//! SQLite or (with `KEYHOUSE_TEST_DB=postgres`) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::env;
use serde_json::Value;

#[tokio::test]
async fn clients_create_list_delete() {
    let e = env().await;
    let created: Value = serde_json::from_str(&e.ok(&[
        "clients",
        "create",
        "--name",
        "My GPT",
        "--type",
        "third_party",
        "--redirect-uri",
        "https://chat.openai.com/aip/g-1/oauth/callback",
        "--redirect-uri",
        "https://chatgpt.com/aip/g-1/oauth/callback",
        "--json",
    ]))
    .unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(created["client_secret"].as_str().map(str::len), Some(43));
    let public: Value = serde_json::from_str(&e.ok(&[
        "clients",
        "create",
        "--name",
        "CLI app",
        "--type",
        "first_party_public",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--json",
    ]))
    .unwrap();
    assert!(
        public.get("client_secret").is_none(),
        "public clients have no secret"
    );

    let list: Value = serde_json::from_str(&e.ok(&["clients", "list", "--json"])).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id.as_str()));
    assert_eq!(ids.len(), 2);
    assert!(
        !e.ok(&["clients", "list", "--json"])
            .contains(created["client_secret"].as_str().unwrap())
    );

    e.ok(&["clients", "delete", &id]);
    let list: Value = serde_json::from_str(&e.ok(&["clients", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !e.run(&["clients", "delete", &id]).status.success(),
        "deleting twice fails"
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_a_message() {
    let e = env().await;
    let table: [&[&str]; 4] = [
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--type",
            "fourth_party",
            "--redirect-uri",
            "https://a.example/cb",
        ],
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--type",
            "third_party",
            "--redirect-uri",
            "javascript:alert(1)",
        ],
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--type",
            "third_party",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        &[
            "users",
            "create",
            "--email",
            "not-an-email",
            "--password-file",
            &common::secret_file("long enough password"),
        ],
    ];
    for args in table {
        let out = e.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!out.stderr.is_empty(), "{args:?} should say why");
    }
    let list: Value = serde_json::from_str(&e.ok(&["clients", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0, "no half-written client");
}

/// `--id-token-alg` on `clients create` and `clients update`: the client's
/// ID tokens are signed with it; `none` and HMAC are refused with a message
/// and write nothing.
#[tokio::test]
async fn the_id_token_algorithm_is_chosen_on_the_command_line() {
    let e = env().await;
    let redirect = "https://agent.example/callback";
    let agent = common::register_agent(&e, "EdDSA agent", redirect, &["--id-token-alg", "EdDSA"]);
    let show = |e: &common::Env| -> Value {
        serde_json::from_str(&e.ok(&["clients", "show", &agent.client_id])).unwrap()
    };
    assert_eq!(show(&e)["id_token_signed_response_alg"], "EdDSA");
    let plain = common::register_agent(&e, "Plain agent", redirect, &[]);
    let plain_shown: Value =
        serde_json::from_str(&e.ok(&["clients", "show", &plain.client_id])).unwrap();
    assert_eq!(plain_shown["id_token_signed_response_alg"], "RS256");

    let (_server, base) = e.serve().await;
    let browser = common::signed_up(&e, &base, "ada@example.com").await;
    let t = common::code_flow(
        &base,
        &browser,
        common::Side::Users,
        &agent,
        redirect,
        "openid",
        None,
    )
    .await;
    let id_token = t["id_token"].as_str().expect("id_token");
    let header: Value = {
        use base64::Engine;
        let part = id_token.split('.').next().unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    assert_eq!(header["alg"], "EdDSA", "{header}");

    e.ok(&[
        "clients",
        "update",
        &agent.client_id,
        "--id-token-alg",
        "ES256",
    ]);
    assert_eq!(show(&e)["id_token_signed_response_alg"], "ES256");
    for bad in ["none", "HS256", "eddsa"] {
        let out = e.run(&["clients", "update", &agent.client_id, "--id-token-alg", bad]);
        assert!(!out.status.success(), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("RS256, ES256 or EdDSA"));
        let out = e.run(&[
            "clients",
            "create",
            "--name",
            "x",
            "--type",
            "third_party",
            "--redirect-uri",
            redirect,
            "--id-token-alg",
            bad,
        ]);
        assert!(!out.status.success(), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("RS256, ES256 or EdDSA"));
    }
    assert_eq!(show(&e)["id_token_signed_response_alg"], "ES256");
    let list: Value = serde_json::from_str(&e.ok(&["clients", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "nothing half-written");
}

#[tokio::test]
async fn users_keys_migrate_and_serve() {
    let e = env().await;
    e.ok(&["migrate"]);
    e.ok(&[
        "users",
        "create",
        "--email",
        "ada@example.com",
        "--password-file",
        &common::secret_file("correct horse"),
        "--name",
        "Ada",
    ]);
    assert!(
        !e.run(&[
            "users",
            "create",
            "--email",
            "ADA@example.com",
            "--password-file",
            &common::secret_file("correct horse")
        ])
        .status
        .success()
    );
    let listed = |e: &common::Env| -> Vec<Value> {
        serde_json::from_str::<Value>(&e.ok(&["keys", "list", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let before = listed(&e);
    e.ok(&["keys", "rotate"]);
    let after = listed(&e);
    for alg in ["RS256", "ES256", "EdDSA"] {
        let of = |keys: &[Value], state: &str| -> Vec<String> {
            keys.iter()
                .filter(|k| k["alg"] == alg && k["state"] == state)
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        // The published next key signs now; the old one is retiring, with
        // a time to leave the JWKS; a fresh next key is published.
        assert_eq!(of(&after, "current"), of(&before, "next"), "{alg}");
        assert_eq!(of(&after, "retiring"), of(&before, "current"), "{alg}");
        assert_eq!(of(&after, "next").len(), 1);
        assert!(!of(&before, "next").contains(&of(&after, "next")[0]));
        assert!(
            after
                .iter()
                .filter(|k| k["state"] == "retiring")
                .all(|k| k["retire_at"].as_i64().unwrap() > k["activated_at"].as_i64().unwrap())
        );
    }
    let text = e.ok(&["keys", "list"]);
    assert!(
        text.contains("retiring") && text.contains("leaves the JWKS"),
        "{text}"
    );

    let (mut child, base) = e.serve().await;
    let doc: Option<Value> =
        match reqwest::get(format!("{base}/.well-known/openid-configuration")).await {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
    let jwks: Option<Value> = match reqwest::get(format!("{base}/.well-known/jwks.json")).await {
        Ok(r) => r.json().await.ok(),
        Err(_) => None,
    };
    let login = reqwest::Client::new()
        .post(format!("{base}/api/session/login"))
        .json(&serde_json::json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .map(|r| r.status().as_u16());
    child.kill();
    let doc = doc.expect("discovery answered");
    assert_eq!(
        doc["issuer"],
        base.as_str(),
        "issuer defaults to the bind address"
    );
    // After one rotation: retiring, current and next for three algorithms.
    assert_eq!(
        jwks.expect("jwks")["keys"].as_array().map(Vec::len),
        Some(9)
    );
    assert_eq!(login.ok(), Some(200), "the CLI-created user can log in");
}

#[tokio::test]
async fn agent_domains_are_blocked_and_unblocked_from_the_command_line() {
    let env = common::env().await;
    let out = env.ok(&["agents", "block", "Agent.Example"]);
    assert!(out.contains("blocked Agent.Example; 0 client(s)"), "{out}");
    assert_eq!(env.ok(&["agents", "blocked"]).trim(), "agent.example");
    let bad = env.run(&["agents", "block", "not a domain"]);
    assert!(!bad.status.success());
    env.ok(&["agents", "unblock", "agent.example"]);
    assert_eq!(env.ok(&["agents", "blocked"]).trim(), "");
    assert!(
        !env.run(&["agents", "unblock", "agent.example"])
            .status
            .success()
    );
}

#[tokio::test]
async fn an_operator_sets_what_an_organization_asks_of_its_members() {
    let e = env().await;
    e.ok(&["orgs", "create", "--name", "Acme Inc", "--slug", "acme"]);
    let required = |e: &common::Env| -> String {
        let list: Value = serde_json::from_str(&e.ok(&["orgs", "list", "--json"])).unwrap();
        list[0]["required_sign_in"].as_str().unwrap().to_owned()
    };
    assert_eq!(required(&e), "one_factor");
    let out = e.ok(&[
        "orgs",
        "set-sign-in",
        "--org",
        "acme",
        "--require",
        "passkey",
    ]);
    assert!(out.contains("passkey"), "{out}");
    assert_eq!(required(&e), "passkey");
    // The way back, when no admin can meet it any more.
    e.ok(&[
        "orgs",
        "set-sign-in",
        "--org",
        "acme",
        "--require",
        "one_factor",
    ]);
    assert_eq!(required(&e), "one_factor");
    for args in [
        [
            "orgs",
            "set-sign-in",
            "--org",
            "acme",
            "--require",
            "retina",
        ],
        [
            "orgs",
            "set-sign-in",
            "--org",
            "nowhere",
            "--require",
            "passkey",
        ],
    ] {
        let out = e.run(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!out.stderr.is_empty(), "{args:?} should say why");
    }
    assert_eq!(required(&e), "one_factor");
}
