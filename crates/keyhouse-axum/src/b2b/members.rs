//! An organization's admins manage its members themselves: invitations by
//! mail (sent, sent again, revoked, accepted once), deactivation,
//! reactivation and removal, and the organization's own audit log.
//!
//! Ending a member's access (deactivation, removal) ends it everywhere at
//! once: their sessions, their grants, and every token family issued to
//! them, so an app's access token is refused on its next call
//! (docs/threat-model.md row 172). The organization keeps an active admin:
//! the store refuses to deactivate or remove the last one, under a lock on
//! the organization's row, so two admins removing each other cannot both
//! succeed (row 173).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use keyhouse_core::{ErrorCode, OAuthError, assurance, secret};
use keyhouse_store::{
    Accepted, Invitation, InviteRefusal, Member, NewInvitation, Standing, StandingChange,
};
use keyhouse_types::PasskeyOptions;
use keyhouse_types::admin::{AuditEvent, Page};
use keyhouse_types::b2b::{
    AcceptInvitationRequest, InvitationInfo, InvitationPreview, InvitationToken, InviteRequest,
    MemberInfo, StandingChanged,
};

use crate::Keyhouse;
use crate::accounts::passkeys::{Owner, check_registration, start_bound_registration};
use crate::accounts::second_factor::Holder;
use crate::accounts::session;
use crate::accounts::throttle::ip_within_hourly_limit;
use crate::admin::Paging;
use crate::admin::audit::audit_page;
use crate::b2b::session::member_cookie_name;
use crate::b2b::{CurrentMember, member_info, summary};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::read_cookie;
use crate::http::json::JsonBody;

/// The role the last-admin rule keeps.
const ADMIN_ROLE: &str = "admin";

/// Passkey ceremonies for invitations one IP address may start in an hour.
const INVITATION_PASSKEYS_PER_IP_PER_HOUR: i64 = 60;

fn info(i: &Invitation, now: i64) -> InvitationInfo {
    InvitationInfo {
        invitation_id: i.id.clone(),
        email: i.email.clone(),
        roles: i.roles.clone(),
        invited_by: i.invited_by.clone(),
        created_at: i.created_at,
        sent_at: i.sent_at,
        expires_at: i.expires_at,
        expired: i.expires_at <= now,
    }
}

fn no_invitation() -> ApiError {
    OAuthError::new(
        ErrorCode::NotFound,
        "no open invitation with this id in this organization",
    )
    .into()
}

fn bad_invitation() -> ApiError {
    tracing::info!("invitation refused: unknown, used, revoked or expired link");
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "this invitation is invalid, used, revoked or expired; ask the organization for a new one",
    )
    .into()
}

impl Keyhouse {
    /// Mails the invitation's link (`token`) to its address.
    fn mail_invitation(&self, i: &Invitation, token: &str, inviter: &str, organization: &str) {
        let c = self.config();
        let link = format!("{}{}?token={token}", c.issuer, c.invitation_path);
        let mut vars =
            crate::accounts::reset::security_vars(self, &i.email, "", None, &HeaderMap::new());
        vars.insert("link", link);
        vars.insert("days", (c.invitation_ttl / 86_400).max(1).to_string());
        vars.insert("organization", organization.to_owned());
        vars.insert("inviter", inviter.to_owned());
        vars.insert("roles", i.roles.join(", "));
        self.mailer()
            .send_later(i.email.clone(), "invitation", vars);
    }
}

/// `GET /api/b2b/invitations` (needs `members:read`): the open
/// invitations, newest first, expired ones included.
pub(crate) async fn list(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
) -> Result<Json<Vec<InvitationInfo>>, ApiError> {
    me.require("members", "read")?;
    let now = kh.now();
    let open = kh
        .store()
        .open_invitations(&me.organization.id)
        .await
        .map_err(store_error)?;
    Ok(Json(open.iter().map(|i| info(i, now)).collect()))
}

