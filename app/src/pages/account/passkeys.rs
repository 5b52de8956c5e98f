//! The passkeys card: the account's (or, on `/org/member`, the
//! membership's) passkeys (name, when added, when last used), adding one
//! on this device, removing one. Adding and removing ask for the current
//! password (or a recent sign-in, for an account with none), and a session
//! that used two-step verification when it is on.

use keyhouse_idp_component::{
    ApiClient, ApiError, MemberTotpChallenge, PasskeyError, TotpChallenge, create_member_passkey,
    create_passkey, passkeys_supported, use_member, use_session,
};
use keyhouse_types::b2b::MemberSessionResponse;
use keyhouse_types::{ConfirmHolder, ErrorCode, PasskeyInfo, SessionResponse};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::two_step::Owner;
use super::{CurrentPassword, SignInAgain, refusal};
use crate::pages::admin::widgets::format_datetime;
use crate::pages::auth::return_target;

fn api_message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::Conflict) => e
            .description()
            .map(|d| {
                let mut s = d.to_owned();
                if let Some(first) = s.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                format!("{s}.")
            })
            .unwrap_or_else(|| "This passkey is registered already.".into()),
        Some(ErrorCode::InvalidCredentials)
            if e.description().is_some_and(|d| d.contains("passkey")) =>
        {
            "Your browser's passkey could not be verified. Try again.".into()
        }
        Some(ErrorCode::InvalidGrant) => "That took too long. Try again.".into(),
        _ => refusal(e),
    }
}

