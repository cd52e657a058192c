//! Job kind: a Klaviyo sync batch. Claimed rows of `klaviyo_syncs` are grouped per merchant, list
//! and phase; a group is sent (bulk import, subscribe, list membership) or verified by reading the
//! profiles back, and each row's next state is written with the log of calls made for it.
//!
//! Every step is safe to repeat, since a send reads Klaviyo's state first.

mod batch;
pub(crate) mod calls;
pub(crate) mod plan;

use super::runner::{Job, RunnerSettings};
use crate::klaviyo::pace::Pacer;
use crate::klaviyo::Client;
use crate::services::klaviyo::{KlaviyoConnections, KlaviyoServiceError};
use crate::store::sync::{self as store, ClaimedSync, Outcome};
use crate::store::{now_ms, Claim, Db, DbResult};
use batch::Batch;
use calls::Calls;
use shared::domain::{MerchantId, SyncState};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claim holds rows; a crashed instance's rows return after it.
    pub lease: Duration,
    /// How long an accepted subscribe may take to show up before it is sent again.
    pub verify_timeout: Duration,
    /// Sends (including resends of unapplied jobs) before a sync is marked failed.
    pub max_attempts: u32,
    /// Time between two checks of every synced affiliate against Klaviyo (the reconcile).
    pub reconcile_every: Duration,
    /// Run the outbox runners in this process (off: the instance only serves pages).
    pub worker: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            verify_timeout: Duration::from_secs(600),
            max_attempts: 8,
            reconcile_every: Duration::from_secs(24 * 3600),
            worker: true,
        }
    }
}

impl Settings {
    /// Rows claimed at once are also the largest batch (a subscribe job takes 1,000). Four batches
    /// at once, at most three of one merchant, so another merchant always has a slot.
    pub fn runner(&self) -> RunnerSettings {
        RunnerSettings {
            claim_limit: 1_000,
            per_merchant: 1_000,
            slots: 4,
            per_merchant_slots: 3,
            lease: self.lease,
            idle_poll: Duration::from_millis(200),
        }
    }
}

pub struct SyncJob {
    pub(super) db: Db,
    pub(super) client: Client,
    pub(super) connections: KlaviyoConnections,
    pub(super) pacer: Pacer,
    pub(super) settings: Settings,
    /// This instance's public address, for the links written on profiles.
    pub(super) public_base: String,
}

/// A merchant's rows for one list in one phase (sending or verifying).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListPhase {
    list_id: String,
    sending: bool,
}

impl Job for SyncJob {
    type Item = ClaimedSync;
    type Group = ListPhase;
    const NAME: &'static str = "sync";
    const TABLE: &'static str = "klaviyo_syncs";

    fn wake(&self) -> &'static Notify {
        &super::SYNCS
    }

    async fn claim(&self, db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedSync>> {
        store::claim(db, claim).await
    }

    fn id(item: &ClaimedSync) -> i64 {
        item.id
    }

    fn group(row: &ClaimedSync) -> (MerchantId, ListPhase) {
        (row.merchant_id, ListPhase { list_id: row.list_id.clone(), sending: row.state == SyncState::Sending })
    }

    async fn work(&self, token: &str, merchant: MerchantId, group: ListPhase, rows: Vec<ClaimedSync>) {
        self.work_group(token, merchant, group, rows).await;
    }
}

impl SyncJob {
    async fn work_group(&self, token: &str, merchant: MerchantId, group: ListPhase, rows: Vec<ClaimedSync>) {
        let count = rows.len();
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
                let outcomes: Vec<Outcome> = rows.iter().map(|r| stopped(r, &reason)).collect();
                self.save(token, merchant, &outcomes, &[], Some(reason)).await;
                return;
            }
        };
        let mut batch = Batch {
            client: &self.client,
            key: &key,
            list_id: &group.list_id,
            settings: &self.settings,
            public_base: &self.public_base,
            calls: Calls::new(self.pacer.clone(), connection.account_id.clone(), merchant),
            error: None,
            error_message: None,
            drift: Vec::new(),
        };
        let started = std::time::Instant::now();
        let outcomes = if group.sending { batch.send(rows).await } else { batch.verify(rows).await };
        if outcomes.len() < count {
            tracing::warn!(claimed = count, settled = outcomes.len(), "rows left without an outcome");
        }
        let log = std::mem::take(&mut batch.calls.log);
        let error = batch.error.take();
        // What the writes proved about the key's permissions: a refusal marks what that call needs
        // (less what other writes proved), an acceptance verifies the write half still pending.
        let mut findings: Vec<Result<crate::klaviyo::Operation, crate::klaviyo::Operation>> = Vec::new();
        if connection.scope_checks.contains("=ReadVerifiedWritePending") {
            findings.extend(batch.calls.accepted_writes.iter().copied().map(Ok));
        }
        if let Some(crate::klaviyo::KlaviyoError::MissingScope { operation }) = &error {
            if operation.method() != reqwest::Method::GET {
                findings.push(Err(*operation));
            }
        }
        for finding in findings {
            if let Err(e) = self.connections.record_write_check(merchant, finding).await {
                tracing::warn!(error = %e, "could not record what a write proved about the key's permissions");
            }
        }
        tracing::debug!(
            merchant.id = %merchant, rows = count, sending = group.sending, calls = log.len(),
            elapsed_ms = started.elapsed().as_millis() as u64, "sync batch worked"
        );
        let message = batch.error_message.take().or_else(|| error.map(|e| e.merchant_message()));
        let drift = std::mem::take(&mut batch.drift);
        self.save(token, merchant, &outcomes, &log, message).await;
        if !drift.is_empty() {
            // Record what changed, and look at the merchant's other affiliates soon: one change
            // made in Klaviyo is often not alone (a list cleaned up, a segment suppressed).
            let now = now_ms();
            if let Err(e) = crate::store::reconcile::mark(&self.db, merchant, &drift, now).await {
                tracing::warn!(error = %e, "could not record what changed in Klaviyo");
            }
            if let Err(e) = super::check_klaviyo(&self.db, merchant, now + 60_000, now).await {
                tracing::warn!(error = %e, "could not schedule a check of the merchant's affiliates");
            }
            super::changed(merchant);
        }
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
            super::SYNCS.notify_one();
        }
        super::changed(merchant);
    }
}

/// A row stopped before any call was made (no key): failed, with the reason.
fn stopped(row: &ClaimedSync, reason: &str) -> Outcome {
    Outcome { state: SyncState::Failed, reason: Some(reason.to_owned()), due_at: None, ..batch::base(row) }
}
