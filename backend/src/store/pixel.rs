//! The custom pixel's reports, and Shopify orders that came without a referral (kept a day, so a
//! report arriving after its order can still attribute it).

use super::{Db, DbResult};
use shared::domain::MerchantId;

/// Keeps a report unless one for the order is kept already (the first wins); whether it was kept.
pub async fn keep_report(
    db: &Db,
    merchant: MerchantId,
    order_id: &str,
    checkout_token: &str,
    touches: &str,
    customer_id: Option<&str>,
    now: i64,
) -> DbResult<bool> {
    db.query(
        "INSERT INTO shopify_pixel_touches (merchant_id, order_id, checkout_token, touches, customer_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (merchant_id, order_id) DO NOTHING",
    )
    .bind(merchant)
    .bind(order_id)
    .bind(checkout_token)
    .bind(touches)
    .bind(customer_id)
    .bind(now)
    .execute()
    .await
    .map(|n| n > 0)
}

/// The touches the pixel reported for an order, when its checkout token matches.
pub async fn touches_for(
    db: &Db,
    merchant: MerchantId,
    order_id: &str,
    checkout_token: &str,
) -> DbResult<Option<String>> {
    db.query_scalar(
        "SELECT touches FROM shopify_pixel_touches WHERE merchant_id = $1 AND order_id = $2 AND checkout_token = $3",
    )
    .bind(merchant)
    .bind(order_id)
    .bind(checkout_token)
    .fetch_optional()
    .await
}

pub async fn keep_unattributed(
    db: &Db,
    merchant: MerchantId,
    order_id: &str,
    payload: &[u8],
    now: i64,
) -> DbResult<()> {
    let text = String::from_utf8_lossy(payload);
    db.query(
        "INSERT INTO unattributed_orders (merchant_id, order_id, payload, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (merchant_id, order_id) DO NOTHING",
    )
    .bind(merchant)
    .bind(order_id)
    .bind(text.as_ref())
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// Takes a kept order (it is being attributed now).
pub async fn take_unattributed(db: &Db, merchant: MerchantId, order_id: &str) -> DbResult<Option<String>> {
    let payload: Option<String> = db
        .query_scalar("SELECT payload FROM unattributed_orders WHERE merchant_id = $1 AND order_id = $2")
        .bind(merchant)
        .bind(order_id)
        .fetch_optional()
        .await?;
    if payload.is_some() {
        db.query("DELETE FROM unattributed_orders WHERE merchant_id = $1 AND order_id = $2")
            .bind(merchant)
            .bind(order_id)
            .execute()
            .await?;
    }
    Ok(payload)
}

/// Forgets reports and kept orders older than `before`.
pub async fn prune(db: &Db, before: i64) -> DbResult<()> {
    db.query("DELETE FROM shopify_pixel_touches WHERE created_at < $1").bind(before).execute().await?;
    db.query("DELETE FROM unattributed_orders WHERE created_at < $1").bind(before).execute().await?;
    Ok(())
}
