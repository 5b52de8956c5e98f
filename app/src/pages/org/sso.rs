//! Single sign-on on `/org/settings`: the organization's own OpenID
//! Provider (issuer, client id and secret), how its groups map to roles,
//! who is provisioned on a first sign-in, a test of the connection, and
//! whether members must sign in through it.

use keyhouse_idp_component::{ApiError, use_member};
use keyhouse_types::b2b::{SsoConnectionRequest, SsoRequiredRequest, SsoRoleMapping, SsoSettings};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::domains::message;
use crate::pages::Spinner;

/// The mapping as the form writes it: one `group = role` a line.
fn mappings_text(m: &[SsoRoleMapping]) -> String {
    m.iter()
        .map(|m| format!("{} = {}", m.group, m.role))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads `group = role` lines (blank lines skipped); the first line that
/// is not one, as an error.
fn parse_mappings(text: &str) -> Result<Vec<SsoRoleMapping>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.rsplit_once('=') {
            Some((g, r)) if !g.trim().is_empty() && !r.trim().is_empty() => Ok(SsoRoleMapping {
                group: g.trim().to_owned(),
                role: r.trim().to_owned(),
            }),
            _ => Err(format!("Write each mapping as “group = role”: {l}")),
        })
        .collect()
}

/// What a test of the connection ended with (`?sso_test=` on the page).
fn test_outcome() -> Option<(bool, String)> {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let outcome = keyhouse_idp_component::params::query_value(&search, "sso_test")?;
    Some(match outcome.as_str() {
        "ok" => (true, "The connection works: your provider signed you in and its ID token checked out. You can now require single sign-on.".into()),
        other => (false, format!("The test failed: {}.", super::login::sso_failure(other))),
    })
}

