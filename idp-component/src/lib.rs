//! `IdentityProvider` and `B2BIdentityProvider`: the Leptos components
//! mounted at the app's Authorization URL (`/idp`, `/org/idp`), plus the
//! session hooks (`use_session`, `use_member`) and the small API client a
//! host app needs around them (login, sign-up, discovery, settings pages).
//!
//! It depends only on the wire types of `keyhouse-types`; every decision is
//! the backend's (`keyhouse-axum`), so the component holds no secret and
//! trusts nothing from the URL beyond passing it on.
//!
//! # Features
//!
//! None is on by default: enable the one your app builds with, as for
//! Leptos itself.
//!
//! - `csr`: client-side rendering only (e.g. Trunk); turns on `leptos/csr`.
//! - `ssr`: the server half of an SSR app; turns on `leptos/ssr` and
//!   `leptos_router/ssr`. Rendering never touches `window`, `location` or
//!   the network: the providers render their first card ("Checking your
//!   session…") and the session hooks their `Loading` state. Given the
//!   authorize start's answer as context ([`keyhouse_types::AuthorizeStartInPage`],
//!   from the backend's `Keyhouse::authorize_start_in_page`), a provider
//!   renders the consent screen instead, its buttons disabled until the
//!   browser takes over; write the same answer into the page
//!   ([`AuthorizeStartInPage::to_html`](keyhouse_types::AuthorizeStartInPage::to_html))
//!   and the provider uses it in the browser instead of calling the API.
//! - `hydrate`: the browser half of an SSR app; turns on `leptos/hydrate`.
//!   The work (reading the request from the URL, calling the API, loading
//!   the session) starts in effects, so after hydration.
//! - `islands`: turns on `leptos/islands` and adds the `islands` module: the
//!   providers and `SignIn` as ready-made `#[island]`s, for an islands app
//!   (enable it with `ssr` on the server and `hydrate` in the browser).
//!
//! # Words
//!
//! Every fixed string can be replaced, English by default: [`IdpText`] for
//! the `/idp` page and the consent screen (the `text` prop, or
//! [`provide_idp_text`] for every provider below), [`ConsentManifest`] for
//! the consent screen's title, sections and buttons, and [`SignInText`] for
//! [`SignIn`].
#![warn(missing_docs)]

pub mod api;
pub mod consent;
mod email;
mod end_session;
mod identity_provider;
#[cfg(feature = "islands")]
pub mod islands;
pub mod params;
pub mod passkey;
mod second_factor;
pub mod session;
mod sign_in;
mod text;

pub use api::{ApiClient, ApiError, SignupOutcome};
pub use consent::{ConsentContext, ConsentItem, ConsentManifest, ConsentSection, default_manifest};
pub use email::{EmailLink, EmailText, MagicLink, MemberMagicLink, MemberOneTimeCode, OneTimeCode};
pub use end_session::{EndSession, EndSessionText, end_session_request};
pub use identity_provider::{B2BIdentityProvider, IdentityProvider};
pub use passkey::{
    MemberPasskeyLogin, PasskeyError, PasskeyIcon, PasskeyLogin, PasskeyText,
    accept_invitation_with_passkey, autofill_available, create_member_passkey, create_passkey,
    member_sign_in_with_passkey, passkeys_supported, sign_in_with_passkey,
};
pub use second_factor::{MemberTotpChallenge, SecondFactorText, TotpChallenge};
pub use session::{
    MemberSession, MemberStatus, Session, SessionStatus, Status, provide_member, provide_session,
    use_member, use_session,
};
pub use sign_in::{PasswordLogin, SignIn, SignInText};
pub use text::{IdpText, provide_idp_text};

/// The components' stylesheet (`style/keyhouse-idp.css` in this package):
/// the `kh-*` classes and the `--kh-*` custom properties a host app sets
/// to give them its look. Serve it as a file (`/keyhouse-idp.css`), link
/// it from Trunk (`<link data-trunk rel="css" href="…/keyhouse-idp.css">`),
/// or inline it with `<style>{STYLESHEET}</style>`.
pub const STYLESHEET: &str = include_str!("../style/keyhouse-idp.css");
