//! An organization's own settings, for its members: the organization, which
//! Connected Apps it allows, what it asks of members' sign-in, and members'
//! roles.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use keyhouse_core::{ErrorCode, OAuthError, assurance};
use keyhouse_types::OrganizationSummary;
use keyhouse_types::b2b::{
    ConnectedAppsSettings, DeleteOrganizationRequest, MemberInfo, OrganizationLogo,
    OrganizationProfile, OrganizationSettings, RequiredSignIn, SetRolesRequest, SignInPolicy,
};

use keyhouse_store::FactorHolder;

use crate::Keyhouse;
use crate::accounts::second_factor::{Holder, notify};
use crate::b2b::{CurrentMember, member_info, summary};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::json::JsonBody;

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
        required_sign_in: me.organization.required_sign_in,
        roles: policy.roles,
        scopes: policy.scopes,
        members: members.iter().map(member_info).collect(),
        logo_uri: me.organization.logo_uri.clone(),
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

/// `PUT /api/b2b/organization/sign-in` (needs `organization:update`):
/// what the organization asks of its members' sign-in. Asking for two
/// factors takes an admin who used them (so the admin is not the first
/// one locked out), and revokes at once every grant a member gave an app
/// from a weaker sign-in: their tokens stop working on the next call, and
/// the apps ask again, through the second step.
pub(crate) async fn set_sign_in(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<SignInPolicy>,
) -> Result<Json<SignInPolicy>, ApiError> {
    me.require("organization", "update")?;
    let required = req.required_sign_in;
    if required == RequiredSignIn::Passkey && !kh.members_have_passkeys() {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "passkeys need the service at a domain name (https, or http://localhost); they cannot be required here",
        )
        .into());
    }
    let demand = crate::b2b::required_level(required);
    if !assurance::satisfies(&me.session.amr, demand) {
        let refusal = match required {
            RequiredSignIn::Passkey => OAuthError::new(
                ErrorCode::PasskeyRequired,
                "add a passkey for yourself, and sign in with it, before asking it of everyone",
            ),
            _ => OAuthError::new(
                ErrorCode::SecondFactorRequired,
                "turn two-step verification on for yourself, and sign in with it, before asking it of everyone",
            ),
        };
        return Err(refusal.into());
    }
    kh.require_sign_in(
        &me.organization.id,
        required,
        &format!("member:{}", me.member.id),
    )
    .await?;
    Ok(Json(SignInPolicy {
        required_sign_in: required,
    }))
}

/// `PUT /api/b2b/members/{member_id}/roles` (needs `members:update`). An
/// organization always keeps at least one admin.
pub(crate) async fn set_member_roles(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Path(member_id): Path<String>,
    JsonBody(req): JsonBody<SetRolesRequest>,
) -> Result<Json<MemberInfo>, ApiError> {
    me.require("members", "update")?;
    let policy = kh.rbac().await?;
    let mut roles = req.roles;
    roles.sort();
    roles.dedup();
    if !policy.knows_roles(&roles) {
        return Err(OAuthError::invalid_request("unknown role").into());
    }
    // docs/threat-model.md row 175: nobody gives roles above their own.
    if !keyhouse_core::rbac::covers(&me.permissions, &policy.permissions_of(&roles)) {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "you can only give roles whose permissions you hold yourself",
        )
        .into());
    }
    let members = kh
        .store()
        .list_members(&me.organization.id)
        .await
        .map_err(store_error)?;
    let target = members.iter().find(|m| m.id == member_id).ok_or_else(|| {
        OAuthError::new(ErrorCode::NotFound, "no such member in this organization")
    })?;
    // The last-admin rule is decided inside the store's transaction, so
    // two admins demoting each other at once leave one (row 173).
    let changed = kh
        .store()
        .change_member_roles(&me.organization.id, &target.id, &roles, "admin", kh.now())
        .await
        .map_err(store_error)?;
    match changed {
        keyhouse_store::RolesChange::Done => {}
        keyhouse_store::RolesChange::NotFound => {
            return Err(OAuthError::new(
                ErrorCode::NotFound,
                "no such member in this organization",
            )
            .into());
        }
        keyhouse_store::RolesChange::LastAdmin => {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "the organization needs at least one admin",
            )
            .into());
        }
    }
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

