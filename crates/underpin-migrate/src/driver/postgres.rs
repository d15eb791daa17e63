//! PostgreSQL: history table, session advisory lock, and execution.
//!
//! The lock is a session-level advisory lock on the connection that runs the migrations,
//! taken with `pg_try_advisory_lock` in a polling loop. Waiting runners therefore never sit
//! in a long statement, which matters because `CREATE INDEX CONCURRENTLY` waits for every
//! transaction with an older snapshot and would deadlock with a runner blocked inside
//! `pg_advisory_lock`. A killed runner's session ends, and the server drops its lock.
//!
//! Every statement goes over the simple query protocol, values quoted by `quote_literal`.
//! The extended protocol splits one query into messages that a transaction-mode pooler
//! (PgBouncer before 1.21) may route to different server sessions, which corrupts the
//! exchange; simple queries and explicit transactions are always routed whole.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Connection, Row};
use underpin_db::{Backend, quote_ident, quote_literal};

use super::{
    Driver, DriverError, ExecError, HistoryTable, LockHolder, LockWait, NewRow, ServerError,
    StatementFailure, StepOutcome,
};
use crate::history::{AppliedMigration, RowStatus};
use crate::version::Version;

/// The maximum pause between two lock attempts.
const MAX_POLL: Duration = Duration::from_millis(500);

/// How often a lock taken on an unreachable session is retried on this connection before
/// extra connections are opened to reach it.
const UNLOCK_ATTEMPTS: usize = 8;

/// The maximum number of extra connections opened at once to reach the session that holds
/// the lock. NOTE: a pooler with more server sessions than this may not hand out the holder
/// before the limit, and the lock then stays until that session ends.
const PINNED_SESSIONS_MAX: usize = 16;

/// How long one extra connection may take to open and start its transaction. Behind a pooler
/// whose server sessions are all busy, it waits in the pooler's queue.
const PIN_TIMEOUT: Duration = Duration::from_secs(5);

const COLUMNS: &str = "version, name, checksum, checksum_algorithm, status, execution_ms, applied_by, statements_done, statements_total, progress_checksum, error";

pub struct PostgresDriver {
    conn: PgConnection,
    table: HistoryTable,
    /// `"schema"."table"`, quoted.
    name: String,
    lock_key: (i32, i32),
    /// Marks this driver as the lock's owner. Two clients that a pooler maps onto one server
    /// session would otherwise both "hold" the advisory lock, which is reentrant.
    token: String,
    /// The session setting that stores the owner token, per lock key.
    owner_setting: String,
    /// The server process that took the lock; behind a pooler it may differ from the one
    /// serving the next statement.
    lock_pid: Option<i32>,
    /// Set once a statement ran on another server session than the lock's, as behind a
    /// transaction-mode pooler; from then on the lock check also looks at `pg_locks`.
    pooled: bool,
    /// Whether the last lock attempt found the history table, so it need not be looked up again.
    history_seen: bool,
    /// The URL for extra connections that reach the session holding the lock behind a pooler.
    reconnect: Option<underpin_db::DatabaseUrl>,
}

/// Derives the advisory lock key from the history table, so two migration sets with
/// different history tables in one database do not block each other.
fn lock_key(table: &HistoryTable) -> (i32, i32) {
    let digest = Sha256::digest(format!("underpin-migrate:{}.{}", table.schema, table.table).as_bytes());
    let half = |bytes: &[u8]| i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & i32::MAX;
    (half(&digest[0..4]), half(&digest[4..8]))
}

/// Returns a token unique to this process and driver instance.
fn new_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let instance = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{nanos}-{instance}", std::process::id())
}

fn optional_text(value: Option<&str>) -> String {
    value.map(quote_literal).unwrap_or_else(|| "NULL".to_string())
}

fn optional_int(value: Option<i32>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "NULL".to_string())
}

