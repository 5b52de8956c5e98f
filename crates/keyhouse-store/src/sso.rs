//! Single sign-on storage (decision 0038): each organization's connection
//! to its own OpenID Provider, the upstream accounts tied to members, and
//! the sign-ins under way.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::entities::{organization, organization_sso, sso_link, sso_request};
use crate::{Member, Result, Store, StoreError};

/// One upstream group and the role it gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleMapping {
    /// A value of the upstream claim.
    pub group: String,
    /// The role members with it get.
    pub role: String,
}

/// An organization's connection to its OpenID Provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoConnection {
    /// The organization.
    pub organization_id: String,
    /// The upstream issuer (what its discovery document must say).
    pub issuer: String,
    /// Keyhouse's client id there.
    pub client_id: String,
    /// The client secret, sealed with the master key.
    pub sealed_secret: String,
    /// The ID-token claim whose values [`SsoConnection::role_mappings`]
    /// read.
    pub groups_claim: String,
    /// Upstream groups to roles.
    pub role_mappings: Vec<RoleMapping>,
    /// The role of someone signing in through the connection who is not a
    /// member yet (`None`: only existing members sign in).
    pub provision_role: Option<String>,
    /// When a test of the connection last succeeded (cleared when the
    /// issuer, client or secret change).
    pub tested_at: Option<i64>,
    /// Last change.
    pub updated_at: i64,
}

/// A sign-in through the connection, between the redirect to the
/// upstream provider and its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoRequest {
    /// SHA-256 of the `state` sent upstream.
    pub state_hash: String,
    /// The organization.
    pub organization_id: String,
    /// The issuer and client the request went to.
    pub issuer: String,
    /// See `issuer`.
    pub client_id: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
    /// SHA-256 of the random value the starting browser holds in a cookie.
    pub binding_hash: String,
    /// Where the browser goes after signing in.
    pub return_to: Option<String>,
    /// The member testing the connection (nobody is signed in then).
    pub tested_by: Option<String>,
    /// The request dies then.
    pub expires_at: i64,
}

/// The id of the tie between an upstream account and a member.
fn link_id(org_id: &str, issuer: &str, subject: &str) -> String {
    // Length-prefixed, so no two triples share an input.
    keyhouse_core::secret::hash_token(&format!(
        "sso-link:{}:{org_id}{}:{issuer}{}:{subject}",
        org_id.len(),
        issuer.len(),
        subject.len()
    ))
}

fn connection_of(m: organization_sso::Model) -> Result<SsoConnection> {
    Ok(SsoConnection {
        role_mappings: serde_json::from_str(&m.role_mappings)
            .map_err(|e| StoreError::Corrupt(format!("organization_sso.role_mappings: {e}")))?,
        organization_id: m.organization_id,
        issuer: m.issuer,
        client_id: m.client_id,
        sealed_secret: m.client_secret,
        groups_claim: m.groups_claim,
        provision_role: m.provision_role,
        tested_at: m.tested_at,
        updated_at: m.updated_at,
    })
}

impl Store {
    /// An organization's SSO connection.
    pub async fn sso_connection(&self, org_id: &str) -> Result<Option<SsoConnection>> {
        organization_sso::Entity::find_by_id(org_id.to_owned())
            .one(&self.db)
            .await?
            .map(connection_of)
            .transpose()
    }

