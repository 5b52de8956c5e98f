//! The app's own data: a small notes feature, so an agent has something
//! real to act on. The browser pages use the server functions below; agents
//! use the REST API (`/api/notes`, in the server binary) with an access token.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Longest title accepted, in characters.
pub const TITLE_MAX: usize = 200;
/// Longest body accepted, in characters.
pub const BODY_MAX: usize = 10_000;

/// A note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Note {
    /// Opaque id.
    pub id: String,
    /// Title (1 to 200 characters).
    pub title: String,
    /// Body (up to 10,000 characters, may be empty).
    pub body: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

/// A note to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewNote {
    /// Title (1 to 200 characters).
    pub title: String,
    /// Body (up to 10,000 characters).
    #[serde(default)]
    pub body: String,
}

impl NewNote {
    /// Trims the title and checks both lengths.
    pub fn validated(self) -> Result<NewNote, AppError> {
        let title = self.title.trim().to_owned();
        if title.is_empty() {
            return Err(AppError::Invalid("Give the note a title.".into()));
        }
        if title.chars().count() > TITLE_MAX {
            return Err(AppError::Invalid(format!(
                "The title is longer than {TITLE_MAX} characters."
            )));
        }
        if self.body.chars().count() > BODY_MAX {
            return Err(AppError::Invalid(format!(
                "The note is longer than {BODY_MAX} characters."
            )));
        }
        Ok(NewNote {
            title,
            body: self.body,
        })
    }
}

/// What can go wrong in the app's server functions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// No session: the page sends the user to the login page.
    SignedOut,
    /// The input was refused; the message is for the user.
    Invalid(String),
    /// No such note (or not this user's).
    NotFound,
    /// The server could not answer (database down…); details are in its log.
    Unavailable,
    /// The call itself failed (network, encoding).
    Transport(String),
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::SignedOut => f.write_str("Your session has ended. Sign in again."),
            AppError::Invalid(m) => f.write_str(m),
            AppError::NotFound => f.write_str("That note no longer exists."),
            AppError::Unavailable => {
                f.write_str("The server could not save or load your notes. Try again shortly.")
            }
            AppError::Transport(_) => {
                f.write_str("Could not reach the server. Check your connection and try again.")
            }
        }
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

pub use fns::*;

// The server-function macro turns each argument into a field of a generated
// struct, which cannot carry a doc comment.
#[allow(missing_docs)]
mod fns {
    use super::{AppError, Note};
    use leptos::prelude::*;

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
        let note = super::NewNote { title, body }.validated()?;
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
}
