//! `/org/member`: the signed-in member, their organization and roles,
//! signing out, their two-step verification and their passkeys.

use keyhouse_idp_component::use_member;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::{LOGIN_PATH, OrgTabs, RequireMember};
use crate::pages::account::passkeys::Passkeys;
use crate::pages::account::two_step::{Owner, TwoStep};
use crate::pages::auth::ErrorNote;

/// The member page.
#[component]
pub fn MemberPage() -> impl IntoView {
    view! {
        <RequireMember>
            <div class="kh-page-stack">
                <Member/>
                <TwoStep owner=Owner::Member/>
                <Passkeys owner=Owner::Member/>
            </div>
        </RequireMember>
    }
}

#[component]
fn Member() -> impl IntoView {
    let member = use_member();
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let navigate = use_navigate();
    let logout = move |_| {
        pending.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match member.logout().await {
                Ok(()) => navigate(LOGIN_PATH, Default::default()),
                Err(e) => {
                    error.set(Some(format!("Could not sign out: {e}")));
                    pending.set(false);
                }
            }
        });
    };
    view! {
        <section class="kh-card kh-narrow" aria-labelledby="member-title">
            <p class="kh-eyebrow">"Organization"</p>
            <h1 id="member-title">"Your membership"</h1>
            <OrgTabs/>
            <ErrorNote error testid="member-error"/>
            {move || member.member().map(|m| view! {
                <dl class="kh-details">
                    <dt>"Organization"</dt>
                    <dd data-testid="member-org">
                        {m.organization.name.clone()} " "
                        <span class="kh-muted">{format!("({})", m.organization.slug)}</span>
                    </dd>
                    <dt>"Name"</dt>
                    <dd data-testid="member-name">{if m.member.name.is_empty() { "—".to_owned() } else { m.member.name.clone() }}</dd>
                    <dt>"Email"</dt>
                    <dd data-testid="member-email">{m.member.email.clone()}</dd>
                    <dt>"Roles"</dt>
                    <dd data-testid="member-roles">{m.member.roles.join(", ")}</dd>
                </dl>
            })}
            <div class="kh-actions">
                {move || member.can("organization", "read").then(|| view! {
                    <A href="/org/settings" attr:class="kh-button kh-button--secondary" attr:data-testid="member-settings-link">
                        "Organization settings"
                    </A>
                })}
                <button type="button" class="kh-button kh-button--secondary" data-testid="member-logout"
                    disabled=move || pending.get() on:click=logout>
                    "Sign out of the organization"
                </button>
            </div>
        </section>
    }
}
