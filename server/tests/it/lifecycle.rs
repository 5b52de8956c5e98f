//! Stopping: on SIGTERM the server says it is not ready while it still
//! serves for `server.drain_seconds`, then closes and exits cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::env;

#[tokio::test]
async fn a_stopping_server_is_not_ready_but_still_serves_then_exits() {
    let e = env().await;
    let file = e.dir.join("keyhouse.toml");
    std::fs::write(&file, "[server]\ndrain_seconds = 6\n").unwrap();
    let file = file.display().to_string();
    let (mut server, base) = e.serve_with(None, &["--config", &file]).await;
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);

    let pid = server.0.id().to_string();
    let signalled = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    // Within the drain: not ready, yet a request is answered.
    let mut said_not_ready = false;
    while signalled.elapsed() < Duration::from_millis(4000) {
        let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
        if ready.status() == 503 {
            said_not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(said_not_ready, "/health/ready stayed 200 after SIGTERM");
    let discovery = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200, "still serving while draining");
    assert!(
        signalled.elapsed() < Duration::from_secs(6),
        "the checks ran within the drain"
    );
    // Then it exits, successfully, and the port is closed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        signalled.elapsed() >= Duration::from_secs(6),
        "it waited out the drain"
    );
    assert!(
        reqwest::get(format!("{base}/health/live")).await.is_err(),
        "nothing listens any more"
    );
}
