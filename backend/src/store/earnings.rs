//! Conversions (attributed orders), refunds and commission lines: the SQL only. Which state a line
//! takes, how a refund splits a commission and what is announced are decided by the use cases in
//! `services::orders` and `services::earnings` (rules in `shared::domain::commission`), which own the
//! transaction and pass it here. A replayed order or refund changes nothing (unique per merchant on
//! the shop's ids).

use super::{Db, DbResult, Tx};
use shared::domain::commission::{CommissionState, HeldReason};
use shared::domain::tracking::DAY_MS;
use shared::domain::{AffiliateId, CampaignId, MerchantId};

/// An attributed order and the commission it earns, as the service worked them out.
#[derive(Debug, Clone)]
pub struct NewConversion {
    pub merchant_id: MerchantId,
    pub campaign_id: CampaignId,
    pub affiliate_id: AffiliateId,
    pub order_id: String,
    pub order_name: Option<String>,
    pub channel: &'static str,
    pub via: &'static str,
    pub subtotal_minor: i64,
    pub currency: String,
    pub ordered_at: i64,
    pub self_referral: bool,
    pub commission_minor: i64,
    pub commission_currency: String,
    /// How the amount was reached, shown to the merchant ("10 % of 120.00 USD").
    pub rule: String,
    /// Where the sale line starts, and why it is held if it is.
    pub state: CommissionState,
    pub held_reason: Option<HeldReason>,
    /// When its hold period ends.
    pub approve_at: i64,
}

/// A sale line as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCommission {
    pub affiliate_id: AffiliateId,
    pub amount_minor: i64,
    pub currency: String,
    pub state: CommissionState,
}

/// Adds the order; `None` when the merchant recorded this order id before.
pub async fn insert_conversion(tx: &mut Tx, c: &NewConversion, now: i64) -> DbResult<Option<i64>> {
    tx.query_scalar(
        "INSERT INTO conversions (merchant_id, campaign_id, affiliate_id, order_id, order_name, channel, via,
             subtotal_minor, currency, self_referral, ordered_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (merchant_id, order_id) DO NOTHING RETURNING id",
    )
    .bind(c.merchant_id)
    .bind(c.campaign_id)
    .bind(c.affiliate_id)
    .bind(&c.order_id)
    .bind(&c.order_name)
    .bind(c.channel)
    .bind(c.via)
    .bind(c.subtotal_minor)
    .bind(&c.currency)
    .bind(c.self_referral)
    .bind(c.ordered_at)
    .bind(now)
    .fetch_optional()
    .await
}

