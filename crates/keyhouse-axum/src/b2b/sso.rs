//! Single sign-on through an organization's own OpenID Provider (Okta,
//! Entra ID, Google Workspace, another Keyhouse): Keyhouse is the relying
//! party, through the `openidconnect` crate (decision 0038).
//!
//! - An admin sets the connection (`PUT /api/b2b/organization/sso`): the
//!   provider's issuer, Keyhouse's client id and secret there (sealed with
//!   the master key), the ID-token claim whose values map to roles, the
//!   mapping, and the role of people provisioned on their first sign-in.
//! - `GET /api/b2b/sso/start?organization=<slug>` discovers the provider
//!   (through the guarded fetcher: https only, no special-use address),
//!   stores the request (the hash of `state`, the `nonce`, the PKCE
//!   verifier, the hash of a random value the browser gets as a cookie)
//!   and sends the browser to the provider.
//! - `GET /api/b2b/sso/callback` takes the request once, checks the cookie
//!   (a callback carried to another browser is refused), redeems the code
//!   with the verifier, and has the library verify the ID token: signature
//!   by the provider's keys, `iss`, `aud`, `exp`, `nonce`. The person is the
//!   member tied to the provider's `sub`; else the member with the same
//!   address when the provider says it is verified (then tied); else, when
//!   the connection provisions, a new member. Mapped groups set the
//!   member's roles on every sign-in. The session's `amr` is `fed`.
//! - An organization that requires SSO (after a successful test) refuses
//!   every other sign-in of its members, and sessions opened otherwise
//!   before stop serving at their next request.
//! - `?test=1` on the start, by an admin, runs the same flow without
//!   signing anybody in and records that the connection works.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhouse_core::assurance::amr;
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::{Member, Organization, RoleMapping, SsoConnection, SsoRequest, StoreError};
use keyhouse_types::b2b::{
    SsoConnectionInfo, SsoConnectionRequest, SsoRequiredRequest, SsoRoleMapping, SsoSettings,
};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope,
};
use serde::Deserialize;

use crate::Keyhouse;
use crate::accounts::session;
use crate::b2b::CurrentMember;
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::{read_cookie, set_named_cookie, with_cookie};
use crate::http::json::JsonBody;

/// How long a sign-in may take at the provider, seconds.
const REQUEST_TTL: i64 = 600;
/// How long a provider's discovery document and keys are kept.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// The largest answer read from a provider (key sets of big providers run
/// to tens of KB).
const BODY_CAP: usize = 256 * 1024;
/// The callback's path, under the issuer; each organization's redirect URI
/// adds its id (`…/callback/{organization_id}`), so a provider's answer is
/// only ever read as that organization's (docs/threat-model.md row 185).
pub(crate) const CALLBACK_PATH: &str = "/api/b2b/sso/callback";

/// An organization's redirect URI.
fn redirect_uri(kh: &Keyhouse, org_id: &str) -> String {
    format!("{}{CALLBACK_PATH}/{org_id}", kh.config().issuer)
}
/// At most this many group mappings per connection.
const MAX_MAPPINGS: usize = 50;

/// The HTTP client the `openidconnect` crate sends through: the guarded
/// fetcher, with a named `Send` future (a closure's future confuses the
/// compiler's `Send` proof inside axum handlers).
struct Http<'a>(&'a crate::agents::fetch::Fetcher);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http<'_> {
    type Error = crate::agents::fetch::FetchError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, Self::Error>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(self.0.send(request, BODY_CAP))
    }
}

/// Providers' discovery documents (with their keys), by issuer.
#[derive(Default)]
pub(crate) struct ProviderCache(Mutex<HashMap<String, (CoreProviderMetadata, Instant)>>);

fn binding_cookie_name(kh: &Keyhouse) -> &'static str {
    if kh.config().secure_cookies() {
        "__Host-keyhouse_sso"
    } else {
        "keyhouse_sso"
    }
}

