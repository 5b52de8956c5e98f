//! An organization's members over their lifetime: invitations (created,
//! mailed again, revoked, accepted once), deactivation, reactivation and
//! removal. Every change that ends a member's access does it in the same
//! transaction: their sessions end, their grants go and every token family
//! issued to them is revoked, so an app's access token is refused on its
//! next check, not at its next refresh (decision 0037).

use keyhouse_types::SubjectKind;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::account::sessions_of_subject;
use crate::entities::{
    invitation, member, organization, passkey, recovery_code, webauthn_ceremony,
};
use crate::{Member, Result, Store, StoreError, StoredPasskey};

/// An invitation into an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// Stable id (`invite-…`).
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// The invited address, lower-cased.
    pub email: String,
    /// The roles the member gets.
    pub roles: Vec<String>,
    /// Who invited (`member:<id>` or `operator`).
    pub invited_by: String,
    /// Created (unix seconds).
    pub created_at: i64,
    /// When the current link was mailed.
    pub sent_at: i64,
    /// When the current link stops working.
    pub expires_at: i64,
    /// When it was accepted.
    pub accepted_at: Option<i64>,
    /// The member accepting created.
    pub member_id: Option<String>,
    /// When an admin revoked it.
    pub revoked_at: Option<i64>,
}

impl Invitation {
    /// Neither accepted nor revoked (it may have expired: it can be sent
    /// again).
    pub fn is_open(&self) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none()
    }

    /// Whether its link still works at `now`.
    pub fn is_usable(&self, now: i64) -> bool {
        self.is_open() && self.expires_at > now
    }
}

/// A new invitation, with the hash of its link's token.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The invitation.
    pub invitation: Invitation,
    /// SHA-256 of the link's token.
    pub token_hash: String,
}

/// Why an invitation was not created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteRefusal {
    /// The address is a member of the organization already.
    AlreadyMember,
    /// An open, unexpired invitation for the address exists.
    AlreadyInvited,
}

/// What accepting an invitation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// The member was created.
    Member(Box<Member>),
    /// The link was unknown, spent, revoked or expired (nothing written).
    Invalid,
    /// The address became a member some other way meanwhile (nothing
    /// written; the invitation stays open).
    AlreadyMember,
    /// The passkey to create the member with is registered already
    /// (nothing written; the invitation stays open).
    PasskeyTaken,
}

/// A change to a member's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// May sign in again (their apps stay disconnected).
    Reactivate,
    /// May not sign in; kept, with their roles, to be reactivated.
    Deactivate,
    /// Gone from the organization.
    Remove,
}

/// What a change to a member's standing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandingChange {
    /// Done: how many sessions ended and grants went.
    Done {
        /// Sessions signed out.
        sessions: u64,
        /// Grants removed (their token families revoked).
        grants: u64,
    },
    /// No such member in the organization (nothing written).
    NotFound,
    /// The member is the organization's last active admin (nothing written).
    LastAdmin,
}

/// What changing a member's roles did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolesChange {
    /// The roles are the new ones.
    Done,
    /// No such member in the organization (nothing written).
    NotFound,
    /// The change would take the admin role from the organization's last
    /// active admin (nothing written).
    LastAdmin,
}

fn roles_of(raw: &str) -> Result<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("invitations.roles: {e}")))
}

fn invitation_of(m: invitation::Model) -> Result<Invitation> {
    Ok(Invitation {
        roles: roles_of(&m.roles)?,
        id: m.id,
        organization_id: m.organization_id,
        email: m.email,
        invited_by: m.invited_by,
        created_at: m.created_at,
        sent_at: m.sent_at,
        expires_at: m.expires_at,
        accepted_at: m.accepted_at,
        member_id: m.member_id,
        revoked_at: m.revoked_at,
    })
}

/// Inside `txn`: touches the organization's row, so that concurrent changes
/// to its members' standing or roles take turns (a row lock on PostgreSQL;
/// SQLite's writer is one at a time already). Whether it exists.
async fn lock_organization(txn: &DatabaseTransaction, org_id: &str, now: i64) -> Result<bool> {
    Ok(organization::Entity::update_many()
        .col_expr(organization::Column::UpdatedAt, Expr::value(now))
        .filter(organization::Column::Id.eq(org_id))
        .exec(txn)
        .await?
        .rows_affected
        == 1)
}

