//! The Klaviyo events outbox: events are queued inside the transaction that causes them (an invite,
//! later approvals and payouts), then sent by the events worker under a lease, like syncs.

use super::{Claim, Db, DbResult, Tx};
use shared::domain::{EventState, MerchantId};

/// Queues one event inside the caller's transaction; true when a row was added. The `unique_id`
/// is unique per merchant, so queueing the same event twice keeps one row.
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn enqueue(
    tx: &mut Tx,
    merchant: MerchantId,
    metric: &str,
    email: &str,
    unique_id: &str,
    properties: &str,
    invite: Option<i64>,
    now: i64,
) -> DbResult<bool> {
    let added = tx
        .query(
            "INSERT INTO klaviyo_events (merchant_id, metric, email, unique_id, properties, invite_id, state, due_at,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7, $7)
             ON CONFLICT (merchant_id, unique_id) DO NOTHING",
        )
        .bind(merchant)
        .bind(metric)
        .bind(email)
        .bind(unique_id)
        .bind(properties)
        .bind(invite)
        .bind(now)
        .execute()
        .await?;
    Ok(added > 0)
}

/// The reason on an event kept while Klaviyo is disconnected.
pub const KEPT: &str = "Kept until Klaviyo is connected again.";
/// How long a kept event stays worth sending: older ones are dropped on reconnect.
pub const KEEP_FOR_MS: i64 = 7 * 24 * 3_600_000;
const DROPPED: &str = "Dropped: it happened while Klaviyo was disconnected.";
const TOO_OLD: &str = "Dropped: kept more than 7 days while Klaviyo was disconnected.";

/// Events kept while Klaviyo is disconnected: how many, and since when.
pub async fn kept(db: &Db, merchant: MerchantId) -> DbResult<(i64, Option<i64>)> {
    db.query_as(
        "SELECT COUNT(*), MIN(created_at) FROM klaviyo_events
         WHERE merchant_id = $1 AND state = 'queued' AND due_at IS NULL",
    )
    .bind(merchant)
    .fetch_one()
    .await
}

/// Klaviyo is connected again: kept events under [`KEEP_FOR_MS`] old are due now, older ones are
/// dropped (failed, with why); (sent, dropped).
pub async fn release_kept(db: &Db, merchant: MerchantId, now: i64) -> DbResult<(u64, u64)> {
    let mut tx = db.begin().await?;
    let dropped = tx
        .query(
            "UPDATE klaviyo_events SET state = 'failed', reason = $3, updated_at = $2
             WHERE merchant_id = $1 AND state = 'queued' AND due_at IS NULL AND created_at < $2 - $4",
        )
        .bind(merchant)
        .bind(now)
        .bind(TOO_OLD)
        .bind(KEEP_FOR_MS)
        .execute()
        .await?;
    let released = tx
        .query(
            "UPDATE klaviyo_events SET due_at = $2, reason = NULL, updated_at = $2
             WHERE merchant_id = $1 AND state = 'queued' AND due_at IS NULL",
        )
        .bind(merchant)
        .bind(now)
        .execute()
        .await?;
    tx.commit().await?;
    Ok((released, dropped))
}

/// The merchant drops the kept events (or stops keeping them); how many were dropped.
pub async fn drop_kept(db: &Db, merchant: MerchantId, now: i64) -> DbResult<u64> {
    db.query(
        "UPDATE klaviyo_events SET state = 'failed', reason = $3, updated_at = $2
         WHERE merchant_id = $1 AND state = 'queued' AND due_at IS NULL",
    )
    .bind(merchant)
    .bind(now)
    .bind(DROPPED)
    .execute()
    .await
}

/// Emails of the merchant's affiliates whose Klaviyo profile was deleted there (lowercase): an event
/// would create the profile again.
pub async fn deleted_in_klaviyo(db: &Db, merchant: MerchantId) -> DbResult<Vec<String>> {
    db.query_scalar(
        "SELECT DISTINCT lower(a.email) FROM klaviyo_syncs s JOIN affiliates a ON a.id = s.affiliate_id
         WHERE s.merchant_id = $1 AND s.drift = 'deleted'",
    )
    .bind(merchant)
    .fetch_all()
    .await
}

/// How many events were dropped because Klaviyo was disconnected.
pub async fn dropped(db: &Db, merchant: MerchantId) -> DbResult<i64> {
    db.query_scalar(
        "SELECT COUNT(*) FROM klaviyo_events WHERE merchant_id = $1 AND state = 'failed' AND reason IN ($2, $3)",
    )
    .bind(merchant)
    .bind(DROPPED)
    .bind(TOO_OLD)
    .fetch_one()
    .await
}

/// Whether events are kept while Klaviyo is disconnected (the default) or dropped.
pub async fn keeps_offline(db: &Db, merchant: MerchantId) -> DbResult<bool> {
    db.query_scalar("SELECT keep_events_offline FROM merchants WHERE id = $1").bind(merchant).fetch_one().await
}

