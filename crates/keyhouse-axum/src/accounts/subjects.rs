//! Keeping the host app's own users and login: a [`SubjectResolver`] tells
//! Keyhouse who is signed in, from the app's own session, and what their
//! profile is. Keyhouse then stores clients, grants and tokens, never a
//! password, and its own user accounts are not used (their routes are not
//! mounted).
//!
//! ```
//! use axum::http::request::Parts;
//! use keyhouse_axum::{ResolveError, SignedIn, SubjectProfile, SubjectResolver};
//!
//! /// The app's own session: here a header, in a real app its session layer
//! /// (`tower-sessions`, `axum-login`) puts it in the request's extensions.
//! struct MyUsers;
//!
//! impl SubjectResolver for MyUsers {
//!     async fn current(&self, parts: &Parts) -> Result<Option<SignedIn>, ResolveError> {
//!         let Some(user) = parts.headers.get("x-user").and_then(|v| v.to_str().ok()) else {
//!             return Ok(None);
//!         };
//!         Ok(Some(SignedIn::new(user, "the session id", 1_700_000_000)))
//!     }
//!
//!     async fn profile(&self, subject: &str) -> Result<Option<SubjectProfile>, ResolveError> {
//!         Ok(Some(SubjectProfile::new(subject)))
//!     }
//!
//!     fn login_url(&self) -> String {
//!         "/sign-in".into()
//!     }
//! }
//! ```

use std::future::Future;
use std::pin::Pin;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use keyhouse_core::claims::UserProfile;
use keyhouse_core::secret;
use keyhouse_core::{ErrorCode, OAuthError};
use keyhouse_types::SessionUser;

use crate::Keyhouse;
use crate::error::ApiError;

/// The host app's answer to "who is signed in on this request?".
pub trait SubjectResolver: Send + Sync + 'static {
    /// The signed-in subject of this request (its headers and extensions:
    /// the app's session layer runs before Keyhouse's routes), or `None`.
    fn current(
        &self,
        parts: &Parts,
    ) -> impl Future<Output = Result<Option<SignedIn>, ResolveError>> + Send;

    /// The profile of a subject, for `userinfo` and ID tokens (there is no
    /// browser request then). `None` when the subject no longer exists: the
    /// token endpoint and userinfo then refuse.
    fn profile(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<SubjectProfile>, ResolveError>> + Send;

    /// The app's sign-in page. The `/idp` component sends the browser there
    /// with `returnTo=<the authorization request>` appended; after signing
    /// in, the app sends it back to that path.
    fn login_url(&self) -> String;
}

/// A signed-in subject, as the host app knows it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignedIn {
    /// The stable subject identifier (`sub`); never reused for someone else.
    pub subject: String,
    /// An identifier of this browser session (the app's session id, or any
    /// value that changes at each login). Keyhouse keeps only its hash, for
    /// per-session limits.
    pub session_id: String,
    /// When the subject last authenticated (unix seconds): `max_age` and
    /// `prompt=login` compare against it, and ID tokens carry it.
    pub auth_time: i64,
    /// Shown on the consent screen ("Signed in as …"). When it is not set,
    /// Keyhouse asks [`SubjectResolver::profile`] for it.
    pub profile: Option<SubjectProfile>,
    /// How the subject authenticated, as RFC 8176 `amr` values (`pwd`,
    /// `otp`, `mfa`, …): ID tokens carry them and the `acr` they amount
    /// to, and `acr_values` are checked against them. Empty (the default):
    /// unknown, so no `amr` or `acr` claim, and a request demanding a
    /// level is refused. `mfa` claims two factors (`acr` 2fa); `pop` with
    /// `mfa` claims a phishing-resistant sign-in (`acr` phr): report them
    /// only when the app's own sign-in gave that (a passkey or security key
    /// that verified its user).
    pub amr: Vec<String>,
}

impl SignedIn {
    /// A signed-in subject; its profile comes from
    /// [`SubjectResolver::profile`].
    pub fn new(
        subject: impl Into<String>,
        session_id: impl Into<String>,
        auth_time: i64,
    ) -> SignedIn {
        SignedIn {
            subject: subject.into(),
            session_id: session_id.into(),
            auth_time,
            profile: None,
            amr: Vec::new(),
        }
    }

    /// With the methods the subject authenticated with (see [`SignedIn::amr`]).
    pub fn with_amr<I, S>(mut self, amr: I) -> SignedIn
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.amr = amr.into_iter().map(Into::into).collect();
        self
    }

    /// With the profile at hand (saves the resolver's `profile` lookup).
    pub fn with_profile(mut self, profile: SubjectProfile) -> SignedIn {
        self.profile = Some(profile);
        self
    }
}

