//! Migrations compiled into the binary, loaded and applied at start-up.
//!
//! `embed_migrations!` builds an [`EmbeddedMigrations`]. The files then go through the same
//! loader, checks and runner as `underpin migrate up`, so an embedded folder and the folder on
//! disk behave alike.

use std::fmt;
use std::path::Path;

use underpin_db::{Backend, DatabaseUrl, connect_postgres, connect_sqlite};

/// The SQL dialect the files are checked for, re-exported so that callers of
/// [`EmbeddedMigrations::load`] need no direct dependency on `underpin-db`.
pub use underpin_db::sql::Dialect;

use crate::driver::{HistoryTable, PostgresDriver, SqliteDriver};
use crate::error::MigrateError;
use crate::plan::Request;
use crate::runner::{Migrator, RunOptions, RunReport};
use crate::source::{LoadError, LoadOptions, MigrationSet, SourceFile, load_files};

/// A migrations folder compiled into the binary: each file's path relative to the folder and
/// its bytes.
#[derive(Clone, Copy)]
pub struct EmbeddedMigrations {
    dir: &'static str,
    files: &'static [(&'static str, &'static [u8])],
}

impl EmbeddedMigrations {
    /// Wraps files that are already in memory, each as `(path relative to the folder, bytes)`
    /// with `/` between folders. `embed_migrations!` calls this with its path argument as
    /// `dir`, which only serves to name files in messages.
    pub const fn new(dir: &'static str, files: &'static [(&'static str, &'static [u8])]) -> Self {
        EmbeddedMigrations { dir, files }
    }

    /// Returns the folder as it was passed to `embed_migrations!`, relative to the embedding
    /// crate.
    pub fn dir(&self) -> &'static str {
        self.dir
    }

    /// Returns the files as `(relative path, bytes)` in the order given to [`new`](Self::new).
    /// `embed_migrations!` sorts them by path.
    pub fn files(&self) -> &'static [(&'static str, &'static [u8])] {
        self.files
    }

    /// Parses and checks the files for `dialect`, as `underpin migrate` does with a folder.
    /// Messages name each file as `<dir>/<relative path>`.
    pub fn load(&self, dialect: Dialect) -> Result<MigrationSet, LoadError> {
        self.load_with(LoadOptions {
            dialect,
            require_down: false,
        })
    }

    /// Like [`load`](Self::load), with every loader option, such as `require_down`.
    pub fn load_with(&self, options: LoadOptions) -> Result<MigrationSet, LoadError> {
        load_files(self.source_files(), options)
    }

    fn source_files(&self) -> Vec<SourceFile> {
        self.files
            .iter()
            .map(|(relative, contents)| SourceFile {
                relative: (*relative).to_string(),
                display: Path::new(self.dir).join(relative),
                contents: Ok(contents.to_vec()),
            })
            .collect()
    }

    /// Applies every pending migration to the database at `database_url`
    /// (`postgres://…`, `sqlite:…` or a path ending in `.db`, `.sqlite` or `.sqlite3`), with
    /// the default [`RunOptions`] and the default history table `underpin_migrations`.
    ///
    /// The files are loaded and checked before a connection is opened. The run takes the
    /// migration lock, so several instances of a service that start at once apply each
    /// migration once, and the others wait up to the lock timeout and find nothing to do.
    ///
    /// The returned future is `Send`, so it can run inside `tokio::spawn`.
    pub async fn run(&self, database_url: &str) -> Result<RunReport, MigrateError> {
        self.run_with(database_url, RunOptions::default(), HistoryTable::default())
            .await
    }

    /// Like [`run`](Self::run), with explicit options and history table.
    /// `options.lock_timeout` also bounds how long SQLite waits for another writer, and
    /// `options.allow_out_of_order` lets a migration older than the newest applied one run.
    pub async fn run_with(
        &self,
        database_url: &str,
        options: RunOptions,
        table: HistoryTable,
    ) -> Result<RunReport, MigrateError> {
        let url = parse_url(database_url)?;
        let dialect = match url.backend() {
            Backend::Postgres => Dialect::Postgres,
            Backend::Sqlite => Dialect::Sqlite,
        };

        // Files are checked before any connection is opened, as with `underpin migrate up`.
        let set = self.load(dialect)?;
        let request = Request::Up {
            to: None,
            step: None,
            allow_out_of_order: options.allow_out_of_order,
        };
        tracing::debug!(dir = self.dir, url = %url, migrations = set.migrations.len(), "running embedded migrations");

        let connect_error = |error: underpin_db::ConnectError| MigrateError::Connect(error.to_string());
        match url.backend() {
            Backend::Postgres => {
                let conn = connect_postgres(&url).await.map_err(connect_error)?;
                let label = format!("{}.{}", table.schema, table.table);
                let driver = PostgresDriver::new(conn, table).with_reconnect(url.clone());
                Migrator::new(driver, set, options, label).run(&request).await
            }
            Backend::Sqlite => {
                let conn = connect_sqlite(&url, options.lock_timeout)
                    .await
                    .map_err(connect_error)?;
                let label = table.table.clone();
                let driver = SqliteDriver::new(conn, table);
                Migrator::new(driver, set, options, label).run(&request).await
            }
        }
    }
}

