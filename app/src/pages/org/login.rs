//! `/org/login`: "Sign in to your organization". Discovery first (email and
//! password, or a code mailed to the address → the organizations they
//! open), then the organization: at once when there is one, by choice when
//! there are several; or a passkey, which names its membership. Honours
//! `?returnTo=` like the consumer login page
//! (same sanitiser), default `/org`. `/org/login/email` is the same page
//! opened by a mailed link: it posts the link's token, then offers the
//! same choice and goes where the request that asked for the link said.

use keyhouse_idp_component::{
    ApiError, EmailText, MemberMagicLink, MemberPasskeyLogin, MemberSession, MemberStatus,
    MemberTotpChallenge, use_member,
};
use keyhouse_types::OrganizationSummary;
use keyhouse_types::b2b::{DiscoveryRequest, DiscoveryResponse, DiscoverySelectRequest};
use keyhouse_types::{EmailLinkRequest, ErrorCode};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use super::api::sentence;
use crate::pages::Bundle;
use crate::pages::auth::{CredentialsForm, ErrorNote, Purpose, after_sign_in, return_target};
use keyhouse_idp_component::consent::initials;

/// Where the organization pages start.
const ORG_HOME: &str = "/org";

const NO_ORGANIZATION: &str = "That email and password don't match a member of any organization.";

fn login_message(e: &ApiError) -> String {
    match e.error_code() {
        Some(ErrorCode::InvalidCredentials) => NO_ORGANIZATION.into(),
        Some(ErrorCode::TooManyAttempts) => {
            "Too many attempts. For your security, wait 15 minutes and try again.".into()
        }
        None if e.is_network() => {
            "Can't reach the server. Check your connection and try again.".into()
        }
        Some(ErrorCode::AccessDenied) => {
            "You can't sign in to this organization any more. Ask one of its administrators.".into()
        }
        Some(ErrorCode::InvalidRequest) => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Check the form and try again.".into()),
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}

/// What a failed single sign-on (`?sso_error=` on this page, `?sso_test=`
/// on the settings page) means, in words.
pub(crate) fn sso_failure(code: &str) -> String {
    match code {
        "unknown_organization" => "there is no organization by that name",
        "not_configured" => "this organization hasn't set up single sign-on",
        "provider_unreachable" => "your organization's identity provider couldn't be reached or refused the sign-in; try again, or ask an administrator to check the connection",
        "expired" => "the sign-in took too long or was opened in another browser; start again",
        "denied" => "the identity provider didn't sign you in",
        "invalid_token" => "the identity provider's answer didn't pass our checks, so nobody was signed in; ask an administrator to check the connection",
        "email_not_verified" => "the identity provider hasn't verified your email address",
        "not_a_member" => "you aren't a member of this organization yet; ask an administrator to invite you",
        "deactivated" => "your membership has been deactivated; ask an administrator",
        "no_role" => "your groups at the identity provider don't give you a role here; ask an administrator",
        "account_mismatch" => "the identity provider signed in a different account than the one this membership belongs to; sign out there and try again",
        _ => "single sign-on failed; try again",
    }
    .to_owned()
}

/// Where single sign-on into `slug` starts, coming back to `return_to`.
pub(crate) fn sso_start_href(slug: &str, return_to: &str) -> String {
    let enc = crate::pages::encode_segment;
    format!(
        "/api/b2b/sso/start?organization={}&returnTo={}",
        enc(slug),
        enc(return_to)
    )
}

/// Sends the browser to single sign-on (a full page load: the provider is
/// another site).
fn go_to_sso(slug: &str, return_to: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(&sso_start_href(slug, return_to));
    }
}

/// A query parameter of the page's URL.
fn page_query(name: &str) -> Option<String> {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    keyhouse_idp_component::params::query_value(&search, name)
}

/// The organizations to choose from, with the proof of the password check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    token: String,
    organizations: Vec<OrganizationSummary>,
    /// The slugs the address would join (by its domain), not sign in to.
    joinable: Vec<String>,
}

/// The router's navigation, kept for after the sign-in.
type Navigate = Box<dyn Fn(&str, NavigateOptions)>;

