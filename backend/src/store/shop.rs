//! The merchant's connected Shopify store and its webhook subscriptions.

use super::{Db, DbResult, Tx};
use shared::domain::MerchantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionRow {
    pub merchant_id: MerchantId,
    pub shop_domain: String,
    pub client_id: String,
    pub client_secret: Vec<u8>,
    pub access_token: Option<Vec<u8>>,
    pub token_expires_at: Option<i64>,
    pub scopes: String,
    pub shop_name: String,
    pub currency: String,
    pub plan: String,
    pub state: String,
    pub checked_at: i64,
    /// Orders updated since then are read for what webhooks missed; when last read, and what.
    pub orders_cursor: Option<i64>,
    pub orders_checked_at: Option<i64>,
    pub orders_recovered: i64,
    pub orders_error: Option<String>,
}

const SELECT: &str =
    "SELECT merchant_id, shop_domain, client_id, client_secret, access_token, token_expires_at, scopes,
        shop_name, currency, plan, state, checked_at, orders_cursor, orders_checked_at, orders_recovered,
        orders_error FROM shopify_connections";

pub async fn get(db: &Db, merchant: MerchantId) -> DbResult<Option<ConnectionRow>> {
    db.query_as(&format!("{SELECT} WHERE merchant_id = $1")).bind(merchant).fetch_optional().await
}

/// The merchant a shop is connected to, if any.
pub async fn owner_of(db: &Db, shop_domain: &str) -> DbResult<Option<MerchantId>> {
    db.query_scalar("SELECT merchant_id FROM shopify_connections WHERE shop_domain = $1")
        .bind(shop_domain)
        .fetch_optional()
        .await
}

/// What a successful live check read, with the token it used.
pub struct Checked<'a> {
    pub shop_domain: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a [u8],
    pub access_token: &'a [u8],
    pub token_expires_at: Option<i64>,
    pub scopes: &'a str,
    pub shop_name: &'a str,
    pub currency: &'a str,
    pub plan: &'a str,
}

/// Connects (or replaces) the merchant's shop. `Conflict` on `shopify_connections_shop` when
/// another merchant has that shop.
pub async fn upsert(tx: &mut Tx, merchant: MerchantId, c: &Checked<'_>, now: i64) -> DbResult<()> {
    tx.query(
        "INSERT INTO shopify_connections (merchant_id, shop_domain, client_id, client_secret, access_token,
             token_expires_at, scopes, shop_name, currency, plan, state, checked_at, created_at, updated_at,
             orders_cursor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'connected', $11, $11, $11, $11)
         ON CONFLICT (merchant_id) DO UPDATE SET
             orders_cursor = CASE WHEN shopify_connections.shop_domain = excluded.shop_domain
                 THEN shopify_connections.orders_cursor ELSE excluded.orders_cursor END,
             shop_domain = excluded.shop_domain, client_id = excluded.client_id,
             client_secret = excluded.client_secret, access_token = excluded.access_token,
             token_expires_at = excluded.token_expires_at, scopes = excluded.scopes, shop_name = excluded.shop_name,
             currency = excluded.currency, plan = excluded.plan, state = 'connected', checked_at = excluded.checked_at,
             updated_at = excluded.updated_at",
    )
    .bind(merchant)
    .bind(c.shop_domain)
    .bind(c.client_id)
    .bind(c.client_secret)
    .bind(c.access_token)
    .bind(c.token_expires_at)
    .bind(c.scopes)
    .bind(c.shop_name)
    .bind(c.currency)
    .bind(c.plan)
    .bind(now)
    .execute()
    .await?;
    Ok(())
}

pub async fn set_token(
    db: &Db,
    merchant: MerchantId,
    sealed: &[u8],
    expires_at: Option<i64>,
    scopes: &str,
    now: i64,
) -> DbResult<()> {
    db.query(
        "UPDATE shopify_connections SET access_token = $2, token_expires_at = $3, scopes = $4, updated_at = $5
         WHERE merchant_id = $1",
    )
    .bind(merchant)
    .bind(sealed)
    .bind(expires_at)
    .bind(scopes)
    .bind(now)
    .execute()
    .await?;
    Ok(())
}

/// `uninstalled`: the app was removed from the shop (or its token refused); nothing is called.
pub async fn mark_uninstalled(db: &Db, merchant: MerchantId, now: i64) -> DbResult<()> {
    db.query(
        "UPDATE shopify_connections SET state = 'uninstalled', access_token = NULL, token_expires_at = NULL,
             updated_at = $2 WHERE merchant_id = $1",
    )
    .bind(merchant)
    .bind(now)
    .execute()
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, merchant: MerchantId) -> DbResult<()> {
    tx.query("DELETE FROM shopify_webhooks WHERE merchant_id = $1").bind(merchant).execute().await?;
    tx.query("DELETE FROM shopify_connections WHERE merchant_id = $1").bind(merchant).execute().await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub topic: String,
    pub subscription_id: Option<String>,
    pub uri: String,
    pub checked_at: Option<i64>,
    pub last_received_at: Option<i64>,
    pub received: i64,
    pub failures: i64,
    pub last_error: Option<String>,
}

pub async fn webhooks(db: &Db, merchant: MerchantId) -> DbResult<Vec<WebhookRow>> {
    db.query_as(
        "SELECT topic, subscription_id, uri, checked_at, last_received_at, received, failures, last_error
         FROM shopify_webhooks WHERE merchant_id = $1 ORDER BY topic",
    )
    .bind(merchant)
    .fetch_all()
    .await
}

