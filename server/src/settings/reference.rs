//! What the configuration's keys are, read from [`Settings`]' schema (its
//! doc comments and types) and defaults: the environment layer parses by
//! it, `keyhouse config reference` prints it as `docs/configuration.md`,
//! and `keyhouse config print` writes the effective file with it.

use std::fmt::Write as _;

use serde_json::Value;

use super::Settings;

/// The type of a key's value, as the environment spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Text (a path, a URL, a name).
    Text,
    /// A whole number.
    Integer,
    /// A number, with or without a fraction.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list of text; comma-separated in the environment.
    List,
    /// One of these words.
    Choice(Vec<String>),
}

/// One key of the file.
#[derive(Debug, Clone)]
pub struct Key {
    /// Dotted: `tokens.code_ttl`, or `issuer` at the top level.
    pub path: String,
    /// Its type.
    pub kind: Kind,
    /// Its doc comment.
    pub description: String,
}

/// A table of the file (`[tokens]`), or the top level (`name` empty).
#[derive(Debug, Clone)]
pub struct Section {
    /// The table's name; empty for the top level.
    pub name: String,
    /// Its doc comment.
    pub description: String,
    /// Its keys, in the struct's order.
    pub keys: Vec<Key>,
}

/// Environment variables kept from before the file existed (they were
/// the only way to configure `serve`), and OpenTelemetry's standard ones,
/// with the key each one sets. Every key also has
/// `KEYHOUSE_<SECTION>__<KEY>` (see [`env_name`]), which wins over them.
pub const ENV_ALIASES: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("KEYHOUSE_KEY_FILE", "keys.master_key_file"),
    ("KEYHOUSE_BIND", "server.bind"),
    ("KEYHOUSE_STATIC_DIR", "server.static_dir"),
    ("KEYHOUSE_TRUSTED_PROXIES", "server.trusted_proxies"),
    (
        "KEYHOUSE_DECISIONS_PER_MINUTE",
        "consent.decisions_per_minute",
    ),
    (
        "KEYHOUSE_SIGNUPS_PER_IP_PER_HOUR",
        "sign_up.per_ip_per_hour",
    ),
    ("KEYHOUSE_METADATA_DOCUMENTS", "agents.metadata_documents"),
    ("KEYHOUSE_AGENT_ALLOW_DOMAINS", "agents.allow_domains"),
    ("KEYHOUSE_AGENT_DENY_DOMAINS", "agents.deny_domains"),
    ("KEYHOUSE_REGISTRATION", "agents.registration"),
    (
        "KEYHOUSE_REGISTRATION_TOKEN_FILE",
        "agents.registration_token_file",
    ),
    (
        "KEYHOUSE_REGISTRATIONS_PER_IP_PER_HOUR",
        "agents.registrations_per_ip_per_hour",
    ),
    ("KEYHOUSE_SMTP_URL", "mail.smtp_url"),
    ("KEYHOUSE_MAIL_FROM", "mail.from"),
    ("KEYHOUSE_OUTBOX", "mail.outbox"),
    ("KEYHOUSE_MAIL_TEMPLATES", "mail.templates"),
    // The generic one first: the traces' own variable wins over it.
    (OTEL_ENDPOINT, "traces.otlp_endpoint"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "traces.otlp_endpoint"),
    ("OTEL_SERVICE_NAME", "traces.service_name"),
];

/// OpenTelemetry's base URL of every signal: the traces' URL is this with
/// `/v1/traces` added ([`traces_url`]).
pub const OTEL_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The traces URL under an OTLP/HTTP base URL, as OpenTelemetry's
/// exporters build it: `http://c:4318` and `http://c:4318/` give
/// `http://c:4318/v1/traces`.
pub fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

