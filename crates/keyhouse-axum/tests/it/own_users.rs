//! An app that keeps its own users and login (`Keyhouse::with_subjects`):
//! its session decides who is signed in, its user list gives the profile,
//! and Keyhouse's own accounts are out of the way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::request::Parts;
use common::*;
use keyhouse_axum::{ResolveError, SignedIn, SubjectProfile, SubjectResolver};
use keyhouse_core::ClientType;
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;

/// The host app: its sessions (cookie `app_session` → subject, auth time)
/// and its users.
#[derive(Clone, Default)]
struct AppUsers {
    sessions: Arc<Mutex<HashMap<String, (String, i64)>>>,
    people: Arc<Mutex<HashMap<String, SubjectProfile>>>,
    broken: Arc<AtomicBool>,
    /// `current` hands its own profile over (`SignedIn::with_profile`).
    eager: Arc<AtomicBool>,
}

impl AppUsers {
    fn add(&self, subject: &str, name: &str, email: Option<&str>) {
        let mut p = SubjectProfile::new(name).updated_at(NOW - 100);
        if let Some(e) = email {
            p = p.email(e).verified();
        }
        self.people.lock().unwrap().insert(subject.into(), p);
    }

    /// The app signs `subject` in at `auth_time`; returns a browser with
    /// the app's cookie.
    fn sign_in(&self, s: &TestServer, subject: &str, auth_time: i64) -> reqwest::Client {
        let id = format!("sess-{subject}-{auth_time}");
        self.sessions
            .lock()
            .unwrap()
            .insert(id.clone(), (subject.into(), auth_time));
        let jar = Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(
            &format!("app_session={id}"),
            &s.base.parse::<reqwest::Url>().unwrap(),
        );
        reqwest::Client::builder()
            .default_headers(reqwest::header::HeaderMap::from_iter([(
                reqwest::header::HeaderName::from_static("sec-fetch-site"),
                reqwest::header::HeaderValue::from_static("same-origin"),
            )]))
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

impl SubjectResolver for AppUsers {
    async fn current(&self, parts: &Parts) -> Result<Option<SignedIn>, ResolveError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(ResolveError::new("session store unreachable"));
        }
        let cookie = parts
            .headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("app_session="))
            .map(str::to_owned);
        let Some(id) = cookie else { return Ok(None) };
        let Some((subject, auth_time)) = self.sessions.lock().unwrap().get(&id).cloned() else {
            return Ok(None);
        };
        let signed_in = SignedIn::new(subject, id, auth_time);
        if self.eager.load(Ordering::SeqCst) {
            let p = SubjectProfile::new("Grace, from the session").email("session@navy.example");
            return Ok(Some(signed_in.with_profile(p)));
        }
        // No profile given: Keyhouse asks `profile` below (and a deleted
        // person, still holding a session here, is nobody it issues for).
        Ok(Some(signed_in))
    }

    async fn profile(&self, subject: &str) -> Result<Option<SubjectProfile>, ResolveError> {
        Ok(self.people.lock().unwrap().get(subject).cloned())
    }

    fn login_url(&self) -> String {
        "/sign-in".into()
    }
}

async fn app() -> (TestServer, AppUsers) {
    let users = AppUsers::default();
    users.add("app-user-7", "Grace Hopper", Some("grace@navy.example"));
    let s = spawn_keeping(users.clone()).await;
    (s, users)
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_the_apps_own_login() {
    let (s, _) = app().await;
    let c = s.client(ClientType::ThirdParty).await;
    let res = s.start(&browser(), &params(&c.client.id)).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "login_required");
    assert_eq!(body["login_url"], "/sign-in");
}

