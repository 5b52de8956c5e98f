//! Joining an organization by the e-mail domain (just-in-time): an
//! organization claims domains, an operator verifies a claim
//! (`keyhouse orgs domains verify`), and with a join role set, a person who
//! proves an address at a verified domain by mail (member sign-in by code
//! or link) is offered the organization in discovery and joins it with
//! that role (decision 0037).
//!
//! Only a mailed proof opens the way: a password proves a credential, not
//! the address. A person who has a member record there in any state
//! (deactivated included) is not offered to join again.

use axum::Json;
use axum::extract::{Path, State};
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::{Member, Organization, StoreError};
use keyhouse_types::b2b::{DomainInfo, DomainRequest, DomainSettings, JitRequest};

use crate::Keyhouse;
use crate::b2b::CurrentMember;
use crate::error::{ApiError, store_error};
use crate::http::json::JsonBody;

/// The domain of an address (after its last `@`), lower-case.
pub(crate) fn domain_of_email(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// A domain name as organizations claim it: lower-case labels of letters,
/// digits and `-`, at least two of them, 253 characters at most.
pub(crate) fn normalize_domain(raw: &str) -> Option<String> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let ok = d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    ok.then_some(d)
}

impl Keyhouse {
    /// The organization `email` may join by its domain (only the one of
    /// `slug` when named), unless it has a member record there already.
    pub(crate) async fn joinable(
        &self,
        email: &str,
        slug: Option<&str>,
    ) -> Result<Option<Organization>, OAuthError> {
        let Some(domain) = domain_of_email(email) else {
            return Ok(None);
        };
        let Some(org) = self
            .store()
            .joinable_by_domain(&domain)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        if slug.is_some_and(|s| s != org.slug) {
            return Ok(None);
        }
        let known = self
            .store()
            .has_member_record(&org.id, email)
            .await
            .map_err(store_error)?;
        Ok((!known).then_some(org))
    }

    /// Makes `email` (proven by mail) a member of `org` with its join role,
    /// checking again that the organization still lets its domain join.
    /// `None` when it no longer does.
    pub(crate) async fn join_by_domain(
        &self,
        org: &Organization,
        email: &str,
    ) -> Result<Option<Member>, OAuthError> {
        let Some(current) = self.joinable(email, Some(&org.slug)).await? else {
            return Ok(None);
        };
        let Some(role) = current.jit_role.clone() else {
            return Ok(None);
        };
        let member = Member {
            id: secret::generate_id("member", &mut rand::rng()),
            organization_id: current.id.clone(),
            email: email.to_owned(),
            name: String::new(),
            // No password: the member signs in by mail, or adds a passkey.
            password_hash: String::new(),
            roles: vec![role],
            status: "active".to_owned(),
            updated_at: self.now(),
            totp_secret: None,
            totp_enabled_at: None,
            totp_last_step: None,
        };
        match self.store().create_member(&member, self.now()).await {
            Ok(()) => {}
            // Joined a moment ago in another tab: not twice.
            Err(StoreError::Conflict) => return Ok(None),
            Err(e) => return Err(store_error(e)),
        }
        tracing::info!(organization_id = %current.id, member_id = %member.id, "joined by the address's domain");
        self.audit(
            &format!("member:{}", member.id),
            "organization.member_joined_by_domain",
            None,
            serde_json::json!({
                "organization_id": current.id,
                "member_id": member.id,
                "email": member.email,
                "roles": member.roles,
            }),
        )
        .await;
        Ok(Some(member))
    }

    /// An operator verifies that the organization `slug` holds `domain`
    /// (e.g. from a DNS record or a contract): claimed for it if nobody
    /// claims it, then marked verified. Refused when another organization
    /// claims it. The normalised domain.
    pub async fn verify_organization_domain(
        &self,
        slug: &str,
        domain: &str,
        actor: &str,
    ) -> Result<String, OAuthError> {
        let domain = normalize_domain(domain)
            .ok_or_else(|| OAuthError::invalid_request("not a domain name"))?;
        let org = self
            .store()
            .find_organization_by_slug(slug)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                OAuthError::new(ErrorCode::NotFound, format!("no organization {slug}"))
            })?;
        match self.store().add_domain(&org.id, &domain, self.now()).await {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(e) => return Err(store_error(e)),
        }
        let verified = self
            .store()
            .verify_domain(&org.id, &domain, self.now())
            .await
            .map_err(store_error)?;
        if !verified {
            return Err(OAuthError::new(
                ErrorCode::Conflict,
                format!("another organization claims {domain}"),
            ));
        }
        tracing::info!(organization_id = %org.id, %domain, %actor, "domain verified");
        self.audit(
            actor,
            "organization.domain_verified",
            None,
            serde_json::json!({"organization_id": org.id, "domain": domain}),
        )
        .await;
        Ok(domain)
    }

    /// An organization's domains and join role.
    async fn domain_settings(&self, org_id: &str) -> Result<DomainSettings, OAuthError> {
        let domains = self.store().domains_of(org_id).await.map_err(store_error)?;
        let org = self
            .store()
            .find_organization(org_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "no such organization"))?;
        Ok(DomainSettings {
            domains: domains
                .into_iter()
                .map(|d| DomainInfo {
                    domain: d.domain,
                    verified: d.verified_at.is_some(),
                })
                .collect(),
            jit_role: org.jit_role,
        })
    }
}

