//! `IdentityProvider`: the Leptos component mounted at the app's
//! Authorization URL (`/idp`), plus the session hooks and the small API
//! client a host app needs around it (login and sign-up pages).
//!
//! It depends only on the wire types of `keyhouse-types`; every decision is
//! the backend's (`keyhouse-axum`), so the component holds no secret and
//! trusts nothing from the URL beyond passing it on.
#![warn(missing_docs)]

pub mod api;
pub mod consent;
mod identity_provider;
pub mod params;
pub mod session;

pub use api::{ApiClient, ApiError};
pub use consent::{ConsentContext, ConsentItem, ConsentManifest, ConsentSection, default_manifest};
pub use identity_provider::IdentityProvider;
pub use session::{Session, SessionStatus, provide_session, use_session};
