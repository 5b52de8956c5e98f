//! `POST /oauth2/token`: one handler per grant.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use keyhouse_core::claims::{
    AccessTokenClaims, IdTokenClaims, OrganizationClaim, ProfileClaims, UserProfile, at_hash,
};
use keyhouse_core::client::{Client, GrantType, RefreshPolicy};
use keyhouse_core::scope::{OFFLINE_ACCESS, OPENID};
use keyhouse_core::token::{Form, TokenRequest};
use keyhouse_core::{ErrorCode, OAuthError, ScopeSet, authorize, pkce, secret};
use keyhouse_store::{RedeemOutcome, RefreshOutcome, RefreshRecord, Rotation};
use serde::Serialize;

use crate::Keyhouse;
use crate::error::{TokenError, store_error};
use crate::keys::SigningAlg;

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
    // Self-onboarded clients unused for long are purged; the write happens
    // at most once an hour per client.
    if client.origin != keyhouse_core::client::ClientOrigin::Manual
        && let Err(e) = kh.store().touch_client(&client.id, kh.now()).await
    {
        tracing::warn!(client_id = %client.id, error = %e, "recording the client's last use failed");
    }
    Ok(response.into_response())
}

struct Mint<'a> {
    client: &'a Client,
    subject: &'a str,
    scopes: &'a ScopeSet,
    /// The RFC 8707 resource; `None` means the default audience.
    audience: Option<&'a str>,
    auth_time: Option<i64>,
    family: Option<&'a str>,
    /// For members: the organization the grant was made in.
    organization: Option<&'a OrganizationClaim>,
    /// Claims from the client's template, already rendered.
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Keyhouse {
    /// The `aud` of an access token for `client`: the requested resource,
    /// else the client's own audience, else the default audience.
    pub(crate) fn audience_of(&self, client: &Client, resource: Option<&str>) -> String {
        resource
            .or(client.audience.as_deref())
            .unwrap_or(&self.config().default_audience)
            .to_owned()
    }

    fn mint_access_token(&self, m: &Mint<'_>) -> Result<String, OAuthError> {
        let now = self.now();
        let claims = AccessTokenClaims {
            iss: self.config().issuer.clone(),
            sub: m.subject.to_owned(),
            aud: self.audience_of(m.client, m.audience),
            client_id: m.client.id.clone(),
            scope: m.scopes.to_string(),
            exp: now + m.client.access_token_ttl,
            iat: now,
            nbf: now,
            jti: secret::generate_id("at", &mut rand::rng()),
            auth_time: m.auth_time,
            fid: m.family.map(str::to_owned),
            organization: m.organization.cloned(),
            extra: m.extra.clone(),
        };
        // RFC 9068 §2.1: `typ` is `at+jwt`.
        self.keys()
            .sign(self.config().access_token_alg, "at+jwt", &claims)
            .map_err(|e| OAuthError::server(e.to_string()))
    }

    fn mint_id_token(
        &self,
        client: &Client,
        user: &UserProfile,
        scopes: &ScopeSet,
        auth_time: i64,
        nonce: Option<String>,
        access_token: &str,
    ) -> Result<String, OAuthError> {
        let now = self.now();
        let claims = IdTokenClaims {
            iss: self.config().issuer.clone(),
            sub: user.subject.clone(),
            aud: client.id.clone(),
            azp: client.id.clone(),
            exp: now + self.config().id_token_ttl,
            iat: now,
            auth_time,
            nonce,
            at_hash: at_hash(access_token),
            profile: ProfileClaims::for_scopes(user, scopes),
            organization: user.organization.clone(),
        };
        self.keys()
            .sign(SigningAlg::Rs256, "JWT", &claims)
            .map_err(|e| OAuthError::server(e.to_string()))
    }

    /// The profile of a subject, for ID tokens and userinfo: a user, or
    /// (with `organization`) an active member of that organization.
    pub(crate) async fn profile(
        &self,
        subject: &str,
        organization: Option<&OrganizationClaim>,
    ) -> Result<Option<UserProfile>, OAuthError> {
        let Some(org) = organization else {
            return Ok(self
                .store()
                .find_user(subject)
                .await
                .map_err(store_error)?
                .map(|u| UserProfile {
                    subject: u.id,
                    email: u.email,
                    email_verified: u.email_verified,
                    name: u.name,
                    updated_at: u.updated_at,
                    organization: None,
                }));
        };
        Ok(self
            .store()
            .find_member(subject)
            .await
            .map_err(store_error)?
            .filter(|m| m.is_active() && m.organization_id == org.organization_id)
            .map(|m| UserProfile {
                subject: m.id,
                email: m.email,
                email_verified: false,
                name: m.name,
                updated_at: m.updated_at,
                organization: Some(org.clone()),
            }))
    }

    /// The client's template claims for `subject` (none without a template).
    async fn template_claims(
        &self,
        client: &Client,
        subject: &str,
        organization: Option<&OrganizationClaim>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OAuthError> {
        let Some(template) = &client.claims_template else {
            return Ok(serde_json::Map::new());
        };
        let user = self
            .profile(subject, organization)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
        Ok(keyhouse_core::claims::render_template(template, &user))
    }

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
    /// still active there and the organization still allows the client
    /// (a refresh after either changed is refused).
    async fn member_grant(
        &self,
        client: &Client,
        subject: &str,
        organization_id: Option<&str>,
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

async fn authorization_code(
    kh: &Keyhouse,
    client: &Client,
    code: &str,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    resource: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let now = kh.now();
    let refresh_token = secret::generate_token(&mut rand::rng());
    let refresh_ttl = kh.config().refresh_token_ttl;
    let family_ttl = kh.config().refresh_family_ttl;
    let outcome = kh
        .store()
        .redeem_code(&secret::hash_token(code), now, |c| {
            if c.client_id != client.id {
                return Err(OAuthError::invalid_grant(
                    "the code was issued to another client",
                ));
            }
            if c.expires_at <= now {
                return Err(OAuthError::invalid_grant("the code has expired"));
            }
            if redirect_uri.as_deref() != Some(c.redirect_uri.as_str()) {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri must be the one of the authorization request",
                ));
            }
            pkce::verify(c.code_challenge.as_deref(), code_verifier.as_deref())?;
            // RFC 8707 §2.2: the code's resource, or none (the same).
            let bound = c
                .resource
                .clone()
                .unwrap_or_else(|| kh.audience_of(client, None));
            authorize::check_resource(resource.as_deref(), &[bound]).map_err(|_| {
                OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "resource differs from the authorization request",
                )
            })?;
            Ok(issues_refresh(client, &c.scopes).then(|| RefreshRecord {
                token_hash: secret::hash_token(&refresh_token),
                family_id: c.family_id.clone(),
                created_at: now,
                // The family was created with the code: same start, so the
                // same absolute end.
                expires_at: (now + refresh_ttl).min(c.created_at + family_ttl),
            }))
        })
        .await
        .map_err(store_error)?;
    let code = match outcome {
        RedeemOutcome::Redeemed { code } => code,
        RedeemOutcome::Replayed => {
            tracing::warn!(client_id = %client.id, "authorization code replayed: its tokens are revoked");
            return Err(OAuthError::invalid_grant("the code was already used"));
        }
        RedeemOutcome::Unknown => return Err(OAuthError::invalid_grant("unknown code")),
        RedeemOutcome::Refused(e) => return Err(e),
    };
    let organization = kh
        .member_grant(client, &code.subject_id, code.organization_id.as_deref())
        .await?;
    let access_token = kh.mint_access_token(&Mint {
        client,
        subject: &code.subject_id,
        scopes: &code.scopes,
        audience: code.resource.as_deref(),
        auth_time: Some(code.auth_time),
        family: Some(&code.family_id),
        organization: organization.as_ref(),
        extra: kh
            .template_claims(client, &code.subject_id, organization.as_ref())
            .await?,
    })?;
    let id_token = if code.scopes.contains(OPENID) {
        let user = kh
            .profile(&code.subject_id, organization.as_ref())
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
        Some(kh.mint_id_token(
            client,
            &user,
            &code.scopes,
            code.auth_time,
            code.nonce.clone(),
            &access_token,
        )?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_ttl,
        scope: code.scopes.to_string(),
        id_token,
        refresh_token: issues_refresh(client, &code.scopes).then_some(refresh_token),
    })
}

