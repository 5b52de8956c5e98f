//! The response headers every Keyhouse deployment sends, as a layer an app
//! puts around its whole router (docs/threat-model.md rows 14, 16 and 58):
//!
//! - on every response: `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, and
//!   `Strict-Transport-Security` when the issuer is https;
//! - on HTML: `Cross-Origin-Opener-Policy: same-origin` (no other window
//!   keeps a handle on the login or consent page) and, unless the page set
//!   its own, a `Content-Security-Policy` that forbids framing, plugins and
//!   `<base>`.
//!
//! Headers the application already set are left alone.

use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tower::util::MapResponseLayer;

use crate::Keyhouse;

/// The layer [`Keyhouse::security_headers`] returns.
pub type SecurityHeadersLayer = MapResponseLayer<fn(Response) -> Response>;

/// Two years, with subdomains: what the HSTS preload list asks for.
const HSTS: &str = "max-age=63072000; includeSubDomains";
/// The policy of HTML responses that bring none of their own.
const DEFAULT_HTML_CSP: &str = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'";
const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");

fn set(res: &mut Response, name: HeaderName, value: &'static str) {
    if !res.headers().contains_key(&name) {
        res.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
}

fn common(mut res: Response) -> Response {
    set(&mut res, X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(&mut res, REFERRER_POLICY, "no-referrer");
    set(&mut res, X_FRAME_OPTIONS, "DENY");
    let html = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/html"));
    if html {
        set(&mut res, COOP, "same-origin");
        set(&mut res, CONTENT_SECURITY_POLICY, DEFAULT_HTML_CSP);
    }
    res
}

fn with_hsts(res: Response) -> Response {
    let mut res = common(res);
    set(&mut res, STRICT_TRANSPORT_SECURITY, HSTS);
    res
}

impl Keyhouse {
    /// The security headers as a layer for the application's whole router:
    /// `app.layer(kh.security_headers())`. [`Keyhouse::router`] applies it
    /// to its own routes already; this covers the app's pages too.
    pub fn security_headers(&self) -> SecurityHeadersLayer {
        // HSTS only over https: on http it is ignored by browsers and would
        // only confuse a local deployment.
        if self.config().issuer.starts_with("https://") {
            MapResponseLayer::new(with_hsts as fn(Response) -> Response)
        } else {
            MapResponseLayer::new(common as fn(Response) -> Response)
        }
    }
}
