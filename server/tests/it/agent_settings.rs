//! What operators change about agents at run time, through the real
//! binary: the metadata-document policy and protected resources, by the
//! admin API (an admin API key) and by the command line, seen by a running
//! server and by discovery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use reqwest::StatusCode;
use serde_json::{Value, json};

async fn call(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let res = req.send().await.expect("send");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn operators_set_the_agent_policy_and_resources_by_api_and_command_line() {
    let env = common::env().await;
    let key = env.admin_key("ci");
    let (_server, base) = env.serve().await;
    let http = reqwest::Client::new();
    let admin = |req: reqwest::RequestBuilder| call(req.bearer_auth(&key));

    // Nobody else may read or change it.
    let (status, _) = call(http.get(format!("{base}/api/admin/agents/settings"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        http.put(format!("{base}/api/admin/agents/policy"))
            .json(&json!({"metadata_documents": false})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, s) = admin(http.get(format!("{base}/api/admin/agents/settings"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["policy_source"], "configuration");
    assert_eq!(s["policy"]["metadata_documents"], true);

    let (status, change) = admin(http.put(format!("{base}/api/admin/agents/policy")).json(
        &json!({"metadata_documents": true, "allowed_domains": ["claude.ai", "*.vscode.dev"]}),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    assert_eq!(change["settings"]["policy_source"], "admin");
    let (status, err) = admin(
        http.put(format!("{base}/api/admin/agents/policy"))
            .json(&json!({"metadata_documents": true, "denied_domains": ["not a host"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_request");

    // The command line sees what the API set, and switches documents off.
    let shown = env.ok(&["agents", "policy"]);
    assert!(
        shown.contains("allowed domains: claude.ai,*.vscode.dev"),
        "{shown}"
    );
    assert!(shown.contains("policy from: admin"), "{shown}");
    env.ok(&["agents", "policy", "--metadata-documents", "off"]);
    // The server reads it again within two seconds.
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let meta = common::get_json(format!("{base}/.well-known/oauth-authorization-server")).await;
    assert_eq!(meta["client_id_metadata_document_supported"], false);
    let (_, reset) = admin(http.delete(format!("{base}/api/admin/agents/policy"))).await;
    assert_eq!(reset["settings"]["policy_source"], "configuration");
    assert_eq!(reset["settings"]["policy"]["metadata_documents"], true);

    // Resources: by the API, then removed by the command line.
    let files = format!("{base}/files");
    let (status, view) = admin(
        http.put(format!("{base}/api/admin/resources"))
            .json(&json!({
                "uri": files, "name": "Files API",
                "scopes": ["notes:read"], "default_scopes": ["notes:read"],
            })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["source"], "admin");
    let prm = common::get_json(format!("{base}/.well-known/oauth-protected-resource/files")).await;
    assert_eq!(prm["resource"], json!(files));
    let (status, err) = admin(
        http.put(format!("{base}/api/admin/resources"))
            .json(&json!({
                "uri": format!("{base}/mcp"), "name": "Mine now",
            })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    // The command line knows the application's resources from the issuer
    // it is given, like the server.
    let listed = env.ok(&["--issuer", &base, "resources", "list"]);
    assert!(
        listed.contains(&format!("{files}\tadmin\tFiles API")),
        "{listed}"
    );
    assert!(listed.contains(&format!("{base}/mcp\tcode")), "{listed}");
    env.ok(&["resources", "remove", &files]);
    let (status, _) = admin(http.delete(format!(
        "{base}/api/admin/resources?uri={}",
        url::form_urlencoded::byte_serialize(files.as_bytes()).collect::<String>()
    )))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "already removed");
    let out = env.run(&[
        "resources",
        "add",
        "http://files.example.test/api",
        "--name",
        "Files",
    ]);
    assert!(!out.status.success(), "http off loopback is refused");

    // Every change is in the audit log.
    let (_, audit) = admin(http.get(format!("{base}/api/admin/audit?limit=50"))).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "agents.policy_changed",
        "agents.policy_reset",
        "resource.registered",
        "resource.removed",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}
