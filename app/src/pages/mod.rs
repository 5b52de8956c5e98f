//! The pages and the shell around them.

mod account;
mod admin;
mod auth;
mod connected_apps;
mod idp;
mod notes;
mod org;
mod recover;

use keyhouse_idp_component::{
    ApiClient, SessionStatus, provide_member, provide_session, use_member, use_session,
};
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::APP_NAME;

/// Which browser bundle a path belongs to. Each bundle is its own wasm
/// (`keyhouse-app`, `keyhouse-org`, `keyhouse-admin`, and the consent
/// pages' `keyhouse-idp` and `keyhouse-org-idp`), so the consent page never
/// downloads the dashboard; links between bundles are full page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bundle {
    /// Users: notes, login, sign-up, account. (`/idp` and `/org/idp` are
    /// bundles of their own, always reached by a full page load.)
    Main,
    /// Organizations: `/org/...`.
    Org,
    /// The operator dashboard: `/admin/...`.
    Admin,
}

impl Bundle {
    /// The bundle that serves `path`.
    pub(crate) fn of(path: &str) -> Bundle {
        let under = |p: &str| {
            path == p || path.starts_with(&format!("{p}/")) || path.starts_with(&format!("{p}?"))
        };
        if under("/org") {
            Bundle::Org
        } else if under("/admin") {
            Bundle::Admin
        } else {
            Bundle::Main
        }
    }
}

/// The user-facing app (`/`, `/login`, `/signup`, `/account`, `/idp`).
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Shell>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=notes::NotesPage/>
                <Route path=path!("/login") view=auth::LoginPage/>
                <Route path=path!("/signup") view=auth::SignupPage/>
                <Route path=path!("/forgot-password") view=recover::ForgotPasswordPage/>
                <Route path=path!("/reset-password") view=recover::ResetPasswordPage/>
                <Route path=path!("/verify-email") view=recover::VerifyEmailPage/>
                <Route path=path!("/logout") view=recover::LogoutPage/>
                <Route path=path!("/account") view=account::AccountPage/>
                <Route path=path!("/account/connected-apps") view=connected_apps::ConnectedAppsPage/>
                <Route path=path!("/idp") view=idp::IdpPage/>
            </Routes>
        </Shell>
    }
}

/// `/idp` alone: the consent page's own bundle, so a person who arrives
/// from an agent downloads only what it shows. No router: every link on it
/// is a full page load into the bundle that serves its target.
#[component]
pub fn IdpApp() -> impl IntoView {
    provide_session(ApiClient::same_origin());
    provide_member(ApiClient::same_origin());
    view! { <Frame><idp::IdpPage/></Frame> }
}

/// `/org/idp` alone, as [`IdpApp`] for members.
#[component]
pub fn OrgIdpApp() -> impl IntoView {
    provide_session(ApiClient::same_origin());
    provide_member(ApiClient::same_origin());
    view! { <Frame><org::OrgIdpPage/></Frame> }
}

/// The organization side (`/org/...`).
#[component]
pub fn OrgApp() -> impl IntoView {
    view! {
        <Shell>
            <Routes fallback=NotFound>
                <Route path=path!("/org") view=org::OrgNotesPage/>
                <Route path=path!("/org/login") view=|| view! { <org::OrgLoginPage/> }/>
                <Route path=path!("/org/login/email") view=|| view! { <org::OrgLoginPage from_link=true/> }/>
                <Route path=path!("/org/member") view=org::MemberPage/>
                <Route path=path!("/org/settings") view=org::OrgSettingsPage/>
                <Route path=path!("/org/invitation") view=org::InvitationPage/>
                <Route path=path!("/org/idp") view=org::OrgIdpPage/>
            </Routes>
        </Shell>
    }
}

/// The operator dashboard (`/admin/...`).
#[component]
pub fn AdminApp() -> impl IntoView {
    view! {
        <Shell>
            <Routes fallback=NotFound>
                <Route path=path!("/admin") view=admin::AdminAppsPage/>
                <Route path=path!("/admin/apps/new") view=admin::NewAppPage/>
                <Route path=path!("/admin/apps/:id") view=admin::AppDetailPage/>
                <Route path=path!("/admin/agents") view=admin::AgentsPage/>
                <Route path=path!("/admin/users") view=admin::UsersPage/>
                <Route path=path!("/admin/audit") view=admin::AuditPage/>
            </Routes>
        </Shell>
    }
}

/// Header, main area and footer around a bundle's routes, with both
/// session hooks provided.
#[component]
fn Shell(children: Children) -> impl IntoView {
    provide_session(ApiClient::same_origin());
    provide_member(ApiClient::same_origin());
    view! {
        <Router>
            <Frame>{children()}</Frame>
        </Router>
    }
}

/// What every page has around its content.
#[component]
fn Frame(children: Children) -> impl IntoView {
    view! {
        <a class="kh-skip" href="#main">"Skip to content"</a>
        <Header/>
        <main id="main" class="kh-main">{children()}</main>
        <footer class="kh-footer">
            <p>{APP_NAME} " · identity by Keyhouse · "
                <a href="/openapi.json" rel="external">"API"</a>
            </p>
        </footer>
    }
}

/// The id of the server-rendered first paint of `/idp` and `/org/idp`,
/// which the browser bundle removes before it mounts the app.
pub const FIRST_PAINT_ID: &str = "kh-first-paint";

