//! The [`AccessToken`] extractor: lets the application's own API accept the
//! access tokens Keyhouse issues.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use keyhouse_core::claims::AccessTokenClaims;
use keyhouse_core::resource::ProtectedResource;
use keyhouse_core::{ErrorCode, OAuthError};

use crate::Keyhouse;
use crate::accounts::session::CurrentSession;
use crate::error::{BearerError, store_error};
use crate::oauth::keys::SigningAlg;

/// A verified access token: signature by one of our keys, issuer, expiry
/// (30 s leeway), audience, and not revoked (its own id, and its grant
/// family for tokens issued from a code).
///
/// ```ignore
/// async fn list_notes(token: AccessToken) -> Result<Json<Vec<Note>>, BearerError> {
///     token.require_scope("notes:read")?;
///     let TokenSubject::User(user_id) = token.subject() else {
///         return Err(BearerError::invalid("this API acts for users"));
///     };
/// }
/// ```
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The claims.
    pub claims: AccessTokenClaims,
    /// The RFC 9728 metadata URL of the resource it was accepted for, named
    /// in the challenge of a later `insufficient_scope`.
    pub resource_metadata: Option<String>,
}

/// Binds the routes it layers to one registered resource: the
/// [`AccessToken`], [`Caller`] and [`crate::MemberCaller`] extractors under
/// it accept only tokens whose `aud` is that resource (and unbound tokens
/// if the resource accepts them), and their challenges name its metadata.
/// Make one with [`Keyhouse::resource_layer`].
#[derive(Debug, Clone)]
pub struct BoundResource(pub std::sync::Arc<ProtectedResource>);

/// Who an access token acts for. A `client_credentials` token has no user:
/// its `sub` is the client's id, and a resource server that read `sub` as a
/// user id would let a client act as whichever user shares that id. The
/// type makes the difference impossible to miss (docs/threat-model.md
/// row 46).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSubject<'a> {
    /// A user, through a grant they gave the client.
    User(&'a str),
    /// A member of an organization, through a grant made in it.
    Member {
        /// The member id.
        member_id: &'a str,
        /// Their organization.
        organization_id: &'a str,
    },
    /// The client itself (`client_credentials`): no user at all.
    Client(&'a str),
}

impl AccessToken {
    /// Who the token acts for.
    pub fn subject(&self) -> TokenSubject<'_> {
        match (&self.claims.fid, &self.claims.organization) {
            (None, _) => TokenSubject::Client(&self.claims.client_id),
            (Some(_), Some(org)) => TokenSubject::Member {
                member_id: &self.claims.sub,
                organization_id: &org.organization_id,
            },
            (Some(_), None) => TokenSubject::User(&self.claims.sub),
        }
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims.scope.split(' ').any(|s| s == scope)
    }

    /// 403 `insufficient_scope` naming `scope` unless the token has it.
    pub fn require_scope(&self, scope: &str) -> Result<(), BearerError> {
        self.require_scopes(&[scope])
    }

    /// 403 `insufficient_scope` naming every one of `scopes` unless the
    /// token has them all.
    pub fn require_scopes(&self, scopes: &[&str]) -> Result<(), BearerError> {
        if scopes.iter().all(|s| self.has_scope(s)) {
            Ok(())
        } else {
            Err(BearerError::insufficient_all(scopes)
                .with_resource_metadata(self.resource_metadata.as_deref()))
        }
    }
}

/// The bearer token of an `Authorization: Bearer` header, if any.
pub(crate) fn bearer_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    bearer_of(headers).ok()
}

/// The bearer token of a request (RFC 6750 §2.1).
pub(crate) fn bearer(parts: &Parts) -> Result<&str, BearerError> {
    bearer_of(&parts.headers)
}

fn bearer_of(headers: &axum::http::HeaderMap) -> Result<&str, BearerError> {
    let header = headers
        .get(AUTHORIZATION)
        .ok_or_else(BearerError::missing)?
        .to_str()
        .map_err(|_| BearerError::invalid("malformed Authorization header"))?;
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| BearerError::invalid("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(BearerError::missing());
    }
    Ok(token.trim())
}

impl Keyhouse {
    /// A layer binding routes to the registered resource `uri` (see
    /// [`BoundResource`]). `None` when no resource has that URI.
    pub fn resource_layer(&self, uri: &str) -> Option<axum::Extension<BoundResource>> {
        let wanted = keyhouse_core::resource::canonical_uri(uri).ok()?;
        self.config()
            .resources
            .iter()
            .find(|r| r.uri == wanted)
            .map(|r| axum::Extension(BoundResource(std::sync::Arc::new(r.clone()))))
    }

    /// The audiences a request's token may have, and the metadata URL its
    /// challenges name: the bound resource's, or the default audience (and
    /// the registered resource with that URI, if any).
    fn audiences_for(&self, parts: &Parts) -> (Vec<String>, Option<String>) {
        let c = self.config();
        match parts.extensions.get::<BoundResource>() {
            Some(BoundResource(r)) => {
                let mut aud = vec![r.uri.clone()];
                if r.accepts_unbound_tokens {
                    aud.push(c.default_audience.clone());
                }
                (aud, Some(r.metadata_url()))
            }
            None => {
                let own = keyhouse_core::resource::canonical_uri(&c.default_audience).ok();
                let metadata = c
                    .resources
                    .iter()
                    .find(|r| Some(&r.uri) == own.as_ref())
                    .map(ProtectedResource::metadata_url);
                (vec![c.default_audience.clone()], metadata)
            }
        }
    }

