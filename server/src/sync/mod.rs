//! The Klaviyo sync engine: a tokio task per server that claims due rows of the outbox
//! (`klaviyo_syncs`) under a lease, batches them per merchant and list, sends, verifies by reading
//! back, and writes each row's next state with the log of calls made for it.
//!
//! Several instances on one PostgreSQL database share the queue: claiming skips rows another
//! instance holds, and a lease that runs out (the instance died) frees its rows for the others.
//! Every step is safe to repeat, since a send reads Klaviyo's state first.

mod batch;
mod calls;
pub mod events;
pub mod plan;

use crate::klaviyo::pace::Pacer;
use crate::klaviyo::Client;
use crate::services::klaviyo::{KlaviyoConnections, KlaviyoServiceError};
use crate::store::sync::{self as store, ClaimedSync, Outcome};
use crate::store::{now_ms, Db};
use app::domain::{MerchantId, SyncState};
use batch::Batch;
use calls::Calls;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, Notify, Semaphore};

/// Rows claimed at once; also the largest batch (a subscribe job takes 1,000).
const CLAIM_LIMIT: i64 = 1_000;
/// Batches worked at the same time by one instance.
const CONCURRENT_BATCHES: usize = 4;
/// How often an idle worker looks for due rows (other instances' approvals, scheduled checks).
const IDLE_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claim holds rows; a crashed instance's rows return after it.
    pub lease: Duration,
    /// How long an accepted subscribe may take to show up before it is sent again.
    pub verify_timeout: Duration,
    /// Sends (including resends of unapplied jobs) before a sync is marked failed.
    pub max_attempts: u32,
    /// Run the worker in this process (off: the instance only serves pages).
    pub worker: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { lease: Duration::from_secs(60), verify_timeout: Duration::from_secs(600), max_attempts: 8, worker: true }
    }
}

/// Wakes the worker when something is queued, and tells live pages that a merchant's syncs moved.
#[derive(Clone)]
pub struct SyncSignals {
    work: Arc<Notify>,
    /// Wakes the events worker.
    events: Arc<Notify>,
    changes: broadcast::Sender<MerchantId>,
}

impl Default for SyncSignals {
    fn default() -> Self {
        Self { work: Arc::new(Notify::new()), events: Arc::new(Notify::new()), changes: broadcast::channel(256).0 }
    }
}

impl SyncSignals {
    /// Something was queued for `merchant`: work it now rather than at the next poll.
    pub fn queued(&self, merchant: MerchantId) {
        self.work.notify_one();
        self.changed(merchant);
    }

    /// Events were queued: send them now rather than at the next poll.
    pub fn events_queued(&self) {
        self.events.notify_one();
    }

    pub fn changed(&self, merchant: MerchantId) {
        // No receiver (no page open) is fine.
        let _ = self.changes.send(merchant);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<MerchantId> {
        self.changes.subscribe()
    }
}

#[derive(Clone)]
pub struct Engine {
    db: Db,
    client: Client,
    connections: KlaviyoConnections,
    pacer: Pacer,
    signals: SyncSignals,
    settings: Settings,
    /// Names this instance's leases (each claim adds a number).
    owner: String,
}

/// Rows of one merchant and list in one phase.
struct Group {
    merchant: MerchantId,
    list_id: String,
    sending: bool,
    rows: Vec<ClaimedSync>,
}

impl Engine {
    pub fn new(db: Db, connections: KlaviyoConnections, signals: SyncSignals, settings: Settings) -> Self {
        let owner = format!("{}-{}-{:08x}", hostname(), std::process::id(), rand::random::<u32>());
        Self {
            client: connections.client().clone(),
            db,
            connections,
            pacer: Pacer::default(),
            signals,
            settings,
            owner,
        }
    }

    /// The worker that sends queued Klaviyo events, sharing this engine's pacing and lease.
    /// This instance's lease owner name, shared by its workers.
    pub fn owner(&self) -> String {
        self.owner.clone()
    }

    /// `public_base` makes the absolute tracking links events carry.
    pub fn events(&self, public_base: String) -> events::EventWorker {
        events::EventWorker {
            public_base,
            db: self.db.clone(),
            client: self.client.clone(),
            connections: self.connections.clone(),
            pacer: self.pacer.clone(),
            signals: self.signals.clone(),
            lease: self.settings.lease,
            owner: self.owner.clone(),
        }
    }

