//! Serving with the limits `axum::serve` does not set: a header-read timeout
//! (slow-loris), a per-request timeout and a connection cap
//! (docs/threat-model.md row 33).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Time a client has to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a request may take end to end.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Open connections at most; a further one waits up to the header-read
/// timeout for a free place, then is closed.
pub const MAX_CONNECTIONS: usize = 4096;
/// Open connections from one IP address at most.
pub const MAX_CONNECTIONS_PER_IP: usize = 256;
/// Time open connections have to finish once the server stops.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of [`serve_with`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Time a request may take end to end (then 503).
    pub request_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one IP address at most (further ones are
    /// closed at once), so one client cannot take every place.
    pub max_connections_per_ip: usize,
    /// Once the shutdown future resolves, how long open connections have
    /// to finish their requests before they are closed.
    pub shutdown_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
            shutdown_timeout: SHUTDOWN_TIMEOUT,
        }
    }
}

/// HTTP/2 keep-alive ping interval.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Concurrent streams per HTTP/2 connection.
const H2_MAX_STREAMS: u32 = 100;

/// Open connections per IP address.
#[derive(Clone)]
struct PerIp {
    max: usize,
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

/// One connection's place in [`PerIp`]; leaving gives it back.
struct IpSlot {
    ip: std::net::IpAddr,
    table: PerIp,
}

impl PerIp {
    fn new(max: usize) -> PerIp {
        PerIp {
            max,
            open: Arc::default(),
        }
    }

    fn enter(&self, ip: std::net::IpAddr) -> Option<IpSlot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            ip,
            table: self.clone(),
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.table.open.lock()
            && let Some(n) = open.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` with the default limits until `shutdown`
/// resolves, then lets open connections finish (up to 10 s: see
/// [`ServeOptions::shutdown_timeout`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, ServeOptions::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    options: ServeOptions,
) -> std::io::Result<()> {
    let app = app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        options.request_timeout,
    ));
    let builder = connection_builder(&options);
    let graceful = GracefulShutdown::new();
    let gate = Gate {
        permits: Arc::new(Semaphore::new(options.max_connections)),
        per_ip: PerIp::new(options.max_connections_per_ip),
        wait: options.header_read_timeout * 2,
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(admitted) = gate.admit(peer.ip()).await else {
                    continue;
                };
                let connection = Connection { stream, peer, admitted, first_byte: options.header_read_timeout };
                tokio::spawn(connection.serve(builder.clone(), app.clone(), graceful.watcher()));
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(options.shutdown_timeout) => {
            tracing::warn!(
                timeout_ms = options.shutdown_timeout.as_millis(),
                "connections still open at the shutdown timeout; closing them"
            );
        }
    }
    Ok(())
}

/// Answers on `listener` while the server starts (opening the database,
/// migrating it, loading keys), until `started` resolves: `/health/live`
/// 200, everything else 503 with `Retry-After: 1` and `Connection: close`,
/// so nothing waits on a port that is not ready and no connection outlives
/// this phase. Then the real app can be served on the same listener.
pub async fn serve_starting(listener: &TcpListener, started: impl Future<Output = ()>) {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    let starting = Router::new()
        .route(
            "/health/live",
            axum::routing::get(|| async { StatusCode::OK }),
        )
        .fallback(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    (header::RETRY_AFTER, HeaderValue::from_static("1")),
                    (header::CONNECTION, HeaderValue::from_static("close")),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                "starting",
            )
                .into_response()
        });
    let builder = connection_builder(&ServeOptions::default());
    let graceful = GracefulShutdown::new();
    tokio::pin!(started);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let service = TowerToHyperService::new(starting.clone());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut started => break,
        }
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

/// HTTP/1 with a header-read timeout; HTTP/2 with pings that find dead peers
/// and a bounded number of streams each.
fn connection_builder(options: &ServeOptions) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(H2_PING_INTERVAL))
        .keep_alive_timeout(options.header_read_timeout)
        .max_concurrent_streams(H2_MAX_STREAMS);
    builder
}

/// The connection limits: in total and per address.
struct Gate {
    permits: Arc<Semaphore>,
    per_ip: PerIp,
    /// How long a new connection waits for a place at the cap.
    wait: Duration,
}

/// A connection's places under the limits, given back when it ends.
struct Admitted {
    _permit: tokio::sync::OwnedSemaphorePermit,
    _ip_slot: IpSlot,
}

impl Gate {
    /// A place for a new connection from `ip`, or `None` (it is closed).
    async fn admit(&self, ip: std::net::IpAddr) -> Option<Admitted> {
        let Some(ip_slot) = self.per_ip.enter(ip) else {
            tracing::warn!(peer = %ip, "per-address connection limit reached; closing a new connection");
            return None;
        };
        // At the cap, wait (the kernel queues later connections) longer than
        // a silent socket may live: one will be gone by then.
        match tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Some(Admitted {
                _permit: permit,
                _ip_slot: ip_slot,
            }),
            _ => {
                tracing::warn!("connection limit reached; closing a new connection");
                None
            }
        }
    }
}

/// One accepted connection.
struct Connection {
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    admitted: Admitted,
    first_byte: Duration,
}

impl Connection {
    /// Serves the connection until it ends (or the server shuts down).
    async fn serve(
        self,
        builder: Builder<TokioExecutor>,
        app: Router,
        watcher: hyper_util::server::graceful::Watcher,
    ) {
        let Connection {
            stream,
            peer,
            admitted,
            first_byte,
        } = self;
        // docs/threat-model.md row 43: the protocol sniffing of the auto
        // builder has no timeout of its own, so a socket that never sends a
        // byte would hold its place for ever. (`peek`, not `readable`:
        // readiness can be reported before any byte has arrived.)
        let mut probe = [0u8; 1];
        let first = tokio::time::timeout(first_byte, stream.peek(&mut probe)).await;
        if !matches!(first, Ok(Ok(n)) if n > 0) {
            tracing::debug!(%peer, "closing a connection that sent nothing");
            return;
        }
        let _ = stream.set_nodelay(true);
        // The peer address, for per-IP limits (`ConnectInfo`).
        let service = TowerToHyperService::new(app.map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        ));
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        if let Err(e) = watcher.watch(conn.into_owned()).await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        drop(admitted);
    }
}
