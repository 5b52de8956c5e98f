//! What can go wrong in the app's server functions, for both halves: the
//! browser shows it, the server (`crate::server`) answers with it.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

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
