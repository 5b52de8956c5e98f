//! The app's API for agents: `/api/notes`, and `/openapi.json` describing
//! it (the document a developer pastes into a custom GPT's Actions).
//!
//! Every handler takes a [`Caller`]: the app's own pages call with the
//! session cookie, agents with an access token whose scopes are enforced
//! (`notes:read`, `notes:write`).

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keyhouse_app::notes::{AppError, NewNote, Note};
use keyhouse_app::server::{NotesStore, Owner};
use keyhouse_axum::error::BearerError;
use keyhouse_axum::{Caller, Keyhouse, MemberCaller};
use keyhouse_types::ErrorBody;
use utoipa::openapi::security::{AuthorizationCode, Flow, OAuth2, Scopes, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};

/// Scope to read notes.
pub const NOTES_READ: &str = "notes:read";
/// Scope to create and delete notes.
pub const NOTES_WRITE: &str = "notes:write";

/// What the notes handlers need.
#[derive(Clone)]
pub struct NotesState {
    /// The identity provider (to verify sessions and tokens).
    pub kh: Keyhouse,
    /// The notes.
    pub notes: NotesStore,
}

impl FromRef<NotesState> for Keyhouse {
    fn from_ref(s: &NotesState) -> Keyhouse {
        s.kh.clone()
    }
}

/// A failure of the notes API: RFC 6750 for credentials, the same JSON
/// error shape for the rest.
#[derive(Debug)]
pub enum NotesError {
    /// Missing, invalid or under-scoped credentials.
    Bearer(BearerError),
    /// The request or the store failed.
    App(AppError),
    /// The JSON body could not be read.
    Body(String),
}

impl From<BearerError> for NotesError {
    fn from(e: BearerError) -> Self {
        NotesError::Bearer(e)
    }
}

impl From<AppError> for NotesError {
    fn from(e: AppError) -> Self {
        NotesError::App(e)
    }
}

fn json_error(status: StatusCode, error: &str, description: String) -> Response {
    let body = ErrorBody {
        error: error.to_owned(),
        error_description: Some(description),
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for NotesError {
    fn into_response(self) -> Response {
        match self {
            NotesError::Bearer(e) => e.into_response(),
            NotesError::Body(m) => {
                tracing::info!(error = %m, "notes api: bad body");
                json_error(StatusCode::BAD_REQUEST, "invalid_request", m)
            }
            NotesError::App(e) => {
                let (status, code) = match &e {
                    AppError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
                    AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                    AppError::SignedOut => (StatusCode::UNAUTHORIZED, "invalid_token"),
                    AppError::Unavailable | AppError::Transport(_) => {
                        (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
                    }
                };
                tracing::info!(error = ?e, "notes api");
                json_error(status, code, e.to_string())
            }
        }
    }
}

/// The signed-in user's notes, newest first.
#[utoipa::path(
    get, path = "/api/notes", tag = "notes", operation_id = "listNotes",
    security(("oauth2" = ["notes:read"])),
    responses(
        (status = 200, description = "The user's notes, newest first", body = Vec<Note>),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "The token lacks notes:read", body = ErrorBody),
    )
)]
async fn list(State(st): State<NotesState>, caller: Caller) -> Result<Json<Vec<Note>>, NotesError> {
    caller.require_scope(NOTES_READ)?;
    Ok(Json(st.notes.list(Owner::User(caller.user_id())).await?))
}

/// Creates a note.
#[utoipa::path(
    post, path = "/api/notes", tag = "notes", operation_id = "createNote",
    security(("oauth2" = ["notes:write"])),
    request_body = NewNote,
    responses(
        (status = 201, description = "The note was created", body = Note),
        (status = 400, description = "Empty or too long title, or body too long", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "The token lacks notes:write", body = ErrorBody),
    )
)]
async fn create(
    State(st): State<NotesState>,
    caller: Caller,
    body: Result<Json<NewNote>, JsonRejection>,
) -> Result<(StatusCode, Json<Note>), NotesError> {
    caller.require_scope(NOTES_WRITE)?;
    let Json(new) = body.map_err(|e| NotesError::Body(e.body_text()))?;
    let note = st
        .notes
        .create(Owner::User(caller.user_id()), new.validated()?)
        .await?;
    tracing::info!(user_id = caller.user_id(), client_id = ?caller.client_id(), note_id = %note.id, "note created");
    Ok((StatusCode::CREATED, Json(note)))
}