async fn refresh(
    kh: &Keyhouse,
    client: &Client,
    token: &str,
    scope: Option<ScopeSet>,
    resource: Option<String>,
) -> Result<TokenResponse, OAuthError> {
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
            if family.client_id != client.id {
                return Err(OAuthError::invalid_grant(
                    "the refresh token was issued to another client",
                ));
            }
            // RFC 6749 §6: the scope may only shrink.
            if scope
                .as_ref()
                .is_some_and(|s| !s.is_subset_of(&family.scopes))
            {
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
            authorize::check_resource(resource.as_deref(), &[bound])?;
            Ok(())
        })
        .await
        .map_err(store_error)?;
    let (family, refresh_token) = match outcome {
        RefreshOutcome::Rotated { family } => (family, next_token),
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
            (family, plain)
        }
        RefreshOutcome::Reused => {
            tracing::warn!(client_id = %client.id, "refresh token reused: its family is revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used",
            ));
        }
        RefreshOutcome::Invalid => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
        RefreshOutcome::Refused(e) => return Err(e),
    };
    let scopes = scope.unwrap_or_else(|| family.scopes.clone());
    let organization = match kh
        .member_grant(
            client,
            &family.subject_id,
            family.organization_id.as_deref(),
        )
        .await
    {
        Ok(o) => o,
        Err(e) => {
            // The member left or the organization now refuses the app: the
            // whole family goes, not just this refresh.
            if e.code == ErrorCode::InvalidGrant {
                kh.store()
                    .revoke_family(&family.id, now)
                    .await
                    .map_err(store_error)?;
                tracing::info!(family_id = %family.id, client_id = %client.id, "member grant no longer valid: family revoked");
            }
            return Err(e);
        }
    };
    // docs/threat-model.md row 47: a member's refresh carries only what
    // their roles cover now, whatever the family was granted.
    let scopes = match &organization {
        Some(_) => kh.grantable_now(&family.subject_id, &scopes).await?,
        None => scopes,
    };
    let access_token = kh.mint_access_token(&Mint {
        client,
        subject: &family.subject_id,
        scopes: &scopes,
        audience: family.resource.as_deref(),
        auth_time: Some(family.auth_time),
        family: Some(&family.id),
        organization: organization.as_ref(),
        extra: kh
            .template_claims(client, &family.subject_id, organization.as_ref())
            .await?,
    })?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_ttl,
        scope: scopes.to_string(),
        id_token: None,
        refresh_token: Some(refresh_token),
    })
}

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
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_ttl,
        scope: scopes.to_string(),
        id_token: None,
        refresh_token: None,
    })
}
