//! Passkeys: added from a signed-in account, then signing in with no
//! password, driven by a software authenticator (common::authenticator)
//! written from the WebAuthn specification. Each refusal is the attack
//! itself: another origin, a replayed or foreign ceremony, a credential
//! another account holds, a cloned key, no user verification
//! (docs/threat-model.md rows 125–134).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::authenticator::{Ceremony, SoftPasskey, UP};
use common::*;
use keyhouse_core::ClientType;
use keyhouse_core::assurance::{ACR_PHISHING_RESISTANT, ACR_TWO_FACTORS};
use serde_json::{Value, json};

const ADA: &str = "ada@example.com";
const BOB: &str = "bob@example.com";

/// A server whose issuer is `http://localhost:PORT` (browsers allow
/// passkeys on a domain name only); requests still go to 127.0.0.1.
async fn server() -> TestServer {
    let s = spawn_with(
        |c| c.issuer = c.issuer.replace("127.0.0.1", "localhost"),
        true,
    )
    .await;
    s.user(ADA).await;
    s.user(BOB).await;
    s
}

fn origin(s: &TestServer) -> String {
    s.kh.config().origin()
}

fn right(s: &TestServer) -> Ceremony {
    Ceremony::at(&origin(s))
}

async fn json_of(res: reqwest::Response) -> Value {
    let status = res.status();
    let v: Value = res.json().await.unwrap();
    assert!(status.is_success(), "{status}: {v}");
    v
}

/// Starts adding a passkey from signed-in browser `b`.
async fn registration_options(b: &reqwest::Client, s: &TestServer) -> Value {
    let started = json_of(
        post(
            b,
            s,
            "/api/account/passkeys/options",
            json!({"password": PASSWORD}),
        )
        .await,
    )
    .await;
    // A discoverable credential, its user verified, on this RP ID.
    let pk = &started["options"]["publicKey"];
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["requireResidentKey"], true);
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["rp"]["id"], "localhost");
    started
}

/// Finishes the registration `started`, with the browser's `credential`.
async fn finish_adding(
    b: &reqwest::Client,
    s: &TestServer,
    started: &Value,
    credential: Value,
) -> reqwest::Response {
    post(
        b,
        s,
        "/api/account/passkeys",
        json!({"ceremony": started["ceremony"], "credential": credential}),
    )
    .await
}

/// Adds a passkey to the account signed in on `b`.
async fn add_passkey(b: &reqwest::Client, s: &TestServer) -> SoftPasskey {
    let started = registration_options(b, s).await;
    let (passkey, credential) = SoftPasskey::create(&started["options"], &right(s));
    let res = finish_adding(b, s, &started, credential).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    passkey
}

async fn sign_in_options(b: &reqwest::Client, s: &TestServer) -> Value {
    json_of(post(b, s, "/api/session/passkey/options", json!({})).await).await
}

async fn finish_sign_in(
    b: &reqwest::Client,
    s: &TestServer,
    ceremony: &Value,
    credential: Value,
) -> reqwest::Response {
    post(
        b,
        s,
        "/api/session/passkey",
        json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
}

/// Signs browser `b` in with `passkey`; answers the response.
async fn sign_in(
    b: &reqwest::Client,
    s: &TestServer,
    passkey: &mut SoftPasskey,
) -> reqwest::Response {
    let started = sign_in_options(b, s).await;
    let credential = passkey.get(&started["options"], &right(s));
    finish_sign_in(b, s, &started["ceremony"], credential).await
}

async fn session_of(b: &reqwest::Client, s: &TestServer) -> Option<Value> {
    let res = b.get(s.url("/api/session")).send().await.unwrap();
    (res.status() == 200).then_some(res.json().await.unwrap())
}

/// Ada, signed in, with a passkey added.
async fn ada_with_passkey(s: &TestServer) -> (reqwest::Client, SoftPasskey) {
    let a = s.signed_in(ADA).await;
    let passkey = add_passkey(&a, s).await;
    (a, passkey)
}

/// A passkey refused: `invalid_credentials`, and `b` is not signed in.
async fn refused_and_signed_out(res: reqwest::Response, b: &reqwest::Client, s: &TestServer) {
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
    assert!(session_of(b, s).await.is_none());
}

async fn passkeys_of(b: &reqwest::Client, s: &TestServer) -> Vec<Value> {
    let v = json_of(b.get(s.url("/api/account/passkeys")).send().await.unwrap()).await;
    v["passkeys"].as_array().unwrap().clone()
}

async fn audited(s: &TestServer, action: &str) -> usize {
    s.kh.store()
        .list_audit(500, None, None)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.action == action)
        .count()
}

