//! `/org/login`: "Sign in to your organization". Discovery first (email and
//! password → the organizations they open), then the organization: at once
//! when there is one, by choice when there are several. Honours `?returnTo=`
//! like the consumer login page (same sanitiser), default `/org`.

use keyhouse_idp_component::{ApiError, MemberStatus, use_member};
use keyhouse_types::OrganizationSummary;
use keyhouse_types::b2b::{DiscoveryRequest, DiscoverySelectRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use super::api::sentence;
use crate::pages::Bundle;
use crate::pages::auth::{ErrorNote, after_sign_in, return_target};
use keyhouse_idp_component::consent::initials;

/// Where the organization pages start.
const ORG_HOME: &str = "/org";

const NO_ORGANIZATION: &str = "That email and password don't match a member of any organization.";

fn login_message(e: &ApiError) -> String {
    match e.code() {
        "invalid_credentials" => NO_ORGANIZATION.into(),
        "too_many_attempts" => {
            "Too many attempts. For your security, wait 15 minutes and try again.".into()
        }
        "network_error" => "Can't reach the server. Check your connection and try again.".into(),
        "access_denied" => {
            "You can't sign in to this organization any more. Ask one of its administrators.".into()
        }
        "invalid_request" => e
            .description()
            .map(sentence)
            .unwrap_or_else(|| "Check the form and try again.".into()),
        _ => "Something went wrong. Try again in a moment.".into(),
    }
}

/// The organizations to choose from, with the proof of the password check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    token: String,
    organizations: Vec<OrganizationSummary>,
}

