//! `/`: the signed-in user's notes (list, create, delete), through the
//! app's server functions. The note form and list pieces here serve the
//! organization's shared notes too (`org/notes.rs`).

use keyhouse_idp_component::{Session, use_session};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::RequireSession;
use super::auth::ErrorNote;
use crate::error::AppError;
use crate::notes::{BODY_MAX, Note, TITLE_MAX};
use crate::server_fns::{create_note, delete_note, list_notes};

/// The notes page.
#[component]
pub fn NotesPage() -> impl IntoView {
    view! {
        <RequireSession>
            <Notes/>
        </RequireSession>
    }
}

/// A list of notes as loaded: `None` until the first answer.
pub(crate) type NoteList<E> = RwSignal<Option<Result<Vec<Note>, E>>>;

/// Takes a deleted note out of a loaded list.
pub(crate) fn forget<E: Send + Sync + 'static>(notes: NoteList<E>, id: &str) {
    notes.update(|n| {
        if let Some(Ok(list)) = n {
            list.retain(|x| x.id != id);
        }
    });
}

/// A note being written: its fields, the form's error, and whether it is
/// being saved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draft {
    /// The title typed.
    pub title: RwSignal<String>,
    /// The body typed.
    pub body: RwSignal<String>,
    /// Why the last save or delete failed.
    pub error: RwSignal<Option<String>>,
    /// The note is being saved.
    pub pending: RwSignal<bool>,
}

impl Draft {
    /// An empty form.
    pub(crate) fn new() -> Draft {
        Draft {
            title: RwSignal::new(String::new()),
            body: RwSignal::new(String::new()),
            error: RwSignal::new(None),
            pending: RwSignal::new(false),
        }
    }

    /// Empties the fields once the note is saved.
    pub(crate) fn clear(self) {
        self.title.set(String::new());
        self.body.set(String::new());
    }
}

/// The form adding a note: title, body and the button. Ids and test ids
/// are `{prefix}-title`, `{prefix}-body` and `{prefix}-create`.
#[component]
pub(crate) fn NoteForm(
    /// Starts the ids and test ids: `note`, `org-note`.
    prefix: &'static str,
    /// The note being written.
    draft: Draft,
    /// The button's words while nothing is being saved.
    add_label: &'static str,
    /// Saves the note.
    on_submit: impl FnMut(leptos::ev::SubmitEvent) + 'static,
    /// Shown first in the form (its error, on the personal page).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let Draft {
        title,
        body,
        pending,
        ..
    } = draft;
    view! {
        <form class="kh-note-form" on:submit=on_submit>
            {children.map(|c| c())}
            <div class="kh-field">
                <label for=format!("{prefix}-title")>"Title"</label>
                <input id=format!("{prefix}-title") type="text" required maxlength=TITLE_MAX.to_string()
                    data-testid=format!("{prefix}-title") bind:value=title/>
            </div>
            <div class="kh-field">
                <label for=format!("{prefix}-body")>"Note"</label>
                <textarea id=format!("{prefix}-body") rows="3" maxlength=BODY_MAX.to_string()
                    data-testid=format!("{prefix}-body") bind:value=body></textarea>
            </div>
            <button type="submit" class="kh-button kh-button--primary" data-testid=format!("{prefix}-create")
                disabled=move || pending.get()>
                {move || if pending.get() { "Saving…" } else { add_label }}
            </button>
        </form>
    }
}

/// The notes as loaded: a wait, an error, an invitation to write the
/// first one, or the list.
#[component]
pub(crate) fn NoteListView<E, V>(
    /// The notes.
    list: NoteList<E>,
    /// The error's `data-testid`.
    error_testid: &'static str,
    /// The invitation's `data-testid`.
    empty_testid: &'static str,
    /// The invitation.
    empty_text: &'static str,
    /// One note's list item.
    item: impl Fn(Note) -> V + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    E: std::fmt::Display + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    move || match list.get() {
        None => view! { <p class="kh-muted" role="status">"Loading notes…"</p> }.into_any(),
        Some(Err(e)) => view! {
            <p class="kh-alert" role="alert" data-testid=error_testid>{e.to_string()}</p>
        }
        .into_any(),
        Some(Ok(notes)) if notes.is_empty() => view! {
            <p class="kh-empty" data-testid=empty_testid>{empty_text}</p>
        }
        .into_any(),
        Some(Ok(notes)) => view! {
            <ul class="kh-note-list">{notes.into_iter().map(item).collect_view()}</ul>
        }
        .into_any(),
    }
}

