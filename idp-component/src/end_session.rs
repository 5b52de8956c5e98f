//! [`EndSession`]: the page at the `end_session_endpoint` (`/logout`), where
//! a client that signed someone in sends the browser to sign them out
//! (OpenID Connect RP-Initiated Logout). It passes the request on to the
//! backend, asks the person first when the request does not prove it comes
//! from a client this session signed into, then goes back to the client's
//! registered `post_logout_redirect_uri` (with its `state`) or says the
//! person is signed out.

use keyhouse_types::ErrorCode;
use keyhouse_types::logout::{EndSessionCheck, EndSessionDone, EndSessionRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiClient, ApiError};
use crate::session::Session;

/// Every string of [`EndSession`], English by default. `{client}` is
/// replaced by the client's name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EndSessionText {
    /// While the request is checked or the session ended.
    pub working: String,
    /// The question's heading.
    pub confirm_title: String,
    /// The question, when a client asked (`{client}`).
    pub confirm_client: String,
    /// The question, when no client is named.
    pub confirm_plain: String,
    /// Signs out.
    pub sign_out: String,
    /// Keeps the session.
    pub stay: String,
    /// Heading once signed out (and nowhere to go back to).
    pub signed_out_title: String,
    /// Under it.
    pub signed_out: String,
    /// Heading when the person chose to stay.
    pub stayed_title: String,
    /// Under it.
    pub stayed: String,
    /// Heading when the request is refused.
    pub refused_title: String,
    /// The link on from every end.
    pub continue_label: String,
    /// The server cannot be reached.
    pub unreachable: String,
    /// Anything else.
    pub failed: String,
}

impl Default for EndSessionText {
    fn default() -> EndSessionText {
        EndSessionText {
            working: "Signing you out…".into(),
            confirm_title: "Sign out?".into(),
            confirm_client: "{client} asks to sign you out. You will be signed out of this site on this device, and of the apps you signed in to with it here.".into(),
            confirm_plain: "You will be signed out of this site on this device, and of the apps you signed in to with it here.".into(),
            sign_out: "Sign out".into(),
            stay: "Stay signed in".into(),
            signed_out_title: "You're signed out".into(),
            signed_out: "You have been signed out on this device. Apps you connected to your account keep their access until you disconnect them.".into(),
            stayed_title: "You're still signed in".into(),
            stayed: "Nothing changed.".into(),
            refused_title: "This sign-out link doesn't work".into(),
            continue_label: "Continue".into(),
            unreachable: "We can't reach the server. Check your connection and try again.".into(),
            failed: "Something went wrong. Try again in a moment.".into(),
        }
    }
}

impl EndSessionText {
    /// The message for a failed call: the server's own words for a refused
    /// request (an unregistered address, a hint from elsewhere).
    pub fn error_message(&self, e: &ApiError) -> String {
        match e.error_code() {
            Some(ErrorCode::InvalidRequest) => e
                .description()
                .map(crate::sign_in::sentence)
                .unwrap_or_else(|| self.failed.clone()),
            None if e.is_network() => self.unreachable.clone(),
            _ => self.failed.clone(),
        }
    }
}

/// Where the page is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Working,
    Confirm(EndSessionCheck),
    SignedOut,
    Stayed,
    Refused(String),
}

/// The request in a query string (with or without the leading `?`); each
/// parameter once (a repeated one keeps its first value).
pub fn end_session_request(query: &str) -> EndSessionRequest {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut req = EndSessionRequest::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "id_token_hint" => &mut req.id_token_hint,
            "client_id" => &mut req.client_id,
            "post_logout_redirect_uri" => &mut req.post_logout_redirect_uri,
            "state" => &mut req.state,
            "logout_hint" => &mut req.logout_hint,
            "ui_locales" => &mut req.ui_locales,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v.into_owned());
        }
    }
    req
}

