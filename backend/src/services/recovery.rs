//! Missed Shopify orders recovered. Shopify does not guarantee webhook delivery, so every few
//! minutes each connected shop's orders updated since a cursor are read through the Admin API and
//! recorded exactly as their webhooks would have been: the same use cases (`orders::record_shopify`,
//! `orders::shopify_refund_record`), idempotent per order and per refund, so an order both a
//! webhook and a pass bring counts once. A backfill moves the cursor back (the merchant picks how
//! far, up to the 60 days Shopify shows without `read_all_orders`).

use super::orders::{self, OrderOutcome, RefundOutcome};
use super::shop::{ShopConnections, ShopError};
use crate::shopify::documents::ORDERS_SINCE;
use crate::shopify::ShopifyError;
use crate::store::shop as store;
use crate::store::{now_ms, Db};
use crate::tracking::Tracker;
use anyhow::Context;
use serde_json::{json, Value};
use shared::domain::MerchantId;
use std::sync::Arc;

/// How often each shop's orders are read.
pub const EVERY_MS: i64 = 10 * 60 * 1000;
/// Orders updated this long before the cursor are read again (clocks, and orders written while a
/// pass ran).
const OVERLAP_MS: i64 = 5 * 60 * 1000;
/// Pages of orders one pass reads per shop (the next pass goes on from where it stopped).
const PAGES: usize = 30;
/// Orders per page: with their refunds' lines, a page costs about 900 of Shopify's 1,000 points.
const PAGE: i64 = 10;
/// The furthest back a backfill goes: Shopify shows older orders only with `read_all_orders`.
pub const MAX_BACKFILL_DAYS: i64 = 60;

#[derive(Clone)]
pub struct OrderRecovery {
    pub db: Db,
    pub shop: ShopConnections,
    pub tracker: Arc<Tracker>,
}

/// What a pass found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Orders read.
    pub seen: i64,
    /// Orders credited that no webhook had brought.
    pub orders: i64,
    /// Refunds applied that no webhook had brought.
    pub refunds: i64,
}

fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The `orders/paid` payload a webhook would have carried for this order.
fn order_payload(o: &Value) -> Value {
    let money = &o["subtotalPriceSet"]["shopMoney"];
    let landing = o["landingPageUrl"].as_str().and_then(|u| url::Url::parse(u).ok()).map(|u| {
        let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
        format!("{}{query}", u.path())
    });
    json!({
        "id": o["legacyResourceId"].as_str().and_then(|s| s.parse::<u64>().ok()).map_or(o["legacyResourceId"].clone(), |n| json!(n)),
        "name": o["name"],
        "email": o["email"],
        "currency": money["currencyCode"].as_str().or(o["currencyCode"].as_str()),
        "subtotal_price": money["amount"],
        "processed_at": o["processedAt"],
        "checkout_token": o["checkoutToken"],
        "landing_site": landing,
        "note_attributes": o["customAttributes"].as_array().into_iter().flatten()
            .map(|a| json!({ "name": a["key"], "value": a["value"] })).collect::<Vec<_>>(),
        "discount_codes": o["discountCodes"].as_array().into_iter().flatten()
            .map(|c| json!({ "code": c })).collect::<Vec<_>>(),
        "customer": { "email": o["customer"]["defaultEmailAddress"]["emailAddress"] },
    })
}

/// The `refunds/create` payload a webhook would have carried for this refund.
fn refund_payload(order_id: &Value, r: &Value) -> Value {
    let lines: Vec<Value> = r["refundLineItems"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let m = &l["subtotalSet"]["shopMoney"];
            json!({ "subtotal": m["amount"], "subtotal_set": { "shop_money": { "amount": m["amount"], "currency_code": m["currencyCode"] } } })
        })
        .collect();
    let transactions: Vec<Value> = r["transactions"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let m = &t["amountSet"]["shopMoney"];
            json!({
                "kind": t["kind"].as_str().map(str::to_ascii_lowercase),
                "status": t["status"].as_str().map(str::to_ascii_lowercase),
                "amount": m["amount"],
                "currency": m["currencyCode"],
            })
        })
        .collect();
    json!({ "id": r["legacyResourceId"], "order_id": order_id, "refund_line_items": lines, "transactions": transactions })
}