/// `POST /api/b2b/invitations` (needs `members:create`): invites an
/// address with roles, and mails it the link.
pub(crate) async fn invite(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<InviteRequest>,
) -> Result<Json<InvitationInfo>, ApiError> {
    me.require("members", "create")?;
    let email = crate::accounts::users::normalize_email(&req.email)
        .ok_or_else(|| OAuthError::invalid_request("enter a valid email address"))?;
    let mut roles = req.roles;
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(OAuthError::invalid_request("give the member at least one role").into());
    }
    let policy = kh.rbac().await?;
    if !policy.knows_roles(&roles) {
        return Err(OAuthError::invalid_request("unknown role").into());
    }
    // docs/threat-model.md row 175: nobody invites above themselves.
    if !keyhouse_core::rbac::covers(&me.permissions, &policy.permissions_of(&roles)) {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "you can only give roles whose permissions you hold yourself",
        )
        .into());
    }
    let now = kh.now();
    let token = secret::generate_token(&mut rand::rng());
    let invitation = Invitation {
        id: secret::generate_id("invite", &mut rand::rng()),
        organization_id: me.organization.id.clone(),
        email,
        roles,
        invited_by: format!("member:{}", me.member.id),
        created_at: now,
        sent_at: now,
        expires_at: now + kh.config().invitation_ttl,
        accepted_at: None,
        member_id: None,
        revoked_at: None,
    };
    let created = kh
        .store()
        .create_invitation(&NewInvitation {
            invitation: invitation.clone(),
            token_hash: secret::hash_token(&token),
        })
        .await
        .map_err(store_error)?;
    match created {
        Ok(()) => {}
        Err(InviteRefusal::AlreadyMember) => {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "this address is a member of the organization already",
            )
            .into());
        }
        Err(InviteRefusal::AlreadyInvited) => {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "this address has an open invitation: send it again instead",
            )
            .into());
        }
    }
    kh.mail_invitation(
        &invitation,
        &token,
        &inviter_name(&me.member),
        &me.organization.name,
    );
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, invitation_id = %invitation.id, "invitation sent");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.member_invited",
        None,
        serde_json::json!({
            "organization_id": me.organization.id,
            "invitation_id": invitation.id,
            "email": invitation.email,
            "roles": invitation.roles,
        }),
    )
    .await;
    Ok(Json(info(&invitation, now)))
}

fn inviter_name(m: &Member) -> String {
    if m.name.trim().is_empty() {
        m.email.clone()
    } else {
        format!("{} ({})", m.name.trim(), m.email)
    }
}

/// `POST /api/b2b/invitations/{id}/resend` (needs `members:create`): a new
/// link, a new expiry; the earlier link stops working.
pub(crate) async fn resend(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Path(id): Path<String>,
) -> Result<Json<InvitationInfo>, ApiError> {
    me.require("members", "create")?;
    let now = kh.now();
    let token = secret::generate_token(&mut rand::rng());
    let expires_at = now + kh.config().invitation_ttl;
    let resent = kh
        .store()
        .resend_invitation(
            &me.organization.id,
            &id,
            &secret::hash_token(&token),
            now,
            expires_at,
        )
        .await
        .map_err(store_error)?;
    let found = match resent {
        true => kh
            .store()
            .find_invitation(&me.organization.id, &id)
            .await
            .map_err(store_error)?,
        false => None,
    };
    let Some(invitation) = found else {
        return Err(no_invitation());
    };
    kh.mail_invitation(
        &invitation,
        &token,
        &inviter_name(&me.member),
        &me.organization.name,
    );
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, invitation_id = %id, "invitation sent again");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.invitation_resent",
        None,
        serde_json::json!({
            "organization_id": me.organization.id,
            "invitation_id": id,
            "email": invitation.email,
        }),
    )
    .await;
    Ok(Json(info(&invitation, now)))
}

