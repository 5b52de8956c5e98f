//! The CSRF guard: a state-changing request that carries a session cookie must
//! come from Keyhouse's own origin (docs/threat-model.md).

use axum::extract::{Request, State};
use axum::http::header::ORIGIN;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyhouse_core::{ErrorCode, OAuthError};

use crate::Keyhouse;
use crate::accounts::session::cookie_name;
use crate::error::ApiError;
use crate::http::cookies::read_cookie;

/// Whether a request may act with the ambient session cookie: safe methods
/// always may; others only when the browser says the request came from our
/// own origin (docs/threat-model.md row 12).
///
/// A write that carries a session cookie but neither `Origin` nor
/// `Sec-Fetch-Site` is refused (row 53): every browser that sends cookies
/// sends one of them on a POST, so their absence means a client that strips
/// them, not an old browser. Requests without a session cookie (API
/// clients, sign-in forms) have no ambient authority to forge.
pub fn same_origin_or_safe(kh: &Keyhouse, method: &Method, headers: &HeaderMap) -> bool {
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return true;
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    if site.is_none() && origin.is_none() {
        return !carries_session_cookie(kh, headers);
    }
    let site_ok = site.is_none_or(|v| v == "same-origin" || v == "none");
    // A browser writes `Origin: null` on the POST of a same-origin form
    // whose page has `Referrer-Policy: no-referrer` (every Keyhouse page
    // has); its `Sec-Fetch-Site: same-origin` vouches for it. A request
    // from an opaque origin of its own (a sandboxed frame, a `data:` page)
    // is `cross-site`, and without that header `null` proves nothing.
    let origin_ok = origin
        .is_none_or(|o| o == kh.config().origin() || (o == "null" && site == Some("same-origin")));
    site_ok && origin_ok
}

/// Whether the request carries a user or member session cookie.
fn carries_session_cookie(kh: &Keyhouse, headers: &HeaderMap) -> bool {
    read_cookie(headers, cookie_name(kh)).is_some()
        || read_cookie(headers, crate::b2b::session::member_cookie_name(kh)).is_some()
}

/// docs/threat-model.md row 12: state-changing browser requests must come from our
/// own origin. Browsers send `Sec-Fetch-Site` and `Origin` on cross-site
/// POSTs; non-browser clients send neither and carry no ambient cookie
/// authority worth forging.
///
/// Mount it on the app's own cookie-authenticated routes too:
/// `.route_layer(axum::middleware::from_fn_with_state(kh, keyhouse_axum::csrf_guard))`.
pub async fn csrf_guard(State(kh): State<Keyhouse>, req: Request, next: Next) -> Response {
    if !same_origin_or_safe(&kh, req.method(), req.headers()) {
        return ApiError(OAuthError::new(
            ErrorCode::CsrfDetected,
            "cross-site request refused",
        ))
        .into_response();
    }
    next.run(req).await
}