/// Adds the order's sale line (`refund_id` NULL), at its original amount.
pub async fn insert_sale(tx: &mut Tx, c: &NewConversion, conversion_id: i64, now: i64) -> DbResult<i64> {
    tx.query_scalar(
        "INSERT INTO commissions (merchant_id, campaign_id, affiliate_id, conversion_id, amount_minor, original_minor,
             currency, rule, state, held_reason, approve_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(c.merchant_id)
    .bind(c.campaign_id)
    .bind(c.affiliate_id)
    .bind(conversion_id)
    .bind(c.commission_minor)
    .bind(&c.commission_currency)
    .bind(&c.rule)
    .bind(c.state)
    .bind(c.held_reason.map(HeldReason::as_str))
    .bind(c.approve_at)
    .bind(now)
    .fetch_one()
    .await
}

/// The id of a recorded order.
pub async fn conversion_id(tx: &mut Tx, merchant: MerchantId, order_id: &str) -> DbResult<Option<i64>> {
    tx.query_scalar("SELECT id FROM conversions WHERE merchant_id = $1 AND order_id = $2")
        .bind(merchant)
        .bind(order_id)
        .fetch_optional()
        .await
}

/// An order's sale line as stored, if it has one.
pub async fn sale_of(tx: &mut Tx, conversion_id: i64) -> DbResult<Option<StoredCommission>> {
    tx.query_as(
        "SELECT affiliate_id, amount_minor, currency, state FROM commissions
         WHERE conversion_id = $1 AND refund_id IS NULL",
    )
    .bind(conversion_id)
    .fetch_optional()
    .await
}

/// The currency of a recorded order, which its refunds are in.
pub async fn order_currency(db: &Db, merchant: MerchantId, order_id: &str) -> DbResult<Option<String>> {
    db.query_scalar("SELECT currency FROM conversions WHERE merchant_id = $1 AND order_id = $2")
        .bind(merchant)
        .bind(order_id)
        .fetch_optional()
        .await
}

#[derive(Debug, Clone)]
pub struct NewRefund {
    pub merchant_id: MerchantId,
    pub order_id: String,
    pub refund_id: String,
    pub amount_minor: i64,
}

/// Adds a refund (tied to its order when recorded, else kept for it); `None` when this refund id
/// was recorded before.
pub async fn insert_refund(tx: &mut Tx, r: &NewRefund, conversion: Option<i64>, now: i64) -> DbResult<Option<i64>> {
    tx.query_scalar(
        "INSERT INTO refunds (merchant_id, conversion_id, order_id, refund_id, amount_minor, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (merchant_id, refund_id) DO NOTHING RETURNING id",
    )
    .bind(r.merchant_id)
    .bind(conversion)
    .bind(&r.order_id)
    .bind(&r.refund_id)
    .bind(r.amount_minor)
    .bind(now)
    .fetch_optional()
    .await
}

/// The total of refunds kept for an order that wasn't recorded when they arrived.
pub async fn kept_refunds(tx: &mut Tx, merchant: MerchantId, order_id: &str) -> DbResult<i64> {
    tx.query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM refunds
         WHERE merchant_id = $1 AND order_id = $2 AND conversion_id IS NULL",
    )
    .bind(merchant)
    .bind(order_id)
    .fetch_one()
    .await
}

/// Ties the refunds kept for an order to it, now that it is recorded.
pub async fn attach_kept_refunds(
    tx: &mut Tx,
    merchant: MerchantId,
    order_id: &str,
    conversion_id: i64,
) -> DbResult<()> {
    tx.query(
        "UPDATE refunds SET conversion_id = $3 WHERE merchant_id = $1 AND order_id = $2 AND conversion_id IS NULL",
    )
    .bind(merchant)
    .bind(order_id)
    .bind(conversion_id)
    .execute()
    .await?;
    Ok(())
}

/// An order's subtotal and its refunded total, after a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRefunds {
    pub conversion_id: i64,
    pub subtotal_minor: i64,
    pub refunded_minor: i64,
}

/// Sets an order's refunded total (the refunds kept for it, when it arrives).
pub async fn set_refunded(tx: &mut Tx, conversion_id: i64, refunded_minor: i64) -> DbResult<()> {
    tx.query("UPDATE conversions SET refunded_minor = $2 WHERE id = $1")
        .bind(conversion_id)
        .bind(refunded_minor)
        .execute()
        .await?;
    Ok(())
}

/// Adds `amount` to an order's refunded total, capped at its subtotal in the same statement, so
/// concurrent refunds add up.
pub async fn add_refunded(tx: &mut Tx, conversion_id: i64, amount: i64) -> DbResult<OrderRefunds> {
    tx.query_as(
        "UPDATE conversions SET refunded_minor =
             CASE WHEN refunded_minor + $2 > subtotal_minor THEN subtotal_minor ELSE refunded_minor + $2 END
         WHERE id = $1 RETURNING id AS conversion_id, subtotal_minor, refunded_minor",
    )
    .bind(conversion_id)
    .bind(amount)
    .fetch_one()
    .await
}

/// An order's sale line, as a refund needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SaleLine {
    pub id: i64,
    pub affiliate_id: AffiliateId,
    pub campaign_id: CampaignId,
    pub amount_minor: i64,
    pub original_minor: i64,
    pub currency: String,
    pub state: CommissionState,
    pub payout_id: Option<i64>,
}

/// An order's sale line, locked for the rest of the transaction on PostgreSQL, so a payout marking
/// it paid waits for the refund (and a refund waits for a payout).
pub async fn lock_sale(tx: &mut Tx, conversion_id: i64) -> DbResult<Option<SaleLine>> {
    let sql = format!(
        "SELECT id, affiliate_id, campaign_id, amount_minor, original_minor, currency, state, payout_id
         FROM commissions WHERE conversion_id = $1 AND refund_id IS NULL{}",
        tx.kind().for_update()
    );
    tx.query_as(&sql).bind(conversion_id).fetch_optional().await
}

