//! One SQL text on either engine, without macros.
//!
//! Rekomi's SQL is written once for SQLite and PostgreSQL (`$1` binds, `RETURNING`, `ON CONFLICT`,
//! `CAST`). sqlx types a query by its driver, so running one text on "whichever pool is configured"
//! needs a dispatch somewhere. We chose an enum over the two engines with the same builder methods
//! sqlx has (`query(..).bind(..).fetch_all()`), rather than:
//! - `sqlx::Any`, which decodes through its own narrow value type (no typed ids, `FromRow` rows
//!   would be re-declared for it) and cannot run SQLite's `BEGIN IMMEDIATE`;
//! - a `Store` trait with one implementation per engine, which writes every statement twice;
//! - generic functions over `sqlx::Database`, whose bounds would be repeated in every store function.
//!
//! A bound value must encode on both engines ([`Param`]) and a row must decode from both
//! ([`Record`], [`Scalar`]); the compiler checks both arms, so an engine difference surfaces at build
//! time. Store functions take a [`Tx`] (the caller's transaction: a service owns it) or the [`Db`]
//! for a read that needs none.

use super::{db_err, Db, DbError, DbResult};
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Decode, Encode, FromRow, Postgres, Sqlite, Type};

/// A value that binds on both engines (integers, text, typed ids, options of them).
pub trait Param<'q>: 'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres> {}
impl<'q, T> Param<'q> for T where
    T: 'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>
{
}

/// A row type that decodes on both engines (`#[derive(sqlx::FromRow)]` structs and tuples).
pub trait Record: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> {}
impl<T> Record for T where T: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> {}

/// A single column that decodes on both engines.
pub trait Scalar:
    Send + Unpin + for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}
impl<T> Scalar for T where
    T: Send + Unpin + for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// Which engine a statement runs on, for the few places where the SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances take rows at once without
    /// waiting on or taking each other's; nothing on SQLite, which has one writer at a time anyway.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        }
    }

    /// `FOR UPDATE` on PostgreSQL (lock the rows read for the rest of the transaction); nothing on
    /// SQLite, whose write transaction already excludes every other writer.
    pub fn for_update(self) -> &'static str {
        match self {
            Engine::Postgres => " FOR UPDATE",
            Engine::Sqlite => "",
        }
    }
}

/// An open write transaction on either engine. Dropped without [`Tx::commit`], it rolls back and
/// wakes nobody.
#[derive(Debug)]
pub struct Tx {
    conn: TxConn,
    /// Woken once the transaction has committed (the outbox runners whose jobs it queued), so no
    /// caller has to remember a wake-up, and no worker looks before the rows are visible.
    wake: Vec<&'static tokio::sync::Notify>,
}

#[derive(Debug)]
enum TxConn {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Db {
    /// Opens a write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`): a
    /// deferred transaction that reads and then writes fails with SQLITE_BUSY when another writer
    /// went first, without waiting for the busy timeout.
    pub async fn begin(&self) -> DbResult<Tx> {
        let conn = match self {
            Db::Sqlite(pool) => pool.begin_with("BEGIN IMMEDIATE").await.map(TxConn::Sqlite),
            Db::Postgres(pool) => pool.begin().await.map(TxConn::Postgres),
        }
        .map_err(db_err)?;
        Ok(Tx { conn, wake: Vec::new() })
    }

