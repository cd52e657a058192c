//! Campaign discounts and affiliates' codes in Shopify (see `migrations/*/0016_discounts.sql`).

use super::{Claim, Db, DbResult, Tx};
use shared::domain::{AffiliateId, AffiliateState, CampaignId, MerchantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TermsRow {
    pub campaign_id: CampaignId,
    pub enabled: bool,
    pub kind: String,
    pub value: i64,
    pub currency: String,
    pub once_per_customer: bool,
    pub min_subtotal_minor: Option<i64>,
    pub combines_order: bool,
    pub combines_product: bool,
    pub combines_shipping: bool,
    pub ends_at: Option<i64>,
    pub pattern: String,
    pub version: i64,
    pub shopify_id: Option<String>,
    pub shop_domain: Option<String>,
    pub synced_version: i64,
    pub last_error: Option<String>,
}

const TERMS: &str = "SELECT campaign_id, enabled, kind, value, currency, once_per_customer, min_subtotal_minor,
    combines_order, combines_product, combines_shipping, ends_at, pattern, version, shopify_id, shop_domain,
    synced_version, last_error FROM campaign_discounts";

pub async fn terms(db: &Db, merchant: MerchantId, campaign: CampaignId) -> DbResult<Option<TermsRow>> {
    db.query_as(&format!("{TERMS} WHERE merchant_id = $1 AND campaign_id = $2"))
        .bind(merchant)
        .bind(campaign)
        .fetch_optional()
        .await
}

/// The terms to save; `version` grows with each save so the job knows Shopify needs them.
pub struct NewTerms<'a> {
    pub enabled: bool,
    pub kind: &'a str,
    pub value: i64,
    pub currency: &'a str,
    pub once_per_customer: bool,
    pub min_subtotal_minor: Option<i64>,
    pub combines: (bool, bool, bool),
    pub ends_at: Option<i64>,
    pub pattern: &'a str,
}

pub async fn save_terms(
    tx: &mut Tx,
    merchant: MerchantId,
    campaign: CampaignId,
    t: &NewTerms<'_>,
    now: i64,
) -> DbResult<()> {
    tx.query(
        "INSERT INTO campaign_discounts (campaign_id, merchant_id, enabled, kind, value, currency, once_per_customer,
             min_subtotal_minor, combines_order, combines_product, combines_shipping, ends_at, pattern, version,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14)
         ON CONFLICT (campaign_id) DO UPDATE SET enabled = excluded.enabled, kind = excluded.kind,
             value = excluded.value, currency = excluded.currency, once_per_customer = excluded.once_per_customer,
             min_subtotal_minor = excluded.min_subtotal_minor, combines_order = excluded.combines_order,
             combines_product = excluded.combines_product, combines_shipping = excluded.combines_shipping,
             ends_at = excluded.ends_at, pattern = excluded.pattern,
             version = campaign_discounts.version + 1, updated_at = excluded.updated_at",
    )
    .bind(campaign)
    .bind(merchant)
    .bind(t.enabled)
    .bind(t.kind)
    .bind(t.value)
    .bind(t.currency)
    .bind(t.once_per_customer)
    .bind(t.min_subtotal_minor)
    .bind(t.combines.0)
    .bind(t.combines.1)
    .bind(t.combines.2)
    .bind(t.ends_at)
    .bind(t.pattern)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// Shopify holds the campaign's discount `shopify_id` in `shop` with the terms of `version`.
