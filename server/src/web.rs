//! Serves the example app's Trunk output (`dist/`): files by path, and
//! `index.html` (200) for the app's routes, with the security headers every
//! HTML page must carry. A file goes out brotli- or gzip-compressed to a
//! browser that accepts it, when the build left `name.br` / `name.gz`
//! beside it (`scripts/precompress.mjs`): nothing is compressed per request.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, IF_MODIFIED_SINCE,
    IF_RANGE, IF_UNMODIFIED_SINCE, RANGE, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The built app: three bundles (see `scripts/build-app.sh`), each with its
/// own `index.html`.
#[derive(Clone, Debug)]
pub struct WebApp {
    dir: PathBuf,
    /// `index.html` of the user-facing bundle.
    main: axum::body::Bytes,
    /// `org/index.html`, `admin/index.html`, when built.
    bundles: Vec<(&'static str, axum::body::Bytes)>,
    csp: HeaderValue,
}

/// The bundles served under a path prefix.
const BUNDLES: [&str; 2] = ["/org", "/admin"];

/// Paths that belong to APIs: never answered with the app's page.
const API_PREFIXES: [&str; 5] = ["/api/", "/oauth2/", "/.well-known/", "/health/", "/openapi"];

impl WebApp {
    /// Loads `dir/index.html`; `None` (with a warning) when the app has not
    /// been built.
    pub fn load(dir: &Path) -> Option<WebApp> {
        let index = match std::fs::read(dir.join("index.html")) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "no built app (run `trunk build`); serving the APIs only");
                return None;
            }
        };
        let mut hashes = inline_script_hashes(&String::from_utf8_lossy(&index));
        let mut bundles = Vec::new();
        for prefix in BUNDLES {
            let file = dir.join(prefix.trim_start_matches('/')).join("index.html");
            match std::fs::read(&file) {
                Ok(b) => {
                    hashes.extend(inline_script_hashes(&String::from_utf8_lossy(&b)));
                    bundles.push((prefix, axum::body::Bytes::from(b)));
                }
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "bundle not built; its pages get the main bundle")
                }
            }
        }
        hashes.sort();
        hashes.dedup();
        let csp = HeaderValue::from_str(&policy(&hashes)).ok()?;
        Some(WebApp {
            dir: dir.to_owned(),
            main: index.into(),
            bundles,
            csp,
        })
    }

    /// The `index.html` of the bundle that serves `path`.
    fn page(&self, path: &str) -> Response {
        let html = self
            .bundles
            .iter()
            .find(|(prefix, _)| path == *prefix || path.starts_with(&format!("{prefix}/")))
            .map_or(&self.main, |(_, html)| html);
        let mut res = (StatusCode::OK, html.clone()).into_response();
        let h = res.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(CONTENT_SECURITY_POLICY, self.csp.clone());
        res
    }
}

/// The page's policy: scripts only from us (plus the hashes of Trunk's
/// inline loader), wasm compilation allowed, never framed (clickjacking on
/// the consent screen, docs/threat-model.md), no plugins, forms and fetches to us
/// only. Client logos come through Keyhouse, from this origin.
fn policy(script_hashes: &[String]) -> String {
    let mut script_src = String::from("'self' 'wasm-unsafe-eval'");
    for h in script_hashes {
        script_src.push_str(&format!(" 'sha256-{h}'"));
    }
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// base64 SHA-256 of each inline `<script>` body (CSP Level 2 hash sources).
fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let tag = &after[..tag_end];
        let body_and_more = &after[tag_end + 1..];
        let Some(close) = body_and_more.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            let digest = Sha256::digest(&body_and_more.as_bytes()[..close]);
            out.push(base64::engine::general_purpose::STANDARD.encode(digest));
        }
        rest = &body_and_more[close..];
    }
    out
}

/// Trunk names built assets `name-<16 hex>.ext`: safe to cache forever.
fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.trim_end_matches("_bg");
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn not_found() -> Response {
    let body = keyhouse_types::ErrorBody::new("not_found", Some("no such endpoint".into()));
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// The fallback of the whole server.
pub async fn fallback(State(web): State<Option<WebApp>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(web) = web else { return not_found() };
    if (req.method() != Method::GET && req.method() != Method::HEAD)
        || API_PREFIXES.iter().any(|p| path.starts_with(p))
    {
        return not_found();
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    // A percent-encoded segment is a route parameter (an agent's client id
    // is a URL, `/admin/apps/https%3A%2F%2F…%2Fclient.json`); built files
    // never have one in their names.
    if !last.contains('.') || last.contains('%') || last == "index.html" {
        // An app route: the router in the page decides what to show.
        return web.page(&path);
    }
    // A file. Reject anything that could step outside dist/.
    if path.split('/').any(|seg| seg == ".." || seg.contains('\\')) {
        return not_found();
    }
    let file = web.dir.join(path.trim_start_matches('/'));
    // Only a built file, not a directory, and not a compressed copy whose
    // original is gone (the file service would serve either).
    if !tokio::fs::metadata(&file).await.is_ok_and(|m| m.is_file()) {
        return not_found();
    }
    // What the file service reads: the method, the path, and the headers
    // that choose an encoding or a range. It ignores `If-Range`, so a range
    // that depends on one is not passed on: the whole file answers, which
    // HTTP allows, instead of a piece of a newer file.
    let mut builder = Request::builder()
        .method(req.method().clone())
        .uri(req.uri().clone());
    let if_range = req.headers().contains_key(IF_RANGE);
    for name in [
        ACCEPT_ENCODING,
        RANGE,
        IF_MODIFIED_SINCE,
        IF_UNMODIFIED_SINCE,
    ] {
        if name == RANGE && if_range {
            continue;
        }
        if let Some(v) = req.headers().get(&name) {
            builder = builder.header(name, v.clone());
        }
    }
    let Ok(req) = builder.body(Body::empty()) else {
        return not_found();
    };
    let served = ServeFile::new(&file)
        .precompressed_br()
        .precompressed_gzip()
        .oneshot(req)
        .await;
    match served {
        Ok(res) if res.status() == StatusCode::NOT_FOUND => not_found(),
        Ok(mut res) => {
            let status = res.status();
            let cache = if !matches!(status.as_u16(), 200 | 206 | 304) {
                if status.is_server_error() {
                    tracing::warn!(%status, path, "static file");
                }
                "no-store"
            } else if is_hashed(&path) {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            let h = res.headers_mut();
            h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
            // The same URL answers differently by Accept-Encoding: caches
            // between us and the browser must keep the answers apart.
            h.insert(VARY, HeaderValue::from_static("accept-encoding"));
            res.into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, path, "static file");
            not_found()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_only_inline_scripts() {
        let html = r#"<script src="/a.js"></script><script type="module">import init from '/x.js';</script>"#;
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 1);
        let expected = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(b"import init from '/x.js';"));
        assert_eq!(hashes[0], expected);
        let p = policy(&hashes);
        assert!(p.contains("frame-ancestors 'none'") && p.contains("'wasm-unsafe-eval'"));
        assert!(p.contains(&format!("'sha256-{expected}'")));
    }

    #[test]
    fn hashed_names() {
        assert!(is_hashed("/keyhouse-app-0123456789abcdef_bg.wasm"));
        assert!(is_hashed("/keyhouse-app-0123456789abcdef.js"));
        assert!(!is_hashed("/robots.txt"));
    }
}
