//! Payout runs: approved commission lines gathered per affiliate and currency, reviewed, exported,
//! then marked paid (locking the lines) or cancelled (freeing them for a later run).

use super::outbox::{amount, lifecycle_in_tx, webhook_in_tx};
use super::{db_err, on_engine, BeginWrite, Db, DbResult};
use app::domain::lifecycle::{Metric, Topic};
use app::domain::{AffiliateId, MerchantId};
use serde_json::json;

/// What a new run holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Run(i64),
    /// No affiliate has an approved balance at or above their campaign's minimum.
    NothingDue,
}

/// A balance as summed, with what decides whether it is due.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Balance {
    id: i64,
    currency: String,
    amount_minor: i64,
    min_payout_minor: i64,
    campaign_currency: String,
}

impl Balance {
    /// Due when positive and, in the campaign's currency, at least its minimum payout.
    fn due(&self) -> bool {
        let minimum = if self.currency == self.campaign_currency { self.min_payout_minor.max(1) } else { 1 };
        self.amount_minor >= minimum
    }
}

/// Gathers every approved line not in a run yet into a new run, one payout per (affiliate,
/// currency) whose net balance reaches the campaign's minimum payout (in the campaign's currency;
/// other currencies have no minimum). Set-based, so a run of 100,000 lines is a handful of
/// statements; lines stay `approved` while the run is open.
pub async fn create_run(db: &Db, merchant: MerchantId, actor: &str, now: i64) -> DbResult<Created> {
    // One payout per balance still free, with where it is paid.
    const GATHER: &str = "INSERT INTO payouts (merchant_id, run_id, affiliate_id, currency, amount_minor, lines,
            payout_email, wise_email, state, created_at)
        SELECT k.merchant_id, $2, k.affiliate_id, k.currency, 1, 0, COALESCE(a.paypal_email, a.email),
            COALESCE(a.wise_email, a.paypal_email, a.email), 'open', $3
        FROM commissions k JOIN affiliates a ON a.id = k.affiliate_id
        WHERE k.merchant_id = $1 AND k.state = 'approved' AND k.payout_id IS NULL
        GROUP BY k.merchant_id, k.affiliate_id, k.currency, a.paypal_email, a.wise_email, a.email";
    // Every free line joins its payout. Lines another instance's run took meanwhile are skipped
    // (PostgreSQL re-checks `payout_id IS NULL` after waiting for that run's row locks).
    const ATTACH: &str = "UPDATE commissions SET payout_id = p.id FROM payouts p
        WHERE p.run_id = $2 AND p.affiliate_id = commissions.affiliate_id AND p.currency = commissions.currency
          AND commissions.merchant_id = $1 AND commissions.state = 'approved' AND commissions.payout_id IS NULL";
    // The sums of what each payout actually holds.
    const SUMS: &str = "SELECT p.id, p.currency, CAST(COALESCE(SUM(k.amount_minor), 0) AS BIGINT) AS amount_minor,
            c.min_payout_minor, c.currency AS campaign_currency
        FROM payouts p JOIN affiliates a ON a.id = p.affiliate_id JOIN campaigns c ON c.id = a.campaign_id
            LEFT JOIN commissions k ON k.payout_id = p.id
        WHERE p.run_id = $1
        GROUP BY p.id, p.currency, c.min_payout_minor, c.currency";
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let run: i64 = sqlx::query_scalar(
            "INSERT INTO payout_runs (merchant_id, state, created_by, created_at) VALUES ($1, 'open', $2, $3) RETURNING id",
        )
        .bind(merchant)
        .bind(actor)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(GATHER).bind(merchant).bind(run).bind(now).execute(&mut *tx).await.map_err(db_err)?;
        sqlx::query(ATTACH).bind(merchant).bind(run).execute(&mut *tx).await.map_err(db_err)?;
        let balances: Vec<Balance> = sqlx::query_as(SUMS).bind(run).fetch_all(&mut *tx).await.map_err(db_err)?;
        let (due, short): (Vec<Balance>, Vec<Balance>) = balances.into_iter().partition(Balance::due);
        if due.is_empty() {
            // Nothing written survives: the run and its empty payouts roll back.
            return Ok(Created::NothingDue);
        }
        for b in &short {
            sqlx::query("UPDATE commissions SET payout_id = NULL WHERE payout_id = $1")
                .bind(b.id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query("DELETE FROM payouts WHERE id = $1").bind(b.id).execute(&mut *tx).await.map_err(db_err)?;
        }
        // Due payouts carry their sums; a bulk statement per run rather than one per payout.
        sqlx::query(
            "UPDATE payouts SET
                 amount_minor = (SELECT COALESCE(SUM(k.amount_minor), 0) FROM commissions k WHERE k.payout_id = payouts.id),
                 lines = (SELECT COUNT(*) FROM commissions k WHERE k.payout_id = payouts.id)
             WHERE run_id = $1",
        )
        .bind(run)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Created::Run(run))
    })
}