/// Why a single sign-on failed, as the login page is told
/// (`?sso_error=`); the log line says more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No organization by that slug.
    UnknownOrganization,
    /// The organization has no connection.
    NotConfigured,
    /// Discovery, the keys or the code exchange failed.
    ProviderUnreachable,
    /// Unknown, expired or already used `state`, or another browser's.
    Expired,
    /// The provider answered with an error (the person cancelled…).
    Denied,
    /// The ID token failed verification (signature, `iss`, `aud`, `exp`,
    /// `nonce`), or there was none.
    InvalidToken,
    /// No tie and no verified address to match or provision by.
    EmailNotVerified,
    /// Not a member, and the connection provisions nobody.
    NotAMember,
    /// The member is deactivated.
    Deactivated,
    /// The groups give no role and there is no provisioning role.
    NoRole,
    /// The address is a member's who is tied to another account of the
    /// provider; or, in a test, the provider signed in somebody other than
    /// the admin testing.
    AccountMismatch,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Failure::UnknownOrganization => "unknown_organization",
            Failure::NotConfigured => "not_configured",
            Failure::ProviderUnreachable => "provider_unreachable",
            Failure::Expired => "expired",
            Failure::Denied => "denied",
            Failure::InvalidToken => "invalid_token",
            Failure::EmailNotVerified => "email_not_verified",
            Failure::NotAMember => "not_a_member",
            Failure::Deactivated => "deactivated",
            Failure::NoRole => "no_role",
            Failure::AccountMismatch => "account_mismatch",
        }
    }
}

/// The page a failure or a test result goes back to: the organization
/// login page (or, for a test, the settings page) with the outcome in the
/// query.
fn back_to(kh: &Keyhouse, test: bool, slug: Option<&str>, outcome: &str) -> Response {
    let (path, key) = if test {
        (&kh.config().organization_settings_path, "sso_test")
    } else {
        (&kh.config().organization_login_path, "sso_error")
    };
    let mut url = format!("{path}?{key}={outcome}");
    if let Some(s) = slug {
        url.push_str("&organization=");
        url.push_str(&urlencoding(s));
    }
    see_other(&url)
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

fn seal_context(org_id: &str) -> String {
    format!("sso-client-secret:{org_id}")
}

/// The issuer as a connection names it: an https URL without query or
/// fragment (what the provider's discovery document must repeat exactly).
fn checked_issuer(raw: &str) -> Result<String, OAuthError> {
    let bad = |m: &str| OAuthError::invalid_request(format!("issuer: {m}"));
    let raw = raw.trim();
    let url = url::Url::parse(raw).map_err(|_| bad("not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad("must be an https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("no query, fragment or user name"));
    }
    if raw.len() > 512 {
        return Err(bad("at most 512 characters"));
    }
    Ok(raw.to_owned())
}

impl Keyhouse {
    /// The discovery document (and keys) of `issuer`: from the cache for
    /// five minutes, else fetched through the guarded fetcher; `fresh`
    /// fetches again (an ID token signed by a key the cached set lacks).
    async fn provider(&self, issuer: &str, fresh: bool) -> Result<CoreProviderMetadata, String> {
        if !fresh
            && let Ok(cache) = self.0.sso.0.lock()
            && let Some((m, at)) = cache.get(issuer)
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let http = Http(self.fetcher().map_err(|e| e.to_string())?);
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?;
        let metadata = CoreProviderMetadata::discover_async(url, &http)
            .await
            .map_err(|e| describe(&e))?;
        if let Ok(mut cache) = self.0.sso.0.lock() {
            cache.insert(issuer.to_owned(), (metadata.clone(), Instant::now()));
        }
        Ok(metadata)
    }

    async fn sso_settings(&self, org: &Organization) -> Result<SsoSettings, OAuthError> {
        let connection = self
            .store()
            .sso_connection(&org.id)
            .await
            .map_err(store_error)?;
        Ok(SsoSettings {
            connection: connection.map(|c| SsoConnectionInfo {
                issuer: c.issuer,
                client_id: c.client_id,
                groups_claim: c.groups_claim,
                role_mappings: c
                    .role_mappings
                    .into_iter()
                    .map(|m| SsoRoleMapping {
                        group: m.group,
                        role: m.role,
                    })
                    .collect(),
                provision_role: c.provision_role,
                tested_at: c.tested_at,
            }),
            required: org.sso_required,
            redirect_uri: redirect_uri(self, &org.id),
        })
    }
}

/// An error and its sources, on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `GET /api/b2b/organization/sso` (needs `organization:read`).
pub(crate) async fn settings(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
) -> Result<Json<SsoSettings>, ApiError> {
    me.require("organization", "read")?;
    Ok(Json(kh.sso_settings(&me.organization).await?))
}

/// The roles a request names must exist and be within the admin's own.
async fn check_roles(kh: &Keyhouse, me: &CurrentMember, roles: &[String]) -> Result<(), ApiError> {
    let policy = kh.rbac().await?;
    if !policy.knows_roles(roles) {
        return Err(OAuthError::invalid_request("unknown role").into());
    }
    if !keyhouse_core::rbac::covers(&me.permissions, &policy.permissions_of(roles)) {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "you can only give roles whose permissions you hold yourself",
        )
        .into());
    }
    Ok(())
}