    /// Creates or replaces an organization's connection. When the issuer
    /// changes, the upstream accounts tied to its members are untied (a
    /// `sub` means nothing at another issuer). `Conflict` when the
    /// organization requires SSO and the issuer, client or secret change:
    /// it turns the requirement off first. `false` when there is no such
    /// organization (nothing written).
    pub async fn put_sso_connection(&self, c: &SsoConnection) -> Result<bool> {
        let txn = self.begin_write().await?;
        let Some(org) = organization::Entity::find_by_id(c.organization_id.clone())
            .one(&*txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(false);
        };
        let old = organization_sso::Entity::find_by_id(c.organization_id.clone())
            .one(&*txn)
            .await?;
        let same_endpoint = old.as_ref().is_some_and(|o| {
            o.issuer == c.issuer && o.client_id == c.client_id && o.client_secret == c.sealed_secret
        });
        if org.sso_required && !same_endpoint {
            txn.rollback().await?;
            return Err(StoreError::Conflict);
        }
        if old.as_ref().is_some_and(|o| o.issuer != c.issuer) {
            sso_link::Entity::delete_many()
                .filter(sso_link::Column::OrganizationId.eq(c.organization_id.as_str()))
                .exec(&*txn)
                .await?;
        }
        let model = organization_sso::ActiveModel {
            organization_id: Set(c.organization_id.clone()),
            issuer: Set(c.issuer.clone()),
            client_id: Set(c.client_id.clone()),
            client_secret: Set(c.sealed_secret.clone()),
            groups_claim: Set(c.groups_claim.clone()),
            role_mappings: Set(serde_json::to_string(&c.role_mappings)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?),
            provision_role: Set(c.provision_role.clone()),
            tested_at: Set(if same_endpoint {
                old.and_then(|o| o.tested_at)
            } else {
                None
            }),
            updated_at: Set(c.updated_at),
        };
        organization_sso::Entity::delete_many()
            .filter(organization_sso::Column::OrganizationId.eq(c.organization_id.as_str()))
            .exec(&*txn)
            .await?;
        organization_sso::Entity::insert(model)
            .exec_without_returning(&*txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Removes an organization's connection and the ties to it. `Conflict`
    /// while the organization requires SSO; `false` when it had none.
    pub async fn remove_sso_connection(&self, org_id: &str) -> Result<bool> {
        let txn = self.begin_write().await?;
        let required = organization::Entity::find_by_id(org_id.to_owned())
            .one(&*txn)
            .await?
            .is_some_and(|o| o.sso_required);
        if required {
            txn.rollback().await?;
            return Err(StoreError::Conflict);
        }
        let removed = organization_sso::Entity::delete_many()
            .filter(organization_sso::Column::OrganizationId.eq(org_id))
            .exec(&*txn)
            .await?
            .rows_affected
            == 1;
        sso_link::Entity::delete_many()
            .filter(sso_link::Column::OrganizationId.eq(org_id))
            .exec(&*txn)
            .await?;
        sso_request::Entity::delete_many()
            .filter(sso_request::Column::OrganizationId.eq(org_id))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(removed)
    }

    /// Records a successful test of the connection, if it still goes to
    /// `issuer` with `client_id`. Whether it did.
    pub async fn mark_sso_tested(
        &self,
        org_id: &str,
        issuer: &str,
        client_id: &str,
        now: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        Ok(organization_sso::Entity::update_many()
            .col_expr(organization_sso::Column::TestedAt, Expr::value(now))
            .filter(organization_sso::Column::OrganizationId.eq(org_id))
            .filter(organization_sso::Column::Issuer.eq(issuer))
            .filter(organization_sso::Column::ClientId.eq(client_id))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Turns the SSO requirement on or off. Turning it on needs a
    /// connection whose test succeeded (`Conflict` otherwise); whether the
    /// organization exists.
    pub async fn set_sso_required(&self, org_id: &str, required: bool, now: i64) -> Result<bool> {
        let txn = self.begin_write().await?;
        if required {
            let tested = organization_sso::Entity::find_by_id(org_id.to_owned())
                .one(&*txn)
                .await?
                .is_some_and(|c| c.tested_at.is_some());
            if !tested {
                txn.rollback().await?;
                return Err(StoreError::Conflict);
            }
        }
        let found = organization::Entity::update_many()
            .col_expr(organization::Column::SsoRequired, Expr::value(required))
            .col_expr(organization::Column::UpdatedAt, Expr::value(now))
            .filter(organization::Column::Id.eq(org_id))
            .exec(&*txn)
            .await?
            .rows_affected
            == 1;
        txn.commit().await?;
        Ok(found)
    }

    /// Stores a sign-in under way.
    pub async fn create_sso_request(&self, r: &SsoRequest) -> Result<()> {
        let model = sso_request::ActiveModel {
            state_hash: Set(r.state_hash.clone()),
            organization_id: Set(r.organization_id.clone()),
            issuer: Set(r.issuer.clone()),
            client_id: Set(r.client_id.clone()),
            nonce: Set(r.nonce.clone()),
            pkce_verifier: Set(r.pkce_verifier.clone()),
            binding_hash: Set(r.binding_hash.clone()),
            return_to: Set(r.return_to.clone()),
            tested_by: Set(r.tested_by.clone()),
            expires_at: Set(r.expires_at),
        };
        let _lane = self.lane().await;
        sso_request::Entity::insert(model)
            .exec_without_returning(&self.db)
            .await
            .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Takes the sign-in whose `state` hashes to `state_hash`: it is
    /// deleted, so a second callback with the same `state` finds nothing
    /// (of two at once, one gets it). `None` when unknown or expired.
    pub async fn take_sso_request(&self, state_hash: &str, now: i64) -> Result<Option<SsoRequest>> {
        let Some(m) = sso_request::Entity::find_by_id(state_hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let taken = {
            let _lane = self.lane().await;
            sso_request::Entity::delete_many()
                .filter(sso_request::Column::StateHash.eq(state_hash))
                .exec(&self.db)
                .await?
                .rows_affected
                == 1
        };
        if !taken || m.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(SsoRequest {
            state_hash: m.state_hash,
            organization_id: m.organization_id,
            issuer: m.issuer,
            client_id: m.client_id,
            nonce: m.nonce,
            pkce_verifier: m.pkce_verifier,
            binding_hash: m.binding_hash,
            return_to: m.return_to,
            tested_by: m.tested_by,
            expires_at: m.expires_at,
        }))
    }

    /// The member the upstream account (`issuer`, `subject`) is tied to in
    /// an organization.
    pub async fn sso_linked_member(
        &self,
        org_id: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>> {
        Ok(
            sso_link::Entity::find_by_id(link_id(org_id, issuer, subject))
                .one(&self.db)
                .await?
                .map(|l| l.member_id),
        )
    }

    /// Whether a member is tied to an account of their organization's
    /// provider (ties go when the issuer changes, so any tie is to the
    /// current one).
    pub async fn is_sso_linked(&self, member_id: &str) -> Result<bool> {
        Ok(sso_link::Entity::find()
            .filter(sso_link::Column::MemberId.eq(member_id))
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Ties the upstream account to a member (a tie to a member who is
    /// gone is replaced).
    pub async fn link_sso(
        &self,
        org_id: &str,
        issuer: &str,
        subject: &str,
        member_id: &str,
        now: i64,
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        tie(&*txn, org_id, issuer, subject, member_id, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Creates `member` and ties the upstream account to it, in one
    /// transaction. `Conflict` when the address is a member already.
    pub async fn provision_sso_member(
        &self,
        member: &Member,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        crate::entities::member::Entity::insert(crate::orgs::member_model(member, now))
            .exec_without_returning(&*txn)
            .await
            .map_err(StoreError::from_insert)?;
        tie(
            &*txn,
            &member.organization_id,
            issuer,
            subject,
            &member.id,
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Inside a write: ties the upstream account to `member_id`, replacing a
/// tie it had.
async fn tie<C: sea_orm::ConnectionTrait>(
    db: &C,
    org_id: &str,
    issuer: &str,
    subject: &str,
    member_id: &str,
    now: i64,
) -> Result<()> {
    let id = link_id(org_id, issuer, subject);
    sso_link::Entity::delete_many()
        .filter(sso_link::Column::Id.eq(id.as_str()))
        .exec(db)
        .await?;
    sso_link::Entity::insert(sso_link::ActiveModel {
        id: Set(id),
        organization_id: Set(org_id.to_owned()),
        member_id: Set(member_id.to_owned()),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Inside a member's removal: the upstream accounts tied to them.
pub(crate) async fn unlink_member<C: sea_orm::ConnectionTrait>(
    db: &C,
    member_id: &str,
) -> Result<()> {
    sso_link::Entity::delete_many()
        .filter(sso_link::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Inside an organization's deletion: its connection, ties and sign-ins
/// under way.
pub(crate) async fn delete_organization_sso<C: sea_orm::ConnectionTrait>(
    db: &C,
    org_id: &str,
) -> Result<()> {
    organization_sso::Entity::delete_many()
        .filter(organization_sso::Column::OrganizationId.eq(org_id))
        .exec(db)
        .await?;
    sso_link::Entity::delete_many()
        .filter(sso_link::Column::OrganizationId.eq(org_id))
        .exec(db)
        .await?;
    sso_request::Entity::delete_many()
        .filter(sso_request::Column::OrganizationId.eq(org_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Inside the purge: sign-ins that were never finished.
pub(crate) async fn purge_requests(db: &sea_orm::DatabaseConnection, now: i64) -> Result<u64> {
    Ok(sso_request::Entity::delete_many()
        .filter(sso_request::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected)
}
