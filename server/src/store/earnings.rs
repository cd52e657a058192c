//! Conversions (attributed orders), refunds and commissions. An order and its commission commit
//! together; a replayed order or refund changes nothing (unique per merchant on the shop's ids).

use super::outbox::{amount, lifecycle_in_tx, rfc3339, webhook_in_tx};
use super::{db_err, on_engine, BeginWrite, Db, DbResult};
use app::domain::commission::after_refunds;
use app::domain::lifecycle::{Metric, Topic};
use app::domain::{AffiliateId, CampaignId, MerchantId};
use serde_json::json;

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
    pub hold_days: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Created {
        conversion_id: i64,
        commission_id: i64,
    },
    /// The order was recorded before (a replay or a second delivery): what was stored then.
    Duplicate {
        conversion_id: i64,
        stored: Option<StoredCommission>,
    },
}

/// A sale line as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCommission {
    pub affiliate_id: AffiliateId,
    pub amount_minor: i64,
    pub currency: String,
    pub state: String,
}

const DAY_MS: i64 = 86_400_000;

/// What events and webhooks say about one commission line.
#[derive(sqlx::FromRow)]
struct Announced {
    merchant_id: MerchantId,
    affiliate_id: AffiliateId,
    email: String,
    first_name: String,
    campaign: String,
    order_id: String,
    order_name: Option<String>,
    amount_minor: i64,
    currency: String,
    state: String,
    approve_at: i64,
}

/// Queues what a commission line's change tells the outside world, inside an open transaction:
/// the lifecycle event `$metric` (if any) to the affiliate and the webhook `$topic` (if any).
macro_rules! announce_commission {
    ($tx:expr, $id:expr, $metric:expr, $topic:expr, $now:expr) => {{
        let id: i64 = $id;
        let metric: Option<Metric> = $metric;
        let topic: Option<Topic> = $topic;
        let row: Announced = sqlx::query_as(
            "SELECT k.merchant_id, k.affiliate_id, a.email, a.first_name, c.name AS campaign, v.order_id, v.order_name,
                 k.amount_minor, k.currency, k.state, k.approve_at
             FROM commissions k JOIN affiliates a ON a.id = k.affiliate_id JOIN campaigns c ON c.id = k.campaign_id
                 JOIN conversions v ON v.id = k.conversion_id
             WHERE k.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *$tx)
        .await
        .map_err(db_err)?;
        let order = row.order_name.clone().unwrap_or_else(|| row.order_id.clone());
        if let Some(metric) = metric {
            let unique = match metric {
                Metric::CommissionApproved => format!("commission-approved:{id}"),
                _ => format!("commission-earned:{id}"),
            };
            let properties = json!({
                "campaign": row.campaign,
                "first_name": row.first_name,
                "order": order,
                "amount": amount(row.amount_minor, &row.currency),
                "currency": row.currency,
                "state": row.state,
                "approves_at": rfc3339(row.approve_at),
                "value": amount(row.amount_minor, &row.currency),
            });
            lifecycle_in_tx!($tx, row.merchant_id, metric, &row.email, unique, properties, $now);
        }
        if let Some(topic) = topic {
            let data = json!({
                "id": id,
                "affiliate": { "id": row.affiliate_id, "email": row.email },
                "campaign": row.campaign,
                "order_id": row.order_id,
                "order_name": row.order_name,
                "amount": amount(row.amount_minor, &row.currency),
                "amount_minor": row.amount_minor,
                "currency": row.currency,
                "state": row.state,
            });
            let event_id = format!("evt_{}_{id}", topic.name().replace('.', "_"));
            webhook_in_tx!($tx, row.merchant_id, topic, event_id, data, $now);
        }
    }};
}

