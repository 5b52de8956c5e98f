//! `/admin/apps/{id}`: one app. Its settings, its secret (rotation in two
//! steps: start, then finish or cancel), the values for a custom GPT, and
//! deleting it.

use keyhouse_idp_component::{ApiError, Session, use_session};
use keyhouse_types::admin::{AdminClient, UpdateClientRequest};
use keyhouse_types::{ErrorCode, RefreshPolicy};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::api;
use super::form::{AppFields, AppFormFields, Field};
use super::gpt::GptPanel;
use super::sign_out::SignOutSettings;
use super::widgets::{
    AdminDenied, AdminHeader, ConfirmActions, Credential, RequireAdmin, admin_message, format_date,
    note_signed_out, type_label,
};
use crate::pages::Spinner;
use crate::pages::auth::ErrorNote;

/// The app page.
#[component]
pub fn AppDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    view! {
        <RequireAdmin>
            {move || {
                let id = id.get();
                view! { <AppDetail id/> }
            }}
        </RequireAdmin>
    }
}

#[component]
fn AppDetail(id: String) -> impl IntoView {
    let session = use_session();
    let loaded = RwSignal::new(None::<Result<AdminClient, ApiError>>);
    let load_id = id.clone();
    Effect::new(move |_| {
        let id = load_id.clone();
        spawn_local(async move {
            let r = api::get_client(&id).await;
            if let Err(e) = &r {
                note_signed_out(session, e);
            }
            loaded.set(Some(r));
        })
    });
    view! {
        <div class="kh-admin">
            {move || match loaded.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(e)) if e.status() == 403 => view! { <AdminDenied/> }.into_any(),
                Some(Err(e)) if e.status() == 404 => view! {
                    <section class="kh-card kh-narrow" role="alert" data-testid="app-not-found">
                        <h1>"App not found"</h1>
                        <p class="kh-muted">{format!("There is no app with the client ID {id}. It may have been deleted.")}</p>
                        <div class="kh-actions kh-actions--start">
                            <A href="/admin" attr:class="kh-button kh-button--secondary">"Back to all apps"</A>
                        </div>
                    </section>
                }.into_any(),
                Some(Err(e)) => view! {
                    <p class="kh-alert" role="alert" data-testid="app-load-error">{admin_message(&e)}</p>
                }.into_any(),
                Some(Ok(c)) => view! { <AppEditor initial=c/> }.into_any(),
            }}
        </div>
    }
}

