//! The password card: change it, knowing the current one.

use keyhouse_idp_component::{ApiClient, ApiError};
use keyhouse_types::{ChangePasswordRequest, ChangePasswordResponse};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::refusal;
use crate::pages::auth::ErrorNote;

/// The account page's password form.
#[component]
pub(crate) fn ChangePassword() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let new_password = new.get_untracked();
        if new_password.chars().count() < 8 {
            error.set(Some("Use a new password of at least 8 characters.".into()));
            return;
        }
        pending.set(true);
        error.set(None);
        done.set(None);
        let req = ChangePasswordRequest {
            current_password: current.get_untracked(),
            new_password,
        };
        spawn_local(async move {
            let answer: Result<ChangePasswordResponse, ApiError> = ApiClient::same_origin()
                .post_json("/api/account/password", &req)
                .await;
            match answer {
                Ok(r) => {
                    current.set(String::new());
                    new.set(String::new());
                    done.set(Some(match r.other_sessions_ended {
                        0 => "Password changed.".to_owned(),
                        1 => "Password changed. Your other session was signed out.".to_owned(),
                        n => format!("Password changed. Your {n} other sessions were signed out."),
                    }));
                }
                Err(e) => error.set(Some(refusal(&e))),
            }
            pending.set(false);
        });
    };
    view! {
        <section class="kh-card kh-narrow" aria-labelledby="password-title">
            <h2 id="password-title" class="kh-card__title">"Password"</h2>
            <p class="kh-muted">"Changing it signs you out on your other devices."</p>
            <form on:submit=on_submit>
                <ErrorNote error testid="password-error"/>
                {move || done.get().map(|m| view! {
                    <p class="kh-notice" role="status" data-testid="password-done">{m}</p>
                })}
                <div class="kh-field">
                    <label for="password-current">"Current password"</label>
                    <input id="password-current" type="password" name="current-password" required
                        autocomplete="current-password" data-testid="password-current" bind:value=current/>
                </div>
                <div class="kh-field">
                    <label for="password-new">"New password"</label>
                    <input id="password-new" type="password" name="new-password" required minlength="8"
                        autocomplete="new-password" aria-describedby="password-new-hint"
                        data-testid="password-new" bind:value=new/>
                    <small id="password-new-hint" class="kh-muted">"At least 8 characters."</small>
                </div>
                <button type="submit" class="kh-button kh-button--primary" data-testid="password-submit"
                    disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { "Change password" }}
                </button>
            </form>
        </section>
    }
}
