//! The consent screen and its customisable manifest.
//!
//! Like Stytch's `getIDPConsentManifest`, a host app can replace the words
//! of the consent screen. Unlike it, the hook sees everything the user is
//! deciding on: the client, where the browser will be sent, the resource
//! and each scope (with whether this user may grant it).

use keyhouse_types::{
    AuthorizeDecisionForm, AuthorizeStart, ClientSummary, FormDecision, OrganizationSummary,
    ScopeDescription, SessionUser,
};
use leptos::prelude::*;

use crate::text::{self, IdpText, fill};

/// What the consent hook is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentContext {
    /// Who is asking.
    pub client: ClientSummary,
    /// The host (and port) the browser will be sent to afterwards.
    pub redirect_host: String,
    /// The resource (RFC 8707) the token will be for, if one was requested.
    pub resource: Option<String>,
    /// The resource's name, when it is registered.
    pub resource_name: Option<String>,
    /// Whether the browser will be sent to this device (loopback).
    pub redirect_is_local: bool,
    /// The requested scopes, each with its plain-words description and
    /// whether this user may grant it.
    pub scopes: Vec<ScopeDescription>,
    /// The signed-in user (for B2B: the member).
    pub user: SessionUser,
    /// The organization being authorized (B2B only).
    pub organization: Option<OrganizationSummary>,
    /// The host app's name (the `app_name` prop).
    pub app_name: String,
    /// Whether the app keeps access until it is revoked although it did not
    /// ask for `offline_access` (its operator set it so).
    pub continues_until_revoked: bool,
}

impl ConsentContext {
    pub(crate) fn of(start: &AuthorizeStart, app_name: &str) -> ConsentContext {
        ConsentContext {
            client: start.client.clone(),
            redirect_host: start.redirect_host.clone(),
            resource: start.resource.clone(),
            resource_name: start.resource_name.clone(),
            redirect_is_local: start.redirect_is_local,
            scopes: start.scopes.clone(),
            user: start.user.clone(),
            organization: start.organization.clone(),
            app_name: app_name.to_owned(),
            continues_until_revoked: start.continues_until_revoked,
        }
    }
}

/// One line of the consent screen: `ConsentItem::new(text)`, then
/// [`ConsentItem::for_scope`] and [`ConsentItem::details`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentItem {
    /// The scope this line stands for (tests and styling key on it).
    pub scope: Option<String>,
    /// The line, in plain words.
    pub text: String,
    /// A smaller explanation under it.
    pub details: Option<String>,
}

/// A titled group of lines: `ConsentSection::new(heading, items)`.
///
/// ```
/// use keyhouse_idp_component::{ConsentItem, ConsentSection};
///
/// let notes = ConsentItem::new("Read your notes")
///     .for_scope("notes:read")
///     .details("Titles and text, not attachments");
/// let section = ConsentSection::new("Notes", vec![notes]);
/// assert_eq!(section.items[0].scope.as_deref(), Some("notes:read"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentSection {
    /// The group's heading.
    pub heading: String,
    /// Its lines.
    pub items: Vec<ConsentItem>,
}

/// The words of the consent screen. Start from [`default_manifest`] and
/// change what you need.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentManifest {
    /// The page heading.
    pub title: String,
    /// What the app will be allowed to do.
    pub sections: Vec<ConsentSection>,
    /// Requested permissions this user cannot grant, listed apart: the app
    /// will not get them.
    pub not_granted: Vec<ConsentItem>,
    /// The approve button's label.
    pub approve_label: String,
    /// The deny button's label.
    pub deny_label: String,
}

impl ConsentItem {
    /// A line with no scope and no explanation.
    pub fn new(text: impl Into<String>) -> ConsentItem {
        ConsentItem {
            scope: None,
            text: text.into(),
            details: None,
        }
    }

    /// The scope this line stands for.
    pub fn for_scope(mut self, scope: impl Into<String>) -> ConsentItem {
        self.scope = Some(scope.into());
        self
    }

    /// A smaller explanation under the line.
    pub fn details(mut self, details: impl Into<String>) -> ConsentItem {
        self.details = Some(details.into());
        self
    }
}

impl ConsentSection {
    /// A group of lines under a heading.
    pub fn new(heading: impl Into<String>, items: Vec<ConsentItem>) -> ConsentSection {
        ConsentSection {
            heading: heading.into(),
            items,
        }
    }
}

