//! Passkeys for members of organizations: the accounts' implementation
//! (`crate::accounts::passkeys`, the same relying party) on the member.
//!
//! - `GET /api/b2b/member/passkeys`, `POST …/options` then `POST
//!   /api/b2b/member/passkeys` (adding one), `POST …/{id}/remove`: the
//!   member's own. Adding and removing take the member's password and,
//!   while the authenticator app is on, a session that used it (or a
//!   passkey); once the member has a passkey, adding another takes a
//!   session that used one. A passkey belongs to one membership: the same
//!   person's membership of another organization has its own.
//! - `POST /api/b2b/session/passkey/options`, then `POST
//!   /api/b2b/session/passkey`: signs in to the organization of the
//!   membership the passkey belongs to, with no password and no second
//!   step (`amr` `pop mfa`); this browser's session of the same member is
//!   stepped up and keeps its `sid`. An account's passkey signs in no
//!   member, and a member's no account.
//!
//! The settings take [`AnyMember`]: a member whose sign-in is weaker than
//! the organization asks may still add a passkey and sign in with it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keyhouse_core::assurance::{self, amr};
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_store::{Member, Organization};
use keyhouse_types::b2b::RequiredSignIn;
use keyhouse_types::{
    AddPasskey, ConfirmHolder, PasskeyInfo, PasskeyList, PasskeyOptions, PasskeySignIn, SubjectKind,
};

use crate::Keyhouse;
use crate::accounts::passkeys::{
    finish_registration, listed, refused, remove_for, start_registration, verified,
};
use crate::accounts::second_factor::used_it;
use crate::accounts::session::{Device, NewSession, replace_keeping_sid};
use crate::b2b::second_factor::confirm_member;
use crate::b2b::session::member_cookie_name;
use crate::b2b::{AnyMember, CurrentMember};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::{read_cookie, with_cookie};
use crate::http::json::JsonBody;

/// `GET /api/b2b/member/passkeys`.
pub(crate) async fn list(
    State(kh): State<Keyhouse>,
    AnyMember(me): AnyMember,
) -> Result<Json<PasskeyList>, ApiError> {
    Ok(Json(listed(&kh, &me.member.id).await?))
}

/// `POST /api/b2b/member/passkeys/options`: starts adding a passkey (the
/// member's password).
pub(crate) async fn registration_options(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    AnyMember(me): AnyMember,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<Json<PasskeyOptions>, ApiError> {
    used_it(me.holder(), &me.session)?;
    // Once a member has a passkey, another is added only from a session
    // that used one: a password (perhaps phished) alone adds nothing that
    // passes for phishing-resistant. The first is added with the password.
    let held = listed(&kh, &me.member.id).await?.passkeys.len();
    if held > 0 && !me.session.amr.iter().any(|a| a == amr::POP) {
        tracing::info!(member_id = %me.member.id, "passkey registration refused: the member has passkeys and this session used none");
        return Err(OAuthError::new(
            ErrorCode::PasskeyRequired,
            "sign in with one of your passkeys to add another",
        )
        .into());
    }
    confirm_member(&kh, &me, req.password.as_deref(), ip).await?;
    Ok(Json(start_registration(&kh, me.holder()).await?))
}

/// `POST /api/b2b/member/passkeys`: the browser's new credential finishes
/// the ceremony this member started.
pub(crate) async fn add(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    AnyMember(me): AnyMember,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AddPasskey>,
) -> Result<(StatusCode, Json<PasskeyInfo>), ApiError> {
    let added = finish_registration(&kh, me.holder(), req, ip, &headers).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// `POST /api/b2b/member/passkeys/{id}/remove` (the member's password).
pub(crate) async fn remove(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    AnyMember(me): AnyMember,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<StatusCode, ApiError> {
    used_it(me.holder(), &me.session)?;
    confirm_member(&kh, &me, req.password.as_deref(), ip).await?;
    let mine = listed(&kh, &me.member.id).await?.passkeys;
    if me.organization.required_sign_in == RequiredSignIn::Passkey
        && mine.len() <= 1
        && mine.iter().any(|p| p.id == id)
    {
        return Err(OAuthError::new(
            ErrorCode::Conflict,
            format!(
                "{} asks every member to sign in with a passkey: add another before removing your last one",
                me.organization.name
            ),
        )
        .into());
    }
    remove_for(&kh, me.holder(), &id, ip, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/b2b/session/passkey`: finishes a sign-in started at
/// `POST /api/b2b/session/passkey/options` (the accounts' start: the
/// ceremony names nobody until the browser answers) into the organization
/// of the passkey's membership.
pub(crate) async fn sign_in(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PasskeySignIn>,
) -> Result<Response, ApiError> {
    let stored = verified(&kh, req).await?;
    let member = kh
        .store()
        .find_member(&stored.user_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| refused("member passkey sign-in", "not a member's passkey"))?;
    if !member.is_active() {
        tracing::info!(member_id = %member.id, "member passkey sign-in refused: the member was removed");
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "you can't sign in to this organization any more; ask one of its administrators",
        )
        .into());
    }
    let organization = kh
        .store()
        .find_organization(&member.organization_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| refused("member passkey sign-in", "no organization"))?;
    tracing::info!(member_id = %member.id, credential_id = %stored.credential_id, "member signed in with a passkey");
    let device = Device::of(ip, &headers);
    if let Some(stepped) = step_up(&kh, &headers, &member, &organization, &device).await? {
        return Ok(stepped);
    }
    let old = read_cookie(&headers, member_cookie_name(&kh)).map(str::to_owned);
    Ok(kh
        .start_member_session(
            member,
            organization,
            old.as_deref(),
            &device,
            assurance::passkey(),
        )
        .await?)
}

/// This browser's session of the same member (signed in, or waiting for
/// its second factor), replaced by the passkey's and keeping its `sid`, as
/// any step-up does: the apps it signed in to stay signed in. `None` when
/// the browser has no session of this member.
async fn step_up(
    kh: &Keyhouse,
    headers: &HeaderMap,
    member: &Member,
    organization: &Organization,
    device: &Device,
) -> Result<Option<Response>, OAuthError> {
    let Ok((old, holder)) = kh.member_waiting_or_signed_in(headers).await else {
        return Ok(None);
    };
    if holder.id != member.id {
        return Ok(None);
    }
    // A passkey steps up no session opened around a required single
    // sign-on (docs/threat-model.md row 183).
    if crate::b2b::opened_around_sso(organization, &old.amr) {
        return Err(crate::b2b::sso::sso_required(organization));
    }
    let new = NewSession {
        kind: SubjectKind::Member,
        subject_id: &member.id,
        organization_id: Some(&organization.id),
        cookie: member_cookie_name(kh),
        device,
        // A session from the organization's single sign-on stays one
        // (docs/threat-model.md row 183): the passkey adds to it.
        amr: {
            let mut amr = assurance::passkey();
            if old.amr.iter().any(|a| a == assurance::amr::FED) {
                amr.insert(0, assurance::amr::FED.to_owned());
            }
            amr
        },
        pending_factor: None,
        auth_time: None,
    };
    let Some((record, cookie)) = replace_keeping_sid(kh, &old, &new).await? else {
        return Ok(None);
    };
    let me = CurrentMember {
        session: record,
        member: member.clone(),
        organization: organization.clone(),
        permissions: kh.rbac().await?.permissions_of(&member.roles),
    };
    tracing::info!(member_id = %member.id, "member session stepped up by a passkey");
    Ok(Some(with_cookie(
        Json(me.response()).into_response(),
        cookie,
    )))
}
