//! SQLite: history table and execution. SQLite has no advisory locks; each step takes the
//! database's write lock with `BEGIN IMMEDIATE` (waiting up to the busy timeout) and re-reads
//! its history row inside that transaction, so a step another runner finished is skipped.

use std::time::Duration;

use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Connection, Row};
use underpin_db::{Backend, quote_ident};

use super::postgres::{parse_stored_status, parse_stored_version};
use super::{
    Driver, DriverError, ExecError, HistoryTable, LockHolder, LockWait, NewRow, ServerError,
    StatementFailure, StepOutcome,
};
use crate::history::AppliedMigration;

pub struct SqliteDriver {
    conn: SqliteConnection,
    table: String,
    sql: Queries,
}

struct Queries {
    exists: &'static str,
    create: String,
    select: String,
    row_exists: String,
    insert: String,
    upsert: String,
    delete: String,
}

impl Queries {
    fn new(table: &HistoryTable) -> Queries {
        let name = quote_ident(&table.table);
        let columns = "version, name, checksum, checksum_algorithm, status, execution_ms, applied_by, statements_done, statements_total, progress_checksum, error";
        let values = "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11";
        Queries {
            exists: "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
            create: format!(
                "CREATE TABLE IF NOT EXISTS {name} (
    version            TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    checksum           TEXT NOT NULL,
    checksum_algorithm TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('applied', 'failed', 'partial', 'baseline')),
    applied_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00', 'now')),
    execution_ms       INTEGER NOT NULL,
    applied_by         TEXT NOT NULL,
    statements_done    INTEGER,
    statements_total   INTEGER,
    progress_checksum  TEXT,
    error              TEXT
)"
            ),
            select: format!(
                "SELECT version, name, checksum, checksum_algorithm, status, replace(replace(applied_at, ' ', 'T'), '+00', 'Z') AS applied_at, execution_ms, applied_by, statements_done, statements_total, progress_checksum, error FROM {name}"
            ),
            row_exists: format!("SELECT EXISTS (SELECT 1 FROM {name} WHERE version = ?1)"),
            insert: format!("INSERT INTO {name} ({columns}) VALUES ({values})"),
            upsert: format!(
                "INSERT INTO {name} ({columns}) VALUES ({values})
ON CONFLICT (version) DO UPDATE SET name = excluded.name, checksum = excluded.checksum,
    checksum_algorithm = excluded.checksum_algorithm, status = excluded.status,
    applied_at = strftime('%Y-%m-%d %H:%M:%f+00', 'now'), execution_ms = excluded.execution_ms,
    applied_by = excluded.applied_by, statements_done = excluded.statements_done,
    statements_total = excluded.statements_total, progress_checksum = excluded.progress_checksum, error = excluded.error"
            ),
            delete: format!("DELETE FROM {name} WHERE version = ?1"),
        }
    }
}

impl SqliteDriver {
    pub fn new(conn: SqliteConnection, table: HistoryTable) -> SqliteDriver {
        SqliteDriver {
            sql: Queries::new(&table),
            table: table.table,
            conn,
        }
    }

    pub fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    async fn row_exists(conn: &mut SqliteConnection, sql: &str, version: &str) -> Result<bool, DriverError> {
        sqlx::query_scalar(AssertSqlSafe(sql))
            .persistent(false)
            .bind(version)
            .fetch_one(conn)
            .await
            .map_err(|e| DriverError::database("reading the history table", &e))
    }
}

fn bind_row<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    row: &'q NewRow<'q>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    query
        .bind(row.version)
        .bind(row.name)
        .bind(row.checksum)
        .bind(crate::checksum::ALGORITHM)
        .bind(row.status.as_str())
        .bind(row.started.elapsed().as_millis() as i64)
        .bind(row.applied_by)
        .bind(row.statements_done)
        .bind(row.statements_total)
        .bind(row.progress_checksum)
        .bind(row.error)
}

