//! `/admin`: the registered apps, a page at a time.

use keyhouse_idp_component::{ApiError, Session, use_session};
use keyhouse_types::admin::{AdminClient, BlockDomainResponse, Page};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::api;
use super::widgets::{
    AdminDenied, AdminHeader, PanelMessage, RequireAdmin, admin_message, failure_note, format_date,
    note_signed_out, type_label,
};
use crate::pages::Spinner;

/// The apps page.
#[component]
pub fn AdminAppsPage() -> impl IntoView {
    view! {
        <RequireAdmin>
            <Apps/>
        </RequireAdmin>
    }
}

/// Where a paged list stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Listing {
    /// The first page is loading.
    Loading,
    /// At least one page is shown.
    Ready,
    /// The API answered 403.
    Denied,
    /// The first page failed.
    Failed(String),
}

/// A list loaded page by page from the admin API ("Load more").
#[derive(Debug)]
pub(super) struct Paged<T: Send + Sync + 'static> {
    /// What is loaded so far.
    pub items: RwSignal<Vec<T>>,
    /// The next page's cursor.
    pub next: RwSignal<Option<String>>,
    /// Whether the first page arrived.
    pub state: RwSignal<Listing>,
    /// A further page is loading.
    pub more_pending: RwSignal<bool>,
    /// Why a further page failed.
    pub more_error: RwSignal<Option<String>>,
}

impl<T: Send + Sync + 'static> Clone for Paged<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Paged<T> {}

impl<T: Clone + Send + Sync + 'static> Paged<T> {
    /// Starts loading the first page with `fetch(cursor)`.
    pub(super) fn start<F, Fut>(fetch: F) -> (Paged<T>, impl Fn() + Copy + 'static)
    where
        F: Fn(Option<String>) -> Fut + Copy + 'static,
        Fut: std::future::Future<Output = Result<Page<T>, ApiError>> + 'static,
    {
        let session = use_session();
        let p = Paged {
            items: RwSignal::new(Vec::new()),
            next: RwSignal::new(None),
            state: RwSignal::new(Listing::Loading),
            more_pending: RwSignal::new(false),
            more_error: RwSignal::new(None),
        };
        let load = move |cursor: Option<String>| {
            let first = cursor.is_none();
            spawn_local(async move {
                match fetch(cursor).await {
                    Ok(page) => {
                        p.items.update(|v| v.extend(page.items));
                        p.next.set(page.next_cursor);
                        p.state.set(Listing::Ready);
                    }
                    Err(e) => {
                        note_signed_out(session, &e);
                        if first {
                            p.state.set(listing_error(&e));
                        } else {
                            p.more_error.set(Some(admin_message(&e)));
                        }
                    }
                }
                p.more_pending.set(false);
            });
        };
        Effect::new(move |_| load(None));
        let load_more = move || {
            if p.more_pending.get_untracked() {
                return;
            }
            p.more_pending.set(true);
            p.more_error.set(None);
            load(p.next.get_untracked());
        };
        (p, load_more)
    }
}

/// The registered apps, a page at a time, and the blocked agent domains.
#[component]
fn Apps() -> impl IntoView {
    let (list, more) = Paged::start(api::list_clients);
    let Paged { items, state, .. } = list;

    view! {
        <div class="kh-admin">
            <Show when=move || state.get() != Listing::Denied fallback=|| view! { <AdminDenied/> }>
                <AdminHeader title="Connected Apps".to_owned()
                    intro="The apps that may sign people in with this service, and what each one is."
                    action=view! {
                        <A href="/admin/apps/new" attr:class="kh-button kh-button--primary" attr:data-testid="admin-new-app">
                            "Register an app"
                        </A>
                    }.into_any()/>
                <section class="kh-card" aria-labelledby="admin-apps-title">
                    <h2 id="admin-apps-title" class="kh-section-title">"Apps"</h2>
                    {move || match state.get() {
                        Listing::Loading | Listing::Denied => view! { <Spinner/> }.into_any(),
                        Listing::Failed(m) => view! {
                            <p class="kh-alert" role="alert" data-testid="admin-load-error">{m}</p>
                        }.into_any(),
                        Listing::Ready if items.with(Vec::is_empty) => view! {
                            <p class="kh-empty" data-testid="admin-apps-empty">
                                "No apps yet. Register the first one, for example a custom GPT."
                            </p>
                        }.into_any(),
                        Listing::Ready => view! { <AppsTable items/> }.into_any(),
                    }}
                    <LoadMore list more prefix="admin"/>
                </section>
                <BlockedDomains apps=items/>
            </Show>
        </div>
    }
}