pub async fn discount_synced(
    db: &Db,
    campaign: CampaignId,
    shopify_id: &str,
    shop: &str,
    version: i64,
    now: i64,
) -> DbResult<()> {
    db.query(
        "UPDATE campaign_discounts SET shopify_id = $2, shop_domain = $3, synced_version = $4, last_error = NULL,
             updated_at = $5
         WHERE campaign_id = $1",
    )
    .bind(campaign)
    .bind(shopify_id)
    .bind(shop)
    .bind(version)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

pub async fn discount_error(db: &Db, campaign: CampaignId, error: &str, now: i64) -> DbResult<()> {
    db.query("UPDATE campaign_discounts SET last_error = $2, updated_at = $3 WHERE campaign_id = $1")
        .bind(campaign)
        .bind(error)
        .bind(now)
        .execute()
        .await
        .map(drop)
}

/// The discount is gone from Shopify (deleted there): the next pass makes it again.
pub async fn discount_forgotten(db: &Db, campaign: CampaignId) -> DbResult<()> {
    db.query("UPDATE campaign_discounts SET shopify_id = NULL, shop_domain = NULL, synced_version = 0 WHERE campaign_id = $1")
        .bind(campaign)
        .execute()
        .await
        .map(drop)
}

/// Asks for a check of these affiliates' codes: approved ones in a campaign with a discount get a
/// row; anyone who has a row gets it due again (to be taken out, or moved). Nothing when the
/// merchant has no shop connected.
pub async fn touch(tx: &mut Tx, merchant: MerchantId, affiliates: &[AffiliateId], now: i64) -> DbResult<u64> {
    if affiliates.is_empty() {
        return Ok(0);
    }
    // Ids are integers from our own type, so inlining them is safe.
    let list = affiliates.iter().map(|a| a.get().to_string()).collect::<Vec<_>>().join(",");
    touch_where(tx, merchant, &format!("a.id IN ({list})"), now).await
}

/// [`touch`] for every affiliate of a campaign (new terms, the bulk "make codes" action).
pub async fn touch_campaign(tx: &mut Tx, merchant: MerchantId, campaign: CampaignId, now: i64) -> DbResult<u64> {
    touch_where(tx, merchant, &format!("a.campaign_id = {}", campaign.get()), now).await
}

/// [`touch`] for every affiliate of the merchant (a shop connected).
pub async fn touch_all(tx: &mut Tx, merchant: MerchantId, now: i64) -> DbResult<u64> {
    touch_where(tx, merchant, "1 = 1", now).await
}

async fn touch_where(tx: &mut Tx, merchant: MerchantId, which: &str, now: i64) -> DbResult<u64> {
    let sql = format!(
        "INSERT INTO affiliate_discounts (merchant_id, campaign_id, affiliate_id, state, due_at, created_at, updated_at)
         SELECT a.merchant_id, a.campaign_id, a.id, 'queued', $2, $2, $2
         FROM affiliates a
         JOIN campaign_discounts d ON d.campaign_id = a.campaign_id
         JOIN shopify_connections s ON s.merchant_id = a.merchant_id
         LEFT JOIN affiliate_discounts x ON x.affiliate_id = a.id
         WHERE a.merchant_id = $1 AND ({which}) AND (a.state = 'approved' OR x.id IS NOT NULL)
         ON CONFLICT (affiliate_id) DO UPDATE SET due_at = excluded.due_at, campaign_id = excluded.campaign_id,
             attempts = 0, updated_at = excluded.updated_at"
    );
    tx.query(&sql).bind(merchant).bind(now).execute().await
}

/// A claimed code row, with what the job needs of its affiliate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedCode {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub campaign_id: CampaignId,
    pub affiliate_id: AffiliateId,
    pub code: Option<String>,
    pub candidate: i64,
    pub redeem_id: Option<String>,
    pub discount_id: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub affiliate_state: AffiliateState,
    pub referral_code: Option<String>,
    pub coupon_code: Option<String>,
    /// When the claim took the row: a look asked for after it (`due_at` later) is kept.
    pub claimed_at: i64,
}

pub async fn claim(db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedCode>> {
    let sql = super::lease_sql(db.kind(), "affiliate_discounts", "", "id", claim);
    let ids: Vec<i64> = super::bind_claim(db.query_scalar(&sql), claim).fetch_all().await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids come from the database as integers, so inlining them is safe.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT x.id, x.merchant_id, x.campaign_id, x.affiliate_id, x.code, x.candidate, x.redeem_id, x.discount_id,
             x.state, x.attempts, a.state AS affiliate_state, a.referral_code, a.coupon_code,
             x.updated_at AS claimed_at
         FROM affiliate_discounts x JOIN affiliates a ON a.id = x.affiliate_id
         WHERE x.id IN ({list}) AND x.lease_owner = $1 ORDER BY x.id"
    );
    db.query_as(&sql).bind(claim.owner).fetch_all().await
}

