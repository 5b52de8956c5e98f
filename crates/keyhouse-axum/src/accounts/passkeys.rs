//! Passkeys (WebAuthn, with `webauthn-rs`): adding them to an account,
//! signing in with them, listing and removing them (docs/threat-model.md
//! rows 125–134).
//!
//! - The relying party is the issuer: its host is the RP ID and its origin
//!   the only origin accepted, so a passkey made here signs nothing for a
//!   look-alike site. Browsers allow passkeys on a domain name only
//!   (`https://…`, or `http://localhost` while developing): an issuer at an
//!   IP address offers none ([`relying_party`]).
//! - Each ceremony's server half (its challenge) is stored when it starts
//!   and taken back, once, by the request that finishes it
//!   ([`keyhouse_store::Store::take_ceremony`]); it lives
//!   [`CEREMONY_TTL`] seconds. Starting a sign-in needs no session, so it
//!   is limited per IP.
//! - Adding one is adding a way into the account: it takes the current
//!   password (or a recent sign-in), and a session that used the second
//!   factor when one is on, like turning that off. The address is told.
//! - Signing in with one needs no password and no second step: the
//!   authenticator verified its user (a PIN or biometric: user
//!   verification is required) and the key is bound to this origin. The
//!   session's `amr` is `pop mfa`, its `acr` phishing-resistant.
//! - A credential id belongs to one account (the store refuses a second
//!   row), the user handle the authenticator returns must be the one the
//!   passkey was registered with, and a signature counter that did not
//!   grow means a cloned key: refused, logged and audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhouse_core::{ErrorCode, OAuthError, assurance, secret};
use keyhouse_store::{CeremonyKind, SessionRecord, StoreError, StoredPasskey, User};
use keyhouse_types::{
    AddPasskey, ConfirmHolder, PasskeyInfo, PasskeyList, PasskeyOptions, PasskeySignIn,
    StartPasskeySignIn, SubjectKind,
};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::Keyhouse;
use crate::accounts::devices::describe_user_agent;
use crate::accounts::reauth::confirm_holder;
use crate::accounts::second_factor::{Holder, needs_two_factors, notify_about};
use crate::accounts::session::{
    CurrentSession, Device, NewSession, cookie_name, issue_session, replace_keeping_sid,
    waiting_or_signed_in,
};
use crate::accounts::throttle::ip_within_hourly_limit;
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::{read_cookie, with_cookie};
use crate::http::json::{JsonBody, JsonOrNothing};

/// How long a started ceremony may wait for the browser (the WebAuthn
/// timeout the options name is the same).
pub const CEREMONY_TTL: i64 = 300;

/// Passkeys an account may hold.
pub const MAX_PASSKEYS: usize = 20;

/// Sign-in ceremonies one IP address may start in an hour with a button.
pub const SIGN_INS_PER_IP_PER_HOUR: i64 = 300;

/// Sign-in ceremonies one IP address may start in an hour for the
/// browser's passkey autofill. Every view of a sign-in page starts one,
/// and one network (an office, a carrier's NAT) may load many: they are
/// counted apart, so page views never use up the button's sign-ins.
pub const AUTOFILL_SIGN_INS_PER_IP_PER_HOUR: i64 = 1200;

/// The longest name a passkey may be given.
const MAX_NAME: usize = 60;

/// The issuer as a WebAuthn relying party: its host the RP ID, its origin
/// the only one accepted. An issuer at an IP address has none: browsers
/// refuse an address as an RP ID.
pub(crate) fn relying_party(kh: &Keyhouse) -> Result<Webauthn, OAuthError> {
    let unavailable = || {
        OAuthError::new(
            ErrorCode::NotFound,
            "passkeys need the service at a domain name (https, or http://localhost)",
        )
    };
    let origin = Url::parse(&kh.config().issuer).map_err(|_| unavailable())?;
    let Some(url::Host::Domain(host)) = origin.host() else {
        return Err(unavailable());
    };
    let host = host.to_owned();
    let name = crate::accounts::reset::issuer_name(kh);
    WebauthnBuilder::new(&host, &origin)
        .and_then(|b| {
            b.rp_name(&name)
                .timeout(std::time::Duration::from_secs(CEREMONY_TTL as u64))
                .build()
        })
        .map_err(|e| OAuthError::server(format!("passkeys: {e}")))
}

