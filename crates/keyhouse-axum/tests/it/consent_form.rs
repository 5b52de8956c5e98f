//! The consent screen's HTML form (`POST /api/idp/authorize/form` and the
//! members' one): the decision of a page whose script is not running yet
//! (or at all), answered by a page that forwards the browser to the
//! client. It decides exactly as the JSON decision does, behind the same
//! CSRF guard, and anything it cannot send to the client is explained on a
//! page, never redirected.

use keyhouse_core::ClientType;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::common::{
    self, PASSWORD, REDIRECT, TestServer, browser, exchange, ok_json, params, post, query_of,
};

const FORM: &str = "/api/idp/authorize/form";

/// `/idp?<the request>`, as the page's hidden field carries it.
fn page_of(p: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p)
        .finish();
    format!("/idp?{query}")
}

async fn submit(
    s: &TestServer,
    b: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.post(s.url(path)).form(form).send().await.expect("form")
}

/// Where the forwarding page sends the browser: its `refresh` and its
/// link, which must agree.
async fn forwarded_to(res: reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(common::header_str(&res, CACHE_CONTROL), "no-store");
    assert!(res.headers().get(LOCATION).is_none(), "not a redirect");
    let html = res.text().await.expect("html");
    let unescape = |s: &str| s.replace("&amp;", "&");
    let refresh = html
        .split(r#"<meta http-equiv="refresh" content="0;url="#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(unescape)
        .expect("a refresh");
    let link = html
        .split(r#"<a href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(unescape)
        .expect("a link");
    assert_eq!(refresh, link, "{html}");
    refresh
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

async fn count(s: &TestServer, table: &str) -> i64 {
    let db = s.kh.store().connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

/// An error page: HTML with the reason, its own strict policy, no
/// redirect.
async fn explained(res: reqwest::Response, status: StatusCode, reason: &str) {
    assert_eq!(res.status(), status);
    assert!(res.headers().get(LOCATION).is_none(), "never redirected");
    assert!(
        common::header_str(&res, CONTENT_TYPE).starts_with("text/html"),
        "a page"
    );
    let policy = common::header_str(&res, CONTENT_SECURITY_POLICY);
    assert!(
        policy.starts_with("default-src 'none'; style-src 'sha256-"),
        "{policy}"
    );
    let html = res.text().await.expect("html");
    assert!(html.contains(reason), "{html}");
}

#[tokio::test]
async fn allow_and_deny_send_the_browser_to_the_client_as_the_api_would() {
    let s = common::spawn().await;
    let c = s.client(ClientType::ThirdParty).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let p = params(&c.client.id);
    let page = page_of(&p);

    let res = submit(&s, &b, FORM, &[("page", &page), ("decision", "allow")]).await;
    let policy = common::header_str(&res, CONTENT_SECURITY_POLICY);
    assert!(
        policy.starts_with("default-src 'none'; style-src 'sha256-"),
        "{policy}"
    );
    let to = forwarded_to(res).await;
    assert!(to.starts_with(REDIRECT), "{to}");
    let q = query_of(&to);
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], s.base);
    // The code is a real one: the client exchanges it, and the consent is
    // remembered (the next request needs none).
    let tokens = ok_json(exchange(&s, &c, &q["code"]).await).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    assert_eq!(count(&s, "grants").await, 1);
    let started = ok_json(s.start(&b, &p).await).await;
    assert_eq!(started["consent_required"], false, "{started}");

    // Deny: the client hears `access_denied`, at its redirect URI.
    let other = s.client(ClientType::ThirdParty).await;
    let page = page_of(&params(&other.client.id));
    let res = submit(&s, &b, FORM, &[("page", &page), ("decision", "deny")]).await;
    let q = query_of(&forwarded_to(res).await);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("code"));
}

/// docs/threat-model.md row 155: a page on another site cannot submit the
/// form with the person's cookie (a plain HTML form is the classic CSRF).
#[tokio::test]
async fn a_form_from_another_site_is_refused_and_writes_nothing() {
    let s = common::spawn().await;
    let c = s.client(ClientType::ThirdParty).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let page = page_of(&params(&c.client.id));
    let form = [("page", page.as_str()), ("decision", "allow")];
    // A sandboxed frame or a `data:` page submits with `Origin: null`, and
    // its browser says `cross-site`; a client that strips the fetch
    // metadata proves nothing with `null`.
    let stripped = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed_in = b
        .get(s.url("/api/session"))
        .send()
        .await
        .expect("session")
        .status();
    assert_eq!(signed_in, 200);
    for (site, origin) in [
        (Some("cross-site"), "https://evil.example"),
        (Some("same-site"), "https://other.localhost"),
        (Some("cross-site"), "null"),
        (None, "null"),
    ] {
        let mut req = match site {
            Some(site) => b.post(s.url(FORM)).header("sec-fetch-site", site),
            None => stripped
                .post(s.url(FORM))
                .header("cookie", session_cookie(&s, "ada@example.test").await),
        };
        req = req.header("origin", origin);
        let res = req.form(&form).send().await.expect("form");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{site:?} {origin}");
        assert!(!res.text().await.expect("body").contains("code="));
    }
    assert_eq!(count(&s, "authorization_codes").await, 0);
    assert_eq!(count(&s, "grants").await, 0);
    assert_eq!(count(&s, "token_families").await, 0);
    // The same form from the site itself goes through, as a browser sends
    // it from a page with `Referrer-Policy: no-referrer`: `Origin: null`,
    // `Sec-Fetch-Site: same-origin`.
    let res = b
        .post(s.url(FORM))
        .header("origin", "null")
        .form(&form)
        .send()
        .await
        .expect("form");
    assert!(forwarded_to(res).await.contains("code="));
    assert_eq!(count(&s, "authorization_codes").await, 1);
}

/// A long request (each parameter may be 2 KiB) fits in the form's page.
#[tokio::test]
async fn a_long_request_is_decided_too() {
    let s = common::spawn().await;
    let c = s.client(ClientType::ThirdParty).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let state = "s".repeat(2000);
    let nonce = "n".repeat(2000);
    let p = common::with(
        &params(&c.client.id),
        &[("state", &state), ("nonce", &nonce)],
    );
    let page = page_of(&p);
    assert!(page.len() > 4000);
    let res = submit(&s, &b, FORM, &[("page", &page), ("decision", "allow")]).await;
    let q = query_of(&forwarded_to(res).await);
    assert_eq!(q["state"], state);
    assert!(q.contains_key("code"));
}

/// A `Cookie` header holding a fresh session of `email`.
async fn session_cookie(s: &TestServer, email: &str) -> String {
    let res = reqwest::Client::new()
        .post(s.url("/api/session/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200);
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn without_a_session_the_browser_goes_back_to_the_page() {
    let s = common::spawn().await;
    let c = s.client(ClientType::ThirdParty).await;
    let page = page_of(&params(&c.client.id));
    // The page sends a signed-out person to sign in, with `returnTo`.
    let res = submit(
        &s,
        &browser(),
        FORM,
        &[("page", &page), ("decision", "allow")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), page);
    assert_eq!(count(&s, "authorization_codes").await, 0);
}

#[tokio::test]
async fn what_cannot_go_to_the_client_is_explained_on_a_page() {
    let s = common::spawn().await;
    let c = s.client(ClientType::ThirdParty).await;
    s.user("ada@example.test").await;
    let b = s.signed_in("ada@example.test").await;
    let page = page_of(&params(&c.client.id));

    // A page that is not a path of this site: no open redirect through
    // the form (a signed-out browser is sent back to the page), whatever
    // the request in it.
    for evil in [
        format!("//evil.example{page}"),
        format!("https://evil.example{page}"),
        format!("/\\evil.example{page}"),
    ] {
        for who in [&b, &browser()] {
            let res = submit(&s, who, FORM, &[("page", &evil), ("decision", "allow")]).await;
            explained(res, StatusCode::BAD_REQUEST, "part of this site").await;
        }
    }
    // Not the form the page sends: no decision, or another one.
    for form in [
        vec![("page", page.as_str())],
        vec![("page", page.as_str()), ("decision", "maybe")],
        vec![("decision", "allow")],
    ] {
        let res = submit(&s, &b, FORM, &form).await;
        explained(res, StatusCode::BAD_REQUEST, "what the consent page sends").await;
    }
    // An unknown client, or a redirect URI it did not register: shown,
    // never sent anywhere (the page is offered back).
    let unknown = page_of(&common::with(
        &params(&c.client.id),
        &[("client_id", "nobody")],
    ));
    let unregistered = page_of(&common::with(
        &params(&c.client.id),
        &[("redirect_uri", "https://evil.example/cb")],
    ));
    for page in [&unknown, &unregistered] {
        let res = submit(&s, &b, FORM, &[("page", page), ("decision", "allow")]).await;
        let back = format!(r#"href="{}""#, page.replace('&', "&amp;"));
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.expect("html");
        assert!(html.contains(&back), "{html}");
    }
    assert_eq!(count(&s, "authorization_codes").await, 0);
}

#[tokio::test]
async fn a_members_form_decides_for_the_member() {
    let s = common::spawn_with(|_| {}, true).await;
    s.kh.create_organization("Acme Inc", "acme")
        .await
        .expect("organization");
    s.kh.create_member(
        "acme",
        "sam@acme.test",
        PASSWORD,
        "",
        &["member".to_owned()],
    )
    .await
    .expect("member");
    let c = s.client(ClientType::ThirdParty).await;
    let b = browser();
    let res = post(
        &b,
        &s,
        "/api/b2b/session/login",
        json!({"organization_slug": "acme", "email": "sam@acme.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let p = common::with(&params(&c.client.id), &[("scope", "openid email")]);
    let page = page_of(&p).replacen("/idp", "/org/idp", 1);

    // The users' form knows no member session: back to the page.
    let res = submit(&s, &b, FORM, &[("page", &page), ("decision", "allow")]).await;
    assert_eq!(location(&res), page);

    let res = submit(
        &s,
        &b,
        "/api/b2b/idp/authorize/form",
        &[("page", &page), ("decision", "allow")],
    )
    .await;
    let q = query_of(&forwarded_to(res).await);
    let tokens = ok_json(exchange(&s, &c, &q["code"]).await).await;
    let claims = common::claims(tokens["access_token"].as_str().expect("token"));
    assert_eq!(claims["organization"]["slug"], "acme", "{claims}");
}
