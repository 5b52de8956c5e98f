//! The two-step verification card: turn an authenticator app on (scan the
//! QR code or type the key, then a first code), see the recovery codes
//! once, make new ones, or turn it off. Each asks for the current password
//! (or a recent sign-in, for an account with none). The account page and
//! the organization member page both show it, each against its own API.

use keyhouse_idp_component::{
    ApiClient, ApiError, MemberTotpChallenge, TotpChallenge, use_member, use_session,
};
use keyhouse_types::b2b::{MemberSessionResponse, RequiredSignIn};
use keyhouse_types::{
    ConfirmHolder, ErrorCode, RecoveryCodes, SecondFactorCode, SecondFactorStatus, SessionResponse,
    TotpSetup,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{CurrentPassword, SignInAgain, refusal};
use crate::pages::auth::{ErrorNote, return_target};

/// Where the card is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Loading,
    Off,
    /// The app is being set up: scan, then type a first code.
    Scanning(Box<TotpSetup>),
    /// Just turned on, or new codes made: shown once.
    Codes(Vec<String>),
    On(SecondFactorStatus),
}

fn message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::InvalidGrant) => {
            "That code is not right. Check the time on your phone, then type the code your app shows now.".into()
        }
        Some(ErrorCode::Conflict) => e
            .description()
            .map(crate::pages::auth::capitalise)
            .unwrap_or_else(|| "Two-step verification changed meanwhile. Reload the page.".into()),
        _ => refusal(e),
    }
}

/// Whose card it is: the account's, or the organization member's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Account,
    Member,
}

impl Owner {
    fn api(self, path: &str) -> String {
        match self {
            Owner::Account => format!("/api/account/second-factor{path}"),
            Owner::Member => format!("/api/b2b/member/second-factor{path}"),
        }
    }

    pub(crate) fn home(self) -> &'static str {
        match self {
            Owner::Account => "/account",
            Owner::Member => "/org/member",
        }
    }
}

