//! PostgreSQL: history table, session advisory lock, and execution.
//!
//! The lock is a session-level advisory lock on the connection that runs the migrations,
//! taken with `pg_try_advisory_lock` in a polling loop. Waiting runners therefore never sit
//! in a long statement, which matters because `CREATE INDEX CONCURRENTLY` waits for every
//! transaction with an older snapshot and would deadlock with a runner blocked inside
//! `pg_advisory_lock`. A killed runner's session ends, and the server drops its lock.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Row};
use underpin_db::{Backend, quote_ident};

use super::{
    Driver, DriverError, ExecError, HistoryTable, LockHolder, LockWait, NewRow, ServerError,
    StatementFailure, StepOutcome,
};
use crate::history::{AppliedMigration, RowStatus};
use crate::version::Version;

/// The longest pause between two lock attempts.
const MAX_POLL: Duration = Duration::from_millis(500);

pub struct PostgresDriver {
    conn: PgConnection,
    table: HistoryTable,
    sql: Queries,
    lock_key: (i32, i32),
}

/// The history table's statements, built once with the quoted table name.
struct Queries {
    exists: String,
    create: String,
    select: String,
    insert_if_locked: String,
    upsert: String,
    delete_if_locked: String,
    delete: String,
}

/// `true` when this session holds the migration lock; takes the two key halves as $1, $2.
const HOLDS_LOCK: &str = "EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2 AND granted)";

impl Queries {
    fn new(table: &HistoryTable) -> Queries {
        let name = format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.table));
        let columns = "version, name, checksum, checksum_algorithm, status, execution_ms, applied_by, statements_done, statements_total, error";
        let values =
            "$3, $4, $5, $6, $7, $8, pg_catalog.concat(current_user, ' (', $9::text, ')'), $10, $11, $12";
        Queries {
            exists: "SELECT pg_catalog.to_regclass($1) IS NOT NULL".to_string(),
            create: format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {name} (
    version            text PRIMARY KEY,
    name               text NOT NULL,
    checksum           text NOT NULL,
    checksum_algorithm text NOT NULL,
    status             text NOT NULL CHECK (status IN ('applied', 'failed', 'partial', 'baseline')),
    applied_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    execution_ms       bigint NOT NULL,
    applied_by         text NOT NULL,
    statements_done    integer,
    statements_total   integer,
    error              text
);
COMMENT ON TABLE {name} IS 'Schema migrations applied by underpin. Do not edit by hand; use underpin migrate.'",
                schema = quote_ident(&table.schema)
            ),
            select: format!(
                "SELECT version, name, checksum, checksum_algorithm, status, applied_at::text AS applied_at, execution_ms, applied_by, statements_done, statements_total, error FROM {name}"
            ),
            insert_if_locked: format!("INSERT INTO {name} ({columns}) SELECT {values} WHERE {HOLDS_LOCK}"),
            upsert: format!(
                "INSERT INTO {name} ({columns}) SELECT {values} WHERE {HOLDS_LOCK}
ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum,
    checksum_algorithm = EXCLUDED.checksum_algorithm, status = EXCLUDED.status, applied_at = pg_catalog.now(),
    execution_ms = EXCLUDED.execution_ms, applied_by = EXCLUDED.applied_by, statements_done = EXCLUDED.statements_done,
    statements_total = EXCLUDED.statements_total, error = EXCLUDED.error"
            ),
            delete_if_locked: format!("DELETE FROM {name} WHERE version = $3 AND {HOLDS_LOCK}"),
            delete: format!("DELETE FROM {name} WHERE version = $1"),
        }
    }
}

/// Derives the advisory lock key from the history table, so two migration sets with
/// different history tables in one database do not block each other.
fn lock_key(table: &HistoryTable) -> (i32, i32) {
    let digest = Sha256::digest(format!("underpin-migrate:{}.{}", table.schema, table.table).as_bytes());
    let half = |bytes: &[u8]| i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & i32::MAX;
    (half(&digest[0..4]), half(&digest[4..8]))
}

impl PostgresDriver {
    pub fn new(conn: PgConnection, table: HistoryTable) -> PostgresDriver {
        PostgresDriver {
            sql: Queries::new(&table),
            lock_key: lock_key(&table),
            conn,
            table,
        }
    }