/// The claims Keyhouse releases about a subject: `name` and `updated_at`
/// with the `profile` scope, `email` and `email_verified` with `email`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubjectProfile {
    /// Display name.
    pub name: String,
    /// Email address, if the app has one.
    pub email: Option<String>,
    /// Whether the app verified that address.
    pub email_verified: bool,
    /// Last profile change (unix seconds).
    pub updated_at: i64,
}

impl SubjectProfile {
    /// A profile with this display name, no email.
    pub fn new(name: impl Into<String>) -> SubjectProfile {
        SubjectProfile {
            name: name.into(),
            email: None,
            email_verified: false,
            updated_at: 0,
        }
    }

    /// With an (unverified) email address.
    pub fn email(mut self, email: impl Into<String>) -> SubjectProfile {
        self.email = Some(email.into());
        self
    }

    /// Marks the email address verified.
    pub fn verified(mut self) -> SubjectProfile {
        self.email_verified = true;
        self
    }

    /// With the time of the last profile change.
    pub fn updated_at(mut self, unix_seconds: i64) -> SubjectProfile {
        self.updated_at = unix_seconds;
        self
    }

    pub(crate) fn user_profile(&self, subject: &str) -> UserProfile {
        UserProfile {
            subject: subject.to_owned(),
            email: self.email.clone().unwrap_or_default(),
            email_verified: self.email.is_some() && self.email_verified,
            name: self.name.clone(),
            updated_at: self.updated_at,
            organization: None,
        }
    }

    pub(crate) fn session_user(&self, subject: &str) -> SessionUser {
        SessionUser {
            user_id: subject.to_owned(),
            email: self.email.clone().unwrap_or_default(),
            name: self.name.clone(),
            email_verified: self.email.is_some() && self.email_verified,
            // The app keeps the passwords and factors, if any.
            has_password: false,
            second_factor: false,
        }
    }
}

/// The resolver could not answer (its session store or user list failed).
/// Keyhouse answers `temporarily_unavailable` and logs the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(String);

impl ResolveError {
    /// A failure, with what went wrong (logged, never shown).
    pub fn new(message: impl std::fmt::Display) -> ResolveError {
        ResolveError(message.to_string())
    }
}

impl From<ResolveError> for OAuthError {
    fn from(e: ResolveError) -> OAuthError {
        tracing::error!(error = %e, "the subject resolver failed");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the sign-in state could not be checked",
        )
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`SubjectResolver`] behind a pointer (its methods return `impl Future`,
/// so it cannot be a trait object itself).
pub(crate) trait DynResolver: Send + Sync {
    fn current<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<SignedIn>, ResolveError>>;
    fn profile<'a>(
        &'a self,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<Option<SubjectProfile>, ResolveError>>;
    fn login_url(&self) -> String;
}

impl<R: SubjectResolver> DynResolver for R {
    fn current<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<SignedIn>, ResolveError>> {
        Box::pin(SubjectResolver::current(self, parts))
    }

    fn profile<'a>(
        &'a self,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<Option<SubjectProfile>, ResolveError>> {
        Box::pin(SubjectResolver::profile(self, subject))
    }

    fn login_url(&self) -> String {
        SubjectResolver::login_url(self)
    }
}

/// The signed-in end user of a request, from the resolver when there is
/// one, else from Keyhouse's own session.
#[derive(Debug, Clone)]
pub(crate) struct EndUser {
    pub id: String,
    pub auth_time: i64,
    /// How they authenticated (RFC 8176 `amr`).
    pub amr: Vec<String>,
    pub user: SessionUser,
    /// A hash identifying the browser session.
    pub session_key: String,
    /// Its OpenID Connect `sid`: only for Keyhouse's own sessions, which
    /// Keyhouse ends and tells clients about (an app that keeps its own
    /// users signs them out itself).
    pub sid: Option<String>,
}

impl<S> FromRequestParts<S> for EndUser
where
    Keyhouse: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Keyhouse::from_ref(state)
            .end_user(parts)
            .await?
            .ok_or_else(|| ApiError(OAuthError::new(ErrorCode::SessionRequired, "sign in first")))
    }
}

