//! `POST /oauth2/token`: one handler per grant.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use keyhouse_core::claims::OrganizationClaim;
use keyhouse_core::client::{Client, GrantType, RefreshPolicy};
use keyhouse_core::scope::{OFFLINE_ACCESS, OPENID};
use keyhouse_core::token::{Form, TokenRequest};
use keyhouse_core::{ErrorCode, OAuthError, ScopeSet, authorize, pkce, secret};
use keyhouse_store::{
    CodeRecord, FamilyRecord, RedeemOutcome, RefreshOutcome, RefreshRecord, Rotation,
};
use serde::Serialize;

use crate::Keyhouse;
use crate::error::{TokenError, store_error};
use crate::oauth::mint::{Authenticated, Mint};

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl TokenResponse {
    /// A bearer access token for `scopes`, living as long as the client's
    /// access tokens do.
    fn bearer(client: &Client, access_token: String, scopes: &ScopeSet) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.access_token_ttl,
            scope: scopes.to_string(),
            id_token: None,
            refresh_token: None,
        }
    }

    /// With an ID token and a refresh token, when the grant issues them.
    fn with(self, id_token: Option<String>, refresh_token: Option<String>) -> TokenResponse {
        TokenResponse {
            id_token,
            refresh_token,
            ..self
        }
    }
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut res = Json(self).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        res
    }
}

/// Reads an `application/x-www-form-urlencoded` body.
pub(crate) fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(OAuthError::invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    Form::from_pairs(url::form_urlencoded::parse(body).into_owned())
}

/// `POST /oauth2/token`.
pub(crate) async fn token(
    State(kh): State<Keyhouse>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TokenError> {
    let form = parse_form(&headers, &body)?;
    // The client first: nothing an unauthenticated caller sends (a scope of
    // thousands of tokens, say) is parsed before it has proven who it is
    // (docs/threat-model.md row 44).
    let (client, _) = kh.authenticate_client(&headers, &form).await?;
    let request = TokenRequest::parse(&form)?;
    // docs/threat-model.md row 46: each client uses only the grants it was
    // registered for.
    if !client.allows_grant(request.grant_type()) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for this grant type",
        )
        .with_debug(format!(
            "{} asked for {}",
            client.id,
            request.grant_type().as_str()
        ))
        .into());
    }
    let grant = request.grant_type().as_str();
    let response = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resource,
        } => authorization_code(&kh, &client, &code, redirect_uri, code_verifier, resource).await?,
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resource,
        } => refresh(&kh, &client, &refresh_token, scope, resource).await?,
        TokenRequest::ClientCredentials { scope, resource } => {
            client_credentials(&kh, &client, scope, resource).await?
        }
    };
    metrics::counter!(
        crate::http::metrics::TOKENS_ISSUED,
        "grant_type" => grant,
        "client_type" => client.client_type.as_str()
    )
    .increment(1);
    // Self-onboarded clients unused for long are purged; the write happens
    // at most once an hour per client.
    if client.origin != keyhouse_core::client::ClientOrigin::Manual
        && let Err(e) = kh.store().touch_client(&client.id, kh.now()).await
    {
        tracing::warn!(client_id = %client.id, error = %e, "recording the client's last use failed");
    }
    Ok(response.into_response())
}

impl Keyhouse {
    /// The part of `scopes` a member's current roles let them grant.
    async fn grantable_now(
        &self,
        member_id: &str,
        scopes: &ScopeSet,
    ) -> Result<ScopeSet, OAuthError> {
        let member = self
            .store()
            .find_member(member_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| OAuthError::invalid_grant("the member no longer exists"))?;
        let policy = self.rbac().await?;
        let permissions = policy.permissions_of(&member.roles);
        Ok(scopes.filter(|s| policy.grantable(&permissions, s)))
    }

    /// For a grant made in an organization: its claim, once the member is
    /// still active there, the organization still allows the client, and
    /// the sign-in it was made from (`amr`) is as strong as the
    /// organization asks now (a refresh after any of these changed is
    /// refused; a grant made while the requirement was being turned on
    /// cannot outlive it).
    async fn member_grant(
        &self,
        client: &Client,
        subject: &str,
        organization_id: Option<&str>,
        amr: &[String],
    ) -> Result<Option<OrganizationClaim>, OAuthError> {
        let Some(claim) = self.organization_claim(organization_id).await? else {
            return Ok(None);
        };
        let org = self
            .store()
            .find_organization(&claim.organization_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| OAuthError::invalid_grant("the organization no longer exists"))?;
        if !org.connected_apps.allows(&client.id, client.client_type) {
            return Err(OAuthError::invalid_grant(
                "the organization no longer allows this app",
            ));
        }
        if !keyhouse_core::assurance::satisfies(
            amr,
            crate::b2b::required_level(org.required_sign_in),
        ) {
            return Err(OAuthError::invalid_grant(
                "the organization asks for a stronger sign-in than this grant's",
            ));
        }
        if self.profile(subject, Some(&claim)).await?.is_none() {
            return Err(OAuthError::invalid_grant(
                "the member no longer belongs to the organization",
            ));
        }
        Ok(Some(claim))
    }
}