    /// The connection, for callers that run their own statements (tests, embedding apps).
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    fn bind_row<'q>(
        lock_key: (i32, i32),
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
        row: &'q NewRow<'q>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(lock_key.0)
            .bind(lock_key.1)
            .bind(row.version)
            .bind(row.name)
            .bind(row.checksum)
            .bind(crate::checksum::ALGORITHM)
            .bind(row.status.as_str())
            .bind(row.started.elapsed().as_millis() as i64)
            .bind(row.applied_by)
            .bind(row.statements_done)
            .bind(row.statements_total)
            .bind(row.error)
    }

    async fn try_lock(&mut self) -> Result<bool, DriverError> {
        sqlx::query_scalar("SELECT pg_catalog.pg_try_advisory_lock($1, $2)")
            .bind(self.lock_key.0)
            .bind(self.lock_key.1)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("taking the migration lock", &e))
    }
}

impl Driver for PostgresDriver {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn history_exists(&mut self) -> Result<bool, DriverError> {
        let qualified = format!(
            "{}.{}",
            quote_ident(&self.table.schema),
            quote_ident(&self.table.table)
        );
        sqlx::query_scalar(AssertSqlSafe(self.sql.exists.as_str()))
            .bind(qualified)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("looking for the history table", &e))
    }

    async fn ensure_history(&mut self) -> Result<(), DriverError> {
        if self.history_exists().await? {
            return Ok(());
        }
        sqlx::raw_sql(AssertSqlSafe(self.sql.create.as_str()))
            .execute(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("creating the history table", &e))?;
        Ok(())
    }

    async fn read_history(&mut self) -> Result<Vec<AppliedMigration>, DriverError> {
        let rows = sqlx::query(AssertSqlSafe(self.sql.select.as_str()))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("reading the history table", &e))?;
        rows.iter().map(row_to_applied).collect()
    }

    async fn lock(&mut self, timeout: Duration) -> Result<LockWait, DriverError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        let mut holder = None;
        loop {
            if self.try_lock().await? {
                return Ok(LockWait {
                    waited: started.elapsed(),
                    holder,
                });
            }
            if holder.is_none() {
                holder = self.lock_holders().await?.into_iter().next();
                match &holder {
                    Some(h) => tracing::info!("waiting for the migration lock held by {h}"),
                    None => tracing::info!("waiting for the migration lock"),
                }
            }
            if started.elapsed() >= timeout {
                return Err(DriverError::LockTimeout {
                    waited: started.elapsed(),
                    holder: holder.map(Box::new),
                });
            }
            tokio::time::sleep(pause.min(timeout.saturating_sub(started.elapsed()))).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    async fn unlock(&mut self) -> Result<(), DriverError> {
        let released: bool = sqlx::query_scalar("SELECT pg_catalog.pg_advisory_unlock($1, $2)")
            .bind(self.lock_key.0)
            .bind(self.lock_key.1)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("releasing the migration lock", &e))?;
        if !released {
            // Every step already checked the lock inside its own transaction, so a lock that
            // is not ours here changes nothing that was applied.
            tracing::debug!("the migration lock was not held by this session at release");
        }
        Ok(())
    }

    async fn lock_holders(&mut self) -> Result<Vec<LockHolder>, DriverError> {
        let rows = sqlx::query(
            "SELECT a.pid, a.usename::text AS usename, a.application_name, host(a.client_addr) AS client,
                    a.backend_start::text AS since, a.state, left(a.query, 200) AS query
             FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid
               AND l.objsubid = 2 AND l.granted AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
             ORDER BY a.pid",
        )
        .bind(self.lock_key.0)
        .bind(self.lock_key.1)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| DriverError::database("reading who holds the migration lock", &e))?;
        rows.iter()
            .map(|row| {
                Ok(LockHolder {
                    pid: row
                        .try_get("pid")
                        .map_err(|e| DriverError::database("reading lock holders", &e))?,
                    user: row.try_get("usename").ok(),
                    application: row.try_get("application_name").ok(),
                    client: row.try_get("client").ok().flatten(),
                    since: row.try_get("since").ok(),
                    state: row.try_get("state").ok(),
                    query: row.try_get("query").ok(),
                })
            })
            .collect()
    }

    async fn release_lock(&mut self) -> Result<Vec<LockHolder>, DriverError> {
        let holders = self.lock_holders().await?;
        for holder in &holders {
            sqlx::query("SELECT pg_catalog.pg_terminate_backend($1)")
                .bind(holder.pid)
                .execute(&mut self.conn)
                .await
                .map_err(|e| DriverError::database("ending the session that holds the lock", &e))?;
        }
        Ok(holders)
    }

    async fn apply_in_transaction(
        &mut self,
        statements: &[&str],
        row: &NewRow<'_>,
    ) -> Result<StepOutcome, ExecError> {
        let mut tx = self
            .conn
            .begin()
            .await
            .map_err(|e| DriverError::database("starting a transaction", &e))?;
        run_statements(&mut tx, statements).await?;
        let insert = sqlx::query(AssertSqlSafe(self.sql.insert_if_locked.as_str()));
        let done = Self::bind_row(self.lock_key, insert, row)
            .execute(&mut *tx)
            .await
            .map_err(|e| DriverError::database("recording the migration in the history table", &e))?;
        if done.rows_affected() == 0 {
            // The rollback happens when `tx` drops; the migration's changes go with it.
            return Err(DriverError::LockNotHeld.into());
        }
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
            .begin()
            .await
            .map_err(|e| DriverError::database("starting a transaction", &e))?;
        run_statements(&mut tx, statements).await?;
        let done = sqlx::query(AssertSqlSafe(self.sql.delete_if_locked.as_str()))
            .bind(self.lock_key.0)
            .bind(self.lock_key.1)
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(|e| DriverError::database("removing the migration from the history table", &e))?;
        if done.rows_affected() == 0 {
            return Err(DriverError::LockNotHeld.into());
        }
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
        let held: bool = sqlx::query_scalar(AssertSqlSafe(format!("SELECT {HOLDS_LOCK}")))
            .bind(self.lock_key.0)
            .bind(self.lock_key.1)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("checking the migration lock", &e))?;
        if held {
            Ok(())
        } else {
            Err(DriverError::LockNotHeld)
        }
    }

    async fn upsert_row(&mut self, row: &NewRow<'_>) -> Result<(), DriverError> {
        let upsert = sqlx::query(AssertSqlSafe(self.sql.upsert.as_str()));
        let done = Self::bind_row(self.lock_key, upsert, row)
            .execute(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("recording progress in the history table", &e))?;
        if done.rows_affected() == 0 {
            return Err(DriverError::LockNotHeld);
        }
        Ok(())
    }

    async fn delete_row(&mut self, version: &str) -> Result<(), DriverError> {
        sqlx::query(AssertSqlSafe(self.sql.delete.as_str()))
            .bind(version)
            .execute(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("removing a history row", &e))?;
        Ok(())
    }

    async fn current_user(&mut self) -> Result<String, DriverError> {
        sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| DriverError::database("reading the current user", &e))
    }
}

/// Runs statements one at a time so a failure names its statement.
async fn run_statements(conn: &mut PgConnection, statements: &[&str]) -> Result<(), ExecError> {
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

fn row_to_applied(row: &sqlx::postgres::PgRow) -> Result<AppliedMigration, DriverError> {
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
        error: row.try_get("error").map_err(get_error)?,
    })
}

pub(crate) fn parse_stored_version(text: &str) -> Result<Version, DriverError> {
    Version::parse(text).ok_or_else(|| DriverError::Database {
        action: "reading the history table",
        error: Box::new(ServerError {
            message: format!("the stored version `{text}` is not a version; was the table edited by hand?"),
            ..ServerError::default()
        }),
    })
}

pub(crate) fn parse_stored_status(text: &str) -> Result<RowStatus, DriverError> {
    RowStatus::parse(text).ok_or_else(|| DriverError::Database {
        action: "reading the history table",
        error: Box::new(ServerError {
            message: format!(
                "the stored status `{text}` is unknown; expected applied, failed, partial or baseline"
            ),
            ..ServerError::default()
        }),
    })
}