/// One note.
#[utoipa::path(
    get, path = "/api/notes/{id}", tag = "notes", operation_id = "getNote",
    security(("oauth2" = ["notes:read"])),
    params(("id" = String, Path, description = "The note id")),
    responses(
        (status = 200, description = "The note", body = Note),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "The token lacks notes:read", body = ErrorBody),
        (status = 404, description = "No such note for this user", body = ErrorBody),
    )
)]
async fn read(
    State(st): State<NotesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Note>, NotesError> {
    caller.require_scope(NOTES_READ)?;
    match st.notes.get(Owner::User(caller.user_id()), &id).await? {
        Some(n) => Ok(Json(n)),
        None => Err(AppError::NotFound.into()),
    }
}

/// Deletes a note.
#[utoipa::path(
    delete, path = "/api/notes/{id}", tag = "notes", operation_id = "deleteNote",
    security(("oauth2" = ["notes:write"])),
    params(("id" = String, Path, description = "The note id")),
    responses(
        (status = 204, description = "The note was deleted"),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "The token lacks notes:write", body = ErrorBody),
        (status = 404, description = "No such note for this user", body = ErrorBody),
    )
)]
async fn remove(
    State(st): State<NotesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, NotesError> {
    caller.require_scope(NOTES_WRITE)?;
    if st.notes.delete(Owner::User(caller.user_id()), &id).await? {
        tracing::info!(user_id = caller.user_id(), client_id = ?caller.client_id(), note_id = %id, "note deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound.into())
    }
}

fn in_org(caller: &MemberCaller) -> Owner<'_> {
    Owner::Organization {
        id: caller.organization_id(),
        member_id: caller.member_id(),
    }
}

/// The organization's notes, newest first (every member sees them).
#[utoipa::path(
    get, path = "/api/b2b/notes", tag = "organization notes", operation_id = "listOrganizationNotes",
    security(("oauth2" = ["notes:read"])),
    responses(
        (status = 200, description = "The organization's notes, newest first", body = Vec<Note>),
        (status = 401, description = "Missing, invalid, expired or revoked token, or not a member's token", body = ErrorBody),
        (status = 403, description = "The token or the member's role lacks notes:read", body = ErrorBody),
    )
)]
async fn org_list(
    State(st): State<NotesState>,
    caller: MemberCaller,
) -> Result<Json<Vec<Note>>, NotesError> {
    caller.require("notes", "read")?;
    Ok(Json(st.notes.list(in_org(&caller)).await?))
}

/// Creates a note in the organization.
#[utoipa::path(
    post, path = "/api/b2b/notes", tag = "organization notes", operation_id = "createOrganizationNote",
    security(("oauth2" = ["notes:write"])),
    request_body = NewNote,
    responses(
        (status = 201, description = "The note was created", body = Note),
        (status = 400, description = "Empty or too long title, or body too long", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "The token or the member's role lacks notes:write", body = ErrorBody),
    )
)]
async fn org_create(
    State(st): State<NotesState>,
    caller: MemberCaller,
    body: Result<Json<NewNote>, JsonRejection>,
) -> Result<(StatusCode, Json<Note>), NotesError> {
    caller.require("notes", "create")?;
    let Json(new) = body.map_err(|e| NotesError::Body(e.body_text()))?;
    let note = st.notes.create(in_org(&caller), new.validated()?).await?;
    tracing::info!(organization_id = caller.organization_id(), member_id = caller.member_id(), client_id = ?caller.client_id(), note_id = %note.id, "organization note created");
    Ok((StatusCode::CREATED, Json(note)))
}

