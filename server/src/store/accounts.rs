//! Merchants, their users and sessions.

use super::{db_err, on_engine, BeginWrite, Db, DbError, DbResult};
use app::domain::{MerchantId, UserId};

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

pub struct NewAccount<'a> {
    pub shop_name: &'a str,
    /// Tried in order until one is free.
    pub slug_candidates: Vec<String>,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub token_hash: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// Creates the merchant, its first user and a session in one transaction. `Conflict` on
/// `users_email_key` when the email is registered already; nothing is written then.
pub async fn create_account(db: &Db, account: NewAccount<'_>) -> DbResult<()> {
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        // ON CONFLICT DO NOTHING rather than catching the error: a failed statement would abort
        // a PostgreSQL transaction.
        let mut merchant_id: Option<i64> = None;
        for slug in &account.slug_candidates {
            merchant_id = sqlx::query_scalar(
                "INSERT INTO merchants (name, slug, created_at) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING RETURNING id",
            )
            .bind(account.shop_name)
            .bind(slug)
            .bind(account.now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if merchant_id.is_some() {
                break;
            }
        }
        let merchant_id = merchant_id.ok_or(DbError::Conflict { constraint: "merchants_slug_key".into() })?;
        let user_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (merchant_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(merchant_id)
        .bind(account.email)
        .bind(account.password_hash)
        .bind(account.now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let user_id = user_id.ok_or(DbError::Conflict { constraint: "users_email_key".into() })?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(account.token_hash)
            .bind(user_id)
            .bind(account.now)
            .bind(account.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    })
}

pub async fn credentials(db: &Db, email: &str) -> DbResult<Option<UserCredentials>> {
    on_engine!(db, |pool| sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(pool)
        .await
        .map_err(db_err))
}

pub async fn insert_session(db: &Db, token_hash: &str, user: UserId, now: i64, expires_at: i64) -> DbResult<()> {
    on_engine!(db, |pool| {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map_err(db_err)?;
        Ok(())
    })
}

pub async fn live_session(db: &Db, token_hash: &str, now: i64) -> DbResult<Option<SessionRow>> {
    on_engine!(db, |pool| {
        sqlx::query_as(
        "SELECT u.id AS user_id, u.email AS user_email, m.id AS merchant_id, m.name AS merchant_name, m.slug AS merchant_slug
         FROM sessions s JOIN users u ON u.id = s.user_id JOIN merchants m ON m.id = u.merchant_id
         WHERE s.token_hash = $1 AND s.expires_at > $2"
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(db_err)
    })
}

pub async fn delete_session(db: &Db, token_hash: &str) -> DbResult<()> {
    on_engine!(db, |pool| {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(pool)
            .await
            .map_err(db_err)?;
        Ok(())
    })
}

/// Removes sessions past their expiry; returns how many.
pub async fn delete_expired_sessions(db: &Db, now: i64) -> DbResult<u64> {
    on_engine!(db, |pool| {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(pool).await.map_err(db_err)?;
        Ok(done.rows_affected())
    })
}