/// docs/threat-model.md row 51: a refresh token only when `offline_access`
/// was granted on consent, or the operator set the client's policy to
/// `always` (consent then says access continues until revoked); never to a
/// client not registered for the refresh grant.
fn issues_refresh(client: &Client, scopes: &ScopeSet) -> bool {
    client.allows_grant(GrantType::RefreshToken)
        && (client.refresh_policy == RefreshPolicy::Always || scopes.contains(OFFLINE_ACCESS))
}

/// The authorization code grant (RFC 6749 §4.1.3).
async fn authorization_code(
    kh: &Keyhouse,
    client: &Client,
    code: &str,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    resource: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let exchange = CodeExchange {
        client,
        redirect_uri: redirect_uri.as_deref(),
        code_verifier: code_verifier.as_deref(),
        resource: resource.as_deref(),
    };
    let refresh_token = secret::generate_token(&mut rand::rng());
    let code = redeem(kh, &exchange, code, &refresh_token).await?;
    // The family was made with the code: a refusal revokes it too.
    let organization = still_granted(
        kh,
        client,
        &code.family_id,
        &code.subject_id,
        code.organization_id.as_deref(),
        &code.amr,
    )
    .await?;
    let granted = Granted {
        subject: &code.subject_id,
        scopes: &code.scopes,
        audience: code.resource.as_deref(),
        auth_time: code.auth_time,
        amr: &code.amr,
        sid: code.sid.as_deref(),
        family: &code.family_id,
        organization: organization.as_ref(),
    };
    let access_token = user_access_token(kh, client, &granted).await?;
    let id_token = match code.scopes.contains(OPENID) {
        true => Some(id_token(kh, client, &granted, code.nonce.clone(), &access_token).await?),
        false => None,
    };
    let refresh_token = issues_refresh(client, &code.scopes).then_some(refresh_token);
    Ok(TokenResponse::bearer(client, access_token, &code.scopes).with(id_token, refresh_token))
}

/// What a client presents with a code, checked against the stored code inside
/// the redemption, so a code that fails a check is not spent.
struct CodeExchange<'a> {
    client: &'a Client,
    redirect_uri: Option<&'a str>,
    code_verifier: Option<&'a str>,
    resource: Option<&'a str>,
}

impl CodeExchange<'_> {
    fn check(&self, kh: &Keyhouse, c: &CodeRecord, now: i64) -> Result<(), OAuthError> {
        if c.client_id != self.client.id {
            return Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        if c.expires_at <= now {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        // RFC 6749 §4.1.3: the same redirect_uri as the authorization request.
        if self.redirect_uri != Some(c.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri must be the one of the authorization request",
            ));
        }
        pkce::verify(c.code_challenge.as_deref(), self.code_verifier)?;
        // RFC 8707 §2.2: the code's resource, or none (the same).
        let bound = c
            .resource
            .clone()
            .unwrap_or_else(|| kh.audience_of(self.client, None));
        authorize::check_resource(self.resource, &[bound]).map_err(|_| {
            OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource differs from the authorization request",
            )
        })?;
        Ok(())
    }
}

/// Spends the code (a conditional update decides a race between two
/// redemptions) and, when the grant issues one, stores the first refresh
/// token of its family in the same transaction.
async fn redeem(
    kh: &Keyhouse,
    exchange: &CodeExchange<'_>,
    code: &str,
    refresh_token: &str,
) -> Result<CodeRecord, OAuthError> {
    let now = kh.now();
    let (refresh_ttl, family_ttl) = (
        kh.config().refresh_token_ttl,
        kh.config().refresh_family_ttl,
    );
    let outcome = kh
        .store()
        .redeem_code(&secret::hash_token(code), now, |c| {
            exchange.check(kh, c, now)?;
            Ok(
                issues_refresh(exchange.client, &c.scopes).then(|| RefreshRecord {
                    token_hash: secret::hash_token(refresh_token),
                    family_id: c.family_id.clone(),
                    created_at: now,
                    // The family was created with the code: same start, so the
                    // same absolute end.
                    expires_at: (now + refresh_ttl).min(c.created_at + family_ttl),
                }),
            )
        })
        .await
        .map_err(store_error)?;
    match outcome {
        RedeemOutcome::Redeemed { code } => Ok(*code),
        RedeemOutcome::Replayed => {
            tracing::warn!(client_id = %exchange.client.id, "authorization code replayed: its tokens are revoked");
            Err(OAuthError::invalid_grant("the code was already used"))
        }
        RedeemOutcome::Unknown => Err(OAuthError::invalid_grant("unknown code")),
        RedeemOutcome::Refused(e) => Err(e),
    }
}

