//! The token endpoint's input: `Form::from_pairs` over a form-urlencoded body
//! (as `keyhouse-axum` feeds it), `TokenRequest::parse` and
//! `ClientAuth::extract`.
//!
//! Input: the first line is the `Authorization` header (empty: none), the
//! rest the request body.
//!
//! Invariants: a form is accepted exactly when it has at most
//! `MAX_FORM_PARAMS` pairs and no repeated name; an accepted form gives back
//! each value it was given (empty meaning absent); a parsed grant carries the
//! form's own values; client authentication never mixes methods and never
//! yields an empty client id.
#![no_main]

use std::collections::BTreeSet;

use keyhouse_core::ErrorCode;
use keyhouse_core::token::{ClientAuth, Form, MAX_FORM_PARAMS, TokenRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let header = std::str::from_utf8(header).ok().filter(|h| !h.is_empty());

    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let distinct: BTreeSet<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let acceptable = pairs.len() <= MAX_FORM_PARAMS && distinct.len() == pairs.len();

    let form = match Form::from_pairs(pairs.clone()) {
        Ok(form) => {
            assert!(
                acceptable,
                "{} pairs, {} distinct names",
                pairs.len(),
                distinct.len()
            );
            form
        }
        Err(e) => {
            assert!(!acceptable, "refused: {e:?}");
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            return;
        }
    };
    for (k, v) in &pairs {
        let expected = Some(v.as_str()).filter(|v| !v.is_empty());
        assert_eq!(form.get(k), expected, "{k:?}");
    }

    match TokenRequest::parse(&form) {
        Ok(TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resource,
        }) => {
            assert_eq!(form.get("grant_type"), Some("authorization_code"));
            assert_eq!(form.get("code"), Some(code.as_str()));
            assert_eq!(form.get("redirect_uri"), redirect_uri.as_deref());
            assert_eq!(form.get("code_verifier"), code_verifier.as_deref());
            assert_eq!(form.get("resource"), resource.as_deref());
        }
        Ok(TokenRequest::RefreshToken {
            refresh_token,
            scope,
        }) => {
            assert_eq!(form.get("grant_type"), Some("refresh_token"));
            assert_eq!(form.get("refresh_token"), Some(refresh_token.as_str()));
            assert_eq!(form.get("scope").is_some(), scope.is_some());
        }
        Ok(TokenRequest::ClientCredentials { scope, resource }) => {
            assert_eq!(form.get("grant_type"), Some("client_credentials"));
            assert_eq!(form.get("scope").is_some(), scope.is_some());
            assert_eq!(form.get("resource"), resource.as_deref());
        }
        Err(e) => assert!(
            matches!(
                e.code,
                ErrorCode::InvalidRequest
                    | ErrorCode::UnsupportedGrantType
                    | ErrorCode::InvalidScope
            ),
            "{e:?}"
        ),
    }

    let post_id = form.get("client_id");
    let post_secret = form.get("client_secret");
    match ClientAuth::extract(header, &form) {
        Ok(auth) => {
            assert!(!auth.client_id().is_empty());
            match &auth {
                ClientAuth::Basic { client_id, .. } => {
                    assert!(header.is_some());
                    assert!(post_secret.is_none(), "two authentication methods accepted");
                    assert!(post_id.is_none_or(|id| id == client_id));
                    assert!(auth.secret().is_some());
                }
                ClientAuth::Post { client_id, secret } => {
                    assert!(header.is_none());
                    assert_eq!(post_id, Some(client_id.as_str()));
                    assert_eq!(post_secret, Some(secret.as_str()));
                }
                ClientAuth::None { client_id } => {
                    assert!(header.is_none() && post_secret.is_none());
                    assert_eq!(post_id, Some(client_id.as_str()));
                    assert!(auth.secret().is_none());
                }
            }
            // The Debug form never shows the secret: it is exactly this.
            let method = match &auth {
                ClientAuth::Basic { .. } => "client_secret_basic",
                ClientAuth::Post { .. } => "client_secret_post",
                ClientAuth::None { .. } => "none",
            };
            assert_eq!(
                format!("{auth:?}"),
                format!(
                    "ClientAuth({method}, {}, secret: [redacted])",
                    auth.client_id()
                )
            );
        }
        Err(e) => assert_eq!(e.code, ErrorCode::InvalidClient, "{e:?}"),
    }
});
