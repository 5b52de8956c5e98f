//! What operators do to accounts through the admin API, with real mail
//! (each test has its own aiosmtpd): find users, disable an account (its
//! sessions, apps and tokens end at once, and it signs in nowhere) and
//! enable it again, require a password reset (docs/threat-model.md rows
//! 102–107).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::{Received, SmtpServer};
use common::*;
use keyhouse_axum::MailTransport;
use keyhouse_core::ClientType;
use serde_json::{Value, json};

const USER: &str = "ada@example.com";
const OPERATOR: &str = "ops@example.com";

async fn server() -> (TestServer, SmtpServer, reqwest::Client) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(move |c| c.mail.transport = MailTransport::Smtp(url), false).await;
    s.user(USER).await;
    let ops = s.user(OPERATOR).await;
    s.kh.store().set_user_admin(&ops.id, true).await.unwrap();
    let admin = s.signed_in(OPERATOR).await;
    (s, smtp, admin)
}

async fn id_of(s: &TestServer, email: &str) -> String {
    s.find_user(email).await.expect("user").id
}

async fn act(admin: &reqwest::Client, s: &TestServer, id: &str, action: &str) -> reqwest::Response {
    admin
        .post(s.url(&format!("/api/admin/users/{id}/{action}")))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

async fn login(s: &TestServer, email: &str, password: &str) -> reqwest::Response {
    post(
        &browser(),
        s,
        "/api/session/login",
        json!({"email": email, "password": password}),
    )
    .await
}

fn reset_token(mail: &Received) -> String {
    let l = mail
        .link_containing("/reset-password?token=")
        .unwrap_or_else(|| panic!("no link in {}", mail.text));
    query_of(&l)["token"].clone()
}

#[tokio::test]
async fn operators_find_users_by_part_of_an_address_or_a_name() {
    let (s, _smtp, admin) = server().await;
    s.kh.create_user("grace.hopper@navy.example", PASSWORD, "Grace Hopper")
        .await
        .unwrap();
    s.kh.create_user("linus@kernel.example", PASSWORD, "Linus")
        .await
        .unwrap();
    let find = |q: &str| {
        let url = s.url(&format!("/api/admin/users?q={q}"));
        let admin = admin.clone();
        async move {
            let page: Value = admin.get(url).send().await.unwrap().json().await.unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(find("HOPPER").await, vec!["grace.hopper@navy.example"]);
    assert_eq!(find("navy.ex").await, vec!["grace.hopper@navy.example"]);
    assert_eq!(find("linus").await, vec!["linus@kernel.example"]);
    // LIKE's wildcards are taken literally: `_` matches no other character.
    assert!(find("grace_hopper").await.is_empty());
    assert!(find("%25").await.is_empty());
    assert_eq!(find("").await.len(), 4);

    // Pages of one, newest first, all of them once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => s.url(&format!("/api/admin/users?limit=1&cursor={c}")),
            None => s.url("/api/admin/users?limit=1"),
        };
        let page: Value = admin.get(url).send().await.unwrap().json().await.unwrap();
        seen.push(page["items"][0]["email"].as_str().unwrap().to_owned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4);

    // Not an operator: refused.
    let user = s.signed_in(USER).await;
    let res = user.get(s.url("/api/admin/users")).send().await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_disabled_account_loses_its_sessions_apps_and_tokens_at_once_and_signs_in_nowhere() {
    let (s, smtp, admin) = server().await;
    let id = id_of(&s, USER).await;
    let b = s.signed_in(USER).await;
    let c = s.client(ClientType::ThirdParty).await;
    let t = tokens(&s, &b, &c, &[("scope", "openid email offline_access")]).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let refresh_token = t["refresh_token"].as_str().unwrap().to_owned();

    let res = act(&admin, &s, &id, "disable").await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["sessions_ended"], 1);
    assert_eq!(done["apps_disconnected"], 1);

    // Past the boundary: what existed before stops now.
    assert_eq!(signed_in_status(&b, &s).await, 401);
    assert!(!active(&s, &c, &access).await);
    assert_eq!(userinfo(&s, &access).await.status(), 401);
    let res = refresh(&s, &c, &refresh_token, None).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    // And nothing new starts: not the password, not a mailed code, not a reset.
    assert_eq!(
        error_of(login(&s, USER, PASSWORD).await).await,
        (403, "account_disabled".to_owned())
    );
    assert_eq!(
        error_of(login(&s, USER, "a wrong password").await).await,
        (401, "invalid_credentials".to_owned()),
        "a guess learns nothing about the account's state"
    );
    let res = post(
        &browser(),
        &s,
        "/api/session/email-login",
        json!({"email": USER}),
    )
    .await;
    assert_eq!(res.status(), 202);
    let res = post(
        &browser(),
        &s,
        "/api/session/password-reset",
        json!({"email": USER}),
    )
    .await;
    assert_eq!(res.status(), 202);
    assert_eq!(smtp.count_to(USER), 0, "no mail to a disabled account");
    let listed: Value = admin
        .get(s.url(&format!("/api/admin/users/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["disabled_at"].is_i64(), "{listed}");

    // Enabled again: the password works; the app must be connected again.
    let res = act(&admin, &s, &id, "enable").await;
    assert_eq!(res.status(), 200);
    assert_eq!(login(&s, USER, PASSWORD).await.status(), 200);
    assert!(!active(&s, &c, &access).await);

    let audit: Value = admin
        .get(s.url("/api/admin/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["user_id"] == id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["user.enabled", "user.disabled"]);
}

#[tokio::test]
async fn a_sign_in_code_mailed_before_the_account_was_disabled_no_longer_works() {
    let (s, smtp, admin) = server().await;
    let id = id_of(&s, USER).await;
    let b = browser();
    let res = post(&b, &s, "/api/session/email-login", json!({"email": USER})).await;
    assert_eq!(res.status(), 202);
    let code = smtp.wait_for(USER, 1).await.code().unwrap();
    assert_eq!(act(&admin, &s, &id, "disable").await.status(), 200);
    // Disabling spent it; enabling does not bring it back.
    assert_eq!(act(&admin, &s, &id, "enable").await.status(), 200);
    let res = post(
        &b,
        &s,
        "/api/session/email/code",
        json!({"email": USER, "code": code}),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
    assert_eq!(signed_in_status(&b, &s).await, 401);
}

#[tokio::test]
async fn a_reset_link_mailed_before_the_account_was_disabled_no_longer_works() {
    let (s, smtp, admin) = server().await;
    let id = id_of(&s, USER).await;
    let res = post(
        &browser(),
        &s,
        "/api/session/password-reset",
        json!({"email": USER}),
    )
    .await;
    assert_eq!(res.status(), 202);
    let token = reset_token(&smtp.wait_for(USER, 1).await);
    assert_eq!(act(&admin, &s, &id, "disable").await.status(), 200);
    let res = post(
        &browser(),
        &s,
        "/api/session/password-reset/confirm",
        json!({"token": token, "password": "taken over by a reset"}),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".to_owned()));
}

#[tokio::test]
async fn a_required_reset_ends_the_sessions_and_the_password_signs_in_only_after_it() {
    let (s, smtp, admin) = server().await;
    let id = id_of(&s, USER).await;
    let b = s.signed_in(USER).await;
    let c = s.client(ClientType::ThirdParty).await;
    let t = tokens(&s, &b, &c, &[]).await;
    let access = t["access_token"].as_str().unwrap().to_owned();

    let res = act(&admin, &s, &id, "require-password-reset").await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["sessions_ended"], 1);
    assert_eq!(signed_in_status(&b, &s).await, 401);
    // The connected app keeps working: a reset is not a revocation.
    assert!(active(&s, &c, &access).await);
    assert_eq!(
        error_of(login(&s, USER, PASSWORD).await).await,
        (403, "password_reset_required".to_owned())
    );

    let token = reset_token(&smtp.wait_for(USER, 1).await);
    let res = post(
        &browser(),
        &s,
        "/api/session/password-reset/confirm",
        json!({"token": token, "password": "a new passphrase"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(login(&s, USER, "a new passphrase").await.status(), 200);
    assert_eq!(
        error_of(login(&s, USER, PASSWORD).await).await,
        (401, "invalid_credentials".to_owned())
    );
}

#[tokio::test]
async fn an_operator_cannot_disable_themselves_and_unknown_users_are_404() {
    let (s, _smtp, admin) = server().await;
    let me = id_of(&s, OPERATOR).await;
    let res = act(&admin, &s, &me, "disable").await;
    assert_eq!(error_of(res).await, (409, "conflict".to_owned()));
    assert_eq!(signed_in_status(&admin, &s).await, 200);
    for action in ["disable", "enable", "require-password-reset"] {
        let res = act(&admin, &s, "user-nobody", action).await;
        assert_eq!(
            error_of(res).await,
            (404, "not_found".to_owned()),
            "{action}"
        );
    }
}

#[tokio::test]
async fn a_pending_address_change_dies_when_the_account_is_disabled_or_a_reset_is_required() {
    let (s, smtp, admin) = server().await;
    let id = id_of(&s, USER).await;
    for (n, action) in [(1, "disable"), (2, "require-password-reset")] {
        // Whoever holds the session and the password asks to move the account to their mailbox.
        let b = s.signed_in(USER).await;
        let thief = format!("thief{n}@evil.example");
        let res = post(
            &b,
            &s,
            "/api/account/email",
            json!({"email": thief, "password": PASSWORD}),
        )
        .await;
        assert_eq!(res.status(), 202);
        let mail = smtp.wait_for(&thief, 1).await;
        let link = mail.link_containing("/verify-email?token=").unwrap();
        let token = query_of(&link)["token"].clone();
        assert_eq!(act(&admin, &s, &id, action).await.status(), 200);
        if action == "disable" {
            assert_eq!(act(&admin, &s, &id, "enable").await.status(), 200);
        }
        let res = post(
            &browser(),
            &s,
            "/api/session/email/link",
            json!({"token": token}),
        )
        .await;
        assert_eq!(
            error_of(res).await,
            (400, "invalid_grant".to_owned()),
            "{action}"
        );
        assert!(s.find_user(&thief).await.is_none(), "{action}");
        assert!(s.find_user(USER).await.is_some(), "{action}");
    }
}

#[tokio::test]
async fn a_password_an_operator_distrusts_confirms_nothing() {
    let (s, smtp, admin) = server().await;
    let id = id_of(&s, USER).await;
    // Signed in by a mailed code while the reset is pending.
    let b = browser();
    assert_eq!(
        act(&admin, &s, &id, "require-password-reset")
            .await
            .status(),
        200
    );
    let res = post(&b, &s, "/api/session/email-login", json!({"email": USER})).await;
    assert_eq!(res.status(), 202);
    // Two messages: the reset link and the sign-in code, in either order.
    smtp.wait_for(USER, 2).await;
    let smtp_code = smtp
        .received()
        .into_iter()
        .filter(|m| m.to.contains(USER))
        .find_map(|m| m.code())
        .expect("a sign-in code");
    let res = post(
        &b,
        &s,
        "/api/session/email/code",
        json!({"email": USER, "code": smtp_code}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = post(
        &b,
        &s,
        "/api/account/password",
        json!({"current_password": PASSWORD, "new_password": "chosen with the old one"}),
    )
    .await;
    assert_eq!(
        error_of(res).await,
        (403, "password_reset_required".to_owned())
    );
    let res = post(
        &b,
        &s,
        "/api/account/delete",
        json!({"confirm_email": USER, "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        error_of(res).await,
        (403, "password_reset_required".to_owned())
    );
    assert!(s.find_user(USER).await.is_some());
}

#[tokio::test]
async fn a_code_issued_in_a_race_with_the_disabling_redeems_to_nothing() {
    let (s, _smtp, _admin) = server().await;
    let id = id_of(&s, USER).await;
    let b = s.signed_in(USER).await;
    let c = s.client(ClientType::ThirdParty).await;
    let code = code(&s, &b, &c.client.id, &[]).await;
    // The account was disabled after this code was written (the disabling
    // transaction deletes codes; here one is left, as a race would).
    // (The id is one Keyhouse generated: letters, digits, `-` and `_`.)
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    sea_orm::ConnectionTrait::execute_unprepared(
        s.kh.store().connection(),
        &format!("UPDATE users SET disabled_at = 1 WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    let res = exchange(&s, &c, &code).await;
    assert_eq!(error_of(res).await.0, 400);
}
