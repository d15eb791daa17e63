//! Versioned, checksummed, reversible schema migrations for PostgreSQL and SQLite.
//!
//! This crate is the library behind `underpin migrate`. It reads a migrations folder in
//! underpin's native format or in the sqlx, golang-migrate, diesel or Flyway layout
//! ([`source`]) and checks every file before it connects. It plans what to run from the
//! files and the history table ([`plan`]), and applies the plan under a lock ([`runner`])
//! through one driver per database ([`driver`]).
//!
//! # Running migrations at start-up
//!
//! [`embed_migrations!`] compiles a migrations folder into the binary, and
//! [`EmbeddedMigrations::run`](embed::EmbeddedMigrations::run) applies whatever is pending
//! when the service starts. The run takes the migration lock, so when several instances
//! start at once, each migration is applied once and the other instances find nothing to do.
//!
//! ```
//! use underpin_migrate::embed::EmbeddedMigrations;
//!
//! // The path is relative to the Cargo.toml of the crate that invokes the macro. This one
//! // names the quickstart example of the underpin repository; a service usually passes
//! // "migrations".
//! static MIGRATIONS: EmbeddedMigrations =
//!     underpin_migrate::embed_migrations!("../../examples/quickstart/migrations");
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let dir = tempfile::tempdir()?;
//!     let url = format!("sqlite:{}", dir.path().join("app.db").display());
//!
//!     let report = MIGRATIONS.run(&url).await?;
//!     assert_eq!(report.steps.len(), 4);
//!
//!     // The next start finds every migration applied.
//!     let report = MIGRATIONS.run(&url).await?;
//!     assert!(report.steps.is_empty());
//!     Ok(())
//! }
//! ```
//!
//! [`EmbeddedMigrations::run_with`](embed::EmbeddedMigrations::run_with) takes
//! [`RunOptions`] (lock timeout, `applied_by`) and a [`HistoryTable`] as well. Errors are
//! [`MigrateError`]s, and none of them contains the password of the URL.
//!
//! The files are parsed and checked when `run` starts, not at compile time. To catch a
//! broken file in `cargo test` instead of at the first start, load the files in a unit test:
//!
//! ```
//! # use underpin_migrate::embed::EmbeddedMigrations;
//! # static MIGRATIONS: EmbeddedMigrations =
//! #     underpin_migrate::embed_migrations!("../../examples/quickstart/migrations");
//! use underpin_migrate::embed::Dialect;
//!
//! let set = MIGRATIONS.load(Dialect::Sqlite).expect("the embedded migrations load");
//! assert_eq!(set.migrations.len(), 4);
//! ```
//!
//! ## New files need a rebuild trigger
//!
//! Each file comes in through `include_bytes!`, so cargo rebuilds the crate when an embedded
//! file changes or is deleted. Cargo does not watch the folder itself, though, so a new file
//! is embedded only after something else triggers a rebuild. A build script in the embedding
//! crate (`build.rs` beside its `Cargo.toml`) closes that gap:
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     println!("cargo::rerun-if-changed=migrations");
//! }
//! ```
//!
//! ## Features
//!
//! `macros` (on by default) provides `embed_migrations!`. Without it,
//! [`EmbeddedMigrations::new`](embed::EmbeddedMigrations::new) wraps files that the caller
//! has in memory. The macro's expansion names this crate `::underpin_migrate`, so keep that
//! name for the dependency in `Cargo.toml`.

pub mod checksum;
pub mod driver;
pub mod embed;
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
#[cfg(feature = "macros")]
pub use underpin_migrate_macros::embed_migrations;
pub use version::Version;
