//! The layers (defaults, file, environment, flags), merged with `figment`,
//! and errors that name the key and where its value came from.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use figment::error::Kind as ErrorKind;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::Settings;
use super::reference::{self, ENV_ALIASES, Key, Kind, OTEL_ENDPOINT};

/// Values set by one layer (the environment, or flags), each with the name
/// it was given under (the variable or the flag), which errors show.
#[derive(Debug, Clone)]
pub struct Layer {
    name: &'static str,
    entries: Vec<(String, String, Value)>,
}

impl Layer {
    /// An empty layer, `name` for messages ("flag", "environment variable").
    pub fn new(name: &'static str) -> Layer {
        Layer {
            name,
            entries: Vec::new(),
        }
    }

    /// Sets the key at `path` to `value`, given as `label`.
    pub fn set(&mut self, label: &str, path: &str, value: impl Into<Value>) {
        self.entries
            .push((label.to_owned(), path.to_owned(), value.into()));
    }

    /// The environment layer from `vars`: the older names of
    /// [`ENV_ALIASES`], and `KEYHOUSE_<TABLE>__<KEY>` for every key. A
    /// variable of that form naming no key, or a value the key's type
    /// cannot take, is an error naming the variable.
    pub fn environment(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Layer, Vec<String>> {
        let keys: BTreeMap<String, Key> = reference::keys()
            .into_iter()
            .map(|k| (k.path.clone(), k))
            .collect();
        let mut layer = Layer::new("environment variable");
        let mut errors = Vec::new();
        // Older names first, in the order of `ENV_ALIASES`: a later one, and
        // a `KEYHOUSE_<TABLE>__<KEY>`, for the same key wins.
        let mut vars: Vec<(String, String)> = vars.into_iter().collect();
        vars.sort_by_key(|(name, _)| {
            (
                name.contains("__"),
                ENV_ALIASES.iter().position(|(n, _)| n == name),
            )
        });
        for (name, mut value) in vars {
            let path = if let Some((_, path)) = ENV_ALIASES.iter().find(|(n, _)| *n == name) {
                if name == OTEL_ENDPOINT && !value.is_empty() {
                    value = reference::traces_url(&value);
                }
                (*path).to_owned()
            } else if let Some(rest) = name.strip_prefix("KEYHOUSE_") {
                let path = rest.to_ascii_lowercase().replace("__", ".");
                if !keys.contains_key(&path) {
                    if rest.contains("__") {
                        errors.push(format!(
                            "{name}: names no configuration key ({path}); see docs/configuration.md"
                        ));
                    }
                    // Not ours (a test harness's, a script's): not read.
                    continue;
                }
                path
            } else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            let Some(key) = keys.get(&path) else {
                continue;
            };
            match parse(&key.kind, &value) {
                Ok(v) => layer.set(&name, &path, v),
                Err(problem) => errors.push(format!(
                    "{path}: {problem} (from environment variable {name})"
                )),
            }
        }
        if errors.is_empty() {
            Ok(layer)
        } else {
            Err(errors)
        }
    }
}

/// A value given as text (a variable's), read as `kind`.
fn parse(kind: &Kind, text: &str) -> Result<Value, String> {
    Ok(match kind {
        Kind::Text | Kind::Choice(_) => Value::from(text.to_owned()),
        Kind::Integer => Value::from(
            text.trim()
                .parse::<i64>()
                .map_err(|_| format!("{text:?} is not a whole number"))?,
        ),
        Kind::Number => Value::from(
            text.trim()
                .parse::<f64>()
                .map_err(|_| format!("{text:?} is not a number"))?,
        ),
        Kind::Boolean => Value::from(match text.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => true,
            "false" | "off" | "no" | "0" => false,
            _ => return Err(format!("{text:?} is not true or false")),
        }),
        Kind::List if text.trim_start().starts_with('[') => Value::from(
            serde_json::from_str::<Vec<String>>(text)
                .map_err(|_| format!("{text:?} is not a list of quoted text"))?,
        ),
        Kind::List => Value::from(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ),
    })
}

fn insert(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let labels: Arc<BTreeMap<String, String>> = Arc::new(
            self.entries
                .iter()
                .map(|(label, path, _)| (path.clone(), label.clone()))
                .collect(),
        );
        Metadata::named(self.name).interpolater(move |_: &Profile, keys: &[&str]| {
            let path = keys.join(".");
            labels.get(&path).cloned().unwrap_or(path)
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (_, path, value) in &self.entries {
            let parts: Vec<&str> = path.split('.').collect();
            insert(&mut dict, &parts, value.clone());
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Where the value of `key` came from, for a message.
fn origin(metadata: Option<&Metadata>, key: &str) -> String {
    let Some(md) = metadata else {
        return String::new();
    };
    match &md.source {
        Some(Source::File(path)) => format!(" (in {})", path.display()),
        _ if md.name == "environment variable" || md.name == "flag" => {
            let parts: Vec<&str> = key.split('.').collect();
            format!(
                " (from {} {})",
                md.name,
                md.interpolate(&Profile::Default, &parts)
            )
        }
        _ => String::new(),
    }
}

/// Reads the layers into checked settings, or says every problem, each
/// naming its key.
pub fn load(file: Option<&Path>, env: Layer, flags: Layer) -> Result<Settings, Vec<String>> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(file) = file {
        if !file.is_file() {
            return Err(vec![format!(
                "{}: no such configuration file",
                file.display()
            )]);
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    let figment = figment.merge(env).merge(flags);
    let settings: Settings = figment.extract().map_err(|error| {
        error
            .into_iter()
            .map(|e| {
                let mut key = e.path.join(".");
                let problem = match &e.kind {
                    ErrorKind::UnknownField(field, expected) => {
                        if e.path.last() != Some(field) {
                            if !key.is_empty() {
                                key.push('.');
                            }
                            key.push_str(field);
                        }
                        format!("unknown key (this table has: {})", expected.join(", "))
                    }
                    other => other.to_string(),
                };
                let source = origin(e.metadata.as_ref(), &key);
                if key.is_empty() {
                    format!("{problem}{source}")
                } else {
                    format!("{key}: {problem}{source}")
                }
            })
            .collect::<Vec<_>>()
    })?;
    let invalid = settings.check();
    if invalid.is_empty() {
        Ok(settings)
    } else {
        Err(invalid
            .into_iter()
            .map(|i| format!("{i}{}", origin(figment.find_metadata(&i.key), &i.key)))
            .collect())
    }
}
