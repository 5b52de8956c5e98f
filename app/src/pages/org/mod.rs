//! The B2B side of the app: members of organizations sign in at
//! `/org/login` (discovery: one password, then a choice of organization),
//! share the organization's notes at `/org`, see themselves at
//! `/org/member`, and administrators manage the organization at
//! `/org/settings`; an invited person accepts at `/org/invitation`.
//! `/org/idp` is the B2B Authorization URL.

mod api;
mod domains;
mod idp;
mod invitation;
mod login;
mod member;
mod notes;
mod people;
mod profile;
mod settings;
mod sso;

pub use idp::OrgIdpPage;
pub use invitation::InvitationPage;
pub use login::OrgLoginPage;
pub use member::MemberPage;
pub use notes::OrgNotesPage;
pub use settings::OrgSettingsPage;

use keyhouse_idp_component::{MemberPasskeyLogin, MemberStatus, MemberTotpChallenge, use_member};
use keyhouse_types::b2b::{MemberSessionResponse, RequiredSignIn};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::Spinner;
use super::account::passkeys::Passkeys;
use super::account::two_step::{Owner, TwoStep};

/// The organization login page.
pub(crate) const LOGIN_PATH: &str = "/org/login";

/// Renders `children` only with a member session; sends the visitor to the
/// organization login page (coming back here afterwards) without one.
#[component]
fn RequireMember(children: ChildrenFn) -> impl IntoView {
    let member = use_member();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if member.status() == MemberStatus::SignedOut {
            let url = keyhouse_idp_component::params::login_url(LOGIN_PATH, &super::here());
            navigate(&url, Default::default());
        }
    });
    move || match member.status() {
        MemberStatus::SignedIn(m) if !meets_policy(&m) => view! { <PolicyGate m/> }.into_any(),
        MemberStatus::SignedIn(_) => children().into_any(),
        MemberStatus::Failed(e) => view! {
            <section class="kh-card kh-narrow" role="alert">
                <h1>"Can't reach the server"</h1>
                <p class="kh-muted">{e.to_string()}</p>
            </section>
        }
        .into_any(),
        _ => view! { <Spinner/> }.into_any(),
    }
}

/// Whether the member's sign-in is as strong as the organization asks
/// (the server decides; this only picks what the page shows).
fn meets_policy(m: &MemberSessionResponse) -> bool {
    let used = |method: &str| m.amr.iter().any(|a| a == method);
    if m.sso_required && !used("fed") {
        return false;
    }
    match m.required_sign_in {
        RequiredSignIn::TwoFactors => used("mfa"),
        RequiredSignIn::Passkey => used("pop") && used("mfa"),
        _ => true,
    }
}

/// What a member whose sign-in is weaker than the organization asks sees
/// instead of the page: the code from their authenticator app, or, without
/// one, turning it on. The server refuses everything else to such a
/// session; the page opens once the session is stepped up.
#[component]
fn PolicyGate(m: MemberSessionResponse) -> impl IntoView {
    if m.sso_required && !m.amr.iter().any(|a| a == "fed") {
        return view! { <SsoGate m/> }.into_any();
    }
    if m.required_sign_in == RequiredSignIn::Passkey {
        return view! { <PasskeyGate m/> }.into_any();
    }
    let org = m.organization.name.clone();
    let intro = view! {
        <p class="kh-eyebrow">{org.clone()}</p>
        <h1 id="gate-title">"Two-step verification required"</h1>
    };
    if m.second_factor {
        return view! {
            <section class="kh-card kh-narrow" aria-labelledby="gate-title" data-testid="org-two-step-gate">
                {intro}
                <p class="kh-muted">{format!("{org} asks every member to confirm it's them with an authenticator app.")}</p>
                <MemberTotpChallenge on_signed_in=|_| ()/>
                <MemberPasskeyLogin on_signed_in=|_| () separated=true/>
            </section>
        }
        .into_any();
    }
    view! {
        <div class="kh-page-stack" data-testid="org-two-step-gate">
            <section class="kh-card kh-narrow" aria-labelledby="gate-title">
                {intro}
                <p class="kh-muted">{format!("{org} asks every member to use two-step verification. Turn it on below to continue: it takes a minute, with an authenticator app on your phone. A passkey counts too.")}</p>
                <MemberPasskeyLogin on_signed_in=|_| ()/>
            </section>
            <TwoStep owner=Owner::Member/>
        </div>
    }
    .into_any()
}

/// [`PolicyGate`] for an organization that signs its members in through
/// its own identity provider: this session came another way.
#[component]
fn SsoGate(m: MemberSessionResponse) -> impl IntoView {
    let org = m.organization.name.clone();
    let href = login::sso_start_href(&m.organization.slug, &super::here());
    view! {
        <section class="kh-card kh-narrow" aria-labelledby="gate-title" data-testid="org-sso-gate">
            <p class="kh-eyebrow">{org.clone()}</p>
            <h1 id="gate-title">"Single sign-on required"</h1>
            <p class="kh-muted">{format!("{org} signs its members in through its own identity provider.")}</p>
            <a class="kh-button kh-button--block" href=href rel="external" data-testid="org-sso-gate-continue">
                "Continue with single sign-on"</a>
        </section>
    }
}

/// [`PolicyGate`] for an organization that asks for passkeys: signing in
/// with one, or adding one first (then signing in with it).
#[component]
fn PasskeyGate(m: MemberSessionResponse) -> impl IntoView {
    let org = m.organization.name.clone();
    view! {
        <div class="kh-page-stack" data-testid="org-passkey-gate">
            <section class="kh-card kh-narrow" aria-labelledby="gate-title">
                <p class="kh-eyebrow">{org.clone()}</p>
                <h1 id="gate-title">"Passkey required"</h1>
                <p class="kh-muted">{format!("{org} asks every member to sign in with a passkey. Use yours below; if you have none yet, add one on this device first, then sign in with it.")}</p>
                <MemberPasskeyLogin on_signed_in=|_| ()/>
            </section>
            <Passkeys owner=Owner::Member/>
        </div>
    }
}

/// What a page does with a refused member call: a session the
/// organization now asks more of is shown its gate (the member is loaded
/// again, with the requirement); no session is signed out.
pub(crate) fn after_refusal(
    member: keyhouse_idp_component::MemberSession,
    e: &keyhouse_idp_component::ApiError,
) {
    use keyhouse_types::ErrorCode;
    match e.error_code() {
        Some(
            ErrorCode::SecondFactorRequired
            | ErrorCode::SecondFactorSetupRequired
            | ErrorCode::PasskeyRequired
            | ErrorCode::SsoRequired,
        ) => member.refresh(),
        _ if e.status() == 401 => member.mark_signed_out(),
        _ => {}
    }
}

/// The organization pages' sub-navigation (notes, member, settings).
#[component]
fn OrgTabs() -> impl IntoView {
    let member = use_member();
    view! {
        <nav class="kh-tabs" aria-label="Organization">
            <A href="/org" exact=true attr:data-testid="org-tab-notes">"Notes"</A>
            <A href="/org/member" attr:data-testid="org-tab-member">"Membership"</A>
            {move || member.can("organization", "read").then(|| view! {
                <A href="/org/settings" attr:data-testid="org-tab-settings">"Settings"</A>
            })}
        </nav>
    }
}
