//! `/idp`: the Authorization URL.

use keyhouse_idp_component::IdentityProvider;
use leptos::prelude::*;

use crate::APP_NAME;

/// Mounts the `IdentityProvider` component.
#[component]
pub fn IdpPage() -> impl IntoView {
    view! { <IdentityProvider app_name=APP_NAME login_path="/login"/> }
}
