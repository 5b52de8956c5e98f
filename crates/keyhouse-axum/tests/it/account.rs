//! The account page's actions, over HTTP with real mail (each test has its
//! own aiosmtpd): the sessions list and signing out elsewhere, moving the
//! account to a new address, and deleting it (docs/threat-model.md rows
//! 96–101).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::{Arc, Mutex};

use common::smtp::{Received, SmtpServer};
use common::*;
use keyhouse_axum::MailTransport;
use keyhouse_core::ClientType;
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.com";
const NEW_EMAIL: &str = "ada@new.example";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

async fn server(frozen: bool) -> (TestServer, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(move |c| c.mail.transport = MailTransport::Smtp(url), frozen).await;
    s.user(EMAIL).await;
    (s, smtp)
}

/// A browser with its own `User-Agent`, signed in as `email`.
async fn signed_in_as(s: &TestServer, email: &str, agent: &str) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([
            (
                reqwest::header::HeaderName::from_static("sec-fetch-site"),
                reqwest::header::HeaderValue::from_static("same-origin"),
            ),
            (
                reqwest::header::USER_AGENT,
                reqwest::header::HeaderValue::from_str(agent).unwrap(),
            ),
        ]))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = post(
        &b,
        s,
        "/api/session/login",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200, "login failed");
    b
}