impl Keyhouse {
    /// Whether this deployment offers passkeys: Keyhouse keeps the users
    /// (an app with its own sign-in has none of Keyhouse's routes), and the
    /// issuer is at a domain name ([`relying_party`]).
    pub(crate) fn offers_passkeys(&self) -> bool {
        !self.keeps_own_users() && relying_party(self).is_ok()
    }
}

/// A registration's server half: the library's state and the user handle
/// it was started with.
#[derive(Serialize, Deserialize)]
struct Registration {
    user_handle: Uuid,
    state: PasskeyRegistration,
    /// What else the ceremony is for: the invitation a new member accepts
    /// with it (the ceremony then names a member who does not exist yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bound_to: Option<String>,
}

/// Stores a ceremony's server half; answers its id.
async fn start_ceremony(
    kh: &Keyhouse,
    kind: CeremonyKind,
    user_id: Option<&str>,
    state: &impl Serialize,
) -> Result<String, OAuthError> {
    let state = serde_json::to_string(state).map_err(|e| OAuthError::server(e.to_string()))?;
    let id = secret::generate_token(&mut rand::rng());
    kh.store()
        .start_ceremony(
            &secret::hash_token(&id),
            kind,
            user_id,
            &state,
            kh.now() + CEREMONY_TTL,
        )
        .await
        .map_err(store_error)?;
    Ok(id)
}

/// Takes a ceremony back (once) and reads its state.
async fn take_ceremony<T: for<'de> Deserialize<'de>>(
    kh: &Keyhouse,
    id: &str,
    kind: CeremonyKind,
) -> Result<(Option<String>, T), OAuthError> {
    let gone = || {
        OAuthError::new(
            ErrorCode::InvalidGrant,
            "this passkey request expired or was already used; start again",
        )
    };
    let found = kh
        .store()
        .take_ceremony(&secret::hash_token(id), kind, kh.now())
        .await
        .map_err(store_error)?
        .ok_or_else(gone)?;
    let state = serde_json::from_str(&found.state)
        .map_err(|e| OAuthError::server(format!("passkey ceremony state: {e}")))?;
    Ok((found.user_id, state))
}

