//! Pieces shared by the operator pages (and the connected-apps page): the
//! admin gate, the page header, copy buttons, dates, type names, messages.

use keyhouse_idp_component::{ApiError, Session, SessionStatus, use_session};
use keyhouse_types::ClientType;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::pages::RequireSession;
use crate::pages::auth::capitalise;

/// What a non-operator sees on the operator pages.
pub const DENIED: &str = "Only operators can manage Connected Apps";

/// Renders `children` only for a signed-in operator (`is_admin`); signed-out
/// visitors go to the login page, everyone else is told the pages are for
/// operators. The server decides again on every call.
#[component]
pub fn RequireAdmin(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let children = StoredValue::new(children);
    view! {
        <RequireSession>
            {move || match session.status() {
                SessionStatus::SignedIn(s) if s.is_admin => children.with_value(|c| c()).into_any(),
                _ => view! { <AdminDenied/> }.into_any(),
            }}
        </RequireSession>
    }
}

/// "Only operators…": for non-operators, and when the API answers 403.
#[component]
pub fn AdminDenied() -> impl IntoView {
    let session = use_session();
    let email = move || session.user().map(|u| u.email).unwrap_or_default();
    view! {
        <section class="kh-card kh-narrow kh-denied" role="alert" data-testid="admin-denied">
            <p class="kh-eyebrow">"Operators only"</p>
            <h1>{DENIED}</h1>
            <p class="kh-muted">
                "You're signed in as " <strong>{email}</strong>
                ", which isn't an operator account. Registering apps, rotating their secrets and reading the audit log are for the people who run this service."
            </p>
            <div class="kh-actions kh-actions--start">
                <a href="/account/connected-apps" rel="external" class="kh-button kh-button--secondary">
                    "See the apps connected to your account"
                </a>
            </div>
        </section>
    }
}

/// The operator pages' heading and sub-navigation.
#[component]
pub fn AdminHeader(
    /// The page's `<h1>`.
    #[prop(into)]
    title: Signal<String>,
    /// One sentence under it.
    intro: &'static str,
    /// Extra content on the right of the title (e.g. a button).
    #[prop(optional)]
    action: Option<AnyView>,
) -> impl IntoView {
    view! {
        <section class="kh-card" aria-labelledby="admin-title">
            <div class="kh-page-head">
                <div class="kh-page-head__text">
                    <p class="kh-eyebrow">"Operator dashboard"</p>
                    <h1 id="admin-title">{move || title.get()}</h1>
                    <p class="kh-muted">{intro}</p>
                </div>
                {action}
            </div>
            <nav class="kh-tabs" aria-label="Operator dashboard">
                <A href="/admin" exact=true attr:data-testid="admin-apps-link">"Connected Apps"</A>
                <A href="/admin/users" attr:data-testid="admin-users-link">"Users"</A>
                <A href="/admin/agents" attr:data-testid="admin-agents-link">"Agents & resources"</A>
                <A href="/admin/audit" attr:data-testid="admin-audit-link">"Audit log"</A>
            </nav>
        </section>
    }
}

/// A "Copy" button for `value`; says "Copied" (or how to copy by hand) after.
#[component]
pub fn CopyButton(
    /// What to copy.
    #[prop(into)]
    value: Signal<String>,
    /// `data-testid`.
    testid: &'static str,
    /// Accessible name, e.g. "Copy the client ID".
    label: String,
) -> impl IntoView {
    let result = RwSignal::new(None::<bool>);
    let generation = StoredValue::new(0u32);
    let copy = move |_| {
        generation.update_value(|g| *g = g.wrapping_add(1));
        let mine = generation.get_value();
        result.set(None);
        write_clipboard(&value.get_untracked(), result);
        set_timeout(
            move || {
                if generation.try_get_value() == Some(mine) {
                    let _ = result.try_set(None);
                }
            },
            std::time::Duration::from_secs(4),
        );
    };
    view! {
        <span class="kh-copy">
            <button type="button" class="kh-button kh-button--secondary kh-button--small kh-copy__button"
                data-testid=testid aria-label=label on:click=copy>
                {move || if result.get() == Some(true) { "Copied" } else { "Copy" }}
            </button>
            <span class="kh-copy__status" role="status" aria-live="polite">
                {move || match result.get() {
                    Some(true) => view! { <span class="kh-visually-hidden">"Copied to the clipboard"</span> }.into_any(),
                    Some(false) => view! { <span class="kh-row-error">"Couldn't copy: select the text and copy it yourself."</span> }.into_any(),
                    None => ().into_any(),
                }}
            </span>
        </span>
    }
}

