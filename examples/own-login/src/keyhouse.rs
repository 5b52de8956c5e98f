//! Everything the app adds to become an identity provider: who is signed
//! in (from its own session), their profile, and where its sign-in page is.

// keyhouse:start
use axum::http::request::Parts;
use keyhouse_axum::{ResolveError, SignedIn, SubjectProfile, SubjectResolver};

use crate::app::{Users, signed_in};

impl SubjectResolver for Users {
    async fn current(&self, parts: &Parts) -> Result<Option<SignedIn>, ResolveError> {
        let login = signed_in(parts.extensions.get()).await;
        let login = login.map_err(ResolveError::new)?;
        Ok(login.map(|s| SignedIn::new(s.user_id, s.login_id, s.auth_time)))
    }

    async fn profile(&self, id: &str) -> Result<Option<SubjectProfile>, ResolveError> {
        let user = self.by_id(id);
        Ok(user.map(|u| {
            SubjectProfile::new(u.name)
                .email(u.email)
                .updated_at(u.updated_at)
        }))
    }

    fn login_url(&self) -> String {
        "/sign-in".into()
    }
}
// keyhouse:end
