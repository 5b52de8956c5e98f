use keyhouse_types::{AuthorizeParams, ClientType, ParamValue};

use super::*;
use crate::client::RefreshPolicy;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client(t: ClientType) -> Client {
    Client {
        id: "c1".into(),
        client_type: t,
        name: "GPT".into(),
        description: String::new(),
        logo_uri: None,
        redirect_uris: vec!["https://chat.example/cb".into()],
        access_token_ttl: 3600,
        refresh_policy: RefreshPolicy::Always,
        created_at: 0,
        audience: None,
        claims_template: None,
        grant_types: crate::client::GrantType::defaults(),
        resource_server: false,
        token_endpoint_auth_method: None,
        origin: crate::client::ClientOrigin::Manual,
        default_scopes: Vec::new(),
        refresh_grace: 0,
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        id_token_alg: crate::client::IdTokenAlg::Rs256,
    }
}

fn params(pairs: &[(&str, &str)]) -> AuthorizeParams {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ParamValue::One((*v).to_owned())))
        .collect()
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "c1"),
        ("redirect_uri", "https://chat.example/cb"),
        ("scope", "openid email"),
        ("state", "xyz"),
    ]
}

fn run(pairs: &[(&str, &str)], t: ClientType) -> Result<ValidatedRequest, ErrorCode> {
    let catalog = ScopeCatalog::default().with_scope("notes:read", "Read notes");
    let resources = vec!["https://api.example/".to_owned()];
    let policy = AuthorizePolicy {
        catalog: &catalog,
        resources: &resources,
        protected: &[],
        default_scopes: &[],
    };
    let c = client(t);
    let raw = RawRequest::from_params(&params(pairs)).map_err(|e| e.code)?;
    let redirect = verify_client_redirect(&raw, &c).map_err(|e| e.code)?;
    validate(&raw, redirect, &c, &policy).map_err(|e| e.error.code)
}

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = base();
    for (k, val) in extra {
        v.retain(|(bk, _)| bk != k);
        v.push((k, val));
    }
    v
}

/// Parameters, client type, expected outcome.
type Case = (
    Vec<(&'static str, &'static str)>,
    ClientType,
    Result<(), ErrorCode>,
);

#[test]
fn pipeline_table() {
    use ClientType::*;
    let table: Vec<Case> = vec![
        (base(), ThirdParty, Ok(())),
        (with(&[("response_type", "code")]), ThirdParty, Ok(())),
        (
            with(&[("response_type", "token")]),
            ThirdParty,
            Err(ErrorCode::UnsupportedResponseType),
        ),
        (
            with(&[("response_type", "id_token")]),
            ThirdParty,
            Err(ErrorCode::UnsupportedResponseType),
        ),
        (
            with(&[("scope", "openid admin")]),
            ThirdParty,
            Err(ErrorCode::InvalidScope),
        ),
        (
            with(&[("scope", "")]),
            ThirdParty,
            Err(ErrorCode::InvalidScope),
        ),
        (base(), ThirdPartyPublic, Err(ErrorCode::InvalidRequest)),
        (
            with(&[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]),
            ThirdPartyPublic,
            Ok(()),
        ),
        (
            with(&[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ]),
            ThirdParty,
            Err(ErrorCode::InvalidRequest),
        ),
        (
            with(&[("code_challenge", CHALLENGE)]),
            ThirdParty,
            Err(ErrorCode::InvalidRequest),
        ),
        (
            with(&[
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ]),
            ThirdParty,
            Err(ErrorCode::InvalidRequest),
        ),
        (
            with(&[("prompt", "none login")]),
            ThirdParty,
            Err(ErrorCode::InvalidRequest),
        ),
        (
            with(&[("max_age", "-1")]),
            ThirdParty,
            Err(ErrorCode::InvalidRequest),
        ),
        (
            with(&[("resource", "https://api.example/")]),
            ThirdParty,
            Ok(()),
        ),
        (
            with(&[("resource", "https://other.example/")]),
            ThirdParty,
            Err(ErrorCode::InvalidTarget),
        ),
        (
            with(&[("request", "eyJ")]),
            ThirdParty,
            Err(ErrorCode::InvalidRequest),
        ),
        // Display errors: before the redirect URI is verified.
        (
            with(&[("redirect_uri", "https://chat.example/cb/")]),
            ThirdParty,
            Err(ErrorCode::InvalidRequest),
        ),
        (
            with(&[("redirect_uri", "")]),
            ThirdParty,
            Err(ErrorCode::InvalidRequest),
        ),
    ];
    for (pairs, t, expected) in table {
        assert_eq!(run(&pairs, t).map(|_| ()), expected, "{pairs:?} {t:?}");
    }
}

#[test]
fn duplicated_parameter_is_refused_before_matching() {
    let mut p = params(&base());
    p.insert(
        "redirect_uri".into(),
        ParamValue::Many(vec![
            "https://chat.example/cb".into(),
            "https://evil.example/".into(),
        ]),
    );
    assert!(RawRequest::from_params(&p).is_err());
}

#[test]
fn response_url_carries_state_and_iss_encoded() {
    let redirect = VerifiedRedirect {
        client_id: "c1".into(),
        redirect_uri: "https://chat.example/cb?keep=1".into(),
        state: Some("a b&c\r\n".into()),
    };
    let url = redirect.response_url("https://idp.example", &[("code", "xyz")]);
    assert_eq!(
        url,
        "https://chat.example/cb?keep=1&code=xyz&state=a+b%26c%0D%0A&iss=https%3A%2F%2Fidp.example"
    );
    let err = redirect.error_url(
        "https://idp.example",
        &OAuthError::bare(ErrorCode::AccessDenied),
    );
    assert!(err.contains("error=access_denied"));
}