/// Marks an open run paid under the merchant's reference: its payouts and lines become paid for
/// good, and each payout sends `Rekomi Payout Sent` and `payout.paid`. False when the run isn't
/// the merchant's or isn't open.
pub async fn mark_paid(db: &Db, merchant: MerchantId, run: i64, reference: &str, now: i64) -> DbResult<bool> {
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let taken = sqlx::query(
            "UPDATE payout_runs SET state = 'paid', reference = $3, decided_at = $4
             WHERE merchant_id = $1 AND id = $2 AND state = 'open'",
        )
        .bind(merchant)
        .bind(run)
        .bind(reference)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if taken != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE payouts SET state = 'paid', paid_at = $2 WHERE run_id = $1")
            .bind(run)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "UPDATE commissions SET state = 'paid', paid_at = $2, payout_ref = $3
             WHERE payout_id IN (SELECT id FROM payouts WHERE run_id = $1) AND state = 'approved'",
        )
        .bind(run)
        .bind(now)
        .bind(reference)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        type Paid = (i64, AffiliateId, String, String, String, i64, String, i64);
        let paid: Vec<Paid> = sqlx::query_as(
            "SELECT p.id, p.affiliate_id, a.email, a.first_name, p.payout_email, p.amount_minor, p.currency, p.lines
             FROM payouts p JOIN affiliates a ON a.id = p.affiliate_id WHERE p.run_id = $1 ORDER BY p.id",
        )
        .bind(run)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for (id, affiliate, email, first_name, payout_email, minor, currency, lines) in paid {
            let properties = json!({
                "first_name": first_name,
                "amount": amount(minor, &currency),
                "currency": currency,
                "reference": reference,
                "commissions": lines,
                "payout_email": payout_email,
                "value": amount(minor, &currency),
            });
            lifecycle_in_tx!(tx, merchant, Metric::PayoutSent, &email, format!("payout:{id}"), properties, now);
            let data = json!({
                "id": id,
                "run_id": run,
                "affiliate": { "id": affiliate, "email": email },
                "payout_email": payout_email,
                "amount": amount(minor, &currency),
                "amount_minor": minor,
                "currency": currency,
                "commissions": lines,
                "reference": reference,
            });
            webhook_in_tx!(tx, merchant, Topic::PayoutPaid, format!("evt_payout_paid_{id}"), data, now);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    })
}

/// Cancels an open run: its lines are free for the next run. False when it isn't open.
pub async fn cancel(db: &Db, merchant: MerchantId, run: i64, now: i64) -> DbResult<bool> {
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let taken = sqlx::query(
            "UPDATE payout_runs SET state = 'cancelled', decided_at = $3
             WHERE merchant_id = $1 AND id = $2 AND state = 'open'",
        )
        .bind(merchant)
        .bind(run)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if taken != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE commissions SET payout_id = NULL
             WHERE payout_id IN (SELECT id FROM payouts WHERE run_id = $1) AND state = 'approved'",
        )
        .bind(run)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE payouts SET state = 'cancelled' WHERE run_id = $1")
            .bind(run)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: i64,
    pub state: String,
    pub reference: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

pub async fn runs(db: &Db, merchant: MerchantId, limit: i64) -> DbResult<Vec<RunRow>> {
    const SQL: &str = "SELECT id, state, reference, created_by, created_at, decided_at FROM payout_runs
        WHERE merchant_id = $1 ORDER BY id DESC LIMIT $2";
    on_engine!(db, |pool| sqlx::query_as(SQL).bind(merchant).bind(limit).fetch_all(pool).await.map_err(db_err))
}

