//! B2B: member sessions (bound to one organization), password login into an
//! organization, discovery for an email in several organizations, the
//! organization settings API, and the [`MemberCaller`] extractor for an app's
//! organization-scoped APIs.

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhouse_core::claims::OrganizationClaim;
use keyhouse_core::rbac::{self, Policy};
use keyhouse_core::{ErrorCode, OAuthError, ScopeSet, secret};
use keyhouse_store::{Member, Organization, SessionRecord};
use keyhouse_types::b2b::{
    ConnectedAppsSettings, DiscoveryRequest, DiscoveryResponse, DiscoverySelectRequest, MemberInfo,
    MemberLoginRequest, MemberSessionResponse, OrganizationSettings, Permission, SetRolesRequest,
};
use keyhouse_types::{OrganizationSummary, SessionUser};

use crate::client_ip::ClientIp;
use crate::error::{ApiError, BearerError, store_error};
use crate::session::{self, read_cookie, set_named_cookie, with_cookie};
use crate::{AccessToken, Keyhouse, TokenSubject};

/// How long a discovery token lets the user pick an organization, seconds.
const DISCOVERY_TTL: i64 = 600;
/// At most this many organizations are offered for one email.
const DISCOVERY_MAX: u64 = 20;

/// The signed-in member of a browser request.
#[derive(Debug, Clone)]
pub struct CurrentMember {
    /// The session.
    pub session: SessionRecord,
    /// The member.
    pub member: Member,
    /// Their organization.
    pub organization: Organization,
    /// What their roles allow.
    pub permissions: Vec<Permission>,
}

impl CurrentMember {
    /// Whether the member's roles allow `action` on `resource`.
    pub fn can(&self, resource: &str, action: &str) -> bool {
        rbac::allows(&self.permissions, resource, action)
    }

    fn require(&self, resource: &str, action: &str) -> Result<(), ApiError> {
        if self.can(resource, action) {
            return Ok(());
        }
        Err(OAuthError::new(
            ErrorCode::AccessDenied,
            format!("your role does not allow {action} on {resource}"),
        )
        .into())
    }

    fn response(&self) -> MemberSessionResponse {
        MemberSessionResponse {
            member: member_info(&self.member),
            organization: summary(&self.organization),
            permissions: self.permissions.clone(),
            authenticated_at: self.session.auth_time,
            expires_at: self.session.expires_at,
        }
    }

    /// The member as the consent screen shows them.
    pub(crate) fn user(&self) -> SessionUser {
        SessionUser {
            user_id: self.member.id.clone(),
            email: self.member.email.clone(),
            name: self.member.name.clone(),
        }
    }
}

/// An organization as pages name it.
pub fn summary(o: &Organization) -> OrganizationSummary {
    OrganizationSummary {
        organization_id: o.id.clone(),
        slug: o.slug.clone(),
        name: o.name.clone(),
    }
}

/// A member as the API shows it (never the password hash).
pub fn member_info(m: &Member) -> MemberInfo {
    MemberInfo {
        member_id: m.id.clone(),
        email: m.email.clone(),
        name: m.name.clone(),
        roles: m.roles.clone(),
        status: m.status.clone(),
    }
}

pub(crate) fn member_cookie_name(kh: &Keyhouse) -> &'static str {
    if kh.config().secure_cookies() {
        "__Host-keyhouse_member_session"
    } else {
        "keyhouse_member_session"
    }
}

