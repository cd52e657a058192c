//! Merchants, their users and sessions. Signing up writes the merchant, its first user and a
//! session in the caller's transaction (see `services::accounts`).

use super::{Db, DbResult, Tx};
use shared::domain::{MerchantId, UserId};

/// Everything a request needs to know about who is signed in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: UserId,
    pub user_email: String,
    pub merchant_id: MerchantId,
    pub merchant_name: String,
    pub merchant_slug: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserCredentials {
    pub id: UserId,
    pub password_hash: String,
}

/// A new merchant under `slug`; `None` when the slug is taken. ON CONFLICT DO NOTHING rather than
/// catching the error: a failed statement would abort a PostgreSQL transaction.
pub async fn insert_merchant(tx: &mut Tx, name: &str, slug: &str, now: i64) -> DbResult<Option<MerchantId>> {
    tx.query_scalar(
        "INSERT INTO merchants (name, slug, created_at) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING RETURNING id",
    )
    .bind(name)
    .bind(slug)
    .bind(now)
    .fetch_optional()
    .await
}

/// A new user of the merchant; `None` when the email is registered already (on any merchant).
pub async fn insert_user(
    tx: &mut Tx,
    merchant: MerchantId,
    email: &str,
    password_hash: &str,
    now: i64,
) -> DbResult<Option<UserId>> {
    tx.query_scalar(
        "INSERT INTO users (merchant_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(merchant)
    .bind(email)
    .bind(password_hash)
    .bind(now)
    .fetch_optional()
    .await
}

pub async fn credentials(db: &Db, email: &str) -> DbResult<Option<UserCredentials>> {
    db.query_as("SELECT id, password_hash FROM users WHERE email = $1").bind(email).fetch_optional().await
}

pub async fn insert_session(tx: &mut Tx, token_hash: &str, user: UserId, now: i64, expires_at: i64) -> DbResult<()> {
    tx.query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user)
        .bind(now)
        .bind(expires_at)
        .execute()
        .await?;
    Ok(())
}

pub async fn live_session(db: &Db, token_hash: &str, now: i64) -> DbResult<Option<SessionRow>> {
    db.query_as(
        "SELECT u.id AS user_id, u.email AS user_email, m.id AS merchant_id, m.name AS merchant_name, m.slug AS merchant_slug
         FROM sessions s JOIN users u ON u.id = s.user_id JOIN merchants m ON m.id = u.merchant_id
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional()
    .await
}

pub async fn delete_session(db: &Db, token_hash: &str) -> DbResult<()> {
    db.query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute().await?;
    Ok(())
}

/// Removes sessions past their expiry; returns how many.
pub async fn delete_expired_sessions(db: &Db, now: i64) -> DbResult<u64> {
    db.query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute().await
}
