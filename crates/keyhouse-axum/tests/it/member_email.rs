//! Members of organizations sign in by a mailed link or code, over real
//! mail (each test has its own aiosmtpd): the code or link answers like
//! discovery, and the sign-in says `email` (docs/threat-model.md rows
//! 141–145).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::{Received, SmtpServer};
use common::*;
use keyhouse_axum::MailTransport;
use keyhouse_core::{ClientType, totp};
use serde_json::{Value, json};

/// A member of both organizations.
const BOTH: &str = "pat@example.com";
/// A member of `acme` only.
const SAM: &str = "sam@acme.test";

/// A server with `acme` (Acme Inc) and `globex` (Globex): `BOTH` in the
/// two, `SAM` in `acme`. The clock is frozen, so the app's codes are the
/// ones `keyhouse_core::totp` computes.
async fn server() -> (TestServer, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(move |c| c.mail.transport = MailTransport::Smtp(url), true).await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    s.kh.create_organization("Globex", "globex").await.unwrap();
    for (org, email) in [("acme", BOTH), ("globex", BOTH), ("acme", SAM)] {
        s.kh.create_member(org, email, PASSWORD, "Pat", &["member".to_owned()])
            .await
            .unwrap();
    }
    (s, smtp)
}

async fn ask(b: &reqwest::Client, s: &TestServer, body: Value) -> reqwest::Response {
    post(b, s, "/api/b2b/discovery/email", body).await
}

async fn code(b: &reqwest::Client, s: &TestServer, email: &str, code: &str) -> reqwest::Response {
    post(
        b,
        s,
        "/api/b2b/discovery/email/code",
        json!({"email": email, "code": code}),
    )
    .await
}

async fn link(b: &reqwest::Client, s: &TestServer, token: &str) -> reqwest::Response {
    post(
        b,
        s,
        "/api/b2b/discovery/email/link",
        json!({"token": token}),
    )
    .await
}

async fn select(
    b: &reqwest::Client,
    s: &TestServer,
    found: &Value,
    slug: &str,
) -> reqwest::Response {
    post(
        b,
        s,
        "/api/b2b/discovery/select",
        json!({"discovery_token": found["discovery_token"], "organization_slug": slug}),
    )
    .await
}

fn token_in(mail: &Received, path: &str) -> String {
    let l = mail
        .link_containing(&format!("{path}?token="))
        .unwrap_or_else(|| panic!("no {path} link in {}", mail.text));
    query_of(&l)["token"].clone()
}

