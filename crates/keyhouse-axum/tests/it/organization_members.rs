//! Organizations manage their own members: invitations over real mail
//! (each test has its own aiosmtpd), deactivation, reactivation and
//! removal that end the member's access at once, the last-admin rule, and
//! the organization's own audit log (docs/threat-model.md rows 172–177 and 180).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::{Received, SmtpServer};
use common::*;
use keyhouse_axum::MailTransport;
use keyhouse_core::ClientType;
use serde_json::{Value, json};

const ADMIN: &str = "boss@acme.test";
const SAM: &str = "sam@acme.test";
const CAROL: &str = "carol@example.com";

/// `acme` with an admin and a plain member, `globex` with CAROL as a
/// member; mail over SMTP; the clock frozen.
async fn server() -> (TestServer, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let s = spawn_with(move |c| c.mail.transport = MailTransport::Smtp(url), true).await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    s.kh.create_organization("Globex", "globex").await.unwrap();
    for (org, email, role) in [
        ("acme", ADMIN, "admin"),
        ("acme", SAM, "member"),
        ("globex", CAROL, "member"),
    ] {
        s.kh.create_member(org, email, PASSWORD, "", &[role.to_owned()])
            .await
            .unwrap();
    }
    (s, smtp)
}

async fn login_to(s: &TestServer, slug: &str, email: &str, password: &str) -> reqwest::Response {
    post(
        &browser(),
        s,
        "/api/b2b/session/login",
        json!({"organization_slug": slug, "email": email, "password": password}),
    )
    .await
}

