//! Persistence on SQLite (the embedded default) or PostgreSQL (several instances behind a load
//! balancer), chosen by the `DATABASE_URL` scheme.
//!
//! Both engines accept the same SQL for almost everything Rekomi does (`$1` binds, `RETURNING`,
//! `ON CONFLICT`, `CAST`), so each statement is written once and [`engine`] runs it on whichever
//! pool is in use. Where the engines differ, the code asks [`Engine`] and says why.
//!
//! One file per area. Functions run SQL and return typed rows; they decide nothing. A use case's
//! transaction belongs to its service, which passes the [`Tx`] to each function it calls.

pub mod accounts;
pub mod affiliates;
pub mod api_tokens;
pub mod audit;
pub mod branding;
pub mod campaigns;
pub mod discounts;
pub mod earnings;
pub mod engine;
pub mod erasures;
pub mod events;
pub mod imports;
pub mod invites;
pub mod klaviyo;
pub mod outbox;
pub mod overview;
pub mod payouts;
pub mod pixel;
pub mod portal;
pub mod questions;
pub mod reconcile;
pub mod shop;
pub mod store_credits;
pub mod sync;
pub mod tracking;
pub mod verifications;
pub mod webhooks;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// A connection pool on one of the two engines.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub use engine::{Engine, Tx};

/// Store errors a caller can act on; everything else is `Other` and ends as an internal error.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("row not found")]
    NotFound,
    /// A unique constraint refused the write; `constraint` names it (Postgres) or quotes SQLite's
    /// message, which names the index or the columns.
    #[error("unique constraint violated: {constraint}")]
    Conflict { constraint: String },
    #[error(transparent)]
    Other(#[from] sqlx::Error),
}

impl DbError {
    /// True when the conflict is on the named constraint (e.g. `affiliates_email_key`). SQLite reports
    /// table constraints by their columns, so those are matched too.
    pub fn is_conflict_on(&self, constraint: &str, sqlite_columns: &str) -> bool {
        matches!(self, Self::Conflict { constraint: c } if c.contains(constraint) || c.contains(sqlite_columns))
    }
}

/// Maps sqlx errors into [`DbError`]: a missing row and a unique violation become typed cases.
pub fn db_err(error: sqlx::Error) -> DbError {
    match &error {
        sqlx::Error::RowNotFound => DbError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => DbError::Conflict {
            constraint: db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().to_owned()),
        },
        _ => DbError::Other(error),
    }
}

pub type DbResult<T> = Result<T, DbError>;

impl Db {
    /// Connects to `url` (`sqlite:…` or `postgres://…`), creating a SQLite file and its folder if
    /// missing, and applies the migrations of that engine.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        use anyhow::Context;
        let db = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .context("could not connect to PostgreSQL")?;
            Db::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if let Some(parent) = options.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("could not create {}", parent.display()))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .context("could not open the SQLite database")?;
            Db::Sqlite(pool)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://");
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        use anyhow::Context;
        match self {
            Db::Sqlite(pool) => {
                // SQLite changes some constraints only by rebuilding a table (migration 0009), and a
                // DROP TABLE with foreign keys on would cascade to every referencing row. So the
                // migrations run on one connection with foreign keys off (the pragma is a no-op
                // inside the migrator's transactions, so it is set around them), the integrity of
                // every reference is checked before they are turned back on, and a violation fails
                // the start instead of going unnoticed.
                let mut conn = pool.acquire().await.context("could not open a connection to migrate")?;
                sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
                let ran = sqlx::migrate!("../migrations/sqlite").run(&mut *conn).await;
                let broken: Vec<(String,)> =
                    sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check").fetch_all(&mut *conn).await?;
                sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                ran.context("database migrations failed")?;
                anyhow::ensure!(broken.is_empty(), "database migrations left broken references in {broken:?}");
                Ok(())
            }
            Db::Postgres(pool) => {
                sqlx::migrate!("../migrations/postgres").run(pool).await.context("database migrations failed")
            }
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// What an outbox runner asks of one claim.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    /// Names the claim, so a runner whose lease ran out can't save over the next owner.
    pub owner: &'a str,
    pub now: i64,
    pub lease_until: i64,
    /// Rows in all.
    pub limit: i64,
    /// Rows of any one merchant: a merchant with a backlog shares the claim with the others.
    pub per_merchant: i64,
    /// Merchants this instance is working on already: left to the next claim, so a slow merchant
    /// holds one slot, not all of them.
    pub busy: &'a [shared::domain::MerchantId],
}

