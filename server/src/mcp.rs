//! The notes as an MCP server (`/mcp`, streamable HTTP, the `rmcp` crate),
//! behind Keyhouse: the resource `{issuer}/mcp` with its own metadata,
//! accepting only access tokens bound to it.
//!
//! Every request passes `Keyhouse::protect_mcp` first: a valid token for
//! this resource (401 with `resource_metadata` otherwise, which is how an
//! MCP client discovers the authorization server), and for `tools/call` the
//! scope of the tool (403 `insufficient_scope` otherwise, naming every scope
//! the client should ask for, so it can step up). [`caller`] then finds who
//! the token acts for, and the tools act for
//! the token's user on their notes, or for an organization member on the
//! organization's notes with the same role checks as the API.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyhouse_app::error::AppError;
use keyhouse_app::notes::NewNote;
use keyhouse_axum::error::BearerError;
use keyhouse_axum::{AccessToken, Caller, MemberCaller, TokenSubject};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, ServerHandler, tool, tool_handler, tool_router};
use serde::Deserialize;

use crate::notes_api::{Action, NOTES_READ, NOTES_WRITE, NotesCaller, NotesState};

/// Each tool and the scope it needs.
const TOOLS: &[(&str, &str)] = &[
    ("list_notes", NOTES_READ),
    ("read_note", NOTES_READ),
    ("create_note", NOTES_WRITE),
    ("delete_note", NOTES_WRITE),
];

/// Who the MCP request acts for, put in the request's extensions by
/// [`authorize`].
#[derive(Debug, Clone)]
enum McpCaller {
    User(Caller),
    Member(Box<MemberCaller>),
}

impl McpCaller {
    fn as_notes(&self) -> &(dyn NotesCaller + Sync) {
        match self {
            McpCaller::User(c) => c,
            McpCaller::Member(m) => m.as_ref(),
        }
    }
}

/// Who the request acts for, from the token `Keyhouse::protect_mcp` verified
/// (and whose tools' scopes it checked): a user, or a member of an
/// organization with their current roles.
async fn caller(State(st): State<NotesState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Some(token) = parts.extensions.get::<AccessToken>().cloned() else {
        return BearerError::missing().into_response();
    };
    let caller = match token.subject() {
        TokenSubject::User(_) => McpCaller::User(Caller::Token(Box::new(token.clone()))),
        TokenSubject::Member { .. } => {
            match MemberCaller::from_request_parts(&mut parts, &st).await {
                Ok(m) => McpCaller::Member(Box::new(m)),
                Err(e) => return e.into_response(),
            }
        }
        _ => {
            return BearerError::invalid("the MCP server acts for users and members only")
                .with_resource_metadata(token.resource_metadata.as_deref())
                .into_response();
        }
    };
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

/// `read_note` and `delete_note` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NoteId {
    /// The note's id, as `list_notes` gives it.
    pub id: String,
}

/// `create_note` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateNote {
    /// Title, 1 to 200 characters.
    pub title: String,
    /// Body, up to 10,000 characters.
    #[serde(default)]
    pub body: String,
}

/// The MCP server: the notes as tools.
#[derive(Clone)]
pub struct NotesMcp {
    st: NotesState,
    tool_router: ToolRouter<Self>,
}

/// The caller, when it may do `action`; otherwise the tool error to answer
/// (a member's role may forbid what the token's scope allows).
fn permitted(parts: &Parts, action: Action) -> Result<Result<McpCaller, CallToolResult>, McpError> {
    let caller = parts
        .extensions
        .get::<McpCaller>()
        .cloned()
        .ok_or_else(|| McpError::internal_error("the request was not authorized", None))?;
    Ok(match caller.as_notes().allow(action) {
        Ok(()) => Ok(caller),
        Err(e) => Err(denied(&e)),
    })
}

/// A failure a person can read, as a tool error (the model sees it).
fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

fn json_result(value: &impl serde::Serialize) -> Result<CallToolResult, McpError> {
    let v =
        serde_json::to_value(value).map_err(|e| McpError::internal_error(e.to_string(), None))?;
    Ok(CallToolResult::success(vec![ContentBlock::json(v)?]))
}

