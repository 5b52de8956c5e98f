//! Switching organizations: a member signed in to one organization picks
//! another of the address's memberships without signing in again, when
//! what they proved covers it (decision 0037):
//!
//! - a mailed code or link proved the address: every active membership of
//!   it;
//! - a password proved a credential: the memberships that share it (as
//!   discovery offers them).
//!
//! The new session carries the first factor and the time of the sign-in,
//! never a second factor or a passkey, which belong to one membership: an
//! organization that asks for more gets it asked for, as at any sign-in.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use keyhouse_core::assurance::amr;
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_store::Member;
use keyhouse_types::OrganizationSummary;
use keyhouse_types::b2b::SwitchRequest;

use crate::Keyhouse;
use crate::accounts::session;
use crate::b2b::session::member_cookie_name;
use crate::b2b::{AnyMember, summary};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::read_cookie;
use crate::http::json::JsonBody;

/// How the session's sign-in proves the other memberships: the first
/// factor it carries over, if any.
fn carried_factor(session_amr: &[String]) -> Option<&'static str> {
    if session_amr.iter().any(|a| a == amr::EMAIL) {
        Some(amr::EMAIL)
    } else if session_amr.iter().any(|a| a == amr::PASSWORD) {
        Some(amr::PASSWORD)
    } else {
        None
    }
}

/// Whether `other` is reached from `me`'s sign-in proven by `factor`.
fn reachable(me: &Member, other: &Member, factor: &str) -> bool {
    other.id != me.id
        && other.is_active()
        && other.email == me.email
        && (factor == amr::EMAIL
            || (!me.password_hash.is_empty() && other.password_hash == me.password_hash))
}

impl Keyhouse {
    async fn switchable(&self, me: &Member, factor: &str) -> Result<Vec<Member>, OAuthError> {
        Ok(self
            .store()
            .members_with_email(&me.email, 20)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|m| reachable(me, m, factor))
            .collect())
    }
}

/// `GET /api/b2b/session/organizations`: the organizations the signed-in
/// member can switch to without signing in again.
pub(crate) async fn list(
    State(kh): State<Keyhouse>,
    AnyMember(me): AnyMember,
) -> Result<Json<Vec<OrganizationSummary>>, ApiError> {
    let Some(factor) = carried_factor(&me.session.amr) else {
        return Ok(Json(Vec::new()));
    };
    let mut out = Vec::new();
    for m in kh.switchable(&me.member, factor).await? {
        if let Some(o) = kh
            .store()
            .find_organization(&m.organization_id)
            .await
            .map_err(store_error)?
        {
            out.push(summary(&o));
        }
    }
    out.sort_by_key(|o| o.name.to_lowercase());
    Ok(Json(out))
}

/// `POST /api/b2b/session/switch`: signs in to another organization of the
/// address, replacing this session. A member with two-step verification
/// on there gets a session that waits for it (`second_factor_required`).
pub(crate) async fn switch(
    State(kh): State<Keyhouse>,
    AnyMember(me): AnyMember,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SwitchRequest>,
) -> Result<Response, ApiError> {
    let refused = || {
        OAuthError::new(
            ErrorCode::AccessDenied,
            "sign in to that organization with its own sign-in",
        )
    };
    // docs/threat-model.md row 180: only a finished sign-in moves.
    if me.session.pending_factor.is_some() {
        return Err(refused().into());
    }
    let factor = carried_factor(&me.session.amr).ok_or_else(refused)?;
    let org = kh
        .store()
        .find_organization_by_slug(req.organization_slug.trim())
        .await
        .map_err(store_error)?
        .ok_or_else(refused)?;
    let target = kh
        .switchable(&me.member, factor)
        .await?
        .into_iter()
        .find(|m| m.organization_id == org.id)
        .ok_or_else(refused)?;
    tracing::info!(from = %me.member.id, to = %target.id, organization_id = %org.id, factor, "member switched organization");
    let old = read_cookie(&headers, member_cookie_name(&kh)).map(str::to_owned);
    Ok(kh
        .start_member_session_at(
            target,
            org,
            old.as_deref(),
            &session::Device::of(ip, &headers),
            vec![factor.to_owned()],
            Some(me.session.auth_time),
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, org: &str, email: &str, hash: &str) -> Member {
        Member {
            id: id.into(),
            organization_id: org.into(),
            email: email.into(),
            name: String::new(),
            password_hash: hash.into(),
            roles: vec![],
            status: "active".into(),
            updated_at: 0,
            totp_secret: None,
            totp_enabled_at: None,
            totp_last_step: None,
        }
    }

    #[test]
    fn what_a_sign_in_reaches() {
        let me = member("m1", "o1", "a@x.test", "H");
        let shared = member("m2", "o2", "a@x.test", "H");
        let own = member("m3", "o3", "a@x.test", "K");
        let mailed_only = member("m4", "o4", "a@x.test", "");
        let other = member("m5", "o5", "b@x.test", "H");
        assert!(reachable(&me, &shared, amr::PASSWORD));
        assert!(
            !reachable(&me, &own, amr::PASSWORD),
            "a password of its own"
        );
        assert!(!reachable(&me, &mailed_only, amr::PASSWORD));
        for m in [&shared, &own, &mailed_only] {
            assert!(reachable(&me, m, amr::EMAIL), "the address was proven");
        }
        assert!(!reachable(&me, &other, amr::EMAIL), "another address");
        assert!(!reachable(&me, &me, amr::EMAIL), "not itself");
        let no_password = member("m6", "o6", "a@x.test", "");
        assert!(!reachable(&no_password, &mailed_only, amr::PASSWORD));
        assert_eq!(carried_factor(&["pop".into(), "mfa".into()]), None);
        assert_eq!(
            carried_factor(&["pwd".into(), "otp".into(), "mfa".into()]),
            Some(amr::PASSWORD)
        );
        assert_eq!(carried_factor(&["email".into()]), Some(amr::EMAIL));
    }
}
