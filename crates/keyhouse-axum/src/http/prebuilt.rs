//! Documents that change rarely and are read often (JWKS, discovery),
//! serialised once and answered as bytes, with an entity tag: a client that
//! already holds them gets `304 Not Modified` and no body.

use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A JSON document's bytes and their strong entity tag (RFC 9110 §8.8.3).
#[derive(Clone, Debug)]
pub(crate) struct Prebuilt {
    body: Bytes,
    etag: HeaderValue,
    cache_control: HeaderValue,
}

impl Prebuilt {
    /// `value` serialised once; clients and caches may keep it `max_age`
    /// seconds.
    pub(crate) fn json(value: &serde_json::Value, max_age: u32) -> Prebuilt {
        // Serialising a `Value` cannot fail.
        let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
        let digest = Sha256::digest(&body);
        let tag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]));
        Prebuilt {
            body,
            // Base64url and quotes: always a valid header value.
            etag: HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\"")),
            cache_control: HeaderValue::from_str(&format!("public, max-age={max_age}"))
                .unwrap_or(HeaderValue::from_static("no-cache")),
        }
    }

    /// The document, or `304` when the request's `If-None-Match` names it.
    pub(crate) fn respond(&self, request: &HeaderMap) -> Response {
        let mut res = if self.matches(request) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut res = self.body.clone().into_response();
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            res
        };
        let h = res.headers_mut();
        h.insert(ETAG, self.etag.clone());
        h.insert(CACHE_CONTROL, self.cache_control.clone());
        res
    }

    /// Whether `If-None-Match` lists this tag (weakly compared, as RFC 9110
    /// §13.1.2 asks) or is `*`.
    fn matches(&self, request: &HeaderMap) -> bool {
        let ours = self.etag.as_bytes();
        request
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(inm: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, HeaderValue::from_str(inm).expect("value"));
        h
    }

    #[test]
    fn answers_304_only_for_its_own_tag() {
        let doc = Prebuilt::json(&json!({"keys": []}), 60);
        let first = doc.respond(&HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[ETAG].to_str().expect("ascii").to_owned();
        assert!(
            tag.starts_with('"') && tag.ends_with('"') && tag.len() > 10,
            "{tag}"
        );
        assert_eq!(first.headers()[CACHE_CONTROL], "public, max-age=60");
        assert_eq!(first.headers()[CONTENT_TYPE], "application/json");
        for inm in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"other\", {tag}"),
            "*".to_owned(),
        ] {
            let res = doc.respond(&with(&inm));
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{inm}");
            assert_eq!(res.headers()[ETAG], tag.as_str());
        }
        for inm in ["\"other\"", "", "W/\"x\""] {
            assert_eq!(doc.respond(&with(inm)).status(), StatusCode::OK, "{inm}");
        }
        // Another document, another tag: a client holding the old one gets
        // the new one.
        let next = Prebuilt::json(&json!({"keys": [{"kid": "k2"}]}), 60);
        assert_eq!(next.respond(&with(&tag)).status(), StatusCode::OK);
    }
}