impl Keyhouse {
    /// Revokes the live token families of an organization (of one member
    /// when `member_id` is given) for which `refused` answers true; returns
    /// how many.
    pub(crate) async fn revoke_families_where<F, Fut>(
        &self,
        organization_id: &str,
        member_id: Option<&str>,
        refused: F,
    ) -> Result<usize, OAuthError>
    where
        F: Fn(keyhouse_store::FamilyRecord) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let now = self.now();
        let families = self
            .store()
            .live_families_in_organization(organization_id, member_id, now)
            .await
            .map_err(store_error)?;
        let mut revoked = 0;
        for f in families {
            let id = f.id.clone();
            if refused(f).await {
                self.store()
                    .revoke_family(&id, now)
                    .await
                    .map_err(store_error)?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// The RBAC policy (roles and custom scopes), read from the store.
    pub async fn rbac(&self) -> Result<Policy, OAuthError> {
        let (roles, scopes) = self.store().rbac_policy().await.map_err(store_error)?;
        Ok(Policy { roles, scopes })
    }

    /// The `organization` claim for tokens of a grant made in `org_id`.
    pub(crate) async fn organization_claim(
        &self,
        org_id: Option<&str>,
    ) -> Result<Option<OrganizationClaim>, OAuthError> {
        let Some(id) = org_id else { return Ok(None) };
        let org = self
            .store()
            .find_organization(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| OAuthError::invalid_grant("the organization no longer exists"))?;
        Ok(Some(OrganizationClaim {
            organization_id: org.id,
            slug: org.slug,
        }))
    }

    /// The live member session of a request with these headers, if any.
    pub async fn member_session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<CurrentMember>, OAuthError> {
        let Some(token) = read_cookie(headers, member_cookie_name(self)) else {
            return Ok(None);
        };
        let store = self.store();
        let Some(session) = store
            .find_session(&secret::hash_token(token), self.now())
            .await
            .map_err(store_error)?
            .filter(|s| s.subject_kind == "member")
        else {
            return Ok(None);
        };
        let member = store
            .find_member(&session.subject_id)
            .await
            .map_err(store_error)?
            .filter(|m| {
                m.is_active() && Some(&m.organization_id) == session.organization_id.as_ref()
            });
        let Some(member) = member else {
            return Ok(None);
        };
        let Some(organization) = store
            .find_organization(&member.organization_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let permissions = self.rbac().await?.permissions_of(&member.roles);
        Ok(Some(CurrentMember {
            session,
            member,
            organization,
            permissions,
        }))
    }

    /// Starts a member session (a new id every time: docs/threat-model.md row 26).
    async fn start_member_session(
        &self,
        member: Member,
        organization: Organization,
        old: Option<&str>,
    ) -> Result<(CurrentMember, HeaderValue), OAuthError> {
        let new = session::NewSession {
            kind: "member",
            subject_id: &member.id,
            organization_id: Some(&organization.id),
            cookie: member_cookie_name(self),
        };
        let (session, cookie) = session::issue_session(self, new, old).await?;
        let permissions = self.rbac().await?.permissions_of(&member.roles);
        tracing::info!(member_id = %member.id, organization_id = %organization.id, "member signed in");
        Ok((
            CurrentMember {
                session,
                member,
                organization,
                permissions,
            },
            cookie,
        ))
    }

    /// A discovery token: proof that the password matched these member
    /// records, until `exp`. HMAC under the deployment's secret key.
    /// A sealed discovery token for `member_ids`, bound to the browser that
    /// holds `binding` (a random value sent to it as a cookie) and naming a
    /// fresh id so it can be used once (docs/threat-model.md row 50).
    fn discovery_token(&self, member_ids: &[String], exp: i64, binding: &str) -> String {
        let jti = secret::generate_id("disc", &mut rand::rng());
        let payload = URL_SAFE_NO_PAD.encode(format!(
            "{exp}|{jti}|{}|{}",
            secret::hash_token(binding),
            member_ids.join(",")
        ));
        let mac = secret::hash_client_secret(&self.0.secret_key, &format!("discovery:{payload}"));
        format!("{payload}.{mac}")
    }

    /// The token's id and member ids, if it is ours, unexpired and bound to
    /// `binding`.
    fn check_discovery_token(&self, token: &str, binding: &str) -> Option<(String, Vec<String>)> {
        let (payload, mac) = token.split_once('.')?;
        let expected =
            secret::hash_client_secret(&self.0.secret_key, &format!("discovery:{payload}"));
        if !secret::hashes_equal(&expected, mac) {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let mut parts = raw.splitn(4, '|');
        let (exp, jti, bound, ids) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if exp.parse::<i64>().ok()? <= self.now() {
            return None;
        }
        if !secret::hashes_equal(&secret::hash_token(binding), bound) {
            return None;
        }
        Some((jti.to_owned(), ids.split(',').map(str::to_owned).collect()))
    }
}

impl<S> FromRequestParts<S> for CurrentMember
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kh = Keyhouse::from_ref(state);
        kh.member_session(&parts.headers).await?.ok_or_else(|| {
            ApiError(OAuthError::new(
                ErrorCode::SessionRequired,
                "sign in to your organization first",
            ))
        })
    }
}

fn signed_in(res: CurrentMember, cookie: HeaderValue) -> Response {
    with_cookie(Json(res.response()).into_response(), cookie)
}

/// `GET /api/b2b/session`.
pub(crate) async fn current(member: CurrentMember) -> Json<MemberSessionResponse> {
    Json(member.response())
}

/// `POST /api/b2b/session/login`: email and password into one organization.
pub(crate) async fn login(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<MemberLoginRequest>,
) -> Result<Response, ApiError> {
    let org = kh
        .store()
        .find_organization_by_slug(req.organization_slug.trim())
        .await
        .map_err(store_error)?;
    let org_id = org.as_ref().map(|o| o.id.clone());
    let (kh_ref, org_ref, password) = (&kh, &org_id, &req.password);
    let member = session::throttled(&kh, &req.email, ip, |email| async move {
        let (kh, org_id) = (kh_ref, org_ref);
        let found = match (&org_id, &email) {
            (Some(o), Some(e)) => kh
                .store()
                .find_member_by_email(o, e)
                .await
                .map_err(store_error)?
                .filter(Member::is_active),
            _ => None,
        };
        let phc = found.as_ref().map(|m| m.password_hash.clone());
        let ok = session::verify_password(kh, password, phc).await;
        Ok(found.filter(|_| ok))
    })
    .await?;
    let org = org.ok_or_else(|| OAuthError::server("organization vanished during login"))?;
    let old = read_cookie(&headers, member_cookie_name(&kh)).map(str::to_owned);
    let (res, cookie) = kh.start_member_session(member, org, old.as_deref()).await?;
    Ok(signed_in(res, cookie))
}

/// `POST /api/b2b/discovery`: the organizations where these credentials
/// belong to an active member. No match answers like a wrong password.
///
/// Exactly one password hash is checked per request, whatever the number of
/// memberships, so the answer's timing does not tell how many organizations
/// an address belongs to (docs/threat-model.md row 59). Memberships of one
/// address share a credential when they were created with the same password
/// (see `Keyhouse::create_member`); discovery proves the first membership's
/// credential and lists every membership holding that same one. A
/// membership with a password of its own is reached through its
/// organization's own sign-in.
pub(crate) async fn discovery(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    Json(req): Json<DiscoveryRequest>,
) -> Result<Response, ApiError> {
    let (kh_ref, password) = (&kh, &req.password);
    let matched = session::throttled(&kh, &req.email, ip, |email| async move {
        let kh = kh_ref;
        let candidates = match &email {
            Some(e) => kh
                .store()
                .members_with_email(e, DISCOVERY_MAX)
                .await
                .map_err(store_error)?,
            None => Vec::new(),
        };
        let Some(first) = candidates.first() else {
            // Same work as a real check: no timing difference for unknown emails.
            session::verify_password(kh, password, None).await;
            return Ok(None);
        };
        let credential = first.password_hash.clone();
        if !session::verify_password(kh, password, Some(credential.clone())).await {
            return Ok(None);
        }
        Ok(Some(
            candidates
                .into_iter()
                .filter(|m| m.password_hash == credential)
                .collect::<Vec<_>>(),
        ))
    })
    .await?;
    let mut organizations = Vec::new();
    for m in &matched {
        if let Some(o) = kh
            .store()
            .find_organization(&m.organization_id)
            .await
            .map_err(store_error)?
        {
            organizations.push(summary(&o));
        }
    }
    organizations.sort_by_key(|o| o.name.to_lowercase());
    let ids: Vec<String> = matched.into_iter().map(|m| m.id).collect();
    let binding = secret::generate_token(&mut rand::rng());
    let cookie = set_named_cookie(&kh, discovery_cookie_name(&kh), &binding, DISCOVERY_TTL)
        .ok_or_else(|| OAuthError::server("cookie header"))?;
    let body = DiscoveryResponse {
        organizations,
        discovery_token: kh.discovery_token(&ids, kh.now() + DISCOVERY_TTL, &binding),
    };
    Ok(with_cookie(Json(body).into_response(), cookie))
}

fn discovery_cookie_name(kh: &Keyhouse) -> &'static str {
    if kh.config().secure_cookies() {
        "__Host-keyhouse_discovery"
    } else {
        "keyhouse_discovery"
    }
}

/// `POST /api/b2b/discovery/select`: signs in to one discovered organization.
pub(crate) async fn discovery_select(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    Json(req): Json<DiscoverySelectRequest>,
) -> Result<Response, ApiError> {
    let expired = || {
        OAuthError::new(
            ErrorCode::InvalidCredentials,
            "the sign-in has expired; enter your email and password again",
        )
    };
    // docs/threat-model.md row 50: only the browser that proved the
    // password, and only once.
    let binding = read_cookie(&headers, discovery_cookie_name(&kh)).unwrap_or("");
    let (jti, ids) = kh
        .check_discovery_token(&req.discovery_token, binding)
        .ok_or_else(expired)?;
    let uses = kh
        .store()
        .hit(&format!("discovery:{jti}"), DISCOVERY_TTL, kh.now())
        .await
        .map_err(store_error)?;
    if uses > 1 {
        tracing::warn!(%jti, "discovery token presented again");
        return Err(expired().into());
    }
    let org = kh
        .store()
        .find_organization_by_slug(&req.organization_slug)
        .await
        .map_err(store_error)?
        .ok_or_else(expired)?;
    let mut chosen = None;
    for id in &ids {
        if let Some(m) = kh.store().find_member(id).await.map_err(store_error)?
            && m.organization_id == org.id
            && m.is_active()
        {
            chosen = Some(m);
            break;
        }
    }
    let member = chosen.ok_or_else(expired)?;
    let old = read_cookie(&headers, member_cookie_name(&kh)).map(str::to_owned);
    let (res, cookie) = kh.start_member_session(member, org, old.as_deref()).await?;
    Ok(signed_in(res, cookie))
}

/// `POST /api/b2b/session/logout`.
pub(crate) async fn logout(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = read_cookie(&headers, member_cookie_name(&kh)) {
        kh.store()
            .delete_session(&secret::hash_token(token))
            .await
            .map_err(store_error)?;
    }
    let cookie = set_named_cookie(&kh, member_cookie_name(&kh), "", 0)
        .ok_or_else(|| OAuthError::server("cookie header"))?;
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), cookie))
}

