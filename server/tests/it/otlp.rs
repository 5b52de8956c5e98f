//! Traces over OTLP (a build with the `otlp` feature): a collector on
//! loopback receives what `keyhouse serve` exports, decoded as OTLP/HTTP
//! protobuf. The request span joins the caller's W3C trace and carries the
//! route template, the status and the request id, never a credential; the
//! last spans are sent at SIGTERM.
//!
//! `cargo test -p keyhouse --features otlp --test it otlp`
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

use crate::common::env;

/// A collector: `POST /v1/traces` kept, raw, and answered 200.
struct Collector {
    base: String,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

impl Collector {
    async fn start() -> Collector {
        let bodies: Arc<Mutex<Vec<Bytes>>> = Arc::default();
        let kept = bodies.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
                let kept = kept.clone();
                async move {
                    assert_eq!(
                        headers.get("content-type").unwrap(),
                        "application/x-protobuf"
                    );
                    kept.lock().unwrap().push(body);
                    // An empty ExportTraceServiceResponse: everything accepted.
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { base, bodies }
    }

    /// Every export so far, decoded, with the resource's `service.name`.
    fn spans(&self) -> Vec<(String, Span)> {
        let bodies = self.bodies.lock().unwrap().clone();
        let mut out = Vec::new();
        for body in bodies {
            let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
            for rs in request.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| string(&r.attributes, "service.name"))
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    for span in ss.spans {
                        out.push((service.clone(), span));
                    }
                }
            }
        }
        out
    }

    /// The span of the request `request_id`, waiting for it up to `wait`.
    async fn span_of(&self, request_id: &str, wait: Duration) -> (String, Span) {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(found) = self
                .spans()
                .into_iter()
                .find(|(_, s)| string(&s.attributes, "request_id").as_deref() == Some(request_id))
            {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no span of {request_id} received"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything received, as raw bytes.
    fn raw(&self) -> Vec<u8> {
        self.bodies.lock().unwrap().concat()
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key) {
        Some(Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_request_span_reaches_the_collector_in_the_callers_trace() {
    let collector = Collector::start().await;
    let e = env().await;
    let admin_key = e.admin_key("otlp");
    // OpenTelemetry's base URL variable: `/v1/traces` is added to it.
    let (_server, base) = e
        .serve_with_env(
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.base.as_str()),
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ],
        )
        .await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let res = reqwest::Client::new()
        .get(format!(
            "{base}/api/admin/users/no-such-user?token=query-secret-7f3a"
        ))
        .bearer_auth(&admin_key)
        .header("cookie", "kh_session=cookie-secret-91cd")
        .header("x-request-id", "otlp-req-1")
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-request-id"], "otlp-req-1");

    let (service, span) = collector
        .span_of("otlp-req-1", Duration::from_secs(10))
        .await;
    assert_eq!(service, "keyhouse");
    assert_eq!(span.name, "GET /api/admin/users/{id}");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(
        string(&span.attributes, "http.route").as_deref(),
        Some("/api/admin/users/{id}"),
        "the route template"
    );
    assert_eq!(
        string(&span.attributes, "url.path").as_deref(),
        Some("/api/admin/users/no-such-user"),
        "the path, without its query"
    );
    assert_eq!(
        string(&span.attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attribute(&span.attributes, "http.response.status_code"),
        Some(&Value::IntValue(404))
    );
    // The caller's trace, as a child of the caller's span.
    assert_eq!(hex(&span.trace_id), trace_id);
    assert_eq!(hex(&span.parent_span_id), parent_id);

    // Without a traceparent: a trace of its own, a root span.
    let res = reqwest::Client::new()
        .get(format!("{base}/.well-known/openid-configuration"))
        .header("x-request-id", "otlp-req-2")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, root) = collector
        .span_of("otlp-req-2", Duration::from_secs(10))
        .await;
    assert_eq!(root.name, "GET /.well-known/openid-configuration");
    assert!(root.parent_span_id.is_empty(), "a root span");
    assert_ne!(hex(&root.trace_id), trace_id);
    assert_eq!(
        attribute(&root.attributes, "http.response.status_code"),
        Some(&Value::IntValue(200))
    );

    // A malformed traceparent is no parent: a trace of its own too.
    let res = reqwest::Client::new()
        .get(format!("{base}/.well-known/openid-configuration"))
        .header("x-request-id", "otlp-req-3")
        .header("traceparent", format!("00-{trace_id}-0000000000000000-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, unparented) = collector
        .span_of("otlp-req-3", Duration::from_secs(10))
        .await;
    assert!(unparented.parent_span_id.is_empty(), "an invalid parent id");
    assert_ne!(hex(&unparented.trace_id), trace_id);

    // No credential, cookie or query reached the collector, in any span.
    let raw = collector.raw();
    for secret in [
        admin_key.as_str(),
        "cookie-secret-91cd",
        "query-secret-7f3a",
    ] {
        assert!(!contains(&raw, secret), "{secret} was exported");
    }
    assert!(
        contains(&raw, "otlp-req-1"),
        "the check reads the raw bytes"
    );
}

#[tokio::test]
async fn the_last_spans_are_sent_when_the_server_stops() {
    let collector = Collector::start().await;
    let e = env().await;
    let file = e.dir.join("keyhouse.toml");
    std::fs::write(
        &file,
        format!(
            "[traces]\notlp_endpoint = \"{}/v1/traces\"\nservice_name = \"idp-test\"\n",
            collector.base
        ),
    )
    .unwrap();
    let file = file.display().to_string();
    // A batch every minute: only the flush at the stop sends this one.
    let (mut server, base) = e
        .serve_with_env(
            &["--config", &file],
            &[("OTEL_BSP_SCHEDULE_DELAY", "60000")],
        )
        .await;
    let res = reqwest::Client::new()
        .get(format!("{base}/.well-known/jwks.json"))
        .header("x-request-id", "otlp-last")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(collector.spans().is_empty(), "nothing sent before the stop");

    let pid = server.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    let (service, span) = collector.span_of("otlp-last", Duration::from_secs(1)).await;
    assert_eq!(service, "idp-test", "traces.service_name");
    assert_eq!(span.name, "GET /.well-known/jwks.json");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
