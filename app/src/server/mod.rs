//! The server side of the app (feature `ssr`): the notes table and the
//! context its server functions run in.

mod migration;
mod store;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use keyhouse_axum::Keyhouse;
use leptos::prelude::*;

pub use store::{NotesStore, Owner};

use crate::error::AppError;

/// What the app's server functions need: the identity provider (for the
/// session) and the notes store.
#[derive(Clone, Debug)]
pub struct AppContext {
    /// The Keyhouse instance the app is mounted with.
    pub kh: Keyhouse,
    /// The notes.
    pub notes: NotesStore,
}

/// The server-function routes (`/api/app/*`), behind the same-origin guard
/// (server functions are POSTs that act with the session cookie).
pub fn server_fn_router<S>(ctx: AppContext) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let kh = ctx.kh.clone();
    Router::new()
        .route(
            "/api/app/{*fn_name}",
            axum::routing::post(move |req: Request<Body>| {
                let ctx = ctx.clone();
                async move {
                    leptos_axum::handle_server_fns_with_context(
                        move || provide_context(ctx.clone()),
                        req,
                    )
                    .await
                    .into_response()
                }
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            kh,
            keyhouse_axum::csrf_guard,
        ))
}

/// The context and the signed-in user of the current server-function call.
pub(crate) async fn signed_in() -> Result<(AppContext, String), AppError> {
    let ctx = use_context::<AppContext>().ok_or_else(|| {
        tracing::error!("server function called without AppContext");
        AppError::Unavailable
    })?;
    let parts = use_context::<Parts>().ok_or(AppError::Unavailable)?;
    match ctx.kh.session(&parts.headers).await {
        Ok(Some(s)) => {
            let id = s.user.id.clone();
            Ok((ctx, id))
        }
        Ok(None) => Err(AppError::SignedOut),
        Err(e) => {
            tracing::warn!(error = %e, "session lookup failed");
            Err(AppError::Unavailable)
        }
    }
}
