//! B2B storage: organizations, members and the RBAC policy.

use keyhouse_types::b2b::{ConnectedAppsSettings, Permission, RequiredSignIn, RoleInfo, ScopeInfo};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, Set};

use crate::entities::{member, organization, rbac_role, rbac_scope};
use crate::{Result, Store, StoreError};

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Stable id (`org-…`).
    pub id: String,
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Its Connected Apps policy.
    pub connected_apps: ConnectedAppsSettings,
    /// What it asks of its members' sign-in.
    pub required_sign_in: RequiredSignIn,
    /// Created (unix seconds).
    pub created_at: i64,
    /// The role of people who join by their address's verified domain
    /// (`None`: nobody joins that way).
    pub jit_role: Option<String>,
    /// Members sign in only through the organization's single sign-on.
    pub sso_required: bool,
    /// The https URL of its logo (Keyhouse serves it from its own origin).
    pub logo_uri: Option<String>,
}

/// A member of one organization.
#[derive(Clone, PartialEq, Eq)]
pub struct Member {
    /// Stable id (`member-…`), the `sub` of its tokens.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// Lower-cased email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role ids.
    pub roles: Vec<String>,
    /// `active` (may sign in) or `deleted`.
    pub status: String,
    /// Last change (unix seconds).
    pub updated_at: i64,
    /// The authenticator app's secret, sealed with the master key (being
    /// set up while `totp_enabled_at` is `None`).
    pub totp_secret: Option<String>,
    /// When two-step verification was turned on.
    pub totp_enabled_at: Option<i64>,
    /// The last time step a code was accepted for.
    pub totp_last_step: Option<i64>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("roles", &self.roles)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Member {
    /// Whether the member may sign in.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// Whether two-step verification is on.
    pub fn has_second_factor(&self) -> bool {
        self.totp_enabled_at.is_some() && self.totp_secret.is_some()
    }
}

fn json<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn org_of(m: organization::Model) -> Result<Organization> {
    Ok(Organization {
        connected_apps: json("organizations.connected_apps", &m.connected_apps)?,
        required_sign_in: RequiredSignIn::parse(&m.required_sign_in).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "organizations.required_sign_in: {:?}",
                m.required_sign_in
            ))
        })?,
        id: m.id,
        slug: m.slug,
        name: m.name,
        created_at: m.created_at,
        jit_role: m.jit_role,
        sso_required: m.sso_required,
        logo_uri: m.logo_uri,
    })
}