fn ttl_words(seconds: i64) -> String {
    match seconds {
        s if s % 3600 == 0 => {
            let h = s / 3600;
            format!("{h} {}", if h == 1 { "hour" } else { "hours" })
        }
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

fn refresh_words(policy: RefreshPolicy) -> &'static str {
    match policy {
        RefreshPolicy::Always => "Always issued",
        RefreshPolicy::OfflineAccess => "Only when the app asks for offline_access",
    }
}

#[component]
fn AppEditor(initial: AdminClient) -> impl IntoView {
    let client = RwSignal::new(initial.clone());
    let id = StoredValue::new(initial.client_id.clone());
    // An agent's metadata document describes it: nothing to edit, no secret.
    let described = is_agent(&initial);
    let confidential = !initial.client_type.is_public() && !described;
    // The secret shown once after starting a rotation (also in the GPT panel).
    let new_secret = RwSignal::new(None::<String>);
    let on_added = Callback::new(move |c: AdminClient| client.set(c));
    view! {
        <AdminHeader title=Signal::derive(move || client.with(|c| c.name.clone()))
            intro=if described {
                "An agent that describes itself in its metadata document: see what it says, and block it if you must."
            } else {
                "Change what users see, where they may be sent back, and the app's secret."
            }/>
        <Overview client/>
        {if described {
            view! { <Described client=initial.clone()/> }.into_any()
        } else {
            view! { <Settings client/> <SignOutSettings client/> }.into_any()
        }}
        {confidential.then(|| view! {
            <SecretRotation client new_secret/>
            <GptPanel client_id=id.get_value() secret=new_secret on_added/>
        })}
        <DangerZone client/>
    }
}

#[component]
fn Overview(client: RwSignal<AdminClient>) -> impl IntoView {
    let c = client.get_untracked();
    let id = Signal::stored(c.client_id.clone());
    view! {
        <section class="kh-card" aria-labelledby="app-overview-title">
            <div class="kh-page-head">
                <h2 id="app-overview-title" class="kh-section-title">"Overview"</h2>
                <A href="/admin" attr:class="kh-back" attr:data-testid="admin-back">"← All apps"</A>
            </div>
            <dl class="kh-credentials">
                <Credential name="Client ID" value=id testid="app-client-id"
                    copy_testid="copy-client-id" copy_label="Copy the client ID"/>
            </dl>
            <dl class="kh-details">
                <dt>"Type"</dt>
                <dd data-testid="app-type-label">{move || type_label(client.with(|c| c.client_type))}</dd>
                <dt>"Created"</dt>
                <dd data-testid="app-created-at">{format_date(c.created_at)}</dd>
                <dt>"Access tokens"</dt>
                <dd>{format!("Valid for {}", ttl_words(c.access_token_ttl))}</dd>
                <dt>"Refresh tokens"</dt>
                <dd>{refresh_words(c.refresh_policy)}</dd>
                {c.audience.clone().map(|a| view! {
                    <dt>"Token audience"</dt>
                    <dd><code data-testid="app-audience">{a}</code></dd>
                })}
                {c.claims_template.clone().map(|t| view! {
                    <dt>"Extra claims"</dt>
                    <dd><code class="kh-break" data-testid="app-claims-template">{t}</code></dd>
                })}
            </dl>
        </section>
    }
}

/// What an agent's metadata document says about it, read-only.
#[component]
fn Described(client: AdminClient) -> impl IntoView {
    let domain = client.verified_domain.clone().unwrap_or_default();
    view! {
        <section class="kh-card" aria-labelledby="described-title" data-testid="app-described">
            <h2 id="described-title" class="kh-section-title">"What the agent says about itself"</h2>
            <p class="kh-muted">
                "These come from the metadata document " <strong>{domain}</strong>
                " publishes at its client ID, read again as its caching headers allow. They are changed there, not here."
            </p>
            <dl class="kh-details">
                <dt>"Name"</dt>
                <dd>{client.name.clone()}</dd>
                <dt>"Home page"</dt>
                <dd class="kh-mono">{if client.description.is_empty() { "—".to_owned() } else { client.description.clone() }}</dd>
                <dt>"Redirect URIs"</dt>
                <dd>
                    <ul class="kh-plain-list kh-mono">
                        {client.redirect_uris.iter().map(|u| view! { <li>{u.clone()}</li> }).collect_view()}
                    </ul>
                </dd>
            </dl>
        </section>
    }
}

/// Shows the app's new redirect URIs in the form when they change
/// elsewhere (the GPT panel adds a callback URL).
fn follow_redirects(client: RwSignal<AdminClient>, fields: AppFields) {
    Effect::new(move |prev: Option<Vec<String>>| {
        let uris = client.with(|c| c.redirect_uris.clone());
        if prev.as_ref().is_some_and(|p| *p != uris) {
            fields.redirects.set(uris.join("\n"));
        }
        uris
    });
}

/// Saves the settings form as the app's new settings.
fn save_settings(
    session: Session,
    client: RwSignal<AdminClient>,
    fields: AppFields,
    pending: RwSignal<bool>,
) {
    if pending.get_untracked() {
        return;
    }
    let Some(valid) = fields.checked() else {
        return;
    };
    let current = client.get_untracked();
    let req = UpdateClientRequest {
        name: Some(valid.name),
        description: Some(valid.description),
        logo_uri: Some(valid.logo_uri.unwrap_or_default()),
        redirect_uris: Some(valid.redirect_uris),
        client_type: (valid.client_type != current.client_type).then_some(valid.client_type),
        ..UpdateClientRequest::default()
    };
    pending.set(true);
    fields.error.set(None);
    fields.saved.set(false);
    spawn_local(async move {
        match api::update_client(&current.client_id, &req).await {
            Ok(c) => {
                fields.fill(&c);
                client.set(c);
                fields.saved.set(true);
            }
            Err(e) => {
                note_signed_out(session, &e);
                let field = (e.error_code() == Some(ErrorCode::InvalidRedirectUri))
                    .then_some(Field::Redirects);
                fields.fail(field, admin_message(&e));
            }
        }
        pending.set(false);
    });
}

/// The app's name, description, logo, type and redirect URIs.
#[component]
fn Settings(
    /// The app (saving updates it).
    client: RwSignal<AdminClient>,
) -> impl IntoView {
    let session = use_session();
    let initial = client.get_untracked();
    let fields = AppFields::new(initial.client_type);
    fields.fill(&initial);
    follow_redirects(client, fields);
    let pending = RwSignal::new(false);
    let kind_locked = Some(initial.client_type.is_public());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save_settings(session, client, fields, pending);
    };
    view! {
        <section class="kh-card" aria-labelledby="app-settings-title">
            <h2 id="app-settings-title" class="kh-section-title">"Settings"</h2>
            <form class="kh-settings__form" on:submit=on_submit novalidate>
                <ErrorNote error=fields.error testid="app-form-error"/>
                <AppFormFields fields kind_locked/>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="app-save"
                        disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save changes" }}
                    </button>
                    <p class="kh-saved" role="status" aria-live="polite">
                        {move || fields.saved.get().then(|| view! {
                            <span data-testid="app-saved">"✓ Saved. New sign-ins use these settings."</span>
                        })}
                    </p>
                </div>
            </form>
        </section>
    }
}

