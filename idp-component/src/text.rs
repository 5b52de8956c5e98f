//! The words of the `/idp` page, replaceable: [`IdpText`]. The consent
//! screen's title, sections and buttons come from the
//! [`crate::ConsentManifest`] hook; everything else the page says is here.
//! `{app}`, `{client}` and `{domain}` are replaced where they appear.

use std::sync::Arc;

use leptos::prelude::*;

/// Every fixed string of [`crate::IdentityProvider`] and
/// [`crate::B2BIdentityProvider`], English by default. Change the fields
/// you need and pass it as the `text` prop, or to [`provide_idp_text`] for
/// every provider below.
///
/// ```
/// let mut text = keyhouse_idp_component::IdpText::default();
/// text.checking_session = "Vérification de votre session…".into();
/// text.go_to = "Aller à {app}".into();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct IdpText {
    /// While the request is checked.
    pub checking_session: String,
    /// On the way to the login page.
    pub taking_you_to_sign_in: String,
    /// On the way back to a client that needs no consent (`{client}`).
    pub returning_to_client: String,
    /// On the way back after a decision.
    pub returning_to_app: String,

    /// Unknown or removed client: headline.
    pub unknown_client_title: String,
    /// Unknown or removed client: explanation (`{app}`).
    pub unknown_client_text: String,
    /// Malformed request: headline.
    pub bad_request_title: String,
    /// Malformed request: explanation.
    pub bad_request_text: String,
    /// Refused by the organization: headline.
    pub not_allowed_title: String,
    /// Refused by the organization: explanation.
    pub not_allowed_text: String,
    /// The app asks for two-step verification, which the account does
    /// not have: headline.
    pub two_step_needed_title: String,
    /// The same: explanation (`{app}`).
    pub two_step_needed_text: String,
    /// The same: the button to the account settings.
    pub two_step_turn_on: String,
    /// Above the code field when the app asks for two-step verification
    /// of a session that used one factor.
    pub step_up_text: String,
    /// Above the passkey button, when the app asks for a passkey
    /// (`acr_values` phishing-resistant).
    pub passkey_step_up_text: String,
    /// The link to the account page, to add a passkey first.
    pub passkey_add: String,
    /// Under "two-step verification needed": a passkey counts as two
    /// steps, so one already held signs in instead.
    pub passkey_instead: String,
    /// Cross-site request: headline.
    pub blocked_title: String,
    /// Cross-site request: explanation.
    pub blocked_text: String,
    /// The server cannot be reached: headline (`{app}`).
    pub unreachable_title: String,
    /// The server cannot be reached: explanation.
    pub unreachable_text: String,
    /// A server failure: headline.
    pub server_error_title: String,
    /// A server failure: explanation.
    pub server_error_text: String,
    /// Anything else: headline.
    pub other_error_title: String,
    /// Anything else: explanation.
    pub other_error_text: String,
    /// The error page's link home (`{app}`).
    pub go_to: String,
    /// The error page's retry button.
    pub try_again: String,
    /// Before the error code.
    pub error_code: String,

    /// Consent: before the signed-in account.
    pub signed_in_as: String,
    /// Consent (B2B): before the organization's name.
    pub organization: String,
    /// Consent: a self-registered app's badge.
    pub badge_self_registered: String,
    /// Consent: the badge of an app identified by its domain.
    pub badge_verified_domain: String,
    /// Consent: a first-party app's badge.
    pub badge_first_party: String,
    /// Consent: a third-party app's badge.
    pub badge_third_party: String,
    /// Consent: the label above a verified domain.
    pub verified_domain: String,
    /// Consent: what a verified domain does not vouch for (`{domain}`).
    pub verified_domain_note: String,
    /// Consent (B2B): the heading of the scopes the member's role does not allow.
    pub not_included_member: String,
    /// Consent: the heading of the scopes the account cannot grant.
    pub not_included_user: String,
    /// Consent: before the redirect host.
    pub sent_to: String,
    /// Consent: after the redirect host, for a third-party app.
    pub trust_warning: String,
    /// Consent: the warning for a redirect to this device (loopback).
    pub local_redirect_warning: String,
}

