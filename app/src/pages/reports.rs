//! Results: over a chosen range of days (kept in the address), a daily chart of clicks,
//! conversions and commission, totals per campaign and the top affiliates, each downloadable as
//! CSV, and the commissions held for review (self-referrals) with release / void.

use crate::api::earnings::{decide_commission, earnings_report};
use crate::api::views::{ReportCommission, ReportFilter, ReportTotals, ReportView};
use crate::components::chart::DailyChart;
use crate::components::count_of;
use crate::domain::CampaignId;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

/// The filter as the address carries it (`?campaign=&from=&to=&days=`).
fn filter_from(q: &leptos_router::params::ParamsMap) -> ReportFilter {
    ReportFilter {
        campaign: q.get("campaign").and_then(|c| c.parse::<i64>().ok()).filter(|c| *c > 0).map(CampaignId),
        from: q.get("from").unwrap_or_default(),
        to: q.get("to").unwrap_or_default(),
        days: q.get("days").and_then(|d| d.parse().ok()),
    }
}

/// The query string of a filter (without the `?`), as the page and the CSV links use it.
fn query_of(f: &ReportFilter) -> String {
    let mut parts = Vec::new();
    if let Some(c) = f.campaign {
        parts.push(format!("campaign={}", c.0));
    }
    // Dates are digits and dashes; anything else is dropped rather than sent on.
    let date = |d: &str| d.chars().all(|c| c.is_ascii_digit() || c == '-').then(|| d.to_owned());
    if let Some(from) = date(f.from.trim()).filter(|d| !d.is_empty()) {
        parts.push(format!("from={from}"));
    }
    if let Some(to) = date(f.to.trim()).filter(|d| !d.is_empty()) {
        parts.push(format!("to={to}"));
    }
    if let Some(days) = f.days {
        parts.push(format!("days={days}"));
    }
    parts.join("&")
}

fn results_href(f: &ReportFilter) -> String {
    let q = query_of(f);
    if q.is_empty() {
        "/app/results".to_owned()
    } else {
        format!("/app/results?{q}")
    }
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| query.with(filter_from));
    let version = RwSignal::new(0_u32);
    let report = Resource::new(move || (filter.get(), version.get()), |(f, _)| earnings_report(f));
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
                    Ok(r) => view! { <Report r decide/> }.into_any(),
                    Err(e) => view! {
                        <div class="banner error" role="alert">
                            {e.fields.iter().next().map(|(_, m)| m.to_owned()).unwrap_or(e.message)}
                            " "<a href="/app/results">"Show the last 30 days"</a>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
        {move || decide.value().get().and_then(Result::err).map(|e| view! {
            <div class="banner error" role="alert">{e.message}</div>
        })}
    }
}

#[component]
fn Report(r: ReportView, decide: Action<(i64, bool), Result<(), crate::error::AppError>>) -> impl IntoView {
    let ReportView {
        campaigns,
        selected,
        from,
        to,
        commission_totals,
        clicks,
        conversions,
        by_campaign,
        by_affiliate,
        days,
        chart_currency,
        chart_exponent,
        held,
    } = r;
    let navigate = use_navigate();
    let campaign = RwSignal::new(selected.map(|c| c.0.to_string()).unwrap_or_default());
    let from_input = RwSignal::new(from.clone());
    let to_input = RwSignal::new(to.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let next = ReportFilter {
            campaign: campaign.get_untracked().parse::<i64>().ok().filter(|c| *c > 0).map(CampaignId),
            from: from_input.get_untracked(),
            to: to_input.get_untracked(),
            days: None,
        };
        navigate(&results_href(&next), Default::default());
    };
    let preset = |days: u32| results_href(&ReportFilter { campaign: selected, days: Some(days), ..Default::default() });
    // What is on screen, as CSV: the same filter, one file per table.
    let on_screen = ReportFilter { campaign: selected, from: from.clone(), to: to.clone(), days: None };
    let csv = |breakdown: &str| {
        let q = query_of(&on_screen);
        format!("/api/exports/results.csv?breakdown={breakdown}{}{q}", if q.is_empty() { "" } else { "&" })
    };
    let earned = if commission_totals.is_empty() { "0".to_owned() } else { commission_totals.join(" + ") };
    view! {
        <form class="card directory-filter" method="get" action="/app/results" on:submit=submit>
            <div>
                <label for="report-campaign">"Campaign"</label>
                <select id="report-campaign" name="campaign" on:change=move |ev| campaign.set(event_target_value(&ev))>
                    <option value="" selected=selected.is_none()>"All campaigns"</option>
                    {campaigns.into_iter().map(|(id, name)| view! {
                        <option value=id.0.to_string() selected=selected == Some(id)>{name}</option>
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="report-from">"From"</label>
                <input id="report-from" name="from" type="date" bind:value=from_input/>
            </div>
            <div>
                <label for="report-to">"To"</label>
                <input id="report-to" name="to" type="date" bind:value=to_input/>
            </div>
            <div class="actions"><button type="submit">"Show"</button></div>
        </form>
        <p class="small presets">
            "Quick ranges: "
            <A href=preset(7)>"7 days"</A>" · "<A href=preset(30)>"30 days"</A>" · "
            <A href=preset(90)>"90 days"</A>" · "<A href=preset(365)>"365 days"</A>
        </p>
        <h2 data-testid="range">{format!("{from} to {to}")}</h2>
        <p data-testid="range-totals">
            {format!("{}, {}, commission earned {earned}.", count_of(clicks, "click", "clicks"), count_of(conversions, "conversion", "conversions"))}
        </p>
        <DailyChart days currency=chart_currency exponent=chart_exponent totals=commission_totals/>
        <p class="small">"Download what is shown as CSV: "
            <a href=csv("campaign") download>"by campaign"</a>" · "
            <a href=csv("affiliate") download>"top affiliates"</a>" · "
            <a href=csv("day") download>"by day"</a>
        </p>
        {(!held.is_empty()).then(|| view! { <Held held decide/> })}
        <h2>"By campaign"</h2>
        <TotalsTable rows=by_campaign link=false/>
        <h2>"Top affiliates"</h2>
        <p class="muted small">"By conversions, then clicks, in this range; the first 100."</p>
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
