//! What the merchant does with syncs: look at their health, retry one, queue the approved
//! affiliates that predate the Klaviyo connection, and follow changes live.

use crate::store::sync as store;
use crate::store::{now_ms, Db};
use shared::domain::{AffiliateId, MerchantId};
use shared::error::{AppError, ErrorKind};
use shared::views::{ListMove, MoveOutcome, SyncHealth, SyncUpdate, SyncView};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("nothing to retry")]
    NothingToRetry,
    #[error("Klaviyo not set up")]
    NotSetUp,
    #[error("too many affiliates at once")]
    TooMany,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<SyncError> for AppError {
    fn from(value: SyncError) -> Self {
        match value {
            SyncError::NothingToRetry => AppError::new(
                ErrorKind::Conflict,
                "There is nothing to retry: this affiliate's sync is not failed, retrying or awaiting confirmation \
                 (or it is being worked on right now).",
            ),
            SyncError::NotSetUp => AppError::new(
                ErrorKind::Conflict,
                "Connect Klaviyo and choose a default list first (Klaviyo page); then approved affiliates can be synced.",
            ),
            SyncError::TooMany => AppError::new(
                ErrorKind::Invalid,
                format!("Re-sync at most {MAX_RESYNC} affiliates at once."),
            ),
            SyncError::Internal(e) => super::internal(&e),
        }
    }
}

fn internal(e: crate::store::DbError) -> SyncError {
    SyncError::Internal(e.into())
}

pub async fn health(db: &Db, merchant: MerchantId) -> Result<SyncHealth, SyncError> {
    store::health(db, merchant).await.map_err(internal)
}

/// Starts a stopped sync over now.
pub async fn retry(db: &Db, merchant: MerchantId, affiliate: AffiliateId) -> Result<Vec<SyncView>, SyncError> {
    let mut tx = db.begin().await.map_err(internal)?;
    if crate::outbox::retry_sync(&mut tx, merchant, affiliate, now_ms()).await.map_err(internal)? == 0 {
        return Err(SyncError::NothingToRetry);
    }
    tx.commit().await.map_err(internal)?;
    crate::outbox::changed(merchant);
    store::for_affiliate(db, merchant, affiliate).await.map_err(internal)
}

/// At most this many affiliates in one "Re-sync" (a page of the queue is far fewer).
pub const MAX_RESYNC: usize = 1_000;

/// "Re-sync": writes these affiliates to Klaviyo again and reads them back, whatever their last sync
/// came to (approved ones join the list, disabled ones leave it); how many were queued.
pub async fn resync(db: &Db, merchant: MerchantId, affiliates: &[AffiliateId]) -> Result<u64, SyncError> {
    if affiliates.len() > MAX_RESYNC {
        return Err(SyncError::TooMany);
    }
    let health = store::health(db, merchant).await.map_err(internal)?;
    if !health.connected || !health.list_chosen {
        return Err(SyncError::NotSetUp);
    }
    let mut tx = db.begin().await.map_err(internal)?;
    let queued = crate::outbox::resync(&mut tx, merchant, affiliates, now_ms()).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    if queued > 0 {
        crate::outbox::changed(merchant);
    }
    Ok(queued)
}

/// "Check now": reads every synced affiliate's membership and consent back from Klaviyo now,
/// instead of at the next daily pass.
pub async fn check_now(db: &Db, merchant: MerchantId) -> Result<SyncHealth, SyncError> {
    let health = store::health(db, merchant).await.map_err(internal)?;
    if !health.connected {
        return Err(SyncError::NotSetUp);
    }
    let now = now_ms();
    crate::outbox::check_klaviyo(db, merchant, now, now).await.map_err(internal)?;
    store::health(db, merchant).await.map_err(internal)
}

