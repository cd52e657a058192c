//! The one runner every job kind uses: claims due rows under a lease, hands each merchant's rows to
//! the job kind as a group, and keeps merchants from crowding each other out.
//!
//! Fairness, in two parts: a claim numbers each merchant's due rows oldest first and takes every
//! merchant's first rows before anyone's later ones (`store::lease_sql`), and a merchant who already
//! has `per_merchant_slots` groups in flight in this instance is left out of the next claim. So a
//! merchant with a backlog of thousands, or with endpoints that never answer, holds at most that
//! many of the `slots`, and every other merchant's rows go through the remaining ones.
//!
//! Several instances share the tables: a claim skips rows another instance holds, and a lease that
//! runs out (the instance died) frees its rows. Each claim has its own token, so a group whose
//! lease ran out can't save over the claim that took its rows next. A panicking job is a failed
//! group: its rows come back after the lease.

use crate::store::{self, now_ms, Claim, Db, DbResult};
use shared::domain::MerchantId;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{AbortHandle, JoinSet};

/// How a runner claims and how much it works at once.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Rows claimed at once.
    pub claim_limit: i64,
    /// Rows of one merchant in one claim.
    pub per_merchant: i64,
    /// Groups worked at the same time by this instance.
    pub slots: usize,
    /// Groups of one merchant worked at the same time by this instance (fewer than `slots`).
    pub per_merchant_slots: usize,
    /// How long a claim holds its rows.
    pub lease: Duration,
    /// How often an idle runner looks for due rows (other instances' rows, scheduled retries).
    pub idle_poll: Duration,
}

/// A kind of outbox job: which rows it claims and what working a group of them means.
pub trait Job: Send + Sync + 'static {
    /// A claimed row.
    type Item: Send + 'static;
    /// What a merchant's rows are split by, beyond the merchant (e.g. the Klaviyo list).
    type Group: Ord + Clone + Send + 'static;

    /// Names the runner in logs and in lease tokens.
    const NAME: &'static str;
    /// The outbox table, to give rows back.
    const TABLE: &'static str;

    /// The signal enqueueing rings after commit.
    fn wake(&self) -> &'static Notify;

    fn claim(&self, db: &Db, claim: &Claim<'_>) -> impl Future<Output = DbResult<Vec<Self::Item>>> + Send;

    fn id(item: &Self::Item) -> i64;

    fn group(item: &Self::Item) -> (MerchantId, Self::Group);

    /// Works one group under the claim's `token` and saves each row's outcome.
    fn work(
        &self,
        token: &str,
        merchant: MerchantId,
        group: Self::Group,
        items: Vec<Self::Item>,
    ) -> impl Future<Output = ()> + Send;
}

/// Runs `job` until the task is dropped.
pub async fn run<J: Job>(job: Arc<J>, db: Db, owner: String, settings: RunnerSettings) {
    tracing::info!(runner = J::NAME, %owner, "outbox runner started");
    let slots = Arc::new(Semaphore::new(settings.slots));
    let in_flight: Arc<Mutex<HashMap<MerchantId, usize>>> = Arc::default();
    let lease_ms = millis(settings.lease);
    // Groups in flight belong to this task: stopping the runner stops them too.
    let mut running = JoinSet::new();
    let mut claims: u64 = 0;
    loop {
        while running.try_join_next().is_some() {}
        let Ok(first_slot) = slots.clone().acquire_owned().await else { return };
        claims += 1;
        let token = format!("{owner}#{}{claims}", J::NAME);
        let busy: Vec<MerchantId> = lock(&in_flight)
            .iter()
            .filter(|(_, groups)| **groups >= settings.per_merchant_slots)
            .map(|(merchant, _)| *merchant)
            .collect();
        let now = now_ms();
        let claim = Claim {
            owner: &token,
            now,
            lease_until: now + lease_ms,
            limit: settings.claim_limit,
            per_merchant: settings.per_merchant,
            busy: &busy,
        };
        let items = match job.claim(&db, &claim).await {
            Ok(items) => items,
            Err(error) => {
                tracing::warn!(runner = J::NAME, %error, "could not claim");
                drop(first_slot);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if items.is_empty() {
            drop(first_slot);
            tokio::select! {
                () = job.wake().notified() => {}
                () = tokio::time::sleep(settings.idle_poll) => {}
            }
            continue;
        }
        let mut groups: BTreeMap<(MerchantId, J::Group), Vec<J::Item>> = BTreeMap::new();
        for item in items {
            groups.entry(J::group(&item)).or_default().push(item);
        }
        // Groups not started while a third of the lease is left are given back, not worked late.
        let start_by = now + lease_ms - lease_ms / 3;
        let mut first_slot = Some(first_slot);
        for ((merchant, group), items) in groups {
            // One claim may hold several groups of a merchant (syncs split by list and phase):
            // past the merchant's slots they go back at once, so the other slots stay free.
            let admitted = {
                let mut counts = lock(&in_flight);
                let groups = counts.entry(merchant).or_default();
                let admitted = *groups < settings.per_merchant_slots;
                if admitted {
                    *groups += 1;
                }
                admitted
            };
            if !admitted {
                let ids: Vec<i64> = items.iter().map(J::id).collect();
                give_back::<J>(&db, &token, &ids).await;
                continue;
            }
            let (job, db, slots, in_flight, token) =
                (job.clone(), db.clone(), slots.clone(), in_flight.clone(), token.clone());
            let per_merchant_slots = settings.per_merchant_slots;
            let slot = first_slot.take();
            running.spawn(async move {
                let _slot = match slot {
                    Some(slot) => Some(slot),
                    None => slots.acquire_owned().await.ok(),
                };
                if now_ms() > start_by {
                    let ids: Vec<i64> = items.iter().map(J::id).collect();
                    give_back::<J>(&db, &token, &ids).await;
                    job.wake().notify_one();
                } else {
                    // Its own task, so a panic fails this group only (its rows return after the lease).
                    let work = {
                        let job = job.clone();
                        let token = token.clone();
                        tokio::spawn(async move { job.work(&token, merchant, group, items).await })
                    };
                    let _stop_with_group = AbortOnDrop(work.abort_handle());
                    if let Err(error) = work.await {
                        tracing::error!(runner = J::NAME, merchant.id = %merchant, %error, "a job group panicked");
                    }
                }
                let freed = {
                    let mut counts = lock(&in_flight);
                    let left = counts.get_mut(&merchant).map(|groups| {
                        *groups -= 1;
                        *groups
                    });
                    if left == Some(0) {
                        counts.remove(&merchant);
                    }
                    left.is_some_and(|n| n + 1 == per_merchant_slots)
                };
                // The merchant was left out of claims while at its limit: look again now rather
                // than at the next poll.
                if freed {
                    job.wake().notify_one();
                }
            });
        }
    }
}

/// Aborts a task when the group that waits for it is stopped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn give_back<J: Job>(db: &Db, token: &str, ids: &[i64]) {
    if let Err(error) = store::release(db, J::TABLE, token, ids).await {
        tracing::warn!(runner = J::NAME, %error, "could not give rows back; they return after the lease");
    }
}

fn lock(map: &Mutex<HashMap<MerchantId, usize>>) -> std::sync::MutexGuard<'_, HashMap<MerchantId, usize>> {
    // The map holds counts only; a panic while holding it can't leave it half-written.
    map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