/// One value to copy, in a credentials list: its name, the value and a
/// "Copy" button (and any hint after it).
#[component]
pub fn Credential(
    /// The value's name (`<dt>`).
    name: &'static str,
    /// The value.
    #[prop(into)]
    value: Signal<String>,
    /// The value's `data-testid`.
    testid: &'static str,
    /// A secret is shown in the secret style.
    #[prop(optional)]
    secret: bool,
    /// The copy button's `data-testid`.
    copy_testid: &'static str,
    /// The copy button's accessible name, e.g. "Copy the client ID".
    copy_label: &'static str,
    /// Shown after the button (a hint).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="kh-credential">
            <dt>{name}</dt>
            <dd>
                <code class=if secret { "kh-credential__value kh-secret" } else { "kh-credential__value" }
                    data-testid=testid>{move || value.get()}</code>
                <CopyButton value testid=copy_testid label=copy_label.to_owned()/>
                {children.map(|c| c())}
            </dd>
        </div>
    }
}

/// The two buttons of a confirmation: the dangerous action, and "Keep it".
#[component]
pub fn ConfirmActions(
    /// The action button's `data-testid`.
    confirm_testid: &'static str,
    /// The "Keep it" button's `data-testid`.
    cancel_testid: &'static str,
    /// The action is running: both buttons wait.
    pending: RwSignal<bool>,
    /// Whether the confirmation is shown; "Keep it" clears it.
    confirming: RwSignal<bool>,
    /// The action button's words.
    #[prop(into)]
    label: Signal<&'static str>,
    /// The action.
    on_confirm: impl FnMut(leptos::ev::MouseEvent) + 'static,
) -> impl IntoView {
    view! {
        <div class="kh-actions kh-actions--start">
            <button type="button" class="kh-button kh-button--danger" data-testid=confirm_testid
                disabled=move || pending.get() on:click=on_confirm>
                {move || label.get()}
            </button>
            <button type="button" class="kh-button kh-button--secondary" data-testid=cancel_testid
                disabled=move || pending.get() on:click=move |_| confirming.set(false)>
                "Keep it"
            </button>
        </div>
    }
}

/// A panel's last outcome: a notice when it worked, an alert when not.
#[component]
pub fn PanelMessage(
    /// Whether it worked, and what to say.
    message: RwSignal<Option<(bool, String)>>,
    /// The message's `data-testid`.
    testid: &'static str,
) -> impl IntoView {
    move || {
        message.get().map(|(ok, m)| {
            view! {
                <p class=if ok { "kh-notice" } else { "kh-alert" } role="status" data-testid=testid>{m}</p>
            }
        })
    }
}

/// `navigator.clipboard.writeText(text)`; `result` becomes whether it worked.
#[cfg(target_arch = "wasm32")]
fn write_clipboard(text: &str, result: RwSignal<Option<bool>>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};

    let get = |target: &JsValue, key: &str| {
        js_sys::Reflect::get(target, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let promise = get(&JsValue::from(js_sys::global()), "navigator")
        .and_then(|n| get(&n, "clipboard"))
        .and_then(|clipboard| {
            let write = get(&clipboard, "writeText")?
                .dyn_into::<js_sys::Function>()
                .ok()?;
            write
                .call1(&clipboard, &JsValue::from_str(text))
                .ok()?
                .dyn_into::<js_sys::Promise>()
                .ok()
        });
    let Some(promise) = promise else {
        result.set(Some(false));
        return;
    };
    let done = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
        let _ = result.try_set(Some(true));
    });
    let failed = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
        let _ = result.try_set(Some(false));
    });
    let _ = promise.then2(&done, &failed);
    // Called by the browser later; a few bytes per click.
    done.forget();
    failed.forget();
}