/// What the last rotation step did (shown next to the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finished {
    Completed,
    Cancelled,
}

/// The secret rotation: the app, the secret just shown, whether a step is
/// running, its error and what the last step did.
#[derive(Clone, Copy)]
struct Rotation {
    session: Session,
    client: RwSignal<AdminClient>,
    /// The secret shown once after starting a rotation.
    new_secret: RwSignal<Option<String>>,
    pending: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    finished: RwSignal<Option<Finished>>,
}

impl Rotation {
    fn id(self) -> String {
        self.client.with_untracked(|c| c.client_id.clone())
    }

    /// After a 409 the page's idea of the rotation is stale: ask again.
    fn resync(self) {
        let id = self.id();
        spawn_local(async move {
            if let Ok(c) = api::get_client(&id).await {
                self.client.set(c);
            }
        });
    }

    fn fail(self, e: ApiError) {
        note_signed_out(self.session, &e);
        if e.status() == 409 {
            self.resync();
        }
        self.error.set(Some(admin_message(&e)));
    }

    /// Whether a step may start (none is running); it then runs alone.
    fn begin(self) -> bool {
        if self.pending.get_untracked() {
            return false;
        }
        self.pending.set(true);
        self.error.set(None);
        true
    }

    /// Runs a step's call; `done` takes its answer.
    fn run<T: 'static>(
        self,
        call: impl Future<Output = Result<T, ApiError>> + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        spawn_local(async move {
            match call.await {
                Ok(answer) => done(answer),
                Err(e) => self.fail(e),
            }
            self.pending.set(false);
        });
    }

    /// Starts a rotation: a new secret, shown this once.
    fn start(self) {
        if !self.begin() {
            return;
        }
        self.finished.set(None);
        let id = self.id();
        self.run(async move { api::start_rotation(&id).await }, move |r| {
            self.new_secret.set(Some(r.client_secret));
            self.client.update(|c| c.rotation_pending = true);
        });
    }

    /// Finishes the rotation: the old secret stops working.
    fn complete(self) {
        if !self.begin() {
            return;
        }
        let id = self.id();
        self.run(
            async move { api::complete_rotation(&id).await },
            move |updated| {
                self.client.set(updated);
                self.finished.set(Some(Finished::Completed));
            },
        );
    }

    /// Cancels the rotation: the new secret is discarded.
    fn cancel(self) {
        if !self.begin() {
            return;
        }
        let id = self.id();
        self.run(
            async move { api::cancel_rotation(&id).await },
            move |updated| {
                self.client.set(updated);
                self.new_secret.set(None);
                self.finished.set(Some(Finished::Cancelled));
            },
        );
    }
}