/// `POST /api/b2b/members/{member_id}/turn-off-two-step` (needs
/// `members:update`): an admin turns another member's two-step
/// verification off, for one who lost the authenticator app and every
/// recovery code. The member is mailed and the action audited; where the
/// organization requires two factors, the member sets up a new app at the
/// next visit. An admin's own goes through their own settings (with the
/// password and a session that used it).
pub(crate) async fn turn_off_member_two_step(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(member_id): Path<String>,
) -> Result<Json<MemberInfo>, ApiError> {
    me.require("members", "update")?;
    let target = kh
        .store()
        .find_member(&member_id)
        .await
        .map_err(store_error)?
        .filter(|m| m.organization_id == me.organization.id && m.is_active())
        .ok_or_else(|| {
            OAuthError::new(ErrorCode::NotFound, "no such member in this organization")
        })?;
    if target.id == me.member.id {
        return Err(OAuthError::new(
            ErrorCode::Conflict,
            "turn your own two-step verification off on your membership page",
        )
        .into());
    }
    let holder = Holder::Member(&target, &me.organization.name);
    let was_on = kh
        .store()
        .disable_totp(FactorHolder::Member(&target.id), kh.now())
        .await
        .map_err(store_error)?;
    if was_on {
        tracing::info!(organization_id = %me.organization.id, by = %me.member.id, member_id = %target.id, "a member's two-step verification turned off by an admin");
        let what = format!(
            "Two-step verification was turned off by an administrator of {}",
            me.organization.name
        );
        notify(&kh, holder, ip, &headers, &what);
        kh.audit(
            &format!("member:{}", me.member.id),
            "organization.member_second_factor_removed",
            None,
            serde_json::json!({
                "organization_id": me.organization.id,
                "member_id": target.id,
            }),
        )
        .await;
    }
    let mut updated = target.clone();
    updated.totp_secret = None;
    updated.totp_enabled_at = None;
    updated.totp_last_step = None;
    Ok(Json(member_info(&updated)))
}

impl Keyhouse {
    /// Whether members can have passkeys here (the issuer is at a domain
    /// name: browsers refuse an address as a relying party).
    pub(crate) fn members_have_passkeys(&self) -> bool {
        crate::accounts::passkeys::relying_party(self).is_ok()
    }

    /// Sets what the organization `organization_id` asks of its members'
    /// sign-in, and revokes at once every grant in it made from a weaker
    /// sign-in (their access tokens fail on the next use, their refresh
    /// tokens at once); audited as `actor`. The number of grants revoked.
    /// The caller checks who may (an admin whose own session meets it, or
    /// an operator at the command line).
    pub async fn require_sign_in(
        &self,
        organization_id: &str,
        required: RequiredSignIn,
        actor: &str,
    ) -> Result<usize, OAuthError> {
        let set = self
            .store()
            .set_required_sign_in(organization_id, required, self.now())
            .await
            .map_err(store_error)?;
        if !set {
            return Err(OAuthError::new(
                ErrorCode::NotFound,
                "the organization no longer exists",
            ));
        }
        tracing::info!(%organization_id, %actor, required = required.as_str(), "organization sign-in policy changed");
        let demand = crate::b2b::required_level(required);
        let revoked = self
            .revoke_families_where(organization_id, None, |f| async move {
                !assurance::satisfies(&f.amr, demand)
            })
            .await?;
        if revoked > 0 {
            tracing::info!(%organization_id, revoked, "grants from sign-ins weaker than the policy revoked");
        }
        self.audit(
            actor,
            "organization.sign_in_policy_changed",
            None,
            serde_json::json!({
                "organization_id": organization_id,
                "required_sign_in": required.as_str(),
                "grants_revoked": revoked,
            }),
        )
        .await;
        Ok(revoked)
    }
}

/// `PUT /api/b2b/organization/profile` (needs `organization:update`): the
/// organization's name and slug. Links and sign-ins naming the old slug
/// fail from then on with "no such organization"; tokens issued before
/// still carry the old slug in their `organization` claim until they
/// expire (its `organization_id` does not change).
pub(crate) async fn set_profile(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<OrganizationProfile>,
) -> Result<Json<OrganizationSummary>, ApiError> {
    me.require("organization", "update")?;
    let slug = req.slug.trim().to_owned();
    let name = crate::b2b::manage::check_name_and_slug(&req.name, &slug)?.to_owned();
    let renamed = kh
        .store()
        .rename_organization(&me.organization.id, &name, &slug, kh.now())
        .await
        .map_err(|e| match e {
            keyhouse_store::StoreError::Conflict => {
                OAuthError::new(ErrorCode::Conflict, "another organization has this slug")
            }
            other => store_error(other),
        })?;
    if !renamed {
        return Err(
            OAuthError::new(ErrorCode::NotFound, "the organization no longer exists").into(),
        );
    }
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, %slug, "organization renamed");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.renamed",
        None,
        serde_json::json!({
            "organization_id": me.organization.id,
            "name": name,
            "slug": slug,
            "previous_name": me.organization.name,
            "previous_slug": me.organization.slug,
        }),
    )
    .await;
    Ok(Json(OrganizationSummary {
        organization_id: me.organization.id.clone(),
        slug,
        name,
        logo_url: logo_url(&me.organization),
    }))
}