fn app_error(e: &AppError) -> CallToolResult {
    tool_error(e.to_string())
}

fn denied(e: &BearerError) -> CallToolResult {
    let why = e
        .error
        .as_ref()
        .and_then(|e| e.description.clone())
        .unwrap_or_else(|| "not allowed".to_owned());
    tool_error(why)
}

#[tool_router]
impl NotesMcp {
    fn new(st: NotesState) -> NotesMcp {
        NotesMcp {
            st,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "List the notes, newest first (needs notes:read).")]
    async fn list_notes(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, McpError> {
        let caller = match permitted(&parts, Action::Read)? {
            Ok(c) => c,
            Err(refused) => return Ok(refused),
        };
        let c = caller.as_notes();
        match self.st.notes.list(c.owner()).await {
            Ok(notes) => json_result(&notes),
            Err(e) => Ok(app_error(&e)),
        }
    }

    #[tool(description = "Read one note by its id (needs notes:read).")]
    async fn read_note(
        &self,
        Parameters(NoteId { id }): Parameters<NoteId>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, McpError> {
        let caller = match permitted(&parts, Action::Read)? {
            Ok(c) => c,
            Err(refused) => return Ok(refused),
        };
        let c = caller.as_notes();
        match self.st.notes.get(c.owner(), &id).await {
            Ok(Some(n)) => json_result(&n),
            Ok(None) => Ok(tool_error("no note has this id")),
            Err(e) => Ok(app_error(&e)),
        }
    }

    #[tool(description = "Create a note with a title and an optional body (needs notes:write).")]
    async fn create_note(
        &self,
        Parameters(CreateNote { title, body }): Parameters<CreateNote>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, McpError> {
        let caller = match permitted(&parts, Action::Create)? {
            Ok(c) => c,
            Err(refused) => return Ok(refused),
        };
        let c = caller.as_notes();
        let new = match (NewNote { title, body }).validated() {
            Ok(n) => n,
            Err(e) => return Ok(app_error(&e)),
        };
        match self.st.notes.create(c.owner(), new).await {
            Ok(n) => {
                tracing::info!(owner = ?c.owner(), client_id = ?c.client_id(), note_id = %n.id, "note created through MCP");
                json_result(&n)
            }
            Err(e) => Ok(app_error(&e)),
        }
    }

    #[tool(description = "Delete a note by its id (needs notes:write).")]
    async fn delete_note(
        &self,
        Parameters(NoteId { id }): Parameters<NoteId>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, McpError> {
        let caller = match permitted(&parts, Action::Delete)? {
            Ok(c) => c,
            Err(refused) => return Ok(refused),
        };
        let c = caller.as_notes();
        match self.st.notes.delete(c.owner(), &id).await {
            Ok(true) => {
                tracing::info!(owner = ?c.owner(), client_id = ?c.client_id(), note_id = %id, "note deleted through MCP");
                Ok(CallToolResult::success(vec![ContentBlock::text("deleted")]))
            }
            Ok(false) => Ok(tool_error("no note has this id")),
            Err(e) => Ok(app_error(&e)),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for NotesMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "keyhouse-notes",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "The user's notes (or, for a member of an organization, the organization's). \
                 list_notes and read_note need notes:read; create_note and delete_note need \
                 notes:write.",
            )
    }
}

/// `/mcp`: the MCP service behind its gate, bound to the `{issuer}/mcp`
/// resource. `None` when the configuration has no such resource.
pub fn router<S>(st: NotesState) -> Option<Router<S>>
where
    S: Clone + Send + Sync + 'static,
{
    let issuer = st.kh.config().issuer.clone();
    let host = url::Url::parse(&issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let config = StreamableHttpServerConfig::default().with_allowed_hosts([host]);
    let handler = st.clone();
    let service = StreamableHttpService::new(
        move || Ok(NotesMcp::new(handler.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let kh = st.kh.clone();
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(st, caller));
    kh.protect_mcp(&format!("{issuer}/mcp"), TOOLS, mcp)
}
