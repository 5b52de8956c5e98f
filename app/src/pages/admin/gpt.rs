//! "Connect a custom GPT": exactly what to paste into ChatGPT's GPT editor
//! (Configure → Actions → Authentication → OAuth), and a box for the
//! callback URL ChatGPT shows afterwards, which is added to the app's
//! redirect URIs.

use keyhouse_idp_component::{ApiError, use_session};
use keyhouse_types::admin::{AdminClient, UpdateClientRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::{self, Endpoints};
use super::form::check_redirect_uri;
use super::widgets::{CopyButton, Credential, admin_message, note_signed_out};

/// The scope to paste (notes scopes are mentioned next to it).
/// `offline_access` asks for the refresh token a GPT needs to keep working
/// after its first access token expires: without it Keyhouse issues none.
pub const GPT_SCOPE: &str = "openid profile email offline_access";
/// ChatGPT's name for `client_secret_post`.
pub const GPT_TOKEN_METHOD: &str = "Default (POST request)";

/// The endpoints of this server: from the discovery document, or (if that
/// cannot be read) from the page's own origin, which is the issuer here.
fn fallback_endpoints() -> Endpoints {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    Endpoints {
        authorization_endpoint: format!("{origin}/idp"),
        token_endpoint: format!("{origin}/oauth2/token"),
    }
}

/// Checks a callback URL pasted from ChatGPT; the message explains a refusal.
pub fn check_callback(uri: &str) -> Result<(), String> {
    if uri.is_empty() {
        return Err("Paste the callback URL that ChatGPT shows under the OAuth settings.".into());
    }
    if !uri
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        return Err(format!(
            "“{uri}” isn't ChatGPT's callback URL: it starts with https:// (for example https://chatgpt.com/aip/g-…/oauth/callback)."
        ));
    }
    check_redirect_uri(uri, false).map_err(|m| format!("“{uri}” {m}."))
}

/// Adds `uri` to the app's redirect URIs, unless it is there already: the
/// app as it is now, and whether the URI was added.
async fn add_redirect(id: &str, uri: &str) -> Result<(AdminClient, bool), ApiError> {
    let current = api::get_client(id).await?;
    if current.redirect_uris.iter().any(|u| u == uri) {
        return Ok((current, false));
    }
    let mut uris = current.redirect_uris;
    uris.push(uri.to_owned());
    let req = UpdateClientRequest {
        redirect_uris: Some(uris),
        ..Default::default()
    };
    api::update_client(id, &req).await.map(|c| (c, true))
}

/// One of the endpoints, once known (empty before).
fn endpoint(
    endpoints: RwSignal<Option<Endpoints>>,
    pick: fn(&Endpoints) -> &str,
) -> Signal<String> {
    Signal::derive(move || {
        endpoints.with(|e| e.as_ref().map(|e| pick(e).to_owned()).unwrap_or_default())
    })
}

/// The panel. `secret` is the secret when it was just shown (creation or
/// rotation); `on_added` gets the app after its redirect URIs changed.
#[component]
pub fn GptPanel(
    /// The app's client id.
    client_id: String,
    /// The secret, when it was just shown.
    #[prop(into)]
    secret: Signal<Option<String>>,
    /// Gets the app after a callback URL was added to it.
    #[prop(optional)]
    on_added: Option<Callback<AdminClient>>,
) -> impl IntoView {
    view! {
        <section class="kh-card kh-gpt" data-testid="gpt-panel" aria-labelledby="gpt-title">
            <h2 id="gpt-title" class="kh-section-title">"Connect a custom GPT"</h2>
            <p class="kh-muted">
                "In ChatGPT, edit your GPT: " <strong>"Configure → Actions → Authentication"</strong>
                ", choose " <strong>"OAuth"</strong> " and paste exactly these values."
            </p>
            <GptValues client_id=client_id.clone() secret/>
            <CallbackForm client_id on_added/>
        </section>
    }
}

/// What to paste into ChatGPT, each with a copy button.
#[component]
fn GptValues(
    /// The app's client id.
    client_id: String,
    /// The secret, when it was just shown.
    secret: Signal<Option<String>>,
) -> impl IntoView {
    let endpoints = RwSignal::new(None::<Endpoints>);
    Effect::new(move |_| {
        spawn_local(async move {
            let e = api::endpoints()
                .await
                .unwrap_or_else(|_| fallback_endpoints());
            endpoints.set(Some(e));
        })
    });
    let authorization_url = endpoint(endpoints, |e| &e.authorization_endpoint);
    let token_url = endpoint(endpoints, |e| &e.token_endpoint);
    view! {
        <dl class="kh-credentials">
            <Credential name="Client ID" value=client_id testid="gpt-client-id"
                copy_testid="copy-gpt-client-id" copy_label="Copy the client ID for ChatGPT"/>
            <GptSecret secret/>
            <Credential name="Authorization URL" value=authorization_url testid="gpt-authorization-url"
                copy_testid="copy-gpt-authorization-url" copy_label="Copy the Authorization URL"/>
            <Credential name="Token URL" value=token_url testid="gpt-token-url"
                copy_testid="copy-gpt-token-url" copy_label="Copy the Token URL"/>
            <Credential name="Scope" value=GPT_SCOPE testid="gpt-scope"
                copy_testid="copy-gpt-scope" copy_label="Copy the scope">
                <small class="kh-muted kh-credential__hint">
                    "To use the notes API, add " <code>"notes:read"</code> " (read notes) and, if the GPT may change them, "
                    <code>"notes:write"</code> ", separated by spaces."
                </small>
            </Credential>
            <div class="kh-credential">
                <dt>"Token exchange method"</dt>
                <dd>
                    <span class="kh-credential__value" data-testid="gpt-token-method">{GPT_TOKEN_METHOD}</span>
                    <CopyButton value=Signal::stored(GPT_TOKEN_METHOD.to_owned()) testid="copy-gpt-token-method" label="Copy the token exchange method".into()/>
                </dd>
            </div>
        </dl>
    }
}