/// `GET /api/b2b/organization` (needs `organization:read`).
pub(crate) async fn organization(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
) -> Result<Json<OrganizationSettings>, ApiError> {
    me.require("organization", "read")?;
    let policy = kh.rbac().await?;
    let members = kh
        .store()
        .list_members(&me.organization.id)
        .await
        .map_err(store_error)?;
    Ok(Json(OrganizationSettings {
        organization: summary(&me.organization),
        connected_apps: me.organization.connected_apps.clone(),
        roles: policy.roles,
        scopes: policy.scopes,
        members: members.iter().map(member_info).collect(),
    }))
}

/// `PUT /api/b2b/organization/connected-apps` (needs `organization:update`).
/// Every client on an allow-list must exist.
pub(crate) async fn set_connected_apps(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Json(mut settings): Json<ConnectedAppsSettings>,
) -> Result<Json<ConnectedAppsSettings>, ApiError> {
    me.require("organization", "update")?;
    for list in [
        &mut settings.first_party.allowed_client_ids,
        &mut settings.third_party.allowed_client_ids,
    ] {
        list.iter_mut().for_each(|c| *c = c.trim().to_owned());
        list.retain(|c| !c.is_empty());
        list.sort();
        list.dedup();
        if list.len() > 100 {
            return Err(OAuthError::invalid_request("at most 100 clients per allow-list").into());
        }
        for id in list.iter() {
            if kh.client(id).await?.is_none() {
                return Err(OAuthError::invalid_request(format!("no client {id}")).into());
            }
        }
    }
    kh.store()
        .set_connected_apps(&me.organization.id, &settings, kh.now())
        .await
        .map_err(store_error)?;
    tracing::info!(organization_id = %me.organization.id, member_id = %me.member.id, ?settings, "connected apps settings changed");
    // docs/threat-model.md row 47: the apps the new policy refuses lose
    // their grants in this organization at once.
    let (kh_ref, settings_ref) = (&kh, &settings);
    let revoked = kh
        .revoke_families_where(&me.organization.id, None, |f| async move {
            match kh_ref.client(&f.client_id).await {
                Ok(Some(c)) => !settings_ref.allows(&c.id, c.client_type),
                Ok(None) => true,
                // Unknown answer: keep the grant; refresh checks again.
                Err(_) => false,
            }
        })
        .await?;
    if revoked > 0 {
        tracing::info!(organization_id = %me.organization.id, revoked, "grants of apps the organization now refuses revoked");
    }
    Ok(Json(settings))
}

