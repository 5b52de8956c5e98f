//! Configuration of a Keyhouse deployment, with documented defaults.

use keyhouse_core::ScopeCatalog;
use keyhouse_core::resource::ProtectedResource;

use crate::oauth::keys::SigningAlg;

/// Settings. Every field has a default; the `keyhouse` binary maps them to
/// flags and environment variables (see the README).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The issuer URL (`iss`), without a trailing slash. Default
    /// `http://127.0.0.1:3000`. Cookies get `__Host-` and `Secure` when it is https.
    pub issuer: String,
    /// The scopes offered: OIDC's plus the application's.
    pub scopes: ScopeCatalog,
    /// The audience of access tokens when no `resource` is requested.
    /// Default: the issuer.
    pub default_audience: String,
    /// The resource servers (APIs, MCP servers) clients may ask tokens for
    /// with RFC 8707's `resource`; each gets RFC 9728 metadata. The default
    /// audience is always allowed as well.
    pub resources: Vec<ProtectedResource>,
    /// The scopes a request naming none gets when neither its client nor
    /// its resource has a default (default: none, so such a request fails
    /// with `invalid_scope`).
    pub default_scopes: Vec<String>,
    /// Clients that arrive unannounced: Client ID Metadata Documents and
    /// dynamic registration.
    pub agents: AgentPolicy,
    /// Algorithm of access tokens (default ES256; ID tokens are always RS256).
    pub access_token_alg: SigningAlg,
    /// Access-token lifetime, seconds, of clients that arrive on their own
    /// (dynamic registration, metadata documents; default 3600). An operator
    /// sets each registered client's own.
    pub access_token_ttl: i64,
    /// Browser session lifetime, seconds (default 7 days).
    pub session_ttl: i64,
    /// Authorization code lifetime, seconds (default 300, at most 600).
    pub code_ttl: i64,
    /// ID token lifetime, seconds (default 3600).
    pub id_token_ttl: i64,
    /// Idle lifetime of a refresh token, seconds (default 30 days).
    pub refresh_token_ttl: i64,
    /// Absolute lifetime of a token family, seconds (default 90 days).
    pub refresh_family_ttl: i64,
    /// How long a client row and its secret hashes are cached in memory,
    /// seconds (default 2; 0 turns the cache off). Changes made on this
    /// instance invalidate it at once; other instances see them after this.
    pub client_cache_ttl: u64,
    /// Whether `POST /api/session/signup` is open (default true).
    pub signup_enabled: bool,
    /// Failed logins allowed per email address in `login_window` before
    /// further attempts get 429, whatever the password (default 10).
    pub login_attempts_per_account: i64,
    /// Failed logins allowed per client IP in `login_window` (default 100;
    /// 0 turns the per-IP limit off, e.g. behind a proxy that hides clients).
    pub login_attempts_per_ip: i64,
    /// The login throttling window, seconds (default 900). The per-account
    /// count is forgotten this long after its last counted attempt.
    pub login_window: i64,
    /// The longest delay between two counted sign-in attempts on one account
    /// once its free attempts are used, seconds (default 300). The delay
    /// after the kth is 15·k² seconds up to this.
    pub login_max_delay: i64,
    /// Sign-ups accepted per client IP per hour (default 10; 0 turns it off).
    pub signups_per_ip_per_hour: i64,
    /// Authorization decisions (consent answers) accepted per session per
    /// minute (default 30).
    pub decisions_per_session_per_minute: i64,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR
    /// blocks). Empty by default: the socket's peer is the client.
    pub trusted_proxies: Vec<crate::http::client_ip::IpRange>,
    /// B2B: the roles and custom scopes defined at start-up when missing
    /// (the operator's later changes are kept). Default: `admin` (everything)
    /// and `member` (nothing), no custom scopes.
    pub rbac_defaults: keyhouse_core::rbac::Policy,
    /// Outgoing mail (default: into the outbox folder `data/outbox`).
    pub mail: crate::mail::MailConfig,
    /// The app's page that sets a new password, where the reset link leads
    /// with `?token=…` (default `/reset-password`).
    pub reset_password_path: String,
    /// How long a password-reset link works, seconds (default 1800).
    pub password_reset_ttl: i64,
    /// Reset mails sent per address per hour (default 3): further requests
    /// answer the same and send nothing.
    pub password_resets_per_address_per_hour: i64,
    /// Reset requests accepted per client IP per hour (default 20).
    pub password_resets_per_ip_per_hour: i64,
    /// Whether sign-up proves the address before the account exists
    /// (default true): sign-up then answers `202` whether or not the
    /// address is taken, mails a link and a code, and the account is created
    /// when one of them comes back. Off, sign-up creates the account at once
    /// (unverified) and answers `409` for a taken address.
    pub verify_email_at_signup: bool,
    /// Whether people may sign in with a link or code mailed to them
    /// (`POST /api/session/email-login`, default true). With sign-up open,
    /// an address with no account gets one when it signs in this way.
    pub email_sign_in: bool,
    /// The app's page that mailed links lead to with `?token=…` (default
    /// `/verify-email`); it posts the token to `/api/session/email/link`.
    pub email_link_path: String,
    /// The app's page that links mailed to organization members lead to
    /// with `?token=…` (default `/org/login/email`); it posts the token to
    /// `/api/b2b/discovery/email/link`.
    pub member_email_link_path: String,
    /// The app's page an invitation into an organization links to, with
    /// `?token=…` (default `/org/invitation`).
    pub invitation_path: String,
    /// How long an invitation's link works, seconds (default 7 days).
    pub invitation_ttl: i64,
    /// The app's organization sign-in page (default `/org/login`): single
    /// sign-on sends the browser back there with `?sso_error=` when it
    /// fails, or with `?step=second-factor` when the member's
    /// authenticator code is still needed.
    pub organization_login_path: String,
    /// The app's organization settings page (default `/org/settings`): a
    /// test of the single sign-on connection ends there with `?sso_test=`.
    pub organization_settings_path: String,
    /// How long a mailed link and code work, seconds (default 900).
    pub email_code_ttl: i64,
    /// Messages with a link and code sent per address per hour (default 5):
    /// further requests answer the same and send nothing.
    pub email_codes_per_address_per_hour: i64,
    /// Requests for a link and code accepted per client IP per hour
    /// (default 30).
    pub email_codes_per_ip_per_hour: i64,
    /// Wrong codes a message survives (default 5): then its link and code
    /// stop working.
    pub email_code_attempts: i32,
    /// Codes and links checked per client IP per hour (default 120).
    pub email_code_checks_per_ip_per_hour: i64,
    /// How recent a sign-in must be, seconds (default 900), for an account
    /// with no password to change its address or delete itself: it has no
    /// password to confirm with, so it signs in again instead.
    pub recent_sign_in: i64,
    /// The app's sign-out page, where the `end_session_endpoint`
    /// (`/oauth2/logout`) sends the browser with the request's parameters
    /// (default `/logout`; the `EndSession` component).
    pub logout_path: String,
    /// How often housekeeping purges expired rows, retires keys past
    /// their time and deletes self-registered clients left unused (default
    /// 600 s; clamped to [`PURGE_INTERVAL_MIN`] ..= [`PURGE_INTERVAL_MAX`]).
    /// One instance at a time does it, the one holding the purge lease,
    /// which lasts twice this (see [`crate::housekeeping`]). Give every
    /// instance the same value.
    pub purge_interval: std::time::Duration,
}

