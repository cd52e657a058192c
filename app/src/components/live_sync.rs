//! Live Klaviyo sync status. The merchant layout opens one server-sent-events feed
//! (`/api/sync/events`) and keeps the latest state of each changed sync and the health panel's
//! counts in context; badges and panels read from it and fall back to what the page loaded with.

use crate::api::views::{SyncHealth, SyncView};
use crate::domain::clock::format_utc;
use crate::domain::{AffiliateId, SyncState};
use leptos::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Copy)]
pub struct LiveSync {
    pub syncs: RwSignal<HashMap<AffiliateId, SyncView>>,
    pub health: RwSignal<Option<SyncHealth>>,
    /// The feed is open (shown as "live").
    pub connected: RwSignal<bool>,
}

impl LiveSync {
    /// The newest known sync of an affiliate: from the feed if it changed since `initial` was loaded.
    pub fn latest(&self, affiliate: AffiliateId, initial: Option<&SyncView>) -> Option<SyncView> {
        let live = self.syncs.with(|m| m.get(&affiliate).cloned());
        match (live, initial) {
            (Some(live), Some(initial)) if initial.updated_at > live.updated_at => Some(initial.clone()),
            (Some(live), _) => Some(live),
            (None, initial) => initial.cloned(),
        }
    }
}

/// Provides [`LiveSync`] and, in the browser, opens the feed.
pub fn provide_live_sync() {
    let live =
        LiveSync { syncs: RwSignal::new(HashMap::new()), health: RwSignal::new(None), connected: RwSignal::new(false) };
    provide_context(live);
    Effect::new(move |opened: Option<bool>| {
        if opened.is_none() {
            open_feed(live);
        }
        true
    });
}

pub fn use_live_sync() -> Option<LiveSync> {
    use_context::<LiveSync>()
}

#[cfg(feature = "hydrate")]
fn open_feed(live: LiveSync) {
    use crate::api::views::SyncUpdate;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let Ok(source) = web_sys::EventSource::new("/api/sync/events") else { return };
    let on_sync = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        let Some(text) = event.data().as_string() else { return };
        let Ok(update) = serde_json::from_str::<SyncUpdate>(&text) else { return };
        live.connected.set(true);
        live.health.set(Some(update.health));
        if !update.changed.is_empty() {
            live.syncs.update(|map| {
                for sync in update.changed {
                    let newer = map.get(&sync.affiliate_id).is_none_or(|known| known.updated_at <= sync.updated_at);
                    if newer {
                        map.insert(sync.affiliate_id, sync);
                    }
                }
            });
        }
    });
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.connected.set(false));
    let _ = source.add_event_listener_with_callback("sync", on_sync.as_ref().unchecked_ref());
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The layout lives as long as the page; the browser reconnects the feed by itself.
    on_sync.forget();
    on_error.forget();
}

#[cfg(not(feature = "hydrate"))]
fn open_feed(_live: LiveSync) {}

/// The sync state of one affiliate, live.
#[component]
pub fn SyncBadge(affiliate: AffiliateId, initial: Option<SyncView>) -> impl IntoView {
    let live = use_live_sync();
    let current = move || match live {
        Some(live) => live.latest(affiliate, initial.as_ref()),
        None => initial.clone(),
    };
    move || {
        current().map(|sync| {
            let detail = match (sync.state, sync.next_at, sync.drift_at) {
                (_, _, Some(at)) if sync.drift.is_some() && !sync.leaving => Some(format!("noticed {}", format_utc(at))),
                (SyncState::Retrying, Some(at), _) => Some(format!("next attempt {}", format_utc(at))),
                _ => None,
            };
            let drift = sync.drift.filter(|_| !sync.leaving).map(|d| d.as_str());
            view! {
                <span class="sync" data-sync-state=sync.state.as_str() data-drift=drift>
                    <span class=format!("badge sync-{}", sync.state.as_str()) title=sync.reason.clone().unwrap_or_default()>
                        {sync.label()}
                    </span>
                    {detail.map(|d| view! { <span class="muted small">" "{d}</span> })}
                </span>
            }
        })
    }
}