/// Queues every approved affiliate with no sync yet; returns how many.
pub async fn sync_all_approved(db: &Db, merchant: MerchantId) -> Result<u64, SyncError> {
    let health = store::health(db, merchant).await.map_err(internal)?;
    if !health.connected || !health.list_chosen {
        return Err(SyncError::NotSetUp);
    }
    let mut tx = db.begin().await.map_err(internal)?;
    let queued = crate::outbox::unsynced(&mut tx, merchant, now_ms()).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    if queued > 0 {
        crate::outbox::changed(merchant);
    }
    Ok(queued)
}

/// Approved affiliates still synced to a list their campaign no longer uses (the merchant picked
/// another campaign list or default list), by old and new list: the preview of [`move_affiliates`].
pub async fn pending_moves(db: &Db, merchant: MerchantId) -> Result<Vec<ListMove>, SyncError> {
    let moves = store::pending_moves(db, merchant).await.map_err(internal)?;
    Ok(moves
        .into_iter()
        .map(|m| ListMove { from_list: m.from_list, to_list: m.to_list, affiliates: m.affiliates })
        .collect())
}

/// Moves affiliates to the list their campaign uses now: each approved one is queued to join it,
/// and the old syncs are retired; with `remove_old` those take them out of the old lists
/// (membership only: consent is theirs), otherwise their old memberships stay as they are.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, remove_old))]
pub async fn move_affiliates(db: &Db, merchant: MerchantId, remove_old: bool) -> Result<MoveOutcome, SyncError> {
    let health = store::health(db, merchant).await.map_err(internal)?;
    if !health.connected || !health.list_chosen {
        return Err(SyncError::NotSetUp);
    }
    let now = now_ms();
    let mut tx = db.begin().await.map_err(internal)?;
    let (moved, leaving) = store::retire_moved(&mut tx, merchant, remove_old, now).await.map_err(internal)?;
    for chunk in moved.chunks(MAX_RESYNC) {
        crate::outbox::syncs(&mut tx, merchant, chunk, now).await.map_err(internal)?;
    }
    if leaving > 0 {
        tx.wake_on_commit(&crate::outbox::SYNCS);
    }
    tx.commit().await.map_err(internal)?;
    tracing::info!(moved = moved.len(), leaving, "affiliates moved to their campaigns' current lists");
    crate::outbox::changed(merchant);
    Ok(MoveOutcome { moved: moved.len() as u64, leaving })
}

/// Most syncs one live message carries; the rest follow in the next.
const UPDATE_LIMIT: i64 = 500;
/// How far back each poll looks again once caught up: a row saved with a timestamp taken just
/// before a slow commit (or on an instance whose clock lags) still reaches the page.
const OVERLAP_MS: i64 = 3_000;

/// Where a live feed stands: the last change sent, and what was sent recently, so repeats from the
/// overlap are dropped.
pub struct FeedCursor {
    after: (i64, i64),
    sent: HashMap<i64, i64>,
}

impl FeedCursor {
    /// Starts `backlog_ms` in the past, covering what changed while the page loaded.
    pub fn new(now: i64, backlog_ms: i64) -> Self {
        Self { after: (now - backlog_ms, 0), sent: HashMap::new() }
    }

    /// The health panel and the syncs changed since the last call.
    pub async fn next(&mut self, db: &Db, merchant: MerchantId) -> Result<SyncUpdate, SyncError> {
        let mut rows = store::changed_after(db, merchant, self.after, UPDATE_LIMIT).await.map_err(internal)?;
        if (rows.len() as i64) < UPDATE_LIMIT {
            let since = self.after.0 - OVERLAP_MS;
            rows.extend(store::changed_since(db, merchant, since, UPDATE_LIMIT).await.map_err(internal)?);
        }
        let mut changed = Vec::new();
        for (id, sync) in rows {
            if self.sent.get(&id).is_some_and(|&seen| seen >= sync.updated_at) {
                continue;
            }
            self.sent.insert(id, sync.updated_at);
            self.after = self.after.max((sync.updated_at, id));
            changed.push(sync);
        }
        let horizon = self.after.0 - OVERLAP_MS;
        self.sent.retain(|_, at| *at >= horizon);
        let health = store::health(db, merchant).await.map_err(internal)?;
        Ok(SyncUpdate { health, changed })
    }
}
