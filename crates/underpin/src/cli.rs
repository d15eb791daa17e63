//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// underpin: the data foundation of a database-backed service: versioned migrations
/// (`migrate`) and the data model document generated from the real schema (`docs`).
#[derive(Debug, Parser)]
#[command(name = "underpin", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL (postgres://user@host/db or sqlite:file.db). Falls back to the
    /// environment named by --env, then to DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Migrations folder (default: [migrate] dir in underpin.toml, else ./migrations).
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Environment from underpin.toml ([env.NAME]).
    #[arg(long, global = true, env = "UNDERPIN_ENV", value_name = "NAME")]
    pub env: Option<String>,

    /// Config file (default: ./underpin.toml when present). `.env` beside it is read too.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log lines as JSON on stderr.
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Versioned, checksummed, reversible schema migrations.
    Migrate(MigrateArgs),
    /// Generate the data model document from the real schema, or check that it is current.
    Docs(DocsArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// History table name (default underpin_migrations).
    #[arg(long, global = true, value_name = "NAME")]
    pub table: Option<String>,

    /// PostgreSQL schema of the history table (default public).
    #[arg(long, global = true, value_name = "SCHEMA")]
    pub schema: Option<String>,

    /// Seconds to wait for another runner's lock before giving up (default 60).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub lock_timeout: Option<u64>,

    /// Output for people (text) or for pipelines (json, one object on stdout).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    #[command(subcommand)]
    pub command: MigrateCommand,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Create a new migration file named after the current UTC time.
    New {
        /// The migration's name, saying what it does, e.g. add_orders.
        name: String,
        /// Create the up section as no-transaction (for CREATE INDEX CONCURRENTLY).
        #[arg(long)]
        no_transaction: bool,
    },
    /// Apply pending migrations.
    Up {
        /// Apply up to and including this version.
        #[arg(long, value_name = "VERSION", conflicts_with = "step")]
        to: Option<String>,
        /// Apply at most N migrations.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        step: Option<u64>,
        /// Apply pending migrations older than the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
        /// Print the plan and its SQL; execute nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Roll back applied migrations (default: the newest one).
    Down {
        /// Roll back every migration newer than this version (it stays applied).
        #[arg(long, value_name = "VERSION", conflicts_with_all = ["step", "all"])]
        to: Option<String>,
        /// Roll back the newest N migrations.
        #[arg(long, value_name = "N", conflicts_with = "all", value_parser = clap::value_parser!(u64).range(1..))]
        step: Option<u64>,
        /// Roll back every applied migration.
        #[arg(long)]
        all: bool,
        /// Print the plan and its SQL; execute nothing.
        #[arg(long)]
        dry_run: bool,
        /// Required to roll back in an environment marked `protected = true`.
        #[arg(long)]
        allow_protected: bool,
    },
    /// Roll back the newest migration and apply it again.
    Redo {
        /// Print the plan and its SQL; execute nothing.
        #[arg(long)]
        dry_run: bool,
        /// Required in an environment marked `protected = true`.
        #[arg(long)]
        allow_protected: bool,
    },
    /// List migrations and their state.
    Status {
        /// Exit with code 1 when `validate` would fail, else 3 when migrations are pending.
        #[arg(long)]
        exit_code: bool,
    },
    /// Check that applied files are unedited, none are missing, and none are out of order.
    Validate {
        /// Do not report pending migrations older than the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
    },
    /// Mark a database that predates underpin as migrated up to VERSION, without running anything.
    #[command(disable_version_flag = true)]
    Baseline {
        /// The newest version the database already has; older migrations never run.
        #[arg(long, value_name = "VERSION")]
        version: String,
    },
    /// Accept edited files' checksums and forget rows of missing files and failed attempts.
    Repair,
    /// Inspect or release the migration lock.
    Lock {
        #[command(subcommand)]
        command: LockCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Show which server session holds the migration lock.
    Status,
    /// End the server session that holds the migration lock.
    Release,
}

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Folder the documents go to (default: [docs] out in underpin.toml, else ./docs).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Document formats, comma-separated: md, dbml, mermaid, dot, svg, html, json
    /// (tbls-compatible schema.json). Default: [docs] formats, else all of them.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub format: Vec<String>,

    /// Write nothing; exit with code 3 and show what differs when the files in the output
    /// folder do not match the schema.
    #[arg(long)]
    pub check: bool,

    /// Document the schema the migrations build, applied to a scratch database, instead of
    /// the database itself.
    #[arg(long)]
    pub from_migrations: bool,

    /// With --from-migrations: a server to create the scratch database on (a superuser or
    /// CREATEDB URL), instead of a throwaway local PostgreSQL cluster.
    #[arg(long, value_name = "URL")]
    pub scratch_url: Option<String>,

    /// With --from-migrations and no --scratch-url: the PostgreSQL server binaries folder
    /// (default: pg_config --bindir, else the newest /usr/lib/postgresql/*/bin).
    #[arg(long, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,

    /// Only these schemas (repeat or comma-separate). Default: every user schema.
    #[arg(long = "schema", value_name = "NAME", value_delimiter = ',')]
    pub schemas: Vec<String>,

    /// Leave out these tables, as NAME or SCHEMA.NAME (the migration history table is
    /// always left out).
    #[arg(long = "exclude-table", value_name = "NAME", value_delimiter = ',')]
    pub exclude_tables: Vec<String>,

    /// The document title (default: [docs] title, else "Data model").
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    /// A folder of Markdown templates that replace the built-in ones by file name.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// Report for people (text) or for pipelines (json, one object on stdout).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub report: OutputFormat,
}
