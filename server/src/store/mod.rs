//! Persistence on SQLite (the embedded default) or PostgreSQL (several instances behind a load
//! balancer), chosen by the `DATABASE_URL` scheme.
//!
//! Both engines accept the same SQL for almost everything Rekomi does (`$1` binds, `RETURNING`,
//! `ON CONFLICT`, `CAST`), so each query is written once and [`on_engine!`] runs it on whichever pool
//! is in use; each arm is type-checked against its own driver. Where the engines differ, the code
//! branches on [`Db`] explicitly and says why.

pub mod accounts;
pub mod affiliates;
pub mod api_tokens;
pub mod campaigns;
pub mod earnings;
pub mod events;
pub mod imports;
pub mod invites;
pub mod klaviyo;
pub mod outbox;
pub mod payouts;
pub mod portal;
pub mod sync;
pub mod tracking;
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

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`.
macro_rules! on_engine {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_engine;

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

/// Opening a write transaction: SQLite takes the write lock up front (`BEGIN IMMEDIATE`), because a
/// deferred transaction that reads and then writes fails with SQLITE_BUSY when another writer went
/// first, without waiting for the busy timeout.
pub(crate) trait BeginWrite {
    type Engine: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Engine>, DbError>;
}

impl BeginWrite for SqlitePool {
    type Engine = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, DbError> {
        self.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
    }
}

impl BeginWrite for PgPool {
    type Engine = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, DbError> {
        self.begin().await.map_err(db_err)
    }
}

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
            Db::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await,
            Db::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await,
        }
        .context("database migrations failed")
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_engine!(self, |pool| pool.close().await)
    }
}

impl Db {
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances take rows at once without
    /// waiting on or taking each other's; nothing on SQLite, which has one writer at a time anyway.
    pub fn skip_locked(&self) -> &'static str {
        match self {
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Db::Sqlite(_) => "",
        }
    }
}

/// The statement every outbox (syncs, Klaviyo events, webhook deliveries) claims work with: up to
/// `$4` rows of `table` that are due at `$3` and that no live lease holds go to owner `$1` until
/// `$2`, also setting `also` (e.g. a state change), returning `returning`.
pub fn lease_sql(db: &Db, table: &str, also: &str, returning: &str) -> String {
    format!(
        "UPDATE {table} SET lease_owner = $1, lease_until = $2, updated_at = $3{also}
         WHERE id IN (SELECT id FROM {table}
             WHERE due_at IS NOT NULL AND due_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
             ORDER BY due_at LIMIT $4{lock})
         RETURNING {returning}",
        lock = db.skip_locked()
    )
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

/// How far this process's clock runs ahead of the wall clock. Zero in production; the end-to-end
/// suite moves it (through `/_test/clock`, only mounted with `REKOMI_TEST_HOOKS=1`) to see a hold
/// period end without waiting a month.
static CLOCK_OFFSET_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Moves this process's clock ahead by `ms` (tests only; see [`CLOCK_OFFSET_MS`]).
pub fn advance_clock(ms: i64) -> i64 {
    CLOCK_OFFSET_MS.fetch_add(ms, std::sync::atomic::Ordering::Relaxed) + ms
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis())
        .unwrap_or(i64::MAX)
        .saturating_add(CLOCK_OFFSET_MS.load(std::sync::atomic::Ordering::Relaxed))
}
