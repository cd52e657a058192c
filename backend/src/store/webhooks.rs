//! The merchant's webhook endpoints and their deliveries (queued through `crate::outbox::webhook`),
//! claimed under a lease like the Klaviyo outboxes, with a log of every try.

use super::{Claim, Db, DbResult, Tx};
use shared::domain::{DeliveryState, MerchantId, WebhookEndpointId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: WebhookEndpointId,
    pub url: String,
    pub topics: String,
    pub created_by: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

pub async fn insert_endpoint(
    db: &Db,
    merchant: MerchantId,
    url: &str,
    topics: &str,
    sealed_secret: &[u8],
    actor: &str,
    now: i64,
) -> DbResult<WebhookEndpointId> {
    const SQL: &str = "INSERT INTO webhook_endpoints (merchant_id, url, topics, secret, created_by, created_at)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    db.query_scalar(SQL)
        .bind(merchant)
        .bind(url)
        .bind(topics)
        .bind(sealed_secret)
        .bind(actor)
        .bind(now)
        .fetch_one()
        .await
}

pub async fn endpoints(db: &Db, merchant: MerchantId) -> DbResult<Vec<EndpointRow>> {
    const SQL: &str = "SELECT id, url, topics, created_by, created_at, disabled_at FROM webhook_endpoints
        WHERE merchant_id = $1 ORDER BY id";
    db.query_as(SQL).bind(merchant).fetch_all().await
}

/// Switches an endpoint off (no new deliveries) or on again; false when it isn't the merchant's.
pub async fn set_disabled(
    tx: &mut Tx,
    merchant: MerchantId,
    id: WebhookEndpointId,
    disabled: bool,
    now: i64,
) -> DbResult<bool> {
    let changed = tx
        .query(
            "UPDATE webhook_endpoints SET disabled_at = CASE WHEN $3 THEN $4 ELSE NULL END
             WHERE merchant_id = $1 AND id = $2",
        )
        .bind(merchant)
        .bind(id)
        .bind(disabled)
        .bind(now)
        .execute()
        .await?;
    Ok(changed == 1)
}

/// Gives up an endpoint's queued and retrying deliveries, saying why.
pub async fn give_up_pending(tx: &mut Tx, endpoint: WebhookEndpointId, reason: &str, now: i64) -> DbResult<u64> {
    tx.query(
        "UPDATE webhook_deliveries SET state = 'failed', due_at = NULL, last_error = $3, updated_at = $2
         WHERE endpoint_id = $1 AND state IN ('queued', 'retrying')",
    )
    .bind(endpoint)
    .bind(now)
    .bind(reason)
    .execute()
    .await
}

pub async fn delete_endpoint(db: &Db, merchant: MerchantId, id: WebhookEndpointId) -> DbResult<bool> {
    const SQL: &str = "DELETE FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2";
    Ok(db.query(SQL).bind(merchant).bind(id).execute().await? == 1)
}

/// A delivery the worker holds: where to send it, what, and the sealed secret to sign with.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub url: String,
    pub secret: Vec<u8>,
    pub event_id: String,
    pub topic: String,
    pub payload: String,
    pub attempts: i64,
    pub give_up_at: i64,
}

/// Takes due deliveries no live lease holds, merchants taking turns (see [`super::lease_sql`]).
pub async fn claim(db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedDelivery>> {
    let take = super::lease_sql(db.kind(), "webhook_deliveries", "", "id", claim);
    let ids: Vec<i64> = super::bind_claim(db.query_scalar(&take), claim).fetch_all().await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids come from the database as integers, so inlining them is safe.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let read = format!(
        "SELECT d.id, d.merchant_id, e.url, e.secret, d.event_id, d.topic, d.payload, d.attempts, d.give_up_at
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.id IN ({list}) AND d.lease_owner = $1 ORDER BY d.id"
    );
    db.query_as(&read).bind(claim.owner).fetch_all().await
}

/// What one try came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: i64,
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// Delivered, retrying (then `due_at`) or failed.
    pub state: DeliveryState,
    pub due_at: Option<i64>,
}

/// Saves a try and releases the lease. A row whose lease changed hands is left alone.
pub async fn finish(db: &Db, owner: &str, attempt: &Attempt) -> DbResult<()> {
    let mut tx = db.begin().await?;
    let updated = tx
        .query(
            "UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, due_at = $4, last_status = $5,
                 last_error = $6, delivered_at = CASE WHEN $3 = 'delivered' THEN $7 ELSE delivered_at END,
                 lease_owner = NULL, lease_until = NULL, updated_at = $7
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(attempt.id)
        .bind(owner)
        .bind(attempt.state)
        .bind(attempt.due_at)
        .bind(attempt.status)
        .bind(attempt.error.as_deref())
        .bind(attempt.at)
        .execute()
        .await?;
    if updated == 1 {
        tx.query(
            "INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(attempt.id)
        .bind(attempt.at)
        .bind(attempt.status)
        .bind(attempt.error.as_deref())
        .bind(attempt.duration_ms)
        .execute()
        .await?;
    }
    tx.commit().await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: WebhookEndpointId,
    pub url: String,
    pub event_id: String,
    pub topic: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub due_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

/// The merchant's newest deliveries (the delivery log).
pub async fn deliveries(db: &Db, merchant: MerchantId, limit: i64) -> DbResult<Vec<DeliveryRow>> {
    const SQL: &str = "SELECT d.id, d.endpoint_id, e.url, d.event_id, d.topic, d.state, d.attempts, d.due_at,
            d.last_status, d.last_error, d.delivered_at, d.created_at
        FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.merchant_id = $1 ORDER BY d.id DESC LIMIT $2";
    db.query_as(SQL).bind(merchant).bind(limit).fetch_all().await
}

/// Sends a delivery again now (whatever its state), retried for another day if it fails. False
/// when it isn't the merchant's or its endpoint is switched off.
pub async fn redeliver(tx: &mut Tx, merchant: MerchantId, id: i64, now: i64) -> DbResult<bool> {
    // The lease is dropped too: a try still in flight then finds its lease gone and records
    // nothing over this.
    const SQL: &str = "UPDATE webhook_deliveries SET state = 'queued', due_at = $3, give_up_at = $4, updated_at = $3,
            lease_owner = NULL, lease_until = NULL
        WHERE merchant_id = $1 AND id = $2
          AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE merchant_id = $1 AND disabled_at IS NULL)";
    Ok(tx.query(SQL).bind(merchant).bind(id).bind(now).bind(now + super::outbox::RETRY_FOR_MS).execute().await? == 1)
}
