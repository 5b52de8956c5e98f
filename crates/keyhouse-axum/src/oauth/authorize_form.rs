//! The consent screen's decision sent by its HTML form:
//! `POST /api/idp/authorize/form` and `/api/b2b/idp/authorize/form`.
//!
//! The component sends its decision as JSON (`authorize::decide`) once its
//! script runs. Before that (the server's paint of the consent page, while
//! the bundle loads) and without JavaScript, the buttons submit the form
//! they sit in: the same pipeline decides, and the browser is sent on to
//! the client (a code, or `access_denied`) by a page of ours that forwards
//! it (a `refresh` to the redirect URI, and a link), or back to the
//! consent page (`303 See Other`) when the person must act first (sign in,
//! a second step). Anything else is explained on a page of its own, never
//! redirected. Behind the CSRF guard like every browser route
//! (docs/threat-model.md rows 12 and 155).
//!
//! Why a page and not a redirect to the client: browsers check the consent
//! page's `form-action` against every redirect that follows the form's
//! submission, the client's own ones included (a callback that redirects
//! to another of the client's hosts would be stopped after its code was
//! issued). A navigation the answer starts itself is not the form's.

use std::sync::LazyLock;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use keyhouse_core::ErrorCode;
use keyhouse_types::{
    AuthorizeDecision, AuthorizeDecisionForm, FormDecision, parse_authorize_query, return_to,
};
use sha2::{Digest, Sha256};

use super::authorize::{Side, record};
use crate::Keyhouse;
use crate::error::api_refusal;
use crate::http::cookies::see_other;
use crate::mail::templates::escape_html;

/// `POST /api/idp/authorize/form`.
pub(crate) async fn decide(
    State(kh): State<Keyhouse>,
    parts: Parts,
    form: Result<Form<AuthorizeDecisionForm>, FormRejection>,
) -> Response {
    decided(&kh, &parts, form, Side::Users).await
}

/// `POST /api/b2b/idp/authorize/form`.
pub(crate) async fn decide_b2b(
    State(kh): State<Keyhouse>,
    parts: Parts,
    form: Result<Form<AuthorizeDecisionForm>, FormRejection>,
) -> Response {
    decided(&kh, &parts, form, Side::Members).await
}

const REFUSED: &str = "This request can't be completed";

async fn decided(
    kh: &Keyhouse,
    parts: &Parts,
    form: Result<Form<AuthorizeDecisionForm>, FormRejection>,
    side: Side,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(e) => {
            tracing::info!(error = %e, "consent form refused: malformed");
            return problem(
                StatusCode::BAD_REQUEST,
                "The form was not what the consent page sends. Go back to the app and connect again.",
                None,
            );
        }
    };
    // Only a page of this site: the query is the request, and the page is
    // where the person is sent back to.
    let Some(page) = return_to::same_origin_path(&form.page, return_to::MAX_PAGE_LEN)
        .filter(|p| HeaderValue::from_str(p).is_ok())
    else {
        tracing::info!("consent form refused: its page is not a path of this site");
        return problem(
            StatusCode::BAD_REQUEST,
            "The form named a page that is not part of this site. Go back to the app and connect again.",
            None,
        );
    };
    let query = page.split_once('?').map_or("", |(_, q)| q);
    let decision = AuthorizeDecision {
        consent_granted: form.decision == FormDecision::Allow,
        params: parse_authorize_query(query),
    };
    let mut res = match record(kh, parts, &decision, side).await {
        Ok(axum::Json(r)) => forward(&r.redirect_uri),
        Err(e) => {
            let (status, body) = api_refusal(&e.error.0, e.login_url);
            match e.error.0.code {
                // The page knows what to do: sign in (with `returnTo`), or
                // the second step it asks for.
                ErrorCode::LoginRequired
                | ErrorCode::SessionRequired
                | ErrorCode::SecondFactorRequired
                | ErrorCode::PasskeyRequired => see_other(page),
                _ => problem(
                    status,
                    body.error_description.as_deref().unwrap_or(&body.error),
                    Some(page),
                ),
            }
        }
    };
    // Each answer belongs to one person's decision (the forward holds a
    // code): no cache keeps it.
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The pages' styles, admitted by their hash.
const STYLE: &str = "body{margin:0;min-height:100vh;display:grid;place-items:center;\
font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;background:#f6f7f9;color:#1f2328}\
main{max-width:28rem;margin:1rem;padding:2rem;background:#fff;border:1px solid #d8dee4;border-radius:12px}\
h1{font-size:1.25rem;margin:0 0 .5rem}p{margin:0 0 1rem}p:last-child{margin:0}a{color:#0b5cd5}\
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}\
main{background:#161b22;border-color:#30363d}a{color:#6ea8fe}}";

/// The pages' policy: nothing but their own styles; no script at all.
static POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
});

/// The page that sends the browser on to the client: at once (`refresh`,
/// which needs no script), or by its link. It holds the code, so it is not
/// kept (`no-store`), and no referrer leaves it (the security layer's
/// `Referrer-Policy: no-referrer`).
fn forward(redirect_uri: &str) -> Response {
    let to = escape_html(redirect_uri);
    let host = keyhouse_core::redirect_uri::display_host(redirect_uri);
    document(
        StatusCode::OK,
        &format!(r#"<meta http-equiv="refresh" content="0;url={to}">"#),
        "Returning you to the app",
        &format!(
            r#"<main role="status"><h1>Returning you to the app…</h1><p>You're being sent to <strong>{}</strong>.</p><p><a href="{to}">Continue</a></p></main>"#,
            escape_html(&host)
        ),
    )
}

/// A page that says why the decision was not taken, with a way back to
/// the consent page when there is one.
fn problem(status: StatusCode, text: &str, back: Option<&str>) -> Response {
    let back = back.map_or_else(String::new, |page| {
        format!(
            r#"<p><a href="{}">Back to the request</a></p>"#,
            escape_html(page)
        )
    });
    // The protocol's descriptions start in lower case.
    let mut chars = text.chars();
    let text: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    document(
        status,
        "",
        REFUSED,
        &format!(
            r#"<main role="alert"><h1>{}</h1><p>{}</p>{back}</main>"#,
            escape_html(REFUSED),
            escape_html(&text),
        ),
    )
}

/// One of these small pages: `head` and `body` are HTML, with the pages'
/// styles and policy.
fn document(status: StatusCode, head: &str, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">{head}<title>{}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>",
        escape_html(title),
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&POLICY) {
        h.insert(CONTENT_SECURITY_POLICY, v);
    }
    res
}