/// The sign-in's state, shared by its two steps: the credentials, then the
/// choice of organization.
#[derive(Clone, Copy)]
struct OrgSignIn {
    member: MemberSession,
    /// Where to go once signed in.
    target: Memo<String>,
    email: RwSignal<String>,
    password: RwSignal<String>,
    error: RwSignal<Option<String>>,
    /// Discovery (or the sign-in that follows it) is running.
    pending: RwSignal<bool>,
    /// The slug being signed in to (disables the choices, labels the button).
    selecting: RwSignal<Option<String>>,
    /// The organizations to choose from, when there are several.
    choice: RwSignal<Option<Choice>>,
    /// The password was right for a member with two-step verification:
    /// the authenticator app's code is next.
    second_factor: RwSignal<bool>,
    /// Signing in with a code mailed to the address instead of a password.
    by_email: RwSignal<bool>,
    /// A mailed link's token is being checked.
    checking_link: RwSignal<bool>,
    /// Where a mailed link says to go once signed in (instead of `target`).
    link_target: RwSignal<Option<String>>,
    navigate: StoredValue<Navigate, LocalStorage>,
}

impl OrgSignIn {
    fn new() -> OrgSignIn {
        let navigate: Navigate = Box::new(use_navigate());
        let waiting = page_query("step").as_deref() == Some("second-factor");
        OrgSignIn {
            member: use_member(),
            target: return_target(ORG_HOME),
            email: RwSignal::new(String::new()),
            password: RwSignal::new(String::new()),
            error: RwSignal::new(None),
            pending: RwSignal::new(false),
            selecting: RwSignal::new(None),
            choice: RwSignal::new(None),
            second_factor: RwSignal::new(waiting),
            by_email: RwSignal::new(false),
            checking_link: RwSignal::new(false),
            link_target: RwSignal::new(None),
            navigate: StoredValue::new_local(navigate),
        }
    }

    /// Checks the e-mail and password: the organizations they open.
    fn discover(self) {
        if self.pending.get_untracked() {
            return;
        }
        self.pending.set(true);
        self.error.set(None);
        let req = DiscoveryRequest {
            email: self.email.get_untracked().trim().to_owned(),
            password: self.password.get_untracked(),
        };
        spawn_local(async move {
            match self.member.discover(&req).await {
                Ok(found) => self.found(found),
                Err(e) => {
                    self.error.set(Some(login_message(&e)));
                    self.password.set(String::new());
                    self.pending.set(false);
                }
            }
        });
    }

    /// Posts the token of the mailed link that opened the page: the
    /// organizations it opens.
    fn open_link(self) {
        let search = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        let token = keyhouse_idp_component::params::query_value(&search, "token");
        let Some(token) = token else {
            self.by_email.set(true);
            self.error.set(Some(EmailText::default().bad_link));
            return;
        };
        // A refused link leaves the way to ask for a new message open.
        self.by_email.set(true);
        self.checking_link.set(true);
        self.pending.set(true);
        spawn_local(async move {
            let req = EmailLinkRequest { token };
            let answer = self.member.api().member_email_link(&req).await;
            self.checking_link.set(false);
            match answer {
                Ok(found) => {
                    self.link_target.set(found.return_to.clone());
                    self.found(found);
                }
                Err(e) => {
                    let t = EmailText::default();
                    let msg = match e.error_code() {
                        Some(ErrorCode::InvalidGrant) => t.bad_link,
                        _ => t.error_message(&e),
                    };
                    self.error.set(Some(msg));
                    self.pending.set(false);
                }
            }
        });
    }

    /// Discovery's answer: one organization is opened at once, several are
    /// offered, none is an error.
    fn found(self, found: DiscoveryResponse) {
        self.password.set(String::new());
        self.error.set(None);
        if !found.email.is_empty() {
            self.email.set(found.email.clone());
        }
        match found.organizations.as_slice() {
            // Joining is the person's choice: always asked.
            [only] if found.joinable.is_empty() => {
                self.select(found.discovery_token, only.slug.clone())
            }
            [] => {
                self.error.set(Some(NO_ORGANIZATION.into()));
                self.pending.set(false);
            }
            _ => {
                self.choice.set(Some(Choice {
                    token: found.discovery_token,
                    organizations: found.organizations,
                    joinable: found.joinable,
                }));
                self.pending.set(false);
            }
        }
    }

