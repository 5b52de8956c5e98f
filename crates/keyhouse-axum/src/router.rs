//! [`Keyhouse::router`]: every route, composed from each concern's own
//! `routes()`, with the layers that apply to all of them.

use axum::Router;
use axum::extract::DefaultBodyLimit;

use crate::BODY_LIMIT;
use crate::Keyhouse;
use crate::accounts;
use crate::admin;
use crate::agents;
use crate::b2b;
use crate::http;
use crate::oauth;

impl Keyhouse {
    /// Every Keyhouse route: discovery, JWKS, the OAuth endpoints, the
    /// session API and the authorize API the `/idp` component calls.
    ///
    /// The browser's routes (cookie-authenticated) sit behind the CSRF guard;
    /// the endpoints clients call with their own credentials do not.
    pub fn router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let browser = Router::new()
            .merge(accounts::routes(self))
            .merge(oauth::browser_routes())
            .merge(agents::browser_routes())
            .merge(b2b::routes())
            .merge(admin::routes())
            .route_layer(axum::middleware::from_fn_with_state(
                self.clone(),
                http::csrf::csrf_guard,
            ));
        browser
            .merge(oauth::routes())
            .merge(agents::registration_routes())
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(self.security_headers())
            .with_state(self.clone())
    }
}