impl Driver for SqliteDriver {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn history_exists(&mut self) -> Result<bool, DriverError> {
        sqlx::query_scalar(self.sql.exists)
            .persistent(false)
            .bind(&self.table)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("looking for the history table", &e))
    }

    async fn ensure_history(&mut self) -> Result<(), DriverError> {
        sqlx::raw_sql(AssertSqlSafe(self.sql.create.as_str()))
            .execute(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("creating the history table", &e))?;
        Ok(())
    }

    async fn read_history(&mut self) -> Result<Vec<AppliedMigration>, DriverError> {
        let rows = sqlx::query(AssertSqlSafe(self.sql.select.as_str()))
            .persistent(false)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("reading the history table", &e))?;
        rows.iter()
            .map(|row| {
                let get_error = |e: sqlx::Error| DriverError::database("reading the history table", &e);
                let version: String = row.try_get("version").map_err(get_error)?;
                let status: String = row.try_get("status").map_err(get_error)?;
                Ok(AppliedMigration {
                    version: parse_stored_version(&version)?,
                    name: row.try_get("name").map_err(get_error)?,
                    checksum: row.try_get("checksum").map_err(get_error)?,
                    checksum_algorithm: row.try_get("checksum_algorithm").map_err(get_error)?,
                    status: parse_stored_status(&status)?,
                    applied_at: row.try_get("applied_at").map_err(get_error)?,
                    execution_ms: row.try_get("execution_ms").map_err(get_error)?,
                    applied_by: row.try_get("applied_by").map_err(get_error)?,
                    statements_done: row.try_get("statements_done").map_err(get_error)?,
                    statements_total: row.try_get("statements_total").map_err(get_error)?,
                    progress_checksum: row.try_get("progress_checksum").map_err(get_error)?,
                    error: row.try_get("error").map_err(get_error)?,
                })
            })
            .collect()
    }

    /// SQLite locks per step instead (see the module documentation); the busy timeout set
    /// on the connection bounds each wait.
    async fn lock(&mut self, _timeout: Duration) -> Result<LockWait, DriverError> {
        Ok(LockWait::default())
    }

    async fn unlock(&mut self) -> Result<(), DriverError> {
        Ok(())
    }

    async fn lock_holders(&mut self) -> Result<Vec<LockHolder>, DriverError> {
        Ok(Vec::new())
    }

    async fn release_lock(&mut self) -> Result<Vec<LockHolder>, DriverError> {
        Ok(Vec::new())
    }

    async fn apply_in_transaction(
        &mut self,
        statements: &[&str],
        row: &NewRow<'_>,
    ) -> Result<StepOutcome, ExecError> {
        let mut tx = self
            .conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| DriverError::database("taking the database's write lock", &e))?;
        if Self::row_exists(&mut tx, &self.sql.row_exists, row.version).await? {
            return Ok(StepOutcome::AlreadyDone);
        }
        run_statements(&mut tx, statements).await?;
        bind_row(
            sqlx::query(AssertSqlSafe(self.sql.insert.as_str())).persistent(false),
            row,
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| DriverError::database("recording the migration in the history table", &e))?;
        tx.commit()
            .await
            .map_err(|e| DriverError::database("committing the migration", &e))?;
        Ok(StepOutcome::Done)
    }

    async fn revert_in_transaction(
        &mut self,
        statements: &[&str],
        version: &str,
    ) -> Result<StepOutcome, ExecError> {
        let mut tx = self
            .conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| DriverError::database("taking the database's write lock", &e))?;
        if !Self::row_exists(&mut tx, &self.sql.row_exists, version).await? {
            return Ok(StepOutcome::AlreadyDone);
        }
        run_statements(&mut tx, statements).await?;
        sqlx::query(AssertSqlSafe(self.sql.delete.as_str()))
            .persistent(false)
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(|e| DriverError::database("removing the migration from the history table", &e))?;
        tx.commit()
            .await
            .map_err(|e| DriverError::database("committing the rollback", &e))?;
        Ok(StepOutcome::Done)
    }

    async fn execute_autocommit(&mut self, statement: &str) -> Result<(), ServerError> {
        sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|e| ServerError::from_sqlx(&e))
    }

    async fn verify_lock(&mut self) -> Result<(), DriverError> {
        Ok(())
    }

    async fn upsert_row(&mut self, row: &NewRow<'_>) -> Result<(), DriverError> {
        bind_row(
            sqlx::query(AssertSqlSafe(self.sql.upsert.as_str())).persistent(false),
            row,
        )
        .execute(&mut self.conn)
        .await
        .map_err(|e| DriverError::database("recording progress in the history table", &e))?;
        Ok(())
    }

    async fn delete_row(&mut self, version: &str) -> Result<(), DriverError> {
        sqlx::query(AssertSqlSafe(self.sql.delete.as_str()))
            .persistent(false)
            .bind(version)
            .execute(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("removing a history row", &e))?;
        Ok(())
    }

    async fn current_user(&mut self) -> Result<String, DriverError> {
        Ok(String::new())
    }
}

async fn run_statements(conn: &mut SqliteConnection, statements: &[&str]) -> Result<(), ExecError> {
    for (index, statement) in statements.iter().enumerate() {
        sqlx::raw_sql(AssertSqlSafe(*statement))
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                ExecError::Statement(StatementFailure {
                    index,
                    error: ServerError::from_sqlx(&e),
                })
            })?;
    }
    Ok(())
}
