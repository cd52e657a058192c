//! The merchant's webhook endpoints and their deliveries (queued by `outbox::webhook_in_tx!`),
//! claimed under a lease like the Klaviyo outboxes, with a log of every try.

use super::{db_err, on_engine, BeginWrite, Db, DbResult};
use app::domain::MerchantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: i64,
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
) -> DbResult<i64> {
    const SQL: &str = "INSERT INTO webhook_endpoints (merchant_id, url, topics, secret, created_by, created_at)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    on_engine!(db, |pool| sqlx::query_scalar(SQL)
        .bind(merchant)
        .bind(url)
        .bind(topics)
        .bind(sealed_secret)
        .bind(actor)
        .bind(now)
        .fetch_one(pool)
        .await
        .map_err(db_err))
}

pub async fn endpoints(db: &Db, merchant: MerchantId) -> DbResult<Vec<EndpointRow>> {
    const SQL: &str = "SELECT id, url, topics, created_by, created_at, disabled_at FROM webhook_endpoints
        WHERE merchant_id = $1 ORDER BY id";
    on_engine!(db, |pool| sqlx::query_as(SQL).bind(merchant).fetch_all(pool).await.map_err(db_err))
}

/// Switches an endpoint off (no new deliveries; queued ones are given up) or on again.
pub async fn set_disabled(db: &Db, merchant: MerchantId, id: i64, disabled: bool, now: i64) -> DbResult<bool> {
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE webhook_endpoints SET disabled_at = CASE WHEN $3 THEN $4 ELSE NULL END WHERE merchant_id = $1 AND id = $2",
        )
        .bind(merchant)
        .bind(id)
        .bind(disabled)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if changed && disabled {
            sqlx::query(
                "UPDATE webhook_deliveries SET state = 'failed', due_at = NULL, last_error = 'The endpoint was switched off.',
                     updated_at = $2
                 WHERE endpoint_id = $1 AND state IN ('queued', 'retrying')",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(changed)
    })
}

pub async fn delete_endpoint(db: &Db, merchant: MerchantId, id: i64) -> DbResult<bool> {
    const SQL: &str = "DELETE FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2";
    on_engine!(db, |pool| Ok(sqlx::query(SQL)
        .bind(merchant)
        .bind(id)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected()
        == 1))
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

/// Takes up to `limit` due deliveries no live lease holds.
pub async fn claim(db: &Db, owner: &str, now: i64, lease_until: i64, limit: i64) -> DbResult<Vec<ClaimedDelivery>> {
    let take = super::lease_sql(db, "webhook_deliveries", "", "id");
    const READ: &str = "SELECT d.id, d.merchant_id, e.url, e.secret, d.event_id, d.topic, d.payload, d.attempts,
            d.give_up_at
        FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.lease_owner = $1 ORDER BY d.id";
    on_engine!(db, |pool| {
        let ids: Vec<i64> = sqlx::query_scalar(&take)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_as(READ).bind(owner).fetch_all(pool).await.map_err(db_err)
    })
}

/// What one try came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: i64,
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// `delivered`, `retrying` (then `due_at`) or `failed`.
    pub state: &'static str,
    pub due_at: Option<i64>,
}

/// Saves a try and releases the lease. A row whose lease changed hands is left alone.
pub async fn finish(db: &Db, owner: &str, attempt: &Attempt) -> DbResult<()> {
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let updated = sqlx::query(
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
        .bind(&attempt.error)
        .bind(attempt.at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if updated == 1 {
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(attempt.id)
            .bind(attempt.at)
            .bind(attempt.status)
            .bind(&attempt.error)
            .bind(attempt.duration_ms)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub url: String,
    pub event_id: String,
    pub topic: String,
    pub state: String,
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
    on_engine!(db, |pool| sqlx::query_as(SQL).bind(merchant).bind(limit).fetch_all(pool).await.map_err(db_err))
}

/// Sends a delivery again now (whatever its state), retried for another day if it fails. False
/// when it isn't the merchant's or its endpoint is switched off.
pub async fn redeliver(db: &Db, merchant: MerchantId, id: i64, now: i64) -> DbResult<bool> {
    // The lease is dropped too: a try still in flight then finds its lease gone and records
    // nothing over this.
    const SQL: &str = "UPDATE webhook_deliveries SET state = 'queued', due_at = $3, give_up_at = $4, updated_at = $3,
            lease_owner = NULL, lease_until = NULL
        WHERE merchant_id = $1 AND id = $2
          AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE merchant_id = $1 AND disabled_at IS NULL)";
    on_engine!(db, |pool| Ok(sqlx::query(SQL)
        .bind(merchant)
        .bind(id)
        .bind(now)
        .bind(now + super::outbox::RETRY_FOR_MS)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected()
        == 1))
}
