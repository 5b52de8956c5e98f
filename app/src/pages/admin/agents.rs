//! `/admin/agents`: which agents may identify themselves by a metadata
//! document (the switch and the domain lists, overriding the configuration
//! until reset), and the protected resources tokens are issued for.

use keyhouse_idp_component::{ApiError, Session, use_session};
use keyhouse_types::admin::{
    AgentSettings, MetadataPolicy, PolicyChange, ResourceRequest, ResourceView,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api;
use super::widgets::{AdminHeader, PanelMessage, RequireAdmin, failure_note};

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

/// The sentence after resetting the policy to the configuration's.
fn reset_sentence(n: u64) -> String {
    format!(
        "The configuration's policy applies again. {}",
        removed_sentence(n).trim_start_matches("Saved. ")
    )
}

/// Where the policy comes from, and how dynamic registration is set.
fn source_sentence(s: &AgentSettings) -> String {
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
}

/// The agent policy as loaded, the form's fields and the panel's outcome.
#[derive(Clone, Copy)]
struct PolicyForm {
    session: Session,
    settings: RwSignal<Option<AgentSettings>>,
    /// Agents identified by a metadata document are accepted.
    enabled: RwSignal<bool>,
    /// The allowed domains, one per line.
    allowed: RwSignal<String>,
    /// The refused domains, one per line.
    denied: RwSignal<String>,
    pending: RwSignal<bool>,
    message: RwSignal<Option<(bool, String)>>,
}

impl PolicyForm {
    /// Starts loading the settings.
    fn load() -> PolicyForm {
        let form = PolicyForm {
            session: use_session(),
            settings: RwSignal::new(None),
            enabled: RwSignal::new(true),
            allowed: RwSignal::new(String::new()),
            denied: RwSignal::new(String::new()),
            pending: RwSignal::new(false),
            message: RwSignal::new(None),
        };
        spawn_local(async move {
            match api::agent_settings().await {
                Ok(s) => form.fill(s),
                Err(e) => form.fail(e),
            }
        });
        form
    }

    /// Shows the server's settings in the form.
    fn fill(self, s: AgentSettings) {
        self.enabled.set(s.policy.metadata_documents);
        self.allowed.set(s.policy.allowed_domains.join("\n"));
        self.denied.set(s.policy.denied_domains.join("\n"));
        self.settings.set(Some(s));
    }

    fn fail(self, e: ApiError) {
        failure_note(self.session, self.message, self.pending)(e);
    }

    /// Whether the policy set here overrides the configuration's.
    fn set_here(self) -> bool {
        self.settings
            .get()
            .is_some_and(|s| s.policy_source == "admin")
    }

    /// Saves the form as the policy.
    fn save(self) {
        if self.pending.get_untracked() {
            return;
        }
        let policy = MetadataPolicy {
            metadata_documents: self.enabled.get_untracked(),
            allowed_domains: words(&self.allowed.get_untracked()),
            denied_domains: words(&self.denied.get_untracked()),
        };
        self.change(
            async move { api::set_policy(&policy).await },
            removed_sentence,
        );
    }

    /// Goes back to the configuration's policy.
    fn reset(self) {
        if self.pending.get_untracked() {
            return;
        }
        self.change(api::reset_policy(), reset_sentence);
    }

    /// Sends a change; the answer fills the form, and `sentence` says how
    /// many agents it removed.
    fn change(
        self,
        call: impl Future<Output = Result<PolicyChange, ApiError>> + 'static,
        sentence: fn(u64) -> String,
    ) {
        self.pending.set(true);
        self.message.set(None);
        spawn_local(async move {
            match call.await {
                Ok(change) => {
                    self.fill(change.settings);
                    self.message
                        .set(Some((true, sentence(change.clients_removed))));
                    self.pending.set(false);
                }
                Err(e) => self.fail(e),
            }
        });
    }
}

/// The metadata-document switch and domain lists.
#[component]
fn AgentPolicy() -> impl IntoView {
    let form = PolicyForm::load();
    let PolicyForm {
        settings,
        enabled,
        pending,
        ..
    } = form;
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        form.save();
    };
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
                <PolicyDomains form/>
                <p class="kh-muted" data-testid="admin-policy-source">
                    {move || settings.get().map(|s| source_sentence(&s))}
                </p>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="admin-policy-save"
                        disabled=move || pending.get()>"Save policy"</button>
                    <Show when=move || form.set_here()>
                        <button type="button" class="kh-button kh-button--secondary" data-testid="admin-policy-reset"
                            disabled=move || pending.get() on:click=move |_| form.reset()>"Use the configuration"</button>
                    </Show>
                </div>
                <PanelMessage message=form.message testid="admin-policy-message"/>
            </form>
        </section>
    }
}

/// The allowed and refused domain lists (disabled while agents are not
/// accepted at all).
#[component]
fn PolicyDomains(
    /// The policy's form.
    form: PolicyForm,
) -> impl IntoView {
    let PolicyForm {
        enabled,
        allowed,
        denied,
        ..
    } = form;
    view! {
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
    }
}