/// Brings an order's sale line in line with its refunded total, inside an open transaction: an
/// unpaid line is cut to its proportional remainder (voided at zero); a paid one gets a negative
/// line for the difference. The sale line is locked first on PostgreSQL, so a payout marking it
/// paid waits for this (and a refund waits for a payout). Evaluates to a [`RefundOutcome`].
macro_rules! settle_in_tx {
    ($tx:expr, $lock:expr, $merchant:expr, $conversion:expr, $subtotal:expr, $total:expr, $refund:expr, $label:expr, $now:expr) => {{
        let sql = format!(
            "SELECT id, affiliate_id, campaign_id, amount_minor, original_minor, currency, state, payout_id
             FROM commissions WHERE conversion_id = $1 AND refund_id IS NULL{}",
            $lock
        );
        let sale: Option<SaleLine> =
            sqlx::query_as(&sql).bind($conversion).fetch_optional(&mut *$tx).await.map_err(db_err)?;
        match sale {
            None => RefundOutcome::Reduced { commission_minor: 0 },
            Some(sale) => {
                let target = after_refunds(sale.original_minor, $subtotal, $total);
                // A line in a payout run (open or paid) keeps its amount, which the payout file
                // already carries: the refund becomes a negative line for the next run instead.
                if sale.state == "paid" || sale.payout_id.is_some() {
                    let clawed: i64 = sqlx::query_scalar(
                        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM commissions
                         WHERE conversion_id = $1 AND refund_id IS NOT NULL",
                    )
                    .bind($conversion)
                    .fetch_one(&mut *$tx)
                    .await
                    .map_err(db_err)?;
                    let delta = target - (sale.amount_minor + clawed);
                    if delta < 0 {
                        sqlx::query(
                            "INSERT INTO commissions (merchant_id, campaign_id, affiliate_id, conversion_id, refund_id,
                                 amount_minor, original_minor, currency, rule, state, approve_at, created_at, decided_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, 'approved', $9, $9, $9)",
                        )
                        .bind($merchant)
                        .bind(sale.campaign_id)
                        .bind(sale.affiliate_id)
                        .bind($conversion)
                        .bind($refund)
                        .bind(delta)
                        .bind(&sale.currency)
                        .bind($label)
                        .bind($now)
                        .execute(&mut *$tx)
                        .await
                        .map_err(db_err)?;
                    }
                    RefundOutcome::ClawedBack { clawback_minor: delta.min(0) }
                } else if sale.state == "voided" {
                    RefundOutcome::Reduced { commission_minor: 0 }
                } else {
                    sqlx::query(
                        "UPDATE commissions SET amount_minor = $2,
                             state = CASE WHEN $2 = 0 THEN 'voided' ELSE state END,
                             decided_at = CASE WHEN $2 = 0 THEN $3 ELSE decided_at END
                         WHERE id = $1",
                    )
                    .bind(sale.id)
                    .bind(target)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await
                    .map_err(db_err)?;
                    if target == 0 {
                        announce_commission!($tx, sale.id, None, Some(Topic::CommissionVoided), $now);
                    }
                    RefundOutcome::Reduced { commission_minor: target }
                }
            }
        }
    }};
}

fn row_lock(db: &Db) -> &'static str {
    match db {
        Db::Postgres(_) => " FOR UPDATE",
        Db::Sqlite(_) => "",
    }
}

