//! Two-step verification for members of organizations, and an
//! organization that asks every member for it (docs/threat-model.md rows
//! 108–117 and 135–139), with a frozen clock so the app's codes are the
//! ones `keyhouse_core::totp` computes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use crate::common;

use common::*;
use keyhouse_axum::CreatedClient;
use keyhouse_core::ClientType;
use keyhouse_core::totp;
use serde_json::{Value, json};

const ADMIN: &str = "boss@acme.test";
const MEMBER: &str = "sam@acme.test";

/// A server with the organization `acme`: an admin and a plain member.
async fn server() -> TestServer {
    let s = spawn_with(|_| {}, true).await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    for (email, role) in [(ADMIN, "admin"), (MEMBER, "member")] {
        s.kh.create_member("acme", email, PASSWORD, "", &[role.to_owned()])
            .await
            .unwrap();
    }
    s
}

async fn sql(s: &TestServer, statement: &str) {
    sea_orm::ConnectionTrait::execute_unprepared(s.kh.store().connection(), statement)
        .await
        .unwrap();
}

fn clock(s: &TestServer) -> &keyhouse_core::clock::FixedClock {
    s.clock.as_ref().expect("frozen clock")
}

fn app_code(s: &TestServer, secret: &str) -> String {
    totp::code_at(&totp::decode_secret(secret).unwrap(), s.kh.now())
}

/// The next time step: the code of the step before is spent.
fn next_step(s: &TestServer) {
    clock(s).advance(30);
}

/// Signs `email` in to `acme` from a new browser: the browser and the
/// answer.
async fn login(s: &TestServer, email: &str) -> (reqwest::Client, reqwest::Response) {
    let b = browser();
    let res = post(
        &b,
        s,
        "/api/b2b/session/login",
        json!({"organization_slug": "acme", "email": email, "password": PASSWORD}),
    )
    .await;
    (b, res)
}

async fn signed_in(s: &TestServer, email: &str) -> reqwest::Client {
    let (b, res) = login(s, email).await;
    assert_eq!(res.status(), 200);
    b
}