/// `PUT /api/b2b/organization/sso` (needs `organization:update`): creates
/// or changes the connection. A new issuer, client or secret needs a new
/// test before SSO can be required, and cannot be set while it is.
pub(crate) async fn put_connection(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<SsoConnectionRequest>,
) -> Result<Json<SsoSettings>, ApiError> {
    me.require("organization", "update")?;
    let issuer = checked_issuer(&req.issuer)?;
    let client_id = req.client_id.trim().to_owned();
    if client_id.is_empty() || client_id.len() > 255 {
        return Err(OAuthError::invalid_request("client_id: 1 to 255 characters").into());
    }
    let groups_claim = req
        .groups_claim
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or("groups")
        .to_owned();
    if groups_claim.len() > 64 {
        return Err(OAuthError::invalid_request("groups_claim: at most 64 characters").into());
    }
    if req.role_mappings.len() > MAX_MAPPINGS {
        return Err(OAuthError::invalid_request("at most 50 group mappings").into());
    }
    let mut roles: Vec<String> = req.role_mappings.iter().map(|m| m.role.clone()).collect();
    roles.extend(req.provision_role.clone());
    if req
        .role_mappings
        .iter()
        .any(|m| m.group.trim().is_empty() || m.group.len() > 256)
    {
        return Err(OAuthError::invalid_request("a group is 1 to 256 characters").into());
    }
    check_roles(&kh, &me, &roles).await?;
    let org_id = &me.organization.id;
    let old = kh
        .store()
        .sso_connection(org_id)
        .await
        .map_err(store_error)?;
    let sealed_secret = match (&req.client_secret, old) {
        (Some(s), _) if !s.is_empty() && s.len() <= 1024 => kh
            .master_key()
            .seal(&seal_context(org_id), s.as_bytes())
            .map_err(|e| OAuthError::server(format!("seal: {e}")))?,
        (Some(_), _) => {
            return Err(OAuthError::invalid_request("client_secret: 1 to 1024 characters").into());
        }
        (None, Some(old)) => old.sealed_secret,
        (None, None) => {
            return Err(OAuthError::invalid_request("client_secret is required").into());
        }
    };
    let connection = SsoConnection {
        organization_id: org_id.clone(),
        issuer,
        client_id,
        sealed_secret,
        groups_claim,
        role_mappings: req
            .role_mappings
            .iter()
            .map(|m| RoleMapping {
                group: m.group.trim().to_owned(),
                role: m.role.clone(),
            })
            .collect(),
        provision_role: req.provision_role.clone(),
        tested_at: None,
        updated_at: kh.now(),
    };
    match kh.store().put_sso_connection(&connection).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(OAuthError::new(ErrorCode::NotFound, "no such organization").into());
        }
        Err(StoreError::Conflict) => {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "single sign-on is required: stop requiring it before changing the provider, client or secret",
            )
            .into());
        }
        Err(e) => return Err(store_error(e).into()),
    }
    tracing::info!(organization_id = %org_id, by = %me.member.id, issuer = %connection.issuer, "single sign-on connection set");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.sso_configured",
        None,
        serde_json::json!({
            "organization_id": org_id,
            "issuer": connection.issuer,
            "client_id": connection.client_id,
            "secret_changed": req.client_secret.is_some(),
            "groups_claim": connection.groups_claim,
            "role_mappings": req.role_mappings.iter().map(|m| serde_json::json!({"group": m.group, "role": m.role})).collect::<Vec<_>>(),
            "provision_role": connection.provision_role,
        }),
    )
    .await;
    Ok(Json(kh.sso_settings(&me.organization).await?))
}

/// `POST /api/b2b/organization/sso/remove` (needs `organization:update`):
/// not while SSO is required.
pub(crate) async fn remove_connection(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
) -> Result<Json<SsoSettings>, ApiError> {
    me.require("organization", "update")?;
    match kh.store().remove_sso_connection(&me.organization.id).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(OAuthError::new(
                ErrorCode::NotFound,
                "the organization has no single sign-on",
            )
            .into());
        }
        Err(StoreError::Conflict) => {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "single sign-on is required: stop requiring it first",
            )
            .into());
        }
        Err(e) => return Err(store_error(e).into()),
    }
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.sso_removed",
        None,
        serde_json::json!({"organization_id": me.organization.id}),
    )
    .await;
    Ok(Json(kh.sso_settings(&me.organization).await?))
}

