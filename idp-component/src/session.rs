//! Session hooks for host apps: one shared view of "who is signed in",
//! loaded once from the server and updated on login and logout.
//!
//! [`use_session`] is the consumer side (`GET /api/session`, users);
//! [`use_member`] the B2B side (`GET /api/b2b/session`, members of one
//! organization), like Stytch's `useStytchMember`.

use std::future::Future;

use keyhouse_types::b2b::{
    DiscoveryRequest, DiscoveryResponse, DiscoverySelectRequest, MemberLoginRequest,
    MemberSessionResponse,
};
use keyhouse_types::{
    EmailChallengeSent, EmailCodeRequest, EmailLinkRequest, EmailLinkResponse, EmailLoginRequest,
    LoginRequest, SessionResponse, SessionUser, SignupRequest,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiClient, ApiError, SignupOutcome};

/// Where a session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status<T> {
    /// Not known yet (the first check is in flight).
    Loading,
    /// Signed in.
    SignedIn(T),
    /// Not signed in.
    SignedOut,
    /// The session could not be checked (network or server failure).
    Failed(ApiError),
}

/// A user's session status.
pub type SessionStatus = Status<SessionResponse>;
/// A member's session status.
pub type MemberStatus = Status<MemberSessionResponse>;

/// The shared state behind [`Session`] and [`MemberSession`].
#[derive(Debug)]
struct Handle<T: Send + Sync + 'static> {
    status: RwSignal<Status<T>>,
    api: StoredValue<ApiClient>,
}

impl<T: Send + Sync + 'static> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Handle<T> {}

impl<T: Clone + Send + Sync + 'static> Handle<T> {
    fn new(api: ApiClient) -> Self {
        Handle {
            status: RwSignal::new(Status::Loading),
            api: StoredValue::new(api),
        }
    }

    fn load<F, Fut>(self, fetch: F)
    where
        F: FnOnce(ApiClient) -> Fut + 'static,
        Fut: Future<Output = Result<Option<T>, ApiError>> + 'static,
    {
        spawn_local(async move {
            let next = match fetch(self.api.get_value()).await {
                Ok(Some(s)) => Status::SignedIn(s),
                Ok(None) => Status::SignedOut,
                Err(e) => Status::Failed(e),
            };
            self.status.set(next);
        });
    }

    async fn sign_in<Fut>(self, call: Fut) -> Result<T, ApiError>
    where
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let res = call.await?;
        self.status.set(Status::SignedIn(res.clone()));
        Ok(res)
    }

    fn signed_in(&self) -> Option<T> {
        self.status.with(|s| match s {
            Status::SignedIn(r) => Some(r.clone()),
            _ => None,
        })
    }
}

/// The app-wide user session: read it with [`Session::status`] or
/// [`Session::user`] inside views, change it with [`Session::login`],
/// [`Session::signup`] and [`Session::logout`]. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Session(Handle<SessionResponse>);

impl Session {
    /// The current status (reactive).
    pub fn status(&self) -> SessionStatus {
        self.0.status.get()
    }

    /// The signed-in user (reactive); `None` while loading or signed out.
    pub fn user(&self) -> Option<SessionUser> {
        self.0.signed_in().map(|s| s.user)
    }

    /// Whether the first check is still running (reactive).
    pub fn loading(&self) -> bool {
        self.0.status.with(|s| matches!(s, Status::Loading))
    }

    /// The API client this session uses.
    pub fn api(&self) -> ApiClient {
        self.0.api.get_value()
    }

    /// Asks the server again (e.g. after the tab was idle).
    pub fn refresh(&self) {
        self.0.load(|api| async move { api.session().await });
    }

    /// Signs in; on success the session is updated everywhere.
    pub async fn login(&self, req: &LoginRequest) -> Result<SessionResponse, ApiError> {
        self.0.sign_in(self.api().login(req)).await
    }

    /// Creates the account: signed in at once, or after the mailed code
    /// ([`Session::email_code`]) or link comes back.
    pub async fn signup(&self, req: &SignupRequest) -> Result<SignupOutcome, ApiError> {
        let outcome = self.api().signup(req).await?;
        if let SignupOutcome::SignedIn(s) = &outcome {
            self.0.status.set(Status::SignedIn(s.clone()));
        }
        Ok(outcome)
    }

    /// Mails a sign-in link and code.
    pub async fn email_login(
        &self,
        req: &EmailLoginRequest,
    ) -> Result<EmailChallengeSent, ApiError> {
        self.api().email_login(req).await
    }

    /// Signs in with a mailed code (or finishes a sign-up).
    pub async fn email_code(&self, req: &EmailCodeRequest) -> Result<SessionResponse, ApiError> {
        self.0.sign_in(self.api().email_code(req)).await
    }

