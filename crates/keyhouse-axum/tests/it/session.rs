//! Sign-up, login, logout and the session cookie (docs/threat-model.md rows 4, 12,
//! 17, 25, 26, 27, 31).
#![allow(clippy::unwrap_used)]
use crate::common;

use common::{PASSWORD, REDIRECT, browser, client_credentials, header_str};
use keyhouse_core::ClientType;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};

const COOKIE_NAME: &str = "keyhouse_session";

/// The session cookie value a response sets, if any.
fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            let (name, value) = first.split_once('=')?;
            (name.trim() == COOKIE_NAME).then(|| value.to_owned())
        })
}

/// Logs in with JSON through a client without a cookie jar, optionally
/// presenting `cookie`; returns the response.
async fn login_raw(
    s: &common::TestServer,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(s.url("/api/session/login"))
        .json(&json!({"email": email, "password": password}));
    if let Some(c) = cookie {
        // As the browser sends it, with the fetch metadata of its own page.
        req = req
            .header(COOKIE, format!("{COOKIE_NAME}={c}"))
            .header("sec-fetch-site", "same-origin");
    }
    req.send().await.unwrap()
}

/// `GET /api/session` with an explicit cookie value.
async fn me_with(s: &common::TestServer, cookie: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .get(s.url("/api/session"))
        .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn signup_me_logout_login() {
    let s = common::spawn_with(|c| c.verify_email_at_signup = false, false).await;
    let b = browser();

    // Not signed in yet.
    let res = b.get(s.url("/api/session")).send().await.unwrap();
    assert_eq!(res.status(), 401);

    let res = b
        .post(s.url("/api/session/signup"))
        .json(
            &json!({"email": " Grace@Example.COM ", "password": PASSWORD, "name": "Grace Hopper"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // docs/threat-model.md row 27: HttpOnly, SameSite=Lax, no JavaScript access.
    let set_cookie = header_str(&res, SET_COOKIE);
    assert!(set_cookie.starts_with("keyhouse_session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["user"]["email"], "grace@example.com",
        "email is normalised"
    );
    assert_eq!(body["user"]["name"], "Grace Hopper");
    let user_id = body["user"]["user_id"].as_str().unwrap().to_owned();
    assert!(body["expires_at"].as_i64().unwrap() > body["authenticated_at"].as_i64().unwrap());

    let res = b.get(s.url("/api/session")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["user"]["user_id"], user_id.as_str());

    let res = b.post(s.url("/api/session/logout")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        header_str(&res, SET_COOKIE).contains("Max-Age=0"),
        "logout clears the cookie"
    );
    let res = b.get(s.url("/api/session")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "session_required");

    let res = b
        .post(s.url("/api/session/login"))
        .json(&json!({"email": "grace@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["user"]["user_id"],
        user_id.as_str(),
        "same user, same id"
    );
    let me: Value = b
        .get(s.url("/api/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "grace@example.com");
}

#[tokio::test]
async fn signup_refuses_bad_input() {
    let s = common::spawn().await;
    let b = browser();
    for body in [
        json!({"email": "not-an-email", "password": PASSWORD}),
        json!({"email": "a@example.com", "password": "short"}),
    ] {
        let res = b
            .post(s.url("/api/session/signup"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert!(
            session_cookie(&res).is_none(),
            "no session for a refused sign-up"
        );
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_request");
    }
}

#[tokio::test]
async fn duplicate_signup_is_409_when_addresses_are_not_verified_first() {
    let s = common::spawn_with(|c| c.verify_email_at_signup = false, false).await;
    let body = json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"});
    let res = browser()
        .post(s.url("/api/session/signup"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // Same address in another case: still the same account.
    let again = json!({"email": "ADA@example.com", "password": "another password 123"});
    let res = browser()
        .post(s.url("/api/session/signup"))
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(session_cookie(&res).is_none());
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "conflict");
    // The original password still works: the account was not overwritten.
    assert_eq!(
        login_raw(&s, "ada@example.com", PASSWORD, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        login_raw(&s, "ada@example.com", "another password 123", None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn unknown_email_and_wrong_password_answer_alike() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;

    let wrong = login_raw(&s, "ada@example.com", "wrong password!", None).await;
    let wrong_status = wrong.status();
    assert!(session_cookie(&wrong).is_none());
    let wrong_body = wrong.bytes().await.unwrap();

    let unknown = login_raw(&s, "nobody@example.com", PASSWORD, None).await;
    let unknown_status = unknown.status();
    assert!(session_cookie(&unknown).is_none());
    let unknown_body = unknown.bytes().await.unwrap();

    assert_eq!(wrong_status, 401);
    assert_eq!(wrong_status, unknown_status);
    assert_eq!(wrong_body, unknown_body, "byte-identical bodies");
    let err: Value = serde_json::from_slice(&wrong_body).unwrap();
    assert_eq!(err["error"], "invalid_credentials");
}

/// docs/threat-model.md row 26: a session id planted before login is never promoted.
#[tokio::test]
async fn login_issues_a_new_session_id_and_drops_the_old_one() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;

    let first = login_raw(&s, "ada@example.com", PASSWORD, None).await;
    assert_eq!(first.status(), 200);
    let old = session_cookie(&first).unwrap();
    assert_eq!(me_with(&s, &old).await, 200);

    // Log in again presenting the existing cookie.
    let second = login_raw(&s, "ada@example.com", PASSWORD, Some(&old)).await;
    assert_eq!(second.status(), 200);
    let new = session_cookie(&second).unwrap();
    assert_ne!(new, old, "a new session id at login");
    assert_eq!(me_with(&s, &new).await, 200);
    assert_eq!(me_with(&s, &old).await, 401, "the old session is gone");

    // An attacker-chosen value is not adopted either.
    let planted = "attacker-chosen-session-id-0123456789abcdefghij";
    let third = login_raw(&s, "ada@example.com", PASSWORD, Some(planted)).await;
    assert_eq!(third.status(), 200);
    let issued = session_cookie(&third).unwrap();
    assert_ne!(issued, planted);
    assert_eq!(me_with(&s, planted).await, 401);
    assert_eq!(me_with(&s, &issued).await, 200);
}

/// docs/threat-model.md row 26: logout destroys the session on the server, so a copy
/// of the cookie is worthless afterwards.
#[tokio::test]
async fn logout_destroys_the_session_server_side() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let res = login_raw(&s, "ada@example.com", PASSWORD, None).await;
    let cookie = session_cookie(&res).unwrap();
    // A second, independent session of the same user.
    let other = session_cookie(&login_raw(&s, "ada@example.com", PASSWORD, None).await).unwrap();
    assert_eq!(me_with(&s, &cookie).await, 200);

    let res = reqwest::Client::new()
        .post(s.url("/api/session/logout"))
        .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        session_cookie(&res).as_deref(),
        Some(""),
        "the cookie is cleared"
    );

    // Replaying the old value after logout.
    assert_eq!(me_with(&s, &cookie).await, 401);
    let res = reqwest::Client::new()
        .post(s.url("/api/idp/authorize/start"))
        .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
        .json(&json!({"client_id": "x", "redirect_uri": REDIRECT}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    // Only that session ended.
    assert_eq!(me_with(&s, &other).await, 200);
}

/// docs/threat-model.md rows 17 and 4: a form login answers 303 (never 307, which
/// would re-post the credentials) to a same-origin path only.
#[tokio::test]
async fn form_login_answers_303_to_a_sanitised_return_to() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let table = [
        ("/account", "/account"),
        ("/idp?client_id=a&state=b", "/idp?client_id=a&state=b"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ];
    for (return_to, expected) in table {
        let b = browser();
        let res = b
            .post(s.url("/api/session/login"))
            .form(&[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("return_to", return_to),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{return_to:?}");
        assert_eq!(
            res.headers().get(LOCATION).unwrap(),
            expected,
            "{return_to:?}"
        );
        assert!(
            session_cookie(&res).is_some_and(|c| !c.is_empty()),
            "{return_to:?}"
        );
        // The cookie set by the form login is a working session.
        assert_eq!(
            b.get(s.url("/api/session")).send().await.unwrap().status(),
            200
        );
    }

    // Wrong password: still 303, back to the login page, no session.
    let b = browser();
    let res = b
        .post(s.url("/api/session/login"))
        .form(&[
            ("email", "ada@example.com"),
            ("password", "wrong password!"),
            ("return_to", "//evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = header_str(&res, LOCATION);
    assert!(
        location.starts_with("/login?error=invalid_credentials"),
        "{location}"
    );
    assert!(!location.contains("evil"), "{location}");
    assert!(session_cookie(&res).is_none());
    assert_eq!(
        b.get(s.url("/api/session")).send().await.unwrap().status(),
        401
    );
}

/// docs/threat-model.md row 31: input is bound as parameters, never spliced into SQL.
#[tokio::test]
async fn sql_injection_is_inert() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let c = s.machine_client(ClientType::ThirdParty, false).await;

    for email in [
        "' OR '1'='1",
        "x'OR'1'='1'--@example.com",
        "ada@example.com' --",
        "ada@example.com'; DROP TABLE users; --",
    ] {
        for password in [PASSWORD, "' OR '1'='1"] {
            let res = login_raw(&s, email, password, None).await;
            assert_eq!(res.status(), 401, "{email} / {password}");
            assert!(session_cookie(&res).is_none());
            let err: Value = res.json().await.unwrap();
            assert_eq!(err["error"], "invalid_credentials");
        }
    }

    let injected = "x' OR 1=1 --";
    // As client_secret_post, as a public client (`none`) and as Basic.
    let forms: [Vec<(&str, &str)>; 2] = [
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", injected),
            ("client_secret", "' OR '1'='1"),
        ],
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", injected),
        ],
    ];
    for form in forms {
        let res = s.token(&form).await;
        assert_eq!(res.status(), 401, "{form:?}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_client");
    }
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/token"))
        .basic_auth(injected, Some("' OR '1'='1"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The real client with an injected secret.
    let res = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client.id),
            ("client_secret", "' OR '1'='1"),
        ])
        .await;
    assert_eq!(res.status(), 401);

    // The tables are intact: the user still signs in, the client still
    // authenticates, and nothing was added or removed.
    assert_eq!(
        login_raw(&s, "ada@example.com", PASSWORD, None)
            .await
            .status(),
        200
    );
    let res = client_credentials(&s, &c, &[]).await;
    assert_eq!(res.status(), 200);
    let clients = s.kh.store().list_clients().await.unwrap();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].id, c.client.id);
    assert!(s.find_user("ada@example.com").await.is_some());
}

/// docs/threat-model.md row 12: state-changing browser requests from another site
/// are refused.
#[tokio::test]
async fn cross_site_posts_are_refused() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let creds = json!({"email": "ada@example.com", "password": PASSWORD});

    let res = browser()
        .post(s.url("/api/session/login"))
        .header(ORIGIN, "https://evil.example")
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(session_cookie(&res).is_none());
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "csrf_detected");

    let res = browser()
        .post(s.url("/api/session/login"))
        .header("sec-fetch-site", "cross-site")
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "csrf_detected");

    let res = browser()
        .post(s.url("/api/session/signup"))
        .header(ORIGIN, "https://evil.example")
        .json(&json!({"email": "new@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(s.find_user("new@example.com").await.is_none());

    // Our own origin and same-origin fetches are fine.
    let b = browser();
    let res = b
        .post(s.url("/api/session/login"))
        .header(ORIGIN, s.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A forged logout leaves the session alone.
    let res = b
        .post(s.url("/api/session/logout"))
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        b.get(s.url("/api/session")).send().await.unwrap().status(),
        200
    );

    // A forged consent decision issues nothing.
    let c = s.client(ClientType::ThirdParty).await;
    let body = json!({
        "client_id": c.client.id, "redirect_uri": REDIRECT, "response_type": "code",
        "scope": "openid", "state": "s", "consent_granted": true,
    });
    let res = b
        .post(s.url("/api/idp/authorize"))
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let text = res.text().await.unwrap();
    assert!(!text.contains("code="), "{text}");
    // No consent was recorded by the forged request.
    let user = s.find_user("ada@example.com").await.unwrap();
    assert!(
        s.kh.store()
            .find_grant(&user.id, &c.client.id, None)
            .await
            .unwrap()
            .is_none()
    );
    // Consent is never granted by a GET.
    let res = b.get(s.url("/api/idp/authorize")).send().await.unwrap();
    assert_eq!(res.status(), 405);
}

/// docs/threat-model.md row 53: a write carrying the session cookie but
/// neither `Origin` nor `Sec-Fetch-Site` is refused; the guard no longer
/// fails open when a client strips both.
#[tokio::test]
async fn a_cookie_write_without_origin_headers_is_refused() {
    let s = common::spawn().await;
    s.user("ada@example.com").await;
    let b = s.signed_in("ada@example.com").await;
    let status = b.get(s.url("/api/session")).send().await.unwrap().status();
    assert_eq!(status, 200);
    // A plain client (no browser headers) replaying the cookie by hand.
    let login = reqwest::Client::new()
        .post(s.url("/api/session/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    let c = s.client(ClientType::ThirdParty).await;
    let body = json!({
        "client_id": c.client.id, "redirect_uri": REDIRECT, "response_type": "code",
        "scope": "openid", "state": "s", "consent_granted": true,
    });
    let res = reqwest::Client::new()
        .post(s.url("/api/idp/authorize"))
        .header("cookie", pair.as_str())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "csrf_detected");
    let res = reqwest::Client::new()
        .post(s.url("/api/session/logout"))
        .header("cookie", pair.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a forged logout is refused too");
    // Without a cookie there is no ambient authority: sign-in still works
    // for clients that send no browser headers.
    let res = reqwest::Client::new()
        .post(s.url("/api/session/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