async fn session(s: &TestServer, b: &reqwest::Client) -> (u16, Value) {
    let res = b.get(s.url("/api/b2b/session")).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Turns the app on for the member signed in on `b`: the secret and the
/// recovery codes.
async fn turn_on(s: &TestServer, b: &reqwest::Client) -> (String, Vec<String>) {
    let res = post(
        b,
        s,
        "/api/b2b/member/second-factor/setup",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let secret = res.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = post(
        b,
        s,
        "/api/b2b/member/second-factor/enable",
        json!({"code": app_code(s, &secret)}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let codes: Vec<String> =
        serde_json::from_value(res.json::<Value>().await.unwrap()["codes"].clone()).unwrap();
    (secret, codes)
}

async fn second_step(s: &TestServer, b: &reqwest::Client, code: &str) -> reqwest::Response {
    post(
        b,
        s,
        "/api/b2b/session/second-factor",
        json!({"code": code}),
    )
    .await
}

fn body(params: &[(&str, &str)], consent: Option<bool>) -> Value {
    let mut m: BTreeMap<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    if let Some(c) = consent {
        m.insert("consent_granted".into(), Value::Bool(c));
    }
    serde_json::to_value(m).unwrap()
}

async fn b2b_start(
    s: &TestServer,
    b: &reqwest::Client,
    params: &[(&str, &str)],
) -> reqwest::Response {
    post(b, s, "/api/b2b/idp/authorize/start", body(params, None)).await
}

/// A code for the member signed in on `b`, granted to `c`.
async fn member_code(s: &TestServer, b: &reqwest::Client, c: &CreatedClient) -> String {
    let p = with(
        &params(&c.client.id),
        &[("scope", "openid email offline_access")],
    );
    let res = post(b, s, "/api/b2b/idp/authorize", body(&p, Some(true))).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    query_of(v["redirect_uri"].as_str().unwrap())["code"].clone()
}

/// The code flow for a member: the token answer.
async fn member_tokens(s: &TestServer, b: &reqwest::Client, c: &CreatedClient) -> Value {
    let code = member_code(s, b, c).await;
    ok_json(exchange(s, c, &code).await).await
}

#[tokio::test]
async fn a_member_turns_the_app_on_and_then_signs_in_in_two_steps() {
    let s = server().await;
    let b = signed_in(&s, MEMBER).await;
    let (secret, _) = turn_on(&s, &b).await;
    let (_, me) = session(&s, &b).await;
    assert_eq!(me["second_factor"], true);
    assert_eq!(
        me["amr"],
        json!(["pwd", "otp", "mfa"]),
        "turning it on used it"
    );

    // The password alone now opens a session that waits, and signs in
    // nothing.
    let (b2, res) = login(&s, MEMBER).await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    assert_eq!(session(&s, &b2).await.0, 401);
    let res = b2.get(s.url("/api/b2b/organization")).send().await.unwrap();
    assert_eq!(res.status(), 401);

    // The code that turned the app on was spent.
    let (status, error) = error_of(second_step(&s, &b2, &app_code(&s, &secret)).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));

    next_step(&s);
    let code = app_code(&s, &secret);
    let res = second_step(&s, &b2, &code).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(me["organization"]["slug"], "acme");
    assert_eq!(session(&s, &b2).await.0, 200);

    // A third browser with the password and the same code: refused.
    let (b3, _) = login(&s, MEMBER).await;
    let (_, error) = error_of(second_step(&s, &b3, &code).await).await;
    assert_eq!(error, "invalid_grant");
    assert_eq!(session(&s, &b3).await.0, 401);
}

#[tokio::test]
async fn discovery_waits_for_the_second_factor_too() {
    let s = server().await;
    let b = signed_in(&s, MEMBER).await;
    let (secret, _) = turn_on(&s, &b).await;
    next_step(&s);

    let b2 = browser();
    let res = post(
        &b2,
        &s,
        "/api/b2b/discovery",
        json!({"email": MEMBER, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.unwrap()["discovery_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = post(
        &b2,
        &s,
        "/api/b2b/discovery/select",
        json!({"discovery_token": token, "organization_slug": "acme"}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    assert_eq!(session(&s, &b2).await.0, 401);
    let res = second_step(&s, &b2, &app_code(&s, &secret)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(session(&s, &b2).await.0, 200);
}

#[tokio::test]
async fn one_members_codes_are_nothing_for_another_with_the_same_address() {
    let s = server().await;
    // The same person in a second organization is a second member.
    s.kh.create_organization("Globex", "globex").await.unwrap();
    s.kh.create_member("globex", MEMBER, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    let globex = browser();
    let res = post(
        &globex,
        &s,
        "/api/b2b/session/login",
        json!({"organization_slug": "globex", "email": MEMBER, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (globex_secret, globex_codes) = turn_on(&s, &globex).await;

    let acme = signed_in(&s, MEMBER).await;
    let (acme_secret, acme_codes) = turn_on(&s, &acme).await;
    assert_ne!(acme_secret, globex_secret);
    next_step(&s);

    let (b, _) = login(&s, MEMBER).await;
    // Globex's recovery code and app code, at Acme: refused.
    let (_, error) = error_of(second_step(&s, &b, &globex_codes[0]).await).await;
    assert_eq!(error, "invalid_grant");
    let (_, error) = error_of(second_step(&s, &b, &app_code(&s, &globex_secret)).await).await;
    assert_eq!(error, "invalid_grant");

    // Globex's rows copied onto the Acme member (a database write by an
    // attacker): the sealed secret does not open for another member, and
    // the recovery codes' hashes name their member.
    let store = s.kh.store();
    let org = |slug: &'static str| async move {
        let o = store
            .find_organization_by_slug(slug)
            .await
            .unwrap()
            .unwrap();
        store
            .find_member_by_email(&o.id, MEMBER)
            .await
            .unwrap()
            .unwrap()
    };
    let (acme_member, globex_member) = (org("acme").await, org("globex").await);
    let acme_sealed = acme_member.totp_secret.clone().unwrap();
    let globex_sealed = globex_member.totp_secret.clone().unwrap();
    let (acme_id, globex_id) = (&acme_member.id, &globex_member.id);
    sql(
        &s,
        &format!("UPDATE members SET totp_secret = '{globex_sealed}' WHERE id = '{acme_id}'"),
    )
    .await;
    let res = second_step(&s, &b, &app_code(&s, &globex_secret)).await;
    assert_eq!(
        res.status(),
        500,
        "a secret sealed for another member does not open"
    );
    sql(
        &s,
        &format!("UPDATE members SET totp_secret = '{acme_sealed}' WHERE id = '{acme_id}'"),
    )
    .await;
    sql(
        &s,
        &format!("UPDATE recovery_codes SET user_id = '{acme_id}' WHERE user_id = '{globex_id}'"),
    )
    .await;
    let (_, error) = error_of(second_step(&s, &b, &globex_codes[1]).await).await;
    assert_eq!(error, "invalid_grant");

    // Acme's own recovery code works, once.
    assert_eq!(second_step(&s, &b, &acme_codes[0]).await.status(), 200);
    let (b2, _) = login(&s, MEMBER).await;
    let (_, error) = error_of(second_step(&s, &b2, &acme_codes[0]).await).await;
    assert_eq!(error, "invalid_grant");
    let status: Value = b
        .get(s.url("/api/b2b/member/second-factor"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Its own nine left, and Globex's ten moved here, none of which work.
    assert_eq!(status, json!({"enabled": true, "recovery_codes_left": 19}));
}

#[tokio::test]
async fn changing_the_app_takes_the_password_and_a_session_that_used_it() {
    let s = server().await;
    let b = signed_in(&s, MEMBER).await;
    let res = post(
        &b,
        &s,
        "/api/b2b/member/second-factor/setup",
        json!({"password": "wrong password!"}),
    )
    .await;
    assert_eq!(error_of(res).await.1, "invalid_credentials");
    // A second browser signed in with the password alone, before.
    let old = signed_in(&s, MEMBER).await;
    let (secret, _) = turn_on(&s, &b).await;
    next_step(&s);

    // That one-factor session cannot turn the app off, even with the
    // password.
    let res = post(
        &old,
        &s,
        "/api/b2b/member/second-factor/disable",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    let (b2, _) = login(&s, MEMBER).await;
    assert_eq!(
        second_step(&s, &b2, &app_code(&s, &secret)).await.status(),
        200
    );
    let res = post(
        &b2,
        &s,
        "/api/b2b/member/second-factor/disable",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 204);
    // Off: the password alone signs in again.
    let (_, res) = login(&s, MEMBER).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_organization_that_asks_for_two_factors_stops_one_factor_sign_ins_and_their_grants() {
    let s = server().await;
    let c = s.client(ClientType::ThirdParty).await;

    // Before the policy: a member connects an app with a password alone.
    let member = signed_in(&s, MEMBER).await;
    let t = member_tokens(&s, &member, &c).await;
    let sid = claims(t["id_token"].as_str().unwrap())["sid"].clone();
    assert!(sid.is_string());
    let refresh_token = t["refresh_token"].as_str().unwrap().to_owned();
    let access_token = t["access_token"].as_str().unwrap().to_owned();
    assert!(active(&s, &c, &access_token).await);

    // An admin who has not used two factors cannot ask them of everyone.
    let admin = signed_in(&s, ADMIN).await;
    let policy = json!({"required_sign_in": "two_factors"});
    let put = |b: &reqwest::Client, v: Value| {
        b.put(s.url("/api/b2b/organization/sign-in"))
            .json(&v)
            .send()
    };
    let (_, error) = error_of(put(&admin, policy.clone()).await.unwrap()).await;
    assert_eq!(error, "second_factor_required");
    let res = admin
        .get(s.url("/api/b2b/organization"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["required_sign_in"],
        "one_factor"
    );

    let (admin_secret, _) = turn_on(&s, &admin).await;
    let res = put(&admin, policy.clone()).await.unwrap();
    assert_eq!(res.status(), 200);

    // The one-factor grant ends at once: refresh and access token.
    let (_, error) = error_of(refresh(&s, &c, &refresh_token, None).await).await;
    assert_eq!(error, "invalid_grant");
    assert!(!active(&s, &c, &access_token).await);

    // The member's one-factor session may see who it is, and nothing else.
    let (status, me) = session(&s, &member).await;
    assert_eq!(status, 200);
    assert_eq!(me["required_sign_in"], "two_factors");
    assert_eq!(me["second_factor"], false);
    let res = b2b_start(&s, &member, &params(&c.client.id)).await;
    assert_eq!(
        error_of(res).await,
        (403, "second_factor_setup_required".into())
    );
    // prompt=none cannot ask: interaction_required at the redirect URI.
    let res = b2b_start(
        &s,
        &member,
        &with(&params(&c.client.id), &[("prompt", "none")]),
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        query_of(v["redirect_uri"].as_str().unwrap())["error"],
        "interaction_required"
    );

    // Turning the app on steps the session up: the app connects again.
    turn_on(&s, &member).await;
    let res = b2b_start(&s, &member, &params(&c.client.id)).await;
    assert_eq!(res.status(), 200);
    let t = member_tokens(&s, &member, &c).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], keyhouse_core::assurance::ACR_TWO_FACTORS);
    assert_eq!(id["sid"], sid, "the same sign-in, stepped up: the same sid");
    assert!(active(&s, &c, t["access_token"].as_str().unwrap()).await);

    // The admin signing in elsewhere: the password, then the code. The app
    // cannot be turned off under the policy.
    next_step(&s);
    let (elsewhere, res) = login(&s, ADMIN).await;
    assert_eq!(res.status(), 401);
    assert_eq!(session(&s, &elsewhere).await.0, 401);
    assert_eq!(
        second_step(&s, &elsewhere, &app_code(&s, &admin_secret))
            .await
            .status(),
        200
    );
    let res = elsewhere
        .get(s.url("/api/b2b/organization"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = post(
        &admin,
        &s,
        "/api/b2b/member/second-factor/disable",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (409, "conflict".into()));
}

#[tokio::test]
async fn a_session_from_before_the_policy_must_step_up_for_everything_else() {
    let s = server().await;
    let admin = signed_in(&s, ADMIN).await;
    // The admin's second browser signed in with the password alone, before
    // the app was on.
    let old = signed_in(&s, ADMIN).await;
    let (secret, _) = turn_on(&s, &admin).await;
    let res = admin
        .put(s.url("/api/b2b/organization/sign-in"))
        .json(&json!({"required_sign_in": "two_factors"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = old
        .get(s.url("/api/b2b/organization"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    let res = old
        .put(s.url("/api/b2b/organization/connected-apps"))
        .json(&json!({"first_party": {"access": "all_allowed"}, "third_party": {"access": "not_allowed"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // An app's own organization API (`MemberCaller`) refuses it too.
    let res = old.get(s.url("/test/org")).send().await.unwrap();
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    next_step(&s);
    let res = second_step(&s, &old, &app_code(&s, &secret)).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["amr"], json!(["pwd", "otp", "mfa"]));
    let res = old
        .get(s.url("/api/b2b/organization"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = old.get(s.url("/test/org")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_grant_made_as_the_requirement_is_turned_on_does_not_outlive_it() {
    let s = server().await;
    let c = s.client(ClientType::ThirdParty).await;
    let member = signed_in(&s, MEMBER).await;
    let t = member_tokens(&s, &member, &c).await;
    let refresh_token = t["refresh_token"].as_str().unwrap().to_owned();
    // A code issued from the one-factor session...
    let code = member_code(&s, &member, &c).await;
    // ...then the requirement lands without the request's revocation
    // (another instance's request racing with this one's).
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    s.kh.store()
        .set_required_sign_in(
            &org.id,
            keyhouse_types::b2b::RequiredSignIn::TwoFactors,
            s.kh.now(),
        )
        .await
        .unwrap();
    let (_, error) = error_of(exchange(&s, &c, &code).await).await;
    assert_eq!(error, "invalid_grant");
    let (_, error) = error_of(refresh(&s, &c, &refresh_token, None).await).await;
    assert_eq!(error, "invalid_grant");
    assert!(
        !active(&s, &c, t["access_token"].as_str().unwrap()).await,
        "the family went with the refusal"
    );
}

#[tokio::test]
async fn an_admin_turns_off_the_app_of_a_member_who_lost_it() {
    let s = server().await;
    let member = signed_in(&s, MEMBER).await;
    turn_on(&s, &member).await;
    let admin = signed_in(&s, ADMIN).await;
    let id_of = |me: Value| me["member"]["member_id"].as_str().unwrap().to_owned();
    let member_id = id_of(session(&s, &member).await.1);
    let admin_id = id_of(session(&s, &admin).await.1);
    let path = |id: &str| format!("/api/b2b/members/{id}/turn-off-two-step");

    // A plain member cannot; an admin's own goes through their own page;
    // an unknown member is not found.
    let res = post(&member, &s, &path(&admin_id), json!({})).await;
    assert_eq!(error_of(res).await, (403, "access_denied".into()));
    let res = post(&admin, &s, &path(&admin_id), json!({})).await;
    assert_eq!(error_of(res).await, (409, "conflict".into()));
    let res = post(&admin, &s, &path("member-unknown"), json!({})).await;
    assert_eq!(error_of(res).await, (404, "not_found".into()));
    let (_, res) = login(&s, MEMBER).await;
    assert_eq!(res.status(), 401, "still on: the password alone waits");

    let res = post(&admin, &s, &path(&member_id), json!({})).await;
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["second_factor"], false);
    // Off: the password alone signs in, and the organization's list says so.
    let (_, res) = login(&s, MEMBER).await;
    assert_eq!(res.status(), 200);
    let settings: Value = admin
        .get(s.url("/api/b2b/organization"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = settings["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member_id"] == member_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["second_factor"], false);
}
