//! `IdentityProvider` and `B2BIdentityProvider`: the Leptos components
//! mounted at the app's Authorization URL (`/idp`, `/org/idp`), plus the
//! session hooks (`use_session`, `use_member`) and the small API client a
//! host app needs around them (login, sign-up, discovery, settings pages).
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
mod sign_in;
mod text;

pub use api::{ApiClient, ApiError};
pub use consent::{ConsentContext, ConsentItem, ConsentManifest, ConsentSection, default_manifest};
pub use identity_provider::{B2BIdentityProvider, IdentityProvider};
pub use session::{
    MemberSession, MemberStatus, Session, SessionStatus, Status, provide_member, provide_session,
    use_member, use_session,
};
pub use sign_in::{SignIn, SignInText};
pub use text::{IdpText, provide_idp_text};
