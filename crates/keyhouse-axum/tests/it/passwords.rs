//! Password reset over real mail: each test sends through its own aiosmtpd
//! and reads the link from the message it received.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::{Received, SmtpServer};
use common::*;
use keyhouse_axum::MailTransport;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.com";
const NEW_PASSWORD: &str = "a brand new passphrase";
const AGENT: &str = "KeyhouseTest/1.0 (reset)";

async fn server(frozen: bool) -> (TestServer, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(
        move |c| {
            c.mail.transport = MailTransport::Smtp(url);
            c.mail.from = "Notes <no-reply@notes.example>".into();
        },
        frozen,
    )
    .await;
    s.user(EMAIL).await;
    (s, smtp)
}

async fn ask(s: &TestServer, email: &str) -> reqwest::Response {
    browser()
        .post(s.url("/api/session/password-reset"))
        .header("user-agent", AGENT)
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

async fn confirm(s: &TestServer, token: &str, password: &str) -> reqwest::Response {
    browser()
        .post(s.url("/api/session/password-reset/confirm"))
        .header("user-agent", AGENT)
        .json(&json!({ "token": token, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn login_status(s: &TestServer, password: &str) -> u16 {
    browser()
        .post(s.url("/api/session/login"))
        .json(&json!({ "email": EMAIL, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn token_of(s: &TestServer, mail: &Received) -> String {
    let link = mail
        .link_containing("/reset-password?token=")
        .unwrap_or_else(|| panic!("no reset link in {}", mail.text));
    assert!(link.starts_with(&s.url("/reset-password?token=")), "{link}");
    query_of(&link)["token"].clone()
}

#[tokio::test]
async fn a_mailed_link_sets_a_new_password_and_ends_every_session() {
    let (s, smtp) = server(false).await;
    let phone = s.signed_in(EMAIL).await;
    let laptop = s.signed_in(EMAIL).await;

    let res = ask(&s, EMAIL).await;
    assert_eq!(res.status(), 202);
    let mail = smtp.wait_for(EMAIL, 1).await;
    assert!(
        mail.subject.starts_with("Reset your 127.0.0.1 password"),
        "{}",
        mail.subject
    );
    // A security mail says from where and with what it was asked.
    assert!(
        mail.text.contains("127.0.0.1") && mail.text.contains(AGENT),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("Choose a new password"), "{}", mail.html);
    assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
    assert!(
        mail.header("From")
            .unwrap()
            .contains("no-reply@notes.example")
    );

    let token = token_of(&s, &mail);
    assert_eq!(confirm(&s, &token, NEW_PASSWORD).await.status(), 200);

    // The old password stops at once; the new one works.
    assert_eq!(login_status(&s, PASSWORD).await, 401);
    assert_eq!(login_status(&s, NEW_PASSWORD).await, 200);
    // Every session of the account ended, on every device.
    for b in [&phone, &laptop] {
        let res = b.get(s.url("/api/session")).send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    // And a notice follows.
    let notice = smtp.wait_for(EMAIL, 2).await;
    assert!(
        notice.subject.contains("password was changed"),
        "{}",
        notice.subject
    );
}

#[tokio::test]
async fn a_link_works_once() {
    let (s, smtp) = server(false).await;
    ask(&s, EMAIL).await;
    let token = token_of(&s, &smtp.wait_for(EMAIL, 1).await);
    assert_eq!(confirm(&s, &token, NEW_PASSWORD).await.status(), 200);
    // The second use, with another password: refused, and changes nothing.
    let (status, error) = error_of(confirm(&s, &token, "yet another passphrase").await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert_eq!(login_status(&s, "yet another passphrase").await, 401);
    assert_eq!(login_status(&s, NEW_PASSWORD).await, 200);
}

#[tokio::test]
async fn a_link_past_its_lifetime_is_refused_and_one_inside_it_works() {
    let (s, smtp) = server(true).await;
    let clock = s.clock.clone().unwrap();
    let ttl = s.kh.config().password_reset_ttl;

    ask(&s, EMAIL).await;
    let late = token_of(&s, &smtp.wait_for(EMAIL, 1).await);
    clock.advance(ttl + 1);
    let (status, error) = error_of(confirm(&s, &late, NEW_PASSWORD).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert_eq!(login_status(&s, PASSWORD).await, 200);

    ask(&s, EMAIL).await;
    let in_time = token_of(&s, &smtp.wait_for(EMAIL, 2).await);
    clock.advance(ttl - 1);
    assert_eq!(confirm(&s, &in_time, NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_newer_link_or_a_reset_stops_every_older_link() {
    let (s, smtp) = server(false).await;
    ask(&s, EMAIL).await;
    ask(&s, EMAIL).await;
    let first = token_of(&s, &smtp.wait_for(EMAIL, 1).await);
    let second = token_of(&s, &smtp.wait_for(EMAIL, 2).await);
    assert_ne!(first, second);
    assert_eq!(confirm(&s, &second, NEW_PASSWORD).await.status(), 200);
    // The first link was never used, but the reset made it worthless.
    let (status, _) = error_of(confirm(&s, &first, "yet another passphrase").await).await;
    assert_eq!(status, 400);
    assert_eq!(login_status(&s, NEW_PASSWORD).await, 200);
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_no_mail() {
    let (s, smtp) = server(false).await;
    let unknown = ask(&s, "nobody@example.com").await;
    let known = ask(&s, EMAIL).await;
    assert_eq!(unknown.status(), known.status());
    let (a, b): (Value, Value) = (unknown.json().await.unwrap(), known.json().await.unwrap());
    assert_eq!(a, b);
    // The known address's mail arrives; none for the unknown one ever left.
    smtp.wait_for(EMAIL, 1).await;
    assert_eq!(smtp.count_to("nobody@example.com"), 0);
}

#[tokio::test]
async fn past_the_per_address_limit_nothing_is_sent_and_the_answer_is_unchanged() {
    let (s, smtp) = server(false).await;
    let limit = usize::try_from(s.kh.config().password_resets_per_address_per_hour).unwrap();
    for _ in 0..limit + 2 {
        assert_eq!(ask(&s, EMAIL).await.status(), 202);
    }
    smtp.wait_for(EMAIL, limit).await;
    // Give a stray extra mail time to arrive before counting.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp.count_to(EMAIL), limit);
}

#[tokio::test]
async fn a_made_up_token_is_refused_and_a_refused_password_spends_nothing() {
    let (s, smtp) = server(false).await;
    let (status, error) = error_of(confirm(&s, "made-up-token", NEW_PASSWORD).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));

    ask(&s, EMAIL).await;
    let token = token_of(&s, &smtp.wait_for(EMAIL, 1).await);
    // Too short: refused before the token is touched ...
    let (status, error) = error_of(confirm(&s, &token, "short").await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_request"));
    assert_eq!(login_status(&s, PASSWORD).await, 200);
    // ... so the link still works.
    assert_eq!(confirm(&s, &token, NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn the_token_is_stored_only_as_a_hash() {
    let (s, smtp) = server(false).await;
    ask(&s, EMAIL).await;
    let token = token_of(&s, &smtp.wait_for(EMAIL, 1).await);
    let rows =
        s.kh.store()
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                s.kh.store().connection().get_database_backend(),
                "SELECT token_hash FROM account_tokens".to_owned(),
            ))
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    let stored: String = rows[0].try_get("", "token_hash").unwrap();
    assert_ne!(stored, token);
    assert_eq!(stored, keyhouse_core::secret::hash_token(&token));
}

async fn change(
    b: &reqwest::Client,
    s: &TestServer,
    current: &str,
    new: &str,
) -> reqwest::Response {
    b.post(s.url("/api/account/password"))
        .json(&json!({ "current_password": current, "new_password": new }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let (s, smtp) = server(false).await;
    let phone = s.signed_in(EMAIL).await;
    let laptop = s.signed_in(EMAIL).await;
    let res = change(&laptop, &s, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["other_sessions_ended"], 1);
    assert_eq!(signed_in_status(&laptop, &s).await, 200);
    assert_eq!(signed_in_status(&phone, &s).await, 401);
    assert_eq!(login_status(&s, PASSWORD).await, 401);
    assert_eq!(login_status(&s, NEW_PASSWORD).await, 200);
    let notice = smtp.wait_for(EMAIL, 1).await;
    assert!(
        notice.subject.contains("password was changed"),
        "{}",
        notice.subject
    );
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let (s, _smtp) = server(false).await;
    let phone = s.signed_in(EMAIL).await;
    let laptop = s.signed_in(EMAIL).await;
    let (status, error) =
        error_of(change(&laptop, &s, "not my password", NEW_PASSWORD).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_credentials"));
    assert_eq!(signed_in_status(&phone, &s).await, 200);
    assert_eq!(login_status(&s, PASSWORD).await, 200);
    assert_eq!(login_status(&s, NEW_PASSWORD).await, 401);
}

#[tokio::test]
async fn guessing_the_current_password_with_a_stolen_session_is_throttled() {
    let (s, _smtp) = server(false).await;
    let thief = s.signed_in(EMAIL).await;
    let limit = s.kh.config().login_attempts_per_account;
    for _ in 0..limit {
        let (status, _) = error_of(change(&thief, &s, "a guess at it", NEW_PASSWORD).await).await;
        assert_eq!(status, 401);
    }
    // Past the free attempts, even the right password waits.
    let (status, error) = error_of(change(&thief, &s, PASSWORD, NEW_PASSWORD).await).await;
    assert_eq!((status, error.as_str()), (429, "too_many_attempts"));
}

#[tokio::test]
async fn without_a_session_the_password_cannot_be_changed() {
    let (s, _smtp) = server(false).await;
    let (status, error) = error_of(change(&browser(), &s, PASSWORD, NEW_PASSWORD).await).await;
    assert_eq!((status, error.as_str()), (401, "session_required"));
    assert_eq!(login_status(&s, PASSWORD).await, 200);
}

#[tokio::test]
async fn a_change_spends_an_outstanding_reset_link() {
    let (s, smtp) = server(false).await;
    ask(&s, EMAIL).await;
    let token = token_of(&s, &smtp.wait_for(EMAIL, 1).await);
    let b = s.signed_in(EMAIL).await;
    assert_eq!(change(&b, &s, PASSWORD, NEW_PASSWORD).await.status(), 200);
    let (status, _) = error_of(confirm(&s, &token, "yet another passphrase").await).await;
    assert_eq!(status, 400);
    assert_eq!(login_status(&s, NEW_PASSWORD).await, 200);
}