fn encode_id(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn info(p: &StoredPasskey) -> PasskeyInfo {
    PasskeyInfo {
        id: p.credential_id.clone(),
        name: p.name.clone(),
        created_at: p.created_at,
        last_used_at: p.last_used_at,
    }
}

fn read_passkey(p: &StoredPasskey) -> Result<Passkey, OAuthError> {
    serde_json::from_str(&p.credential)
        .map_err(|e| OAuthError::server(format!("stored passkey {}: {e}", p.credential_id)))
}

fn too_many() -> OAuthError {
    OAuthError::new(
        ErrorCode::Conflict,
        format!("at most {MAX_PASSKEYS} passkeys can be added; remove one first"),
    )
}

/// The answer to a credential the browser sent that does not verify.
pub(crate) fn refused(what: &str, e: impl std::fmt::Display) -> OAuthError {
    tracing::info!(error = %e, "{what} refused");
    OAuthError::new(
        ErrorCode::InvalidCredentials,
        "that passkey could not be verified; try again, or use another way to sign in",
    )
}

/// `GET /api/account/passkeys`.
pub(crate) async fn list(
    State(kh): State<Keyhouse>,
    current: CurrentSession,
) -> Result<Json<PasskeyList>, ApiError> {
    Ok(Json(listed(&kh, &current.user.id).await?))
}

/// The passkeys of the account or member `holder_id`.
pub(crate) async fn listed(kh: &Keyhouse, holder_id: &str) -> Result<PasskeyList, OAuthError> {
    let passkeys = kh
        .store()
        .passkeys_of(holder_id)
        .await
        .map_err(store_error)?;
    Ok(PasskeyList {
        passkeys: passkeys.iter().map(info).collect(),
    })
}

/// `POST /api/account/passkeys/options`: starts adding a passkey (the
/// current password, or a recent sign-in).
pub(crate) async fn registration_options(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<Json<PasskeyOptions>, ApiError> {
    relying_party(&kh)?;
    needs_two_factors(&current)?;
    confirm_holder(&kh, &current, req.password.as_deref(), ip).await?;
    Ok(Json(
        start_registration(&kh, Holder::User(&current.user)).await?,
    ))
}

/// Starts adding a passkey to `holder` (confirmed by the caller).
pub(crate) async fn start_registration(
    kh: &Keyhouse,
    holder: Holder<'_>,
) -> Result<PasskeyOptions, OAuthError> {
    start_bound_registration(kh, holder, None).await
}

/// [`start_registration`] for a ceremony that only the request naming
/// `bound_to` may finish ([`check_registration`]).
pub(crate) async fn start_bound_registration(
    kh: &Keyhouse,
    holder: Holder<'_>,
    bound_to: Option<&str>,
) -> Result<PasskeyOptions, OAuthError> {
    let rp = relying_party(kh)?;
    let existing = kh
        .store()
        .passkeys_of(holder.id())
        .await
        .map_err(store_error)?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(too_many());
    }
    // One handle per holder: every passkey of it names the same user.
    let user_handle = existing
        .first()
        .and_then(|p| Uuid::parse_str(&p.user_handle).ok())
        .unwrap_or_else(Uuid::new_v4);
    let exclude = existing
        .iter()
        .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
        .collect::<Vec<_>>();
    let name = match holder.name().trim() {
        "" => holder.email().to_owned(),
        name => name.to_owned(),
    };
    // The browser's chooser tells a membership's passkey from the
    // account's, and one membership's from another's (choosers show the
    // name, the display name, or both).
    let (user_name, display) = match holder {
        Holder::User(_) => (holder.email().to_owned(), name),
        Holder::Member(_, organization) => (
            format!("{} ({organization})", holder.email()),
            format!("{name} ({organization})"),
        ),
    };
    let (options, state) = rp
        .start_passkey_registration(user_handle, &user_name, &display, Some(exclude))
        .map_err(|e| OAuthError::server(format!("passkey registration: {e}")))?;
    let ceremony = start_ceremony(
        kh,
        CeremonyKind::Register,
        Some(holder.id()),
        &Registration {
            user_handle,
            state,
            bound_to: bound_to.map(str::to_owned),
        },
    )
    .await?;
    let mut options =
        serde_json::to_value(&options).map_err(|e| OAuthError::server(e.to_string()))?;
    // A passkey is a discoverable credential: signing in names no account,
    // so the authenticator must keep it (the library leaves it optional).
    let selection = options
        .get_mut("publicKey")
        .and_then(|p| p.get_mut("authenticatorSelection"))
        .and_then(|s| s.as_object_mut())
        .ok_or_else(|| OAuthError::server("passkey options without authenticatorSelection"))?;
    selection.insert("residentKey".into(), "required".into());
    selection.insert("requireResidentKey".into(), true.into());
    Ok(PasskeyOptions { ceremony, options })
}

/// `POST /api/account/passkeys`: the browser's new credential finishes
/// the ceremony this account started.
pub(crate) async fn add(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AddPasskey>,
) -> Result<(StatusCode, Json<PasskeyInfo>), ApiError> {
    let added = finish_registration(&kh, Holder::User(&current.user), req, ip, &headers).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Finishes adding a passkey to `holder`: the ceremony must be the one
/// `holder` started. The holder is mailed and the addition audited.
pub(crate) async fn finish_registration(
    kh: &Keyhouse,
    holder: Holder<'_>,
    req: AddPasskey,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> Result<PasskeyInfo, OAuthError> {
    let stored = check_registration(kh, Owner::Holder(holder), req, ip, headers).await?;
    match kh.store().add_passkey(&stored).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(registered_already(holder, &stored)),
        Err(e) => return Err(store_error(e)),
    }
    tracing::info!(holder = %holder.actor(), credential_id = %stored.credential_id, "passkey added");
    let what = format!("A passkey ({}) was added", stored.name);
    notify_about(kh, "passkeys_changed", holder, ip, headers, &what);
    audit(kh, holder, "passkey_added", &stored.credential_id).await;
    Ok(info(&stored))
}

/// Whose ceremony a registration must be.
#[derive(Clone, Copy)]
pub(crate) enum Owner<'a> {
    /// One the holder started.
    Holder(Holder<'a>),
    /// One started for the request naming this (an invitation's id): the
    /// holder does not exist yet, and is the one the ceremony names.
    BoundTo(&'a str),
}

/// The refusal of a credential some holder registered already.
pub(crate) fn registered_already(holder: Holder<'_>, stored: &StoredPasskey) -> OAuthError {
    tracing::warn!(holder = %holder.actor(), credential_id = %stored.credential_id, "passkey registration refused: the credential is registered already");
    OAuthError::new(ErrorCode::Conflict, "this passkey is registered already")
}

/// Takes the ceremony `req` finishes (once), checks it is `owner`'s, and
/// verifies the browser's new credential: the passkey to store, for the
/// holder the ceremony names. Stores nothing.
pub(crate) async fn check_registration(
    kh: &Keyhouse,
    owner: Owner<'_>,
    req: AddPasskey,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> Result<StoredPasskey, OAuthError> {
    let rp = relying_party(kh)?;
    let (named, reg): (_, Registration) =
        take_ceremony(kh, &req.ceremony, CeremonyKind::Register).await?;
    let theirs = match owner {
        Owner::Holder(h) => named.as_deref() == Some(h.id()) && reg.bound_to.is_none(),
        Owner::BoundTo(b) => named.is_some() && reg.bound_to.as_deref() == Some(b),
    };
    let Some(holder_id) = named.filter(|_| theirs) else {
        let who = match owner {
            Owner::Holder(h) => h.actor(),
            Owner::BoundTo(b) => b.to_owned(),
        };
        tracing::warn!(holder = %who, "passkey registration refused: the ceremony was someone else's");
        return Err(OAuthError::new(
            ErrorCode::InvalidGrant,
            "this passkey request expired or was already used; start again",
        ));
    };
    // Counted again: ceremonies started side by side all passed the first
    // count.
    let held = kh
        .store()
        .passkeys_of(&holder_id)
        .await
        .map_err(store_error)?
        .len();
    if held >= MAX_PASSKEYS {
        return Err(too_many());
    }
    let credential: RegisterPublicKeyCredential = serde_json::from_value(req.credential)
        .map_err(|e| OAuthError::invalid_request(format!("credential: {e}")))?;
    let passkey = rp
        .finish_passkey_registration(&credential, &reg.state)
        .map_err(|e| refused("passkey registration", e))?;
    let name = match req.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME)
            .collect(),
        _ => describe_user_agent(Device::of(ip, headers).user_agent.as_deref()),
    };
    Ok(StoredPasskey {
        credential_id: encode_id(passkey.cred_id()),
        user_id: holder_id,
        user_handle: reg.user_handle.to_string(),
        name,
        credential: serde_json::to_string(&passkey)
            .map_err(|e| OAuthError::server(e.to_string()))?,
        created_at: kh.now(),
        last_used_at: None,
    })
}

/// `POST /api/account/passkeys/{id}/remove` (the current password, or a
/// recent sign-in).
pub(crate) async fn remove(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    current: CurrentSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ConfirmHolder>,
) -> Result<StatusCode, ApiError> {
    needs_two_factors(&current)?;
    confirm_holder(&kh, &current, req.password.as_deref(), ip).await?;
    remove_for(&kh, Holder::User(&current.user), &id, ip, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes `holder`'s passkey `id` (confirmed by the caller); another's is
/// `not_found`. The holder is mailed and the removal audited.
pub(crate) async fn remove_for(
    kh: &Keyhouse,
    holder: Holder<'_>,
    id: &str,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> Result<(), OAuthError> {
    let found = kh.store().find_passkey(id).await.map_err(store_error)?;
    let Some(found) = found.filter(|p| p.user_id == holder.id()) else {
        let whose = match holder {
            Holder::User(_) => "no such passkey on this account",
            Holder::Member(..) => "no such passkey on this membership",
        };
        return Err(OAuthError::new(ErrorCode::NotFound, whose));
    };
    let removed = kh
        .store()
        .remove_passkey(holder.id(), id)
        .await
        .map_err(store_error)?;
    if removed {
        tracing::info!(holder = %holder.actor(), credential_id = %id, "passkey removed");
        let what = format!("A passkey ({}) was removed", found.name);
        notify_about(kh, "passkeys_changed", holder, ip, headers, &what);
        audit(kh, holder, "passkey_removed", id).await;
    }
    Ok(())
}

/// `POST /api/session/passkey/options`: starts a sign-in with a
/// discoverable passkey (the browser offers the passkeys it holds for
/// this site; no address is typed), for a button or, with `autofill`, for
/// the address field's suggestions (each counted apart).
pub(crate) async fn sign_in_options(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    JsonOrNothing(req): JsonOrNothing<StartPasskeySignIn>,
) -> Result<Json<PasskeyOptions>, ApiError> {
    let rp = relying_party(&kh)?;
    let (bucket, limit, what) = match req.autofill {
        true => (
            "passkey-autofill",
            AUTOFILL_SIGN_INS_PER_IP_PER_HOUR,
            "passkey autofill sign-ins",
        ),
        false => (
            "passkey-sign-in",
            SIGN_INS_PER_IP_PER_HOUR,
            "passkey sign-ins",
        ),
    };
    ip_within_hourly_limit(&kh, bucket, ip, limit, what).await?;
    let (mut options, state) = rp
        .start_discoverable_authentication()
        .map_err(|e| OAuthError::server(format!("passkey sign-in: {e}")))?;
    // The browser is told how to ask (a dialog at once, or among the
    // address field's suggestions) by the page, which knows which it is.
    options.mediation = None;
    let ceremony = start_ceremony(&kh, CeremonyKind::SignIn, None, &state).await?;
    let options = serde_json::to_value(&options).map_err(|e| OAuthError::server(e.to_string()))?;
    Ok(Json(PasskeyOptions { ceremony, options }))
}

/// `POST /api/session/passkey`: finishes a sign-in. The new session
/// replaces this browser's (keeping its `sid` when it was the same
/// account's: a step-up); an account with a second factor needs no code.
/// A member's passkey signs in no account.
pub(crate) async fn sign_in(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PasskeySignIn>,
) -> Result<Response, ApiError> {
    let stored = verified(&kh, req).await?;
    let user = kh
        .store()
        .find_user(&stored.user_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| refused("passkey sign-in", "not an account's passkey"))?;
    if user.is_disabled() {
        tracing::info!(user_id = %user.id, "passkey sign-in refused: the account is disabled");
        return Err(OAuthError::new(
            ErrorCode::AccountDisabled,
            "this account is disabled; contact the service to have it enabled",
        )
        .into());
    }
    let device = Device::of(ip, &headers);
    let (session, cookie) = passkey_session(&kh, &headers, &user, &device).await?;
    tracing::info!(user_id = %user.id, credential_id = %stored.credential_id, "signed in with a passkey");
    let current = CurrentSession { session, user };
    Ok(with_cookie(
        Json(current.response()).into_response(),
        cookie,
    ))
}

/// Verifies the browser's answer to a sign-in ceremony (started at
/// `…/passkey/options`, taken once) and records the passkey's use: the
/// passkey, whoever holds it (an account or a member: the caller checks
/// it is one it signs in).
pub(crate) async fn verified(
    kh: &Keyhouse,
    req: PasskeySignIn,
) -> Result<StoredPasskey, OAuthError> {
    let rp = relying_party(kh)?;
    let (_, state): (_, DiscoverableAuthentication) =
        take_ceremony(kh, &req.ceremony, CeremonyKind::SignIn).await?;
    let credential: PublicKeyCredential = serde_json::from_value(req.credential)
        .map_err(|e| OAuthError::invalid_request(format!("credential: {e}")))?;
    let (handle, cred_id) = rp
        .identify_discoverable_authentication(&credential)
        .map_err(|e| refused("passkey sign-in", e))?;
    let cred_id = encode_id(cred_id);
    let stored = kh
        .store()
        .find_passkey(&cred_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| refused("passkey sign-in", format!("unknown credential {cred_id}")))?;
    if stored.user_handle != handle.to_string() {
        tracing::warn!(credential_id = %cred_id, "passkey sign-in refused: the user handle is not the one it was registered with");
        return Err(refused("passkey sign-in", "user handle mismatch"));
    }
    let mut passkey = read_passkey(&stored)?;
    let result = match rp.finish_discoverable_authentication_v2(&credential, state, &passkey) {
        Ok(r) => r,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            tracing::warn!(holder_id = %stored.user_id, credential_id = %cred_id, "passkey sign-in refused: its counter went back (a cloned key?)");
            let (actor, action) = match stored.user_id.starts_with("member-") {
                true => ("member", "member.passkey_counter_regressed"),
                false => ("user", "account.passkey_counter_regressed"),
            };
            kh.audit(
                &format!("{actor}:{}", stored.user_id),
                action,
                None,
                serde_json::json!({ "credential_id": cred_id }),
            )
            .await;
            return Err(refused("passkey sign-in", "counter regression"));
        }
        Err(e) => return Err(refused("passkey sign-in", e)),
    };
    passkey.update_credential(&result);
    let after = serde_json::to_string(&passkey).map_err(|e| OAuthError::server(e.to_string()))?;
    let recorded = kh
        .store()
        .passkey_used(&cred_id, &stored.credential, &after, kh.now())
        .await
        .map_err(store_error)?;
    if !recorded {
        // Another sign-in with this passkey moved its counter meanwhile
        // (or it was removed): this assertion is not the newest.
        return Err(refused("passkey sign-in", "the passkey changed meanwhile"));
    }
    Ok(stored)
}

/// The session of a passkey sign-in. This browser's session of the same
/// account (signed in, or waiting for its second factor) is replaced and
/// keeps its `sid`, as any step-up does; any other is ended.
async fn passkey_session(
    kh: &Keyhouse,
    headers: &HeaderMap,
    user: &User,
    device: &Device,
) -> Result<(SessionRecord, axum::http::HeaderValue), OAuthError> {
    let new = NewSession {
        kind: SubjectKind::User,
        subject_id: &user.id,
        organization_id: None,
        cookie: cookie_name(kh),
        device,
        amr: assurance::passkey(),
        pending_factor: None,
        auth_time: None,
    };
    let old_token = read_cookie(headers, cookie_name(kh));
    if let Some(old) = same_account_session(kh, old_token, user).await?
        && let Some(stepped) = replace_keeping_sid(kh, &old, &new).await?
    {
        return Ok(stepped);
    }
    issue_session(kh, new, old_token).await
}

/// This browser's session, when it is `user`'s (full, or waiting for a
/// second factor).
async fn same_account_session(
    kh: &Keyhouse,
    token: Option<&str>,
    user: &User,
) -> Result<Option<SessionRecord>, OAuthError> {
    Ok(waiting_or_signed_in(kh, token)
        .await?
        .map(|(s, _)| s)
        .filter(|s| s.subject_id == user.id))
}

pub(crate) async fn audit(kh: &Keyhouse, holder: Holder<'_>, what: &str, credential_id: &str) {
    kh.audit(
        &holder.actor(),
        &holder.action(what),
        None,
        serde_json::json!({ "credential_id": credential_id }),
    )
    .await;
}
