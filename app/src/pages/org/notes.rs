//! `/org`: the organization's shared notes. Every member sees them; the
//! member's roles decide who may add (`notes`/`create`) and delete
//! (`notes`/`delete`). The buttons follow the roles, the server decides.

use keyhouse_idp_component::{ApiError, use_member};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::{create_note, delete_note, list_notes, notes_message};
use super::{OrgTabs, RequireMember};
use crate::notes::{BODY_MAX, NewNote, Note, TITLE_MAX};
use crate::pages::auth::ErrorNote;

/// The organization's notes page.
#[component]
pub fn OrgNotesPage() -> impl IntoView {
    view! {
        <RequireMember>
            <OrgNotes/>
        </RequireMember>
    }
}

#[component]
fn OrgNotes() -> impl IntoView {
    let member = use_member();
    let notes = RwSignal::new(None::<Result<Vec<Note>, String>>);
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let form_error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let deleting = RwSignal::new(None::<String>);

    let handle = move |e: ApiError| {
        if e.status() == 401 {
            member.mark_signed_out();
        }
        notes_message(&e)
    };
    Effect::new(move |_| {
        spawn_local(async move {
            let r = list_notes().await.map_err(handle);
            notes.set(Some(r));
        })
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let t = title.get_untracked().trim().to_owned();
        if t.is_empty() {
            form_error.set(Some("Give the note a title.".into()));
            return;
        }
        pending.set(true);
        form_error.set(None);
        let note = NewNote {
            title: t,
            body: body.get_untracked(),
        };
        spawn_local(async move {
            match create_note(&note).await.map_err(handle) {
                Ok(created) => {
                    title.set(String::new());
                    body.set(String::new());
                    notes.update(|n| match n {
                        Some(Ok(list)) => list.insert(0, created),
                        _ => *n = Some(Ok(vec![created])),
                    });
                }
                Err(e) => form_error.set(Some(e)),
            }
            pending.set(false);
        });
    };
    let remove = move |id: String| {
        deleting.set(Some(id.clone()));
        form_error.set(None);
        spawn_local(async move {
            match delete_note(&id).await {
                Ok(()) => notes.update(|n| {
                    if let Some(Ok(list)) = n {
                        list.retain(|x| x.id != id);
                    }
                }),
                Err(e) if e.status() == 404 => notes.update(|n| {
                    if let Some(Ok(list)) = n {
                        list.retain(|x| x.id != id);
                    }
                }),
                Err(e) => form_error.set(Some(handle(e))),
            }
            deleting.set(None);
        });
    };

    let org_name = move || {
        member
            .member()
            .map(|m| m.organization.name)
            .unwrap_or_default()
    };
    let can_create = move || member.can("notes", "create");
    let can_delete = move || member.can("notes", "delete");

    view! {
        <div class="kh-notes">
            <section class="kh-card" aria-labelledby="org-notes-title">
                <p class="kh-eyebrow" data-testid="member-org-name">{org_name}</p>
                <h1 id="org-notes-title">"Shared notes"</h1>
                <p class="kh-muted">"Everyone in your organization sees these notes. Apps your organization allows can read them when a member connects one."</p>
                <OrgTabs/>
                <ErrorNote error=form_error testid="org-note-form-error"/>
                {move || if can_create() {
                    view! {
                        <form class="kh-note-form" on:submit=on_submit>
                            <div class="kh-field">
                                <label for="org-note-title">"Title"</label>
                                <input id="org-note-title" type="text" required maxlength=TITLE_MAX.to_string()
                                    data-testid="org-note-title" bind:value=title/>
                            </div>
                            <div class="kh-field">
                                <label for="org-note-body">"Note"</label>
                                <textarea id="org-note-body" rows="3" maxlength=BODY_MAX.to_string()
                                    data-testid="org-note-body" bind:value=body></textarea>
                            </div>
                            <button type="submit" class="kh-button kh-button--primary" data-testid="org-note-create"
                                disabled=move || pending.get()>
                                {move || if pending.get() { "Saving…" } else { "Add shared note" }}
                            </button>
                        </form>
                    }.into_any()
                } else {
                    view! {
                        <p class="kh-note-callout" data-testid="org-notes-read-only">"Your role can read the shared notes but not add to them."</p>
                    }.into_any()
                }}
            </section>
            <section aria-label="Shared notes" aria-live="polite">
                {move || match notes.get() {
                    None => view! { <p class="kh-muted" role="status">"Loading notes…"</p> }.into_any(),
                    Some(Err(e)) => view! {
                        <p class="kh-alert" role="alert" data-testid="org-notes-error">{e}</p>
                    }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! {
                        <p class="kh-empty" data-testid="org-notes-empty">"No shared notes yet. Add the first one above."</p>
                    }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul class="kh-note-list">
                            {list.into_iter().map(|n| {
                                let id = n.id.clone();
                                let busy_id = n.id.clone();
                                let label = format!("Delete “{}”", n.title);
                                view! {
                                    <li class="kh-card kh-note" data-testid="org-note-item" data-note-id=n.id.clone()>
                                        <div class="kh-note__text">
                                            <h2 class="kh-note__title">{n.title}</h2>
                                            {(!n.body.is_empty()).then(|| view! { <p class="kh-note__body">{n.body}</p> })}
                                        </div>
                                        {move || can_delete().then(|| {
                                            let id = id.clone();
                                            let busy_id = busy_id.clone();
                                            view! {
                                                <button type="button" class="kh-button kh-button--ghost" data-testid="org-note-delete"
                                                    aria-label=label.clone()
                                                    disabled=move || deleting.get().as_deref() == Some(busy_id.as_str())
                                                    on:click=move |_| remove(id.clone())>
                                                    "Delete"
                                                </button>
                                            }
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
            </section>
        </div>
    }
}
