//! Joining an organization by the address's verified domain, after proving
//! the address by mail (real mail: each test has its own aiosmtpd), and
//! every way it must not happen (docs/threat-model.md rows 178–179).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::SmtpServer;
use common::*;
use keyhouse_axum::MailTransport;
use serde_json::{Value, json};

const ADMIN: &str = "boss@acme.test";

/// `acme` with an admin, `acme.test` verified by an operator and joining
/// on with the role `member`; `globex` with its own admin.
async fn server() -> (TestServer, SmtpServer, reqwest::Client) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(move |c| c.mail.transport = MailTransport::Smtp(url), true).await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    s.kh.create_organization("Globex", "globex").await.unwrap();
    s.kh.create_member("acme", ADMIN, PASSWORD, "", &["admin".to_owned()])
        .await
        .unwrap();
    s.kh.create_member(
        "globex",
        "boss@globex.test",
        PASSWORD,
        "",
        &["admin".to_owned()],
    )
    .await
    .unwrap();
    s.kh.verify_organization_domain("acme", "ACME.test", "cli")
        .await
        .unwrap();
    let admin = signed_in_to(&s, "acme", ADMIN).await;
    let res = admin
        .put(s.url("/api/b2b/organization/jit"))
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    let settings = ok_json(res).await;
    assert_eq!(
        settings,
        json!({"domains": [{"domain": "acme.test", "verified": true}], "jit_role": "member"})
    );
    (s, smtp, admin)
}

/// Asks for a member sign-in code for `email` in browser `b`; the number of
/// messages to `email` afterwards (waiting a moment for one to arrive).
async fn ask(b: &reqwest::Client, s: &TestServer, smtp: &SmtpServer, email: &str) -> usize {
    let res = post(b, s, "/api/b2b/discovery/email", json!({"email": email})).await;
    assert_eq!(res.status(), 202, "answered alike whatever happens");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    smtp.count_to(email)
}

