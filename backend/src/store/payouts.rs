//! Payout runs: approved commission lines gathered per affiliate and currency, reviewed, exported,
//! then marked paid (locking the lines) or cancelled (freeing them for a later run). The SQL only:
//! the use cases in `services::payouts` own the transaction and decide which balances are due
//! (`shared::domain::commission::payout_due`). Statements work on a whole run at once, so a run of
//! 100,000 lines is a handful of statements.

use super::{Db, DbResult, Tx};
use shared::domain::{AffiliateId, MerchantId, PayoutRunId, PayoutState};

/// Opens a new run.
pub async fn insert_run(tx: &mut Tx, merchant: MerchantId, actor: &str, now: i64) -> DbResult<PayoutRunId> {
    tx.query_scalar(
        "INSERT INTO payout_runs (merchant_id, state, created_by, created_at) VALUES ($1, 'open', $2, $3) RETURNING id",
    )
    .bind(merchant)
    .bind(actor)
    .bind(now)
    .fetch_one()
    .await
}

/// Adds to `run` one payout per (affiliate, currency) with approved lines not in a run yet, with
/// where it is paid, and attaches those lines. Lines another instance's run took meanwhile are
/// skipped (PostgreSQL re-checks `payout_id IS NULL` after waiting for that run's row locks).
pub async fn gather(tx: &mut Tx, merchant: MerchantId, run: PayoutRunId, now: i64) -> DbResult<()> {
    tx.query(
        "INSERT INTO payouts (merchant_id, run_id, affiliate_id, currency, amount_minor, lines,
            payout_email, wise_email, state, created_at)
        SELECT k.merchant_id, $2, k.affiliate_id, k.currency, 1, 0, COALESCE(a.paypal_email, a.email),
            COALESCE(a.wise_email, a.paypal_email, a.email), 'open', $3
        FROM commissions k JOIN affiliates a ON a.id = k.affiliate_id
        WHERE k.merchant_id = $1 AND k.state = 'approved' AND k.payout_id IS NULL
        GROUP BY k.merchant_id, k.affiliate_id, k.currency, a.paypal_email, a.wise_email, a.email",
    )
    .bind(merchant)
    .bind(run)
    .bind(now)
    .execute()
    .await?;
    tx.query(
        "UPDATE commissions SET payout_id = p.id FROM payouts p
        WHERE p.run_id = $2 AND p.affiliate_id = commissions.affiliate_id AND p.currency = commissions.currency
          AND commissions.merchant_id = $1 AND commissions.state = 'approved' AND commissions.payout_id IS NULL",
    )
    .bind(merchant)
    .bind(run)
    .execute()
    .await?;
    Ok(())
}

/// A payout's balance as summed from the lines it actually holds, with what decides whether it is
/// due.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Balance {
    /// The payout.
    pub id: i64,
    pub currency: String,
    pub amount_minor: i64,
    pub min_payout_minor: i64,
    pub campaign_currency: String,
}

pub async fn balances(tx: &mut Tx, run: PayoutRunId) -> DbResult<Vec<Balance>> {
    tx.query_as(
        "SELECT p.id, p.currency, CAST(COALESCE(SUM(k.amount_minor), 0) AS BIGINT) AS amount_minor,
            c.min_payout_minor, c.currency AS campaign_currency
        FROM payouts p JOIN affiliates a ON a.id = p.affiliate_id JOIN campaigns c ON c.id = a.campaign_id
            LEFT JOIN commissions k ON k.payout_id = p.id
        WHERE p.run_id = $1
        GROUP BY p.id, p.currency, c.min_payout_minor, c.currency",
    )
    .bind(run)
    .fetch_all()
    .await
}

/// Takes a payout out of its run: its lines are free again.
pub async fn drop_payout(tx: &mut Tx, payout: i64) -> DbResult<()> {
    tx.query("UPDATE commissions SET payout_id = NULL WHERE payout_id = $1").bind(payout).execute().await?;
    tx.query("DELETE FROM payouts WHERE id = $1").bind(payout).execute().await?;
    Ok(())
}

