//! The organization itself on `/org/settings`: its name, slug and logo,
//! and deleting it (the slug typed again to confirm).

use keyhouse_idp_component::consent::initials;
use keyhouse_idp_component::{ApiError, use_member};
use keyhouse_types::OrganizationSummary;
use keyhouse_types::b2b::{DeleteOrganizationRequest, OrganizationLogo, OrganizationProfile};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::sentence;

fn message(e: &ApiError) -> String {
    match e.status() {
        _ if e.is_network() => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        401 => "Your session has ended. Sign in again.".into(),
        403 => "Your role doesn't allow that.".into(),
        _ => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Something went wrong. Try again in a moment.".into()),
    }
}

/// The name and slug form (admins with `organization:update`).
#[component]
pub(super) fn OrganizationProfileCard(
    /// The organization as loaded.
    organization: OrganizationSummary,
    /// The URL its logo is fetched from.
    logo_uri: Option<String>,
    /// Loads the page again after a change.
    reload: Callback<()>,
) -> impl IntoView {
    let member = use_member();
    let logo = RwSignal::new(logo_uri.unwrap_or_default());
    let logo_pending = RwSignal::new(false);
    let logo_outcome = RwSignal::new(None::<Result<(), String>>);
    // The preview follows the saved logo (the card stays, and so does its
    // notice).
    let shown = RwSignal::new(organization.logo_url.clone());
    let org_name = organization.name.clone();
    let set_logo = move |uri: Option<String>| {
        if logo_pending.get_untracked() {
            return;
        }
        logo_pending.set(true);
        logo_outcome.set(None);
        spawn_local(async move {
            let r: Result<OrganizationSummary, ApiError> = member
                .api()
                .put_json(
                    "/api/b2b/organization/logo",
                    &OrganizationLogo { logo_uri: uri },
                )
                .await;
            logo_pending.set(false);
            match r {
                Ok(saved) => {
                    // Nothing else on the page shows the logo: no reload, so
                    // the card and its notice stay.
                    shown.set(saved.logo_url);
                    logo_outcome.set(Some(Ok(())));
                }
                Err(e) => logo_outcome.set(Some(Err(message(&e)))),
            }
        });
    };
    let save_logo = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_logo(Some(logo.get_untracked()));
    };
    let name = RwSignal::new(organization.name.clone());
    let slug = RwSignal::new(organization.slug.clone());
    let pending = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<(), String>>);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        outcome.set(None);
        let req = OrganizationProfile {
            name: name.get_untracked(),
            slug: slug.get_untracked(),
        };
        spawn_local(async move {
            let r: Result<OrganizationSummary, ApiError> = member
                .api()
                .put_json("/api/b2b/organization/profile", &req)
                .await;
            pending.set(false);
            match r {
                Ok(_) => {
                    outcome.set(Some(Ok(())));
                    member.refresh();
                    reload.run(());
                }
                Err(e) => outcome.set(Some(Err(message(&e)))),
            }
        });
    };
    view! {
        <section class="kh-card" aria-labelledby="org-profile-title">
            <h2 id="org-profile-title" class="kh-section-title">"Organization"</h2>
            <p class="kh-muted">"Its name, shown to members and on consent screens, and its slug, which members type to sign in. Links and sign-ins with the old slug stop working when it changes."</p>
            <form class="kh-field-row" on:submit=save data-testid="org-profile-form">
                <div class="kh-field">
                    <label for="org-profile-name">"Name"</label>
                    <input id="org-profile-name" type="text" required maxlength="100"
                        data-testid="org-profile-name" bind:value=name/>
                </div>
                <div class="kh-field">
                    <label for="org-profile-slug">"Slug"</label>
                    <input id="org-profile-slug" type="text" required minlength="2" maxlength="40"
                        pattern="[a-z0-9][a-z0-9\\-]*[a-z0-9]" aria-describedby="org-profile-slug-hint"
                        data-testid="org-profile-slug" bind:value=slug/>
                    <small id="org-profile-slug-hint" class="kh-muted">"Lower-case letters, digits and dashes."</small>
                </div>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="org-profile-save"
                        disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save" }}
                    </button>
                </div>
            </form>
            <div role="status" aria-live="polite">
                {move || outcome.get().map(|o| match o {
                    Ok(()) => view! { <p class="kh-notice" data-testid="org-profile-saved">"Saved."</p> }.into_any(),
                    Err(m) => view! { <p class="kh-alert" data-testid="org-profile-error">{m}</p> }.into_any(),
                })}
            </div>
            <form class="kh-org-logo-form" on:submit=save_logo data-testid="org-logo-form">
                <div class="kh-org-logo-form__preview">
                    {move || match shown.get() {
                        Some(src) => view! {
                            <img class="kh-org-logo" src=src alt="The organization's logo" width="48" height="48" data-testid="org-logo"/>
                        }.into_any(),
                        None => view! { <span class="kh-org-logo kh-org-logo--none" aria-hidden="true">{initials(&org_name)}</span> }.into_any(),
                    }}
                </div>
                <div class="kh-field">
                    <label for="org-logo-uri">"Logo URL"</label>
                    <input id="org-logo-uri" type="url" pattern="https://.*" maxlength="2000"
                        placeholder="https://example.com/logo.png" aria-describedby="org-logo-hint"
                        data-testid="org-logo-uri" bind:value=logo/>
                    <small id="org-logo-hint" class="kh-muted">"A square PNG, JPEG, GIF or WebP image at an https address. Keyhouse fetches it once and shows it from its own site on sign-in and consent screens."</small>
                </div>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--secondary" data-testid="org-logo-save"
                        disabled=move || logo_pending.get()>
                        {move || if logo_pending.get() { "Checking…" } else { "Save logo" }}
                    </button>
                    {move || shown.get().is_some().then(|| view! {
                        <button type="button" class="kh-link-button" data-testid="org-logo-remove"
                            disabled=move || logo_pending.get() on:click=move |_| {
                                logo.set(String::new());
                                set_logo(None);
                            }>"Remove logo"</button>
                    })}
                </div>
            </form>
            <div role="status" aria-live="polite">
                {move || logo_outcome.get().map(|o| match o {
                    Ok(()) => view! { <p class="kh-notice" data-testid="org-logo-saved">"Logo saved."</p> }.into_any(),
                    Err(m) => view! { <p class="kh-alert" data-testid="org-logo-error">{m}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}

/// Deleting the organization (admins with `organization:delete`).
#[component]
pub(super) fn DeleteOrganization(
    /// The organization's slug, to be typed again.
    slug: String,
) -> impl IntoView {
    let member = use_member();
    let typed = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let expected = StoredValue::new(slug.clone());
    let delete = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let req = DeleteOrganizationRequest {
            confirm_slug: typed.get_untracked(),
        };
        spawn_local(async move {
            let r = member
                .api()
                .post_empty("/api/b2b/organization/delete", &req)
                .await;
            match r {
                Ok(()) => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().assign("/org/login");
                    }
                }
                Err(e) => {
                    pending.set(false);
                    error.set(Some(message(&e)));
                }
            }
        });
    };
    view! {
        <section class="kh-card kh-danger-zone" aria-labelledby="org-delete-title">
            <h2 id="org-delete-title" class="kh-section-title">"Delete the organization"</h2>
            <p class="kh-muted">"Every member is removed and signed out, and every app they connected loses access at once. This cannot be undone."</p>
            <form on:submit=delete data-testid="org-delete-form">
                <div class="kh-field">
                    <label for="org-delete-slug">{format!("Type {slug} to confirm")}</label>
                    <input id="org-delete-slug" type="text" autocomplete="off" data-testid="org-delete-slug"
                        bind:value=typed/>
                </div>
                {move || error.get().map(|e| view! { <p class="kh-alert" role="alert" data-testid="org-delete-error">{e}</p> })}
                <button type="submit" class="kh-button kh-button--danger" data-testid="org-delete"
                    disabled=move || pending.get() || typed.get() != expected.get_value()>
                    {move || if pending.get() { "Deleting…" } else { "Delete the organization" }}
                </button>
            </form>
        </section>
    }
}