    pub fn kind(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// A statement run on a pooled connection (a read, or a single write that needs no transaction).
    pub fn query<'c, 'q>(&'c self, sql: &'q str) -> Query<'c, 'q> {
        match self {
            Db::Sqlite(pool) => Query::Sqlite(On::Pool(pool), sqlx::query(sql)),
            Db::Postgres(pool) => Query::Postgres(On::Pool(pool), sqlx::query(sql)),
        }
    }

    pub fn query_as<'c, 'q, O: Record>(&'c self, sql: &'q str) -> QueryAs<'c, 'q, O> {
        match self {
            Db::Sqlite(pool) => QueryAs::Sqlite(On::Pool(pool), sqlx::query_as(sql)),
            Db::Postgres(pool) => QueryAs::Postgres(On::Pool(pool), sqlx::query_as(sql)),
        }
    }

    pub fn query_scalar<'c, 'q, O: Scalar>(&'c self, sql: &'q str) -> QueryScalar<'c, 'q, O> {
        QueryScalar(self.query_as(sql))
    }
}

impl Tx {
    /// Commits, then wakes whatever [`Tx::wake_on_commit`] asked for.
    pub async fn commit(self) -> DbResult<()> {
        match self.conn {
            TxConn::Sqlite(tx) => tx.commit().await.map_err(db_err)?,
            TxConn::Postgres(tx) => tx.commit().await.map_err(db_err)?,
        }
        for notify in self.wake {
            notify.notify_one();
        }
        Ok(())
    }

    /// The PostgreSQL connection, for the few statements only PostgreSQL can run (array binds for
    /// one-statement batch updates); `None` on SQLite.
    pub fn postgres(&mut self) -> Option<&mut PgConnection> {
        match &mut self.conn {
            TxConn::Postgres(tx) => Some(&mut **tx),
            TxConn::Sqlite(_) => None,
        }
    }

    /// Wakes `notify` after a successful commit (once, however often it is asked).
    pub fn wake_on_commit(&mut self, notify: &'static tokio::sync::Notify) {
        if !self.wake.iter().any(|n| std::ptr::eq(*n, notify)) {
            self.wake.push(notify);
        }
    }

    pub fn kind(&self) -> Engine {
        match self.conn {
            TxConn::Sqlite(_) => Engine::Sqlite,
            TxConn::Postgres(_) => Engine::Postgres,
        }
    }

    pub fn query<'c, 'q>(&'c mut self, sql: &'q str) -> Query<'c, 'q> {
        match &mut self.conn {
            TxConn::Sqlite(tx) => Query::Sqlite(On::Conn(&mut **tx), sqlx::query(sql)),
            TxConn::Postgres(tx) => Query::Postgres(On::Conn(&mut **tx), sqlx::query(sql)),
        }
    }

    pub fn query_as<'c, 'q, O: Record>(&'c mut self, sql: &'q str) -> QueryAs<'c, 'q, O> {
        match &mut self.conn {
            TxConn::Sqlite(tx) => QueryAs::Sqlite(On::Conn(&mut **tx), sqlx::query_as(sql)),
            TxConn::Postgres(tx) => QueryAs::Postgres(On::Conn(&mut **tx), sqlx::query_as(sql)),
        }
    }