/// The client secret, rotated in two steps (start, then finish or cancel).
#[component]
fn SecretRotation(
    /// The app (the steps update it).
    client: RwSignal<AdminClient>,
    /// The secret shown once after starting a rotation (the GPT panel shows it too).
    new_secret: RwSignal<Option<String>>,
) -> impl IntoView {
    let rotation = Rotation {
        session: use_session(),
        client,
        new_secret,
        pending: RwSignal::new(false),
        error: RwSignal::new(None),
        finished: RwSignal::new(None),
    };
    let rotating = Memo::new(move |_| client.with(|c| c.rotation_pending));
    view! {
        <section class="kh-card" aria-labelledby="secret-title" data-testid="secret-section">
            <h2 id="secret-title" class="kh-section-title">"Client secret"</h2>
            <p class="kh-muted">
                "Rotate the secret without downtime: start a rotation to get a new secret, put it wherever the app keeps its secret, then finish the rotation to stop the old one."
            </p>
            <ErrorNote error=rotation.error testid="secret-error"/>
            <p class="kh-rotation-status" role="status" aria-live="polite" data-testid="secret-rotation-status"
                data-rotation=move || if rotating.get() { "pending" } else { "idle" }>
                {move || match (rotating.get(), rotation.finished.get()) {
                    (true, _) => "Rotation in progress: the old and the new secret both work.",
                    (false, Some(Finished::Completed)) => "Rotation finished: only the new secret works now.",
                    (false, Some(Finished::Cancelled)) => "Rotation cancelled: the new secret was discarded; the old one still works.",
                    (false, None) => "One secret is active.",
                }}
            </p>
            <NewSecret new_secret rotating/>
            {move || (rotating.get() && new_secret.with(Option::is_none)).then(|| view! {
                <p class="kh-note-callout">
                    "The new secret was shown when this rotation started. If nobody saved it, cancel the rotation and start a new one."
                </p>
            })}
            <RotationActions rotation rotating/>
        </section>
    }
}

/// The secret a rotation just made, with the warning to copy it now.
#[component]
fn NewSecret(
    /// The secret, once a rotation started.
    new_secret: RwSignal<Option<String>>,
    /// A rotation is in progress (the old secret still works).
    rotating: Memo<bool>,
) -> impl IntoView {
    move || {
        new_secret.get().map(|s| {
            view! {
                <dl class="kh-credentials">
                    <Credential name="New secret" value=Signal::stored(s) testid="secret-new" secret=true
                        copy_testid="copy-secret-new" copy_label="Copy the new client secret"/>
                </dl>
                <p class="kh-warning" role="note">
                    <strong>"Copy it now: it won't be shown again."</strong>
                    {move || if rotating.get() {
                        " Until you finish the rotation, the old secret keeps working too."
                    } else {
                        " It is now the app's only secret."
                    }}
                </p>
            }
        })
    }
}