    /// Signs in to one discovered organization.
    fn select(self, token: String, slug: String) {
        self.selecting.set(Some(slug.clone()));
        self.error.set(None);
        spawn_local(async move {
            let req_slug = slug.clone();
            let req = DiscoverySelectRequest {
                discovery_token: token,
                organization_slug: slug,
            };
            match self.member.select(&req).await {
                Ok(_) => self.go_on(),
                Err(e) if e.error_code() == Some(ErrorCode::SecondFactorRequired) => {
                    // The server ended the browser's previous membership,
                    // if any: not signed in until the code.
                    self.member.mark_signed_out();
                    self.choice.set(None);
                    self.selecting.set(None);
                    self.pending.set(false);
                    self.second_factor.set(true);
                }
                Err(e) if e.error_code() == Some(ErrorCode::SsoRequired) => {
                    // The organization signs its members in through its
                    // own provider: on there.
                    go_to_sso(&req_slug, &self.target.get_untracked());
                }
                Err(e) => self.select_failed(&e),
            }
        });
    }

    /// Signed in: on to the target (a mailed link's, when it said).
    fn go_on(self) {
        let target = self
            .link_target
            .get_untracked()
            .filter(|p| keyhouse_idp_component::params::is_same_origin_path(p))
            .unwrap_or_else(|| self.target.get_untracked());
        self.navigate
            .with_value(|navigate| after_sign_in(&target, Bundle::Org, navigate));
    }

    /// Signing in to the chosen organization failed.
    fn select_failed(self, e: &ApiError) {
        self.selecting.set(None);
        self.link_target.set(None);
        self.pending.set(false);
        if e.code() != "network_error" {
            // The discovery token is spent or expired: start again.
            self.choice.set(None);
            self.password.set(String::new());
        }
        let msg = match e.error_code() {
            // An expired or spent discovery token is answered
            // `invalid_credentials` too.
            Some(
                ErrorCode::InvalidCredentials | ErrorCode::InvalidRequest | ErrorCode::InvalidGrant,
            ) => "That sign-in has expired. Sign in again.".to_owned(),
            _ => login_message(e),
        };
        self.error.set(Some(msg));
    }

    /// Back to the credentials.
    fn start_over(self) {
        self.second_factor.set(false);
        self.link_target.set(None);
        self.choice.set(None);
        self.selecting.set(None);
        self.error.set(None);
    }
}

/// The mailed sign-in's words: the address is a work one.
fn email_words() -> EmailText {
    let mut t = EmailText::default();
    t.email_label = "Work email".into();
    t
}

