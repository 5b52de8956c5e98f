//! Members sign in by mail: a link and a code that prove the address, then
//! discovery's choice of organization.
//!
//! `POST /api/b2b/discovery/email` mails a link (to `member_email_link_path`)
//! and a six-digit code, under the same rules as an account's mailed
//! sign-in (`accounts::email`): only hashes are stored, both are single
//! use, short-lived and bound to the browser that asked, one live message
//! per address and browser, `email_code_attempts` wrong codes, the same
//! per-address and per-IP limits. The answer is the same whether or not the
//! address belongs to any member: a message goes only when it does.
//!
//! The code (`/discovery/email/code`) or the link (`/discovery/email/link`)
//! answers like discovery with a password: the organizations where the
//! address is an active member now (only the one asked for, when the
//! request named one) and a discovery token whose sign-in says `amr`
//! `email`. `POST /api/b2b/discovery/select` then signs in, waiting for the
//! second factor of a member who has one, as after a password.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use keyhouse_core::assurance::amr;
use keyhouse_core::{ErrorCode, OAuthError, return_to};
use keyhouse_store::{ChallengePurpose, EmailChallenge, Member, Organization};
use keyhouse_types::b2b::MemberEmailLoginRequest;
use keyhouse_types::{EmailCodeRequest, EmailLinkRequest};

use crate::Keyhouse;
use crate::accounts::email::{
    Asking, Mail, Pending, asking, bad_link, opened_link, send_challenge, sent, typed_code,
    wrong_code,
};
use crate::accounts::reset::security_vars;
use crate::error::{ApiError, store_error};
use crate::http::client_ip::ClientIp;
use crate::http::json::JsonBody;

/// At most this many organizations are offered for one address (as for
/// discovery with a password).
const OFFERED_MAX: u64 = 20;

/// The active memberships of `email`, only in the organization of `slug`
/// when one is named.
async fn memberships(
    kh: &Keyhouse,
    email: &str,
    slug: Option<&str>,
) -> Result<Vec<Member>, OAuthError> {
    let store = kh.store();
    let Some(slug) = slug else {
        return store
            .members_with_email(email, OFFERED_MAX)
            .await
            .map_err(store_error);
    };
    let Some(organization) = store
        .find_organization_by_slug(slug)
        .await
        .map_err(store_error)?
    else {
        return Ok(Vec::new());
    };
    Ok(store
        .find_member_by_email(&organization.id, email)
        .await
        .map_err(store_error)?
        .filter(Member::is_active)
        .into_iter()
        .collect())
}

/// `POST /api/b2b/discovery/email`: mails a link and a code that open the
/// address's organizations (or the one named).
///
/// The answer goes before the memberships are looked up: whether a message
/// is sent, and the work of sending it, happen after it, so neither its
/// body nor its timing tells whether the address belongs to a member.
pub(crate) async fn email_login(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<MemberEmailLoginRequest>,
) -> Result<Response, ApiError> {
    let Asking {
        email,
        browser_hash,
        cookie,
        within_limit,
    } = asking(&kh, ip, &headers, &req.email).await?;
    if !within_limit {
        return Ok(sent(&kh, email, cookie));
    }
    let asked = Asked {
        email: email.clone(),
        slug: req
            .organization_slug
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        return_to: req
            .return_to
            .as_deref()
            .and_then(return_to::sanitize)
            .map(str::to_owned),
        browser_hash,
    };
    let task_kh = kh.clone();
    tokio::spawn(async move {
        if let Err(e) = mail_if_member(&task_kh, asked, ip, &headers).await {
            tracing::error!(error = %e, "member email sign-in: the message was not sent");
        }
    });
    Ok(sent(&kh, email, cookie))
}

/// A request for a member's message, checked and answered.
struct Asked {
    email: String,
    slug: Option<String>,
    return_to: Option<String>,
    browser_hash: String,
}

