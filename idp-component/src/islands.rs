//! The components as ready-made islands, for a Leptos islands app (feature
//! `islands`, with `ssr` on the server and `hydrate` in the browser).
//!
//! In an islands app every `#[component]` renders on the server only; an
//! `#[island]` is hydrated in the browser, and its props travel from the
//! server as JSON, so they cannot hold callbacks. These islands take the
//! serializable props of the components they wrap; for a consent manifest,
//! an `on_login_required` callback or another API origin, write an island
//! of your own around the component instead.
//!
//! ```ignore
//! use keyhouse_idp_component::islands::{EmailLinkIsland, IdentityProviderIsland, SignInIsland};
//!
//! <Route path=path!("/login") view=|| view! { <SignInIsland app_name="Notes"/> }/>
//! <Route path=path!("/idp") view=|| view! { <IdentityProviderIsland app_name="Notes"/> }/>
//! ```
//!
//! The browser half hydrates them with `leptos::mount::hydrate_islands()`
//! and the shell loads it with `<HydrationScripts options islands=true/>`.
//!
//! Every island is exported to JavaScript, so all four ship in the
//! browser bundle whether the app uses them or not (the B2B provider adds
//! about 35 KB of WebAssembly, 11 KB gzipped). An app that wants only one
//! can wrap that component in an `#[island]` of its own instead.

// The island macro's generated props structs carry no documentation.
#![allow(missing_docs)]

use leptos::prelude::*;

use crate::identity_provider::{Props, Side, provider};
use crate::{EmailLink, EmailText, IdpText, SignIn, SignInText};

/// [`IdentityProvider`](crate::IdentityProvider) as an island: the Authorization URL of an islands
/// app.
#[island]
pub fn IdentityProviderIsland(
    /// The host app's name, in the headings (default "this app").
    #[prop(optional, into)]
    app_name: Option<String>,
    /// The host app's login page (default: the page the backend names, else
    /// `/login`).
    #[prop(optional, into)]
    login_path: Option<String>,
    /// Where the error page's "Go to …" link leads (default `/`).
    #[prop(optional, into)]
    home_path: Option<String>,
    /// Replaces the page's words; see [`IdpText`].
    #[prop(optional)]
    text: Option<IdpText>,
) -> impl IntoView {
    let props = Props {
        account_path: Some("/account".to_owned()),
        ..island_props(app_name, login_path, home_path, text)
    };
    provider(Side::Users, props)
}

/// [`B2BIdentityProvider`](crate::B2BIdentityProvider) as an island: the organizations' Authorization
/// URL of an islands app.
#[island]
pub fn B2BIdentityProviderIsland(
    /// The host app's name, in the headings (default "this app").
    #[prop(optional, into)]
    app_name: Option<String>,
    /// The host app's organization login page (default: the page the
    /// backend names, else `/org/login`).
    #[prop(optional, into)]
    login_path: Option<String>,
    /// Where the error page's "Go to …" link leads (default `/`).
    #[prop(optional, into)]
    home_path: Option<String>,
    /// Replaces the page's words; see [`IdpText`].
    #[prop(optional)]
    text: Option<IdpText>,
) -> impl IntoView {
    provider(
        Side::Members,
        island_props(app_name, login_path, home_path, text),
    )
}

/// [`SignIn`] as an island: the sign-in form of an islands app.
#[island]
pub fn SignInIsland(
    /// The host app's name, in the headings (default "this app").
    #[prop(optional, into)]
    app_name: Option<String>,
    /// Replaces the words; see [`SignInText`].
    #[prop(optional)]
    text: Option<SignInText>,
    /// Offer account creation (default `true`).
    #[prop(optional)]
    allow_sign_up: Option<bool>,
    /// Offer signing in with a mailed code (default `true`).
    #[prop(optional)]
    allow_email: Option<bool>,
) -> impl IntoView {
    view! {
        <SignIn
            app_name=app_name.unwrap_or_else(default_app_name)
            text=text.unwrap_or_default()
            allow_sign_up=allow_sign_up.unwrap_or(true)
            allow_email=allow_email.unwrap_or(true)
        />
    }
}

/// [`EmailLink`](crate::EmailLink) as an island: the page mailed sign-in,
/// sign-up and verification links open (`/verify-email` by default).
#[island]
pub fn EmailLinkIsland(
    /// Where to go when the link does not say (default `/`).
    #[prop(optional, into)]
    home_path: Option<String>,
    /// Replaces the words; see [`EmailText`].
    #[prop(optional)]
    text: Option<EmailText>,
) -> impl IntoView {
    view! {
        <EmailLink
            home_path=home_path.unwrap_or_else(|| "/".to_owned())
            text=text.unwrap_or_default()
        />
    }
}

/// The providers' props an island can carry (no callbacks, the page's own
/// origin for the API).
fn island_props(
    app_name: Option<String>,
    login_path: Option<String>,
    home_path: Option<String>,
    text: Option<IdpText>,
) -> Props {
    Props {
        consent_manifest: None,
        login_path,
        app_name: app_name.unwrap_or_else(default_app_name),
        api: None,
        on_login_required: None,
        home_path: home_path.unwrap_or_else(|| "/".to_owned()),
        account_path: None,
        text,
    }
}

/// The components' default `app_name`.
fn default_app_name() -> String {
    "this app".to_owned()
}
