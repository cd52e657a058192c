//! Email verification links of form applicants: only a hash of each token is kept.

use super::{DbResult, Tx};
use shared::domain::{AffiliateId, CampaignId, MerchantId};

/// A form applicant who hasn't confirmed their address, found by it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unverified {
    pub id: AffiliateId,
    pub first_name: String,
    pub email: String,
}

/// The merchant's applicant with this email, if they still have to confirm it (and weren't erased).
pub async fn unverified_by_email(tx: &mut Tx, merchant: MerchantId, email: &str) -> DbResult<Option<Unverified>> {
    tx.query_as(
        "SELECT id, first_name, email FROM affiliates
         WHERE merchant_id = $1 AND email = $2 AND email_verified_at IS NULL AND erased_at IS NULL",
    )
    .bind(merchant)
    .bind(email)
    .fetch_optional()
    .await
}

/// How many links were made for the affiliate since `since`.
pub async fn sent_since(tx: &mut Tx, affiliate: AffiliateId, since: i64) -> DbResult<i64> {
    tx.query_scalar("SELECT COUNT(*) FROM email_verifications WHERE affiliate_id = $1 AND created_at >= $2")
        .bind(affiliate)
        .bind(since)
        .fetch_one()
        .await
}

pub async fn insert(
    tx: &mut Tx,
    merchant: MerchantId,
    affiliate: AffiliateId,
    token_hash: &str,
    expires_at: i64,
    now: i64,
) -> DbResult<()> {
    tx.query(
        "INSERT INTO email_verifications (merchant_id, affiliate_id, token_hash, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(merchant)
    .bind(affiliate)
    .bind(token_hash)
    .bind(expires_at)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// A used link's affiliate, read in the use's transaction.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Used {
    pub merchant_id: MerchantId,
    pub affiliate_id: AffiliateId,
}

/// Uses a link of the campaign's merchant: `None` when it is unknown, used, expired or belongs to
/// another merchant's landing page.
pub async fn use_link(tx: &mut Tx, campaign: CampaignId, token_hash: &str, now: i64) -> DbResult<Option<Used>> {
    tx.query_as(
        "UPDATE email_verifications SET used_at = $3
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3
           AND merchant_id = (SELECT merchant_id FROM campaigns WHERE id = $1)
         RETURNING merchant_id, affiliate_id",
    )
    .bind(campaign)
    .bind(token_hash)
    .bind(now)
    .fetch_optional()
    .await
}

/// Marks the address confirmed; `false` when it already was (or the affiliate was erased).
pub async fn mark_verified(tx: &mut Tx, merchant: MerchantId, id: AffiliateId, now: i64) -> DbResult<bool> {
    let done = tx
        .query(
            "UPDATE affiliates SET email_verified_at = $3
             WHERE merchant_id = $1 AND id = $2 AND email_verified_at IS NULL AND erased_at IS NULL",
        )
        .bind(merchant)
        .bind(id)
        .bind(now)
        .execute()
        .await?;
    Ok(done == 1)
}

/// What verifying goes on to decide from: the state and whether the campaign approves at once.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Verified {
    pub state: shared::domain::AffiliateState,
    pub first_name: String,
    pub referral_code: Option<String>,
    pub auto_approve: bool,
}

pub async fn after_verify(tx: &mut Tx, merchant: MerchantId, id: AffiliateId) -> DbResult<Verified> {
    tx.query_as(
        "SELECT a.state, a.first_name, a.referral_code, c.auto_approve FROM affiliates a
         JOIN campaigns c ON c.id = a.campaign_id WHERE a.merchant_id = $1 AND a.id = $2",
    )
    .bind(merchant)
    .bind(id)
    .fetch_one()
    .await
}

/// Removes links past their expiry (the sweeper's daily tidy-up).
pub async fn delete_expired(db: &super::Db, now: i64) -> DbResult<u64> {
    db.query("DELETE FROM email_verifications WHERE expires_at < $1").bind(now).execute().await
}
