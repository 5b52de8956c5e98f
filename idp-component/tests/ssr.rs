//! The components rendered on the server (`ssr`), as an SSR + hydration app
//! renders them: no `window` exists there, so any browser call while
//! rendering panics. The first paint is the loading card (the work starts
//! after hydration), or the consent screen when the page's answer is given,
//! and replaced strings show from the first paint.
#![allow(clippy::unwrap_used)]

use keyhouse_idp_component::{
    B2BIdentityProvider, IdentityProvider, MemberTotpChallenge, PasswordLogin, SignIn, SignInText,
};

use leptos::prelude::*;

fn render<V: IntoView + 'static>(view: impl FnOnce() -> V) -> String {
    let owner = Owner::new();
    owner.with(|| view().into_view().to_html())
}

#[test]
fn identity_provider_renders_its_loading_card_on_the_server() {
    let html = render(|| view! { <IdentityProvider app_name="Notes"/> });
    assert!(html.contains(r#"data-testid="idp-loading""#), "{html}");
    assert!(html.contains("Checking your session…"), "{html}");
}

#[test]
fn the_b2b_provider_renders_on_the_server_too() {
    let html = render(|| view! { <B2BIdentityProvider app_name="Notes"/> });
    assert!(html.contains(r#"data-testid="idp-loading""#), "{html}");
    assert!(html.contains("Checking your session…"), "{html}");
}

#[test]
fn the_session_hooks_render_their_loading_state_on_the_server() {
    use keyhouse_idp_component::{use_member, use_session};
    let html = render(|| {
        // No ancestor provided them: each provides one for the page's own
        // origin, and loads it only in the browser.
        let session = use_session();
        let member = use_member();
        view! {
            <p>{move || if session.loading() { "session loading" } else { "session known" }}</p>
            <p>{move || if member.loading() { "member loading" } else { "member known" }}</p>
        }
    });
    assert!(html.contains("session loading"), "{html}");
    assert!(html.contains("member loading"), "{html}");
}

#[test]
fn sign_in_renders_on_the_server_with_replaced_strings() {
    let mut text = SignInText::default();
    text.sign_in_title = "Connexion à {app}".into();
    text.email_label = "Courriel".into();
    let html = render(move || view! { <SignIn app_name="Notes" text/> });
    assert!(html.contains("Connexion à Notes"), "{html}");
    assert!(html.contains("Courriel"), "{html}");
    assert!(!html.contains("Sign in to"), "{html}");
}

#[test]
fn the_login_steps_render_on_their_own() {
    let mut text = SignInText::default();
    text.password_label = "Mot de passe".into();
    text.sign_in_button = "Se connecter".into();
    let html = render(move || view! { <PasswordLogin on_signed_in=|_| () text/> });
    assert!(html.contains("Mot de passe"), "{html}");
    assert!(html.contains("Se connecter"), "{html}");
    assert!(
        html.contains(r#"autocomplete="current-password""#),
        "{html}"
    );
    let html = render(|| view! { <MemberTotpChallenge on_signed_in=|_| ()/> });
    assert!(
        html.contains(r#"data-testid="second-factor-input""#),
        "{html}"
    );
    assert!(html.contains("Two-step verification"), "{html}");
}

#[test]
fn the_providers_words_come_from_the_prop_or_the_context() {
    use keyhouse_idp_component::{IdpText, provide_idp_text};
    let mut text = IdpText::default();
    text.checking_session = "Vérification de votre session…".into();
    let html = render(move || view! { <IdentityProvider text/> });
    assert!(html.contains("Vérification de votre session…"), "{html}");

    let mut provided = IdpText::default();
    provided.checking_session = "Sitzung wird geprüft…".into();
    let html = render(move || {
        provide_idp_text(provided);
        view! { <B2BIdentityProvider/> }
    });
    assert!(html.contains("Sitzung wird geprüft…"), "{html}");
    assert!(!html.contains("Checking your session"), "{html}");
}

#[test]
fn the_packaged_stylesheet_styles_every_class_rendered() {
    use keyhouse_idp_component::STYLESHEET;
    let html = [
        render(|| view! { <IdentityProvider app_name="Notes"/> }),
        render(|| view! { <SignIn app_name="Notes"/> }),
        render(|| view! { <PasswordLogin on_signed_in=|_| ()/> }),
        render(|| view! { <MemberTotpChallenge on_signed_in=|_| ()/> }),
        render(|| {
            provide_context(consent_in_page(false));
            view! { <IdentityProvider app_name="Notes"/> }
        }),
        render(|| {
            provide_context(consent_in_page(true));
            view! { <B2BIdentityProvider app_name="Notes"/> }
        }),
    ]
    .concat();
    let classes: Vec<&str> = html
        .split("class=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .flat_map(str::split_whitespace)
        .collect();
    assert!(classes.contains(&"kh-card"), "{html}");
    for class in classes {
        assert!(
            STYLESHEET.contains(&format!(".{class}")),
            "no rule for .{class}"
        );
    }
}

/// A start answer for "Notes GPT" asking for `notes:read`, as the backend
/// writes it into the page; a member's also names the organization and a
/// scope the member's role does not cover.
fn consent_in_page(members: bool) -> keyhouse_types::AuthorizeStartInPage {
    let mut answer = serde_json::json!({
        "client": {"client_id": "c1", "name": "Notes GPT <b>", "description": "",
                   "logo_uri": null, "client_type": "third_party"},
        "redirect_host": "gpt.example", "scopes": [
            {"scope": "notes:read", "description": "Read your notes", "grantable": true}],
        "resource": null, "consent_required": true,
        "user": {"user_id": "u1", "email": "ada@example.test", "name": "Ada"},
    });
    if members {
        answer["organization"] = serde_json::json!({
            "organization_id": "org1", "name": "Acme Inc", "slug": "acme"});
        answer["scopes"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"scope": "notes:write", "description": "Write your notes", "grantable": false}));
    }
    keyhouse_types::AuthorizeStartInPage {
        page: "/idp?client_id=c1".into(),
        members,
        status: 200,
        answer: Some(serde_json::from_value(answer).unwrap()),
        error: None,
    }
}

/// The opening tag of the element whose `data-testid` is `id`.
fn tag_of<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!(r#"data-testid="{id}""#)).unwrap();
    let start = html[..at].rfind('<').unwrap();
    &html[start..at + html[at..].find('>').unwrap()]
}

#[test]
fn given_the_pages_answer_the_provider_renders_consent_whose_buttons_submit_its_form() {
    let html = render(|| {
        provide_context(consent_in_page(false));
        view! { <IdentityProvider app_name="Notes"/> }
    });
    assert!(!html.contains(r#"data-testid="idp-loading""#), "{html}");
    assert!(
        html.contains("Notes GPT &lt;b&gt;"),
        "the name, as text: {html}"
    );
    assert!(html.contains(r#"data-scope="notes:read""#), "{html}");
    // The form posts the decision with the request's page; each button
    // names its decision, and neither is disabled.
    let form = &html[html.find("<form").expect("a form")..];
    let form = &form[..form.find("</form>").unwrap()];
    let opening = &form[..form.find('>').unwrap()];
    assert!(
        opening.contains(r#"method="post""#)
            && opening.contains(r#"action="/api/idp/authorize/form""#),
        "{form}"
    );
    assert!(
        form.contains(r#"<input type="hidden" name="page" value="/idp?client_id=c1""#),
        "{form}"
    );
    for (id, value) in [("consent-approve", "allow"), ("consent-deny", "deny")] {
        let tag = tag_of(form, id);
        assert!(tag.starts_with(r#"<button type="submit""#), "{id}: {tag}");
        assert!(
            tag.contains(r#"name="decision""#) && tag.contains(&format!(r#"value="{value}""#)),
            "{id}: {tag}"
        );
        assert!(!tag.contains("disabled"), "{id}: {tag}");
    }
}

#[test]
fn a_members_consent_renders_on_the_server_with_its_organization() {
    let html = render(|| {
        provide_context(consent_in_page(true));
        view! { <B2BIdentityProvider app_name="Notes"/> }
    });
    assert!(
        html.contains(r#"data-testid="consent-organization""#),
        "{html}"
    );
    assert!(html.contains("Acme Inc"), "{html}");
    assert!(
        html.contains("Write your notes"),
        "the scope not granted is listed: {html}"
    );
    assert!(
        html.contains(r#"action="/api/b2b/idp/authorize/form""#),
        "a member's decision goes to the members' form: {html}"
    );
}

#[test]
fn an_answer_for_the_other_side_is_not_used() {
    // A users' answer does not describe a member's request, nor the reverse.
    let html = render(|| {
        provide_context(consent_in_page(false));
        view! { <B2BIdentityProvider app_name="Notes"/> }
    });
    assert!(html.contains(r#"data-testid="idp-loading""#), "{html}");
    let html = render(|| {
        provide_context(consent_in_page(true));
        view! { <IdentityProvider app_name="Notes"/> }
    });
    assert!(html.contains(r#"data-testid="idp-loading""#), "{html}");
}
