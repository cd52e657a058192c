//! The approval queue.

use crate::api::views::{DecisionOutcome, QueueFilter, QueuePage};
use crate::domain::affiliate::Decision;
use crate::domain::AffiliateId;
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "approval_queue", input = server_fn::codec::Json)]
pub async fn approval_queue(filter: QueueFilter) -> Result<QueuePage, AppError> {
    use super::context::*;
    answer(async { ports()?.affiliates.queue(&signed_in().await?, filter).await }.await)
}

/// Approves or rejects one or many applications at once.
#[server(prefix = "/api", endpoint = "decide_applications", input = server_fn::codec::Json)]
pub async fn decide_applications(ids: Vec<AffiliateId>, decision: Decision) -> Result<DecisionOutcome, AppError> {
    use super::context::*;
    answer(async { ports()?.affiliates.decide(&signed_in().await?, ids, decision).await }.await)
}