/// Under a paged list: "Load more" while there is a further page, and why
/// the last one failed. Test ids: `{prefix}-load-more`,
/// `{prefix}-load-more-error`.
#[component]
pub(super) fn LoadMore<T: Send + Sync + 'static>(
    /// The list.
    list: Paged<T>,
    /// Loads the next page (from [`Paged::start`]).
    more: impl Fn() + Copy + Send + Sync + 'static,
    /// Starts the test ids: `admin`, `audit`.
    prefix: &'static str,
) -> impl IntoView {
    let Paged {
        next,
        more_pending,
        more_error,
        ..
    } = list;
    view! {
        {move || next.get().is_some().then(|| view! {
            <div class="kh-actions kh-actions--start">
                <button type="button" class="kh-button kh-button--secondary" data-testid=format!("{prefix}-load-more")
                    disabled=move || more_pending.get() on:click=move |_| more()>
                    {move || if more_pending.get() { "Loading…" } else { "Load more" }}
                </button>
            </div>
        })}
        {move || more_error.get().map(|m| view! {
            <p class="kh-alert" role="alert" data-testid=format!("{prefix}-load-more-error")>{m}</p>
        })}
    }
}

/// The state for a failed first page.
pub(super) fn listing_error(e: &ApiError) -> Listing {
    if e.status() == 403 {
        Listing::Denied
    } else {
        Listing::Failed(admin_message(e))
    }
}

