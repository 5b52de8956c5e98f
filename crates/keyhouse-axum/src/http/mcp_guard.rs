//! [`Keyhouse::protect_mcp`]: puts an MCP server (streamable HTTP, e.g. an
//! `rmcp` service) behind Keyhouse, the way the MCP authorization
//! specification asks:
//!
//! - every request needs an access token bound to the MCP server's
//!   registered resource (RFC 8707); without one the answer is 401 with
//!   `WWW-Authenticate: Bearer resource_metadata=…` (RFC 9728), which is how
//!   an MCP client discovers Keyhouse and onboards itself;
//! - a `tools/call` (alone or in a batch) needs the scope its tool is
//!   declared with; without it the answer is 403 `insufficient_scope`
//!   naming every scope the client should hold afterwards (what it has and
//!   what this call needs), so a step-up loses nothing;
//! - the verified [`AccessToken`] is left in the request's extensions for
//!   the tools (with `rmcp`, through `Extension<http::request::Parts>`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::extract::AccessToken;
use crate::{BODY_LIMIT, Keyhouse};

#[derive(Clone)]
struct Guard {
    kh: Keyhouse,
    /// Each tool and the scope it needs.
    tools: Arc<Vec<(String, String)>>,
}

/// The scopes a JSON-RPC message (or a batch) needs: those of the tools it
/// calls. Anything else needs none beyond a valid token.
fn needed_scopes<'a>(tools: &'a [(String, String)], body: &[u8]) -> Vec<&'a str> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let messages = match &v {
        serde_json::Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    let mut out: Vec<&str> = Vec::new();
    for m in messages {
        if m.get("method").and_then(|x| x.as_str()) != Some("tools/call") {
            continue;
        }
        let name = m.pointer("/params/name").and_then(|x| x.as_str());
        if let Some((_, scope)) = tools.iter().find(|(t, _)| Some(t.as_str()) == name)
            && !out.contains(&scope.as_str())
        {
            out.push(scope);
        }
    }
    out
}

async fn gate(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let token = match AccessToken::from_request_parts(&mut parts, &g.kh).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    if parts.method == Method::POST {
        let needed = needed_scopes(&g.tools, &bytes);
        if !needed.iter().all(|s| token.has_scope(s)) {
            let mut all: Vec<&str> = token
                .claims
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .collect();
            for s in needed {
                if !all.contains(&s) {
                    all.push(s);
                }
            }
            tracing::info!(client_id = %token.claims.client_id, scopes = %all.join(" "), "mcp call needs more scope");
            return crate::error::BearerError::insufficient_all(&all)
                .with_resource_metadata(token.resource_metadata.as_deref())
                .into_response();
        }
    }
    parts.extensions.insert(token);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

impl Keyhouse {
    /// Puts `mcp` (the routes of an MCP server) behind Keyhouse for the
    /// registered resource `resource_uri` (see the module documentation);
    /// `tools` maps each tool to the scope a `tools/call` of it needs.
    /// `None` when no resource with that URI is registered in the
    /// configuration.
    ///
    /// ```ignore
    /// let mcp = Router::new().nest_service("/mcp", rmcp_service);
    /// let app = app.merge(kh.protect_mcp(&format!("{issuer}/mcp"), &[("greet", "greeting:read")], mcp)?);
    /// ```
    pub fn protect_mcp<S>(
        &self,
        resource_uri: &str,
        tools: &[(&str, &str)],
        mcp: Router<S>,
    ) -> Option<Router<S>>
    where
        S: Clone + Send + Sync + 'static,
    {
        let bound = self.resource_layer(resource_uri)?;
        let guard = Guard {
            kh: self.clone(),
            tools: Arc::new(
                tools
                    .iter()
                    .map(|(t, s)| ((*t).to_owned(), (*s).to_owned()))
                    .collect(),
            ),
        };
        Some(
            mcp.layer(axum::middleware::from_fn_with_state(guard, gate))
                .layer(bound),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::needed_scopes;

    #[test]
    fn only_tool_calls_need_their_tools_scope_once() {
        let tools = vec![
            ("greet".to_owned(), "greeting:read".to_owned()),
            ("shout".to_owned(), "greeting:write".to_owned()),
        ];
        let one = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"greet"}}"#;
        assert_eq!(needed_scopes(&tools, one), ["greeting:read"]);
        let batch = br#"[{"method":"tools/call","params":{"name":"shout"}},
            {"method":"tools/call","params":{"name":"greet"}},
            {"method":"tools/call","params":{"name":"shout"}},
            {"method":"tools/list"}]"#;
        assert_eq!(
            needed_scopes(&tools, batch),
            ["greeting:write", "greeting:read"]
        );
        assert!(needed_scopes(&tools, br#"{"method":"tools/list"}"#).is_empty());
        assert!(needed_scopes(&tools, b"not json").is_empty());
    }
}
