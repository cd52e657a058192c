//! A select of the merchant's campaigns, starting on the first one.

use crate::api::campaigns::list_campaigns;
use crate::domain::CampaignId;
use leptos::prelude::*;

#[component]
pub fn CampaignSelect(id: &'static str, campaign: RwSignal<Option<CampaignId>>) -> impl IntoView {
    let campaigns = Resource::new(|| (), |_| list_campaigns());
    view! {
        <select id=id on:change=move |ev| campaign.set(event_target_value(&ev).parse().ok().map(CampaignId))>
            <option value="">"Choose a campaign"</option>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = campaigns.await.unwrap_or_default();
                    if campaign.get_untracked().is_none() {
                        if let Some(first) = list.first() {
                            campaign.set(Some(first.id));
                        }
                    }
                    list.into_iter()
                        .map(|c| {
                            let this = c.id;
                            view! {
                                <option value=c.id.to_string() selected=move || campaign.get() == Some(this)>{c.name}</option>
                            }
                        })
                        .collect_view()
                })}
            </Transition>
        </select>
    }
}