/// The sum of an order's clawback lines so far (zero or less).
pub async fn clawed_back(tx: &mut Tx, conversion_id: i64) -> DbResult<i64> {
    tx.query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM commissions
         WHERE conversion_id = $1 AND refund_id IS NOT NULL",
    )
    .bind(conversion_id)
    .fetch_one()
    .await
}

/// A negative line for a refund of a sale already in a payout run.
#[derive(Debug, Clone)]
pub struct NewClawback<'a> {
    pub merchant_id: MerchantId,
    pub sale: &'a SaleLine,
    pub conversion_id: i64,
    /// The refund row, when the line follows one refund (not for refunds kept for the order).
    pub refund: Option<i64>,
    pub amount_minor: i64,
    pub label: &'a str,
    pub state: CommissionState,
    pub at: i64,
}

pub async fn insert_clawback(tx: &mut Tx, c: &NewClawback<'_>) -> DbResult<()> {
    tx.query(
        "INSERT INTO commissions (merchant_id, campaign_id, affiliate_id, conversion_id, refund_id,
             amount_minor, original_minor, currency, rule, state, approve_at, created_at, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $10, $10)",
    )
    .bind(c.merchant_id)
    .bind(c.sale.campaign_id)
    .bind(c.sale.affiliate_id)
    .bind(c.conversion_id)
    .bind(c.refund)
    .bind(c.amount_minor)
    .bind(&c.sale.currency)
    .bind(c.label)
    .bind(c.state)
    .bind(c.at)
    .execute()
    .await?;
    Ok(())
}

/// Sets a line's amount.
pub async fn set_amount(tx: &mut Tx, id: i64, amount_minor: i64) -> DbResult<()> {
    tx.query("UPDATE commissions SET amount_minor = $2 WHERE id = $1").bind(id).bind(amount_minor).execute().await?;
    Ok(())
}

/// Voids a line: nothing left of it.
pub async fn void(tx: &mut Tx, id: i64, now: i64) -> DbResult<()> {
    tx.query("UPDATE commissions SET amount_minor = 0, state = $2, decided_at = $3 WHERE id = $1")
        .bind(id)
        .bind(CommissionState::Voided)
        .bind(now)
        .execute()
        .await?;
    Ok(())
}

/// How many lines [`approve_batch`] takes per statement.
pub const APPROVE_BATCH: usize = 500;

/// Moves up to [`APPROVE_BATCH`] pending lines whose hold period is over by `now` to approved;
/// their ids. Rows another instance's sweep holds are skipped on PostgreSQL, and the statement
/// takes only rows still pending, so any number of instances may run it.
pub async fn approve_batch(tx: &mut Tx, now: i64) -> DbResult<Vec<i64>> {
    let sql = format!(
        "UPDATE commissions SET state = 'approved', decided_at = $1
         WHERE id IN (SELECT id FROM commissions WHERE state = 'pending' AND approve_at <= $1 LIMIT {APPROVE_BATCH}{})
         RETURNING id",
        tx.kind().skip_locked()
    );
    tx.query_scalar(&sql).bind(now).fetch_all().await
}

/// Holds the affiliate's pending sale lines for the merchant's review when the affiliate is
/// disabled; how many. Approved and paid lines are money already owed or settled and stay as they are.
pub async fn hold_for_disabled(tx: &mut Tx, merchant: MerchantId, affiliate: AffiliateId, now: i64) -> DbResult<u64> {
    tx.query(
        "UPDATE commissions SET state = 'held', held_reason = 'affiliate_disabled', decided_at = $3
         WHERE merchant_id = $1 AND affiliate_id = $2 AND state = 'pending'",
    )
    .bind(merchant)
    .bind(affiliate)
    .bind(now)
    .execute()
    .await
}