/// Mails the message when the address has an active membership (in the
/// organization named, when one is).
async fn mail_if_member(
    kh: &Keyhouse,
    asked: Asked,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> Result<(), OAuthError> {
    let slug = asked.slug.as_deref();
    let members = memberships(kh, &asked.email, slug).await?;
    let joinable = kh.joinable(&asked.email, slug).await?;
    if members.is_empty() && joinable.is_none() {
        tracing::info!(
            organization = slug,
            "member email sign-in asked for an address with no active membership; nothing sent"
        );
        return Ok(());
    }
    // The organization named, or how many there are.
    let organization = match (slug, members.as_slice(), &joinable) {
        (Some(_), [only], _) => kh
            .store()
            .find_organization(&only.organization_id)
            .await
            .map_err(store_error)?
            .map_or_else(|| "your organization".to_owned(), |o| o.name),
        (_, [], Some(o)) => o.name.clone(),
        (_, [_], None) => "your organization".to_owned(),
        _ => "your organizations".to_owned(),
    };
    let name = members.first().map(|m| m.name.clone()).unwrap_or_default();
    let mut vars = security_vars(kh, &asked.email, &name, ip, headers);
    vars.insert("organization", organization);
    let m = Mail {
        purpose: ChallengePurpose::MemberSignIn,
        email: &asked.email,
        user: None,
        browser_hash: Some(asked.browser_hash),
        pending: Pending {
            return_to: asked.return_to,
            organization_slug: asked.slug.clone(),
            ..Pending::default()
        },
        template: "member_sign_in_code",
    };
    send_challenge(kh, m, vars, &kh.config().member_email_link_path).await
}

/// `POST /api/b2b/discovery/email/code`: the code typed in the browser
/// that asked; answers like discovery.
pub(crate) async fn email_code(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EmailCodeRequest>,
) -> Result<Response, ApiError> {
    let purposes = [ChallengePurpose::MemberSignIn];
    let challenge = typed_code(&kh, ip, &headers, &req, &purposes).await?;
    offer(&kh, &challenge, wrong_code).await
}

/// `POST /api/b2b/discovery/email/link`: the token of a mailed link,
/// opened in the browser that asked; answers like discovery, with where
/// the request said to go.
pub(crate) async fn email_link(
    State(kh): State<Keyhouse>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EmailLinkRequest>,
) -> Result<Response, ApiError> {
    let members_only = |p: Option<ChallengePurpose>| p == Some(ChallengePurpose::MemberSignIn);
    let challenge = opened_link(&kh, ip, &headers, &req, members_only).await?;
    offer(&kh, &challenge, bad_link).await
}

/// Spends a checked challenge and offers the organizations the address
/// opens now (`refused` when another request spent it first).
async fn offer(
    kh: &Keyhouse,
    challenge: &EmailChallenge,
    refused: fn() -> ApiError,
) -> Result<Response, ApiError> {
    let Some(spent) = kh
        .store()
        .spend_member_challenge(&challenge.id_hash, kh.now())
        .await
        .map_err(store_error)?
    else {
        tracing::info!("member email challenge refused: spent by another request");
        return Err(refused());
    };
    let pending: Pending = spent
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    let slug = pending.organization_slug.as_deref();
    let members = memberships(kh, &spent.email, slug).await?;
    let joinable: Vec<Organization> = kh.joinable(&spent.email, slug).await?.into_iter().collect();
    if members.is_empty() && joinable.is_empty() {
        // Removed from every organization since the message went.
        tracing::info!(
            "member email challenge spent, but the address has no active membership now"
        );
        return Err(OAuthError::new(
            ErrorCode::InvalidCredentials,
            "this address is not a member of any organization now",
        )
        .into());
    }
    tracing::info!(
        memberships = members.len(),
        joinable = joinable.len(),
        "member proved the address by mail; organizations offered"
    );
    Ok(kh
        .offer_organizations(
            &spent.email,
            members,
            joinable,
            amr::EMAIL,
            pending.return_to,
        )
        .await?)
}