/// The flags that set a key (the command they belong to, if one).
pub const FLAGS: &[(&str, &str)] = &[
    ("issuer", "--issuer"),
    ("database.url", "--database-url"),
    ("keys.master_key_file", "--key-file"),
    ("server.bind", "serve --bind"),
    ("server.static_dir", "serve --static-dir"),
    ("server.trusted_proxies", "serve --trusted-proxy"),
    (
        "consent.decisions_per_minute",
        "serve --decisions-per-minute",
    ),
    ("sign_up.per_ip_per_hour", "serve --signups-per-ip-per-hour"),
    ("agents.metadata_documents", "serve --metadata-documents"),
    ("agents.allow_domains", "serve --agent-allow-domain"),
    ("agents.deny_domains", "serve --agent-deny-domain"),
    ("agents.registration", "serve --registration"),
    (
        "agents.registration_token_file",
        "serve --registration-token-file",
    ),
    (
        "agents.registrations_per_ip_per_hour",
        "serve --registrations-per-ip-per-hour",
    ),
    ("mail.smtp_url", "serve --smtp-url"),
    ("mail.from", "serve --mail-from"),
    ("mail.outbox", "serve --outbox"),
    ("mail.templates", "serve --mail-templates"),
];

/// The environment variable every key has: `KEYHOUSE_TOKENS__CODE_TTL`
/// for `tokens.code_ttl`, `KEYHOUSE_ISSUER` for `issuer`.
pub fn env_name(path: &str) -> String {
    format!("KEYHOUSE_{}", path.to_ascii_uppercase().replace('.', "__"))
}

/// The file's tables and keys, from [`Settings`]' schema.
pub fn sections() -> Vec<Section> {
    let root = serde_json::to_value(schemars::schema_for!(Settings)).unwrap_or_default();
    let mut top = Section {
        name: String::new(),
        description: String::new(),
        keys: Vec::new(),
    };
    let mut tables = Vec::new();
    let Some(properties) = root.get("properties").and_then(Value::as_object) else {
        return tables;
    };
    for (name, node) in properties {
        let resolved = resolve(&root, node);
        if let Some(fields) = resolved.get("properties").and_then(Value::as_object) {
            let keys = fields
                .iter()
                .map(|(field, f)| key(&root, &format!("{name}.{field}"), f))
                .collect();
            tables.push(Section {
                name: name.clone(),
                description: description(node)
                    .or_else(|| description(resolved))
                    .unwrap_or_default(),
                keys,
            });
        } else {
            top.keys.push(key(&root, name, node));
        }
    }
    tables.insert(0, top);
    tables
}

/// Every key, flattened.
pub fn keys() -> Vec<Key> {
    sections().into_iter().flat_map(|s| s.keys).collect()
}

fn description(node: &Value) -> Option<String> {
    let text = node.get("description")?.as_str()?;
    // Doc comments arrive with their line breaks; a paragraph is one line.
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let reference = node.get("$ref").or_else(|| {
        node.get("allOf")
            .and_then(Value::as_array)
            .and_then(|all| all.first())
            .and_then(|first| first.get("$ref"))
    });
    reference
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| root.get("$defs")?.get(name))
        .unwrap_or(node)
}

fn key(root: &Value, path: &str, node: &Value) -> Key {
    let resolved = resolve(root, node);
    let mut types: Vec<&str> = match resolved.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    types.retain(|t| *t != "null");
    let choices: Vec<String> = match (resolved.get("enum"), resolved.get("oneOf")) {
        (Some(Value::Array(values)), _) => values
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        (_, Some(Value::Array(variants))) => variants
            .iter()
            .filter_map(|v| {
                v.get("const").and_then(Value::as_str).or_else(|| {
                    v.get("enum")
                        .and_then(Value::as_array)
                        .and_then(|e| e.first())
                        .and_then(Value::as_str)
                })
            })
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let kind = if !choices.is_empty() {
        Kind::Choice(choices)
    } else {
        match types.first().copied() {
            Some("integer") => Kind::Integer,
            Some("number") => Kind::Number,
            Some("boolean") => Kind::Boolean,
            Some("array") => Kind::List,
            _ => Kind::Text,
        }
    };
    Key {
        path: path.to_owned(),
        kind,
        description: description(node)
            .or_else(|| description(resolved))
            .unwrap_or_default(),
    }
}

/// The value at a dotted path of a JSON tree.
pub fn lookup<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(tree, |node, part| node.get(part))
}

