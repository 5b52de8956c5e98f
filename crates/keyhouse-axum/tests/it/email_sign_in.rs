//! Proving an address over real mail (each test has its own aiosmtpd):
//! sign-up verification, sign-in by a mailed code or link, and a signed-in
//! user's verification (docs/threat-model.md rows 89–95).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::{Received, SmtpServer};
use common::*;
use keyhouse_axum::{Config, MailTransport};
use keyhouse_core::ClientType;
use serde_json::{Value, json};

const EMAIL: &str = "grace@example.com";
const NEW_PASSWORD: &str = "a passphrase of her own";

async fn server_with(
    frozen: bool,
    configure: impl FnOnce(&mut Config) + Send + 'static,
) -> (TestServer, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(
        move |c| {
            c.mail.transport = MailTransport::Smtp(url);
            configure(c);
        },
        frozen,
    )
    .await;
    (s, smtp)
}

async fn server() -> (TestServer, SmtpServer) {
    server_with(false, |_| {}).await
}

async fn sign_up(
    b: &reqwest::Client,
    s: &TestServer,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let body = json!({"email": email, "password": password, "name": "Grace", "return_to": "/idp?client_id=x"});
    post(b, s, "/api/session/signup", body).await
}

async fn email_login(b: &reqwest::Client, s: &TestServer, email: &str) -> reqwest::Response {
    post(b, s, "/api/session/email-login", json!({"email": email})).await
}

async fn code(b: &reqwest::Client, s: &TestServer, email: &str, code: &str) -> reqwest::Response {
    post(
        b,
        s,
        "/api/session/email/code",
        json!({"email": email, "code": code}),
    )
    .await
}

async fn link(b: &reqwest::Client, s: &TestServer, token: &str) -> reqwest::Response {
    post(b, s, "/api/session/email/link", json!({"token": token})).await
}

fn code_of(mail: &Received) -> String {
    mail.code()
        .unwrap_or_else(|| panic!("no code in {}", mail.text))
}

fn token_of(s: &TestServer, mail: &Received) -> String {
    let l = mail
        .link_containing("/verify-email?token=")
        .unwrap_or_else(|| panic!("no link in {}", mail.text));
    assert!(l.starts_with(&s.url("/verify-email?token=")), "{l}");
    query_of(&l)["token"].clone()
}

