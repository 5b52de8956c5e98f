//! The server's configuration: one TOML file (`keyhouse.toml`), the
//! environment and flags, in that order of precedence over the defaults.
//!
//! [`Settings`] is the file's shape; its doc comments are the reference
//! (`keyhouse config reference`, `docs/configuration.md`). [`layers`] reads
//! and merges the layers and names the key of every error; [`Settings::check`]
//! refuses values that cannot work; [`Settings::to_config`] reads the secret
//! files and builds the library's [`Config`].

pub mod layers;
pub mod reference;

use std::path::{Path, PathBuf};

use keyhouse_axum::Config;
use keyhouse_axum::config::RegistrationPolicy;
use keyhouse_store::DEFAULT_DATABASE_URL;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The whole file. Every key has a default; an empty file is a valid one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The issuer URL (`iss`, and the server's public base URL), without a
    /// trailing slash. It must be https, except on a loopback host
    /// (`localhost`, `127.0.0.1`, `[::1]`). Unset: `http://` and
    /// `server.bind`, which must then be a loopback address.
    pub issuer: Option<String>,
    /// Listening.
    pub server: ServerSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// Signing keys and the master key.
    pub keys: KeySettings,
    /// Lifetimes of codes and tokens.
    pub tokens: TokenSettings,
    /// Browser sessions.
    pub sessions: SessionSettings,
    /// Sign-up.
    pub sign_up: SignUpSettings,
    /// Sign-in with a password, and its throttling.
    pub login: LoginSettings,
    /// Sign-in with a link or code sent by mail, and address verification.
    pub email_sign_in: EmailSignInSettings,
    /// Password reset by mail.
    pub password_reset: PasswordResetSettings,
    /// The consent screen's decisions.
    pub consent: ConsentSettings,
    /// Organizations' own management: invitations.
    pub organizations: OrganizationsSettings,
    /// Clients that arrive unannounced: Client ID Metadata Documents and
    /// dynamic registration (RFC 7591).
    pub agents: AgentSettings,
    /// Outgoing mail (reset links, sign-in codes, security notices).
    pub mail: MailSettings,
    /// The app's pages that Keyhouse's links and redirects lead to.
    pub pages: PageSettings,
    /// Logs (their level follows `RUST_LOG`, default `info`).
    pub log: LogSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// Housekeeping: the purge of expired data.
    pub housekeeping: HousekeepingSettings,
    /// Traces of requests, exported over OTLP/HTTP to an OpenTelemetry
    /// collector. Only a build with the `otlp` feature exports them
    /// (docs/operations.md); any other refuses to start with an endpoint.
    pub traces: TraceSettings,
}

/// Housekeeping.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HousekeepingSettings {
    /// Seconds between two purges: expired sessions, codes, tokens and
    /// challenges deleted, keys past their time retired, self-registered
    /// clients left unused deleted. One instance at a time purges, the one
    /// holding the purge lease; it lasts twice this, so when that instance
    /// dies another takes over within three intervals. Give every instance
    /// the same value. 10 to 86400.
    pub purge_interval: u64,
}

impl Default for HousekeepingSettings {
    fn default() -> Self {
        HousekeepingSettings {
            purge_interval: Config::default().purge_interval.as_secs(),
        }
    }
}

/// Logs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (for a terminal) or `json` (one object per line, for a log
    /// collector). Lines written while answering a request carry its
    /// `request_id`, also sent back in the `X-Request-Id` header.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Prometheus metrics.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Where `GET /metrics` (Prometheus text format) is served, `HOST:PORT`:
    /// a listener of its own, never the public one, so only what can reach
    /// this address can read them. Unset: no metrics.
    pub bind: Option<String>,
}

/// Traces of requests over OTLP.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TraceSettings {
    /// The collector's OTLP/HTTP traces URL, whole (`http://HOST:4318/v1/traces`);
    /// spans are sent there as protobuf, in batches. `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// is a base URL that `/v1/traces` is added to. Unset: no traces. A build
    /// without the `otlp` feature refuses to start when this is set.
    pub otlp_endpoint: Option<String>,
    /// The spans' `service.name`: what the collector calls this server.
    pub service_name: String,
    /// The share of traces started here that are kept, 0 to 1. A request
    /// whose `traceparent` header says its trace is sampled (or not) follows
    /// its caller instead.
    pub sample_ratio: f64,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            otlp_endpoint: None,
            service_name: "keyhouse".into(),
            sample_ratio: 1.0,
        }
    }
}