/// Releases the lines [`hold_for_disabled`] held when the affiliate is enabled again: approved when
/// their hold period is over, pending otherwise (as if they had never been held); the ids of the
/// lines approved now (the caller announces them, as the hold-period sweep would have).
pub async fn release_disabled_holds(
    tx: &mut Tx,
    merchant: MerchantId,
    affiliate: AffiliateId,
    now: i64,
) -> DbResult<Vec<i64>> {
    let released: Vec<(i64, CommissionState)> = tx
        .query_as(
            "UPDATE commissions SET held_reason = NULL, decided_at = $3,
                 state = CASE WHEN approve_at <= $3 THEN 'approved' ELSE 'pending' END
             WHERE merchant_id = $1 AND affiliate_id = $2 AND state = 'held' AND held_reason = 'affiliate_disabled'
             RETURNING id, state",
        )
        .bind(merchant)
        .bind(affiliate)
        .bind(now)
        .fetch_all()
        .await?;
    Ok(released.into_iter().filter(|(_, s)| *s == CommissionState::Approved).map(|(id, _)| id).collect())
}

/// A line of the merchant's as the review of a held line needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Reviewed {
    pub state: CommissionState,
    pub approve_at: i64,
}

/// One of the merchant's lines, locked for the rest of the transaction on PostgreSQL.
pub async fn lock_line(tx: &mut Tx, merchant: MerchantId, id: i64) -> DbResult<Option<Reviewed>> {
    let sql = format!(
        "SELECT state, approve_at FROM commissions WHERE merchant_id = $1 AND id = $2{}",
        tx.kind().for_update()
    );
    tx.query_as(&sql).bind(merchant).bind(id).fetch_optional().await
}

/// Moves a held line to `to` with the merchant's verdict; false when it isn't this merchant's or
/// isn't held any more.
pub async fn decide_held(tx: &mut Tx, merchant: MerchantId, id: i64, to: CommissionState, now: i64) -> DbResult<bool> {
    let changed = tx
        .query(
            "UPDATE commissions SET decided_at = $3, held_reason = NULL, state = $4
             WHERE merchant_id = $1 AND id = $2 AND state = 'held'",
        )
        .bind(merchant)
        .bind(id)
        .bind(now)
        .bind(to)
        .execute()
        .await?;
    Ok(changed == 1)
}

/// What events and webhooks say about one commission line.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Announced {
    pub merchant_id: MerchantId,
    pub affiliate_id: AffiliateId,
    pub email: String,
    pub first_name: String,
    pub campaign: String,
    pub order_id: String,
    pub order_name: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub state: CommissionState,
    pub approve_at: i64,
}

pub async fn announced(tx: &mut Tx, id: i64) -> DbResult<Announced> {
    tx.query_as(
        "SELECT k.merchant_id, k.affiliate_id, a.email, a.first_name, c.name AS campaign, v.order_id, v.order_name,
             k.amount_minor, k.currency, k.state, k.approve_at
         FROM commissions k JOIN affiliates a ON a.id = k.affiliate_id JOIN campaigns c ON c.id = k.campaign_id
             JOIN conversions v ON v.id = k.conversion_id
         WHERE k.id = $1",
    )
    .bind(id)
    .fetch_one()
    .await
}

/// One commission line with its order, for the merchant's and the affiliate's lists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommissionRow {
    pub id: i64,
    pub affiliate_id: AffiliateId,
    pub affiliate_name: String,
    pub order_id: String,
    pub order_name: Option<String>,
    pub channel: String,
    pub via: String,
    pub subtotal_minor: i64,
    pub order_currency: String,
    pub refunded_minor: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub rule: String,
    pub state: CommissionState,
    pub held_reason: Option<String>,
    pub is_clawback: bool,
    pub approve_at: i64,
    pub created_at: i64,
}

const COMMISSIONS: &str = "SELECT k.id, k.affiliate_id, a.full_name AS affiliate_name, v.order_id, v.order_name,
        v.channel, v.via, v.subtotal_minor, v.currency AS order_currency, v.refunded_minor, k.amount_minor, k.currency,
        k.rule, k.state, k.held_reason, k.refund_id IS NOT NULL AS is_clawback, k.approve_at, k.created_at
    FROM commissions k JOIN conversions v ON v.id = k.conversion_id JOIN affiliates a ON a.id = k.affiliate_id";