/// A grant a user (or member) made, as the code or the refresh family
/// records it: what its access and ID tokens are minted from.
struct Granted<'a> {
    subject: &'a str,
    scopes: &'a ScopeSet,
    audience: Option<&'a str>,
    auth_time: i64,
    /// How the user authenticated (the ID token's `amr` and `acr`).
    amr: &'a [String],
    /// The browser session it was made in (the ID token's `sid`).
    sid: Option<&'a str>,
    family: &'a str,
    organization: Option<&'a OrganizationClaim>,
}

/// The access token of a user's grant, with the client's template claims.
async fn user_access_token(
    kh: &Keyhouse,
    client: &Client,
    g: &Granted<'_>,
) -> Result<String, OAuthError> {
    kh.mint_access_token(&Mint {
        client,
        subject: g.subject,
        scopes: g.scopes,
        audience: g.audience,
        auth_time: Some(g.auth_time),
        family: Some(g.family),
        organization: g.organization,
        extra: kh
            .template_claims(client, g.subject, g.organization)
            .await?,
    })
}

/// The ID token (OIDC Core §3.1.3.3), for a grant that includes `openid`.
async fn id_token(
    kh: &Keyhouse,
    client: &Client,
    g: &Granted<'_>,
    nonce: Option<String>,
    access_token: &str,
) -> Result<String, OAuthError> {
    let user = kh
        .profile(g.subject, g.organization)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    kh.mint_id_token(
        client,
        &user,
        g.scopes,
        Authenticated {
            auth_time: g.auth_time,
            amr: g.amr,
            sid: g.sid,
        },
        nonce,
        access_token,
    )
}

/// The refresh token grant (RFC 6749 §6), rotating the token (RFC 9700 §4.14).
async fn refresh(
    kh: &Keyhouse,
    client: &Client,
    token: &str,
    scope: Option<ScopeSet>,
    resource: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let (family, refresh_token) =
        rotate(kh, client, token, scope.as_ref(), resource.as_deref()).await?;
    let organization = still_granted(
        kh,
        client,
        &family.id,
        &family.subject_id,
        family.organization_id.as_deref(),
        &family.amr,
    )
    .await?;
    let scopes = scope.unwrap_or_else(|| family.scopes.clone());
    // docs/threat-model.md row 47: a member's refresh carries only what
    // their roles cover now, whatever the family was granted.
    let scopes = match &organization {
        Some(_) => kh.grantable_now(&family.subject_id, &scopes).await?,
        None => scopes,
    };
    let granted = Granted {
        subject: &family.subject_id,
        scopes: &scopes,
        audience: family.resource.as_deref(),
        auth_time: family.auth_time,
        amr: &family.amr,
        sid: family.sid.as_deref(),
        family: &family.id,
        organization: organization.as_ref(),
    };
    let access_token = user_access_token(kh, client, &granted).await?;
    Ok(TokenResponse::bearer(client, access_token, &scopes).with(None, Some(refresh_token)))
}

