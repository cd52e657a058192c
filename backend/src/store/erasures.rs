//! Klaviyo's part of an affiliate's erasure, as an outbox row: queued in the erasure's transaction,
//! worked under a lease, and deleted once Klaviyo has done it (the email goes with it).

use super::{Claim, Db, DbResult, Tx};
use shared::domain::MerchantId;

/// Queues the Klaviyo side of an erasure: take `email` out of `lists`, unset what Rekomi wrote.
pub async fn enqueue(tx: &mut Tx, merchant: MerchantId, email: &str, lists: &[String], now: i64) -> DbResult<()> {
    tx.query(
        "INSERT INTO klaviyo_erasures (merchant_id, email, list_ids, state, due_at, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', $4, $4, $4)",
    )
    .bind(merchant)
    .bind(email)
    .bind(lists.join(","))
    .bind(now)
    .execute()
    .await
    .map(drop)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedErasure {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub email: String,
    pub list_ids: String,
    pub attempts: i64,
    pub created_at: i64,
}

impl ClaimedErasure {
    pub fn lists(&self) -> Vec<&str> {
        self.list_ids.split(',').filter(|l| !l.is_empty()).collect()
    }
}

pub async fn claim(db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedErasure>> {
    let sql = super::lease_sql(db.kind(), "klaviyo_erasures", "", "id", claim);
    let ids: Vec<i64> = super::bind_claim(db.query_scalar(&sql), claim).fetch_all().await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids come from the database as integers, so inlining them is safe.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT id, merchant_id, email, list_ids, attempts, created_at FROM klaviyo_erasures
         WHERE id IN ({list}) AND lease_owner = $1 ORDER BY id"
    );
    db.query_as(&sql).bind(claim.owner).fetch_all().await
}

/// Klaviyo did its part: nothing of the person is kept.
pub async fn done(db: &Db, owner: &str, id: i64) -> DbResult<()> {
    db.query("DELETE FROM klaviyo_erasures WHERE id = $1 AND lease_owner = $2")
        .bind(id)
        .bind(owner)
        .execute()
        .await
        .map(drop)
}

/// Tried again at `due`, or (`due` None) stopped with `reason` for the merchant to see.
pub async fn not_yet(db: &Db, owner: &str, id: i64, reason: &str, due: Option<i64>, now: i64) -> DbResult<()> {
    db.query(
        "UPDATE klaviyo_erasures SET state = CASE WHEN $4 IS NULL THEN 'failed' ELSE 'retrying' END, reason = $3,
             due_at = $4, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, updated_at = $5
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(reason)
    .bind(due)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// Klaviyo isn't connected: looked at again at `due` (or as soon as it is connected again), with
/// `reason` for the merchant; no attempt is used up.
pub async fn wait(db: &Db, owner: &str, id: i64, reason: &str, due: i64, now: i64) -> DbResult<()> {
    db.query(
        "UPDATE klaviyo_erasures SET state = 'retrying', reason = $3, due_at = $4, lease_owner = NULL,
             lease_until = NULL, updated_at = $5
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(reason)
    .bind(due)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// Klaviyo is connected again: the merchant's waiting erasures are due now.
pub async fn connected_again(db: &Db, merchant: MerchantId, now: i64) -> DbResult<u64> {
    db.query(
        "UPDATE klaviyo_erasures SET due_at = $2, updated_at = $2
         WHERE merchant_id = $1 AND state = 'retrying' AND lease_owner IS NULL",
    )
    .bind(merchant)
    .bind(now)
    .execute()
    .await
}
