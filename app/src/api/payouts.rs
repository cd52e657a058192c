//! Payout runs for the merchant, and lifecycle events and webhook endpoints (integrations).

use crate::api::views::{IntegrationsView, NewEndpoint, PayoutsPage, RunView};
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "payouts", input = server_fn::codec::Json)]
pub async fn load_payouts() -> Result<PayoutsPage, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(payouts::page(&s, who.merchant()).await?)
        }
        .await,
    )
}

/// Gathers every approved balance at or above its campaign's minimum into a new run.
#[server(prefix = "/api", endpoint = "create_payout_run", input = server_fn::codec::Json)]
pub async fn create_payout_run() -> Result<RunView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(payouts::create_run(&s, who.merchant(), who.actor(), now_ms()).await?)
        }
        .await,
    )
}

/// Marks an open run paid under the merchant's reference (their PayPal or Wise batch id).
#[server(prefix = "/api", endpoint = "mark_run_paid", input = server_fn::codec::Json)]
pub async fn mark_run_paid(id: i64, reference: String) -> Result<RunView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(payouts::mark_paid(&s, who.merchant(), id, &reference, now_ms()).await?)
        }
        .await,
    )
}

/// Pays an open run as store credit in the connected Shopify store.
#[server(prefix = "/api", endpoint = "pay_run_store_credit", input = server_fn::codec::Json)]
pub async fn pay_run_store_credit(id: i64) -> Result<RunView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(payouts::pay_with_store_credit(&s, who.merchant(), id).await?)
        }
        .await,
    )
}

/// Cancels an open run; its commissions wait for the next one.
#[server(prefix = "/api", endpoint = "cancel_payout_run", input = server_fn::codec::Json)]
pub async fn cancel_payout_run(id: i64) -> Result<RunView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(payouts::cancel(&s, who.merchant(), id).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "integrations", input = server_fn::codec::Json)]
pub async fn load_integrations() -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(integrations::view(&s, who.merchant()).await?)
        }
        .await,
    )
}

/// Switches one lifecycle event (by its metric name) on or off.
#[server(prefix = "/api", endpoint = "switch_event", input = server_fn::codec::Json)]
pub async fn switch_event(metric: String, on: bool) -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(integrations::switch_event(&s, who.merchant(), &metric, on).await?)
        }
        .await,
    )
}

/// Keeps lifecycle events while Klaviyo is disconnected (sent on reconnect), or drops them.
#[server(prefix = "/api", endpoint = "keep_events_offline", input = server_fn::codec::Json)]
pub async fn keep_events_offline(keep: bool) -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(integrations::keep_events_offline(&s, who.merchant(), keep).await?)
        }
        .await,
    )
}

/// Drops the lifecycle events kept while Klaviyo is disconnected.
#[server(prefix = "/api", endpoint = "drop_kept_events", input = server_fn::codec::Json)]
pub async fn drop_kept_events() -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(integrations::drop_kept_events(&s, who.merchant()).await?)
        }
        .await,
    )
}

/// Adds a webhook endpoint; its signing secret is in the answer and never again.
#[server(prefix = "/api", endpoint = "add_webhook", input = server_fn::codec::Json)]
pub async fn add_webhook(url: String, topics: Vec<String>) -> Result<NewEndpoint, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(integrations::add_endpoint(&s, who.merchant(), &url, &topics, who.actor()).await?)
        }
        .await,
    )
}

/// Switches an endpoint on or off, or removes it (`remove`).
#[server(prefix = "/api", endpoint = "change_webhook", input = server_fn::codec::Json)]
pub async fn change_webhook(id: i64, enabled: bool, remove: bool) -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(integrations::change_endpoint(&s, who.merchant(), id, enabled, remove).await?)
        }
        .await,
    )
}

/// Sends a delivery again now.
#[server(prefix = "/api", endpoint = "redeliver_webhook", input = server_fn::codec::Json)]
pub async fn redeliver_webhook(id: i64) -> Result<IntegrationsView, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(integrations::redeliver(&s, who.merchant(), id).await?)
        }
        .await,
    )
}
