//! The organization's shared notes (`/api/b2b/notes`), called with the
//! member session cookie. The browser adds `Sec-Fetch-Site: same-origin`
//! itself, which the server requires of cookie-authenticated writes.

use keyhouse_idp_component::{ApiClient, ApiError};
use keyhouse_types::ErrorCode;

use crate::notes::{NewNote, Note};
use crate::pages::encode_segment;

const NOTES: &str = "/api/b2b/notes";

/// `GET /api/b2b/notes`: every note of the member's organization.
pub async fn list_notes() -> Result<Vec<Note>, ApiError> {
    ApiClient::same_origin().get_json(NOTES).await
}

/// `POST /api/b2b/notes`: a new shared note (needs `notes`/`create`).
pub async fn create_note(note: &NewNote) -> Result<Note, ApiError> {
    ApiClient::same_origin().post_json(NOTES, note).await
}

/// `DELETE /api/b2b/notes/{id}` (needs `notes`/`delete`).
pub async fn delete_note(id: &str) -> Result<(), ApiError> {
    ApiClient::same_origin()
        .delete(&format!("{NOTES}/{}", encode_segment(id)))
        .await
}

/// A server description as a sentence: capitalised, with a full stop.
pub fn sentence(s: &str) -> String {
    crate::pages::auth::capitalise(s)
}

/// What to tell the member when a notes call fails.
pub fn notes_message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::SessionRequired | ErrorCode::InvalidToken) => {
            "Your session has ended. Sign in again.".into()
        }
        Some(ErrorCode::AccessDenied | ErrorCode::InsufficientScope) => {
            "Your role in this organization doesn't allow that.".into()
        }
        Some(ErrorCode::NotFound) => "That note no longer exists.".into(),
        Some(ErrorCode::InvalidRequest) => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Check the note and try again.".into()),
        None if e.is_network() => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}