/// `PUT /api/b2b/organization/sso/required` (needs `organization:update`):
/// requiring SSO needs a connection whose test succeeded. From then on,
/// members' sessions that did not come through it stop serving.
pub(crate) async fn set_required(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<SsoRequiredRequest>,
) -> Result<Json<SsoSettings>, ApiError> {
    me.require("organization", "update")?;
    match kh
        .store()
        .set_sso_required(&me.organization.id, req.required, kh.now())
        .await
    {
        Ok(_) => {}
        Err(StoreError::Conflict) => {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "test the single sign-on connection successfully before requiring it",
            )
            .into());
        }
        Err(e) => return Err(store_error(e).into()),
    }
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, required = req.required, "single sign-on requirement changed");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.sso_required_changed",
        None,
        serde_json::json!({"organization_id": me.organization.id, "required": req.required}),
    )
    .await;
    let mut org = me.organization.clone();
    org.sso_required = req.required;
    Ok(Json(kh.sso_settings(&org).await?))
}

/// `GET /api/b2b/sso/start` query.
#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    /// The organization's slug.
    organization: String,
    /// Where to go once signed in (a same-origin path).
    #[serde(default, rename = "returnTo")]
    return_to: Option<String>,
    /// `1`: an admin tests the connection; nobody is signed in.
    #[serde(default)]
    test: Option<String>,
}

/// `GET /api/b2b/sso/start`: sends the browser to the organization's
/// provider.
pub(crate) async fn start(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Result<Response, ApiError> {
    // docs/threat-model.md row 181: another site cannot start a sign-in in
    // this browser (and have it finish as the provider's account of
    // whoever runs that site). A link on our own pages or a typed address
    // can.
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if site != "same-origin" && site != "none" {
        tracing::warn!(%site, "single sign-on started from another site; refused");
        return Err(OAuthError::new(
            ErrorCode::CsrfDetected,
            "start single sign-on from this site's sign-in page",
        )
        .into());
    }
    let test = q.test.as_deref() == Some("1");
    let slug = q.organization.trim();
    let Some(org) = kh
        .store()
        .find_organization_by_slug(slug)
        .await
        .map_err(store_error)?
    else {
        tracing::info!(%slug, "single sign-on for an unknown organization");
        return Ok(back_to(
            &kh,
            test,
            None,
            Failure::UnknownOrganization.code(),
        ));
    };
    let tested_by = if test {
        // Only an admin of this organization tests its connection.
        let me = kh
            .member_session(&headers)
            .await?
            .filter(|m| m.organization.id == org.id && m.meets_policy())
            .ok_or_else(|| {
                OAuthError::new(
                    ErrorCode::SessionRequired,
                    "sign in to your organization first",
                )
            })?;
        me.require("organization", "update")?;
        Some(me.member.id)
    } else {
        None
    };
    let Some(conn) = kh
        .store()
        .sso_connection(&org.id)
        .await
        .map_err(store_error)?
    else {
        return Ok(back_to(
            &kh,
            test,
            Some(&org.slug),
            Failure::NotConfigured.code(),
        ));
    };
    let metadata = match kh.provider(&conn.issuer, false).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(organization_id = %org.id, issuer = %conn.issuer, error = %e, "single sign-on: provider discovery failed");
            metrics::counter!(crate::http::metrics::SSO_SIGN_INS, "outcome" => "provider_unreachable").increment(1);
            return Ok(back_to(
                &kh,
                test,
                Some(&org.slug),
                Failure::ProviderUnreachable.code(),
            ));
        }
    };
    let redirect = RedirectUrl::new(redirect_uri(&kh, &org.id))
        .map_err(|e| OAuthError::server(format!("redirect uri: {e}")))?;
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(conn.client_id.clone()), None)
            .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let binding = secret::generate_token(&mut rand::rng());
    let return_to = q
        .return_to
        .as_deref()
        .and_then(keyhouse_types::return_to::sanitize)
        .map(str::to_owned);
    kh.store()
        .create_sso_request(&SsoRequest {
            state_hash: secret::hash_token(state.secret()),
            organization_id: org.id.clone(),
            issuer: conn.issuer.clone(),
            client_id: conn.client_id.clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            binding_hash: secret::hash_token(&binding),
            return_to,
            tested_by,
            expires_at: kh.now() + REQUEST_TTL,
        })
        .await
        .map_err(store_error)?;
    let cookie = set_named_cookie(&kh, binding_cookie_name(&kh), &binding, REQUEST_TTL)
        .ok_or_else(|| OAuthError::server("cookie header"))?;
    tracing::info!(organization_id = %org.id, issuer = %conn.issuer, test, "single sign-on started");
    Ok(with_cookie(see_other(url.as_str()), cookie))
}

