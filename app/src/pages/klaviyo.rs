//! Klaviyo settings: paste a private key, see what was proven, pick the default list. The key is
//! typed into a password field, sent once, and only its hint is ever shown again.

use crate::api::klaviyo::{
    choose_campaign_list, choose_default_list, connect_klaviyo, disconnect_klaviyo, klaviyo_lists, klaviyo_status,
};
use crate::api::sync::{move_to_current_lists, pending_list_moves};
use crate::api::views::{ChosenList, ConnectOutcome, ConnectionView, KlaviyoListView, ListMove};
use crate::components::form::NeedsJavascript;
use crate::components::toast::use_toasts;
use crate::domain::clock::format_utc;
use crate::domain::klaviyo::{KeyScope, OptIn, PrivateKey, ScopeCheck, ScopeState, DOUBLE_OPT_IN_WARNING};
use crate::domain::CampaignId;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn KlaviyoSettings() -> impl IntoView {
    let overview = Resource::new(|| (), |()| klaviyo_status());
    let connect =
        Action::new(|(key, confirm): &(String, Option<String>)| connect_klaviyo(key.clone(), confirm.clone()));
    let disconnect = Action::new(|_: &()| disconnect_klaviyo());
    let replacing = RwSignal::new(false);
    // Opening "Replace key" starts from a clean form, not the last connection's banner.
    Effect::new(move || {
        if replacing.get() {
            connect.value().set(None);
        }
    });
    let toasts = use_toasts();
    Effect::new(move || {
        if let Some(Ok(ConnectOutcome::Connected(c))) = connect.value().get() {
            replacing.set(false);
            toasts.success(format!("Connected to {}.", c.account.name));
            overview.refetch();
        }
    });
    Effect::new(move || match disconnect.value().get() {
        Some(Ok(_)) => {
            connect.value().set(None);
            toasts.success("Klaviyo disconnected.");
            overview.refetch();
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    view! {
        <Title text="Klaviyo · Rekomi"/>
        <NeedsJavascript/>
        <div class="page-head"><h1>"Klaviyo"</h1></div>
        <p class="muted">
            "Connect your Klaviyo account and choose the list approved affiliates go to. Rekomi reads your \
             lists and profiles and writes only affiliates' profiles, consent and list membership; it never \
             writes segments."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => match o.connection {
                        Some(c) => view! {
                            <ConnectionCard connection=c.clone() disconnect replacing/>
                            <Show when=move || replacing.get()>
                                <KeyForm connect title="Replace the key"/>
                            </Show>
                            <DefaultList connection=c/>
                        }.into_any(),
                        None => view! {
                            <Required/>
                            {o.previous_account.map(|a| view! {
                                <p class="muted">"Previously connected to "<strong>{a.name}</strong>" ("{a.id}")."</p>
                            })}
                            <KeyForm connect title="Connect your Klaviyo account"/>
                        }.into_any(),
                    },
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The permissions a key needs, as Klaviyo's key screen names them.
#[component]
fn Required() -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Create a private API key"</h2>
            <p>"In Klaviyo, open "<strong>"Settings → API keys → Create Private API Key"</strong>" and give it:"</p>
            <ul class="scopes">
                {KeyScope::REQUIRED.iter().map(|s| view! {
                    <li><strong>{s.label()}</strong>" — "{s.purpose()}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn KeyForm(
    connect: Action<(String, Option<String>), Result<ConnectOutcome, AppError>>,
    title: &'static str,
) -> impl IntoView {
    let key = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);
    let submit = move |confirm: Option<String>| match PrivateKey::parse(&key.get_untracked()) {
        Ok(parsed) => {
            local_error.set(None);
            connect.dispatch((parsed.expose().to_owned(), confirm));
        }
        Err(e) => local_error.set(Some(e.to_string())),
    };
    let pending = connect.pending();
    let result = connect.value();
    Effect::new(move || {
        if let Some(Ok(ConnectOutcome::Connected(_))) = result.get() {
            key.set(String::new());
        }
    });
    let key_error = move || {
        local_error.get().or_else(|| match result.get() {
            Some(Err(e)) => Some(e.fields.get("key").map(str::to_owned).unwrap_or(e.message)),
            _ => None,
        })
    };
    view! {
        <section class="card">
            <h2>{title}</h2>
            <form class="key-form" on:submit=move |ev| { ev.prevent_default(); submit(None); }>
                <label for="klaviyo-key">"Private API key"</label>
                <input
                    id="klaviyo-key"
                    type="password"
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="pk_…"
                    prop:value=move || key.get()
                    on:input=move |ev| key.set(event_target_value(&ev))
                    aria-describedby="klaviyo-key-error"
                />
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Testing…" } else { "Test connection" }}
                </button>
            </form>
            {move || key_error().map(|m| view! { <p class="field-error" id="klaviyo-key-error" role="alert">{m}</p> })}
            {move || match result.get() {
                Some(Ok(ConnectOutcome::MissingScopes { message, checks, account })) => view! {
                    <div class="banner error" role="alert" data-testid="missing-scopes">
                        <p>{message}</p>
                        {account.map(|a| view! { <p class="muted">"The key belongs to "{a.name}" ("{a.id}")."</p> })}
                        <ScopeList checks/>
                    </div>
                }.into_any(),
                Some(Ok(ConnectOutcome::OtherAccount { previous, new })) => view! {
                    <div class="banner warning" role="alert" data-testid="other-account">
                        <p>
                            "This key belongs to the Klaviyo account "<strong>{new.name.clone()}</strong>" ("{new.id.clone()}
                            "), not "<strong>{previous.name.clone()}</strong>" ("{previous.id.clone()}") that Rekomi used before. \
                             Switching clears the chosen lists; affiliates already added stay in the old account, and \
                             once you choose a list here, \"Sync all approved\" adds them to it."
                        </p>
                        <button type="button" on:click={
                            let id = new.id.clone();
                            move |_| submit(Some(id.clone()))
                        }>"Use "{new.name.clone()}" instead"</button>
                    </div>
                }.into_any(),
                Some(Ok(ConnectOutcome::Connected(c))) => view! {
                    <div class="banner success" role="status">"Connected to "{c.account.name}"."</div>
                }.into_any(),
                _ => ().into_any(),
            }}
        </section>
    }
}

fn state_label(check: &ScopeCheck) -> &'static str {
    match check.state {
        ScopeState::Verified => "verified",
        ScopeState::Missing => "missing",
        ScopeState::ReadVerifiedWritePending => "read access verified; write access is confirmed by the first sync",
    }
}

#[component]
fn ScopeList(checks: Vec<ScopeCheck>) -> impl IntoView {
    view! {
        <ul class="scopes">
            {checks.into_iter().map(|c| {
                let class = match c.state {
                    ScopeState::Missing => "scope missing",
                    ScopeState::Verified => "scope ok",
                    ScopeState::ReadVerifiedWritePending => "scope pending",
                };
                view! { <li class=class><strong>{c.scope.label()}</strong>": "{state_label(&c)}</li> }
            }).collect_view()}
        </ul>
    }
}

#[component]
fn ConnectionCard(
    connection: ConnectionView,
    disconnect: Action<(), Result<crate::api::views::KlaviyoOverview, AppError>>,
    replacing: RwSignal<bool>,
) -> impl IntoView {
    let c = connection;
    view! {
        <section class="card" data-testid="connection">
            <h2>"Connected to "{c.account.name.clone()}</h2>
            <p class="muted">
                "Account "{c.account.id.clone()}
                {c.account.test_account.then_some(" · test account")}
                " · key "<code data-testid="key-hint">{c.key_hint.clone()}</code>
                " · checked "{format_utc(c.verified_at)}
            </p>
            {c.key_problem.clone().map(|p| view! { <div class="banner error" role="alert">{p}</div> })}
            <ScopeList checks=c.checks.clone()/>
            <div class="actions">
                <button type="button" class="secondary" on:click=move |_| replacing.update(|r| *r = !*r)>"Replace key"</button>
                <button
                    type="button"
                    class="danger"
                    disabled=move || disconnect.pending().get()
                    on:click=move |_| {
                        let sure = window().confirm_with_message("Disconnect Klaviyo? Affiliates will no longer be added to your list until you connect again.").unwrap_or(false);
                        if sure { disconnect.dispatch(()); }
                    }
                >"Disconnect"</button>
            </div>
        </section>
    }
}

fn opt_in_badge(opt_in: OptIn) -> impl IntoView {
    let class = match opt_in {
        OptIn::Single => "badge single",
        OptIn::Double => "badge double",
    };
    view! { <span class=class>{opt_in.label()}</span> }
}

fn chosen_summary(list: &ChosenList) -> impl IntoView {
    view! {
        <p class="chosen-list" data-testid="chosen-list">
            <strong>{list.name.clone()}</strong>" "{opt_in_badge(list.opt_in)}
        </p>
        {list.missing.then(|| view! {
            <div class="banner error" role="alert">
                "This list no longer exists in Klaviyo (it was deleted there). Affiliates cannot be added to it: pick another list."
            </div>
        })}
        {(list.opt_in == OptIn::Double && !list.missing).then(|| view! { <p class="banner warning">{DOUBLE_OPT_IN_WARNING}</p> })}
    }
}

#[component]
fn DefaultList(connection: ConnectionView) -> impl IntoView {
    let current = connection.default_list.clone();
    // The saved list is shown from the answer, not by reloading the page around the picker: the
    // merchant's search and selection stay where they were.
    let shown = RwSignal::new(current.clone());
    let save = Action::new(|id: &String| choose_default_list(id.clone()));
    let toasts = use_toasts();
    Effect::new(move || {
        if let Some(Ok(connection)) = save.value().get() {
            if let Some(list) = &connection.default_list {
                toasts.success(format!("Default list saved: {}.", list.name));
            }
            shown.set(connection.default_list);
        }
    });
    view! {
        <section class="card">
            <h2>"Default list"</h2>
            <p class="muted">"Approved affiliates go to this list unless their campaign picks its own."</p>
            {move || match shown.get() {
                Some(list) => chosen_summary(&list).into_any(),
                None => view! { <p class="banner warning">"No list chosen yet: approved affiliates are not added to Klaviyo until you pick one."</p> }.into_any(),
            }}
            <ListPicker
                initial=current.as_ref().map(|l| l.id.clone())
                save_label="Save default list"
                on_pick={move |id: Option<String>| { if let Some(id) = id { save.dispatch(id); } }}
                allow_default=false
                pending=save.pending().into()
            />
            {move || save.value().get().and_then(Result::err).map(|e| view! { <div class="banner error" role="alert">{e.message}</div> })}
        </section>
        <ListMoves after=save.version().into()/>
    }
}

/// Affiliates still synced to a list their campaign no longer uses (after a new default or
/// campaign list), with how many, and the move: add them to the new list, and leave or remove the
/// old membership. Shown only when there is something to move; `after` reloads it after a save.
#[component]
pub fn ListMoves(after: Signal<usize>) -> impl IntoView {
    // Loaded in the browser, like the picker's lists: live data inside the page's own Suspend.
    let moves = RwSignal::new(None::<Result<(Vec<ListMove>, Vec<KlaviyoListView>), AppError>>);
    let load = move || {
        leptos::task::spawn_local(async move {
            let found = match pending_list_moves().await {
                // The lists' names, read live, only when there is something to show.
                Ok(m) if !m.is_empty() => klaviyo_lists().await.map(|lists| (m, lists)),
                Ok(m) => Ok((m, Vec::new())),
                Err(e) => Err(e),
            };
            moves.set(Some(found));
        });
    };
    Effect::new(move |_| {
        after.track();
        load();
    });
    let remove_old = RwSignal::new(false);
    let run = Action::new(|remove: &bool| move_to_current_lists(*remove));
    let toasts = use_toasts();
    Effect::new(move || match run.value().get() {
        Some(Ok(o)) => {
            let leaving = if o.leaving > 0 { format!("; {} leaving the old lists", o.leaving) } else { String::new() };
            let moved = crate::components::count_of(
                i64::try_from(o.moved).unwrap_or(i64::MAX),
                "affiliate is",
                "affiliates are",
            );
            toasts.success(format!("{moved} joining their campaign's list{leaving}."));
            load();
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    move || match moves.get() {
        Some(Ok((list_moves, lists))) if !list_moves.is_empty() => {
            let name = move |id: &str| {
                lists
                    .iter()
                    .find(|l| l.id == id)
                    .map_or_else(|| format!("a list no longer in Klaviyo ({id})"), |l| l.name.clone())
            };
            let total: i64 = list_moves.iter().map(|m| m.affiliates).sum();
            view! {
                <section class="card" data-testid="list-moves">
                    <h2>"Affiliates in a list you no longer use"</h2>
                    <p class="muted">"Their campaign now sends approved affiliates to another list. Moving adds them \
                        to the new list (with the consent they have in Klaviyo); they stay in the old one unless you \
                        remove them. Rekomi never changes anyone's email consent."</p>
                    <ul class="moves">
                        {list_moves.iter().map(|m| view! {
                            <li>{crate::components::count_of(m.affiliates, "affiliate", "affiliates")}": "
                                <strong>{name(&m.from_list)}</strong>" → "<strong>{name(&m.to_list)}</strong></li>
                        }).collect_view()}
                    </ul>
                    <label class="check">
                        <input type="checkbox" prop:checked=move || remove_old.get()
                            on:change=move |ev| remove_old.set(event_target_checked(&ev))/>
                        " Also remove them from the old list (list membership only)"
                    </label>
                    <button type="button" disabled=move || run.pending().get()
                        on:click=move |_| { run.dispatch(remove_old.get_untracked()); }>
                        {format!("Move {}", crate::components::count_of(total, "affiliate", "affiliates"))}
                    </button>
                </section>
            }
            .into_any()
        }
        Some(Err(e)) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
        _ => ().into_any(),
    }
}

/// The live list picker: every list in the account (read across all pages on the server),
/// searchable by name, each with its opt-in process.
#[component]
pub fn ListPicker(
    initial: Option<String>,
    save_label: &'static str,
    on_pick: impl Fn(Option<String>) + Copy + Send + Sync + 'static,
    /// Offer "use the default list" (for campaigns).
    allow_default: bool,
    pending: Signal<bool>,
) -> impl IntoView {
    // Loaded in the browser only, after hydration, outside any Suspense: the lists are live data for
    // an interactive picker, and a resource nested in the page's own Suspend did not hydrate.
    let lists = RwSignal::new(None::<Result<Vec<KlaviyoListView>, AppError>>);
    let load = move || {
        lists.set(None);
        leptos::task::spawn_local(async move { lists.set(Some(klaviyo_lists().await)) });
    };
    Effect::new(move |_| load());
    let search = RwSignal::new(String::new());
    let selected = RwSignal::new(initial);
    view! {
        <div class="list-picker">
            <div class="picker-bar">
                <input
                    type="search"
                    placeholder="Search lists"
                    aria-label="Search lists"
                    prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))
                />
                <button type="button" class="secondary" on:click=move |_| load()>"Reload lists"</button>
            </div>
            {move || match lists.get() {
                None => view! { <p class="loading">"Loading your Klaviyo lists…"</p> }.into_any(),
                Some(Ok(all)) => view! { <ListRows all search selected allow_default/> }.into_any(),
                Some(Err(e)) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
            }}
            {move || {
                let all_double = selected.get().is_some_and(|id| {
                    lists.with(|l| {
                        matches!(l, Some(Ok(l)) if l.iter().any(|x| x.id == id && x.opt_in == OptIn::Double))
                    })
                });
                all_double.then(|| view! { <p class="banner warning" data-testid="double-opt-in-warning">{DOUBLE_OPT_IN_WARNING}</p> })
            }}
            <button
                type="button"
                disabled=move || pending.get() || (!allow_default && selected.get().is_none())
                on:click=move |_| on_pick(selected.get_untracked())
            >{save_label}</button>
        </div>
    }
}

#[component]
fn ListRows(
    all: Vec<KlaviyoListView>,
    search: RwSignal<String>,
    selected: RwSignal<Option<String>>,
    allow_default: bool,
) -> impl IntoView {
    let total = all.len();
    // The list chosen when the picker opened stays on top, so it is in view without scrolling.
    let mut all = all;
    if let Some(chosen) = selected.get_untracked() {
        if let Some(at) = all.iter().position(|l| l.id == chosen) {
            let list = all.remove(at);
            all.insert(0, list);
        }
    }
    let all = StoredValue::new(all);
    let visible = move || {
        let needle = search.get().trim().to_lowercase();
        all.with_value(|lists| {
            lists
                .iter()
                .filter(|l| needle.is_empty() || l.name.to_lowercase().contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <p class="muted" data-testid="list-count">
            {move || {
                let shown = visible().len();
                if shown == total { format!("{total} lists") } else { format!("{shown} of {total} lists") }
            }}
        </p>
        <div role="radiogroup" aria-label="Klaviyo lists">
        <ul class="lists">
            {allow_default.then(|| view! {
                <li>
                    <label>
                        <input type="radio" name="klaviyo-list" prop:checked=move || selected.get().is_none() on:change=move |_| selected.set(None)/>
                        " Use the default list"
                    </label>
                </li>
            })}
            <For each=visible key=|l| l.id.clone() let:list>
                {
                    let id = list.id.clone();
                    let id_for_check = id.clone();
                    view! {
                        <li>
                            <label>
                                <input
                                    type="radio"
                                    name="klaviyo-list"
                                    value=id.clone()
                                    prop:checked=move || selected.get().as_deref() == Some(id_for_check.as_str())
                                    on:change=move |_| selected.set(Some(id.clone()))
                                />
                                " "{list.name.clone()}" "{opt_in_badge(list.opt_in)}
                            </label>
                        </li>
                    }
                }
            </For>
        </ul>
        </div>
        <Show when=move || visible().is_empty()>
            <p class="muted">"No list matches. Lists are created in Klaviyo; use “Reload lists” after adding one."</p>
        </Show>
    }
}

/// On the campaign page: the campaign's own list, or the default one.
#[component]
pub fn CampaignListChoice(campaign: CampaignId, current: Option<ChosenList>) -> impl IntoView {
    let shown = RwSignal::new(current.clone());
    let save = Action::new(move |id: &Option<String>| choose_campaign_list(campaign, id.clone()));
    let toasts = use_toasts();
    let open = RwSignal::new(false);
    Effect::new(move || {
        if let Some(Ok(list)) = save.value().get() {
            toasts.success(match &list {
                Some(l) => format!("This campaign now uses the list {}.", l.name),
                None => "This campaign now uses your default list.".to_owned(),
            });
            shown.set(list);
            open.set(false);
        }
    });
    view! {
        <section class="card">
            <h2>"Klaviyo list"</h2>
            {move || match shown.get() {
                Some(list) => chosen_summary(&list).into_any(),
                None => view! { <p data-testid="chosen-list">"Uses your default list (set in "<a href="/app/klaviyo">"Klaviyo settings"</a>")."</p> }.into_any(),
            }}
            <Show when=move || !open.get()>
                <button type="button" class="secondary" on:click=move |_| open.set(true)>"Change list"</button>
            </Show>
            <Show when=move || open.get()>
                <ListPicker
                    initial=current.as_ref().map(|l| l.id.clone())
                    save_label="Save campaign list"
                    on_pick={move |id: Option<String>| { save.dispatch(id); }}
                    allow_default=true
                    pending=save.pending().into()
                />
            </Show>
            {move || save.value().get().and_then(Result::err).map(|e| view! { <div class="banner error" role="alert">{e.message}</div> })}
        </section>
        <ListMoves after=save.version().into()/>
    }
}
