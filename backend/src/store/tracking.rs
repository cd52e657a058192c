//! Tracking links: which affiliate a code names (across the instance: `/r/{code}` carries no shop),
//! and the clicks the click writer flushes in batches.

use super::engine::values_placeholders;
use super::{Db, DbResult};
use shared::domain::{AffiliateId, AffiliateState, CampaignId, MerchantId};

/// What the redirect and attribution need to know about a code.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub affiliate_id: AffiliateId,
    pub merchant_id: MerchantId,
    pub campaign_id: CampaignId,
    pub state: AffiliateState,
    pub referral_code: String,
    pub email: String,
    pub destination_url: Option<String>,
    pub cookie_days: i64,
    pub attribution: String,
    pub hold_days: i64,
    pub commission_kind: String,
    pub commission_bps: Option<i64>,
    pub commission_minor: Option<i64>,
    pub currency: String,
    pub rate_bps: Option<i64>,
    pub rate_minor: Option<i64>,
    pub rate_expires_at: Option<i64>,
}

const CODE_SELECT: &str =
    "SELECT a.id AS affiliate_id, a.merchant_id, a.campaign_id, a.state, a.referral_code, a.email,
        c.destination_url, c.cookie_days, c.attribution, c.hold_days, c.commission_kind, c.commission_bps,
        c.commission_minor, c.currency, a.rate_bps, a.rate_minor, a.rate_expires_at
    FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id";

/// The affiliate holding `code` (any state), compared case-insensitively.
pub async fn by_code(db: &Db, code: &str) -> DbResult<Option<CodeRow>> {
    let sql = format!("{CODE_SELECT} WHERE lower(a.referral_code) = lower($1)");
    db.query_as(&sql).bind(code).fetch_optional().await
}

/// The merchant's approved affiliate holding `coupon`, compared case-insensitively.
pub async fn by_coupon(db: &Db, merchant: MerchantId, coupon: &str) -> DbResult<Option<CodeRow>> {
    let sql = format!(
        "{CODE_SELECT} WHERE a.merchant_id = $1 AND lower(a.coupon_code) = lower($2) AND a.state = 'approved'
             AND a.referral_code IS NOT NULL"
    );
    db.query_as(&sql).bind(merchant).bind(coupon).fetch_optional().await
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClick {
    pub merchant_id: MerchantId,
    pub campaign_id: CampaignId,
    pub affiliate_id: AffiliateId,
    pub at: i64,
    /// 64 bits of the visitor's keyed hash.
    pub visitor: i64,
    pub device: &'static str,
}

const HOUR_MS: i64 = 3_600_000;

/// Writes clicks in multi-row statements inside one transaction. Returns how many.
pub async fn insert_clicks(db: &Db, clicks: &[NewClick]) -> DbResult<u64> {
    if clicks.is_empty() {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let mut inserted = 0;
    // Seven parameters a row; 500 rows stay well under both engines' limits.
    for chunk in clicks.chunks(500) {
        let sql = format!(
            "INSERT INTO clicks (merchant_id, campaign_id, affiliate_id, at, hour, visitor, device) VALUES {}",
            values_placeholders(tx.kind(), chunk.len(), 7)
        );
        let mut insert = tx.query(&sql);
        for c in chunk {
            insert = insert
                .bind(c.merchant_id)
                .bind(c.campaign_id)
                .bind(c.affiliate_id)
                .bind(c.at)
                .bind(c.at.div_euclid(HOUR_MS))
                .bind(c.visitor)
                .bind(c.device);
        }
        inserted += insert.execute().await?;
    }
    tx.commit().await?;
    Ok(inserted)
}

/// The merchant behind a webhook address, with its sealed Shopify signing secret (if set).
pub async fn shopify_secret(db: &Db, merchant_slug: &str) -> DbResult<Option<(MerchantId, Option<Vec<u8>>)>> {
    const SQL: &str = "SELECT id, shopify_secret FROM merchants WHERE slug = $1";
    db.query_as(SQL).bind(merchant_slug).fetch_optional().await
}

/// Stores (or with `None` removes) the merchant's sealed Shopify signing secret.
pub async fn set_shopify_secret(db: &Db, merchant: MerchantId, sealed: Option<&[u8]>) -> DbResult<()> {
    const SQL: &str = "UPDATE merchants SET shopify_secret = $2 WHERE id = $1";
    db.query(SQL).bind(merchant).bind(sealed).execute().await.map(drop)
}

/// Whether the merchant has a Shopify signing secret, and its public slug.
pub async fn shopify_status(db: &Db, merchant: MerchantId) -> DbResult<(String, bool)> {
    const SQL: &str = "SELECT slug, shopify_secret IS NOT NULL FROM merchants WHERE id = $1";
    db.query_as(SQL).bind(merchant).fetch_one().await
}