/// The manifest used when the host app gives none.
pub fn default_manifest(ctx: &ConsentContext) -> ConsentManifest {
    let item = |s: &ScopeDescription| ConsentItem {
        scope: Some(s.scope.clone()),
        text: s.description.clone(),
        details: None,
    };
    let (grantable, not_granted): (Vec<&ScopeDescription>, Vec<&ScopeDescription>) =
        ctx.scopes.iter().partition(|s| s.grantable);
    let grantable: Vec<ConsentItem> = grantable.into_iter().map(item).collect();
    let mut sections = Vec::new();
    if !grantable.is_empty() {
        sections.push(ConsentSection {
            heading: format!("This will allow {} to:", ctx.client.name),
            items: grantable,
        });
    }
    sections.extend(lasting_access_section(ctx));
    sections.extend(resource_section(ctx));
    let title = match &ctx.organization {
        Some(org) => format!(
            "{} wants to access {} on {}",
            ctx.client.name, org.name, ctx.app_name
        ),
        None => format!(
            "{} wants to access your {} account",
            ctx.client.name, ctx.app_name
        ),
    };
    ConsentManifest {
        title,
        sections,
        not_granted: not_granted.into_iter().map(item).collect(),
        approve_label: "Allow access".into(),
        deny_label: "Deny".into(),
    }
}

/// docs/threat-model.md row 51: access that lasts (a refresh token without
/// `offline_access` having been asked for) is stated.
fn lasting_access_section(ctx: &ConsentContext) -> Option<ConsentSection> {
    let offline_listed = ctx.scopes.iter().any(|s| s.scope == "offline_access");
    (ctx.continues_until_revoked && !offline_listed).then(|| ConsentSection {
        heading: "For how long:".into(),
        items: vec![ConsentItem {
            scope: Some("offline_access".into()),
            text: "Keep this access until you revoke it, even when you are not using the app"
                .into(),
            details: None,
        }],
    })
}

/// The protected resource the access is for, when the request named one.
fn resource_section(ctx: &ConsentContext) -> Option<ConsentSection> {
    let resource = ctx.resource.as_ref()?;
    Some(ConsentSection {
        heading: "For this service:".into(),
        items: vec![ConsentItem {
            scope: None,
            text: ctx
                .resource_name
                .clone()
                .unwrap_or_else(|| resource.clone()),
            details: ctx.resource_name.is_some().then(|| resource.clone()),
        }],
    })
}

fn client_kind(c: &ClientSummary, t: &IdpText) -> String {
    if c.self_registered {
        t.badge_self_registered.clone()
    } else if c.verified_domain.is_some() {
        t.badge_verified_domain.clone()
    } else if c.client_type.is_first_party() {
        t.badge_first_party.clone()
    } else {
        t.badge_third_party.clone()
    }
}

/// Up to two initials of `name` ("?" for a blank one): what stands in for a
/// missing logo.
pub fn initials(name: &str) -> String {
    let s: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if s.is_empty() { "?".to_owned() } else { s }
}

/// Where the consent screen's form sends the decision when no script runs
/// (`POST /api/idp/authorize/form`; see `AuthorizeDecisionForm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionForm {
    /// The form's `action`.
    pub action: String,
    /// The consent page's path and query: the request.
    pub page: String,
}

