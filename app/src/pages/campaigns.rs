//! Campaigns: the list, the new-campaign page and the editor.

use crate::api::campaigns::{create_campaign, get_campaign, list_campaigns, update_campaign};
use crate::api::views::CampaignView;
use crate::components::form::{toast_on_success, ErrorBanner, FieldError};
use crate::components::toast::use_toasts;
use crate::domain::{CampaignForm, CampaignId, Currency};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn CampaignList() -> impl IntoView {
    crate::pages::layout::page_ready();
    let campaigns = Resource::new(|| (), |_| list_campaigns());
    view! {
        <Title text="Campaigns · Rekomi"/>
        <div class="page-head">
            <h1>"Campaigns"</h1>
            <A href="/app/campaigns/new" attr:class="button">"New campaign"</A>
        </div>
        <Suspense fallback=|| view! { <p class="loading">"Loading campaigns…"</p> }>
            {move || Suspend::new(async move {
                match campaigns.await {
                    Ok(list) if list.is_empty() => view! {
                        <div class="empty">
                            <p>"No campaigns yet. A campaign holds your program's terms and commission, and gets a public page where affiliates apply."</p>
                            <A href="/app/campaigns/new" attr:class="button">"Create your first campaign"</A>
                        </div>
                    }.into_any(),
                    Ok(list) => view! { <CampaignTable list/> }.into_any(),
                    Err(e) => view! { <div class="banner error">{e.message}</div> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CampaignTable(list: Vec<CampaignView>) -> impl IntoView {
    view! {
        <table tabindex="0" class="grid">
            <thead><tr>
                <th>"Campaign"</th><th>"Commission"</th><th>"Applications"</th><th>"Approval"</th><th>"Public page"</th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|c| view! {
                    <tr>
                        <td><A href=format!("/app/campaigns/{}", c.id)>{c.name.clone()}</A></td>
                        <td>{c.commission.describe()}</td>
                        <td>{format!("{} pending · {} approved", c.pending, c.approved)}</td>
                        <td>{if c.auto_approve { "Automatic" } else { "Manual" }}</td>
                        <td>
                            {if c.accepting {
                                view! { <a href=c.landing_path.clone() target="_blank" rel="noopener">{c.landing_path.clone()}</a> }.into_any()
                            } else {
                                view! { <span class="muted">"Closed"</span> }.into_any()
                            }}
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn NewCampaign() -> impl IntoView {
    let action = Action::new(|form: &CampaignForm| create_campaign(form.clone()));
    let navigate = use_navigate();
    let toasts = use_toasts();
    Effect::new(move || {
        if let Some(Ok(created)) = action.value().get() {
            toasts.success(format!(
                "Campaign \u{201c}{}\u{201d} created. Share its public page to get applications.",
                created.name
            ));
            navigate(&format!("/app/campaigns/{}", created.id), Default::default());
        }
    });
    view! {
        <Title text="New campaign · Rekomi"/>
        <h1>"New campaign"</h1>
        <CampaignEditor initial=CampaignForm::default() action submit_label="Create campaign"/>
    }
}

#[component]
pub fn EditCampaign() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<CampaignId>().ok());
    let campaign = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_campaign(id).await,
            None => Err(AppError::not_found("campaign")),
        }
    });
    view! {
        <Title text="Edit campaign · Rekomi"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading campaign…"</p> }>
            {move || Suspend::new(async move {
                match campaign.await {
                    Ok(c) => {
                        let id = c.id;
                        let action = Action::new(move |form: &CampaignForm| update_campaign(id, form.clone()));
                        toast_on_success(action, |c: &CampaignView| format!("Campaign \u{201c}{}\u{201d} saved.", c.name));
                        view! {
                            <div class="page-head">
                                <h1>{c.name.clone()}</h1>
                                <a class="button secondary" href=c.landing_path.clone() target="_blank" rel="noopener">"Open public page"</a>
                            </div>
                            <p class="muted">
                                "Public page: "<code class="landing-path">{c.landing_path.clone()}</code>
                                " · terms version "{c.terms_version}
                            </p>
                            <CampaignEditor initial=c.to_form() action submit_label="Save changes"/>
                            <crate::pages::klaviyo::CampaignListChoice campaign=id current=c.klaviyo_list.clone()/>
                        }.into_any()
                    }
                    Err(e) => view! {
                        <h1>"Campaign not found"</h1>
                        <div class="banner error" role="alert">{e.message}</div>
                        <A href="/app/campaigns">"Back to campaigns"</A>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The campaign form. Checks run in the browser first (the same parser the server uses), so most
/// mistakes show without a round trip; the server's verdict is shown the same way.
#[component]
fn CampaignEditor(
    initial: CampaignForm,
    action: Action<CampaignForm, Result<CampaignView, AppError>>,
    submit_label: &'static str,
) -> impl IntoView {
    let name = RwSignal::new(initial.name);
    let slug = RwSignal::new(initial.slug);
    let pitch = RwSignal::new(initial.pitch);
    let terms = RwSignal::new(initial.terms);
    let kind = RwSignal::new(initial.commission_kind);
    let rate = RwSignal::new(initial.commission_rate);
    let amount = RwSignal::new(initial.commission_amount);
    let currency = RwSignal::new(initial.currency);
    let cookie_days = RwSignal::new(initial.cookie_days);
    let attribution = RwSignal::new(initial.attribution);
    let hold_days = RwSignal::new(initial.hold_days);
    let min_payout = RwSignal::new(initial.min_payout);
    let destination_url = RwSignal::new(initial.destination_url);
    let auto_approve = RwSignal::new(initial.auto_approve);
    let accepting = RwSignal::new(initial.accepting);
    let snapshot = move || CampaignForm {
        name: name.get_untracked(),
        slug: slug.get_untracked(),
        pitch: pitch.get_untracked(),
        terms: terms.get_untracked(),
        commission_kind: kind.get_untracked(),
        commission_rate: rate.get_untracked(),
        commission_amount: amount.get_untracked(),
        currency: currency.get_untracked(),
        cookie_days: cookie_days.get_untracked(),
        attribution: attribution.get_untracked(),
        hold_days: hold_days.get_untracked(),
        min_payout: min_payout.get_untracked(),
        destination_url: destination_url.get_untracked(),
        auto_approve: auto_approve.get_untracked(),
        accepting: accepting.get_untracked(),
    };
    let local_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || local_error.get().or_else(|| action.value().get().and_then(Result::err)));
    Effect::new(move || {
        if let Some(Ok(view)) = action.value().get() {
            slug.set(view.slug);
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = snapshot();
        match form.parse() {
            Err(fields) => local_error.set(Some(AppError::invalid(fields))),
            Ok(_) => {
                local_error.set(None);
                action.dispatch(form);
            }
        }
    };
    view! {
        <form class="campaign-form" on:submit=on_submit novalidate>
            <ErrorBanner error/>
            <fieldset>
                <legend>"Program"</legend>
                <label for="name">"Campaign name"</label>
                <input id="name" bind:value=name maxlength="80"/>
                <FieldError error field="name"/>
                <label for="slug">"Web address name"</label>
                <input id="slug" bind:value=slug placeholder="derived from the name"/>
                <p class="hint">"Lower-case letters, digits and hyphens; the public page is /join/your-shop/this-name."</p>
                <FieldError error field="slug"/>
                <label for="pitch">"Pitch"</label>
                <textarea id="pitch" rows="4" bind:value=pitch></textarea>
                <FieldError error field="pitch"/>
                <label for="terms">"Program terms"</label>
                <textarea id="terms" rows="8" bind:value=terms></textarea>
                <p class="hint">"Affiliates must accept these to apply. Changing them starts a new terms version."</p>
                <FieldError error field="terms"/>
            </fieldset>
            <fieldset>
                <legend>"Commission"</legend>
                <div class="radio-row">
                    <label><input type="radio" name="commission_kind" value="percent" bind:group=kind/>" Percentage of each order"</label>
                    <label><input type="radio" name="commission_kind" value="flat" bind:group=kind/>" Flat amount per order"</label>
                </div>
                <FieldError error field="commission_kind"/>
                <Show when=move || kind.get() == "percent">
                    <label for="commission_rate">"Rate (%)"</label>
                    <input id="commission_rate" inputmode="decimal" bind:value=rate/>
                    <FieldError error field="commission_rate"/>
                </Show>
                <Show when=move || kind.get() == "flat">
                    <label for="commission_amount">"Amount"</label>
                    <input id="commission_amount" inputmode="decimal" bind:value=amount/>
                    <FieldError error field="commission_amount"/>
                </Show>
                <label for="currency">"Currency"</label>
                <select id="currency" prop:value=move || currency.get() on:change=move |ev| currency.set(event_target_value(&ev))>
                    {Currency::all().map(|c| view! { <option value=c selected=move || currency.get() == c>{c}</option> }).collect_view()}
                </select>
                <FieldError error field="currency"/>
                <label for="cookie_days">"Cookie window (days)"</label>
                <input id="cookie_days" inputmode="numeric" bind:value=cookie_days/>
                <FieldError error field="cookie_days"/>
                <label for="attribution">"When a visitor followed several affiliates' links"</label>
                <select id="attribution" prop:value=move || attribution.get() on:change=move |ev| attribution.set(event_target_value(&ev))>
                    <option value="last" selected=move || attribution.get() == "last">"Last click earns the sale"</option>
                    <option value="first" selected=move || attribution.get() == "first">"First click earns the sale"</option>
                </select>
                <FieldError error field="attribution"/>
                <label for="hold_days">"Hold commissions for (days, past your refund window)"</label>
                <input id="hold_days" inputmode="numeric" bind:value=hold_days/>
                <FieldError error field="hold_days"/>
                <label for="min_payout">"Minimum payout (empty: any amount)"</label>
                <input id="min_payout" inputmode="decimal" placeholder="e.g. 50.00" bind:value=min_payout/>
                <FieldError error field="min_payout"/>
                <label for="destination_url">"Shop address (where tracking links send visitors)"</label>
                <input id="destination_url" type="url" placeholder="https://shop.example.com" bind:value=destination_url/>
                <FieldError error field="destination_url"/>
            </fieldset>
            <fieldset>
                <legend>"Applications"</legend>
                <label class="check"><input type="checkbox" id="accepting" bind:checked=accepting/>" Accepting applications"</label>
                <label class="check"><input type="checkbox" id="auto_approve" bind:checked=auto_approve/>" Approve applications automatically"</label>
            </fieldset>
            <div class="actions">
                <button type="submit" disabled=move || action.pending().get()>{submit_label}</button>
            </div>
        </form>
    }
}
