//! Accounts: end users, their browser sessions, passwords and login
//! throttling, and their own list of connected apps.

pub(crate) mod connected_apps;
pub(crate) mod deletion;
pub(crate) mod devices;
pub(crate) mod email;
pub(crate) mod email_change;
pub(crate) mod end_session;
pub(crate) mod passkeys;
pub(crate) mod password;
pub(crate) mod reauth;
pub(crate) mod reset;
pub(crate) mod second_factor;
pub mod session;
pub mod subjects;
pub(crate) mod throttle;
pub(crate) mod users;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::Keyhouse;

/// The session API (`/api/session/...`) and the account's connected apps.
/// An app that keeps its own users ([`Keyhouse::with_subjects`]) signs them
/// in itself: Keyhouse's sign-up, login and session routes are left out.
pub(crate) fn routes(kh: &Keyhouse) -> Router<Keyhouse> {
    let own = if kh.keeps_own_users() {
        Router::new()
    } else {
        Router::new()
            .route("/api/session", get(session::current))
            .route("/api/session/signup", post(users::signup))
            .route("/api/session/login", post(users::login))
            .route("/api/session/logout", post(session::logout))
            .route("/api/session/password-reset", post(reset::request_reset))
            .route(
                "/api/session/password-reset/confirm",
                post(reset::confirm_reset),
            )
            .route("/api/account/password", post(reset::change_password))
            .route("/api/session/email-login", post(email::email_login))
            .route("/api/session/email/code", post(email::email_code))
            .route("/api/session/email/link", post(email::email_link))
            .route(
                "/api/account/email/verify",
                post(email::request_verification),
            )
            .route("/api/account/email", post(email_change::request_change))
            .route(
                "/api/account/email/confirm",
                post(email_change::confirm_change),
            )
            .route("/api/account/sessions", get(devices::list))
            .route("/api/account/sessions/{id}", delete(devices::end_one))
            .route(
                "/api/account/sessions/sign-out-others",
                post(devices::end_others),
            )
            .route("/api/account/delete", post(deletion::delete_account))
            .route("/api/session/second-factor", post(second_factor::verify))
            .route("/api/account/second-factor", get(second_factor::status))
            .route(
                "/api/account/second-factor/setup",
                post(second_factor::setup),
            )
            .route(
                "/api/account/second-factor/enable",
                post(second_factor::enable),
            )
            .route(
                "/api/account/second-factor/disable",
                post(second_factor::disable),
            )
            .route(
                "/api/account/second-factor/recovery-codes",
                post(second_factor::new_recovery_codes),
            )
            .route(
                "/api/account/passkeys",
                get(passkeys::list).post(passkeys::add),
            )
            .route(
                "/api/account/passkeys/options",
                post(passkeys::registration_options),
            )
            .route("/api/account/passkeys/{id}/remove", post(passkeys::remove))
            .route("/api/session/passkey", post(passkeys::sign_in))
            .route(
                "/api/session/passkey/options",
                post(passkeys::sign_in_options),
            )
    };
    own.route(
        "/api/account/connected-apps",
        get(connected_apps::connected_apps),
    )
    .route(
        "/api/session/end-session/check",
        post(end_session::check_request),
    )
    .route("/api/session/end-session", post(end_session::end))
    .route(
        "/api/account/connected-apps/{client_id}",
        delete(connected_apps::revoke_connected_app),
    )
}
