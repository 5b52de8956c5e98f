//! The authorization request: `RawRequest::from_params`,
//! `verify_client_redirect`, `validate`, and the redirect URLs built from
//! the result.
//!
//! Input: either the JSON body the consent page posts (`AuthorizeParams`,
//! starts with `{`), or a query string read the way `idp-component` reads
//! the page URL (repeated names kept as lists). Each input runs against a
//! confidential and a public client.
//!
//! Invariants: a repeated parameter is always refused before anything else;
//! a verified redirect is a registered URI (byte-exact, or a loopback port
//! change for the public client) with the request's own `state`; a
//! validated request satisfies every rule (`response_type=code`, known
//! non-empty scopes, S256 PKCE and PKCE for public clients, `prompt=none`
//! alone, `max_age >= 0`, a served resource, bounded `state` and `nonce`);
//! and the response and error URLs keep the redirect URI's origin and path
//! and carry exactly one `iss`, one `error` and at most one `state`.
#![no_main]

use keyhouse_core::authorize::{
    AuthorizePolicy, MAX_PARAM_LEN, RawRequest, validate, verify_client_redirect,
};
use keyhouse_core::client::{Client, GrantType, RefreshPolicy};
use keyhouse_core::pkce;
use keyhouse_core::{ErrorCode, OAuthError, ScopeCatalog};
use keyhouse_types::{AuthorizeParams, ClientType, ParamValue};
use libfuzzer_sys::fuzz_target;
use url::Url;

const ISSUER: &str = "https://idp.example";

fn client(client_type: ClientType) -> Client {
    Client {
        id: "c1".into(),
        client_type,
        name: "Fuzz".into(),
        description: String::new(),
        logo_uri: None,
        redirect_uris: vec![
            "https://chat.example/cb".into(),
            "https://chat.example/cb?x=1".into(),
            "http://127.0.0.1/cb".into(),
            "http://[::1]:8080/cb".into(),
            "com.example.app:/cb".into(),
        ],
        access_token_ttl: 3600,
        refresh_policy: RefreshPolicy::OfflineAccess,
        created_at: 0,
        audience: None,
        claims_template: None,
        grant_types: GrantType::defaults(),
        resource_server: false,
        token_endpoint_auth_method: None,
    }
}

/// `idp-component`'s `parse_query`.
fn parse_query(query: &[u8]) -> AuthorizeParams {
    let query = query.strip_prefix(b"?").unwrap_or(query);
    let mut params = AuthorizeParams::new();
    for (k, v) in form_urlencoded::parse(query) {
        let (k, v) = (k.into_owned(), v.into_owned());
        let value = match params.remove(&k) {
            None => ParamValue::One(v),
            Some(ParamValue::One(first)) => ParamValue::Many(vec![first, v]),
            Some(ParamValue::Many(mut all)) => {
                all.push(v);
                ParamValue::Many(all)
            }
        };
        params.insert(k, value);
    }
    params
}

fuzz_target!(|data: &[u8]| {
    let params = if data.first() == Some(&b'{') {
        match serde_json::from_slice::<AuthorizeParams>(data) {
            Ok(p) => p,
            Err(_) => return,
        }
    } else {
        parse_query(data)
    };

    let single = params.values().all(|v| {
        matches!(v, ParamValue::One(_)) || matches!(v, ParamValue::Many(l) if l.len() == 1)
    });
    let raw = match RawRequest::from_params(&params) {
        Ok(raw) => {
            assert!(single, "a repeated parameter was accepted");
            raw
        }
        Err(e) => {
            assert!(!single, "refused without a repeat: {e:?}");
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            return;
        }
    };
    for (k, v) in &params {
        let v = match v {
            ParamValue::One(v) => v,
            ParamValue::Many(l) => &l[0],
        };
        assert_eq!(
            raw.get(k),
            Some(v.as_str()).filter(|v| !v.is_empty()),
            "{k:?}"
        );
    }

    let catalog = ScopeCatalog::default().with_scope("notes:read", "Read your notes");
    let resources = vec!["https://api.example/".to_owned()];
    let policy = AuthorizePolicy {
        catalog: &catalog,
        resources: &resources,
    };
    for client_type in [ClientType::ThirdParty, ClientType::ThirdPartyPublic] {
        let c = client(client_type);
        check(&raw, &c, &policy);
    }
});