fn message(e: &PasskeyError) -> String {
    match e {
        PasskeyError::Cancelled => {
            "No passkey was added: the browser's prompt was closed or timed out.".into()
        }
        PasskeyError::AlreadyAdded => "This device already holds this passkey.".into(),
        PasskeyError::Unsupported => "This browser can't make a passkey for this site.".into(),
        PasskeyError::Api(e) => api_message(e),
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}

/// The account page's passkeys card (`Owner::Account`), or the
/// organization member page's (`Owner::Member`).
#[component]
pub(crate) fn Passkeys(#[prop(default = Owner::Account)] owner: Owner) -> impl IntoView {
    let list = RwSignal::new(None::<Vec<PasskeyInfo>>);
    let supported = RwSignal::new(true);
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let status = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let reauth = RwSignal::new(false);
    let step_up = RwSignal::new(false);
    // Sent here by an app that asks for a passkey: the way back.
    let back = return_target(owner.home());
    let added = RwSignal::new(false);
    let load = move || {
        spawn_local(async move {
            let api = ApiClient::same_origin();
            let listed = match owner {
                Owner::Account => api.passkeys().await,
                Owner::Member => api.member_passkeys().await,
            };
            match listed {
                Ok(l) => list.set(Some(l.passkeys)),
                Err(e) => error.set(Some(api_message(&e))),
            }
        });
    };
    Effect::new(move |_| {
        supported.set(passkeys_supported());
        load();
    });
    let begin = move || {
        if pending.get_untracked() {
            return false;
        }
        pending.set(true);
        error.set(None);
        status.set(None);
        reauth.set(false);
        true
    };
    let fail = move |e: PasskeyError| {
        let code = match &e {
            PasskeyError::Api(e) => e.error_code(),
            _ => None,
        };
        reauth.set(code == Some(ErrorCode::ReauthenticationRequired));
        if code == Some(ErrorCode::SecondFactorRequired) {
            step_up.set(true);
            error.set(Some(
                "This session was signed in with one step: enter a code from your authenticator app first, then try again.".into(),
            ));
        } else {
            error.set(Some(message(&e)));
        }
        pending.set(false);
    };
    let stepped_up = move || {
        step_up.set(false);
        error.set(None);
    };
    // Both session hooks are the app shell's, whichever card this is.
    let (session, member) = (use_session(), use_member());
    let account_stepped_up = Callback::new(move |s: SessionResponse| {
        session.mark_signed_in(s);
        stepped_up();
    });
    let member_stepped_up = Callback::new(move |m: MemberSessionResponse| {
        member.mark_signed_in(m);
        stepped_up();
    });
    let password_now = move || Some(password.get_untracked()).filter(|p| !p.is_empty());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !begin() {
            return;
        }
        let typed = password_now();
        spawn_local(async move {
            let api = ApiClient::same_origin();
            let created = match owner {
                Owner::Account => create_passkey(&api, typed, None).await,
                Owner::Member => create_member_passkey(&api, typed, None).await,
            };
            match created {
                Ok(p) => {
                    password.set(String::new());
                    status.set(Some(format!("Passkey added: {}.", p.name)));
                    added.set(true);
                    pending.set(false);
                    load();
                }
                Err(e) => fail(e),
            }
        });
    };
    let remove = Callback::new(move |p: PasskeyInfo| {
        if !begin() {
            return;
        }
        let req = ConfirmHolder {
            password: password_now(),
        };
        spawn_local(async move {
            let api = ApiClient::same_origin();
            let removed = match owner {
                Owner::Account => api.remove_passkey(&p.id, &req).await,
                Owner::Member => api.remove_member_passkey(&p.id, &req).await,
            };
            match removed {
                Ok(()) => {
                    password.set(String::new());
                    status.set(Some(format!("Passkey removed: {}.", p.name)));
                    pending.set(false);
                    load();
                }
                Err(e) => fail(PasskeyError::Api(e)),
            }
        });
    });
    view! {
        <section class="kh-card kh-narrow" aria-labelledby="passkeys-title" data-testid="passkeys">
            <h2 id="passkeys-title" class="kh-card__title">"Passkeys"</h2>
            <p class="kh-muted">
                "Sign in with your fingerprint, face or device PIN instead of a password. A passkey works only on this site, so a look-alike page can't use it."
            </p>
            {move || error.get().map(|e| view! {
                <p class="kh-alert" role="alert" data-testid="passkeys-error">{e}</p>
            })}
            {move || status.get().map(|s| view! {
                <p class="kh-notice" role="status" data-testid="passkeys-status">{s}</p>
            })}
            {move || (added.get() && back.get() != owner.home()).then(|| view! {
                <p>
                    <a class="kh-button kh-button--primary" href=back.get() data-testid="passkeys-continue">
                        "Continue where you were"
                    </a>
                </p>
            })}
            {move || reauth.get().then(|| view! { <p><SignInAgain member={owner == Owner::Member}/></p> })}
            {move || step_up.get().then(|| match owner {
                Owner::Account => view! { <TotpChallenge on_signed_in=account_stepped_up/> }.into_any(),
                Owner::Member => view! { <MemberTotpChallenge on_signed_in=member_stepped_up/> }.into_any(),
            })}
            {move || match list.get() {
                None => view! { <p class="kh-muted">"Loading…"</p> }.into_any(),
                Some(l) if l.is_empty() => view! {
                    <p data-testid="passkeys-none">"No passkeys yet."</p>
                }.into_any(),
                Some(l) => view! {
                    <ul class="kh-session-list" data-testid="passkey-list">
                        {l.into_iter().map(|p| view! { <PasskeyItem p on_remove=remove pending/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <form class="kh-passkeys-add" on:submit=add>
                <CurrentPassword id="passkeys-password" value=password member={owner == Owner::Member}/>
                {move || if supported.get() {
                    view! {
                        <button type="submit" class="kh-button kh-button--primary" data-testid="passkeys-add"
                            disabled=move || pending.get()>"Add a passkey"</button>
                    }.into_any()
                } else {
                    view! {
                        <p class="kh-muted" data-testid="passkeys-unsupported">
                            "This browser can't make passkeys for this site. You can still remove passkeys here."
                        </p>
                    }.into_any()
                }}
            </form>
        </section>
    }
}

/// One passkey.
#[component]
fn PasskeyItem(
    p: PasskeyInfo,
    on_remove: Callback<PasskeyInfo>,
    pending: RwSignal<bool>,
) -> impl IntoView {
    let meta = match p.last_used_at {
        Some(t) => format!(
            "Added {} · last used {}",
            format_datetime(p.created_at),
            format_datetime(t)
        ),
        None => format!("Added {} · not used yet", format_datetime(p.created_at)),
    };
    let label = format!("Remove the passkey {}", p.name);
    let item = StoredValue::new(p.clone());
    view! {
        <li class="kh-session" data-testid="passkey">
            <div class="kh-session__text">
                <strong class="kh-session__browser" data-testid="passkey-name">{p.name.clone()}</strong>
                <small class="kh-muted kh-session__meta">{meta}</small>
            </div>
            <button type="button" class="kh-button kh-button--ghost kh-button--small kh-button--outline"
                data-testid="passkey-remove" aria-label=label disabled=move || pending.get()
                on:click=move |_| on_remove.run(item.get_value())>
                "Remove"
            </button>
        </li>
    }
}