/// Inside `txn`: whether `member_id` is the only active member of the
/// organization holding `admin_role`.
async fn is_last_admin(
    txn: &DatabaseTransaction,
    org_id: &str,
    member_id: &str,
    admin_role: &str,
) -> Result<bool> {
    let active = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(org_id))
        .filter(member::Column::Status.eq("active"))
        .all(txn)
        .await?;
    let holds = |m: &member::Model| {
        serde_json::from_str::<Vec<String>>(&m.roles)
            .map(|r| r.iter().any(|x| x == admin_role))
            .unwrap_or(false)
    };
    let target_counts = active.iter().any(|m| m.id == member_id && holds(m));
    let others = active
        .iter()
        .filter(|m| m.id != member_id && holds(m))
        .count();
    Ok(target_counts && others == 0)
}

impl Store {
    /// Replaces a member's roles, in a transaction that takes the
    /// organization's turn (as standing changes do): refused when it would
    /// take `admin_role` from the organization's last active holder, so
    /// two admins demoting each other at once leave one (docs/threat-model.md
    /// row 173).
    pub async fn change_member_roles(
        &self,
        org_id: &str,
        member_id: &str,
        roles: &[String],
        admin_role: &str,
        now: i64,
    ) -> Result<RolesChange> {
        let txn = self.begin_write().await?;
        if !lock_organization(&txn, org_id, now).await? {
            txn.rollback().await?;
            return Ok(RolesChange::NotFound);
        }
        let this = Condition::all()
            .add(member::Column::Id.eq(member_id))
            .add(member::Column::OrganizationId.eq(org_id));
        if member::Entity::find()
            .filter(this.clone())
            .one(&*txn)
            .await?
            .is_none()
        {
            txn.rollback().await?;
            return Ok(RolesChange::NotFound);
        }
        if !roles.iter().any(|r| r == admin_role)
            && is_last_admin(&txn, org_id, member_id, admin_role).await?
        {
            txn.rollback().await?;
            return Ok(RolesChange::LastAdmin);
        }
        member::Entity::update_many()
            .col_expr(
                member::Column::Roles,
                Expr::value(crate::orgs::to_json(&roles)),
            )
            .col_expr(member::Column::UpdatedAt, Expr::value(now))
            .filter(this)
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(RolesChange::Done)
    }