fn check(raw: &RawRequest, c: &Client, policy: &AuthorizePolicy<'_>) {
    let redirect = match verify_client_redirect(raw, c) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            return;
        }
    };
    let requested = raw
        .get("redirect_uri")
        .expect("verified without a redirect_uri");
    assert_eq!(redirect.redirect_uri, requested);
    assert_eq!(redirect.client_id, c.id);
    assert_eq!(redirect.state.as_deref(), raw.get("state"));
    assert!(
        redirect
            .state
            .as_ref()
            .is_none_or(|s| s.len() <= MAX_PARAM_LEN)
    );
    if !c.is_public() || !requested.starts_with("http://") {
        assert!(
            c.redirect_uris.iter().any(|r| r == requested),
            "{requested:?} is not registered"
        );
    }
    check_urls(&redirect, &OAuthError::invalid_request("fuzz"));

    match validate(raw, redirect.clone(), c, policy) {
        Ok(v) => {
            assert_eq!(v.redirect, redirect);
            assert!(matches!(raw.get("response_type"), None | Some("code")));
            assert!(matches!(raw.get("response_mode"), None | Some("query")));
            assert!(raw.get("request").is_none() && raw.get("request_uri").is_none());
            assert!(!v.scopes.is_empty());
            assert!(policy.catalog.check_known(&v.scopes).is_ok());
            match &v.code_challenge {
                Some(ch) => {
                    assert!(pkce::valid_challenge(ch));
                    assert_eq!(raw.get("code_challenge_method"), Some("S256"));
                    assert_eq!(raw.get("code_challenge"), Some(ch.as_str()));
                }
                None => {
                    assert!(!c.is_public(), "public client without PKCE");
                    assert!(raw.get("code_challenge_method").is_none());
                }
            }
            assert!(!(v.prompt.none && (v.prompt.login || v.prompt.consent)));
            assert!(v.max_age.is_none_or(|a| a >= 0));
            assert!(
                v.resource
                    .as_ref()
                    .is_none_or(|r| policy.resources.contains(r))
            );
            assert_eq!(v.resource.as_deref(), raw.get("resource"));
            assert!(v.nonce.as_ref().is_none_or(|n| n.len() <= MAX_PARAM_LEN));
            check_urls(&v.redirect, &OAuthError::new(ErrorCode::AccessDenied, "no"));
        }
        Err(e) => {
            assert_eq!(e.redirect, redirect);
            check_urls(&e.redirect, &e.error);
        }
    }
}

fn check_urls(redirect: &keyhouse_core::authorize::VerifiedRedirect, error: &OAuthError) {
    let base = Url::parse(&redirect.redirect_uri).expect("a matched redirect URI parses");
    let base_pairs: Vec<(String, String)> = base.query_pairs().into_owned().collect();
    for (url, with_error) in [
        (redirect.error_url(ISSUER, error), true),
        (redirect.response_url(ISSUER, &[("code", "abc")]), false),
    ] {
        let got = Url::parse(&url).unwrap_or_else(|e| panic!("{url:?}: {e}"));
        assert_eq!(got.scheme(), base.scheme(), "{url}");
        assert_eq!(got.host(), base.host(), "{url}");
        assert_eq!(got.port(), base.port(), "{url}");
        assert_eq!(got.path(), base.path(), "{url}");
        assert_eq!(got.fragment(), None, "{url}");
        let pairs: Vec<(String, String)> = got.query_pairs().into_owned().collect();
        assert!(pairs.starts_with(&base_pairs), "{url}");
        let count = |name: &str| pairs.iter().filter(|(k, _)| k == name).count();
        let value = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(count("iss"), 1, "{url}");
        assert_eq!(value("iss"), Some(ISSUER));
        assert_eq!(
            count("state"),
            usize::from(redirect.state.is_some()),
            "{url}"
        );
        assert_eq!(value("state"), redirect.state.as_deref(), "{url}");
        if with_error {
            assert_eq!(count("error"), 1, "{url}");
            assert_eq!(value("error"), Some(error.code.as_str()));
        } else {
            assert_eq!(count("code"), 1, "{url}");
        }
    }
}
