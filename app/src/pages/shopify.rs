//! Shopify as a connected app: the steps to make a Dev Dashboard app on the merchant's own store
//! (with copy buttons and the exact settings), the connect form with a live check that names each
//! problem, and once connected the shop's facts and a health line per webhook topic.

use crate::api::shop::{connect_shop, disconnect_shop, load_shop_page, recheck_shop_webhooks, recover_shop_orders};
use crate::api::views::{ShopConnectForm, ShopConnectResult, ShopConnectionView, ShopPage};
use crate::components::copy_text;
use crate::components::form::{ErrorBanner, FieldError};
use crate::components::toast::use_toasts;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ShopifyPage() -> impl IntoView {
    crate::pages::layout::page_ready();
    let version = RwSignal::new(0_u32);
    let page = Resource::new(move || version.get(), |_| load_shop_page());
    view! {
        <Title text="Shopify · Rekomi"/>
        <h1>"Shopify"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading your shop…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <ShopBody page=p version/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ShopBody(page: ShopPage, version: RwSignal<u32>) -> impl IntoView {
    let ShopPage { connection, webhook_address, webhooks_deliverable, required_scopes } = page;
    let deliverable_note = (!webhooks_deliverable).then(|| view! {
        <div class="banner warn" role="status" data-testid="not-public">
            <p>{format!("Rekomi is reached at {webhook_address}, which Shopify can't deliver to: webhooks go only to a public https address. \
                Set REKOMI_PUBLIC_URL to this instance's public https address (behind your reverse proxy) and reconnect. Until then Shopify's orders don't reach Rekomi; orders reported through the conversion API (Shop & tracking) still do.")}</p>
        </div>
    });
    view! {
        {deliverable_note}
        {match connection {
            Some(c) => view! { <Connected c version webhook_address=webhook_address.clone()/> }.into_any(),
            None => view! { <Setup required_scopes webhook_address version/> }.into_any(),
        }}
    }
}

#[component]
fn Connected(c: ShopConnectionView, version: RwSignal<u32>, webhook_address: String) -> impl IntoView {
    let toasts = use_toasts();
    let recheck = Action::new(|_: &()| recheck_shop_webhooks());
    let disconnect = Action::new(|_: &()| disconnect_shop());
    let confirming = RwSignal::new(false);
    let recover = Action::new(|days: &i64| recover_shop_orders(*days));
    let days = RwSignal::new("30".to_owned());
    Effect::new(move || match recover.value().get() {
        Some(Ok(found)) => {
            toasts.success(format!(
                "Read {} orders from Shopify: {} order(s) and {} refund(s) no webhook had brought are recorded now.",
                found.seen, found.orders, found.refunds
            ));
            version.update(|v| *v += 1);
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    Effect::new(move || match recheck.value().get() {
        Some(Ok(_)) => {
            toasts.success("Webhooks checked: anything missing was subscribed again.");
            version.update(|v| *v += 1);
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    Effect::new(move || match disconnect.value().get() {
        Some(Ok(_)) => {
            toasts.success("Shopify disconnected. Rekomi's webhook subscriptions were removed from the store.");
            version.update(|v| *v += 1);
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    let status = if c.installed {
        view! { <span class="badge approved">"Connected"</span> }.into_any()
    } else {
        view! { <span class="badge rejected">"App uninstalled"</span> }.into_any()
    };
    view! {
        <section class="card" data-testid="shop-connection">
            <h2>{c.shop_name.clone()}" "{status}</h2>
            {(!c.installed).then(|| view! {
                <p class="banner error" role="alert">"The Rekomi app was uninstalled from this store, so Rekomi calls nothing there. \
                    Install it again in Shopify's Dev Dashboard, then disconnect here and connect again."</p>
            })}
            <dl class="facts-grid">
                <dt>"Store"</dt><dd><code>{c.shop_domain.clone()}</code></dd>
                <dt>"Currency"</dt><dd>{c.currency.clone()}</dd>
                <dt>"Plan"</dt><dd>{c.plan.clone()}</dd>
                <dt>"App client ID"</dt><dd><code>{c.client_id.clone()}</code></dd>
                <dt>"Access scopes"</dt><dd>{c.scopes.join(", ")}</dd>
                <dt>"Checked"</dt><dd>{c.checked_at.clone()}</dd>
            </dl>
        </section>
        <section class="card" data-testid="webhook-health">
            <h2>"Webhooks"</h2>
            <p class="muted">"Rekomi subscribes these itself, at "<code>{webhook_address}</code>", checks them daily and subscribes again whatever is missing. \
                Each delivery is verified with the app's secret; a repeat is recognised by its webhook id and not counted twice."</p>
            <table class="grid">
                <thead><tr><th>"Topic"</th><th>"Subscription"</th><th>"Received"</th><th>"Refused"</th><th>"Last delivery"</th></tr></thead>
                <tbody>
                    {c.webhooks.into_iter().map(|w| view! {
                        <tr data-topic=w.topic.clone()>
                            <td><code>{w.topic.clone()}</code></td>
                            <td>{match (w.subscribed, w.problem.clone()) {
                                (true, _) => view! { <span class="badge approved">"Subscribed"</span> }.into_any(),
                                (false, Some(p)) => view! { <span class="badge rejected" title=p.clone()>"Missing"</span>" "<span class="small">{p}</span> }.into_any(),
                                (false, None) => view! { <span class="badge">"Not checked yet"</span> }.into_any(),
                            }}</td>
                            <td>{w.received}</td>
                            <td>{w.failures}</td>
                            <td>{w.last_received.clone().unwrap_or_else(|| "None yet".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <div class="actions">
                <button type="button" class="secondary" on:click=move |_| { recheck.dispatch(()); }
                    disabled=move || recheck.pending().get() || !c.installed>"Check webhooks now"</button>
            </div>
        </section>
        <section class="card" data-testid="missed-orders">
            <h2>"Missed orders"</h2>
            <p class="muted">"Shopify doesn't promise every webhook arrives. Every ten minutes Rekomi reads the orders updated in the store \
                and records any that no webhook brought (and their refunds); an order both bring counts once."</p>
            <dl class="facts-grid">
                <dt>"Reading from"</dt><dd>{c.orders_since.clone().unwrap_or_else(|| "the next check".into())}</dd>
                <dt>"Last read"</dt><dd>{c.orders_checked.clone().unwrap_or_else(|| "Not yet".into())}</dd>
                <dt>"Recovered so far"</dt><dd data-testid="orders-recovered">{c.orders_recovered}</dd>
            </dl>
            {c.orders_problem.clone().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
            <form class="inline" on:submit=move |ev| {
                ev.prevent_default();
                recover.dispatch(days.get_untracked().parse().unwrap_or(30));
            }>
                <label for="recover_days">"Recover orders from the last"</label>
                <select id="recover_days" bind:value=days>
                    <option value="1">"day"</option>
                    <option value="7">"7 days"</option>
                    <option value="30">"30 days"</option>
                    <option value="60">"60 days"</option>
                </select>
                <button type="submit" class="secondary" disabled=move || recover.pending().get() || !c.installed>
                    {move || if recover.pending().get() { "Reading orders…" } else { "Recover orders" }}
                </button>
            </form>
            <p class="hint">"Shopify shows apps the last 60 days of orders; older ones need the read_all_orders scope, which Rekomi doesn't ask for."</p>
        </section>
        <section class="card">
            <h2>"Disconnect"</h2>
            <p class="muted">"Removes Rekomi's webhook subscriptions from the store and forgets the app's credentials. \
                Affiliates, codes and commissions stay in Rekomi."</p>
            <Show when=move || !confirming.get() fallback=move || view! {
                <p>"Disconnect "<strong>{c.shop_domain.clone()}</strong>"?"</p>
                <button type="button" class="danger" on:click=move |_| { disconnect.dispatch(()); }
                    disabled=move || disconnect.pending().get()>"Yes, disconnect"</button>
                " "
                <button type="button" class="secondary" on:click=move |_| confirming.set(false)>"Keep it"</button>
            }>
                <button type="button" class="secondary" on:click=move |_| confirming.set(true)>"Disconnect Shopify"</button>
            </Show>
        </section>
    }
}

#[component]
fn Setup(required_scopes: Vec<(String, String)>, webhook_address: String, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let shop = RwSignal::new(String::new());
    let client_id = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let connect = Action::new(|form: &ShopConnectForm| connect_shop(form.clone()));
    // A refusal from Shopify's live check is an answer (shown on its fields), not a failed request.
    let error = Signal::derive(move || match connect.value().get() {
        Some(Err(e)) => Some(e),
        Some(Ok(ShopConnectResult::Refused(fields))) => Some(AppError::invalid(fields)),
        _ => None,
    });
    Effect::new(move || {
        if let Some(Ok(ShopConnectResult::Connected(page))) = connect.value().get() {
            let name = page.connection.map(|c| c.shop_name).unwrap_or_default();
            toasts.success(format!("{name} is connected. Rekomi subscribed its webhooks."));
            secret.set(String::new());
            version.update(|v| *v += 1);
        }
    });
    let scope_list = required_scopes.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>().join(",");
    let copy_scopes = {
        let list = scope_list.clone();
        move |_| {
            copy_text(&list);
            toasts.success("Access scopes copied.");
        }
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        connect.dispatch(ShopConnectForm {
            shop_domain: shop.get_untracked(),
            client_id: client_id.get_untracked(),
            client_secret: secret.get_untracked(),
        });
    };
    let scopes_error = move || error.get().and_then(|e: AppError| e.fields.get("scopes").map(str::to_owned));
    view! {
        <section class="card steps">
            <h2>"1. Make an app for your store in Shopify's Dev Dashboard"</h2>
            <ol>
                <li>"Open "<a href="https://dev.shopify.com/dashboard" rel="external noopener" target="_blank">"dev.shopify.com/dashboard"</a>
                    " and choose "<strong>"Create app"</strong>". Name it \u{201c}Rekomi\u{201d}."</li>
                <li>"Under "<strong>"Access"</strong>", choose these Admin API scopes (a "<code>"write_"</code>" scope includes its "<code>"read_"</code>"):"
                    <ul class="scope-list">
                        {required_scopes.iter().map(|(s, why)| view! { <li><code>{s.clone()}</code>" — "{why.clone()}</li> }).collect_view()}
                    </ul>
                    <div class="copy-field">
                        <input readonly class="code" value=scope_list.clone() aria-label="Access scopes" data-testid="scope-list"/>
                        <button type="button" class="secondary" on:click=copy_scopes>"Copy"</button>
                    </div>
                </li>
                <li>"Leave the webhooks section empty: Rekomi subscribes them itself when you connect, at "<code>{webhook_address.clone()}</code>"."</li>
                <li>"Release the version, then choose "<strong>"Install app"</strong>" and pick your store."</li>
                <li>"Open the app's "<strong>"Settings"</strong>" and copy its "<strong>"Client ID"</strong>" and "<strong>"Client secret"</strong>" into the form below."</li>
            </ol>
        </section>
        <section class="card">
            <h2>"2. Connect"</h2>
            <form class="connect-shop" on:submit=on_submit novalidate>
                <ErrorBanner error/>
                {move || scopes_error().map(|m| view! { <p class="field-error" role="alert" data-testid="missing-scopes">{m}</p> })}
                <label for="shop_domain">"Store address"</label>
                <input id="shop_domain" placeholder="your-store.myshopify.com" autocomplete="off" bind:value=shop/>
                <p class="hint">"The permanent myshopify.com address (Shopify admin → Settings → Domains)."</p>
                <FieldError error field="shop_domain"/>
                <label for="client_id">"Client ID"</label>
                <input id="client_id" autocomplete="off" bind:value=client_id/>
                <FieldError error field="client_id"/>
                <label for="client_secret">"Client secret"</label>
                <input id="client_secret" type="password" autocomplete="off" bind:value=secret/>
                <p class="hint">"Stored encrypted; it never comes back to this page. Rekomi uses it to get access tokens (renewed before they expire) and to check each webhook's signature."</p>
                <FieldError error field="client_secret"/>
                <div class="actions">
                    <button type="submit" disabled=move || connect.pending().get()>
                        {move || if connect.pending().get() { "Checking with Shopify…" } else { "Connect Shopify" }}
                    </button>
                </div>
            </form>
        </section>
    }
}
