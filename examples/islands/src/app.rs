//! The app's pages, rendered on the server only. Keyhouse adds two routes,
//! `/login` (its sign-in form) and `/idp` (the Authorization URL), each one
//! of the component's ready-made islands: the only parts of the app
//! compiled to WebAssembly.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
// keyhouse:start
use keyhouse_idp_component::islands::{EmailLinkIsland, IdentityProviderIsland, SignInIsland};
// keyhouse:end

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The routes. With `islands`, this and every other `#[component]` run on
/// the server only.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/islands.css"/>
        <Title text="Island Notes"/>
        <Router>
            <main>
                <Routes fallback=|| "Page not found.">
                    <Route path=path!("/") view=Home/>
                    // keyhouse:start
                    <Route path=path!("/login") view=|| view! { <SignInIsland app_name="Island Notes"/> }/>
                    <Route path=path!("/idp") view=|| view! { <IdentityProviderIsland app_name="Island Notes"/> }/>
                    <Route path=path!("/verify-email") view=|| view! { <EmailLinkIsland/> }/>
                    // keyhouse:end
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Home() -> impl IntoView {
    view! {
        <section class="kh-idp">
            <div class="kh-card">
                <h1>"Island Notes"</h1>
                <p>"Rendered on the server; only the sign-in form and the /idp page are islands."</p>
                <a href="/login">"Sign in"</a>
            </div>
        </section>
    }
}