async fn sessions(b: &reqwest::Client, s: &TestServer) -> Vec<Value> {
    let res = b.get(s.url("/api/account/sessions")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn login_status(s: &TestServer, email: &str) -> u16 {
    post(
        &browser(),
        s,
        "/api/session/login",
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .status()
    .as_u16()
}

async fn id_of(s: &TestServer, email: &str) -> String {
    s.find_user(email).await.expect("user").id
}

fn code_of(mail: &Received) -> String {
    mail.code()
        .unwrap_or_else(|| panic!("no code in {}", mail.text))
}

fn token_of(mail: &Received, path: &str) -> String {
    let l = mail
        .link_containing(&format!("{path}?token="))
        .unwrap_or_else(|| panic!("no link in {}", mail.text));
    query_of(&l)["token"].clone()
}

/// A code that is not `right`.
fn wrong(right: &str) -> String {
    let n: u32 = right.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

// ---------------------------------------------------------------- sessions

#[tokio::test]
async fn the_list_names_each_browser_and_signing_out_elsewhere_ends_the_others() {
    let (s, _smtp) = server(false).await;
    let here = signed_in_as(&s, EMAIL, FIREFOX).await;
    let phone = signed_in_as(&s, EMAIL, SAFARI).await;
    let list = sessions(&here, &s).await;
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["current"], true, "this session first: {list:?}");
    assert_eq!(list[0]["browser"], "Firefox on Windows");
    assert_eq!(list[1]["current"], false);
    assert_eq!(list[1]["browser"], "Safari on iOS");
    assert_eq!(list[1]["ip"], "127.0.0.1");
    // The id shown is neither the cookie nor the key the session is stored under.
    let stored =
        s.kh.store()
            .sessions_of(
                keyhouse_types::SubjectKind::User,
                &id_of(&s, EMAIL).await,
                s.kh.now(),
            )
            .await
            .unwrap();
    for shown in &list {
        let id = shown["id"].as_str().unwrap();
        assert!(stored.iter().all(|r| r.id_hash != id), "{id}");
    }

    let res = post(
        &here,
        &s,
        "/api/account/sessions/sign-out-others",
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let ended: Value = res.json().await.unwrap();
    assert_eq!(ended["ended"], 1);
    // Past the boundary: the phone's very next request is signed out.
    assert_eq!(signed_in_status(&phone, &s).await, 401);
    assert_eq!(signed_in_status(&here, &s).await, 200);
    assert_eq!(sessions(&here, &s).await.len(), 1);
}

#[tokio::test]
async fn one_session_can_be_signed_out_by_its_id_but_never_another_accounts() {
    let (s, _smtp) = server(false).await;
    s.user("eve@example.com").await;
    let here = signed_in_as(&s, EMAIL, FIREFOX).await;
    let phone = signed_in_as(&s, EMAIL, SAFARI).await;
    let eve = signed_in_as(&s, "eve@example.com", FIREFOX).await;
    let phone_id = sessions(&here, &s).await[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Eve learned the id (a screenshot): it ends nothing from her account.
    let res = eve
        .delete(s.url(&format!("/api/account/sessions/{phone_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (404, "not_found".to_owned()));
    assert_eq!(signed_in_status(&phone, &s).await, 200);

    let res = here
        .delete(s.url(&format!("/api/account/sessions/{phone_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(signed_in_status(&phone, &s).await, 401);
    assert_eq!(signed_in_status(&here, &s).await, 200);
    assert_eq!(signed_in_status(&eve, &s).await, 200);
    // Gone means gone: the same id again finds nothing.
    let res = here
        .delete(s.url(&format!("/api/account/sessions/{phone_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn last_use_is_written_every_few_minutes_not_on_every_request() {
    let (s, _smtp) = server(true).await;
    let clock = s.clock.clone().unwrap();
    let here = signed_in_as(&s, EMAIL, FIREFOX).await;
    let signed_in_at = sessions(&here, &s).await[0]["last_seen_at"]
        .as_i64()
        .unwrap();
    clock.advance(120);
    assert_eq!(
        sessions(&here, &s).await[0]["last_seen_at"],
        signed_in_at,
        "two minutes on: not written yet"
    );
    clock.advance(200);
    assert_eq!(
        sessions(&here, &s).await[0]["last_seen_at"],
        signed_in_at + 320,
        "five minutes on: written"
    );
}

// ---------------------------------------------------------- a new address

async fn ask_change(
    b: &reqwest::Client,
    s: &TestServer,
    email: &str,
    password: &str,
) -> reqwest::Response {
    post(
        b,
        s,
        "/api/account/email",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn confirm_change(b: &reqwest::Client, s: &TestServer, code: &str) -> reqwest::Response {
    post(b, s, "/api/account/email/confirm", json!({"code": code})).await
}

#[tokio::test]
async fn the_account_moves_only_when_the_new_address_answers_and_the_old_one_is_told() {
    let (s, smtp) = server(false).await;
    let b = signed_in_as(&s, EMAIL, FIREFOX).await;

    let res = ask_change(&b, &s, NEW_EMAIL, "not my password").await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".to_owned()));
    let res = ask_change(&b, &s, NEW_EMAIL, PASSWORD).await;
    assert_eq!(res.status(), 202);
    let mail = smtp.wait_for(NEW_EMAIL, 1).await;
    assert!(
        mail.subject.contains("Confirm your new email"),
        "{}",
        mail.subject
    );
    // Nothing moved yet: the old address still signs in, the new one does not.
    assert_eq!(login_status(&s, EMAIL).await, 200);
    assert_eq!(login_status(&s, NEW_EMAIL).await, 401);

    let right = code_of(&mail);
    let res = confirm_change(&b, &s, &wrong(&right)).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    let res = confirm_change(&b, &s, &right).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["user"]["email"], NEW_EMAIL);
    assert_eq!(me["user"]["email_verified"], true);
    assert_eq!(login_status(&s, NEW_EMAIL).await, 200);
    assert_eq!(login_status(&s, EMAIL).await, 401);
    // This browser stays signed in, now as the new address.
    let now: Value = b
        .get(s.url("/api/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["user"]["email"], NEW_EMAIL);

    let told = smtp.wait_for(EMAIL, 1).await;
    assert!(told.subject.contains("changed"), "{}", told.subject);
    assert!(told.text.contains(NEW_EMAIL), "{}", told.text);
    // The code worked once.
    let res = confirm_change(&b, &s, &right).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn the_mailed_link_moves_the_account_once_and_a_newer_request_spends_the_older() {
    let (s, smtp) = server(false).await;
    let b = signed_in_as(&s, EMAIL, FIREFOX).await;
    assert_eq!(
        ask_change(&b, &s, "first@new.example", PASSWORD)
            .await
            .status(),
        202
    );
    let first = token_of(
        &smtp.wait_for("first@new.example", 1).await,
        "/verify-email",
    );
    assert_eq!(ask_change(&b, &s, NEW_EMAIL, PASSWORD).await.status(), 202);
    let second = token_of(&smtp.wait_for(NEW_EMAIL, 1).await, "/verify-email");

    // The link needs no session (it may be opened on a phone): the token is the proof.
    let res = post(
        &browser(),
        &s,
        "/api/session/email/link",
        json!({"token": first}),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    let res = post(
        &browser(),
        &s,
        "/api/session/email/link",
        json!({"token": second}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["session"].is_null(), "a link signs nobody in: {body}");
    assert!(s.find_user(NEW_EMAIL).await.is_some());
    assert!(s.find_user(EMAIL).await.is_none());
    let res = post(
        &browser(),
        &s,
        "/api/session/email/link",
        json!({"token": second}),
    )
    .await;
    assert_eq!(res.status(), 400, "a link works once");
}

#[tokio::test]
async fn a_taken_address_answers_the_same_moves_nothing_and_tells_its_owner() {
    let (s, smtp) = server(false).await;
    s.user("grace@example.com").await;
    let b = signed_in_as(&s, EMAIL, FIREFOX).await;
    // A change asked before, to an address the user controls.
    assert_eq!(ask_change(&b, &s, NEW_EMAIL, PASSWORD).await.status(), 202);
    let earlier = code_of(&smtp.wait_for(NEW_EMAIL, 1).await);
    let res = ask_change(&b, &s, "Grace@Example.com", PASSWORD).await;
    assert_eq!(res.status(), 202);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["email"], "grace@example.com");
    let mail = smtp.wait_for("grace@example.com", 1).await;
    assert!(mail.subject.contains("already has"), "{}", mail.subject);
    assert!(mail.code().is_none(), "no code to a taken address");
    let res = confirm_change(&b, &s, "000000").await;
    assert_eq!(res.status(), 400);
    // The earlier change was spent as a free address would have spent it:
    // whether it still works must not tell the user the address is taken.
    let res = confirm_change(&b, &s, &earlier).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    assert!(s.find_user(EMAIL).await.is_some());
}

#[tokio::test]
async fn reset_links_mailed_to_the_old_address_die_when_the_account_moves() {
    let (s, smtp) = server(false).await;
    let res = post(
        &browser(),
        &s,
        "/api/session/password-reset",
        json!({"email": EMAIL}),
    )
    .await;
    assert_eq!(res.status(), 202);
    let reset = token_of(&smtp.wait_for(EMAIL, 1).await, "/reset-password");

    let b = signed_in_as(&s, EMAIL, FIREFOX).await;
    assert_eq!(ask_change(&b, &s, NEW_EMAIL, PASSWORD).await.status(), 202);
    let code = code_of(&smtp.wait_for(NEW_EMAIL, 1).await);
    assert_eq!(confirm_change(&b, &s, &code).await.status(), 200);

    // Whoever reads the old mailbox cannot take the account back with it.
    let res = post(
        &browser(),
        &s,
        "/api/session/password-reset/confirm",
        json!({"token": reset, "password": "taken back by the old mailbox"}),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    assert_eq!(login_status(&s, NEW_EMAIL).await, 200);
}

#[tokio::test]
async fn a_change_code_survives_five_wrong_guesses_and_no_more() {
    let (s, smtp) = server(false).await;
    let b = signed_in_as(&s, EMAIL, FIREFOX).await;
    assert_eq!(ask_change(&b, &s, NEW_EMAIL, PASSWORD).await.status(), 202);
    let right = code_of(&smtp.wait_for(NEW_EMAIL, 1).await);
    for _ in 0..5 {
        assert_eq!(confirm_change(&b, &s, &wrong(&right)).await.status(), 400);
    }
    assert_eq!(confirm_change(&b, &s, &right).await.status(), 400);
    assert!(s.find_user(NEW_EMAIL).await.is_none());
}

#[tokio::test]
async fn an_account_with_no_password_needs_a_recent_sign_in() {
    let (s, smtp) = server(true).await;
    let clock = s.clock.clone().unwrap();
    let b = browser();
    let res = post(
        &b,
        &s,
        "/api/session/email-login",
        json!({"email": "lin@example.com"}),
    )
    .await;
    assert_eq!(res.status(), 202);
    let code = code_of(&smtp.wait_for("lin@example.com", 1).await);
    let res = post(
        &b,
        &s,
        "/api/session/email/code",
        json!({"email": "lin@example.com", "code": code}),
    )
    .await;
    assert_eq!(res.status(), 200);

    clock.advance(901);
    let res = post(&b, &s, "/api/account/email", json!({"email": NEW_EMAIL})).await;
    assert_eq!(
        error_of(res).await,
        (403, "reauthentication_required".to_owned())
    );
    let res = post(
        &b,
        &s,
        "/api/account/delete",
        json!({"confirm_email": "lin@example.com"}),
    )
    .await;
    assert_eq!(
        error_of(res).await,
        (403, "reauthentication_required".to_owned())
    );
    assert!(s.find_user("lin@example.com").await.is_some());
    assert_eq!(smtp.count_to(NEW_EMAIL), 0);
}

// ---------------------------------------------------------------- deletion

async fn delete_account(
    b: &reqwest::Client,
    s: &TestServer,
    confirm: &str,
    password: &str,
) -> reqwest::Response {
    post(
        b,
        s,
        "/api/account/delete",
        json!({"confirm_email": confirm, "password": password}),
    )
    .await
}

#[tokio::test]
async fn deleting_the_account_ends_every_apps_tokens_every_session_and_the_row() {
    let (s, smtp) = server(false).await;
    let deleted = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = deleted.clone();
    let _ = s.kh.clone().on_account_deleted(move |id| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(id);
            Ok(())
        }
    });
    let user_id = id_of(&s, EMAIL).await;
    let b = signed_in_as(&s, EMAIL, FIREFOX).await;
    let phone = signed_in_as(&s, EMAIL, SAFARI).await;
    let c = s.client(ClientType::ThirdParty).await;
    let t = tokens(&s, &b, &c, &[("scope", "openid email offline_access")]).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let refresh_token = t["refresh_token"].as_str().unwrap().to_owned();
    assert!(active(&s, &c, &access).await);

    let res = delete_account(&b, &s, "someone@else.example", PASSWORD).await;
    assert_eq!(error_of(res).await, (400, "invalid_request".to_owned()));
    let res = delete_account(&b, &s, EMAIL, "not my password").await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".to_owned()));
    assert!(deleted.lock().unwrap().is_empty());
    assert!(active(&s, &c, &access).await);

    let res = delete_account(&b, &s, EMAIL, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let gone: Value = res.json().await.unwrap();
    assert_eq!(gone["apps_disconnected"], 1);
    assert_eq!(gone["sessions_ended"], 2);
    assert_eq!(*deleted.lock().unwrap(), vec![user_id.clone()]);

    // Past the boundary: the tokens that already existed stop, at once.
    assert!(!active(&s, &c, &access).await);
    assert_eq!(userinfo(&s, &access).await.status(), 401);
    let res = refresh(&s, &c, &refresh_token, None).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    assert_eq!(signed_in_status(&b, &s).await, 401);
    assert_eq!(signed_in_status(&phone, &s).await, 401);
    assert_eq!(login_status(&s, EMAIL).await, 401);
    assert!(s.find_user(EMAIL).await.is_none());
    assert!(s.kh.store().grants_of(&user_id).await.unwrap().is_empty());
    let mail = smtp.wait_for(EMAIL, 1).await;
    assert!(mail.subject.contains("deleted"), "{}", mail.subject);

    // The address is free again, for a new, empty account.
    s.user(EMAIL).await;
    assert_ne!(id_of(&s, EMAIL).await, user_id);
}

#[tokio::test]
async fn when_the_app_cannot_delete_its_data_nothing_is_deleted() {
    let (s, _smtp) = server(false).await;
    let _ =
        s.kh.clone()
            .on_account_deleted(|_| async { Err("the notes database is down".to_owned()) });
    let b = signed_in_as(&s, EMAIL, FIREFOX).await;
    let c = s.client(ClientType::ThirdParty).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let res = delete_account(&b, &s, EMAIL, PASSWORD).await;
    assert_eq!(error_of(res).await, (500, "server_error".to_owned()));
    assert!(s.find_user(EMAIL).await.is_some());
    assert_eq!(signed_in_status(&b, &s).await, 200);
    assert!(active(&s, &c, &access).await);
}