/// `PUT /api/b2b/members/{member_id}/roles` (needs `members:update`). An
/// organization always keeps at least one admin.
pub(crate) async fn set_member_roles(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Path(member_id): Path<String>,
    Json(req): Json<SetRolesRequest>,
) -> Result<Json<MemberInfo>, ApiError> {
    me.require("members", "update")?;
    let policy = kh.rbac().await?;
    let mut roles = req.roles;
    roles.sort();
    roles.dedup();
    if !policy.knows_roles(&roles) {
        return Err(OAuthError::invalid_request("unknown role").into());
    }
    let members = kh
        .store()
        .list_members(&me.organization.id)
        .await
        .map_err(store_error)?;
    let target = members.iter().find(|m| m.id == member_id).ok_or_else(|| {
        OAuthError::new(ErrorCode::NotFound, "no such member in this organization")
    })?;
    let is_admin = |r: &[String]| r.iter().any(|x| x == "admin");
    let admins = members
        .iter()
        .filter(|m| m.is_active() && is_admin(&m.roles))
        .count();
    if is_admin(&target.roles) && !is_admin(&roles) && admins <= 1 {
        return Err(OAuthError::new(
            ErrorCode::Conflict,
            "the organization needs at least one admin",
        )
        .into());
    }
    kh.store()
        .set_member_roles(&target.id, &roles, kh.now())
        .await
        .map_err(store_error)?;
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, member_id = %target.id, ?roles, "member roles changed");
    // docs/threat-model.md row 47: grants the new roles no longer cover end
    // now, access tokens included, not at their next refresh.
    let permissions = policy.permissions_of(&roles);
    let (policy, permissions) = (&policy, &permissions);
    let revoked = kh
        .revoke_families_where(&me.organization.id, Some(&target.id), |f| async move {
            !f.scopes.iter().all(|s| policy.grantable(permissions, s))
        })
        .await?;
    if revoked > 0 {
        tracing::info!(member_id = %target.id, revoked, "grants beyond the new roles revoked");
    }
    let mut updated = target.clone();
    updated.roles = roles;
    Ok(Json(member_info(&updated)))
}

