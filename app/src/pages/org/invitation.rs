//! `/org/invitation?token=…`: where an invitation's mail leads. It shows
//! which organization invites which address with which role, and accepts
//! with a name and a password (the address's existing membership's, to
//! share it, or a new one), or with a new passkey and no password where the
//! browser and the deployment can. Accepting signs the new member in and
//! opens the organization.

use keyhouse_idp_component::{
    ApiError, PasskeyError, PasskeyIcon, accept_invitation_with_passkey, passkeys_supported,
    use_member,
};
use keyhouse_types::ErrorCode;
use keyhouse_types::b2b::{
    AcceptInvitationRequest, InvitationPreview, InvitationToken, MemberSessionResponse,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use super::api::sentence;
use crate::pages::Spinner;
use crate::pages::auth::ErrorNote;

fn token_of_page() -> Option<String> {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    keyhouse_idp_component::params::query_value(&search, "token")
}

fn accept_message(e: &ApiError) -> String {
    match e.error_code() {
        _ if e.is_network() => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        Some(ErrorCode::InvalidGrant) => DEAD_LINK.into(),
        _ => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Something went wrong. Try again in a moment.".into()),
    }
}

/// Why joining with a passkey did not happen.
fn passkey_message(e: &PasskeyError) -> String {
    match e {
        PasskeyError::Api(e) => accept_message(e),
        PasskeyError::Cancelled => {
            "No passkey was created. Try again, or choose a password instead.".into()
        }
        PasskeyError::Unsupported => {
            "This browser can't create a passkey here. Choose a password instead.".into()
        }
        _ => "Your browser couldn't create the passkey. Try again, or choose a password instead."
            .into(),
    }
}

const DEAD_LINK: &str = "This invitation can't be used: it was accepted already, revoked, or it expired. Ask the organization's admin to send it again.";

/// The acceptance page.
#[component]
pub fn InvitationPage() -> impl IntoView {
    let member = use_member();
    let preview = RwSignal::new(None::<Result<InvitationPreview, String>>);
    let token = StoredValue::new(token_of_page());
    Effect::new(move |_| {
        let Some(token) = token.get_value() else {
            preview.set(Some(Err(DEAD_LINK.into())));
            return;
        };
        spawn_local(async move {
            let r: Result<InvitationPreview, ApiError> = member
                .api()
                .post_json("/api/b2b/invitation", &InvitationToken { token })
                .await;
            preview.set(Some(r.map_err(|e| accept_message(&e))));
        });
    });
    view! {
        <section class="kh-card kh-narrow kh-auth" aria-labelledby="invitation-title" data-testid="invitation-page">
            {move || match preview.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(m)) => view! {
                    <p class="kh-eyebrow">"Invitation"</p>
                    <h1 id="invitation-title">"This link doesn't work"</h1>
                    <p class="kh-alert" role="alert" data-testid="invitation-error">{m}</p>
                    <p class="kh-auth__switch">"Already a member? "<a href="/org/login">"Sign in to your organization"</a></p>
                }.into_any(),
                Some(Ok(p)) => view! { <Accept p token=token.get_value().unwrap_or_default()/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Accept(p: InvitationPreview, token: String) -> impl IntoView {
    let member = use_member();
    let navigate = use_navigate();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let token = StoredValue::new(token);
    let org = p.organization.name.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let req = AcceptInvitationRequest {
            token: token.get_value(),
            name: name.get_untracked(),
            password: password.get_untracked(),
            passkey: None,
        };
        let navigate = navigate.clone();
        spawn_local(async move {
            let r: Result<MemberSessionResponse, ApiError> = member
                .api()
                .post_json("/api/b2b/invitation/accept", &req)
                .await;
            match r {
                Ok(signed_in) => {
                    member.mark_signed_in(signed_in);
                    navigate("/org", Default::default());
                }
                // A member with two-step verification elsewhere: the
                // session waits for the code, which the pages ask for.
                Err(e) if e.error_code() == Some(ErrorCode::SecondFactorRequired) => {
                    member.refresh();
                    navigate("/org", Default::default());
                }
                Err(e) => {
                    password.set(String::new());
                    error.set(Some(accept_message(&e)));
                    pending.set(false);
                }
            }
        });
    };
    // Decided after mounting, so server and browser render alike.
    let supported = RwSignal::new(false);
    Effect::new(move |_| supported.set(passkeys_supported()));
    let offers_passkeys = p.passkeys;
    let passkey_error = RwSignal::new(None::<String>);
    let navigate_passkey = use_navigate();
    let join_with_passkey = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        passkey_error.set(None);
        let navigate = navigate_passkey.clone();
        spawn_local(async move {
            let token = token.get_value();
            let name = name.get_untracked();
            match accept_invitation_with_passkey(&member.api(), &token, &name).await {
                Ok(signed_in) => {
                    member.mark_signed_in(signed_in);
                    navigate("/org", Default::default());
                }
                Err(e) => {
                    passkey_error.set(Some(passkey_message(&e)));
                    pending.set(false);
                }
            }
        });
    };
    let hint = if p.existing_member {
        "You're already a member of another organization here with this address. Use that password to keep one password for both, or choose a new one for this organization."
    } else {
        "Choose a password of at least 8 characters."
    };
    view! {
        <p class="kh-eyebrow">"Invitation"</p>
        <h1 id="invitation-title">{format!("Join {org}")}</h1>
        <p class="kh-muted" data-testid="invitation-summary">
            {format!("You're invited as {} with the role {}.", p.email, p.roles.join(", "))}
        </p>
        <form on:submit=submit data-testid="invitation-form">
            <ErrorNote error testid="invitation-accept-error"/>
            <div class="kh-field">
                <label for="invitation-email">"Work email"</label>
                <input id="invitation-email" type="email" autocomplete="username" readonly
                    data-testid="invitation-email" prop:value=p.email.clone()/>
            </div>
            <div class="kh-field">
                <label for="invitation-name">"Your name"</label>
                <input id="invitation-name" type="text" autocomplete="name" maxlength="100"
                    data-testid="invitation-name" bind:value=name/>
            </div>
            <div class="kh-field">
                <label for="invitation-password">"Password"</label>
                <input id="invitation-password" type="password" required minlength="8"
                    autocomplete=if p.existing_member { "current-password" } else { "new-password" }
                    aria-describedby="invitation-password-hint"
                    data-testid="invitation-password" bind:value=password/>
                <small id="invitation-password-hint" class="kh-muted">{hint}</small>
            </div>
            <button type="submit" class="kh-button kh-button--primary kh-button--block"
                data-testid="invitation-accept" disabled=move || pending.get()>
                {move || if pending.get() { "Joining…" } else { "Accept and join" }}
            </button>
        </form>
        {move || (offers_passkeys && supported.get()).then(|| view! {
            <div class="kh-passkey" data-testid="invitation-passkey">
                <p class="kh-divider" role="separator"><span>"or"</span></p>
                {move || passkey_error.get().map(|e| view! {
                    <p class="kh-alert" role="alert" data-testid="invitation-passkey-error">{e}</p>
                })}
                <button type="button" class="kh-button kh-button--secondary kh-button--block kh-passkey__button"
                    aria-describedby="invitation-passkey-hint"
                    data-testid="invitation-accept-passkey" disabled=move || pending.get() on:click=join_with_passkey.clone()>
                    <PasskeyIcon/>
                    <span>"Join with a passkey instead"</span>
                </button>
                <small id="invitation-passkey-hint" class="kh-muted kh-passkey__hint">
                    "No password to remember: your device's screen lock signs you in."
                </small>
            </div>
        })}
        <p class="kh-auth__switch kh-muted">"Not expecting this? Close the page: nothing happens until you accept."</p>
    }
}