/// `GET /api/b2b/organization/domains` (needs `organization:read`).
pub(crate) async fn list(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
) -> Result<Json<DomainSettings>, ApiError> {
    me.require("organization", "read")?;
    Ok(Json(kh.domain_settings(&me.organization.id).await?))
}

/// `POST /api/b2b/organization/domains` (needs `organization:update`):
/// claims a domain, unverified until an operator verifies it.
pub(crate) async fn add(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<DomainRequest>,
) -> Result<Json<DomainSettings>, ApiError> {
    me.require("organization", "update")?;
    let domain = normalize_domain(&req.domain)
        .ok_or_else(|| OAuthError::invalid_request("enter a domain name, e.g. example.com"))?;
    kh.store()
        .add_domain(&me.organization.id, &domain, kh.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict => OAuthError::new(
                ErrorCode::Conflict,
                "an organization claims this domain already",
            ),
            other => store_error(other),
        })?;
    tracing::info!(organization_id = %me.organization.id, by = %me.member.id, %domain, "domain claimed");
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.domain_added",
        None,
        serde_json::json!({"organization_id": me.organization.id, "domain": domain}),
    )
    .await;
    Ok(Json(kh.domain_settings(&me.organization.id).await?))
}

/// `POST /api/b2b/organization/domains/{domain}/remove` (needs
/// `organization:update`).
pub(crate) async fn remove(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    Path(domain): Path<String>,
) -> Result<Json<DomainSettings>, ApiError> {
    me.require("organization", "update")?;
    let domain = domain.trim().to_ascii_lowercase();
    let removed = kh
        .store()
        .remove_domain(&me.organization.id, &domain)
        .await
        .map_err(store_error)?;
    if !removed {
        return Err(
            OAuthError::new(ErrorCode::NotFound, "the organization has no such domain").into(),
        );
    }
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.domain_removed",
        None,
        serde_json::json!({"organization_id": me.organization.id, "domain": domain}),
    )
    .await;
    Ok(Json(kh.domain_settings(&me.organization.id).await?))
}

/// `PUT /api/b2b/organization/jit` (needs `organization:update`): the role
/// people get who join by their address's verified domain (`null`:
/// nobody joins that way). The role must exist and be within the admin's
/// own permissions.
pub(crate) async fn set_jit(
    State(kh): State<Keyhouse>,
    me: CurrentMember,
    JsonBody(req): JsonBody<JitRequest>,
) -> Result<Json<DomainSettings>, ApiError> {
    me.require("organization", "update")?;
    if let Some(role) = &req.role {
        let policy = kh.rbac().await?;
        let roles = [role.clone()];
        if !policy.knows_roles(&roles) {
            return Err(OAuthError::invalid_request("unknown role").into());
        }
        if !keyhouse_core::rbac::covers(&me.permissions, &policy.permissions_of(&roles)) {
            return Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "you can only give roles whose permissions you hold yourself",
            )
            .into());
        }
    }
    kh.store()
        .set_jit_role(&me.organization.id, req.role.as_deref(), kh.now())
        .await
        .map_err(store_error)?;
    kh.audit(
        &format!("member:{}", me.member.id),
        "organization.join_by_domain_changed",
        None,
        serde_json::json!({"organization_id": me.organization.id, "role": req.role}),
    )
    .await;
    Ok(Json(kh.domain_settings(&me.organization.id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_names_and_addresses_have_them() {
        assert_eq!(
            normalize_domain(" Example.COM. "),
            Some("example.com".into())
        );
        assert_eq!(
            normalize_domain("a-b.example.co.uk"),
            Some("a-b.example.co.uk".into())
        );
        for bad in [
            "",
            "com",
            "-a.com",
            "a-.com",
            "a..com",
            "a b.com",
            "*.example.com",
            "ex@mple.com",
        ] {
            assert_eq!(normalize_domain(bad), None, "{bad}");
        }
        assert_eq!(
            domain_of_email("Pat@Example.com"),
            Some("example.com".into())
        );
        assert_eq!(domain_of_email("no-at"), None);
    }
}