/// Who calls one of the app's organization APIs: a member in the browser
/// (the member session cookie), or a client acting for a member with an
/// access token that carries the `organization` claim. Either way the
/// request is bounded by the member's *current* roles in that organization;
/// a token is further bounded by its scopes.
#[derive(Debug, Clone)]
pub enum MemberCaller {
    /// The member, in the browser.
    Session(Box<CurrentMember>),
    /// A client acting for a member.
    Token {
        /// The verified token.
        token: Box<AccessToken>,
        /// The member it acts for (checked active, same organization).
        member: Box<Member>,
        /// What the member's roles allow now.
        permissions: Vec<Permission>,
        /// The policy, to map scopes to permissions.
        policy: Box<Policy>,
    },
}

impl MemberCaller {
    /// The organization the request acts in.
    pub fn organization_id(&self) -> &str {
        match self {
            MemberCaller::Session(s) => &s.organization.id,
            MemberCaller::Token { member, .. } => &member.organization_id,
        }
    }

    /// The member the request acts for.
    pub fn member_id(&self) -> &str {
        match self {
            MemberCaller::Session(s) => &s.member.id,
            MemberCaller::Token { member, .. } => &member.id,
        }
    }

    /// The client acting for the member, if any.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            MemberCaller::Session(_) => None,
            MemberCaller::Token { token, .. } => Some(&token.claims.client_id),
        }
    }

    /// 403 unless `action` on `resource` is allowed: by the member's roles,
    /// and for a token also by a granted scope (`insufficient_scope` names
    /// the scope that would carry it).
    pub fn require(&self, resource: &str, action: &str) -> Result<(), BearerError> {
        let metadata = match self {
            MemberCaller::Token { token, .. } => token.resource_metadata.clone(),
            MemberCaller::Session(_) => None,
        };
        let denied = |e: ErrorCode, d: String| {
            BearerError::refused(e, d).with_resource_metadata(metadata.as_deref())
        };
        match self {
            MemberCaller::Session(s) if s.can(resource, action) => Ok(()),
            MemberCaller::Session(_) => Err(denied(
                ErrorCode::AccessDenied,
                format!("your role does not allow {action} on {resource}"),
            )),
            MemberCaller::Token {
                token,
                permissions,
                policy,
                ..
            } => {
                let scopes =
                    ScopeSet::from_tokens(token.claims.scope.split(' ').filter(|s| !s.is_empty()));
                if policy.token_allows(permissions, &scopes, resource, action) {
                    return Ok(());
                }
                let carrier = policy
                    .scopes
                    .iter()
                    .find(|s| rbac::allows(&s.permissions, resource, action))
                    .map(|s| s.scope.clone());
                Err(match carrier {
                    Some(scope) => BearerError::insufficient(&scope)
                        .with_resource_metadata(metadata.as_deref()),
                    None => denied(
                        ErrorCode::InsufficientScope,
                        format!("no scope allows {action} on {resource}"),
                    ),
                })
            }
        }
    }
}