/// Asks, types the mailed code: the discovery answer.
async fn proven(
    b: &reqwest::Client,
    s: &TestServer,
    smtp: &SmtpServer,
    email: &str,
    n: usize,
) -> Value {
    post(b, s, "/api/b2b/discovery/email", json!({"email": email})).await;
    let code = smtp
        .wait_for(&email.to_lowercase(), n)
        .await
        .code()
        .unwrap();
    ok_json(
        post(
            b,
            s,
            "/api/b2b/discovery/email/code",
            json!({"email": email, "code": code}),
        )
        .await,
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

async fn member_count(s: &TestServer, slug: &str) -> usize {
    let org =
        s.kh.store()
            .find_organization_by_slug(slug)
            .await
            .unwrap()
            .unwrap();
    s.kh.store().list_members(&org.id).await.unwrap().len()
}

#[tokio::test]
async fn a_proven_address_at_a_verified_domain_joins_with_the_role() {
    let (s, smtp, admin) = server().await;
    let b = browser();
    let found = proven(&b, &s, &smtp, "New.Person@Acme.test", 1).await;
    let mail = smtp.wait_for("new.person@acme.test", 1).await;
    assert!(mail.subject.contains("Acme Inc"), "{}", mail.subject);
    assert_eq!(found["joinable"], json!(["acme"]));
    assert_eq!(found["organizations"][0]["slug"], "acme");
    let before = member_count(&s, "acme").await;
    let me = ok_json(select(&b, &s, &found, "acme").await).await;
    assert_eq!(me["member"]["email"], "new.person@acme.test");
    assert_eq!(me["member"]["roles"], json!(["member"]));
    assert_eq!(me["amr"], json!(["email"]));
    assert_eq!(member_count(&s, "acme").await, before + 1);
    // Next time it signs in, it does not join again.
    let again = proven(&browser(), &s, &smtp, "new.person@acme.test", 2).await;
    assert_eq!(again["joinable"], json!(null), "{again}");
    assert_eq!(again["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(member_count(&s, "acme").await, before + 1);
    let log = ok_json(admin.get(s.url("/api/b2b/audit")).send().await.unwrap()).await;
    assert_eq!(
        log["items"][0]["action"],
        "organization.member_joined_by_domain"
    );
}

#[tokio::test]
async fn no_join_without_a_mailed_proof_a_verified_domain_and_a_join_role() {
    let (s, smtp, admin) = server().await;
    // A password proves no address: discovery knows nobody.
    let res = post(
        &browser(),
        &s,
        "/api/b2b/discovery",
        json!({"email": "someone@acme.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 401);
    // An unverified claim lets nobody join.
    let res = post(
        &admin,
        &s,
        "/api/b2b/organization/domains",
        json!({"domain": "acme-labs.test"}),
    )
    .await;
    let settings = ok_json(res).await;
    assert_eq!(
        settings["domains"],
        json!([{"domain": "acme-labs.test", "verified": false}, {"domain": "acme.test", "verified": true}])
    );
    assert_eq!(
        ask(&browser(), &s, &smtp, "x@acme-labs.test").await,
        0,
        "nothing mailed"
    );
    // Another organization cannot claim a domain that is claimed.
    let globex = signed_in_to(&s, "globex", "boss@globex.test").await;
    let (status, error) = error_of(
        post(
            &globex,
            &s,
            "/api/b2b/organization/domains",
            json!({"domain": "acme.test"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (409, "conflict"));
    let verified =
        s.kh.verify_organization_domain("globex", "acme-labs.test", "cli")
            .await;
    assert!(
        verified.is_err(),
        "an operator cannot verify another's claim for globex"
    );
    // With joining off, nobody is offered to join (and nothing mailed).
    let res = admin
        .put(s.url("/api/b2b/organization/jit"))
        .json(&json!({"role": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(ask(&browser(), &s, &smtp, "y@acme.test").await, 0);
    // A plain member cannot change it.
    s.kh.create_member(
        "acme",
        "sam@acme.test",
        PASSWORD,
        "",
        &["member".to_owned()],
    )
    .await
    .unwrap();
    let sam = signed_in_to(&s, "acme", "sam@acme.test").await;
    let res = sam
        .put(s.url("/api/b2b/organization/jit"))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_deactivated_member_does_not_come_back_by_the_domain() {
    let (s, smtp, admin) = server().await;
    s.kh.create_member(
        "acme",
        "gone@acme.test",
        PASSWORD,
        "",
        &["member".to_owned()],
    )
    .await
    .unwrap();
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    let gone =
        s.kh.store()
            .find_member_by_email(&org.id, "gone@acme.test")
            .await
            .unwrap()
            .unwrap();
    let res = post(
        &admin,
        &s,
        &format!("/api/b2b/members/{}/deactivate", gone.id),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        ask(&browser(), &s, &smtp, "gone@acme.test").await,
        0,
        "no membership, no join"
    );
}

/// The organization stops letting its domain join between the offer and
/// the choice: the choice is refused, and nobody joins.
#[tokio::test]
async fn joining_turned_off_after_the_offer_refuses_the_choice() {
    let (s, smtp, admin) = server().await;
    let b = browser();
    let found = proven(&b, &s, &smtp, "late@acme.test", 1).await;
    assert_eq!(found["joinable"], json!(["acme"]));
    let res = admin
        .put(s.url("/api/b2b/organization/jit"))
        .json(&json!({"role": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let before = member_count(&s, "acme").await;
    let (status, error) = error_of(select(&b, &s, &found, "acme").await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_credentials"));
    assert_eq!(member_count(&s, "acme").await, before);
    // Nor by a domain claim removed after the offer.
    let res = admin
        .put(s.url("/api/b2b/organization/jit"))
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let found = proven(&browser(), &s, &smtp, "later@acme.test", 1).await;
    let res = post(
        &admin,
        &s,
        "/api/b2b/organization/domains/acme.test/remove",
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (status, _) = error_of(select(&browser(), &s, &found, "acme").await).await;
    assert_eq!(status, 401);
}

/// The admin can only make people join with a role within their own.
#[tokio::test]
async fn the_join_role_is_a_known_role_within_the_admins_own() {
    let (s, _smtp, admin) = server().await;
    let res = admin
        .put(s.url("/api/b2b/organization/jit"))
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    s.kh.put_role(&keyhouse_types::b2b::RoleInfo {
        role_id: "manager".into(),
        description: String::new(),
        permissions: vec![keyhouse_core::rbac::permission("organization", &["*"])],
    })
    .await
    .unwrap();
    s.kh.create_member(
        "acme",
        "mia@acme.test",
        PASSWORD,
        "",
        &["manager".to_owned()],
    )
    .await
    .unwrap();
    let mia = signed_in_to(&s, "acme", "mia@acme.test").await;
    let res = mia
        .put(s.url("/api/b2b/organization/jit"))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
