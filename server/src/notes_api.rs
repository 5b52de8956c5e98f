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
use keyhouse_app::error::AppError;
use keyhouse_app::notes::{NewNote, Note};
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
    let body = ErrorBody::new(error, Some(description));
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

/// What a notes request needs of its caller: whose notes, and whether an
/// action is allowed. Users act on their own notes (a token needs the
/// scope); members on their organization's (role and scope).
pub(crate) trait NotesCaller {
    fn owner(&self) -> Owner<'_>;
    fn allow(&self, action: Action) -> Result<(), BearerError>;
    fn client_id(&self) -> Option<&str>;
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    Read,
    Create,
    Delete,
}

impl NotesCaller for Caller {
    fn owner(&self) -> Owner<'_> {
        Owner::User(self.user_id())
    }

    fn allow(&self, action: Action) -> Result<(), BearerError> {
        self.require_scope(match action {
            Action::Read => NOTES_READ,
            Action::Create | Action::Delete => NOTES_WRITE,
        })
    }

    fn client_id(&self) -> Option<&str> {
        Caller::client_id(self)
    }
}

impl NotesCaller for MemberCaller {
    fn owner(&self) -> Owner<'_> {
        Owner::Organization {
            id: self.organization_id(),
            member_id: self.member_id(),
        }
    }

    fn allow(&self, action: Action) -> Result<(), BearerError> {
        let action = match action {
            Action::Read => "read",
            Action::Create => "create",
            Action::Delete => "delete",
        };
        self.require("notes", action)
    }

    fn client_id(&self) -> Option<&str> {
        MemberCaller::client_id(self)
    }
}

async fn list_for(
    st: &NotesState,
    caller: &impl NotesCaller,
) -> Result<Json<Vec<Note>>, NotesError> {
    caller.allow(Action::Read)?;
    Ok(Json(st.notes.list(caller.owner()).await?))
}

async fn create_for(
    st: &NotesState,
    caller: &impl NotesCaller,
    body: Result<Json<NewNote>, JsonRejection>,
) -> Result<(StatusCode, Json<Note>), NotesError> {
    caller.allow(Action::Create)?;
    let Json(new) = body.map_err(|e| NotesError::Body(e.body_text()))?;
    let note = st.notes.create(caller.owner(), new.validated()?).await?;
    tracing::info!(owner = ?caller.owner(), client_id = ?caller.client_id(), note_id = %note.id, "note created");
    Ok((StatusCode::CREATED, Json(note)))
}

async fn read_for(
    st: &NotesState,
    caller: &impl NotesCaller,
    id: &str,
) -> Result<Json<Note>, NotesError> {
    caller.allow(Action::Read)?;
    match st.notes.get(caller.owner(), id).await? {
        Some(n) => Ok(Json(n)),
        None => Err(AppError::NotFound.into()),
    }
}

async fn remove_for(
    st: &NotesState,
    caller: &impl NotesCaller,
    id: &str,
) -> Result<StatusCode, NotesError> {
    caller.allow(Action::Delete)?;
    if st.notes.delete(caller.owner(), id).await? {
        tracing::info!(owner = ?caller.owner(), client_id = ?caller.client_id(), note_id = %id, "note deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound.into())
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
    list_for(&st, &caller).await
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
    create_for(&st, &caller, body).await
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
    read_for(&st, &caller, &id).await
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
    remove_for(&st, &caller, &id).await
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
    list_for(&st, &caller).await
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
    create_for(&st, &caller, body).await
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
    read_for(&st, &caller, &id).await
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
    remove_for(&st, &caller, &id).await
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
    let api = format!("{}/api", state.kh.config().issuer);
    let bound = state.kh.resource_layer(&api);
    let routes = Router::new()
        .route("/api/notes", get(list).post(create))
        .route("/api/notes/{id}", get(read).delete(remove))
        .route("/api/b2b/notes", get(org_list).post(org_create))
        .route("/api/b2b/notes/{id}", get(org_read).delete(org_remove));
    // Tokens for the API resource (or unbound ones) only; another
    // configuration without that resource keeps the default audience.
    let routes = match bound {
        Some(layer) => routes.route_layer(layer),
        None => routes,
    };
    routes.with_state(state).route(
        "/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc) }
        }),
    )
}