/// `POST /api/b2b/invitations/{id}/revoke` (needs `members:create`): the
/// link stops working.
pub(crate) async fn revoke(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    me.require("members", "create")?;
    let found = kh
        .store()
        .find_invitation(&me.organization.id, &id)
        .await
        .map_err(store_error)?;
    let revoked = kh
        .store()
        .revoke_invitation(&me.organization.id, &id, kh.now())
        .await
        .map_err(store_error)?;
    let (true, Some(invitation)) = (revoked, found) else {
        return Err(no_invitation());
    };
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, invitation_id = %id, "invitation revoked");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.invitation_revoked",
        None,
        serde_json::json!({
            "organization_id": me.organization.id,
            "invitation_id": id,
            "email": invitation.email,
        }),
    )
    .await;
    Ok(Json(serde_json::json!({})))
}

/// The usable invitation a link's token names, with its organization.
async fn usable(
    kh: &Keyhouse,
    token: &str,
) -> Result<(Invitation, keyhouse_store::Organization), ApiError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 200 {
        return Err(bad_invitation());
    }
    let found = kh
        .store()
        .invitation_by_token(&secret::hash_token(token))
        .await
        .map_err(store_error)?
        .filter(|i| i.is_usable(kh.now()));
    let Some(invitation) = found else {
        return Err(bad_invitation());
    };
    let organization = kh
        .store()
        .find_organization(&invitation.organization_id)
        .await
        .map_err(store_error)?
        .ok_or_else(bad_invitation)?;
    Ok((invitation, organization))
}

/// `POST /api/b2b/invitation`: what an invitation link offers (the page
/// shows it before the person accepts). Nothing is spent.
pub(crate) async fn preview(
    State(kh): State<Keyhouse>,
    JsonBody(req): JsonBody<InvitationToken>,
) -> Result<Json<InvitationPreview>, ApiError> {
    let (invitation, organization) = usable(&kh, &req.token).await?;
    let existing = kh
        .store()
        .members_with_email(&invitation.email, 20)
        .await
        .map_err(store_error)?;
    let existing: Vec<_> = existing
        .into_iter()
        .filter(|m| !m.password_hash.is_empty())
        .collect();
    Ok(Json(InvitationPreview {
        passkeys: kh.offers_passkeys() && !organization.sso_required,
        organization: summary(&organization),
        email: invitation.email,
        roles: invitation.roles,
        expires_at: invitation.expires_at,
        existing_member: !existing.is_empty(),
    }))
}

/// The member an invitation creates, before anything is stored: its id,
/// the invitation's address, organization and roles, and `password_hash`
/// (empty for a member who signs in with a passkey).
fn new_member(kh: &Keyhouse, invitation: &Invitation, name: &str, password_hash: String) -> Member {
    let now = kh.now();
    Member {
        id: secret::generate_id("member", &mut rand::rng()),
        organization_id: invitation.organization_id.clone(),
        email: invitation.email.clone(),
        name: name.to_owned(),
        password_hash,
        roles: invitation.roles.clone(),
        status: "active".to_owned(),
        updated_at: now,
        totp_secret: None,
        totp_enabled_at: None,
        totp_last_step: None,
    }
}

/// `POST /api/b2b/invitation/passkey/options`: starts the passkey an
/// invitation is accepted with. The ceremony names the member to be
/// created and only an acceptance of this invitation can finish it.
pub(crate) async fn passkey_options(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    JsonBody(req): JsonBody<InvitationToken>,
) -> Result<Json<PasskeyOptions>, ApiError> {
    let (invitation, organization) = usable(&kh, &req.token).await?;
    if organization.sso_required {
        return Err(crate::b2b::sso::sso_required(&organization).into());
    }
    if !kh.offers_passkeys() {
        return Err(OAuthError::invalid_request("this service offers no passkeys").into());
    }
    // Each start stores a ceremony: counted per network, as sign-ins are.
    ip_within_hourly_limit(
        &kh,
        "invitation-passkey",
        ip,
        INVITATION_PASSKEYS_PER_IP_PER_HOUR,
        "invitation passkeys",
    )
    .await?;
    let future = new_member(&kh, &invitation, "", String::new());
    // Bound to this link (its token's hash): sending the invitation again
    // makes a ceremony started from the old link useless.
    let options = start_bound_registration(
        &kh,
        Holder::Member(&future, &organization.name),
        Some(&secret::hash_token(req.token.trim())),
    )
    .await?;
    tracing::info!(organization_id = %organization.id, invitation_id = %invitation.id, "invitation passkey started");
    Ok(Json(options))
}