/// The shortest [`Config::purge_interval`]. The `keyhouse` binary's
/// setting starts at 10 s; shorter is for tests.
pub const PURGE_INTERVAL_MIN: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest [`Config::purge_interval`]: a day.
pub const PURGE_INTERVAL_MAX: std::time::Duration = std::time::Duration::from_secs(86_400);

impl Default for Config {
    fn default() -> Self {
        let issuer = "http://127.0.0.1:3000".to_owned();
        Config {
            default_audience: issuer.clone(),
            issuer,
            scopes: ScopeCatalog::default(),
            resources: Vec::new(),
            default_scopes: Vec::new(),
            agents: AgentPolicy::default(),
            access_token_alg: SigningAlg::Es256,
            access_token_ttl: 3600,
            session_ttl: 7 * 24 * 3600,
            code_ttl: 300,
            id_token_ttl: 3600,
            refresh_token_ttl: 30 * 24 * 3600,
            refresh_family_ttl: 90 * 24 * 3600,
            client_cache_ttl: 2,
            signup_enabled: true,
            login_attempts_per_account: 10,
            login_attempts_per_ip: 100,
            login_window: 900,
            login_max_delay: 300,
            signups_per_ip_per_hour: 10,
            decisions_per_session_per_minute: 30,
            trusted_proxies: Vec::new(),
            rbac_defaults: keyhouse_core::rbac::Policy {
                roles: crate::b2b::manage::default_roles(),
                scopes: Vec::new(),
            },
            mail: crate::mail::MailConfig::default(),
            reset_password_path: "/reset-password".to_owned(),
            password_reset_ttl: 1800,
            password_resets_per_address_per_hour: 3,
            password_resets_per_ip_per_hour: 20,
            verify_email_at_signup: true,
            email_sign_in: true,
            email_link_path: "/verify-email".to_owned(),
            member_email_link_path: "/org/login/email".to_owned(),
            invitation_path: "/org/invitation".to_owned(),
            invitation_ttl: 7 * 24 * 3600,
            organization_login_path: "/org/login".to_owned(),
            organization_settings_path: "/org/settings".to_owned(),
            email_code_ttl: 900,
            email_codes_per_address_per_hour: 5,
            email_codes_per_ip_per_hour: 30,
            email_code_attempts: 5,
            email_code_checks_per_ip_per_hour: 120,
            recent_sign_in: 900,
            logout_path: "/logout".to_owned(),
            purge_interval: std::time::Duration::from_secs(600),
        }
    }
}

