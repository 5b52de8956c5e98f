//! Deleting the account: what it takes with it, said plainly, and two
//! confirmations (the address typed again, and the password when there is
//! one) before it happens.

use keyhouse_idp_component::{ApiClient, ApiError, use_session};
use keyhouse_types::{AccountDeleted, DeleteAccountRequest, ErrorCode};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use super::{CurrentPassword, SignInAgain, refusal};
use crate::pages::auth::ErrorNote;

/// The danger-zone card.
#[component]
pub(crate) fn DeleteAccount() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let open = RwSignal::new(false);
    let confirm_email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let reauth = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let email = move || session.user().map(|u| u.email).unwrap_or_default();
    let matches = move || confirm_email.get().trim().eq_ignore_ascii_case(&email());

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        reauth.set(false);
        let req = DeleteAccountRequest {
            confirm_email: confirm_email.get_untracked(),
            password: Some(password.get_untracked()).filter(|p| !p.is_empty()),
        };
        let navigate = navigate.clone();
        spawn_local(async move {
            let answer: Result<AccountDeleted, ApiError> = ApiClient::same_origin()
                .post_json("/api/account/delete", &req)
                .await;
            match answer {
                // A full page load: every part of the app starts over
                // signed out (marking the session ended here would send
                // this page to a plain sign-in first).
                Ok(_) => match web_sys::window() {
                    Some(w) => {
                        let _ = w.location().assign("/login?deleted=1");
                    }
                    None => navigate("/login?deleted=1", Default::default()),
                },
                Err(e) => {
                    reauth.set(e.error_code() == Some(ErrorCode::ReauthenticationRequired));
                    error.set(Some(refusal(&e)));
                    pending.set(false);
                }
            }
        });
    };

    view! {
        <section class="kh-card kh-narrow kh-danger-zone" aria-labelledby="delete-title">
            <h2 id="delete-title" class="kh-card__title">"Delete account"</h2>
            <p class="kh-muted">
                "Deleting your account removes it and your data for good. Every connected app loses access at once, and you are signed out everywhere. This cannot be undone."
            </p>
            {move || if open.get() {
                view! {
                    <form on:submit=submit.clone() data-testid="delete-form">
                        <ErrorNote error testid="delete-error"/>
                        {move || reauth.get().then(|| view! { <div class="kh-actions kh-actions--start"><SignInAgain/></div> })}
                        <div class="kh-field">
                            <label for="delete-email">{move || format!("Type {} to confirm", email())}</label>
                            <input id="delete-email" type="email" name="confirm-email" required autocomplete="off"
                                data-testid="delete-email" bind:value=confirm_email/>
                        </div>
                        <CurrentPassword id="delete-password" value=password/>
                        <div class="kh-actions kh-actions--start">
                            <button type="submit" class="kh-button kh-button--danger" data-testid="delete-confirm"
                                disabled=move || pending.get() || !matches()>
                                {move || if pending.get() { "Deleting…" } else { "Delete my account" }}
                            </button>
                            <button type="button" class="kh-button kh-button--secondary" data-testid="delete-cancel"
                                disabled=move || pending.get() on:click=move |_| { open.set(false); error.set(None); }>
                                "Keep my account"
                            </button>
                        </div>
                    </form>
                }.into_any()
            } else {
                view! {
                    <div class="kh-actions kh-actions--start">
                        <button type="button" class="kh-button kh-button--ghost kh-button--outline kh-danger-text"
                            data-testid="delete-open" on:click=move |_| open.set(true)>
                            "Delete my account…"
                        </button>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
