//! The organization's e-mail domains on `/org/settings`: claimed here,
//! verified by the service's operator, and whether people who prove an
//! address at a verified domain may join (with which role).

use keyhouse_idp_component::{ApiError, use_member};
use keyhouse_types::b2b::{DomainRequest, DomainSettings, JitRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::sentence;
use crate::pages::Spinner;
use crate::pages::encode_segment;

/// What to tell an admin when a settings call fails (also the single
/// sign-on card's).
pub(super) fn message(e: &ApiError) -> String {
    match e.status() {
        _ if e.is_network() => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        401 => "Your session has ended. Sign in again.".into(),
        _ => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Something went wrong. Try again in a moment.".into()),
    }
}

/// The domains card.
#[component]
pub(super) fn Domains(
    /// Every role of the organization (the join role is one of them).
    role_ids: Vec<String>,
) -> impl IntoView {
    let member = use_member();
    let settings = RwSignal::new(None::<Result<DomainSettings, String>>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let domain = RwSignal::new(String::new());
    spawn_local(async move {
        let r: Result<DomainSettings, ApiError> =
            member.api().get_json("/api/b2b/organization/domains").await;
        settings.set(Some(r.map_err(|e| message(&e))));
    });
    // Each change answers the domains and the join role as they now are.
    let apply = move |r: Result<DomainSettings, ApiError>| {
        pending.set(false);
        match r {
            Ok(s) => {
                error.set(None);
                settings.set(Some(Ok(s)));
            }
            Err(e) => error.set(Some(message(&e))),
        }
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let req = DomainRequest {
            domain: domain.get_untracked(),
        };
        spawn_local(async move {
            let r = member
                .api()
                .post_json("/api/b2b/organization/domains", &req)
                .await;
            if r.is_ok() {
                domain.set(String::new());
            }
            apply(r);
        });
    };
    let remove = move |d: String| {
        pending.set(true);
        spawn_local(async move {
            let path = format!(
                "/api/b2b/organization/domains/{}/remove",
                encode_segment(&d)
            );
            apply(member.api().post_json(&path, &()).await);
        });
    };
    let set_role = move |role: Option<String>| {
        pending.set(true);
        spawn_local(async move {
            let r = member
                .api()
                .put_json("/api/b2b/organization/jit", &JitRequest { role })
                .await;
            apply(r);
        });
    };
    let role_ids = StoredValue::new(role_ids);
    view! {
        <section class="kh-card" aria-labelledby="org-domains-title">
            <h2 id="org-domains-title" class="kh-section-title">"Join by e-mail domain"</h2>
            <p class="kh-muted">"Colleagues with an address at one of your domains can join without an invitation, once the service's operator has verified that the domain is yours. They prove the address with a code mailed to it."</p>
            {move || error.get().map(|e| view! { <p class="kh-alert" role="alert" data-testid="org-domains-error">{e}</p> })}
            {move || match settings.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(m)) => view! { <p class="kh-alert" role="alert">{m}</p> }.into_any(),
                Some(Ok(s)) => {
                    let current = s.jit_role.clone().unwrap_or_default();
                    view! {
                        {if s.domains.is_empty() {
                            view! { <p class="kh-empty" data-testid="org-domains-empty">"No domains yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="kh-domain-list">
                                    {s.domains.into_iter().map(|d| {
                                        let name = d.domain.clone();
                                        view! {
                                            <li class="kh-domain" data-testid="org-domain" data-domain=d.domain.clone()>
                                                <code>{d.domain.clone()}</code>
                                                {if d.verified {
                                                    view! { <span class="kh-badge kh-badge--ok">"Verified"</span> }.into_any()
                                                } else {
                                                    view! { <span class="kh-badge kh-badge--warn">"Waiting for the operator"</span> }.into_any()
                                                }}
                                                <button type="button" class="kh-link-button" data-testid="org-domain-remove"
                                                    aria-label=format!("Remove {}", d.domain)
                                                    disabled=move || pending.get()
                                                    on:click=move |_| remove(name.clone())>"Remove"</button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                        <div class="kh-field">
                            <label for="org-jit-role">"Who may join"</label>
                            <select id="org-jit-role" data-testid="org-jit-role" disabled=move || pending.get()
                                on:change=move |ev| {
                                    let v = event_target_value(&ev);
                                    set_role((!v.is_empty()).then_some(v));
                                }>
                                <option value="" selected=current.is_empty()>"Nobody: invitations only"</option>
                                {role_ids.get_value().into_iter().map(|r| {
                                    let selected = r == current;
                                    view! { <option value=r.clone() selected=selected>{format!("Anyone at a verified domain, as {r}")}</option> }
                                }).collect_view()}
                            </select>
                        </div>
                    }.into_any()
                }
            }}
            <form class="kh-invite-form" on:submit=add data-testid="org-domain-form">
                <div class="kh-field">
                    <label for="org-domain-name">"Add a domain"</label>
                    <input id="org-domain-name" type="text" placeholder="example.com" autocomplete="off"
                        data-testid="org-domain-name" bind:value=domain/>
                </div>
                <button type="submit" class="kh-button kh-button--secondary" data-testid="org-domain-add"
                    disabled=move || pending.get()>"Add domain"</button>
            </form>
        </section>
    }
}
