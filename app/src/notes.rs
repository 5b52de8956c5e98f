//! The app's own data: a small notes feature, so an agent has something
//! real to act on. The browser pages use the server functions
//! (`crate::server_fns`); agents use the REST API (`/api/notes`, in the server
//! binary) with an access token. Both check new notes with [`NewNote::validated`].

use serde::{Deserialize, Serialize};

use crate::error::AppError;

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
