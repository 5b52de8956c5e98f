//! The protocol: OAuth 2.1 and OpenID Connect endpoints, the signing keys and
//! client authentication. Everything here is specified by an RFC or by OpenID
//! Connect; product features built on it live in `accounts`, `b2b`, `admin`
//! and `agents`.

pub(crate) mod authorize;
pub(crate) mod authorize_form;
pub mod backchannel;
pub(crate) mod client_assertion;
pub(crate) mod client_auth;
pub(crate) mod discovery;
pub(crate) mod introspection;
pub mod keys;
pub(crate) mod mint;
pub(crate) mod revocation;
pub(crate) mod token;
pub(crate) mod userinfo;

use axum::Router;
use axum::routing::{get, post};

use crate::Keyhouse;

/// The endpoints a client calls (token, userinfo, revocation, introspection),
/// the well-known documents and the health checks.
pub(crate) fn routes() -> Router<Keyhouse> {
    Router::new()
        .route("/oauth2/token", post(token::token))
        .route(
            "/oauth2/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/oauth2/revoke", post(revocation::revoke))
        .route("/oauth2/introspect", post(introspection::introspect))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/.well-known/oauth-protected-resource",
            get(discovery::protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/{*path}",
            get(discovery::protected_resource),
        )
        // RP-Initiated Logout: the request, by GET or form POST, on to the
        // app's sign-out page.
        .route(
            "/oauth2/logout",
            get(crate::accounts::end_session::endpoint_get)
                .post(crate::accounts::end_session::endpoint_post),
        )
        .route("/health/live", get(discovery::live))
        .route("/health/ready", get(discovery::ready))
}

/// The authorize API the `/idp` component calls from the browser, and the
/// form its consent screen submits without a script (behind the CSRF guard,
/// with the other browser routes).
pub(crate) fn browser_routes() -> Router<Keyhouse> {
    Router::new()
        .route("/api/idp/authorize/start", post(authorize::start))
        .route("/api/idp/authorize", post(authorize::decide))
        .route("/api/b2b/idp/authorize/start", post(authorize::start_b2b))
        .route("/api/b2b/idp/authorize", post(authorize::decide_b2b))
        .route("/api/idp/authorize/form", post(authorize_form::decide))
        .route(
            "/api/b2b/idp/authorize/form",
            post(authorize_form::decide_b2b),
        )
}
