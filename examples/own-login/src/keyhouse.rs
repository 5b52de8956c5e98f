//! Everything the app adds to become an identity provider: who is signed
//! in (from its own session), their profile, where its sign-in page is, and
//! one API route that accepts Keyhouse's access tokens.

// keyhouse:start
use axum::{Json, Router, http::request::Parts, routing::get};
use keyhouse_axum::{Caller, Keyhouse, error::BearerError};
use keyhouse_axum::{ResolveError, SignedIn, SubjectProfile, SubjectResolver};

use crate::app::{User, Users, signed_in};

fn profile(u: &User) -> SubjectProfile {
    SubjectProfile::new(&u.name)
        .email(&u.email)
        .updated_at(u.updated_at)
}

impl SubjectResolver for Users {
    async fn current(&self, parts: &Parts) -> Result<Option<SignedIn>, ResolveError> {
        let login = signed_in(parts.extensions.get())
            .await
            .map_err(ResolveError::new)?;
        let user = login.and_then(|s| Some((self.by_id(&s.user_id)?, s)));
        Ok(user.map(|(u, s)| SignedIn::new(&u.id, s.login_id, s.auth_time, profile(&u))))
    }

    async fn profile(&self, subject: &str) -> Result<Option<SubjectProfile>, ResolveError> {
        Ok(self.by_id(subject).map(|u| profile(&u)))
    }

    fn login_url(&self) -> String {
        "/sign-in".into()
    }
}

/// `GET /api/greeting`: what a connected GPT calls with its access token.
pub fn api(kh: Keyhouse, users: Users) -> Router {
    let greeting = move |caller: Caller| async move {
        caller.require_scope("greeting:read")?;
        let name = users
            .by_id(caller.user_id())
            .map(|u| u.name)
            .unwrap_or_default();
        Ok::<_, BearerError>(Json(
            serde_json::json!({ "message": format!("Hello, {name}!") }),
        ))
    };
    Router::new()
        .route("/api/greeting", get(greeting))
        .with_state(kh)
}
// keyhouse:end