/// The sign-out page: mount it at `/logout` (the `end_session_endpoint`).
#[component]
pub fn EndSession(
    /// Where "Continue" leads (default `/`).
    #[prop(into, default = "/".to_owned())]
    home_path: String,
    /// Replaces the words.
    #[prop(optional)]
    text: Option<EndSessionText>,
    /// The Keyhouse API; default: the page's own origin.
    #[prop(optional)]
    api: Option<ApiClient>,
) -> impl IntoView {
    let t = StoredValue::new(text.unwrap_or_default());
    let api = StoredValue::new(api.unwrap_or_default());
    let home = StoredValue::new(home_path);
    let request = StoredValue::new(EndSessionRequest::default());
    let step = RwSignal::new(Step::Working);
    let pending = RwSignal::new(false);
    let session = use_context::<Session>();

    let fail = move |e: ApiError| step.set(Step::Refused(t.with_value(|t| t.error_message(&e))));
    let sign_out = move || {
        pending.set(true);
        spawn_local(async move {
            let done: Result<EndSessionDone, ApiError> = api
                .get_value()
                .post_json("/api/session/end-session", &request.get_value())
                .await;
            match done {
                Ok(EndSessionDone {
                    redirect_to: Some(to),
                }) => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().replace(&to);
                    }
                }
                Ok(EndSessionDone { redirect_to: None }) => {
                    if let Some(s) = session {
                        s.mark_signed_out();
                    }
                    step.set(Step::SignedOut);
                }
                Err(e) => fail(e),
            }
            pending.set(false);
        });
    };

    Effect::new(move |_| {
        let search = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        request.set_value(end_session_request(&search));
        // The request may hold an ID token: keep it out of the history
        // (and of what a later page could read from it).
        if !search.is_empty()
            && let Some(w) = web_sys::window()
            && let (Ok(history), Ok(path)) = (w.history(), w.location().pathname())
        {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
        }
        spawn_local(async move {
            let checked: Result<EndSessionCheck, ApiError> = api
                .get_value()
                .post_json("/api/session/end-session/check", &request.get_value())
                .await;
            match checked {
                Ok(c) if c.confirm => step.set(Step::Confirm(c)),
                Ok(_) => sign_out(),
                Err(e) => fail(e),
            }
        });
    });

    let continue_link = move || {
        view! {
            <a class="kh-button kh-button--secondary kh-button--block" href=home.get_value()
                data-testid="end-session-continue">
                {t.with_value(|t| t.continue_label.clone())}</a>
        }
    };
    view! {
        <div class="kh-idp">
            <section class="kh-card" data-testid="end-session" aria-live="polite">
                {move || match step.get() {
                    Step::Working => view! {
                        <p class="kh-working"><span class="kh-spinner" aria-hidden="true"></span>
                            {t.with_value(|t| t.working.clone())}</p>
                    }.into_any(),
                    Step::Confirm(c) => {
                        let question = match &c.client_name {
                            Some(name) => t.with_value(|t| t.confirm_client.replace("{client}", name)),
                            None => t.with_value(|t| t.confirm_plain.clone()),
                        };
                        view! {
                            <h1 id="kh-end-session-title">{t.with_value(|t| t.confirm_title.clone())}</h1>
                            <p data-testid="end-session-question">{question}</p>
                            <div class="kh-actions">
                                <button type="button" class="kh-button kh-button--secondary"
                                    data-testid="end-session-stay" disabled=move || pending.get()
                                    on:click=move |_| step.set(Step::Stayed)>
                                    {t.with_value(|t| t.stay.clone())}</button>
                                <button type="button" class="kh-button kh-button--primary"
                                    data-testid="end-session-confirm" disabled=move || pending.get()
                                    on:click=move |_| sign_out()>
                                    {t.with_value(|t| t.sign_out.clone())}</button>
                            </div>
                        }.into_any()
                    }
                    Step::SignedOut => view! {
                        <h1>{t.with_value(|t| t.signed_out_title.clone())}</h1>
                        <p class="kh-notice" role="status" data-testid="end-session-done">
                            {t.with_value(|t| t.signed_out.clone())}</p>
                        {continue_link()}
                    }.into_any(),
                    Step::Stayed => view! {
                        <h1>{t.with_value(|t| t.stayed_title.clone())}</h1>
                        <p role="status" data-testid="end-session-stayed">{t.with_value(|t| t.stayed.clone())}</p>
                        {continue_link()}
                    }.into_any(),
                    Step::Refused(msg) => view! {
                        <h1>{t.with_value(|t| t.refused_title.clone())}</h1>
                        <p class="kh-alert" role="alert" data-testid="end-session-error">{msg}</p>
                        {continue_link()}
                    }.into_any(),
                }}
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::end_session_request;

    #[test]
    fn the_request_is_read_from_the_query_each_parameter_once() {
        let r = end_session_request(
            "?id_token_hint=a.b.c&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&state=x%20y&state=z&other=1",
        );
        assert_eq!(r.id_token_hint.as_deref(), Some("a.b.c"));
        assert_eq!(
            r.post_logout_redirect_uri.as_deref(),
            Some("https://rp.example/bye")
        );
        assert_eq!(r.state.as_deref(), Some("x y"));
        assert_eq!(r.client_id, None);
        assert_eq!(end_session_request(""), Default::default());
    }
}