impl OrderRecovery {
    /// The periodic pass: each connected shop not read for [`EVERY_MS`] is taken by one instance
    /// (a conditional update) and read from its cursor. A failure is kept for the page and tried
    /// on the next pass.
    pub async fn run_due(&self) {
        let now = now_ms();
        let due = match store::orders_due(&self.db, now - EVERY_MS, 50).await {
            Ok(due) => due,
            Err(e) => return tracing::warn!(error = %e, "could not list the shops whose orders to read"),
        };
        for merchant in due {
            match store::take_orders_check(&self.db, merchant, now - EVERY_MS, now).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "could not take a shop's order check");
                    continue;
                }
            }
            if let Err(e) = self.pass(merchant).await {
                tracing::warn!(merchant.id = %merchant, error = %e, "reading missed Shopify orders failed");
            }
        }
    }

    /// Reads the shop's orders updated since its cursor and records what no webhook brought.
    #[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
    pub async fn pass(&self, merchant: MerchantId) -> Result<Recovered, ShopError> {
        let row =
            store::get(&self.db, merchant).await.context("reading the connection")?.ok_or(ShopError::NotConnected)?;
        let started = now_ms();
        let cursor = row.orders_cursor.unwrap_or(started);
        let outcome = self.read(merchant, cursor, started).await;
        let (recovered, new_cursor, error) = match &outcome {
            Ok((r, c)) => (*r, *c, None),
            Err(e) => (Recovered::default(), cursor, Some(e.to_string())),
        };
        store::orders_checked(
            &self.db,
            merchant,
            new_cursor,
            recovered.orders + recovered.refunds,
            error.as_deref(),
            now_ms(),
        )
        .await
        .context("saving the order check")?;
        if recovered.orders + recovered.refunds > 0 {
            tracing::warn!(
                orders = recovered.orders,
                refunds = recovered.refunds,
                "recovered what Shopify's webhooks didn't bring"
            );
        }
        outcome.map(|(r, _)| r)
    }

    async fn read(&self, merchant: MerchantId, cursor: i64, started: i64) -> Result<(Recovered, i64), ShopError> {
        let (shop, token) = self.shop.token(merchant).await?;
        let query = format!("updated_at:>='{}'", iso(cursor - OVERLAP_MS));
        let mut after: Option<String> = None;
        let mut found = Recovered::default();
        let mut newest = cursor;
        for _ in 0..PAGES {
            let variables = json!({ "first": PAGE, "after": after, "query": query });
            let page: Value = loop {
                match self.shop.api.graphql(&shop, &token, ORDERS_SINCE, variables.clone()).await {
                    // The cost bucket refills within seconds: wait as Shopify says.
                    Err(ShopifyError::Throttled { retry_after_ms }) if retry_after_ms <= 20_000 => {
                        tokio::time::sleep(std::time::Duration::from_millis(retry_after_ms.max(100))).await;
                    }
                    other => break other.map_err(ShopError::Shopify)?,
                }
            };
            let orders = &page["orders"];
            for o in orders["nodes"].as_array().into_iter().flatten() {
                found.seen += 1;
                let now = now_ms();
                let paid =
                    matches!(o["displayFinancialStatus"].as_str(), Some("PAID" | "PARTIALLY_REFUNDED" | "REFUNDED"));
                let payload = order_payload(o);
                if paid && o["cancelledAt"].is_null() {
                    let body = serde_json::to_vec(&payload).context("an order payload")?;
                    match orders::record_shopify(&self.db, &self.tracker, merchant, &body, now).await {
                        Ok(OrderOutcome::Attributed(a)) if !a.duplicate => found.orders += 1,
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "a recovered order could not be recorded"),
                    }
                }
                for r in o["refunds"].as_array().into_iter().flatten() {
                    let body = serde_json::to_vec(&refund_payload(&payload["id"], r)).context("a refund payload")?;
                    match orders::shopify_refund_record(&self.db, merchant, &body, now).await {
                        Ok(RefundOutcome::Reduced { .. } | RefundOutcome::ClawedBack { .. }) => found.refunds += 1,
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "a recovered refund could not be recorded"),
                    }
                }
                if let Some(at) = o["updatedAt"].as_str().and_then(orders::parse_time) {
                    newest = newest.max(at);
                }
            }
            match (orders["pageInfo"]["hasNextPage"].as_bool(), orders["pageInfo"]["endCursor"].as_str()) {
                (Some(true), Some(c)) => after = Some(c.to_owned()),
                // Everything up to the start of this pass was read.
                _ => return Ok((found, newest.max(started))),
            }
        }
        // More than one pass's worth: go on from the newest order read.
        Ok((found, newest))
    }

    /// "Recover orders since": moves the cursor back `days` (at most [`MAX_BACKFILL_DAYS`]) and
    /// reads at once.
    pub async fn backfill(&self, merchant: MerchantId, days: i64) -> Result<Recovered, ShopError> {
        let days = days.clamp(0, MAX_BACKFILL_DAYS);
        let since = now_ms() - days * 86_400_000;
        store::set_orders_cursor(&self.db, merchant, since).await.context("moving the order cursor")?;
        self.pass(merchant).await
    }
}
