//! The OAuth 2.1 / OpenID Connect protocol for Keyhouse, with no I/O.
//!
//! Pure functions and small types decide; the edges (`keyhouse-store`,
//! `keyhouse-axum`) perform storage and HTTP. Time and randomness come in as
//! parameters so tests can freeze them.
#![warn(missing_docs)]

pub mod assurance;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod client_update;
pub mod clock;
pub mod consent;
pub mod error;
pub mod logout;
pub mod metadata_document;
pub mod pkce;
pub mod rbac;
pub mod redirect_uri;
pub mod resource;
pub use keyhouse_types::return_to;
pub mod scope;
pub mod secret;
pub mod token;
pub mod totp;

#[cfg(test)]
mod proptests;

pub use clock::{Clock, SystemClock};
pub use error::{ErrorCode, OAuthError};
pub use keyhouse_types::ClientType;
pub use scope::{ScopeCatalog, ScopeSet};
