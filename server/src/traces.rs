//! Traces over OTLP (the `otlp` feature; decision 0034): every request's
//! `request` span, and what is logged inside it as its events, exported as
//! OTLP/HTTP protobuf to `traces.otlp_endpoint` by a batch processor.
//!
//! The library's span is reused as it is (its fields are the logs'); three
//! pieces of this module make it an HTTP server span:
//!
//! - [`parent_from_headers`]: a caller's W3C `traceparent` is made the
//!   current OpenTelemetry context while the span is created, so the span
//!   joins the caller's trace;
//! - [`label`]: the route template, the status code and, on a 5xx, an error
//!   status, set on the span from inside it;
//! - [`ServerSpans`]: at the span's end, its kind (server), its name
//!   (`GET /oauth2/token`) and OpenTelemetry's names for its method and path.
//!
//! Requests go through our reqwest client ([`OnTokio`]): the exporter's own
//! need another major version of reqwest.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{FutureExt as _, SpanKind, Status, TracerProvider as _, WithContext};
use opentelemetry::{Context, InstrumentationScope, Key, KeyValue};
use opentelemetry_http::{Bytes, HeaderExtractor, HttpClient, HttpError};
use opentelemetry_http::{Request as HttpRequest, Response as HttpResponse};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracerProvider, Span, SpanData, SpanProcessor,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::settings::TraceSettings;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The instrumentation scope of our spans.
const SCOPE: &str = "keyhouse";

/// The name of the library's span of a request (`http/request_id.rs`).
const REQUEST_SPAN: &str = "request";

/// How long one export may take (OTLP's default).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// A collector's answer larger than this is an error (it is one protobuf
/// message saying how many spans were refused).
const MAX_ANSWER: usize = 64 * 1024;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (a provider was started).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The tracer provider, to be shut down (its last batch sent) at exit.
pub struct Traces {
    provider: SdkTracerProvider,
    endpoint: String,
}

/// Starts the export to `settings.otlp_endpoint` (none: `None`), its
/// requests run on `runtime`.
pub fn start(
    settings: &TraceSettings,
    runtime: tokio::runtime::Handle,
) -> Result<Option<Traces>, Error> {
    let Some(endpoint) = settings.otlp_endpoint.clone() else {
        return Ok(None);
    };
    let client = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        // Spans go to the configured collector, nowhere it points to.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint.clone())
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(OnTokio { client, runtime })
        .build()
        .map_err(|e| format!("traces.otlp_endpoint {endpoint}: {e}"))?;
    // Batched on a thread of its own; OTEL_BSP_* tune it (queue, delay).
    let batches = BatchSpanProcessor::builder(exporter).build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(ServerSpans(batches))
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sample_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .build();
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Some(Traces { provider, endpoint }))
}

impl Traces {
    /// The subscriber layer that turns spans into OpenTelemetry's.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let scope = InstrumentationScope::builder(SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer_with_scope(scope))
            // Where in our code and on which thread: noise on every span.
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
    }

    /// Where spans go, for the start's log line.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends what is still queued and stops the export thread. Call it with
    /// the runtime still alive (the requests run on it), outside of it.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: traces: the last spans may be lost: {e}");
        }
    }
}

