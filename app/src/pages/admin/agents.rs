//! `/admin/agents`: which agents may identify themselves by a metadata
//! document (the switch and the domain lists, overriding the configuration
//! until reset), and the protected resources tokens are issued for.

use keyhouse_idp_component::use_session;
use keyhouse_types::admin::{AgentSettings, MetadataPolicy, ResourceRequest, ResourceView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api;
use super::widgets::{AdminHeader, RequireAdmin, failure_note};

/// The agents and resources page.
#[component]
pub fn AgentsPage() -> impl IntoView {
    view! {
        <RequireAdmin>
            <div class="kh-admin">
                <AdminHeader
                    title="Agents & resources".to_owned()
                    intro="Decide which AI agents may connect on their own, and which APIs and MCP servers they can get tokens for."
                />
                <AgentPolicy/>
                <Resources/>
            </div>
        </RequireAdmin>
    }
}

/// Words (domains, scopes), separated by line breaks, spaces or commas.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The sentence after a policy change.
fn removed_sentence(n: u64) -> String {
    match n {
        0 => "Saved. No connected agent was affected.".to_owned(),
        1 => "Saved. 1 agent is no longer accepted: it was removed and its access revoked."
            .to_owned(),
        n => format!(
            "Saved. {n} agents are no longer accepted: they were removed and their access revoked."
        ),
    }
}

/// The metadata-document switch and domain lists.
#[component]
fn AgentPolicy() -> impl IntoView {
    let session = use_session();
    let settings = RwSignal::new(None::<AgentSettings>);
    let enabled = RwSignal::new(true);
    let allowed = RwSignal::new(String::new());
    let denied = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let message = RwSignal::new(None::<(bool, String)>);
    let fill = move |s: AgentSettings| {
        enabled.set(s.policy.metadata_documents);
        allowed.set(s.policy.allowed_domains.join("\n"));
        denied.set(s.policy.denied_domains.join("\n"));
        settings.set(Some(s));
    };
    let fail = failure_note(session, message, pending);
    spawn_local(async move {
        match api::agent_settings().await {
            Ok(s) => fill(s),
            Err(e) => fail(e),
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let policy = MetadataPolicy {
            metadata_documents: enabled.get_untracked(),
            allowed_domains: words(&allowed.get_untracked()),
            denied_domains: words(&denied.get_untracked()),
        };
        pending.set(true);
        message.set(None);
        spawn_local(async move {
            match api::set_policy(&policy).await {
                Ok(change) => {
                    fill(change.settings);
                    message.set(Some((true, removed_sentence(change.clients_removed))));
                    pending.set(false);
                }
                Err(e) => fail(e),
            }
        });
    };
    let reset = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        message.set(None);
        spawn_local(async move {
            match api::reset_policy().await {
                Ok(change) => {
                    fill(change.settings);
                    message.set(Some((
                        true,
                        format!(
                            "The configuration's policy applies again. {}",
                            removed_sentence(change.clients_removed).trim_start_matches("Saved. ")
                        ),
                    )));
                    pending.set(false);
                }
                Err(e) => fail(e),
            }
        });
    };
    let from_admin = move || settings.get().is_some_and(|s| s.policy_source == "admin");
    view! {
        <section class="kh-card" aria-labelledby="agent-policy-title" data-testid="admin-agent-policy">
            <h2 id="agent-policy-title" class="kh-section-title">"Agents that identify themselves"</h2>
            <p class="kh-muted">
                "An agent such as Claude or ChatGPT can name itself by the URL of a metadata document its domain publishes. "
                "The consent screen then shows that domain. Choose whether such agents are accepted, and from where."
            </p>
            <form class="kh-stack" on:submit=save>
                <label class="kh-check">
                    <input type="checkbox" data-testid="admin-policy-enabled"
                        prop:checked=move || enabled.get()
                        on:change=move |ev| enabled.set(event_target_checked(&ev))/>
                    <span>"Accept agents identified by a metadata document"</span>
                </label>
                <div class="kh-field-row">
                    <div class="kh-field">
                        <label for="admin-policy-allowed">"Only these domains"</label>
                        <p class="kh-muted kh-field__hint" id="admin-policy-allowed-hint">
                            "One per line. "<code>"*.example.com"</code>" covers its subdomains. Leave empty to accept every domain not listed below."
                        </p>
                        <textarea id="admin-policy-allowed" rows="4" class="kh-mono" spellcheck="false" autocomplete="off"
                            aria-describedby="admin-policy-allowed-hint" data-testid="admin-policy-allowed"
                            placeholder="claude.ai\nchatgpt.com\n*.vscode.dev"
                            prop:disabled=move || !enabled.get()
                            bind:value=allowed></textarea>
                    </div>
                    <div class="kh-field">
                        <label for="admin-policy-denied">"Never these domains"</label>
                        <p class="kh-muted kh-field__hint" id="admin-policy-denied-hint">
                            "Refused even when listed on the left. To cut off a domain's agents that are already connected, block it on the Connected Apps page."
                        </p>
                        <textarea id="admin-policy-denied" rows="4" class="kh-mono" spellcheck="false" autocomplete="off"
                            aria-describedby="admin-policy-denied-hint" data-testid="admin-policy-denied"
                            prop:disabled=move || !enabled.get()
                            bind:value=denied></textarea>
                    </div>
                </div>
                <p class="kh-muted" data-testid="admin-policy-source">
                    {move || settings.get().map(|s| {
                        let source = if s.policy_source == "admin" {
                            "Set here; it overrides the server's configuration."
                        } else {
                            "From the server's configuration."
                        };
                        let registration = match s.registration.as_str() {
                            "open" => "open to any agent",
                            "initial_access_token" => "only with an initial access token",
                            _ => "off",
                        };
                        format!("{source} Dynamic registration is {registration} (set in the configuration).")
                    })}
                </p>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="admin-policy-save"
                        disabled=move || pending.get()>"Save policy"</button>
                    <Show when=from_admin>
                        <button type="button" class="kh-button kh-button--secondary" data-testid="admin-policy-reset"
                            disabled=move || pending.get() on:click=reset>"Use the configuration"</button>
                    </Show>
                </div>
                {move || message.get().map(|(ok, m)| view! {
                    <p class=if ok { "kh-notice" } else { "kh-alert" } role="status" data-testid="admin-policy-message">{m}</p>
                })}
            </form>
        </section>
    }
}

/// The resources list and the form registering one.
#[component]
fn Resources() -> impl IntoView {
    let session = use_session();
    let list = RwSignal::new(Vec::<ResourceView>::new());
    let uri = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let scopes = RwSignal::new(String::new());
    let defaults = RwSignal::new(String::new());
    let unbound = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let message = RwSignal::new(None::<(bool, String)>);
    let fail = failure_note(session, message, pending);
    spawn_local(async move {
        match api::resources().await {
            Ok(l) => list.set(l),
            Err(e) => fail(e),
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let req = ResourceRequest {
            uri: uri.get_untracked().trim().to_owned(),
            name: name.get_untracked().trim().to_owned(),
            scopes: words(&scopes.get_untracked()),
            default_scopes: words(&defaults.get_untracked()),
            accepts_unbound_tokens: unbound.get_untracked(),
        };
        pending.set(true);
        message.set(None);
        spawn_local(async move {
            match api::put_resource(&req).await {
                Ok(view) => {
                    list.update(|l| {
                        l.retain(|r| r.uri != view.uri);
                        l.push(view.clone());
                    });
                    uri.set(String::new());
                    name.set(String::new());
                    scopes.set(String::new());
                    defaults.set(String::new());
                    unbound.set(false);
                    message.set(Some((true, format!("Registered {}.", view.uri))));
                    pending.set(false);
                }
                Err(e) => fail(e),
            }
        });
    };
    let remove = move |target: String| {
        spawn_local(async move {
            match api::delete_resource(&target).await {
                Ok(()) => {
                    list.update(|l| l.retain(|r| r.uri != target));
                    message.set(Some((
                        true,
                        format!("Removed {target}. Every token issued for it was revoked."),
                    )));
                }
                Err(e) => fail(e),
            }
        });
    };
    view! {
        <section class="kh-card" aria-labelledby="resources-title" data-testid="admin-resources">
            <h2 id="resources-title" class="kh-section-title">"Protected resources"</h2>
            <p class="kh-muted">
                "The APIs and MCP servers apps ask tokens for. A token is bound to one of them and refused by the others. "
                "Those declared by the application cannot be changed here."
            </p>
            <div class="kh-table-wrap">
                <table class="kh-table">
                    <caption class="kh-visually-hidden">"Protected resources"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Resource"</th>
                            <th scope="col">"Scopes"</th>
                            <th scope="col">"Without a scope"</th>
                            <th scope="col">"Source"</th>
                            <th scope="col"><span class="kh-visually-hidden">"Remove"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || list.get() key=|r| r.uri.clone() let:r>
                            {
                                let target = r.uri.clone();
                                let label = format!("Remove {}", r.name);
                                let admin = r.source == "admin";
                                view! {
                                    <tr data-testid="admin-resource-row" data-uri=r.uri.clone()>
                                        <td data-label="Resource" class="kh-table__strong">
                                            {r.name.clone()}
                                            <small class="kh-muted kh-mono kh-table__sub">{r.uri.clone()}</small>
                                        </td>
                                        <td data-label="Scopes" class="kh-mono">{r.scopes.join(" ")}</td>
                                        <td data-label="Without a scope" class="kh-mono">
                                            {if r.default_scopes.is_empty() { "—".to_owned() } else { r.default_scopes.join(" ") }}
                                        </td>
                                        <td data-label="Source" data-testid="admin-resource-source">
                                            {if admin { "Registered here" } else { "Declared by the application" }}
                                        </td>
                                        <td data-label="" class="kh-table__action">
                                            {admin.then(|| view! {
                                                <button type="button" class="kh-button kh-button--secondary kh-button--small"
                                                    aria-label=label data-testid="admin-resource-remove"
                                                    on:click=move |_| remove(target.clone())>"Remove"</button>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                </table>
            </div>
            <form class="kh-stack kh-resource-form" on:submit=submit>
                <h3 class="kh-subtitle">"Register a resource"</h3>
                <div class="kh-field-row">
                    <div class="kh-field">
                        <label for="resource-uri">"URI"</label>
                        <input id="resource-uri" class="kh-input kh-mono" type="url" required=true spellcheck="false"
                            autocomplete="off" placeholder="https://files.example.com/api" data-testid="admin-resource-uri"
                            bind:value=uri/>
                    </div>
                    <div class="kh-field">
                        <label for="resource-name">"Name shown on consent"</label>
                        <input id="resource-name" class="kh-input" type="text" required=true maxlength="100"
                            placeholder="Files API" data-testid="admin-resource-name" bind:value=name/>
                    </div>
                </div>
                <div class="kh-field-row">
                    <div class="kh-field">
                        <label for="resource-scopes">"Scopes it understands"</label>
                        <input id="resource-scopes" class="kh-input kh-mono" type="text" spellcheck="false"
                            autocomplete="off" placeholder="notes:read notes:write" data-testid="admin-resource-scopes"
                            bind:value=scopes/>
                    </div>
                    <div class="kh-field">
                        <label for="resource-defaults">"Granted when an app names no scope"</label>
                        <input id="resource-defaults" class="kh-input kh-mono" type="text" spellcheck="false"
                            autocomplete="off" placeholder="notes:read" data-testid="admin-resource-defaults"
                            bind:value=defaults/>
                    </div>
                </div>
                <label class="kh-check">
                    <input type="checkbox" data-testid="admin-resource-unbound"
                        prop:checked=move || unbound.get()
                        on:change=move |ev| unbound.set(event_target_checked(&ev))/>
                    <span>"Also accept tokens issued without a resource"</span>
                </label>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="admin-resource-submit"
                        disabled=move || pending.get()>"Register"</button>
                </div>
                {move || message.get().map(|(ok, m)| view! {
                    <p class=if ok { "kh-notice" } else { "kh-alert" } role="status" data-testid="admin-resource-message">{m}</p>
                })}
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_lines_commas_and_spaces() {
        assert_eq!(
            words("claude.ai\n\n *.vscode.dev, chatgpt.com "),
            ["claude.ai", "*.vscode.dev", "chatgpt.com"]
        );
        assert_eq!(
            words("notes:read,notes:write  x"),
            ["notes:read", "notes:write", "x"]
        );
        assert!(words("  ").is_empty());
    }
}
