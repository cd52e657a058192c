//! Payout runs for the merchant, and lifecycle events and webhook endpoints (integrations).

use crate::api::views::{IntegrationsView, NewEndpoint, PayoutsPage, RunView};
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "payouts", input = server_fn::codec::Json)]
pub async fn load_payouts() -> Result<PayoutsPage, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.page(&signed_in().await?).await }.await)
}

/// Gathers every approved balance at or above its campaign's minimum into a new run.
#[server(prefix = "/api", endpoint = "create_payout_run", input = server_fn::codec::Json)]
pub async fn create_payout_run() -> Result<RunView, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.create_run(&signed_in().await?).await }.await)
}

/// Marks an open run paid under the merchant's reference (their PayPal or Wise batch id).
#[server(prefix = "/api", endpoint = "mark_run_paid", input = server_fn::codec::Json)]
pub async fn mark_run_paid(id: i64, reference: String) -> Result<RunView, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.mark_paid(&signed_in().await?, id, &reference).await }.await)
}

/// Cancels an open run; its commissions wait for the next one.
#[server(prefix = "/api", endpoint = "cancel_payout_run", input = server_fn::codec::Json)]
pub async fn cancel_payout_run(id: i64) -> Result<RunView, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.cancel(&signed_in().await?, id).await }.await)
}

#[server(prefix = "/api", endpoint = "integrations", input = server_fn::codec::Json)]
pub async fn load_integrations() -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.integrations(&signed_in().await?).await }.await)
}

/// Switches one lifecycle event (by its metric name) on or off.
#[server(prefix = "/api", endpoint = "switch_event", input = server_fn::codec::Json)]
pub async fn switch_event(metric: String, on: bool) -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.switch_event(&signed_in().await?, &metric, on).await }.await)
}

/// Adds a webhook endpoint; its signing secret is in the answer and never again.
#[server(prefix = "/api", endpoint = "add_webhook", input = server_fn::codec::Json)]
pub async fn add_webhook(url: String, topics: Vec<String>) -> Result<NewEndpoint, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.add_endpoint(&signed_in().await?, &url, &topics).await }.await)
}

/// Switches an endpoint on or off, or removes it (`remove`).
#[server(prefix = "/api", endpoint = "change_webhook", input = server_fn::codec::Json)]
pub async fn change_webhook(id: i64, enabled: bool, remove: bool) -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.change_endpoint(&signed_in().await?, id, enabled, remove).await }.await)
}

/// Sends a delivery again now.
#[server(prefix = "/api", endpoint = "redeliver_webhook", input = server_fn::codec::Json)]
pub async fn redeliver_webhook(id: i64) -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(async { ports()?.payouts.redeliver(&signed_in().await?, id).await }.await)
}