impl Config {
    /// A config for `issuer`, with the default audience set to it.
    pub fn for_issuer(issuer: &str) -> Config {
        let issuer = issuer.trim_end_matches('/').to_owned();
        Config {
            default_audience: issuer.clone(),
            issuer,
            ..Config::default()
        }
    }

    /// With one more scope a user can grant (shown on consent with
    /// `description`), e.g. `notes:read`.
    pub fn with_scope(mut self, name: &str, description: &str) -> Config {
        self.scopes = self.scopes.with_scope(name, description);
        self
    }

    /// With a protected resource served by this app at `path` (e.g. an MCP
    /// server at `/mcp`): tokens can be bound to `{issuer}{path}` (RFC 8707),
    /// its metadata is published (RFC 9728), and `scopes` are those it
    /// accepts (the first is what a client that names none gets). A path
    /// that makes no valid URL is left out, with an error in the log.
    pub fn with_resource_at(mut self, path: &str, name: &str, scopes: &[&str]) -> Config {
        let uri = format!("{}{path}", self.issuer);
        match keyhouse_core::resource::ProtectedResource::new(&uri, name) {
            Ok(r) => self.resources.push(
                r.with_scopes(scopes)
                    .with_default_scopes(&scopes[..scopes.len().min(1)]),
            ),
            Err(e) => tracing::error!(uri, error = %e, "resource left out"),
        }
        self
    }

    /// Whether cookies must be `Secure` (and `__Host-` prefixed).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The origin of the issuer (scheme, host, port), for CSRF checks.
    pub fn origin(&self) -> String {
        match url::Url::parse(&self.issuer) {
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => self.issuer.clone(),
        }
    }

    /// Clamps values to their allowed ranges.
    pub fn normalized(mut self) -> Config {
        self.code_ttl = self.code_ttl.clamp(30, 600);
        self.password_reset_ttl = self.password_reset_ttl.clamp(300, 86_400);
        self.email_code_ttl = self.email_code_ttl.clamp(120, 3600);
        self.email_code_attempts = self.email_code_attempts.clamp(1, 10);
        self.purge_interval = self
            .purge_interval
            .clamp(PURGE_INTERVAL_MIN, PURGE_INTERVAL_MAX);
        self.issuer = self.issuer.trim_end_matches('/').to_owned();
        self
    }
}

/// Who may register a client dynamically (RFC 7591).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RegistrationPolicy {
    /// `POST /oauth2/register` answers 404-like `access_denied`.
    Off,
    /// Anyone, within the per-IP limit (what MCP clients expect).
    #[default]
    Open,
    /// Only with one of these initial access tokens (RFC 7591 §3), sent as
    /// a bearer token.
    InitialAccessToken(Vec<String>),
}

