//! Keyhouse Notes: the example Leptos application. It embeds the
//! `IdentityProvider` component at `/idp` and has a small notes feature, so
//! an agent connected through OAuth has something real to act on.
//!
//! The browser build (Trunk, `Trunk.toml`) is client-side rendered; the
//! `ssr` feature holds the server half (the notes table and the server
//! functions' context), which the `keyhouse` server binary mounts.
#![warn(missing_docs)]
// The settings page is one large view tree; its type nests deeper than the default.
#![recursion_limit = "256"]

pub mod error;
pub mod notes;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub use pages::first_paint;
pub use pages::{AdminApp, App, FIRST_PAINT_ID, IdpApp, OrgApp, OrgIdpApp, remove_first_paint};

/// The app's name, as users see it.
pub const APP_NAME: &str = "Keyhouse Notes";
