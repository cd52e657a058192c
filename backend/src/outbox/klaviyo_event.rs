//! Job kind: Klaviyo events, a thousand to a call (`POST /api/event-bulk-create-jobs`, one alone
//! through `POST /api/events`), paced and retried like syncs. Klaviyo answers 202 and deduplicates
//! on `unique_id`, so a resend after a crash is counted once; a batch it refuses is sent event by
//! event, so one bad event never holds back the rest. A merchant's events go out one batch after
//! another (one Klaviyo account's pace); merchants go side by side.

use super::klaviyo_sync::calls::Calls;
use super::klaviyo_sync::plan::retry_delay;
use super::runner::{Job, RunnerSettings};
use crate::klaviyo::client::MAX_BULK_EVENTS;
use crate::klaviyo::pace::Pacer;
use crate::klaviyo::wire::NewEvent;
use crate::klaviyo::{Client, KlaviyoError, Operation};
use crate::services::klaviyo::{KlaviyoConnections, KlaviyoServiceError};
use crate::store::events::{self as store, ClaimedEvent, EventOutcome};
use crate::store::{now_ms, Claim, Db, DbResult};
use shared::domain::{EventState, MerchantId};
use std::time::Duration;
use tokio::sync::Notify;

/// How long one claim spends sending events before leaving the rest to the next (well inside the
/// default 60 s lease).
const EVENTS_WITHIN: Duration = Duration::from_secs(25);

/// Tries before an event is given up (about a day of backoff at the cap).
const MAX_ATTEMPTS: i64 = 12;

pub struct EventJob {
    /// Where this instance is reached: an approval's `link` is made from it when sent.
    pub(super) public_base: String,
    pub(super) db: Db,
    pub(super) client: Client,
    pub(super) connections: KlaviyoConnections,
    pub(super) pacer: Pacer,
}

impl EventJob {
    pub fn runner(lease: Duration) -> RunnerSettings {
        RunnerSettings {
            // A merchant's thousand due events make one bulk call.
            claim_limit: 2_000,
            per_merchant: MAX_BULK_EVENTS as i64,
            slots: 4,
            per_merchant_slots: 1,
            lease,
            idle_poll: Duration::from_millis(250),
        }
    }
}

impl Job for EventJob {
    type Item = ClaimedEvent;
    type Group = ();
    const NAME: &'static str = "events";
    const TABLE: &'static str = "klaviyo_events";

    fn wake(&self) -> &'static Notify {
        &super::EVENTS
    }

    async fn claim(&self, db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedEvent>> {
        store::claim(db, claim).await
    }

    fn id(item: &ClaimedEvent) -> i64 {
        item.id
    }

    fn group(item: &ClaimedEvent) -> (MerchantId, ()) {
        (item.merchant_id, ())
    }

    async fn work(&self, token: &str, merchant: MerchantId, (): (), events: Vec<ClaimedEvent>) {
        let outcomes = self.send(merchant, events).await;
        if let Err(error) = store::finish(&self.db, token, &outcomes, now_ms()).await {
            tracing::warn!(%error, "could not save event outcomes; they are sent again after the lease");
        }
        super::changed(merchant);
    }
}