/// `POST /api/b2b/organization/delete` (needs `organization:delete`, and
/// the slug typed again): the organization goes, with every member, their
/// sessions, and every grant and token given to apps in it.
pub(crate) async fn delete(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<DeleteOrganizationRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    me.require("organization", "delete")?;
    if req.confirm_slug.trim() != me.organization.slug {
        return Err(
            OAuthError::invalid_request("type the organization's slug exactly to confirm").into(),
        );
    }
    let deleted = kh
        .store()
        .delete_organization(&me.organization.id, kh.now())
        .await
        .map_err(store_error)?
        .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "the organization no longer exists"))?;
    if deleted.sessions > 0 {
        kh.deliver_logout_notices_later();
    }
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, members = deleted.members, grants = deleted.grants, "organization deleted");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.deleted",
        None,
        serde_json::json!({
            "organization_id": me.organization.id,
            "slug": me.organization.slug,
            "members_removed": deleted.members,
            "sessions_ended": deleted.sessions,
            "grants_revoked": deleted.grants,
        }),
    )
    .await;
    Ok(Json(serde_json::json!({
        "members": deleted.members,
        "sessions": deleted.sessions,
        "grants": deleted.grants,
    })))
}

/// Where Keyhouse serves `org`'s logo: a path on its own origin that
/// changes with the logo's URL (browsers may keep an old one an hour).
pub(crate) fn logo_url(org: &keyhouse_store::Organization) -> Option<String> {
    let uri = org.logo_uri.as_deref()?;
    let version = keyhouse_core::secret::hash_token(uri);
    Some(format!(
        "/api/b2b/organizations/{}/logo?v={}",
        org.id,
        &version[..12.min(version.len())]
    ))
}

/// `PUT /api/b2b/organization/logo` (needs `organization:update`): sets
/// the https URL of the organization's logo, or removes it. Keyhouse
/// fetches it now, through the guarded fetcher, and refuses a URL whose
/// answer is not a PNG, JPEG, GIF or WebP image (docs/threat-model.md
/// row 187).
pub(crate) async fn set_logo(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<OrganizationLogo>,
) -> Result<Json<OrganizationSummary>, ApiError> {
    me.require("organization", "update")?;
    let uri = req
        .logo_uri
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if let Some(u) = uri {
        let ok = u.len() <= 2_000 && url::Url::parse(u).is_ok_and(|u| u.scheme() == "https");
        if !ok {
            return Err(OAuthError::invalid_request("the logo must be an https URL").into());
        }
        if kh.logo(u).await.is_none() {
            tracing::info!(organization_id = %me.organization.id, logo_uri = %u, "organization logo refused");
            return Err(OAuthError::invalid_request(
                "no PNG, JPEG, GIF or WebP image could be fetched from this URL",
            )
            .into());
        }
    }
    let found = kh
        .store()
        .set_organization_logo(&me.organization.id, uri, kh.now())
        .await
        .map_err(store_error)?;
    if !found {
        return Err(
            OAuthError::new(ErrorCode::NotFound, "the organization no longer exists").into(),
        );
    }
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, set = uri.is_some(), "organization logo changed");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.logo_changed",
        None,
        serde_json::json!({"organization_id": me.organization.id, "logo_uri": uri}),
    )
    .await;
    let mut org = me.organization.clone();
    org.logo_uri = uri.map(str::to_owned);
    Ok(Json(summary(&org)))
}

/// `GET /api/b2b/organizations/{organization_id}/logo`: the organization's
/// logo as Keyhouse fetched it, from Keyhouse's origin, or 404.
pub(crate) async fn serve_logo(
    State(kh): State<Keyhouse>,
    Path(organization_id): Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let org = kh.store().find_organization(&organization_id).await;
    let Some(uri) = org.ok().flatten().and_then(|o| o.logo_uri) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    crate::agents::logos::image_response(kh.logo(&uri).await)
}
