//! docs/threat-model.md row 25: brute force and credential stuffing meet per-account
//! and per-IP limits, counted in the database, with answers that do not tell
//! a known email from an unknown one.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;

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
    // Other accounts from the same address are unaffected (22 < 100 per IP).
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

async fn login_from(s: &common::TestServer, forwarded: &str, email: &str) -> u16 {
    reqwest::Client::new()
        .post(s.url("/api/session/login"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"email": email, "password": "wrong password"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// docs/threat-model.md row 41. The fixed-window upsert once bound three
/// values to four `?` placeholders on SQLite: the fourth was NULL, the
/// window never moved, and every counter read 0 after the first window.
#[tokio::test]
async fn the_per_ip_limit_holds_in_the_second_window_too() {
    let s = common::spawn_with(|c| c.login_attempts_per_ip = 5, true).await;
    for window in 0..3 {
        for i in 0..5 {
            let email = format!("guess{window}-{i}@example.com");
            assert_eq!(login(&s, &email, "wrong").await.0, 401, "window {window}");
        }
        assert_eq!(
            login(&s, "another@example.com", "wrong").await.0,
            429,
            "window {window}: the sixth attempt is refused"
        );
        s.clock.as_ref().unwrap().advance(901);
    }
}

/// docs/threat-model.md row 41, per account: after a window ends the count
/// starts over and stops guessing again at the limit.
#[tokio::test]
async fn the_per_account_limit_holds_in_the_second_window_too() {
    let s = common::spawn_with(|_| {}, true).await;
    s.user("ada@example.com").await;
    for window in 0..2 {
        for _ in 0..10 {
            assert_eq!(login(&s, "ada@example.com", "wrong").await.0, 401);
        }
        assert_eq!(
            login(&s, "ada@example.com", PASSWORD).await.0,
            429,
            "window {window}"
        );
        s.clock.as_ref().unwrap().advance(901);
    }
}

/// docs/threat-model.md row 42: attempts are counted before the password is
/// checked, so a burst cannot slip under the limit.
#[tokio::test]
async fn a_hundred_simultaneous_guesses_check_at_most_ten_passwords() {
    let s = common::spawn_with(|_| {}, true).await;
    s.user("ada@example.com").await;
    let guesses = (0..100).map(|i| {
        let s = &s;
        async move { login(s, "ada@example.com", &format!("guess {i}")).await.0 }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|&&c| c == 401).count();
    let refused = statuses.iter().filter(|&&c| c == 429).count();
    assert!(checked <= 10, "{checked} passwords were checked");
    assert_eq!(checked + refused, 100, "{statuses:?}");
}

/// docs/threat-model.md row 52: past the free attempts, the account waits a
/// delay that grows (15 s, 60 s, 135 s, … at most 300 s); attempts refused
/// during a delay do not lengthen it, so the owner gets in once it passes.
#[tokio::test]
async fn the_account_delay_grows_and_an_attacker_cannot_stretch_it() {
    let s = common::spawn_with(|_| {}, true).await;
    s.user("ada@example.com").await;
    let clock = s.clock.as_ref().unwrap();
    for _ in 0..10 {
        assert_eq!(login(&s, "ada@example.com", "wrong").await.0, 401);
    }
    // First delay: 15 s. One second short is still refused.
    clock.advance(14);
    assert_eq!(login(&s, "ada@example.com", PASSWORD).await.0, 429);
    clock.advance(1);
    assert_eq!(login(&s, "ada@example.com", "wrong").await.0, 401);
    // Second delay: 60 s, however hard the attacker knocks meanwhile.
    for _ in 0..50 {
        assert_eq!(login(&s, "ada@example.com", "wrong").await.0, 429);
    }
    clock.advance(59);
    assert_eq!(login(&s, "ada@example.com", "wrong").await.0, 429);
    clock.advance(1);
    assert_eq!(login(&s, "ada@example.com", "wrong").await.0, 401);
    // The delays stop growing at five minutes: the owner is never out for
    // the whole day.
    for k in 3..8 {
        let delay = (15 * k * k).min(300);
        clock.advance(delay - 1);
        assert_eq!(login(&s, "ada@example.com", "wrong").await.0, 429, "k={k}");
        clock.advance(1);
        let expected = if k == 7 { PASSWORD } else { "wrong" };
        let status = login(&s, "ada@example.com", expected).await.0;
        assert_eq!(status, if k == 7 { 200 } else { 401 }, "k={k}");
    }
    // The success cleared the account.
    assert_eq!(login(&s, "ada@example.com", "wrong").await.0, 401);
}

/// docs/threat-model.md row 52: `X-Forwarded-For` is the client's own word
/// unless the peer is a trusted proxy.
#[tokio::test]
async fn forwarded_for_is_ignored_unless_the_proxy_is_trusted() {
    let s = common::spawn_with(|c| c.login_attempts_per_ip = 3, false).await;
    for i in 0..3 {
        let ip = format!("203.0.113.{i}");
        assert_eq!(login_from(&s, &ip, &format!("a{i}@example.com")).await, 401);
    }
    // A fresh forged address per guess does not reset the limit.
    assert_eq!(login_from(&s, "198.51.100.9", "b@example.com").await, 429);

    let trusted = keyhouse_axum::IpRange::parse("127.0.0.1").unwrap();
    let s = common::spawn_with(
        |c| {
            c.login_attempts_per_ip = 3;
            c.trusted_proxies = vec![trusted];
        },
        false,
    )
    .await;
    for i in 0..3 {
        assert_eq!(
            login_from(&s, "203.0.113.1", &format!("a{i}@example.com")).await,
            401
        );
    }
    assert_eq!(login_from(&s, "203.0.113.1", "b@example.com").await, 429);
    // Behind the trusted proxy another client has its own count.
    assert_eq!(login_from(&s, "203.0.113.2", "c@example.com").await, 401);
    // A client cannot prepend an address to escape: the proxy's own entry
    // (the right-most) is what counts.
    assert_eq!(
        login_from(&s, "10.9.9.9, 203.0.113.1", "d@example.com").await,
        429
    );
}

/// docs/threat-model.md row 45: sign-up is throttled per client IP, and a
/// taken address is refused before any password hashing.
#[tokio::test]
async fn sign_up_is_throttled_per_address() {
    let s = common::spawn_with(
        |c| {
            c.signups_per_ip_per_hour = 3;
            c.verify_email_at_signup = false;
        },
        true,
    )
    .await;
    let signup = |email: String| {
        let s = &s;
        async move {
            reqwest::Client::new()
                .post(s.url("/api/session/signup"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(signup("one@example.com".into()).await, 201);
    assert_eq!(signup("one@example.com".into()).await, 409);
    assert_eq!(signup("two@example.com".into()).await, 201);
    // Probing for taken addresses is throttled like everything else.
    assert_eq!(signup("three@example.com".into()).await, 429);
    s.clock.as_ref().unwrap().advance(3601);
    assert_eq!(signup("three@example.com".into()).await, 201);
}
