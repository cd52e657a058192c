//! Results: a daily chart of clicks, conversions and commission, totals per campaign and per
//! affiliate, and the commissions held for review (self-referrals) with release / void.

use crate::api::earnings::{decide_commission, earnings_report};
use crate::api::views::{ReportCommission, ReportTotals, ReportView};
use crate::components::chart::DailyChart;
use crate::domain::CampaignId;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ReportsPage() -> impl IntoView {
    let campaign = RwSignal::new(None::<CampaignId>);
    let version = RwSignal::new(0_u32);
    let report = Resource::new(move || (campaign.get(), version.get()), |(c, _)| earnings_report(c));
    let decide = Action::new(|(id, release): &(i64, bool)| decide_commission(*id, *release));
    Effect::new(move || {
        if decide.value().get().is_some() {
            version.update(|v| *v += 1);
        }
    });
    view! {
        <Title text="Results · Rekomi"/>
        <div class="page-head"><h1>"Results"</h1></div>
        <Transition fallback=|| view! { <p class="loading">"Loading results…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(r) => view! { <Report r campaign decide/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
        {move || decide.value().get().and_then(Result::err).map(|e| view! {
            <div class="banner error" role="alert">{e.message}</div>
        })}
    }
}

#[component]
fn Report(
    r: ReportView,
    campaign: RwSignal<Option<CampaignId>>,
    decide: Action<(i64, bool), Result<(), crate::error::AppError>>,
) -> impl IntoView {
    let ReportView { campaigns, selected, by_campaign, by_affiliate, days, chart_currency, chart_exponent, held } = r;
    view! {
        <label for="report-campaign">"Campaign"</label>
        <select id="report-campaign" on:change=move |ev| {
            campaign.set(event_target_value(&ev).parse::<i64>().ok().filter(|id| *id > 0).map(CampaignId));
        }>
            <option value="0" selected=selected.is_none()>"All campaigns"</option>
            {campaigns.into_iter().map(|(id, name)| view! {
                <option value=id.0 selected=selected == Some(id)>{name}</option>
            }).collect_view()}
        </select>
        <h2>"Last 30 days"</h2>
        <DailyChart days currency=chart_currency exponent=chart_exponent/>
        {(!held.is_empty()).then(|| view! { <Held held decide/> })}
        <h2>"By campaign"</h2>
        <TotalsTable rows=by_campaign link=false/>
        <h2>"By affiliate"</h2>
        <TotalsTable rows=by_affiliate link=true/>
    }
}

#[component]
fn TotalsTable(rows: Vec<ReportTotals>, link: bool) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"Nothing yet: results appear once affiliates' links are clicked."</p> }
            .into_any();
    }
    view! {
        <table tabindex="0">
            <thead><tr><th>"Name"</th><th>"Clicks"</th><th>"Conversions"</th><th>"Pending"</th><th>"Approved"</th><th>"Paid"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|t| view! {
                    <tr>
                        <td>{if link {
                            view! { <a href=format!("/app/affiliates/{}", t.id)>{t.name}</a> }.into_any()
                        } else {
                            view! { <span>{t.name}</span> }.into_any()
                        }}</td>
                        <td>{t.clicks}</td>
                        <td>{t.conversions}</td>
                        <td>{t.earnings.pending}</td>
                        <td>{t.earnings.approved}</td>
                        <td>{t.earnings.paid}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Held(held: Vec<ReportCommission>, decide: Action<(i64, bool), Result<(), crate::error::AppError>>) -> impl IntoView {
    view! {
        <section class="held">
            <h2>"Held for review"</h2>
            <p class="muted">"These orders were placed with the affiliate's own email. Release to pay them as usual, or void."</p>
            <table tabindex="0">
                <thead><tr><th>"Affiliate"</th><th>"Order"</th><th>"Commission"</th><th>"Why"</th><th></th></tr></thead>
                <tbody>
                    {held.into_iter().map(|c| {
                        let id = c.id;
                        view! {
                            <tr>
                                <td><a href=format!("/app/affiliates/{}", c.affiliate_id)>{c.affiliate_name}</a></td>
                                <td>{c.order}</td>
                                <td>{c.amount}</td>
                                <td>{c.held_reason.unwrap_or_default()}</td>
                                <td class="actions">
                                    <button on:click=move |_| { decide.dispatch((id, true)); }>"Release"</button>
                                    <button class="secondary" on:click=move |_| { decide.dispatch((id, false)); }>"Void"</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