/// A code that is not `right`.
fn wrong(right: &str) -> String {
    let n: u32 = right.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn me(b: &reqwest::Client, s: &TestServer) -> Option<Value> {
    let res = b.get(s.url("/api/session")).send().await.unwrap();
    if res.status() == 200 {
        Some(res.json().await.unwrap())
    } else {
        None
    }
}

async fn login_status(s: &TestServer, email: &str, password: &str) -> u16 {
    post(
        &browser(),
        s,
        "/api/session/login",
        json!({"email": email, "password": password}),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn sign_up_creates_the_account_only_when_the_mailed_code_comes_back() {
    let (s, smtp) = server().await;
    let b = browser();
    let res = sign_up(&b, &s, EMAIL, NEW_PASSWORD).await;
    assert_eq!(res.status(), 202);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["email"], EMAIL);
    assert_eq!(sent["code_length"], 6);
    // Nothing exists and nobody is signed in until the address is proven.
    assert!(s.find_user(EMAIL).await.is_none());
    assert!(me(&b, &s).await.is_none());

    let mail = smtp.wait_for(EMAIL, 1).await;
    assert!(
        mail.subject.contains("Confirm your email"),
        "{}",
        mail.subject
    );
    let right = code_of(&mail);
    let (status, error) = error_of(code(&b, &s, EMAIL, &wrong(&right)).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert!(s.find_user(EMAIL).await.is_none());

    let res = code(&b, &s, EMAIL, &right).await;
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["user"]["email_verified"], true);
    let user = s.find_user(EMAIL).await.expect("created");
    assert!(user.email_verified);
    assert_eq!(user.name, "Grace");
    // The password chosen at sign-up is the account's.
    assert_eq!(login_status(&s, EMAIL, NEW_PASSWORD).await, 200);
    // And the code is spent.
    let (status, _) = error_of(code(&browser(), &s, EMAIL, &right).await).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_id_token_and_userinfo_say_the_address_is_verified_after_sign_up() {
    let (s, smtp) = server().await;
    let b = browser();
    sign_up(&b, &s, EMAIL, NEW_PASSWORD).await;
    let right = code_of(&smtp.wait_for(EMAIL, 1).await);
    assert_eq!(code(&b, &s, EMAIL, &right).await.status(), 200);

    let c = s.client(ClientType::ThirdParty).await;
    let issued = common::code(&s, &b, &c.client.id, &[("scope", "openid email")]).await;
    let tokens = ok_json(exchange(&s, &c, &issued).await).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], EMAIL);
    assert_eq!(id["email_verified"], true);
    let info = ok_json(
        reqwest::Client::new()
            .get(s.url("/oauth2/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["email_verified"], true);
}

#[tokio::test]
async fn sign_up_with_a_taken_address_answers_the_same_and_tells_the_owner() {
    let (s, smtp) = server().await;
    s.user(EMAIL).await;
    let fresh = sign_up(&browser(), &s, "new@example.com", NEW_PASSWORD).await;
    let taken = sign_up(&browser(), &s, EMAIL, NEW_PASSWORD).await;
    assert_eq!(fresh.status(), taken.status());
    let (a, b): (Value, Value) = (fresh.json().await.unwrap(), taken.json().await.unwrap());
    assert_eq!(
        a.as_object().unwrap().keys().collect::<Vec<_>>(),
        b.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    assert_eq!(a["expires_in"], b["expires_in"]);

    let notice = smtp.wait_for(EMAIL, 1).await;
    assert!(
        notice.subject.contains("already have"),
        "{}",
        notice.subject
    );
    assert!(
        notice.code().is_none(),
        "the owner gets no code: {}",
        notice.text
    );
    // The account is untouched: its password stays, the new one does not work.
    assert_eq!(login_status(&s, EMAIL, PASSWORD).await, 200);
    assert_eq!(login_status(&s, EMAIL, NEW_PASSWORD).await, 401);
}

#[tokio::test]
async fn a_link_works_only_in_the_browser_that_asked_and_only_once() {
    let (s, smtp) = server().await;
    let asker = browser();
    sign_up(&asker, &s, EMAIL, NEW_PASSWORD).await;
    let token = token_of(&s, &smtp.wait_for(EMAIL, 1).await);

    // Opened elsewhere (a forwarded mail, or a link planted in someone
    // else's browser): refused, and nothing is created.
    let other = browser();
    let (status, error) = error_of(link(&other, &s, &token).await).await;
    assert_eq!((status, error.as_str()), (400, "wrong_browser"));
    assert!(s.find_user(EMAIL).await.is_none());
    assert!(me(&other, &s).await.is_none());

    let res = link(&asker, &s, &token).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["return_to"], "/idp?client_id=x");
    assert_eq!(body["session"]["user"]["email"], EMAIL);
    assert!(me(&asker, &s).await.is_some());

    let (status, error) = error_of(link(&asker, &s, &token).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn a_code_typed_in_another_browser_is_refused_and_does_not_spend_the_message() {
    let (s, smtp) = server().await;
    s.user(EMAIL).await;
    let asker = browser();
    email_login(&asker, &s, EMAIL).await;
    let right = code_of(&smtp.wait_for(EMAIL, 1).await);
    // Someone else, with the right code even, more times than a message
    // survives wrong codes: refused every time...
    for _ in 0..=s.kh.config().email_code_attempts {
        let other = browser();
        let (status, _) = error_of(code(&other, &s, EMAIL, &right).await).await;
        assert_eq!(status, 400);
        assert!(me(&other, &s).await.is_none());
    }
    // ...and the owner's message still works in the browser that asked.
    assert_eq!(code(&asker, &s, EMAIL, &right).await.status(), 200);
}

#[tokio::test]
async fn a_message_survives_wrong_codes_up_to_the_limit_and_not_past_it() {
    let (s, smtp) = server().await;
    s.user(EMAIL).await;
    let limit = s.kh.config().email_code_attempts;

    // One short of the limit: the right code still works.
    let b = browser();
    email_login(&b, &s, EMAIL).await;
    let right = code_of(&smtp.wait_for(EMAIL, 1).await);
    for _ in 0..limit - 1 {
        assert_eq!(code(&b, &s, EMAIL, &wrong(&right)).await.status(), 400);
    }
    assert_eq!(code(&b, &s, EMAIL, &right).await.status(), 200);

    // At the limit: the message is dead, the right code too.
    let b = browser();
    email_login(&b, &s, EMAIL).await;
    let right = code_of(&smtp.wait_for(EMAIL, 2).await);
    for _ in 0..limit {
        assert_eq!(code(&b, &s, EMAIL, &wrong(&right)).await.status(), 400);
    }
    let (status, error) = error_of(code(&b, &s, EMAIL, &right).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert!(me(&b, &s).await.is_none());
}

#[tokio::test]
async fn only_the_newest_message_counts_and_a_code_for_another_address_is_refused() {
    let (s, smtp) = server().await;
    s.user(EMAIL).await;
    s.user("other@example.com").await;
    let b = browser();
    // Someone else asks for the same address from their own browser.
    let stranger = browser();
    email_login(&b, &s, EMAIL).await;
    let older = code_of(&smtp.wait_for(EMAIL, 1).await);
    email_login(&b, &s, EMAIL).await;
    let newer = code_of(&smtp.wait_for(EMAIL, 2).await);
    email_login(&stranger, &s, EMAIL).await;
    let strangers = code_of(&smtp.wait_for(EMAIL, 3).await);
    email_login(&b, &s, "other@example.com").await;
    let foreign = code_of(&smtp.wait_for("other@example.com", 1).await);
    if strangers != newer {
        assert_eq!(code(&b, &s, EMAIL, &strangers).await.status(), 400);
    }
    if older != newer {
        assert_eq!(code(&b, &s, EMAIL, &older).await.status(), 400);
    }
    if foreign != newer {
        assert_eq!(code(&b, &s, EMAIL, &foreign).await.status(), 400);
    }
    let res = code(&b, &s, EMAIL, &newer).await;
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["user"]["email"], EMAIL);
    // Signing in by mail proved the address.
    assert!(s.find_user(EMAIL).await.unwrap().email_verified);
}

#[tokio::test]
async fn a_code_past_its_lifetime_is_refused_and_one_inside_it_works() {
    let (s, smtp) = server_with(true, |_| {}).await;
    s.user(EMAIL).await;
    let clock = s.clock.clone().unwrap();
    let ttl = s.kh.config().email_code_ttl;

    let b = browser();
    email_login(&b, &s, EMAIL).await;
    let late = code_of(&smtp.wait_for(EMAIL, 1).await);
    clock.advance(ttl + 1);
    assert_eq!(code(&b, &s, EMAIL, &late).await.status(), 400);

    email_login(&b, &s, EMAIL).await;
    let in_time = code_of(&smtp.wait_for(EMAIL, 2).await);
    clock.advance(ttl - 1);
    assert_eq!(code(&b, &s, EMAIL, &in_time).await.status(), 200);
}

#[tokio::test]
async fn signing_in_by_mail_creates_a_passwordless_account_only_while_sign_up_is_open() {
    let (s, smtp) = server().await;
    let b = browser();
    assert_eq!(email_login(&b, &s, EMAIL).await.status(), 202);
    let mail = smtp.wait_for(EMAIL, 1).await;
    assert!(mail.subject.contains("code"), "{}", mail.subject);
    assert_eq!(code(&b, &s, EMAIL, &code_of(&mail)).await.status(), 200);
    let user = s.find_user(EMAIL).await.expect("created");
    assert!(user.email_verified);
    // It has no password: no password signs in.
    assert_ne!(login_status(&s, EMAIL, "").await, 200);
    assert_eq!(login_status(&s, EMAIL, PASSWORD).await, 401);

    let (closed, smtp2) = server_with(false, |c| c.signup_enabled = false).await;
    let res = email_login(&browser(), &closed, EMAIL).await;
    assert_eq!(res.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp2.count_to(EMAIL), 0);
}

#[tokio::test]
async fn past_the_per_address_limit_nothing_is_sent_and_the_answer_is_unchanged() {
    let (s, smtp) = server().await;
    s.user(EMAIL).await;
    let limit = usize::try_from(s.kh.config().email_codes_per_address_per_hour).unwrap();
    for _ in 0..limit + 2 {
        assert_eq!(email_login(&browser(), &s, EMAIL).await.status(), 202);
    }
    smtp.wait_for(EMAIL, limit).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp.count_to(EMAIL), limit);
}

#[tokio::test]
async fn a_signed_in_user_verifies_an_address_by_a_mailed_link_from_any_browser() {
    let (s, smtp) = server().await;
    s.user(EMAIL).await;
    assert!(!s.find_user(EMAIL).await.unwrap().email_verified);
    let b = s.signed_in(EMAIL).await;
    let session = me(&b, &s).await.unwrap();
    assert_eq!(session["user"]["email_verified"], false);

    assert_eq!(
        post(&b, &s, "/api/account/email/verify", json!({}))
            .await
            .status(),
        202
    );
    let mail = smtp.wait_for(EMAIL, 1).await;
    assert!(
        mail.subject.contains("Verify your email"),
        "{}",
        mail.subject
    );
    let token = token_of(&s, &mail);
    // Opened on the phone that reads the mail: it verifies, signs nobody in.
    let phone = browser();
    let res = link(&phone, &s, &token).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("session").is_none(), "{body}");
    assert!(me(&phone, &s).await.is_none());
    assert!(s.find_user(EMAIL).await.unwrap().email_verified);
    assert_eq!(me(&b, &s).await.unwrap()["user"]["email_verified"], true);
}

#[tokio::test]
async fn a_password_reset_link_proves_the_address_too() {
    let (s, smtp) = server().await;
    s.user(EMAIL).await;
    post(
        &browser(),
        &s,
        "/api/session/password-reset",
        json!({"email": EMAIL}),
    )
    .await;
    let mail = smtp.wait_for(EMAIL, 1).await;
    let l = mail.link_containing("/reset-password?token=").unwrap();
    let token = query_of(&l)["token"].clone();
    let res = post(
        &browser(),
        &s,
        "/api/session/password-reset/confirm",
        json!({"token": token, "password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(s.find_user(EMAIL).await.unwrap().email_verified);
}

#[tokio::test]
async fn the_link_and_code_are_stored_only_as_hashes() {
    use sea_orm::ConnectionTrait;
    let (s, smtp) = server().await;
    s.user(EMAIL).await;
    email_login(&browser(), &s, EMAIL).await;
    let mail = smtp.wait_for(EMAIL, 1).await;
    let (token, code) = (token_of(&s, &mail), code_of(&mail));
    let db = s.kh.store().connection();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id_hash, code_hash, payload FROM email_challenges".to_owned(),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let id_hash: String = rows[0].try_get("", "id_hash").unwrap();
    let code_hash: String = rows[0].try_get("", "code_hash").unwrap();
    let payload: Option<String> = rows[0].try_get("", "payload").unwrap();
    assert_eq!(id_hash, keyhouse_core::secret::hash_token(&token));
    for stored in [&id_hash, &code_hash, &payload.unwrap_or_default()] {
        assert!(
            !stored.contains(&token) && !stored.contains(&code),
            "{stored}"
        );
    }
}

/// The binding cookie a response sets: `(value, max-age)`.
fn binding_cookie(res: &reqwest::Response) -> Option<(String, String)> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("keyhouse_email="))
        .map(|v| {
            let value = v
                .split(';')
                .next()
                .unwrap()
                .trim_start_matches("keyhouse_email=");
            let age = v
                .split(';')
                .find_map(|p| p.trim().strip_prefix("Max-Age="))
                .unwrap();
            (value.to_owned(), age.to_owned())
        })
}

#[tokio::test]
async fn asking_again_keeps_the_browsers_binding_and_renews_its_lifetime() {
    let (s, smtp) = server_with(true, |_| {}).await;
    s.user(EMAIL).await;
    let clock = s.clock.clone().unwrap();
    let ttl = s.kh.config().email_code_ttl;
    let b = browser();
    let (first, age) = binding_cookie(&email_login(&b, &s, EMAIL).await).expect("a binding cookie");
    assert_eq!(age, ttl.to_string());
    smtp.wait_for(EMAIL, 1).await;
    // Near the end of the first message's life the browser asks again: the
    // same binding, with a lifetime as long as the new message's.
    clock.advance(ttl - 60);
    let (again, age) = binding_cookie(&email_login(&b, &s, EMAIL).await).expect("renewed");
    assert_eq!((again.as_str(), age), (first.as_str(), ttl.to_string()));
    let right = code_of(&smtp.wait_for(EMAIL, 2).await);
    assert_eq!(code(&b, &s, EMAIL, &right).await.status(), 200);
}