/// Listening.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// The address and port to listen on (`HOST:PORT`).
    pub bind: String,
    /// The example app's built files (`trunk build`), served at `/`.
    pub static_dir: PathBuf,
    /// Proxies whose `X-Forwarded-For` is believed for per-address limits:
    /// addresses or CIDR blocks. Empty: the socket's peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Seconds between the stop signal (SIGTERM, Ctrl-C) and the listener
    /// closing, while `/health/ready` answers 503 and every other request
    /// is still served: set it to the time your load balancer takes to
    /// mark an instance down (HAProxy `inter 2s fall 2`: 5). 0 to 300.
    pub drain_seconds: u64,
    /// Seconds open connections then have to finish their requests before
    /// they are closed. 1 to 300.
    pub shutdown_timeout: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:3000".into(),
            static_dir: "dist".into(),
            trusted_proxies: Vec::new(),
            drain_seconds: 0,
            shutdown_timeout: keyhouse_axum::http::serve::SHUTDOWN_TIMEOUT.as_secs(),
        }
    }
}

/// The database.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH?mode=rwc` (the file is created) or
    /// `postgres://USER@HOST/DATABASE`. A password written here is masked
    /// by `keyhouse config print`; `password_file` keeps it out of the file.
    pub url: String,
    /// A file whose first line is the PostgreSQL password (e.g. a mounted
    /// secret). The URL must then have none.
    pub password_file: Option<PathBuf>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: DEFAULT_DATABASE_URL.into(),
            password_file: None,
        }
    }
}

/// Signing keys and the master key.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// The master key file (base64 of 32 bytes: it encrypts signing keys at
    /// rest and keys client-secret hashes), created with mode 0600 on first
    /// use. Unset: beside the SQLite database (`keyhouse.db.key`), or
    /// `data/keyhouse.key`. The environment variable `KEYHOUSE_MASTER_KEY`
    /// can hold the key itself instead; it is never a key of this file.
    pub master_key_file: Option<PathBuf>,
    /// The algorithm of access tokens: `ES256` or `RS256`. ID tokens are RS256.
    pub access_token_alg: AccessTokenAlg,
}

impl Default for KeySettings {
    fn default() -> Self {
        KeySettings {
            master_key_file: None,
            access_token_alg: AccessTokenAlg::Es256,
        }
    }
}

/// The algorithm of access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AccessTokenAlg {
    /// ECDSA P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
}

/// Lifetimes of codes and tokens, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// Access-token lifetime of clients that register themselves (dynamic
    /// registration, metadata documents) and of those `keyhouse clients
    /// create` registers without `--access-token-ttl`. 60 to 86400.
    pub access_token_ttl: i64,
    /// Authorization-code lifetime. 30 to 600 (RFC 6749 §4.1.2 advises at
    /// most ten minutes).
    pub code_ttl: i64,
    /// ID-token lifetime. 60 to 86400.
    pub id_token_ttl: i64,
    /// Idle lifetime of a refresh token: it expires when unused this long.
    /// At least 60.
    pub refresh_token_ttl: i64,
    /// Absolute lifetime of a refresh-token family, however often it is
    /// used. At least 60.
    pub refresh_family_ttl: i64,
    /// How long an instance caches a client and its secret hashes. Changes
    /// made on one instance reach the others after this. 0 (no cache) to 60.
    pub client_cache_ttl: u64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        let c = Config::default();
        TokenSettings {
            access_token_ttl: c.access_token_ttl,
            code_ttl: c.code_ttl,
            id_token_ttl: c.id_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            refresh_family_ttl: c.refresh_family_ttl,
            client_cache_ttl: c.client_cache_ttl,
        }
    }
}

/// Browser sessions, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// Lifetime of a browser session. At least 60.
    pub ttl: i64,
    /// How recent a sign-in must be for an account with no password to
    /// change its address or delete itself. At least 60.
    pub recent_sign_in: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        let c = Config::default();
        SessionSettings {
            ttl: c.session_ttl,
            recent_sign_in: c.recent_sign_in,
        }
    }
}

/// Sign-up.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SignUpSettings {
    /// Whether people may create accounts.
    pub enabled: bool,
    /// Whether sign-up proves the address before the account exists (it
    /// then answers alike whether or not the address is taken).
    pub verify_email: bool,
    /// Sign-ups accepted per client address per hour (0: no limit).
    pub per_ip_per_hour: i64,
}

