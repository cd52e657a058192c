//! Connecting the shop: the snippet for the shop's pages, the Shopify webhook address and its
//! signing secret, and API tokens for stores that report orders through the conversion API.

use crate::api::earnings::{create_api_token, load_tracking_settings, revoke_api_token, set_shopify_secret};
use crate::api::views::{ApiTokenView, NewApiToken, TrackingSettings};
use crate::components::form::FieldError;
use crate::components::toast::use_toasts;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TrackingPage() -> impl IntoView {
    let version = RwSignal::new(0_u32);
    let settings = Resource::new(move || version.get(), |_| load_tracking_settings());
    view! {
        <Title text="Shop & tracking · Rekomi"/>
        <div class="page-head"><h1>"Shop & tracking"</h1></div>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => view! { <Settings s version/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Settings(s: TrackingSettings, version: RwSignal<u32>) -> impl IntoView {
    let secret = RwSignal::new(String::new());
    let save = Action::new(|secret: &String| set_shopify_secret(secret.clone()));
    let token_name = RwSignal::new(String::new());
    let create = Action::new(|name: &String| create_api_token(name.clone()));
    let revoke = Action::new(|id: &i64| revoke_api_token(*id));
    // The token list is this section's own state, updated from each answer: reloading the whole
    // page would also drop the banner with the token that was just created.
    let tokens = RwSignal::new(s.tokens.clone());
    let toasts = use_toasts();
    Effect::new(move || {
        if save.value().get().is_some_and(|r| r.is_ok()) {
            toasts.success("Shopify signing secret saved.");
            version.update(|v| *v += 1);
        }
    });
    Effect::new(move || {
        if let Some(Ok(new)) = create.value().get() {
            token_name.set(String::new());
            toasts.success(format!("Token \u{201c}{}\u{201d} created.", new.view.name));
            tokens.update(|list| list.insert(0, new.view));
        }
    });
    Effect::new(move || match revoke.value().get() {
        Some(Ok(settings)) => {
            toasts.success("Token revoked.");
            tokens.set(settings.tokens);
        }
        Some(Err(e)) => toasts.error(e.message),
        None => {}
    });
    let save_error = Signal::derive(move || save.value().get().and_then(Result::err));
    let create_error = Signal::derive(move || create.value().get().and_then(Result::err));
    let created = move || create.value().get().and_then(Result::ok);
    view! {
        <section>
            <h2>"1. Add Rekomi's pixel to your shop"</h2>
            <p>"In Shopify choose "<strong>"Settings → Customer events → Add custom pixel"</strong>", name it \u{201c}Rekomi\u{201d}, \
               paste this code, save and choose "<strong>"Connect"</strong>". It keeps "<code>"?ref="</code>" and "<code>"?via="</code>
               " from the landing address and, when a checkout completes, tells Rekomi which order it became. No theme edit; \
               the order itself still comes from Shopify's webhook, so the amounts are Shopify's."</p>
            <textarea readonly rows="8" class="code" data-testid="pixel-code" aria-label="Custom pixel code">{s.pixel_code.clone()}</textarea>
            <p class="muted">"Or, for a theme you edit yourself, the snippet below does the same from the storefront."</p>
        </section>
        <section>
            <h2>"Or add the snippet to your theme"</h2>
            <p>"Paste this before " <code>"</head>"</code> " in your theme (Shopify: Online Store → Themes → Edit code → theme.liquid). \
               It remembers " <code>"?ref="</code> " and " <code>"?via="</code> " codes in a first-party cookie and passes them to the order."</p>
            <textarea readonly rows="2" class="code" data-testid="snippet" aria-label="Tracking snippet">{s.snippet_tag.clone()}</textarea>
            <p class="muted">"Affiliate links look like " <code>{format!("{}ana-7k2q", s.link_base)}</code> "."</p>
        </section>
        <section>
            <h2>"2. Send Shopify's order webhooks to Rekomi"</h2>
            <p>"Connected your store on the "<a href="/app/shopify">"Shopify page"</a>"? Rekomi subscribed its webhooks itself and checks their signatures with your app's secret: nothing to do here."</p>
            <p class="muted">"Only for an app made in the Shopify admin before 2026 (a legacy custom app): subscribe " <code>"orders/paid"</code> " and " <code>"refunds/create"</code>
               " (JSON) to this address, then paste the app's signing secret below."</p>
            <input readonly class="code" value=s.webhook_url.clone() data-testid="webhook-url" aria-label="Webhook address"/>
            <form on:submit=move |ev| { ev.prevent_default(); save.dispatch(secret.get_untracked()); }>
                <label for="shopify_secret">{if s.shopify_secret_set { "Signing secret (set; paste a new one to replace it)" } else { "Signing secret" }}</label>
                <input id="shopify_secret" type="password" autocomplete="off" bind:value=secret/>
                <FieldError error=save_error field="shopify_secret"/>
                <button type="submit" disabled=move || save.pending().get()>"Save secret"</button>
                            </form>
        </section>
        <section>
            <h2>"Not on Shopify? Report orders through the API"</h2>
            <p><code>{format!("POST {}", s.conversions_url)}</code>" with " <code>"Authorization: Bearer <token>"</code>
               ", an " <code>"Idempotency-Key"</code> " header, and " <code>"{\"order_id\", \"amount_minor\", \"currency\", \"referral_code\" or \"coupon_code\"}"</code> ". "
               "The same tokens call the rest of the API (rate bumps and invites from Klaviyo flows): see the "
               <a href="/api/v1/docs" rel="external">"API reference"</a> "."</p>
            <form on:submit=move |ev| { ev.prevent_default(); create.dispatch(token_name.get_untracked()); }>
                <label for="token_name">"New token for"</label>
                <input id="token_name" placeholder="e.g. WooCommerce store" bind:value=token_name/>
                <FieldError error=create_error field="name" input="token_name"/>
                <button type="submit" disabled=move || create.pending().get()>"Create token"</button>
            </form>
            {move || created().map(|NewApiToken { token, .. }| view! {
                <div class="banner" role="status">
                    <p>"Copy this token now; Rekomi shows it only once:"</p>
                    <input readonly class="code" value=token data-testid="new-token" aria-label="New API token"/>
                </div>
            })}
            <TokenList tokens revoke/>
        </section>
        <section>
            <h2>"Affiliate portal"</h2>
            <p>"Affiliates sign in at " <a href=s.portal_url.clone()>{s.portal_url.clone()}</a>
               " with a one-time link, emailed through your Klaviyo flow on the metric " <code>"Rekomi Affiliate Login Link"</code>
               " (property " <code>"login_url"</code> "). Without Klaviyo, copy a link from the affiliate's page."</p>
        </section>
    }
}

#[component]
fn TokenList(
    tokens: RwSignal<Vec<ApiTokenView>>,
    revoke: Action<i64, Result<TrackingSettings, AppError>>,
) -> impl IntoView {
    move || {
        let list = tokens.get();
        if list.is_empty() {
            return view! { <p class="muted">"No API tokens yet."</p> }.into_any();
        }
        view! {
        <table tabindex="0">
            <thead><tr><th>"Name"</th><th>"Token"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|t| {
                    let id = t.id;
                    view! {
                        <tr>
                            <td>{t.name}</td>
                            <td><code>{format!("{}…", t.prefix)}</code></td>
                            <td>{t.created_at}" by "{t.created_by}</td>
                            <td>{t.last_used.unwrap_or_else(|| "never".into())}</td>
                            <td>{if t.revoked {
                                view! { <span class="muted">"Revoked"</span> }.into_any()
                            } else {
                                view! { <button class="danger" on:click=move |_| { revoke.dispatch(id); }>"Revoke"</button> }.into_any()
                            }}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
    }
}
