//! Creating organizations, members, roles and scopes (the CLI and the
//! default RBAC policy at start).

use keyhouse_core::rbac::{self, Policy};
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::{Member, Organization, StoreError};
use keyhouse_types::b2b::{ConnectedAppsSettings, RoleInfo, ScopeInfo};

use crate::Keyhouse;
use crate::error::store_error;

impl Keyhouse {
    /// Creates an organization (`slug`: 2–40 of `a-z`, `0-9`, `-`), with
    /// every kind of Connected App allowed.
    pub async fn create_organization(
        &self,
        name: &str,
        slug: &str,
    ) -> Result<Organization, OAuthError> {
        let name = check_name_and_slug(name, slug)?;
        let org = Organization {
            id: secret::generate_id("org", &mut rand::rng()),
            slug: slug.to_owned(),
            name: name.to_owned(),
            connected_apps: ConnectedAppsSettings::default(),
            required_sign_in: Default::default(),
            created_at: self.now(),
            jit_role: None,
            sso_required: false,
            logo_uri: None,
        };
        self.store()
            .create_organization(&org)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => {
                    OAuthError::new(ErrorCode::Conflict, "an organization with this slug exists")
                }
                other => store_error(other),
            })?;
        tracing::info!(organization_id = %org.id, slug = %org.slug, "organization created");
        Ok(org)
    }

    /// The password hash for a new member: the same address with the same
    /// password shares one credential across organizations, so discovery
    /// proves it with one hash check (docs/threat-model.md row 59).
    pub(crate) async fn member_password_hash(
        &self,
        email: &str,
        password: &str,
    ) -> Result<String, OAuthError> {
        let existing = self
            .store()
            .members_with_email(email, 20)
            .await
            .map_err(store_error)?;
        if let Some(m) = existing.iter().find(|m| !m.password_hash.is_empty())
            && crate::accounts::password::verify_password(
                self,
                password,
                Some(m.password_hash.clone()),
            )
            .await
        {
            return Ok(m.password_hash.clone());
        }
        crate::accounts::password::hash_password(self, password).await
    }

    /// Adds a member to the organization `slug` (email normalised, password
    /// checked and hashed, every role defined in the policy).
    pub async fn create_member(
        &self,
        slug: &str,
        email: &str,
        password: &str,
        name: &str,
        roles: &[String],
    ) -> Result<Member, OAuthError> {
        let org = self
            .store()
            .find_organization_by_slug(slug)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                OAuthError::new(ErrorCode::NotFound, format!("no organization {slug}"))
            })?;
        let email = crate::accounts::users::normalize_email(email)
            .ok_or_else(|| OAuthError::invalid_request("enter a valid email address"))?;
        if !self.rbac().await?.knows_roles(roles) {
            return Err(OAuthError::invalid_request(
                "unknown role (see `keyhouse roles list`)",
            ));
        }
        let password_hash = self.member_password_hash(&email, password).await?;
        let member = Member {
            id: secret::generate_id("member", &mut rand::rng()),
            organization_id: org.id,
            email,
            name: name.trim().to_owned(),
            password_hash,
            roles: roles.to_vec(),
            status: "active".to_owned(),
            updated_at: self.now(),
            totp_secret: None,
            totp_enabled_at: None,
            totp_last_step: None,
        };
        self.store()
            .create_member(&member, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict => OAuthError::new(
                    ErrorCode::Conflict,
                    "this email is already a member of the organization",
                ),
                other => store_error(other),
            })?;
        tracing::info!(member_id = %member.id, organization_id = %member.organization_id, "member created");
        Ok(member)
    }

    /// Defines or replaces a role.
    pub async fn put_role(&self, role: &RoleInfo) -> Result<(), OAuthError> {
        check_rbac_name(&role.role_id)?;
        self.store().put_role(role).await.map_err(store_error)
    }

    /// Defines or replaces a custom scope (it must be in the scope catalog,
    /// so clients can request it).
    pub async fn put_scope(&self, scope: &ScopeInfo) -> Result<(), OAuthError> {
        if self.config().scopes.get(&scope.scope).is_none() {
            return Err(OAuthError::invalid_request(format!(
                "{} is not in the server's scope catalog",
                scope.scope
            )));
        }
        self.store().put_scope(scope).await.map_err(store_error)
    }

    /// Defines what is missing of `policy`: roles and scopes that already
    /// exist are kept as the operator changed them. Safe to run from every
    /// instance at start-up, concurrently.
    pub async fn ensure_policy(&self, policy: &Policy) -> Result<(), OAuthError> {
        for role in &policy.roles {
            check_rbac_name(&role.role_id)?;
            self.store()
                .add_role_if_absent(role)
                .await
                .map_err(store_error)?;
        }
        for scope in &policy.scopes {
            if self.config().scopes.get(&scope.scope).is_none() {
                return Err(OAuthError::invalid_request(format!(
                    "{} is not in the server's scope catalog",
                    scope.scope
                )));
            }
            self.store()
                .add_scope_if_absent(scope)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}

/// An organization's name (trimmed, 1 to 100 characters) and slug (2 to
/// 40 of `a-z`, `0-9`, `-`, not starting or ending with `-`) checked; the
/// trimmed name.
pub(crate) fn check_name_and_slug<'a>(name: &'a str, slug: &str) -> Result<&'a str, OAuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(OAuthError::invalid_request(
            "the name must be 1 to 100 characters",
        ));
    }
    let slug_ok = (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !slug_ok {
        return Err(OAuthError::invalid_request(
            "the slug must be 2 to 40 lower-case letters, digits or dashes",
        ));
    }
    Ok(name)
}

fn check_rbac_name(name: &str) -> Result<(), OAuthError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "role ids are 1 to 64 letters, digits, '-', '_', ':' or '.'",
        ))
    }
}

/// The default roles: `admin` may do everything in its organization;
/// `member` starts with no permission (deployments grant it some).
pub fn default_roles() -> Vec<RoleInfo> {
    vec![
        RoleInfo {
            role_id: "admin".into(),
            description: "Manages the organization: settings, members and all data".into(),
            permissions: vec![rbac::permission(rbac::ANY, &[rbac::ANY])],
        },
        RoleInfo {
            role_id: "member".into(),
            description: "A regular member of the organization".into(),
            permissions: Vec::new(),
        },
    ]
}