impl PostgresDriver {
    pub fn new(conn: PgConnection, table: HistoryTable) -> PostgresDriver {
        let key = lock_key(&table);
        let token = new_token();
        let owner_setting = format!("underpin.lock_owner_{}_{}", key.0, key.1);
        PostgresDriver {
            name: format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.table)),
            token,
            owner_setting,
            lock_key: key,
            lock_pid: None,
            pooled: false,
            history_seen: false,
            reconnect: None,
            conn,
            table,
        }
    }

    /// Lets the driver open extra connections to `url` when the lock must be released on a
    /// server session that this connection no longer reaches, as behind a transaction-mode
    /// pooler. Without it such a lock stays until that session ends.
    pub fn with_reconnect(mut self, url: underpin_db::DatabaseUrl) -> PostgresDriver {
        self.reconnect = Some(url);
        self
    }

    /// Reads every history row. `details` is the SQL for `applied_at` (text), `execution_ms`,
    /// `applied_by` and `error`, in that order.
    async fn read_rows(&mut self, details: &str) -> Result<Vec<AppliedMigration>, DriverError> {
        // row_to_applied reads these columns by position.
        let sql = format!(
            "SELECT version, name, checksum, checksum_algorithm, status, statements_done, statements_total, progress_checksum, {details} FROM {}",
            self.name
        );
        // Each row is decoded as it arrives, so a long history is never held twice.
        let mut rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch(&mut self.conn);
        let mut history = Vec::new();
        while let Some(row) = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
            let row = row.map_err(|e| DriverError::database("reading the history table", &e))?;
            history.push(row_to_applied(&row)?);
        }
        Ok(history)
    }

    /// Returns whether the server has `client_connection_check_interval` (PostgreSQL 14 and later).
    fn dead_client_check_supported(&self) -> bool {
        self.conn
            .server_version_num()
            .is_some_and(|version| version >= 140000)
    }

    /// Returns the connection, for callers that run their own statements (tests, embedding apps).
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// A condition that is true while the server session that took the lock for this
    /// driver still holds it. It does not ask whether the session running the statement
    /// is that session: behind a transaction-mode pooler it often is not, and while the
    /// lock is held no other runner can take it, because `try_lock` refuses a session whose
    /// owner setting names another driver.
    fn holds_lock(&self) -> String {
        // The owner token on the running session is the check on a direct connection. Only
        // behind a pooler, where the statement may run on another session, is pg_locks asked
        // as well: planning that view costs about 0.06 ms per statement. The condition is
        // never NULL, because the lock check raises on its negation.
        let token = format!(
            "coalesce(pg_catalog.current_setting({}, true), '') = {}",
            quote_literal(&self.owner_setting),
            quote_literal(&self.token)
        );
        match self.lock_pid {
            Some(pid) if self.pooled => format!("({token} OR {})", self.lock_stands(pid)),
            Some(_) => format!("({token})"),
            None => "false".to_string(),
        }
    }

    /// Returns a condition that is true while server process `pid` holds the migration lock.
    fn lock_stands(&self, pid: i32) -> String {
        format!(
            "EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = {pid} AND classid = {}::oid AND objid = {}::oid AND objsubid = 2 AND granted)",
            self.lock_key.0, self.lock_key.1
        )
    }

    /// After a lock check failed on this connection: if the session that took the lock
    /// still holds it, the statement ran on another session, so a pooler sits in between.
    /// Switches to the pooled check and returns `true` when the step should be retried.
    async fn detect_pooler(&mut self) -> Result<bool, DriverError> {
        let Some(pid) = self.lock_pid else {
            return Ok(false);
        };
        if self.pooled {
            return Ok(false);
        }
        let sql = format!("SELECT {}", self.lock_stands(pid));
        if self.fetch_bool(sql, "checking the migration lock").await? {
            tracing::debug!(
                "a statement ran on another server session than the lock's; checking the lock through pg_locks from now on"
            );
            self.pooled = true;
            return Ok(true);
        }
        Ok(false)
    }

    /// `execution_ms` is SQL: a literal measured by the client, or an expression the server
    /// evaluates.
    fn row_values(row: &NewRow<'_>, execution_ms: &str) -> String {
        format!(
            "{}, {}, {}, {}, {}, {}, pg_catalog.concat(current_user, ' (', {}::text, ')'), {}, {}, {}, {}",
            quote_literal(row.version),
            quote_literal(row.name),
            quote_literal(row.checksum),
            quote_literal(crate::checksum::ALGORITHM),
            quote_literal(row.status.as_str()),
            execution_ms,
            quote_literal(row.applied_by),
            optional_int(row.statements_done),
            optional_int(row.statements_total),
            optional_text(row.progress_checksum),
            optional_text(row.error),
        )
    }

    /// Returns a condition that is true while the lock is held and otherwise raises an error with
    /// [`LOCK_LOST`] in its message, so a step inside a transaction fails instead of
    /// committing without the lock. `concat` is not immutable, so the failing cast runs
    /// only when evaluated, not at plan time.
    fn lock_or_raise(&self) -> String {
        format!(
            "({} OR pg_catalog.concat({}, '')::int > 0)",
            self.holds_lock(),
            quote_literal(LOCK_LOST)
        )
    }

    fn insert_if_locked(name: &str, holds_lock: &str, row: &NewRow<'_>, execution_ms: &str) -> String {
        format!(
            "INSERT INTO {name} ({COLUMNS}) SELECT {} WHERE {holds_lock}",
            Self::row_values(row, execution_ms)
        )
    }

    fn upsert_if_locked(&self, row: &NewRow<'_>) -> String {
        format!(
            "{} ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum,
    checksum_algorithm = EXCLUDED.checksum_algorithm, status = EXCLUDED.status, applied_at = pg_catalog.now(),
    execution_ms = EXCLUDED.execution_ms, applied_by = EXCLUDED.applied_by, statements_done = EXCLUDED.statements_done,
    statements_total = EXCLUDED.statements_total, progress_checksum = EXCLUDED.progress_checksum, error = EXCLUDED.error",
            Self::insert_if_locked(
                &self.name,
                &self.holds_lock(),
                row,
                &(row.started.elapsed().as_millis() as i64).to_string()
            )
        )
    }

    async fn fetch_one(&mut self, sql: String, action: &'static str) -> Result<PgRow, DriverError> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| DriverError::database(action, &e))
    }

    async fn execute(&mut self, sql: String, action: &'static str) -> Result<u64, DriverError> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .map(|done| done.rows_affected())
            .map_err(|e| DriverError::database(action, &e))
    }

    async fn fetch_bool(&mut self, sql: String, action: &'static str) -> Result<bool, DriverError> {
        let row = self.fetch_one(sql, action).await?;
        row.try_get(0).map_err(|e| DriverError::database(action, &e))
    }

    /// Takes the advisory lock unless this server session already holds it for another
    /// owner, and marks this driver as the owner, in one statement.
    ///
    /// The same statement looks for the history table, which saves `ensure_history` a round
    /// trip, and turns on the server's check for a dead client on the session that takes the
    /// lock: without it the server notices a client that died mid-statement only when the
    /// statement ends, and a killed runner would keep the lock that long.
    async fn try_lock(&mut self) -> Result<bool, DriverError> {
        let (setting, token) = (quote_literal(&self.owner_setting), quote_literal(&self.token));
        let dead_client_check = if self.dead_client_check_supported() {
            "pg_catalog.set_config('client_connection_check_interval', '1s', false)"
        } else {
            "NULL"
        };
        let sql = format!(
            "SELECT CASE
                WHEN coalesce(pg_catalog.current_setting({setting}, true), '') NOT IN ('', {token}) THEN false
                WHEN pg_catalog.pg_try_advisory_lock({}, {}) THEN pg_catalog.set_config({setting}, {token}, false) IS NOT NULL
                ELSE false
             END,
             pg_catalog.pg_backend_pid(),
             pg_catalog.to_regclass({}) IS NOT NULL,
             {dead_client_check}",
            self.lock_key.0,
            self.lock_key.1,
            quote_literal(&self.name)
        );
        let action = "taking the migration lock";
        let row = self.fetch_one(sql, action).await?;
        let taken: bool = row.try_get(0).map_err(|e| DriverError::database(action, &e))?;
        let history_exists: bool = row.try_get(2).map_err(|e| DriverError::database(action, &e))?;
        self.history_seen = history_exists;
        if taken {
            self.lock_pid = Some(row.try_get(1).map_err(|e| DriverError::database(action, &e))?);
        }
        Ok(taken)
    }

    /// Runs `pg_advisory_unlock` once; `true` when this server session held the lock.
    async fn unlock_once(&mut self) -> Result<bool, DriverError> {
        let sql = self.unlock_sql();
        self.fetch_bool(sql, "releasing the migration lock").await
    }

    /// Returns the statement that releases the lock when the running session holds it for
    /// this driver. Only that session may release it, and it clears the owner token so the
    /// next runner on that session can take the lock.
    fn unlock_sql(&self) -> String {
        let setting = quote_literal(&self.owner_setting);
        format!(
            "SELECT CASE WHEN pg_catalog.current_setting({setting}, true) = {token} THEN pg_catalog.pg_advisory_unlock({}, {}) ELSE false END,
                    CASE WHEN pg_catalog.current_setting({setting}, true) = {token} THEN pg_catalog.set_config({setting}, '', false) END",
            self.lock_key.0,
            self.lock_key.1,
            token = quote_literal(&self.token),
        )
    }

    /// Reaches the server session `pid` behind a transaction-mode pooler and releases the
    /// lock there. Each extra connection opens a transaction, which the pooler keeps on one
    /// server session until it ends, so the next connection gets another session. The lock
    /// is released in the first one that lands on `pid`. Returns whether it was.
    async fn unlock_on_pinned_sessions(&self, url: &underpin_db::DatabaseUrl, pid: i32) -> bool {
        let mut pinned: Vec<PgConnection> = Vec::new();
        let mut released = false;
        for _ in 0..PINNED_SESSIONS_MAX {
            let pin = async {
                let mut conn = underpin_db::connect_postgres(url).await.ok()?;
                let row = sqlx::raw_sql("BEGIN; SELECT pg_catalog.pg_backend_pid()")
                    .fetch_one(&mut conn)
                    .await
                    .ok()?;
                let session: i32 = row.try_get(0).ok()?;
                Some((conn, session))
            };
            let Ok(Some((mut conn, session))) = tokio::time::timeout(PIN_TIMEOUT, pin).await else {
                break;
            };
            if session == pid {
                let unlocked = sqlx::raw_sql(AssertSqlSafe(self.unlock_sql()))
                    .fetch_one(&mut conn)
                    .await
                    .ok()
                    .and_then(|row| row.try_get::<bool, _>(0).ok());
                released = unlocked == Some(true) && sqlx::raw_sql("COMMIT").execute(&mut conn).await.is_ok();
                // A committed connection has no transaction left to roll back.
                if released {
                    let _ = conn.close().await;
                } else {
                    pinned.push(conn);
                }
                break;
            }
            pinned.push(conn);
        }
        for mut conn in pinned {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
            let _ = conn.close().await;
        }
        released
    }

    /// Releases a lock this run took on a server session this connection no longer
    /// reaches, as happens behind a transaction-mode pooler: unlock attempts are routed to
    /// whichever session is free, so they are retried, and then extra connections pin
    /// sessions until one is the holder. The holding session is never ended, because a
    /// pooler may hand it to another client at any moment.
    async fn release_unreachable_lock(&mut self) -> Result<(), DriverError> {
        let Some(pid) = self.lock_pid.take() else {
            return Ok(());
        };
        for _ in 0..UNLOCK_ATTEMPTS {
            if self.unlock_once().await? {
                return Ok(());
            }
            if !self.lock_holders().await?.iter().any(|h| h.pid == pid) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if let Some(url) = &self.reconnect
            && self.unlock_on_pinned_sessions(url, pid).await
        {
            return Ok(());
        }
        tracing::warn!(
            "the migration lock stays with server process {pid}, which this connection could not reach to release it (a transaction-mode pooler routes each statement to any free server session); it is released when that session closes, or now with `underpin migrate lock release`"
        );
        Ok(())
    }

    /// Returns the statements that undo session settings a migration made (`SET
    /// search_path`, `SET ROLE`, `SET lock_timeout` …), so they neither leak into the next
    /// migration nor apply to the history write, and one run and several `--step 1` runs
    /// give the same result. `RESET ALL` also clears the dead-client check set with the lock
    /// and the lock's owner token, so both are set again.
    fn reset_sql(&self) -> String {
        let mut sql = String::from("RESET ROLE; RESET ALL");
        if self.dead_client_check_supported() {
            sql.push_str("; SET client_connection_check_interval = '1s'");
        }
        // Behind a pooler this may be another server session than the one holding the lock;
        // only the holder gets the token back.
        sql.push_str(&format!(
            "; SELECT pg_catalog.set_config({}, {}, false) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND classid = {}::oid AND objid = {}::oid AND objsubid = 2 AND granted",
            quote_literal(&self.owner_setting),
            quote_literal(&self.token),
            self.lock_key.0,
            self.lock_key.1
        ));
        sql
    }

    /// Runs a migration's statements and its history statement `record` in one transaction,
    /// sent as one message: `BEGIN`, the statements, `record` (which raises when the lock
    /// is lost), `COMMIT`. One round trip per migration, instead of one per statement, is
    /// what makes applying many small migrations as fast as psql. When the message fails,
    /// the transaction is rolled back and the statements run again one at a time in a
    /// transaction that is rolled back too, to find which statement failed and where.
    async fn run_in_transaction(
        &mut self,
        statements: &[&str],
        record: &str,
    ) -> Result<StepOutcome, ExecError> {
        let mut script = String::from("BEGIN;\n");
        for statement in statements {
            script.push_str(statement);
            script.push_str(";\n");
        }
        if statements.iter().any(|s| changes_session(s)) {
            script.push_str(&self.reset_sql());
            script.push_str(";\n");
        }
        script.push_str(record);
        script.push_str(";\nCOMMIT");

        let Err(error) = sqlx::raw_sql(AssertSqlSafe(script)).execute(&mut self.conn).await else {
            return Ok(StepOutcome::Done);
        };
        let rollback = self.rollback_failed_message().await;
        if error.to_string().contains(LOCK_LOST) {
            rollback.map_err(|e| DriverError::database("rolling back the failed migration", &e))?;
            return Err(DriverError::LockNotHeld.into());
        }
        rollback.map_err(|e| DriverError::database("rolling back the failed migration", &e))?;
        self.locate_failure(statements, &error).await
    }

    /// Ends the transaction a failed one-message migration left open. A syntax error
    /// rejects the whole message before its BEGIN runs. A ROLLBACK outside a transaction
    /// makes the server send a warning that would print before the real error, so a harmless
    /// statement first shows whether a failed transaction is open.
    async fn rollback_failed_message(&mut self) -> Result<(), sqlx::Error> {
        match sqlx::raw_sql("SELECT 1").execute(&mut self.conn).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("25P02") => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut self.conn)
                    .await
                    .map(|_| ())
            }
            Err(other) => Err(other),
        }
    }

    /// Re-runs `statements` one at a time inside a transaction that is always rolled back,
    /// and returns the first failure. Without one, the original error is reported as a
    /// failure of the history write or the commit.
    async fn locate_failure(
        &mut self,
        statements: &[&str],
        original: &sqlx::Error,
    ) -> Result<StepOutcome, ExecError> {
        let mut tx = self
            .conn
            .begin()
            .await
            .map_err(|e| DriverError::database("starting a transaction", &e))?;
        let located = run_statements(&mut tx, statements).await;
        tx.rollback()
            .await
            .map_err(|e| DriverError::database("rolling back the failed migration", &e))?;
        match located {
            Err(failure) => Err(failure),
            Ok(()) => Err(DriverError::database("recording and committing the migration", original).into()),
        }
    }
}

