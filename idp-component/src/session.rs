//! Session hooks for host apps: one shared view of "who is signed in",
//! loaded once from `GET /api/session` and updated on login and logout.

use keyhouse_types::{LoginRequest, SessionResponse, SessionUser, SignupRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiClient, ApiError};

/// Where the session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    /// Not known yet (the first `GET /api/session` is in flight).
    Loading,
    /// Signed in.
    SignedIn(SessionResponse),
    /// Not signed in.
    SignedOut,
    /// The session could not be checked (network or server failure).
    Failed(ApiError),
}

/// The app-wide session: read it with [`Session::status`] or
/// [`Session::user`] inside views, change it with [`Session::login`],
/// [`Session::signup`] and [`Session::logout`]. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    status: RwSignal<SessionStatus>,
    api: StoredValue<ApiClient>,
}

impl Session {
    /// The current status (reactive).
    pub fn status(&self) -> SessionStatus {
        self.status.get()
    }

    /// The signed-in user (reactive); `None` while loading or signed out.
    pub fn user(&self) -> Option<SessionUser> {
        self.status.with(|s| match s {
            SessionStatus::SignedIn(r) => Some(r.user.clone()),
            _ => None,
        })
    }

    /// Whether the first check is still running (reactive).
    pub fn loading(&self) -> bool {
        self.status.with(|s| matches!(s, SessionStatus::Loading))
    }

    /// The API client this session uses.
    pub fn api(&self) -> ApiClient {
        self.api.get_value()
    }

    /// Asks the server again (e.g. after the tab was idle).
    pub fn refresh(&self) {
        let this = *self;
        spawn_local(async move {
            let next = match this.api().session().await {
                Ok(Some(s)) => SessionStatus::SignedIn(s),
                Ok(None) => SessionStatus::SignedOut,
                Err(e) => SessionStatus::Failed(e),
            };
            this.status.set(next);
        });
    }

    /// Signs in; on success the session is updated everywhere.
    pub async fn login(&self, req: &LoginRequest) -> Result<SessionResponse, ApiError> {
        let res = self.api().login(req).await?;
        self.status.set(SessionStatus::SignedIn(res.clone()));
        Ok(res)
    }

    /// Creates the account and signs in.
    pub async fn signup(&self, req: &SignupRequest) -> Result<SessionResponse, ApiError> {
        let res = self.api().signup(req).await?;
        self.status.set(SessionStatus::SignedIn(res.clone()));
        Ok(res)
    }

    /// Signs out (the server deletes the session).
    pub async fn logout(&self) -> Result<(), ApiError> {
        self.api().logout().await?;
        self.status.set(SessionStatus::SignedOut);
        Ok(())
    }

    /// Marks the session as ended (e.g. after an API call answered 401).
    pub fn mark_signed_out(&self) {
        self.status.set(SessionStatus::SignedOut);
    }
}

/// Provides the app-wide [`Session`] (call once, near the root) and starts
/// loading it. Returns it too.
pub fn provide_session(api: ApiClient) -> Session {
    let session = Session {
        status: RwSignal::new(SessionStatus::Loading),
        api: StoredValue::new(api),
    };
    provide_context(session);
    session.refresh();
    session
}

/// The app-wide [`Session`]; provides one for the page's own origin when no
/// ancestor called [`provide_session`].
pub fn use_session() -> Session {
    use_context::<Session>().unwrap_or_else(|| provide_session(ApiClient::same_origin()))
}