#[tokio::test]
async fn keyhouses_own_accounts_are_not_mounted() {
    // With its own accounts mounted, anyone could sign up a Keyhouse user
    // beside the app's users.
    let (s, _) = app().await;
    let b = browser();
    for path in [
        "/api/session/signup",
        "/api/session/login",
        "/api/session/password-reset",
    ] {
        let res = b
            .post(s.url(path))
            .json(&json!({"email": "mallory@evil.example", "password": PASSWORD, "name": "M"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    assert!(s.find_user("mallory@evil.example").await.is_none());
    let res = b.get(s.url("/api/session")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_apps_user_connects_a_client_and_its_tokens_carry_the_apps_profile() {
    let (s, users) = app().await;
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-7", NOW - 30);

    let start: Value = ok_json(s.start(&b, &params(&c.client.id)).await).await;
    assert_eq!(start["consent_required"], true);
    assert_eq!(start["user"]["email"], "grace@navy.example");

    let t = tokens(&s, &b, &c, &[]).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], "app-user-7");
    assert_eq!(id["name"], "Grace Hopper");
    assert_eq!(id["email"], "grace@navy.example");
    assert_eq!(id["auth_time"], NOW - 30);
    let info: Value = ok_json(userinfo(&s, t["access_token"].as_str().unwrap()).await).await;
    assert_eq!(info["sub"], "app-user-7");
    assert_eq!(info["email_verified"], true);
    // No Keyhouse user was created for them.
    assert!(s.find_user("grace@navy.example").await.is_none());
    // Keyhouse keeps no session of theirs: it names none, and offers no
    // sign-out it could not carry out (the app signs its users out).
    assert!(id.get("sid").is_none(), "{id}");
    let meta = get_json(s.url("/.well-known/openid-configuration")).await;
    assert!(meta.get("end_session_endpoint").is_none(), "{meta}");
    assert_eq!(meta["backchannel_logout_supported"], false);
    for (method, path) in [
        ("GET", "/oauth2/logout"),
        ("POST", "/oauth2/logout"),
        ("POST", "/api/session/end-session"),
        ("POST", "/api/session/end-session/check"),
    ] {
        let req = match method {
            "GET" => b.get(s.url(path)),
            _ => b.post(s.url(path)).json(&json!({})),
        };
        assert_eq!(req.send().await.unwrap().status(), 404, "{method} {path}");
    }
}

#[tokio::test]
async fn a_user_without_an_email_gets_no_empty_email_claim() {
    let (s, users) = app().await;
    users.add("app-user-8", "Anonymous Reader", None);
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-8", NOW);
    let t = tokens(&s, &b, &c, &[]).await;
    let info: Value = ok_json(userinfo(&s, t["access_token"].as_str().unwrap()).await).await;
    assert_eq!(info["name"], "Anonymous Reader");
    assert!(info.get("email").is_none(), "{info}");
    assert!(info.get("email_verified").is_none(), "{info}");
}

#[tokio::test]
async fn max_age_compares_against_the_apps_own_auth_time() {
    let (s, users) = app().await;
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-7", NOW - 601);
    let res = s
        .start(&b, &with(&params(&c.client.id), &[("max_age", "600")]))
        .await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["login_url"], "/sign-in");
    // Signed in again by the app, inside the window: through.
    let b = users.sign_in(&s, "app-user-7", NOW - 599);
    let res = s
        .start(&b, &with(&params(&c.client.id), &[("max_age", "600")]))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_session_naming_a_deleted_user_counts_as_signed_out() {
    let (s, users) = app().await;
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-7", NOW);
    assert_eq!(s.start(&b, &params(&c.client.id)).await.status(), 200);
    // The app deletes the user but its session store still holds the session.
    users.people.lock().unwrap().remove("app-user-7");
    let res = s.start(&b, &params(&c.client.id)).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "login_required");
}

#[tokio::test]
async fn a_profile_given_with_the_session_is_shown_as_given() {
    let (s, users) = app().await;
    users.eager.store(true, Ordering::SeqCst);
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-7", NOW);
    let start: Value = ok_json(s.start(&b, &params(&c.client.id)).await).await;
    assert_eq!(start["user"]["email"], "session@navy.example");
}

#[tokio::test]
async fn a_user_the_app_deleted_gets_no_more_tokens() {
    let (s, users) = app().await;
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-7", NOW);
    let code = code(&s, &b, &c.client.id, &[]).await;
    users.people.lock().unwrap().remove("app-user-7");
    let res = exchange(&s, &c, &code).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn forgetting_a_subject_revokes_what_it_granted() {
    let (s, users) = app().await;
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-7", NOW);
    let t = tokens(&s, &b, &c, &[]).await;
    let access = t["access_token"].as_str().unwrap();
    let refresh_token = t["refresh_token"].as_str().unwrap();
    assert!(active(&s, &c, access).await);

    assert_eq!(s.kh.forget_subject("app-user-7").await.unwrap(), 1);

    assert!(!active(&s, &c, access).await);
    let res = refresh(&s, &c, refresh_token, None).await;
    assert_eq!(res.status(), 400);
    // The next authorization asks for consent again.
    let start: Value = ok_json(s.start(&b, &params(&c.client.id)).await).await;
    assert_eq!(start["consent_required"], true);
}

#[tokio::test]
async fn a_failing_resolver_stops_the_request_without_a_code() {
    let (s, users) = app().await;
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-7", NOW);
    users.broken.store(true, Ordering::SeqCst);
    let res = s.authorize(&b, &params(&c.client.id), true).await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        s.kh.store()
            .grants_of("app-user-7")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_users_connected_apps_come_from_the_apps_session() {
    let (s, users) = app().await;
    let c = s.client(ClientType::ThirdParty).await;
    let b = users.sign_in(&s, "app-user-7", NOW);
    tokens(&s, &b, &c, &[]).await;
    let apps: Value = ok_json(
        b.get(s.url("/api/account/connected-apps"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(apps.as_array().unwrap().len(), 1);
    assert_eq!(apps[0]["client"]["client_id"], c.client.id.as_str());
    // Without the app's session: refused.
    let res = browser()
        .get(s.url("/api/account/connected-apps"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