/// `/org/login`.
#[component]
pub fn OrgLoginPage() -> impl IntoView {
    let member = use_member();
    let target = return_target(ORG_HOME);
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    // The slug being signed in to (disables the choices, labels the button).
    let selecting = RwSignal::new(None::<String>);
    let choice = RwSignal::new(None::<Choice>);
    let navigate = StoredValue::new_local(use_navigate());

    // Signs in to one discovered organization.
    let select = move |token: String, slug: String| {
        selecting.set(Some(slug.clone()));
        error.set(None);
        spawn_local(async move {
            let req = DiscoverySelectRequest {
                discovery_token: token,
                organization_slug: slug,
            };
            match member.select(&req).await {
                Ok(_) => after_sign_in(&target.get_untracked(), Bundle::Org, navigate.get_value()),
                Err(e) => {
                    selecting.set(None);
                    pending.set(false);
                    if e.code() != "network_error" {
                        // The discovery token is spent or expired: start again.
                        choice.set(None);
                        password.set(String::new());
                    }
                    let msg = match e.code() {
                        // An expired or spent discovery token is answered
                        // `invalid_credentials` too.
                        "invalid_credentials" | "invalid_request" | "invalid_grant" => {
                            "That sign-in has expired. Enter your password again.".to_owned()
                        }
                        _ => login_message(&e),
                    };
                    error.set(Some(msg));
                }
            }
        });
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let req = DiscoveryRequest {
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match member.discover(&req).await {
                Ok(found) => {
                    password.set(String::new());
                    match found.organizations.as_slice() {
                        [only] => select(found.discovery_token, only.slug.clone()),
                        [] => {
                            error.set(Some(NO_ORGANIZATION.into()));
                            pending.set(false);
                        }
                        _ => {
                            choice.set(Some(Choice {
                                token: found.discovery_token,
                                organizations: found.organizations,
                            }));
                            pending.set(false);
                        }
                    }
                }
                Err(e) => {
                    error.set(Some(login_message(&e)));
                    password.set(String::new());
                    pending.set(false);
                }
            }
        });
    };

    let start_over = move |_| {
        choice.set(None);
        selecting.set(None);
        error.set(None);
    };

    // Who is signed in already (switching organization is allowed).
    let current = move || match member.status() {
        MemberStatus::SignedIn(m) => Some(m),
        _ => None,
    };

    let credentials_form = move || {
        view! {
            <form on:submit=on_submit>
                <ErrorNote error testid="org-login-error"/>
                <div class="kh-field">
                    <label for="org-login-email">"Work email"</label>
                    <input id="org-login-email" type="email" name="email" autocomplete="username" required
                        data-testid="org-login-email" bind:value=email
                        aria-invalid=move || error.get().is_some().then_some("true")/>
                </div>
                <div class="kh-field">
                    <label for="org-login-password">"Password"</label>
                    <input id="org-login-password" type="password" name="password" autocomplete="current-password" required
                        data-testid="org-login-password" bind:value=password
                        aria-invalid=move || error.get().is_some().then_some("true")/>
                </div>
                <button type="submit" class="kh-button kh-button--primary kh-button--block" data-testid="org-login-submit"
                    disabled=move || pending.get()>
                    {move || match (pending.get(), selecting.get()) {
                        (_, Some(_)) => "Opening your organization…",
                        (true, None) => "Checking…",
                        (false, None) => "Continue",
                    }}
                </button>
            </form>
        }
    };

    let heading = NodeRef::<leptos::html::H2>::new();
    Effect::new(move |_| {
        if choice.with(Option::is_some)
            && let Some(h) = heading.get()
        {
            let _ = h.focus();
        }
    });

    let choices = move |c: Choice| {
        let token = StoredValue::new(c.token);
        view! {
            <div class="kh-org-choose" data-testid="org-login-choices">
                <ErrorNote error testid="org-login-error"/>
                <h2 id="org-choose-title" tabindex="-1" node_ref=heading>"Choose an organization"</h2>
                <p class="kh-muted">
                    {move || format!("{} is a member of these organizations.", email.get().trim())}
                </p>
                <ul class="kh-org-choices" aria-labelledby="org-choose-title">
                    {c.organizations.into_iter().map(|org| {
                        let slug = org.slug.clone();
                        let slug_for_click = org.slug.clone();
                        let slug_for_label = org.slug.clone();
                        let name = org.name.clone();
                        view! {
                            <li>
                                <button type="button" class="kh-org-choice" data-testid="org-choice" data-slug=slug
                                    disabled=move || selecting.get().is_some()
                                    aria-busy=move || (selecting.get().as_deref() == Some(slug_for_label.as_str())).then_some("true")
                                    on:click=move |_| select(token.get_value(), slug_for_click.clone())>
                                    <span class="kh-org-choice__mark" aria-hidden="true">{initials(&org.name)}</span>
                                    <span class="kh-org-choice__text">
                                        <strong>{name}</strong>
                                        <small class="kh-muted">{org.slug.clone()}</small>
                                    </span>
                                    <span class="kh-org-choice__go" aria-hidden="true">"→"</span>
                                </button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <p class="kh-auth__switch">
                    <button type="button" class="kh-link-button" data-testid="org-login-start-over"
                        disabled=move || selecting.get().is_some() on:click=start_over>
                        "Use a different account"
                    </button>
                </p>
            </div>
        }
    };

    view! {
        <section class="kh-card kh-narrow kh-auth" aria-labelledby="org-login-title">
            <p class="kh-eyebrow">"For teams"</p>
            <h1 id="org-login-title">"Sign in to your organization"</h1>
            <p class="kh-muted">"Your organization's shared notes, and the apps it allows."</p>
            {move || current().map(|m| view! {
                <p class="kh-note-callout" data-testid="org-login-current">
                    {format!("You're signed in to {} as {}. ", m.organization.name, m.member.email)}
                    <a href=move || target.get() rel="external">"Continue"</a>
                </p>
            })}
            {move || match choice.get() {
                None => credentials_form().into_any(),
                Some(c) => choices(c).into_any(),
            }}
            <p class="kh-auth__switch">"Looking for your personal notes? "
                <a href="/login" rel="external" data-testid="org-login-personal-link">"Sign in here"</a>
            </p>
        </section>
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
