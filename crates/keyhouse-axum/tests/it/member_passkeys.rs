//! Passkeys for members of organizations, driven by the software
//! authenticator (common::authenticator): a member adds one and signs in to
//! its organization with it alone; a membership's passkey is nothing for
//! the account or the other membership of the same address, nor for a
//! removed member (docs/threat-model.md rows 146–149).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::authenticator::{Ceremony, SoftPasskey};
use common::smtp::SmtpServer;
use common::*;
use keyhouse_axum::MailTransport;
use keyhouse_core::assurance::ACR_PHISHING_RESISTANT;
use keyhouse_core::{ClientType, totp};
use serde_json::{Value, json};

const SAM: &str = "sam@example.com";

/// Issuer `http://localhost:PORT` (passkeys need a domain name); `acme`
/// (Acme Inc) and `globex` with `SAM` in both, and an account `SAM`.
async fn server() -> (TestServer, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(
        move |c| {
            c.issuer = c.issuer.replace("127.0.0.1", "localhost");
            c.mail.transport = MailTransport::Smtp(url);
        },
        true,
    )
    .await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    s.kh.create_organization("Globex", "globex").await.unwrap();
    for org in ["acme", "globex"] {
        s.kh.create_member(org, SAM, PASSWORD, "Sam", &["member".to_owned()])
            .await
            .unwrap();
    }
    s.user(SAM).await;
    (s, smtp)
}

fn right(s: &TestServer) -> Ceremony {
    Ceremony::at(&s.kh.config().origin())
}

async fn ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {v}");
    v
}

async fn member_in(s: &TestServer, org: &str) -> reqwest::Client {
    let b = browser();
    let body = json!({"organization_slug": org, "email": SAM, "password": PASSWORD});
    ok(post(&b, s, "/api/b2b/session/login", body).await).await;
    b
}

