//! API tokens (only their hashes) and the answers kept for idempotency keys.

use super::{db_err, on_engine, Db, DbResult};
use app::domain::MerchantId;

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
    on_engine!(db, |pool| sqlx::query_scalar(SQL)
        .bind(merchant)
        .bind(name)
        .bind(prefix)
        .bind(hash)
        .bind(actor)
        .bind(now)
        .fetch_one(pool)
        .await
        .map_err(db_err))
}

pub async fn list(db: &Db, merchant: MerchantId) -> DbResult<Vec<TokenRow>> {
    const SQL: &str = "SELECT id, name, prefix, created_by, created_at, last_used_at, revoked_at FROM api_tokens
        WHERE merchant_id = $1 ORDER BY id DESC";
    on_engine!(db, |pool| sqlx::query_as(SQL).bind(merchant).fetch_all(pool).await.map_err(db_err))
}

pub async fn revoke(db: &Db, merchant: MerchantId, id: i64, now: i64) -> DbResult<bool> {
    const SQL: &str = "UPDATE api_tokens SET revoked_at = $3 WHERE merchant_id = $1 AND id = $2 AND revoked_at IS NULL";
    on_engine!(db, |pool| Ok(sqlx::query(SQL)
        .bind(merchant)
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected()
        == 1))
}

/// The merchant a live token belongs to; notes the use at most once a minute.
pub async fn authenticate(db: &Db, hash: &str, now: i64) -> DbResult<Option<MerchantId>> {
    const FIND: &str =
        "SELECT id, merchant_id, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL";
    const USED: &str = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
    on_engine!(db, |pool| {
        let found: Option<(i64, MerchantId, Option<i64>)> =
            sqlx::query_as(FIND).bind(hash).fetch_optional(pool).await.map_err(db_err)?;
        let Some((id, merchant, last)) = found else { return Ok(None) };
        if last.is_none_or(|at| now - at > 60_000) {
            sqlx::query(USED).bind(id).bind(now).execute(pool).await.map_err(db_err)?;
        }
        Ok(Some(merchant))
    })
}

/// The answer stored for an idempotency key: (request hash, status, body).
pub async fn idempotent_answer(db: &Db, merchant: MerchantId, key: &str) -> DbResult<Option<(String, i64, String)>> {
    const SQL: &str = "SELECT request_hash, status, response FROM idempotency_keys WHERE merchant_id = $1 AND key = $2";
    on_engine!(db, |pool| sqlx::query_as(SQL).bind(merchant).bind(key).fetch_optional(pool).await.map_err(db_err))
}

/// Keeps the first answer for a key; a concurrent request that stored first wins.
pub async fn keep_answer(
    db: &Db,
    merchant: MerchantId,
    key: &str,
    request_hash: &str,
    status: i64,
    response: &str,
    now: i64,
) -> DbResult<()> {
    const SQL: &str = "INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, response, created_at)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (merchant_id, key) DO NOTHING";
    on_engine!(db, |pool| sqlx::query(SQL)
        .bind(merchant)
        .bind(key)
        .bind(request_hash)
        .bind(status)
        .bind(response)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(db_err))?;
    Ok(())
}
