//! The app's pages. Keyhouse adds its routes: `/login` (its sign-in form),
//! `/idp` (the Authorization URL), `/verify-email` (where mailed links lead)
//! and `/logout` (where apps send the browser to sign out).

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;
// keyhouse:start
use keyhouse_idp_component::{EmailLink, EndSession, IdentityProvider, SignIn};
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
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/ssr_hydrate.css"/>
        <Title text="Hydrated Notes"/>
        <Router>
            <main>
                <Routes fallback=|| "Page not found.">
                    <Route path=path!("/") view=Home/>
                    // keyhouse:start
                    <Route path=path!("/login") view=|| view! { <SignIn app_name="Hydrated Notes"/> }/>
                    <Route path=path!("/idp") view=|| view! { <IdentityProvider app_name="Hydrated Notes"/> }/>
                    <Route path=path!("/verify-email") view=|| view! { <EmailLink/> }/>
                    <Route path=path!("/logout") view=|| view! { <EndSession/> }/>
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
                <h1>"Hydrated Notes"</h1>
                <p>"Rendered on the server, hydrated in the browser."</p>
                <A href="/login">"Sign in"</A>
            </div>
        </section>
    }
}
