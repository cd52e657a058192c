//! Home: where a merchant lands after signing in. Until the program is live, a checklist that
//! ticks itself from real state leads through the setup; below it, the figures of the chosen
//! period (kept in `?days=`, so a reload or a shared link shows the same period).

use crate::api::overview::home_overview;
use crate::api::views::{Overview, SetupStep, SyncHealth, OVERVIEW_DAYS};
use crate::components::count_of;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

const DEFAULT_DAYS: u32 = 30;

#[component]
pub fn Home() -> impl IntoView {
    let query = use_query_map();
    let days = Memo::new(move |_| {
        query.with(|q| q.get("days").and_then(|d| d.parse::<u32>().ok())).filter(|d| OVERVIEW_DAYS.contains(d))
    });
    let data = Resource::new(move || days.get().unwrap_or(DEFAULT_DAYS), home_overview);
    view! {
        <Title text="Home · Rekomi"/>
        <div class="page-head"><h1>"Home"</h1></div>
        <Transition fallback=|| view! { <p class="loading">"Loading your program…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(o) => view! { <OverviewView o/> }.into_any(),
                    Err(e) => view! { <div class="banner error" role="alert">{e.message}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OverviewView(o: Overview) -> impl IntoView {
    let Overview { days, steps, landing_url, clicks, orders, revenue, earned, paid, owed, waiting, unconfirmed, sync } =
        o;
    let left = steps.iter().filter(|s| !s.done).count();
    let navigate = use_navigate();
    view! {
        {(left > 0).then(|| view! { <Checklist steps landing_url=landing_url.clone()/> })}
        {(left == 0).then(|| view! {
            <p class="banner success" data-testid="live">"Your program is live: every setup step is done."</p>
        })}
        <section class="figures-section">
            <div class="section-head">
                <h2>{format!("Last {days} days")}</h2>
                // A GET form to the same address; choosing a period navigates without reloading.
                <form method="get" action="/app" class="period">
                    <label for="home-days">"Period"</label>
                    <select id="home-days" name="days" on:change=move |ev| {
                        navigate(&format!("/app?days={}", event_target_value(&ev)), Default::default());
                    }>
                        {OVERVIEW_DAYS.into_iter().map(|d| view! {
                            <option value=d.to_string() selected=d == days>{format!("Last {d} days")}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="secondary">"Show"</button>
                </form>
            </div>
            <dl class="figures">
                <Figure label="Clicks" value=clicks.to_string() testid="clicks"/>
                <Figure label="Orders" value=orders.to_string() testid="orders"/>
                <Figure label="Revenue (less refunds)" value=revenue testid="revenue"/>
                <Figure label="Commission earned" value=earned testid="earned"/>
                <Figure label="Commission paid" value=paid testid="paid"/>
                <Figure label="Owed now (ready to pay)" value=owed testid="owed"/>
            </dl>
            <p class="small">
                <A href="/app/results">"Results by campaign and affiliate"</A>" · "
                <A href="/app/payouts">"Payouts"</A>
            </p>
        </section>
        <section>
            <h2>"Needs you"</h2>
            <ul class="plain" data-testid="needs-you">
                <li data-testid="waiting">
                    {if waiting == 0 {
                        view! { "No application is waiting for review." }.into_any()
                    } else {
                        view! { <A href="/app/queue">{count_of(waiting, "application waits", "applications wait")}" for review"</A> }.into_any()
                    }}
                    {(unconfirmed > 0).then(|| format!(
                        " ({} still to confirm their email)",
                        count_of(unconfirmed, "applicant", "applicants")
                    ))}
                </li>
                <li data-testid="sync-summary">{sync_summary(&sync)}</li>
            </ul>
        </section>
    }
}

#[component]
fn Figure(label: &'static str, value: String, testid: &'static str) -> impl IntoView {
    view! {
        <div class="figure" data-testid=testid><dt>{label}</dt><dd>{value}</dd></div>
    }
}

#[component]
fn Checklist(steps: Vec<SetupStep>, landing_url: Option<String>) -> impl IntoView {
    let done = steps.iter().filter(|s| s.done).count();
    let total = steps.len();
    view! {
        <section class="checklist-section">
            <h2>"Get your program live"</h2>
            <p class="muted">{format!("{done} of {total} done. Each step ticks itself once Rekomi sees it happen.")}</p>
            <ol class="checklist" data-testid="checklist">
                {steps.into_iter().map(|s| {
                    let share = (s.key == "share").then(|| landing_url.clone()).flatten();
                    view! {
                        <li data-step=s.key.clone() data-done=s.done.to_string() class:done=s.done>
                            <span class="tick" aria-hidden="true">{if s.done { "✓" } else { "" }}</span>
                            <div>
                                {if s.done {
                                    view! { <strong>{s.title.clone()}</strong><span class="sr-only">" (done)"</span> }.into_any()
                                } else {
                                    view! { <A href=s.href.clone()><strong>{s.title.clone()}</strong></A> }.into_any()
                                }}
                                <p class="small muted">{s.hint.clone()}</p>
                                {share.map(|url| view! { <ShareLink url/> })}
                            </div>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

/// The landing page's full address, with a copy button.
#[component]
fn ShareLink(url: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = url.clone();
    view! {
        <div class="share-link">
            <input readonly value=url aria-label="Your landing page's address" data-testid="landing-url"/>
            <button class="secondary" on:click=move |_| {
                crate::components::copy_text(&copy);
                copied.set(true);
            }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
        </div>
    }
}

fn sync_summary(h: &SyncHealth) -> String {
    if !h.connected {
        return "Klaviyo isn't connected: approved affiliates are not synced.".to_owned();
    }
    let waiting = h.queued + h.in_flight + h.retrying + h.awaiting_confirmation;
    let mut parts = vec![format!("{} in Klaviyo", h.succeeded)];
    if waiting > 0 {
        parts.push(format!("{waiting} on the way"));
    }
    if h.failed > 0 {
        parts.push(count_of(h.failed, "failed sync to retry", "failed syncs to retry"));
    }
    if h.drifted > 0 {
        parts.push(count_of(h.drifted, "changed in Klaviyo", "changed in Klaviyo"));
    }
    if h.unsynced > 0 {
        parts.push(format!("{} never synced", h.unsynced));
    }
    format!("Klaviyo sync: {}.", parts.join(" · "))
}