/// A note's title, and its body when it has one.
#[component]
pub(crate) fn NoteText(
    /// The title.
    title: String,
    /// The body (may be empty).
    body: String,
) -> impl IntoView {
    view! {
        <div class="kh-note__text">
            <h2 class="kh-note__title">{title}</h2>
            {(!body.is_empty()).then(|| view! { <p class="kh-note__body">{body}</p> })}
        </div>
    }
}

/// The signed-in user's notes (once loaded) and the note being written.
#[derive(Clone, Copy)]
struct MyNotes {
    session: Session,
    list: NoteList<AppError>,
    draft: Draft,
}

impl MyNotes {
    /// Starts loading the notes.
    fn load() -> MyNotes {
        let notes = MyNotes {
            session: use_session(),
            list: RwSignal::new(None),
            draft: Draft::new(),
        };
        Effect::new(move |_| {
            spawn_local(async move {
                let r = list_notes().await.map_err(|e| notes.handle(e));
                notes.list.set(Some(r));
            })
        });
        notes
    }

    /// A failed call: without a session, the page goes to the login page.
    fn handle(self, e: AppError) -> AppError {
        if e == AppError::SignedOut {
            self.session.mark_signed_out();
        }
        e
    }

    /// Saves the draft; the new note comes first in the list.
    fn add(self) {
        let Draft {
            title,
            body,
            error,
            pending,
        } = self.draft;
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let (t, b) = (title.get_untracked(), body.get_untracked());
        spawn_local(async move {
            match create_note(t, b).await.map_err(|e| self.handle(e)) {
                Ok(note) => {
                    self.draft.clear();
                    self.list.update(|n| {
                        if let Some(Ok(list)) = n {
                            list.insert(0, note);
                        }
                    });
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            pending.set(false);
        });
    }

    /// Deletes a note (one already gone leaves the list too).
    fn remove(self, id: String) {
        spawn_local(async move {
            match delete_note(id.clone()).await.map_err(|e| self.handle(e)) {
                Ok(()) | Err(AppError::NotFound) => forget(self.list, &id),
                Err(e) => self.draft.error.set(Some(e.to_string())),
            }
        });
    }
}

/// The page: the form for a new note, then the notes.
#[component]
fn Notes() -> impl IntoView {
    let notes = MyNotes::load();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        notes.add();
    };
    view! {
        <div class="kh-notes">
            <section class="kh-card" aria-labelledby="new-note-title">
                <h1 id="new-note-title">"Your notes"</h1>
                <p class="kh-muted">"Apps you connect can read these notes only if you allow it."</p>
                <NoteForm prefix="note" draft=notes.draft add_label="Add note" on_submit>
                    <ErrorNote error=notes.draft.error testid="notes-form-error"/>
                </NoteForm>
            </section>
            <section aria-label="Notes" aria-live="polite">
                <NoteListView list=notes.list error_testid="notes-error" empty_testid="notes-empty"
                    empty_text="No notes yet. Add your first one above."
                    item=move |note| view! { <MyNote note notes/> }/>
            </section>
        </div>
    }
}

/// One note, with its delete button.
#[component]
fn MyNote(
    /// The note.
    note: Note,
    /// The page's notes (deleting updates them).
    notes: MyNotes,
) -> impl IntoView {
    let id = note.id.clone();
    let label = format!("Delete “{}”", note.title);
    view! {
        <li class="kh-card kh-note" data-testid="note-item">
            <NoteText title=note.title body=note.body/>
            <button type="button" class="kh-button kh-button--ghost" data-testid="note-delete"
                aria-label=label on:click=move |_| notes.remove(id.clone())>
                "Delete"
            </button>
        </li>
    }
}