/// The client secret for ChatGPT: the one just shown, or a reminder of
/// where it is.
#[component]
fn GptSecret(
    /// The secret, when it was just shown.
    secret: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <div class="kh-credential">
            <dt>"Client Secret"</dt>
            <dd>
                {move || match secret.get() {
                    Some(s) => view! {
                        <code class="kh-credential__value kh-secret" data-testid="gpt-client-secret">{s.clone()}</code>
                        <CopyButton value=Signal::stored(s) testid="copy-gpt-client-secret" label="Copy the client secret for ChatGPT".into()/>
                    }.into_any(),
                    None => view! {
                        <span class="kh-credential__value kh-muted" data-testid="gpt-client-secret">
                            "The secret you saved when the app was created (rotate it below to get a new one)."
                        </span>
                    }.into_any(),
                }}
            </dd>
        </div>
    }
}

/// The box for the callback URL ChatGPT shows, which is added to the app's
/// redirect URIs.
#[component]
fn CallbackForm(
    /// The app's client id.
    client_id: String,
    /// Gets the app after the URL was added.
    on_added: Option<Callback<AdminClient>>,
) -> impl IntoView {
    let session = use_session();
    let callback = RwSignal::new(String::new());
    let status = RwSignal::new(None::<Result<String, String>>);
    let pending = RwSignal::new(false);
    let id = StoredValue::new(client_id);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let uri = callback.get_untracked().trim().to_owned();
        if let Err(m) = check_callback(&uri) {
            status.set(Some(Err(m)));
            return;
        }
        pending.set(true);
        status.set(None);
        let id = id.get_value();
        spawn_local(async move {
            match add_redirect(&id, &uri).await {
                Ok((client, added)) => {
                    callback.set(String::new());
                    status.set(Some(Ok(if added {
                        format!("✓ Added {uri}. ChatGPT can now finish signing users in.")
                    } else {
                        format!("✓ {uri} was already registered.")
                    })));
                    if let Some(cb) = on_added {
                        cb.run(client);
                    }
                }
                Err(e) => {
                    note_signed_out(session, &e);
                    status.set(Some(Err(admin_message(&e))));
                }
            }
            pending.set(false);
        });
    };
    view! {
        <form class="kh-gpt__callback" on:submit=add>
            <CallbackField callback status pending/>
            <p class="kh-row-status" role="status" aria-live="polite">
                {move || match status.get() {
                    Some(Ok(m)) => view! { <span class="kh-saved" data-testid="gpt-callback-added">{m}</span> }.into_any(),
                    Some(Err(m)) => view! { <span class="kh-row-error" data-testid="gpt-callback-error">{m}</span> }.into_any(),
                    None => ().into_any(),
                }}
            </p>
        </form>
    }
}

/// The callback URL's field, its button and hint.
#[component]
fn CallbackField(
    /// The URL typed.
    callback: RwSignal<String>,
    /// What adding it did (an edit clears it).
    status: RwSignal<Option<Result<String, String>>>,
    /// The URL is being added.
    pending: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <div class="kh-field">
            <label for="gpt-callback-url">"Callback URL from ChatGPT"</label>
            <div class="kh-inline-field">
                <input id="gpt-callback-url" type="text" inputmode="url" autocomplete="off" spellcheck="false"
                    placeholder="https://chatgpt.com/aip/g-…/oauth/callback"
                    data-testid="gpt-callback-url" aria-describedby="gpt-callback-hint"
                    aria-invalid=move || matches!(status.get(), Some(Err(_))).then_some("true")
                    bind:value=callback on:input=move |_| status.set(None)/>
                <button type="submit" class="kh-button kh-button--primary" data-testid="gpt-callback-add"
                    disabled=move || pending.get()>
                    {move || if pending.get() { "Adding…" } else { "Add callback URL" }}
                </button>
            </div>
            <small id="gpt-callback-hint" class="kh-muted">
                "After you save the Action, ChatGPT shows a callback URL. Keyhouse only sends people back to registered addresses, so add it here."
            </small>
        </div>
    }
}
