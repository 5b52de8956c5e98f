//! `/org/idp`: the B2B Authorization URL.

use keyhouse_idp_component::B2BIdentityProvider;
use leptos::prelude::*;

use super::LOGIN_PATH;
use crate::APP_NAME;

/// Mounts the `B2BIdentityProvider` component.
#[component]
pub fn OrgIdpPage() -> impl IntoView {
    view! { <B2BIdentityProvider app_name=APP_NAME login_path=LOGIN_PATH/> }
}