/// The consent page as the server renders it into `index.html` before any
/// wasm has loaded: the app's frame and the provider showing the start's
/// answer (`answer`, which the page also carries as a data block). Its
/// buttons submit the decision's form until the bundle takes over (and
/// without JavaScript). `None` unless the answer is a consent screen:
/// anything else (sign in first, an error, straight back to the client) is
/// acted on at once by the bundle.
#[cfg(feature = "ssr")]
pub fn first_paint(answer: &keyhouse_types::AuthorizeStartInPage) -> Option<String> {
    use keyhouse_types::AuthorizeStartResponse;
    match &answer.answer {
        Some(AuthorizeStartResponse::Describe(start)) if start.consent_required => {}
        _ => return None,
    }
    let owner = Owner::new();
    Some(owner.with(|| {
        provide_context(answer.clone());
        let page = if answer.members {
            view! { <OrgIdpApp/> }.into_any()
        } else {
            view! { <IdpApp/> }.into_any()
        };
        view! { <div id=FIRST_PAINT_ID>{page}</div> }.to_html()
    }))
}

/// Removes the server's first paint (see [`first_paint`]): the bundle is
/// about to mount the same page, live.
pub fn remove_first_paint() {
    if let Some(element) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(FIRST_PAINT_ID))
    {
        element.remove();
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = use_session();
    let member = use_member();
    view! {
        <header class="kh-header">
            <a class="kh-brand" href="/" rel="external" data-testid="nav-brand">
                <span class="kh-brand__mark" aria-hidden="true">"K"</span>
                {APP_NAME}
            </a>
            <nav aria-label="Main">
                <ul class="kh-nav">
                    {move || member.member().map(|m| view! {
                        <li><a href="/org" rel="external" data-testid="nav-org" class="kh-nav__org">
                            <span class="kh-nav__org-label">"Organization: "</span>
                            <span class="kh-nav__org-name">{m.organization.name}</span>
                        </a></li>
                    })}
                    {move || match session.status() {
                        SessionStatus::SignedIn(s) => view! {
                            <li><a href="/" rel="external" data-testid="nav-notes">"Notes"</a></li>
                            {s.is_admin.then(|| view! {
                                <li><a href="/admin" rel="external" data-testid="nav-admin">"Admin"</a></li>
                            })}
                            <li><a href="/account" rel="external" data-testid="nav-account">
                                <span class="kh-nav__email">{s.user.email}</span>
                            </a></li>
                        }.into_any(),
                        SessionStatus::Loading => ().into_any(),
                        // Signed in to an organization only: who, not "Sign in".
                        _ if member.member().is_some() => {
                            let email = member.member().map(|m| m.member.email).unwrap_or_default();
                            view! {
                                <li><a href="/org/member" rel="external" data-testid="nav-member">
                                    <span class="kh-nav__email">{email}</span>
                                </a></li>
                            }.into_any()
                        }
                        _ => view! {
                            <li><a href="/login" rel="external" data-testid="nav-login">"Sign in"</a></li>
                            <li><a href="/signup" rel="external" data-testid="nav-signup" class="kh-button kh-button--small">"Create account"</a></li>
                        }.into_any(),
                    }}
                </ul>
            </nav>
        </header>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="kh-card kh-narrow" data-testid="not-found">
            <h1>"Page not found"</h1>
            <p class="kh-muted">"There is nothing at this address."</p>
            <p><a class="kh-button kh-button--primary" href="/" rel="external">"Go to your notes"</a></p>
        </section>
    }
}

/// The page's path and query as the address bar has them: still
/// percent-encoded (the router's `pathname` is decoded, which would turn a
/// route parameter such as an agent's client id URL into several segments).
pub(crate) fn here() -> String {
    web_sys::window()
        .map(|w| {
            let l = w.location();
            format!(
                "{}{}",
                l.pathname().unwrap_or_default(),
                l.search().unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "/".to_owned())
}

/// Renders `children` only with a session; sends the user to the login page
/// (coming back here afterwards) without one.
#[component]
fn RequireSession(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    Effect::new(move |_| {
        if session.status() == SessionStatus::SignedOut {
            let url = keyhouse_idp_component::params::login_url("/login", &here());
            // /login lives in the main bundle: a full page load from any bundle.
            if let Some(w) = web_sys::window() {
                let _ = w.location().assign(&url);
            }
        }
    });
    // Only whether there is a session decides what shows: a change to the
    // session's details (a new address) must not rebuild the page and lose
    // what its forms hold.
    #[derive(Clone, PartialEq)]
    enum Gate {
        In,
        Failed(String),
        Waiting,
    }
    let gate = Memo::new(move |_| match session.status() {
        SessionStatus::SignedIn(_) => Gate::In,
        SessionStatus::Failed(e) => Gate::Failed(e.to_string()),
        _ => Gate::Waiting,
    });
    move || match gate.get() {
        Gate::In => children().into_any(),
        Gate::Failed(e) => view! {
            <section class="kh-card kh-narrow" role="alert">
                <h1>"Can't reach the server"</h1>
                <p class="kh-muted">{e}</p>
            </section>
        }
        .into_any(),
        Gate::Waiting => view! { <Spinner/> }.into_any(),
    }
}

#[component]
fn Spinner() -> impl IntoView {
    view! {
        <div class="kh-working" role="status" aria-live="polite">
            <span class="kh-spinner" aria-hidden="true"></span>
            <span class="kh-visually-hidden">"Loading…"</span>
        </div>
    }
}

/// Percent-encodes one path segment or query value (everything but RFC 3986
/// unreserved characters).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
