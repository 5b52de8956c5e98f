//! Admin API (`/api/admin/...`) and users' connected apps
//! (`/api/account/connected-apps`) wire types.

use serde::{Deserialize, Serialize};

use crate::{ClientSummary, ClientType, RefreshPolicy, ScopeDescription};

/// A Connected App as the dashboard shows it (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminClient {
    /// The client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Description shown on the consent screen.
    pub description: String,
    /// https logo URL.
    pub logo_uri: Option<String>,
    /// The type.
    pub client_type: ClientType,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Access-token lifetime, seconds.
    pub access_token_ttl: i64,
    /// `always` or `offline_access`.
    pub refresh_policy: RefreshPolicy,
    /// Created (unix seconds).
    pub created_at: i64,
    /// Whether a secret rotation is in progress (two secrets work).
    pub rotation_pending: bool,
    /// A custom `aud` for its access tokens.
    pub audience: Option<String>,
    /// Extra access-token claims: a JSON object whose string values may use
    /// `{{sub}}`, `{{email}}`, `{{name}}`, `{{organization_id}}`, `{{organization_slug}}`.
    pub claims_template: Option<String>,
    /// The grants it may use (`authorization_code`, `refresh_token`,
    /// `client_credentials`).
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Whether it may introspect access tokens issued to other clients.
    #[serde(default)]
    pub resource_server: bool,
    /// The one authentication method it may use at the token endpoints, if
    /// pinned (`client_secret_basic` or `client_secret_post`).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// Where it came from: `manual` (an operator), `cimd` (a Client ID
    /// Metadata Document: the id is its URL) or `dcr` (it registered
    /// itself).
    #[serde(default)]
    pub origin: String,
    /// For `cimd` clients, the domain that publishes the document.
    #[serde(default)]
    pub verified_domain: Option<String>,
    /// When a token was last issued to it (to the hour; agents only).
    #[serde(default)]
    pub last_used_at: Option<i64>,
    /// How many users and members have a grant for it.
    #[serde(default)]
    pub users: i64,
    /// Where the browser may go after signing out through the
    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where Keyhouse posts a logout token when a session it signed in with
    /// ends (OpenID Connect Back-Channel Logout).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Whether its logout tokens must name the session (`sid`).
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// What its ID tokens are signed with: `RS256` (the default), `ES256`
    /// or `EdDSA` (OpenID Connect Dynamic Client Registration §2).
    #[serde(default)]
    pub id_token_signed_response_alg: String,
}

/// `POST /api/admin/clients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewClientRequest {
    /// Display name.
    pub name: String,
    /// The type.
    pub client_type: ClientType,
    /// Exact redirect URIs (https, or loopback http for public clients).
    pub redirect_uris: Vec<String>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// https logo URL.
    #[serde(default)]
    pub logo_uri: Option<String>,
    /// Access-token lifetime, seconds (default 3600).
    #[serde(default)]
    pub access_token_ttl: Option<i64>,
    /// `always` or `offline_access` (default by type).
    #[serde(default)]
    pub refresh_policy: Option<RefreshPolicy>,
    /// A custom `aud` for its access tokens.
    #[serde(default)]
    pub audience: Option<String>,
    /// Extra access-token claims (see [`AdminClient::claims_template`]).
    #[serde(default)]
    pub claims_template: Option<String>,
    /// Grant types (default `authorization_code` and `refresh_token`;
    /// `client_credentials` only when named, for confidential clients).
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Whether it may introspect other clients' access tokens.
    #[serde(default)]
    pub resource_server: bool,
    /// Pins `client_secret_basic` or `client_secret_post`.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// Where the browser may go after signing out through the
    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where Keyhouse posts a logout token when a session it signed in with
    /// ends (OpenID Connect Back-Channel Logout).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Whether its logout tokens must name the session (`sid`).
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// What its ID tokens are signed with: `RS256` (when absent), `ES256`
    /// or `EdDSA`; anything else is refused.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
}

/// The answer of a create: the secret is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedClientResponse {
    /// The client.
    pub client: AdminClient,
    /// The secret (confidential types only).
    pub client_secret: Option<String>,
}

/// `PATCH /api/admin/clients/{id}`: only the fields present change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateClientRequest {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// https logo URL; an empty string removes it.
    #[serde(default)]
    pub logo_uri: Option<String>,
    /// The whole list of redirect URIs.
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    /// The type: only between first- and third-party of the same kind
    /// (confidential or public).
    #[serde(default)]
    pub client_type: Option<ClientType>,
    /// Access-token lifetime, seconds.
    #[serde(default)]
    pub access_token_ttl: Option<i64>,
    /// `always` or `offline_access`.
    #[serde(default)]
    pub refresh_policy: Option<RefreshPolicy>,
    /// A custom `aud`; an empty string removes it.
    #[serde(default)]
    pub audience: Option<String>,
    /// The claims template; an empty string removes it.
    #[serde(default)]
    pub claims_template: Option<String>,
    /// The whole list of grant types.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Whether it may introspect other clients' access tokens.
    #[serde(default)]
    pub resource_server: Option<bool>,
    /// Pins an authentication method; an empty string unpins it.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// The whole list of post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// The back-channel logout URI; an empty string removes it.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Whether its logout tokens must name the session.
    #[serde(default)]
    pub backchannel_logout_session_required: Option<bool>,
    /// What its ID tokens are signed with: `RS256`, `ES256` or `EdDSA`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// `POST /api/admin/clients/{id}/secrets/rotate`: the new secret, shown
