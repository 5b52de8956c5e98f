//! `/org/member`: the signed-in member, their organization and roles,
//! signing out, their two-step verification and their passkeys.

use keyhouse_idp_component::{ApiError, use_member};
use keyhouse_types::OrganizationSummary;
use keyhouse_types::b2b::{MemberSessionResponse, SwitchRequest};
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
                <SwitchOrganization/>
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

/// The address's other organizations this sign-in reaches (a shared
/// password, or an address proven by mail): one click each, no new
/// sign-in. Shown only when there are some.
#[component]
fn SwitchOrganization() -> impl IntoView {
    let member = use_member();
    let others = RwSignal::new(Vec::<OrganizationSummary>::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    spawn_local(async move {
        let r: Result<Vec<OrganizationSummary>, ApiError> = member
            .api()
            .get_json("/api/b2b/session/organizations")
            .await;
        if let Ok(v) = r {
            others.set(v);
        }
    });
    let switch = move |slug: String| {
        if pending.get_untracked().is_some() {
            return;
        }
        pending.set(Some(slug.clone()));
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            let req = SwitchRequest {
                organization_slug: slug,
            };
            let r: Result<MemberSessionResponse, ApiError> = member
                .api()
                .post_json("/api/b2b/session/switch", &req)
                .await;
            pending.set(None);
            match r {
                Ok(m) => {
                    member.mark_signed_in(m);
                    navigate("/org", Default::default());
                }
                // The organization asks for the second step: its gate asks.
                Err(e)
                    if e.status() == 401
                        || e.status() == 403 && e.code().contains("second_factor") =>
                {
                    member.refresh();
                    navigate("/org", Default::default());
                }
                Err(e) => error.set(Some(
                    e.description()
                        .map(super::api::sentence)
                        .unwrap_or_else(|| "Could not switch. Try again in a moment.".into()),
                )),
            }
        });
    };
    move || {
        (!others.with(Vec::is_empty)).then(|| {
            let switch = switch.clone();
            view! {
                <section class="kh-card kh-narrow" aria-labelledby="switch-title" data-testid="org-switch">
                    <h2 id="switch-title" class="kh-section-title">"Your other organizations"</h2>
                    <p class="kh-muted">"Your sign-in also opens these. An organization that asks for more, such as two-step verification, asks for it when you switch."</p>
                    <ErrorNote error testid="org-switch-error"/>
                    <ul class="kh-org-choices">
                        {others.get().into_iter().map(|o| {
                            let switch = switch.clone();
                            let slug = o.slug.clone();
                            let busy = o.slug.clone();
                            view! {
                                <li>
                                    <button type="button" class="kh-org-choice" data-testid="org-switch-to" data-slug=o.slug.clone()
                                        disabled=move || pending.get().is_some()
                                        aria-busy=move || (pending.get().as_deref() == Some(busy.as_str())).then_some("true")
                                        on:click=move |_| switch(slug.clone())>
                                        <span class="kh-org-choice__text">
                                            <strong>{o.name.clone()}</strong>
                                            <small class="kh-muted">{o.slug.clone()}</small>
                                        </span>
                                        <span class="kh-org-choice__go" aria-hidden="true">"Switch →"</span>
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </section>
            }
        })
    }
}