impl<S> FromRequestParts<S> for MemberCaller
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kh = Keyhouse::from_ref(state);
        let unavailable = |e: OAuthError| BearerError::unavailable(e.to_string());
        if parts.headers.contains_key(AUTHORIZATION) {
            let token = AccessToken::from_request_parts(parts, state).await?;
            let TokenSubject::Member {
                member_id,
                organization_id,
            } = token.subject()
            else {
                return Err(BearerError::invalid(
                    "this API needs a token issued for a member of an organization",
                ));
            };
            let member = kh
                .store()
                .find_member(member_id)
                .await
                .map_err(|e| unavailable(store_error(e)))?
                .filter(|m| m.is_active() && m.organization_id == organization_id)
                .ok_or_else(|| {
                    BearerError::invalid("the member no longer belongs to the organization")
                })?;
            let policy = kh.rbac().await.map_err(unavailable)?;
            let permissions = policy.permissions_of(&member.roles);
            return Ok(MemberCaller::Token {
                token: Box::new(token),
                member: Box::new(member),
                permissions,
                policy: Box::new(policy),
            });
        }
        let me = kh
            .member_session(&parts.headers)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                BearerError::missing().with_resource_metadata(kh.metadata_for(parts).as_deref())
            })?;
        if !session::same_origin_or_safe(&kh, &parts.method, &parts.headers) {
            return Err(BearerError::refused(
                ErrorCode::CsrfDetected,
                "cross-site request refused".to_owned(),
            ));
        }
        Ok(MemberCaller::Session(Box::new(me)))
    }
}