    /// Spends a mailed link; signed in when it was a sign-in or sign-up link.
    pub async fn email_link(&self, req: &EmailLinkRequest) -> Result<EmailLinkResponse, ApiError> {
        let res = self.api().email_link(req).await?;
        if let Some(s) = &res.session {
            self.0.status.set(Status::SignedIn(s.clone()));
        }
        Ok(res)
    }

    /// Marks the browser as signed in with `session` (after a sign-in made
    /// outside this handle, e.g. by [`crate::OneTimeCode`]).
    pub fn mark_signed_in(&self, session: SessionResponse) {
        self.0.status.set(Status::SignedIn(session));
    }

    /// Signs out (the server deletes the session).
    pub async fn logout(&self) -> Result<(), ApiError> {
        self.api().logout().await?;
        self.mark_signed_out();
        Ok(())
    }

    /// Marks the session as ended (e.g. after an API call answered 401).
    pub fn mark_signed_out(&self) {
        self.0.status.set(Status::SignedOut);
    }
}

/// Provides the app-wide [`Session`] (call once, near the root) and starts
/// loading it. Returns it too.
pub fn provide_session(api: ApiClient) -> Session {
    let session = Session(Handle::new(api));
    provide_context(session);
    // In the browser only (after hydration, with SSR): the server renders
    // the loading state.
    Effect::new(move |_| session.refresh());
    session
}

/// The app-wide [`Session`]; provides one for the page's own origin when no
/// ancestor called [`provide_session`].
pub fn use_session() -> Session {
    use_context::<Session>().unwrap_or_else(|| provide_session(ApiClient::same_origin()))
}

/// The app-wide member session (B2B). Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct MemberSession(Handle<MemberSessionResponse>);

impl MemberSession {
    /// The current status (reactive).
    pub fn status(&self) -> MemberStatus {
        self.0.status.get()
    }

    /// The signed-in member, their organization and permissions (reactive).
    pub fn member(&self) -> Option<MemberSessionResponse> {
        self.0.signed_in()
    }

    /// Whether the first check is still running (reactive).
    pub fn loading(&self) -> bool {
        self.0.status.with(|s| matches!(s, Status::Loading))
    }

    /// Whether the member's roles allow `action` on `resource` (reactive).
    /// The server decides again on every request; this only shapes the UI.
    pub fn can(&self, resource: &str, action: &str) -> bool {
        self.0.status.with(|s| match s {
            Status::SignedIn(m) => m.permissions.iter().any(|p| {
                (p.resource_id == resource || p.resource_id == "*")
                    && p.actions.iter().any(|a| a == action || a == "*")
            }),
            _ => false,
        })
    }

    /// The API client this session uses.
    pub fn api(&self) -> ApiClient {
        self.0.api.get_value()
    }

    /// Asks the server again.
    pub fn refresh(&self) {
        self.0.load(|api| async move { api.member_session().await });
    }

    /// Password login into one organization.
    pub async fn login(&self, req: &MemberLoginRequest) -> Result<MemberSessionResponse, ApiError> {
        self.0.sign_in(self.api().member_login(req)).await
    }

    /// Discovery: the organizations these credentials open (no session yet).
    pub async fn discover(&self, req: &DiscoveryRequest) -> Result<DiscoveryResponse, ApiError> {
        self.api().discover(req).await
    }

    /// Signs in to one discovered organization.
    pub async fn select(
        &self,
        req: &DiscoverySelectRequest,
    ) -> Result<MemberSessionResponse, ApiError> {
        self.0.sign_in(self.api().discover_select(req)).await
    }

    /// The second step of a sign-in (or a step-up): a code from the
    /// authenticator app, or a recovery code.
    pub async fn second_factor(
        &self,
        req: &keyhouse_types::SecondFactorCode,
    ) -> Result<MemberSessionResponse, ApiError> {
        self.0.sign_in(self.api().member_second_factor(req)).await
    }

    /// Records a session the server answered elsewhere (e.g. after a
    /// step-up).
    pub fn mark_signed_in(&self, member: MemberSessionResponse) {
        self.0.status.set(Status::SignedIn(member));
    }

    /// Signs out.
    pub async fn logout(&self) -> Result<(), ApiError> {
        self.api().member_logout().await?;
        self.mark_signed_out();
        Ok(())
    }

    /// Marks the session as ended (e.g. after an API call answered 401).
    pub fn mark_signed_out(&self) {
        self.0.status.set(Status::SignedOut);
    }
}

/// Provides the app-wide [`MemberSession`] and starts loading it.
pub fn provide_member(api: ApiClient) -> MemberSession {
    let member = MemberSession(Handle::new(api));
    provide_context(member);
    Effect::new(move |_| member.refresh());
    member
}

/// The app-wide [`MemberSession`]; provides one for the page's own origin
/// when no ancestor called [`provide_member`].
pub fn use_member() -> MemberSession {
    use_context::<MemberSession>().unwrap_or_else(|| provide_member(ApiClient::same_origin()))
}
