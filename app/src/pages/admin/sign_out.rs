//! The app page's "Signing out" card: where the browser may go after the
//! app signs someone out through `/logout` (RP-Initiated Logout), and where
//! Keyhouse tells the app, server to server, that a session it signed in
//! with has ended (Back-Channel Logout).

use keyhouse_idp_component::use_session;
use keyhouse_types::admin::{AdminClient, UpdateClientRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api;
use super::widgets::{admin_message, note_signed_out};
use crate::pages::auth::ErrorNote;

/// The lines of a textarea, trimmed, blank ones dropped.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The card.
#[component]
pub fn SignOutSettings(
    /// The app (saving updates it).
    client: RwSignal<AdminClient>,
) -> impl IntoView {
    let session = use_session();
    let initial = client.get_untracked();
    let redirects = RwSignal::new(initial.post_logout_redirect_uris.join("\n"));
    let backchannel = RwSignal::new(initial.backchannel_logout_uri.clone().unwrap_or_default());
    let needs_sid = RwSignal::new(initial.backchannel_logout_session_required);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let edited = move || {
        saved.set(false);
        error.set(None);
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let id = client.with_untracked(|c| c.client_id.clone());
        let req = UpdateClientRequest {
            post_logout_redirect_uris: Some(lines(&redirects.get_untracked())),
            backchannel_logout_uri: Some(backchannel.get_untracked().trim().to_owned()),
            backchannel_logout_session_required: Some(needs_sid.get_untracked()),
            ..UpdateClientRequest::default()
        };
        pending.set(true);
        edited();
        spawn_local(async move {
            match api::update_client(&id, &req).await {
                Ok(c) => {
                    redirects.set(c.post_logout_redirect_uris.join("\n"));
                    backchannel.set(c.backchannel_logout_uri.clone().unwrap_or_default());
                    needs_sid.set(c.backchannel_logout_session_required);
                    client.set(c);
                    saved.set(true);
                }
                Err(e) => {
                    note_signed_out(session, &e);
                    error.set(Some(admin_message(&e)));
                }
            }
            pending.set(false);
        });
    };
    view! {
        <section class="kh-card" aria-labelledby="app-sign-out-title" data-testid="app-sign-out">
            <h2 id="app-sign-out-title" class="kh-section-title">"Signing out"</h2>
            <p class="kh-muted">
                "When the app signs someone out, it can send them to the sign-out endpoint, "
                <code>"/oauth2/logout"</code>
                ", to end their session here too, and be told when a session it signed in with ends."
            </p>
            <form class="kh-settings__form" on:submit=on_submit novalidate>
                <ErrorNote error testid="app-sign-out-error"/>
                <div class="kh-field">
                    <label for="app-post-logout">"After signing out, send people back to "
                        <span class="kh-muted">"(one per line)"</span></label>
                    <textarea id="app-post-logout" rows="2" class="kh-mono" spellcheck="false"
                        autocomplete="off" placeholder="https://app.example/signed-out"
                        data-testid="app-post-logout-uris" aria-describedby="app-post-logout-hint"
                        bind:value=redirects on:input=move |_| edited()></textarea>
                    <small id="app-post-logout-hint" class="kh-muted">
                        "The app names one of these as post_logout_redirect_uri; it must match exactly. Others are refused."
                    </small>
                </div>
                <div class="kh-field">
                    <label for="app-backchannel">"Back-channel logout URL"</label>
                    <input id="app-backchannel" type="url" class="kh-mono" spellcheck="false"
                        autocomplete="off" placeholder="https://app.example/backchannel-logout"
                        data-testid="app-backchannel-uri" aria-describedby="app-backchannel-hint"
                        bind:value=backchannel on:input=move |_| edited()/>
                    <small id="app-backchannel-hint" class="kh-muted">
                        "An https:// address on the public internet. A signed logout token is posted there when a session the app signed in with ends. Leave empty for none."
                    </small>
                </div>
                <label class="kh-check">
                    <input type="checkbox" data-testid="app-backchannel-sid"
                        prop:checked=move || needs_sid.get()
                        on:change=move |ev| { needs_sid.set(event_target_checked(&ev)); edited(); }/>
                    <span>"The app needs the session id (sid) in each logout token"</span>
                </label>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="app-sign-out-save"
                        disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save" }}
                    </button>
                    <p class="kh-saved" role="status" aria-live="polite">
                        {move || saved.get().then(|| view! {
                            <span data-testid="app-sign-out-saved">"✓ Saved."</span>
                        })}
                    </p>
                </div>
            </form>
        </section>
    }
}
