//! Where the account is signed in: each browser, from where, when last
//! used; signing one out, or every one but this.

use keyhouse_idp_component::{ApiClient, ApiError, use_session};
use keyhouse_types::{AccountSession, SessionsEnded};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::refusal;
use crate::pages::Spinner;
use crate::pages::admin::widgets::format_datetime;
use crate::pages::encode_segment;

const SESSIONS: &str = "/api/account/sessions";

/// The sessions card.
#[component]
pub(crate) fn Sessions() -> impl IntoView {
    let session = use_session();
    let list = RwSignal::new(None::<Result<Vec<AccountSession>, String>>);
    let status = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let load = move || {
        spawn_local(async move {
            let r = ApiClient::same_origin()
                .get_json::<Vec<AccountSession>>(SESSIONS)
                .await;
            if let Err(e) = &r
                && e.status() == 401
            {
                session.mark_signed_out();
            }
            list.set(Some(r.map_err(|e| refusal(&e))));
        });
    };
    Effect::new(move |_| load());
    let sign_out_others = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        spawn_local(async move {
            let r: Result<SessionsEnded, ApiError> = ApiClient::same_origin()
                .post_json(&format!("{SESSIONS}/sign-out-others"), &())
                .await;
            status.set(Some(match r {
                Ok(SessionsEnded { ended: 0 }) => "You were not signed in anywhere else.".into(),
                Ok(SessionsEnded { ended: 1 }) => "Signed out of 1 other session.".into(),
                Ok(SessionsEnded { ended }) => format!("Signed out of {ended} other sessions."),
                Err(e) => refusal(&e),
            }));
            pending.set(false);
            load();
        });
    };
    let on_ended = Callback::new(move |browser: String| {
        status.set(Some(format!("Signed out of {browser}.")));
        load();
    });
    let others = move || {
        list.get()
            .and_then(Result::ok)
            .is_some_and(|l| l.iter().any(|s| !s.current))
    };
    view! {
        <section class="kh-card kh-narrow" aria-labelledby="sessions-title">
            <h2 id="sessions-title" class="kh-card__title">"Where you're signed in"</h2>
            <p class="kh-muted">"If you don't recognise a session, sign it out and change your password."</p>
            <p class="kh-saved" role="status" aria-live="polite" data-testid="sessions-status">{move || status.get()}</p>
            {move || match list.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(m)) => view! { <p class="kh-alert" role="alert" data-testid="sessions-error">{m}</p> }.into_any(),
                Some(Ok(all)) => view! {
                    <ul class="kh-session-list" aria-label="Sessions">
                        {all.into_iter().map(|s| view! { <SessionItem s on_ended/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            {move || others().then(|| view! {
                <div class="kh-actions kh-actions--start">
                    <button type="button" class="kh-button kh-button--secondary" data-testid="sessions-sign-out-others"
                        disabled=move || pending.get() on:click=sign_out_others>
                        {move || if pending.get() { "Signing out…" } else { "Sign out everywhere else" }}
                    </button>
                </div>
            })}
        </section>
    }
}

/// One session.
#[component]
fn SessionItem(s: AccountSession, on_ended: Callback<String>) -> impl IntoView {
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let where_from = match &s.ip {
        Some(ip) => format!("from {ip}"),
        None => "from an unknown address".to_owned(),
    };
    let meta = if s.current {
        format!(
            "This browser · {where_from} · signed in {}",
            format_datetime(s.signed_in_at)
        )
    } else {
        format!(
            "Last active {} · {where_from} · signed in {}",
            format_datetime(s.last_seen_at),
            format_datetime(s.signed_in_at)
        )
    };
    let id = StoredValue::new(s.id.clone());
    let browser = StoredValue::new(s.browser.clone());
    let end = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        spawn_local(async move {
            let path = format!("{SESSIONS}/{}", encode_segment(&id.get_value()));
            match ApiClient::same_origin().delete(&path).await {
                Ok(()) => on_ended.run(browser.get_value()),
                Err(e) if e.status() == 404 => on_ended.run(browser.get_value()),
                Err(e) => {
                    error.set(Some(refusal(&e)));
                    pending.set(false);
                }
            }
        });
    };
    let label = format!("Sign out {}", s.browser);
    view! {
        <li class="kh-session" data-testid="session" data-current=s.current.to_string()>
            <div class="kh-session__text">
                <strong class="kh-session__browser" title=s.user_agent.clone().unwrap_or_default()>
                    {s.browser.clone()}
                </strong>
                {s.current.then(|| view! { " " <span class="kh-badge kh-badge--ok">"Current"</span> })}
                <small class="kh-muted kh-session__meta">{meta}</small>
                {move || error.get().map(|e| view! { <p class="kh-alert" role="alert">{e}</p> })}
            </div>
            {(!s.current).then(|| view! {
                <button type="button" class="kh-button kh-button--ghost kh-button--small kh-button--outline"
                    data-testid="session-sign-out" aria-label=label disabled=move || pending.get() on:click=end>
                    "Sign out"
                </button>
            })}
        </li>
    }
}
