//! `/`: the signed-in user's notes (list, create, delete), through the
//! app's server functions.

use keyhouse_idp_component::use_session;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::RequireSession;
use super::auth::ErrorNote;
use crate::notes::{AppError, BODY_MAX, Note, TITLE_MAX, create_note, delete_note, list_notes};

/// The notes page.
#[component]
pub fn NotesPage() -> impl IntoView {
    view! {
        <RequireSession>
            <Notes/>
        </RequireSession>
    }
}

#[component]
fn Notes() -> impl IntoView {
    let session = use_session();
    let notes = RwSignal::new(None::<Result<Vec<Note>, AppError>>);
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let form_error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let handle = move |e: AppError| {
        if e == AppError::SignedOut {
            session.mark_signed_out();
        }
        e
    };
    let reload = move || {
        spawn_local(async move {
            let r = list_notes().await.map_err(handle);
            notes.set(Some(r));
        })
    };
    Effect::new(move |_| reload());

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        form_error.set(None);
        let (t, b) = (title.get_untracked(), body.get_untracked());
        spawn_local(async move {
            match create_note(t, b).await.map_err(handle) {
                Ok(note) => {
                    title.set(String::new());
                    body.set(String::new());
                    notes.update(|n| {
                        if let Some(Ok(list)) = n {
                            list.insert(0, note);
                        }
                    });
                }
                Err(e) => form_error.set(Some(e.to_string())),
            }
            pending.set(false);
        });
    };
    let remove = move |id: String| {
        spawn_local(async move {
            match delete_note(id.clone()).await.map_err(handle) {
                Ok(()) | Err(AppError::NotFound) => notes.update(|n| {
                    if let Some(Ok(list)) = n {
                        list.retain(|x| x.id != id);
                    }
                }),
                Err(e) => form_error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <div class="kh-notes">
            <section class="kh-card" aria-labelledby="new-note-title">
                <h1 id="new-note-title">"Your notes"</h1>
                <p class="kh-muted">"Apps you connect can read these notes only if you allow it."</p>
                <form class="kh-note-form" on:submit=on_submit>
                    <ErrorNote error=form_error testid="notes-form-error"/>
                    <div class="kh-field">
                        <label for="note-title">"Title"</label>
                        <input id="note-title" type="text" required maxlength=TITLE_MAX.to_string()
                            data-testid="note-title" bind:value=title/>
                    </div>
                    <div class="kh-field">
                        <label for="note-body">"Note"</label>
                        <textarea id="note-body" rows="3" maxlength=BODY_MAX.to_string()
                            data-testid="note-body" bind:value=body></textarea>
                    </div>
                    <button type="submit" class="kh-button kh-button--primary" data-testid="note-create"
                        disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Add note" }}
                    </button>
                </form>
            </section>
            <section aria-label="Notes" aria-live="polite">
                {move || match notes.get() {
                    None => view! { <p class="kh-muted" role="status">"Loading notes…"</p> }.into_any(),
                    Some(Err(e)) => view! {
                        <p class="kh-alert" role="alert" data-testid="notes-error">{e.to_string()}</p>
                    }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! {
                        <p class="kh-empty" data-testid="notes-empty">"No notes yet. Add your first one above."</p>
                    }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul class="kh-note-list">
                            {list.into_iter().map(|n| {
                                let id = n.id.clone();
                                let label = format!("Delete “{}”", n.title);
                                view! {
                                    <li class="kh-card kh-note" data-testid="note-item">
                                        <div class="kh-note__text">
                                            <h2 class="kh-note__title">{n.title}</h2>
                                            {(!n.body.is_empty()).then(|| view! { <p class="kh-note__body">{n.body}</p> })}
                                        </div>
                                        <button type="button" class="kh-button kh-button--ghost" data-testid="note-delete"
                                            aria-label=label on:click=move |_| remove(id.clone())>
                                            "Delete"
                                        </button>
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
