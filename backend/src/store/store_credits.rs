//! Payouts paid as Shopify store credit (see `migrations/*/0017_store_credit.sql`): one row per
//! payout, worked by the outbox job `outbox::shopify_store_credit`.

use super::{Claim, Db, DbResult, Tx};
use shared::domain::{MerchantId, PayoutRunId};

/// Queues every payout of an open run that has no credit yet (or whose credit failed) for store
/// credit; how many were queued.
pub async fn enqueue_run(tx: &mut Tx, merchant: MerchantId, run: PayoutRunId, now: i64) -> DbResult<u64> {
    tx.query(
        "INSERT INTO store_credits (payout_id, merchant_id, run_id, state, due_at, created_at, updated_at)
         SELECT p.id, p.merchant_id, p.run_id, 'queued', $3, $3, $3 FROM payouts p
         WHERE p.merchant_id = $1 AND p.run_id = $2 AND p.state = 'open'
         ON CONFLICT (payout_id) DO UPDATE SET state = 'queued', due_at = excluded.due_at, error = NULL,
             attempts = 0, updated_at = excluded.updated_at
         WHERE store_credits.state = 'failed'",
    )
    .bind(merchant)
    .bind(run)
    .bind(now)
    .execute()
    .await
}

/// Counts of a run's credits by state: (queued, credited, failed).
pub async fn run_counts(db: &Db, run: PayoutRunId) -> DbResult<(i64, i64, i64)> {
    let rows: Vec<(String, i64)> = db
        .query_as("SELECT state, COUNT(*) FROM store_credits WHERE run_id = $1 GROUP BY state")
        .bind(run)
        .fetch_all()
        .await?;
    let get = |s: &str| rows.iter().find(|(state, _)| state == s).map_or(0, |(_, n)| *n);
    Ok((get("queued"), get("credited"), get("failed")))
}

/// A run's credits, per payout: (payout id, state, Shopify transaction id, error).
pub async fn of_run(db: &Db, run: PayoutRunId) -> DbResult<Vec<(i64, String, Option<String>, Option<String>)>> {
    db.query_as("SELECT payout_id, state, transaction_id, error FROM store_credits WHERE run_id = $1")
        .bind(run)
        .fetch_all()
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedCredit {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub run_id: PayoutRunId,
    pub customer_id: Option<String>,
    pub attempted_at: Option<i64>,
    pub attempts: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub email: String,
    pub full_name: String,
}

pub async fn claim(db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedCredit>> {
    let sql = super::lease_sql(db.kind(), "store_credits", "", "id", claim);
    let ids: Vec<i64> = super::bind_claim(db.query_scalar(&sql), claim).fetch_all().await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids come from the database as integers, so inlining them is safe.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT c.id, c.merchant_id, c.run_id, c.customer_id, c.attempted_at, c.attempts,
             p.amount_minor, p.currency, a.email, a.full_name
         FROM store_credits c JOIN payouts p ON p.id = c.payout_id JOIN affiliates a ON a.id = p.affiliate_id
         WHERE c.id IN ({list}) AND c.lease_owner = $1 ORDER BY c.id"
    );
    db.query_as(&sql).bind(claim.owner).fetch_all().await
}

/// The Shopify customer the credit goes to, and that a credit is about to be sent: from now on an
/// attempt first reads the account, so an answer lost on the way never pays twice.
pub async fn attempting(db: &Db, owner: &str, id: i64, customer: &str, now: i64) -> DbResult<bool> {
    db.query(
        "UPDATE store_credits SET customer_id = $3, attempted_at = COALESCE(attempted_at, $4), updated_at = $4
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(customer)
    .bind(now)
    .execute()
    .await
    .map(|n| n > 0)
}

pub async fn credited(db: &Db, owner: &str, id: i64, transaction: &str, now: i64) -> DbResult<()> {
    db.query(
        "UPDATE store_credits SET state = 'credited', transaction_id = $3, error = NULL, due_at = NULL,
             lease_owner = NULL, lease_until = NULL, updated_at = $4
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(transaction)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// Tried again at `due`, or (`None`) failed for the merchant to see.
pub async fn not_yet(db: &Db, owner: &str, id: i64, error: &str, due: Option<i64>, now: i64) -> DbResult<()> {
    db.query(
        "UPDATE store_credits SET state = CASE WHEN $4 IS NULL THEN 'failed' ELSE 'queued' END, error = $3,
             due_at = $4, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, updated_at = $5
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(error)
    .bind(due)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// Whether any of the run's payouts was credited or is on its way (a run in that state can't be
/// cancelled: its lines would be paid again by the next run).
pub async fn holds_run(db: &Db, run: PayoutRunId) -> DbResult<bool> {
    let n: i64 = db
        .query_scalar("SELECT COUNT(*) FROM store_credits WHERE run_id = $1 AND state IN ('queued', 'credited')")
        .bind(run)
        .fetch_one()
        .await?;
    Ok(n > 0)
}