impl Default for SignUpSettings {
    fn default() -> Self {
        let c = Config::default();
        SignUpSettings {
            enabled: c.signup_enabled,
            verify_email: c.verify_email_at_signup,
            per_ip_per_hour: c.signups_per_ip_per_hour,
        }
    }
}

/// Sign-in with a password, and its throttling.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoginSettings {
    /// Failed sign-ins allowed per address within `window` before each
    /// further attempt waits (at least 1).
    pub attempts_per_account: i64,
    /// Failed sign-ins allowed per client address within `window` (0: no
    /// limit, e.g. behind a proxy that hides clients).
    pub attempts_per_ip: i64,
    /// The throttling window, seconds (at least 1).
    pub window: i64,
    /// The longest wait between two counted attempts on one account,
    /// seconds (the wait after the kth is 15·k² up to this).
    pub max_delay: i64,
}

impl Default for LoginSettings {
    fn default() -> Self {
        let c = Config::default();
        LoginSettings {
            attempts_per_account: c.login_attempts_per_account,
            attempts_per_ip: c.login_attempts_per_ip,
            window: c.login_window,
            max_delay: c.login_max_delay,
        }
    }
}

/// Sign-in with a link or code sent by mail, and address verification.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSignInSettings {
    /// Whether people may sign in with a mailed link or code.
    pub enabled: bool,
    /// How long a mailed link and code work, seconds. 120 to 3600.
    pub code_ttl: i64,
    /// Messages sent per address per hour; further requests answer alike
    /// and send nothing.
    pub per_address_per_hour: i64,
    /// Requests accepted per client address per hour.
    pub per_ip_per_hour: i64,
    /// Wrong codes a message survives. 1 to 10.
    pub attempts: i32,
    /// Codes and links checked per client address per hour.
    pub checks_per_ip_per_hour: i64,
}

impl Default for EmailSignInSettings {
    fn default() -> Self {
        let c = Config::default();
        EmailSignInSettings {
            enabled: c.email_sign_in,
            code_ttl: c.email_code_ttl,
            per_address_per_hour: c.email_codes_per_address_per_hour,
            per_ip_per_hour: c.email_codes_per_ip_per_hour,
            attempts: c.email_code_attempts,
            checks_per_ip_per_hour: c.email_code_checks_per_ip_per_hour,
        }
    }
}

/// Password reset by mail.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordResetSettings {
    /// How long a reset link works, seconds. 300 to 86400.
    pub ttl: i64,
    /// Reset mails sent per address per hour.
    pub per_address_per_hour: i64,
    /// Reset requests accepted per client address per hour.
    pub per_ip_per_hour: i64,
}

impl Default for PasswordResetSettings {
    fn default() -> Self {
        let c = Config::default();
        PasswordResetSettings {
            ttl: c.password_reset_ttl,
            per_address_per_hour: c.password_resets_per_address_per_hour,
            per_ip_per_hour: c.password_resets_per_ip_per_hour,
        }
    }
}

/// Organizations' own management.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OrganizationsSettings {
    /// How long an invitation's mailed link works, seconds (default 7
    /// days). 3600 to 2592000 (30 days). Sending it again starts anew.
    pub invitation_ttl: i64,
}

impl Default for OrganizationsSettings {
    fn default() -> Self {
        OrganizationsSettings {
            invitation_ttl: Config::default().invitation_ttl,
        }
    }
}

/// The consent screen's decisions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentSettings {
    /// Decisions accepted per browser session per minute (0: no limit, e.g.
    /// for a benchmark).
    pub decisions_per_minute: i64,
}

impl Default for ConsentSettings {
    fn default() -> Self {
        ConsentSettings {
            decisions_per_minute: Config::default().decisions_per_session_per_minute,
        }
    }
}

/// Who may register a client dynamically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone.
    Open,
    /// No one.
    Off,
    /// Only with an initial access token from `registration_token_file`.
    Token,
}

