//! `/admin/apps/new`: registers an app, then shows its client ID and secret
//! once, with the values for a custom GPT.

use keyhouse_idp_component::{ApiError, use_session};
use keyhouse_types::ClientType;
use keyhouse_types::ErrorCode;
use keyhouse_types::admin::{CreatedClientResponse, NewClientRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::api;
use super::form::{AppFields, AppFormFields, Field, Valid};
use super::gpt::GptPanel;
use super::widgets::{
    AdminHeader, Credential, RequireAdmin, admin_message, note_signed_out, type_label,
};
use crate::pages::auth::ErrorNote;

/// The "new app" page.
#[component]
pub fn NewAppPage() -> impl IntoView {
    view! {
        <RequireAdmin>
            <NewApp/>
        </RequireAdmin>
    }
}

/// Which field a server refusal is about.
fn field_of(e: &ApiError) -> Option<Field> {
    let d = e.description().unwrap_or_default();
    match e.error_code() {
        Some(ErrorCode::InvalidRedirectUri) => Some(Field::Redirects),
        _ if d.contains("logo") => Some(Field::Logo),
        _ if d.contains("redirect") => Some(Field::Redirects),
        _ if d.contains("name") => Some(Field::Name),
        _ => None,
    }
}

/// The request registering the checked form.
fn new_client(valid: Valid) -> NewClientRequest {
    NewClientRequest {
        name: valid.name,
        client_type: valid.client_type,
        redirect_uris: valid.redirect_uris,
        description: valid.description,
        logo_uri: valid.logo_uri,
        access_token_ttl: None,
        refresh_policy: None,
        audience: None,
        claims_template: None,
        grant_types: None,
        resource_server: false,
        token_endpoint_auth_method: None,
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        id_token_signed_response_alg: None,
    }
}

/// The form, then the app it registered.
#[component]
fn NewApp() -> impl IntoView {
    let session = use_session();
    let fields = AppFields::new(ClientType::ThirdParty);
    let pending = RwSignal::new(false);
    let created = RwSignal::new(None::<CreatedClientResponse>);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let Some(valid) = fields.checked() else {
            return;
        };
        let req = new_client(valid);
        pending.set(true);
        fields.error.set(None);
        spawn_local(async move {
            match api::create_client(&req).await {
                Ok(c) => created.set(Some(c)),
                Err(e) => {
                    note_signed_out(session, &e);
                    fields.fail(field_of(&e), admin_message(&e));
                }
            }
            pending.set(false);
        });
    };

    view! {
        <div class="kh-admin">
            {move || match created.get() {
                Some(c) => view! { <Created created=c/> }.into_any(),
                None => view! {
                    <AdminHeader title="Register an app".to_owned()
                        intro="An app that signs people in with this service: your own, a partner's, or a custom GPT."/>
                    <section class="kh-card" aria-labelledby="new-app-title">
                        <h2 id="new-app-title" class="kh-section-title">"The app"</h2>
                        <form class="kh-settings__form" on:submit=on_submit novalidate>
                            <ErrorNote error=fields.error testid="app-form-error"/>
                            <AppFormFields fields kind_locked=None/>
                            <div class="kh-actions kh-actions--start">
                                <button type="submit" class="kh-button kh-button--primary" data-testid="app-create"
                                    disabled=move || pending.get()>
                                    {move || if pending.get() { "Registering…" } else { "Register app" }}
                                </button>
                                <A href="/admin" attr:class="kh-button kh-button--secondary">"Cancel"</A>
                            </div>
                        </form>
                    </section>
                }.into_any(),
            }}
        </div>
    }
}

/// The app just registered: its credentials, shown this once.
#[component]
fn Created(
    /// The app and its secret, if it has one.
    created: CreatedClientResponse,
) -> impl IntoView {
    let CreatedClientResponse {
        client,
        client_secret,
    } = created;
    let heading = NodeRef::<leptos::html::H1>::new();
    // Move focus to the heading so screen readers announce the result.
    Effect::new(move |_| {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    let detail = format!("/admin/apps/{}", api::encode_component(&client.client_id));
    let confidential = !client.client_type.is_public();
    let gpt_secret = client_secret.clone();
    view! {
        <section class="kh-card" data-testid="app-created" aria-labelledby="created-title">
            <p class="kh-eyebrow">"App registered"</p>
            <h1 id="created-title" tabindex="-1" node_ref=heading>{format!("“{}” is ready", client.name)}</h1>
            <p class="kh-muted">{type_label(client.client_type)}</p>
            <dl class="kh-credentials">
                <Credential name="Client ID" value=client.client_id.clone() testid="app-client-id"
                    copy_testid="copy-client-id" copy_label="Copy the client ID"/>
                {client_secret.map(|s| view! {
                    <Credential name="Client secret" value=s testid="app-client-secret" secret=true
                        copy_testid="copy-client-secret" copy_label="Copy the client secret"/>
                })}
            </dl>
            <SecretNote confidential/>
            <div class="kh-actions kh-actions--start">
                <A href=detail attr:class="kh-button kh-button--primary" attr:data-testid="app-detail-link">
                    "Open the app's settings"
                </A>
                <A href="/admin" attr:class="kh-button kh-button--secondary">"Back to all apps"</A>
            </div>
        </section>
        {confidential.then(|| view! {
            <GptPanel client_id=client.client_id.clone() secret=Signal::stored(gpt_secret)/>
        })}
    }
}

/// Under a new app's credentials: copy the secret now, or why there is none.
#[component]
fn SecretNote(
    /// The app keeps a secret.
    confidential: bool,
) -> impl IntoView {
    if confidential {
        view! {
            <p class="kh-warning" role="note" data-testid="app-secret-warning">
                <strong>"Copy the secret now: it won't be shown again."</strong>
                " Keyhouse keeps only a hash of it. If it is lost, rotate the secret on the app's page."
            </p>
        }
        .into_any()
    } else {
        view! {
            <p class="kh-note-callout">"This app has no secret: it proves itself with PKCE on every sign-in."</p>
        }
        .into_any()
    }
}
