//! docs/threat-model.md row 33: large bodies, slow clients, and the connection cap.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;

use std::time::Duration;

use keyhouse_axum::{Config, Keyhouse, MasterKey, ServeOptions, serve_with};
use keyhouse_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server with `options`; the guard stops it and removes its database.
async fn server(options: ServeOptions) -> (String, Guard) {
    let (url, dir) = common::fresh_database().await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let kh = Keyhouse::new(
        Config::for_issuer(&format!("http://{addr}")),
        store,
        MasterKey::from_bytes(rand::random()),
    )
    .await
    .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_with(
        listener,
        axum::Router::new().merge(kh.router()),
        async {
            let _ = rx.await;
        },
        options,
    ));
    (addr, Guard(Some(tx), dir))
}

/// A keep-alive connection that has been answered once, left open.
async fn served_connection(addr: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    c
}

struct Guard(
    Option<tokio::sync::oneshot::Sender<()>>,
    Option<std::path::PathBuf>,
);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
        if let Some(d) = &self.1 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[tokio::test]
async fn oversized_body_gets_413_and_no_row() {
    let s = common::spawn().await;
    let big = "x".repeat(keyhouse_axum::BODY_LIMIT + 1);
    let res = reqwest::Client::new()
        .post(s.url("/api/session/signup"))
        .json(&serde_json::json!({"email": "big@example.com", "password": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let user = s.find_user("big@example.com").await;
    assert!(user.is_none(), "nothing half-written");
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&pad={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn slow_client_is_cut_off_while_others_are_served() {
    let mut options = ServeOptions::default();
    options.header_read_timeout = Duration::from_millis(500);
    let (addr, _stop) = server(options).await;
    // A slow-loris client sends half a request line and stalls.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Meanwhile a normal client is served.
    let ok = reqwest::get(format!("http://{addr}/health/live"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // The stalled connection is closed by the server (read returns EOF or a
    // 408), well before the test's own 10 s guard.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    let closed = read.is_ok();
    assert!(closed, "the server kept a stalled connection open");
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

/// A connection past the cap waits for a place instead of being dropped;
/// idle keep-alive connections give theirs back after the header-read
/// timeout, so the waiting one is served.
#[tokio::test]
async fn a_connection_past_the_cap_waits_for_an_idle_one_to_go() {
    let mut options = ServeOptions::default();
    options.max_connections = 2;
    options.header_read_timeout = Duration::from_secs(1);
    let (addr, _stop) = server(options).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(served_connection(&addr).await);
    }
    let third = tokio::time::timeout(
        Duration::from_secs(5),
        reqwest::get(format!("http://{addr}/health/live")),
    )
    .await;
    assert_eq!(third.unwrap().unwrap().status(), 200);
    // The idle ones were closed by the server: reading them ends (after
    // the rest of their first response) instead of hanging.
    for mut c in held {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "an idle connection was kept open");
    }
}

/// docs/threat-model.md row 43: sockets that never send a byte do not keep
/// their place: the protocol detection of the h1/h2 builder has a timeout,
/// and a connection at the cap waits for a place instead of being dropped.
#[tokio::test]
async fn silent_sockets_do_not_exhaust_the_connection_cap() {
    let mut options = ServeOptions::default();
    options.max_connections = 2;
    options.header_read_timeout = Duration::from_secs(1);
    let (addr, _stop) = server(options).await;
    let silent = [
        TcpStream::connect(&addr).await.unwrap(),
        TcpStream::connect(&addr).await.unwrap(),
    ];
    let answered = tokio::time::timeout(
        Duration::from_secs(5),
        reqwest::get(format!("http://{addr}/health/live")),
    )
    .await;
    let status = answered
        .expect("a normal request is answered while silent sockets are open")
        .expect("the request succeeds")
        .status();
    assert_eq!(status, 200);
    drop(silent);
}

/// docs/threat-model.md row 43: one address cannot take every place.
#[tokio::test]
async fn one_address_gets_a_bounded_number_of_connections() {
    let mut options = ServeOptions::default();
    options.max_connections_per_ip = 2;
    let (addr, _stop) = server(options).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(served_connection(&addr).await);
    }
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let _ = third
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "a third connection from one address is closed unanswered: {buf:?}"
    );
    // Once one is given back, the address may connect again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ok = reqwest::get(format!("http://{addr}/health/live"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