/// One of the organization's notes.
#[utoipa::path(
    get, path = "/api/b2b/notes/{id}", tag = "organization notes", operation_id = "getOrganizationNote",
    security(("oauth2" = ["notes:read"])),
    params(("id" = String, Path, description = "The note id")),
    responses(
        (status = 200, description = "The note", body = Note),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "The token or the member's role lacks notes:read", body = ErrorBody),
        (status = 404, description = "No such note in this organization", body = ErrorBody),
    )
)]
async fn org_read(
    State(st): State<NotesState>,
    caller: MemberCaller,
    Path(id): Path<String>,
) -> Result<Json<Note>, NotesError> {
    caller.require("notes", "read")?;
    match st.notes.get(in_org(&caller), &id).await? {
        Some(n) => Ok(Json(n)),
        None => Err(AppError::NotFound.into()),
    }
}

/// Deletes one of the organization's notes (the default `member` role may
/// not; `admin` may).
#[utoipa::path(
    delete, path = "/api/b2b/notes/{id}", tag = "organization notes", operation_id = "deleteOrganizationNote",
    security(("oauth2" = ["notes:write"])),
    params(("id" = String, Path, description = "The note id")),
    responses(
        (status = 204, description = "The note was deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "The token or the member's role lacks notes:write", body = ErrorBody),
        (status = 404, description = "No such note in this organization", body = ErrorBody),
    )
)]
async fn org_remove(
    State(st): State<NotesState>,
    caller: MemberCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, NotesError> {
    caller.require("notes", "delete")?;
    if st.notes.delete(in_org(&caller), &id).await? {
        tracing::info!(organization_id = caller.organization_id(), member_id = caller.member_id(), client_id = ?caller.client_id(), note_id = %id, "organization note deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound.into())
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keyhouse Notes API",
        description = "Read and write the signed-in user's notes. Authorize with OAuth 2.0 \
                       (authorization code); the user approves each app and its scopes.",
        version = "1.0.0"
    ),
    paths(list, create, read, remove, org_list, org_create, org_read, org_remove),
    components(schemas(Note, NewNote, ErrorBody)),
    tags(
        (name = "notes", description = "The user's notes (authorize at /idp)"),
        (name = "organization notes", description = "An organization's shared notes (authorize at /org/idp)")
    )
)]
struct ApiDoc;

/// Adds the issuer's server URL and the oauth2 scheme (absolute URLs: a
/// GPT's Actions editor needs them).
struct Issuer<'a>(&'a Keyhouse);

impl Modify for Issuer<'_> {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let issuer = self.0.config().issuer.trim_end_matches('/');
        doc.servers = Some(vec![Server::new(issuer)]);
        let scopes = Scopes::from_iter(
            [
                "openid",
                "profile",
                "email",
                "offline_access",
                NOTES_READ,
                NOTES_WRITE,
            ]
            .into_iter()
            .filter_map(|s| {
                self.0
                    .config()
                    .scopes
                    .get(s)
                    .map(|d| (s.to_owned(), d.description.clone()))
            }),
        );
        let flow = AuthorizationCode::new(
            format!("{issuer}/idp"),
            format!("{issuer}/oauth2/token"),
            scopes,
        );
        let scheme = SecurityScheme::OAuth2(OAuth2::with_description(
            [Flow::AuthorizationCode(flow)],
            "Sign in with your Keyhouse Notes account and approve the app.",
        ));
        if let Some(c) = doc.components.as_mut() {
            c.add_security_scheme("oauth2", scheme);
        }
    }
}

/// The OpenAPI 3.1 document for this server's issuer.
pub fn openapi(kh: &Keyhouse) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    Issuer(kh).modify(&mut doc);
    doc
}

/// `/api/notes`, `/api/notes/{id}` and `/openapi.json`.
pub fn router<S>(state: NotesState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let doc = match serde_json::to_value(openapi(&state.kh)) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "openapi document");
            serde_json::Value::Null
        }
    };
    Router::new()
        .route("/api/notes", get(list).post(create))
        .route("/api/notes/{id}", get(read).delete(remove))
        .route("/api/b2b/notes", get(org_list).post(org_create))
        .route("/api/b2b/notes/{id}", get(org_read).delete(org_remove))
        .with_state(state)
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc) }
            }),
        )
}
