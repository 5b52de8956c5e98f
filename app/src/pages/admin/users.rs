//! `/admin/users`: find an account by part of its address or name; disable
//! it (every session, connected app and token ends at once) or enable it
//! again; require a new password (every session ends and a reset link is
//! mailed). Each action asks first and lands in the audit log.

use keyhouse_idp_component::{ApiError, use_session};
use keyhouse_types::admin::{AdminUser, Page};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api;
use super::widgets::{
    AdminDenied, AdminHeader, ConfirmActions, RequireAdmin, admin_message, format_date,
    note_signed_out,
};
use crate::pages::Spinner;

/// The users page.
#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <RequireAdmin>
            <Users/>
        </RequireAdmin>
    }
}

/// Where the list stands.
#[derive(Clone, PartialEq)]
enum State {
    Loading,
    Ready,
    Denied,
    Failed(String),
}

#[component]
fn Users() -> impl IntoView {
    let session = use_session();
    let query = RwSignal::new(String::new());
    let items = RwSignal::new(Vec::<AdminUser>::new());
    let next = RwSignal::new(None::<String>);
    let state = RwSignal::new(State::Loading);
    let status = RwSignal::new(None::<String>);
    // Each search is numbered: an answer to an older one is dropped.
    let generation = StoredValue::new(0u32);
    let load = move |cursor: Option<String>| {
        let first = cursor.is_none();
        if first {
            generation.update_value(|g| *g = g.wrapping_add(1));
            state.set(State::Loading);
        }
        let mine = generation.get_value();
        let q = query.get_untracked();
        spawn_local(async move {
            let r: Result<Page<AdminUser>, ApiError> = api::list_users(&q, cursor).await;
            if generation.get_value() != mine {
                return;
            }
            match r {
                Ok(page) => {
                    if first {
                        items.set(page.items);
                    } else {
                        items.update(|v| v.extend(page.items));
                    }
                    next.set(page.next_cursor);
                    state.set(State::Ready);
                }
                Err(e) => {
                    note_signed_out(session, &e);
                    state.set(if e.status() == 403 {
                        State::Denied
                    } else {
                        State::Failed(admin_message(&e))
                    });
                }
            }
        });
    };
    Effect::new(move |_| load(None));
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        status.set(None);
        load(None);
    };
    let changed = Callback::new(move |(user, said): (AdminUser, String)| {
        items.update(|v| {
            if let Some(u) = v.iter_mut().find(|u| u.user_id == user.user_id) {
                *u = user;
            }
        });
        status.set(Some(said));
    });

    view! {
        <div class="kh-admin">
            <Show when=move || state.get() != State::Denied fallback=|| view! { <AdminDenied/> }>
                <AdminHeader title="Users".to_owned()
                    intro="Find an account; disable it, make its owner choose a new password, or turn off two-step verification for someone who lost their phone."/>
                <section class="kh-card" aria-labelledby="users-title">
                    <h2 id="users-title" class="kh-section-title">"Accounts"</h2>
                    <form class="kh-search" role="search" on:submit=search>
                        <label for="users-search" class="kh-visually-hidden">"Find users"</label>
                        <input id="users-search" type="search" name="q" placeholder="Part of an address or a name"
                            data-testid="admin-users-search" bind:value=query/>
                        <button type="submit" class="kh-button kh-button--secondary" data-testid="admin-users-search-submit">"Search"</button>
                    </form>
                    <p class="kh-saved" role="status" aria-live="polite" data-testid="admin-users-status">{move || status.get()}</p>
                    {move || match state.get() {
                        State::Loading | State::Denied => view! { <Spinner/> }.into_any(),
                        State::Failed(m) => view! {
                            <p class="kh-alert" role="alert" data-testid="admin-users-error">{m}</p>
                        }.into_any(),
                        State::Ready if items.with(Vec::is_empty) => view! {
                            <p class="kh-empty" data-testid="admin-users-empty">"No account matches."</p>
                        }.into_any(),
                        State::Ready => view! { <UsersTable items changed/> }.into_any(),
                    }}
                    {move || next.get().map(|c| view! {
                        <div class="kh-actions kh-actions--start">
                            <button type="button" class="kh-button kh-button--secondary" data-testid="admin-users-more"
                                on:click=move |_| load(Some(c.clone()))>"Load more"</button>
                        </div>
                    })}
                </section>
            </Show>
        </div>
    }
}

