//! The events worker: sends queued Klaviyo events (`POST /api/events`) under a lease, paced and
//! retried like syncs. Klaviyo answers 202 and deduplicates on `unique_id`, so a resend after a
//! crash is counted once.

use super::calls::Calls;
use super::plan::retry_delay;
use super::SyncSignals;
use crate::klaviyo::pace::Pacer;
use crate::klaviyo::wire::NewEvent;
use crate::klaviyo::{Client, KlaviyoError, Operation};
use crate::services::klaviyo::{KlaviyoConnections, KlaviyoServiceError};
use crate::store::events::{self as store, ClaimedEvent, EventOutcome};
use crate::store::{now_ms, Db};
use app::domain::MerchantId;
use std::collections::BTreeMap;
use std::time::Duration;

const CLAIM_LIMIT: i64 = 500;
const IDLE_POLL: Duration = Duration::from_millis(250);
/// Tries before an event is given up (about a day of backoff at the cap).
const MAX_ATTEMPTS: i64 = 12;

pub struct EventWorker {
    /// Where this instance is reached: an approval's `link` is made from it when sent.
    pub public_base: String,
    pub db: Db,
    pub client: Client,
    pub connections: KlaviyoConnections,
    pub pacer: Pacer,
    pub signals: SyncSignals,
    pub lease: Duration,
    pub owner: String,
}

impl EventWorker {
    pub async fn run(self) {
        let mut claims: u64 = 0;
        loop {
            let now = now_ms();
            claims += 1;
            let token = format!("{}#e{claims}", self.owner);
            let lease_until = now + i64::try_from(self.lease.as_millis()).unwrap_or(60_000);
            let claimed = match store::claim(&self.db, &token, now, lease_until, CLAIM_LIMIT).await {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::warn!(%error, "could not claim events");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    () = self.signals.events.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            let mut by_merchant: BTreeMap<MerchantId, Vec<ClaimedEvent>> = BTreeMap::new();
            for event in claimed {
                by_merchant.entry(event.merchant_id).or_default().push(event);
            }
            for (merchant, events) in by_merchant {
                let outcomes = self.send(merchant, events).await;
                if let Err(error) = store::finish(&self.db, &token, &outcomes, now_ms()).await {
                    tracing::warn!(%error, "could not save event outcomes; they are sent again after the lease");
                }
                self.signals.changed(merchant);
            }
        }
    }

    async fn send(&self, merchant: MerchantId, events: Vec<ClaimedEvent>) -> Vec<EventOutcome> {
        let (key, connection) = match self.connections.key(merchant).await {
            Ok(found) => found,
            Err(error) => {
                let reason = match error {
                    KlaviyoServiceError::NotConnected => "Klaviyo is not connected; copy the invite link instead.",
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
        let mut outcomes = Vec::with_capacity(events.len());
        let mut refused_scope = false;
        let mut accepted = false;
        for event in &events {
            let mut properties: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&event.properties).unwrap_or_default();
            let (value, value_currency) = self.complete(&mut properties);
            let new = NewEvent {
                metric: event.metric.clone(),
                email: event.email.clone(),
                unique_id: event.unique_id.clone(),
                properties,
                value,
                value_currency,
            };
            let sent = calls.run(Operation::CreateEvent, &[], || self.client.create_event(&key, &new)).await;
            outcomes.push(match sent {
                Ok(()) => {
                    accepted = true;
                    EventOutcome {
                        id: event.id,
                        state: "sent",
                        reason: None,
                        attempts: event.attempts + 1,
                        due_at: None,
                        sent_at: Some(now_ms()),
                    }
                }
                Err(error @ KlaviyoError::MissingScope { .. }) => {
                    refused_scope = true;
                    failed(event, &format!("{} Then resend the invite.", error.merchant_message()))
                }
                Err(error) if error.is_retryable() && event.attempts + 1 < MAX_ATTEMPTS => {
                    later(event, error.retry_after(), &error.merchant_message())
                }
                Err(error) => failed(event, &error.merchant_message()),
            });
        }
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

impl EventWorker {
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

fn later(event: &ClaimedEvent, retry_after: Option<Duration>, reason: &str) -> EventOutcome {
    let wait = retry_delay(event.attempts + 1, retry_after);
    EventOutcome {
        id: event.id,
        state: "retrying",
        reason: Some(reason.to_owned()),
        attempts: event.attempts + 1,
        due_at: Some(now_ms() + i64::try_from(wait.as_millis()).unwrap_or(300_000)),
        sent_at: None,
    }
}

fn failed(event: &ClaimedEvent, reason: &str) -> EventOutcome {
    EventOutcome {
        id: event.id,
        state: "failed",
        reason: Some(reason.to_owned()),
        attempts: event.attempts + 1,
        due_at: None,
        sent_at: None,
    }
}
