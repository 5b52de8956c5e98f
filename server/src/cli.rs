//! The command-line interface.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use keyhouse_app::server::NotesStore;
use keyhouse_axum::ClientSpec;
use keyhouse_axum::{Config, Keyhouse, MasterKey};
use keyhouse_core::ClientType;
use keyhouse_core::client::{IdTokenAlg, RefreshPolicy};
use keyhouse_core::rbac;
use keyhouse_core::resource::ProtectedResource;
use keyhouse_store::Store;
use keyhouse_types::admin::UpdateClientRequest;
use keyhouse_types::b2b::{Permission, RequiredSignIn, RoleInfo, ScopeInfo};
use serde_json::json;

use crate::settings::layers::{self, Layer};
use crate::settings::{Settings, reference};
use crate::web::WebApp;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Keyhouse: a self-hosted OAuth 2.1 / OpenID Connect provider.
#[derive(Debug, Parser)]
#[command(name = "keyhouse", version)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// The configuration file (TOML): every key, its default and its
    /// environment variable are in docs/configuration.md. The environment
    /// overrides the file, and flags the environment.
    #[arg(long, env = "KEYHOUSE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// `sqlite://PATH?mode=rwc` or `postgres://…` (`database.url`).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// The master key file, created (mode 0600) on first use
    /// (`keys.master_key_file`). The master key itself can instead come
    /// from the environment variable KEYHOUSE_MASTER_KEY; it is never a
    /// flag, since arguments are visible to every user of the machine.
    #[arg(long, global = true)]
    key_file: Option<PathBuf>,
    /// The issuer URL (`issuer`; also the public base URL of the server).
    #[arg(long, global = true)]
    issuer: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connected Apps.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Agents that onboard themselves: the metadata-document policy and
    /// blocked domains.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Protected resources (APIs and MCP servers tokens are issued for).
    #[command(subcommand)]
    Resources(ResourcesCommand),
    /// Users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Admin API keys.
    #[command(subcommand, name = "admin-keys")]
    AdminKeys(AdminKeysCommand),
    /// Print the audit log, newest first.
    Audit {
        /// How many events.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Organizations (B2B).
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Members of organizations (B2B).
    #[command(subcommand)]
    Members(MembersCommand),
    /// The RBAC policy: roles and custom scopes (B2B).
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Apply database migrations.
    Migrate,
    /// Copy the SQLite database to a new file while it serves, and check
    /// the copy (PostgreSQL: pg_dump, docs/operations.md). The copy is
    /// useless without the master key: keep that apart from it.
    Backup {
        /// The file to write; it must not exist.
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the SQLite database with a backup, after checking it; the
    /// database replaced is moved aside. Stop every instance first.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
    /// Run the server.
    Serve(ServeArgs),
    /// The configuration: check it, print it, or print the reference of
    /// every key.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Read the file, the environment and the flags, and say what is
    /// wrong (exit status 1) or that nothing is. Secret files are read;
    /// the database is not opened.
    Check,
    /// Print the file the layers add up to, passwords masked.
    Print,
    /// Print the reference of every key (docs/configuration.md).
    Reference,
}

/// `keyhouse serve`: every flag overrides a key of the configuration.
#[derive(Debug, Clone, clap::Args)]
struct ServeArgs {
    /// Address to listen on (`server.bind`, default 127.0.0.1:3000).
    #[arg(long)]
    bind: Option<String>,
    /// The example app's Trunk output (`trunk build`), served at `/`
    /// (`server.static_dir`, default `dist`).
    #[arg(long)]
    static_dir: Option<PathBuf>,
    #[command(flatten)]
    limits: Limits,
    #[command(flatten)]
    mail: MailArgs,
}

/// Outgoing mail of `serve` (password-reset links and security notices).
#[derive(Debug, Clone, clap::Args)]
struct MailArgs {
    /// The SMTP server, as a URL (`mail.smtp_url`): `smtps://USER@HOST:465`
    /// (TLS), `smtp://USER@HOST:587?tls=required` (STARTTLS), or
    /// `smtp://HOST:25` (unencrypted, a local relay only). Without one,
    /// mail is written to the outbox folder instead of being sent.
    #[arg(long)]
    smtp_url: Option<String>,
    /// The From of every message (`mail.from`).
    #[arg(long)]
    mail_from: Option<String>,
    /// Where mail goes when no SMTP server is set, one `.eml` file per
    /// message (`mail.outbox`).
    #[arg(long)]
    outbox: Option<PathBuf>,
    /// A folder of templates replacing the built-in ones
    /// (`mail.templates`).
    #[arg(long)]
    mail_templates: Option<PathBuf>,
}

impl MailArgs {
    fn layer(&self, flags: &mut Layer) {
        if let Some(v) = &self.smtp_url {
            flags.set("--smtp-url", "mail.smtp_url", v.clone());
        }
        if let Some(v) = &self.mail_from {
            flags.set("--mail-from", "mail.from", v.clone());
        }
        if let Some(v) = &self.outbox {
            flags.set("--outbox", "mail.outbox", path_value(v));
        }
        if let Some(v) = &self.mail_templates {
            flags.set("--mail-templates", "mail.templates", path_value(v));
        }
    }
}

fn path_value(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Abuse limits of `serve` (docs/threat-model.md rows 49 and 52).
#[derive(Debug, Clone, clap::Args)]
struct Limits {
    /// A proxy whose X-Forwarded-For is believed for per-IP limits: an
    /// address or CIDR block (repeat; `server.trusted_proxies`).
    #[arg(long = "trusted-proxy", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Authorization decisions accepted per browser session per minute
    /// (`consent.decisions_per_minute`; 0 turns the limit off).
    #[arg(long)]
    decisions_per_minute: Option<i64>,
    /// Sign-ups accepted per client IP per hour (`sign_up.per_ip_per_hour`).
    #[arg(long)]
    signups_per_ip_per_hour: Option<i64>,
    /// Read an https client_id as a Client ID Metadata Document
    /// (`on` or `off`; `agents.metadata_documents`).
    #[arg(long)]
    metadata_documents: Option<String>,
    /// Accept metadata documents only from this host, or `*.domain` for its
    /// subdomains (repeat; `agents.allow_domains`).
    #[arg(long = "agent-allow-domain", value_delimiter = ',')]
    agent_allow_domains: Vec<String>,
    /// Refuse metadata documents from this host or `*.domain` (repeat;
    /// `agents.deny_domains`).
    #[arg(long = "agent-deny-domain", value_delimiter = ',')]
    agent_deny_domains: Vec<String>,
    /// Dynamic client registration: `open`, `off`, or `token`
    /// (`agents.registration`).
    #[arg(long)]
    registration: Option<String>,
    /// A file of initial access tokens for registration, one per line
    /// (`agents.registration_token_file`).
    #[arg(long)]
    registration_token_file: Option<PathBuf>,
    /// Dynamic registrations accepted per client IP per hour
    /// (`agents.registrations_per_ip_per_hour`).
    #[arg(long)]
    registrations_per_ip_per_hour: Option<i64>,
    /// TESTS ONLY, never in production: fetch client metadata documents
    /// from loopback addresses (the end-to-end tests serve them there). A
    /// flag only, with no environment variable, so no configuration turns
    /// it on unseen; the server logs a warning when it is set.
    #[arg(long)]
    insecure_test_only_loopback_metadata: bool,
    /// TESTS ONLY: also trust this CA certificate (PEM file) when fetching
    /// metadata documents.
    #[arg(long)]
    insecure_test_only_metadata_ca: Option<PathBuf>,
    /// TESTS ONLY: resolve NAME to the address IP when fetching metadata
    /// documents (NAME=IP; repeat).
    #[arg(long)]
    insecure_test_only_resolve: Vec<String>,
}

impl Limits {
    fn layer(&self, flags: &mut Layer) -> Result<(), Error> {
        if !self.trusted_proxies.is_empty() {
            flags.set(
                "--trusted-proxy",
                "server.trusted_proxies",
                self.trusted_proxies.clone(),
            );
        }
        if let Some(v) = self.decisions_per_minute {
            flags.set("--decisions-per-minute", "consent.decisions_per_minute", v);
        }
        if let Some(v) = self.signups_per_ip_per_hour {
            flags.set("--signups-per-ip-per-hour", "sign_up.per_ip_per_hour", v);
        }
        if let Some(v) = &self.metadata_documents {
            let on = match v.as_str() {
                "on" => true,
                "off" => false,
                other => return Err(format!("--metadata-documents {other}: on or off").into()),
            };
            flags.set("--metadata-documents", "agents.metadata_documents", on);
        }
        if !self.agent_allow_domains.is_empty() {
            flags.set(
                "--agent-allow-domain",
                "agents.allow_domains",
                self.agent_allow_domains.clone(),
            );
        }
        if !self.agent_deny_domains.is_empty() {
            flags.set(
                "--agent-deny-domain",
                "agents.deny_domains",
                self.agent_deny_domains.clone(),
            );
        }
        if let Some(v) = &self.registration {
            flags.set("--registration", "agents.registration", v.clone());
        }
        if let Some(v) = &self.registration_token_file {
            flags.set(
                "--registration-token-file",
                "agents.registration_token_file",
                path_value(v),
            );
        }
        if let Some(v) = self.registrations_per_ip_per_hour {
            flags.set(
                "--registrations-per-ip-per-hour",
                "agents.registrations_per_ip_per_hour",
                v,
            );
        }
        Ok(())
    }

    fn apply_test_only(&self, config: &mut Config) -> Result<(), Error> {
        let agents = &mut config.agents;
        agents.insecure_allow_loopback_metadata_for_tests =
            self.insecure_test_only_loopback_metadata;
        if let Some(file) = &self.insecure_test_only_metadata_ca {
            agents.test_ca_pem = Some(
                std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?,
            );
        }
        if !self.insecure_test_only_resolve.is_empty() {
            let mut names = std::collections::HashMap::new();
            for entry in &self.insecure_test_only_resolve {
                let (name, ip) = entry
                    .split_once('=')
                    .and_then(|(n, ip)| Some((n.to_ascii_lowercase(), ip.parse().ok()?)))
                    .ok_or_else(|| format!("--insecure-test-only-resolve {entry}: NAME=IP"))?;
                names.entry(name).or_insert_with(Vec::new).push(ip);
            }
            agents.test_lookup = keyhouse_axum::config::LookupOverride(Some(std::sync::Arc::new(
                keyhouse_axum::agents::fetch::StaticLookup(names),
            )));
        }
        if self.insecure_test_only_loopback_metadata
            || self.insecure_test_only_metadata_ca.is_some()
            || !self.insecure_test_only_resolve.is_empty()
        {
            tracing::warn!(
                "TEST-ONLY metadata fetching options are on: never run like this in production"
            );
        }
        Ok(())
    }
}

/// `keyhouse clients create`.
#[derive(Debug, clap::Args)]
struct CreateClientArgs {
    /// Display name shown on the consent screen.
    #[arg(long)]
    name: String,
    /// first_party, first_party_public, third_party or third_party_public.
    #[arg(long = "type")]
    client_type: String,
    /// An exact redirect URI (repeat for several).
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    /// Description shown on the consent screen.
    #[arg(long, default_value = "")]
    description: String,
    /// https logo URL.
    #[arg(long)]
    logo_uri: Option<String>,
    /// Access-token lifetime in seconds (default `tokens.access_token_ttl`
    /// of the configuration, 3600).
    #[arg(long)]
    access_token_ttl: Option<i64>,
    /// When refresh tokens are issued: `offline_access` (the default:
    /// only when that scope is granted on consent) or `always` (consent
    /// then says access continues until revoked).
    #[arg(long)]
    refresh_policy: Option<String>,
    /// A grant type it may use (repeat): authorization_code,
    /// refresh_token, client_credentials. Default: the first two.
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Let it introspect access tokens issued to other clients.
    #[arg(long)]
    resource_server: bool,
    /// Pin its token endpoint authentication method
    /// (client_secret_basic or client_secret_post).
    #[arg(long)]
    token_endpoint_auth_method: Option<String>,
    /// Where the browser may go after signing out (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Where to post logout tokens when a session it signed in with ends.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// Its logout tokens must name the session (`sid`).
    #[arg(long)]
    backchannel_logout_session_required: bool,
    /// What its ID tokens are signed with: RS256 (the default, which every
    /// OpenID Connect client supports), ES256 or EdDSA.
    #[arg(long)]
    id_token_alg: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `keyhouse clients update`.
#[derive(Debug, clap::Args)]
struct UpdateClientArgs {
    /// The client id.
    id: String,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// https logo URL ("" removes it).
    #[arg(long)]
    logo_uri: Option<String>,
    /// The whole list of redirect URIs (repeat).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// first_party or third_party (confidential), first_party_public or third_party_public.
    #[arg(long = "type")]
    client_type: Option<String>,
    /// Access-token lifetime in seconds.
    #[arg(long)]
    access_token_ttl: Option<i64>,
    /// always or offline_access.
    #[arg(long)]
    refresh_policy: Option<String>,
    /// A custom `aud` for its access tokens ("" removes it).
    #[arg(long)]
    audience: Option<String>,
    /// Extra access-token claims, a JSON object ("" removes it).
    #[arg(long)]
    claims_template: Option<String>,
    /// The whole list of grant types (repeat).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// true or false: whether it may introspect other clients' tokens.
    #[arg(long)]
    resource_server: Option<bool>,
    /// Pin an authentication method ("" unpins it).
    #[arg(long)]
    token_endpoint_auth_method: Option<String>,
    /// The whole list of post-logout redirect URIs (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// The back-channel logout URI ("" removes it).
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// Whether its logout tokens must name the session.
    #[arg(long)]
    backchannel_logout_session_required: Option<bool>,
    /// What its ID tokens are signed with: RS256, ES256 or EdDSA.
    #[arg(long)]
    id_token_alg: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Register a Connected App. The secret is printed once.
    Create(CreateClientArgs),
    /// List Connected Apps.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a Connected App and revoke everything issued to it.
    Delete {
        /// The client id.
        id: String,
    },
    /// Rotate a client's secret: start, then complete (or cancel).
    #[command(subcommand)]
    Rotate(RotateCommand),
    /// Print one Connected App as JSON.
    Show {
        /// The client id.
        id: String,
    },
    /// Change a Connected App: only the options given change.
    Update(UpdateClientArgs),
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// A file holding the password (8 to 128 characters; one line), or
        /// `-` for standard input. Never a flag value: arguments are visible
        /// to every user of the machine in the process list.
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Make the user an operator (admin API and dashboard).
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminKeysCommand {
    /// Create an admin API key; it is printed once (only its hash is kept).
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
    },
    /// List admin API keys (never the keys).
    List,
    /// Revoke an admin API key.
    Revoke {
        /// The key's id (`key-…`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum RotateCommand {
    /// Issue a second secret (printed once); both work until complete or cancel.
    Start {
        /// The client id.
        id: String,
    },
    /// The new secret replaces the old one, which stops working.
    Complete {
        /// The client id.
        id: String,
    },
    /// Discard the new secret.
    Cancel {
        /// The client id.
        id: String,
    },
}

async fn admin_keys(global: &Global, command: AdminKeysCommand) -> Result<(), Error> {
    let kh = open(global).await?;
    match command {
        AdminKeysCommand::Create { name } => {
            let (id, key) = kh.create_api_key(&name).await?;
            println!(
                "id:  {id}\nkey: {key}\n(the key is shown only now; Keyhouse keeps only a hash)"
            );
        }
        AdminKeysCommand::List => {
            for (id, name, created, revoked) in kh.store().list_api_keys().await? {
                let state = revoked.map_or_else(|| "active".to_owned(), |r| format!("revoked {r}"));
                println!("{id}\t{name}\t{created}\t{state}");
            }
        }
        AdminKeysCommand::Revoke { id } => {
            if !kh.store().revoke_api_key(&id, kh.now()).await? {
                return Err(format!("no active key {id}").into());
            }
            kh.audit("cli", "api_key.revoked", None, json!({ "id": id }))
                .await;
            println!("revoked {id}");
        }
    }
    Ok(())
}

async fn rotate(kh: &Keyhouse, command: RotateCommand) -> Result<(), Error> {
    match command {
        RotateCommand::Start { id } => {
            let secret = kh.start_secret_rotation(&id, "cli").await?;
            println!(
                "client_secret: {secret}\n(both secrets work until `keyhouse clients rotate complete {id}`)"
            );
        }
        RotateCommand::Complete { id } => {
            kh.finish_secret_rotation(&id, true, "cli").await?;
            println!("completed: only the new secret works");
        }
        RotateCommand::Cancel { id } => {
            kh.finish_secret_rotation(&id, false, "cli").await?;
            println!("cancelled: the new secret was discarded");
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
enum OrgsCommand {
    /// Create an organization (every kind of Connected App allowed).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Unique slug: 2 to 40 of a-z, 0-9 and '-'.
        #[arg(long)]
        slug: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List organizations.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set what an organization asks of its members' sign-in (an
    /// operator's way back when no admin can meet the requirement, e.g.
    /// passkeys after the service moved to another address). Raising it
    /// revokes the grants made from weaker sign-ins.
    SetSignIn {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// `one_factor`, `two_factors` or `passkey`.
        #[arg(long)]
        require: String,
    },
    /// Verify that an organization holds an e-mail domain (checked by you,
    /// e.g. a DNS record or the contract): people who prove an address at
    /// it may then join, if the organization set a join role. Claims the
    /// domain for it first when nobody does.
    VerifyDomain {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// The domain, e.g. example.com.
        #[arg(long)]
        domain: String,
    },
}

#[derive(Debug, Subcommand)]
enum MembersCommand {
    /// Add a member to an organization (an email may be a member of several).
    Create {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// A file holding the password (8 to 128 characters; one line), or
        /// `-` for standard input. Never a flag value: arguments are visible
        /// to every user of the machine in the process list.
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// A role (repeat for several). Default: member.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List an organization's members.
    List {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RolesCommand {
    /// Print the roles and custom scopes.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Define or replace a role.
    Set {
        /// The role id, e.g. `editor`.
        role_id: String,
        /// What the role is for.
        #[arg(long, default_value = "")]
        description: String,
        /// `resource:action,action` (repeat; `*` for any), e.g. `notes:read,create`.
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Define or replace a custom scope (it must be in the scope catalog).
    Scope {
        /// The scope, e.g. `notes:write`.
        scope: String,
        /// Plain words for the consent screen.
        #[arg(long, default_value = "")]
        description: String,
        /// `resource:action,action` (repeat).
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
    },
}

/// `notes:read,create` → the permission; `*:*` for everything.
fn parse_permission(raw: &str) -> Result<Permission, Error> {
    let (resource, actions) = raw
        .rsplit_once(':')
        .filter(|(r, a)| !r.is_empty() && !a.is_empty())
        .ok_or_else(|| format!("permission {raw:?}: use resource:action[,action…]"))?;
    Ok(Permission {
        resource_id: resource.to_owned(),
        actions: actions.split(',').map(|a| a.trim().to_owned()).collect(),
    })
}

fn show_permissions(perms: &[Permission]) -> String {
    perms
        .iter()
        .map(|p| format!("{}:{}", p.resource_id, p.actions.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn orgs(global: &Global, command: OrgsCommand) -> Result<(), Error> {
    let kh = open(global).await?;
    match command {
        OrgsCommand::Create {
            name,
            slug,
            json: as_json,
        } => {
            let org = kh.create_organization(&name, &slug).await?;
            if as_json {
                println!(
                    "{}",
                    json!({"organization_id": org.id, "slug": org.slug, "name": org.name})
                );
            } else {
                println!("organization_id: {}\nslug:            {}", org.id, org.slug);
            }
        }
        OrgsCommand::List { json: as_json } => {
            let all = kh.store().list_organizations().await?;
            if as_json {
                let v: Vec<_> = all
                    .iter()
                    .map(|o| json!({"organization_id": o.id, "slug": o.slug, "name": o.name, "connected_apps": o.connected_apps, "required_sign_in": o.required_sign_in}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for o in &all {
                    println!("{}\t{}\t{}", o.id, o.slug, o.name);
                }
            }
        }
        OrgsCommand::SetSignIn { org, require } => {
            let required = RequiredSignIn::parse(&require).ok_or_else(|| {
                format!("--require {require}: one_factor, two_factors or passkey")
            })?;
            let found = kh
                .store()
                .find_organization_by_slug(&org)
                .await?
                .ok_or_else(|| format!("no organization with the slug {org}"))?;
            let revoked = kh
                .require_sign_in(&found.id, required, "operator:cli")
                .await?;
            println!(
                "{}: members must now sign in with {}; {revoked} grant(s) revoked",
                found.slug,
                required.as_str()
            );
        }
        OrgsCommand::VerifyDomain { org, domain } => {
            let domain = kh.verify_organization_domain(&org, &domain, "cli").await?;
            println!("{org}: {domain} verified");
        }
    }
    Ok(())
}

async fn members(global: &Global, command: MembersCommand) -> Result<(), Error> {
    let kh = open(global).await?;
    match command {
        MembersCommand::Create {
            org,
            email,
            password_file,
            name,
            roles,
            json: as_json,
        } => {
            let roles = if roles.is_empty() {
                vec!["member".to_owned()]
            } else {
                roles
            };
            let m = kh
                .create_member(&org, &email, &read_secret(&password_file)?, &name, &roles)
                .await?;
            if as_json {
                println!(
                    "{}",
                    json!({"member_id": m.id, "organization_id": m.organization_id, "email": m.email, "roles": m.roles})
                );
            } else {
                println!("member_id: {}", m.id);
            }
        }
        MembersCommand::List { org, json: as_json } => {
            let o = kh
                .store()
                .find_organization_by_slug(&org)
                .await?
                .ok_or_else(|| format!("no organization {org}"))?;
            let all = kh.store().list_members(&o.id).await?;
            if as_json {
                let v: Vec<_> = all
                    .iter()
                    .map(|m| json!(keyhouse_axum::b2b::member_info(m)))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for m in &all {
                    println!("{}\t{}\t{}\t{}", m.id, m.email, m.roles.join(","), m.status);
                }
            }
        }
    }
    Ok(())
}

/// `keyhouse agents policy`.
#[derive(Debug, clap::Args)]
struct PolicyArgs {
    /// Read metadata documents at all: on or off.
    #[arg(long, value_parser = ["on", "off"])]
    metadata_documents: Option<String>,
    /// Accept only these hosts (`host` or `*.domain`); repeat.
    #[arg(long = "allow")]
    allow: Vec<String>,
    /// Refuse these hosts; repeat.
    #[arg(long = "deny")]
    deny: Vec<String>,
    /// Empty the allow list (every host not denied is accepted).
    #[arg(long, conflicts_with = "allow")]
    allow_any: bool,
    /// Go back to the configuration's policy.
    #[arg(long, conflicts_with_all = ["metadata_documents", "allow", "deny", "allow_any"])]
    reset: bool,
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    /// Refuse client metadata documents from a domain and its subdomains;
    /// the clients it published are deleted and their grants revoked.
    Block {
        /// The host name, e.g. agent.example.
        domain: String,
    },
    /// Accept a blocked domain again.
    Unblock {
        /// The host name.
        domain: String,
    },
    /// Block one agent by its client id (its metadata document URL): it is
    /// deleted, its grants and tokens revoked, and its document refused.
    BlockClient {
        /// The client id URL.
        client_id: String,
    },
    /// Accept a blocked agent again.
    UnblockClient {
        /// The client id URL.
        client_id: String,
    },
    /// List the blocked domains and agents.
    Blocked,
    /// Show the metadata-document policy, or override the configuration's
    /// with the flags given (domains the new policy refuses lose their
    /// clients, grants and tokens).
    Policy(PolicyArgs),
}

#[derive(Debug, Subcommand)]
enum ResourcesCommand {
    /// List every resource, declared in code or registered here.
    List,
    /// Register a resource, or replace one registered before.
    Add {
        /// Its URI (https; http only on loopback): the `aud` of its tokens.
        uri: String,
        /// The name shown on consent.
        #[arg(long)]
        name: String,
        /// A scope it understands; repeat.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A scope a request naming none gets; repeat.
        #[arg(long = "default-scope")]
        default_scopes: Vec<String>,
        /// Also accept tokens issued without a resource.
        #[arg(long)]
        accepts_unbound_tokens: bool,
    },
    /// Remove a registered resource; its grants and tokens are revoked.
    Remove {
        /// Its URI.
        uri: String,
    },
}

async fn resources(global: &Global, command: ResourcesCommand) -> Result<(), Error> {
    let kh = open(global).await?;
    match command {
        ResourcesCommand::List => {
            for r in kh.resource_views().await? {
                println!(
                    "{}\t{}\t{}\tscopes={}\tdefault={}{}",
                    r.uri,
                    r.source,
                    r.name,
                    r.scopes.join(","),
                    r.default_scopes.join(","),
                    if r.accepts_unbound_tokens {
                        "\taccepts unbound tokens"
                    } else {
                        ""
                    }
                );
            }
        }
        ResourcesCommand::Add {
            uri,
            name,
            scopes,
            default_scopes,
            accepts_unbound_tokens,
        } => {
            let view = kh
                .register_resource(&keyhouse_types::admin::ResourceRequest {
                    uri,
                    name,
                    scopes,
                    default_scopes,
                    accepts_unbound_tokens,
                })
                .await?;
            kh.audit(
                "cli",
                "resource.registered",
                None,
                json!({ "uri": view.uri, "scopes": view.scopes }),
            )
            .await;
            println!("registered {} ({})", view.uri, view.metadata_url);
        }
        ResourcesCommand::Remove { uri } => {
            if !kh.unregister_resource(&uri).await? {
                return Err(format!("{uri} is not a registered resource").into());
            }
            kh.audit("cli", "resource.removed", None, json!({ "uri": uri }))
                .await;
            println!("removed {uri}; its grants and tokens are revoked");
        }
    }
    Ok(())
}

fn print_policy(s: &keyhouse_types::admin::AgentSettings) {
    let list = |l: &[String]| {
        if l.is_empty() {
            "-".to_owned()
        } else {
            l.join(",")
        }
    };
    println!(
        "metadata documents: {}",
        if s.policy.metadata_documents {
            "on"
        } else {
            "off"
        }
    );
    println!("allowed domains: {}", list(&s.policy.allowed_domains));
    println!("denied domains: {}", list(&s.policy.denied_domains));
    println!("blocked domains: {}", list(&s.blocked_domains));
    println!("blocked agents: {}", list(&s.blocked_clients));
    println!("dynamic registration: {}", s.registration);
    println!("policy from: {}", s.policy_source);
}

async fn agents(global: &Global, command: AgentsCommand) -> Result<(), Error> {
    let kh = open(global).await?;
    match command {
        AgentsCommand::Block { domain } => {
            let removed = kh.block_agent_domain(&domain).await?;
            kh.audit(
                "cli",
                "agents.domain_blocked",
                None,
                json!({ "domain": domain, "clients_removed": removed }),
            )
            .await;
            println!("blocked {domain}; {removed} client(s) removed and their grants revoked");
        }
        AgentsCommand::Unblock { domain } => {
            if !kh.unblock_agent_domain(&domain).await? {
                return Err(format!("{domain} is not blocked").into());
            }
            kh.audit(
                "cli",
                "agents.domain_unblocked",
                None,
                json!({ "domain": domain }),
            )
            .await;
            println!("unblocked {domain}");
        }
        AgentsCommand::BlockClient { client_id } => {
            let removed = kh.block_agent_client(&client_id).await?;
            kh.audit(
                "cli",
                "agents.client_blocked",
                Some(&client_id),
                json!({ "client_removed": removed }),
            )
            .await;
            println!("blocked {client_id}; its grants and tokens are revoked");
        }
        AgentsCommand::UnblockClient { client_id } => {
            if !kh.unblock_agent_client(&client_id).await? {
                return Err(format!("{client_id} is not blocked").into());
            }
            kh.audit(
                "cli",
                "agents.client_unblocked",
                Some(&client_id),
                json!({}),
            )
            .await;
            println!("unblocked {client_id}");
        }
        AgentsCommand::Blocked => {
            for d in kh.blocked_agent_domains().await? {
                println!("{d}");
            }
            for c in kh.blocked_agent_clients().await? {
                println!("{c}");
            }
        }
        AgentsCommand::Policy(args) => agent_policy(&kh, args).await?,
    }
    Ok(())
}

async fn roles(global: &Global, command: RolesCommand) -> Result<(), Error> {
    let kh = open(global).await?;
    match command {
        RolesCommand::List { json: as_json } => {
            let policy = kh.rbac().await?;
            if as_json {
                println!(
                    "{}",
                    json!({"roles": policy.roles, "scopes": policy.scopes})
                );
            } else {
                for r in &policy.roles {
                    println!("role  {}\t{}", r.role_id, show_permissions(&r.permissions));
                }
                for s in &policy.scopes {
                    println!("scope {}\t{}", s.scope, show_permissions(&s.permissions));
                }
            }
        }
        RolesCommand::Set {
            role_id,
            description,
            permissions,
        } => {
            let permissions = permissions
                .iter()
                .map(|p| parse_permission(p))
                .collect::<Result<Vec<_>, _>>()?;
            kh.put_role(&RoleInfo {
                role_id: role_id.clone(),
                description,
                permissions,
            })
            .await?;
            println!("role {role_id} saved");
        }
        RolesCommand::Scope {
            scope,
            description,
            permissions,
        } => {
            let permissions = permissions
                .iter()
                .map(|p| parse_permission(p))
                .collect::<Result<Vec<_>, _>>()?;
            kh.put_scope(&ScopeInfo {
                scope: scope.clone(),
                description,
                permissions,
            })
            .await?;
            println!("scope {scope} saved");
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Promote the published next keys to signing, retire the current ones
    /// (they stay in the JWKS until their tokens expire) and publish new next keys.
    Rotate,
    /// The published keys: next, current and retiring, with their times.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The example application's API scopes.
pub fn example_config(issuer: &str) -> Config {
    let mut config = Config::for_issuer(issuer);
    config.scopes = config
        .scopes
        .clone()
        .with_scope("notes:read", "Read your notes")
        .with_scope("notes:write", "Create and delete your notes");
    // B2B: organization notes. A `member` may read and add notes but not
    // delete them, so it can grant notes:read but not notes:write.
    for role in &mut config.rbac_defaults.roles {
        if role.role_id == "member" {
            role.permissions = vec![rbac::permission("notes", &["read", "create"])];
        }
    }
    // The two resources agents ask tokens for (RFC 8707, RFC 9728). The
    // API also takes tokens issued without a resource (GPT Actions send
    // none); the MCP server only tokens bound to it.
    let notes = &["notes:read", "notes:write"];
    let issuer = config.issuer.clone();
    config.resources = [
        ProtectedResource::new(&format!("{issuer}/api"), "Notes API").map(|r| {
            r.with_scopes(notes)
                .with_default_scopes(&["notes:read"])
                .accepting_unbound_tokens()
        }),
        ProtectedResource::new(&format!("{issuer}/mcp"), "Notes MCP server")
            .map(|r| r.with_scopes(notes).with_default_scopes(&["notes:read"])),
    ]
    .into_iter()
    .filter_map(Result::ok)
    .collect();
    config.rbac_defaults.scopes = vec![
        ScopeInfo {
            scope: "notes:read".into(),
            description: "Read your organization's notes".into(),
            permissions: vec![rbac::permission("notes", &["read"])],
        },
        ScopeInfo {
            scope: "notes:write".into(),
            description: "Create and delete your organization's notes".into(),
            permissions: vec![rbac::permission("notes", &["create", "delete"])],
        },
    ];
    config
}

/// Reads a secret from a file, or from standard input for `-`: the first
/// line, without its line ending.
fn read_secret(path: &Path) -> Result<String, Error> {
    let text = if path.as_os_str() == "-" {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
    };
    Ok(text.lines().next().unwrap_or("").to_owned())
}

/// The settings: the configuration file, the environment, and the flags
/// given (the global ones, and `serve`'s).
fn settings(global: &Global, serve: Option<&ServeArgs>) -> Result<Settings, Error> {
    let mut flags = Layer::new("flag");
    if let Some(v) = &global.issuer {
        flags.set("--issuer", "issuer", v.clone());
    }
    if let Some(v) = &global.database_url {
        flags.set("--database-url", "database.url", v.clone());
    }
    if let Some(v) = &global.key_file {
        flags.set("--key-file", "keys.master_key_file", path_value(v));
    }
    if let Some(serve) = serve {
        if let Some(v) = &serve.bind {
            flags.set("--bind", "server.bind", v.clone());
        }
        if let Some(v) = &serve.static_dir {
            flags.set("--static-dir", "server.static_dir", path_value(v));
        }
        serve.limits.layer(&mut flags)?;
        serve.mail.layer(&mut flags);
    }
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let loaded =
        Layer::environment(env).and_then(|env| layers::load(global.config.as_deref(), env, flags));
    loaded.map_err(|problems| {
        format!(
            "the configuration cannot be used:\n  {}",
            problems.join("\n  ")
        )
        .into()
    })
}

/// The log format of the settings the command will read; the text format
/// when they cannot be read (the command then says why).
pub fn log_format(cli: &Cli) -> crate::settings::LogFormat {
    let serve = match &cli.command {
        Command::Serve(args) => Some(args),
        _ => None,
    };
    settings(&cli.global, serve).map_or(crate::settings::LogFormat::Text, |s| s.log.format)
}

/// The traces' settings when the command is `serve` and an endpoint is
/// set (none when the settings cannot be read: the command then says why).
#[cfg(feature = "otlp")]
pub fn trace_settings(cli: &Cli) -> Option<crate::settings::TraceSettings> {
    let Command::Serve(args) = &cli.command else {
        return None;
    };
    settings(&cli.global, Some(args))
        .ok()
        .map(|s| s.traces)
        .filter(|t| t.otlp_endpoint.is_some())
}

/// The metrics listener, bound and its recorder installed before the
/// server starts (so a bad address stops the start, and housekeeping's
/// first purge is counted).
struct MetricsListener {
    listener: tokio::net::TcpListener,
    handle: metrics_exporter_prometheus::PrometheusHandle,
}

impl MetricsListener {
    async fn bind(bind: &str) -> Result<MetricsListener, Error> {
        use keyhouse_axum::http::metrics;
        use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("metrics.bind {bind}: {e}"))?;
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(metrics::HTTP_DURATION.to_owned()),
                &metrics::DURATION_BUCKETS,
            )?
            .set_buckets_for_metric(
                Matcher::Full(keyhouse_store::WRITE_BATCH_SIZE.to_owned()),
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
            )?
            .install_recorder()?;
        metrics::describe();
        metrics::enable();
        Ok(MetricsListener { listener, handle })
    }

    /// Serves `GET /metrics` until the process ends.
    fn serve(self, kh: Keyhouse) -> Result<(), Error> {
        let MetricsListener { listener, handle } = self;
        tracing::info!(addr = %listener.local_addr()?, "metrics at /metrics");
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let (kh, handle) = (kh.clone(), handle.clone());
                async move {
                    kh.observe_gauges().await;
                    handle.run_upkeep();
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        handle.render(),
                    )
                }
            }),
        );
        tokio::spawn(keyhouse_axum::serve(
            listener,
            app,
            std::future::pending::<()>(),
        ));
        Ok(())
    }
}

/// The library's configuration from the settings, secret files read.
fn config_of(settings: &Settings) -> Result<Config, Error> {
    settings
        .to_config(example_config(&settings.issuer()))
        .map_err(|e| format!("the configuration cannot be used:\n  {e}").into())
}

async fn open(global: &Global) -> Result<Keyhouse, Error> {
    let settings = settings(global, None)?;
    open_with(&settings, config_of(&settings)?).await
}

async fn open_with(settings: &Settings, config: Config) -> Result<Keyhouse, Error> {
    let store = Store::connect(&settings.database_url()?).await?;
    store.migrate().await?;
    let master = match std::env::var("KEYHOUSE_MASTER_KEY") {
        Ok(k) if !k.is_empty() => MasterKey::from_base64(&k)?,
        _ => MasterKey::load_or_create(&settings.master_key_file())?,
    };
    Ok(Keyhouse::new(config, store, master).await?)
}

/// `keyhouse config …`.
fn config_command(global: &Global, command: ConfigCommand) -> Result<(), Error> {
    match command {
        ConfigCommand::Reference => print!("{}", reference::markdown()),
        ConfigCommand::Print => {
            let mut effective = settings(global, None)?.masked();
            effective.issuer = Some(effective.issuer());
            print!("{}", reference::to_toml(&effective));
        }
        ConfigCommand::Check => {
            let settings = settings(global, None)?;
            config_of(&settings)?;
            settings.database_url()?;
            let from = global
                .config
                .as_deref()
                .map_or_else(|| "no file".to_owned(), |f| f.display().to_string());
            println!(
                "the configuration is valid ({from}, the environment and flags); issuer {}",
                settings.issuer()
            );
        }
    }
    Ok(())
}

/// Runs a command.
pub async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Migrate => migrate(&cli.global).await,
        Command::Backup { to } => backup(&cli.global, &to).await,
        Command::Restore { from } => restore(&cli.global, &from).await,
        Command::Serve(args) => serve(&cli.global, &args).await,
        Command::Config(c) => config_command(&cli.global, c),
        Command::Clients(c) => clients(&cli.global, c).await,
        Command::Orgs(c) => orgs(&cli.global, c).await,
        Command::Members(c) => members(&cli.global, c).await,
        Command::Roles(c) => roles(&cli.global, c).await,
        Command::Agents(c) => agents(&cli.global, c).await,
        Command::Resources(c) => resources(&cli.global, c).await,
        Command::Users(UsersCommand::Create {
            email,
            password_file,
            name,
            admin,
        }) => create_user(&cli.global, &email, &password_file, &name, admin).await,
        Command::AdminKeys(c) => admin_keys(&cli.global, c).await,
        Command::Audit { limit } => audit(&cli.global, limit).await,
        Command::Keys(KeysCommand::List { json: as_json }) => list_keys(&cli.global, as_json).await,
        Command::Keys(KeysCommand::Rotate) => {
            let kh = open(&cli.global).await?;
            kh.rotate_keys().await?;
            println!(
                "rotated: the next keys now sign; retiring keys stay published until their tokens expire"
            );
            Ok(())
        }
    }
}

async fn migrate(global: &Global) -> Result<(), Error> {
    let settings = settings(global, None)?;
    let store = Store::connect(&settings.database_url()?).await?;
    store.migrate().await?;
    NotesStore::new(store.connection().clone())
        .migrate()
        .await?;
    println!("migrated");
    Ok(())
}

async fn list_keys(global: &Global, as_json: bool) -> Result<(), Error> {
    let kh = open(global).await?;
    let keys = kh.store().list_keys().await?;
    if as_json {
        let v: Vec<_> = keys
            .iter()
            .map(|k| {
                json!({"kid": k.kid, "alg": k.alg, "state": k.state, "created_at": k.created_at,
                       "activated_at": k.activated_at, "retire_at": k.retire_at})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let now = kh.now();
    let when = |t: Option<i64>| match t {
        None => "-".to_owned(),
        Some(t) if t <= now => format!("{t} ({} s ago)", now - t),
        Some(t) => format!("{t} (in {} s)", t - now),
    };
    println!("kid\talg\tstate\tcreated\tsigning since\tleaves the JWKS");
    for k in &keys {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            k.kid,
            k.alg,
            k.state,
            when(Some(k.created_at)),
            when(k.activated_at),
            when(k.retire_at)
        );
    }
    Ok(())
}

async fn backup(global: &Global, to: &Path) -> Result<(), Error> {
    let settings = settings(global, None)?;
    let store = Store::connect(&settings.database_url()?).await?;
    let report = store.backup_to(to).await?;
    println!(
        "backed up to {} ({} bytes, {} migrations applied; the integrity check passed)",
        report.path.display(),
        report.bytes,
        report.migrations
    );
    println!(
        "it needs this deployment's master key ({} or KEYHOUSE_MASTER_KEY) to be of use: keep a copy of the key, apart from the backup",
        settings.master_key_file().display()
    );
    Ok(())
}

async fn restore(global: &Global, from: &Path) -> Result<(), Error> {
    let settings = settings(global, None)?;
    let report = keyhouse_store::backup::restore(&settings.database_url()?, from).await?;
    if let Some(previous) = &report.previous {
        println!("the database replaced was moved to {}", previous.display());
    }
    println!(
        "restored {} to {} ({} migrations applied); the next start migrates it if this version has more",
        from.display(),
        report.restored.path.display(),
        report.restored.migrations
    );
    Ok(())
}

async fn create_user(
    global: &Global,
    email: &str,
    password_file: &Path,
    name: &str,
    admin: bool,
) -> Result<(), Error> {
    let password = read_secret(password_file)?;
    let kh = open(global).await?;
    let user = kh.create_user(email, &password, name).await?;
    if admin {
        kh.store().set_user_admin(&user.id, true).await?;
        kh.audit(
            "cli",
            "user.made_admin",
            None,
            json!({ "user_id": user.id }),
        )
        .await;
    }
    println!(
        "{}",
        json!({"user_id": user.id, "email": user.email, "is_admin": admin})
    );
    Ok(())
}

async fn audit(global: &Global, limit: u64) -> Result<(), Error> {
    let kh = open(global).await?;
    for e in kh.store().list_audit(limit, None, None).await? {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            e.id,
            e.at,
            e.actor,
            e.action,
            e.client_id.unwrap_or_default(),
            e.details
        );
    }
    Ok(())
}

async fn clients(global: &Global, command: ClientsCommand) -> Result<(), Error> {
    let kh = open(global).await?;
    match command {
        ClientsCommand::Create(args) => create_client(&kh, args).await,
        ClientsCommand::List { json: as_json } => list_clients(&kh, as_json).await,
        ClientsCommand::Rotate(r) => rotate(&kh, r).await,
        ClientsCommand::Show { id } => {
            println!("{}", json!(kh.admin_view(&id).await?));
            Ok(())
        }
        ClientsCommand::Update(args) => update_client(&kh, args).await,
        ClientsCommand::Delete { id } => {
            if kh.delete_client(&id).await? {
                println!("deleted {id}");
                Ok(())
            } else {
                Err(format!("no client {id}").into())
            }
        }
    }
}

/// Parses a refresh policy given on the command line.
fn parse_refresh_policy(p: &str) -> Result<RefreshPolicy, Error> {
    RefreshPolicy::parse(p)
        .ok_or_else(|| format!("unknown refresh policy {p}: use always or offline_access").into())
}

/// Parses an ID-token algorithm given on the command line.
fn parse_id_token_alg(a: &str) -> Result<IdTokenAlg, Error> {
    IdTokenAlg::parse(a)
        .ok_or_else(|| format!("unknown ID-token algorithm {a}: use RS256, ES256 or EdDSA").into())
}

async fn create_client(kh: &Keyhouse, args: CreateClientArgs) -> Result<(), Error> {
    let t = ClientType::parse(&args.client_type).ok_or_else(|| {
        format!(
            "unknown client type {}: use first_party, first_party_public, third_party or third_party_public",
            args.client_type
        )
    })?;
    let mut spec = ClientSpec::new(&args.name, t, args.redirect_uris);
    spec.description = args.description;
    spec.logo_uri = args.logo_uri;
    spec.access_token_ttl = args
        .access_token_ttl
        .unwrap_or(kh.config().access_token_ttl);
    spec.refresh_policy = args
        .refresh_policy
        .as_deref()
        .map(parse_refresh_policy)
        .transpose()?;
    spec.grant_types = (!args.grant_types.is_empty()).then_some(args.grant_types);
    spec.resource_server = args.resource_server;
    spec.token_endpoint_auth_method = args.token_endpoint_auth_method;
    spec.post_logout_redirect_uris = args.post_logout_redirect_uris;
    spec.backchannel_logout_uri = args.backchannel_logout_uri;
    spec.backchannel_logout_session_required = args.backchannel_logout_session_required;
    if let Some(a) = args.id_token_alg.as_deref() {
        spec.id_token_alg = parse_id_token_alg(a)?;
    }
    let created = kh.create_client(spec).await?;
    let c = &created.client;
    if args.json {
        let mut v = json!({
            "client_id": c.id, "client_type": c.client_type.as_str(), "name": c.name,
            "redirect_uris": c.redirect_uris, "access_token_ttl": c.access_token_ttl,
            "refresh_policy": c.refresh_policy.as_str(),
            "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "resource_server": c.resource_server,
            "id_token_signed_response_alg": c.id_token_alg.as_str(),
        });
        if let Some(s) = &created.client_secret {
            v["client_secret"] = json!(s);
        }
        println!("{v}");
    } else {
        println!("client_id:     {}", c.id);
        if let Some(s) = &created.client_secret {
            println!("client_secret: {s}");
            println!("(the secret is shown only now; Keyhouse keeps only a hash)");
        }
    }
    Ok(())
}

async fn list_clients(kh: &Keyhouse, as_json: bool) -> Result<(), Error> {
    let all = kh.store().list_clients().await?;
    if as_json {
        let v: Vec<_> = all
            .iter()
            .map(|c| {
                json!({"client_id": c.id, "client_type": c.client_type.as_str(), "name": c.name,
                       "redirect_uris": c.redirect_uris, "created_at": c.created_at})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        for c in &all {
            println!(
                "{}\t{}\t{}\t{}",
                c.id,
                c.client_type.as_str(),
                c.name,
                c.redirect_uris.join(" ")
            );
        }
    }
    Ok(())
}

async fn update_client(kh: &Keyhouse, args: UpdateClientArgs) -> Result<(), Error> {
    let client_type = match args.client_type {
        None => None,
        Some(t) => Some(ClientType::parse(&t).ok_or_else(|| format!("unknown client type {t}"))?),
    };
    let req = UpdateClientRequest {
        name: args.name,
        description: args.description,
        logo_uri: args.logo_uri,
        redirect_uris: (!args.redirect_uris.is_empty()).then_some(args.redirect_uris),
        client_type,
        access_token_ttl: args.access_token_ttl,
        refresh_policy: args
            .refresh_policy
            .as_deref()
            .map(parse_refresh_policy)
            .transpose()?,
        audience: args.audience,
        claims_template: args.claims_template,
        grant_types: (!args.grant_types.is_empty()).then_some(args.grant_types),
        resource_server: args.resource_server,
        token_endpoint_auth_method: args.token_endpoint_auth_method,
        post_logout_redirect_uris: (!args.post_logout_redirect_uris.is_empty())
            .then_some(args.post_logout_redirect_uris),
        backchannel_logout_uri: args.backchannel_logout_uri,
        backchannel_logout_session_required: args.backchannel_logout_session_required,
        id_token_signed_response_alg: args
            .id_token_alg
            .as_deref()
            .map(parse_id_token_alg)
            .transpose()?
            .map(|a| a.as_str().to_owned()),
    };
    kh.update_client(&args.id, req, "cli").await?;
    println!("{}", json!(kh.admin_view(&args.id).await?));
    Ok(())
}

/// `keyhouse agents policy`: shows the policy, or changes it with the flags
/// given (or resets it to the configuration's).
async fn agent_policy(kh: &Keyhouse, args: PolicyArgs) -> Result<(), Error> {
    let current = kh.agent_settings().await?;
    let changed = args.metadata_documents.is_some()
        || !args.allow.is_empty()
        || !args.deny.is_empty()
        || args.allow_any;
    let policy = if args.reset {
        None
    } else if changed {
        let mut p = current.policy.clone();
        if let Some(m) = args.metadata_documents {
            p.metadata_documents = m == "on";
        }
        if args.allow_any {
            p.allowed_domains.clear();
        } else if !args.allow.is_empty() {
            p.allowed_domains = args.allow;
        }
        if !args.deny.is_empty() {
            p.denied_domains = args.deny;
        }
        Some(p)
    } else {
        print_policy(&current);
        return Ok(());
    };
    let change = kh.set_metadata_policy(policy.clone()).await?;
    let action = match policy {
        Some(_) => "agents.policy_changed",
        None => "agents.policy_reset",
    };
    kh.audit(
        "cli",
        action,
        None,
        json!({ "policy": change.settings.policy, "clients_removed": change.clients_removed }),
    )
    .await;
    print_policy(&change.settings);
    println!(
        "{} client(s) no longer accepted were removed",
        change.clients_removed
    );
    Ok(())
}

async fn serve(global: &Global, args: &ServeArgs) -> Result<(), Error> {
    let settings = settings(global, Some(args))?;
    let mut config = config_of(&settings)?;
    args.limits.apply_test_only(&mut config)?;
    // Held while serving: a restore refuses to replace the file under us.
    let _serving = keyhouse_store::backup::hold_while_serving(&settings.database_url()?)?;
    let metrics = match &settings.metrics.bind {
        Some(bind) => Some(MetricsListener::bind(bind).await?),
        None => None,
    };
    // Listening before the database is opened and migrated, answering 503
    // meanwhile: a load balancer sees "not ready", not "refused".
    let listener = tokio::net::TcpListener::bind(&settings.server.bind).await?;
    tracing::info!(addr = %listener.local_addr()?, "starting");
    let (started, started_rx) = tokio::sync::oneshot::channel::<()>();
    let opening = async {
        let opened = start(&settings, config).await;
        drop(started);
        opened
    };
    let ((), opened) = tokio::join!(
        keyhouse_axum::serve_starting(&listener, async {
            let _ = started_rx.await;
        }),
        opening
    );
    let (kh, app, housekeeping) = opened?;
    if let Some(metrics) = metrics {
        metrics.serve(kh.clone())?;
    }
    tracing::info!(
        addr = %listener.local_addr()?,
        issuer = %kh.config().issuer,
        "keyhouse listening; discovery at {}/.well-known/openid-configuration",
        kh.config().issuer
    );
    let mut options = keyhouse_axum::ServeOptions::default();
    options.shutdown_timeout = std::time::Duration::from_secs(settings.server.shutdown_timeout);
    let shutdown = keyhouse_axum::open::drain_then(
        kh.clone(),
        keyhouse_axum::open::shutdown_signal(),
        std::time::Duration::from_secs(settings.server.drain_seconds),
    );
    let served = keyhouse_axum::serve_with(listener, app, shutdown, options).await;
    // The purge lease is given up even when serving failed, so another
    // instance takes the purge over at its next turn.
    housekeeping.stop().await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Opens (and migrates) the database, loads the keys, starts housekeeping,
/// and builds the app.
async fn start(
    settings: &Settings,
    config: Config,
) -> Result<(Keyhouse, axum::Router, keyhouse_axum::Housekeeping), Error> {
    let kh = open_with(settings, config).await?;
    if settings.mail.smtp_url.is_none() {
        // Said on the terminal, not only in the log: where to find the
        // password-reset links on a machine without a mail server.
        println!(
            "keyhouse: no SMTP server set (mail.smtp_url, KEYHOUSE_SMTP_URL); mail is written to {}",
            settings.mail.outbox.display()
        );
    }
    tracing::info!(to = %kh.mail_destination(), "mail");
    let notes = NotesStore::new(kh.store().connection().clone());
    notes.migrate().await?;
    // Housekeeping runs while the server does; `serve` stops it at the end.
    let housekeeping = kh.spawn_housekeeping();
    let app = crate::app(kh.clone(), notes, WebApp::load(&settings.server.static_dir));
    Ok((kh, app, housekeeping))
}