#[component]
fn UsersTable(
    items: RwSignal<Vec<AdminUser>>,
    changed: Callback<(AdminUser, String)>,
) -> impl IntoView {
    let session = use_session();
    let me = Memo::new(move |_| session.user().map(|u| u.user_id));
    view! {
        <div class="kh-table-wrap">
            <table class="kh-table">
                <caption class="kh-visually-hidden">"Users, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Account"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col"><span class="kh-visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || items.get()
                        key=|u| (u.user_id.clone(), u.disabled_at, u.password_reset_required)
                        let:u>
                        {
                            let is_me = me.get_untracked().as_deref() == Some(u.user_id.as_str());
                            view! { <UserRow u is_me changed/> }
                        }
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// What a row is asking to confirm.
#[derive(Clone, Copy, PartialEq)]
enum Asking {
    Disable,
    Reset,
    TwoStep,
}

#[component]
fn UserRow(u: AdminUser, is_me: bool, changed: Callback<(AdminUser, String)>) -> impl IntoView {
    let session = use_session();
    let asking = RwSignal::new(None::<Asking>);
    let confirming = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if !confirming.get() {
            asking.set(None);
        }
    });
    let user = StoredValue::new(u.clone());
    let fail = move |e: ApiError| {
        note_signed_out(session, &e);
        error.set(Some(admin_message(&e)));
        pending.set(false);
    };
    let run = move |_| {
        let Some(what) = asking.get_untracked() else {
            return;
        };
        pending.set(true);
        error.set(None);
        let mut u = user.get_value();
        spawn_local(async move {
            match what {
                Asking::Disable => match api::disable_user(&u.user_id).await {
                    Ok(d) => {
                        u.disabled_at = Some(0);
                        let said = format!(
                            "{} is disabled: {} session(s) signed out, {} app(s) disconnected.",
                            u.email, d.sessions_ended, d.apps_disconnected
                        );
                        changed.run((u, said));
                    }
                    Err(e) => fail(e),
                },
                Asking::Reset => match api::require_reset(&u.user_id).await {
                    Ok(r) => {
                        u.password_reset_required = true;
                        let said = format!(
                            "{} must choose a new password: {} session(s) signed out, a reset link mailed.",
                            u.email, r.sessions_ended
                        );
                        changed.run((u, said));
                    }
                    Err(e) => fail(e),
                },
                Asking::TwoStep => match api::turn_off_two_step(&u.user_id).await {
                    Ok(after) => {
                        let said = format!(
                            "Two-step verification is off for {}; they were told by mail.",
                            after.email
                        );
                        changed.run((after, said));
                    }
                    Err(e) => fail(e),
                },
            }
        });
    };
    let enable = move |_| {
        pending.set(true);
        error.set(None);
        let id = user.with_value(|u| u.user_id.clone());
        spawn_local(async move {
            match api::enable_user(&id).await {
                Ok(u) => {
                    let said = format!("{} is enabled again.", u.email);
                    changed.run((u, said));
                }
                Err(e) => fail(e),
            }
        });
    };
    let ask = move |what: Asking| {
        asking.set(Some(what));
        confirming.set(true);
    };
    let disabled = u.disabled_at.is_some();
    let second_factor = u.second_factor;
    let label_name = u.email.clone();
    view! {
        <tr data-testid="admin-user-row" data-email=u.email.clone()
            data-disabled=disabled.to_string() data-reset-required=u.password_reset_required.to_string()>
            <td data-label="Account" class="kh-break">
                <span class="kh-table__strong">{u.email.clone()}</span>
                {(!u.name.is_empty()).then(|| view! { <span class="kh-table__sub kh-muted">{u.name.clone()}</span> })}
            </td>
            <td data-label="Status">
                <span class="kh-badges">
                    {disabled.then(|| view! { <span class="kh-badge kh-badge--danger" data-testid="admin-user-disabled">"Disabled"</span> })}
                    {u.password_reset_required.then(|| view! { <span class="kh-badge kh-badge--warn">"New password required"</span> })}
                    {if u.email_verified {
                        view! { <span class="kh-badge kh-badge--ok">"Verified"</span> }.into_any()
                    } else {
                        view! { <span class="kh-badge kh-badge--warn">"Unverified"</span> }.into_any()
                    }}
                    {u.is_admin.then(|| view! { <span class="kh-badge">"Operator"</span> })}
                    {(!u.has_password).then(|| view! { <span class="kh-badge">"No password"</span> })}
                    {u.second_factor.then(|| view! { <span class="kh-badge kh-badge--ok" data-testid="admin-user-two-step">"Two-step"</span> })}
                </span>
            </td>
            <td data-label="Created" class="kh-nowrap">{format_date(u.created_at)}</td>
            <td data-label="Actions" class="kh-table__action">
                {move || error.get().map(|e| view! { <p class="kh-alert" role="alert">{e}</p> })}
                {move || match asking.get() {
                    Some(what) => {
                        let words = match what {
                            Asking::Disable => format!("Disable {label_name}? Every session, connected app and token of it ends now, and it signs in nowhere until enabled."),
                            Asking::Reset => format!("Require a new password for {label_name}? Every session ends and a reset link is mailed; connected apps keep working."),
                            Asking::TwoStep => format!("Turn off two-step verification for {label_name}? Do this only once you are sure it is them (they lost their authenticator app and recovery codes): the password alone will sign in. They are told by mail."),
                        };
                        view! {
                            <div class="kh-confirm" role="group" aria-label="Confirm">
                                <p>{words}</p>
                                <ConfirmActions confirm_testid="admin-user-confirm" cancel_testid="admin-user-cancel"
                                    pending confirming on_confirm=run
                                    label=move || match (pending.get(), asking.get()) {
                                        (true, _) => "Working…",
                                        (false, Some(Asking::Reset)) => "Yes, require it",
                                        (false, Some(Asking::TwoStep)) => "Yes, turn it off",
                                        _ => "Yes, disable",
                                    }/>
                            </div>
                        }.into_any()
                    }
                    None if disabled => view! {
                        <button type="button" class="kh-button kh-button--secondary kh-button--small"
                            data-testid="admin-user-enable" disabled=move || pending.get() on:click=enable>"Enable"</button>
                    }.into_any(),
                    None => view! {
                        <div class="kh-row-actions">
                            {(!is_me).then(|| view! {
                                <button type="button" class="kh-button kh-button--ghost kh-button--outline kh-button--small"
                                    data-testid="admin-user-disable" on:click=move |_| ask(Asking::Disable)>"Disable"</button>
                            })}
                            <button type="button" class="kh-button kh-button--secondary kh-button--small"
                                data-testid="admin-user-require-reset" on:click=move |_| ask(Asking::Reset)>"Require new password"</button>
                            {second_factor.then(|| view! {
                                <button type="button" class="kh-button kh-button--secondary kh-button--small"
                                    data-testid="admin-user-turn-off-two-step" on:click=move |_| ask(Asking::TwoStep)>"Turn off two-step"</button>
                            })}
                        </div>
                    }.into_any(),
                }}
            </td>
        </tr>
    }
}
