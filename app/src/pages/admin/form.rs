//! The app form shared by "new app" and the app's page: name, description,
//! logo, type and redirect URIs, with the same checks as the server
//! (`keyhouse_core::redirect_uri::validate_registration`) so mistakes are
//! explained before anything is sent.

use keyhouse_types::ClientType;
use leptos::prelude::*;

/// The four types, explained for the person registering an app.
pub const TYPES: [(ClientType, &str, &str); 4] = [
    (
        ClientType::FirstParty,
        "First-party app with a secret",
        "Your own server-side app. It keeps a client secret; your users sign in without a consent screen.",
    ),
    (
        ClientType::FirstPartyPublic,
        "First-party app without a secret",
        "Your own single-page, mobile or desktop app. It can't keep a secret, so it proves itself with PKCE; no consent screen.",
    ),
    (
        ClientType::ThirdParty,
        "Third-party app with a secret",
        "Run by someone else, such as a custom GPT or a partner; keeps a secret; users see a consent screen.",
    ),
    (
        ClientType::ThirdPartyPublic,
        "Third-party app without a secret",
        "Someone else's browser, mobile or command-line app, or an AI agent without a server; uses PKCE instead of a secret; users see a consent screen.",
    ),
];

/// At most this many redirect URIs (the server's limit).
pub const MAX_REDIRECT_URIS: usize = 20;
/// At most this many characters in a name (the server's limit).
pub const NAME_MAX: usize = 100;

/// Which field a problem is about (for `aria-invalid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The name.
    Name,
    /// The logo URL.
    Logo,
    /// The redirect URIs.
    Redirects,
}

/// The form's state.
#[derive(Debug, Clone, Copy)]
pub struct AppFields {
    /// Display name.
    pub name: RwSignal<String>,
    /// Description.
    pub description: RwSignal<String>,
    /// Logo URL (may be empty).
    pub logo: RwSignal<String>,
    /// The type.
    pub client_type: RwSignal<ClientType>,
    /// Redirect URIs, one per line.
    pub redirects: RwSignal<String>,
    /// The form's error message (cleared on every edit).
    pub error: RwSignal<Option<String>>,
    /// The field the current error is about.
    pub invalid: RwSignal<Option<Field>>,
    /// Cleared on every edit (a "saved" note would be stale).
    pub saved: RwSignal<bool>,
}

impl AppFields {
    /// An empty form for a new app of type `client_type`.
    pub fn new(client_type: ClientType) -> AppFields {
        AppFields {
            name: RwSignal::new(String::new()),
            description: RwSignal::new(String::new()),
            logo: RwSignal::new(String::new()),
            client_type: RwSignal::new(client_type),
            redirects: RwSignal::new(String::new()),
            error: RwSignal::new(None),
            invalid: RwSignal::new(None),
            saved: RwSignal::new(false),
        }
    }

    /// Fills the form from the server's view of an app.
    pub fn fill(&self, c: &keyhouse_types::admin::AdminClient) {
        self.name.set(c.name.clone());
        self.description.set(c.description.clone());
        self.logo.set(c.logo_uri.clone().unwrap_or_default());
        self.client_type.set(c.client_type);
        self.redirects.set(c.redirect_uris.join("\n"));
        self.invalid.set(None);
        self.error.set(None);
    }

    /// Checks the form; the first problem found, and its field, otherwise.
    pub fn validate(&self) -> Result<Valid, (Field, String)> {
        validate(
            &self.name.get_untracked(),
            &self.description.get_untracked(),
            &self.logo.get_untracked(),
            self.client_type.get_untracked(),
            &self.redirects.get_untracked(),
        )
    }

    /// The checked form, or `None` once its first problem is shown.
    pub fn checked(&self) -> Option<Valid> {
        match self.validate() {
            Ok(v) => Some(v),
            Err((field, message)) => {
                self.fail(Some(field), message);
                None
            }
        }
    }

    /// Shows a problem with the form.
    pub fn fail(&self, field: Option<Field>, message: String) {
        self.invalid.set(field);
        self.error.set(Some(message));
    }

    fn edited(&self) {
        self.saved.set(false);
        self.invalid.set(None);
        self.error.set(None);
    }
}

/// A form that passed the checks, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid {
    /// Display name.
    pub name: String,
    /// Description (may be empty).
    pub description: String,
    /// https logo, if any.
    pub logo_uri: Option<String>,
    /// The type.
    pub client_type: ClientType,
    /// Redirect URIs, without blanks and repeats.
    pub redirect_uris: Vec<String>,
}