pub async fn set_keep_offline(db: &Db, merchant: MerchantId, keep: bool) -> DbResult<()> {
    db.query("UPDATE merchants SET keep_events_offline = $2 WHERE id = $1")
        .bind(merchant)
        .bind(keep)
        .execute()
        .await
        .map(drop)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedEvent {
    pub id: i64,
    pub merchant_id: MerchantId,
    /// Set on the event that delivers an invite (it fails visibly rather than wait).
    pub invite_id: Option<i64>,
    pub metric: String,
    pub email: String,
    pub unique_id: String,
    pub properties: String,
    pub attempts: i64,
}

/// Takes due events no live lease holds, merchants taking turns (see [`super::lease_sql`]).
pub async fn claim(db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedEvent>> {
    let sql = super::lease_sql(db.kind(), "klaviyo_events", "", "id", claim);
    let ids: Vec<i64> = super::bind_claim(db.query_scalar(&sql), claim).fetch_all().await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids come from the database as integers, so inlining them is safe.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT id, merchant_id, invite_id, metric, email, unique_id, properties, attempts FROM klaviyo_events
         WHERE id IN ({list}) AND lease_owner = $1 ORDER BY due_at, id"
    );
    db.query_as(&sql).bind(claim.owner).fetch_all().await
}

/// Where an event stands after a try.
#[derive(Debug, Clone, PartialEq)]
pub struct EventOutcome {
    pub id: i64,
    pub state: EventState,
    pub reason: Option<String>,
    pub attempts: i64,
    pub due_at: Option<i64>,
    pub sent_at: Option<i64>,
}

/// Saves outcomes and releases the lease. Rows whose lease changed hands, or that were settled
/// meanwhile (an invite revoked while its event was in flight), are left alone.
pub async fn finish(db: &Db, owner: &str, outcomes: &[EventOutcome], now: i64) -> DbResult<()> {
    let mut tx = db.begin().await?;
    for o in outcomes {
        tx.query(
            "UPDATE klaviyo_events SET state = $3, reason = $4, attempts = $5, due_at = $6,
                 sent_at = COALESCE($7, sent_at), lease_owner = NULL, lease_until = NULL, updated_at = $8
             WHERE id = $1 AND lease_owner = $2 AND state IN ('queued', 'retrying')",
        )
        .bind(o.id)
        .bind(owner)
        .bind(o.state)
        .bind(o.reason.as_deref())
        .bind(o.attempts)
        .bind(o.due_at)
        .bind(o.sent_at)
        .bind(now)
        .execute()
        .await?;
    }
    tx.commit().await
}

/// How many of the merchant's events are in each state.
pub async fn count_by_state(db: &Db, merchant: MerchantId) -> DbResult<Vec<(EventState, i64)>> {
    db.query_as("SELECT state, COUNT(*) FROM klaviyo_events WHERE merchant_id = $1 GROUP BY state")
        .bind(merchant)
        .fetch_all()
        .await
}

/// The lifecycle metrics the merchant switched off.
pub async fn switched_off(db: &Db, merchant: MerchantId) -> DbResult<Vec<String>> {
    const SQL: &str = "SELECT metric FROM lifecycle_events_off WHERE merchant_id = $1";
    db.query_scalar(SQL).bind(merchant).fetch_all().await
}

/// Switches a lifecycle metric on (the default) or off for the merchant.
pub async fn switch(db: &Db, merchant: MerchantId, metric: &str, on: bool) -> DbResult<()> {
    const OFF: &str = "INSERT INTO lifecycle_events_off (merchant_id, metric) VALUES ($1, $2) ON CONFLICT DO NOTHING";
    const ON: &str = "DELETE FROM lifecycle_events_off WHERE merchant_id = $1 AND metric = $2";
    let sql = if on { ON } else { OFF };
    db.query(sql).bind(merchant).bind(metric).execute().await.map(drop)
}

/// Per metric, how many of the merchant's events Klaviyo accepted and when the last one was sent:
/// what tells a merchant their flow has something to trigger on.
pub async fn received(db: &Db, merchant: MerchantId) -> DbResult<Vec<(String, i64, Option<i64>)>> {
    db.query_as(
        "SELECT metric, COUNT(*), MAX(sent_at) FROM klaviyo_events
         WHERE merchant_id = $1 AND state = 'sent' GROUP BY metric",
    )
    .bind(merchant)
    .fetch_all()
    .await
}

/// Events done with (sent, or failed for good) before `before` whose properties still hold a
/// sign-in, invite or verification link.
pub async fn with_links(db: &Db, before: i64, limit: i64) -> DbResult<Vec<(i64, String)>> {
    db.query_as(
        "SELECT id, properties FROM klaviyo_events WHERE state IN ('sent', 'failed') AND updated_at < $1
           AND (properties LIKE '%\"login_url\"%' OR properties LIKE '%\"invite_url\"%'
                OR properties LIKE '%\"verify_url\"%')
         ORDER BY id LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all()
    .await
}

pub async fn set_properties(db: &Db, id: i64, properties: &str) -> DbResult<()> {
    db.query("UPDATE klaviyo_events SET properties = $2 WHERE id = $1").bind(id).bind(properties).execute().await?;
    Ok(())
}
