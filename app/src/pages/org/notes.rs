//! `/org`: the organization's shared notes. Every member sees them; the
//! member's roles decide who may add (`notes`/`create`) and delete
//! (`notes`/`delete`). The buttons follow the roles, the server decides.

use keyhouse_idp_component::{ApiError, MemberSession, use_member};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::{create_note, delete_note, list_notes, notes_message};
use super::{OrgTabs, RequireMember};
use crate::notes::{NewNote, Note};
use crate::pages::auth::ErrorNote;
use crate::pages::notes::{Draft, NoteForm, NoteList, NoteListView, NoteText, forget};

/// The organization's notes page.
#[component]
pub fn OrgNotesPage() -> impl IntoView {
    view! {
        <RequireMember>
            <OrgNotes/>
        </RequireMember>
    }
}

/// The organization's notes (once loaded), the note being written and the
/// one being deleted.
#[derive(Clone, Copy)]
struct SharedNotes {
    member: MemberSession,
    list: NoteList<String>,
    draft: Draft,
    /// The id of the note being deleted.
    deleting: RwSignal<Option<String>>,
}

impl SharedNotes {
    /// Starts loading the notes.
    fn load() -> SharedNotes {
        let notes = SharedNotes {
            member: use_member(),
            list: RwSignal::new(None),
            draft: Draft::new(),
            deleting: RwSignal::new(None),
        };
        Effect::new(move |_| {
            spawn_local(async move {
                let r = list_notes().await.map_err(|e| notes.handle(e));
                notes.list.set(Some(r));
            })
        });
        notes
    }

    /// A failed call in words; without a session, the page goes to the
    /// login page.
    fn handle(self, e: ApiError) -> String {
        super::after_refusal(self.member, &e);
        notes_message(&e)
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
        let t = title.get_untracked().trim().to_owned();
        if t.is_empty() {
            error.set(Some("Give the note a title.".into()));
            return;
        }
        pending.set(true);
        error.set(None);
        let note = NewNote {
            title: t,
            body: body.get_untracked(),
        };
        spawn_local(async move {
            match create_note(&note).await.map_err(|e| self.handle(e)) {
                Ok(created) => {
                    self.draft.clear();
                    self.list.update(|n| match n {
                        Some(Ok(list)) => list.insert(0, created),
                        _ => *n = Some(Ok(vec![created])),
                    });
                }
                Err(e) => error.set(Some(e)),
            }
            pending.set(false);
        });
    }

    /// Deletes a note (one already gone leaves the list too).
    fn remove(self, id: String) {
        self.deleting.set(Some(id.clone()));
        self.draft.error.set(None);
        spawn_local(async move {
            match delete_note(&id).await {
                Ok(()) => forget(self.list, &id),
                Err(e) if e.status() == 404 => forget(self.list, &id),
                Err(e) => self.draft.error.set(Some(self.handle(e))),
            }
            self.deleting.set(None);
        });
    }
}

/// The page: the organization, the form for a new note (if the member's
/// roles allow it), then the notes.
#[component]
fn OrgNotes() -> impl IntoView {
    let notes = SharedNotes::load();
    let member = notes.member;
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        notes.add();
    };
    let org_name = move || {
        member
            .member()
            .map(|m| m.organization.name)
            .unwrap_or_default()
    };
    view! {
        <div class="kh-notes">
            <section class="kh-card" aria-labelledby="org-notes-title">
                <p class="kh-eyebrow" data-testid="member-org-name">{org_name}</p>
                <h1 id="org-notes-title">"Shared notes"</h1>
                <p class="kh-muted">"Everyone in your organization sees these notes. Apps your organization allows can read them when a member connects one."</p>
                <OrgTabs/>
                <ErrorNote error=notes.draft.error testid="org-note-form-error"/>
                {move || if member.can("notes", "create") {
                    view! {
                        <NoteForm prefix="org-note" draft=notes.draft add_label="Add shared note" on_submit/>
                    }.into_any()
                } else {
                    view! {
                        <p class="kh-note-callout" data-testid="org-notes-read-only">"Your role can read the shared notes but not add to them."</p>
                    }.into_any()
                }}
            </section>
            <section aria-label="Shared notes" aria-live="polite">
                <NoteListView list=notes.list error_testid="org-notes-error" empty_testid="org-notes-empty"
                    empty_text="No shared notes yet. Add the first one above."
                    item=move |note| view! { <SharedNote note notes/> }/>
            </section>
        </div>
    }
}

/// One shared note, with a delete button when the member's roles allow it.
#[component]
fn SharedNote(
    /// The note.
    note: Note,
    /// The page's notes (deleting updates them).
    notes: SharedNotes,
) -> impl IntoView {
    let id = note.id.clone();
    let busy_id = note.id.clone();
    let label = format!("Delete “{}”", note.title);
    view! {
        <li class="kh-card kh-note" data-testid="org-note-item" data-note-id=note.id.clone()>
            <NoteText title=note.title body=note.body/>
            {move || notes.member.can("notes", "delete").then(|| {
                let id = id.clone();
                let busy_id = busy_id.clone();
                view! {
                    <button type="button" class="kh-button kh-button--ghost" data-testid="org-note-delete"
                        aria-label=label.clone()
                        disabled=move || notes.deleting.get().as_deref() == Some(busy_id.as_str())
                        on:click=move |_| notes.remove(id.clone())>
                        "Delete"
                    </button>
                }
            })}
        </li>
    }
}
