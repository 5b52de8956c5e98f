//! `/mcp`: the app as an MCP server (`rmcp`, streamable HTTP) behind
//! Keyhouse. An MCP client starts from this URL alone: the 401 names the
//! resource metadata, from which it finds Keyhouse, registers itself, and
//! sends the user through `/idp`. One tool, `greet`, needs `greeting:read`.

use std::sync::Arc;

use axum::Router;
use axum::http::request::Parts;
use keyhouse_axum::{AccessToken, Keyhouse, TokenSubject};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, ServerHandler, tool, tool_handler, tool_router};

/// The MCP server.
#[derive(Clone)]
pub struct Greeter {
    kh: Keyhouse,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Greeter {
    #[tool(description = "Greet the signed-in user by name (needs greeting:read).")]
    async fn greet(&self, Extension(parts): Extension<Parts>) -> Result<CallToolResult, McpError> {
        // Put there by Keyhouse's guard, which already checked the scope.
        let token = parts.extensions.get::<AccessToken>();
        let Some(TokenSubject::User(user)) = token.map(AccessToken::subject) else {
            return Ok(CallToolResult::error(vec![ContentBlock::text("no user")]));
        };
        let profile = self.kh.profile_of(user).await;
        let profile = profile.map_err(|e| McpError::internal_error(e.to_string(), None))?;
        let name = profile.map(|p| p.name).unwrap_or_default();
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "Hello, {name}!"
        ))]))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Greeter {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// `/mcp`, behind Keyhouse; `None` when the `/mcp` resource is not
/// registered in the configuration.
pub fn router(kh: &Keyhouse) -> Option<Router> {
    let issuer = kh.config().issuer.clone();
    let host = issuer
        .split("://")
        .nth(1)?
        .split([':', '/'])
        .next()?
        .to_owned();
    let greeter = Greeter {
        kh: kh.clone(),
        tool_router: Greeter::tool_router(),
    };
    let service = StreamableHttpService::new(
        move || Ok(greeter.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_allowed_hosts([host]),
    );
    let mcp = Router::new().nest_service("/mcp", service);
    kh.protect_mcp(&format!("{issuer}/mcp"), &[("greet", "greeting:read")], mcp)
}
