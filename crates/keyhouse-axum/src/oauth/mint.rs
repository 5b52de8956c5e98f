//! Minting tokens: the access token (a JWT for its audience) and the ID token,
//! with the claims the granted scopes release.

use keyhouse_core::assurance::Level;
use keyhouse_core::claims::{
    AccessTokenClaims, IdTokenClaims, OrganizationClaim, ProfileClaims, UserProfile, at_hash,
};
use keyhouse_core::client::Client;
use keyhouse_core::{OAuthError, ScopeSet, secret};

use crate::Keyhouse;
use crate::error::store_error;
use crate::oauth::keys::SigningAlg;

/// How the user signed in, for an ID token: when, how (RFC 8176 `amr`),
/// and in which browser session (`sid`).
pub(crate) struct Authenticated<'a> {
    pub(crate) auth_time: i64,
    pub(crate) amr: &'a [String],
    pub(crate) sid: Option<&'a str>,
}

/// What one access or ID token is minted from.
pub(crate) struct Mint<'a> {
    pub(crate) client: &'a Client,
    pub(crate) subject: &'a str,
    pub(crate) scopes: &'a ScopeSet,
    /// The RFC 8707 resource; `None` means the default audience.
    pub(crate) audience: Option<&'a str>,
    pub(crate) auth_time: Option<i64>,
    pub(crate) family: Option<&'a str>,
    /// For members: the organization the grant was made in.
    pub(crate) organization: Option<&'a OrganizationClaim>,
    /// Claims from the client's template, already rendered.
    pub(crate) extra: serde_json::Map<String, serde_json::Value>,
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

    pub(crate) fn mint_access_token(&self, m: &Mint<'_>) -> Result<String, OAuthError> {
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

    pub(crate) fn mint_id_token(
        &self,
        client: &Client,
        user: &UserProfile,
        scopes: &ScopeSet,
        authenticated: Authenticated<'_>,
        nonce: Option<String>,
        access_token: &str,
    ) -> Result<String, OAuthError> {
        let Authenticated {
            auth_time,
            amr,
            sid,
        } = authenticated;
        let now = self.now();
        let claims = IdTokenClaims {
            iss: self.config().issuer.clone(),
            sub: user.subject.clone(),
            aud: client.id.clone(),
            azp: client.id.clone(),
            exp: now + self.config().id_token_ttl,
            iat: now,
            auth_time,
            amr: amr.to_vec(),
            acr: Level::of(amr).acr().map(str::to_owned),
            nonce,
            sid: sid.map(str::to_owned),
            at_hash: at_hash(client.id_token_alg, access_token),
            profile: ProfileClaims::for_scopes(user, scopes),
            organization: user.organization.clone(),
        };
        // The client's registered algorithm (RS256 unless it asked for
        // another; decision 0036).
        let alg = SigningAlg::from(client.id_token_alg);
        let Some(template) = &client.claims_template else {
            return self
                .keys()
                .sign(alg, "JWT", &claims)
                .map_err(|e| OAuthError::server(e.to_string()));
        };
        // The client's template claims too (what providers call app-level
        // claims: the groups a relying party maps to roles), never in place
        // of a claim the token has already.
        let mut value =
            serde_json::to_value(&claims).map_err(|e| OAuthError::server(e.to_string()))?;
        if let Some(obj) = value.as_object_mut() {
            for (k, v) in keyhouse_core::claims::render_template(template, user) {
                // Claims OpenID Connect defines are the token's own, present
                // or not: a template never supplies `email_verified`, a
                // `nonce` or a profile claim the scopes did not release.
                if !ID_TOKEN_OWN_CLAIMS.contains(&k.as_str()) {
                    obj.entry(k).or_insert(v);
                }
            }
        }
        self.keys()
            .sign(alg, "JWT", &value)
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
            return self.end_user_profile(subject).await;
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
    pub(crate) async fn template_claims(
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
}

/// The ID-token claims OpenID Connect Core defines (§2, §3.1.3.6, §5.1)
/// and Keyhouse's own: never taken from a client's claims template.
const ID_TOKEN_OWN_CLAIMS: [&str; 36] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
    "events",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "organization",
];
