//! Accounts: end users, their browser sessions, passwords and login
//! throttling, and their own list of connected apps.

pub(crate) mod connected_apps;
pub(crate) mod password;
pub mod session;
pub(crate) mod throttle;
pub(crate) mod users;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::Keyhouse;

/// The session API (`/api/session/...`) and the account's connected apps.
pub(crate) fn routes() -> Router<Keyhouse> {
    Router::new()
        .route("/api/session", get(session::current))
        .route("/api/session/signup", post(users::signup))
        .route("/api/session/login", post(users::login))
        .route("/api/session/logout", post(session::logout))
        .route(
            "/api/account/connected-apps",
            get(connected_apps::connected_apps),
        )
        .route(
            "/api/account/connected-apps/{client_id}",
            delete(connected_apps::revoke_connected_app),
        )
}
