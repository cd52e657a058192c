//! A select of the merchant's campaigns, starting on the first one.
//!
//! The whole `<select>` is rendered once the list is in: with no campaigns yet, the page says so and
//! links to creating one instead of showing an empty select.

use crate::api::campaigns::list_campaigns;
use crate::domain::CampaignId;
use leptos::prelude::*;

#[component]
pub fn CampaignSelect(id: &'static str, campaign: RwSignal<Option<CampaignId>>) -> impl IntoView {
    let campaigns = Resource::new(|| (), |_| list_campaigns());
    let unavailable = move |text: String| {
        view! { <select id=id disabled=true><option value="">{text}</option></select> }
    };
    view! {
        <Transition fallback=move || unavailable("Loading campaigns…".into())>
            {move || Suspend::new(async move {
                match campaigns.await {
                    Ok(list) if list.is_empty() => view! {
                        {unavailable("No campaigns yet".into())}
                        <p class="muted"><a href="/app/campaigns/new">"Create a campaign"</a>" first."</p>
                    }.into_any(),
                    Ok(list) => {
                        if campaign.get_untracked().is_none() {
                            campaign.set(list.first().map(|c| c.id));
                        }
                        let options = list
                            .into_iter()
                            .map(|c| {
                                let this = c.id;
                                view! {
                                    <option value=c.id.to_string() selected=move || campaign.get() == Some(this)>{c.name}</option>
                                }
                            })
                            .collect_view();
                        view! {
                            <select id=id on:change=move |ev| campaign.set(event_target_value(&ev).parse().ok().map(CampaignId))>
                                {options}
                            </select>
                        }.into_any()
                    }
                    Err(e) => view! {
                        {unavailable("Campaigns could not be loaded".into())}
                        <p class="field-error" role="alert">{e.message}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