/// A browser signed in to `acme` as `email`.
async fn member(s: &TestServer, email: &str) -> reqwest::Client {
    let b = browser();
    let res = post(
        &b,
        s,
        "/api/b2b/session/login",
        json!({"organization_slug": "acme", "email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200, "{email} signs in");
    b
}

async fn member_id(s: &TestServer, email: &str) -> String {
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
        .map(|m| m.id)
        .unwrap_or_else(|| panic!("no member {email}"))
}

async fn invite(
    b: &reqwest::Client,
    s: &TestServer,
    email: &str,
    roles: &[&str],
) -> reqwest::Response {
    post(
        b,
        s,
        "/api/b2b/invitations",
        json!({"email": email, "roles": roles}),
    )
    .await
}

fn token_in(mail: &Received) -> String {
    let l = mail
        .link_containing("/org/invitation?token=")
        .unwrap_or_else(|| panic!("no invitation link in {}", mail.text));
    query_of(&l)["token"].clone()
}

async fn accept(
    b: &reqwest::Client,
    s: &TestServer,
    token: &str,
    password: &str,
) -> reqwest::Response {
    post(
        b,
        s,
        "/api/b2b/invitation/accept",
        json!({"token": token, "name": "Carol", "password": password}),
    )
    .await
}

async fn preview(s: &TestServer, token: &str) -> reqwest::Response {
    post(
        &browser(),
        s,
        "/api/b2b/invitation",
        json!({"token": token}),
    )
    .await
}

async fn members_count(s: &TestServer) -> usize {
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    s.kh.store().list_members(&org.id).await.unwrap().len()
}

async fn audit_actions(b: &reqwest::Client, s: &TestServer) -> Vec<String> {
    let page = ok_json(b.get(s.url("/api/b2b/audit")).send().await.unwrap()).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_invitation_is_mailed_and_accepted_once() {
    let (s, smtp) = server().await;
    let admin = member(&s, ADMIN).await;
    let res = invite(&admin, &s, "  Dana@Example.com ", &["member"]).await;
    let sent = ok_json(res).await;
    assert_eq!(sent["email"], "dana@example.com");
    assert_eq!(sent["expired"], false);
    assert_eq!(
        sent["expires_at"].as_i64().unwrap() - s.kh.now(),
        7 * 86_400,
        "a week by default"
    );
    let mail = smtp.wait_for("dana@example.com", 1).await;
    assert!(mail.subject.contains("Acme Inc"), "{}", mail.subject);
    assert!(
        mail.text.contains(ADMIN),
        "the inviter is named: {}",
        mail.text
    );
    let token = token_in(&mail);

    let shown = ok_json(preview(&s, &token).await).await;
    assert_eq!(shown["organization"]["slug"], "acme");
    assert_eq!(shown["email"], "dana@example.com");
    assert_eq!(shown["roles"], json!(["member"]));
    assert_eq!(shown["existing_member"], false);
    let listed = ok_json(
        admin
            .get(s.url("/api/b2b/invitations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // A password the policy refuses spends nothing.
    let dana = browser();
    let (status, _) = error_of(accept(&dana, &s, &token, "short").await).await;
    assert_eq!(status, 400);
    let before = members_count(&s).await;
    let res = accept(&dana, &s, &token, "a new and long password").await;
    let session = ok_json(res).await;
    assert_eq!(session["member"]["email"], "dana@example.com");
    assert_eq!(session["member"]["roles"], json!(["member"]));
    assert_eq!(session["organization"]["slug"], "acme");
    assert_eq!(members_count(&s).await, before + 1);
    // Signed in by the acceptance.
    let res = dana.get(s.url("/api/b2b/session")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // The link works once: a second acceptance, from anywhere, is refused
    // and writes nothing.
    for b in [&dana, &browser()] {
        let (status, error) = error_of(accept(b, &s, &token, "another long password").await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    }
    assert_eq!(members_count(&s).await, before + 1);
    let (status, _) = error_of(preview(&s, &token).await).await;
    assert_eq!(status, 400);
    let listed = ok_json(
        admin
            .get(s.url("/api/b2b/invitations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        listed,
        json!([]),
        "an accepted invitation is no longer open"
    );

    let res = login_to(&s, "acme", "dana@example.com", "a new and long password").await;
    assert_eq!(
        res.status(),
        200,
        "the new member signs in with the password"
    );
    let actions = audit_actions(&admin, &s).await;
    assert_eq!(
        actions[..2],
        [
            "organization.invitation_accepted",
            "organization.member_invited"
        ]
    );
}

#[tokio::test]
async fn two_acceptances_of_one_link_at_once_create_one_member() {
    let (s, smtp) = server().await;
    let admin = member(&s, ADMIN).await;
    ok_json(invite(&admin, &s, "dana@example.com", &["member"]).await).await;
    let token = token_in(&smtp.wait_for("dana@example.com", 1).await);
    let before = members_count(&s).await;
    let tries: Vec<_> = (0..6)
        .map(|_| {
            let (s_url, token) = (s.url("/api/b2b/invitation/accept"), token.clone());
            tokio::spawn(async move {
                browser()
                    .post(s_url)
                    .json(&json!({"token": token, "password": "a new and long password"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400]);
    assert_eq!(members_count(&s).await, before + 1);
}

#[tokio::test]
async fn a_link_sent_again_replaces_the_old_one_and_a_revoked_one_dies() {
    let (s, smtp) = server().await;
    let admin = member(&s, ADMIN).await;
    let sent = ok_json(invite(&admin, &s, "dana@example.com", &["member"]).await).await;
    let id = sent["invitation_id"].as_str().unwrap().to_owned();
    let first = token_in(&smtp.wait_for("dana@example.com", 1).await);
    s.clock.as_ref().unwrap().advance(3600);
    let again = ok_json(
        post(
            &admin,
            &s,
            &format!("/api/b2b/invitations/{id}/resend"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        again["expires_at"].as_i64().unwrap(),
        s.kh.now() + 7 * 86_400,
        "sending again starts the week anew"
    );
    let second = token_in(&smtp.wait_for("dana@example.com", 2).await);
    assert_ne!(first, second);
    let (status, error) =
        error_of(accept(&browser(), &s, &first, "a new and long password").await).await;
    assert_eq!(
        (status, error.as_str()),
        (400, "invalid_grant"),
        "the first link died"
    );
    assert_eq!(preview(&s, &second).await.status(), 200);

    let res = post(
        &admin,
        &s,
        &format!("/api/b2b/invitations/{id}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (status, _) =
        error_of(accept(&browser(), &s, &second, "a new and long password").await).await;
    assert_eq!(status, 400, "a revoked invitation's link is refused");
    let res = post(
        &admin,
        &s,
        &format!("/api/b2b/invitations/{id}/resend"),
        json!({}),
    )
    .await;
    assert_eq!(
        res.status(),
        404,
        "a revoked invitation cannot be sent again"
    );
    assert_eq!(smtp.count_to("dana@example.com"), 2);
    // A new invitation is possible once the old one is revoked.
    assert_eq!(
        invite(&admin, &s, "dana@example.com", &["member"])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_expired_link_is_refused_and_can_be_sent_again() {
    let (s, smtp) = server().await;
    let admin = member(&s, ADMIN).await;
    let sent = ok_json(invite(&admin, &s, "dana@example.com", &["member"]).await).await;
    let id = sent["invitation_id"].as_str().unwrap().to_owned();
    let token = token_in(&smtp.wait_for("dana@example.com", 1).await);
    s.clock.as_ref().unwrap().advance(7 * 86_400 - 1);
    assert_eq!(preview(&s, &token).await.status(), 200, "one second left");
    s.clock.as_ref().unwrap().advance(1);
    let before = members_count(&s).await;
    let (status, error) =
        error_of(accept(&browser(), &s, &token, "a new and long password").await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert_eq!(members_count(&s).await, before, "nothing written");
    // A week later the admin signs in again (sessions last a week too).
    let admin = member(&s, ADMIN).await;
    let listed = ok_json(
        admin
            .get(s.url("/api/b2b/invitations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed[0]["expired"], true);
    // A second invitation while the first is expired replaces it.
    let res = invite(&admin, &s, "dana@example.com", &["member"]).await;
    assert_eq!(res.status(), 200);
    let listed = ok_json(
        admin
            .get(s.url("/api/b2b/invitations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_ne!(listed[0]["invitation_id"], json!(id));
    let token = token_in(&smtp.wait_for("dana@example.com", 2).await);
    assert_eq!(
        accept(&browser(), &s, &token, "a new and long password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn only_members_allowed_invite_and_nobody_twice() {
    let (s, smtp) = server().await;
    let sam = member(&s, SAM).await;
    let (status, error) = error_of(invite(&sam, &s, "dana@example.com", &["member"]).await).await;
    assert_eq!((status, error.as_str()), (403, "access_denied"));
    let res = sam.get(s.url("/api/b2b/invitations")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = sam.get(s.url("/api/b2b/audit")).send().await.unwrap();
    assert_eq!(res.status(), 403, "the audit log is the admins'");
    let res = invite(&browser(), &s, "dana@example.com", &["member"]).await;
    assert_eq!(res.status(), 401, "no session, no invitation");

    let admin = member(&s, ADMIN).await;
    let (status, error) = error_of(invite(&admin, &s, SAM, &["member"]).await).await;
    assert_eq!(
        (status, error.as_str()),
        (409, "conflict"),
        "already a member"
    );
    let (status, _) = error_of(invite(&admin, &s, "dana@example.com", &["owner"]).await).await;
    assert_eq!(status, 400, "an unknown role");
    let (status, _) = error_of(invite(&admin, &s, "not an address", &["member"]).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        invite(&admin, &s, "dana@example.com", &["member"])
            .await
            .status(),
        200
    );
    let (status, error) = error_of(invite(&admin, &s, "DANA@example.com", &["admin"]).await).await;
    assert_eq!(
        (status, error.as_str()),
        (409, "conflict"),
        "invited already"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.count_to("dana@example.com"), 1);
    let listed = ok_json(
        admin
            .get(s.url("/api/b2b/invitations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_member_elsewhere_accepts_with_the_same_password_and_discovery_finds_both() {
    let (s, smtp) = server().await;
    let admin = member(&s, ADMIN).await;
    ok_json(invite(&admin, &s, CAROL, &["member"]).await).await;
    let token = token_in(&smtp.wait_for(CAROL, 1).await);
    let shown = ok_json(preview(&s, &token).await).await;
    assert_eq!(shown["existing_member"], true);
    ok_json(accept(&browser(), &s, &token, PASSWORD).await).await;
    let found = ok_json(
        post(
            &browser(),
            &s,
            "/api/b2b/discovery",
            json!({"email": CAROL, "password": PASSWORD}),
        )
        .await,
    )
    .await;
    let mut slugs: Vec<&str> = found["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap())
        .collect();
    slugs.sort_unstable();
    assert_eq!(slugs, ["acme", "globex"], "one password, both memberships");
}

/// An app connected by SAM: its access token, refresh token and client.
async fn connected_app(
    s: &TestServer,
    sam: &reqwest::Client,
) -> (Value, keyhouse_axum::CreatedClient) {
    let gpt = s.client(ClientType::ThirdParty).await;
    let code = member_code(s, sam, &gpt, &[("scope", "openid email offline_access")]).await;
    let tokens = ok_json(exchange(s, &gpt, &code).await).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(s, access).await.status(), 200);
    let res = bearer_get(s, "/test/org", access).await;
    assert_eq!(res.status(), 200, "the app calls the organization's API");
    (tokens, gpt)
}

async fn bearer_get(s: &TestServer, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The access token is refused on its very next call, the refresh token
/// is dead, and the member's browser is signed out.
async fn assert_cut_off(
    s: &TestServer,
    sam: &reqwest::Client,
    tokens: &Value,
    gpt: &keyhouse_axum::CreatedClient,
) {
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(bearer_get(s, "/test/org", access).await.status(), 401);
    assert_eq!(userinfo(s, access).await.status(), 401);
    assert!(!active(s, gpt, access).await);
    let (status, error) =
        error_of(refresh(s, gpt, tokens["refresh_token"].as_str().unwrap(), None).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let res = sam.get(s.url("/api/b2b/session")).send().await.unwrap();
    assert_eq!(res.status(), 401, "signed out");
    let (status, _) = error_of(login_to(s, "acme", SAM, PASSWORD).await).await;
    assert_eq!(status, 401, "no sign-in");
}

#[tokio::test]
async fn a_deactivated_member_loses_every_access_at_once_until_reactivated() {
    let (s, _smtp) = server().await;
    let sam = member(&s, SAM).await;
    let (tokens, gpt) = connected_app(&s, &sam).await;
    let admin = member(&s, ADMIN).await;
    let id = member_id(&s, SAM).await;
    let done = ok_json(
        post(
            &admin,
            &s,
            &format!("/api/b2b/members/{id}/deactivate"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(done, json!({"sessions": 1, "grants": 1}));
    assert_cut_off(&s, &sam, &tokens, &gpt).await;
    let listed = ok_json(
        admin
            .get(s.url("/api/b2b/organization"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let sam_info = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == SAM)
        .unwrap()
        .clone();
    assert_eq!(sam_info["status"], "deactivated");

    let back = ok_json(
        post(
            &admin,
            &s,
            &format!("/api/b2b/members/{id}/reactivate"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(back["status"], "active");
    assert_eq!(login_to(&s, "acme", SAM, PASSWORD).await.status(), 200);
    // The app's old tokens stay dead: it asks again.
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(bearer_get(&s, "/test/org", access).await.status(), 401);
    let actions = audit_actions(&admin, &s).await;
    assert_eq!(
        actions[..2],
        [
            "organization.member_reactivated",
            "organization.member_deactivated"
        ]
    );
}

#[tokio::test]
async fn a_removed_member_is_gone_and_can_be_invited_again() {
    let (s, smtp) = server().await;
    let sam = member(&s, SAM).await;
    let (tokens, gpt) = connected_app(&s, &sam).await;
    let admin = member(&s, ADMIN).await;
    let id = member_id(&s, SAM).await;
    let before = members_count(&s).await;
    let done = ok_json(
        post(
            &admin,
            &s,
            &format!("/api/b2b/members/{id}/remove"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(done, json!({"sessions": 1, "grants": 1}));
    assert_cut_off(&s, &sam, &tokens, &gpt).await;
    assert_eq!(members_count(&s).await, before - 1);
    let res = post(
        &admin,
        &s,
        &format!("/api/b2b/members/{id}/remove"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 404, "removed already");
    ok_json(invite(&admin, &s, SAM, &["member"]).await).await;
    let token = token_in(&smtp.wait_for(SAM, 1).await);
    ok_json(accept(&browser(), &s, &token, "a new and long password").await).await;
    assert_ne!(
        member_id(&s, SAM).await,
        id,
        "a new member, not the old one"
    );
}

#[tokio::test]
async fn the_last_admin_stays_and_members_of_other_organizations_are_out_of_reach() {
    let (s, _smtp) = server().await;
    let admin = member(&s, ADMIN).await;
    let admin_id = member_id(&s, ADMIN).await;
    for action in ["deactivate", "remove"] {
        let res = post(
            &admin,
            &s,
            &format!("/api/b2b/members/{admin_id}/{action}"),
            json!({}),
        )
        .await;
        let (status, error) = error_of(res).await;
        assert_eq!(
            (status, error.as_str()),
            (409, "conflict"),
            "{action} yourself"
        );
    }
    // A plain member cannot deactivate anyone.
    let sam = member(&s, SAM).await;
    let res = post(
        &sam,
        &s,
        &format!("/api/b2b/members/{admin_id}/deactivate"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 403);
    // A member of another organization cannot be reached by its id.
    let globex =
        s.kh.store()
            .find_organization_by_slug("globex")
            .await
            .unwrap()
            .unwrap();
    let carol =
        s.kh.store()
            .find_member_by_email(&globex.id, CAROL)
            .await
            .unwrap()
            .unwrap();
    for action in ["deactivate", "remove", "reactivate"] {
        let res = post(
            &admin,
            &s,
            &format!("/api/b2b/members/{}/{action}", carol.id),
            json!({}),
        )
        .await;
        assert_eq!(res.status(), 404, "{action} across organizations");
    }
    assert!(
        s.kh.store()
            .find_member(&carol.id)
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
}

/// Two admins removing each other at the same moment: the organization
/// keeps one (the store takes a lock on the organization's row first).
#[tokio::test]
async fn two_admins_removing_each_other_at_once_leave_one() {
    let (s, _smtp) = server().await;
    s.kh.create_member(
        "acme",
        "second@acme.test",
        PASSWORD,
        "",
        &["admin".to_owned()],
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let a = member(&s, ADMIN).await;
        let b = member(&s, "second@acme.test").await;
        let (a_id, b_id) = (
            member_id(&s, ADMIN).await,
            member_id(&s, "second@acme.test").await,
        );
        let (pa, pb) = (
            format!("/api/b2b/members/{b_id}/deactivate"),
            format!("/api/b2b/members/{a_id}/deactivate"),
        );
        let (ra, rb) = tokio::join!(post(&a, &s, &pa, json!({})), post(&b, &s, &pb, json!({})),);
        let ok = [ra.status(), rb.status()]
            .iter()
            .filter(|st| **st == 200)
            .count();
        assert_eq!(
            ok,
            1,
            "exactly one deactivation: {} {}",
            ra.status(),
            rb.status()
        );
        let org =
            s.kh.store()
                .find_organization_by_slug("acme")
                .await
                .unwrap()
                .unwrap();
        let active_admins =
            s.kh.store()
                .list_members(&org.id)
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.is_active() && m.roles.iter().any(|r| r == "admin"))
                .count();
        assert_eq!(active_admins, 1);
        // Back to two admins for the next round.
        for id in [a_id, b_id] {
            let store = s.kh.store();
            let _ = store
                .change_standing(
                    &org.id,
                    &id,
                    keyhouse_store::Standing::Reactivate,
                    "admin",
                    s.kh.now(),
                )
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one() {
    let (s, _smtp) = server().await;
    s.kh.create_member(
        "acme",
        "second@acme.test",
        PASSWORD,
        "",
        &["admin".to_owned()],
    )
    .await
    .unwrap();
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    let (a_id, b_id) = (
        member_id(&s, ADMIN).await,
        member_id(&s, "second@acme.test").await,
    );
    for _ in 0..5 {
        let a = member(&s, ADMIN).await;
        let b = member(&s, "second@acme.test").await;
        let (pa, pb) = (
            format!("/api/b2b/members/{b_id}/roles"),
            format!("/api/b2b/members/{a_id}/roles"),
        );
        let demote = json!({"roles": ["member"]});
        let (ra, rb) = tokio::join!(
            a.put(s.url(&pa)).json(&demote).send(),
            b.put(s.url(&pb)).json(&demote).send(),
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let ok = [ra.status(), rb.status()]
            .iter()
            .filter(|st| **st == 200)
            .count();
        assert_eq!(
            ok,
            1,
            "exactly one demotion: {} {}",
            ra.status(),
            rb.status()
        );
        let admins =
            s.kh.store()
                .list_members(&org.id)
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.is_active() && m.roles.iter().any(|r| r == "admin"))
                .count();
        assert_eq!(admins, 1, "the organization keeps an admin");
        // Both admins again for the next round.
        for id in [&a_id, &b_id] {
            s.kh.store()
                .set_member_roles(id, &["admin".to_owned()], s.kh.now())
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn an_organizations_audit_log_holds_its_own_events_only() {
    let (s, smtp) = server().await;
    let admin = member(&s, ADMIN).await;
    ok_json(invite(&admin, &s, "dana@example.com", &["member"]).await).await;
    smtp.wait_for("dana@example.com", 1).await;
    s.kh.create_member(
        "globex",
        "gadmin@globex.test",
        PASSWORD,
        "",
        &["admin".to_owned()],
    )
    .await
    .unwrap();
    let g = browser();
    let res = post(
        &g,
        &s,
        "/api/b2b/session/login",
        json!({"organization_slug": "globex", "email": "gadmin@globex.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        audit_actions(&g, &s).await,
        Vec::<String>::new(),
        "globex sees none of acme's"
    );
    let page = ok_json(
        admin
            .get(s.url("/api/b2b/audit?limit=1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let event = &page["items"][0];
    assert_eq!(event["action"], "organization.member_invited");
    assert_eq!(
        event["actor"],
        format!("member:{}", member_id(&s, ADMIN).await)
    );
    assert_eq!(event["details"]["email"], "dana@example.com");
    assert!(page["next_cursor"].is_null());
}

/// A role allowed to invite cannot invite (or promote) above itself.
#[tokio::test]
async fn nobody_gives_a_role_above_their_own() {
    let (s, _smtp) = server().await;
    s.kh.put_role(&keyhouse_types::b2b::RoleInfo {
        role_id: "manager".into(),
        description: "Invites and manages members".into(),
        permissions: vec![keyhouse_core::rbac::permission("members", &["*"])],
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
    let mia = member(&s, "mia@acme.test").await;
    let (status, error) = error_of(invite(&mia, &s, "dana@example.com", &["admin"]).await).await;
    assert_eq!((status, error.as_str()), (403, "access_denied"));
    assert_eq!(
        invite(&mia, &s, "dana@example.com", &["member"])
            .await
            .status(),
        200
    );
    let sam = member_id(&s, SAM).await;
    let res = mia
        .put(s.url(&format!("/api/b2b/members/{sam}/roles")))
        .json(&json!({"roles": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await, (403, "access_denied".to_owned()));
    let mine = member_id(&s, "mia@acme.test").await;
    let res = mia
        .put(s.url(&format!("/api/b2b/members/{mine}/roles")))
        .json(&json!({"roles": ["admin", "manager"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(res).await,
        (403, "access_denied".to_owned()),
        "nor themselves"
    );
    let res = mia
        .put(s.url(&format!("/api/b2b/members/{sam}/roles")))
        .json(&json!({"roles": ["manager"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a role within their own");
}

#[tokio::test]
async fn an_admin_renames_the_organization_and_the_old_slug_fails_clearly() {
    let (s, _smtp) = server().await;
    let admin = member(&s, ADMIN).await;
    let sam = member(&s, SAM).await;
    let res = sam
        .put(s.url("/api/b2b/organization/profile"))
        .json(&json!({"name": "Sam's", "slug": "sams"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a plain member cannot");
    let put = |body: Value| {
        admin
            .put(s.url("/api/b2b/organization/profile"))
            .json(&body)
            .send()
    };
    let (status, error) = error_of(
        put(json!({"name": "Acme", "slug": "globex"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error.as_str()),
        (409, "conflict"),
        "another organization's slug"
    );
    for bad in [
        json!({"name": "", "slug": "acme-2"}),
        json!({"name": "Acme", "slug": "-acme"}),
        json!({"name": "Acme", "slug": "A"}),
    ] {
        assert_eq!(put(bad.clone()).await.unwrap().status(), 400, "{bad}");
    }
    let renamed = ok_json(
        put(json!({"name": " Acme Corporation ", "slug": "acme-corp"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(renamed["name"], "Acme Corporation");
    assert_eq!(renamed["slug"], "acme-corp");
    let (status, _) = error_of(login_to(&s, "acme", SAM, PASSWORD).await).await;
    assert_eq!(status, 401, "the old slug names no organization");
    assert_eq!(login_to(&s, "acme-corp", SAM, PASSWORD).await.status(), 200);
    // Sessions go on, under the new name.
    let session = ok_json(sam.get(s.url("/api/b2b/session")).send().await.unwrap()).await;
    assert_eq!(session["organization"]["slug"], "acme-corp");
    assert_eq!(audit_actions(&admin, &s).await[0], "organization.renamed");
}

#[tokio::test]
async fn deleting_an_organization_takes_everything_and_asks_for_its_slug() {
    let (s, smtp) = server().await;
    let sam = member(&s, SAM).await;
    let (tokens, gpt) = connected_app(&s, &sam).await;
    let admin = member(&s, ADMIN).await;
    ok_json(invite(&admin, &s, "dana@example.com", &["member"]).await).await;
    let token = token_in(&smtp.wait_for("dana@example.com", 1).await);
    let (status, _) = error_of(
        post(
            &sam,
            &s,
            "/api/b2b/organization/delete",
            json!({"confirm_slug": "acme"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "a plain member cannot");
    let (status, _) = error_of(
        post(
            &admin,
            &s,
            "/api/b2b/organization/delete",
            json!({"confirm_slug": "Acme"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "the slug exactly");
    assert!(
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .is_some()
    );
    let done = ok_json(
        post(
            &admin,
            &s,
            "/api/b2b/organization/delete",
            json!({"confirm_slug": "acme"}),
        )
        .await,
    )
    .await;
    assert_eq!(done, json!({"members": 2, "sessions": 2, "grants": 1}));
    assert!(
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .is_none()
    );
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(bearer_get(&s, "/test/org", access).await.status(), 401);
    assert_eq!(userinfo(&s, access).await.status(), 401);
    assert!(!active(&s, &gpt, access).await);
    let (status, error) =
        error_of(refresh(&s, &gpt, tokens["refresh_token"].as_str().unwrap(), None).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    for b in [&sam, &admin] {
        assert_eq!(
            b.get(s.url("/api/b2b/session"))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    let (status, _) = error_of(preview(&s, &token).await).await;
    assert_eq!(status, 400, "its invitations died with it");
    // Another organization is untouched, and the slug is free again.
    assert_eq!(login_to(&s, "globex", CAROL, PASSWORD).await.status(), 200);
    s.kh.create_organization("Acme again", "acme")
        .await
        .unwrap();
    // The log keeps the deletion.
    let log = s.kh.store().list_audit(5, None, None).await.unwrap();
    assert_eq!(log[0].action, "organization.deleted");
}

/// CAROL joins acme too (invited, accepting with the same password), signed
/// in to globex: the browser that signed in.
async fn carol_in_both(s: &TestServer, smtp: &SmtpServer, password: &str) -> reqwest::Client {
    let admin = member(s, ADMIN).await;
    ok_json(invite(&admin, s, CAROL, &["member"]).await).await;
    let token = token_in(&smtp.wait_for(CAROL, 1).await);
    ok_json(accept(&browser(), s, &token, password).await).await;
    let b = browser();
    let res = post(
        &b,
        s,
        "/api/b2b/session/login",
        json!({"organization_slug": "globex", "email": CAROL, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    b
}

async fn switch_to(b: &reqwest::Client, s: &TestServer, slug: &str) -> reqwest::Response {
    post(
        b,
        s,
        "/api/b2b/session/switch",
        json!({"organization_slug": slug}),
    )
    .await
}

#[tokio::test]
async fn a_shared_password_switches_organizations_without_signing_in_again() {
    let (s, smtp) = server().await;
    let b = carol_in_both(&s, &smtp, PASSWORD).await;
    let before = ok_json(b.get(s.url("/api/b2b/session")).send().await.unwrap()).await;
    let offered = ok_json(
        b.get(s.url("/api/b2b/session/organizations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(offered.as_array().unwrap().len(), 1);
    assert_eq!(offered[0]["slug"], "acme");
    s.clock.as_ref().unwrap().advance(60);
    let now = ok_json(switch_to(&b, &s, "acme").await).await;
    assert_eq!(now["organization"]["slug"], "acme");
    assert_eq!(now["amr"], json!(["pwd"]));
    assert_eq!(
        now["authenticated_at"], before["authenticated_at"],
        "the sign-in's time, not the switch's"
    );
    // The globex session was replaced; the browser is in acme now.
    let current = ok_json(b.get(s.url("/api/b2b/session")).send().await.unwrap()).await;
    assert_eq!(current["organization"]["slug"], "acme");
    // Back again.
    assert_eq!(switch_to(&b, &s, "globex").await.status(), 200);
}

#[tokio::test]
async fn a_password_of_its_own_or_a_deactivated_membership_is_not_switched_to() {
    let (s, smtp) = server().await;
    let b = carol_in_both(&s, &smtp, "another long password").await;
    let offered = ok_json(
        b.get(s.url("/api/b2b/session/organizations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        offered,
        json!([]),
        "acme's membership has a password of its own"
    );
    let (status, error) = error_of(switch_to(&b, &s, "acme").await).await;
    assert_eq!((status, error.as_str()), (403, "access_denied"));
    let current = ok_json(b.get(s.url("/api/b2b/session")).send().await.unwrap()).await;
    assert_eq!(
        current["organization"]["slug"], "globex",
        "still where it was"
    );
    let (status, _) = error_of(switch_to(&b, &s, "nowhere").await).await;
    assert_eq!(status, 403);
    // A shared credential, but the membership deactivated: refused.
    let (s, smtp) = server().await;
    let b = carol_in_both(&s, &smtp, PASSWORD).await;
    let admin = member(&s, ADMIN).await;
    let carol_in_acme = member_id(&s, CAROL).await;
    let res = post(
        &admin,
        &s,
        &format!("/api/b2b/members/{carol_in_acme}/deactivate"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (status, _) = error_of(switch_to(&b, &s, "acme").await).await;
    assert_eq!(status, 403);
}

/// Switching into an organization that asks for two-step verification
/// carries the password only: the member is asked for the second step.
#[tokio::test]
async fn switching_into_an_organization_that_asks_for_two_steps_asks_for_them() {
    let (s, smtp) = server().await;
    let b = carol_in_both(&s, &smtp, PASSWORD).await;
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    s.kh.require_sign_in(
        &org.id,
        keyhouse_types::b2b::RequiredSignIn::TwoFactors,
        "cli",
    )
    .await
    .unwrap();
    let now = ok_json(switch_to(&b, &s, "acme").await).await;
    assert_eq!(now["amr"], json!(["pwd"]));
    assert_eq!(now["required_sign_in"], "two_factors");
    let res = b.get(s.url("/api/b2b/invitations")).send().await.unwrap();
    let (status, error) = error_of(res).await;
    assert_eq!(
        (status, error.as_str()),
        (403, "second_factor_setup_required"),
        "the organization's gate, as at any sign-in"
    );
}
