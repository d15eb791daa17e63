//! Per-database operations behind one trait. Every SQL string underpin runs against its
//! own history table lives in this module's dialect files, nowhere else.

use std::time::Duration;

use underpin_db::Backend;

use crate::history::AppliedMigration;

pub mod postgres;
pub mod sqlite;

pub use postgres::PostgresDriver;
pub use sqlite::SqliteDriver;

/// The location of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTable {
    /// PostgreSQL schema; ignored by SQLite.
    pub schema: String,
    pub table: String,
}

impl Default for HistoryTable {
    fn default() -> Self {
        HistoryTable {
            schema: "public".to_string(),
            table: "underpin_migrations".to_string(),
        }
    }
}

/// An error the database returned, with the fields PostgreSQL provides.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerError {
    /// SQLSTATE (PostgreSQL) or the extended result code (SQLite).
    pub code: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The place inside a function or `DO` block where the error happened (PostgreSQL's CONTEXT).
    pub context: Option<String>,
    /// 1-based character position in the statement, when the server gave one.
    #[serde(skip)]
    pub position: Option<usize>,
}

impl ServerError {
    pub fn from_sqlx(error: &sqlx::Error) -> ServerError {
        if let sqlx::Error::Io(io) = error {
            return ServerError {
                message: format!(
                    "the connection to the server was lost ({io}): the server ended the session (`pg_terminate_backend`, `underpin migrate lock release`, a restart) or the network dropped it"
                ),
                hint: Some(SESSION_LOST_ADVICE.to_string()),
                ..ServerError::default()
            };
        }
        if let sqlx::Error::Database(db) = error {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // Class 57 (operator intervention) ends the session: admin_shutdown,
                // crash_shutdown, cannot_connect_now.
                let session_ended = pg.code().starts_with("57P");
                return ServerError {
                    code: Some(pg.code().to_string()),
                    message: pg.message().to_string(),
                    detail: pg.detail().map(str::to_string),
                    hint: pg
                        .hint()
                        .map(str::to_string)
                        .or_else(|| session_ended.then(|| SESSION_LOST_ADVICE.to_string())),
                    context: pg.r#where().map(str::to_string),
                    position: match pg.position() {
                        Some(sqlx::postgres::PgErrorPosition::Original(position)) => Some(position),
                        _ => None,
                    },
                };
            }
            return ServerError {
                code: db.code().map(|c| c.into_owned()),
                message: db.message().to_string(),
                ..ServerError::default()
            };
        }
        ServerError {
            message: error.to_string(),
            ..ServerError::default()
        }
    }
}

/// Advice for a run whose session ended midway.
const SESSION_LOST_ADVICE: &str = "a transactional migration that was running is rolled back, and a no-transaction one keeps the statements it recorded; `underpin migrate status` shows where the run stopped, and `underpin migrate up` continues from there";

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(code) = &self.code {
            write!(f, "[{code}] ")?;
        }
        f.write_str(&self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "\n  detail: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        if let Some(context) = &self.context {
            write!(f, "\n  context: {context}")?;
        }
        Ok(())
    }
}

/// A failure of a driver operation on underpin's own tables or the lock.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{action} failed: {error}")]
    Database {
        action: &'static str,
        error: Box<ServerError>,
    },
    /// The server session that took the lock no longer holds it.
    #[error(
        "the migration lock was lost: the server session that took it has ended (terminated, or closed by a pooler or proxy), so this step was rolled back and nothing of it was recorded\n  fix: run the command again; if it happens again, run migrations over a direct, unpooled URL (the database's own host and port instead of a pooler's)"
    )]
    LockNotHeld,
    #[error(
        "timed out after {:.1} s waiting for the migration lock{}\n  fix: wait for the other run to finish, raise --lock-timeout, or inspect it with `underpin migrate lock status`",
        waited.as_secs_f64(),
        holder.as_ref().map(|h| format!(", held by {h}")).unwrap_or_default()
    )]
    LockTimeout {
        waited: Duration,
        holder: Option<Box<LockHolder>>,
    },
}

impl DriverError {
    pub fn database(action: &'static str, error: &sqlx::Error) -> DriverError {
        DriverError::Database {
            action,
            error: Box::new(ServerError::from_sqlx(error)),
        }
    }
}

/// The server session that holds the migration lock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockHolder {
    pub pid: i32,
    pub user: Option<String>,
    pub application: Option<String>,
    pub client: Option<String>,
    /// When the holder's server session started; the server does not record when the lock
    /// was taken.
    pub session_started: Option<String>,
    pub state: Option<String>,
    /// The first keyword of the holder's current statement, such as `CREATE` (`BEGIN` for a
    /// transactional migration, which is sent as one script). The rest is left out because
    /// it can name tables or carry a password.
    pub command: Option<String>,
}