/// `GET /api/b2b/sso/callback` query: the provider's answer.
#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// What the verified ID token says of the person.
struct Upstream {
    subject: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    groups: Vec<String>,
}

/// `GET /api/b2b/sso/callback`: the provider sends the browser back here.
pub(crate) async fn callback(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::extract::Path(path_org): axum::extract::Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    // The binding cookie is spent whatever happens.
    let clear = set_named_cookie(&kh, binding_cookie_name(&kh), "", 0)
        .ok_or_else(|| OAuthError::server("cookie header"))?;
    let mut res = finish(&kh, ip, &headers, &path_org, q).await?;
    // Appended: the answer may set the member session's cookie too.
    res.headers_mut().append(header::SET_COOKIE, clear);
    Ok(res)
}

async fn finish(
    kh: &Keyhouse,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    path_org: &str,
    q: CallbackQuery,
) -> Result<Response, OAuthError> {
    let fail = |test: bool, slug: Option<&str>, f: Failure| {
        metrics::counter!(crate::http::metrics::SSO_SIGN_INS, "outcome" => f.code()).increment(1);
        back_to(kh, test, slug, f.code())
    };
    let Some(state) = q.state.as_deref() else {
        tracing::info!("single sign-on callback without state");
        return Ok(fail(false, None, Failure::Expired));
    };
    let Some(req) = kh
        .store()
        .take_sso_request(&secret::hash_token(state), kh.now())
        .await
        .map_err(store_error)?
    else {
        tracing::warn!("single sign-on callback with an unknown, expired or spent state");
        return Ok(fail(false, None, Failure::Expired));
    };
    let test = req.tested_by.is_some();
    // docs/threat-model.md row 185: an answer sent to one organization's
    // redirect URI with the `state` of another's sign-in (a mix-up: one
    // organization's provider relaying the browser to another's) is
    // nobody's.
    if req.organization_id != path_org {
        tracing::warn!(organization_id = %req.organization_id, callback_for = %path_org, "single sign-on callback at another organization's redirect URI");
        return Ok(fail(test, None, Failure::Expired));
    }
    let org = kh
        .store()
        .find_organization(&req.organization_id)
        .await
        .map_err(store_error)?;
    let Some(org) = org else {
        return Ok(fail(test, None, Failure::UnknownOrganization));
    };
    let slug = Some(org.slug.as_str());
    // docs/threat-model.md row 181: only the browser that started it.
    let binding = read_cookie(headers, binding_cookie_name(kh)).unwrap_or("");
    if !secret::hashes_equal(&secret::hash_token(binding), &req.binding_hash) {
        tracing::warn!(organization_id = %org.id, "single sign-on callback in a browser that did not start it");
        return Ok(fail(test, slug, Failure::Expired));
    }
    if let Some(error) = &q.error {
        tracing::info!(organization_id = %org.id, %error, "single sign-on: the provider answered an error");
        return Ok(fail(test, slug, Failure::Denied));
    }
    let Some(code) = q.code else {
        return Ok(fail(test, slug, Failure::Denied));
    };
    let conn = kh
        .store()
        .sso_connection(&org.id)
        .await
        .map_err(store_error)?
        .filter(|c| c.issuer == req.issuer && c.client_id == req.client_id);
    let Some(conn) = conn else {
        tracing::warn!(organization_id = %org.id, "single sign-on: the connection changed during the sign-in");
        return Ok(fail(test, slug, Failure::NotConfigured));
    };
    let upstream = match redeem(kh, &conn, &req, code).await {
        Ok(u) => u,
        Err(f) => return Ok(fail(test, slug, f)),
    };
    if let Some(admin) = &req.tested_by {
        // The test proves the admin testing can sign in through the
        // connection: the provider's account is theirs (tied, or by a
        // verified address), so requiring it cannot lock them out.
        let tied = kh
            .store()
            .sso_linked_member(&org.id, &conn.issuer, &upstream.subject)
            .await
            .map_err(store_error)?;
        let by_address = match (upstream.email.as_deref(), upstream.email_verified) {
            (Some(e), true) => kh
                .store()
                .find_member_by_email(&org.id, e)
                .await
                .map_err(store_error)?
                .map(|m| m.id),
            _ => None,
        };
        if tied.as_deref().or(by_address.as_deref()) != Some(admin.as_str()) {
            tracing::warn!(organization_id = %org.id, by = %admin, subject = %upstream.subject, "single sign-on test: the provider signed in somebody else");
            return Ok(fail(true, slug, Failure::AccountMismatch));
        }
        let marked = kh
            .store()
            .mark_sso_tested(&org.id, &conn.issuer, &conn.client_id, kh.now())
            .await
            .map_err(store_error)?;
        if !marked {
            return Ok(fail(true, slug, Failure::NotConfigured));
        }
        tracing::info!(organization_id = %org.id, by = %admin, "single sign-on connection tested");
        kh.audit(
            &format!("member:{admin}"),
            "organization.sso_tested",
            None,
            serde_json::json!({
                "organization_id": org.id,
                "issuer": conn.issuer,
                "subject": upstream.subject,
                "email": upstream.email,
                "email_verified": upstream.email_verified,
                "groups": upstream.groups,
            }),
        )
        .await;
        metrics::counter!(crate::http::metrics::SSO_SIGN_INS, "outcome" => "tested").increment(1);
        return Ok(back_to(kh, true, slug, "ok"));
    }
    let member = match member_for(kh, &org, &conn, &upstream).await? {
        Ok(m) => m,
        Err(f) => return Ok(fail(false, slug, f)),
    };
    let old = read_cookie(headers, crate::b2b::session::member_cookie_name(kh)).map(str::to_owned);
    let opened = kh
        .open_member_session(
            &member,
            &org,
            old.as_deref(),
            &session::Device::of(ip, headers),
            vec![amr::FED.to_owned()],
            None,
        )
        .await?;
    metrics::counter!(crate::http::metrics::SSO_SIGN_INS, "outcome" => "signed_in").increment(1);
    tracing::info!(organization_id = %org.id, member_id = %member.id, waiting = opened.waiting, "member signed in through single sign-on");
    let target = req
        .return_to
        .unwrap_or_else(|| kh.config().organization_login_path.clone());
    let location = if opened.waiting {
        // The login page asks for the authenticator's code, then goes on.
        format!(
            "{}?step=second-factor&returnTo={}",
            kh.config().organization_login_path,
            urlencoding(&target)
        )
    } else {
        target
    };
    Ok(with_cookie(see_other(&location), opened.cookie))
}