/// Sets each payout of the run to the sum and count of its lines, in one statement per run rather
/// than one per payout.
pub async fn total_payouts(tx: &mut Tx, run: PayoutRunId) -> DbResult<()> {
    tx.query(
        "UPDATE payouts SET
             amount_minor = (SELECT COALESCE(SUM(k.amount_minor), 0) FROM commissions k WHERE k.payout_id = payouts.id),
             lines = (SELECT COUNT(*) FROM commissions k WHERE k.payout_id = payouts.id)
         WHERE run_id = $1",
    )
    .bind(run)
    .execute()
    .await?;
    Ok(())
}

/// Marks an open run of the merchant's paid under their reference; false when it isn't the
/// merchant's or isn't open.
pub async fn close_paid(
    tx: &mut Tx,
    merchant: MerchantId,
    run: PayoutRunId,
    reference: &str,
    now: i64,
) -> DbResult<bool> {
    let taken = tx
        .query(
            "UPDATE payout_runs SET state = 'paid', reference = $3, decided_at = $4
             WHERE merchant_id = $1 AND id = $2 AND state = 'open'",
        )
        .bind(merchant)
        .bind(run)
        .bind(reference)
        .bind(now)
        .execute()
        .await?;
    Ok(taken == 1)
}

/// Marks a run's payouts and their approved lines paid for good.
pub async fn pay(tx: &mut Tx, run: PayoutRunId, reference: &str, now: i64) -> DbResult<()> {
    tx.query("UPDATE payouts SET state = 'paid', paid_at = $2 WHERE run_id = $1").bind(run).bind(now).execute().await?;
    tx.query(
        "UPDATE commissions SET state = 'paid', paid_at = $2, payout_ref = $3
         WHERE payout_id IN (SELECT id FROM payouts WHERE run_id = $1) AND state = 'approved'",
    )
    .bind(run)
    .bind(now)
    .bind(reference)
    .execute()
    .await?;
    Ok(())
}

/// A payout of a run, as its announcements need it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Paid {
    pub id: i64,
    pub affiliate_id: AffiliateId,
    pub email: String,
    pub first_name: String,
    pub payout_email: String,
    pub amount_minor: i64,
    pub currency: String,
    pub lines: i64,
}

pub async fn paid(tx: &mut Tx, run: PayoutRunId) -> DbResult<Vec<Paid>> {
    tx.query_as(
        "SELECT p.id, p.affiliate_id, a.email, a.first_name, p.payout_email, p.amount_minor, p.currency, p.lines
         FROM payouts p JOIN affiliates a ON a.id = p.affiliate_id WHERE p.run_id = $1 ORDER BY p.id",
    )
    .bind(run)
    .fetch_all()
    .await
}

/// Cancels an open run of the merchant's; false when it isn't the merchant's or isn't open.
pub async fn close_cancelled(tx: &mut Tx, merchant: MerchantId, run: PayoutRunId, now: i64) -> DbResult<bool> {
    let taken = tx
        .query(
            "UPDATE payout_runs SET state = 'cancelled', decided_at = $3
             WHERE merchant_id = $1 AND id = $2 AND state = 'open'",
        )
        .bind(merchant)
        .bind(run)
        .bind(now)
        .execute()
        .await?;
    Ok(taken == 1)
}