/// Parses a URL for [`EmbeddedMigrations::run`]. The messages contain only the redacted URL.
fn parse_url(database_url: &str) -> Result<DatabaseUrl, MigrateError> {
    // `DatabaseUrl::parse` words its empty-URL message for the command line (it suggests
    // --database-url), which would mislead a caller of this library.
    if database_url.trim().is_empty() {
        return Err(MigrateError::Connect(
            "the database URL is empty; pass a URL such as postgres://user@host/db or sqlite:app.db"
                .to_string(),
        ));
    }
    DatabaseUrl::parse(database_url).map_err(|error| MigrateError::Connect(error.to_string()))
}

/// Lists the file names only, since the bytes of a whole folder would flood a log line.
impl fmt::Debug for EmbeddedMigrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedMigrations")
            .field("dir", &self.dir)
            .field(
                "files",
                &self.files.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let embedded = EmbeddedMigrations::new("none", &[]);
        let future = embedded.run("sqlite::memory:");
        assert_send(&future);
    }

    use super::*;

    static NATIVE: EmbeddedMigrations = EmbeddedMigrations::new(
        "db/migrations",
        &[
            ("0002_second.sql", b"-- migrate:up\nCREATE TABLE b (id int);\n"),
            ("0001_first.sql", b"CREATE TABLE a (id int);\n"),
        ],
    );

    #[test]
    fn load_sorts_and_prefixes_dir() {
        let set = NATIVE.load(Dialect::Sqlite).unwrap();
        let versions: Vec<&str> = set.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(versions, ["1", "2"]);
        assert_eq!(
            set.migrations[0].up.path,
            Path::new("db/migrations/0001_first.sql")
        );
    }

    #[test]
    fn require_down_reports_missing_down() {
        let error = NATIVE
            .load_with(LoadOptions {
                dialect: Dialect::Postgres,
                require_down: true,
            })
            .unwrap_err();
        assert_eq!(error.problems.len(), 2, "{error}");
        assert!(
            error.to_string().contains("db/migrations/0001_first.sql"),
            "{error}"
        );
    }

    #[test]
    fn debug_lists_names_without_bytes() {
        let text = format!("{NATIVE:?}");
        assert!(text.contains("0001_first.sql"), "{text}");
        assert!(!text.contains("CREATE TABLE"), "{text}");
    }

    #[test]
    fn empty_url_message_names_no_flag() {
        let error = parse_url("  ").unwrap_err();
        assert_eq!(error.kind(), "connect");
        assert!(error.to_string().contains("database URL is empty"), "{error}");
        assert!(!error.to_string().contains("--database-url"), "{error}");
    }
}
