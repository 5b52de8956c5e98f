//! [`TotpChallenge`]: the second step of a sign-in for an account with
//! two-step verification, and the step-up an app's `acr_values` can ask
//! for. It takes a code from the authenticator app, or a recovery code.
//! [`MemberTotpChallenge`] is the same for a member of an organization.

use keyhouse_types::b2b::MemberSessionResponse;
use keyhouse_types::{ErrorCode, SecondFactorCode, SessionResponse};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiClient, ApiError};

/// Every string of [`TotpChallenge`], English by default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SecondFactorText {
    /// The heading.
    pub title: String,
    /// Under it, asking for the app's code.
    pub app_text: String,
    /// Under it, asking for a recovery code.
    pub recovery_text: String,
    /// The field's label for the app's code.
    pub app_label: String,
    /// The field's label for a recovery code.
    pub recovery_label: String,
    /// The button.
    pub verify_button: String,
    /// Switches to a recovery code.
    pub use_recovery: String,
    /// Switches back to the app.
    pub use_app: String,
    /// A wrong or used code.
    pub wrong_code: String,
    /// The sign-in waited too long.
    pub expired: String,
    /// Too many wrong codes.
    pub too_many: String,
    /// The server cannot be reached.
    pub unreachable: String,
    /// Anything else.
    pub failed: String,
    /// Back to the first step, after the sign-in expired.
    pub start_over: String,
}

impl Default for SecondFactorText {
    fn default() -> SecondFactorText {
        SecondFactorText {
            title: "Two-step verification".into(),
            app_text: "Enter the 6-digit code from your authenticator app.".into(),
            recovery_text: "Enter one of the recovery codes you saved when you turned two-step verification on. Each works once.".into(),
            app_label: "Code".into(),
            recovery_label: "Recovery code".into(),
            verify_button: "Verify".into(),
            use_recovery: "Use a recovery code instead".into(),
            use_app: "Use the authenticator app instead".into(),
            wrong_code: "That code is wrong or was already used. Wait for the next code in your app and try again.".into(),
            expired: "This sign-in took too long. Sign in again.".into(),
            too_many: "Too many wrong codes. Wait 15 minutes and try again.".into(),
            unreachable: "Can't reach the server. Check your connection and try again.".into(),
            failed: "Something went wrong. Try again in a moment.".into(),
            start_over: "Sign in again".into(),
        }
    }
}

impl SecondFactorText {
    /// The message for a refused code.
    pub fn error_message(&self, e: &ApiError) -> String {
        match e.error_code() {
            Some(ErrorCode::InvalidGrant) => self.wrong_code.clone(),
            Some(ErrorCode::SessionRequired) => self.expired.clone(),
            Some(ErrorCode::TooManyAttempts) => self.too_many.clone(),
            None if e.is_network() => self.unreachable.clone(),
            _ => self.failed.clone(),
        }
    }
}

/// Who signs in with the code, and what runs after.
#[derive(Clone, Copy)]
enum Target {
    User(Callback<SessionResponse>),
    Member(Callback<MemberSessionResponse>),
}

/// The second factor: a code from the authenticator app, or a recovery
/// code. Shown after a password or mailed code was right for an account
/// with two-step verification (the backend answered
/// `second_factor_required`), or when an app asks for two factors of a
/// session that used one. `on_signed_in` runs with the new session.
#[component]
pub fn TotpChallenge(
    /// Called with the session once the code was accepted.
    #[prop(into)]
    on_signed_in: Callback<SessionResponse>,
    /// Back to the first step (the password form): offered once the
    /// waiting sign-in has expired. Without, nothing is offered.
    #[prop(optional, into)]
    on_start_over: Option<Callback<()>>,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<SecondFactorText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    challenge(Target::User(on_signed_in), on_start_over, text, api)
}

/// [`TotpChallenge`] for a member of an organization: the second step of
/// a member's sign-in (`/api/b2b/session/second-factor`), or the step-up
/// an organization that asks for two factors, or an app, needs.
#[component]
pub fn MemberTotpChallenge(
    /// Called with the member session once the code was accepted.
    #[prop(into)]
    on_signed_in: Callback<MemberSessionResponse>,
    /// Back to the first step, once the waiting sign-in has expired.
    #[prop(optional, into)]
    on_start_over: Option<Callback<()>>,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<SecondFactorText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    challenge(Target::Member(on_signed_in), on_start_over, text, api)
}

