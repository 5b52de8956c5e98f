//! Serves the example app's Trunk output (`dist/`): files by path, and
//! `index.html` (200) for the app's routes, with the security headers every
//! HTML page must carry. A file goes out brotli- or gzip-compressed to a
//! browser that accepts it, when the build left `name.br` / `name.gz`
//! beside it (`scripts/precompress.mjs`): nothing is compressed per request.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, IF_MODIFIED_SINCE,
    IF_RANGE, IF_UNMODIFIED_SINCE, RANGE, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use keyhouse_axum::Keyhouse;
use keyhouse_idp_component::params::parse_query;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The built app: five bundles (see `scripts/build-app.sh`), each with its
/// own `index.html`.
#[derive(Clone, Debug)]
pub struct WebApp {
    dir: PathBuf,
    /// `index.html` of the user-facing bundle.
    main: axum::body::Bytes,
    /// `org/index.html`, `admin/index.html`, when built.
    bundles: Vec<(&'static str, axum::body::Bytes)>,
    csp: HeaderValue,
    /// Answers the consent pages' start in the page (see [`WebApp::serving`]).
    kh: Option<Keyhouse>,
}

/// How long the consent page waits for the start's answer to put in it;
/// past it the page goes out without, and the component asks the API (a
/// client identified by a metadata document may be fetching it).
const ANSWER_BUDGET: Duration = Duration::from_millis(250);

/// The bundles served under a path prefix, the longest first (`/org/idp`
/// is its own bundle inside `/org`'s).
const BUNDLES: [&str; 4] = ["/org/idp", "/org", "/admin", "/idp"];

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
        let mut style_hashes = Vec::new();
        let mut bundles = Vec::new();
        for prefix in BUNDLES {
            let file = dir.join(prefix.trim_start_matches('/')).join("index.html");
            match std::fs::read(&file) {
                Ok(b) => {
                    let mut html = String::from_utf8_lossy(&b).into_owned();
                    hashes.extend(inline_script_hashes(&html));
                    // The consent pages carry their styles: a person on a
                    // slow link sees the server's paint one round trip
                    // sooner (the stylesheets would block it).
                    if CONSENT_PAGES.contains(&prefix) {
                        html = inline_stylesheets(dir, &html, &mut style_hashes);
                    }
                    bundles.push((prefix, axum::body::Bytes::from(html)));
                }
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "bundle not built; its pages get the main bundle")
                }
            }
        }
        hashes.sort();
        hashes.dedup();
        style_hashes.sort();
        style_hashes.dedup();
        let csp = HeaderValue::from_str(&policy(&hashes, &style_hashes)).ok()?;
        Some(WebApp {
            dir: dir.to_owned(),
            main: index.into(),
            bundles,
            csp,
            kh: None,
        })
    }

    /// Puts in `/idp` and `/org/idp` what the authorize API's start answers
    /// that browser (a data block the component uses instead of asking),
    /// and, for a consent screen, the screen itself rendered on the server,
    /// so the person sees who is asking before the wasm has loaded.
    pub fn serving(mut self, kh: Keyhouse) -> WebApp {
        self.kh = Some(kh);
        self
    }

    /// `/idp` or `/org/idp`: the bundle's page with the start's answer in
    /// it. It carries the signed-in person's request, so no cache keeps it.
    async fn consent_page(&self, kh: &Keyhouse, req: Request, members: bool) -> Response {
        let (parts, _) = req.into_parts();
        let path = parts.uri.path().to_owned();
        // Only for the page a person opens: not for a prefetch, a link
        // checker's fetch or a subresource (a browser says which).
        let navigation = parts
            .headers
            .get("sec-fetch-mode")
            .is_none_or(|mode| mode == "navigate");
        if !navigation {
            return self.page(&path);
        }
        let page = parts
            .uri
            .path_and_query()
            .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
        let params = parse_query(parts.uri.query().unwrap_or_default());
        // Past the budget the page goes without it, and the work stops with
        // the request (the component asks the API, as it would have).
        let answer = match tokio::time::timeout(
            ANSWER_BUDGET,
            kh.authorize_start_in_page(&parts, &page, &params, members),
        )
        .await
        {
            Ok(answer) => answer,
            Err(_) => {
                tracing::info!(
                    path,
                    "the consent page's answer is late: the page goes without"
                );
                return self.page(&path);
            }
        };
        // A rendering bug must cost the paint, not the page.
        let paint = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            keyhouse_app::first_paint(&answer)
        }))
        .unwrap_or_else(|_| {
            tracing::error!(
                path,
                "the consent page's paint failed: the page goes without"
            );
            None
        });
        let mut res = self.page_with(&path, &answer.to_html(), paint.as_deref().unwrap_or(""));
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    /// The `index.html` of the bundle that serves `path`.
    fn page(&self, path: &str) -> Response {
        self.page_with(path, "", "")
    }

    /// The `index.html` of the bundle that serves `path`, with `head` (HTML)
    /// last in its head and `body` first in its body. A consent page's
    /// bundle serves that page only; paths below it get the main bundle's.
    fn page_with(&self, path: &str, head: &str, body: &str) -> Response {
        let html = self
            .bundles
            .iter()
            .find(|(prefix, _)| {
                path == *prefix
                    || (!CONSENT_PAGES.contains(prefix) && path.starts_with(&format!("{prefix}/")))
            })
            .map_or(&self.main, |(_, html)| html);
        let html = if head.is_empty() && body.is_empty() {
            html.clone()
        } else {
            let text = String::from_utf8_lossy(html);
            match (text.find("</head>"), text.find("<body>")) {
                (Some(h), Some(b)) if h < b => {
                    let b = b + "<body>".len();
                    axum::body::Bytes::from(format!(
                        "{}{head}{}{body}{}",
                        &text[..h],
                        &text[h..b],
                        &text[b..]
                    ))
                }
                _ => html.clone(),
            }
        };
        let mut res = (StatusCode::OK, html).into_response();
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
/// inline loader), wasm compilation allowed, styles from us (plus the
/// hashes of the consent pages' inlined stylesheets), never framed
/// (clickjacking on the consent screen, docs/threat-model.md), no plugins,
/// forms and fetches to us only (the consent form's answer forwards the
/// browser to the client itself: no form goes elsewhere). Client logos come through Keyhouse, from
/// this origin.
fn policy(script_hashes: &[String], style_hashes: &[String]) -> String {
    let sources = |first: &str, hashes: &[String]| {
        let mut out = String::from(first);
        for h in hashes {
            out.push_str(&format!(" 'sha256-{h}'"));
        }
        out
    };
    let script_src = sources("'self' 'wasm-unsafe-eval'", script_hashes);
    let style_src = sources("'self'", style_hashes);
    format!(
        "default-src 'self'; script-src {script_src}; style-src {style_src}; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The bundles whose stylesheets are inlined into their page.
const CONSENT_PAGES: [&str; 2] = ["/idp", "/org/idp"];

/// `html` with each `<link rel="stylesheet" href="/…">` whose file (under
/// `dir`) is plain CSS replaced by a `<style>` holding it; the hash of each
/// goes to `hashes`. A sheet that loads others (`url(`, `@import`) would
/// resolve them against the page instead: it stays a link, as does one
/// that cannot be read.
fn inline_stylesheets(dir: &Path, html: &str, hashes: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<link ") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('>') else {
            rest = after;
            break;
        };
        let tag = &after[..=end];
        rest = &after[end + 1..];
        let css = attribute(tag, "href")
            .filter(|_| attribute(tag, "rel") == Some("stylesheet"))
            .and_then(|href| href.strip_prefix('/'))
            .filter(|href| {
                !href.starts_with('/')
                    && !href.split('/').any(|seg| seg == ".." || seg.contains('\\'))
            })
            .and_then(|href| std::fs::read_to_string(dir.join(href)).ok())
            .filter(|css| !css.contains("url(") && !css.contains("@import") && !css.contains("</"))
            // The browser hashes what its parser keeps: line ends as `\n`.
            .map(|css| css.replace("\r\n", "\n").replace('\r', "\n"));
        match css {
            Some(css) => {
                let digest = Sha256::digest(css.as_bytes());
                hashes.push(base64::engine::general_purpose::STANDARD.encode(digest));
                out.push_str("<style>");
                out.push_str(&css);
                out.push_str("</style>");
            }
            None => out.push_str(tag),
        }
    }
    out.push_str(rest);
    out
}

/// The value of `name="…"` in a tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let len = tag[at..].find('"')?;
    Some(&tag[at..at + len])
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

/// Trunk names built assets `name-<hash>.ext`, the hash a 64-bit number in
/// hex without its leading zeros (16 digits, fewer one time in sixteen):
/// safe to cache forever.
fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.trim_end_matches("_bg");
    stem.rsplit_once('-').is_some_and(|(_, h)| {
        (14..=16).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
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
        if let Some(kh) = web.kh.as_ref().filter(|_| req.method() == Method::GET) {
            match path.as_str() {
                "/idp" => return web.consent_page(kh, req, false).await,
                "/org/idp" => return web.consent_page(kh, req, true).await,
                _ => {}
            }
        }
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
        let p = policy(&hashes, &[]);
        assert!(p.contains("frame-ancestors 'none'") && p.contains("'wasm-unsafe-eval'"));
        assert!(p.contains(&format!("'sha256-{expected}'")));
    }

    #[test]
    fn consent_pages_carry_their_plain_stylesheets() {
        let dir = std::env::temp_dir().join(format!("kh-inline-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("idp")).expect("dir");
        std::fs::write(dir.join("idp/a.css"), ".a{color:red}").expect("a");
        std::fs::write(dir.join("idp/b.css"), ".b{background:url(x.svg)}").expect("b");
        std::fs::write(dir.join("idp/c.css"), ".c{\r\n}\r").expect("c");
        let html = concat!(
            r#"<head><link rel="icon" href="/idp/f.svg"/>"#,
            r#"<link rel="stylesheet" href="/idp/a.css" integrity="sha384-x"/>"#,
            r#"<link rel="stylesheet" href="/idp/b.css"/>"#,
            r#"<link rel="stylesheet" href="/idp/missing.css"/>"#,
            r#"<link rel="stylesheet" href="//idp/a.css"/>"#,
            r#"<link rel="stylesheet" href="/idp/c.css"/></head><link "#,
        );
        let mut hashes = Vec::new();
        let out = inline_stylesheets(&dir, html, &mut hashes);
        let _ = std::fs::remove_dir_all(&dir);
        // Plain CSS inlined (line ends as the parser keeps them); a sheet
        // that loads others, one that is missing and one named by another
        // host stay links; an unfinished tag is copied once.
        let expected = concat!(
            r#"<head><link rel="icon" href="/idp/f.svg"/>"#,
            r#"<style>.a{color:red}</style>"#,
            r#"<link rel="stylesheet" href="/idp/b.css"/>"#,
            r#"<link rel="stylesheet" href="/idp/missing.css"/>"#,
            r#"<link rel="stylesheet" href="//idp/a.css"/>"#,
            "<style>.c{\n}\n</style></head><link ",
        );
        assert_eq!(out, expected);
        let hash =
            |css: &[u8]| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css));
        let a = hash(b".a{color:red}");
        assert_eq!(hashes, [a.clone(), hash(b".c{\n}\n")]);
        assert!(policy(&[], &hashes).contains(&format!("style-src 'self' 'sha256-{a}' ")));
    }

    #[test]
    fn hashed_names() {
        assert!(is_hashed("/keyhouse-app-0123456789abcdef_bg.wasm"));
        assert!(is_hashed("/keyhouse-app-0123456789abcdef.js"));
        // Trunk drops the hash's leading zeros.
        assert!(is_hashed(
            "/org/idp/keyhouse-org-idp-8004da7c9245c8f_bg.wasm"
        ));
        assert!(!is_hashed("/keyhouse-app-abc.js"));
        assert!(!is_hashed("/robots.txt"));
    }
}