/// The rotation's buttons: start one, or finish or cancel the one in progress.
#[component]
fn RotationActions(
    /// The rotation.
    rotation: Rotation,
    /// A rotation is in progress.
    rotating: Memo<bool>,
) -> impl IntoView {
    let pending = rotation.pending;
    view! {
        <div class="kh-actions kh-actions--start">
            {move || if rotating.get() {
                view! {
                    <button type="button" class="kh-button kh-button--primary" data-testid="secret-rotate-complete"
                        disabled=move || pending.get() on:click=move |_| rotation.complete()>
                        "Finish: stop the old secret"
                    </button>
                    <button type="button" class="kh-button kh-button--secondary" data-testid="secret-rotate-cancel"
                        disabled=move || pending.get() on:click=move |_| rotation.cancel()>
                        "Cancel: discard the new secret"
                    </button>
                }.into_any()
            } else {
                view! {
                    <button type="button" class="kh-button kh-button--secondary" data-testid="secret-rotate-start"
                        disabled=move || pending.get() on:click=move |_| rotation.start()>
                        "Start a rotation"
                    </button>
                }.into_any()
            }}
        </div>
    }
}

/// An agent identified by its metadata document: it would come back on its
/// next authorization, so it is blocked instead of deleted.
fn is_agent(c: &AdminClient) -> bool {
    c.origin == "cimd"
}

/// Deleting the app (blocking it, for an agent), confirmed first.
#[component]
fn DangerZone(
    /// The app.
    client: RwSignal<AdminClient>,
) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let confirming = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let agent = move || client.with(is_agent);
    let delete = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let id = client.with_untracked(|c| c.client_id.clone());
        let block = client.with_untracked(is_agent);
        let navigate = navigate.clone();
        spawn_local(async move {
            let done = if block {
                api::block_client(&id).await
            } else {
                api::delete_client(&id).await
            };
            match done {
                Ok(()) => navigate("/admin", Default::default()),
                Err(e) => {
                    note_signed_out(session, &e);
                    error.set(Some(admin_message(&e)));
                    pending.set(false);
                }
            }
        });
    };
    view! {
        <section class="kh-card kh-danger" aria-labelledby="danger-title">
            <h2 id="danger-title" class="kh-section-title">
                {move || if agent() { "Block this agent" } else { "Delete the app" }}
            </h2>
            <p class="kh-muted">
                "Every token issued to it stops working at once, and users' grants to it are removed."
                {move || agent().then_some(" Its metadata document is refused from then on; you can unblock it on the Connected Apps page.")}
            </p>
            <ErrorNote error testid="app-delete-error"/>
            {move || if confirming.get() {
                view! { <DeleteConfirm client pending confirming on_confirm=delete.clone()/> }.into_any()
            } else {
                view! {
                    <div class="kh-actions kh-actions--start">
                        <button type="button" class="kh-button kh-button--ghost kh-button--outline" data-testid="app-delete"
                            on:click=move |_| confirming.set(true)>
                            {move || if agent() { "Block agent…" } else { "Delete app…" }}
                        </button>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// "Delete it for good?" (or "Block it?"), with the buttons doing it or not.
#[component]
fn DeleteConfirm(
    /// The app.
    client: RwSignal<AdminClient>,
    /// The deletion is running.
    pending: RwSignal<bool>,
    /// Whether the confirmation is shown ("Keep it" clears it).
    confirming: RwSignal<bool>,
    /// Deletes (or blocks) the app.
    on_confirm: impl FnMut(leptos::ev::MouseEvent) + 'static,
) -> impl IntoView {
    let name = move || client.with(|c| c.name.clone());
    let agent = move || client.with(is_agent);
    view! {
        <div class="kh-confirm" role="group" aria-labelledby="delete-confirm-text">
            <p id="delete-confirm-text">
                <strong>{move || if agent() {
                    format!("Block “{}”?", name())
                } else {
                    format!("Delete “{}” for good?", name())
                }}</strong>
                {move || if agent() { " Its users will have to connect it again once it is unblocked." } else { " This can't be undone." }}
            </p>
            <ConfirmActions confirm_testid="app-delete-confirm" cancel_testid="app-delete-cancel"
                pending confirming on_confirm
                label=move || match (pending.get(), agent()) {
                    (true, true) => "Blocking…",
                    (true, false) => "Deleting…",
                    (false, true) => "Yes, block it",
                    (false, false) => "Yes, delete it",
                }/>
        </div>
    }
}
