//! The app's server functions (`/api/app/notes/*`), which the notes page
//! calls. Both builds declare them: the browser build calls them over HTTP,
//! the `ssr` build runs their bodies against the store and the session
//! (`crate::server`).

// The server-function macro turns each argument into a field of a generated
// struct, which cannot carry a doc comment.
#![allow(missing_docs)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::notes::Note;

/// The signed-in user's notes, newest first.
#[server(prefix = "/api/app", endpoint = "notes/list")]
pub async fn list_notes() -> Result<Vec<Note>, AppError> {
    let (ctx, user_id) = crate::server::signed_in().await?;
    ctx.notes.list(crate::server::Owner::User(&user_id)).await
}

/// Creates a note for the signed-in user.
#[server(prefix = "/api/app", endpoint = "notes/create")]
pub async fn create_note(title: String, body: String) -> Result<Note, AppError> {
    let (ctx, user_id) = crate::server::signed_in().await?;
    let note = crate::notes::NewNote { title, body }.validated()?;
    ctx.notes
        .create(crate::server::Owner::User(&user_id), note)
        .await
}

/// Deletes one of the signed-in user's notes.
#[server(prefix = "/api/app", endpoint = "notes/delete")]
pub async fn delete_note(id: String) -> Result<(), AppError> {
    let (ctx, user_id) = crate::server::signed_in().await?;
    if ctx
        .notes
        .delete(crate::server::Owner::User(&user_id), &id)
        .await?
    {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
