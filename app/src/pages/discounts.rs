//! The campaign's discount codes in Shopify, edited beside the campaign: what the customer gets,
//! the code pattern (with a preview), and where the affiliates' codes stand, refreshed while codes
//! are on their way. The terms are checked in the browser with the server's own parser first.

use crate::api::campaigns::{campaign_discount, make_discount_codes, save_campaign_discount};
use crate::api::views::DiscountSettings;
use crate::components::form::{ErrorBanner, FieldError};
use crate::components::toast::use_toasts;
use crate::domain::discount::{CodePattern, DiscountForm};
use crate::domain::{CampaignId, Currency};
use crate::error::AppError;
use leptos::prelude::*;

#[component]
pub fn DiscountEditor(campaign: CampaignId) -> impl IntoView {
    let version = RwSignal::new(0_u32);
    let loaded = Resource::new(move || version.get(), move |_| campaign_discount(campaign));
    view! {
        <section class="card discount" data-testid="discount">
            <h2>"Discount codes in Shopify"</h2>
            <p class="muted">"Each approved affiliate gets their own code in your shop, made from a pattern. Customers \
                who use it get the discount below, and the order is credited to that affiliate even without a click."</p>
            <Transition fallback=|| view! { <p class="loading">"Loading the discount…"</p> }>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Ok(settings) => view! { <DiscountBody campaign settings version/> }.into_any(),
                        Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn DiscountBody(campaign: CampaignId, settings: DiscountSettings, version: RwSignal<u32>) -> impl IntoView {
    if settings.shop.is_none() {
        return view! {
            <p data-testid="discount-needs-shop">"Connect your Shopify store first: the codes are made there. "
                <a href="/app/shopify">"Connect Shopify"</a></p>
        }
        .into_any();
    }
    // While codes are on their way the counts are read again every two seconds.
    if settings.progress.queued > 0 {
        let handle = set_timeout_with_handle(move || version.update(|v| *v += 1), std::time::Duration::from_secs(2));
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    }
    view! { <DiscountTermsForm campaign settings version/> }.into_any()
}

#[component]
fn DiscountTermsForm(campaign: CampaignId, settings: DiscountSettings, version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let form = settings.form.clone();
    let enabled = RwSignal::new(form.enabled);
    let kind = RwSignal::new(form.kind.clone());
    let value = RwSignal::new(form.value.clone());
    let once = RwSignal::new(form.once_per_customer);
    let min_subtotal = RwSignal::new(form.min_subtotal.clone());
    let c_order = RwSignal::new(form.combines_order);
    let c_product = RwSignal::new(form.combines_product);
    let c_shipping = RwSignal::new(form.combines_shipping);
    let ends_on = RwSignal::new(form.ends_on.clone());
    let pattern = RwSignal::new(form.pattern.clone());
    let currency = Currency::parse(&settings.currency).ok();
    // The server's clock, so an end date is judged the same way on both sides.
    let settings_today = settings.today;
    let save = Action::new(move |f: &DiscountForm| save_campaign_discount(campaign, f.clone()));
    let make = Action::new(move |_: &()| make_discount_codes(campaign));
    let local_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || {
        local_error
            .get()
            .or_else(|| save.value().get().and_then(Result::err))
            .or_else(|| make.value().get().and_then(Result::err))
    });
    Effect::new(move || {
        if let Some(Ok(saved)) = save.value().get() {
            toasts.success(if saved.enabled {
                "Discount saved. Rekomi is bringing the codes in Shopify in line with it."
            } else {
                "Saved. The campaign's codes are switched off in Shopify."
            });
            version.update(|v| *v += 1);
        }
    });
    Effect::new(move || {
        if let Some(Ok(_)) = make.value().get() {
            toasts.success("Codes are on their way to Shopify.");
            version.update(|v| *v += 1);
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed = DiscountForm {
            enabled: enabled.get_untracked(),
            kind: kind.get_untracked(),
            value: value.get_untracked(),
            once_per_customer: once.get_untracked(),
            min_subtotal: min_subtotal.get_untracked(),
            combines_order: c_order.get_untracked(),
            combines_product: c_product.get_untracked(),
            combines_shipping: c_shipping.get_untracked(),
            ends_on: ends_on.get_untracked(),
            pattern: pattern.get_untracked(),
        };
        // The server's parser, here first: a mistake is named without a request.
        let today = settings_today;
        match currency.map(|c| typed.parse(c, today)) {
            Some(Err(fields)) => local_error.set(Some(AppError::invalid(fields))),
            _ => {
                local_error.set(None);
                save.dispatch(typed);
            }
        }
    };
    let example = move || match CodePattern::parse(&pattern.get()) {
        Ok(p) => p.candidate("ana", 0).map(|c| format!("Ana's code would be {c}.")).unwrap_or_default(),
        Err(_) => String::new(),
    };
    let p = settings.progress.clone();
    let status = settings.saved.then(|| {
        let in_shop = if settings.enabled && settings.in_shopify {
            format!("Live in Shopify: {}.", settings.summary.clone().unwrap_or_default())
        } else if settings.enabled {
            "Not in Shopify yet: it is made with the first approved affiliate's code.".to_owned()
        } else {
            "Switched off: the codes don't work in the shop.".to_owned()
        };
        view! {
            <div class="discount-status" data-testid="discount-status">
                <p>{in_shop}</p>
                <p>
                    <strong data-testid="codes-active">{p.active}</strong>{if p.active == 1 { " code in Shopify" } else { " codes in Shopify" }}
                    {(p.queued > 0).then(|| view! { " · " <strong data-testid="codes-queued">{p.queued}</strong>" on their way" })}
                    {(p.failed > 0).then(|| view! { " · " <strong class="bad" data-testid="codes-failed">{p.failed}</strong>" refused" })}
                </p>
                {settings.discount_problem.clone().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                {p.problem.clone().filter(|_| p.failed > 0 || p.queued > 0).map(|m| view! { <p class="muted" data-testid="codes-problem">{m}</p> })}
            </div>
        }
    });
    let approved_without = p.approved_without;
    let shop_note = (!settings.shop_ready)
        .then(|| view! { <p class="banner warn" role="status">"The Shopify app isn't installed right now: codes wait until the store is reconnected."</p> });
    let amount_label = format!("Amount off ({})", settings.currency);
    view! {
        {shop_note}
        {status}
        <form class="discount-form" on:submit=on_submit novalidate>
            <ErrorBanner error/>
            <label class="check"><input type="checkbox" id="discount_enabled" bind:checked=enabled/>
                " Make a code in Shopify for each approved affiliate"</label>
            <fieldset>
                <legend>"The customer gets"</legend>
                <label class="check"><input type="radio" name="discount_kind" value="percent"
                    prop:checked=move || kind.get() == "percent" on:change=move |_| kind.set("percent".into())/>" A percentage off"</label>
                <label class="check"><input type="radio" name="discount_kind" value="amount"
                    prop:checked=move || kind.get() == "amount" on:change=move |_| kind.set("amount".into())/>{format!(" A fixed amount off ({})", settings.currency)}</label>
                <FieldError error field="kind" input="discount_kind"/>
                <label for="discount_value">{move || if kind.get() == "amount" { amount_label.clone() } else { "Percentage off".to_owned() }}</label>
                <input id="discount_value" inputmode="decimal" bind:value=value/>
                <FieldError error field="value" input="discount_value"/>
            </fieldset>
            <label class="check"><input type="checkbox" bind:checked=once/>" Once per customer"</label>
            <label for="discount_min_subtotal">{format!("Minimum order subtotal ({}, optional)", settings.currency)}</label>
            <input id="discount_min_subtotal" inputmode="decimal" bind:value=min_subtotal/>
            <FieldError error field="min_subtotal" input="discount_min_subtotal"/>
            <fieldset>
                <legend>"Combines with"</legend>
                <label class="check"><input type="checkbox" bind:checked=c_order/>" Other order discounts"</label>
                <label class="check"><input type="checkbox" bind:checked=c_product/>" Product discounts"</label>
                <label class="check"><input type="checkbox" bind:checked=c_shipping/>" Shipping discounts"</label>
            </fieldset>
            <label for="discount_ends_on">"Last day (optional)"</label>
            <input id="discount_ends_on" type="date" bind:value=ends_on/>
            <FieldError error field="ends_on" input="discount_ends_on"/>
            <label for="discount_pattern">"Code pattern"</label>
            <input id="discount_pattern" class="code" autocomplete="off" bind:value=pattern/>
            <p class="hint">"{code} is the affiliate's referral code, in capitals; letters, digits, - and _ around it. \
                If Shopify already has a code, Rekomi tries the next one (e.g. ANA10-2); one it can't place shows as refused above. "
                <span data-testid="pattern-example">{example}</span></p>
            <FieldError error field="pattern" input="discount_pattern"/>
            <div class="actions">
                <button type="submit" disabled=move || save.pending().get()>
                    {move || if save.pending().get() { "Saving…" } else { "Save discount" }}
                </button>
                {(settings.saved && settings.enabled && approved_without > 0).then(|| view! {
                    <button type="button" class="secondary" data-testid="make-codes" disabled=move || make.pending().get()
                        on:click=move |_| { make.dispatch(()); }>
                        {format!("Make codes now ({approved_without} approved without one)")}
                    </button>
                })}
            </div>
        </form>
    }
}