fn slugs(found: &Value) -> Vec<String> {
    found["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap().to_owned())
        .collect()
}

async fn member_session(s: &TestServer, b: &reqwest::Client) -> (u16, Value) {
    let res = b.get(s.url("/api/b2b/session")).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_mailed_code_offers_every_organization_of_the_address_and_the_tokens_say_email() {
    let (s, smtp) = server().await;
    let b = browser();
    let res = ask(&b, &s, json!({"email": "Pat@Example.com"})).await;
    assert_eq!(res.status(), 202);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(
        (sent["email"].as_str(), sent["code_length"].as_u64()),
        (Some(BOTH), Some(6))
    );
    // Nobody is signed in until the code comes back.
    assert_eq!(member_session(&s, &b).await.0, 401);

    let mail = smtp.wait_for(BOTH, 1).await;
    assert!(
        mail.subject.contains("your organizations"),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains("Hello Pat"), "{}", mail.text);
    // The link leads to the organization sign-in's page, not the account's.
    token_in(&mail, "/org/login/email");
    let right = mail.code().unwrap();

    let res = code(&b, &s, BOTH, &right).await;
    assert_eq!(res.status(), 200);
    let found: Value = res.json().await.unwrap();
    assert_eq!(slugs(&found), ["acme", "globex"]);
    assert_eq!(
        member_session(&s, &b).await.0,
        401,
        "a choice, not a session yet"
    );

    let res = select(&b, &s, &found, "globex").await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["organization"]["slug"], "globex");
    assert_eq!(me["amr"], json!(["email"]));

    // The ID token of a grant made from this session says how.
    let c = s.client(ClientType::ThirdParty).await;
    let granted = member_code(&s, &b, &c, &[]).await;
    let tokens = ok_json(exchange(&s, &c, &granted).await).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["email"]));
    assert_eq!(id["acr"], "urn:keyhouse:acr:1fa");

    // The discovery token opened one organization, once; the code is spent.
    let (status, error) = error_of(select(&b, &s, &found, "acme").await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_credentials"));
    let (status, error) = error_of(code(&b, &s, BOTH, &right).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn asked_from_one_organizations_page_only_it_is_offered() {
    let (s, smtp) = server().await;
    let b = browser();
    let res = ask(
        &b,
        &s,
        json!({"email": BOTH, "organization_slug": "globex"}),
    )
    .await;
    assert_eq!(res.status(), 202);
    let mail = smtp.wait_for(BOTH, 1).await;
    assert!(mail.subject.contains("Globex"), "{}", mail.subject);
    let res = code(&b, &s, BOTH, &mail.code().unwrap()).await;
    let found: Value = ok_json(res).await;
    assert_eq!(slugs(&found), ["globex"]);
    // The token does not open the other organization of the address.
    let (status, error) = error_of(select(&b, &s, &found, "acme").await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_credentials"));
}

#[tokio::test]
async fn an_address_without_a_membership_gets_the_same_answer_and_no_message() {
    let (s, smtp) = server().await;
    sql(
        &s,
        &format!("UPDATE members SET status = 'deleted' WHERE email = '{SAM}'"),
    )
    .await;
    let b = browser();
    let mut answers = Vec::new();
    for body in [
        json!({"email": "nobody@example.com"}),
        json!({"email": SAM}),
        json!({"email": BOTH, "organization_slug": "initech"}),
        json!({"email": BOTH, "organization_slug": "acme"}),
    ] {
        let res = ask(&b, &s, body).await;
        let status = res.status().as_u16();
        let mut v: Value = res.json().await.unwrap();
        v["email"] = Value::Null;
        answers.push((status, v));
    }
    // Three more real requests (five for the address this hour), then one
    // past the hourly limit.
    for _ in 0..4 {
        let res = ask(&b, &s, json!({"email": BOTH, "organization_slug": "acme"})).await;
        let status = res.status().as_u16();
        let mut v: Value = res.json().await.unwrap();
        v["email"] = Value::Null;
        answers.push((status, v));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // Only the real requests within the limit sent anything.
    let mail = smtp.wait_for(BOTH, 4).await;
    assert!(mail.subject.contains("Acme Inc"), "{}", mail.subject);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 4, "{:?}", smtp.received());
}

#[tokio::test]
async fn the_link_works_only_in_the_browser_that_asked_and_only_once() {
    let (s, smtp) = server().await;
    let b = browser();
    let body =
        json!({"email": SAM, "return_to": "/org/idp?client_id=x", "organization_slug": "acme"});
    assert_eq!(ask(&b, &s, body).await.status(), 202);
    let token = token_in(&smtp.wait_for(SAM, 1).await, "/org/login/email");

    // Forwarded, intercepted, or planted in another browser: refused, and
    // still good where it was asked for. The code too.
    let (status, error) = error_of(link(&browser(), &s, &token).await).await;
    assert_eq!((status, error.as_str()), (400, "wrong_browser"));
    // (Another browser that asked for a message of its own: the code is
    // checked against that one only.)
    let typed = smtp.wait_for(SAM, 1).await.code().unwrap();
    let other = browser();
    assert_eq!(ask(&other, &s, json!({"email": SAM})).await.status(), 202);
    smtp.wait_for(SAM, 2).await;
    let (status, error) = error_of(code(&other, &s, SAM, &typed).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let found = ok_json(link(&b, &s, &token).await).await;
    assert_eq!(slugs(&found), ["acme"]);
    assert_eq!(found["return_to"], "/org/idp?client_id=x");
    assert_eq!(found["email"], SAM);
    let (status, error) = error_of(link(&b, &s, &token).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let res = select(&b, &s, &found, "acme").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_accounts_message_opens_no_organization_and_a_members_signs_in_no_account() {
    let (s, smtp) = server().await;
    // The address has an account as well as memberships.
    s.user(SAM).await;
    let b = browser();
    let res = post(&b, &s, "/api/session/email-login", json!({"email": SAM})).await;
    assert_eq!(res.status(), 202);
    let account_mail = smtp.wait_for(SAM, 1).await;
    assert_eq!(ask(&b, &s, json!({"email": SAM})).await.status(), 202);
    let member_mail = smtp.wait_for(SAM, 2).await;
    let account_token = token_in(&account_mail, "/verify-email");
    let member_token = token_in(&member_mail, "/org/login/email");

    // Each endpoint refuses the other's link and code, and spends nothing.
    let (status, error) = error_of(link(&b, &s, &account_token).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let (status, error) = error_of(code(&b, &s, SAM, &account_mail.code().unwrap()).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let res = post(
        &b,
        &s,
        "/api/session/email/link",
        json!({"token": member_token}),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    let res = post(
        &b,
        &s,
        "/api/session/email/code",
        json!({"email": SAM, "code": member_mail.code().unwrap()}),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    assert_eq!(signed_in_status(&b, &s).await, 401);
    assert_eq!(member_session(&s, &b).await.0, 401);

    // Both still work where they belong.
    let found = ok_json(link(&b, &s, &member_token).await).await;
    assert_eq!(slugs(&found), ["acme"]);
    let res = post(
        &b,
        &s,
        "/api/session/email/link",
        json!({"token": account_token}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(signed_in_status(&b, &s).await, 200);
}

#[tokio::test]
async fn a_message_survives_wrong_codes_up_to_the_limit_and_not_past_it() {
    let (s, smtp) = server().await;
    let b = browser();
    assert_eq!(ask(&b, &s, json!({"email": SAM})).await.status(), 202);
    let mail = smtp.wait_for(SAM, 1).await;
    let right = mail.code().unwrap();
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    // Four wrong codes (of five allowed): the right one still works.
    for _ in 0..4 {
        assert_eq!(
            error_of(code(&b, &s, SAM, &wrong).await).await.1,
            "invalid_grant"
        );
    }
    assert_eq!(code(&b, &s, SAM, &right).await.status(), 200);

    // Five wrong codes: the message is dead, its code and its link too.
    assert_eq!(ask(&b, &s, json!({"email": SAM})).await.status(), 202);
    let mail = smtp.wait_for(SAM, 2).await;
    for _ in 0..5 {
        let wrong = format!(
            "{:06}",
            (mail.code().unwrap().parse::<u32>().unwrap() + 1) % 1_000_000
        );
        assert_eq!(
            error_of(code(&b, &s, SAM, &wrong).await).await.1,
            "invalid_grant"
        );
    }
    assert_eq!(
        error_of(code(&b, &s, SAM, &mail.code().unwrap()).await)
            .await
            .1,
        "invalid_grant"
    );
    let token = token_in(&mail, "/org/login/email");
    assert_eq!(
        error_of(link(&b, &s, &token).await).await.1,
        "invalid_grant"
    );
}

#[tokio::test]
async fn a_member_removed_after_the_message_is_not_signed_in() {
    let (s, smtp) = server().await;
    let b = browser();
    assert_eq!(ask(&b, &s, json!({"email": SAM})).await.status(), 202);
    let mail = smtp.wait_for(SAM, 1).await;
    sql(
        &s,
        &format!("UPDATE members SET status = 'deleted' WHERE email = '{SAM}'"),
    )
    .await;
    let (status, error) = error_of(code(&b, &s, SAM, &mail.code().unwrap()).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_credentials"));
    assert_eq!(member_session(&s, &b).await.0, 401);

    // Removed between the code and the choice: the choice is refused.
    let b = browser();
    assert_eq!(ask(&b, &s, json!({"email": BOTH})).await.status(), 202);
    let mail = smtp.wait_for(BOTH, 1).await;
    let found = ok_json(code(&b, &s, BOTH, &mail.code().unwrap()).await).await;
    sql(
        &s,
        &format!("UPDATE members SET status = 'deleted' WHERE email = '{BOTH}'"),
    )
    .await;
    let (status, error) = error_of(select(&b, &s, &found, "acme").await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_credentials"));
}

#[tokio::test]
async fn a_member_with_the_app_waits_for_it_after_a_mailed_code() {
    let (s, smtp) = server().await;
    // Sam turns the app on after a password sign-in.
    let b = browser();
    let res = post(
        &b,
        &s,
        "/api/b2b/session/login",
        json!({"organization_slug": "acme", "email": SAM, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let setup = post(
        &b,
        &s,
        "/api/b2b/member/second-factor/setup",
        json!({"password": PASSWORD}),
    )
    .await;
    let secret = ok_json(setup).await["secret"].as_str().unwrap().to_owned();
    let key = totp::decode_secret(&secret).unwrap();
    let enable = json!({"code": totp::code_at(&key, s.kh.now())});
    let res = post(&b, &s, "/api/b2b/member/second-factor/enable", enable).await;
    assert_eq!(res.status(), 200);
    s.clock.as_ref().unwrap().advance(30);
    // The first message is the notice that the app was turned on.
    assert!(smtp.wait_for(SAM, 1).await.code().is_none());

    let b = browser();
    assert_eq!(ask(&b, &s, json!({"email": SAM})).await.status(), 202);
    let mail = smtp.wait_for(SAM, 2).await;
    let found = ok_json(code(&b, &s, SAM, &mail.code().unwrap()).await).await;
    let (status, error) = error_of(select(&b, &s, &found, "acme").await).await;
    assert_eq!((status, error.as_str()), (401, "second_factor_required"));
    assert_eq!(member_session(&s, &b).await.0, 401);
    let res = post(
        &b,
        &s,
        "/api/b2b/session/second-factor",
        json!({"code": totp::code_at(&key, s.kh.now())}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (status, me) = member_session(&s, &b).await;
    assert_eq!(status, 200);
    assert_eq!(me["amr"], json!(["email", "otp", "mfa"]));
}

async fn sql(s: &TestServer, statement: &str) {
    sea_orm::ConnectionTrait::execute_unprepared(s.kh.store().connection(), statement)
        .await
        .unwrap();
}