/// Adds a passkey to the member signed in on `b` (or the account, with
/// `base` `/api/account`); the registration's options too.
async fn add(b: &reqwest::Client, s: &TestServer, base: &str) -> (SoftPasskey, Value) {
    let options = format!("{base}/passkeys/options");
    let started = ok(post(b, s, &options, json!({"password": PASSWORD})).await).await;
    let (passkey, credential) = SoftPasskey::create(&started["options"], &right(s));
    let body = json!({"ceremony": started["ceremony"], "credential": credential});
    let res = post(b, s, &format!("{base}/passkeys"), body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    (passkey, started)
}

/// Signs `b` in with `passkey` at the sign-in of `base` (`/api/b2b/session`
/// or `/api/session`).
async fn sign_in(
    b: &reqwest::Client,
    s: &TestServer,
    base: &str,
    passkey: &mut SoftPasskey,
) -> reqwest::Response {
    let started = ok(post(b, s, &format!("{base}/passkey/options"), json!({})).await).await;
    let credential = passkey.get(&started["options"], &right(s));
    let body = json!({"ceremony": started["ceremony"], "credential": credential});
    post(b, s, &format!("{base}/passkey"), body).await
}

async fn member_session(s: &TestServer, b: &reqwest::Client) -> (u16, Value) {
    let res = b.get(s.url("/api/b2b/session")).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn listed(b: &reqwest::Client, s: &TestServer) -> Vec<Value> {
    let v = ok(b
        .get(s.url("/api/b2b/member/passkeys"))
        .send()
        .await
        .unwrap())
    .await;
    v["passkeys"].as_array().unwrap().clone()
}

async fn sql(s: &TestServer, statement: &str) {
    sea_orm::ConnectionTrait::execute_unprepared(s.kh.store().connection(), statement)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_member_adds_a_passkey_and_signs_in_to_its_organization_with_it_alone() {
    let (s, smtp) = server().await;
    let b = member_in(&s, "acme").await;
    let (mut passkey, started) = add(&b, &s, "/api/b2b/member").await;
    // The browser's chooser tells this membership's passkey apart.
    let user = &started["options"]["publicKey"]["user"];
    assert_eq!(user["name"], format!("{SAM} (Acme Inc)"));
    assert_eq!(user["displayName"], "Sam (Acme Inc)");
    assert_eq!(listed(&b, &s).await.len(), 1);
    let mail = smtp.wait_for(SAM, 1).await;
    assert!(
        mail.text.contains("your membership of Acme Inc"),
        "{}",
        mail.text
    );
    let audit = s.kh.store().list_audit(50, None, None).await.unwrap();
    assert!(audit.iter().any(|r| r.action == "member.passkey_added"));

    // A new browser: no address, no password, no choice of organization.
    let c = browser();
    let res = sign_in(&c, &s, "/api/b2b/session", &mut passkey).await;
    assert_eq!(res.status(), 200);
    let (status, me) = member_session(&s, &c).await;
    assert_eq!(status, 200);
    assert_eq!(me["organization"]["slug"], "acme");
    assert_eq!(me["amr"], json!(["pop", "mfa"]));

    // The tokens of a grant made from it meet a phishing-resistant demand.
    let gpt = s.client(ClientType::ThirdParty).await;
    let code = member_code(&s, &c, &gpt, &[("acr_values", ACR_PHISHING_RESISTANT)]).await;
    let issued = ok(exchange(&s, &gpt, &code).await).await;
    let id = claims(issued["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pop", "mfa"]));
    assert_eq!(id["acr"], ACR_PHISHING_RESISTANT);
}

#[tokio::test]
async fn a_memberships_passkey_is_nothing_for_the_account_or_the_other_membership() {
    let (s, _smtp) = server().await;
    let acme = member_in(&s, "acme").await;
    let (mut member_key, _) = add(&acme, &s, "/api/b2b/member").await;
    let account = s.signed_in(SAM).await;
    let (mut account_key, _) = add(&account, &s, "/api/account").await;

    // Each sign-in refuses the other's passkey.
    let c = browser();
    let res = sign_in(&c, &s, "/api/session", &mut member_key).await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
    assert_eq!(signed_in_status(&c, &s).await, 401);
    let res = sign_in(&c, &s, "/api/b2b/session", &mut account_key).await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
    assert_eq!(member_session(&s, &c).await.0, 401);

    // The Globex membership of the same address neither sees nor removes
    // Acme's, and the passkey opens Acme only.
    let globex = member_in(&s, "globex").await;
    assert!(listed(&globex, &s).await.is_empty());
    let id = listed(&acme, &s).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/b2b/member/passkeys/{id}/remove");
    let res = post(&globex, &s, &path, json!({"password": PASSWORD})).await;
    assert_eq!(error_of(res).await, (404, "not_found".into()));
    assert_eq!(listed(&acme, &s).await.len(), 1);
    let res = sign_in(&c, &s, "/api/b2b/session", &mut member_key).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        member_session(&s, &c).await.1["organization"]["slug"],
        "acme"
    );

    // A registration one holder started is nobody else's to finish: not
    // the other membership's, not the account's (and it is spent). (A
    // second passkey is started from a session that used the first.)
    assert_eq!(
        sign_in(&acme, &s, "/api/b2b/session", &mut member_key)
            .await
            .status(),
        200
    );
    let started = ok(post(
        &acme,
        &s,
        "/api/b2b/member/passkeys/options",
        json!({"password": PASSWORD}),
    )
    .await)
    .await;
    let (_, credential) = SoftPasskey::create(&started["options"], &right(&s));
    let body = json!({"ceremony": started["ceremony"], "credential": credential});
    for (b, path) in [
        (&globex, "/api/b2b/member/passkeys"),
        (&account, "/api/account/passkeys"),
        (&acme, "/api/b2b/member/passkeys"),
    ] {
        let res = post(b, &s, path, body.clone()).await;
        assert_eq!(error_of(res).await, (400, "invalid_grant".into()), "{path}");
    }
    assert_eq!(listed(&acme, &s).await.len(), 1);

    // Its own member removes it (with the password); then it signs in
    // nowhere.
    let res = post(&acme, &s, &path, json!({"password": "wrong password"})).await;
    assert_eq!(error_of(res).await.1, "invalid_credentials");
    let res = post(&acme, &s, &path, json!({"password": PASSWORD})).await;
    assert_eq!(res.status(), 204);
    let audit = s.kh.store().list_audit(50, None, None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "member.passkey_removed" && r.actor.starts_with("member:"))
    );
    let d = browser();
    let res = sign_in(&d, &s, "/api/b2b/session", &mut member_key).await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
}

