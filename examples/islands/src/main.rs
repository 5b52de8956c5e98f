//! The server: Leptos renders the pages (islands and all), Keyhouse serves
//! OAuth and the app's API accepts its tokens.

// The islands' view types are deep; rustc's default limit (128) is too low
// to lay them out.
#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
mod mcp;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use axum::{Json, Router, routing::get};
    use keyhouse_example_islands::app::{App, shell};
    use leptos::prelude::*;
    use leptos_axum::{LeptosRoutes, generate_route_list};

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let conf = get_configuration(None)?;
    let leptos_options = conf.leptos_options;
    let routes = generate_route_list(App);
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
    let api = Router::new()
        .route("/api/greeting", get(greeting))
        .with_state(kh.clone());
    // keyhouse:end
    let app = Router::new()
        .leptos_routes(&leptos_options, routes, {
            let leptos_options = leptos_options.clone();
            move || shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(leptos_options)
        // keyhouse:start
        .merge(kh.router())
        .merge(api)
        .merge(mcp::router(&kh).ok_or("the /mcp resource is not registered")?)
        .layer(kh.security_headers());
    // keyhouse:end
    keyhouse_axum::serve_from_env(app).await?;
    Ok(())
}

#[cfg(not(feature = "ssr"))]
fn main() {}