/// The message of the error the lock check raises inside a migration's transaction.
const LOCK_LOST: &str = "underpin: the migration lock was lost";

impl Driver for PostgresDriver {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn history_exists(&mut self) -> Result<bool, DriverError> {
        let sql = format!(
            "SELECT pg_catalog.to_regclass({}) IS NOT NULL",
            quote_literal(&self.name)
        );
        self.fetch_bool(sql, "looking for the history table").await
    }

    async fn ensure_history(&mut self) -> Result<(), DriverError> {
        if self.history_seen || self.history_exists().await? {
            return Ok(());
        }
        // CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database, which a role that
        // may only create tables in an existing schema lacks, so it runs only when needed.
        let schema_exists = format!(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = {})",
            quote_literal(&self.table.schema)
        );
        if !self
            .fetch_bool(schema_exists, "looking for the history table's schema")
            .await?
        {
            let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&self.table.schema));
            self.execute(sql, "creating the history table's schema")
                .await
                .map_err(|e| with_privilege_hint(e, &self.table.schema))?;
        }
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {name} (
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
    progress_checksum  text,
    error              text
);
COMMENT ON TABLE {name} IS 'Schema migrations applied by underpin. Do not edit by hand; use underpin migrate.'",
            name = self.name
        );
        self.execute(sql, "creating the history table")
            .await
            .map_err(|e| with_privilege_hint(e, &self.table.schema))?;
        Ok(())
    }

    async fn read_history(&mut self) -> Result<Vec<AppliedMigration>, DriverError> {
        let details = format!("{}, execution_ms, applied_by, error", utc_rfc3339("applied_at"));
        self.read_rows(&details).await
    }

    /// Leaves out the columns only `status` shows, such as the timestamp that the server
    /// would format as text for every row of a long history.
    async fn read_history_for_plan(&mut self) -> Result<Vec<AppliedMigration>, DriverError> {
        self.read_rows("'', 0::bigint, '', NULL::text").await
    }
    async fn lock(&mut self, timeout: Duration) -> Result<LockWait, DriverError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        let mut holder = None;
        let mut contended = false;
        loop {
            if self.try_lock().await? {
                // A lock taken at the first try is no wait, however long the round trip.
                let waited = if contended {
                    started.elapsed()
                } else {
                    Duration::ZERO
                };
                return Ok(LockWait { waited, holder });
            }
            let first_wait = !contended;
            contended = true;
            if holder.is_none() {
                holder = self.lock_holders().await?.into_iter().next();
                match &holder {
                    Some(h) => tracing::info!("waiting for the migration lock held by {h}"),
                    None if first_wait => tracing::info!("waiting for the migration lock"),
                    None => {}
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
        if self.unlock_once().await? {
            self.lock_pid = None;
            return Ok(());
        }
        // Every step already checked the lock inside its own transaction, so a lock held
        // elsewhere changed nothing that was applied; it must still not outlive this run.
        tracing::debug!("the migration lock was not held by this session at release");
        self.release_unreachable_lock().await
    }

    async fn lock_holders(&mut self) -> Result<Vec<LockHolder>, DriverError> {
        let sql = format!(
            "SELECT a.pid, a.usename::text AS usename, a.application_name, host(a.client_addr) AS client,
                    {session_started} AS session_started,
                    a.state, left(a.query, 200) AS query
             FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.classid = {}::oid AND l.objid = {}::oid AND l.objsubid = 2
               AND l.granted AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
             ORDER BY a.pid",
            self.lock_key.0,
            self.lock_key.1,
            session_started = utc_rfc3339("a.backend_start"),
        );
        let action = "reading who holds the migration lock";
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| DriverError::database(action, &e))?;
        rows.iter()
            .map(|row| {
                Ok(LockHolder {
                    pid: row
                        .try_get("pid")
                        .map_err(|e| DriverError::database(action, &e))?,
                    user: row.try_get("usename").ok(),
                    application: row.try_get("application_name").ok(),
                    client: row.try_get("client").ok().flatten(),
                    session_started: row.try_get("session_started").ok(),
                    state: row.try_get("state").ok(),
                    command: row
                        .try_get::<Option<String>, _>("query")
                        .ok()
                        .flatten()
                        .and_then(|query| super::leading_keyword(&query)),
                })
            })
            .collect()
    }

    async fn release_lock(&mut self) -> Result<Vec<LockHolder>, DriverError> {
        let holders = self.lock_holders().await?;
        for holder in &holders {
            let sql = format!("SELECT pg_catalog.pg_terminate_backend({})", holder.pid);
            self.execute(sql, "ending the session that holds the lock")
                .await?;
        }
        Ok(holders)
    }

    async fn apply_in_transaction(
        &mut self,
        statements: &[&str],
        row: &NewRow<'_>,
    ) -> Result<StepOutcome, ExecError> {
        // The server measures the execution time: the whole message arrives at once.
        let execution_ms = "(extract(epoch FROM pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp()) * 1000)::bigint";
        loop {
            let record = Self::insert_if_locked(&self.name, &self.lock_or_raise(), row, execution_ms);
            match self.run_in_transaction(statements, &record).await {
                Err(ExecError::Driver(DriverError::LockNotHeld)) if self.detect_pooler().await? => continue,
                outcome => return outcome,
            }
        }
    }

    async fn revert_in_transaction(
        &mut self,
        statements: &[&str],
        version: &str,
    ) -> Result<StepOutcome, ExecError> {
        loop {
            let record = format!(
                "DELETE FROM {} WHERE version = {} AND {}",
                self.name,
                quote_literal(version),
                self.lock_or_raise()
            );
            match self.run_in_transaction(statements, &record).await {
                Err(ExecError::Driver(DriverError::LockNotHeld)) if self.detect_pooler().await? => continue,
                outcome => return outcome,
            }
        }
    }

    async fn execute_autocommit(&mut self, statement: &str) -> Result<(), ServerError> {
        sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|e| ServerError::from_sqlx(&e))
    }

    async fn verify_lock(&mut self) -> Result<(), DriverError> {
        loop {
            let sql = format!("SELECT {}", self.holds_lock());
            if self.fetch_bool(sql, "checking the migration lock").await? {
                return Ok(());
            }
            if !self.detect_pooler().await? {
                return Err(DriverError::LockNotHeld);
            }
        }
    }

    async fn upsert_row(&mut self, row: &NewRow<'_>) -> Result<(), DriverError> {
        loop {
            let sql = self.upsert_if_locked(row);
            if self
                .execute(sql, "recording progress in the history table")
                .await?
                > 0
            {
                return Ok(());
            }
            if !self.detect_pooler().await? {
                return Err(DriverError::LockNotHeld);
            }
        }
    }

    async fn delete_row(&mut self, version: &str) -> Result<(), DriverError> {
        let sql = format!(
            "DELETE FROM {} WHERE version = {}",
            self.name,
            quote_literal(version)
        );
        self.execute(sql, "removing a history row").await?;
        Ok(())
    }

    async fn current_user(&mut self) -> Result<String, DriverError> {
        let row = self
            .fetch_one(
                "SELECT current_user::text".to_string(),
                "reading the current user",
            )
            .await?;
        row.try_get(0)
            .map_err(|e| DriverError::database("reading the current user", &e))
    }
}

