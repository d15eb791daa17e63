//! The errors a migration run can end with. Each carries what a person needs to act.

use std::fmt;
use std::path::PathBuf;

use crate::driver::{DriverError, ServerError};
use crate::plan::PlanError;
use crate::source::LoadError;
use crate::version::Version;

/// The script of a migration that ran: up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// A statement of a migration that the database rejected.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SqlFailure {
    pub version: Version,
    pub name: String,
    pub direction: Direction,
    pub path: PathBuf,
    /// 1-based position in the file: of the server's error cursor when it gave one,
    /// otherwise of the failing statement's start.
    pub line: u32,
    pub column: u32,
    /// 1-based index of the failing statement, and the script's statement count.
    pub statement: usize,
    pub statements: usize,
    pub server: ServerError,
    /// Whether the migration ran in a transaction (then nothing of it is applied).
    pub transaction: bool,
    /// The next step for the user.
    pub advice: String,
    /// The script text and the byte range in it to point at, for source excerpts.
    #[serde(skip)]
    pub source: String,
    #[serde(skip)]
    pub source_first_line: u32,
    #[serde(skip)]
    pub span: (usize, usize),
}

impl fmt::Display for SqlFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migration {} ({}) failed at {}:{}:{}, statement {} of {}: {}",
            self.version,
            self.direction.as_str(),
            self.path.display(),
            self.line,
            self.column,
            self.statement,
            self.statements,
            self.server
        )?;
        write!(f, "\n  {}", self.advice)
    }
}

/// The reason a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Driver(#[from] DriverError),
    #[error("{0}")]
    Sql(Box<SqlFailure>),
    #[error("{0}")]
    Usage(String),
    /// The database is in a state the command cannot continue from safely.
    #[error("{0}")]
    Conflict(String),
    /// The database URL is invalid or the connection failed. The message contains the URL
    /// with its password redacted.
    #[error("{0}")]
    Connect(String),
}

impl MigrateError {
    /// Returns a short machine-readable kind for JSON reports.
    pub fn kind(&self) -> &'static str {
        match self {
            MigrateError::Load(_) => "load",
            MigrateError::Plan(_) => "plan",
            MigrateError::Driver(DriverError::LockTimeout { .. }) => "lock_timeout",
            MigrateError::Driver(DriverError::LockNotHeld) => "lock_not_held",
            MigrateError::Driver(_) => "database",
            MigrateError::Sql(_) => "sql",
            MigrateError::Usage(_) => "usage",
            MigrateError::Conflict(_) => "conflict",
            MigrateError::Connect(_) => "connect",
        }
    }
}