#[component]
fn AppsTable(items: RwSignal<Vec<AdminClient>>) -> impl IntoView {
    view! {
        <div class="kh-table-wrap">
            <table class="kh-table kh-apps-table">
                <caption class="kh-visually-hidden">"Registered apps"</caption>
                <thead>
                    <tr>
                        <th scope="col">"App"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Source"</th>
                        <th scope="col">"Use"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Redirect URIs"</th>
                        <th scope="col"><span class="kh-visually-hidden">"Manage"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || items.get() key=|c| c.client_id.clone() let:c>
                        <AppRow c/>
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// Where a client came from, in words.
fn origin_label(c: &AdminClient) -> String {
    match (c.origin.as_str(), &c.verified_domain) {
        ("cimd", Some(domain)) => format!("Metadata document from {domain}"),
        ("cimd", None) => "Metadata document".to_owned(),
        ("dcr", _) => "Self-registered (unverified)".to_owned(),
        _ => "Registered by an operator".to_owned(),
    }
}

/// How many people use a client, and when it last got a token.
fn usage_label(c: &AdminClient) -> String {
    let people = match c.users {
        1 => "1 user".to_owned(),
        n => format!("{n} users"),
    };
    match c.last_used_at {
        Some(t) => format!("{people} · last token {}", format_date(t)),
        None => people,
    }
}

#[component]
fn AppRow(c: AdminClient) -> impl IntoView {
    let href = format!("/admin/apps/{}", api::encode_component(&c.client_id));
    let count = c.redirect_uris.len();
    let redirects = format!("{count} {}", if count == 1 { "URI" } else { "URIs" });
    let redirects_title = c.redirect_uris.join("\n");
    let manage_label = format!("Manage “{}”", c.name);
    let origin = origin_label(&c);
    let usage = usage_label(&c);
    view! {
        <tr data-testid="admin-app-row" data-client-id=c.client_id.clone()>
            <td data-label="App" class="kh-table__strong">
                <A href=href.clone() attr:data-testid="admin-app-name">{c.name.clone()}</A>
                <small class="kh-muted kh-mono kh-table__sub">{c.client_id.clone()}</small>
                {c.rotation_pending.then(|| view! {
                    <span class="kh-badge kh-badge--warn" data-testid="admin-app-rotating">"Secret rotation in progress"</span>
                })}
            </td>
            <td data-label="Type" data-testid="admin-app-type" data-type=c.client_type.as_str()>{type_label(c.client_type)}</td>
            <td data-label="Source" data-testid="admin-app-origin" data-origin=c.origin.clone()>{origin}</td>
            <td data-label="Use" data-testid="admin-app-use">{usage}</td>
            <td data-label="Created" data-testid="admin-app-created">{format_date(c.created_at)}</td>
            <td data-label="Redirect URIs" data-testid="admin-app-redirects" title=redirects_title>{redirects}</td>
            <td data-label="" class="kh-table__action">
                <A href=href attr:class="kh-button kh-button--secondary kh-button--small" attr:aria-label=manage_label>"Manage"</A>
            </td>
        </tr>
    }
}

/// The blocked domains and agents, and the domain being typed.
#[derive(Clone, Copy)]
struct Blocked {
    session: Session,
    /// The apps listed above: the blocked domain's agents leave the list.
    apps: RwSignal<Vec<AdminClient>>,
    domains: RwSignal<Vec<String>>,
    /// Agents blocked one by one (their client ids).
    clients: RwSignal<Vec<String>>,
    draft: RwSignal<String>,
    pending: RwSignal<bool>,
    message: RwSignal<Option<(bool, String)>>,
}

impl Blocked {
    /// Starts loading both lists.
    fn load(apps: RwSignal<Vec<AdminClient>>) -> Blocked {
        let b = Blocked {
            session: use_session(),
            apps,
            domains: RwSignal::new(Vec::new()),
            clients: RwSignal::new(Vec::new()),
            draft: RwSignal::new(String::new()),
            pending: RwSignal::new(false),
            message: RwSignal::new(None),
        };
        spawn_local(async move {
            match api::blocked_domains().await {
                Ok(list) => b.domains.set(list),
                Err(e) => b.fail(e),
            }
            match api::blocked_clients().await {
                Ok(list) => b.clients.set(list),
                Err(e) => b.fail(e),
            }
        });
        b
    }

    fn fail(self, e: ApiError) {
        failure_note(self.session, self.message, self.pending)(e);
    }

    /// Blocks the domain typed.
    fn block(self) {
        let domain = self.draft.get_untracked().trim().to_owned();
        if domain.is_empty() || self.pending.get_untracked() {
            return;
        }
        self.pending.set(true);
        self.message.set(None);
        spawn_local(async move {
            match api::block_domain(&domain).await {
                Ok(r) => self.blocked(r),
                Err(e) => self.fail(e),
            }
        });
    }

    /// A domain is blocked: its agents leave the apps, it joins the list.
    fn blocked(self, r: BlockDomainResponse) {
        let suffix = format!(".{}", r.domain);
        self.apps.update(|list| {
            list.retain(|c| {
                !c.verified_domain
                    .as_deref()
                    .is_some_and(|d| d == r.domain || d.ends_with(&suffix))
            });
        });
        self.domains.update(|d| {
            if !d.contains(&r.domain) {
                d.push(r.domain.clone());
                d.sort();
            }
        });
        self.draft.set(String::new());
        let n = r.clients_removed;
        self.message.set(Some((
            true,
            format!(
                "Blocked {}. {n} {} removed and {} access revoked.",
                r.domain,
                if n == 1 { "agent" } else { "agents" },
                if n == 1 { "its" } else { "their" },
            ),
        )));
        self.pending.set(false);
    }

    fn unblock_domain(self, domain: String) {
        spawn_local(async move {
            match api::unblock_domain(&domain).await {
                Ok(()) => {
                    self.domains.update(|d| d.retain(|x| *x != domain));
                    self.message
                        .set(Some((true, format!("{domain} may connect again."))));
                }
                Err(e) => self.fail(e),
            }
        });
    }

    fn unblock_client(self, id: String) {
        spawn_local(async move {
            match api::unblock_client(&id).await {
                Ok(()) => {
                    self.clients.update(|c| c.retain(|x| *x != id));
                    self.message
                        .set(Some((true, format!("{id} may connect again."))));
                }
                Err(e) => self.fail(e),
            }
        });
    }
}

/// Agents identified by a client metadata document can be refused by their
/// domain: blocking deletes the domain's clients (revoking their grants and
/// tokens) and refuses its documents from then on.
#[component]
fn BlockedDomains(
    /// The apps listed above: the blocked domain's agents leave the list.
    apps: RwSignal<Vec<AdminClient>>,
) -> impl IntoView {
    let blocked = Blocked::load(apps);
    let Blocked {
        domains,
        clients,
        draft,
        pending,
        ..
    } = blocked;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        blocked.block();
    };
    view! {
        <section class="kh-card" aria-labelledby="admin-blocked-title" data-testid="admin-blocked-domains">
            <h2 id="admin-blocked-title" class="kh-section-title">"Blocked agent domains"</h2>
            <p class="kh-muted">
                "Agents that identify themselves by a URL (a client metadata document) are accepted from any domain you do not block. "
                "Blocking a domain disconnects its agents at once and refuses them from then on."
            </p>
            <form class="kh-inline-form" on:submit=submit>
                <label class="kh-visually-hidden" for="admin-block-domain">"Domain to block"</label>
                <input id="admin-block-domain" class="kh-input" type="text" placeholder="agent.example"
                    autocomplete="off" spellcheck="false" data-testid="admin-block-domain"
                    prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))/>
                <button type="submit" class="kh-button kh-button--danger" data-testid="admin-block-submit"
                    disabled=move || pending.get()>"Block"</button>
            </form>
            <PanelMessage message=blocked.message testid="admin-block-message"/>
            {move || {
                let list = domains.get();
                if list.is_empty() {
                    view! { <p class="kh-empty" data-testid="admin-blocked-empty">"No domain is blocked."</p> }.into_any()
                } else {
                    view! {
                        <UnblockList items=list testid="admin-blocked-domain" on_unblock=move |d| blocked.unblock_domain(d)/>
                    }.into_any()
                }
            }}
            {move || {
                let list = clients.get();
                (!list.is_empty()).then(|| view! {
                    <h3 class="kh-subtitle">"Agents blocked one by one"</h3>
                    <UnblockList items=list testid="admin-blocked-client" on_unblock=move |id| blocked.unblock_client(id)/>
                })
            }}
        </section>
    }
}

/// Blocked domains or agents, each with an "Unblock" button.
#[component]
fn UnblockList(
    /// The domains or client ids.
    items: Vec<String>,
    /// Each item's `data-testid`.
    testid: &'static str,
    /// Unblocks one.
    on_unblock: impl Fn(String) + Copy + 'static,
) -> impl IntoView {
    view! {
        <ul class="kh-blocked-list">
            {items.into_iter().map(|item| {
                let label = format!("Unblock {item}");
                let target = item.clone();
                view! {
                    <li data-testid=testid>
                        <code>{item}</code>
                        <button type="button" class="kh-button kh-button--secondary kh-button--small"
                            aria-label=label on:click=move |_| on_unblock(target.clone())>"Unblock"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}