/// `/org/login`, and `/org/login/email` (`from_link`).
#[component]
pub fn OrgLoginPage(
    /// Opened by a mailed link: its token is checked first.
    #[prop(optional)]
    from_link: bool,
) -> impl IntoView {
    let state = OrgSignIn::new();
    let OrgSignIn {
        pending, selecting, ..
    } = state;
    if from_link {
        Effect::new(move |_| state.open_link());
    }
    view! {
        <section class="kh-card kh-narrow kh-auth" aria-labelledby="org-login-title">
            <p class="kh-eyebrow">"For teams"</p>
            <h1 id="org-login-title">"Sign in to your organization"</h1>
            <p class="kh-muted">"Your organization's shared notes, and the apps it allows."</p>
            <CurrentMembership target=state.target/>
            {move || match state.choice.get() {
                None if state.second_factor.get() => view! {
                    <MemberTotpChallenge on_signed_in=move |_| state.go_on()
                        on_start_over=move |()| state.start_over()/>
                }.into_any(),
                None if state.checking_link.get() || selecting.get().is_some() && state.by_email.get() => view! {
                    <p class="kh-working" role="status" data-testid="org-login-working">
                        <span class="kh-spinner" aria-hidden="true"></span>
                        {move || if state.checking_link.get() { "Checking your link…" } else { "Opening your organization…" }}
                    </p>
                }.into_any(),
                None if state.by_email.get() => view! {
                    <div class="kh-auth__step">
                        <ErrorNote error=state.error testid="org-login-error"/>
                        <MemberMagicLink on_discovered=move |found: DiscoveryResponse| state.found(found)
                            on_sent=move |_| state.error.set(None)
                            return_to=state.target.get_untracked() email=state.email.get_untracked()
                            text=email_words()/>
                    </div>
                }.into_any(),
                None => view! {
                    <CredentialsForm prefix="org-login" purpose=Purpose::SignIn email_label="Work email"
                        email=state.email password=state.password error=state.error pending
                        on_submit=move |ev: leptos::ev::SubmitEvent| {
                            ev.prevent_default();
                            state.discover();
                        }
                        submit_label=move || match (pending.get(), selecting.get()) {
                            (_, Some(_)) => "Opening your organization…",
                            (true, None) => "Checking…",
                            (false, None) => "Continue",
                        }/>
                    <MemberPasskeyLogin on_signed_in=move |_| state.go_on() separated=true autofill=true/>
                    <SsoEntry target=state.target/>
                }.into_any(),
                Some(c) => view! { <OrgChoices state choice=c/> }.into_any(),
            }}
            {move || (state.choice.get().is_none() && !state.second_factor.get() && !state.checking_link.get()
                && selecting.get().is_none()).then(|| view! {
                <p class="kh-auth__switch">
                    <button type="button" class="kh-link-button" data-testid="org-login-by-email"
                        disabled=move || pending.get() && !state.by_email.get()
                        on:click=move |_| {
                            state.error.set(None);
                            state.pending.set(false);
                            state.link_target.set(None);
                            state.by_email.update(|b| *b = !*b);
                        }>
                        {move || if state.by_email.get() { "Use your password instead" } else { "Email me a sign-in code instead" }}
                    </button>
                </p>
            })}
            <p class="kh-auth__switch">"Looking for your personal notes? "
                <a href="/login" rel="external" data-testid="org-login-personal-link">"Sign in here"</a>
            </p>
        </section>
    }
}

/// Single sign-on: the organization's name in its URL, then on to its
/// identity provider.
#[component]
fn SsoEntry(
    /// Where to come back to.
    target: Memo<String>,
) -> impl IntoView {
    // A failed single sign-on comes back here with its reason: shown by
    // this form, open again.
    let failure = page_query("sso_error").map(|c| {
        let m = sso_failure(&c);
        format!("{}.", sentence(&m).trim_end_matches('.'))
    });
    let open = RwSignal::new(failure.is_some());
    let slug = RwSignal::new(page_query("organization").unwrap_or_default());
    let go = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let s = slug.get_untracked().trim().to_lowercase();
        if !s.is_empty() {
            go_to_sso(&s, &target.get_untracked());
        }
    };
    view! {
        <div class="kh-sso-entry">
            {move || if open.get() {
                view! {
                    <form class="kh-sso-entry__form" on:submit=go data-testid="org-login-sso-form">
                        {failure.clone().map(|f| view! {
                            <p class="kh-alert" role="alert" data-testid="org-login-sso-error">{f}</p>
                        })}
                        <div class="kh-field">
                            <label for="org-sso-slug">"Your organization's URL name"</label>
                            <input id="org-sso-slug" type="text" required autocomplete="organization"
                                autocapitalize="none" spellcheck="false" placeholder="acme"
                                data-testid="org-login-sso-slug" bind:value=slug/>
                        </div>
                        <button type="submit" class="kh-button kh-button--secondary kh-button--block"
                            data-testid="org-login-sso-continue">"Continue with single sign-on"</button>
                    </form>
                }.into_any()
            } else {
                view! {
                    <button type="button" class="kh-button kh-button--secondary kh-button--block"
                        data-testid="org-login-sso" on:click=move |_| open.set(true)>
                        "Sign in with single sign-on (SSO)"</button>
                }.into_any()
            }}
        </div>
    }
}

