//! Klaviyo sync status: an affiliate's page, the health panel, retry, and syncing the affiliates
//! approved before Klaviyo was connected.

use crate::api::views::{AffiliateDetail, ListMove, MoveOutcome, SyncHealth, SyncView};
use crate::domain::AffiliateId;
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "affiliate_detail", input = server_fn::codec::Json)]
pub async fn get_affiliate(id: AffiliateId) -> Result<AffiliateDetail, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(affiliates::detail(&s.db, who.merchant(), id).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "sync_health", input = server_fn::codec::Json)]
pub async fn get_sync_health() -> Result<SyncHealth, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(sync::health(&s.db, who.merchant()).await?)
        }
        .await,
    )
}

/// "Retry now" on a failed, retrying or awaiting sync.
#[server(prefix = "/api", endpoint = "retry_sync", input = server_fn::codec::Json)]
pub async fn retry_sync(affiliate: AffiliateId) -> Result<Vec<SyncView>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(sync::retry(&s.db, who.merchant(), affiliate).await?)
        }
        .await,
    )
}

/// Writes these affiliates to Klaviyo again and reads them back, also after a sync that succeeded;
/// returns how many were queued.
#[server(prefix = "/api", endpoint = "resync_affiliates", input = server_fn::codec::Json)]
pub async fn resync_affiliates(ids: Vec<AffiliateId>) -> Result<u64, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(sync::resync(&s.db, who.merchant(), &ids).await?)
        }
        .await,
    )
}

/// Queues every approved affiliate without a sync; returns how many were queued.
#[server(prefix = "/api", endpoint = "sync_all_approved", input = server_fn::codec::Json)]
pub async fn sync_all_approved() -> Result<u64, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(sync::sync_all_approved(&s.db, who.merchant()).await?)
        }
        .await,
    )
}

/// "Check now": reads every synced affiliate's membership and consent back from Klaviyo now.
#[server(prefix = "/api", endpoint = "check_klaviyo_now", input = server_fn::codec::Json)]
pub async fn check_klaviyo_now() -> Result<SyncHealth, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(sync::check_now(&s.db, who.merchant()).await?)
        }
        .await,
    )
}

/// Approved affiliates still synced to a list their campaign no longer uses, by old and new list.
#[server(prefix = "/api", endpoint = "pending_list_moves", input = server_fn::codec::Json)]
pub async fn pending_list_moves() -> Result<Vec<ListMove>, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(sync::pending_moves(&s.db, who.merchant()).await?)
        }
        .await,
    )
}

/// Adds those affiliates to their campaign's current list; with `remove_old`, takes them out of
/// the old lists too (membership only: their consent stays as it is).
#[server(prefix = "/api", endpoint = "move_to_current_lists", input = server_fn::codec::Json)]
pub async fn move_to_current_lists(remove_old: bool) -> Result<MoveOutcome, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(sync::move_affiliates(&s.db, who.merchant(), remove_old).await?)
        }
        .await,
    )
}
