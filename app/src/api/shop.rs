//! The merchant's Shopify store as a connected app.

use crate::api::views::{OrdersRecovered, ShopConnectForm, ShopConnectResult, ShopPage};
use crate::error::AppError;
use leptos::prelude::*;

/// The connection (if any), its webhooks' health, and what setting one up needs.
#[server(prefix = "/api", endpoint = "shop_page", input = server_fn::codec::Json)]
pub async fn load_shop_page() -> Result<ShopPage, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.shop.page(who.merchant(), &who.session.merchant_slug).await?)
        }
        .await,
    )
}

/// Checks the app's credentials with Shopify and connects the store; each problem is named.
#[server(prefix = "/api", endpoint = "connect_shop", input = server_fn::codec::Json)]
pub async fn connect_shop(form: ShopConnectForm) -> Result<ShopConnectResult, AppError> {
    use super::context::*;
    use backend::services::shop::ShopError;
    answer(
        async {
            let (s, who) = caller().await?;
            match s.shop.connect(who.merchant(), &who.session.merchant_slug, &form).await {
                Ok(page) => Ok(ShopConnectResult::Connected(page)),
                Err(ShopError::Invalid(fields)) => Ok(ShopConnectResult::Refused(fields)),
                Err(e) => Err(e.into()),
            }
        }
        .await,
    )
}

/// Lists the store's webhook subscriptions and subscribes again whatever is missing.
#[server(prefix = "/api", endpoint = "recheck_shop_webhooks", input = server_fn::codec::Json)]
pub async fn recheck_shop_webhooks() -> Result<ShopPage, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            let slug = &who.session.merchant_slug;
            s.shop.ensure_webhooks(who.merchant(), slug).await?;
            Ok(s.shop.page(who.merchant(), slug).await?)
        }
        .await,
    )
}

/// Reads the shop's orders of the last `days` (at most 60) and records what no webhook brought.
#[server(prefix = "/api", endpoint = "recover_shop_orders", input = server_fn::codec::Json)]
pub async fn recover_shop_orders(days: i64) -> Result<OrdersRecovered, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            let found = s.recovery().backfill(who.merchant(), days).await?;
            Ok(OrdersRecovered { seen: found.seen, orders: found.orders, refunds: found.refunds })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "disconnect_shop", input = server_fn::codec::Json)]
pub async fn disconnect_shop() -> Result<ShopPage, AppError> {
    use super::context::*;
    answer(
        async {
            let (s, who) = caller().await?;
            Ok(s.shop.disconnect(who.merchant(), &who.session.merchant_slug).await?)
        }
        .await,
    )
}