    /// Claims and works batches until the task is dropped.
    pub async fn run(self) {
        tracing::info!(owner = %self.owner, "Klaviyo sync worker started");
        let slots = Arc::new(Semaphore::new(CONCURRENT_BATCHES));
        let mut claims: u64 = 0;
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let now = now_ms();
            let lease_until = now + millis(self.settings.lease);
            // Each claim has its own token, so a task whose lease ran out can't save over the task
            // that took its rows next, in this instance or another.
            claims += 1;
            let token = format!("{}#{claims}", self.owner);
            let claimed = match store::claim(&self.db, &token, now, lease_until, CLAIM_LIMIT).await {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::warn!(%error, "could not claim sync rows");
                    drop(slot);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                drop(slot);
                tokio::select! {
                    () = self.signals.work.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            let engine = self.clone();
            // Groups not started while a third of the lease is left are given back, not worked late.
            let start_by = lease_until - millis(self.settings.lease) / 3;
            tokio::spawn(async move {
                let mut groups = groups(claimed).into_iter();
                for group in groups.by_ref() {
                    if now_ms() > start_by {
                        let rest: Vec<i64> =
                            std::iter::once(group).chain(groups.by_ref()).flat_map(|g| g.rows).map(|r| r.id).collect();
                        if let Err(error) = store::release(&engine.db, &token, &rest).await {
                            tracing::warn!(%error, "could not give rows back; they return after the lease");
                        }
                        engine.signals.work.notify_one();
                        break;
                    }
                    engine.work(&token, group).await;
                }
                drop(slot);
            });
        }
    }

    async fn work(&self, token: &str, group: Group) {
        let merchant = group.merchant;
        let count = group.rows.len();
        let (key, connection) = match self.connections.key(merchant).await {
            Ok(found) => found,
            Err(error) => {
                let reason = match error {
                    KlaviyoServiceError::NotConnected => {
                        "Klaviyo is not connected. Connect it on the Klaviyo page, then use \"Sync all approved\"."
                            .to_owned()
                    }
                    KlaviyoServiceError::KeyUnreadable => {
                        "The saved Klaviyo key can't be read with this server's secret key. Paste the key again on \
                         the Klaviyo page, then retry."
                            .to_owned()
                    }
                    other => {
                        tracing::warn!(error = %other, "could not load the Klaviyo key; rows return after the lease");
                        return;
                    }
                };
                let outcomes: Vec<Outcome> = group.rows.iter().map(|r| stopped(r, &reason)).collect();
                self.save(token, merchant, &outcomes, &[], Some(reason)).await;
                return;
            }
        };
        let mut batch = Batch {
            client: &self.client,
            key: &key,
            list_id: &group.list_id,
            settings: &self.settings,
            calls: Calls::new(self.pacer.clone(), connection.account_id.clone(), merchant),
            error: None,
            error_message: None,
            subscribe_accepted: false,
        };
        let started = std::time::Instant::now();
        let outcomes = if group.sending { batch.send(group.rows).await } else { batch.verify(group.rows).await };
        if outcomes.len() < count {
            tracing::warn!(claimed = count, settled = outcomes.len(), "rows left without an outcome");
        }
        let log = std::mem::take(&mut batch.calls.log);
        let error = batch.error.take();
        if let Some(crate::klaviyo::KlaviyoError::MissingScope { operation }) = &error {
            if operation.method() != reqwest::Method::GET {
                if let Err(e) = self.connections.record_write_check(merchant, Err(*operation)).await {
                    tracing::warn!(error = %e, "could not record the missing permission");
                }
            }
        } else if batch.subscribe_accepted
            && ["ListsFull", "ProfilesFull", "SubscriptionsFull"]
                .iter()
                .any(|s| connection.scope_checks.contains(&format!("{s}=ReadVerifiedWritePending")))
        {
            if let Err(e) =
                self.connections.record_write_check(merchant, Ok(crate::klaviyo::Operation::Subscribe)).await
            {
                tracing::warn!(error = %e, "could not record the proven permissions");
            }
        }
        tracing::debug!(
            merchant.id = %merchant, rows = count, sending = group.sending, calls = log.len(),
            elapsed_ms = started.elapsed().as_millis() as u64, "sync batch worked"
        );
        let message = batch.error_message.take().or_else(|| error.map(|e| e.merchant_message()));
        self.save(token, merchant, &outcomes, &log, message).await;
    }

    async fn save(
        &self,
        token: &str,
        merchant: MerchantId,
        outcomes: &[Outcome],
        log: &[store::LogRow],
        error: Option<String>,
    ) {
        let now = now_ms();
        match store::finish(&self.db, token, outcomes, log, now).await {
            Ok(updated) if updated < outcomes.len() as u64 => {
                tracing::info!(
                    lost = outcomes.len() as u64 - updated,
                    "some rows changed hands before they were saved"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not save sync outcomes; the rows return after the lease"),
        }
        if let Some(message) = error {
            if let Err(e) = store::record_error(&self.db, merchant, &message, now).await {
                tracing::warn!(error = %e, "could not record the last sync error");
            }
        }
        if outcomes.iter().any(|o| o.due_at.is_some_and(|d| d <= now + 50)) {
            self.signals.work.notify_one();
        }
        self.signals.changed(merchant);
    }
}

/// A row stopped before any call was made (no key): failed, with the reason.
fn stopped(row: &ClaimedSync, reason: &str) -> Outcome {
    Outcome { state: SyncState::Failed, reason: Some(reason.to_owned()), due_at: None, ..batch::base(row) }
}

/// Splits claimed rows by merchant, list and phase (sending or verifying).
fn groups(rows: Vec<ClaimedSync>) -> Vec<Group> {
    let mut map: BTreeMap<(MerchantId, String, bool), Vec<ClaimedSync>> = BTreeMap::new();
    for row in rows {
        let sending = row.state == SyncState::Sending.as_str();
        map.entry((row.merchant_id, row.list_id.clone(), sending)).or_default().push(row);
    }
    map.into_iter().map(|((merchant, list_id, sending), rows)| Group { merchant, list_id, sending, rows }).collect()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "rekomi".into())
}