/// The single sign-on card.
#[component]
pub(super) fn SingleSignOn(
    /// The organization's slug (the test starts with it).
    slug: String,
    /// Every role of the organization.
    role_ids: Vec<String>,
) -> impl IntoView {
    let member = use_member();
    let settings = RwSignal::new(None::<Result<SsoSettings, String>>);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(test_outcome());
    let pending = RwSignal::new(false);
    let issuer = RwSignal::new(String::new());
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let groups_claim = RwSignal::new(String::new());
    let mappings = RwSignal::new(String::new());
    let provision = RwSignal::new(String::new());
    let fill = move |s: &SsoSettings| {
        if let Some(c) = &s.connection {
            issuer.set(c.issuer.clone());
            client_id.set(c.client_id.clone());
            groups_claim.set(c.groups_claim.clone());
            mappings.set(mappings_text(&c.role_mappings));
            provision.set(c.provision_role.clone().unwrap_or_default());
        }
        client_secret.set(String::new());
    };
    spawn_local(async move {
        let r: Result<SsoSettings, ApiError> =
            member.api().get_json("/api/b2b/organization/sso").await;
        if let Ok(s) = &r {
            fill(s);
        }
        settings.set(Some(r.map_err(|e| message(&e))));
    });
    let apply = move |r: Result<SsoSettings, ApiError>| {
        pending.set(false);
        match r {
            Ok(s) => {
                error.set(None);
                fill(&s);
                settings.set(Some(Ok(s)));
            }
            Err(e) => error.set(Some(message(&e))),
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let role_mappings = match parse_mappings(&mappings.get_untracked()) {
            Ok(m) => m,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        let secret = client_secret.get_untracked();
        let provision_role = provision.get_untracked();
        let req = SsoConnectionRequest {
            issuer: issuer.get_untracked().trim().to_owned(),
            client_id: client_id.get_untracked().trim().to_owned(),
            client_secret: (!secret.is_empty()).then_some(secret),
            groups_claim: Some(groups_claim.get_untracked()),
            role_mappings,
            provision_role: (!provision_role.is_empty()).then_some(provision_role),
        };
        pending.set(true);
        notice.set(None);
        spawn_local(async move {
            apply(
                member
                    .api()
                    .put_json("/api/b2b/organization/sso", &req)
                    .await,
            );
        });
    };
    let set_required = move |required: bool| {
        pending.set(true);
        spawn_local(async move {
            apply(
                member
                    .api()
                    .put_json(
                        "/api/b2b/organization/sso/required",
                        &SsoRequiredRequest { required },
                    )
                    .await,
            );
        });
    };
    let remove = move |_| {
        pending.set(true);
        spawn_local(async move {
            let r = member
                .api()
                .post_json("/api/b2b/organization/sso/remove", &())
                .await;
            if r.is_ok() {
                issuer.set(String::new());
                client_id.set(String::new());
                mappings.set(String::new());
                provision.set(String::new());
            }
            apply(r);
        });
    };
    let test_href = format!(
        "/api/b2b/sso/start?test=1&organization={}",
        crate::pages::encode_segment(&slug)
    );
    let role_ids = StoredValue::new(role_ids);
    view! {
        <section class="kh-card" aria-labelledby="org-sso-title" data-testid="org-sso">
            <h2 id="org-sso-title" class="kh-section-title">"Single sign-on"</h2>
            <p class="kh-muted">"Members sign in through your company's identity provider (Okta, Entra ID, Google Workspace or any OpenID Provider). Register Keyhouse there as a web application, then enter what the provider gives you."</p>
            {move || notice.get().map(|(ok, text)| view! {
                <p class=if ok { "kh-note-callout" } else { "kh-alert" } role="status" data-testid="org-sso-test-result">{text}</p>
            })}
            {move || error.get().map(|e| view! { <p class="kh-alert" role="alert" data-testid="org-sso-error">{e}</p> })}
            {move || match settings.get() {
                None => view! { <Spinner/> }.into_any(),
                Some(Err(m)) => view! { <p class="kh-alert" role="alert">{m}</p> }.into_any(),
                Some(Ok(s)) => {
                    let connected = s.connection.is_some();
                    let tested = s.connection.as_ref().and_then(|c| c.tested_at).is_some();
                    let required = s.required;
                    view! {
                        <div class="kh-field kh-sso-redirect">
                            <span class="kh-label">"Redirect URI to register at your provider"</span>
                            <code class="kh-copyable" data-testid="org-sso-redirect-uri">{s.redirect_uri.clone()}</code>
                        </div>
                        <p class="kh-sso-status" data-testid="org-sso-status">
                            {match (connected, tested, required) {
                                (false, _, _) => view! { <span class="kh-badge">"Not set up"</span> }.into_any(),
                                (true, false, _) => view! { <span class="kh-badge kh-badge--warn">"Not tested yet"</span> }.into_any(),
                                (true, true, false) => view! { <span class="kh-badge kh-badge--ok">"Working · optional"</span> }.into_any(),
                                (true, true, true) => view! { <span class="kh-badge kh-badge--ok">"Working · required for every member"</span> }.into_any(),
                            }}
                        </p>
                        {connected.then(|| view! {
                            <div class="kh-actions kh-actions--start">
                                <a class="kh-button kh-button--secondary" href=test_href.clone() rel="external"
                                    data-testid="org-sso-test">"Test connection"</a>
                                {if required {
                                    view! {
                                        <button type="button" class="kh-button kh-button--secondary" data-testid="org-sso-optional"
                                            disabled=move || pending.get() on:click=move |_| set_required(false)>
                                            "Stop requiring single sign-on"</button>
                                    }.into_any()
                                } else {
                                    view! {
                                        <button type="button" class="kh-button kh-button--primary" data-testid="org-sso-require"
                                            disabled=move || pending.get() || !tested
                                            title=if tested { "" } else { "Test the connection first" }
                                            on:click=move |_| set_required(true)>
                                            "Require single sign-on"</button>
                                        <button type="button" class="kh-link-button" data-testid="org-sso-remove"
                                            disabled=move || pending.get() on:click=remove>"Remove"</button>
                                    }.into_any()
                                }}
                            </div>
                        })}
                        {required.then(|| view! {
                            <p class="kh-muted">"Members can't sign in with a password, a mailed code or a passkey. To change the provider, stop requiring single sign-on first."</p>
                        })}
                    }.into_any()
                }
            }}
            <form class="kh-sso-form" on:submit=save data-testid="org-sso-form">
                <div class="kh-field">
                    <label for="org-sso-issuer">"Issuer URL"</label>
                    <input id="org-sso-issuer" type="url" required placeholder="https://login.example.com"
                        autocomplete="off" data-testid="org-sso-issuer" bind:value=issuer/>
                </div>
                <div class="kh-field">
                    <label for="org-sso-client-id">"Client ID"</label>
                    <input id="org-sso-client-id" type="text" required autocomplete="off"
                        data-testid="org-sso-client-id" bind:value=client_id/>
                </div>
                <div class="kh-field">
                    <label for="org-sso-client-secret">"Client secret"</label>
                    <input id="org-sso-client-secret" type="password" autocomplete="new-password"
                        placeholder=move || if settings.with(|s| matches!(s, Some(Ok(s)) if s.connection.is_some())) { "Unchanged" } else { "" }
                        data-testid="org-sso-client-secret" bind:value=client_secret/>
                </div>
                <div class="kh-field">
                    <label for="org-sso-groups-claim">"Groups claim"</label>
                    <input id="org-sso-groups-claim" type="text" placeholder="groups" autocomplete="off"
                        data-testid="org-sso-groups-claim" bind:value=groups_claim/>
                </div>
                <div class="kh-field">
                    <label for="org-sso-mappings">"Groups to roles"</label>
                    <textarea id="org-sso-mappings" rows="3" placeholder="engineering-leads = admin"
                        aria-describedby="org-sso-mappings-help" data-testid="org-sso-mappings"
                        bind:value=mappings></textarea>
                    <p id="org-sso-mappings-help" class="kh-field__hint kh-muted">"One “group = role” a line. When any line matches, the member's roles are set from it at every sign-in."</p>
                </div>
                <div class="kh-field">
                    <label for="org-sso-provision">"New people"</label>
                    <select id="org-sso-provision" data-testid="org-sso-provision"
                        on:change=move |ev| provision.set(event_target_value(&ev))>
                        <option value="" selected=move || provision.get().is_empty()>"Only existing members sign in"</option>
                        {move || role_ids.get_value().into_iter().map(|r| {
                            let value = r.clone();
                            view! { <option value=r.clone() selected=move || provision.get() == value>{format!("Added at first sign-in, as {r}")}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <button type="submit" class="kh-button kh-button--primary" data-testid="org-sso-save"
                    disabled=move || pending.get()>"Save connection"</button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_group_equals_role_lines() {
        let m = parse_mappings("eng = admin\n\n a=b=member \n").expect("two mappings");
        assert_eq!(
            m,
            vec![
                SsoRoleMapping {
                    group: "eng".into(),
                    role: "admin".into()
                },
                SsoRoleMapping {
                    group: "a=b".into(),
                    role: "member".into()
                },
            ]
        );
        assert_eq!(mappings_text(&m), "eng = admin\na=b = member");
        assert!(parse_mappings("just a group").is_err());
        assert!(parse_mappings("= admin").is_err());
    }
}
