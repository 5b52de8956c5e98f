//! The extractor an organization-aware API uses: a member, by access token or
//! by member session, with the RBAC check.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use keyhouse_core::rbac::{self, Policy};
use keyhouse_core::{ErrorCode, OAuthError, ScopeSet};
use keyhouse_store::Member;
use keyhouse_types::b2b::Permission;

use crate::Keyhouse;
use crate::b2b::CurrentMember;
use crate::error::{BearerError, store_error};
use crate::http::extract::{AccessToken, TokenSubject};

/// Who calls one of the app's organization APIs: a member in the browser
/// (the member session cookie), or a client acting for a member with an
/// access token that carries the `organization` claim. Either way the
/// request is bounded by the member's *current* roles in that organization;
/// a token is further bounded by its scopes.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
        if !crate::http::csrf::same_origin_or_safe(&kh, &parts.method, &parts.headers) {
            return Err(BearerError::refused(
                ErrorCode::CsrfDetected,
                "cross-site request refused".to_owned(),
            ));
        }
        // The organization asks for a stronger sign-in than this one.
        if !me.meets_policy() {
            let refusal = me.policy_refusal();
            return Err(BearerError::refused(
                refusal.code,
                refusal.description.unwrap_or_default(),
            ));
        }
        Ok(MemberCaller::Session(Box::new(me)))
    }
}