/// Whether another affiliate of the merchant already answers to `code` (typed in, or made earlier).
pub async fn code_taken(db: &Db, merchant: MerchantId, affiliate: AffiliateId, code: &str) -> DbResult<bool> {
    let found: Option<i64> = db
        .query_scalar(
            "SELECT id FROM affiliates WHERE merchant_id = $1 AND id <> $2 AND lower(coupon_code) = lower($3)
             UNION ALL
             SELECT affiliate_id FROM affiliate_discounts WHERE merchant_id = $1 AND affiliate_id <> $2
                 AND lower(code) = lower($3)
             LIMIT 1",
        )
        .bind(merchant)
        .bind(affiliate)
        .bind(code)
        .fetch_optional()
        .await?;
    Ok(found.is_some())
}

/// What a pass came to for one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// The code is in Shopify (read back): the affiliate's coupon code is set to it too, so orders
    /// using it are attributed.
    /// `redeem_id` is Shopify's id of the code when Rekomi read it (looked up when needed).
    Active { code: &'a str, redeem_id: Option<&'a str>, discount_id: &'a str },
    /// Not in Shopify (the affiliate is out, or the campaign's codes are off).
    Removed { state: &'a str },
    /// The merchant typed this affiliate's code by hand: Rekomi leaves it to them.
    Typed,
    /// The code was refused; the next candidate is tried at once.
    Next { candidate: i64 },
    /// Tried again at `due`, or stopped (`due` None) for the merchant to see.
    NotYet { due: Option<i64> },
}

/// Saves a row's outcome under the claim `owner`, with `note` (what happened, for the merchant)
/// and `error` (why it isn't done).
pub async fn save(
    db: &Db,
    owner: &str,
    row: &ClaimedCode,
    outcome: &Outcome<'_>,
    note: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> DbResult<()> {
    let mut tx = db.begin().await?;
    let base = "lease_owner = NULL, lease_until = NULL, updated_at = $3, note = COALESCE($4, note)";
    // Done, unless the affiliate changed again while this pass worked (then it is looked at again).
    let done = format!("CASE WHEN due_at > {} THEN due_at ELSE NULL END", row.claimed_at);
    match outcome {
        Outcome::Active { code, redeem_id, discount_id } => {
            tx.query(&format!(
                "UPDATE affiliate_discounts SET {base}, state = 'active', code = $5,
                     redeem_id = COALESCE($6, CASE WHEN discount_id = $7 AND code = $5 THEN redeem_id END), discount_id = $7,
                     last_error = NULL, attempts = 0, due_at = {done}, checked_at = $3
                 WHERE id = $1 AND lease_owner = $2"
            ))
            .bind(row.id)
            .bind(owner)
            .bind(now)
            .bind(note)
            .bind(*code)
            .bind(*redeem_id)
            .bind(*discount_id)
            .execute()
            .await?;
            tx.query(
                "UPDATE affiliates SET coupon_code = $3 WHERE id = $1 AND merchant_id = $2
                     AND (coupon_code IS NULL OR lower(coupon_code) = lower($3))",
            )
            .bind(row.affiliate_id)
            .bind(row.merchant_id)
            .bind(*code)
            .execute()
            .await?;
            // A new code reaches the affiliate's Klaviyo profile (`Rekomi discount code`).
            if row.code.as_deref() != Some(*code) || row.state != "active" {
                super::sync::requeue_affiliate(&mut tx, row.merchant_id, row.affiliate_id, now).await?;
            }
        }
        Outcome::Removed { state } => {
            tx.query(&format!(
                "UPDATE affiliate_discounts SET {base}, state = $5,
                     redeem_id = CASE WHEN $5 = 'paused' THEN redeem_id ELSE NULL END,
                     discount_id = CASE WHEN $5 = 'paused' THEN discount_id ELSE NULL END,
                     last_error = NULL, attempts = 0, due_at = {done}, checked_at = $3
                 WHERE id = $1 AND lease_owner = $2"
            ))
            .bind(row.id)
            .bind(owner)
            .bind(now)
            .bind(note)
            .bind(*state)
            .execute()
            .await?;
        }
        Outcome::Typed => {
            tx.query(&format!(
                "UPDATE affiliate_discounts SET {base}, state = 'typed', last_error = NULL, due_at = {done}
                 WHERE id = $1 AND lease_owner = $2"
            ))
            .bind(row.id)
            .bind(owner)
            .bind(now)
            .bind(note)
            .execute()
            .await?;
        }
        Outcome::Next { candidate } => {
            tx.query(&format!(
                "UPDATE affiliate_discounts SET {base}, candidate = $5, due_at = $3 WHERE id = $1 AND lease_owner = $2"
            ))
            .bind(row.id)
            .bind(owner)
            .bind(now)
            .bind(note)
            .bind(*candidate)
            .execute()
            .await?;
        }
        Outcome::NotYet { due } => {
            tx.query(&format!(
                "UPDATE affiliate_discounts SET {base}, last_error = $5, due_at = $6, attempts = attempts + 1,
                     state = CASE WHEN $6 IS NULL THEN 'failed' ELSE state END
                 WHERE id = $1 AND lease_owner = $2"
            ))
            .bind(row.id)
            .bind(owner)
            .bind(now)
            .bind(note)
            .bind(error)
            .bind(*due)
            .execute()
            .await?;
        }
    }
    tx.commit().await
}

/// Where a campaign's codes stand: rows per state, and the latest problem.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub queued: i64,
    pub active: i64,
    pub failed: i64,
    pub other: i64,
    pub problem: Option<String>,
}

pub async fn progress(db: &Db, merchant: MerchantId, campaign: CampaignId) -> DbResult<Progress> {
    let rows: Vec<(String, bool, i64)> = db
        .query_as(
            "SELECT state, due_at IS NOT NULL, COUNT(*) FROM affiliate_discounts
             WHERE merchant_id = $1 AND campaign_id = $2 GROUP BY state, due_at IS NOT NULL",
        )
        .bind(merchant)
        .bind(campaign)
        .fetch_all()
        .await?;
    let mut p = Progress::default();
    for (state, due, count) in rows {
        match (state.as_str(), due) {
            (_, true) | ("queued", _) => p.queued += count,
            ("active", _) => p.active += count,
            ("failed", _) => p.failed += count,
            _ => p.other += count,
        }
    }
    p.problem = db
        .query_scalar(
            "SELECT last_error FROM affiliate_discounts WHERE merchant_id = $1 AND campaign_id = $2
                 AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(merchant)
        .bind(campaign)
        .fetch_optional()
        .await?;
    Ok(p)
}

/// One affiliate's code as the merchant and the portal see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub code: Option<String>,
    pub state: String,
    pub note: Option<String>,
    pub last_error: Option<String>,
    pub due: bool,
}

pub async fn of_affiliate(db: &Db, merchant: MerchantId, affiliate: AffiliateId) -> DbResult<Option<CodeRow>> {
    db.query_as(
        "SELECT code, state, note, last_error, due_at IS NOT NULL AS due FROM affiliate_discounts
         WHERE merchant_id = $1 AND affiliate_id = $2",
    )
    .bind(merchant)
    .bind(affiliate)
    .fetch_optional()
    .await
}

/// Approved affiliates of the campaign whose code isn't in Shopify (nor on its way).
pub async fn approved_without(db: &Db, merchant: MerchantId, campaign: CampaignId) -> DbResult<i64> {
    db.query_scalar(
        "SELECT COUNT(*) FROM affiliates a LEFT JOIN affiliate_discounts x ON x.affiliate_id = a.id
         WHERE a.merchant_id = $1 AND a.campaign_id = $2 AND a.state = 'approved'
             AND (x.id IS NULL OR (x.state NOT IN ('active', 'typed') AND x.due_at IS NULL))",
    )
    .bind(merchant)
    .bind(campaign)
    .fetch_one()
    .await
}