#[cfg(not(target_arch = "wasm32"))]
fn write_clipboard(_text: &str, result: RwSignal<Option<bool>>) {
    result.set(Some(false));
}

/// A date, e.g. "Jan 5, 2026" (the browser's locale).
pub fn format_date(unix: i64) -> String {
    js_format(unix, false).unwrap_or_else(|| unix.to_string())
}

/// A date and time, e.g. "Jan 5, 2026, 3:04 PM".
pub fn format_datetime(unix: i64) -> String {
    js_format(unix, true).unwrap_or_else(|| unix.to_string())
}

#[cfg(target_arch = "wasm32")]
fn js_format(unix: i64, with_time: bool) -> Option<String> {
    use wasm_bindgen::JsValue;

    let date = js_sys::Date::new(&JsValue::from_f64(unix as f64 * 1000.0));
    let options = js_sys::Object::new();
    let set = |k: &str, v: &str| {
        let _ = js_sys::Reflect::set(&options, &JsValue::from_str(k), &JsValue::from_str(v));
    };
    set("dateStyle", "medium");
    let text = if with_time {
        set("timeStyle", "short");
        date.to_locale_string("default", &options)
    } else {
        date.to_locale_date_string("default", &options)
    };
    let text = String::from(text);
    (!text.is_empty() && text != "Invalid Date").then_some(text)
}

#[cfg(not(target_arch = "wasm32"))]
fn js_format(_unix: i64, _with_time: bool) -> Option<String> {
    None
}

/// The type in a few words, for tables and badges.
pub fn type_label(t: ClientType) -> &'static str {
    match t {
        ClientType::FirstParty => "First-party, keeps a secret",
        ClientType::FirstPartyPublic => "First-party, no secret (PKCE)",
        ClientType::ThirdParty => "Third-party, keeps a secret",
        ClientType::ThirdPartyPublic => "Third-party, no secret (PKCE)",
    }
}

/// "First-party app" / "Third-party app", as the consent screen says it.
pub fn party_label(t: ClientType) -> &'static str {
    if t.is_first_party() {
        "First-party app"
    } else {
        "Third-party app"
    }
}

/// A server description as a sentence: capitalised, with a full stop.
pub fn sentence(s: &str) -> String {
    capitalise(s)
}

/// What to tell the operator when an admin call fails.
pub fn admin_message(e: &ApiError) -> String {
    match (e.status(), e.code()) {
        (_, "network_error") => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        (401, _) => "Your session has ended. Sign in again.".into(),
        (403, _) => format!("{DENIED}."),
        (404, _) => "This app no longer exists. It may have been deleted.".into(),
        (409, _) => e.description().map(sentence).unwrap_or_else(|| {
            "That isn't possible right now. Reload the page and try again.".into()
        }),
        (400, _) => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Check the form and try again.".into()),
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}

/// Marks the session as ended when the server says so (401), which sends
/// the operator to the login page.
pub fn note_signed_out(session: Session, e: &ApiError) {
    if e.status() == 401 {
        session.mark_signed_out();
    }
}

/// What a panel does when a call fails: a 401 marks the session signed
/// out, the message is shown as an alert, and the panel stops waiting.
pub fn failure_note(
    session: Session,
    message: RwSignal<Option<(bool, String)>>,
    pending: RwSignal<bool>,
) -> impl Fn(ApiError) + Copy {
    move |e: ApiError| {
        note_signed_out(session, &e);
        message.set(Some((false, admin_message(&e))));
        pending.set(false);
    }
}