/// Redeems the code and verifies the ID token.
async fn redeem(
    kh: &Keyhouse,
    conn: &SsoConnection,
    req: &SsoRequest,
    code: String,
) -> Result<Upstream, Failure> {
    let org_id = &conn.organization_id;
    let secret = kh
        .master_key()
        .open(&seal_context(org_id), &conn.sealed_secret)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            tracing::error!(organization_id = %org_id, "single sign-on: the client secret does not open");
            Failure::ProviderUnreachable
        })?;
    let metadata = kh.provider(&conn.issuer, false).await.map_err(|e| {
        tracing::warn!(organization_id = %org_id, issuer = %conn.issuer, error = %e, "single sign-on: provider discovery failed");
        Failure::ProviderUnreachable
    })?;
    let redirect =
        RedirectUrl::new(redirect_uri(kh, org_id)).map_err(|_| Failure::ProviderUnreachable)?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(conn.client_id.clone()),
        Some(ClientSecret::new(secret.clone())),
    )
    .set_redirect_uri(redirect.clone());
    let http = Http(kh.fetcher().map_err(|_| Failure::ProviderUnreachable)?);
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| Failure::ProviderUnreachable)?
        .set_pkce_verifier(PkceCodeVerifier::new(req.pkce_verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| {
            tracing::warn!(organization_id = %org_id, error = %describe(&e), "single sign-on: the code exchange failed");
            Failure::ProviderUnreachable
        })?;
    use openidconnect::TokenResponse;
    let id_token = tokens.id_token().ok_or_else(|| {
        tracing::warn!(organization_id = %org_id, "single sign-on: no ID token");
        Failure::InvalidToken
    })?;
    let nonce = Nonce::new(req.nonce.clone());
    let now = kh.now();
    let verify = |client: &CoreClient<_, _, _, _, _, _>| {
        let verifier = client.id_token_verifier().set_time_fn(move || {
            chrono::DateTime::<chrono::Utc>::from_timestamp(now, 0).unwrap_or_default()
        });
        id_token
            .claims(&verifier, &nonce)
            .map(|c| Upstream {
                subject: c.subject().as_str().to_owned(),
                email: c.email().map(|e| e.as_str().to_ascii_lowercase()),
                email_verified: c.email_verified() == Some(true),
                name: c
                    .name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str().to_owned()),
                groups: Vec::new(),
            })
            .map_err(|e| describe(&e))
    };
    let mut verified = verify(&client);
    if let Err(e) = &verified
        && e.contains("key")
    {
        // Perhaps a key the cached set lacks: once more with a fresh one.
        if let Ok(fresh) = kh.provider(&conn.issuer, true).await {
            let client = CoreClient::from_provider_metadata(
                fresh,
                ClientId::new(conn.client_id.clone()),
                Some(ClientSecret::new(secret)),
            )
            .set_redirect_uri(redirect);
            verified = verify(&client);
        }
    }
    let mut upstream = verified.map_err(|e| {
        tracing::warn!(organization_id = %org_id, error = %e, "single sign-on: ID token refused");
        Failure::InvalidToken
    })?;
    upstream.groups = groups_of(&id_token.to_string(), &conn.groups_claim);
    Ok(upstream)
}

