//! A request id on every request (`X-Request-Id`: the caller's if it is a
//! short token, else a fresh UUID), on its response, and on a `request`
//! span, so every log line written while answering it carries the id.

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

/// `X-Request-Id`.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Whether a caller's id is kept: 1 to 128 of `A-Z a-z 0-9 . _ : -` (a
/// proxy's or a client's correlation id), nothing a log could be fooled by.
pub fn acceptable(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

async fn drop_unacceptable(mut req: Request, next: Next) -> Response {
    if req
        .headers()
        .get(&HEADER)
        .is_some_and(|v| !acceptable(v.as_bytes()))
    {
        req.headers_mut().remove(&HEADER);
    }
    next.run(req).await
}

/// `router` with request ids and a `request` span (method, path without
/// the query, request id) around each request; the span's close is logged
/// at DEBUG with the status and the time taken.
pub fn with_request_ids<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let id = req
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or("-");
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                request_id = %id,
            )
        })
        .on_request(())
        .on_response(
            tower_http::trace::DefaultOnResponse::new()
                .level(tracing::Level::DEBUG)
                .latency_unit(tower_http::LatencyUnit::Micros),
        )
        .on_failure(());
    // Layers run outside in: drop a bad id, set one, span, then copy it to
    // the response.
    router
        .layer(PropagateRequestIdLayer::new(HEADER))
        .layer(trace)
        .layer(SetRequestIdLayer::new(HEADER, MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_unacceptable))
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(acceptable(b"3f2a9c1e-7b7d-4c55-9d1e-0a2b3c4d5e6f"));
        assert!(acceptable(b"lb:1234.abc_DEF"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"a b"));
        assert!(!acceptable(b"x\"}{\"admin\":true"));
        assert!(!acceptable(&[b'a'; 129]));
    }
}