/// Frees a cancelled run's lines for the next run and cancels its payouts.
pub async fn release(tx: &mut Tx, run: PayoutRunId) -> DbResult<()> {
    tx.query(
        "UPDATE commissions SET payout_id = NULL
         WHERE payout_id IN (SELECT id FROM payouts WHERE run_id = $1) AND state = 'approved'",
    )
    .bind(run)
    .execute()
    .await?;
    tx.query("UPDATE payouts SET state = 'cancelled' WHERE run_id = $1").bind(run).execute().await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: PayoutRunId,
    pub state: PayoutState,
    pub reference: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

pub async fn runs(db: &Db, merchant: MerchantId, limit: i64) -> DbResult<Vec<RunRow>> {
    db.query_as(
        "SELECT id, state, reference, created_by, created_at, decided_at FROM payout_runs
         WHERE merchant_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(merchant)
    .bind(limit)
    .fetch_all()
    .await
}

pub async fn run(db: &Db, merchant: MerchantId, id: PayoutRunId) -> DbResult<Option<RunRow>> {
    db.query_as(
        "SELECT id, state, reference, created_by, created_at, decided_at FROM payout_runs
         WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant)
    .bind(id)
    .fetch_optional()
    .await
}

/// A payout with its affiliate and run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PayoutRow {
    pub id: i64,
    pub run_id: PayoutRunId,
    pub affiliate_id: AffiliateId,
    pub affiliate_name: String,
    pub affiliate_email: String,
    pub payout_email: String,
    pub wise_email: String,
    pub currency: String,
    pub amount_minor: i64,
    pub lines: i64,
    pub state: PayoutState,
    pub reference: Option<String>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
}

const PAYOUTS: &str =
    "SELECT p.id, p.run_id, p.affiliate_id, a.full_name AS affiliate_name, a.email AS affiliate_email,
        p.payout_email, p.wise_email, p.currency, p.amount_minor, p.lines, p.state, r.reference, p.created_at, p.paid_at
    FROM payouts p JOIN affiliates a ON a.id = p.affiliate_id JOIN payout_runs r ON r.id = p.run_id";

/// The payouts of one run of the merchant's, by affiliate name.
pub async fn of_run(db: &Db, merchant: MerchantId, run: PayoutRunId) -> DbResult<Vec<PayoutRow>> {
    let sql = format!("{PAYOUTS} WHERE p.merchant_id = $1 AND p.run_id = $2 ORDER BY p.currency, a.full_name, p.id");
    db.query_as(&sql).bind(merchant).bind(run).fetch_all().await
}

/// One affiliate's paid and open payouts, newest first (the portal).
pub async fn of_affiliate(db: &Db, merchant: MerchantId, affiliate: AffiliateId) -> DbResult<Vec<PayoutRow>> {
    let sql = format!(
        "{PAYOUTS} WHERE p.merchant_id = $1 AND p.affiliate_id = $2 AND p.state <> 'cancelled' ORDER BY p.id DESC LIMIT 100"
    );
    db.query_as(&sql).bind(merchant).bind(affiliate).fetch_all().await
}

/// A page of the merchant's payouts, newest first, after the cursor (an id) if any, optionally in
/// one state, for one affiliate and a creation window.
pub async fn page(
    db: &Db,
    merchant: MerchantId,
    before: Option<i64>,
    state: Option<PayoutState>,
    affiliate: Option<AffiliateId>,
    window: (i64, i64),
    limit: i64,
) -> DbResult<Vec<PayoutRow>> {
    let sql = format!(
        "{PAYOUTS} WHERE p.merchant_id = $1 AND p.id < $2 AND ($3 = 0 OR p.affiliate_id = $3)
             AND p.created_at >= $4 AND p.created_at < $5 AND ($7 = '' OR p.state = $7)
         ORDER BY p.id DESC LIMIT $6"
    );
    db.query_as(&sql)
        .bind(merchant)
        .bind(before.unwrap_or(i64::MAX))
        .bind(affiliate.map(|a| a.0).unwrap_or_default())
        .bind(window.0)
        .bind(window.1)
        .bind(limit)
        .bind(state.map(PayoutState::as_str).unwrap_or_default())
        .fetch_all()
        .await
}

/// Balances not yet in a run, per currency: (currency, approved total, pending total).
pub async fn outstanding(db: &Db, merchant: MerchantId) -> DbResult<Vec<(String, i64, i64)>> {
    db.query_as(
        "SELECT currency,
            CAST(COALESCE(SUM(CASE WHEN state = 'approved' AND payout_id IS NULL THEN amount_minor ELSE 0 END), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN state = 'pending' THEN amount_minor ELSE 0 END), 0) AS BIGINT)
        FROM commissions WHERE merchant_id = $1 AND state IN ('approved', 'pending') GROUP BY currency ORDER BY currency",
    )
    .bind(merchant)
    .fetch_all()
    .await
}