/// Returns the first keyword of a statement (its leading ASCII letters), uppercased.
pub(crate) fn leading_keyword(statement: &str) -> Option<String> {
    let rest = statement.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::{ServerError, leading_keyword};

    #[test]
    fn lost_connection_says_what_happened() {
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "expected to read 5 bytes, got 0 bytes at EOF",
        );
        let error = ServerError::from_sqlx(&sqlx::Error::Io(eof));
        assert!(
            error.message.starts_with("the connection to the server was lost"),
            "{error}"
        );
        assert!(error.message.contains("got 0 bytes at EOF"), "{error}");
        assert!(
            error
                .hint
                .is_some_and(|hint| hint.contains("`underpin migrate up` continues"))
        );
    }

    #[test]
    fn leading_keyword_is_letters_only() {
        assert_eq!(
            leading_keyword("  create index concurrently i"),
            Some("CREATE".into())
        );
        assert_eq!(
            leading_keyword("BEGIN;\nALTER ROLE app PASSWORD 'x'"),
            Some("BEGIN".into())
        );
        assert_eq!(
            leading_keyword("COPY secret_table FROM stdin"),
            Some("COPY".into())
        );
        assert_eq!(leading_keyword("'secret'"), None);
        assert_eq!(leading_keyword(""), None);
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server process {}", self.pid)?;
        if let Some(user) = &self.user {
            write!(f, " (user {user}")?;
            if let Some(app) = self.application.as_deref().filter(|a| !a.is_empty()) {
                write!(f, ", application {app}")?;
            }
            if let Some(client) = &self.client {
                write!(f, ", from {client}")?;
            }
            f.write_str(")")?;
        }
        if let Some(started) = &self.session_started {
            write!(f, ", session started {started}")?;
        }
        match (self.state.as_deref(), self.command.as_deref()) {
            (Some(state), Some(command)) if state != "idle" => write!(f, ", {state}: {command}")?,
            (Some(state), _) => write!(f, ", {state}")?,
            _ => {}
        }
        Ok(())
    }
}

/// The outcome of taking the lock.
#[derive(Debug, Clone, Default)]
pub struct LockWait {
    pub waited: Duration,
    /// The holder seen while waiting, if any.
    pub holder: Option<LockHolder>,
}

/// The history row written when a migration completes or makes progress.
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub status: crate::history::RowStatus,
    /// When the step started; the recorded execution time runs up to the row's write.
    pub started: std::time::Instant,
    pub applied_by: &'a str,
    pub statements_done: Option<i32>,
    pub statements_total: Option<i32>,
    /// For no-transaction migrations: checksum of the statements that ran.
    pub progress_checksum: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// The outcome of a transactional step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Done,
    /// Another runner did it first (seen after taking SQLite's write lock).
    AlreadyDone,
}

/// A statement of a script that failed, by index, with the server's error.
#[derive(Debug)]
pub struct StatementFailure {
    pub index: usize,
    pub error: ServerError,
}

/// Either a failing statement or a driver-level failure.
#[derive(Debug)]
pub enum ExecError {
    Statement(StatementFailure),
    Driver(DriverError),
}

impl From<DriverError> for ExecError {
    fn from(error: DriverError) -> Self {
        ExecError::Driver(error)
    }
}

/// The operations the runner needs from a database.
#[allow(async_fn_in_trait)]
pub trait Driver {
    fn backend(&self) -> Backend;

    /// Whether the history table exists (read-only commands must not create it).
    async fn history_exists(&mut self) -> Result<bool, DriverError>;

    /// Creates the history table when missing. Called with the lock held.
    async fn ensure_history(&mut self) -> Result<(), DriverError>;

    async fn read_history(&mut self) -> Result<Vec<AppliedMigration>, DriverError>;

    /// Reads the history with what planning needs. A driver may leave `applied_at`,
    /// `execution_ms`, `applied_by` and `error` empty, which `up` and `down` never show.
    async fn read_history_for_plan(&mut self) -> Result<Vec<AppliedMigration>, DriverError> {
        self.read_history().await
    }

    /// Takes the migration lock, polling until `timeout`.
    async fn lock(&mut self, timeout: Duration) -> Result<LockWait, DriverError>;

    async fn unlock(&mut self) -> Result<(), DriverError>;

    /// Who holds the lock now, if anyone.
    async fn lock_holders(&mut self) -> Result<Vec<LockHolder>, DriverError>;

    /// Ends the sessions holding the lock; returns them.
    async fn release_lock(&mut self) -> Result<Vec<LockHolder>, DriverError>;

    /// Runs `statements` and inserts `row` in one transaction.
    async fn apply_in_transaction(
        &mut self,
        statements: &[&str],
        row: &NewRow<'_>,
    ) -> Result<StepOutcome, ExecError>;

    /// Runs `statements` and deletes the row of `version` in one transaction.
    async fn revert_in_transaction(
        &mut self,
        statements: &[&str],
        version: &str,
    ) -> Result<StepOutcome, ExecError>;

    /// Runs one statement outside any transaction.
    async fn execute_autocommit(&mut self, statement: &str) -> Result<(), ServerError>;

    /// Checks, before a no-transaction migration, that this session still holds the lock.
    async fn verify_lock(&mut self) -> Result<(), DriverError>;

    /// Inserts or replaces the row of `row.version`.
    async fn upsert_row(&mut self, row: &NewRow<'_>) -> Result<(), DriverError>;

    async fn delete_row(&mut self, version: &str) -> Result<(), DriverError>;

    /// Returns the database user, for `applied_by`.
    async fn current_user(&mut self) -> Result<String, DriverError>;
}
