//! A client-side rendered Leptos app (Trunk) that becomes an OAuth 2.1 /
//! OpenID Connect provider. The browser half is the app; the server half
//! serves it and mounts Keyhouse. Lines marked `keyhouse:` are what
//! Keyhouse added to a fresh Trunk app.

#[cfg(target_arch = "wasm32")]
fn main() {
    use leptos::prelude::*;
    use leptos_router::components::{Route, Router, Routes};
    use leptos_router::path;
    // keyhouse:start
    use keyhouse_idp_component::{
        EmailLink, EndSession, IdentityProvider, PasskeyLogin, PasswordLogin, SignIn,
    };

    /// A sign-in page of the app's own, built from Keyhouse's small
    /// components: the password form (it asks for the authenticator app's
    /// code itself when the account has one) and the passkey button (its
    /// passkeys also in the address field's suggestions).
    #[component]
    fn OwnSignIn() -> impl IntoView {
        let signed_in = RwSignal::new(false);
        // `kh-idp` gives the small components the frame's look.
        view! {
            <main class="kh-idp">
                <section class="kh-card" data-testid="own-sign-in" aria-labelledby="own-sign-in-title">
                    <h1 id="own-sign-in-title">"Sign in to Trunk Notes"</h1>
                    <Show when=move || signed_in.get() fallback=move || view! {
                        <PasswordLogin on_signed_in=move |_| signed_in.set(true)/>
                        <PasskeyLogin on_signed_in=move |_| signed_in.set(true) separated=true autofill=true/>
                    }>
                        <p role="status" data-testid="own-sign-in-done">"You're signed in. "<a href="/">"Go on"</a></p>
                    </Show>
                </section>
            </main>
        }
    }
    // keyhouse:end

    leptos::mount::mount_to_body(|| {
        view! {
            <Router>
                <Routes fallback=|| "Page not found.">
                    <Route path=path!("/") view=|| view! { <h1>"Trunk Notes"</h1><a href="/login">"Sign in"</a> }/>
                    // keyhouse:start
                    <Route path=path!("/login") view=|| view! { <SignIn app_name="Trunk Notes"/> }/>
                    <Route path=path!("/sign-in") view=OwnSignIn/>
                    <Route path=path!("/idp") view=|| view! { <IdentityProvider app_name="Trunk Notes"/> }/>
                    <Route path=path!("/verify-email") view=|| view! { <EmailLink/> }/>
                    <Route path=path!("/logout") view=|| view! { <EndSession/> }/>
                    // keyhouse:end
                </Routes>
            </Router>
        }
    });
}

#[cfg(not(target_arch = "wasm32"))]
mod mcp;

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use axum::{Json, Router, routing::get};
    use tower_http::services::{ServeDir, ServeFile};

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let dist = std::env::var("CSR_TRUNK_DIST")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/dist").to_owned());
    // keyhouse:start
    let kh = keyhouse_axum::Keyhouse::from_env(|c| {
        c.with_scope("greeting:read", "Greet you by name")
            .with_resource_at("/mcp", "Greeting MCP server", &["greeting:read"])
    })
    .await?;
    let k = kh.clone();
    let greeting = move |caller: keyhouse_axum::Caller| async move {
        caller.require_scope("greeting:read")?;
        let profile = k.profile_of(caller.user_id()).await.ok().flatten();
        let name = profile.map(|p| p.name).unwrap_or_default();
        Ok::<_, keyhouse_axum::error::BearerError>(Json(
            serde_json::json!({ "message": format!("Hello, {name}!") }),
        ))
    };
    let app = Router::new()
        .route("/api/greeting", get(greeting))
        .with_state(kh.clone())
        .merge(kh.router())
        .merge(mcp::router(&kh).ok_or("the /mcp resource is not registered")?)
        // keyhouse:end
        // The app's pages: its files (the build's compressed copies to a
        // browser that takes them), and index.html for every route.
        .fallback_service(
            ServeDir::new(&dist)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(ServeFile::new(format!("{dist}/index.html"))),
        )
        // keyhouse:start
        .layer(kh.security_headers());
    keyhouse_axum::serve_from_env(app).await?;
    // keyhouse:end
    Ok(())
}