    /// Creates an invitation, unless the address is a member already or has
    /// an open invitation that has not expired (an expired one is revoked
    /// and replaced). One transaction.
    pub async fn create_invitation(
        &self,
        new: &NewInvitation,
    ) -> Result<std::result::Result<(), InviteRefusal>> {
        let i = &new.invitation;
        let txn = self.begin_write().await?;
        if !lock_organization(&txn, &i.organization_id, i.created_at).await? {
            txn.rollback().await?;
            return Err(StoreError::Corrupt("no such organization".into()));
        }
        let member = member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&i.organization_id))
            .filter(member::Column::Email.eq(&i.email))
            .one(&*txn)
            .await?;
        if member.is_some() {
            txn.rollback().await?;
            return Ok(Err(InviteRefusal::AlreadyMember));
        }
        let open = |q: sea_orm::Select<invitation::Entity>| {
            q.filter(invitation::Column::OrganizationId.eq(&i.organization_id))
                .filter(invitation::Column::Email.eq(&i.email))
                .filter(invitation::Column::AcceptedAt.is_null())
                .filter(invitation::Column::RevokedAt.is_null())
        };
        let pending = open(invitation::Entity::find())
            .filter(invitation::Column::ExpiresAt.gt(i.created_at))
            .one(&*txn)
            .await?;
        if pending.is_some() {
            txn.rollback().await?;
            return Ok(Err(InviteRefusal::AlreadyInvited));
        }
        invitation::Entity::update_many()
            .col_expr(invitation::Column::RevokedAt, Expr::value(i.created_at))
            .filter(invitation::Column::OrganizationId.eq(&i.organization_id))
            .filter(invitation::Column::Email.eq(&i.email))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .exec(&*txn)
            .await?;
        invitation::Entity::insert(invitation::ActiveModel {
            id: Set(i.id.clone()),
            organization_id: Set(i.organization_id.clone()),
            email: Set(i.email.clone()),
            roles: Set(serde_json::to_string(&i.roles).unwrap_or_else(|_| "[]".into())),
            invited_by: Set(i.invited_by.clone()),
            token_hash: Set(new.token_hash.clone()),
            created_at: Set(i.created_at),
            sent_at: Set(i.sent_at),
            expires_at: Set(i.expires_at),
            accepted_at: Set(None),
            member_id: Set(None),
            revoked_at: Set(None),
        })
        .exec_without_returning(&*txn)
        .await?;
        txn.commit().await?;
        Ok(Ok(()))
    }

    /// An organization's invitations that are neither accepted nor revoked
    /// (expired ones included, to be sent again), newest first.
    pub async fn open_invitations(&self, org_id: &str) -> Result<Vec<Invitation>> {
        invitation::Entity::find()
            .filter(invitation::Column::OrganizationId.eq(org_id))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .order_by_desc(invitation::Column::CreatedAt)
            .order_by_desc(invitation::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(invitation_of)
            .collect()
    }

    /// One invitation of an organization.
    pub async fn find_invitation(&self, org_id: &str, id: &str) -> Result<Option<Invitation>> {
        invitation::Entity::find_by_id(id.to_owned())
            .filter(invitation::Column::OrganizationId.eq(org_id))
            .one(&self.db)
            .await?
            .map(invitation_of)
            .transpose()
    }

    /// The invitation a link's token hash names, whatever its state.
    pub async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>> {
        invitation::Entity::find()
            .filter(invitation::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await?
            .map(invitation_of)
            .transpose()
    }

    /// Mails an open invitation again: a new token (the earlier link stops
    /// working) and a new expiry. Whether it was open.
    pub async fn resend_invitation(
        &self,
        org_id: &str,
        id: &str,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        Ok(invitation::Entity::update_many()
            .col_expr(invitation::Column::TokenHash, Expr::value(token_hash))
            .col_expr(invitation::Column::SentAt, Expr::value(now))
            .col_expr(invitation::Column::ExpiresAt, Expr::value(expires_at))
            .filter(invitation::Column::Id.eq(id))
            .filter(invitation::Column::OrganizationId.eq(org_id))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Revokes an open invitation: its link stops working. Whether it was
    /// open.
    pub async fn revoke_invitation(&self, org_id: &str, id: &str, now: i64) -> Result<bool> {
        let _lane = self.lane().await;
        Ok(invitation::Entity::update_many()
            .col_expr(invitation::Column::RevokedAt, Expr::value(now))
            .filter(invitation::Column::Id.eq(id))
            .filter(invitation::Column::OrganizationId.eq(org_id))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Accepts the invitation whose link hashes to `token_hash`, creating
    /// `member` (its organization, address and roles are the invitation's)
    /// and, when given, the passkey it signs in with, in one transaction.
    /// A conditional update spends the invitation, so of
    /// two acceptances of one link exactly one creates a member.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        mut member: Member,
        passkey: Option<&StoredPasskey>,
        now: i64,
    ) -> Result<Accepted> {
        let txn = self.begin_write().await?;
        let Some(found) = invitation::Entity::find()
            .filter(invitation::Column::TokenHash.eq(token_hash))
            .one(&*txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(Accepted::Invalid);
        };
        let spent = invitation::Entity::update_many()
            .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
            .col_expr(invitation::Column::MemberId, Expr::value(member.id.clone()))
            .filter(invitation::Column::Id.eq(&found.id))
            .filter(invitation::Column::TokenHash.eq(token_hash))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(now))
            .exec(&*txn)
            .await?
            .rows_affected;
        if spent != 1 {
            txn.rollback().await?;
            return Ok(Accepted::Invalid);
        }
        member.organization_id = found.organization_id.clone();
        member.email = found.email.clone();
        member.roles = roles_of(&found.roles)?;
        member.status = "active".to_owned();
        member.updated_at = now;
        let inserted = member::Entity::insert(member::ActiveModel {
            id: Set(member.id.clone()),
            organization_id: Set(member.organization_id.clone()),
            email: Set(member.email.clone()),
            name: Set(member.name.clone()),
            password_hash: Set(member.password_hash.clone()),
            roles: Set(found.roles.clone()),
            status: Set(member.status.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            totp_secret: Set(None),
            totp_enabled_at: Set(None),
            totp_last_step: Set(None),
        })
        .exec_without_returning(&*txn)
        .await
        .map_err(StoreError::from_insert);
        match inserted {
            Ok(_) => {}
            Err(StoreError::Conflict) => {
                txn.rollback().await?;
                return Ok(Accepted::AlreadyMember);
            }
            Err(e) => {
                txn.rollback().await?;
                return Err(e);
            }
        }
        // The member's first credential, in the same transaction: a
        // member is never left without the passkey they accepted with.
        if let Some(p) = passkey {
            let added = passkey::Entity::insert(passkey::ActiveModel {
                credential_id: Set(p.credential_id.clone()),
                user_id: Set(member.id.clone()),
                user_handle: Set(p.user_handle.clone()),
                name: Set(p.name.clone()),
                credential: Set(p.credential.clone()),
                created_at: Set(p.created_at),
                last_used_at: Set(p.last_used_at),
            })
            .exec_without_returning(&*txn)
            .await
            .map_err(StoreError::from_insert);
            match added {
                Ok(_) => {}
                Err(StoreError::Conflict) => {
                    txn.rollback().await?;
                    return Ok(Accepted::PasskeyTaken);
                }
                Err(e) => {
                    txn.rollback().await?;
                    return Err(e);
                }
            }
        }
        txn.commit().await?;
        Ok(Accepted::Member(Box::new(member)))
    }

    /// Changes a member's standing in one transaction. Deactivating or
    /// removing ends their sessions, removes their grants (revoking every
    /// token family issued to them) and their unredeemed codes; removing
    /// also deletes the member with their passkeys and recovery codes.
    /// Refused for the last active holder of `admin_role`.
    pub async fn change_standing(
        &self,
        org_id: &str,
        member_id: &str,
        change: Standing,
        admin_role: &str,
        now: i64,
    ) -> Result<StandingChange> {
        let txn = self.begin_write().await?;
        if !lock_organization(&txn, org_id, now).await? {
            txn.rollback().await?;
            return Ok(StandingChange::NotFound);
        }
        let exists = member::Entity::find_by_id(member_id.to_owned())
            .filter(member::Column::OrganizationId.eq(org_id))
            .one(&*txn)
            .await?;
        if exists.is_none() {
            txn.rollback().await?;
            return Ok(StandingChange::NotFound);
        }
        if change != Standing::Reactivate
            && is_last_admin(&txn, org_id, member_id, admin_role).await?
        {
            txn.rollback().await?;
            return Ok(StandingChange::LastAdmin);
        }
        let this = Condition::all()
            .add(member::Column::Id.eq(member_id))
            .add(member::Column::OrganizationId.eq(org_id));
        let (mut sessions, mut grants) = (0, 0);
        if change != Standing::Reactivate {
            sessions = crate::logout::end_sessions(
                &*txn,
                sessions_of_subject(SubjectKind::Member, member_id),
                now,
            )
            .await?;
            grants = crate::admin::revoke_grants_on(&txn, member_id, None, now).await?;
        }
        match change {
            Standing::Reactivate | Standing::Deactivate => {
                let status = if change == Standing::Reactivate {
                    "active"
                } else {
                    "deactivated"
                };
                member::Entity::update_many()
                    .col_expr(member::Column::Status, Expr::value(status))
                    .col_expr(member::Column::UpdatedAt, Expr::value(now))
                    .filter(this)
                    .exec(&*txn)
                    .await?;
            }
            Standing::Remove => {
                passkey::Entity::delete_many()
                    .filter(passkey::Column::UserId.eq(member_id))
                    .exec(&*txn)
                    .await?;
                webauthn_ceremony::Entity::delete_many()
                    .filter(webauthn_ceremony::Column::UserId.eq(member_id))
                    .exec(&*txn)
                    .await?;
                recovery_code::Entity::delete_many()
                    .filter(recovery_code::Column::UserId.eq(member_id))
                    .exec(&*txn)
                    .await?;
                crate::sso::unlink_member(&*txn, member_id).await?;
                member::Entity::delete_many()
                    .filter(this)
                    .exec(&*txn)
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(StandingChange::Done { sessions, grants })
    }
}

/// What deleting an organization removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeletedOrganization {
    /// Members removed.
    pub members: u64,
    /// Sessions signed out.
    pub sessions: u64,
    /// Grants removed (their token families revoked).
    pub grants: u64,
}

impl Store {
    /// Renames an organization and changes its slug. `Conflict` when the
    /// slug is another organization's; whether it exists.
    pub async fn rename_organization(
        &self,
        org_id: &str,
        name: &str,
        slug: &str,
        now: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        let res = organization::Entity::update_many()
            .col_expr(organization::Column::Name, Expr::value(name))
            .col_expr(organization::Column::Slug, Expr::value(slug))
            .col_expr(organization::Column::UpdatedAt, Expr::value(now))
            .filter(organization::Column::Id.eq(org_id))
            .exec(&self.db)
            .await
            .map_err(StoreError::from_insert)?;
        Ok(res.rows_affected == 1)
    }

    /// Deletes an organization in one transaction: every member's sessions
    /// end and grants go (every token family issued in the organization is
    /// revoked, its unredeemed codes deleted), then its members with their
    /// passkeys and recovery codes, its invitations, and the organization.
    /// The audit log keeps its events. `None` when there is no such
    /// organization (nothing written).
    pub async fn delete_organization(
        &self,
        org_id: &str,
        now: i64,
    ) -> Result<Option<DeletedOrganization>> {
        let txn = self.begin_write().await?;
        if !lock_organization(&txn, org_id, now).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        let members: Vec<String> = member::Entity::find()
            .filter(member::Column::OrganizationId.eq(org_id))
            .all(&*txn)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect();
        let mut done = DeletedOrganization {
            members: members.len() as u64,
            ..Default::default()
        };
        for id in &members {
            done.sessions += crate::logout::end_sessions(
                &*txn,
                sessions_of_subject(SubjectKind::Member, id),
                now,
            )
            .await?;
            done.grants += crate::admin::revoke_grants_on(&txn, id, None, now).await?;
            passkey::Entity::delete_many()
                .filter(passkey::Column::UserId.eq(id))
                .exec(&*txn)
                .await?;
            webauthn_ceremony::Entity::delete_many()
                .filter(webauthn_ceremony::Column::UserId.eq(id))
                .exec(&*txn)
                .await?;
            recovery_code::Entity::delete_many()
                .filter(recovery_code::Column::UserId.eq(id))
                .exec(&*txn)
                .await?;
        }
        // Whatever else was issued in it (families of members already gone).
        crate::entities::token_family::Entity::update_many()
            .col_expr(
                crate::entities::token_family::Column::RevokedAt,
                Expr::value(now),
            )
            .filter(crate::entities::token_family::Column::OrganizationId.eq(org_id))
            .filter(crate::entities::token_family::Column::RevokedAt.is_null())
            .exec(&*txn)
            .await?;
        member::Entity::delete_many()
            .filter(member::Column::OrganizationId.eq(org_id))
            .exec(&*txn)
            .await?;
        invitation::Entity::delete_many()
            .filter(invitation::Column::OrganizationId.eq(org_id))
            .exec(&*txn)
            .await?;
        crate::entities::organization_domain::Entity::delete_many()
            .filter(crate::entities::organization_domain::Column::OrganizationId.eq(org_id))
            .exec(&*txn)
            .await?;
        crate::sso::delete_organization_sso(&*txn, org_id).await?;
        organization::Entity::delete_many()
            .filter(organization::Column::Id.eq(org_id))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(Some(done))
    }
}

/// Inside the purge: invitations that ended (accepted, revoked or expired)
/// more than 30 days ago go.
pub(crate) async fn purge_invitations(db: &sea_orm::DatabaseConnection, now: i64) -> Result<u64> {
    let before = now - 30 * 86_400;
    Ok(invitation::Entity::delete_many()
        .filter(
            Condition::any()
                .add(invitation::Column::AcceptedAt.lte(before))
                .add(invitation::Column::RevokedAt.lte(before))
                .add(invitation::Column::ExpiresAt.lte(before)),
        )
        .exec(db)
        .await?
        .rows_affected)
}

/// An e-mail domain an organization claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationDomain {
    /// The domain, lower-case.
    pub domain: String,
    /// The organization.
    pub organization_id: String,
    /// Claimed (unix seconds).
    pub created_at: i64,
    /// When an operator verified it.
    pub verified_at: Option<i64>,
}

fn domain_of(m: crate::entities::organization_domain::Model) -> OrganizationDomain {
    OrganizationDomain {
        domain: m.domain,
        organization_id: m.organization_id,
        created_at: m.created_at,
        verified_at: m.verified_at,
    }
}

impl Store {
    /// Claims `domain` for an organization (unverified). `Conflict` when
    /// an organization claims it already.
    pub async fn add_domain(&self, org_id: &str, domain: &str, now: i64) -> Result<()> {
        use crate::entities::organization_domain as d;
        let _lane = self.lane().await;
        d::Entity::insert(d::ActiveModel {
            domain: Set(domain.to_owned()),
            organization_id: Set(org_id.to_owned()),
            created_at: Set(now),
            verified_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Gives up an organization's claim on `domain`. Whether it had one.
    pub async fn remove_domain(&self, org_id: &str, domain: &str) -> Result<bool> {
        use crate::entities::organization_domain as d;
        let _lane = self.lane().await;
        Ok(d::Entity::delete_many()
            .filter(d::Column::Domain.eq(domain))
            .filter(d::Column::OrganizationId.eq(org_id))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Marks an organization's claim on `domain` verified (an operator
    /// checked it). Whether the organization claims it.
    pub async fn verify_domain(&self, org_id: &str, domain: &str, now: i64) -> Result<bool> {
        use crate::entities::organization_domain as d;
        let _lane = self.lane().await;
        Ok(d::Entity::update_many()
            .col_expr(d::Column::VerifiedAt, Expr::value(now))
            .filter(d::Column::Domain.eq(domain))
            .filter(d::Column::OrganizationId.eq(org_id))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// An organization's domains, by name.
    pub async fn domains_of(&self, org_id: &str) -> Result<Vec<OrganizationDomain>> {
        use crate::entities::organization_domain as d;
        Ok(d::Entity::find()
            .filter(d::Column::OrganizationId.eq(org_id))
            .order_by_asc(d::Column::Domain)
            .all(&self.db)
            .await?
            .into_iter()
            .map(domain_of)
            .collect())
    }

    /// The organization a person with an address at `domain` may join
    /// (the domain verified, and the organization letting people join by
    /// it), if any.
    pub async fn joinable_by_domain(&self, domain: &str) -> Result<Option<crate::Organization>> {
        use crate::entities::organization_domain as d;
        let Some(claim) = d::Entity::find_by_id(domain.to_owned())
            .filter(d::Column::VerifiedAt.is_not_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .find_organization(&claim.organization_id)
            .await?
            .filter(|o| o.jit_role.is_some()))
    }

    /// Sets the role of people who join an organization by their address's
    /// domain (`None`: nobody joins that way). Whether it exists.
    pub async fn set_jit_role(&self, org_id: &str, role: Option<&str>, now: i64) -> Result<bool> {
        let _lane = self.lane().await;
        Ok(organization::Entity::update_many()
            .col_expr(
                organization::Column::JitRole,
                Expr::value(role.map(str::to_owned)),
            )
            .col_expr(organization::Column::UpdatedAt, Expr::value(now))
            .filter(organization::Column::Id.eq(org_id))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Whether `email` has a member record (in any state) in an
    /// organization.
    pub async fn has_member_record(&self, org_id: &str, email: &str) -> Result<bool> {
        Ok(member::Entity::find()
            .filter(member::Column::OrganizationId.eq(org_id))
            .filter(member::Column::Email.eq(email))
            .one(&self.db)
            .await?
            .is_some())
    }
}
