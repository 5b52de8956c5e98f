//! B2B: member sessions (bound to one organization), password login into an
//! organization, discovery for an email in several organizations, the
//! organization settings API, and the [`MemberCaller`](crate::MemberCaller) extractor for an app's
//! organization-scoped APIs.

pub(crate) mod domains;
pub(crate) mod email;
pub(crate) mod manage;
pub(crate) mod members;
pub(crate) mod organization;
pub(crate) mod passkeys;
pub(crate) mod second_factor;
pub(crate) mod session;
pub(crate) mod sso;
pub(crate) mod switch;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use keyhouse_core::assurance::amr;
use keyhouse_core::claims::OrganizationClaim;
use keyhouse_core::rbac::{self, Policy};
use keyhouse_core::{ErrorCode, OAuthError, assurance};
use keyhouse_store::{Member, Organization, SessionRecord};
use keyhouse_types::b2b::{MemberInfo, MemberSessionResponse, Permission, RequiredSignIn};
use keyhouse_types::{OrganizationSummary, SessionUser};

use crate::Keyhouse;
use crate::error::{ApiError, store_error};

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

    /// Whether this session's sign-in is as strong as the organization
    /// asks (its `required_sign_in`).
    pub fn meets_policy(&self) -> bool {
        // docs/threat-model.md row 183: once single sign-on is required,
        // sessions opened otherwise stop serving.
        if opened_around_sso(&self.organization, &self.session.amr) {
            return false;
        }
        assurance::satisfies(
            &self.session.amr,
            required_level(self.organization.required_sign_in),
        )
    }

    /// Why a session that does not meet the organization's policy is
    /// refused: where passkeys are asked for, to sign in with one
    /// (`passkey_required`); else a member with an authenticator app is
    /// asked for a code (`second_factor_required`), one without to turn it
    /// on (`second_factor_setup_required`).
    pub(crate) fn policy_refusal(&self) -> OAuthError {
        if opened_around_sso(&self.organization, &self.session.amr) {
            return sso::sso_required(&self.organization);
        }
        if self.organization.required_sign_in == RequiredSignIn::Passkey {
            return OAuthError::new(
                ErrorCode::PasskeyRequired,
                format!(
                    "{} asks every member to sign in with a passkey: sign in with one, or add one first",
                    self.organization.name
                ),
            );
        }
        match self.member.has_second_factor() {
            true => OAuthError::new(
                ErrorCode::SecondFactorRequired,
                format!(
                    "{} asks for two-step verification: enter the code from your authenticator app",
                    self.organization.name
                ),
            ),
            false => OAuthError::new(
                ErrorCode::SecondFactorSetupRequired,
                format!(
                    "{} asks every member to use two-step verification: turn it on first",
                    self.organization.name
                ),
            ),
        }
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
            amr: self.session.amr.clone(),
            second_factor: self.member.has_second_factor(),
            required_sign_in: self.organization.required_sign_in,
            sso_required: self.organization.sso_required,
        }
    }

    /// The member as the consent screen shows them.
    pub(crate) fn user(&self) -> SessionUser {
        SessionUser {
            user_id: self.member.id.clone(),
            email: self.member.email.clone(),
            name: self.member.name.clone(),
            email_verified: false,
            has_password: true,
            second_factor: self.member.has_second_factor(),
        }
    }
}

/// The sign-in strength an organization's requirement asks of its
/// members, if any.
pub(crate) fn required_level(required: RequiredSignIn) -> Option<assurance::Level> {
    match required {
        RequiredSignIn::OneFactor => None,
        RequiredSignIn::TwoFactors => Some(assurance::Level::TwoFactors),
        RequiredSignIn::Passkey => Some(assurance::Level::PhishingResistant),
    }
}

/// An organization as pages name it.
pub(crate) fn summary(o: &Organization) -> OrganizationSummary {
    OrganizationSummary {
        organization_id: o.id.clone(),
        slug: o.slug.clone(),
        name: o.name.clone(),
        logo_url: organization::logo_url(o),
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
        second_factor: m.has_second_factor(),
        has_password: !m.password_hash.is_empty(),
    }
}

impl<S> FromRequestParts<S> for CurrentMember
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AnyMember(me) = AnyMember::from_request_parts(parts, state).await?;
        if !me.meets_policy() {
            tracing::info!(member_id = %me.member.id, organization_id = %me.organization.id, amr = ?me.session.amr, "member request refused: the sign-in is weaker than the organization asks");
            return Err(me.policy_refusal().into());
        }
        Ok(me)
    }
}

/// Whether a session that signed in with `amr` was opened around the
/// organization's required single sign-on (before it was required, or
/// another way): such a session serves nothing but saying who it is and
/// signing out (docs/threat-model.md row 183).
pub(crate) fn opened_around_sso(organization: &Organization, amr: &[String]) -> bool {
    organization.sso_required && !amr.iter().any(|a| a == amr::FED)
}

/// The refusal of a request without a member session.
pub(crate) fn session_required() -> ApiError {
    ApiError(OAuthError::new(
        ErrorCode::SessionRequired,
        "sign in to your organization first",
    ))
}

