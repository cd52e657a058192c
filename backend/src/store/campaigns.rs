//! Campaigns; every query names its merchant. Writes run in the caller's transaction; which terms
//! version an edit starts is the service's decision.

use super::engine::QueryScalar;
use super::{Db, DbResult, Tx};
use shared::domain::branding::{image_path, BrandColor, BrandImage, Branding, ImageFormat};
use shared::domain::campaign::{CampaignDraft, CommissionRule};
use shared::domain::{CampaignId, MerchantId};

/// A campaign with its application counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignRow {
    pub id: CampaignId,
    pub merchant_id: MerchantId,
    pub merchant_slug: String,
    pub merchant_name: String,
    pub name: String,
    pub slug: String,
    pub pitch: String,
    pub terms: String,
    pub terms_version: i64,
    pub commission_kind: String,
    pub commission_bps: Option<i64>,
    pub commission_minor: Option<i64>,
    pub currency: String,
    pub cookie_days: i64,
    pub attribution: String,
    pub hold_days: i64,
    pub min_payout_minor: i64,
    pub destination_url: Option<String>,
    pub auto_approve: bool,
    pub accepting: bool,
    pub pending: i64,
    pub approved: i64,
    pub klaviyo_list_id: Option<String>,
    pub klaviyo_list_name: Option<String>,
    pub klaviyo_list_opt_in: Option<String>,
    pub klaviyo_list_missing: bool,
    pub brand_color: Option<String>,
    pub logo_sha256: Option<String>,
    pub logo_format: Option<String>,
    pub logo_width: Option<i64>,
    pub logo_height: Option<i64>,
    pub logo_size: Option<i64>,
    pub hero_sha256: Option<String>,
    pub hero_format: Option<String>,
    pub hero_width: Option<i64>,
    pub hero_height: Option<i64>,
    pub hero_size: Option<i64>,
}

impl CampaignRow {
    /// The landing page's look. A stored value that no longer parses is left out, not fatal: the
    /// page then shows Rekomi's own look.
    pub fn branding(&self) -> Branding {
        let image =
            |sha: &Option<String>, format: &Option<String>, w: Option<i64>, h: Option<i64>, size: Option<i64>| {
                let format = ImageFormat::parse(format.as_deref()?)?;
                Some(BrandImage {
                    url: image_path(sha.as_deref()?, format),
                    width: u32::try_from(w?).ok()?,
                    height: u32::try_from(h?).ok()?,
                    size: size.unwrap_or(0),
                })
            };
        Branding {
            color: self.brand_color.as_deref().and_then(|c| BrandColor::parse(c).ok()),
            logo: image(&self.logo_sha256, &self.logo_format, self.logo_width, self.logo_height, self.logo_size),
            hero: image(&self.hero_sha256, &self.hero_format, self.hero_width, self.hero_height, self.hero_size),
        }
    }
}

const SELECT: &str = "SELECT c.id, c.merchant_id, m.slug AS merchant_slug, m.name AS merchant_name, c.name, c.slug,
        c.pitch, c.terms, c.terms_version, c.commission_kind, c.commission_bps, c.commission_minor, c.currency,
        c.cookie_days, c.attribution, c.hold_days, c.min_payout_minor, c.destination_url, c.auto_approve, c.accepting,
        c.klaviyo_list_id, c.klaviyo_list_name, c.klaviyo_list_opt_in, c.klaviyo_list_missing, c.brand_color,
        li.sha256 AS logo_sha256, li.format AS logo_format, li.width AS logo_width, li.height AS logo_height,
        li.size AS logo_size, hi.sha256 AS hero_sha256, hi.format AS hero_format, hi.width AS hero_width,
        hi.height AS hero_height, hi.size AS hero_size,
        (SELECT COUNT(*) FROM affiliates a WHERE a.campaign_id = c.id AND a.state = 'pending') AS pending,
        (SELECT COUNT(*) FROM affiliates a WHERE a.campaign_id = c.id AND a.state = 'approved') AS approved
    FROM campaigns c JOIN merchants m ON m.id = c.merchant_id
    LEFT JOIN brand_images li ON li.id = c.logo_image_id
    LEFT JOIN brand_images hi ON hi.id = c.hero_image_id";

fn commission_columns(rule: &CommissionRule) -> (&'static str, Option<i64>, Option<i64>) {
    match rule {
        CommissionRule::Percent(rate) => ("percent", Some(i64::from(rate.basis_points())), None),
        CommissionRule::Flat(money) => ("flat", None, Some(money.minor())),
    }
}

