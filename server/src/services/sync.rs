//! What the merchant does with syncs: look at their health, retry one, queue the approved
//! affiliates that predate the Klaviyo connection, and follow changes live.

use crate::store::sync as store;
use crate::store::{now_ms, Db};
use app::api::views::{SyncHealth, SyncUpdate, SyncView};
use app::domain::{AffiliateId, MerchantId};
use app::error::{AppError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("nothing to retry")]
    NothingToRetry,
    #[error("Klaviyo not set up")]
    NotSetUp,
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
    if store::retry_now(db, merchant, affiliate, now_ms()).await.map_err(internal)? == 0 {
        return Err(SyncError::NothingToRetry);
    }
    store::for_affiliate(db, merchant, affiliate).await.map_err(internal)
}

/// Queues every approved affiliate with no sync yet; returns how many.
pub async fn sync_all_approved(db: &Db, merchant: MerchantId) -> Result<u64, SyncError> {
    let health = store::health(db, merchant).await.map_err(internal)?;
    if !health.connected || !health.list_chosen {
        return Err(SyncError::NotSetUp);
    }
    store::enqueue_unsynced(db, merchant, now_ms()).await.map_err(internal)
}

/// Most syncs one live message carries; the rest follow in the next.
const UPDATE_LIMIT: i64 = 500;

/// The health panel and the syncs changed at or after `since`. Returns the cursor for the next
/// call: changes within the same millisecond as the newest one seen are sent again rather than
/// missed, and the page ignores repeats.
pub async fn update_since(db: &Db, merchant: MerchantId, since: i64) -> Result<(SyncUpdate, i64), SyncError> {
    let changed = store::changed_since(db, merchant, since, UPDATE_LIMIT).await.map_err(internal)?;
    let next = changed.last().map_or(since, |s| s.updated_at);
    // A full page may hold more rows from the same millisecond: move past it or the feed stalls.
    let next = if changed.len() as i64 == UPDATE_LIMIT && next == since { next + 1 } else { next };
    let health = store::health(db, merchant).await.map_err(internal)?;
    Ok((SyncUpdate { health, changed }, next))
}