impl Default for IdpText {
    fn default() -> IdpText {
        IdpText {
            checking_session: "Checking your session…".into(),
            taking_you_to_sign_in: "Taking you to sign in…".into(),
            returning_to_client: "Returning you to {client}…".into(),
            returning_to_app: "Returning you to the app…".into(),
            unknown_client_title: "This app isn't recognised".into(),
            unknown_client_text: "The app that sent you here is not registered with {app}, or it has been removed. Nothing was shared with it. Go back to the app and contact its developer.".into(),
            bad_request_title: "This sign-in link doesn't work".into(),
            bad_request_text: "The request that brought you here is malformed or doesn't match the app's registration, so you were not sent back to it. Nothing was shared.".into(),
            not_allowed_title: "This app isn't allowed here".into(),
            not_allowed_text: "Your organization's settings don't allow this app, so nothing was shared. Ask an administrator of your organization if you need it.".into(),
            two_step_needed_title: "Two-step verification needed".into(),
            two_step_needed_text: "Connecting this app needs a sign-in with two-step verification (the app or your organization asks for it), and your {app} account doesn't have it on yet. Turn it on in your account settings; you'll come back here afterwards. Nothing was shared.".into(),
            two_step_turn_on: "Turn on two-step verification".into(),
            step_up_text: "Connecting this app needs you to confirm it's you with two-step verification.".into(),
            passkey_step_up_text: "The app you're connecting asks you to confirm it's you with a passkey.".into(),
            passkey_add: "No passkey yet? Add one in your account settings".into(),
            passkey_instead: "Already have a passkey here? It counts as two-step verification.".into(),
            blocked_title: "Request blocked".into(),
            blocked_text: "This request did not come from this site, so it was stopped. Nothing was shared.".into(),
            unreachable_title: "Can't reach {app}".into(),
            unreachable_text: "Check your connection, then try again.".into(),
            server_error_title: "Something went wrong on our side".into(),
            server_error_text: "Nothing was shared. Please try again in a moment.".into(),
            other_error_title: "This request can't be completed".into(),
            other_error_text: "Nothing was shared with the app.".into(),
            go_to: "Go to {app}".into(),
            try_again: "Try again".into(),
            error_code: "Error code:".into(),
            signed_in_as: "Signed in as".into(),
            organization: "Organization:".into(),
            badge_self_registered: "Self-registered app, unverified".into(),
            badge_verified_domain: "Third-party app, identified by its domain".into(),
            badge_first_party: "First-party app".into(),
            badge_third_party: "Third-party app".into(),
            verified_domain: "Verified domain".into(),
            verified_domain_note: "Only the domain is verified: the app's name and description are {domain}'s own claims.".into(),
            not_included_member: "Not included (your role in this organization doesn't allow these):".into(),
            not_included_user: "Not included (your account can't grant these):".into(),
            sent_to: "After you decide, you'll be sent to".into(),
            trust_warning: "Only allow access if you trust this app.".into(),
            local_redirect_warning: "This app receives the answer on this device (a localhost address). That is normal for a desktop or command-line agent you started yourself; if you did not start one, deny.".into(),
        }
    }
}

/// `template` with `{name}` replaced by `value`.
pub(crate) fn fill(template: &str, name: &str, value: &str) -> String {
    template.replace(&format!("{{{name}}}"), value)
}

/// The words every provider below uses, unless its `text` prop says
/// otherwise.
#[derive(Debug, Clone)]
struct Provided(Arc<IdpText>);

/// Sets the words of every [`crate::IdentityProvider`] and
/// [`crate::B2BIdentityProvider`] below this point.
pub fn provide_idp_text(text: IdpText) {
    provide_context(Provided(Arc::new(text)));
}

/// The words to use: the prop, else the provided ones, else English. Made
/// available to the provider's own subtree.
pub(crate) fn resolve(prop: Option<IdpText>) -> Arc<IdpText> {
    let text = match prop {
        Some(t) => Arc::new(t),
        None => use_context::<Provided>()
            .map(|p| p.0)
            .unwrap_or_else(|| Arc::new(IdpText::default())),
    };
    provide_context(Provided(text.clone()));
    text
}

/// The words, inside a provider's subtree.
pub(crate) fn current() -> Arc<IdpText> {
    use_context::<Provided>()
        .map(|p| p.0)
        .unwrap_or_else(|| Arc::new(IdpText::default()))
}
