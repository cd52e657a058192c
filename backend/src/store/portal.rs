//! The affiliate portal's sign-in links and sessions; only hashes of their tokens are stored.

use super::{Db, DbResult, Tx};
use shared::domain::{AffiliateId, AffiliateState, CampaignId, MerchantId};

/// An approved affiliate of the merchant (by slug) with this email: who may get a sign-in link.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PortalAffiliate {
    pub merchant_id: MerchantId,
    pub merchant_name: String,
    pub affiliate_id: AffiliateId,
    pub email: String,
    pub first_name: String,
    pub state: AffiliateState,
}

pub async fn merchant_by_slug(db: &Db, slug: &str) -> DbResult<Option<(MerchantId, String)>> {
    const SQL: &str = "SELECT id, name FROM merchants WHERE slug = $1";
    db.query_as(SQL).bind(slug).fetch_optional().await
}

pub async fn affiliate_by_email(db: &Db, merchant: MerchantId, email: &str) -> DbResult<Option<PortalAffiliate>> {
    const SQL: &str =
        "SELECT m.id AS merchant_id, m.name AS merchant_name, a.id AS affiliate_id, a.email, a.first_name,
            a.state
        FROM affiliates a JOIN merchants m ON m.id = a.merchant_id WHERE a.merchant_id = $1 AND a.email = $2";
    db.query_as(SQL).bind(merchant).bind(email).fetch_optional().await
}

pub async fn affiliate_by_id(db: &Db, merchant: MerchantId, id: AffiliateId) -> DbResult<Option<PortalAffiliate>> {
    const SQL: &str =
        "SELECT m.id AS merchant_id, m.name AS merchant_name, a.id AS affiliate_id, a.email, a.first_name,
            a.state
        FROM affiliates a JOIN merchants m ON m.id = a.merchant_id WHERE a.merchant_id = $1 AND a.id = $2";
    db.query_as(SQL).bind(merchant).bind(id).fetch_optional().await
}

/// A new sign-in link.
pub struct NewLink<'a> {
    pub merchant: MerchantId,
    pub affiliate: AffiliateId,
    pub token_hash: &'a str,
    pub expires_at: i64,
    pub actor: &'a str,
}

pub async fn insert_link(tx: &mut Tx, link: &NewLink<'_>, now: i64) -> DbResult<()> {
    tx.query(
        "INSERT INTO portal_links (merchant_id, affiliate_id, token_hash, expires_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(link.merchant)
    .bind(link.affiliate)
    .bind(link.token_hash)
    .bind(link.expires_at)
    .bind(link.actor)
    .bind(now)
    .execute()
    .await?;
    Ok(())
}

/// Marks a sign-in link used; the affiliate it signs in. `None` when the link is unknown, used or
/// expired, or the affiliate is no longer in the program (approved, or disabled and paused).
pub async fn use_link(tx: &mut Tx, merchant: MerchantId, link_hash: &str, now: i64) -> DbResult<Option<AffiliateId>> {
    tx.query_scalar(
        "UPDATE portal_links SET used_at = $3 WHERE merchant_id = $1 AND token_hash = $2 AND used_at IS NULL
             AND expires_at > $3
             AND affiliate_id IN (SELECT id FROM affiliates WHERE merchant_id = $1 AND state IN ('approved', 'disabled', 'banned'))
         RETURNING affiliate_id",
    )
    .bind(merchant)
    .bind(link_hash)
    .bind(now)
    .fetch_optional()
    .await
}

pub async fn insert_session(
    tx: &mut Tx,
    merchant: MerchantId,
    affiliate: AffiliateId,
    session_hash: &str,
    expires_at: i64,
    now: i64,
) -> DbResult<()> {
    tx.query(
        "INSERT INTO portal_sessions (token_hash, merchant_id, affiliate_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(session_hash)
    .bind(merchant)
    .bind(affiliate)
    .bind(now)
    .bind(expires_at)
    .execute()
    .await?;
    Ok(())
}

/// The affiliate a live portal session belongs to: approved, or disabled (they still see their
/// earnings and that they are paused).
pub async fn session(db: &Db, merchant: MerchantId, hash: &str, now: i64) -> DbResult<Option<AffiliateId>> {
    const SQL: &str = "SELECT s.affiliate_id FROM portal_sessions s JOIN affiliates a ON a.id = s.affiliate_id
        WHERE s.token_hash = $1 AND s.merchant_id = $2 AND s.expires_at > $3 AND a.state IN ('approved', 'disabled', 'banned')";
    db.query_scalar(SQL).bind(hash).bind(merchant).bind(now).fetch_optional().await
}

/// Removes expired portal sessions and sign-in links; returns how many rows went.
pub async fn delete_expired(db: &Db, now: i64) -> DbResult<u64> {
    let sessions = db.query("DELETE FROM portal_sessions WHERE expires_at < $1").bind(now).execute().await?;
    let links = db.query("DELETE FROM portal_links WHERE expires_at < $1").bind(now).execute().await?;
    Ok(sessions + links)
}

pub async fn end_session(db: &Db, hash: &str) -> DbResult<()> {
    db.query("DELETE FROM portal_sessions WHERE token_hash = $1").bind(hash).execute().await?;
    Ok(())
}

/// What the portal shows about the signed-in affiliate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PortalProfile {
    pub full_name: String,
    pub email: String,
    pub referral_code: Option<String>,
    pub coupon_code: Option<String>,
    pub paypal_email: Option<String>,
    pub campaign_name: String,
    pub commission_kind: String,
    pub commission_bps: Option<i64>,
    pub commission_minor: Option<i64>,
    pub currency: String,
    pub rate_bps: Option<i64>,
    pub rate_minor: Option<i64>,
    pub rate_expires_at: Option<i64>,
    pub cookie_days: i64,
    pub hold_days: i64,
    pub state: AffiliateState,
    pub campaign_id: CampaignId,
}

pub async fn profile(db: &Db, merchant: MerchantId, affiliate: AffiliateId) -> DbResult<PortalProfile> {
    const SQL: &str = "SELECT a.full_name, a.email, a.referral_code, a.coupon_code, a.paypal_email,
            c.name AS campaign_name, c.commission_kind, c.commission_bps, c.commission_minor, c.currency, a.rate_bps,
            a.rate_minor, a.rate_expires_at, c.cookie_days, c.hold_days, a.state, a.campaign_id
        FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id WHERE a.merchant_id = $1 AND a.id = $2";
    db.query_as(SQL).bind(merchant).bind(affiliate).fetch_one().await
}

/// Sets where the affiliate is paid (PayPal); `None` clears it (their own email is used).
pub async fn set_payout_email(
    db: &Db,
    merchant: MerchantId,
    affiliate: AffiliateId,
    email: Option<&str>,
) -> DbResult<()> {
    const SQL: &str = "UPDATE affiliates SET paypal_email = $3 WHERE merchant_id = $1 AND id = $2";
    db.query(SQL).bind(merchant).bind(affiliate).bind(email).execute().await?;
    Ok(())
}