/// A JSON value written as TOML (strings, numbers, booleans and lists of
/// them: JSON's escapes are TOML's).
fn toml_value(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// A whole file holding `settings`: every key, an unset one as a comment.
pub fn to_toml(settings: &Settings) -> String {
    let tree = serde_json::to_value(settings).unwrap_or_default();
    let mut out = String::new();
    for section in sections() {
        if !section.name.is_empty() {
            let _ = write!(out, "\n[{}]\n", section.name);
        }
        for key in &section.keys {
            let name = key.path.rsplit('.').next().unwrap_or(&key.path);
            match lookup(&tree, &key.path) {
                None | Some(Value::Null) => {
                    let _ = writeln!(out, "# {name}: unset");
                }
                Some(v) => {
                    let _ = writeln!(out, "{name} = {}", toml_value(v));
                }
            }
        }
    }
    out
}

/// `docs/configuration.md`.
pub fn markdown() -> String {
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
    let mut out = String::from(PREAMBLE);
    for section in sections() {
        if section.name.is_empty() {
            out.push_str("\n## The top level\n");
        } else {
            let _ = write!(
                out,
                "\n## `[{}]`\n\n{}\n",
                section.name, section.description
            );
        }
        for key in &section.keys {
            let _ = write!(out, "\n### `{}`\n\n{}\n\n", key.path, key.description);
            let default = match lookup(&defaults, &key.path) {
                None | Some(Value::Null) => "unset".to_owned(),
                Some(v) => format!("`{}`", toml_value(v)),
            };
            let kind = match &key.kind {
                Kind::Text => "text".to_owned(),
                Kind::Integer => "whole number".to_owned(),
                Kind::Number => "number".to_owned(),
                Kind::Boolean => "`true` or `false`".to_owned(),
                Kind::List => "list of text".to_owned(),
                Kind::Choice(words) => words
                    .iter()
                    .map(|w| format!("`\"{w}\"`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let mut env = vec![format!("`{}`", env_name(&key.path))];
            env.extend(
                ENV_ALIASES
                    .iter()
                    .filter(|(name, path)| *path == key.path && *name != env_name(&key.path))
                    .map(|(name, _)| format!("`{name}`")),
            );
            let _ = writeln!(out, "- Type: {kind}");
            let _ = writeln!(out, "- Default: {default}");
            let _ = writeln!(out, "- Environment: {}", env.join(", "));
            if let Some((_, flag)) = FLAGS.iter().find(|(path, _)| *path == key.path) {
                let _ = writeln!(out, "- Flag: `{flag}`");
            }
        }
    }
    out
}

const PREAMBLE: &str = "# Configuration reference

<!-- Generated from the code by `keyhouse config reference` (the doc
comments of server/src/settings/mod.rs); a test fails when this page and
the code differ. Do not edit by hand. -->

The `keyhouse` binary reads its settings from four layers, each later one
winning over the earlier ones:

1. the defaults given below;
2. one TOML file, named by `--config` or `KEYHOUSE_CONFIG` (none by
   default: a file named but missing stops the start);
3. environment variables: `KEYHOUSE_<TABLE>__<KEY>` for every key (two
   underscores between the table and the key, e.g.
   `KEYHOUSE_TOKENS__CODE_TTL=600`), and the older names listed with some
   keys;
4. flags, where a key has one.

`keyhouse config check` reads the layers and says what is wrong, or that
nothing is; `keyhouse config print` prints the file the layers add up to,
passwords masked. An unknown key, a value of the wrong type or one out of
range stops every command (the server included) with a message naming the
key and where its value came from.

In the environment, a list is comma-separated (or written as
`[\"a\", \"b\"]`), a boolean is `true`/`false`, `on`/`off`, `yes`/`no` or
`1`/`0`, and an empty variable counts as unset. A variable of the form
`KEYHOUSE_…__…` that names no key stops the start; other `KEYHOUSE_`
variables are not Keyhouse's settings and are not read.

Secrets stay out of the file: the master key in its own file
(`keys.master_key_file`, or the variable `KEYHOUSE_MASTER_KEY` holding the
key itself), the database and SMTP passwords in files
(`database.password_file`, `mail.smtp_password_file`), the registration
tokens in `agents.registration_token_file`.

Not settings: the app's scopes, protected resources and roles are code
(the app builds them); logging follows `RUST_LOG` (default `info`); the
`--insecure-test-only-…` flags of `serve` exist only as flags.
";