/// `POST /api/b2b/invitation/accept`: accepts an invitation once, creating
/// the member with a password (the address's existing membership's, which
/// the two then share, or a new one) or with the passkey started for this
/// invitation, and signs them in. The mail proved the address.
pub(crate) async fn accept(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AcceptInvitationRequest>,
) -> Result<Response, ApiError> {
    if req.passkey.is_none() {
        crate::accounts::users::check_password(&req.password)?;
    } else if !req.password.is_empty() {
        return Err(OAuthError::invalid_request("a password or a passkey, not both").into());
    }
    let name = req.name.trim();
    if name.chars().count() > 100 {
        return Err(OAuthError::invalid_request("the name must be at most 100 characters").into());
    }
    // A cheap look first, so a made-up link costs no Argon2 work; the
    // store decides again when it spends the invitation.
    let (invitation, organization) = usable(&kh, &req.token).await?;
    // docs/threat-model.md row 183: no password into an organization that
    // signs its members in through its provider (they sign in there; the
    // invitation stays open until it expires).
    if organization.sso_required {
        return Err(crate::b2b::sso::sso_required(&organization).into());
    }
    let (member, passkey, amr) = match req.passkey {
        // The ceremony must be this link's (row 186); the member is the
        // one it names.
        Some(added) => {
            let link = secret::hash_token(req.token.trim());
            let stored =
                check_registration(&kh, Owner::BoundTo(&link), added, ip, &headers).await?;
            let mut member = new_member(&kh, &invitation, name, String::new());
            member.id = stored.user_id.clone();
            (member, Some(stored), assurance::passkey())
        }
        None => {
            let hash = kh
                .member_password_hash(&invitation.email, &req.password)
                .await?;
            let member = new_member(&kh, &invitation, name, hash);
            (member, None, vec![assurance::amr::PASSWORD.to_owned()])
        }
    };
    let accepted = kh
        .store()
        .accept_invitation(
            &secret::hash_token(req.token.trim()),
            member,
            passkey.as_ref(),
            kh.now(),
        )
        .await
        .map_err(store_error)?;
    let member = match accepted {
        Accepted::Member(m) => *m,
        Accepted::Invalid => return Err(bad_invitation()),
        Accepted::AlreadyMember => {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "this address is a member of the organization already: sign in instead",
            )
            .into());
        }
        Accepted::PasskeyTaken => {
            tracing::warn!(invitation_id = %invitation.id, "invitation refused: the passkey is registered already");
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "this passkey is registered already: create a new one",
            )
            .into());
        }
    };
    tracing::info!(organization_id = %organization.id, member_id = %member.id, invitation_id = %invitation.id, passkey = passkey.is_some(), "invitation accepted");
    kh.audit(
        &format!("member:{}", member.id),
        "organization.invitation_accepted",
        None,
        serde_json::json!({
            "organization_id": organization.id,
            "invitation_id": invitation.id,
            "member_id": member.id,
            "roles": member.roles,
            "with": if passkey.is_some() { "passkey" } else { "password" },
        }),
    )
    .await;
    if let Some(p) = &passkey {
        crate::accounts::passkeys::audit(
            &kh,
            Holder::Member(&member, &organization.name),
            "passkey_added",
            &p.credential_id,
        )
        .await;
    }
    let old = read_cookie(&headers, member_cookie_name(&kh)).map(str::to_owned);
    Ok(kh
        .start_member_session(
            member,
            organization,
            old.as_deref(),
            &session::Device::of(ip, &headers),
            amr,
        )
        .await?)
}