fn challenge(
    target: Target,
    on_start_over: Option<Callback<()>>,
    text: Option<SecondFactorText>,
    api: Option<ApiClient>,
) -> impl IntoView {
    let t = StoredValue::new(text.unwrap_or_default());
    let expired = RwSignal::new(false);
    let api = StoredValue::new(api.unwrap_or_default());
    let code = RwSignal::new(String::new());
    let recovery = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let session = use_context::<crate::Session>();
    let member = use_context::<crate::MemberSession>();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            let req = SecondFactorCode {
                code: code.get_untracked(),
            };
            let api = api.get_value();
            let answer = match target {
                Target::User(done) => api.second_factor(&req).await.map(|s| {
                    if let Some(app) = session {
                        app.mark_signed_in(s.clone());
                    }
                    done.run(s);
                }),
                Target::Member(done) => api.member_second_factor(&req).await.map(|m| {
                    if let Some(app) = member {
                        app.mark_signed_in(m.clone());
                    }
                    done.run(m);
                }),
            };
            match answer {
                Ok(()) => {}
                Err(e) => {
                    expired.set(e.error_code() == Some(ErrorCode::SessionRequired));
                    error.set(Some(t.with_value(|t| t.error_message(&e))));
                    code.set(String::new());
                    pending.set(false);
                }
            }
        });
    };
    let words = move |pick: fn(&SecondFactorText) -> &String| t.with_value(|t| pick(t).clone());
    view! {
        <div class="kh-code" data-testid="second-factor">
            <h2 class="kh-code__title">{words(|t| &t.title)}</h2>
            <p class="kh-muted" id="kh-second-factor-help">
                {move || if recovery.get() { words(|t| &t.recovery_text) } else { words(|t| &t.app_text) }}
            </p>
            // `post`: submitted before the script runs, the code stays out of
            // the address bar and history.
            <form method="post" on:submit=on_submit>
                {move || error.get().map(|e| view! {
                    <p class="kh-alert" role="alert" data-testid="second-factor-error">{e}</p>
                })}
                {move || on_start_over.filter(|_| expired.get()).map(|again| view! {
                    <p>
                        <button type="button" class="kh-button kh-button--secondary kh-button--block"
                            data-testid="second-factor-start-over" on:click=move |_| again.run(())>
                            {words(|t| &t.start_over)}
                        </button>
                    </p>
                })}
                <div class="kh-field">
                    <label for="kh-second-factor-input">
                        {move || if recovery.get() { words(|t| &t.recovery_label) } else { words(|t| &t.app_label) }}
                    </label>
                    <input id="kh-second-factor-input" class="kh-code__input" name="code" required
                        aria-describedby="kh-second-factor-help"
                        inputmode=move || if recovery.get() { "text" } else { "numeric" }
                        autocomplete=move || if recovery.get() { "off" } else { "one-time-code" }
                        autocapitalize="none" spellcheck="false"
                        maxlength=move || if recovery.get() { "13" } else { "7" }
                        data-testid="second-factor-input" bind:value=code/>
                </div>
                <button type="submit" class="kh-button kh-button--primary kh-button--block"
                    data-testid="second-factor-submit" disabled=move || pending.get()>
                    {words(|t| &t.verify_button)}
                </button>
            </form>
            <p class="kh-muted kh-sign-in__switch">
                <button type="button" class="kh-link" data-testid="second-factor-switch"
                    on:click=move |_| {
                        error.set(None);
                        code.set(String::new());
                        recovery.update(|r| *r = !*r);
                    }>
                    {move || if recovery.get() { words(|t| &t.use_app) } else { words(|t| &t.use_recovery) }}
                </button>
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::refused as server;

    #[test]
    fn each_refusal_has_its_words() {
        let t = SecondFactorText::default();
        assert_eq!(t.error_message(&server("invalid_grant")), t.wrong_code);
        assert_eq!(t.error_message(&server("session_required")), t.expired);
        assert_eq!(t.error_message(&server("too_many_attempts")), t.too_many);
        assert_eq!(
            t.error_message(&ApiError::Network("down".into())),
            t.unreachable
        );
    }
}