/// A signed-in member, whether or not the sign-in is as strong as the
/// organization asks: for what such a member may still do (turn two-step
/// verification on or use it, add a passkey, switch). Everything else
/// takes [`CurrentMember`], which refuses them. A session opened around
/// the organization's required single sign-on is refused here too.
#[derive(Debug, Clone)]
pub(crate) struct AnyMember(pub(crate) CurrentMember);

impl<S> FromRequestParts<S> for AnyMember
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kh = Keyhouse::from_ref(state);
        let me = kh
            .member_session(&parts.headers)
            .await?
            .ok_or_else(session_required)?;
        if opened_around_sso(&me.organization, &me.session.amr) {
            tracing::info!(member_id = %me.member.id, "refused: the session was opened around the organization's single sign-on");
            return Err(sso::sso_required(&me.organization).into());
        }
        Ok(AnyMember(me))
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
}

/// The member session API, discovery, and the organization settings API.
pub(crate) fn routes() -> Router<Keyhouse> {
    Router::new()
        .route("/api/b2b/session", get(session::current))
        .route("/api/b2b/session/login", post(session::login))
        .route("/api/b2b/session/logout", post(session::logout))
        .route(
            "/api/b2b/session/second-factor",
            post(second_factor::verify),
        )
        .route("/api/b2b/member/second-factor", get(second_factor::status))
        .route(
            "/api/b2b/member/second-factor/setup",
            post(second_factor::setup),
        )
        .route(
            "/api/b2b/member/second-factor/enable",
            post(second_factor::enable),
        )
        .route(
            "/api/b2b/member/second-factor/disable",
            post(second_factor::disable),
        )
        .route(
            "/api/b2b/member/second-factor/recovery-codes",
            post(second_factor::new_recovery_codes),
        )
        .route(
            "/api/b2b/member/passkeys",
            get(passkeys::list).post(passkeys::add),
        )
        .route(
            "/api/b2b/member/passkeys/options",
            post(passkeys::registration_options),
        )
        .route(
            "/api/b2b/member/passkeys/{id}/remove",
            post(passkeys::remove),
        )
        .route("/api/b2b/session/passkey", post(passkeys::sign_in))
        .route(
            "/api/b2b/session/passkey/options",
            post(crate::accounts::passkeys::sign_in_options),
        )
        .route("/api/b2b/discovery", post(session::discovery))
        .route("/api/b2b/discovery/select", post(session::discovery_select))
        .route("/api/b2b/discovery/email", post(email::email_login))
        .route("/api/b2b/discovery/email/code", post(email::email_code))
        .route("/api/b2b/discovery/email/link", post(email::email_link))
        .route("/api/b2b/organization", get(organization::organization))
        .route(
            "/api/b2b/organization/connected-apps",
            put(organization::set_connected_apps),
        )
        .route(
            "/api/b2b/organization/sign-in",
            put(organization::set_sign_in),
        )
        .route(
            "/api/b2b/members/{member_id}/roles",
            put(organization::set_member_roles),
        )
        .route(
            "/api/b2b/members/{member_id}/turn-off-two-step",
            post(organization::turn_off_member_two_step),
        )
        .route(
            "/api/b2b/members/{member_id}/deactivate",
            post(members::deactivate),
        )
        .route(
            "/api/b2b/members/{member_id}/reactivate",
            post(members::reactivate),
        )
        .route("/api/b2b/members/{member_id}/remove", post(members::remove))
        .route(
            "/api/b2b/invitations",
            get(members::list).post(members::invite),
        )
        .route("/api/b2b/invitations/{id}/resend", post(members::resend))
        .route("/api/b2b/invitations/{id}/revoke", post(members::revoke))
        .route("/api/b2b/invitation", post(members::preview))
        .route("/api/b2b/invitation/accept", post(members::accept))
        .route(
            "/api/b2b/invitation/passkey/options",
            post(members::passkey_options),
        )
        .route("/api/b2b/audit", get(members::audit_log))
        .route("/api/b2b/organization/logo", put(organization::set_logo))
        .route(
            "/api/b2b/organizations/{organization_id}/logo",
            get(organization::serve_logo),
        )
        .route(
            "/api/b2b/organization/profile",
            put(organization::set_profile),
        )
        .route("/api/b2b/organization/delete", post(organization::delete))
        .route(
            "/api/b2b/organization/domains",
            get(domains::list).post(domains::add),
        )
        .route(
            "/api/b2b/organization/domains/{domain}/remove",
            post(domains::remove),
        )
        .route("/api/b2b/organization/jit", put(domains::set_jit))
        .route("/api/b2b/session/organizations", get(switch::list))
        .route("/api/b2b/session/switch", post(switch::switch))
        .route(
            "/api/b2b/organization/sso",
            get(sso::settings).put(sso::put_connection),
        )
        .route(
            "/api/b2b/organization/sso/remove",
            post(sso::remove_connection),
        )
        .route("/api/b2b/organization/sso/required", put(sso::set_required))
        .route("/api/b2b/sso/start", get(sso::start))
        .route(
            "/api/b2b/sso/callback/{organization_id}",
            get(sso::callback),
        )
}
