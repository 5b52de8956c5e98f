//! SECURITY.md row 25: brute force and credential stuffing meet per-account
//! and per-IP limits, counted in the database, with answers that do not tell
//! a known email from an unknown one.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::PASSWORD;
use serde_json::{Value, json};

async fn login(s: &common::TestServer, email: &str, password: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(s.url("/api/session/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_account_is_locked_after_ten_failures_whatever_the_password() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    s.user("grace@example.com").await;
    for _ in 0..10 {
        assert_eq!(login(&s, "ada@example.com", "wrong password").await.0, 401);
        assert_eq!(
            login(&s, "nobody@example.com", "wrong password").await.0,
            401
        );
    }
    let (status, body) = login(&s, "ada@example.com", PASSWORD).await;
    assert_eq!(status, 429, "the right password no longer helps: {body}");
    assert_eq!(body["error"], "too_many_attempts");
    // An unknown email is throttled the same way, so throttling reveals nothing.
    assert_eq!(
        login(&s, "nobody@example.com", PASSWORD).await,
        (status, body)
    );
    // Other accounts from the same address are unaffected (20 < 100 per IP).
    assert_eq!(login(&s, "grace@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn the_window_ends_and_a_success_resets_the_account() {
    let s = common::spawn_with(|_| {}, true).await;
    s.user("ada@example.com").await;
    for _ in 0..9 {
        assert_eq!(login(&s, "ada@example.com", "wrong password").await.0, 401);
    }
    assert_eq!(login(&s, "ada@example.com", PASSWORD).await.0, 200);
    for _ in 0..10 {
        assert_eq!(login(&s, "ada@example.com", "wrong password").await.0, 401);
    }
    assert_eq!(login(&s, "ada@example.com", PASSWORD).await.0, 429);
    s.clock.as_ref().unwrap().advance(901);
    assert_eq!(login(&s, "ada@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn credential_stuffing_from_one_address_is_stopped() {
    let s = common::spawn_with(|c| c.login_attempts_per_ip = 5, false).await;
    s.user("victim@example.com").await;
    for i in 0..5 {
        let email = format!("guess{i}@example.com");
        assert_eq!(login(&s, &email, "Password1!").await.0, 401);
    }
    // The sixth try from this address is refused even for a real account.
    assert_eq!(login(&s, "victim@example.com", PASSWORD).await.0, 429);
    // The form login reports it on the login page, never as a redirect elsewhere.
    let res = common::browser()
        .post(s.url("/api/session/login"))
        .form(&[
            ("email", "victim@example.com"),
            ("password", PASSWORD),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/login?error=too_many_attempts"),
        "{location}"
    );
}
