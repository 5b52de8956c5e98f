//! The member's browser session: login to one organization, discovery across
//! the organizations of an e-mail address, and logout.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhouse_core::assurance::amr;
use keyhouse_core::{ErrorCode, OAuthError, secret};
use keyhouse_store::{Member, Organization, SessionRecord};
use keyhouse_types::b2b::{
    DiscoveryRequest, DiscoveryResponse, DiscoverySelectRequest, MemberLoginRequest,
    MemberSessionResponse,
};

use keyhouse_types::SubjectKind;

use crate::Keyhouse;
use crate::accounts::session;
use crate::b2b::{CurrentMember, summary};
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::cookies::{read_cookie, set_named_cookie, with_cookie};
use crate::http::json::JsonBody;

/// How long a discovery token lets the user pick an organization, seconds.
const DISCOVERY_TTL: i64 = 600;

/// At most this many organizations are offered for one email.
const DISCOVERY_MAX: u64 = 20;

pub(crate) fn member_cookie_name(kh: &Keyhouse) -> &'static str {
    if kh.config().secure_cookies() {
        "__Host-keyhouse_member_session"
    } else {
        "keyhouse_member_session"
    }
}

impl Keyhouse {
    /// The live member session of a request with these headers, if any,
    /// whether or not its sign-in is as strong as the organization asks:
    /// check [`CurrentMember::meets_policy`] before serving the
    /// organization's data (the [`CurrentMember`] extractor and
    /// [`crate::MemberCaller`] do).
    pub async fn member_session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<CurrentMember>, OAuthError> {
        let Some(token) = read_cookie(headers, member_cookie_name(self)) else {
            return Ok(None);
        };
        let store = self.store();
        let Some(session) = store
            .find_session(&secret::hash_token(token), self.now())
            .await
            .map_err(store_error)?
            .filter(|s| s.subject_kind == Some(SubjectKind::Member))
        else {
            return Ok(None);
        };
        let session = session::touched(self, session, self.now()).await;
        let member = store
            .find_member(&session.subject_id)
            .await
            .map_err(store_error)?
            .filter(|m| {
                m.is_active() && Some(&m.organization_id) == session.organization_id.as_ref()
            });
        let Some(member) = member else {
            return Ok(None);
        };
        let Some(organization) = store
            .find_organization(&member.organization_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let permissions = self.rbac().await?.permissions_of(&member.roles);
        Ok(Some(CurrentMember {
            session,
            member,
            organization,
            permissions,
        }))
    }

    /// Starts a member session (a new id every time: docs/threat-model.md
    /// row 26). A member with two-step verification on gets a session that
    /// waits for it instead (`POST /api/b2b/session/second-factor`).
    pub(crate) async fn start_member_session(
        &self,
        member: Member,
        organization: Organization,
        old: Option<&str>,
        device: &session::Device,
        amr: Vec<String>,
    ) -> Result<Response, OAuthError> {
        self.start_member_session_at(member, organization, old, device, amr, None)
            .await
    }

    /// [`Keyhouse::start_member_session`] for a sign-in that happened at
    /// `auth_time` (a switch of organization carries the first one's).
    pub(crate) async fn start_member_session_at(
        &self,
        member: Member,
        organization: Organization,
        old: Option<&str>,
        device: &session::Device,
        amr: Vec<String>,
        auth_time: Option<i64>,
    ) -> Result<Response, OAuthError> {
        let opened = self
            .open_member_session(&member, &organization, old, device, amr, auth_time)
            .await?;
        if opened.waiting {
            let refusal = ApiError(session::second_factor_required()).into_response();
            return Ok(with_cookie(refusal, opened.cookie));
        }
        let permissions = self.rbac().await?.permissions_of(&member.roles);
        let me = CurrentMember {
            session: opened.session,
            member,
            organization,
            permissions,
        };
        Ok(with_cookie(
            Json(me.response()).into_response(),
            opened.cookie,
        ))
    }

    /// Opens a member session and says whether it waits for a second
    /// factor. An organization that requires single sign-on gets sessions
    /// only from it (docs/threat-model.md row 183).
    pub(crate) async fn open_member_session(
        &self,
        member: &Member,
        organization: &Organization,
        old: Option<&str>,
        device: &session::Device,
        amr: Vec<String>,
        auth_time: Option<i64>,
    ) -> Result<OpenedSession, OAuthError> {
        if organization.sso_required && !amr.iter().any(|a| a == amr::FED) {
            tracing::info!(member_id = %member.id, organization_id = %organization.id, ?amr, "member sign-in refused: the organization requires single sign-on");
            return Err(crate::b2b::sso::sso_required(organization));
        }
        // A passkey is two factors already.
        let waiting = member.has_second_factor()
            && keyhouse_core::assurance::Level::of(&amr)
                < keyhouse_core::assurance::Level::TwoFactors;
        let new = session::NewSession {
            kind: SubjectKind::Member,
            subject_id: &member.id,
            organization_id: Some(&organization.id),
            cookie: member_cookie_name(self),
            device,
            // A password (directly, or through discovery, which checked
            // it), a mailed link or code (through discovery), a passkey, or
            // the organization's own provider.
            amr,
            pending_factor: waiting.then_some(session::TOTP),
            auth_time,
        };
        let (session, cookie) = session::issue_session(self, new, old).await?;
        if waiting {
            tracing::info!(member_id = %member.id, organization_id = %organization.id, "member's first factor right; waiting for the second");
        } else {
            tracing::info!(member_id = %member.id, organization_id = %organization.id, "member signed in");
        }
        Ok(OpenedSession {
            session,
            cookie,
            waiting,
        })
    }

    /// The member session this request's cookie names, signed in or
    /// waiting for its second factor, with its live member.
    pub(crate) async fn member_waiting_or_signed_in(
        &self,
        headers: &HeaderMap,
    ) -> Result<(SessionRecord, Member), OAuthError> {
        let none = || OAuthError::new(ErrorCode::SessionRequired, "sign in first");
        let token = read_cookie(headers, member_cookie_name(self)).ok_or_else(none)?;
        let session = session::waiting_or_live(self, token)
            .await?
            .filter(|s| s.subject_kind == Some(SubjectKind::Member))
            .ok_or_else(none)?;
        let member = self
            .store()
            .find_member(&session.subject_id)
            .await
            .map_err(store_error)?
            .filter(|m| {
                m.is_active() && Some(&m.organization_id) == session.organization_id.as_ref()
            })
            .ok_or_else(none)?;
        Ok((session, member))
    }

    /// A discovery token: proof that `method` (an `amr` value: the password,
    /// or a mailed link or code) matched these member records, until `exp`,
    /// MACed under the deployment's secret key. It is bound to the browser
    /// that holds `binding` (a random value sent to it as a cookie) and
    /// names a fresh id so it can be used once (docs/threat-model.md row
    /// 50).
    fn discovery_token(
        &self,
        member_ids: &[String],
        exp: i64,
        binding: &str,
        method: &str,
        email: &str,
    ) -> String {
        let jti = secret::generate_id("disc", &mut rand::rng());
        let payload = URL_SAFE_NO_PAD.encode(format!(
            "{exp}|{jti}|{}|{method}|{}|{}",
            secret::hash_token(binding),
            URL_SAFE_NO_PAD.encode(email),
            member_ids.join(",")
        ));
        let mac = secret::hash_client_secret(&self.0.secret_key, &discovery_mac_input(&payload));
        format!("{payload}.{mac}")
    }

    /// The token's id, method and member ids, if it is ours, unexpired and
    /// bound to `binding`.
    fn check_discovery_token(&self, token: &str, binding: &str) -> Option<Discovered> {
        let (payload, mac) = token.split_once('.')?;
        let expected =
            secret::hash_client_secret(&self.0.secret_key, &discovery_mac_input(payload));
        if !secret::hashes_equal(&expected, mac) {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let mut parts = raw.splitn(6, '|');
        let (exp, jti, bound) = (parts.next()?, parts.next()?, parts.next()?);
        let (method, email, ids) = (parts.next()?, parts.next()?, parts.next()?);
        let email = String::from_utf8(URL_SAFE_NO_PAD.decode(email).ok()?).ok()?;
        if exp.parse::<i64>().ok()? <= self.now() {
            return None;
        }
        if !secret::hashes_equal(&secret::hash_token(binding), bound) {
            return None;
        }
        if method != amr::PASSWORD && method != amr::EMAIL {
            return None;
        }
        Some(Discovered {
            jti: jti.to_owned(),
            method: method.to_owned(),
            email,
            member_ids: ids.split(',').map(str::to_owned).collect(),
        })
    }

    /// The answer that offers `members`' organizations, and the
    /// organizations `email` may join by its domain (`joinable`), proven by
    /// `method`: their summaries, and a discovery token bound to this
    /// browser by a new cookie.
    pub(crate) async fn offer_organizations(
        &self,
        email: &str,
        members: Vec<Member>,
        joinable: Vec<Organization>,
        method: &str,
        return_to: Option<String>,
    ) -> Result<Response, OAuthError> {
        let mut organizations = Vec::new();
        for m in &members {
            if let Some(o) = self
                .store()
                .find_organization(&m.organization_id)
                .await
                .map_err(store_error)?
            {
                organizations.push(summary(&o));
            }
        }
        organizations.extend(joinable.iter().map(summary));
        organizations.sort_by_key(|o| o.name.to_lowercase());
        let mut ids: Vec<String> = members.into_iter().map(|m| m.id).collect();
        ids.extend(joinable.iter().map(|o| format!("join:{}", o.id)));
        let binding = secret::generate_token(&mut rand::rng());
        let cookie = set_named_cookie(self, discovery_cookie_name(self), &binding, DISCOVERY_TTL)
            .ok_or_else(|| OAuthError::server("cookie header"))?;
        let body = DiscoveryResponse {
            organizations,
            discovery_token: self.discovery_token(
                &ids,
                self.now() + DISCOVERY_TTL,
                &binding,
                method,
                email,
            ),
            joinable: joinable.into_iter().map(|o| o.slug).collect(),
            email: email.to_owned(),
            return_to,
        };
        Ok(with_cookie(Json(body).into_response(), cookie))
    }
}

/// What a discovery token's MAC covers: its payload, under a name of its
/// own (`v3`: the payload names the method and the address; a token of an
/// earlier form, whose fields would be read in the wrong places, is
/// refused).
fn discovery_mac_input(payload: &str) -> String {
    format!("discovery:v3:{payload}")
}

/// A member session just opened.
pub(crate) struct OpenedSession {
    /// Its record.
    pub(crate) session: SessionRecord,
    /// The cookie that carries it.
    pub(crate) cookie: axum::http::HeaderValue,
    /// Whether it waits for the second factor.
    pub(crate) waiting: bool,
}

/// What a checked discovery token says.
struct Discovered {
    /// Its id, spent on use.
    jti: String,
    /// How the address was proven (`pwd`, `email`).
    method: String,
    /// The address.
    email: String,
    /// The members it opens, and `join:<organization id>` for each
    /// organization the address may join by its domain.
    member_ids: Vec<String>,
}

/// `GET /api/b2b/session`: the member, even one whose sign-in is weaker
/// than the organization asks (the answer says so: `amr`,
/// `required_sign_in`), so the page can ask for the second step.
pub(crate) async fn current(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
) -> Result<Json<MemberSessionResponse>, ApiError> {
    // Any session, one opened around a required single sign-on included:
    // the pages learn from it that the member must sign in again.
    let me = kh
        .member_session(&headers)
        .await?
        .ok_or_else(crate::b2b::session_required)?;
    Ok(Json(me.response()))
}

/// `POST /api/b2b/session/login`: email and password into one organization.
pub(crate) async fn login(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<MemberLoginRequest>,
) -> Result<Response, ApiError> {
    let org = kh
        .store()
        .find_organization_by_slug(req.organization_slug.trim())
        .await
        .map_err(store_error)?;
    // docs/threat-model.md row 183: before any password is checked.
    if let Some(o) = org.as_ref().filter(|o| o.sso_required) {
        return Err(crate::b2b::sso::sso_required(o).into());
    }
    let org_id = org.as_ref().map(|o| o.id.clone());
    let (kh_ref, org_ref, password) = (&kh, &org_id, &req.password);
    let member = crate::accounts::throttle::throttled(&kh, &req.email, ip, |email| async move {
        let (kh, org_id) = (kh_ref, org_ref);
        let found = match (&org_id, &email) {
            (Some(o), Some(e)) => kh
                .store()
                .find_member_by_email(o, e)
                .await
                .map_err(store_error)?
                .filter(Member::is_active),
            _ => None,
        };
        let phc = found.as_ref().map(|m| m.password_hash.clone());
        let ok = crate::accounts::password::verify_password(kh, password, phc).await;
        Ok(found.filter(|_| ok))
    })
    .await?;
    let org = org.ok_or_else(|| OAuthError::server("organization vanished during login"))?;
    let old = read_cookie(&headers, member_cookie_name(&kh)).map(str::to_owned);
    Ok(kh
        .start_member_session(
            member,
            org,
            old.as_deref(),
            &session::Device::of(ip, &headers),
            vec![amr::PASSWORD.to_owned()],
        )
        .await?)
}

/// `POST /api/b2b/discovery`: the organizations where these credentials
/// belong to an active member. No match answers like a wrong password.
///
/// Exactly one password hash is checked per request, whatever the number of
/// memberships, so the answer's timing does not tell how many organizations
/// an address belongs to (docs/threat-model.md row 59). Memberships of one
/// address share a credential when they were created with the same password
/// (see `Keyhouse::create_member`); discovery proves the first membership's
/// credential and lists every membership holding that same one. A
/// membership with a password of its own is reached through its
/// organization's own sign-in.
pub(crate) async fn discovery(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    JsonBody(req): JsonBody<DiscoveryRequest>,
) -> Result<Response, ApiError> {
    let (kh_ref, password) = (&kh, &req.password);
    let matched = crate::accounts::throttle::throttled(&kh, &req.email, ip, |email| async move {
        let kh = kh_ref;
        let candidates = match &email {
            Some(e) => kh
                .store()
                .members_with_email(e, DISCOVERY_MAX)
                .await
                .map_err(store_error)?,
            None => Vec::new(),
        };
        // Memberships without a password (joined by their domain, signing
        // in by mail) hold no credential to prove.
        let Some(first) = candidates.iter().find(|m| !m.password_hash.is_empty()) else {
            // Same work as a real check: no timing difference for unknown emails.
            crate::accounts::password::verify_password(kh, password, None).await;
            return Ok(None);
        };
        let credential = first.password_hash.clone();
        if !crate::accounts::password::verify_password(kh, password, Some(credential.clone())).await
        {
            return Ok(None);
        }
        Ok(Some(
            candidates
                .into_iter()
                .filter(|m| m.password_hash == credential)
                .collect::<Vec<_>>(),
        ))
    })
    .await?;
    let email = matched.first().map(|m| m.email.clone()).unwrap_or_default();
    Ok(kh
        .offer_organizations(&email, matched, Vec::new(), amr::PASSWORD, None)
        .await?)
}

fn discovery_cookie_name(kh: &Keyhouse) -> &'static str {
    if kh.config().secure_cookies() {
        "__Host-keyhouse_discovery"
    } else {
        "keyhouse_discovery"
    }
}

/// `POST /api/b2b/discovery/select`: signs in to one discovered organization.
pub(crate) async fn discovery_select(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<DiscoverySelectRequest>,
) -> Result<Response, ApiError> {
    let expired = || {
        OAuthError::new(
            ErrorCode::InvalidCredentials,
            "the sign-in has expired; sign in again",
        )
    };
    // docs/threat-model.md row 50: only the browser that proved the
    // password or the address, and only once.
    let binding = read_cookie(&headers, discovery_cookie_name(&kh)).unwrap_or("");
    let Discovered {
        jti,
        method,
        email,
        member_ids: ids,
    } = kh
        .check_discovery_token(&req.discovery_token, binding)
        .ok_or_else(expired)?;
    let uses = kh
        .store()
        .hit(&format!("discovery:{jti}"), DISCOVERY_TTL, kh.now())
        .await
        .map_err(store_error)?;
    if uses > 1 {
        tracing::warn!(%jti, "discovery token presented again");
        return Err(expired().into());
    }
    let org = kh
        .store()
        .find_organization_by_slug(&req.organization_slug)
        .await
        .map_err(store_error)?
        .ok_or_else(expired)?;
    if org.sso_required {
        return Err(crate::b2b::sso::sso_required(&org).into());
    }
    let mut chosen = None;
    for id in &ids {
        if let Some(m) = kh.store().find_member(id).await.map_err(store_error)?
            && m.organization_id == org.id
            && m.is_active()
        {
            chosen = Some(m);
            break;
        }
    }
    let member = match chosen {
        Some(m) => m,
        // docs/threat-model.md row 178: joining by the address's domain,
        // offered only after the address was proven by mail.
        None if method == amr::EMAIL && ids.contains(&format!("join:{}", org.id)) => {
            kh.join_by_domain(&org, &email).await?.ok_or_else(expired)?
        }
        None => return Err(expired().into()),
    };
    let old = read_cookie(&headers, member_cookie_name(&kh)).map(str::to_owned);
    Ok(kh
        .start_member_session(
            member,
            org,
            old.as_deref(),
            &session::Device::of(ip, &headers),
            vec![method],
        )
        .await?)
}

/// `POST /api/b2b/session/logout`.
pub(crate) async fn logout(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = read_cookie(&headers, member_cookie_name(&kh)) {
        kh.store()
            .delete_session(&secret::hash_token(token), kh.now())
            .await
            .map_err(store_error)?;
        kh.deliver_logout_notices_later();
    }
    let cookie = set_named_cookie(&kh, member_cookie_name(&kh), "", 0)
        .ok_or_else(|| OAuthError::server("cookie header"))?;
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), cookie))
}
