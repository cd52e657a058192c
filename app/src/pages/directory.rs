//! The affiliates directory: every affiliate in any state, with their campaign, code, clicks,
//! orders, revenue, earnings and Klaviyo status; searched, filtered, sorted and paged. The whole
//! view lives in the address (`?q=&state=&campaign=&sort=&page=`), so a reload, the back button or
//! a shared link shows the same rows; the filter form is a GET form to the same address.

use crate::api::affiliates::affiliate_directory;
use crate::api::views::{DirectoryFilter, DirectoryPage, DirectorySort};
use crate::components::live_sync::SyncBadge;
use crate::components::state_badge::StateBadge;
use crate::domain::{AffiliateState, CampaignId};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

const PATH: &str = "/app/affiliates";

/// The filter as the address carries it; unknown values fall back to the default.
fn filter_from(q: &leptos_router::params::ParamsMap) -> DirectoryFilter {
    DirectoryFilter {
        state: q.get("state").and_then(|s| AffiliateState::parse(&s)),
        campaign: q.get("campaign").and_then(|c| c.parse::<i64>().ok()).filter(|c| *c > 0).map(CampaignId),
        search: q.get("q").unwrap_or_default(),
        sort: q.get("sort").and_then(|s| DirectorySort::parse(&s)).unwrap_or_default(),
        page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0),
    }
}