/// The whole form's checks.
pub fn validate(
    name: &str,
    description: &str,
    logo: &str,
    client_type: ClientType,
    redirects: &str,
) -> Result<Valid, (Field, String)> {
    let name = name.trim();
    if name.is_empty() {
        return Err((Field::Name, "Give the app a name.".into()));
    }
    if name.chars().count() > NAME_MAX {
        return Err((
            Field::Name,
            format!("Keep the name to {NAME_MAX} characters or fewer."),
        ));
    }
    let logo = logo.trim();
    if !logo.is_empty() {
        check_logo(logo).map_err(|m| (Field::Logo, m))?;
    }
    let redirect_uris = parse_uris(redirects);
    if redirect_uris.is_empty() {
        return Err((
            Field::Redirects,
            "Add at least one redirect URI: where users are sent back after signing in.".into(),
        ));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err((
            Field::Redirects,
            format!("Register at most {MAX_REDIRECT_URIS} redirect URIs."),
        ));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri, client_type.is_public())
            .map_err(|m| (Field::Redirects, format!("“{uri}” {m}.")))?;
    }
    Ok(Valid {
        name: name.to_owned(),
        description: description.trim().to_owned(),
        logo_uri: (!logo.is_empty()).then(|| logo.to_owned()),
        client_type,
        redirect_uris,
    })
}

/// One URI per line; blanks and repeats dropped.
pub fn parse_uris(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for uri in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|x| x == uri) {
            out.push(uri.to_owned());
        }
    }
    out
}

fn check_logo(logo: &str) -> Result<(), String> {
    let ok = authority(logo, "https").is_some_and(|a| !a.contains('@') && host_of(a).is_some())
        && !logo.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err("The logo must be an https:// address of an image (or leave it empty).".into())
    }
}