/// Clients that arrive unannounced.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AgentSettings {
    /// Whether an https `client_id` is read as a Client ID Metadata
    /// Document. The dashboard and `keyhouse agents policy` can change this
    /// at run time; that choice then wins over this one.
    pub metadata_documents: bool,
    /// Accept metadata documents only from these hosts (`*.domain` for its
    /// subdomains). Empty: every host not denied.
    pub allow_domains: Vec<String>,
    /// Refuse metadata documents from these hosts (`*.domain` for its
    /// subdomains).
    pub deny_domains: Vec<String>,
    /// Dynamic client registration: `open`, `off`, or `token`.
    pub registration: Registration,
    /// A file of initial access tokens for `registration = "token"`, one
    /// per line.
    pub registration_token_file: Option<PathBuf>,
    /// Dynamic registrations accepted per client address per hour.
    pub registrations_per_ip_per_hour: i64,
    /// Days after which a self-registered client nobody used is deleted
    /// (at least 1).
    pub unused_client_days: i64,
}

impl Default for AgentSettings {
    fn default() -> Self {
        let a = Config::default().agents;
        AgentSettings {
            metadata_documents: a.metadata_documents,
            allow_domains: a.allowed_domains,
            deny_domains: a.denied_domains,
            registration: Registration::Open,
            registration_token_file: None,
            registrations_per_ip_per_hour: a.registrations_per_ip_per_hour,
            unused_client_days: a.unused_client_days,
        }
    }
}

/// Outgoing mail.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The SMTP server: `smtps://USER@HOST:465` (TLS),
    /// `smtp://USER@HOST:587?tls=required` (STARTTLS), or `smtp://HOST:25`
    /// (unencrypted: a local relay only). Unset: mail is written to
    /// `outbox` instead of being sent.
    pub smtp_url: Option<String>,
    /// A file whose first line is the SMTP password. The URL must then
    /// have none.
    pub smtp_password_file: Option<PathBuf>,
    /// The From of every message (`Name <address>` or an address).
    pub from: String,
    /// Where mail goes when no SMTP server is set, one `.eml` file per
    /// message.
    pub outbox: PathBuf,
    /// A folder of templates replacing the built-in ones
    /// (`password_reset.subject`, `password_reset.txt`, …).
    pub templates: Option<PathBuf>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_url: None,
            smtp_password_file: None,
            from: "Keyhouse <no-reply@localhost>".into(),
            outbox: "data/outbox".into(),
            templates: None,
        }
    }
}

/// The app's pages that Keyhouse's links and redirects lead to: paths on
/// the issuer's origin.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PageSettings {
    /// Sets a new password; reset links lead here with `?token=…`.
    pub reset_password: String,
    /// Where mailed sign-in and verification links lead, with `?token=…`.
    pub email_link: String,
    /// Where links mailed to organization members lead, with `?token=…`.
    pub member_email_link: String,
    /// Where invitations into an organization lead, with `?token=…`.
    pub invitation: String,
    /// The organization sign-in page single sign-on returns to on failure
    /// (`?sso_error=`) or for the authenticator code.
    pub organization_login: String,
    /// The organization settings page a test of single sign-on returns to
    /// (`?sso_test=`).
    pub organization_settings: String,
    /// The sign-out page the `end_session_endpoint` sends the browser to.
    pub logout: String,
}

impl Default for PageSettings {
    fn default() -> Self {
        let c = Config::default();
        PageSettings {
            reset_password: c.reset_password_path,
            email_link: c.email_link_path,
            member_email_link: c.member_email_link_path,
            invitation: c.invitation_path,
            organization_login: c.organization_login_path,
            organization_settings: c.organization_settings_path,
            logout: c.logout_path,
        }
    }
}

/// A value that cannot work, with the key that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The key, e.g. `tokens.code_ttl`.
    pub key: String,
    /// What is wrong, and what would do.
    pub problem: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl std::error::Error for Invalid {}

struct Checks(Vec<Invalid>);

impl Checks {
    fn fail(&mut self, key: &str, problem: impl Into<String>) {
        self.0.push(Invalid {
            key: key.into(),
            problem: problem.into(),
        });
    }

    fn range(&mut self, key: &str, value: i64, min: i64, max: i64) {
        if value < min || value > max {
            let wanted = if max == i64::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            self.fail(key, format!("{value} is out of range: {wanted}"));
        }
    }

    /// [`Checks::range`] for an unsigned value (past `i64::MAX` is out of
    /// any range given here).
    fn range_u64(&mut self, key: &str, value: u64, min: i64, max: i64) {
        match i64::try_from(value) {
            Ok(v) => self.range(key, v, min, max),
            Err(_) => self.fail(key, format!("{value} is out of range: {min} to {max}")),
        }
    }