/// The statement every outbox (syncs, Klaviyo events, webhook deliveries) claims work with: rows
/// of `table` that are due and that no live lease holds go to the claim's owner until its lease
/// ends, also setting `also` (e.g. a state change), returning `returning`. Merchants take turns:
/// each merchant's due rows are numbered oldest first, and the claim takes every merchant's first
/// rows before anyone's later ones. Bind with [`bind_claim`].
///
/// On PostgreSQL the rows are locked with `SKIP LOCKED` at the level that re-checks the lease and
/// applies the limit, so several instances claim at once without waiting on or taking each other's
/// rows, and a skipped row's place goes to the next due one.
pub fn lease_sql(engine: Engine, table: &str, also: &str, returning: &str, claim: &Claim<'_>) -> String {
    // Merchant ids are integers from our own type, so inlining them is safe.
    let busy = if claim.busy.is_empty() {
        String::new()
    } else {
        let list = claim.busy.iter().map(|m| m.get().to_string()).collect::<Vec<_>>().join(",");
        format!(" AND merchant_id NOT IN ({list})")
    };
    let due = |t: &str| {
        format!("{t}due_at IS NOT NULL AND {t}due_at <= $3 AND ({t}lease_until IS NULL OR {t}lease_until < $3)")
    };
    // The limit sits with the lock, so a row another instance holds is replaced by the next one.
    let lock = match engine {
        Engine::Postgres => " FOR UPDATE OF t SKIP LOCKED",
        Engine::Sqlite => "",
    };
    format!(
        "UPDATE {table} SET lease_owner = $1, lease_until = $2, updated_at = $3{also}
         WHERE id IN (
             SELECT t.id FROM {table} t
             JOIN (SELECT id, due_at, ROW_NUMBER() OVER (PARTITION BY merchant_id ORDER BY due_at, id) AS turn
                   FROM {table} WHERE {due_all}{busy}) AS fair ON fair.id = t.id
             WHERE {due_t} AND fair.turn <= $5
             ORDER BY fair.turn, fair.due_at, t.id LIMIT $4{lock})
         RETURNING {returning}",
        due_all = due(""),
        due_t = due("t."),
    )
}

/// Binds a [`Claim`] to a statement made by [`lease_sql`] that returns row ids.
pub fn bind_claim<'c, 'q>(
    query: engine::QueryScalar<'c, 'q, i64>,
    claim: &Claim<'q>,
) -> engine::QueryScalar<'c, 'q, i64> {
    query.bind(claim.owner).bind(claim.lease_until).bind(claim.now).bind(claim.limit).bind(claim.per_merchant)
}

/// Runs a trivial query (the health check).
pub async fn ping(db: &Db) -> DbResult<()> {
    db.query("SELECT 1").execute().await.map(drop)
}

/// Gives back rows of an outbox `table` that `owner` claimed but will not work (its lease is
/// nearly over, or it is stopping), due again at once.
pub async fn release(db: &Db, table: &str, owner: &str, ids: &[i64]) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    // Ids come from the database as integers, so inlining them is safe.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql =
        format!("UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE id IN ({list}) AND lease_owner = $1");
    db.query(&sql).bind(owner).execute().await.map(drop)
}

/// Escapes `%`, `_` and `\` so a search term matches literally inside `LIKE … ESCAPE '\'`.
pub fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub use crate::clock::{advance_clock, now_ms};