/// The policy for clients that onboard themselves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgentPolicy {
    /// Whether an https `client_id` is read as a Client ID Metadata Document
    /// (default true).
    pub metadata_documents: bool,
    /// Hosts whose metadata documents are accepted (a host, or `*.domain`
    /// for its subdomains); empty means every host not denied.
    pub allowed_domains: Vec<String>,
    /// Hosts refused, whatever the allow list says.
    pub denied_domains: Vec<String>,
    /// Dynamic registration (default open).
    pub registration: RegistrationPolicy,
    /// Registrations accepted per client IP per hour (default 20).
    pub registrations_per_ip_per_hour: i64,
    /// Self-registered clients with no token issued for this many days are
    /// deleted by the purge (default 30).
    pub unused_client_days: i64,
    /// The refresh grace period of clients that onboard themselves, seconds
    /// (default 10; agents refresh from several requests at once).
    pub refresh_grace: i64,
    /// How long a fetched metadata document is kept at least and at most,
    /// whatever its caching headers say, seconds (default 60 and 86400).
    pub metadata_ttl: (i64, i64),
    /// TESTS ONLY: lets metadata documents be fetched from loopback
    /// addresses, trusting `test_ca_pem` too. Nothing in the server's
    /// configuration sets it; only a program building its own `Config`
    /// can, and the server logs a warning when it is on.
    pub insecure_allow_loopback_metadata_for_tests: bool,
    /// TESTS ONLY: an extra root certificate (PEM) for metadata fetches.
    pub test_ca_pem: Option<String>,
    /// TESTS ONLY: the name resolution metadata fetches use (the system's
    /// when unset).
    pub test_lookup: LookupOverride,
}

/// A replacement resolver for tests (see [`crate::agents::fetch::Lookup`]).
#[derive(Clone, Default)]
pub struct LookupOverride(pub Option<std::sync::Arc<dyn crate::agents::fetch::Lookup>>);

impl std::fmt::Debug for LookupOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "test resolver"
        } else {
            "system resolver"
        })
    }
}

impl Default for AgentPolicy {
    fn default() -> Self {
        AgentPolicy {
            metadata_documents: true,
            allowed_domains: Vec::new(),
            denied_domains: Vec::new(),
            registration: RegistrationPolicy::Open,
            registrations_per_ip_per_hour: 20,
            unused_client_days: 30,
            refresh_grace: 10,
            metadata_ttl: (60, 86_400),
            insecure_allow_loopback_metadata_for_tests: false,
            test_ca_pem: None,
            test_lookup: LookupOverride::default(),
        }
    }
}

impl AgentPolicy {
    /// Whether metadata documents from `host` are accepted: not denied, and
    /// allowed when there is an allow list.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.metadata_policy().host_allowed(host)
    }

    /// How long to keep something fetched (a document, a key set, a logo)
    /// whose host said `max_age` seconds: within `metadata_ttl`, the minimum
    /// when it said nothing.
    pub fn cache_lifetime(&self, max_age: Option<u64>) -> std::time::Duration {
        let (min, max) = self.metadata_ttl;
        let ttl = max_age
            .map_or(min, |s| i64::try_from(s).unwrap_or(max))
            .clamp(min, max);
        std::time::Duration::from_secs(ttl.unsigned_abs())
    }

    /// The switch and the domain lists, as the admin API shows them.
    pub fn metadata_policy(&self) -> keyhouse_types::admin::MetadataPolicy {
        keyhouse_types::admin::MetadataPolicy {
            metadata_documents: self.metadata_documents,
            allowed_domains: self.allowed_domains.clone(),
            denied_domains: self.denied_domains.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_wins_over_allow_and_wildcards_cover_subdomains_only() {
        let p = AgentPolicy {
            allowed_domains: vec!["claude.ai".into(), "*.vscode.dev".into()],
            denied_domains: vec!["bad.vscode.dev".into()],
            ..AgentPolicy::default()
        };
        assert!(p.host_allowed("claude.ai"));
        assert!(p.host_allowed("CLAUDE.AI"));
        assert!(!p.host_allowed("evilclaude.ai"));
        assert!(p.host_allowed("insiders.vscode.dev"));
        assert!(!p.host_allowed("vscode.dev"));
        assert!(!p.host_allowed("bad.vscode.dev"));
        assert!(!p.host_allowed("chatgpt.com"));
        assert!(AgentPolicy::default().host_allowed("chatgpt.com"));
    }
}

#[cfg(test)]
mod resource_tests {
    use super::Config;

    #[test]
    fn a_resource_at_a_path_of_the_issuer() {
        let c = Config::for_issuer("http://127.0.0.1:3000").with_resource_at(
            "/mcp",
            "MCP",
            &["greeting:read"],
        );
        assert_eq!(c.resources.len(), 1);
        assert_eq!(c.resources[0].uri, "http://127.0.0.1:3000/mcp");
        assert_eq!(c.resources[0].default_scopes, ["greeting:read"]);
    }
}