/// The authority of `uri` when its scheme is `scheme` (case-insensitive)
/// and it is followed by `//`.
fn authority<'a>(uri: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = uri.split_once(':')?;
    if !s.eq_ignore_ascii_case(scheme) {
        return None;
    }
    let rest = rest.strip_prefix("//")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The host of an authority (no user info), lower-cased, if the port (when
/// present) is a valid one.
fn host_of(authority: &str) -> Option<String> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        (&authority[..=close], &authority[close + 1..])
    } else {
        match authority.find(':') {
            Some(i) => (&authority[..i], &authority[i..]),
            None => (authority, ""),
        }
    };
    if host.is_empty() {
        return None;
    }
    if let Some(p) = port.strip_prefix(':') {
        let valid = !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n <= 65_535);
        if !valid && !p.is_empty() {
            return None;
        }
    } else if !port.is_empty() {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// Whether the server will accept `uri` as a redirect URI: the server's own
/// rule (`keyhouse_types::redirect_uri`), worded for people. The error
/// completes a sentence that starts with the URI.
pub fn check_redirect_uri(uri: &str, public: bool) -> Result<(), String> {
    use keyhouse_types::redirect_uri::{RedirectUriError as E, validate_registration};
    let app_scheme = uri
        .split_once(':')
        .is_some_and(|(scheme, _)| scheme.contains('.'));
    validate_registration(uri, public).map_err(|e| {
        match e {
            E::Whitespace => "contains spaces",
            E::TooLong => "is longer than 2000 characters",
            E::NotAbsolute => "isn't a full address: start it with https://",
            E::BadHost => "has no valid host (or port)",
            E::Fragment => "must not contain a #fragment",
            E::UserInfo => "must not contain a user name or password",
            E::HttpNotLoopback => {
                "uses http://, which is only allowed on 127.0.0.1, [::1] or localhost: use https://"
            }
            E::DangerousScheme => "uses a kind of address that is never allowed",
            E::SchemeNotAllowed if app_scheme => {
                "is an app scheme, which only apps without a secret may use: use https://"
            }
            E::SchemeNotAllowed => {
                "must start with https:// (or http://127.0.0.1, http://[::1] or http://localhost)"
            }
        }
        .to_owned()
    })
}

/// The form's fields. `kind_locked` is `Some(public)` for an existing app:
/// only the types of the same kind (with or without a secret) can be chosen.
#[component]
pub fn AppFormFields(
    /// The form's state.
    fields: AppFields,
    /// `Some(public)` for an existing app.
    kind_locked: Option<bool>,
) -> impl IntoView {
    let invalid = move |f: Field| (fields.invalid.get() == Some(f)).then_some("true");
    view! {
        <div class="kh-field">
            <label for="app-name">"Name"</label>
            <input id="app-name" type="text" required maxlength=NAME_MAX.to_string() autocomplete="off"
                data-testid="app-name" aria-describedby="app-name-hint"
                aria-invalid=move || invalid(Field::Name)
                bind:value=fields.name on:input=move |_| fields.edited()/>
            <small id="app-name-hint" class="kh-muted">"Users see it on the consent screen and in their connected apps."</small>
        </div>
        <div class="kh-field">
            <label for="app-description">"Description " <span class="kh-muted">"(optional)"</span></label>
            <textarea id="app-description" rows="2" maxlength="500" data-testid="app-description"
                bind:value=fields.description on:input=move |_| fields.edited()></textarea>
        </div>
        <div class="kh-field">
            <label for="app-logo-uri">"Logo URL " <span class="kh-muted">"(optional)"</span></label>
            <input id="app-logo-uri" type="text" inputmode="url" autocomplete="off" spellcheck="false"
                placeholder="https://example.com/logo.png" data-testid="app-logo-uri"
                aria-describedby="app-logo-hint" aria-invalid=move || invalid(Field::Logo)
                bind:value=fields.logo on:input=move |_| fields.edited()/>
            <small id="app-logo-hint" class="kh-muted">"An https:// image, shown square. Without one, the app's initials are shown."</small>
        </div>
        <TypeChoices fields kind_locked/>
        <div class="kh-field">
            <label for="app-redirect-uris">"Redirect URIs " <span class="kh-muted">"(one per line)"</span></label>
            <textarea id="app-redirect-uris" rows="3" class="kh-mono" spellcheck="false" autocomplete="off"
                placeholder="https://chatgpt.com/aip/g-…/oauth/callback"
                data-testid="app-redirect-uris" aria-describedby="app-redirect-hint"
                aria-invalid=move || invalid(Field::Redirects)
                bind:value=fields.redirects on:input=move |_| fields.edited()></textarea>
            <small id="app-redirect-hint" class="kh-muted">
                {move || if fields.client_type.get().is_public() {
                    "Exactly as the app sends them. https://; http:// only on 127.0.0.1, [::1] or localhost (any port, for native apps); or an app scheme such as com.example.app:/callback."
                } else {
                    "Exactly as the app sends them. https://; http:// only on 127.0.0.1, [::1] or localhost, for local development. For a custom GPT, add ChatGPT's callback URL once you have it (below, after creating)."
                }}
            </small>
        </div>
    }
}

/// The four types, as radio buttons; for an existing app, those of the
/// other kind are disabled.
#[component]
fn TypeChoices(
    /// The form's state.
    fields: AppFields,
    /// `Some(public)` for an existing app.
    kind_locked: Option<bool>,
) -> impl IntoView {
    view! {
        <fieldset class="kh-fieldset kh-types">
            <legend>"Type"</legend>
            <div class="kh-type-grid">
                {TYPES.iter().map(|(t, title, explain)| {
                    let t = *t;
                    let id = format!("app-type-{}", t.as_str());
                    let label_for = id.clone();
                    let disabled = kind_locked.is_some_and(|public| public != t.is_public());
                    view! {
                        <label for=label_for class=if disabled { "kh-type kh-type--disabled" } else { "kh-type" }>
                            <input type="radio" id=id name="app-type" value=t.as_str() data-testid="app-type"
                                disabled=disabled
                                prop:checked=move || fields.client_type.get() == t
                                on:change=move |_| {
                                    fields.client_type.set(t);
                                    fields.edited();
                                }/>
                            <span class="kh-type__text">
                                <span class="kh-type__title">{*title}</span>
                                <span class="kh-type__hint">{*explain}</span>
                            </span>
                        </label>
                    }
                }).collect_view()}
            </div>
            {kind_locked.map(|_| view! {
                <p class="kh-muted kh-fieldset__hint">"An app can't switch between keeping a secret and not keeping one: register a new app for that."</p>
            })}
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_redirect_uris_are_explained_in_words() {
        // Which URIs pass is the shared rule's business (its table is in
        // keyhouse-types); here, each kind of refusal gets its own sentence.
        let table = [
            ("http://example.com/cb", false, "uses http://"),
            ("com.example.app:/cb", false, "is an app scheme"),
            ("ftp://files.example/cb", false, "never allowed"),
            ("https://a.example:99999/cb", false, "no valid host"),
            ("relative/path", false, "isn't a full address"),
            ("https://a.example/cb#x", false, "#fragment"),
            ("https://a.example/c b", false, "contains spaces"),
        ];
        for (uri, public, words) in table {
            let message = check_redirect_uri(uri, public).expect_err(uri);
            assert!(message.contains(words), "{uri}: {message}");
        }
        assert_eq!(check_redirect_uri("com.example.app:/cb", true), Ok(()));
    }

    #[test]
    fn form_checks() {
        let ok = validate(
            " GPT ",
            "",
            "",
            ClientType::ThirdParty,
            "https://a.example/cb\n\nhttps://a.example/cb\n",
        );
        assert_eq!(
            ok.map(|v| (v.name, v.redirect_uris)),
            Ok(("GPT".to_owned(), vec!["https://a.example/cb".to_owned()]))
        );
        let no_name = validate(" ", "", "", ClientType::ThirdParty, "https://a.example/cb");
        assert_eq!(no_name.map_err(|e| e.0), Err(Field::Name));
        let bad_logo = validate(
            "GPT",
            "",
            "http://a.example/l.png",
            ClientType::ThirdParty,
            "https://a.example/cb",
        );
        assert_eq!(bad_logo.map_err(|e| e.0), Err(Field::Logo));
        let none = validate("GPT", "", "", ClientType::ThirdParty, "\n");
        assert_eq!(none.map_err(|e| e.0), Err(Field::Redirects));
    }
}