/// The resources as loaded, the form registering one, and the panel's
/// outcome.
#[derive(Clone, Copy)]
struct ResourcePanel {
    session: Session,
    list: RwSignal<Vec<ResourceView>>,
    uri: RwSignal<String>,
    name: RwSignal<String>,
    /// The scopes it understands, separated by spaces.
    scopes: RwSignal<String>,
    /// The scopes granted when an app names none.
    defaults: RwSignal<String>,
    /// Tokens issued without a resource are accepted too.
    unbound: RwSignal<bool>,
    pending: RwSignal<bool>,
    message: RwSignal<Option<(bool, String)>>,
}

impl ResourcePanel {
    /// Starts loading the resources.
    fn load() -> ResourcePanel {
        let panel = ResourcePanel {
            session: use_session(),
            list: RwSignal::new(Vec::new()),
            uri: RwSignal::new(String::new()),
            name: RwSignal::new(String::new()),
            scopes: RwSignal::new(String::new()),
            defaults: RwSignal::new(String::new()),
            unbound: RwSignal::new(false),
            pending: RwSignal::new(false),
            message: RwSignal::new(None),
        };
        spawn_local(async move {
            match api::resources().await {
                Ok(l) => panel.list.set(l),
                Err(e) => panel.fail(e),
            }
        });
        panel
    }

    fn fail(self, e: ApiError) {
        failure_note(self.session, self.message, self.pending)(e);
    }

    /// Registers the resource of the form (or changes the one of its URI).
    fn register(self) {
        if self.pending.get_untracked() {
            return;
        }
        let req = ResourceRequest {
            uri: self.uri.get_untracked().trim().to_owned(),
            name: self.name.get_untracked().trim().to_owned(),
            scopes: words(&self.scopes.get_untracked()),
            default_scopes: words(&self.defaults.get_untracked()),
            accepts_unbound_tokens: self.unbound.get_untracked(),
        };
        self.pending.set(true);
        self.message.set(None);
        spawn_local(async move {
            match api::put_resource(&req).await {
                Ok(view) => self.registered(view),
                Err(e) => self.fail(e),
            }
        });
    }

    /// A resource is registered: it is listed, and the form is emptied.
    fn registered(self, view: ResourceView) {
        self.list.update(|l| {
            l.retain(|r| r.uri != view.uri);
            l.push(view.clone());
        });
        self.uri.set(String::new());
        self.name.set(String::new());
        self.scopes.set(String::new());
        self.defaults.set(String::new());
        self.unbound.set(false);
        self.message
            .set(Some((true, format!("Registered {}.", view.uri))));
        self.pending.set(false);
    }

    /// Removes a resource registered here.
    fn remove(self, target: String) {
        spawn_local(async move {
            match api::delete_resource(&target).await {
                Ok(()) => {
                    self.list.update(|l| l.retain(|r| r.uri != target));
                    self.message.set(Some((
                        true,
                        format!("Removed {target}. Every token issued for it was revoked."),
                    )));
                }
                Err(e) => self.fail(e),
            }
        });
    }
}

/// The resources list and the form registering one.
#[component]
fn Resources() -> impl IntoView {
    let panel = ResourcePanel::load();
    let pending = panel.pending;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        panel.register();
    };
    view! {
        <section class="kh-card" aria-labelledby="resources-title" data-testid="admin-resources">
            <h2 id="resources-title" class="kh-section-title">"Protected resources"</h2>
            <p class="kh-muted">
                "The APIs and MCP servers apps ask tokens for. A token is bound to one of them and refused by the others. "
                "Those declared by the application cannot be changed here."
            </p>
            <ResourceTable panel/>
            <form class="kh-stack kh-resource-form" on:submit=submit>
                <h3 class="kh-subtitle">"Register a resource"</h3>
                <ResourceFields panel/>
                <div class="kh-actions kh-actions--start">
                    <button type="submit" class="kh-button kh-button--primary" data-testid="admin-resource-submit"
                        disabled=move || pending.get()>"Register"</button>
                </div>
                <PanelMessage message=panel.message testid="admin-resource-message"/>
            </form>
        </section>
    }
}

/// The resources: registered here (removable) or declared by the
/// application.
#[component]
fn ResourceTable(
    /// The resources panel.
    panel: ResourcePanel,
) -> impl IntoView {
    view! {
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
                    <For each=move || panel.list.get() key=|r| r.uri.clone() let:r>
                        <ResourceRow r panel/>
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// One resource.
#[component]
fn ResourceRow(
    /// The resource.
    r: ResourceView,
    /// The resources panel (removing updates it).
    panel: ResourcePanel,
) -> impl IntoView {
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
                        on:click=move |_| panel.remove(target.clone())>"Remove"</button>
                })}
            </td>
        </tr>
    }
}

/// The fields of the form registering a resource.
#[component]
fn ResourceFields(
    /// The resources panel.
    panel: ResourcePanel,
) -> impl IntoView {
    let ResourcePanel {
        uri,
        name,
        scopes,
        defaults,
        unbound,
        ..
    } = panel;
    view! {
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