/// Returns whether a statement may change session settings: `SET`, `RESET`, or a
/// `set_config` call.
/// Only migrations with such a statement pay for the reset round trip.
fn changes_session(statement: &str) -> bool {
    let start = statement.trim_start();
    let keyword = start
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    keyword.eq_ignore_ascii_case("set")
        || keyword.eq_ignore_ascii_case("reset")
        || start.to_ascii_lowercase().contains("set_config")
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

/// Returns SQL that formats the timestamptz `column` as RFC 3339 in UTC
/// (`2026-12-05T02:55:23.949823Z`), which JSON consumers parse without knowing PostgreSQL's
/// own text format.
fn utc_rfc3339(column: &str) -> String {
    format!(r#"pg_catalog.to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#)
}

/// Adds what to grant to a permission error (SQLSTATE 42501) from creating the history
/// table or its schema.
fn with_privilege_hint(error: DriverError, schema: &str) -> DriverError {
    match error {
        DriverError::Database { action, mut error } if error.code.as_deref() == Some("42501") => {
            if error.hint.is_none() {
                error.hint = Some(format!(
                    "the role needs CREATE on the schema (`GRANT CREATE ON SCHEMA {} TO <role>`) or, for a new schema, on the database; or put the history table in a schema it may create in with --schema",
                    quote_ident(schema)
                ));
            }
            DriverError::Database { action, error }
        }
        other => other,
    }
}

fn row_to_applied(row: &PgRow) -> Result<AppliedMigration, DriverError> {
    let get_error = |e: sqlx::Error| DriverError::database("reading the history table", &e);
    // By position, in the order of read_rows's SELECT: a lookup by name hashes the name
    // for every value, which for a history of thousands of rows is a visible part of a
    // no-op `up`.
    let version: String = row.try_get(0).map_err(get_error)?;
    let status: String = row.try_get(4).map_err(get_error)?;
    Ok(AppliedMigration {
        version: parse_stored_version(&version)?,
        name: row.try_get(1).map_err(get_error)?,
        checksum: row.try_get(2).map_err(get_error)?,
        checksum_algorithm: row.try_get(3).map_err(get_error)?,
        status: parse_stored_status(&status)?,
        statements_done: row.try_get(5).map_err(get_error)?,
        statements_total: row.try_get(6).map_err(get_error)?,
        progress_checksum: row.try_get(7).map_err(get_error)?,
        applied_at: row.try_get(8).map_err(get_error)?,
        execution_ms: row.try_get(9).map_err(get_error)?,
        applied_by: row.try_get(10).map_err(get_error)?,
        error: row.try_get(11).map_err(get_error)?,
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