#[tokio::test]
async fn adding_takes_the_password_and_a_removed_member_signs_in_with_no_passkey() {
    let (s, _smtp) = server().await;
    let b = member_in(&s, "acme").await;
    for (body, refusal) in [
        (json!({}), "invalid_request"),
        (json!({"password": "wrong password"}), "invalid_credentials"),
    ] {
        let res = post(&b, &s, "/api/b2b/member/passkeys/options", body).await;
        assert_eq!(error_of(res).await.1, refusal);
    }
    assert!(listed(&b, &s).await.is_empty());
    let (mut passkey, _) = add(&b, &s, "/api/b2b/member").await;
    sql(&s, &format!("UPDATE members SET status = 'deleted' WHERE email = '{SAM}' AND organization_id IN (SELECT id FROM organizations WHERE slug = 'acme')")).await;
    let c = browser();
    let res = sign_in(&c, &s, "/api/b2b/session", &mut passkey).await;
    assert_eq!(error_of(res).await, (403, "access_denied".into()));
    assert_eq!(member_session(&s, &c).await.0, 401);
}

#[tokio::test]
async fn a_passkey_is_two_factors_for_a_member_with_the_app_and_an_organization_that_asks() {
    let (s, _smtp) = server().await;
    let b = member_in(&s, "acme").await;
    let (mut passkey, _) = add(&b, &s, "/api/b2b/member").await;
    // The app on (as the store records it: a sealed secret, never read
    // here), and the organization asking every member for two factors.
    sql(
        &s,
        &format!(
            "UPDATE members SET totp_secret = 'sealed', totp_enabled_at = 1 WHERE email = '{SAM}'"
        ),
    )
    .await;
    sql(
        &s,
        "UPDATE organizations SET required_sign_in = 'two_factors' WHERE slug = 'acme'",
    )
    .await;
    // A password alone waits for the code; the passkey signs in at once,
    // and the organization's pages open.
    let res = post(
        &browser(),
        &s,
        "/api/b2b/session/login",
        json!({"organization_slug": "acme", "email": SAM, "password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await.1, "second_factor_required");
    let c = browser();
    let res = sign_in(&c, &s, "/api/b2b/session", &mut passkey).await;
    assert_eq!(res.status(), 200);
    let res = c.get(s.url("/test/org")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // (The password session from before the requirement is refused there.)
    let res = b.get(s.url("/test/org")).send().await.unwrap();
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
}

#[tokio::test]
async fn a_passkey_steps_up_the_members_session_and_keeps_its_sid() {
    let (s, _smtp) = server().await;
    let b = member_in(&s, "acme").await;
    let (mut passkey, _) = add(&b, &s, "/api/b2b/member").await;
    let gpt = s.client(ClientType::ThirdParty).await;
    let before = ok(exchange(&s, &gpt, &member_code(&s, &b, &gpt, &[]).await).await).await;
    let before = claims(before["id_token"].as_str().unwrap());
    assert_eq!(before["amr"], json!(["pwd"]));

    // The same browser signs in with the passkey: a step-up of the same
    // session, whose sid the apps know.
    let res = sign_in(&b, &s, "/api/b2b/session", &mut passkey).await;
    assert_eq!(res.status(), 200);
    let after = ok(exchange(&s, &gpt, &member_code(&s, &b, &gpt, &[]).await).await).await;
    let after = claims(after["id_token"].as_str().unwrap());
    assert_eq!(after["amr"], json!(["pop", "mfa"]));
    assert_eq!(after["sid"], before["sid"]);

    // Another browser's passkey sign-in is a session of its own.
    let c = browser();
    assert_eq!(
        sign_in(&c, &s, "/api/b2b/session", &mut passkey)
            .await
            .status(),
        200
    );
    let other = ok(exchange(&s, &gpt, &member_code(&s, &c, &gpt, &[]).await).await).await;
    assert_ne!(
        claims(other["id_token"].as_str().unwrap())["sid"],
        before["sid"]
    );
}

#[tokio::test]
async fn with_the_app_on_changing_passkeys_takes_a_session_that_used_it() {
    let (s, _smtp) = server().await;
    // Signed in with the password before the app was turned on (elsewhere).
    let b = member_in(&s, "acme").await;
    sql(
        &s,
        &format!(
            "UPDATE members SET totp_secret = 'sealed', totp_enabled_at = 1 WHERE email = '{SAM}'"
        ),
    )
    .await;
    let res = post(
        &b,
        &s,
        "/api/b2b/member/passkeys/options",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    assert!(listed(&b, &s).await.is_empty());
}

#[tokio::test]
async fn an_organization_that_asks_for_passkeys_stops_other_sign_ins_and_their_grants() {
    let (s, _smtp) = server().await;
    let boss = "boss@example.com";
    s.kh.create_member("acme", boss, PASSWORD, "Boss", &["admin".to_owned()])
        .await
        .unwrap();
    let policy = |required: &str| json!({ "required_sign_in": required });
    let set = |b: reqwest::Client, required: &'static str| {
        let s = &s;
        async move {
            b.put(s.url("/api/b2b/organization/sign-in"))
                .json(&policy(required))
                .send()
                .await
                .unwrap()
        }
    };

    // Before: Sam turns the authenticator app on (two factors), and
    // connects an app.
    let sam = member_in(&s, "acme").await;
    let setup = post(
        &sam,
        &s,
        "/api/b2b/member/second-factor/setup",
        json!({"password": PASSWORD}),
    )
    .await;
    let key = totp::decode_secret(ok(setup).await["secret"].as_str().unwrap()).unwrap();
    let enable = json!({"code": totp::code_at(&key, s.kh.now())});
    ok(post(&sam, &s, "/api/b2b/member/second-factor/enable", enable).await).await;
    let gpt = s.client(ClientType::ThirdParty).await;
    let granted = ok(exchange(&s, &gpt, &member_code(&s, &sam, &gpt, &[]).await).await).await;
    assert_eq!(
        claims(granted["id_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    let access_token = granted["access_token"].as_str().unwrap().to_owned();
    let refresh_token = granted["refresh_token"].as_str().unwrap().to_owned();
    assert!(active(&s, &gpt, &access_token).await);

    // The admin cannot ask it of everyone before using one.
    let admin = browser();
    let body = json!({"organization_slug": "acme", "email": boss, "password": PASSWORD});
    ok(post(&admin, &s, "/api/b2b/session/login", body).await).await;
    let res = set(admin.clone(), "passkey").await;
    assert_eq!(error_of(res).await, (401, "passkey_required".into()));
    let (mut admin_key, _) = add(&admin, &s, "/api/b2b/member").await;
    assert_eq!(
        sign_in(&admin, &s, "/api/b2b/session", &mut admin_key)
            .await
            .status(),
        200
    );
    let res = set(admin.clone(), "passkey").await;
    assert_eq!(ok(res).await["required_sign_in"], "passkey");

    // Sam's grant from two factors without a passkey is revoked at once
    // (its access token too), and the session may only see itself and add
    // a passkey.
    assert!(!active(&s, &gpt, &access_token).await);
    let res = refresh(&s, &gpt, &refresh_token, None).await;
    assert_eq!(error_of(res).await.1, "invalid_grant");
    let res = sam.get(s.url("/test/org")).send().await.unwrap();
    assert_eq!(error_of(res).await, (401, "passkey_required".into()));
    let (status, me) = member_session(&s, &sam).await;
    assert_eq!(
        (status, me["required_sign_in"].as_str()),
        (200, Some("passkey"))
    );
    let p = with(&params(&gpt.client.id), &[("scope", "openid")]);
    let body: serde_json::Map<String, Value> =
        p.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let res = post(
        &sam,
        &s,
        "/api/b2b/idp/authorize/start",
        Value::Object(body),
    )
    .await;
    assert_eq!(error_of(res).await.1, "passkey_required");
    let (mut sam_key, _) = add(&sam, &s, "/api/b2b/member").await;
    // Its only passkey cannot be removed while the organization asks.
    let id = listed(&sam, &s).await[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/b2b/member/passkeys/{id}/remove");
    let res = post(&sam, &s, &path, json!({"password": PASSWORD})).await;
    assert_eq!(error_of(res).await, (409, "conflict".into()));
    // (Someone else's passkey is not found, whatever the count.)
    let res = post(&admin, &s, &path, json!({"password": PASSWORD})).await;
    assert_eq!(error_of(res).await, (404, "not_found".into()));
    // Signed in with it, Sam is let in, and the app can connect again.
    assert_eq!(
        sign_in(&sam, &s, "/api/b2b/session", &mut sam_key)
            .await
            .status(),
        200
    );
    let res = sam.get(s.url("/test/org")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let again = ok(exchange(&s, &gpt, &member_code(&s, &sam, &gpt, &[]).await).await).await;
    assert_eq!(
        claims(again["id_token"].as_str().unwrap())["acr"],
        ACR_PHISHING_RESISTANT
    );
    // An admin whose session meets it can lower the requirement again.
    let res = set(admin.clone(), "two_factors").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_member_with_a_passkey_adds_another_only_from_a_session_that_used_one() {
    let (s, _smtp) = server().await;
    let b = member_in(&s, "acme").await;
    let (mut passkey, _) = add(&b, &s, "/api/b2b/member").await;
    // A password alone (perhaps phished) adds no second way in.
    let thief = member_in(&s, "acme").await;
    let res = post(
        &thief,
        &s,
        "/api/b2b/member/passkeys/options",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "passkey_required".into()));
    assert_eq!(listed(&b, &s).await.len(), 1);
    // After signing in with the passkey, the member adds another.
    assert_eq!(
        sign_in(&b, &s, "/api/b2b/session", &mut passkey)
            .await
            .status(),
        200
    );
    add(&b, &s, "/api/b2b/member").await;
    assert_eq!(listed(&b, &s).await.len(), 2);
}

#[tokio::test]
async fn passkeys_cannot_be_required_where_the_issuer_can_offer_none() {
    // An issuer at an address: browsers allow no passkeys there.
    let s = spawn_with(|_| {}, true).await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    s.kh.create_member("acme", SAM, PASSWORD, "Sam", &["admin".to_owned()])
        .await
        .unwrap();
    let b = member_in(&s, "acme").await;
    let res = b
        .put(s.url("/api/b2b/organization/sign-in"))
        .json(&json!({"required_sign_in": "passkey"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (400, "invalid_request".into()));
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(org.required_sign_in.as_str(), "one_factor");
}

// ---------------------------------------------------------------------------
// Accepting an invitation with a passkey (docs/threat-model.md row 186).

const BOSS: &str = "boss@acme.test";

/// [`server`] with an admin in `acme`; answers the admin's browser too.
async fn with_admin() -> (TestServer, SmtpServer, reqwest::Client) {
    let (s, smtp) = server().await;
    s.kh.create_member("acme", BOSS, PASSWORD, "Boss", &["admin".to_owned()])
        .await
        .unwrap();
    let b = browser();
    let body = json!({"organization_slug": "acme", "email": BOSS, "password": PASSWORD});
    ok(post(&b, &s, "/api/b2b/session/login", body).await).await;
    (s, smtp, b)
}

/// The admin invites `email` to `acme`; answers the link's token.
async fn invited(
    s: &TestServer,
    smtp: &SmtpServer,
    admin: &reqwest::Client,
    email: &str,
) -> String {
    let body = json!({"email": email, "roles": ["member"]});
    ok(post(admin, s, "/api/b2b/invitations", body).await).await;
    let mail = smtp.wait_for(email, 1).await;
    let link = mail
        .link_containing("/org/invitation?token=")
        .unwrap_or_else(|| panic!("no invitation link in {}", mail.text));
    query_of(&link)["token"].clone()
}

/// `POST /api/b2b/invitation/passkey/options` for `token`.
async fn invitation_options(s: &TestServer, token: &str) -> Value {
    ok(post(
        &browser(),
        s,
        "/api/b2b/invitation/passkey/options",
        json!({"token": token}),
    )
    .await)
    .await
}

async fn accept_with(
    b: &reqwest::Client,
    s: &TestServer,
    token: &str,
    ceremony: &Value,
    credential: Value,
) -> reqwest::Response {
    let body = json!({
        "token": token,
        "name": "Dana",
        "passkey": {"ceremony": ceremony, "credential": credential},
    });
    post(b, s, "/api/b2b/invitation/accept", body).await
}

async fn acme_member(s: &TestServer, email: &str) -> Option<keyhouse_store::Member> {
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    s.kh.store()
        .find_member_by_email(&org.id, email)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_invitation_is_accepted_with_a_passkey_which_then_signs_the_member_in() {
    let (s, smtp, admin) = with_admin().await;
    let token = invited(&s, &smtp, &admin, "dana@acme.test").await;
    let shown = ok(post(
        &browser(),
        &s,
        "/api/b2b/invitation",
        json!({"token": token}),
    )
    .await)
    .await;
    assert_eq!(shown["passkeys"], true);

    let started = invitation_options(&s, &token).await;
    let user = &started["options"]["publicKey"]["user"];
    assert_eq!(user["name"], "dana@acme.test (Acme Inc)");
    let (mut passkey, credential) = SoftPasskey::create(&started["options"], &right(&s));
    let b = browser();
    let res = accept_with(&b, &s, &token, &started["ceremony"], credential).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let (status, me) = member_session(&s, &b).await;
    assert_eq!(status, 200);
    assert_eq!(me["member"]["email"], "dana@acme.test");
    assert_eq!(me["member"]["name"], "Dana");
    assert_eq!(me["amr"], json!(["pop", "mfa"]));
    assert_eq!(listed(&b, &s).await.len(), 1);

    // The member has no password: none signs them in.
    let member = acme_member(&s, "dana@acme.test").await.unwrap();
    assert!(member.password_hash.is_empty());
    let body = json!({"organization_slug": "acme", "email": "dana@acme.test", "password": ""});
    let res = post(&browser(), &s, "/api/b2b/session/login", body).await;
    assert_ne!(res.status(), 200);

    // With no password to type, a recent sign-in confirms them: they add
    // a second passkey (a session that used one), and not once the
    // sign-in is old.
    assert_eq!(me["member"]["has_password"], false);
    let more = ok(post(&b, &s, "/api/b2b/member/passkeys/options", json!({})).await).await;
    let (_, credential) = SoftPasskey::create(&more["options"], &right(&s));
    let body = json!({"ceremony": more["ceremony"], "credential": credential});
    assert_eq!(
        post(&b, &s, "/api/b2b/member/passkeys", body)
            .await
            .status(),
        201
    );
    s.clock
        .as_ref()
        .unwrap()
        .advance(s.kh.config().recent_sign_in + 1);
    let res = post(&b, &s, "/api/b2b/member/passkeys/options", json!({})).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"], "reauthentication_required", "{v}");

    // A mailed code alone (a recent sign-in, but one factor) swaps none of
    // the passkeys the member holds: it neither removes one nor adds one.
    let m = browser();
    post(
        &m,
        &s,
        "/api/b2b/discovery/email",
        json!({"email": "dana@acme.test"}),
    )
    .await;
    // The invitation, the notice of the second passkey, then the code.
    let code = smtp.wait_for("dana@acme.test", 3).await.code().unwrap();
    let found = ok(post(
        &m,
        &s,
        "/api/b2b/discovery/email/code",
        json!({"email": "dana@acme.test", "code": code}),
    )
    .await)
    .await;
    let body = json!({"discovery_token": found["discovery_token"], "organization_slug": "acme"});
    ok(post(&m, &s, "/api/b2b/discovery/select", body).await).await;
    let (_, me) = member_session(&s, &m).await;
    assert_eq!(me["amr"], json!(["email"]));
    let held = listed(&m, &s).await;
    let id = held[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/b2b/member/passkeys/{id}/remove");
    let v: Value = post(&m, &s, &path, json!({})).await.json().await.unwrap();
    assert_eq!(v["error"], "reauthentication_required", "{v}");
    let v: Value = post(&m, &s, "/api/b2b/member/passkeys/options", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"], "passkey_required", "{v}");
    assert_eq!(listed(&m, &s).await.len(), 2);

    // The passkey signs them in from a new browser.
    let c = browser();
    let res = sign_in(&c, &s, "/api/b2b/session", &mut passkey).await;
    assert_eq!(res.status(), 200);
    let (_, me) = member_session(&s, &c).await;
    assert_eq!(me["member"]["email"], "dana@acme.test");

    // The link is spent, with a passkey as with a password.
    let res = post(
        &browser(),
        &s,
        "/api/b2b/invitation/passkey/options",
        json!({"token": token}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let audit = s.kh.store().list_audit(50, None, None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "organization.invitation_accepted")
    );
    assert!(audit.iter().any(|r| r.action == "member.passkey_added"));
}

#[tokio::test]
async fn an_invitation_passkey_finishes_that_invitation_only_and_leaves_nothing_half_made() {
    let (s, smtp, admin) = with_admin().await;
    let dana = invited(&s, &smtp, &admin, "dana@acme.test").await;
    let erin = invited(&s, &smtp, &admin, "erin@acme.test").await;

    // A ceremony started for Dana's invitation accepts no other.
    let started = invitation_options(&s, &dana).await;
    let (_, credential) = SoftPasskey::create(&started["options"], &right(&s));
    let res = accept_with(&browser(), &s, &erin, &started["ceremony"], credential).await;
    assert_eq!(res.status(), 400, "{}", res.text().await.unwrap());
    assert!(acme_member(&s, "erin@acme.test").await.is_none());
    assert!(acme_member(&s, "dana@acme.test").await.is_none());

    // A member's own registration ceremony accepts no invitation...
    let sam = member_in(&s, "acme").await;
    let own = ok(post(
        &sam,
        &s,
        "/api/b2b/member/passkeys/options",
        json!({"password": PASSWORD}),
    )
    .await)
    .await;
    let (_, credential) = SoftPasskey::create(&own["options"], &right(&s));
    let res = accept_with(&browser(), &s, &erin, &own["ceremony"], credential).await;
    assert_eq!(res.status(), 400, "{}", res.text().await.unwrap());
    assert!(acme_member(&s, "erin@acme.test").await.is_none());

    // ... and an invitation's ceremony adds no passkey to a member.
    let started = invitation_options(&s, &erin).await;
    let (_, credential) = SoftPasskey::create(&started["options"], &right(&s));
    let body = json!({"ceremony": started["ceremony"], "credential": credential});
    let res = post(&sam, &s, "/api/b2b/member/passkeys", body).await;
    assert_eq!(res.status(), 400, "{}", res.text().await.unwrap());
    assert!(listed(&sam, &s).await.is_empty());

    // A credential registered already (Sam's) makes no member: no row
    // without its passkey, and the invitation stays open.
    let (sams, _) = add(&sam, &s, "/api/b2b/member").await;
    let started = invitation_options(&s, &erin).await;
    let challenge = started["options"]["publicKey"]["challenge"]
        .as_str()
        .unwrap();
    let replayed = sams.registration(challenge, &right(&s));
    let res = accept_with(&browser(), &s, &erin, &started["ceremony"], replayed).await;
    assert_eq!(res.status(), 409, "{}", res.text().await.unwrap());
    assert!(acme_member(&s, "erin@acme.test").await.is_none());
    let started = invitation_options(&s, &erin).await;
    let (_, credential) = SoftPasskey::create(&started["options"], &right(&s));
    let res = accept_with(&browser(), &s, &erin, &started["ceremony"], credential).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert!(acme_member(&s, "erin@acme.test").await.is_some());

    // A password and a passkey at once: refused before anything.
    let started = invitation_options(&s, &dana).await;
    let (_, credential) = SoftPasskey::create(&started["options"], &right(&s));
    let body = json!({
        "token": dana,
        "password": PASSWORD,
        "passkey": {"ceremony": started["ceremony"], "credential": credential},
    });
    let res = post(&browser(), &s, "/api/b2b/invitation/accept", body).await;
    assert_eq!(res.status(), 400);
    assert!(acme_member(&s, "dana@acme.test").await.is_none());
}