/// The row of a new member.
pub(crate) fn member_model(m: &Member, now: i64) -> member::ActiveModel {
    member::ActiveModel {
        id: Set(m.id.clone()),
        organization_id: Set(m.organization_id.clone()),
        email: Set(m.email.clone()),
        name: Set(m.name.clone()),
        password_hash: Set(m.password_hash.clone()),
        roles: Set(to_json(&m.roles)),
        status: Set(m.status.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
    }
}

fn member_of(m: member::Model) -> Result<Member> {
    Ok(Member {
        roles: json("members.roles", &m.roles)?,
        id: m.id,
        organization_id: m.organization_id,
        email: m.email,
        name: m.name,
        password_hash: m.password_hash,
        status: m.status,
        updated_at: m.updated_at,
        totp_secret: m.totp_secret,
        totp_enabled_at: m.totp_enabled_at,
        totp_last_step: m.totp_last_step,
    })
}

impl Store {
    /// Creates an organization; `Conflict` when the slug is taken.
    pub async fn create_organization(&self, org: &Organization) -> Result<()> {
        let model = organization::ActiveModel {
            id: Set(org.id.clone()),
            slug: Set(org.slug.clone()),
            name: Set(org.name.clone()),
            connected_apps: Set(to_json(&org.connected_apps)),
            required_sign_in: Set(org.required_sign_in.as_str().to_owned()),
            created_at: Set(org.created_at),
            updated_at: Set(org.created_at),
            jit_role: Set(org.jit_role.clone()),
            sso_required: Set(org.sso_required),
            logo_uri: Set(org.logo_uri.clone()),
        };
        let _lane = self.lane().await;
        organization::Entity::insert(model)
            .exec_without_returning(&self.db)
            .await
            .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// An organization by id.
    pub async fn find_organization(&self, id: &str) -> Result<Option<Organization>> {
        organization::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(org_of)
            .transpose()
    }

    /// An organization by slug.
    pub async fn find_organization_by_slug(&self, slug: &str) -> Result<Option<Organization>> {
        organization::Entity::find()
            .filter(organization::Column::Slug.eq(slug))
            .one(&self.db)
            .await?
            .map(org_of)
            .transpose()
    }

    /// Every organization, by slug.
    pub async fn list_organizations(&self) -> Result<Vec<Organization>> {
        organization::Entity::find()
            .order_by_asc(organization::Column::Slug)
            .all(&self.db)
            .await?
            .into_iter()
            .map(org_of)
            .collect()
    }

    /// Replaces an organization's Connected Apps settings.
    pub async fn set_connected_apps(
        &self,
        org_id: &str,
        settings: &ConnectedAppsSettings,
        now: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        let res = organization::Entity::update_many()
            .col_expr(
                organization::Column::ConnectedApps,
                Expr::value(to_json(settings)),
            )
            .col_expr(organization::Column::UpdatedAt, Expr::value(now))
            .filter(organization::Column::Id.eq(org_id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Sets or clears an organization's logo URL. Whether it exists.
    pub async fn set_organization_logo(
        &self,
        org_id: &str,
        logo_uri: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        Ok(organization::Entity::update_many()
            .col_expr(
                organization::Column::LogoUri,
                Expr::value(logo_uri.map(str::to_owned)),
            )
            .col_expr(organization::Column::UpdatedAt, Expr::value(now))
            .filter(organization::Column::Id.eq(org_id))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Replaces what an organization asks of its members' sign-in.
    pub async fn set_required_sign_in(
        &self,
        org_id: &str,
        required: RequiredSignIn,
        now: i64,
    ) -> Result<bool> {
        let _lane = self.lane().await;
        let res = organization::Entity::update_many()
            .col_expr(
                organization::Column::RequiredSignIn,
                Expr::value(required.as_str()),
            )
            .col_expr(organization::Column::UpdatedAt, Expr::value(now))
            .filter(organization::Column::Id.eq(org_id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Creates a member; `Conflict` when the email is already a member of
    /// that organization.
    pub async fn create_member(&self, m: &Member, now: i64) -> Result<()> {
        let model = member_model(m, now);
        let _lane = self.lane().await;
        member::Entity::insert(model)
            .exec_without_returning(&self.db)
            .await
            .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// A member by id.
    pub async fn find_member(&self, id: &str) -> Result<Option<Member>> {
        member::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(member_of)
            .transpose()
    }

    /// The member for `email` in one organization.
    pub async fn find_member_by_email(&self, org_id: &str, email: &str) -> Result<Option<Member>> {
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(org_id))
            .filter(member::Column::Email.eq(email))
            .one(&self.db)
            .await?
            .map(member_of)
            .transpose()
    }

    /// Every active member record of `email`, in every organization (for
    /// discovery), at most `limit`.
    pub async fn members_with_email(&self, email: &str, limit: u64) -> Result<Vec<Member>> {
        member::Entity::find()
            .filter(member::Column::Email.eq(email))
            .filter(member::Column::Status.eq("active"))
            .order_by_asc(member::Column::OrganizationId)
            .paginate(&self.db, limit)
            .fetch_page(0)
            .await?
            .into_iter()
            .map(member_of)
            .collect()
    }

    /// An organization's members, by email.
    pub async fn list_members(&self, org_id: &str) -> Result<Vec<Member>> {
        member::Entity::find()
            .filter(member::Column::OrganizationId.eq(org_id))
            .order_by_asc(member::Column::Email)
            .all(&self.db)
            .await?
            .into_iter()
            .map(member_of)
            .collect()
    }

    /// Replaces a member's roles.
    pub async fn set_member_roles(&self, id: &str, roles: &[String], now: i64) -> Result<bool> {
        let _lane = self.lane().await;
        let res = member::Entity::update_many()
            .col_expr(member::Column::Roles, Expr::value(to_json(&roles)))
            .col_expr(member::Column::UpdatedAt, Expr::value(now))
            .filter(member::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// The RBAC policy: every role and custom scope.
    pub async fn rbac_policy(&self) -> Result<(Vec<RoleInfo>, Vec<ScopeInfo>)> {
        let roles = rbac_role::Entity::find()
            .order_by_asc(rbac_role::Column::RoleId)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| {
                Ok(RoleInfo {
                    permissions: json::<Vec<Permission>>("rbac_roles.permissions", &r.permissions)?,
                    role_id: r.role_id,
                    description: r.description,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let scopes = rbac_scope::Entity::find()
            .order_by_asc(rbac_scope::Column::Scope)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| {
                Ok(ScopeInfo {
                    permissions: json::<Vec<Permission>>(
                        "rbac_scopes.permissions",
                        &s.permissions,
                    )?,
                    scope: s.scope,
                    description: s.description,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((roles, scopes))
    }

    /// Defines (or replaces) a role.
    pub async fn put_role(&self, role: &RoleInfo) -> Result<()> {
        let txn = self.begin_write().await?;
        rbac_role::Entity::delete_by_id(role.role_id.clone())
            .exec(&*txn)
            .await?;
        rbac_role::Entity::insert(rbac_role::ActiveModel {
            role_id: Set(role.role_id.clone()),
            description: Set(role.description.clone()),
            permissions: Set(to_json(&role.permissions)),
        })
        .exec_without_returning(&*txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Defines (or replaces) a custom scope.
    pub async fn put_scope(&self, scope: &ScopeInfo) -> Result<()> {
        let txn = self.begin_write().await?;
        rbac_scope::Entity::delete_by_id(scope.scope.clone())
            .exec(&*txn)
            .await?;
        rbac_scope::Entity::insert(rbac_scope::ActiveModel {
            scope: Set(scope.scope.clone()),
            description: Set(scope.description.clone()),
            permissions: Set(to_json(&scope.permissions)),
        })
        .exec_without_returning(&*txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Defines a role unless one with that id exists (concurrent callers
    /// are fine: the insert does nothing on conflict).
    pub async fn add_role_if_absent(&self, role: &RoleInfo) -> Result<()> {
        let _lane = self.lane().await;
        rbac_role::Entity::insert(rbac_role::ActiveModel {
            role_id: Set(role.role_id.clone()),
            description: Set(role.description.clone()),
            permissions: Set(to_json(&role.permissions)),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Defines a custom scope unless it exists.
    pub async fn add_scope_if_absent(&self, scope: &ScopeInfo) -> Result<()> {
        let _lane = self.lane().await;
        rbac_scope::Entity::insert(rbac_scope::ActiveModel {
            scope: Set(scope.scope.clone()),
            description: Set(scope.description.clone()),
            permissions: Set(to_json(&scope.permissions)),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }
}