#[tokio::test]
async fn a_passkey_signs_in_with_no_password_and_says_so_in_the_id_token() {
    let s = server().await;
    let (a, mut passkey) = ada_with_passkey(&s).await;
    // Named after the browser it was made on; the options asked for a
    // verified user and a discoverable credential on this RP ID.
    let list = passkeys_of(&a, &s).await;
    assert_eq!(list.len(), 1);
    assert_eq!(passkey.rp_id, "localhost");
    assert_eq!(audited(&s, "account.passkey_added").await, 1);

    // A new browser: no address, no password.
    let b = browser();
    let started = sign_in_options(&b, &s).await;
    let pk = &started["options"]["publicKey"];
    assert_eq!(pk["rpId"], "localhost");
    assert_eq!(pk["userVerification"], "required");
    assert!(
        pk.get("allowCredentials")
            .is_none_or(|v| v.as_array().is_some_and(|a| a.is_empty()))
    );
    let credential = passkey.get(&started["options"], &right(&s));
    let res = finish_sign_in(&b, &s, &started["ceremony"], credential).await;
    assert_eq!(res.status(), 200);
    let session = session_of(&b, &s).await.expect("signed in");
    assert_eq!(session["user"]["email"], ADA);
    assert_eq!(session["amr"], json!(["pop", "mfa"]));
    let used = passkeys_of(&b, &s).await;
    assert!(used[0]["last_used_at"].is_i64());

    // The ID token says how, and a phishing-resistant demand is met.
    let gpt = s.client(ClientType::ThirdParty).await;
    let issued = tokens(&s, &b, &gpt, &[("acr_values", ACR_PHISHING_RESISTANT)]).await;
    let idt = claims(issued["id_token"].as_str().unwrap());
    assert_eq!(idt["amr"], json!(["pop", "mfa"]));
    assert_eq!(idt["acr"], ACR_PHISHING_RESISTANT);
    // Discovery names the level; two factors asked: a passkey is two.
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert!(
        meta["acr_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(ACR_PHISHING_RESISTANT))
    );
    let res = s
        .start(
            &b,
            &with(&params(&gpt.client.id), &[("acr_values", ACR_TWO_FACTORS)]),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_password_session_is_stepped_up_by_a_passkey_and_keeps_its_sid() {
    let s = server().await;
    let (a, mut passkey) = ada_with_passkey(&s).await;
    let gpt = s.client(ClientType::ThirdParty).await;
    let id = gpt.client.id.clone();
    let issued = tokens(&s, &a, &gpt, &[]).await;
    let first_sid = claims(issued["id_token"].as_str().unwrap())["sid"].clone();

    let phr = [("acr_values", ACR_PHISHING_RESISTANT)];
    let res = s.start(&a, &with(&params(&id), &phr)).await;
    assert_eq!(error_of(res).await, (401, "passkey_required".into()));
    // Past the boundary: no code for the password session either.
    let res = s.authorize(&a, &with(&params(&id), &phr), true).await;
    assert_eq!(error_of(res).await, (401, "passkey_required".into()));

    assert_eq!(sign_in(&a, &s, &mut passkey).await.status(), 200);
    let issued = tokens(&s, &a, &gpt, &phr).await;
    let idt = claims(issued["id_token"].as_str().unwrap());
    assert_eq!(idt["acr"], ACR_PHISHING_RESISTANT);
    assert_eq!(idt["sid"], first_sid, "the same sign-in, one step further");
}

#[tokio::test]
async fn a_ceremony_finishes_once_and_an_assertion_is_not_replayed() {
    let s = server().await;
    let (a, mut passkey) = ada_with_passkey(&s).await;
    let b = browser();
    let started = sign_in_options(&b, &s).await;
    let credential = passkey.get(&started["options"], &right(&s));
    let res = finish_sign_in(&b, &s, &started["ceremony"], credential.clone()).await;
    assert_eq!(res.status(), 200);

    // The same answer again, on another browser: the ceremony is spent.
    let c = browser();
    let res = finish_sign_in(&c, &s, &started["ceremony"], credential.clone()).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    // Under a new ceremony: its challenge is not the one signed.
    let fresh = sign_in_options(&c, &s).await;
    let res = finish_sign_in(&c, &s, &fresh["ceremony"], credential).await;
    refused_and_signed_out(res, &c, &s).await;
    // A registration ceremony does not finish a sign-in (and is spent).
    let reg = registration_options(&a, &s).await;
    let credential = passkey.get(&fresh["options"], &right(&s));
    let res = finish_sign_in(&c, &s, &reg["ceremony"], credential).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_ceremony_outlives_its_five_minutes_by_nothing() {
    let s = server().await;
    let (_, mut passkey) = ada_with_passkey(&s).await;
    let b = browser();
    let started = sign_in_options(&b, &s).await;
    let credential = passkey.get(&started["options"], &right(&s));
    s.clock.as_ref().unwrap().advance(301);
    let res = finish_sign_in(&b, &s, &started["ceremony"], credential).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    assert!(session_of(&b, &s).await.is_none());
}

#[tokio::test]
async fn a_passkey_answering_another_origin_is_refused() {
    let s = server().await;
    let (a, mut passkey) = ada_with_passkey(&s).await;
    // A look-alike site relayed the challenge: the browser writes the
    // origin it was on into the signed client data.
    let b = browser();
    let started = sign_in_options(&b, &s).await;
    let port = origin(&s).rsplit(':').next().unwrap().to_owned();
    let evil = Ceremony::at(&format!("http://login-localhost.example:{port}"));
    let credential = passkey.get(&started["options"], &evil);
    let res = finish_sign_in(&b, &s, &started["ceremony"], credential).await;
    refused_and_signed_out(res, &b, &s).await;

    // Nor is one made for another origin ever added.
    let started = registration_options(&a, &s).await;
    let (_, credential) = SoftPasskey::create(&started["options"], &evil);
    let res = finish_adding(&a, &s, &started, credential).await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
    assert_eq!(passkeys_of(&a, &s).await.len(), 1);
}

#[tokio::test]
async fn a_user_who_was_not_verified_is_refused() {
    let s = server().await;
    let (_, mut passkey) = ada_with_passkey(&s).await;
    // Touched, but no PIN or biometric: one factor, not a passkey sign-in.
    let b = browser();
    let started = sign_in_options(&b, &s).await;
    let how = Ceremony {
        flags: UP,
        ..right(&s)
    };
    let credential = passkey.get(&started["options"], &how);
    let res = finish_sign_in(&b, &s, &started["ceremony"], credential).await;
    refused_and_signed_out(res, &b, &s).await;
}

#[tokio::test]
async fn a_cloned_passkey_whose_counter_went_back_is_refused() {
    let s = server().await;
    let (_, mut passkey) = ada_with_passkey(&s).await;
    let b = browser();
    assert_eq!(sign_in(&b, &s, &mut passkey).await.status(), 200);
    assert_eq!(sign_in(&b, &s, &mut passkey).await.status(), 200);
    // A copy of the key still at counter 1 signs in elsewhere.
    let c = browser();
    let started = sign_in_options(&c, &s).await;
    let handle = passkey.user_handle.clone();
    let credential = passkey.assertion(&started["options"], &right(&s), 1, &handle);
    let res = finish_sign_in(&c, &s, &started["ceremony"], credential).await;
    refused_and_signed_out(res, &c, &s).await;
    assert_eq!(audited(&s, "account.passkey_counter_regressed").await, 1);
}

#[tokio::test]
async fn a_passkey_answers_for_its_own_account_only() {
    let s = server().await;
    let a = s.signed_in(ADA).await;
    let b = s.signed_in(BOB).await;
    let mut ada_key = add_passkey(&a, &s).await;
    let bob_key = add_passkey(&b, &s).await;
    assert_ne!(ada_key.user_handle, bob_key.user_handle);

    // Ada's key claiming to be Bob's user: refused.
    let c = browser();
    let started = sign_in_options(&c, &s).await;
    let credential = ada_key.assertion(&started["options"], &right(&s), 5, &bob_key.user_handle);
    let res = finish_sign_in(&c, &s, &started["ceremony"], credential).await;
    refused_and_signed_out(res, &c, &s).await;

    // Bob finishing the registration Ada started: refused, and spent.
    let started = registration_options(&a, &s).await;
    let (_, credential) = SoftPasskey::create(&started["options"], &right(&s));
    let res = finish_adding(&b, &s, &started, credential.clone()).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    let res = finish_adding(&a, &s, &started, credential).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));

    // Ada's credential, registered again on Bob's account: refused (a
    // credential id belongs to one account), Bob's list unchanged.
    let started = registration_options(&b, &s).await;
    let challenge = started["options"]["publicKey"]["challenge"]
        .as_str()
        .unwrap();
    let credential = ada_key.registration(challenge, &right(&s));
    let res = finish_adding(&b, &s, &started, credential).await;
    assert_eq!(error_of(res).await, (409, "conflict".into()));
    assert_eq!(passkeys_of(&b, &s).await.len(), 1);
    // Ada's key still signs Ada in.
    assert_eq!(sign_in(&c, &s, &mut ada_key).await.status(), 200);
    assert_eq!(session_of(&c, &s).await.unwrap()["user"]["email"], ADA);
}

#[tokio::test]
async fn adding_takes_the_password_and_a_removed_passkey_signs_in_no_more() {
    let s = server().await;
    let a = s.signed_in(ADA).await;
    // A session found on an unlocked computer cannot add its own key.
    let res = post(&a, &s, "/api/account/passkeys/options", json!({})).await;
    assert_eq!(error_of(res).await, (400, "invalid_request".into()));
    let res = post(
        &a,
        &s,
        "/api/account/passkeys/options",
        json!({"password": "not the password"}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
    // Signed out: nothing.
    let res = post(
        &browser(),
        &s,
        "/api/account/passkeys/options",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 401);

    let mut passkey = add_passkey(&a, &s).await;
    let id = passkeys_of(&a, &s).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bob cannot remove it.
    let b = s.signed_in(BOB).await;
    let res = post(
        &b,
        &s,
        &format!("/api/account/passkeys/{id}/remove"),
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (404, "not_found".into()));
    let res = post(
        &a,
        &s,
        &format!("/api/account/passkeys/{id}/remove"),
        json!({}),
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_request".into()));
    let res = post(
        &a,
        &s,
        &format!("/api/account/passkeys/{id}/remove"),
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert!(passkeys_of(&a, &s).await.is_empty());
    assert_eq!(audited(&s, "account.passkey_removed").await, 1);

    let c = browser();
    let res = sign_in(&c, &s, &mut passkey).await;
    refused_and_signed_out(res, &c, &s).await;
}

#[tokio::test]
async fn an_account_with_an_authenticator_app_needs_no_code_after_a_passkey() {
    let s = server().await;
    let (a, mut passkey) = ada_with_passkey(&s).await;
    // Signed in with the password alone, before two-step verification.
    let before = s.signed_in(ADA).await;
    // Two-step verification on.
    let res = post(
        &a,
        &s,
        "/api/account/second-factor/setup",
        json!({"password": PASSWORD}),
    )
    .await;
    let setup: Value = json_of(res).await;
    let secret = keyhouse_core::totp::decode_secret(setup["secret"].as_str().unwrap()).unwrap();
    let code = keyhouse_core::totp::code_at(&secret, s.kh.now());
    let res = post(
        &a,
        &s,
        "/api/account/second-factor/enable",
        json!({"code": code}),
    )
    .await;
    assert_eq!(res.status(), 200);

    // The password alone waits for a code; the passkey does not.
    let b = browser();
    let res = post(
        &b,
        &s,
        "/api/session/login",
        json!({"email": ADA, "password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    assert!(session_of(&b, &s).await.is_none());
    assert_eq!(sign_in(&b, &s, &mut passkey).await.status(), 200);
    assert_eq!(
        session_of(&b, &s).await.unwrap()["amr"],
        json!(["pop", "mfa"])
    );

    // A one-factor session from before cannot add a passkey, nor remove
    // one, while the app is on: its password is not enough.
    let res = post(
        &before,
        &s,
        "/api/account/passkeys/options",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    let id = passkeys_of(&a, &s).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/account/passkeys/{id}/remove");
    let res = post(&before, &s, &path, json!({"password": PASSWORD})).await;
    assert_eq!(error_of(res).await, (401, "second_factor_required".into()));
    assert_eq!(passkeys_of(&a, &s).await.len(), 1);
    // The passkey session can.
    let res = post(&b, &s, &path, json!({"password": PASSWORD})).await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn a_disabled_or_deleted_account_signs_in_with_no_passkey() {
    let s = server().await;
    let (_, mut passkey) = ada_with_passkey(&s).await;
    let ada = s.find_user(ADA).await.unwrap();
    s.kh.store()
        .disable_user(&ada.id, s.kh.now())
        .await
        .unwrap();
    let b = browser();
    let res = sign_in(&b, &s, &mut passkey).await;
    assert_eq!(error_of(res).await, (403, "account_disabled".into()));
    assert!(session_of(&b, &s).await.is_none());

    // Deleted: its passkeys go with it.
    let bob = s.signed_in(BOB).await;
    let mut bob_key = add_passkey(&bob, &s).await;
    // A registration Bob started and never finished.
    registration_options(&bob, &s).await;
    assert_eq!(ceremonies(&s).await, 1);
    let res = post(
        &bob,
        &s,
        "/api/account/delete",
        json!({"password": PASSWORD, "confirm_email": BOB}),
    )
    .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let bob_id = bob_key.id.clone();
    let stored =
        s.kh.store()
            .find_passkey(&base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                &bob_id,
            ))
            .await
            .unwrap();
    assert!(stored.is_none());
    assert_eq!(ceremonies(&s).await, 0, "its ceremonies went with it");
    let res = sign_in(&browser(), &s, &mut bob_key).await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
}

#[tokio::test]
async fn an_issuer_at_an_ip_address_offers_no_passkeys() {
    let s = spawn().await;
    s.user(ADA).await;
    let a = s.signed_in(ADA).await;
    let res = post(
        &a,
        &s,
        "/api/account/passkeys/options",
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(res).await, (404, "not_found".into()));
    let res = post(&browser(), &s, "/api/session/passkey/options", json!({})).await;
    assert_eq!(error_of(res).await, (404, "not_found".into()));
    // An app asking for a passkey sign-in is told it cannot have one, not
    // sent to a passkey step that cannot work; discovery does not offer it.
    let gpt = s.client(ClientType::ThirdParty).await;
    let phr = [("acr_values", ACR_PHISHING_RESISTANT)];
    let res = s.start(&a, &with(&params(&gpt.client.id), &phr)).await;
    assert_eq!(error_of(res).await, (403, "access_denied".into()));
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert!(
        !meta["acr_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(ACR_PHISHING_RESISTANT))
    );
}

async fn ceremonies(s: &TestServer) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = s.kh.store().connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM webauthn_ceremonies",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn sign_in_ceremonies_are_limited_per_address_and_swept_when_old() {
    let s = server().await;
    let b = browser();
    let limit = keyhouse_axum::PASSKEY_SIGN_INS_PER_IP_PER_HOUR;
    for _ in 0..limit {
        let res = post(&b, &s, "/api/session/passkey/options", json!({})).await;
        assert_eq!(res.status(), 200);
    }
    let res = post(&b, &s, "/api/session/passkey/options", json!({})).await;
    assert_eq!(error_of(res).await, (429, "too_many_attempts".into()));
    assert_eq!(ceremonies(&s).await, limit);
    // Housekeeping: none is swept while alive, all once out of time.
    s.kh.store().purge_expired(s.kh.now()).await.unwrap();
    assert_eq!(ceremonies(&s).await, limit);
    s.clock.as_ref().unwrap().advance(300);
    s.kh.store().purge_expired(s.kh.now()).await.unwrap();
    assert_eq!(ceremonies(&s).await, 0);
}

#[tokio::test]
async fn a_counter_is_moved_by_one_sign_in_of_two_racing() {
    let s = server().await;
    let (a, mut passkey) = ada_with_passkey(&s).await;
    assert_eq!(sign_in(&a, &s, &mut passkey).await.status(), 200);
    let id = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &passkey.id,
    );
    let stored = s.kh.store().find_passkey(&id).await.unwrap().unwrap();
    // Two sign-ins read the same record, each with its own new counter: the
    // second write finds the record changed.
    let store = s.kh.store();
    let now = s.kh.now();
    assert!(
        store
            .passkey_used(&id, &stored.credential, "{\"first\":1}", now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .passkey_used(&id, &stored.credential, "{\"second\":2}", now)
            .await
            .unwrap()
    );
    let after = store.find_passkey(&id).await.unwrap().unwrap();
    assert_eq!(after.credential, "{\"first\":1}");
}

#[tokio::test]
async fn a_passkey_whose_user_was_not_verified_is_never_added() {
    let s = server().await;
    let a = s.signed_in(ADA).await;
    let started = registration_options(&a, &s).await;
    let how = Ceremony {
        flags: UP,
        ..right(&s)
    };
    let (_, credential) = SoftPasskey::create(&started["options"], &how);
    let res = finish_adding(&a, &s, &started, credential).await;
    assert_eq!(error_of(res).await, (401, "invalid_credentials".into()));
    assert!(passkeys_of(&a, &s).await.is_empty());
}

async fn start_sign_in(b: &reqwest::Client, s: &TestServer, autofill: bool) -> reqwest::Response {
    post(
        b,
        s,
        "/api/session/passkey/options",
        json!({ "autofill": autofill }),
    )
    .await
}

#[tokio::test]
async fn page_views_for_autofill_never_use_up_the_buttons_sign_ins() {
    let s = server().await;
    let b = browser();
    // One network loads the sign-in page more often than the button may
    // be pressed: each view starts an autofill sign-in.
    let views = keyhouse_axum::PASSKEY_AUTOFILL_SIGN_INS_PER_IP_PER_HOUR;
    assert!(views > keyhouse_axum::PASSKEY_SIGN_INS_PER_IP_PER_HOUR);
    for _ in 0..views {
        assert_eq!(start_sign_in(&b, &s, true).await.status(), 200);
    }
    // Someone there presses the button, for an account or a membership.
    assert_eq!(start_sign_in(&b, &s, false).await.status(), 200);
    let member = post(
        &b,
        &s,
        "/api/b2b/session/passkey/options",
        json!({ "autofill": false }),
    )
    .await;
    assert_eq!(member.status(), 200);
    // A start with no body at all is a button press too (as before the
    // autofill existed); a misspelt field is refused, not guessed.
    let bare = b
        .post(s.url("/api/session/passkey/options"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 200);
    let typo = post(
        &b,
        &s,
        "/api/session/passkey/options",
        json!({ "autofil": true }),
    )
    .await;
    assert_eq!(error_of(typo).await.0, 400);
    // The next view is past the autofill's own limit.
    let res = start_sign_in(&b, &s, true).await;
    assert_eq!(error_of(res).await, (429, "too_many_attempts".into()));
    assert_eq!(ceremonies(&s).await, views + 3);
}
