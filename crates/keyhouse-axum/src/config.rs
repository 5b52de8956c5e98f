//! Configuration of a Keyhouse deployment, with documented defaults.

use keyhouse_core::ScopeCatalog;

use crate::keys::SigningAlg;

/// Settings. Every field has a default; the `keyhouse` binary maps them to
/// flags and environment variables (see the README).
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer URL (`iss`), without a trailing slash. Default
    /// `http://127.0.0.1:3000`. Cookies get `__Host-` and `Secure` when it is https.
    pub issuer: String,
    /// The scopes offered: OIDC's plus the application's.
    pub scopes: ScopeCatalog,
    /// The audience of access tokens when no `resource` is requested.
    /// Default: the issuer.
    pub default_audience: String,
    /// RFC 8707 resources clients may ask tokens for. The default audience is
    /// always allowed.
    pub resources: Vec<String>,
    /// Algorithm of access tokens (default ES256; ID tokens are always RS256).
    pub access_token_alg: SigningAlg,
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
    pub trusted_proxies: Vec<crate::client_ip::IpRange>,
    /// B2B: the roles and custom scopes defined at start-up when missing
    /// (the operator's later changes are kept). Default: `admin` (everything)
    /// and `member` (nothing), no custom scopes.
    pub rbac_defaults: keyhouse_core::rbac::Policy,
}

impl Default for Config {
    fn default() -> Self {
        let issuer = "http://127.0.0.1:3000".to_owned();
        Config {
            default_audience: issuer.clone(),
            issuer,
            scopes: ScopeCatalog::default(),
            resources: Vec::new(),
            access_token_alg: SigningAlg::Es256,
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
                roles: crate::manage::default_roles(),
                scopes: Vec::new(),
            },
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

    /// Whether cookies must be `Secure` (and `__Host-` prefixed).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// Every audience a token may be issued for.
    pub fn allowed_resources(&self) -> Vec<String> {
        let mut all = vec![self.default_audience.clone()];
        all.extend(self.resources.iter().cloned());
        all
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
        self.issuer = self.issuer.trim_end_matches('/').to_owned();
        self
    }
}