    fn path(&mut self, key: &str, value: &str) {
        if !value.starts_with('/') || value.starts_with("//") || value.contains('\\') {
            self.fail(key, format!("{value:?} is not a path on this site (/…)"));
        }
    }
}

const DAY: i64 = 86_400;

/// The shortest `housekeeping.purge_interval`, seconds: a purge is a
/// handful of deletes over whole tables, not something to run every second.
const PURGE_INTERVAL_MIN: i64 = 10;

impl Settings {
    /// The issuer: the configured one without a trailing slash, or
    /// `http://` and the listening address.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(i) => i.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.server.bind),
        }
    }

    /// Every value that cannot work, each with its key (none: the settings
    /// may be used). Files are not read here; [`Settings::to_config`] does.
    pub fn check(&self) -> Vec<Invalid> {
        let mut c = Checks(Vec::new());
        self.check_issuer(&mut c);
        if !self.database.url.starts_with("sqlite:")
            && !self.database.url.starts_with("postgres://")
            && !self.database.url.starts_with("postgresql://")
        {
            c.fail(
                "database.url",
                "not a database URL: sqlite://PATH?mode=rwc or postgres://…",
            );
        }
        if self.database.password_file.is_some() && self.database.url.starts_with("sqlite:") {
            c.fail(
                "database.password_file",
                "a SQLite database has no password",
            );
        }
        for p in &self.server.trusted_proxies {
            if keyhouse_axum::IpRange::parse(p).is_none() {
                c.fail(
                    "server.trusted_proxies",
                    format!("{p:?} is not an address or CIDR block"),
                );
            }
        }
        c.range_u64("server.drain_seconds", self.server.drain_seconds, 0, 300);
        c.range_u64(
            "server.shutdown_timeout",
            self.server.shutdown_timeout,
            1,
            300,
        );
        let t = &self.tokens;
        let allowed = keyhouse_core::client::ACCESS_TOKEN_TTL_RANGE;
        c.range(
            "tokens.access_token_ttl",
            t.access_token_ttl,
            *allowed.start(),
            *allowed.end(),
        );
        c.range("tokens.code_ttl", t.code_ttl, 30, 600);
        c.range("tokens.id_token_ttl", t.id_token_ttl, 60, DAY);
        c.range(
            "tokens.refresh_token_ttl",
            t.refresh_token_ttl,
            60,
            i64::MAX,
        );
        c.range(
            "tokens.refresh_family_ttl",
            t.refresh_family_ttl,
            60,
            i64::MAX,
        );
        c.range_u64("tokens.client_cache_ttl", t.client_cache_ttl, 0, 60);
        c.range_u64(
            "housekeeping.purge_interval",
            self.housekeeping.purge_interval,
            PURGE_INTERVAL_MIN,
            DAY,
        );
        c.range("sessions.ttl", self.sessions.ttl, 60, i64::MAX);
        c.range(
            "sessions.recent_sign_in",
            self.sessions.recent_sign_in,
            60,
            i64::MAX,
        );
        c.range(
            "sign_up.per_ip_per_hour",
            self.sign_up.per_ip_per_hour,
            0,
            i64::MAX,
        );
        let l = &self.login;
        c.range(
            "login.attempts_per_account",
            l.attempts_per_account,
            1,
            i64::MAX,
        );
        c.range("login.attempts_per_ip", l.attempts_per_ip, 0, i64::MAX);
        c.range("login.window", l.window, 1, i64::MAX);
        c.range("login.max_delay", l.max_delay, 0, i64::MAX);
        let e = &self.email_sign_in;
        c.range("email_sign_in.code_ttl", e.code_ttl, 120, 3600);
        c.range("email_sign_in.attempts", i64::from(e.attempts), 1, 10);
        for (key, value) in [
            ("email_sign_in.per_address_per_hour", e.per_address_per_hour),
            ("email_sign_in.per_ip_per_hour", e.per_ip_per_hour),
            (
                "email_sign_in.checks_per_ip_per_hour",
                e.checks_per_ip_per_hour,
            ),
            (
                "password_reset.per_address_per_hour",
                self.password_reset.per_address_per_hour,
            ),
            (
                "password_reset.per_ip_per_hour",
                self.password_reset.per_ip_per_hour,
            ),
            (
                "consent.decisions_per_minute",
                self.consent.decisions_per_minute,
            ),
            (
                "agents.registrations_per_ip_per_hour",
                self.agents.registrations_per_ip_per_hour,
            ),
        ] {
            c.range(key, value, 0, i64::MAX);
        }
        c.range("password_reset.ttl", self.password_reset.ttl, 300, DAY);
        c.range(
            "organizations.invitation_ttl",
            self.organizations.invitation_ttl,
            3600,
            30 * DAY,
        );
        c.range(
            "agents.unused_client_days",
            self.agents.unused_client_days,
            1,
            i64::MAX,
        );
        if self.agents.registration == Registration::Token
            && self.agents.registration_token_file.is_none()
        {
            c.fail(
                "agents.registration_token_file",
                "required with registration = \"token\"",
            );
        }
        for (key, list) in [
            ("agents.allow_domains", &self.agents.allow_domains),
            ("agents.deny_domains", &self.agents.deny_domains),
        ] {
            for d in list {
                let host = d.strip_prefix("*.").unwrap_or(d);
                if host.is_empty()
                    || !host
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
                {
                    c.fail(key, format!("{d:?} is not a host name or *.domain"));
                }
            }
        }
        self.check_mail(&mut c);
        if let Some(bind) = &self.metrics.bind {
            match bind.rsplit_once(':').map(|(_, port)| port.parse::<u16>()) {
                Some(Ok(_)) if *bind != self.server.bind => {}
                Some(Ok(_)) => c.fail(
                    "metrics.bind",
                    "the same address as server.bind: metrics need a listener of their own",
                ),
                _ => c.fail("metrics.bind", format!("{bind:?} is not HOST:PORT")),
            }
        }
        self.check_traces(&mut c);
        let p = &self.pages;
        c.path("pages.reset_password", &p.reset_password);
        c.path("pages.email_link", &p.email_link);
        c.path("pages.member_email_link", &p.member_email_link);
        c.path("pages.invitation", &p.invitation);
        c.path("pages.organization_login", &p.organization_login);
        c.path("pages.organization_settings", &p.organization_settings);
        c.path("pages.logout", &p.logout);
        c.0
    }

    fn check_issuer(&self, c: &mut Checks) {
        let Some((host, port)) = self.server.bind.rsplit_once(':') else {
            c.fail("server.bind", "not HOST:PORT");
            return;
        };
        if port.parse::<u16>().is_err() {
            c.fail("server.bind", format!("{port:?} is not a port number"));
        }
        let Some(issuer) = &self.issuer else {
            if !is_loopback(host.trim_start_matches('[').trim_end_matches(']')) {
                c.fail(
                    "issuer",
                    format!(
                        "required when server.bind ({}) is not a loopback address: the public https URL of this server",
                        self.server.bind
                    ),
                );
            }
            return;
        };
        match url::Url::parse(issuer) {
            Err(e) => c.fail("issuer", format!("{issuer:?} is not a URL: {e}")),
            Ok(u) => {
                let loopback = u
                    .host_str()
                    .is_some_and(|h| is_loopback(h.trim_start_matches('[').trim_end_matches(']')));
                if u.scheme() != "https" && !(u.scheme() == "http" && loopback) {
                    c.fail(
                        "issuer",
                        format!("{issuer} must be https (http only on a loopback host)"),
                    );
                }
                if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
                    c.fail(
                        "issuer",
                        format!("{issuer} must have no query, fragment or user"),
                    );
                }
            }
        }
    }

    fn check_traces(&self, c: &mut Checks) {
        let t = &self.traces;
        if let Some(endpoint) = &t.otlp_endpoint {
            if !cfg!(feature = "otlp") {
                c.fail(
                    "traces.otlp_endpoint",
                    "this keyhouse was built without traces: build it with `--features otlp` \
                     (docs/operations.md), or leave the key unset",
                );
            } else {
                match url::Url::parse(endpoint) {
                    Ok(u)
                        if (u.scheme() == "http" || u.scheme() == "https")
                            && u.host_str().is_some_and(|h| !h.is_empty())
                            && u.username().is_empty()
                            && u.password().is_none()
                            && u.fragment().is_none() => {}
                    _ => c.fail(
                        "traces.otlp_endpoint",
                        format!(
                            "{:?} is not an http(s) URL with a host and no user or fragment \
                             (e.g. http://127.0.0.1:4318/v1/traces)",
                            mask_password(endpoint)
                        ),
                    ),
                }
            }
        }
        if t.service_name.trim().is_empty() {
            c.fail("traces.service_name", "empty");
        }
        if !(0.0..=1.0).contains(&t.sample_ratio) {
            c.fail(
                "traces.sample_ratio",
                format!("{} is out of range: 0 to 1", t.sample_ratio),
            );
        }
    }

    fn check_mail(&self, c: &mut Checks) {
        let m = &self.mail;
        if let Some(url) = &m.smtp_url {
            match url::Url::parse(url) {
                Ok(u) if u.scheme() == "smtp" || u.scheme() == "smtps" => {
                    if m.smtp_password_file.is_some() && u.password().is_some() {
                        c.fail(
                            "mail.smtp_password_file",
                            "mail.smtp_url already has a password: keep one of them",
                        );
                    }
                }
                _ => c.fail(
                    "mail.smtp_url",
                    "not an SMTP URL: smtp://… or smtps://… (the password, if any, is not shown)",
                ),
            }
        } else if m.smtp_password_file.is_some() {
            c.fail("mail.smtp_password_file", "set, but mail.smtp_url is not");
        }
        if m.from.trim().is_empty() {
            c.fail("mail.from", "empty");
        }
    }

    /// The database URL with the password from `database.password_file`.
    pub fn database_url(&self) -> Result<String, Invalid> {
        let Some(file) = &self.database.password_file else {
            return Ok(self.database.url.clone());
        };
        let password = read_secret_file("database.password_file", file)?;
        with_password("database", &self.database.url, &password)
    }

    /// The master key file: the configured one, or beside the database.
    pub fn master_key_file(&self) -> PathBuf {
        self.keys
            .master_key_file
            .clone()
            .unwrap_or_else(|| keyhouse_axum::open::default_key_file(&self.database.url))
    }

    /// The library's configuration: `base` (the app's scopes, resources and
    /// roles, from code) with these settings applied and the secret files
    /// read. Call [`Settings::check`] first.
    pub fn to_config(&self, base: Config) -> Result<Config, Invalid> {
        let mut config = base;
        let t = &self.tokens;
        config.access_token_ttl = t.access_token_ttl;
        config.code_ttl = t.code_ttl;
        config.id_token_ttl = t.id_token_ttl;
        config.refresh_token_ttl = t.refresh_token_ttl;
        config.refresh_family_ttl = t.refresh_family_ttl;
        config.client_cache_ttl = t.client_cache_ttl;
        config.access_token_alg = match self.keys.access_token_alg {
            AccessTokenAlg::Es256 => keyhouse_axum::SigningAlg::Es256,
            AccessTokenAlg::Rs256 => keyhouse_axum::SigningAlg::Rs256,
        };
        config.session_ttl = self.sessions.ttl;
        config.recent_sign_in = self.sessions.recent_sign_in;
        config.signup_enabled = self.sign_up.enabled;
        config.verify_email_at_signup = self.sign_up.verify_email;
        config.signups_per_ip_per_hour = self.sign_up.per_ip_per_hour;
        let l = &self.login;
        config.login_attempts_per_account = l.attempts_per_account;
        config.login_attempts_per_ip = l.attempts_per_ip;
        config.login_window = l.window;
        config.login_max_delay = l.max_delay;
        let e = &self.email_sign_in;
        config.email_sign_in = e.enabled;
        config.email_code_ttl = e.code_ttl;
        config.email_codes_per_address_per_hour = e.per_address_per_hour;
        config.email_codes_per_ip_per_hour = e.per_ip_per_hour;
        config.email_code_attempts = e.attempts;
        config.email_code_checks_per_ip_per_hour = e.checks_per_ip_per_hour;
        let r = &self.password_reset;
        config.password_reset_ttl = r.ttl;
        config.password_resets_per_address_per_hour = r.per_address_per_hour;
        config.password_resets_per_ip_per_hour = r.per_ip_per_hour;
        config.decisions_per_session_per_minute = self.consent.decisions_per_minute;
        config.trusted_proxies = self
            .server
            .trusted_proxies
            .iter()
            .filter_map(|p| keyhouse_axum::IpRange::parse(p))
            .collect();
        let a = &self.agents;
        let agents = &mut config.agents;
        agents.metadata_documents = a.metadata_documents;
        agents.allowed_domains = a.allow_domains.clone();
        agents.denied_domains = a.deny_domains.clone();
        agents.registrations_per_ip_per_hour = a.registrations_per_ip_per_hour;
        agents.unused_client_days = a.unused_client_days;
        agents.registration = match a.registration {
            Registration::Open => RegistrationPolicy::Open,
            Registration::Off => RegistrationPolicy::Off,
            Registration::Token => {
                let key = "agents.registration_token_file";
                let file = a
                    .registration_token_file
                    .as_deref()
                    .ok_or_else(|| Invalid {
                        key: key.into(),
                        problem: "required with registration = \"token\"".into(),
                    })?;
                let text = read_file(key, file)?;
                let tokens: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
                if tokens.is_empty() {
                    return Err(Invalid {
                        key: key.into(),
                        problem: format!("{} holds no token", file.display()),
                    });
                }
                RegistrationPolicy::InitialAccessToken(tokens)
            }
        };
        let m = &self.mail;
        let transport = match &m.smtp_url {
            Some(url) => {
                let url = match &m.smtp_password_file {
                    Some(file) => {
                        let password = read_secret_file("mail.smtp_password_file", file)?;
                        with_password("mail.smtp_url", url, &password)?
                    }
                    None => url.clone(),
                };
                keyhouse_axum::MailTransport::Smtp(url)
            }
            None => keyhouse_axum::MailTransport::Outbox(m.outbox.clone()),
        };
        let mut mail = keyhouse_axum::MailConfig::new(m.from.clone(), transport);
        mail.templates = m.templates.clone();
        config.mail = mail;
        let p = &self.pages;
        config.reset_password_path = p.reset_password.clone();
        config.email_link_path = p.email_link.clone();
        config.member_email_link_path = p.member_email_link.clone();
        config.invitation_path = p.invitation.clone();
        config.organization_login_path = p.organization_login.clone();
        config.organization_settings_path = p.organization_settings.clone();
        config.invitation_ttl = self.organizations.invitation_ttl;
        config.logout_path = p.logout.clone();
        config.purge_interval = std::time::Duration::from_secs(self.housekeeping.purge_interval);
        Ok(config)
    }

    /// A copy fit to print: passwords in URLs replaced by `****`.
    pub fn masked(&self) -> Settings {
        let mut s = self.clone();
        s.database.url = mask_password(&s.database.url);
        s.mail.smtp_url = s.mail.smtp_url.as_deref().map(mask_password);
        s
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn read_file(key: &str, file: &Path) -> Result<String, Invalid> {
    std::fs::read_to_string(file).map_err(|e| Invalid {
        key: key.into(),
        problem: format!("{}: {e}", file.display()),
    })
}

/// The first line of a secret file, without its line ending; an empty one
/// is refused.
fn read_secret_file(key: &str, file: &Path) -> Result<String, Invalid> {
    let text = read_file(key, file)?;
    let secret = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if secret.is_empty() {
        return Err(Invalid {
            key: key.into(),
            problem: format!("{}: the first line is empty", file.display()),
        });
    }
    Ok(secret.to_owned())
}

fn with_password(key: &str, url: &str, password: &str) -> Result<String, Invalid> {
    let invalid = |problem: &str| Invalid {
        key: key.into(),
        problem: problem.into(),
    };
    let mut u = url::Url::parse(url).map_err(|_| invalid("not a URL"))?;
    if u.password().is_some() {
        return Err(invalid("the URL already has a password"));
    }
    u.set_password(Some(password))
        .map_err(|()| invalid("this URL cannot carry a password"))?;
    Ok(u.into())
}

/// `url` with its password, if any, replaced by `****`: the user-info
/// part's, and a `password` or `sslpassword` in the query (which the
/// PostgreSQL driver also reads).
pub fn mask_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                // A URL with a password has a host, so this cannot fail.
                let _ = u.set_password(Some("****"));
            }
            let secret = |k: &str| {
                k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword")
            };
            if u.query_pairs().any(|(k, _)| secret(&k)) {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if secret(&k) {
                            "****".to_owned()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.into()
        }
        // Not a URL: it may still hold a secret; show only its scheme.
        Err(_) => match url.split_once(':') {
            Some((scheme, _)) => format!("{scheme}:****"),
            None => "****".into(),
        },
    }
}

#[cfg(test)]
mod tests;