impl EventJob {
    async fn send(&self, merchant: MerchantId, events: Vec<ClaimedEvent>) -> Vec<EventOutcome> {
        let (key, connection) = match self.connections.key(merchant).await {
            Ok(found) => found,
            Err(KlaviyoServiceError::NotConnected) => {
                // Disconnected after these were queued: an invite says so at once (its link can be
                // copied instead); lifecycle events wait for the next connection, as the merchant chose.
                let keep = store::keeps_offline(&self.db, merchant).await.unwrap_or(true);
                return events
                    .iter()
                    .map(|e| match (e.invite_id, keep) {
                        (None, true) => kept(e),
                        (None, false) => failed(e, "Dropped: it happened while Klaviyo was disconnected."),
                        (Some(_), _) => failed(e, "Klaviyo is not connected; copy the invite link instead."),
                    })
                    .collect();
            }
            Err(error) => {
                let reason = match error {
                    KlaviyoServiceError::KeyUnreadable => {
                        "The saved Klaviyo key can't be read; paste it again on the Klaviyo page, then resend."
                    }
                    other => {
                        tracing::warn!(error = %other, "could not load the Klaviyo key for events");
                        return events
                            .iter()
                            .map(|e| later(e, None, "Rekomi could not load the Klaviyo key."))
                            .collect();
                    }
                };
                return events.iter().map(|e| failed(e, reason)).collect();
            }
        };
        let mut calls = Calls::new(self.pacer.clone(), connection.account_id.clone(), merchant);
        let mut tally = Tally::default();
        let mut outcomes = Vec::with_capacity(events.len());
        // Klaviyo creates the profile of an event's email: never for someone deleted there.
        let deleted: std::collections::HashSet<String> =
            store::deleted_in_klaviyo(&self.db, merchant).await.unwrap_or_default().into_iter().collect();
        let (gone, events): (Vec<&ClaimedEvent>, Vec<&ClaimedEvent>) =
            events.iter().partition(|e| deleted.contains(&e.email.to_lowercase()));
        outcomes.extend(
            gone.into_iter().map(|e| {
                failed(e, "Not sent: their profile was deleted in Klaviyo, and an event would create it again.")
            }),
        );
        let built: Vec<(&ClaimedEvent, NewEvent)> = events.into_iter().map(|e| (e, self.build(e))).collect();
        let started = std::time::Instant::now();
        // One bulk call per thousand events; a lone event, and every event of a batch Klaviyo
        // refuses, goes on its own, so one bad event never holds back the others.
        for chunk in built.chunks(MAX_BULK_EVENTS) {
            if chunk.len() > 1 {
                let news: Vec<NewEvent> = chunk.iter().map(|(_, n)| n.clone()).collect();
                let sent =
                    calls.run(Operation::CreateEventBulk, &[], || self.client.create_events_bulk(&key, &news)).await;
                match sent {
                    Ok(()) => {
                        tally.accepted = true;
                        outcomes.extend(chunk.iter().map(|(e, _)| sent_now(e)));
                        continue;
                    }
                    Err(error) if matches!(error, KlaviyoError::MissingScope { .. }) => {
                        tally.refused_scope = true;
                        let reason = format!("{} Then resend the invite.", error.merchant_message());
                        outcomes.extend(chunk.iter().map(|(e, _)| failed(e, &reason)));
                        continue;
                    }
                    Err(error) if error.is_retryable_when_idempotent() => {
                        outcomes.extend(chunk.iter().map(|(e, _)| self.after_error(e, &error)));
                        continue;
                    }
                    Err(error) => {
                        tracing::info!(%error, events = chunk.len(), "a bulk of events was refused; sending each alone");
                    }
                }
            }
            for (event, new) in chunk {
                // A refused bulk sent one by one could outlast the lease: the rest go in the next claim.
                if started.elapsed() > EVENTS_WITHIN {
                    outcomes.push(EventOutcome {
                        id: event.id,
                        state: EventState::Queued,
                        reason: None,
                        attempts: event.attempts,
                        due_at: Some(now_ms()),
                        sent_at: None,
                    });
                    continue;
                }
                let sent = calls.run(Operation::CreateEvent, &[], || self.client.create_event(&key, new)).await;
                outcomes.push(match sent {
                    Ok(()) => {
                        tally.accepted = true;
                        sent_now(event)
                    }
                    Err(error @ KlaviyoError::MissingScope { .. }) => {
                        tally.refused_scope = true;
                        failed(event, &format!("{} Then resend the invite.", error.merchant_message()))
                    }
                    Err(error) => self.after_error(event, &error),
                });
            }
        }
        let (refused_scope, accepted) = (tally.refused_scope, tally.accepted);
        let proven = if refused_scope {
            Some(Err(Operation::CreateEvent))
        } else {
            (accepted && connection.scope_checks.contains("EventsFull=ReadVerifiedWritePending"))
                .then_some(Ok(Operation::CreateEvent))
        };
        if let Some(write) = proven {
            if let Err(e) = self.connections.record_write_check(merchant, write).await {
                tracing::warn!(error = %e, "could not record what the key may write");
            }
        }
        outcomes
    }
}

/// What the sends proved about the key's write permission.
#[derive(Default)]
struct Tally {
    refused_scope: bool,
    accepted: bool,
}

impl EventJob {
    /// The event as Klaviyo gets it, completed at send time.
    fn build(&self, event: &ClaimedEvent) -> NewEvent {
        let mut properties: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&event.properties).unwrap_or_default();
        let (value, value_currency) = self.complete(&mut properties);
        NewEvent {
            metric: event.metric.clone(),
            email: event.email.clone(),
            unique_id: event.unique_id.clone(),
            properties,
            value,
            value_currency,
        }
    }

    /// A send that failed: tried again later when it may work then, else failed with Klaviyo's word.
    fn after_error(&self, event: &ClaimedEvent, error: &KlaviyoError) -> EventOutcome {
        if error.is_retryable_when_idempotent() && event.attempts + 1 < MAX_ATTEMPTS {
            later(event, error.retry_after(), &error.merchant_message())
        } else {
            failed(event, &error.merchant_message())
        }
    }

    /// Fills in what the outbox row leaves to send time: the tracking `link` of a `referral_code`,
    /// and the event's monetary `value` (Klaviyo sums it in flows and reports), taken out of the
    /// properties.
    fn complete(&self, map: &mut serde_json::Map<String, serde_json::Value>) -> (Option<f64>, Option<String>) {
        if let Some(code) = map.get("referral_code").and_then(|c| c.as_str()).map(str::to_owned) {
            map.entry("link").or_insert_with(|| format!("{}/r/{code}", self.public_base).into());
        }
        let value = map.remove("value").and_then(|v| v.as_f64());
        let currency = value.and(map.get("currency").and_then(|c| c.as_str()).map(str::to_owned));
        (value, currency)
    }
}

/// Kept, not due, until Klaviyo is connected again.
fn kept(event: &ClaimedEvent) -> EventOutcome {
    EventOutcome {
        id: event.id,
        state: EventState::Queued,
        reason: Some(store::KEPT.to_owned()),
        attempts: event.attempts,
        due_at: None,
        sent_at: None,
    }
}

fn sent_now(event: &ClaimedEvent) -> EventOutcome {
    EventOutcome {
        id: event.id,
        state: EventState::Sent,
        reason: None,
        attempts: event.attempts + 1,
        due_at: None,
        sent_at: Some(now_ms()),
    }
}

fn later(event: &ClaimedEvent, retry_after: Option<Duration>, reason: &str) -> EventOutcome {
    let wait = retry_delay(event.attempts + 1, retry_after);
    EventOutcome {
        id: event.id,
        state: EventState::Retrying,
        reason: Some(reason.to_owned()),
        attempts: event.attempts + 1,
        due_at: Some(now_ms() + i64::try_from(wait.as_millis()).unwrap_or(300_000)),
        sent_at: None,
    }
}

fn failed(event: &ClaimedEvent, reason: &str) -> EventOutcome {
    EventOutcome {
        id: event.id,
        state: EventState::Failed,
        reason: Some(reason.to_owned()),
        attempts: event.attempts + 1,
        due_at: None,
        sent_at: None,
    }
}
