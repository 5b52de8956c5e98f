//! An axum app with its own users and login that becomes an OAuth 2.1 /
//! OpenID Connect provider: `app.rs` is the app as it was, `keyhouse.rs`
//! and the lines marked `keyhouse:` below are what it added. The browser
//! half (compiled to WebAssembly by Trunk) is the page at `/idp`.

// The page at /idp, in the browser.
#[cfg(target_arch = "wasm32")]
fn main() {
    // keyhouse:start
    use keyhouse_idp_component::IdentityProvider;
    use leptos::prelude::*;
    leptos::mount::mount_to_body(|| view! { <IdentityProvider app_name="Own Login"/> });
    // keyhouse:end
}

#[cfg(not(target_arch = "wasm32"))]
mod app;
#[cfg(not(target_arch = "wasm32"))]
mod keyhouse;
#[cfg(not(target_arch = "wasm32"))]
mod mcp;

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use tower_http::services::{ServeDir, ServeFile};
    use tower_sessions::{MemoryStore, SessionManagerLayer};

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // Trunk's output: the /idp page and the stylesheet.
    let dist = std::env::var("OWN_LOGIN_DIST")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/dist").to_owned());
    let users = app::Users::default();
    let sessions = SessionManagerLayer::new(MemoryStore::default())
        .with_secure(false)
        .with_same_site(tower_sessions::cookie::SameSite::Lax);
    // keyhouse:start
    let kh = keyhouse_axum::Keyhouse::from_env(|c| {
        c.with_scope("greeting:read", "Greet you by name")
            .with_resource_at("/mcp", "Greeting MCP server", &["greeting:read"])
    })
    .await?
    .with_subjects(users.clone());
    let k = kh.clone();
    let greeting = move |caller: keyhouse_axum::Caller| async move {
        caller.require_scope("greeting:read")?;
        let profile = k.profile_of(caller.user_id()).await.ok().flatten();
        let name = profile.map(|p| p.name).unwrap_or_default();
        Ok::<_, keyhouse_axum::error::BearerError>(Json(
            serde_json::json!({ "message": format!("Hello, {name}!") }),
        ))
    };
    // keyhouse:end
    let app = Router::new()
        .route("/", get(app::home))
        .route("/sign-in", get(app::sign_in_page).post(app::sign_in))
        .route("/sign-up", get(app::sign_up_page).post(app::sign_up))
        .route("/sign-out", post(app::sign_out))
        .route_layer(axum::middleware::from_fn(app::same_origin_posts))
        .with_state(users)
        // keyhouse:start
        .route_service("/idp", ServeFile::new(format!("{dist}/index.html")))
        .route("/api/greeting", get(greeting))
        .with_state(kh.clone())
        .merge(kh.router())
        .merge(mcp::router(&kh).ok_or("the /mcp resource is not registered")?)
        .layer(kh.security_headers())
        // keyhouse:end
        .fallback_service(ServeDir::new(&dist).precompressed_br().precompressed_gzip())
        .layer(sessions);
    keyhouse_axum::serve_from_env(app).await?;
    Ok(())
}