/// Rotates a refresh token: the presented one is spent and a successor
/// issued, in one conditional update. Within the client's grace period a
/// second presentation gets the same successor (sealed with the master key),
/// after it the whole family is revoked (RFC 9700 §4.14.2). Returns the
/// family and the refresh token to hand out.
async fn rotate(
    kh: &Keyhouse,
    client: &Client,
    token: &str,
    scope: Option<&ScopeSet>,
    resource: Option<&str>,
) -> Result<(FamilyRecord, String), OAuthError> {
    let now = kh.now();
    let next_token = secret::generate_token(&mut rand::rng());
    let token_hash = secret::hash_token(token);
    let next = RefreshRecord {
        token_hash: secret::hash_token(&next_token),
        family_id: String::new(),
        created_at: now,
        expires_at: now + kh.config().refresh_token_ttl,
    };
    let context = format!("refresh successor {token_hash}");
    let rotation = Rotation {
        grace: client.refresh_grace,
        sealed_successor: match client.refresh_grace {
            0 => String::new(),
            _ => kh
                .master_key()
                .seal(&context, next_token.as_bytes())
                .map_err(|e| OAuthError::bare(ErrorCode::ServerError).with_debug(e.to_string()))?,
        },
    };
    let outcome = kh
        .store()
        .rotate_refresh(&token_hash, now, &next, rotation, |family| {
            family_allows(kh, client, family, scope, resource)
        })
        .await
        .map_err(store_error)?;
    match outcome {
        RefreshOutcome::Rotated { family } => Ok((family, next_token)),
        RefreshOutcome::Grace { family, successor } => {
            let plain = kh
                .master_key()
                .open(&context, &successor)
                .ok()
                .and_then(|p| String::from_utf8(p).ok())
                .ok_or_else(|| {
                    OAuthError::bare(ErrorCode::ServerError)
                        .with_debug("a sealed refresh successor does not open".to_owned())
                })?;
            tracing::info!(client_id = %client.id, family_id = %family.id, "refresh token presented again within the grace period: same successor");
            Ok((family, plain))
        }
        RefreshOutcome::Reused => {
            tracing::warn!(client_id = %client.id, "refresh token reused: its family is revoked");
            metrics::counter!(crate::http::metrics::REFRESH_REUSE).increment(1);
            Err(OAuthError::invalid_grant(
                "the refresh token was already used",
            ))
        }
        RefreshOutcome::Invalid => Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        )),
        RefreshOutcome::Refused(e) => Err(e),
    }
}

/// Whether this refresh may draw on the family: checked inside the rotation,
/// so a refused refresh spends nothing.
fn family_allows(
    kh: &Keyhouse,
    client: &Client,
    family: &FamilyRecord,
    scope: Option<&ScopeSet>,
    resource: Option<&str>,
) -> Result<(), OAuthError> {
    if family.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    // RFC 6749 §6: the scope may only shrink.
    if scope.is_some_and(|s| !s.is_subset_of(&family.scopes)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "the requested scope exceeds what was granted",
        ));
    }
    // RFC 8707 §2.2: a refresh may name the family's resource, never
    // another one (the resource set cannot widen).
    let bound = family
        .resource
        .clone()
        .unwrap_or_else(|| kh.audience_of(client, None));
    authorize::check_resource(resource, &[bound])?;
    Ok(())
}

/// For a member's family: its organization claim, once the member and the
/// organization still allow the grant. When they do not (the member left, or
/// the organization now refuses the app) the whole family goes, not just
/// this refresh.
async fn still_granted(
    kh: &Keyhouse,
    client: &Client,
    family_id: &str,
    subject: &str,
    organization_id: Option<&str>,
    amr: &[String],
) -> Result<Option<OrganizationClaim>, OAuthError> {
    let result = kh.member_grant(client, subject, organization_id, amr).await;
    if let Err(e) = &result
        && e.code == ErrorCode::InvalidGrant
    {
        kh.store()
            .revoke_family(family_id, kh.now())
            .await
            .map_err(store_error)?;
        tracing::info!(%family_id, client_id = %client.id, "member grant no longer valid: family revoked");
    }
    result
}

/// The client credentials grant (RFC 6749 §4.4): machine scopes only.
async fn client_credentials(
    kh: &Keyhouse,
    client: &Client,
    scope: Option<ScopeSet>,
    resource: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    let scopes = scope.unwrap_or_default();
    kh.config().scopes.check_known(&scopes)?;
    // Only machine scopes: a scope that acts for a user is never granted to
    // a client alone (docs/threat-model.md row 46).
    if let Some(s) = scopes
        .iter()
        .find(|s| kh.config().scopes.get(s).is_some_and(|d| !d.machine))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "a requested scope needs a user; it cannot be granted to a client alone",
        )
        .with_debug(format!("user scope {s:?} in client_credentials")));
    }
    let allowed = kh.allowed_resources().await?;
    let audience = authorize::check_resource(resource.as_deref(), &allowed)?;
    let access_token = kh.mint_access_token(&Mint {
        client,
        subject: &client.id,
        scopes: &scopes,
        audience: audience.as_deref(),
        auth_time: None,
        family: None,
        organization: None,
        extra: serde_json::Map::new(),
    })?;
    Ok(TokenResponse::bearer(client, access_token, &scopes))
}
