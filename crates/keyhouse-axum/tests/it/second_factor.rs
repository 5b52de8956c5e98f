//! The second factor: an authenticator app (TOTP) and recovery codes, with
//! real mail (each test has its own aiosmtpd) and a frozen clock, so the
//! app's codes are the ones `keyhouse_core::totp` computes for that time
//! (docs/threat-model.md rows 108–117).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::SmtpServer;
use common::*;
use keyhouse_axum::MailTransport;
use keyhouse_core::ClientType;
use keyhouse_core::assurance::{ACR_ONE_FACTOR, ACR_TWO_FACTORS};
use keyhouse_core::totp;
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.com";

async fn server() -> (TestServer, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(move |c| c.mail.transport = MailTransport::Smtp(url), true).await;
    s.user(EMAIL).await;
    (s, smtp)
}

fn clock(s: &TestServer) -> &keyhouse_core::clock::FixedClock {
    s.clock.as_ref().expect("frozen clock")
}

/// The app's code now, from the secret the set-up showed.
fn app_code(s: &TestServer, secret: &str) -> String {
    totp::code_at(&totp::decode_secret(secret).unwrap(), s.kh.now())
}

/// Waits (up to 10 s) for a message to `EMAIL` whose subject starts with
/// `prefix`: mail is sent after the answer, so two messages may arrive in
/// either order.
async fn mail_about(smtp: &SmtpServer, prefix: &str) -> common::smtp::Received {
    for _ in 0..200 {
        if let Some(m) = smtp
            .received()
            .into_iter()
            .find(|m| m.to.contains(EMAIL) && m.subject.starts_with(prefix))
        {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no message {prefix:?} to {EMAIL}");
}

/// A code that is not `right`.
fn wrong(right: &str) -> String {
    let n: u32 = right.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// Sets the app up and turns it on from browser `b` (signed in): the
/// base32 secret and the recovery codes.
async fn turn_on(s: &TestServer, b: &reqwest::Client) -> (String, Vec<String>) {
    let res = post(
        b,
        s,
        "/api/account/second-factor/setup",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let setup: Value = res.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let code = app_code(s, &secret);
    let res = post(
        b,
        s,
        "/api/account/second-factor/enable",
        json!({"code": code}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let codes = body["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// A new browser whose password was right: it holds a session waiting for
/// the second factor.
async fn password_only(s: &TestServer) -> reqwest::Client {
    let b = browser();
    let res = post(
        &b,
        s,
        "/api/session/login",
        json!({"email": EMAIL, "password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    b
}

async fn second_factor(b: &reqwest::Client, s: &TestServer, code: &str) -> reqwest::Response {
    post(b, s, "/api/session/second-factor", json!({"code": code})).await
}

async fn amr_of(b: &reqwest::Client, s: &TestServer) -> Value {
    let res = b.get(s.url("/api/session")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["amr"].clone()
}

#[tokio::test]
async fn the_app_is_on_only_after_a_first_code_then_sign_in_takes_it() {
    let (s, smtp) = server().await;
    let b = s.signed_in(EMAIL).await;

    // The set-up needs the password, and shows the secret three ways.
    let res = post(&b, &s, "/api/account/second-factor/setup", json!({})).await;
    assert_eq!(error_of(res).await, (400, "invalid_request".into()));
    let res = post(
        &b,
        &s,
        "/api/account/second-factor/setup",
        json!({"password": PASSWORD}),
    )
    .await;
    let setup: Value = res.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap();
    assert_eq!(totp::decode_secret(secret).unwrap().len(), totp::SECRET_LEN);
    assert!(
        setup["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/127.0.0.1:ada%40example.com?secret=")
    );
    assert!(
        setup["qr_code"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    // The stored secret is sealed, not the secret.
    let stored = s.find_user(EMAIL).await.unwrap();
    let sealed = stored.totp_secret.clone().unwrap();
    assert!(!sealed.contains(secret) && sealed.len() > secret.len());
    assert!(stored.totp_enabled_at.is_none());

    // Being set up is not on: a password still signs in alone.
    let other = browser();
    let res = post(
        &other,
        &s,
        "/api/session/login",
        json!({"email": EMAIL, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);

    // A wrong first code turns nothing on.
    let right = app_code(&s, secret);
    let res = post(
        &b,
        &s,
        "/api/account/second-factor/enable",
        json!({"code": wrong(&right)}),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    let res = post(
        &b,
        &s,
        "/api/account/second-factor/enable",
        json!({"code": right}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let codes: Value = res.json().await.unwrap();
    assert_eq!(
        codes["codes"].as_array().unwrap().len(),
        totp::RECOVERY_CODES
    );
    // This browser proved the app: its session counts two factors now.
    assert_eq!(amr_of(&b, &s).await, json!(["pwd", "otp", "mfa"]));
    let status: Value = b
        .get(s.url("/api/account/second-factor"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status, json!({"enabled": true, "recovery_codes_left": 10}));
    let mail = smtp.wait_for(EMAIL, 1).await;
    assert_eq!(
        mail.subject,
        "Two-step verification was turned on on your 127.0.0.1 account"
    );

    // Now the password alone signs in nothing.
    let c = password_only(&s).await;
    assert_eq!(signed_in_status(&c, &s).await, 401);
    let res = c.get(s.url("/api/account/sessions")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // The code that turned the app on was spent with it.
    let res = second_factor(&c, &s, &right).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    clock(&s).advance(30);
    let now = app_code(&s, secret);
    let res = second_factor(&c, &s, &now).await;
    assert_eq!(res.status(), 200);
    assert_eq!(amr_of(&c, &s).await, json!(["pwd", "otp", "mfa"]));
    // Past the boundary: the same code again, from the next sign-in, fails.
    let d = password_only(&s).await;
    let res = second_factor(&d, &s, &now).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    assert_eq!(signed_in_status(&d, &s).await, 401);
    // The session list shows the signed-in browsers, not the waiting one.
    let list: Vec<Value> = c
        .get(s.url("/api/account/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 3, "b, other and c: {list:?}");
}

#[tokio::test]
async fn a_waiting_sign_in_ends_after_ten_minutes() {
    let (s, _smtp) = server().await;
    let b = s.signed_in(EMAIL).await;
    let (secret, _) = turn_on(&s, &b).await;
    let c = password_only(&s).await;
    clock(&s).advance(601);
    let res = second_factor(&c, &s, &app_code(&s, &secret)).await;
    assert_eq!(error_of(res).await, (401, "session_required".into()));
}

#[tokio::test]
async fn recovery_codes_work_once_and_new_ones_replace_the_old() {
    let (s, smtp) = server().await;
    let b = s.signed_in(EMAIL).await;
    let (_, codes) = turn_on(&s, &b).await;

    let c = password_only(&s).await;
    // Typed in capitals and without the dash: still the code.
    let typed = codes[0].to_uppercase().replace('-', "");
    let res = second_factor(&c, &s, &typed).await;
    assert_eq!(res.status(), 200);
    assert_eq!(amr_of(&c, &s).await, json!(["pwd", "otp", "mfa"]));
    let mail = smtp.wait_for(EMAIL, 2).await;
    assert!(
        mail.subject
            .starts_with("A recovery code was used to sign in (9 left)"),
        "{}",
        mail.subject
    );

    // Spent: the next sign-in cannot use it.
    let d = password_only(&s).await;
    let res = second_factor(&d, &s, &codes[0]).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));

    // New codes: the old unused ones stop working, the new ones work.
    let res = post(
        &b,
        &s,
        "/api/account/second-factor/recovery-codes",
        json!({"password": "wrong password"}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
    let res = post(
        &b,
        &s,
        "/api/account/second-factor/recovery-codes",
        json!({"password": PASSWORD}),
    )
    .await;
    let fresh: Value = res.json().await.unwrap();
    let res = second_factor(&d, &s, &codes[1]).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    let res = second_factor(&d, &s, fresh["codes"][0].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn another_accounts_recovery_code_is_nothing_here() {
    let (s, _smtp) = server().await;
    s.user("grace@example.com").await;
    let grace = s.signed_in("grace@example.com").await;
    let (_, graces) = turn_on(&s, &grace).await;
    let b = s.signed_in(EMAIL).await;
    turn_on(&s, &b).await;
    let c = password_only(&s).await;
    let res = second_factor(&c, &s, &graces[0]).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn wrong_codes_are_throttled_and_then_even_the_right_one_waits() {
    let (s, _smtp) = server().await;
    let b = s.signed_in(EMAIL).await;
    let (secret, _) = turn_on(&s, &b).await;
    clock(&s).advance(30);
    let c = password_only(&s).await;
    let right = app_code(&s, &secret);
    let mut refused_at = None;
    for i in 0..30 {
        let (status, error) = error_of(second_factor(&c, &s, &wrong(&right)).await).await;
        if status == 429 {
            refused_at = Some(i);
            break;
        }
        assert_eq!(error, "invalid_grant");
    }
    let refused_at = refused_at.expect("the throttle never stopped the guesses");
    assert_eq!(refused_at, s.kh.config().login_attempts_per_account);
    let res = second_factor(&c, &s, &right).await;
    assert_eq!(error_of(res).await, (429, "too_many_attempts".into()));
}

#[tokio::test]
async fn a_mailed_code_is_a_first_factor_only() {
    let (s, smtp) = server().await;
    let b = s.signed_in(EMAIL).await;
    let (secret, _) = turn_on(&s, &b).await;
    clock(&s).advance(30);
    let c = browser();
    let res = post(&c, &s, "/api/session/email-login", json!({"email": EMAIL})).await;
    assert_eq!(res.status(), 202);
    let code = mail_about(&smtp, "Your 127.0.0.1 sign-in code")
        .await
        .code()
        .unwrap();
    let res = post(
        &c,
        &s,
        "/api/session/email/code",
        json!({"email": EMAIL, "code": code}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    assert_eq!(signed_in_status(&c, &s).await, 401);
    let res = second_factor(&c, &s, &app_code(&s, &secret)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(amr_of(&c, &s).await, json!(["email", "otp", "mfa"]));
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_spends_the_codes() {
    let (s, smtp) = server().await;
    let b = s.signed_in(EMAIL).await;
    let (_, codes) = turn_on(&s, &b).await;
    let res = post(
        &b,
        &s,
        "/api/account/second-factor/disable",
        json!({"password": "wrong password"}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
    assert!(s.find_user(EMAIL).await.unwrap().has_second_factor());
    let res = post(
        &b,
        &s,
        "/api/account/second-factor/disable",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 204);
    let mail = smtp.wait_for(EMAIL, 2).await;
    assert!(
        mail.subject
            .starts_with("Two-step verification was turned off")
    );
    let user = s.find_user(EMAIL).await.unwrap();
    assert!(user.totp_secret.is_none() && !user.has_second_factor());
    assert_eq!(
        s.kh.store()
            .recovery_codes_left(keyhouse_store::FactorHolder::User(&user.id))
            .await
            .unwrap(),
        0
    );
    // The password signs in alone again; a recovery code is nothing.
    let c = s.signed_in(EMAIL).await;
    assert_eq!(amr_of(&c, &s).await, json!(["pwd"]));
    let res = second_factor(&c, &s, &codes[2]).await;
    assert_eq!(
        error_of(res).await,
        (403, "second_factor_setup_required".into())
    );
}

#[tokio::test]
async fn id_tokens_say_how_and_acr_values_step_the_session_up() {
    let (s, _smtp) = server().await;
    let gpt = s.client(ClientType::ThirdParty).await;
    let id = gpt.client.id.clone();
    // Signed in with the password before the app was turned on.
    let a = s.signed_in(EMAIL).await;
    let issued = tokens(&s, &a, &gpt, &[]).await;
    let idt = claims(issued["id_token"].as_str().unwrap());
    assert_eq!(idt["amr"], json!(["pwd"]));
    assert_eq!(idt["acr"], ACR_ONE_FACTOR);
    let first_sid = idt["sid"].clone();
    assert!(first_sid.is_string());

    // Two factors asked of an account with none: told to turn one on.
    let two = [("acr_values", ACR_TWO_FACTORS)];
    let res = s.start(&a, &with(&params(&id), &two)).await;
    assert_eq!(
        error_of(res).await,
        (403, "second_factor_setup_required".into())
    );
    // A level Keyhouse does not issue asks for nothing.
    let res = s
        .start(
            &a,
            &with(&params(&id), &[("acr_values", "urn:example:gold")]),
        )
        .await;
    assert_eq!(res.status(), 200);

    // Turned on elsewhere: this one-factor session is stepped up, not refused.
    let b = s.signed_in(EMAIL).await;
    let (secret, _) = turn_on(&s, &b).await;
    clock(&s).advance(30);
    let res = s.start(&a, &with(&params(&id), &two)).await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    // prompt=none cannot step up: interaction_required at the client.
    let none = [("acr_values", ACR_TWO_FACTORS), ("prompt", "none")];
    let res = s.start(&a, &with(&params(&id), &none)).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let q = query_of(v["redirect_uri"].as_str().unwrap());
    assert_eq!(q["error"], "interaction_required");
    // Past the boundary: no code is issued for the weaker session either.
    let res = s.authorize(&a, &with(&params(&id), &two), true).await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));

    let res = second_factor(&a, &s, &app_code(&s, &secret)).await;
    assert_eq!(res.status(), 200);
    let issued = tokens(&s, &a, &gpt, &two).await;
    let idt = claims(issued["id_token"].as_str().unwrap());
    assert_eq!(idt["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(idt["acr"], ACR_TWO_FACTORS);
    // The step-up gave the session a new id but not a new sid: it is the
    // same sign-in, and the clients it signed into must hear when it ends.
    assert_eq!(idt["sid"], first_sid);
    // And discovery says which levels there are (no phishing-resistant
    // one: this issuer is at an address, where there are no passkeys).
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert_eq!(
        meta["acr_values_supported"],
        json!([ACR_ONE_FACTOR, ACR_TWO_FACTORS])
    );
}

#[tokio::test]
async fn an_operator_turns_it_off_for_someone_who_lost_everything() {
    let (s, smtp) = server().await;
    let b = s.signed_in(EMAIL).await;
    turn_on(&s, &b).await;
    let user = s.find_user(EMAIL).await.unwrap();
    let url = s.url(&format!("/api/admin/users/{}/turn-off-two-step", user.id));

    // Not for the user themself, nor anyone but an operator.
    let res = b.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(s.find_user(EMAIL).await.unwrap().has_second_factor());

    s.user("ops@example.com").await;
    let ops = s.find_user("ops@example.com").await.unwrap();
    s.kh.store().set_user_admin(&ops.id, true).await.unwrap();
    let admin = s.signed_in("ops@example.com").await;
    let res = admin
        .get(s.url(&format!("/api/admin/users/{}", user.id)))
        .send()
        .await
        .unwrap();
    let shown: Value = res.json().await.unwrap();
    assert_eq!(shown["second_factor"], true);
    let res = admin.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let shown: Value = res.json().await.unwrap();
    assert_eq!(shown["second_factor"], false);
    mail_about(
        &smtp,
        "Two-step verification was turned off by the service's staff",
    )
    .await;
    // The password signs in alone again.
    let c = s.signed_in(EMAIL).await;
    assert_eq!(amr_of(&c, &s).await, json!(["pwd"]));
    let audit: Value = admin
        .get(s.url("/api/admin/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        audit.to_string().contains("user.second_factor_removed"),
        "{audit}"
    );
}

#[tokio::test]
async fn a_session_from_before_cannot_turn_it_off_or_read_new_codes() {
    let (s, _smtp) = server().await;
    // Signed in with the password before the app was turned on elsewhere.
    let before = s.signed_in(EMAIL).await;
    let b = s.signed_in(EMAIL).await;
    let (secret, _) = turn_on(&s, &b).await;
    for path in [
        "/api/account/second-factor/disable",
        "/api/account/second-factor/recovery-codes",
    ] {
        let res = post(&before, &s, path, json!({"password": PASSWORD})).await;
        assert_eq!(
            error_of(res).await,
            (401, "second_factor_required".into()),
            "{path}"
        );
    }
    assert!(s.find_user(EMAIL).await.unwrap().has_second_factor());
    // Stepped up with the app, the same session may.
    clock(&s).advance(30);
    let res = second_factor(&before, &s, &app_code(&s, &secret)).await;
    assert_eq!(res.status(), 200);
    let res = post(
        &before,
        &s,
        "/api/account/second-factor/disable",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn a_day_of_wrong_codes_stops_the_second_step_and_tells_the_owner() {
    use keyhouse_axum::FAILURES_PER_DAY;
    let (s, smtp) = server().await;
    let b = s.signed_in(EMAIL).await;
    let (secret, _) = turn_on(&s, &b).await;
    for i in 0..FAILURES_PER_DAY {
        // Past the sign-in throttle's delays, one wrong code at a time.
        clock(&s).advance(301);
        let c = password_only(&s).await;
        let right = app_code(&s, &secret);
        let res = second_factor(&c, &s, &wrong(&right)).await;
        assert_eq!(
            error_of(res).await,
            (400, "invalid_grant".into()),
            "attempt {i}"
        );
    }
    mail_about(&smtp, "Sign-ins with your password were stopped").await;
    // Past the boundary: the right code is refused for the rest of the day.
    clock(&s).advance(301);
    let c = password_only(&s).await;
    let res = second_factor(&c, &s, &app_code(&s, &secret)).await;
    assert_eq!(error_of(res).await, (429, "too_many_attempts".into()));
    // The next day it works.
    clock(&s).advance(86_400);
    let c = password_only(&s).await;
    let res = second_factor(&c, &s, &app_code(&s, &secret)).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_session_that_does_not_say_how_it_signed_in_signs_in_again_for_a_demand() {
    let (s, _smtp) = server().await;
    let gpt = s.client(ClientType::ThirdParty).await;
    let id = gpt.client.id.clone();
    // A session stored before Keyhouse recorded how it signed in.
    let user = s.find_user(EMAIL).await.unwrap();
    let token = "a-session-from-an-older-version-of-keyhouse-0001";
    let now = s.kh.now();
    s.kh.store()
        .create_session(&keyhouse_store::SessionRecord {
            id_hash: keyhouse_core::secret::hash_token(token),
            subject_kind: Some(keyhouse_types::SubjectKind::User),
            subject_id: user.id.clone(),
            organization_id: None,
            auth_time: now,
            created_at: now,
            expires_at: now + 3600,
            user_agent: None,
            ip: None,
            last_seen_at: now,
            amr: Vec::new(),
            pending_factor: None,
            sid: keyhouse_core::logout::session_sid(&keyhouse_core::secret::hash_token(token)),
        })
        .await
        .unwrap();
    let old = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([
            (
                reqwest::header::COOKIE,
                reqwest::header::HeaderValue::from_str(&format!("keyhouse_session={token}"))
                    .unwrap(),
            ),
            (
                reqwest::header::HeaderName::from_static("sec-fetch-site"),
                reqwest::header::HeaderValue::from_static("same-origin"),
            ),
        ]))
        .build()
        .unwrap();
    assert_eq!(signed_in_status(&old, &s).await, 200);
    // Without a demand it still authorizes, and the ID token claims no level.
    let issued = tokens(&s, &old, &gpt, &[]).await;
    let idt = claims(issued["id_token"].as_str().unwrap());
    assert!(
        idt.get("acr").is_none() && idt.get("amr").is_none(),
        "{idt}"
    );
    // With one, even one factor: signed in again (which records how).
    let res = s
        .start(&old, &with(&params(&id), &[("acr_values", ACR_ONE_FACTOR)]))
        .await;
    assert_eq!(error_of(res).await, (401, "login_required".into()));
}