/// The exporter's HTTP client: our reqwest client, its requests run on the
/// runtime (the batch processor's thread has none).
#[derive(Debug)]
struct OnTokio {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnTokio {
    async fn send_bytes(
        &self,
        request: HttpRequest<Bytes>,
    ) -> Result<HttpResponse<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move {
                let mut answer = client.execute(reqwest::Request::try_from(request)?).await?;
                let mut body = Vec::new();
                while let Some(chunk) = answer.chunk().await? {
                    if body.len() + chunk.len() > MAX_ANSWER {
                        return Err(HttpError::from(format!(
                            "the collector's answer is larger than {MAX_ANSWER} bytes"
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                let mut out = HttpResponse::new(Bytes::from(body));
                *out.status_mut() = answer.status();
                *out.headers_mut() = std::mem::take(answer.headers_mut());
                Ok(out)
            })
            .await?
    }
}

/// Makes the request spans HTTP server spans, as OpenTelemetry names them,
/// at their end, then hands every span to the batch processor.
#[derive(Debug)]
struct ServerSpans<P>(P);

impl<P: SpanProcessor> SpanProcessor for ServerSpans<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        if span.name == REQUEST_SPAN && span.instrumentation_scope.name() == SCOPE {
            as_server_span(&mut span);
        }
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// The methods a span's name may carry; any other is `HTTP` (a caller
/// chooses it: span names must stay few).
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Kind server; `method` and `path` (the library's field names, which the
/// logs keep) renamed `http.request.method` and `url.path`; the name
/// `{method} {route}` (`{method}` alone where no route matched).
fn as_server_span(span: &mut SpanData) {
    span.span_kind = SpanKind::Server;
    let mut method = "HTTP";
    let mut route = None;
    for kv in &mut span.attributes {
        match kv.key.as_str() {
            "method" => {
                kv.key = Key::from_static_str("http.request.method");
                let said = kv.value.as_str();
                method = METHODS
                    .iter()
                    .find(|m| **m == said)
                    .copied()
                    .unwrap_or("HTTP");
            }
            "path" => kv.key = Key::from_static_str("url.path"),
            "http.route" => route = Some(kv.value.as_str().into_owned()),
            _ => {}
        }
    }
    span.name = match route {
        Some(route) => format!("{method} {route}").into(),
        None => method.into(),
    };
}

/// `routes` with every answer's route template and status put on the
/// request span (inside it: apply before `with_request_ids`). Unchanged
/// when traces are off.
pub fn label(routes: Router) -> Router {
    if !enabled() {
        return routes;
    }
    routes.layer(tower::layer::layer_fn(|inner| Label { inner }))
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

#[derive(Clone)]
struct Label<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Label<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> BoxFuture {
        let route = req.extensions().get::<MatchedPath>().cloned();
        let answered = self.inner.call(req);
        Box::pin(async move {
            // Polled inside the request span.
            let span = tracing::Span::current();
            if let Some(route) = route {
                span.set_attribute("http.route", route.as_str().to_owned());
            }
            let res = answered.await?;
            let status = res.status();
            span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
            if status.is_server_error() {
                span.set_status(Status::error(status.to_string()));
            }
            Ok(res)
        })
    }
}

/// `app` (the result of `with_request_ids`) with a caller's W3C
/// `traceparent` (and `tracestate`) made the parent of the request span.
/// Unchanged when traces are off.
pub fn parent_from_headers(app: Router) -> Router {
    if !enabled() {
        return app;
    }
    app.layer(tower::layer::layer_fn(|inner| Parent { inner }))
}

#[derive(Clone)]
struct Parent<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Parent<S>
where
    S: tower::Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::Either<S::Future, WithContext<S::Future>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if !req.headers().contains_key("traceparent") {
            return futures::future::Either::Left(self.inner.call(req));
        }
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
        // The request span is created when the inner route is first polled
        // (axum calls a route's service then), and takes the current
        // context as its parent (tracing-opentelemetry's context
        // activation): the caller's, made current around every poll. Once
        // entered, the request span's own context is current above it.
        futures::future::Either::Right(self.inner.call(req).with_context(parent))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn request_span(attributes: Vec<KeyValue>) -> SpanData {
        SpanData {
            span_context: opentelemetry::trace::SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: REQUEST_SPAN.into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes,
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder(SCOPE).build(),
        }
    }

    #[test]
    fn request_spans_are_named_by_method_and_route() {
        let mut span = request_span(vec![
            KeyValue::new("method", "POST"),
            KeyValue::new("path", "/api/admin/users/u1/disable"),
            KeyValue::new("request_id", "r1"),
            KeyValue::new("http.route", "/api/admin/users/{id}/disable"),
        ]);
        as_server_span(&mut span);
        assert_eq!(span.name, "POST /api/admin/users/{id}/disable");
        assert_eq!(span.span_kind, SpanKind::Server);
        let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "http.request.method",
                "url.path",
                "request_id",
                "http.route"
            ]
        );
    }

    #[test]
    fn a_method_of_the_callers_invention_never_names_a_span() {
        let mut span = request_span(vec![
            KeyValue::new("method", "X-SCAN-1234"),
            KeyValue::new("path", "/nowhere"),
        ]);
        as_server_span(&mut span);
        assert_eq!(span.name, "HTTP", "no route matched, an unknown method");
        let mut span = request_span(vec![KeyValue::new("method", "GET")]);
        as_server_span(&mut span);
        assert_eq!(span.name, "GET");
    }
}