pub async fn list(db: &Db, merchant: MerchantId) -> DbResult<Vec<CampaignRow>> {
    let sql = format!("{SELECT} WHERE c.merchant_id = $1 ORDER BY c.created_at DESC, c.id DESC");
    db.query_as(&sql).bind(merchant).fetch_all().await
}

pub async fn get(db: &Db, merchant: MerchantId, id: CampaignId) -> DbResult<Option<CampaignRow>> {
    let sql = format!("{SELECT} WHERE c.merchant_id = $1 AND c.id = $2");
    db.query_as(&sql).bind(merchant).bind(id).fetch_optional().await
}

/// The campaign behind a public landing page, whether or not it accepts applications.
pub async fn by_slugs(db: &Db, merchant_slug: &str, campaign_slug: &str) -> DbResult<Option<CampaignRow>> {
    let sql = format!("{SELECT} WHERE m.slug = $1 AND c.slug = $2");
    db.query_as(&sql).bind(merchant_slug).bind(campaign_slug).fetch_optional().await
}

/// Binds a draft's columns as `$2`..`$17` (after the merchant as `$1`), in one order shared by the
/// insert and the update.
fn bind_draft<'c, 'q>(
    query: QueryScalar<'c, 'q, CampaignId>,
    merchant: MerchantId,
    draft: &'q CampaignDraft,
    now: i64,
) -> QueryScalar<'c, 'q, CampaignId> {
    let (kind, bps, minor) = commission_columns(&draft.commission);
    query
        .bind(merchant)
        .bind(&draft.name)
        .bind(draft.slug.as_str())
        .bind(&draft.pitch)
        .bind(&draft.terms)
        .bind(kind)
        .bind(bps)
        .bind(minor)
        .bind(draft.currency.code())
        .bind(i64::from(draft.cookie_days))
        .bind(&draft.destination_url)
        .bind(draft.auto_approve)
        .bind(draft.accepting)
        .bind(now)
        .bind(draft.attribution.as_str())
        .bind(i64::from(draft.hold_days))
        .bind(draft.min_payout_minor)
}

/// A new campaign at terms version 1. `Conflict` on `campaigns_slug_key` when the merchant already
/// uses the slug.
pub async fn insert(tx: &mut Tx, merchant: MerchantId, draft: &CampaignDraft, now: i64) -> DbResult<CampaignId> {
    const SQL: &str = "INSERT INTO campaigns (merchant_id, name, slug, pitch, terms, commission_kind, commission_bps,
             commission_minor, currency, cookie_days, destination_url, auto_approve, accepting, created_at, updated_at,
             attribution, hold_days, min_payout_minor, terms_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17, 1)
         RETURNING id";
    bind_draft(tx.query_scalar(SQL), merchant, draft, now).fetch_one().await
}

/// The campaign's terms text and version, locked until the caller's transaction ends (PostgreSQL;
/// SQLite's write transaction already excludes other writers). `None`: not the merchant's campaign.
pub async fn lock_terms(tx: &mut Tx, merchant: MerchantId, id: CampaignId) -> DbResult<Option<(String, i64)>> {
    let sql = format!(
        "SELECT terms, terms_version FROM campaigns WHERE merchant_id = $1 AND id = $2{}",
        tx.kind().for_update()
    );
    tx.query_as(&sql).bind(merchant).bind(id).fetch_optional().await
}

/// Updates the merchant's campaign to `draft` at `terms_version`. Returns false when there is no
/// such campaign for this merchant; `Conflict` on `campaigns_slug_key` when the slug is taken.
pub async fn update(
    tx: &mut Tx,
    merchant: MerchantId,
    id: CampaignId,
    draft: &CampaignDraft,
    terms_version: i64,
    now: i64,
) -> DbResult<bool> {
    const SQL: &str = "UPDATE campaigns SET name = $2, slug = $3, pitch = $4, terms = $5,
             commission_kind = $6, commission_bps = $7, commission_minor = $8, currency = $9, cookie_days = $10,
             destination_url = $11, auto_approve = $12, accepting = $13, updated_at = $14,
             attribution = $15, hold_days = $16, min_payout_minor = $17, terms_version = $18
         WHERE merchant_id = $1 AND id = $19
         RETURNING id";
    let updated =
        bind_draft(tx.query_scalar(SQL), merchant, draft, now).bind(terms_version).bind(id).fetch_optional().await?;
    Ok(updated.is_some())
}

/// A campaign's name and currency.
pub async fn name_and_currency(db: &Db, merchant: MerchantId, id: CampaignId) -> DbResult<Option<(String, String)>> {
    db.query_as("SELECT name, currency FROM campaigns WHERE merchant_id = $1 AND id = $2")
        .bind(merchant)
        .bind(id)
        .fetch_optional()
        .await
}