/// The values of `claim` in a (verified) ID token: a string or a list of
/// strings.
fn groups_of(jwt: &str, claim: &str) -> Vec<String> {
    let payload = jwt
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    match payload.as_ref().and_then(|p| p.get(claim)) {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The roles the person's groups map to (none when no mapping matches).
fn mapped_roles(conn: &SsoConnection, groups: &[String]) -> Vec<String> {
    let mut roles: Vec<String> = conn
        .role_mappings
        .iter()
        .filter(|m| groups.contains(&m.group))
        .map(|m| m.role.clone())
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// The member the person signs in as: tied by `sub`, else matched by a
/// verified address (and tied), else provisioned; their roles follow the
/// mapped groups.
async fn member_for(
    kh: &Keyhouse,
    org: &Organization,
    conn: &SsoConnection,
    up: &Upstream,
) -> Result<Result<Member, Failure>, OAuthError> {
    let store = kh.store();
    let now = kh.now();
    let linked = match store
        .sso_linked_member(&org.id, &conn.issuer, &up.subject)
        .await
        .map_err(store_error)?
    {
        Some(id) => store
            .find_member(&id)
            .await
            .map_err(store_error)?
            .filter(|m| m.organization_id == org.id),
        None => None,
    };
    let verified_email = up.email.as_deref().filter(|_| up.email_verified);
    let mapped = mapped_roles(conn, &up.groups);
    let member = match linked {
        Some(m) => m,
        None => {
            // docs/threat-model.md row 182: an address the provider does
            // not vouch for matches nobody.
            let Some(email) = verified_email else {
                tracing::warn!(organization_id = %org.id, subject = %up.subject, "single sign-on: no tie and no verified address");
                return Ok(Err(Failure::EmailNotVerified));
            };
            match store
                .find_member_by_email(&org.id, email)
                .await
                .map_err(store_error)?
            {
                Some(m) => {
                    if !m.is_active() {
                        tracing::warn!(organization_id = %org.id, member_id = %m.id, "single sign-on of a deactivated member");
                        return Ok(Err(Failure::Deactivated));
                    }
                    // docs/threat-model.md row 182: a member tied to another
                    // account of the provider is that account's, even when
                    // the provider hands the address to someone else.
                    if store.is_sso_linked(&m.id).await.map_err(store_error)? {
                        tracing::warn!(organization_id = %org.id, member_id = %m.id, subject = %up.subject, "single sign-on: the address belongs to a member tied to another account");
                        return Ok(Err(Failure::AccountMismatch));
                    }
                    store
                        .link_sso(&org.id, &conn.issuer, &up.subject, &m.id, now)
                        .await
                        .map_err(store_error)?;
                    m
                }
                None => {
                    let Some(role) = conn.provision_role.clone() else {
                        tracing::info!(organization_id = %org.id, "single sign-on of somebody who is not a member; the connection provisions nobody");
                        return Ok(Err(Failure::NotAMember));
                    };
                    let roles = if mapped.is_empty() {
                        vec![role]
                    } else {
                        mapped.clone()
                    };
                    let member = Member {
                        id: secret::generate_id("member", &mut rand::rng()),
                        organization_id: org.id.clone(),
                        email: email.to_owned(),
                        name: up.name.clone().unwrap_or_default(),
                        // No password: the member signs in through the provider.
                        password_hash: String::new(),
                        roles,
                        status: "active".to_owned(),
                        updated_at: now,
                        totp_secret: None,
                        totp_enabled_at: None,
                        totp_last_step: None,
                    };
                    match store
                        .provision_sso_member(&member, &conn.issuer, &up.subject, now)
                        .await
                    {
                        Ok(()) => {}
                        Err(StoreError::Conflict) => return Ok(Err(Failure::Expired)),
                        Err(e) => return Err(store_error(e)),
                    }
                    kh.audit(
                        &format!("member:{}", member.id),
                        "organization.member_provisioned_by_sso",
                        None,
                        serde_json::json!({
                            "organization_id": org.id,
                            "member_id": member.id,
                            "email": member.email,
                            "roles": member.roles,
                            "groups": up.groups,
                        }),
                    )
                    .await;
                    return Ok(Ok(member));
                }
            }
        }
    };
    if !member.is_active() {
        tracing::warn!(organization_id = %org.id, member_id = %member.id, "single sign-on of a deactivated member");
        return Ok(Err(Failure::Deactivated));
    }
    if conn.role_mappings.is_empty() {
        return Ok(Ok(member));
    }
    // The provider's groups decide the roles, on every sign-in.
    let roles = if mapped.is_empty() {
        match &conn.provision_role {
            Some(r) => vec![r.clone()],
            None => {
                tracing::warn!(organization_id = %org.id, member_id = %member.id, groups = ?up.groups, "single sign-on: no group maps to a role");
                return Ok(Err(Failure::NoRole));
            }
        }
    } else {
        mapped
    };
    let mut current = member.roles.clone();
    current.sort();
    let changed = current != roles;
    if changed {
        // The last active admin keeps the role whatever the groups say, so
        // the organization is never left without one; decided inside the
        // store's transaction, as when admins change roles.
        let done = store
            .change_member_roles(&org.id, &member.id, &roles, "admin", now)
            .await
            .map_err(store_error)?;
        if done != keyhouse_store::RolesChange::Done {
            tracing::warn!(organization_id = %org.id, member_id = %member.id, groups = ?up.groups, outcome = ?done, "single sign-on: the groups would remove the last admin; roles kept");
            return Ok(Ok(member));
        }
    }
    // Grants the new roles no longer cover end now (as when an admin
    // changes the roles).
    let policy = kh.rbac().await?;
    let permissions = policy.permissions_of(&roles);
    let (policy_ref, permissions_ref) = (&policy, &permissions);
    let revoked = kh
        .revoke_families_where(&org.id, Some(&member.id), |f| async move {
            !f.scopes
                .iter()
                .all(|s| policy_ref.grantable(permissions_ref, s))
        })
        .await?;
    if !changed {
        // Revoked again on every sign-in, so a revocation cut short by a
        // failure the last time is finished now.
        return Ok(Ok(member));
    }
    tracing::info!(organization_id = %org.id, member_id = %member.id, ?roles, revoked, "roles set from the provider's groups");
    kh.audit(
        "sso",
        "organization.member_roles_from_sso",
        None,
        serde_json::json!({
            "organization_id": org.id,
            "member_id": member.id,
            "email": member.email,
            "roles": roles,
            "groups": up.groups,
        }),
    )
    .await;
    let mut member = member;
    member.roles = roles;
    Ok(Ok(member))
}

/// The refusal of a sign-in other than single sign-on into an
/// organization that requires it (docs/threat-model.md row 183).
pub(crate) fn sso_required(org: &Organization) -> OAuthError {
    OAuthError::new(
        ErrorCode::SsoRequired,
        format!(
            "{} signs its members in through its own identity provider: use single sign-on",
            org.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_a_string_or_a_list_of_strings() {
        let jwt = |claims: serde_json::Value| {
            format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()))
        };
        assert_eq!(
            groups_of(&jwt(serde_json::json!({"groups": ["a", 3, "b"]})), "groups"),
            vec!["a", "b"]
        );
        assert_eq!(
            groups_of(&jwt(serde_json::json!({"team": "x"})), "team"),
            vec!["x"]
        );
        assert!(groups_of(&jwt(serde_json::json!({"groups": {"a": 1}})), "groups").is_empty());
        assert!(groups_of("not a jwt", "groups").is_empty());
    }

    #[test]
    fn issuers_are_https_urls_without_query() {
        assert!(checked_issuer("https://idp.example.com").is_ok());
        assert!(checked_issuer("https://login.example.com/tenant/v2.0").is_ok());
        for bad in [
            "http://idp.example.com",
            "https://idp.example.com/?a=b",
            "https://u@idp.example.com",
            "idp.example.com",
        ] {
            assert!(checked_issuer(bad).is_err(), "{bad}");
        }
    }
}