async fn change(
    kh: &Keyhouse,
    me: &CurrentMember,
    member_id: &str,
    standing: Standing,
) -> Result<StandingChanged, ApiError> {
    if member_id == me.member.id && standing != Standing::Reactivate {
        return Err(OAuthError::new(
            ErrorCode::Conflict,
            "you cannot deactivate or remove yourself; ask another admin",
        )
        .into());
    }
    let target = kh
        .store()
        .find_member(member_id)
        .await
        .map_err(store_error)?
        .filter(|m| m.organization_id == me.organization.id);
    let Some(target) = target else {
        return Err(
            OAuthError::new(ErrorCode::NotFound, "no such member in this organization").into(),
        );
    };
    let changed = kh
        .store()
        .change_standing(
            &me.organization.id,
            member_id,
            standing,
            ADMIN_ROLE,
            kh.now(),
        )
        .await
        .map_err(store_error)?;
    let (sessions, grants) = match changed {
        StandingChange::Done { sessions, grants } => (sessions, grants),
        StandingChange::NotFound => {
            return Err(OAuthError::new(
                ErrorCode::NotFound,
                "no such member in this organization",
            )
            .into());
        }
        StandingChange::LastAdmin => {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                "the organization needs at least one active admin",
            )
            .into());
        }
    };
    if sessions > 0 {
        kh.deliver_logout_notices_later();
    }
    let action = match standing {
        Standing::Reactivate => "organization.member_reactivated",
        Standing::Deactivate => "organization.member_deactivated",
        Standing::Remove => "organization.member_removed",
    };
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, member_id, sessions, grants, action, "member standing changed");
    kh.audit(
        &format!("member:{}", me.member.id),
        action,
        None,
        serde_json::json!({
            "organization_id": me.organization.id,
            "member_id": member_id,
            "email": target.email,
            "sessions_ended": sessions,
            "grants_revoked": grants,
        }),
    )
    .await;
    Ok(StandingChanged { sessions, grants })
}

/// `POST /api/b2b/members/{member_id}/deactivate` (needs `members:update`):
/// the member can no longer sign in; their sessions end and every app they
/// connected loses its access at once.
pub(crate) async fn deactivate(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Path(member_id): Path<String>,
) -> Result<Json<StandingChanged>, ApiError> {
    me.require("members", "update")?;
    Ok(Json(
        change(&kh, &me, &member_id, Standing::Deactivate).await?,
    ))
}

/// `POST /api/b2b/members/{member_id}/reactivate` (needs `members:update`):
/// the member may sign in again (apps they had connected ask again).
pub(crate) async fn reactivate(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Path(member_id): Path<String>,
) -> Result<Json<MemberInfo>, ApiError> {
    me.require("members", "update")?;
    change(&kh, &me, &member_id, Standing::Reactivate).await?;
    let member = kh
        .store()
        .find_member(&member_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no such member"))?;
    Ok(Json(member_info(&member)))
}

/// `POST /api/b2b/members/{member_id}/remove` (needs `members:delete`):
/// the member is gone, with their sessions, grants, passkeys and recovery
/// codes; every app they connected loses its access at once.
pub(crate) async fn remove(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Path(member_id): Path<String>,
) -> Result<Json<StandingChanged>, ApiError> {
    me.require("members", "delete")?;
    Ok(Json(change(&kh, &me, &member_id, Standing::Remove).await?))
}

/// `GET /api/b2b/audit` (needs `audit:read`): the organization's audit
/// log, newest first, paged like the operators' (`limit`, `cursor`).
pub(crate) async fn audit_log(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Query(paging): Query<Paging>,
) -> Result<Json<Page<AuditEvent>>, ApiError> {
    me.require("audit", "read")?;
    Ok(Json(
        audit_page(&kh, &paging, Some(&me.organization.id)).await?,
    ))
}