/// Who is signed in already (switching organization is allowed), with a
/// link on to where the page would go.
#[component]
fn CurrentMembership(
    /// Where "Continue" goes.
    target: Memo<String>,
) -> impl IntoView {
    let member = use_member();
    let current = move || match member.status() {
        MemberStatus::SignedIn(m) => Some(m),
        _ => None,
    };
    move || {
        current().map(|m| {
            view! {
                <p class="kh-note-callout" data-testid="org-login-current">
                    {format!("You're signed in to {} as {}. ", m.organization.name, m.member.email)}
                    <a href=move || target.get() rel="external">"Continue"</a>
                </p>
            }
        })
    }
}

/// The discovery step's organization picker: one button per organization
/// the credentials open, and a way back to the credentials.
#[component]
fn OrgChoices(
    /// The sign-in in progress.
    state: OrgSignIn,
    /// The organizations found, with the proof of the password check.
    choice: Choice,
) -> impl IntoView {
    let OrgSignIn {
        email,
        error,
        selecting,
        ..
    } = state;
    let token = StoredValue::new(choice.token);
    let choices = choice.organizations.len();
    let joinable = StoredValue::new(choice.joinable);
    let heading = NodeRef::<leptos::html::H2>::new();
    Effect::new(move |_| {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    view! {
        <div class="kh-org-choose" data-testid="org-login-choices">
            <ErrorNote error testid="org-login-error"/>
            <h2 id="org-choose-title" tabindex="-1" node_ref=heading>"Choose an organization"</h2>
            <p class="kh-muted">
                {move || if joinable.with_value(|j| j.len() == choices) {
                    format!("{} can join this organization: its address is at a domain the organization verified.", email.get().trim())
                } else {
                    format!("{} is a member of these organizations.", email.get().trim())
                }}
            </p>
            <ul class="kh-org-choices" aria-labelledby="org-choose-title">
                {choice.organizations.into_iter().map(|org| {
                    let join = joinable.with_value(|j| j.contains(&org.slug));
                    view! {
                        <OrgChoice org join selecting on_choose=move |slug| state.select(token.get_value(), slug)/>
                    }
                }).collect_view()}
            </ul>
            <p class="kh-auth__switch">
                <button type="button" class="kh-link-button" data-testid="org-login-start-over"
                    disabled=move || selecting.get().is_some() on:click=move |_| state.start_over()>
                    "Use a different account"
                </button>
            </p>
        </div>
    }
}

/// One organization to sign in to.
#[component]
fn OrgChoice(
    /// The organization.
    org: OrganizationSummary,
    /// Joining it (by the address's domain) rather than signing in.
    join: bool,
    /// The slug being signed in to: every choice waits, this one is busy.
    selecting: RwSignal<Option<String>>,
    /// Signs in to the organization of this slug.
    on_choose: impl Fn(String) + 'static,
) -> impl IntoView {
    let slug = org.slug.clone();
    let slug_for_click = org.slug.clone();
    let slug_for_label = org.slug.clone();
    view! {
        <li>
            <button type="button" class="kh-org-choice" data-testid="org-choice" data-slug=slug
                disabled=move || selecting.get().is_some()
                aria-busy=move || (selecting.get().as_deref() == Some(slug_for_label.as_str())).then_some("true")
                on:click=move |_| on_choose(slug_for_click.clone())>
                {match org.logo_url.clone() {
                    Some(src) => view! {
                        <img class="kh-org-choice__mark kh-org-choice__mark--logo" src=src alt="" width="40" height="40"/>
                    }.into_any(),
                    None => view! { <span class="kh-org-choice__mark" aria-hidden="true">{initials(&org.name)}</span> }.into_any(),
                }}
                <span class="kh-org-choice__text">
                    <strong>{org.name.clone()}</strong>
                    <small class="kh-muted">{if join { format!("{} · join as a new member", org.slug) } else { org.slug.clone() }}</small>
                </span>
                <span class="kh-org-choice__go" aria-hidden="true">{if join { "Join →" } else { "→" }}</span>
            </button>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(initials("Acme Inc"), "AI");
        assert_eq!(initials("globex"), "G");
        let e = ApiError::Network("offline".into());
        assert!(login_message(&e).contains("Can't reach"));
    }
}
