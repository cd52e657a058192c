//! The Klaviyo events outbox: events are queued inside the transaction that causes them (an invite,
//! later approvals and payouts), then sent by the events worker under a lease, like syncs.

use super::{db_err, on_engine, Db, DbResult};
use app::domain::MerchantId;

/// Queues one event inside the caller's transaction. The `unique_id` is unique per merchant, so
/// queueing the same event twice keeps one row.
macro_rules! event_in_tx {
    ($tx:expr, $merchant:expr, $metric:expr, $email:expr, $unique_id:expr, $properties:expr, $invite:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO klaviyo_events (merchant_id, metric, email, unique_id, properties, invite_id, state, due_at,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7, $7)
             ON CONFLICT (merchant_id, unique_id) DO NOTHING",
        )
        .bind($merchant)
        .bind($metric)
        .bind($email)
        .bind($unique_id)
        .bind($properties)
        .bind($invite)
        .bind($now)
        .execute(&mut *$tx)
        .await
        .map_err(db_err)?
    };
}
pub(crate) use event_in_tx;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedEvent {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub metric: String,
    pub email: String,
    pub unique_id: String,
    pub properties: String,
    pub attempts: i64,
}

/// Takes up to `limit` due events no live lease holds (see `sync::claim` for the engines).
pub async fn claim(db: &Db, owner: &str, now: i64, lease_until: i64, limit: i64) -> DbResult<Vec<ClaimedEvent>> {
    let sql =
        super::lease_sql(db, "klaviyo_events", "", "id, merchant_id, metric, email, unique_id, properties, attempts");
    on_engine!(db, |pool| sqlx::query_as(&sql)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(db_err))
}

/// Where an event stands after a try.
#[derive(Debug, Clone, PartialEq)]
pub struct EventOutcome {
    pub id: i64,
    /// `sent`, `retrying` or `failed`.
    pub state: &'static str,
    pub reason: Option<String>,
    pub attempts: i64,
    pub due_at: Option<i64>,
    pub sent_at: Option<i64>,
}

/// Saves outcomes and releases the lease. Rows whose lease changed hands, or that were settled
/// meanwhile (an invite revoked while its event was in flight), are left alone.
pub async fn finish(db: &Db, owner: &str, outcomes: &[EventOutcome], now: i64) -> DbResult<()> {
    const UPDATE: &str = "UPDATE klaviyo_events SET state = $3, reason = $4, attempts = $5, due_at = $6,
            sent_at = COALESCE($7, sent_at), lease_owner = NULL, lease_until = NULL, updated_at = $8
        WHERE id = $1 AND lease_owner = $2 AND state IN ('queued', 'retrying')";
    on_engine!(db, |pool| {
        let mut tx = pool.begin().await.map_err(db_err)?;
        for o in outcomes {
            sqlx::query(UPDATE)
                .bind(o.id)
                .bind(owner)
                .bind(o.state)
                .bind(&o.reason)
                .bind(o.attempts)
                .bind(o.due_at)
                .bind(o.sent_at)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    })
}

/// Events of one merchant and metric, newest first (tests and the invite page's delivery column).
pub async fn count_by_state(db: &Db, merchant: MerchantId) -> DbResult<Vec<(String, i64)>> {
    on_engine!(db, |pool| sqlx::query_as(
        "SELECT state, COUNT(*) FROM klaviyo_events WHERE merchant_id = $1 GROUP BY state"
    )
    .bind(merchant)
    .fetch_all(pool)
    .await
    .map_err(db_err))
}

/// The lifecycle metrics the merchant switched off.
pub async fn switched_off(db: &Db, merchant: MerchantId) -> DbResult<Vec<String>> {
    const SQL: &str = "SELECT metric FROM lifecycle_events_off WHERE merchant_id = $1";
    on_engine!(db, |pool| sqlx::query_scalar(SQL).bind(merchant).fetch_all(pool).await.map_err(db_err))
}

/// Switches a lifecycle metric on (the default) or off for the merchant.
pub async fn switch(db: &Db, merchant: MerchantId, metric: &str, on: bool) -> DbResult<()> {
    const OFF: &str = "INSERT INTO lifecycle_events_off (merchant_id, metric) VALUES ($1, $2) ON CONFLICT DO NOTHING";
    const ON: &str = "DELETE FROM lifecycle_events_off WHERE merchant_id = $1 AND metric = $2";
    let sql = if on { ON } else { OFF };
    on_engine!(db, |pool| sqlx::query(sql)
        .bind(merchant)
        .bind(metric)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(db_err))?;
    Ok(())
}
