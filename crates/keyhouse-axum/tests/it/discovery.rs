//! Discovery, JWKS and health.
#![allow(clippy::unwrap_used)]
use crate::common;

use common::get_json;

#[tokio::test]
async fn both_metadata_documents_are_the_same_and_complete() {
    let s = common::spawn().await;
    let oidc = get_json(s.url("/.well-known/openid-configuration")).await;
    let oauth = get_json(s.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(oidc, oauth);
    assert_eq!(oidc["issuer"], s.base.as_str());
    assert_eq!(oidc["authorization_endpoint"], format!("{}/idp", s.base));
    assert_eq!(oidc["token_endpoint"], format!("{}/oauth2/token", s.base));
    assert_eq!(
        oidc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(oidc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        oidc["response_types_supported"],
        serde_json::json!(["code"])
    );
    // docs/threat-model.md row 11: no implicit or password grant is offered.
    let grants = oidc["grant_types_supported"].as_array().unwrap();
    assert!(!grants.iter().any(|g| g == "password" || g == "implicit"));
}

#[tokio::test]
async fn jwks_publishes_current_and_next_keys() {
    let s = common::spawn().await;
    let jwks = get_json(s.url("/.well-known/jwks.json")).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "current and next for RS256 and ES256");
    assert!(
        keys.iter()
            .all(|k| k.get("d").is_none() && k.get("p").is_none()),
        "no private parts"
    );
    let ready = reqwest::get(s.url("/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
}