/// once. Until the rotation is completed both secrets work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotationStarted {
    /// The new secret.
    pub client_secret: String,
}

/// An end user, as operators see them (`/api/admin/users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUser {
    /// The user id (`sub`).
    pub user_id: String,
    /// Address.
    pub email: String,
    /// Display name, may be empty.
    pub name: String,
    /// Whether the address was proven.
    pub email_verified: bool,
    /// Whether they have a password (else they sign in by mailed codes).
    pub has_password: bool,
    /// Whether they are an operator.
    pub is_admin: bool,
    /// Created (unix seconds).
    pub created_at: i64,
    /// Disabled since (unix seconds), if disabled.
    pub disabled_at: Option<i64>,
    /// Whether their password signs in again only after a reset.
    pub password_reset_required: bool,
    /// Whether signing in takes a code from an authenticator app.
    #[serde(default)]
    pub second_factor: bool,
}

/// `POST /api/admin/users/{id}/disable`: what it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDisabled {
    /// Sessions signed out.
    pub sessions_ended: u64,
    /// Connected apps whose access ended.
    pub apps_disconnected: u64,
}

/// `POST /api/admin/users/{id}/require-password-reset`: what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResetRequired {
    /// Sessions signed out.
    pub sessions_ended: u64,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Increasing id.
    pub id: i64,
    /// When (unix seconds).
    pub at: i64,
    /// Who: `user:<id>`, `member:<id>`, `api_key:<id>` or `cli`.
    pub actor: String,
    /// What, e.g. `client.created`, `client.secret_rotation_started`,
    /// `consent.granted`, `consent.revoked`.
    pub action: String,
    /// The client concerned, if any.
    pub client_id: Option<String>,
    /// Details (scopes, changed fields…).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
}

/// An app the signed-in user has granted access to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectedApp {
    /// The app.
    pub client: ClientSummary,
    /// What it was granted, in plain words.
    pub scopes: Vec<ScopeDescription>,
    /// When the user first granted it (unix seconds).
    pub granted_at: i64,
    /// When it last obtained tokens, if ever (unix seconds).
    pub last_used_at: Option<i64>,
}

/// `POST /api/admin/agents/blocked-domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockDomainRequest {
    /// A host name; its subdomains are blocked too.
    pub domain: String,
}

/// The answer to a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockDomainResponse {
    /// The domain, normalised.
    pub domain: String,
    /// How many metadata-document clients it had (deleted, their grants
    /// and tokens revoked).
    pub clients_removed: u64,
}

/// Which client metadata documents are read: the switch and the domain
/// lists. Set in configuration; the admin API can override it at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetadataPolicy {
    /// Whether an https `client_id` is read as a metadata document.
    pub metadata_documents: bool,
    /// Hosts accepted (`host` or `*.domain` for its subdomains); empty
    /// means every host not denied.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Hosts refused whatever the allow list says (same patterns).
    #[serde(default)]
    pub denied_domains: Vec<String>,
}

impl MetadataPolicy {
    /// Whether documents from `host` are read under this policy (the
    /// switch aside): not denied, and allowed when there is an allow list.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let matches = |pattern: &String| {
            let p = pattern.to_ascii_lowercase();
            match p.strip_prefix("*.") {
                Some(parent) => host.ends_with(&format!(".{parent}")),
                None => host == p,
            }
        };
        !self.denied_domains.iter().any(matches)
            && (self.allowed_domains.is_empty() || self.allowed_domains.iter().any(matches))
    }
}

/// `GET /api/admin/agents/settings`: what governs agents now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentSettings {
    /// The metadata-document policy in force.
    pub policy: MetadataPolicy,
    /// `configuration` or `admin` (set through the admin API, which wins
    /// until it is reset).
    pub policy_source: String,
    /// Dynamic registration: `off`, `open` or `initial_access_token`
    /// (configuration only).
    pub registration: String,
    /// Hosts blocked at run time.
    pub blocked_domains: Vec<String>,
    /// Agents blocked one by one (their client id URLs).
    #[serde(default)]
    pub blocked_clients: Vec<String>,
}

/// `POST /api/admin/agents/blocked-clients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockClientRequest {
    /// The agent's client id: its metadata document URL.
    pub client_id: String,
}

/// The answer to a policy change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyChange {
    /// The policy now in force.
    pub settings: AgentSettings,
    /// Metadata-document clients the new policy no longer accepts (deleted,
    /// their grants and tokens revoked).
    pub clients_removed: u64,
}

/// A protected resource (an API or MCP server tokens are issued for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceView {
    /// Canonical URI: the `aud` of its tokens.
    pub uri: String,
    /// Name shown on consent.
    pub name: String,
    /// Scopes it understands.
    pub scopes: Vec<String>,
    /// Scopes a request naming none gets.
    pub default_scopes: Vec<String>,
    /// Whether it also accepts tokens issued without a resource.
    pub accepts_unbound_tokens: bool,
    /// `code` (declared by the application, read-only here) or `admin`.
    pub source: String,
    /// Its RFC 9728 metadata URL (served when it is on this host).
    pub metadata_url: String,
}

/// `PUT /api/admin/resources`: registers or replaces a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceRequest {
    /// Absolute https URI (http only on loopback).
    pub uri: String,
    /// Name shown on consent.
    pub name: String,
    /// Scopes it understands (from the scope catalogue).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Scopes a request naming none gets (a subset of `scopes`).
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Whether it also accepts tokens issued without a resource.
    #[serde(default)]
    pub accepts_unbound_tokens: bool,
}