/// What the last check of one topic's subscription found: its id, or why there is none.
pub async fn set_webhook(
    db: &Db,
    merchant: MerchantId,
    topic: &str,
    uri: &str,
    subscription_id: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> DbResult<()> {
    db.query(
        "INSERT INTO shopify_webhooks (merchant_id, topic, subscription_id, uri, checked_at, last_error)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (merchant_id, topic) DO UPDATE SET subscription_id = excluded.subscription_id,
             uri = excluded.uri, checked_at = excluded.checked_at, last_error = excluded.last_error",
    )
    .bind(merchant)
    .bind(topic)
    .bind(subscription_id)
    .bind(uri)
    .bind(now)
    .bind(error)
    .execute()
    .await?;
    Ok(())
}

/// A delivery on `topic` arrived (`ok`) or was refused (bad signature, unreadable payload).
pub async fn webhook_received(db: &Db, merchant: MerchantId, topic: &str, ok: bool, now: i64) -> DbResult<()> {
    let sql = if ok {
        "UPDATE shopify_webhooks SET received = received + 1, last_received_at = $3 WHERE merchant_id = $1 AND topic = $2"
    } else {
        "UPDATE shopify_webhooks SET failures = failures + 1, last_received_at = $3 WHERE merchant_id = $1 AND topic = $2"
    };
    db.query(sql).bind(merchant).bind(topic).bind(now).execute().await?;
    Ok(())
}

/// Records a processed delivery id; false when it was recorded before.
pub async fn first_delivery(db: &Db, merchant: MerchantId, webhook_id: &str, topic: &str, now: i64) -> DbResult<bool> {
    let inserted = db
        .query(
            "INSERT INTO shopify_deliveries (merchant_id, webhook_id, topic, received_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (merchant_id, webhook_id) DO NOTHING",
        )
        .bind(merchant)
        .bind(webhook_id)
        .bind(topic)
        .bind(now)
        .execute()
        .await?;
    Ok(inserted > 0)
}

/// Forgets delivery ids older than `before` (Shopify retries for 48 hours).
pub async fn prune_deliveries(db: &Db, before: i64) -> DbResult<u64> {
    db.query("DELETE FROM shopify_deliveries WHERE received_at < $1").bind(before).execute().await
}

pub async fn delivery_seen(db: &Db, merchant: MerchantId, webhook_id: &str) -> DbResult<bool> {
    let found: Option<i64> = db
        .query_scalar("SELECT received_at FROM shopify_deliveries WHERE merchant_id = $1 AND webhook_id = $2")
        .bind(merchant)
        .bind(webhook_id)
        .fetch_optional()
        .await?;
    Ok(found.is_some())
}

/// Connected shops whose last check is older than `before`, with their merchant's slug.
pub async fn due_checks(db: &Db, before: i64, limit: i64) -> DbResult<Vec<(MerchantId, String)>> {
    db.query_as(
        "SELECT c.merchant_id, m.slug FROM shopify_connections c JOIN merchants m ON m.id = c.merchant_id
         WHERE c.state = 'connected' AND c.checked_at < $1 ORDER BY c.checked_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all()
    .await
}

/// Takes a due check for this instance: true when no other instance took it first.
pub async fn take_check(db: &Db, merchant: MerchantId, before: i64, now: i64) -> DbResult<bool> {
    let taken = db
        .query("UPDATE shopify_connections SET checked_at = $3 WHERE merchant_id = $1 AND checked_at < $2")
        .bind(merchant)
        .bind(before)
        .bind(now)
        .execute()
        .await?;
    Ok(taken > 0)
}

/// Connected shops whose orders weren't read since `before`.
pub async fn orders_due(db: &Db, before: i64, limit: i64) -> DbResult<Vec<MerchantId>> {
    db.query_scalar(
        "SELECT merchant_id FROM shopify_connections WHERE state = 'connected'
             AND (orders_checked_at IS NULL OR orders_checked_at < $1)
         ORDER BY orders_checked_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all()
    .await
}

/// Takes a shop's order read for this instance (no other instance took it since `before`).
pub async fn take_orders_check(db: &Db, merchant: MerchantId, before: i64, now: i64) -> DbResult<bool> {
    db.query(
        "UPDATE shopify_connections SET orders_checked_at = $3
         WHERE merchant_id = $1 AND (orders_checked_at IS NULL OR orders_checked_at < $2)",
    )
    .bind(merchant)
    .bind(before)
    .bind(now)
    .execute()
    .await
    .map(|n| n > 0)
}

/// What a read found: the new cursor, how many orders and refunds it recovered, or why it failed.
pub async fn orders_checked(
    db: &Db,
    merchant: MerchantId,
    cursor: i64,
    recovered: i64,
    error: Option<&str>,
    now: i64,
) -> DbResult<()> {
    db.query(
        "UPDATE shopify_connections SET orders_cursor = $2, orders_recovered = orders_recovered + $3,
             orders_error = $4, orders_checked_at = $5
         WHERE merchant_id = $1",
    )
    .bind(merchant)
    .bind(cursor)
    .bind(recovered)
    .bind(error)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// A backfill: orders updated since `since` are read on the next pass.
pub async fn set_orders_cursor(db: &Db, merchant: MerchantId, since: i64) -> DbResult<()> {
    db.query("UPDATE shopify_connections SET orders_cursor = $2, orders_checked_at = NULL WHERE merchant_id = $1")
        .bind(merchant)
        .bind(since)
        .execute()
        .await
        .map(drop)
}