/// The two-step verification card of the account page (`Owner::Account`)
/// or of the organization member page (`Owner::Member`).
#[component]
pub(crate) fn TwoStep(#[prop(default = Owner::Account)] owner: Owner) -> impl IntoView {
    // Asks the server for the session again (it was stepped up, or the
    // app turned off); and whether the organization asks every member for
    // two factors (the app cannot be turned off then).
    let (refresh, required): (Callback<()>, Signal<bool>) = match owner {
        Owner::Account => {
            let session = use_session();
            (
                Callback::new(move |()| session.refresh()),
                Signal::from(false),
            )
        }
        Owner::Member => {
            let member = use_member();
            let required = Signal::derive(move || {
                member
                    .member()
                    .is_some_and(|m| m.required_sign_in == RequiredSignIn::TwoFactors)
            });
            (Callback::new(move |()| member.refresh()), required)
        }
    };
    let step = RwSignal::new(Step::Loading);
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let reauth = RwSignal::new(false);
    // This session used one factor: the app's code first (a step-up).
    let step_up = RwSignal::new(false);
    // Sent here by an app that asks for two-step verification: the way back.
    let back = return_target(owner.home());
    let load = move || {
        spawn_local(async move {
            let answer: Result<SecondFactorStatus, ApiError> =
                ApiClient::same_origin().get_json(&owner.api("")).await;
            match answer {
                Ok(s) if s.enabled => step.set(Step::On(s)),
                Ok(_) => step.set(Step::Off),
                Err(e) => error.set(Some(message(&e))),
            }
        });
    };
    Effect::new(move |_| load());
    let fail = move |e: ApiError| {
        reauth.set(e.error_code() == Some(ErrorCode::ReauthenticationRequired));
        if e.error_code() == Some(ErrorCode::SecondFactorRequired) {
            step_up.set(true);
            error.set(Some(
                "This session was signed in with one step: enter a code from your authenticator app first, then try again.".into(),
            ));
        } else {
            error.set(Some(message(&e)));
        }
        pending.set(false);
    };
    let stepped_up = Callback::new(move |_: SessionResponse| {
        step_up.set(false);
        error.set(None);
    });
    let member_stepped_up = Callback::new(move |_: MemberSessionResponse| {
        step_up.set(false);
        error.set(None);
    });
    let begin = move || {
        if pending.get_untracked() {
            return false;
        }
        pending.set(true);
        error.set(None);
        reauth.set(false);
        true
    };
    let holder = move || ConfirmHolder {
        password: Some(password.get_untracked()).filter(|p| !p.is_empty()),
    };
    let set_up = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !begin() {
            return;
        }
        let req = holder();
        spawn_local(async move {
            let answer: Result<TotpSetup, ApiError> = ApiClient::same_origin()
                .post_json(&owner.api("/setup"), &req)
                .await;
            match answer {
                Ok(s) => {
                    password.set(String::new());
                    code.set(String::new());
                    step.set(Step::Scanning(Box::new(s)));
                    pending.set(false);
                }
                Err(e) => fail(e),
            }
        });
    };
    let turn_on = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !begin() {
            return;
        }
        let req = SecondFactorCode {
            code: code.get_untracked(),
        };
        spawn_local(async move {
            let answer: Result<RecoveryCodes, ApiError> = ApiClient::same_origin()
                .post_json(&owner.api("/enable"), &req)
                .await;
            match answer {
                Ok(r) => {
                    // The session was stepped up; the page learns it once
                    // the codes are saved (an organization's gate opens
                    // then, and would hide them).
                    step.set(Step::Codes(r.codes));
                    pending.set(false);
                }
                Err(e) => {
                    code.set(String::new());
                    fail(e);
                }
            }
        });
    };
    let act = move |path: &'static str| {
        move |_| {
            if !begin() {
                return;
            }
            let req = holder();
            spawn_local(async move {
                let api = ApiClient::same_origin();
                let answer = match path {
                    "disable" => api
                        .post_empty(&owner.api("/disable"), &req)
                        .await
                        .map(|()| None),
                    _ => api
                        .post_json::<_, RecoveryCodes>(&owner.api("/recovery-codes"), &req)
                        .await
                        .map(|r| Some(r.codes)),
                };
                match answer {
                    Ok(Some(codes)) => {
                        password.set(String::new());
                        step.set(Step::Codes(codes));
                        pending.set(false);
                    }
                    Ok(None) => {
                        password.set(String::new());
                        step.set(Step::Off);
                        pending.set(false);
                        refresh.run(());
                    }
                    Err(e) => fail(e),
                }
            });
        }
    };
    view! {
        <section class="kh-card kh-narrow" aria-labelledby="two-step-title" data-testid="two-step">
            <h2 id="two-step-title" class="kh-card__title">"Two-step verification"</h2>
            <ErrorNote error testid="two-step-error"/>
            {move || reauth.get().then(|| view! { <p><SignInAgain member={owner == Owner::Member}/></p> })}
            {move || step_up.get().then(|| match owner {
                Owner::Account => view! { <TotpChallenge on_signed_in=stepped_up/> }.into_any(),
                Owner::Member => view! { <MemberTotpChallenge on_signed_in=member_stepped_up/> }.into_any(),
            })}
            {move || match step.get() {
                Step::Loading => view! { <p class="kh-muted">"Loading…"</p> }.into_any(),
                Step::Off => view! {
                    <p class="kh-muted">
                        {match owner {
                            Owner::Account => "After your password or emailed code, also ask for a code from an authenticator app on your phone (Google Authenticator, 1Password, Authy…). Someone who learns your password still can't sign in.",
                            Owner::Member => "After your password, also ask for a code from an authenticator app on your phone (Google Authenticator, 1Password, Authy…). Someone who learns your password still can't sign in to the organization.",
                        }}
                    </p>
                    <p><span class="kh-badge" data-testid="two-step-status">"Off"</span></p>
                    <form on:submit=set_up>
                        <CurrentPassword id="two-step-password" value=password member={owner == Owner::Member}/>
                        <button type="submit" class="kh-button kh-button--primary" data-testid="two-step-set-up"
                            disabled=move || pending.get()>"Set up an authenticator app"</button>
                    </form>
                }.into_any(),
                Step::Scanning(s) => view! {
                    <p>"Scan this code with your authenticator app."</p>
                    <img class="kh-qr" src=s.qr_code.clone() width="220" height="220"
                        alt="QR code for your authenticator app" data-testid="two-step-qr"/>
                    <p class="kh-muted">"Can't scan it? Type this key instead:"</p>
                    <p><code class="kh-secret" data-testid="two-step-secret">{group(&s.secret)}</code></p>
                    <form on:submit=turn_on>
                        <div class="kh-field">
                            <label for="two-step-code">"Then type the 6-digit code the app shows"</label>
                            <input id="two-step-code" class="kh-code__input" name="code" required
                                inputmode="numeric" autocomplete="one-time-code" maxlength="7"
                                data-testid="two-step-code" bind:value=code/>
                        </div>
                        <button type="submit" class="kh-button kh-button--primary" data-testid="two-step-turn-on"
                            disabled=move || pending.get()>"Turn on"</button>
                    </form>
                }.into_any(),
                Step::Codes(codes) => view! {
                    <p class="kh-notice" role="status">"Two-step verification is on."</p>
                    <p>"Save these recovery codes somewhere safe, such as a password manager. Each one signs you in once if you lose your phone. They won't be shown again."</p>
                    <ul class="kh-recovery-codes" data-testid="two-step-recovery-codes">
                        {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
                    </ul>
                    <div class="kh-actions">
                        <button type="button" class="kh-button kh-button--secondary" data-testid="two-step-saved"
                            on:click=move |_| { step.set(Step::Loading); load(); refresh.run(()); }>"I've saved them"</button>
                        {move || (back.get() != owner.home()).then(|| view! {
                            // A full page load: the page it returns to (an
                            // `/idp` request) reads its own address as it starts.
                            <a class="kh-button kh-button--primary" href=back.get() rel="external"
                                data-testid="two-step-continue">
                                "Continue where you were"</a>
                        })}
                    </div>
                }.into_any(),
                Step::On(s) => view! {
                    <p><span class="kh-badge kh-badge--ok" data-testid="two-step-status">"On"</span></p>
                    <p class="kh-muted" data-testid="two-step-codes-left">
                        {match s.recovery_codes_left {
                            0 => "No recovery codes left: make new ones.".to_owned(),
                            1 => "1 recovery code left.".to_owned(),
                            n => format!("{n} recovery codes left."),
                        }}
                    </p>
                    <CurrentPassword id="two-step-password" value=password member={owner == Owner::Member}/>
                    <div class="kh-actions">
                        <button type="button" class="kh-button kh-button--secondary" data-testid="two-step-new-codes"
                            disabled=move || pending.get() on:click=act("codes")>"New recovery codes"</button>
                        {move || (!required.get()).then(|| view! {
                            <button type="button" class="kh-button kh-button--danger" data-testid="two-step-turn-off"
                                disabled=move || pending.get() on:click=act("disable")>"Turn off"</button>
                        })}
                    </div>
                }.into_any(),
            }}
        </section>
    }
}

/// The key in groups of four, as apps show it.
fn group(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_grouped_by_four() {
        assert_eq!(super::group("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