/// The newest commission lines of one affiliate of the merchant's.
pub async fn commissions_of(
    db: &Db,
    merchant: MerchantId,
    affiliate: AffiliateId,
    limit: i64,
) -> DbResult<Vec<CommissionRow>> {
    let sql = format!("{COMMISSIONS} WHERE k.merchant_id = $1 AND k.affiliate_id = $2 ORDER BY k.id DESC LIMIT $3");
    db.query_as(&sql).bind(merchant).bind(affiliate).bind(limit).fetch_all().await
}

/// A page of the merchant's commission lines, newest first, before the cursor (an id) if any,
/// optionally in one state, of one affiliate, and created within `window` (unix ms, end exclusive).
pub async fn page(
    db: &Db,
    merchant: MerchantId,
    before: Option<i64>,
    state: Option<CommissionState>,
    affiliate: Option<AffiliateId>,
    window: (i64, i64),
    limit: i64,
) -> DbResult<Vec<CommissionRow>> {
    let sql = format!(
        "{COMMISSIONS} WHERE k.merchant_id = $1 AND k.id < $2 AND ($3 = '' OR k.state = $3)
             AND ($4 = 0 OR k.affiliate_id = $4) AND k.created_at >= $5 AND k.created_at < $6
         ORDER BY k.id DESC LIMIT $7"
    );
    db.query_as(&sql)
        .bind(merchant)
        .bind(before.unwrap_or(i64::MAX))
        .bind(state.map(CommissionState::as_str).unwrap_or_default())
        .bind(affiliate.map(|a| a.0).unwrap_or_default())
        .bind(window.0)
        .bind(window.1)
        .bind(limit)
        .fetch_all()
        .await
}

/// The merchant's commissions held for review, oldest first.
pub async fn held(db: &Db, merchant: MerchantId) -> DbResult<Vec<CommissionRow>> {
    let sql = format!("{COMMISSIONS} WHERE k.merchant_id = $1 AND k.state = 'held' ORDER BY k.id LIMIT 500");
    db.query_as(&sql).bind(merchant).fetch_all().await
}

/// Clicks, conversions and commission by state and currency, for one group (an affiliate or a
/// campaign, named by `key`).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub clicks: i64,
    pub conversions: i64,
    /// (state, currency, sum of amounts)
    pub earnings: Vec<(CommissionState, String, i64)>,
}

/// Totals per affiliate (`by = "affiliate_id"`) or per campaign (`by = "campaign_id"`), optionally
/// for one affiliate only.
/// Everything, whenever it happened: the `window` of an all-time total.
pub const ALL_TIME: (i64, i64) = (i64::MIN, i64::MAX);

pub async fn totals(
    db: &Db,
    merchant: MerchantId,
    by: Grouping,
    only: Option<AffiliateId>,
    window: (i64, i64),
) -> DbResult<std::collections::BTreeMap<i64, Totals>> {
    let column = by.column();
    // One affiliate: their own index; everyone: the merchant's. `window` is [start, end) in unix
    // ms: a click by when it happened, an order by when it was placed, a commission by when it was
    // earned.
    let filter = if only.is_some() { " AND affiliate_id = $2" } else { " AND $2 = 0" };
    // A visitor counts once an hour even if two instances wrote the click.
    let clicks_sql = format!(
        "SELECT k, CAST(COUNT(*) AS BIGINT) FROM
             (SELECT DISTINCT {column} AS k, affiliate_id AS a, visitor, hour FROM clicks
              WHERE merchant_id = $1{filter} AND at >= $3 AND at < $4) v
         GROUP BY k"
    );
    let conversions_sql = format!(
        "SELECT {column}, CAST(COUNT(*) AS BIGINT) FROM conversions
         WHERE merchant_id = $1{filter} AND ordered_at >= $3 AND ordered_at < $4 GROUP BY {column}"
    );
    let earnings_sql = format!(
        "SELECT {column}, state, currency, CAST(SUM(amount_minor) AS BIGINT) FROM commissions
         WHERE merchant_id = $1{filter} AND created_at >= $3 AND created_at < $4 GROUP BY {column}, state, currency"
    );
    let only = only.map(|a| a.0).unwrap_or_default();
    let (start, end) = window;
    let clicks: Vec<(i64, i64)> =
        db.query_as(&clicks_sql).bind(merchant).bind(only).bind(start).bind(end).fetch_all().await?;
    let conversions: Vec<(i64, i64)> =
        db.query_as(&conversions_sql).bind(merchant).bind(only).bind(start).bind(end).fetch_all().await?;
    let earnings: Vec<(i64, CommissionState, String, i64)> =
        db.query_as(&earnings_sql).bind(merchant).bind(only).bind(start).bind(end).fetch_all().await?;
    let mut out: std::collections::BTreeMap<i64, Totals> = std::collections::BTreeMap::new();
    for (key, n) in clicks {
        out.entry(key).or_default().clicks = n;
    }
    for (key, n) in conversions {
        out.entry(key).or_default().conversions = n;
    }
    for (key, state, currency, sum) in earnings {
        out.entry(key).or_default().earnings.push((state, currency, sum));
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Affiliate,
    Campaign,
}

impl Grouping {
    fn column(self) -> &'static str {
        match self {
            Self::Affiliate => "affiliate_id",
            Self::Campaign => "campaign_id",
        }
    }
}

