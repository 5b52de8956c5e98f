//! HTTP plumbing shared by every concern: serving, the security headers,
//! the client's IP address, cookies, the CSRF guard, metrics, prebuilt documents,
//! and the extractors an app's own API uses to accept Keyhouse's access
//! tokens.

pub mod client_ip;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub mod extract;
pub(crate) mod json;
pub mod mcp_guard;
pub mod member_caller;
pub mod metrics;
pub(crate) mod prebuilt;
pub mod request_id;
pub mod security_headers;
pub mod serve;