    /// The metadata URL a challenge on this request names.
    pub(crate) fn metadata_for(&self, parts: &Parts) -> Option<String> {
        self.audiences_for(parts).1
    }

    /// Verifies an access token for one of `audiences` (any audience when
    /// `None`). `Ok(None)` means invalid, expired or revoked; `Err` means the
    /// store could not be asked.
    pub async fn verify_access_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
    ) -> Result<Option<AccessTokenClaims>, OAuthError> {
        let claims: Option<AccessTokenClaims> = self
            .keys()
            .verify(
                token,
                "at+jwt",
                &[SigningAlg::Es256, SigningAlg::Rs256],
                &self.config().issuer,
                audiences,
                self.now(),
            )
            .await;
        let Some(claims) = claims else {
            return Ok(None);
        };
        let live = match &claims.fid {
            Some(fid) => self
                .store()
                .access_token_live(&claims.jti, Some(fid), self.now())
                .await
                .map_err(store_error)?,
            // client_credentials tokens die with their client.
            None => {
                self.client(&claims.client_id).await?.is_some()
                    && self
                        .store()
                        .access_token_live(&claims.jti, None, self.now())
                        .await
                        .map_err(store_error)?
            }
        };
        Ok(live.then_some(claims))
    }
}

impl<S> FromRequestParts<S> for AccessToken
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let kh = Keyhouse::from_ref(state);
        let (audiences, metadata) = kh.audiences_for(parts);
        let hint = parts
            .extensions
            .get::<BoundResource>()
            .map(|BoundResource(r)| r.default_scopes.clone())
            .unwrap_or_default();
        let token = bearer(parts).map_err(|e| {
            e.with_resource_metadata(metadata.as_deref())
                .with_scope_hint(&hint)
        })?;
        // docs/threat-model.md row 61: a token is accepted only by the
        // resource it was issued for.
        match kh.verify_access_token(token, Some(&audiences)).await {
            Ok(Some(claims)) => Ok(AccessToken {
                claims,
                resource_metadata: metadata,
            }),
            Ok(None) => Err(BearerError::invalid(
                "the access token is invalid, expired, revoked, or for another resource",
            )
            .with_resource_metadata(metadata.as_deref())),
            Err(e) => Err(BearerError::unavailable(e.to_string())),
        }
    }
}

/// Who is calling one of the app's own APIs: the signed-in user through the
/// session cookie (the app's own pages), or a client acting for a user with
/// an access token (a GPT, an MCP client, a partner app).
///
/// A request with an `Authorization` header is judged by its token only; the
/// cookie is then ignored. Cookie requests with an unsafe method must come
/// from our own origin (docs/threat-model.md row 12). Tokens from the
/// `client_credentials` grant act for no user and are refused.
///
/// ```ignore
/// async fn create_note(caller: Caller, Json(n): Json<NewNote>) -> Result<.., BearerError> {
///     caller.require_scope("notes:write")?; // always true for the session
///     let user_id = caller.user_id();
/// }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Caller {
    /// The user, in the browser.
    Session(Box<CurrentSession>),
    /// A client acting for the token's subject.
    Token(Box<AccessToken>),
}

impl Caller {
    /// The user the request acts for.
    pub fn user_id(&self) -> &str {
        match self {
            Caller::Session(s) => &s.user.id,
            // Built only from user tokens (see `from_request_parts`).
            Caller::Token(t) => &t.claims.sub,
        }
    }

    /// The client acting for the user, if any.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Caller::Session(_) => None,
            Caller::Token(t) => Some(&t.claims.client_id),
        }
    }

    /// A session may do whatever its user may; a token needs `scope`
    /// (403 `insufficient_scope` naming it otherwise).
    pub fn require_scope(&self, scope: &str) -> Result<(), BearerError> {
        self.require_scopes(&[scope])
    }

    /// A session may do whatever its user may; a token needs every one of
    /// `scopes` (403 `insufficient_scope` naming them all otherwise).
    pub fn require_scopes(&self, scopes: &[&str]) -> Result<(), BearerError> {
        match self {
            Caller::Session(_) => Ok(()),
            Caller::Token(t) => t.require_scopes(scopes),
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            let token = AccessToken::from_request_parts(parts, state).await?;
            let metadata = token.resource_metadata.clone();
            return match token.subject() {
                TokenSubject::User(_) => Ok(Caller::Token(Box::new(token))),
                TokenSubject::Client(_) => Err(BearerError::invalid(
                    "this API needs a token issued for a user, not a client_credentials token",
                )
                .with_resource_metadata(metadata.as_deref())),
                // A member's token acts in its organization only (its
                // organization APIs use `MemberCaller`).
                TokenSubject::Member { .. } => Err(BearerError::invalid(
                    "this API needs a user's token, not an organization member's",
                )
                .with_resource_metadata(metadata.as_deref())),
            };
        }
        let kh = Keyhouse::from_ref(state);
        let session = kh
            .session(&parts.headers)
            .await
            .map_err(|e| BearerError::unavailable(e.to_string()))?
            .ok_or_else(|| {
                BearerError::missing().with_resource_metadata(kh.metadata_for(parts).as_deref())
            })?;
        if !crate::http::csrf::same_origin_or_safe(&kh, &parts.method, &parts.headers) {
            return Err(BearerError::refused(
                ErrorCode::CsrfDetected,
                "cross-site request refused".to_owned(),
            ));
        }
        Ok(Caller::Session(Box::new(session)))
    }
}