/// The address of a filter (defaults left out).
fn href(f: &DirectoryFilter) -> String {
    let mut parts = Vec::new();
    if !f.search.trim().is_empty() {
        parts.push(format!("q={}", encode(f.search.trim())));
    }
    if let Some(state) = f.state {
        parts.push(format!("state={}", state.as_str()));
    }
    if let Some(campaign) = f.campaign {
        parts.push(format!("campaign={}", campaign.0));
    }
    if f.sort != DirectorySort::default() {
        parts.push(format!("sort={}", f.sort.key()));
    }
    if f.page > 0 {
        parts.push(format!("page={}", f.page));
    }
    if parts.is_empty() {
        PATH.to_owned()
    } else {
        format!("{PATH}?{}", parts.join("&"))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass as they are).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[component]
pub fn AffiliateDirectory() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| query.with(filter_from));
    let data = Resource::new(move || filter.get(), |f| affiliate_directory(f));
    view! {
        <Title text="Affiliates · Rekomi"/>
        <div class="page-head">
            <h1>"Affiliates"</h1>
            <A href="/app/invites" attr:class="button secondary">"Invite affiliates"</A>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading affiliates…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <Directory page filter=filter.get_untracked()/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Directory(page: DirectoryPage, filter: DirectoryFilter) -> impl IntoView {
    let DirectoryPage { rows, total, page: current, page_size, campaigns } = page;
    let navigate = use_navigate();
    let search = RwSignal::new(filter.search.clone());
    let state = RwSignal::new(filter.state.map(|s| s.as_str().to_owned()).unwrap_or_default());
    let campaign = RwSignal::new(filter.campaign.map(|c| c.0.to_string()).unwrap_or_default());
    let sort = RwSignal::new(filter.sort.key().to_owned());
    // Once live, the form navigates in the app (a new filter starts at the first page).
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let next = DirectoryFilter {
            search: search.get_untracked(),
            state: AffiliateState::parse(&state.get_untracked()),
            campaign: campaign.get_untracked().parse::<i64>().ok().filter(|c| *c > 0).map(CampaignId),
            sort: DirectorySort::parse(&sort.get_untracked()).unwrap_or_default(),
            page: 0,
        };
        navigate(&href(&next), Default::default());
    };
    let first = i64::from(current) * i64::from(page_size);
    let shown = i64::try_from(rows.len()).unwrap_or(0);
    let at_page = |p: u32| href(&DirectoryFilter { page: p, ..filter.clone() });
    let sorted_by = |s: DirectorySort| href(&DirectoryFilter { sort: s, page: 0, ..filter.clone() });
    let current_sort = filter.sort;
    let header = |label: &'static str, s: DirectorySort| {
        let current = current_sort == s;
        view! {
            <th aria-sort=if current { if s == DirectorySort::Name { "ascending" } else { "descending" } } else { "none" }>
                <A href=sorted_by(s)>{label}{if current { " ▾" } else { "" }}</A>
            </th>
        }
    };
    let filtered = !filter.search.trim().is_empty() || filter.state.is_some() || filter.campaign.is_some();
    view! {
        <form class="card directory-filter" method="get" action=PATH on:submit=submit>
            <div>
                <label for="directory-search">"Search"</label>
                <input id="directory-search" name="q" type="search" placeholder="Name, email or code"
                    bind:value=search/>
            </div>
            <div>
                <label for="directory-state">"State"</label>
                <select id="directory-state" name="state" on:change=move |ev| state.set(event_target_value(&ev))>
                    <option value="" selected=filter.state.is_none()>"Any state"</option>
                    {AffiliateState::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=filter.state == Some(s)>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="directory-campaign">"Campaign"</label>
                <select id="directory-campaign" name="campaign" on:change=move |ev| campaign.set(event_target_value(&ev))>
                    <option value="" selected=filter.campaign.is_none()>"All campaigns"</option>
                    {campaigns.into_iter().map(|(id, name)| view! {
                        <option value=id.0.to_string() selected=filter.campaign == Some(id)>{name}</option>
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="directory-sort">"Sort"</label>
                <select id="directory-sort" name="sort" on:change=move |ev| sort.set(event_target_value(&ev))>
                    {DirectorySort::ALL.into_iter().map(|s| view! {
                        <option value=s.key() selected=filter.sort == s>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="actions"><button type="submit">"Show"</button></div>
        </form>
        <p class="muted" data-testid="directory-count" role="status">
            {if total == 0 {
                if filtered { "No affiliate matches these filters.".to_owned() } else { "No affiliates yet: share a campaign's page or invite people.".to_owned() }
            } else {
                format!("{}–{} of {}", first + 1, first + shown, crate::components::count_of(total, "affiliate", "affiliates"))
            }}
        </p>
        {(total > 0).then(|| view! {
            <div>
                <table tabindex="0" class="grid directory" data-testid="directory">
                    <thead><tr>
                        {header("Affiliate", DirectorySort::Name)}
                        <th>"State"</th>
                        <th>"Campaign"</th>
                        <th>"Code"</th>
                        {header("Clicks", DirectorySort::Clicks)}
                        {header("Orders", DirectorySort::Orders)}
                        {header("Revenue", DirectorySort::Revenue)}
                        {header("Earned", DirectorySort::Earned)}
                        <th>"Klaviyo"</th>
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| {
                            let a = r.affiliate;
                            view! {
                                <tr data-email=a.email.clone()>
                                    <td>
                                        <A href=format!("/app/affiliates/{}", a.id)>{a.full_name.clone()}</A>
                                        <br/><span class="muted small">{a.email.clone()}</span>
                                    </td>
                                    <td><StateBadge state=a.state/></td>
                                    <td>{a.campaign_name.clone()}</td>
                                    <td><code>{a.referral_code.clone().unwrap_or_else(|| "—".to_owned())}</code></td>
                                    <td class="num" data-col="clicks">{r.clicks}</td>
                                    <td class="num" data-col="orders">{r.orders}</td>
                                    <td class="num" data-col="revenue">{r.revenue}</td>
                                    <td class="num" data-col="earned">{r.earned}</td>
                                    <td>
                                        {if a.sync.is_some() {
                                            view! { <SyncBadge affiliate=a.id initial=a.sync.clone()/> }.into_any()
                                        } else {
                                            view! { <span class="muted">"Not synced"</span> }.into_any()
                                        }}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
        <nav class="pager" aria-label="Pages">
            {(current > 0).then(|| view! { <A href=at_page(current - 1)>"Previous"</A> })}
            {(first + shown < total).then(|| view! { <A href=at_page(current + 1)>"Next"</A> })}
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_round_trips_through_the_address() {
        let f = DirectoryFilter {
            state: Some(AffiliateState::Approved),
            campaign: Some(CampaignId(7)),
            search: "ana & bo@x".to_owned(),
            sort: DirectorySort::Revenue,
            page: 2,
        };
        let address = href(&f);
        assert_eq!(address, "/app/affiliates?q=ana%20%26%20bo%40x&state=approved&campaign=7&sort=revenue&page=2");
        assert_eq!(href(&DirectoryFilter::default()), "/app/affiliates");
    }
}
