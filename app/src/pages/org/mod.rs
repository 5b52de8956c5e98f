//! The B2B side of the app: members of organizations sign in at
//! `/org/login` (discovery: one password, then a choice of organization),
//! share the organization's notes at `/org`, see themselves at
//! `/org/member`, and administrators manage the organization at
//! `/org/settings`. `/org/idp` is the B2B Authorization URL.

mod api;
mod idp;
mod login;
mod member;
mod notes;
mod settings;

pub use idp::OrgIdpPage;
pub use login::OrgLoginPage;
pub use member::MemberPage;
pub use notes::OrgNotesPage;
pub use settings::OrgSettingsPage;

use keyhouse_idp_component::{MemberStatus, use_member};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::Spinner;

/// The organization login page.
pub(crate) const LOGIN_PATH: &str = "/org/login";

/// Renders `children` only with a member session; sends the visitor to the
/// organization login page (coming back here afterwards) without one.
#[component]
fn RequireMember(children: ChildrenFn) -> impl IntoView {
    let member = use_member();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if member.status() == MemberStatus::SignedOut {
            let url = keyhouse_idp_component::params::login_url(LOGIN_PATH, &super::here());
            navigate(&url, Default::default());
        }
    });
    move || match member.status() {
        MemberStatus::SignedIn(_) => children().into_any(),
        MemberStatus::Failed(e) => view! {
            <section class="kh-card kh-narrow" role="alert">
                <h1>"Can't reach the server"</h1>
                <p class="kh-muted">{e.to_string()}</p>
            </section>
        }
        .into_any(),
        _ => view! { <Spinner/> }.into_any(),
    }
}

/// The organization pages' sub-navigation (notes, member, settings).
#[component]
fn OrgTabs() -> impl IntoView {
    let member = use_member();
    view! {
        <nav class="kh-tabs" aria-label="Organization">
            <A href="/org" exact=true attr:data-testid="org-tab-notes">"Notes"</A>
            <A href="/org/member" attr:data-testid="org-tab-member">"Membership"</A>
            {move || member.can("organization", "read").then(|| view! {
                <A href="/org/settings" attr:data-testid="org-tab-settings">"Settings"</A>
            })}
        </nav>
    }
}