/// Per day (days since the epoch, UTC) from `since`: clicks, conversions, and commission earned
/// per currency, optionally for one campaign or one affiliate.
#[derive(Debug, Clone, Default)]
pub struct Daily {
    pub clicks: Vec<(i64, i64)>,
    pub conversions: Vec<(i64, i64)>,
    pub commission: Vec<(i64, String, i64)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Scope {
    pub campaign: Option<CampaignId>,
    pub affiliate: Option<AffiliateId>,
}

/// Per day of [`since`, `until`).
pub async fn daily(db: &Db, merchant: MerchantId, scope: Scope, since: i64, until: i64) -> DbResult<Daily> {
    let filter = " AND ($3 = 0 OR campaign_id = $3) AND ($4 = 0 OR affiliate_id = $4)";
    let hours_a_day = DAY_MS / 3_600_000;
    let clicks_sql = format!(
        "SELECT hour / {hours_a_day} AS day, CAST(COUNT(*) AS BIGINT) FROM
             (SELECT DISTINCT affiliate_id, visitor, hour FROM clicks
              WHERE merchant_id = $1 AND at >= $2 AND at < $5{filter}) v
         GROUP BY day ORDER BY day"
    );
    let conversions_sql = format!(
        "SELECT ordered_at / {DAY_MS} AS day, CAST(COUNT(*) AS BIGINT) FROM conversions
         WHERE merchant_id = $1 AND ordered_at >= $2 AND ordered_at < $5{filter} GROUP BY day ORDER BY day"
    );
    let commission_sql = format!(
        "SELECT created_at / {DAY_MS} AS day, currency, CAST(SUM(amount_minor) AS BIGINT) FROM commissions
         WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $5 AND state <> 'voided'{filter}
         GROUP BY day, currency ORDER BY day"
    );
    let campaign = scope.campaign.map(|c| c.0).unwrap_or_default();
    let affiliate = scope.affiliate.map(|a| a.0).unwrap_or_default();
    // The three queries take the same five parameters.
    let params = (merchant, since, campaign, affiliate, until);
    let clicks = scoped(db.query_as(&clicks_sql), params).fetch_all().await?;
    let conversions = scoped(db.query_as(&conversions_sql), params).fetch_all().await?;
    let commission = scoped(db.query_as(&commission_sql), params).fetch_all().await?;
    Ok(Daily { clicks, conversions, commission })
}

/// Binds [`daily`]'s parameters: merchant, since, campaign (0: all), affiliate (0: all), until.
fn scoped<'c, 'q, O: super::engine::Record>(
    query: super::engine::QueryAs<'c, 'q, O>,
    (merchant, since, campaign, affiliate, until): (MerchantId, i64, i64, i64, i64),
) -> super::engine::QueryAs<'c, 'q, O> {
    query.bind(merchant).bind(since).bind(campaign).bind(affiliate).bind(until)
}