impl Keyhouse {
    /// Keeps the app's own users and login: from now on the signed-in end
    /// user of a request is whoever `resolver` says, and their profile comes
    /// from it too. Call it before [`Keyhouse::router`]: the router then
    /// leaves out Keyhouse's own sign-up, login and session routes.
    ///
    /// Set once; a second call is ignored with a warning.
    pub fn with_subjects(self, resolver: impl SubjectResolver) -> Keyhouse {
        if self.0.subjects.set(Box::new(resolver)).is_err() {
            tracing::warn!("a subject resolver was already set; keeping the first");
        }
        self
    }

    /// Forgets a subject the app deleted: every grant it made goes, with
    /// every token issued from them. Returns how many apps were connected.
    pub async fn forget_subject(&self, subject: &str) -> Result<usize, OAuthError> {
        let grants = self
            .store()
            .grants_of(subject)
            .await
            .map_err(crate::error::store_error)?;
        let mut removed = 0;
        for g in &grants {
            if self
                .store()
                .revoke_grant(subject, &g.client_id, self.now())
                .await
                .map_err(crate::error::store_error)?
            {
                removed += 1;
            }
        }
        tracing::info!(
            subject,
            removed,
            "subject forgotten: grants and tokens revoked"
        );
        Ok(removed)
    }

    /// Whether the app keeps its own users ([`Keyhouse::with_subjects`]).
    pub fn keeps_own_users(&self) -> bool {
        self.0.subjects.get().is_some()
    }

    pub(crate) fn subjects(&self) -> Option<&dyn DynResolver> {
        self.0.subjects.get().map(|b| b.as_ref())
    }

    /// The sign-in page to send a signed-out user to, when the app keeps
    /// its own login.
    pub(crate) fn login_hint(&self) -> Option<String> {
        self.subjects().map(DynResolver::login_url)
    }

    /// The signed-in end user of a request.
    pub(crate) async fn end_user(&self, parts: &Parts) -> Result<Option<EndUser>, OAuthError> {
        if let Some(resolver) = self.subjects() {
            let Some(s) = resolver.current(parts).await? else {
                return Ok(None);
            };
            let profile = match s.profile {
                Some(p) => p,
                None => match resolver.profile(&s.subject).await? {
                    Some(p) => p,
                    None => {
                        // Signed in to the app, but no such subject (deleted
                        // since): nobody Keyhouse can issue for.
                        tracing::info!(subject = %s.subject, "signed-in subject has no profile; treated as signed out");
                        return Ok(None);
                    }
                },
            };
            return Ok(Some(EndUser {
                user: profile.session_user(&s.subject),
                session_key: secret::hash_token(&format!("{}\n{}", s.subject, s.session_id)),
                id: s.subject,
                auth_time: s.auth_time,
                amr: s.amr,
                sid: None,
            }));
        }
        Ok(crate::accounts::session::load(self, &parts.headers)
            .await?
            .map(|s| EndUser {
                id: s.user.id.clone(),
                auth_time: s.session.auth_time,
                amr: s.session.amr.clone(),
                user: crate::accounts::session::session_user(&s.user),
                sid: Some(s.session.sid.clone()),
                session_key: s.session.id_hash,
            }))
    }

    /// The profile of an end user (the `sub` of a user's token): from the
    /// [`SubjectResolver`] when the app keeps its own users, else from
    /// Keyhouse's accounts. `None` when there is no such user (or it is
    /// disabled).
    pub async fn profile_of(&self, subject: &str) -> Result<Option<SubjectProfile>, OAuthError> {
        Ok(self
            .end_user_profile(subject)
            .await?
            .map(|p| SubjectProfile {
                name: p.name,
                email: Some(p.email).filter(|e| !e.is_empty()),
                email_verified: p.email_verified,
                updated_at: p.updated_at,
            }))
    }

    /// An end user's profile, from the resolver when there is one.
    pub(crate) async fn end_user_profile(
        &self,
        subject: &str,
    ) -> Result<Option<UserProfile>, OAuthError> {
        if let Some(resolver) = self.subjects() {
            return Ok(resolver
                .profile(subject)
                .await?
                .map(|p| p.user_profile(subject)));
        }
        Ok(self
            .store()
            .find_user(subject)
            .await
            .map_err(crate::error::store_error)?
            // A disabled account is no one to mint for: a code issued in a
            // race with the disabling redeems to nothing (threat-model row 102).
            .filter(|u| !u.is_disabled())
            .map(|u| UserProfile {
                subject: u.id,
                email: u.email,
                email_verified: u.email_verified,
                name: u.name,
                updated_at: u.updated_at,
                organization: None,
            }))
    }
}
