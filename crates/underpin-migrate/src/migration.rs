//! The loaded form of a migration: a version, a name, an up script and maybe a down script.

use std::path::PathBuf;

use crate::version::Version;

/// The file layouts underpin reads, detected per folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `<version>_<name>.sql` with `-- migrate:up` / `-- migrate:down` sections (dbmate).
    Native,
    /// `<version>_<name>.up.sql` and `.down.sql` (sqlx, golang-migrate).
    Pairs,
    /// `<version>_<name>/up.sql`, `down.sql`, optional `metadata.toml` (diesel).
    Diesel,
    /// `V<version>__<description>.sql`, optional `U<version>__…` undo files (Flyway).
    Flyway,
}

impl Format {
    /// Tells the user how to mark a migration of this format as not transactional.
    pub fn no_transaction_fix(self) -> &'static str {
        match self {
            Format::Native => {
                "mark the section no-transaction: `-- migrate:up transaction:false` (or `-- migrate:down transaction:false`)"
            }
            Format::Pairs => "put `-- no-transaction` on the first line of the file",
            Format::Diesel => "add `run_in_transaction = false` to the folder's metadata.toml",
            Format::Flyway => "create `<file>.conf` beside the file containing `executeInTransaction=false`",
        }
    }
}

/// One direction of a migration: the SQL and how to run it.
#[derive(Debug, Clone)]
pub struct Script {
    /// The section's text in canonical form (no BOM, LF line ends).
    pub sql: String,
    /// Whether the script runs inside one transaction together with its history update.
    pub transaction: bool,
    /// The file the script was read from.
    pub path: PathBuf,
    /// The 1-based line of the file on which `sql` starts, for mapping positions back.
    pub first_line: u32,
}

impl Script {
    /// Maps a byte offset in `sql` to a 1-based line and column in the file.
    pub fn file_position(&self, byte_offset: usize) -> (u32, u32) {
        let (line, column) = underpin_db::sql::line_column(&self.sql, byte_offset);
        (self.first_line + line - 1, column)
    }
}

/// A loaded migration.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    pub format: Format,
    pub up: Script,
    pub down: Option<Script>,
    /// Checksum of the up script's canonical text; see [`crate::checksum`].
    pub checksum: String,
    /// Problems of the down script. A rollback of this migration is rejected with these,
    /// while everything else works.
    pub down_problems: Vec<crate::source::Problem>,
}

impl Migration {
    /// Describes where this migration's down script goes in its layout, for messages.
    pub fn down_location(&self) -> String {
        let path = &self.up.path;
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let beside = |name: String| path.with_file_name(name).display().to_string();
        match self.format {
            Format::Native => format!(
                "a `-- migrate:down` section with statements in {}",
                path.display()
            ),
            Format::Pairs => beside(file_name.replace(".up.sql", ".down.sql")),
            Format::Diesel => beside("down.sql".to_string()),
            Format::Flyway => beside(format!("U{}", file_name.get(1..).unwrap_or_default())),
        }
    }
}