pub async fn run(db: &Db, merchant: MerchantId, id: i64) -> DbResult<Option<RunRow>> {
    const SQL: &str = "SELECT id, state, reference, created_by, created_at, decided_at FROM payout_runs
        WHERE merchant_id = $1 AND id = $2";
    on_engine!(db, |pool| sqlx::query_as(SQL).bind(merchant).bind(id).fetch_optional(pool).await.map_err(db_err))
}

/// A payout with its affiliate and run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PayoutRow {
    pub id: i64,
    pub run_id: i64,
    pub affiliate_id: AffiliateId,
    pub affiliate_name: String,
    pub affiliate_email: String,
    pub payout_email: String,
    pub wise_email: String,
    pub currency: String,
    pub amount_minor: i64,
    pub lines: i64,
    pub state: String,
    pub reference: Option<String>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
}

const PAYOUTS: &str =
    "SELECT p.id, p.run_id, p.affiliate_id, a.full_name AS affiliate_name, a.email AS affiliate_email,
        p.payout_email, p.wise_email, p.currency, p.amount_minor, p.lines, p.state, r.reference, p.created_at, p.paid_at
    FROM payouts p JOIN affiliates a ON a.id = p.affiliate_id JOIN payout_runs r ON r.id = p.run_id";

/// The payouts of one run of the merchant's, by affiliate name.
pub async fn of_run(db: &Db, merchant: MerchantId, run: i64) -> DbResult<Vec<PayoutRow>> {
    let sql = format!("{PAYOUTS} WHERE p.merchant_id = $1 AND p.run_id = $2 ORDER BY p.currency, a.full_name, p.id");
    on_engine!(db, |pool| sqlx::query_as(&sql).bind(merchant).bind(run).fetch_all(pool).await.map_err(db_err))
}

/// One affiliate's paid and open payouts, newest first (the portal).
pub async fn of_affiliate(db: &Db, merchant: MerchantId, affiliate: AffiliateId) -> DbResult<Vec<PayoutRow>> {
    let sql = format!(
        "{PAYOUTS} WHERE p.merchant_id = $1 AND p.affiliate_id = $2 AND p.state <> 'cancelled' ORDER BY p.id DESC LIMIT 100"
    );
    on_engine!(db, |pool| sqlx::query_as(&sql).bind(merchant).bind(affiliate).fetch_all(pool).await.map_err(db_err))
}

/// A page of the merchant's payouts, newest first, after the cursor (an id) if any, optionally for
/// one affiliate and a creation window.
pub async fn page(
    db: &Db,
    merchant: MerchantId,
    before: Option<i64>,
    state: Option<&str>,
    affiliate: Option<AffiliateId>,
    window: (i64, i64),
    limit: i64,
) -> DbResult<Vec<PayoutRow>> {
    let sql = format!(
        "{PAYOUTS} WHERE p.merchant_id = $1 AND p.id < $2 AND ($3 = 0 OR p.affiliate_id = $3)
             AND p.created_at >= $4 AND p.created_at < $5 AND ($7 = '' OR p.state = $7)
         ORDER BY p.id DESC LIMIT $6"
    );
    on_engine!(db, |pool| sqlx::query_as(&sql)
        .bind(merchant)
        .bind(before.unwrap_or(i64::MAX))
        .bind(affiliate.map(|a| a.0).unwrap_or_default())
        .bind(window.0)
        .bind(window.1)
        .bind(limit)
        .bind(state.unwrap_or_default())
        .fetch_all(pool)
        .await
        .map_err(db_err))
}

/// Balances not yet in a run, per currency: (currency, approved total, pending total).
pub async fn outstanding(db: &Db, merchant: MerchantId) -> DbResult<Vec<(String, i64, i64)>> {
    const SQL: &str = "SELECT currency,
            CAST(COALESCE(SUM(CASE WHEN state = 'approved' AND payout_id IS NULL THEN amount_minor ELSE 0 END), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN state = 'pending' THEN amount_minor ELSE 0 END), 0) AS BIGINT)
        FROM commissions WHERE merchant_id = $1 AND state IN ('approved', 'pending') GROUP BY currency ORDER BY currency";
    on_engine!(db, |pool| sqlx::query_as(SQL).bind(merchant).fetch_all(pool).await.map_err(db_err))
}
