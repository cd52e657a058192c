//! The Klaviyo sync health panel: counts by state, the last Klaviyo error, and "Sync all approved"
//! for affiliates approved before Klaviyo was connected.

use super::live_sync::use_live_sync;
use crate::api::sync::{check_klaviyo_now, get_sync_health, sync_all_approved};
use crate::api::views::SyncHealth;
use crate::domain::clock::format_utc;
use leptos::prelude::*;

#[component]
pub fn SyncPanel() -> impl IntoView {
    let live = use_live_sync();
    let loaded = Resource::new(|| (), |_| get_sync_health());
    let sync_all = Action::new(|_: &()| sync_all_approved());
    let check = Action::new(|_: &()| check_klaviyo_now());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let initial = loaded.await.ok();
                let health = move || live.and_then(|l| l.health.get()).or_else(|| initial.clone());
                let live_on = move || live.is_some_and(|l| l.connected.get());
                move || health().map(|h| view! { <Panel h live_on=Signal::derive(live_on) sync_all check/> })
            })}
        </Transition>
    }
}

#[component]
fn Panel(
    h: SyncHealth,
    live_on: Signal<bool>,
    sync_all: Action<(), Result<u64, crate::error::AppError>>,
    check: Action<(), Result<SyncHealth, crate::error::AppError>>,
) -> impl IntoView {
    if !h.connected || !h.list_chosen {
        let text = if h.connected {
            "Choose a default Klaviyo list so approved affiliates are added to it."
        } else {
            "Connect Klaviyo so approved affiliates are added to your list within seconds."
        };
        return view! {
            <section class="sync-panel" data-testid="sync-health">
                <p>{text}" "<a href="/app/klaviyo">"Set up Klaviyo"</a></p>
            </section>
        }
        .into_any();
    }
    let counts = [
        ("Queued", h.queued, "queued"),
        ("In flight", h.in_flight, "in-flight"),
        ("Retrying", h.retrying, "retrying"),
        ("Failed", h.failed, "failed"),
        ("Awaiting confirmation", h.awaiting_confirmation, "awaiting"),
        ("In Klaviyo", h.succeeded, "succeeded"),
        ("Not subscribed", h.blocked, "blocked"),
    ];
    let unsynced = h.unsynced;
    let drifted = h.drifted;
    view! {
        <section class="sync-panel" data-testid="sync-health">
            <h2>"Klaviyo sync"
                <span class="muted small">{move || if live_on.get() { " · live" } else { "" }}</span>
            </h2>
            <dl class="counts">
                {counts.into_iter().map(|(label, n, key)| view! {
                    <div class=format!("count {key}{}", if n == 0 { " zero" } else { "" }) data-count=key><dt>{label}</dt><dd>{n}</dd></div>
                }).collect_view()}
            </dl>
            {h.last_error.clone().map(|e| view! {
                <p class="last-error" data-testid="last-sync-error">
                    <strong>"Last Klaviyo error"</strong>
                    {h.last_error_at.map(|at| format!(" ({})", format_utc(at)))}": "{e}
                </p>
            })}
            <p class="small" data-testid="klaviyo-checks">
                {match (h.checking, h.checked_at) {
                    (Some(n), _) => format!(
                        "Checking every synced affiliate against Klaviyo now ({} so far). ",
                        n
                    ),
                    (None, Some(at)) => format!(
                        "Membership and consent last read back from Klaviyo {}. ",
                        format_utc(at)
                    ),
                    (None, None) => "Not checked against Klaviyo yet. ".to_owned(),
                }}
                {h.next_check_at.filter(|_| h.checking.is_none()).map(|at| format!("Next check {}. ", format_utc(at)))}
                <button class="secondary" disabled=move || check.pending().get() on:click=move |_| { check.dispatch(()); }>
                    "Check now"
                </button>
                {move || check.value().get().and_then(Result::err).map(|e| view! {
                    <span class="field-error" role="alert">" "{e.message}</span>
                })}
            </p>
            <Show when=move || { drifted > 0 }>
                <p class="drift" data-testid="drifted">
                    <a href="/app/queue?drift=1">
                        {crate::components::count_of(drifted, "affiliate changed", "affiliates changed")}
                        " in Klaviyo"
                    </a>
                    " (unsubscribed, suppressed, removed from the list or deleted there). Klaviyo holds their consent: \
                     Rekomi leaves them as they are and never subscribes them again."
                </p>
            </Show>
            <Show when=move || { unsynced > 0 }>
                <p>
                    {crate::components::count_of(unsynced, "approved affiliate was", "approved affiliates were")}
                    " never synced (approved before Klaviyo was set up). "
                    <button disabled=move || sync_all.pending().get() on:click=move |_| { sync_all.dispatch(()); }>
                        "Sync all approved"
                    </button>
                </p>
            </Show>
            {move || sync_all.value().get().map(|r| match r {
                Ok(n) => view! {
                    <p class="saved" role="status">
                        {crate::components::count_of(i64::try_from(n).unwrap_or(i64::MAX), "affiliate", "affiliates")}
                        " queued for Klaviyo."
                    </p>
                }.into_any(),
                Err(e) => view! { <p class="field-error" role="alert">{e.message}</p> }.into_any(),
            })}
        </section>
    }
    .into_any()
}
