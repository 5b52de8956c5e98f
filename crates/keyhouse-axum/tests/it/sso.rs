//! Single sign-on through an organization's own OpenID Provider
//! (docs/threat-model.md rows 181–184). The provider is a second, real
//! Keyhouse, served over TLS on 127.0.0.1 under the name `idp.acme.test`
//! (a test CA, and a resolver that maps the name to loopback); the relying
//! party is the server under test, speaking to it through the
//! `openidconnect` crate. Each refusal is produced by the real provider:
//! the browser alters the `nonce` it is sent with, a second instance of
//! the provider with another issuer answers the token request, the relying
//! party's clock moves past the ID token's life, the provider's user has
//! an unverified address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common;

use common::tls::{TestLookup, TlsServer};
use common::*;
use keyhouse_axum::config::LookupOverride;
use keyhouse_axum::{ClientSpec, Config, Keyhouse, MasterKey};
use keyhouse_core::ClientType;
use keyhouse_core::clock::FixedClock;
use keyhouse_store::Store;
use keyhouse_types::b2b::ScopeInfo;
use serde_json::{Value, json};

const IDP_HOST: &str = "idp.acme.test";
const ADMIN: &str = "boss@acme.test";
const ADA: &str = "ada@acme.test";
const T0: i64 = 1_800_000_000;

/// The company's identity provider: a Keyhouse of its own, over TLS.
struct Provider {
    kh: Keyhouse,
    issuer: String,
    port: u16,
    ca_pem: String,
    /// When set, token requests go to a second instance of the provider
    /// (same database and keys) whose issuer is another name.
    mix_up: Arc<AtomicBool>,
    dir: Option<std::path::PathBuf>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Provider {
    async fn start() -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("https://{IDP_HOST}:{port}");
        let (url, dir) = fresh_database().await;
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let master = MasterKey::from_bytes(rand::random());
        let clock = FixedClock::new(T0);
        let kh = Keyhouse::with_clock(
            Config::for_issuer(&issuer),
            store.clone(),
            master.clone(),
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        let other = Keyhouse::with_clock(
            Config::for_issuer(&format!("https://other.acme.test:{port}")),
            store,
            master,
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        let mix_up = Arc::new(AtomicBool::new(false));
        let (main_app, other_app) = (
            axum::Router::new().merge(kh.router()),
            axum::Router::new().merge(other.router()),
        );
        let flag = mix_up.clone();
        let front = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let app = if flag.load(Ordering::SeqCst) && req.uri().path() == "/oauth2/token" {
                other_app.clone()
            } else {
                main_app.clone()
            };
            async move {
                use tower::ServiceExt;
                app.oneshot(req).await.unwrap()
            }
        });
        let tls = TlsServer::serve(listener, &[IDP_HOST], front);
        Provider {
            kh,
            issuer,
            port,
            ca_pem: tls.ca_pem,
            mix_up,
            dir,
        }
    }

    /// A browser that reaches the provider by its name.
    fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .default_headers(reqwest::header::HeaderMap::from_iter([(
                reqwest::header::HeaderName::from_static("sec-fetch-site"),
                reqwest::header::HeaderValue::from_static("same-origin"),
            )]))
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .resolve(IDP_HOST, ([127, 0, 0, 1], self.port).into())
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    }

    /// A user of the provider, signed in there; `verified` marks the
    /// address verified.
    async fn signed_in(&self, email: &str, verified: bool) -> reqwest::Client {
        let user = self
            .kh
            .create_user(email, PASSWORD, "Ada Lovelace")
            .await
            .unwrap();
        if verified {
            use keyhouse_store::entities::user;
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
            user::Entity::update_many()
                .col_expr(user::Column::EmailVerified, Expr::value(true))
                .filter(user::Column::Id.eq(user.id))
                .exec(self.kh.store().connection())
                .await
                .unwrap();
        }
        let b = self.browser();
        let res = b
            .post(format!("{}/api/session/login", self.issuer))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "signed in at the provider");
        b
    }

    /// The provider's client for the relying party `rp`, with `template`
    /// as its claims template (the groups).
    async fn client_for(&self, rp: &TestServer, template: Option<&str>) -> (String, String) {
        let mut spec = ClientSpec::new(
            "Keyhouse SSO",
            ClientType::FirstParty,
            vec![callback_of(rp, "acme").await],
        );
        spec.claims_template = template.map(str::to_owned);
        let c = self.kh.create_client(spec).await.unwrap();
        (c.client.id, c.client_secret.unwrap())
    }
}

