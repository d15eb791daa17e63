//! Versioned, checksummed, reversible schema migrations for PostgreSQL and SQLite.

pub mod checksum;
pub mod driver;
pub mod error;
pub mod history;
pub mod migration;
pub mod plan;
pub mod runner;
pub mod source;
pub mod validate_sql;
pub mod version;

pub use driver::{Driver, HistoryTable, PostgresDriver, SqliteDriver};
pub use error::{Direction, MigrateError, SqlFailure};
pub use migration::{Format, Migration, Script};
pub use plan::{Request, State};
pub use runner::{Event, Migrator, RunOptions, RunReport, StatusReport};
pub use source::{LoadError, LoadOptions, MigrationSet, load_dir, load_files};
pub use version::Version;
