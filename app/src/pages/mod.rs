//! The pages and the shell around them.

mod account;
mod admin;
mod auth;
mod connected_apps;
mod idp;
mod notes;
mod org;

use keyhouse_idp_component::{
    ApiClient, SessionStatus, provide_member, provide_session, use_member, use_session,
};
use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::path;

use crate::APP_NAME;

/// The whole app: header, routes, session.
#[component]
pub fn App() -> impl IntoView {
    provide_session(ApiClient::same_origin());
    provide_member(ApiClient::same_origin());
    view! {
        <Router>
            <a class="kh-skip" href="#main">"Skip to content"</a>
            <Header/>
            <main id="main" class="kh-main">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=notes::NotesPage/>
                    <Route path=path!("/login") view=auth::LoginPage/>
                    <Route path=path!("/signup") view=auth::SignupPage/>
                    <Route path=path!("/account") view=account::AccountPage/>
                    <Route path=path!("/account/connected-apps") view=connected_apps::ConnectedAppsPage/>
                    <Route path=path!("/admin") view=admin::AdminAppsPage/>
                    <Route path=path!("/admin/apps/new") view=admin::NewAppPage/>
                    <Route path=path!("/admin/apps/:id") view=admin::AppDetailPage/>
                    <Route path=path!("/admin/audit") view=admin::AuditPage/>
                    <Route path=path!("/idp") view=idp::IdpPage/>
                    <Route path=path!("/org") view=org::OrgNotesPage/>
                    <Route path=path!("/org/login") view=org::OrgLoginPage/>
                    <Route path=path!("/org/member") view=org::MemberPage/>
                    <Route path=path!("/org/settings") view=org::OrgSettingsPage/>
                    <Route path=path!("/org/idp") view=org::OrgIdpPage/>
                </Routes>
            </main>
            <footer class="kh-footer">
                <p>{APP_NAME} " · identity by Keyhouse · "
                    <a href="/openapi.json">"API"</a>
                </p>
            </footer>
        </Router>
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = use_session();
    let member = use_member();
    view! {
        <header class="kh-header">
            <a class="kh-brand" href="/" data-testid="nav-brand">
                <span class="kh-brand__mark" aria-hidden="true">"K"</span>
                {APP_NAME}
            </a>
            <nav aria-label="Main">
                <ul class="kh-nav">
                    {move || member.member().map(|m| view! {
                        <li><A href="/org" attr:data-testid="nav-org" attr:class="kh-nav__org">
                            <span class="kh-nav__org-label">"Organization: "</span>
                            <span class="kh-nav__org-name">{m.organization.name}</span>
                        </A></li>
                    })}
                    {move || match session.status() {
                        SessionStatus::SignedIn(s) => view! {
                            <li><A href="/" attr:data-testid="nav-notes">"Notes"</A></li>
                            {s.is_admin.then(|| view! {
                                <li><A href="/admin" attr:data-testid="nav-admin">"Admin"</A></li>
                            })}
                            <li><A href="/account" attr:data-testid="nav-account">
                                <span class="kh-nav__email">{s.user.email}</span>
                            </A></li>
                        }.into_any(),
                        SessionStatus::Loading => ().into_any(),
                        _ => view! {
                            <li><A href="/login" attr:data-testid="nav-login">"Sign in"</A></li>
                            <li><A href="/signup" attr:data-testid="nav-signup" attr:class="kh-button kh-button--small">"Create account"</A></li>
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
            <p><a class="kh-button kh-button--primary" href="/">"Go to your notes"</a></p>
        </section>
    }
}

/// Renders `children` only with a session; sends the user to the login page
/// (coming back here afterwards) without one.
#[component]
fn RequireSession(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let location = use_location();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if session.status() == SessionStatus::SignedOut {
            let search = location.search.get_untracked();
            let sep = if search.is_empty() || search.starts_with('?') {
                ""
            } else {
                "?"
            };
            let here = format!("{}{sep}{search}", location.pathname.get_untracked());
            let url = keyhouse_idp_component::params::login_url("/login", &here);
            navigate(&url, Default::default());
        }
    });
    move || match session.status() {
        SessionStatus::SignedIn(_) => children().into_any(),
        SessionStatus::Failed(e) => view! {
            <section class="kh-card kh-narrow" role="alert">
                <h1>"Can't reach the server"</h1>
                <p class="kh-muted">{e.to_string()}</p>
            </section>
        }
        .into_any(),
        _ => view! { <Spinner/> }.into_any(),
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
