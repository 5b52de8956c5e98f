//! The app as it was before Keyhouse: its own user list (in memory, argon2
//! password hashes), its own session (`tower-sessions`), its own sign-up,
//! sign-in and sign-out pages, and a home page. Nothing here knows OAuth.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// The session key of the signed-in user.
pub const SESSION_KEY: &str = "user";

/// One of the app's users.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub updated_at: i64,
    password_hash: String,
}

/// What the app keeps in the session once someone signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedInUser {
    pub user_id: String,
    /// New at every sign-in.
    pub login_id: String,
    /// When they signed in (unix seconds).
    pub auth_time: i64,
}

/// The app's users, by email.
#[derive(Debug, Clone, Default)]
pub struct Users(Arc<RwLock<HashMap<String, User>>>);

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn hash(password: &str) -> Option<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).ok()?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|h| h.to_string())
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

impl Users {
    /// The user with this id.
    pub fn by_id(&self, id: &str) -> Option<User> {
        let users = self.0.read().ok()?;
        users.values().find(|u| u.id == id).cloned()
    }

    fn create(&self, email: &str, name: &str, password: &str) -> Result<User, &'static str> {
        let email = email.trim().to_lowercase();
        if !email.contains('@') || password.chars().count() < 12 {
            return Err("Enter an email address and a password of at least 12 characters.");
        }
        let password_hash = hash(password).ok_or("The password could not be stored.")?;
        let mut users = self
            .0
            .write()
            .map_err(|_| "The user list is unavailable.")?;
        if users.contains_key(&email) {
            return Err("An account with this email already exists.");
        }
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            email: email.clone(),
            name: name.trim().to_owned(),
            updated_at: now(),
            password_hash,
        };
        users.insert(email, user.clone());
        Ok(user)
    }

    fn check(&self, email: &str, password: &str) -> Option<User> {
        let user = self
            .0
            .read()
            .ok()?
            .get(&email.trim().to_lowercase())
            .cloned()?;
        verify(password, &user.password_hash).then_some(user)
    }
}

/// The signed-in user of a request (its session, when the session layer
/// gave it one), if any.
pub async fn signed_in(
    session: Option<&Session>,
) -> Result<Option<SignedInUser>, tower_sessions::session::Error> {
    match session {
        Some(s) => s.get::<SignedInUser>(SESSION_KEY).await,
        None => Ok(None),
    }
}

#[derive(Debug, Deserialize)]
pub struct ReturnTo {
    #[serde(rename = "returnTo")]
    return_to: Option<String>,
}

/// A path on this site only: never another origin (`//evil`, `/\evil`).
fn local_path(p: Option<&str>) -> &str {
    match p {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\") => p,
        _ => "/",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">
<title>{title} · Own Login</title><link rel="stylesheet" href="/keyhouse-idp.css"></head>
<body><main class="kh-idp">{body}</main></body></html>"#
    ))
}

fn form(kind: &str, return_to: &str, error: Option<&str>) -> Html<String> {
    let (title, action, other, other_label, name_field) = match kind {
        "up" => (
            "Create your account",
            "/sign-up",
            "/sign-in",
            "I have an account",
            r#"<label class="kh-field">Name<input name="name" autocomplete="name" required></label>"#,
        ),
        _ => ("Sign in", "/sign-in", "/sign-up", "Create an account", ""),
    };
    let error = error
        .map(|e| format!(r#"<p class="kh-alert" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let rt = escape(&form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>());
    page(
        title,
        &format!(
            r#"<section class="kh-card"><h1>{title}</h1>{error}
<form method="post" action="{action}?returnTo={rt}">{name_field}
<label class="kh-field">Email<input name="email" type="email" autocomplete="username" required></label>
<label class="kh-field">Password<input name="password" type="password" autocomplete="current-password" required></label>
<button class="kh-button kh-button--primary kh-button--block" type="submit">{title}</button></form>
<p class="kh-muted kh-sign-in__switch"><a href="{other}?returnTo={rt}">{other_label}</a></p></section>"#
        ),
    )
}

pub async fn sign_in_page(Query(q): Query<ReturnTo>) -> Html<String> {
    form("in", local_path(q.return_to.as_deref()), None)
}

pub async fn sign_up_page(Query(q): Query<ReturnTo>) -> Html<String> {
    form("up", local_path(q.return_to.as_deref()), None)
}

#[derive(Debug, Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
    #[serde(default)]
    name: String,
}

/// Starts a fresh session (a new id: no fixation) for `user`.
async fn start(session: &Session, user: &User, return_to: &str) -> Response {
    let login = SignedInUser {
        user_id: user.id.clone(),
        login_id: uuid::Uuid::new_v4().to_string(),
        auth_time: now(),
    };
    if session.cycle_id().await.is_err() || session.insert(SESSION_KEY, login).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable").into_response();
    }
    Redirect::to(return_to).into_response()
}

pub async fn sign_in(
    State(users): State<Users>,
    session: Session,
    Query(q): Query<ReturnTo>,
    Form(c): Form<Credentials>,
) -> Response {
    let return_to = local_path(q.return_to.as_deref()).to_owned();
    match users.check(&c.email, &c.password) {
        Some(user) => start(&session, &user, &return_to).await,
        None => {
            tracing::info!("sign-in refused");
            let page = form("in", &return_to, Some("Wrong email or password."));
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
    }
}

pub async fn sign_up(
    State(users): State<Users>,
    session: Session,
    Query(q): Query<ReturnTo>,
    Form(c): Form<Credentials>,
) -> Response {
    let return_to = local_path(q.return_to.as_deref()).to_owned();
    match users.create(&c.email, &c.name, &c.password) {
        Ok(user) => start(&session, &user, &return_to).await,
        Err(e) => (StatusCode::BAD_REQUEST, form("up", &return_to, Some(e))).into_response(),
    }
}

pub async fn sign_out(session: Session) -> Redirect {
    let _ = session.flush().await;
    Redirect::to("/")
}

pub async fn home(State(users): State<Users>, session: Session) -> Html<String> {
    let me = signed_in(Some(&session))
        .await
        .ok()
        .flatten()
        .and_then(|s| users.by_id(&s.user_id));
    let body = match me {
        Some(u) => format!(
            r#"<section class="kh-card"><h1>Hello, {}</h1><p data-testid="home-user">Signed in as {}.</p>
<form method="post" action="/sign-out"><button class="kh-button kh-button--secondary">Sign out</button></form></section>"#,
            escape(&u.name),
            escape(&u.email)
        ),
        None => r#"<section class="kh-card"><h1>Own Login</h1><p>An app with its own accounts.</p>
<div class="kh-actions"><a class="kh-button kh-button--primary" href="/sign-in">Sign in</a></div></section>"#
            .to_owned(),
    };
    page("Home", &body)
}

/// Form posts only from the app's own pages (no login CSRF): browsers say
/// where a request comes from in `Sec-Fetch-Site`, or at least `Origin`.
pub async fn same_origin_posts(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let h = req.headers();
    let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    let host = header("host").unwrap_or_default();
    let same = match (header("sec-fetch-site"), header("origin")) {
        (Some(site), _) => site == "same-origin" || site == "none",
        (None, Some(origin)) => origin.split_once("://").is_some_and(|(_, o)| o == host),
        (None, None) => true,
    };
    if req.method() == axum::http::Method::POST && !same {
        tracing::info!("cross-site form post refused");
        return (StatusCode::FORBIDDEN, "cross-site form post refused").into_response();
    }
    next.run(req).await
}