/// Records the order and its commission in one transaction. A self-referral is held for review.
/// Refunds of this order that arrived before it are applied at once.
pub async fn record_conversion(db: &Db, c: &NewConversion, now: i64) -> DbResult<Recorded> {
    let state = if c.self_referral { "held" } else { "pending" };
    let held_reason = c.self_referral.then_some("self_referral");
    let approve_at = now.saturating_add(c.hold_days.saturating_mul(DAY_MS));
    let lock = row_lock(db);
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let inserted: Option<i64> = sqlx::query_scalar(
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
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(conversion_id) = inserted else {
            let id: i64 = sqlx::query_scalar("SELECT id FROM conversions WHERE merchant_id = $1 AND order_id = $2")
                .bind(c.merchant_id)
                .bind(&c.order_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            let stored: Option<StoredCommission> = sqlx::query_as(
                "SELECT affiliate_id, amount_minor, currency, state FROM commissions
                 WHERE conversion_id = $1 AND refund_id IS NULL",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            return Ok(Recorded::Duplicate { conversion_id: id, stored });
        };
        let commission_id: i64 = sqlx::query_scalar(
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
        .bind(state)
        .bind(held_reason)
        .bind(approve_at)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        announce_commission!(tx, commission_id, Some(Metric::CommissionEarned), Some(Topic::CommissionCreated), now);
        let early: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM refunds
             WHERE merchant_id = $1 AND order_id = $2 AND conversion_id IS NULL",
        )
        .bind(c.merchant_id)
        .bind(&c.order_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if early > 0 {
            sqlx::query("UPDATE refunds SET conversion_id = $3 WHERE merchant_id = $1 AND order_id = $2 AND conversion_id IS NULL")
                .bind(c.merchant_id)
                .bind(&c.order_id)
                .bind(conversion_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let total = early.min(c.subtotal_minor);
            sqlx::query("UPDATE conversions SET refunded_minor = $2 WHERE id = $1")
                .bind(conversion_id)
                .bind(total)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let label = format!("Refund of order {}", c.order_id);
            settle_in_tx!(tx, lock, c.merchant_id, conversion_id, c.subtotal_minor, total, None::<i64>, &label, now);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Recorded::Created { conversion_id, commission_id })
    })
}

/// The currency of a recorded order, which its refunds are in.
pub async fn order_currency(db: &Db, merchant: MerchantId, order_id: &str) -> DbResult<Option<String>> {
    const SQL: &str = "SELECT currency FROM conversions WHERE merchant_id = $1 AND order_id = $2";
    on_engine!(db, |pool| sqlx::query_scalar(SQL)
        .bind(merchant)
        .bind(order_id)
        .fetch_optional(pool)
        .await
        .map_err(db_err))
}

#[derive(Debug, Clone)]
pub struct NewRefund {
    pub merchant_id: MerchantId,
    pub order_id: String,
    pub refund_id: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    /// No order with that id is recorded (yet): the refund is kept and applied if it arrives.
    Kept,
    Duplicate,
    /// The unpaid commission now stands at `commission_minor` (0: voided).
    Reduced {
        commission_minor: i64,
    },
    /// The commission was paid: a negative line of `clawback_minor` goes into the next payout.
    ClawedBack {
        clawback_minor: i64,
    },
}

#[derive(sqlx::FromRow)]
struct SaleLine {
    id: i64,
    affiliate_id: AffiliateId,
    campaign_id: CampaignId,
    amount_minor: i64,
    original_minor: i64,
    currency: String,
    state: String,
    payout_id: Option<i64>,
}

/// Applies a refund once per refund id: the order's refunded total grows (capped at its subtotal,
/// in one statement, so concurrent refunds add up) and its commission follows (`settle_in_tx!`).
pub async fn record_refund(db: &Db, r: &NewRefund, now: i64) -> DbResult<RefundOutcome> {
    let lock = row_lock(db);
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let conversion: Option<i64> =
            sqlx::query_scalar("SELECT id FROM conversions WHERE merchant_id = $1 AND order_id = $2")
                .bind(r.merchant_id)
                .bind(&r.order_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let refund: Option<i64> = sqlx::query_scalar(
            "INSERT INTO refunds (merchant_id, conversion_id, order_id, refund_id, amount_minor, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (merchant_id, refund_id) DO NOTHING RETURNING id",
        )
        .bind(r.merchant_id)
        .bind(conversion)
        .bind(&r.order_id)
        .bind(&r.refund_id)
        .bind(r.amount_minor)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(refund_row) = refund else { return Ok(RefundOutcome::Duplicate) };
        let Some(conversion_id) = conversion else {
            tx.commit().await.map_err(db_err)?;
            return Ok(RefundOutcome::Kept);
        };
        let (subtotal, total): (i64, i64) = sqlx::query_as(
            "UPDATE conversions SET refunded_minor =
                 CASE WHEN refunded_minor + $2 > subtotal_minor THEN subtotal_minor ELSE refunded_minor + $2 END
             WHERE id = $1 RETURNING subtotal_minor, refunded_minor",
        )
        .bind(conversion_id)
        .bind(r.amount_minor)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let label = format!("Refund {} of order {}", r.refund_id, r.order_id);
        let outcome =
            settle_in_tx!(tx, lock, r.merchant_id, conversion_id, subtotal, total, Some(refund_row), &label, now);
        tx.commit().await.map_err(db_err)?;
        Ok(outcome)
    })
}

/// Moves commissions whose hold period is over from pending to approved, with their
/// `Rekomi Commission Approved` events, a batch at a time. Each statement takes only rows still
/// pending, so any number of instances may run it.
pub async fn approve_due(db: &Db, now: i64) -> DbResult<u64> {
    let limit = db.skip_locked();
    let sql = format!(
        "UPDATE commissions SET state = 'approved', decided_at = $1
         WHERE id IN (SELECT id FROM commissions WHERE state = 'pending' AND approve_at <= $1 LIMIT 500{limit})
         RETURNING id"
    );
    let mut total = 0;
    loop {
        let done = on_engine!(db, |pool| {
            let mut tx = pool.begin_write().await?;
            let ids: Vec<i64> = sqlx::query_scalar(&sql).bind(now).fetch_all(&mut *tx).await.map_err(db_err)?;
            for &id in &ids {
                announce_commission!(tx, id, Some(Metric::CommissionApproved), None, now);
            }
            tx.commit().await.map_err(db_err)?;
            ids.len() as u64
        });
        total += done;
        if done < 500 {
            return Ok(total);
        }
    }
}

/// The merchant's verdict on a held commission: release it (approved once its hold is over) or void
/// it. False when it isn't this merchant's or isn't held any more.
pub async fn decide_held(db: &Db, merchant: MerchantId, id: i64, release: bool, now: i64) -> DbResult<bool> {
    const SQL: &str = "UPDATE commissions SET decided_at = $3, held_reason = NULL,
            state = CASE WHEN NOT $4 THEN 'voided' WHEN approve_at <= $3 THEN 'approved' ELSE 'pending' END
        WHERE merchant_id = $1 AND id = $2 AND state = 'held'";
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let changed = sqlx::query(SQL)
            .bind(merchant)
            .bind(id)
            .bind(now)
            .bind(release)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected()
            == 1;
        if changed && !release {
            announce_commission!(tx, id, None, Some(Topic::CommissionVoided), now);
        } else if changed {
            // Released after its hold period: approved now, as the sweep would have.
            let state: String = sqlx::query_scalar("SELECT state FROM commissions WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            if state == "approved" {
                announce_commission!(tx, id, Some(Metric::CommissionApproved), None, now);
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(changed)
    })
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
    pub state: String,
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
    on_engine!(db, |pool| sqlx::query_as(&sql)
        .bind(merchant)
        .bind(affiliate)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(db_err))
}

/// A page of the merchant's commission lines, newest first, before the cursor (an id) if any,
/// optionally in one state, of one affiliate, and created within `window` (unix ms, end exclusive).
pub async fn page(
    db: &Db,
    merchant: MerchantId,
    before: Option<i64>,
    state: Option<&str>,
    affiliate: Option<AffiliateId>,
    window: (i64, i64),
    limit: i64,
) -> DbResult<Vec<CommissionRow>> {
    let sql = format!(
        "{COMMISSIONS} WHERE k.merchant_id = $1 AND k.id < $2 AND ($3 = '' OR k.state = $3)
             AND ($4 = 0 OR k.affiliate_id = $4) AND k.created_at >= $5 AND k.created_at < $6
         ORDER BY k.id DESC LIMIT $7"
    );
    on_engine!(db, |pool| sqlx::query_as(&sql)
        .bind(merchant)
        .bind(before.unwrap_or(i64::MAX))
        .bind(state.unwrap_or_default())
        .bind(affiliate.map(|a| a.0).unwrap_or_default())
        .bind(window.0)
        .bind(window.1)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(db_err))
}

/// The merchant's commissions held for review, oldest first.
pub async fn held(db: &Db, merchant: MerchantId) -> DbResult<Vec<CommissionRow>> {
    let sql = format!("{COMMISSIONS} WHERE k.merchant_id = $1 AND k.state = 'held' ORDER BY k.id LIMIT 500");
    on_engine!(db, |pool| sqlx::query_as(&sql).bind(merchant).fetch_all(pool).await.map_err(db_err))
}

/// Clicks, conversions and commission by state and currency, for one group (an affiliate or a
/// campaign, named by `key`).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub clicks: i64,
    pub conversions: i64,
    /// (state, currency, sum of amounts)
    pub earnings: Vec<(String, String, i64)>,
}

/// Totals per affiliate (`by = "affiliate_id"`) or per campaign (`by = "campaign_id"`), optionally
/// for one affiliate only.
pub async fn totals(
    db: &Db,
    merchant: MerchantId,
    by: Grouping,
    only: Option<AffiliateId>,
) -> DbResult<std::collections::BTreeMap<i64, Totals>> {
    let column = by.column();
    // One affiliate: their own index; everyone: the merchant's.
    let filter = if only.is_some() { " AND affiliate_id = $2" } else { " AND $2 = 0" };
    // A visitor counts once an hour even if two instances wrote the click.
    let clicks_sql = format!(
        "SELECT k, CAST(COUNT(*) AS BIGINT) FROM
             (SELECT DISTINCT {column} AS k, affiliate_id AS a, visitor, hour FROM clicks
              WHERE merchant_id = $1{filter}) v
         GROUP BY k"
    );
    let conversions_sql = format!(
        "SELECT {column}, CAST(COUNT(*) AS BIGINT) FROM conversions WHERE merchant_id = $1{filter} GROUP BY {column}"
    );
    let earnings_sql = format!(
        "SELECT {column}, state, currency, CAST(SUM(amount_minor) AS BIGINT) FROM commissions
         WHERE merchant_id = $1{filter} GROUP BY {column}, state, currency"
    );
    let only = only.map(|a| a.0).unwrap_or_default();
    type Counts = Vec<(i64, i64)>;
    type Sums = Vec<(i64, String, String, i64)>;
    let (clicks, conversions, earnings): (Counts, Counts, Sums) = on_engine!(db, |pool| {
        let clicks = sqlx::query_as(&clicks_sql).bind(merchant).bind(only).fetch_all(pool).await.map_err(db_err)?;
        let conversions =
            sqlx::query_as(&conversions_sql).bind(merchant).bind(only).fetch_all(pool).await.map_err(db_err)?;
        let earnings = sqlx::query_as(&earnings_sql).bind(merchant).bind(only).fetch_all(pool).await.map_err(db_err)?;
        (clicks, conversions, earnings)
    });
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

pub async fn daily(db: &Db, merchant: MerchantId, scope: Scope, since: i64) -> DbResult<Daily> {
    let filter = " AND ($3 = 0 OR campaign_id = $3) AND ($4 = 0 OR affiliate_id = $4)";
    let hours_a_day = DAY_MS / 3_600_000;
    let clicks_sql = format!(
        "SELECT hour / {hours_a_day} AS day, CAST(COUNT(*) AS BIGINT) FROM
             (SELECT DISTINCT affiliate_id, visitor, hour FROM clicks WHERE merchant_id = $1 AND at >= $2{filter}) v
         GROUP BY day ORDER BY day"
    );
    let conversions_sql = format!(
        "SELECT ordered_at / {DAY_MS} AS day, CAST(COUNT(*) AS BIGINT) FROM conversions
         WHERE merchant_id = $1 AND ordered_at >= $2{filter} GROUP BY day ORDER BY day"
    );
    let commission_sql = format!(
        "SELECT created_at / {DAY_MS} AS day, currency, CAST(SUM(amount_minor) AS BIGINT) FROM commissions
         WHERE merchant_id = $1 AND created_at >= $2 AND state <> 'voided'{filter} GROUP BY day, currency ORDER BY day"
    );
    let campaign = scope.campaign.map(|c| c.0).unwrap_or_default();
    let affiliate = scope.affiliate.map(|a| a.0).unwrap_or_default();
    // The three queries take the same four parameters.
    macro_rules! fetch {
        ($pool:expr, $sql:expr) => {
            sqlx::query_as($sql)
                .bind(merchant)
                .bind(since)
                .bind(campaign)
                .bind(affiliate)
                .fetch_all($pool)
                .await
                .map_err(db_err)?
        };
    }
    on_engine!(db, |pool| Ok(Daily {
        clicks: fetch!(pool, &clicks_sql),
        conversions: fetch!(pool, &conversions_sql),
        commission: fetch!(pool, &commission_sql),
    }))
}