/// The relying party: `acme` with an admin, and the resolver and CA that
/// let it reach the provider on loopback.
async fn relying_party(p: &Provider) -> TestServer {
    let ca = p.ca_pem.clone();
    let s = spawn_with(
        move |c: &mut Config| {
            c.agents.insecure_allow_loopback_metadata_for_tests = true;
            c.agents.test_ca_pem = Some(ca);
            c.agents.test_lookup =
                LookupOverride(Some(TestLookup::with(&[(IDP_HOST, &["127.0.0.1"])])));
        },
        true,
    )
    .await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    s.kh.create_member("acme", ADMIN, PASSWORD, "", &["admin".to_owned()])
        .await
        .unwrap();
    s
}

/// The admin sets the connection to `p` with `client`; the settings.
async fn connect(
    s: &TestServer,
    admin: &reqwest::Client,
    p: &Provider,
    client: &(String, String),
    extra: Value,
) -> Value {
    let mut body = json!({
        "issuer": p.issuer,
        "client_id": client.0,
        "client_secret": client.1,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = admin
        .put(s.url("/api/b2b/organization/sso"))
        .json(&body)
        .send()
        .await
        .unwrap();
    ok_json(res).await
}

/// The redirect URI of organization `slug` at the relying party.
async fn callback_of(s: &TestServer, slug: &str) -> String {
    let org =
        s.kh.store()
            .find_organization_by_slug(slug)
            .await
            .unwrap()
            .unwrap();
    s.url(&format!("/api/b2b/sso/callback/{}", org.id))
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

/// What the browser does: starts at the relying party, signs in (already
/// signed in) at the provider, which sends it back with a code; `tamper`
/// may change the authorization request first. The callback URL.
async fn callback_url(
    s: &TestServer,
    rp_browser: &reqwest::Client,
    p: &Provider,
    idp_browser: &reqwest::Client,
    start_query: &str,
    tamper: impl FnOnce(&mut BTreeMap<String, String>),
) -> String {
    let res = rp_browser
        .get(s.url(&format!("/api/b2b/sso/start?{start_query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(to.starts_with(&format!("{}/idp?", p.issuer)), "{to}");
    let mut params = query_of(&to);
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(params.contains_key("nonce") && params.contains_key("state"));
    tamper(&mut params);
    let mut body: BTreeMap<String, Value> = params
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    body.insert("consent_granted".into(), Value::Bool(true));
    let res = idp_browser
        .post(format!("{}/api/idp/authorize", p.issuer))
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    let back = v["redirect_uri"]
        .as_str()
        .unwrap_or_else(|| panic!("the provider sends it back: {v}"));
    assert!(
        back.starts_with(&s.url("/api/b2b/sso/callback/org-")),
        "{back}"
    );
    back.to_owned()
}

/// [`callback_url`], then the browser follows it: the callback's answer.
async fn sign_in_through(
    s: &TestServer,
    rp_browser: &reqwest::Client,
    p: &Provider,
    idp_browser: &reqwest::Client,
    start_query: &str,
    tamper: impl FnOnce(&mut BTreeMap<String, String>),
) -> reqwest::Response {
    let back = callback_url(s, rp_browser, p, idp_browser, start_query, tamper).await;
    rp_browser.get(back).send().await.unwrap()
}

async fn session_of(b: &reqwest::Client, s: &TestServer) -> (u16, Value) {
    let res = b.get(s.url("/api/b2b/session")).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A provider, the relying party with its admin signed in, and a client
/// at the provider (groups from `template`) set as `acme`'s connection with
/// `extra` settings.
async fn setup(template: Option<&str>, extra: Value) -> (Provider, TestServer, reqwest::Client) {
    let p = Provider::start().await;
    let s = relying_party(&p).await;
    let admin = signed_in_to(&s, "acme", ADMIN).await;
    let client = p.client_for(&s, template).await;
    let settings = connect(&s, &admin, &p, &client, extra).await;
    assert_eq!(settings["connection"]["issuer"], p.issuer);
    assert_eq!(settings["required"], false);
    assert_eq!(settings["redirect_uri"], callback_of(&s, "acme").await);
    assert!(
        settings["connection"].get("client_secret").is_none(),
        "the secret is never shown"
    );
    (p, s, admin)
}

#[tokio::test]
async fn a_member_signs_in_through_the_provider_and_is_tied_to_its_subject() {
    let (p, s, _admin) = setup(None, json!({})).await;
    s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    let idp = p.signed_in(ADA, true).await;
    let b = browser();
    let back = callback_url(
        &s,
        &b,
        &p,
        &idp,
        "organization=acme&returnTo=/org/notes",
        |_| {},
    )
    .await;
    let res = b.get(&back).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/org/notes", "back where the sign-in began");
    let (status, me) = session_of(&b, &s).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["member"]["email"], ADA);
    assert_eq!(me["amr"], json!(["fed"]));

    // The same callback again (a replayed state) signs nobody in.
    let again = browser();
    let res = again.get(&back).send().await.unwrap();
    assert_eq!(location(&res), "/org/login?sso_error=expired");
    assert_eq!(session_of(&again, &s).await.0, 401);

    // The provider's subject is now tied to the member.
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    let ada =
        s.kh.store()
            .find_member_by_email(&org.id, ADA)
            .await
            .unwrap()
            .unwrap();
    let user = p.kh.store().find_user_by_email(ADA).await.unwrap().unwrap();
    assert_eq!(
        s.kh.store()
            .sso_linked_member(&org.id, &p.issuer, &user.id)
            .await
            .unwrap(),
        Some(ada.id)
    );
}

#[tokio::test]
async fn a_callback_is_used_once_and_only_in_the_browser_that_started_it() {
    let (p, s, _admin) = setup(None, json!({})).await;
    s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    let idp = p.signed_in(ADA, true).await;
    // The attacker starts a sign-in and has the victim's browser finish it
    // (login CSRF): the victim's browser lacks the binding cookie.
    let attacker = browser();
    let res = attacker
        .get(s.url("/api/b2b/sso/start?organization=acme"))
        .send()
        .await
        .unwrap();
    let mut body: BTreeMap<String, Value> = query_of(&location(&res))
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    body.insert("consent_granted".into(), Value::Bool(true));
    let v: Value = idp
        .post(format!("{}/api/idp/authorize", p.issuer))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let callback = v["redirect_uri"].as_str().unwrap().to_owned();
    let victim = browser();
    let res = victim.get(&callback).send().await.unwrap();
    assert_eq!(
        location(&res),
        "/org/login?sso_error=expired&organization=acme"
    );
    assert_eq!(session_of(&victim, &s).await.0, 401, "nobody signed in");
    // The state was spent by that attempt: the attacker's own browser
    // cannot use it either.
    let res = attacker.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), "/org/login?sso_error=expired");
    assert_eq!(session_of(&attacker, &s).await.0, 401);
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    let (p, s, _admin) = setup(None, json!({})).await;
    s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    let idp = p.signed_in(ADA, true).await;
    let b = browser();
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |q| {
        q.insert("nonce".into(), "a-nonce-of-another-sign-in".into());
    })
    .await;
    assert_eq!(
        location(&res),
        "/org/login?sso_error=invalid_token&organization=acme"
    );
    assert_eq!(session_of(&b, &s).await.0, 401);
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    let (p, s, _admin) = setup(None, json!({})).await;
    s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    let idp = p.signed_in(ADA, true).await;
    // The token endpoint answers with an ID token signed by the same keys
    // but issued by `https://other.acme.test`.
    p.mix_up.store(true, Ordering::SeqCst);
    let b = browser();
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert_eq!(
        location(&res),
        "/org/login?sso_error=invalid_token&organization=acme"
    );
    assert_eq!(session_of(&b, &s).await.0, 401);
    // The same flow with the right issuer works: the refusal was the `iss`.
    p.mix_up.store(false, Ordering::SeqCst);
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert!(!location(&res).contains("sso_error"), "{}", location(&res));
    assert_eq!(session_of(&b, &s).await.0, 200);
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let (p, s, _admin) = setup(None, json!({})).await;
    s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    let idp = p.signed_in(ADA, true).await;
    // The relying party's clock is 61 minutes past the provider's: the
    // ID token (an hour's life) is already expired when it arrives.
    s.clock.as_ref().unwrap().advance(3_660);
    let b = browser();
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert_eq!(
        location(&res),
        "/org/login?sso_error=invalid_token&organization=acme"
    );
    assert_eq!(session_of(&b, &s).await.0, 401);
    // Two minutes short of the hour, the same provider's token is good.
    let s2 = relying_party(&p).await;
    let admin = signed_in_to(&s2, "acme", ADMIN).await;
    let client = p.client_for(&s2, None).await;
    connect(&s2, &admin, &p, &client, json!({})).await;
    s2.kh
        .create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    s2.clock.as_ref().unwrap().advance(3_480);
    let b = browser();
    let res = sign_in_through(&s2, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert!(!location(&res).contains("sso_error"), "{}", location(&res));
}

#[tokio::test]
async fn an_unverified_address_matches_nobody_and_provisions_nobody() {
    let (p, s, _admin) = setup(None, json!({"provision_role": "member"})).await;
    s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    // Somebody registers the member's address at the provider without
    // proving it.
    let idp = p.signed_in(ADA, false).await;
    let b = browser();
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert_eq!(
        location(&res),
        "/org/login?sso_error=email_not_verified&organization=acme"
    );
    assert_eq!(session_of(&b, &s).await.0, 401);
    let org =
        s.kh.store()
            .find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        s.kh.store().list_members(&org.id).await.unwrap().len(),
        2,
        "nobody added"
    );
}

#[tokio::test]
async fn groups_map_to_roles_which_decide_the_scopes_a_member_can_grant() {
    let (p, s, admin) = setup(
        Some(r#"{"groups": ["engineering", "acme-admins"]}"#),
        json!({
            "provision_role": "member",
            "role_mappings": [{"group": "acme-admins", "role": "admin"}],
        }),
    )
    .await;
    s.kh.put_scope(&ScopeInfo {
        scope: "notes:write".into(),
        description: "Create and delete your notes".into(),
        permissions: vec![keyhouse_core::rbac::permission("notes", &["write"])],
    })
    .await
    .unwrap();
    // New to the organization: provisioned, with the role its group maps to.
    let idp = p.signed_in("new.hire@acme.test", true).await;
    let b = browser();
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert!(!location(&res).contains("sso_error"), "{}", location(&res));
    let (_, me) = session_of(&b, &s).await;
    assert_eq!(me["member"]["email"], "new.hire@acme.test");
    assert_eq!(me["member"]["roles"], json!(["admin"]));
    let gpt = s.client(ClientType::ThirdParty).await;
    let code = member_code(&s, &b, &gpt, &[("scope", "openid notes:write")]).await;
    let tokens = ok_json(exchange(&s, &gpt, &code).await).await;
    assert!(
        tokens["scope"].as_str().unwrap().contains("notes:write"),
        "{tokens}"
    );
    let audit = ok_json(admin.get(s.url("/api/b2b/audit")).send().await.unwrap()).await;
    assert!(
        audit
            .to_string()
            .contains("organization.member_provisioned_by_sso")
    );

    // The mapping changes: the group no longer gives admin. At the next
    // sign-in the member is a plain member, and the grant of notes:write
    // is revoked at once.
    let current = ok_json(
        admin
            .get(s.url("/api/b2b/organization/sso"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let client_id = current["connection"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = admin
        .put(s.url("/api/b2b/organization/sso"))
        .json(&json!({
            "issuer": p.issuer,
            "client_id": client_id,
            "provision_role": "member",
            "role_mappings": [{"group": "acme-leads", "role": "admin"}],
        }))
        .send()
        .await
        .unwrap();
    ok_json(res).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert!(!location(&res).contains("sso_error"), "{}", location(&res));
    let (_, me) = session_of(&b, &s).await;
    assert_eq!(me["member"]["roles"], json!(["member"]));
    let resource_server = s.machine_client(ClientType::FirstParty, true).await;
    assert!(
        !active(&s, &resource_server, &access).await,
        "the wider grant ended"
    );
    let res = post(
        &b,
        &s,
        "/api/b2b/idp/authorize",
        json!({
            "response_type": "code",
            "client_id": gpt.client.id,
            "redirect_uri": REDIRECT,
            "scope": "openid notes:write",
            "state": "s",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
            "consent_granted": true,
        }),
    )
    .await;
    let v: Value = res.json().await.unwrap();
    let redirect = v["redirect_uri"].as_str().unwrap_or_default().to_owned();
    let granted = query_of(&redirect);
    if let Some(code) = granted.get("code") {
        let t = ok_json(exchange_with(&s, &gpt, code, &[("code_verifier", VERIFIER)]).await).await;
        assert!(
            !t["scope"].as_str().unwrap().contains("notes:write"),
            "a plain member cannot grant notes:write: {t}"
        );
    } else {
        assert!(redirect.contains("error"), "{v}");
    }
}

#[tokio::test]
async fn requiring_sso_refuses_passwords_mailed_codes_and_sessions_opened_before() {
    let smtp = common::smtp::SmtpServer::start().await;
    let p = Provider::start().await;
    let ca = p.ca_pem.clone();
    let smtp_url = smtp.url.clone();
    let s = spawn_with(
        move |c: &mut Config| {
            c.agents.insecure_allow_loopback_metadata_for_tests = true;
            c.agents.test_ca_pem = Some(ca);
            c.agents.test_lookup =
                LookupOverride(Some(TestLookup::with(&[(IDP_HOST, &["127.0.0.1"])])));
            c.mail.transport = keyhouse_axum::MailTransport::Smtp(smtp_url);
        },
        true,
    )
    .await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    s.kh.create_member("acme", ADMIN, PASSWORD, "", &["admin".to_owned()])
        .await
        .unwrap();
    s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    let admin = signed_in_to(&s, "acme", ADMIN).await;
    let ada_by_password = signed_in_to(&s, "acme", ADA).await;
    let client = p.client_for(&s, None).await;
    connect(&s, &admin, &p, &client, json!({})).await;

    // Not before a test of the connection succeeded.
    let res = admin
        .put(s.url("/api/b2b/organization/sso/required"))
        .json(&json!({"required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    // The admin tests it (signed in at the provider as themselves).
    let idp_admin = p.signed_in(ADMIN, true).await;
    let res = sign_in_through(
        &s,
        &admin,
        &p,
        &idp_admin,
        "organization=acme&test=1",
        |_| {},
    )
    .await;
    assert_eq!(
        location(&res),
        "/org/settings?sso_test=ok&organization=acme"
    );
    let (_, me) = session_of(&admin, &s).await;
    assert_eq!(me["amr"], json!(["pwd"]), "a test signs nobody in");
    let res = admin
        .put(s.url("/api/b2b/organization/sso/required"))
        .json(&json!({"required": true}))
        .send()
        .await
        .unwrap();
    let settings = ok_json(res).await;
    assert_eq!(settings["required"], true);

    // The sessions opened with a password stop serving at once.
    let res = ada_by_password
        .get(s.url("/api/b2b/organization"))
        .send()
        .await
        .unwrap();
    let (status, code) = error_of(res).await;
    assert_eq!((status, code.as_str()), (403, "sso_required"));
    // Nor can it authorize an app.
    let gpt_before = s.client(ClientType::ThirdParty).await;
    let res = post(
        &ada_by_password,
        &s,
        "/api/b2b/idp/authorize",
        json!({
            "response_type": "code",
            "client_id": gpt_before.client.id,
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": "s",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
            "consent_granted": true,
        }),
    )
    .await;
    let (status, code) = error_of(res).await;
    assert_eq!((status, code.as_str()), (403, "sso_required"));
    // Nor change the member's ways in: no passkey, no authenticator app,
    // no recovery codes, no switching out; it still says who it is.
    for path in [
        "/api/b2b/member/passkeys/options",
        "/api/b2b/member/second-factor/setup",
        "/api/b2b/member/second-factor/recovery-codes",
        "/api/b2b/session/switch",
    ] {
        let res = post(
            &ada_by_password,
            &s,
            path,
            json!({"password": PASSWORD, "organization_slug": "globex"}),
        )
        .await;
        let (status, code) = error_of(res).await;
        assert_eq!((status, code.as_str()), (403, "sso_required"), "{path}");
    }
    let res = ada_by_password
        .get(s.url("/api/b2b/member/passkeys"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.0, 403);
    let res = post(
        &ada_by_password,
        &s,
        "/api/b2b/session/second-factor",
        json!({"code": "000000"}),
    )
    .await;
    let (status, code) = error_of(res).await;
    assert_eq!((status, code.as_str()), (403, "sso_required"));
    let (status, me) = session_of(&ada_by_password, &s).await;
    assert_eq!((status, me["sso_required"].clone()), (200, json!(true)));
    // A password is refused before it is checked.
    let res = post(
        &browser(),
        &s,
        "/api/b2b/session/login",
        json!({"organization_slug": "acme", "email": ADA, "password": "wrong"}),
    )
    .await;
    let (status, code) = error_of(res).await;
    assert_eq!((status, code.as_str()), (403, "sso_required"));
    // A mailed code proves the address but does not open the organization.
    let b = browser();
    post(&b, &s, "/api/b2b/discovery/email", json!({"email": ADA})).await;
    let code = smtp.wait_for(ADA, 1).await.code().unwrap();
    let found = ok_json(
        post(
            &b,
            &s,
            "/api/b2b/discovery/email/code",
            json!({"email": ADA, "code": code}),
        )
        .await,
    )
    .await;
    let res = post(
        &b,
        &s,
        "/api/b2b/discovery/select",
        json!({"discovery_token": found["discovery_token"], "organization_slug": "acme"}),
    )
    .await;
    let (status, code) = error_of(res).await;
    assert_eq!((status, code.as_str()), (403, "sso_required"));
    assert_eq!(session_of(&b, &s).await.0, 401);

    // Nor does switching in from another membership of the address that
    // the password opened.
    s.kh.create_organization("Globex", "globex").await.unwrap();
    s.kh.create_member("globex", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    let at_globex = signed_in_to(&s, "globex", ADA).await;
    let res = post(
        &at_globex,
        &s,
        "/api/b2b/session/switch",
        json!({"organization_slug": "acme"}),
    )
    .await;
    let (status, code) = error_of(res).await;
    assert_eq!((status, code.as_str()), (403, "sso_required"));
    let (_, me) = session_of(&at_globex, &s).await;
    assert_eq!(me["organization"]["slug"], "globex", "still where it was");

    // Through the provider, the member signs in and connects an agent.
    let idp = p.signed_in(ADA, true).await;
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert!(!location(&res).contains("sso_error"), "{}", location(&res));
    let gpt = s.client(ClientType::ThirdParty).await;
    let code = member_code(&s, &b, &gpt, &[]).await;
    let tokens = ok_json(exchange(&s, &gpt, &code).await).await;
    assert!(tokens["access_token"].is_string());

    // While required, the connection cannot be swapped or removed.
    let res = admin
        .post(s.url("/api/b2b/organization/sso/remove"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(res).await.0,
        403,
        "the admin's password session no longer serves"
    );
    let admin_sso = browser();
    let res = sign_in_through(&s, &admin_sso, &p, &idp_admin, "organization=acme", |_| {}).await;
    assert!(!location(&res).contains("sso_error"), "{}", location(&res));
    let res = admin_sso
        .post(s.url("/api/b2b/organization/sso/remove"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.0, 409);
    let other = p.client_for(&s, None).await;
    let res = admin_sso
        .put(s.url("/api/b2b/organization/sso"))
        .json(&json!({"issuer": p.issuer, "client_id": other.0, "client_secret": other.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.0, 409);
}

#[tokio::test]
async fn a_provider_at_a_special_use_address_is_never_contacted() {
    let p = Provider::start().await;
    let ca = p.ca_pem.clone();
    let lookup = TestLookup::with(&[
        (IDP_HOST, &["127.0.0.1"]),
        ("idp.internal.test", &["10.0.0.7"]),
        ("metadata.internal.test", &["169.254.169.254"]),
    ]);
    let s = spawn_with(
        move |c: &mut Config| {
            c.agents.insecure_allow_loopback_metadata_for_tests = true;
            c.agents.test_ca_pem = Some(ca);
            c.agents.test_lookup = LookupOverride(Some(lookup));
        },
        true,
    )
    .await;
    s.kh.create_organization("Acme Inc", "acme").await.unwrap();
    s.kh.create_member("acme", ADMIN, PASSWORD, "", &["admin".to_owned()])
        .await
        .unwrap();
    let admin = signed_in_to(&s, "acme", ADMIN).await;
    for issuer in [
        "https://idp.internal.test",
        "https://metadata.internal.test/latest",
        "https://10.0.0.8",
    ] {
        let res = admin
            .put(s.url("/api/b2b/organization/sso"))
            .json(&json!({"issuer": issuer, "client_id": "c", "client_secret": "s"}))
            .send()
            .await
            .unwrap();
        ok_json(res).await;
        let res = browser()
            .get(s.url("/api/b2b/sso/start?organization=acme"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            location(&res),
            "/org/login?sso_error=provider_unreachable&organization=acme",
            "{issuer}"
        );
    }
    // http is refused when set.
    let res = admin
        .put(s.url("/api/b2b/organization/sso"))
        .json(&json!({"issuer": "http://idp.example.com", "client_id": "c", "client_secret": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.0, 400);
}

#[tokio::test]
async fn another_sites_page_cannot_start_a_sign_in_and_answers_stay_with_their_organization() {
    let (p, s, _admin) = setup(None, json!({})).await;
    s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
        .await
        .unwrap();
    // A page on another site navigates the browser to the start.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url("/api/b2b/sso/start?organization=acme"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    let (status, code) = error_of(res).await;
    assert_eq!((status, code.as_str()), (403, "csrf_detected"));

    // A mix-up: the provider's answer for acme's sign-in arrives at another
    // organization's redirect URI. Nobody is signed in.
    s.kh.create_organization("Globex", "globex").await.unwrap();
    let idp = p.signed_in(ADA, true).await;
    let b = browser();
    let back = callback_url(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    let acme = callback_of(&s, "acme").await;
    let globex = callback_of(&s, "globex").await;
    let moved = back.replacen(&acme, &globex, 1);
    assert_ne!(moved, back);
    let res = b.get(&moved).send().await.unwrap();
    assert_eq!(location(&res), "/org/login?sso_error=expired");
    assert_eq!(session_of(&b, &s).await.0, 401);
}

#[tokio::test]
async fn a_member_tied_to_one_account_is_not_taken_by_another_with_the_address() {
    let (p, s, _admin) = setup(None, json!({})).await;
    let ada =
        s.kh.create_member("acme", ADA, PASSWORD, "", &["member".to_owned()])
            .await
            .unwrap();
    // Ada signed in through the provider before, as another account of it
    // (her address there has since been given to someone else).
    s.kh.store()
        .link_sso(
            &ada.organization_id,
            &p.issuer,
            "user-ada-before",
            &ada.id,
            T0,
        )
        .await
        .unwrap();
    let idp = p.signed_in(ADA, true).await;
    let b = browser();
    let res = sign_in_through(&s, &b, &p, &idp, "organization=acme", |_| {}).await;
    assert_eq!(
        location(&res),
        "/org/login?sso_error=account_mismatch&organization=acme"
    );
    assert_eq!(session_of(&b, &s).await.0, 401);
}
