//! What the merchant's home page reads: which setup steps real data shows done, and the period's
//! figures. Each flag is an `EXISTS` on an index the merchant's own rows lead, so a merchant with
//! millions of clicks answers as fast as a new one.

use super::{Db, DbResult};
use shared::domain::MerchantId;

/// Setup steps that rows prove done (the Klaviyo connection and its list come from
/// `store::klaviyo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Setup {
    pub campaign_list: bool,
    pub campaign: bool,
    pub shop: bool,
    pub application: bool,
    pub approval: bool,
    pub synced: bool,
    pub commission: bool,
}

pub async fn setup(db: &Db, merchant: MerchantId) -> DbResult<Setup> {
    // BIGINT 0/1 rather than booleans: both engines decode it the same way.
    const SQL: &str = "SELECT
        CAST(CASE WHEN EXISTS (SELECT 1 FROM campaigns WHERE merchant_id = $1 AND klaviyo_list_id IS NOT NULL) THEN 1 ELSE 0 END AS BIGINT),
        CAST(CASE WHEN EXISTS (SELECT 1 FROM campaigns WHERE merchant_id = $1) THEN 1 ELSE 0 END AS BIGINT),
        CAST(CASE WHEN EXISTS (SELECT 1 FROM merchants WHERE id = $1 AND shopify_secret IS NOT NULL)
                    OR EXISTS (SELECT 1 FROM conversions WHERE merchant_id = $1) THEN 1 ELSE 0 END AS BIGINT),
        CAST(CASE WHEN EXISTS (SELECT 1 FROM affiliates WHERE merchant_id = $1 AND source = 'form') THEN 1 ELSE 0 END AS BIGINT),
        CAST(CASE WHEN EXISTS (SELECT 1 FROM affiliates WHERE merchant_id = $1 AND state IN ('approved', 'disabled')) THEN 1 ELSE 0 END AS BIGINT),
        CAST(CASE WHEN EXISTS (SELECT 1 FROM klaviyo_syncs WHERE merchant_id = $1 AND state = 'succeeded') THEN 1 ELSE 0 END AS BIGINT),
        CAST(CASE WHEN EXISTS (SELECT 1 FROM commissions WHERE merchant_id = $1) THEN 1 ELSE 0 END AS BIGINT)";
    let (campaign_list, campaign, shop, application, approval, synced, commission): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = db.query_as(SQL).bind(merchant).fetch_one().await?;
    Ok(Setup {
        campaign_list: campaign_list == 1,
        campaign: campaign == 1,
        shop: shop == 1,
        application: application == 1,
        approval: approval == 1,
        synced: synced == 1,
        commission: commission == 1,
    })
}

/// The period's figures from `since`; amounts per currency (currency, minor units).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub clicks: i64,
    pub orders: i64,
    /// Order subtotals less what was refunded.
    pub revenue: Vec<(String, i64)>,
    /// Commission earned on the period's orders (clawbacks net; voided lines left out).
    pub earned: Vec<(String, i64)>,
    /// Commission marked paid in the period.
    pub paid: Vec<(String, i64)>,
    /// Approved and not paid yet, now (not a period figure).
    pub owed: Vec<(String, i64)>,
    /// Pending applications now: confirmed (to review) and still to confirm their email.
    pub waiting: i64,
    pub unconfirmed: i64,
}

pub async fn figures(db: &Db, merchant: MerchantId, since: i64) -> DbResult<Figures> {
    // A visitor counts once an hour, as in the reports.
    let clicks: i64 = db
        .query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM
                 (SELECT DISTINCT affiliate_id, visitor, hour FROM clicks WHERE merchant_id = $1 AND at >= $2) v",
        )
        .bind(merchant)
        .bind(since)
        .fetch_one()
        .await?;
    let orders: Vec<(String, i64, i64)> = db
        .query_as(
            "SELECT currency, CAST(COUNT(*) AS BIGINT), CAST(SUM(subtotal_minor - refunded_minor) AS BIGINT)
             FROM conversions WHERE merchant_id = $1 AND ordered_at >= $2 GROUP BY currency ORDER BY currency",
        )
        .bind(merchant)
        .bind(since)
        .fetch_all()
        .await?;
    let earned = per_currency(
        db,
        merchant,
        since,
        "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) FROM commissions
         WHERE merchant_id = $1 AND created_at >= $2 AND state <> 'voided' GROUP BY currency ORDER BY currency",
    )
    .await?;
    let paid = per_currency(
        db,
        merchant,
        since,
        "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) FROM commissions
         WHERE merchant_id = $1 AND state = 'paid' AND paid_at >= $2 GROUP BY currency ORDER BY currency",
    )
    .await?;
    let owed = per_currency(
        db,
        merchant,
        0,
        "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) FROM commissions
         WHERE merchant_id = $1 AND state = 'approved' AND $2 >= 0 GROUP BY currency ORDER BY currency",
    )
    .await?;
    let (waiting, unconfirmed): (i64, i64) = db
        .query_as(
            "SELECT CAST(COALESCE(SUM(CASE WHEN email_verified_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN email_verified_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM affiliates WHERE merchant_id = $1 AND state = 'pending'",
        )
        .bind(merchant)
        .fetch_one()
        .await?;
    Ok(Figures {
        clicks,
        orders: orders.iter().map(|(_, n, _)| n).sum(),
        revenue: orders.into_iter().map(|(c, _, sum)| (c, sum)).collect(),
        earned,
        paid,
        owed,
        waiting,
        unconfirmed,
    })
}

/// Rows of (currency, sum) from a statement taking the merchant and a time.
async fn per_currency(db: &Db, merchant: MerchantId, since: i64, sql: &str) -> DbResult<Vec<(String, i64)>> {
    db.query_as(sql).bind(merchant).bind(since).fetch_all().await
}
