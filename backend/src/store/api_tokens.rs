//! API tokens (only their hashes) and the answers kept for idempotency keys.

use super::{Db, DbResult};
use shared::domain::MerchantId;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn insert(
    db: &Db,
    merchant: MerchantId,
    name: &str,
    prefix: &str,
    hash: &str,
    actor: &str,
    now: i64,
) -> DbResult<i64> {
    const SQL: &str = "INSERT INTO api_tokens (merchant_id, name, prefix, token_hash, created_by, created_at)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    db.query_scalar(SQL).bind(merchant).bind(name).bind(prefix).bind(hash).bind(actor).bind(now).fetch_one().await
}

pub async fn list(db: &Db, merchant: MerchantId) -> DbResult<Vec<TokenRow>> {
    const SQL: &str = "SELECT id, name, prefix, created_by, created_at, last_used_at, revoked_at FROM api_tokens
        WHERE merchant_id = $1 ORDER BY id DESC";
    db.query_as(SQL).bind(merchant).fetch_all().await
}

pub async fn revoke(db: &Db, merchant: MerchantId, id: i64, now: i64) -> DbResult<bool> {
    const SQL: &str = "UPDATE api_tokens SET revoked_at = $3 WHERE merchant_id = $1 AND id = $2 AND revoked_at IS NULL";
    Ok(db.query(SQL).bind(merchant).bind(id).bind(now).execute().await? == 1)
}

/// The (token id, merchant, token name) of a live token; notes the use at most once a minute.
pub async fn authenticate(db: &Db, hash: &str, now: i64) -> DbResult<Option<(i64, MerchantId, String)>> {
    const FIND: &str =
        "SELECT id, merchant_id, last_used_at, name FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL";
    const USED: &str = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
    let found: Option<(i64, MerchantId, Option<i64>, String)> = db.query_as(FIND).bind(hash).fetch_optional().await?;
    let Some((id, merchant, last, name)) = found else { return Ok(None) };
    if last.is_none_or(|at| now - at > 60_000) {
        db.query(USED).bind(id).bind(now).execute().await?;
    }
    Ok(Some((id, merchant, name)))
}

/// How long a request may hold its idempotency key before a retry may take it over (the first
/// one died mid-way).
pub const KEY_CLAIM_MS: i64 = 60_000;

/// How long an answer is kept for its key: long enough for any retry (Klaviyo's included); after it
/// the key is free again, so a flow may send the same key for a new decision another day.
pub const KEY_KEEP_MS: i64 = 24 * 3_600_000;

/// Forgets keys answered more than [`KEY_KEEP_MS`] ago (housekeeping).
pub async fn delete_old_keys(db: &Db, now: i64) -> DbResult<u64> {
    const SQL: &str = "DELETE FROM idempotency_keys WHERE created_at < $1 AND status <> 0";
    db.query(SQL).bind(now - KEY_KEEP_MS).execute().await
}

/// What an idempotency key holds when a request arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// This request holds the key now, under this claim: run it, then `finish_key` (or
    /// `release_key` on a server error) with the claim.
    Claimed(String),
    /// Another request with this key is running.
    InProgress,
    /// Answered before: (request hash, status, body).
    Answered(String, i64, String),
}

/// Claims the key for this request, atomically, so two requests with one key never both run.
pub async fn claim_key(db: &Db, merchant: MerchantId, key: &str, request_hash: &str, now: i64) -> DbResult<KeyState> {
    const CLAIM: &str =
        "INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, response, created_at, claim)
        VALUES ($1, $2, $3, 0, '', $4, $5) ON CONFLICT (merchant_id, key) DO NOTHING";
    // A claim whose request died, or an answer older than a day, is taken over.
    const TAKE_OVER: &str = "UPDATE idempotency_keys SET request_hash = $3, created_at = $4, status = 0, response = '',
            claim = $7
        WHERE merchant_id = $1 AND key = $2 AND ((status = 0 AND created_at < $5) OR created_at < $6)";
    const READ: &str =
        "SELECT request_hash, status, response FROM idempotency_keys WHERE merchant_id = $1 AND key = $2";
    let claim = format!("{:032x}", rand::random::<u128>());
    let claimed = db.query(CLAIM).bind(merchant).bind(key).bind(request_hash).bind(now).bind(&claim).execute().await?;
    if claimed == 1 {
        return Ok(KeyState::Claimed(claim));
    }
    let taken = db
        .query(TAKE_OVER)
        .bind(merchant)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(now - KEY_CLAIM_MS)
        .bind(now - KEY_KEEP_MS)
        .bind(&claim)
        .execute()
        .await?;
    if taken == 1 {
        return Ok(KeyState::Claimed(claim));
    }
    let (hash, status, response): (String, i64, String) =
        db.query_as(READ).bind(merchant).bind(key).fetch_one().await?;
    Ok(if status == 0 { KeyState::InProgress } else { KeyState::Answered(hash, status, response) })
}

/// Stores the answer of the request that claimed the key; a request whose claim was taken over
/// stores nothing (the request that took it stores its own).
pub async fn finish_key(
    db: &Db,
    merchant: MerchantId,
    key: &str,
    claim: &str,
    status: i64,
    response: &str,
) -> DbResult<()> {
    const SQL: &str = "UPDATE idempotency_keys SET status = $3, response = $4
        WHERE merchant_id = $1 AND key = $2 AND claim = $5 AND status = 0";
    db.query(SQL).bind(merchant).bind(key).bind(status).bind(response).bind(claim).execute().await?;
    Ok(())
}

/// Frees the key after a server error, so a retry runs again.
pub async fn release_key(db: &Db, merchant: MerchantId, key: &str, claim: &str) -> DbResult<()> {
    const SQL: &str = "DELETE FROM idempotency_keys WHERE merchant_id = $1 AND key = $2 AND claim = $3 AND status = 0";
    db.query(SQL).bind(merchant).bind(key).bind(claim).execute().await?;
    Ok(())
}