/// The consent screen. `on_decide` gets `true` for approve, `false` for
/// deny; `busy` disables both buttons while the decision is being sent.
/// The buttons sit in a form that sends the decision itself when no script
/// handles the click (the server's paint, JavaScript off); a running script
/// takes the click instead.
#[component]
pub fn Consent(
    /// The request being decided.
    ctx: ConsentContext,
    /// Its words.
    manifest: ConsentManifest,
    /// Called with the user's decision.
    on_decide: Callback<bool>,
    /// Whether a decision is being sent.
    #[prop(into)]
    busy: Signal<bool>,
    /// The form the buttons submit without a script.
    form: DecisionForm,
) -> impl IntoView {
    let heading = NodeRef::<leptos::html::H1>::new();
    // Move focus to the heading so screen readers announce the request.
    Effect::new(move |_| {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    let description = ctx.client.description.clone();
    let third_party = !ctx.client.client_type.is_first_party();
    let ConsentManifest {
        title,
        sections,
        not_granted,
        approve_label,
        deny_label,
    } = manifest;
    view! {
        <section class="kh-card kh-consent" data-testid="consent" aria-labelledby="kh-consent-title">
            <ClientHeader client=ctx.client.clone()/>
            <h1 id="kh-consent-title" class="kh-consent__title" tabindex="-1" node_ref=heading>{title}</h1>
            {(!description.is_empty()).then(|| view! { <p class="kh-muted">{description}</p> })}
            {ctx.organization.clone().map(|org| view! {
                <p class="kh-consent__org">
                    {org.logo_url.clone().map(|src| view! {
                        <img class="kh-consent__org-logo" src=src alt="" width="24" height="24" data-testid="consent-organization-logo"/>
                    })}
                    {text::current().organization.clone()} " " <strong data-testid="consent-organization">{org.name}</strong>
                    " " <span class="kh-muted">{format!("({})", org.slug)}</span>
                </p>
            })}
            <p class="kh-consent__user">
                {text::current().signed_in_as.clone()} " " <strong>{ctx.user.email.clone()}</strong>
            </p>
            {sections.into_iter().map(|section| view! { <GrantedSection section/> }).collect_view()}
            <NotGranted items=not_granted member=ctx.organization.is_some()/>
            <Destination host=ctx.redirect_host.clone() local=ctx.redirect_is_local third_party/>
            <form class="kh-consent__form" method="post" action=form.action>
                <input type="hidden" name=AuthorizeDecisionForm::PAGE_FIELD value=form.page/>
                <div class="kh-actions">
                    <button type="submit" class="kh-button kh-button--secondary" data-testid="consent-deny"
                        name=AuthorizeDecisionForm::DECISION_FIELD value=FormDecision::Deny.as_str()
                        disabled=move || busy.get()
                        on:click=move |ev| { ev.prevent_default(); on_decide.run(false) }>
                        {deny_label}
                    </button>
                    <button type="submit" class="kh-button kh-button--primary" data-testid="consent-approve"
                        name=AuthorizeDecisionForm::DECISION_FIELD value=FormDecision::Allow.as_str()
                        disabled=move || busy.get()
                        on:click=move |ev| { ev.prevent_default(); on_decide.run(true) }>
                        {approve_label}
                    </button>
                </div>
            </form>
        </section>
    }
}

/// Who is asking: the logo, the name, what kind of app it is, and the
/// verified domain of a metadata-document agent.
#[component]
fn ClientHeader(
    /// The client.
    client: ClientSummary,
) -> impl IntoView {
    let t = text::current();
    let kind = client_kind(&client, &t);
    let third_party = !client.client_type.is_first_party();
    let name = client.name.clone();
    view! {
        <header class="kh-consent__app">
            <Logo src=client.logo_uri.clone() name=name.clone()/>
            <div>
                <p class="kh-consent__client" data-testid="consent-client-name">{name}</p>
                <p class={if third_party { "kh-badge kh-badge--warn" } else { "kh-badge" }} data-testid="consent-client-type">{kind}</p>
            </div>
        </header>
        {client.verified_domain.map(|domain| view! {
            <p class="kh-consent__domain" data-testid="consent-verified-domain">
                <small class="kh-consent__domain-label">{t.verified_domain.clone()}</small>
                <span class="kh-consent__domain-name">{domain.clone()}</span>
                <small class="kh-muted">{fill(&t.verified_domain_note, "domain", &domain)}</small>
            </p>
        })}
    }
}

/// One section of what approving grants.
#[component]
fn GrantedSection(
    /// Its heading and items.
    section: ConsentSection,
) -> impl IntoView {
    view! {
        <div class="kh-consent__section">
            <h2>{section.heading}</h2>
            <ul class="kh-scopes">
                {section.items.into_iter().map(|i| view! {
                    <li class="kh-scope" data-testid={if i.scope.is_some() { "consent-scope" } else { "consent-item" }} data-scope=i.scope.clone().unwrap_or_default()>
                        <span class="kh-scope__check" aria-hidden="true">"✓"</span>
                        <span>
                            {i.text}
                            {i.details.map(|d| view! { <small class="kh-muted">{d}</small> })}
                        </span>
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
}

/// What was asked for but this person cannot grant (nothing when empty).
#[component]
fn NotGranted(
    /// The scopes left out.
    items: Vec<ConsentItem>,
    /// Whether the person is an organization's member (their role decides).
    member: bool,
) -> impl IntoView {
    (!items.is_empty()).then(|| view! {
        <div class="kh-consent__section kh-consent__section--denied" data-testid="consent-ungrantable">
            <h2>{if member {
                text::current().not_included_member.clone()
            } else {
                text::current().not_included_user.clone()
            }}</h2>
            <ul class="kh-scopes">
                {items.into_iter().map(|i| view! {
                    <li class="kh-scope kh-scope--denied" data-scope=i.scope.clone().unwrap_or_default()>
                        <span class="kh-scope__check" aria-hidden="true">"✕"</span>
                        <span>{i.text}</span>
                    </li>
                }).collect_view()}
            </ul>
        </div>
    })
}

/// Where the browser goes after the decision, with a warning for a
/// loopback redirect (an agent on this device).
#[component]
fn Destination(
    /// The redirect URI's host.
    host: String,
    /// Whether it is a loopback address.
    local: bool,
    /// Whether the client is a third party.
    third_party: bool,
) -> impl IntoView {
    let t = text::current();
    let trust = third_party.then(|| format!(" {}", t.trust_warning));
    let warning = t.local_redirect_warning.clone();
    view! {
        <p class="kh-consent__redirect">
            {t.sent_to.clone()} " "
            <strong data-testid="consent-redirect-host">{host}</strong>
            "."
            {trust}
        </p>
        {local.then(|| view! {
            <p class="kh-alert kh-alert--warn" role="note" data-testid="consent-local-redirect">
                {warning}
            </p>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhouse_types::ClientType;

    fn ctx(scopes: &[(&str, bool)]) -> ConsentContext {
        ConsentContext {
            client: ClientSummary {
                client_id: "c".into(),
                name: "Notes GPT".into(),
                description: String::new(),
                logo_uri: None,
                client_type: ClientType::ThirdParty,
                verified_domain: None,
                self_registered: false,
            },
            redirect_host: "chat.openai.com".into(),
            resource: None,
            resource_name: None,
            redirect_is_local: false,
            scopes: scopes
                .iter()
                .map(|(s, g)| ScopeDescription {
                    scope: (*s).into(),
                    description: format!("do {s}"),
                    grantable: *g,
                })
                .collect(),
            user: SessionUser {
                user_id: "u".into(),
                email: "a@example.test".into(),
                name: String::new(),
                email_verified: true,
                has_password: true,
                second_factor: false,
            },
            organization: None,
            app_name: "Notes".into(),
            continues_until_revoked: false,
        }
    }

    #[test]
    fn a_refresh_policy_of_always_is_stated() {
        let mut c = ctx(&[("notes:read", true)]);
        assert!(
            !default_manifest(&c)
                .sections
                .iter()
                .any(|s| s.heading == "For how long:")
        );
        c.continues_until_revoked = true;
        let m = default_manifest(&c);
        let last = m.sections.iter().find(|s| s.heading == "For how long:");
        assert!(last.is_some_and(|s| s.items[0].text.contains("until you revoke it")));
        // Not twice when offline_access is requested anyway.
        let mut c = ctx(&[("offline_access", true)]);
        c.continues_until_revoked = true;
        assert!(
            !default_manifest(&c)
                .sections
                .iter()
                .any(|s| s.heading == "For how long:")
        );
    }

    #[test]
    fn default_manifest_lists_ungrantable_apart() {
        let m = default_manifest(&ctx(&[("openid", true), ("notes:write", false)]));
        assert_eq!(m.title, "Notes GPT wants to access your Notes account");
        assert_eq!(m.sections.len(), 1);
        assert_eq!(m.sections[0].items.len(), 1);
        assert_eq!(m.sections[0].items[0].scope.as_deref(), Some("openid"));
        assert_eq!(m.not_granted.len(), 1);
        assert_eq!(m.not_granted[0].scope.as_deref(), Some("notes:write"));
        assert_eq!(initials("notes gpt"), "NG");
        let mut c = ctx(&[]);
        c.organization = Some(OrganizationSummary {
            organization_id: "org-1".into(),
            slug: "acme".into(),
            name: "Acme".into(),
            logo_url: None,
        });
        assert_eq!(
            default_manifest(&c).title,
            "Notes GPT wants to access Acme on Notes"
        );
    }
}

/// A client's logo (served by Keyhouse), or its initials when it has none
/// or the logo does not load.
#[component]
pub fn Logo(
    /// The logo URL.
    src: Option<String>,
    /// The client's name, for the initials.
    name: String,
) -> impl IntoView {
    let failed = RwSignal::new(false);
    let letters = initials(&name);
    move || {
        match src.clone().filter(|_| !failed.get()) {
        Some(src) => view! {
            <img class="kh-consent__logo" src=src alt="" width="48" height="48" referrerpolicy="no-referrer"
                on:error=move |_| failed.set(true)/>
        }
        .into_any(),
        None => view! {
            <div class="kh-consent__logo kh-consent__logo--initials" aria-hidden="true">{letters.clone()}</div>
        }
        .into_any(),
    }
    }
}