    pub fn query_scalar<'c, 'q, O: Scalar>(&'c mut self, sql: &'q str) -> QueryScalar<'c, 'q, O> {
        QueryScalar(self.query_as(sql))
    }
}

/// Where a statement runs: the caller's transaction, or a connection taken from the pool.
pub enum On<'c, C, P> {
    Conn(&'c mut C),
    Pool(&'c P),
}

type SqliteOn<'c> = On<'c, SqliteConnection, SqlitePool>;
type PgOn<'c> = On<'c, PgConnection, PgPool>;

/// A statement with no rows to read (`INSERT`, `UPDATE`, `DELETE`).
pub enum Query<'c, 'q> {
    Sqlite(SqliteOn<'c>, sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>),
    Postgres(PgOn<'c>, sqlx::query::Query<'q, Postgres, PgArguments>),
}

impl<'c, 'q> Query<'c, 'q> {
    pub fn bind<T: Param<'q>>(self, value: T) -> Self {
        match self {
            Query::Sqlite(on, q) => Query::Sqlite(on, q.bind(value)),
            Query::Postgres(on, q) => Query::Postgres(on, q.bind(value)),
        }
    }

    /// Runs the statement; the number of rows it changed.
    pub async fn execute(self) -> DbResult<u64> {
        let result = match self {
            Query::Sqlite(On::Conn(conn), q) => q.execute(conn).await.map(|r| r.rows_affected()),
            Query::Sqlite(On::Pool(pool), q) => q.execute(pool).await.map(|r| r.rows_affected()),
            Query::Postgres(On::Conn(conn), q) => q.execute(conn).await.map(|r| r.rows_affected()),
            Query::Postgres(On::Pool(pool), q) => q.execute(pool).await.map(|r| r.rows_affected()),
        };
        result.map_err(db_err)
    }
}

/// A statement whose rows decode into `O`.
pub enum QueryAs<'c, 'q, O> {
    Sqlite(SqliteOn<'c>, sqlx::query::QueryAs<'q, Sqlite, O, SqliteArguments<'q>>),
    Postgres(PgOn<'c>, sqlx::query::QueryAs<'q, Postgres, O, PgArguments>),
}

impl<'c, 'q, O: Record> QueryAs<'c, 'q, O> {
    pub fn bind<T: Param<'q>>(self, value: T) -> Self {
        match self {
            QueryAs::Sqlite(on, q) => QueryAs::Sqlite(on, q.bind(value)),
            QueryAs::Postgres(on, q) => QueryAs::Postgres(on, q.bind(value)),
        }
    }

    pub async fn fetch_all(self) -> DbResult<Vec<O>> {
        let rows = match self {
            QueryAs::Sqlite(On::Conn(conn), q) => q.fetch_all(conn).await,
            QueryAs::Sqlite(On::Pool(pool), q) => q.fetch_all(pool).await,
            QueryAs::Postgres(On::Conn(conn), q) => q.fetch_all(conn).await,
            QueryAs::Postgres(On::Pool(pool), q) => q.fetch_all(pool).await,
        };
        rows.map_err(db_err)
    }

    pub async fn fetch_optional(self) -> DbResult<Option<O>> {
        let row = match self {
            QueryAs::Sqlite(On::Conn(conn), q) => q.fetch_optional(conn).await,
            QueryAs::Sqlite(On::Pool(pool), q) => q.fetch_optional(pool).await,
            QueryAs::Postgres(On::Conn(conn), q) => q.fetch_optional(conn).await,
            QueryAs::Postgres(On::Pool(pool), q) => q.fetch_optional(pool).await,
        };
        row.map_err(db_err)
    }

    /// The one row; [`DbError::NotFound`] when there is none.
    pub async fn fetch_one(self) -> DbResult<O> {
        self.fetch_optional().await?.ok_or(DbError::NotFound)
    }
}

/// A statement whose rows are one column of type `O`.
pub struct QueryScalar<'c, 'q, O>(QueryAs<'c, 'q, (O,)>);

impl<'c, 'q, O: Scalar> QueryScalar<'c, 'q, O> {
    pub fn bind<T: Param<'q>>(self, value: T) -> Self {
        QueryScalar(self.0.bind(value))
    }

    pub async fn fetch_all(self) -> DbResult<Vec<O>> {
        Ok(self.0.fetch_all().await?.into_iter().map(|(value,)| value).collect())
    }

    pub async fn fetch_optional(self) -> DbResult<Option<O>> {
        Ok(self.0.fetch_optional().await?.map(|(value,)| value))
    }

    pub async fn fetch_one(self) -> DbResult<O> {
        Ok(self.0.fetch_one().await?.0)
    }
}

/// The placeholders of a multi-row `VALUES` of `rows` rows of `columns` binds each, for a
/// statement with no other binds; bind the values row by row in the same order.
///
/// SQLite gets anonymous `?`: sqlx maps each numbered parameter (`$7`) by asking SQLite for its
/// name, a lookup that walks every named parameter, so a statement of thousands of `$n` binds
/// spends its time there (an import of 100,000 affiliates took 39 s instead of 4). PostgreSQL
/// needs `$n`.
pub fn values_placeholders(engine: Engine, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            match engine {
                Engine::Sqlite => out.push('?'),
                Engine::Postgres => {
                    out.push('$');
                    out.push_str(&(1 + row * columns + column).to_string());
                }
            }
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{values_placeholders, Engine};

    #[test]
    fn placeholders_number_rows_in_bind_order() {
        assert_eq!(values_placeholders(Engine::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_placeholders(Engine::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(values_placeholders(Engine::Postgres, 0, 2), "");
    }
}
