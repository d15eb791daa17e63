//! `underpin docs`: read the schema (from the database or from the migrations applied to a
//! scratch database), render the documents, then write them or compare them with the files
//! already in the output folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use underpin_db::scratch::{ScratchDatabase, ScratchSource};
use underpin_db::sql::Dialect;
use underpin_db::{Backend, DatabaseUrl, connect_postgres, connect_sqlite_with};
use underpin_docs::{Document, Format, Options};
use underpin_migrate::{
    HistoryTable, LoadOptions, MigrateError, Migrator, PostgresDriver, Request, RunOptions, SqliteDriver,
    load_dir,
};
use underpin_schema::{IntrospectOptions, Schema};

use crate::cli::{DocsArgs, GlobalArgs};
use crate::exit;
use crate::render::{CliError, Output};
use crate::settings::Settings;
use crate::signals::Signals;

/// The file in the output folder that lists every file `underpin docs` wrote there. A later
/// run removes a listed file that the schema no longer produces (a dropped table's diagram),
/// and never touches a file the list does not name, so the folder can hold other documents.
const MANIFEST: &str = ".underpin-docs";

/// Returns the format that writes a document at `path`, or `None` for a path no format writes.
fn format_of(path: &str) -> Option<Format> {
    let (first, rest) = path.split_once('/').unwrap_or((path, ""));
    match (first, rest.is_empty()) {
        ("DataModel.md", true) | ("DataModel", false) => Some(Format::Markdown),
        ("mermaid", false) => Some(Format::Mermaid),
        ("schema.dbml", true) => Some(Format::Dbml),
        ("schema.dot", true) => Some(Format::Dot),
        ("svg", false) => Some(Format::Svg),
        ("index.html", true) => Some(Format::Html),
        ("schema.json", true) => Some(Format::Json),
        _ => None,
    }
}

/// Builds the manifest document: a header and the sorted paths of `documents`.
fn manifest(documents: &[Document]) -> Document {
    let mut paths: Vec<&str> = documents.iter().map(|d| d.path.as_str()).collect();
    paths.sort_unstable();
    let mut text = String::from(
        "# Files written by `underpin docs`. It removes those the schema no longer produces\n\
         # and leaves every other file in this folder alone. Generated: do not edit.\n",
    );
    for path in paths {
        text.push_str(path);
        text.push('\n');
    }
    Document::new(MANIFEST, text)
}

/// The outcome for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Written because it was missing or different.
    Written,
    Unchanged,
    /// A stale generated file that was removed.
    Removed,
    /// `--check`: the file on disk differs from what the schema gives.
    Differs,
    /// `--check`: the file is not on disk.
    Missing,
    /// `--check`: a generated file the schema no longer produces.
    Stale,
}

#[derive(Debug, Serialize)]
pub struct FileReport {
    pub path: String,
    pub state: FileState,
    /// For `differs`: a unified diff from the file on disk to the expected text, cut short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DocsReport {
    /// `database` or `migrations`.
    pub source: &'static str,
    pub out: String,
    pub check: bool,
    pub up_to_date: bool,
    /// Tables, partitioned tables and foreign tables; partitions and views are counted apart.
    pub tables: usize,
    pub views: usize,
    pub partitions: usize,
    pub relations: usize,
    /// Catalog queries introspection ran.
    pub queries: usize,
    pub files: Vec<FileReport>,
}

/// Settings from `[docs]` in underpin.toml, overridden by flags.
struct DocsSettings {
    out: PathBuf,
    formats: Vec<Format>,
    options: Options,
    introspect: IntrospectOptions,
    from_migrations: bool,
    scratch_url: Option<String>,
    pg_bindir: Option<PathBuf>,
    migrations_dir: PathBuf,
    history: HistoryTable,
}

pub async fn run(global: &GlobalArgs, args: DocsArgs, output: &Output) -> Result<u8, CliError> {
    let settings = Settings::resolve(global)?;
    let docs = resolve(global, &args, &settings)?;

    let (schema, queries, source) = if docs.from_migrations {
        let (schema, queries) = read_from_migrations(&docs, &settings, output).await?;
        (schema, queries, "migrations")
    } else {
        let url = match (settings.url.clone(), settings.url_error) {
            (Some(url), _) => url,
            (None, Some(error)) => return Err(error),
            (None, None) => unreachable!("settings carry a URL or an error"),
        };
        let read = underpin_schema::introspect_url(&url, &docs.introspect)
            .await
            .map_err(|e| CliError::Io(e.to_string()))?;
        (read.schema, read.queries, "database")
    };
    let mut documents = underpin_docs::render(&schema, &docs.formats, &docs.options)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    documents.push(manifest(&documents));
    let files = if args.check {
        compare(&docs.out, &documents, &docs.formats)?
    } else {
        write(&docs.out, &documents, &docs.formats)?
    };
    let up_to_date = files.iter().all(|file| {
        matches!(
            file.state,
            FileState::Unchanged | FileState::Written | FileState::Removed
        )
    });
    let report = DocsReport {
        source,
        out: docs.out.display().to_string(),
        check: args.check,
        up_to_date,
        tables: schema
            .top_level_tables()
            .filter(|table| !table.kind.is_view())
            .count(),
        views: schema.tables.iter().filter(|table| table.kind.is_view()).count(),
        partitions: schema
            .tables
            .iter()
            .filter(|table| table.partition_of.is_some())
            .count(),
        relations: schema.relations().len(),
        queries,
        files,
    };
    output.docs(&report);
    Ok(if args.check && !up_to_date {
        exit::OUT_OF_DATE
    } else {
        exit::OK
    })
}

fn resolve(global: &GlobalArgs, args: &DocsArgs, settings: &Settings) -> Result<DocsSettings, CliError> {
    let config = &settings.config;
    let section = &config.docs;

    let names: Vec<String> = if !args.format.is_empty() {
        args.format.clone()
    } else if let Some(formats) = &section.formats {
        formats.clone()
    } else {
        Format::ALL.iter().map(|f| f.name().to_string()).collect()
    };
    let mut formats = Vec::new();
    for name in &names {
        let name = name.trim().to_ascii_lowercase();
        let format = Format::from_name(&name).ok_or_else(|| {
            CliError::Usage(format!(
                "unknown document format `{name}`; use a comma-separated list of {}",
                Format::ALL.map(Format::name).join(", ")
            ))
        })?;
        if !formats.contains(&format) {
            formats.push(format);
        }
    }

    let out = match (&args.out, &section.out) {
        (Some(out), _) => out.clone(),
        (None, Some(out)) => config.resolve(out),
        (None, None) => config.resolve("docs"),
    };
    let template_dir = match (&args.templates, &section.templates) {
        (Some(dir), _) => Some(dir.clone()),
        (None, Some(dir)) => Some(config.resolve(dir)),
        (None, None) => None,
    };
    let defaults = Options::default();
    let options = Options {
        title: args
            .title
            .clone()
            .or_else(|| section.title.clone())
            .unwrap_or(defaults.title),
        template_dir,
        max_diagram_tables: section.max_diagram_tables.unwrap_or(defaults.max_diagram_tables),
    };

    let history = settings.history_table(None, None);
    let mut exclude_tables = if args.exclude_tables.is_empty() {
        section.exclude_tables.clone().unwrap_or_default()
    } else {
        args.exclude_tables.clone()
    };
    // The history table is underpin's, not the application's.
    exclude_tables.push(format!("{}.{}", history.schema, history.table));
    exclude_tables.push(history.table.clone());
    let schemas = if args.schemas.is_empty() {
        section.schemas.clone().unwrap_or_default()
    } else {
        args.schemas.clone()
    };

    let migrations_dir = settings.migrations_dir(global);
    let from_migrations = args.from_migrations || section.from_migrations.unwrap_or(false);
    if !from_migrations {
        for (flag, given) in [
            ("--scratch-url", args.scratch_url.is_some()),
            ("--pg-bindir", args.pg_bindir.is_some()),
        ] {
            if given {
                return Err(CliError::Usage(format!(
                    "{flag} applies only with --from-migrations; add --from-migrations, or drop {flag} to read the database itself"
                )));
            }
        }
    }
    // Read only when it is used, so an unset variable in it does not stop a live read.
    let scratch_url = match (&args.scratch_url, &section.scratch_url, from_migrations) {
        (_, _, false) => None,
        (Some(url), _, true) => Some(url.clone()),
        (None, Some(url), true) => Some(crate::config::interpolate(url, "[docs] scratch_url")?),
        (None, None, true) => None,
    };
    if let Some(url) = &scratch_url
        && let Ok(parsed) = DatabaseUrl::parse(url)
    {
        crate::logging::add_secret_url(&parsed);
    }

    Ok(DocsSettings {
        out,
        formats,
        options,
        introspect: IntrospectOptions {
            schemas,
            exclude_tables,
        },
        from_migrations,
        scratch_url,
        pg_bindir: args
            .pg_bindir
            .clone()
            .or_else(|| section.pg_bindir.as_deref().map(|dir| config.resolve(dir))),
        migrations_dir,
        history,
    })
}

/// Applies the migrations to a scratch database, reads its schema and removes the scratch
/// database, also when applying or reading fails.
async fn read_from_migrations(
    docs: &DocsSettings,
    settings: &Settings,
    output: &Output,
) -> Result<(Schema, usize), CliError> {
    let source = match &docs.scratch_url {
        Some(raw) => {
            let url = DatabaseUrl::parse(raw).map_err(|e| CliError::Usage(format!("--scratch-url: {e}")))?;
            match url.backend() {
                Backend::Postgres => ScratchSource::server(url),
                Backend::Sqlite => ScratchSource::Sqlite,
            }
        }
        None if settings
            .url
            .as_ref()
            .is_some_and(|url| url.backend() == Backend::Sqlite) =>
        {
            ScratchSource::Sqlite
        }
        None => ScratchSource::LocalCluster {
            bindir: docs.pg_bindir.clone(),
        },
    };
    let dialect = match source {
        ScratchSource::Sqlite => Dialect::Sqlite,
        _ => Dialect::Postgres,
    };
    // Files are checked before a scratch database is made.
    let set = load_dir(
        &docs.migrations_dir,
        LoadOptions {
            dialect,
            require_down: false,
        },
    )
    .map_err(MigrateError::from)?;

    // Listening starts before the scratch database exists: from here a signal is queued
    // instead of ending the process, and creation is never cancelled half-way, because a
    // half-made cluster or database could not be cleaned up.
    let mut signals = Signals::listen()?;
    if matches!(source, ScratchSource::LocalCluster { .. }) {
        // Folders of earlier runs that were killed (SIGKILL, a CI timeout) go first.
        match ScratchDatabase::remove_abandoned_folders(&std::env::temp_dir(), Duration::from_secs(60)) {
            Ok(removed) => {
                for folder in removed {
                    tracing::info!("removed the abandoned scratch folder {}", folder.display());
                }
            }
            Err(error) => tracing::warn!("could not look for abandoned scratch folders: {error}"),
        }
    }
    let scratch = ScratchDatabase::create(&source)
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    let described = describe(&scratch, &source);
    let outcome = if signals.arrived() {
        Err(interrupted_error())
    } else {
        // A signal stops the work, not the cleanup: the scratch database is removed either way.
        tokio::select! {
            outcome = apply_and_read(scratch.url(), set, docs) => outcome,
            () = signals.recv() => Err(interrupted_error()),
        }
    };
    let cleanup = scratch.cleanup().await;
    let read = outcome.map_err(|error| match error {
        CliError::Interrupted(_) => error,
        other => {
            output.hint(&format!(
                "the migrations ran on {described}. When they need an extension, a role or a server version that it lacks, pass --pg-bindir DIR or --scratch-url URL for one that has it"
            ));
            other
        }
    })?;
    cleanup.map_err(|e| CliError::Io(e.to_string()))?;
    Ok(read)
}

/// Names the scratch database for messages, without its password.
fn describe(scratch: &ScratchDatabase, source: &ScratchSource) -> String {
    match source {
        ScratchSource::Server { admin, .. } => format!(
            "a temporary database {} on {}",
            scratch.database_name().unwrap_or("?"),
            admin.redacted()
        ),
        ScratchSource::LocalCluster { .. } => format!(
            "a throwaway local cluster ({})",
            scratch.server_version().unwrap_or("PostgreSQL")
        ),
        ScratchSource::Sqlite => "a scratch SQLite file".to_string(),
    }
}

fn interrupted_error() -> CliError {
    CliError::Interrupted("the scratch database was removed".to_string())
}

async fn apply_and_read(
    url: &DatabaseUrl,
    set: underpin_migrate::MigrationSet,
    docs: &DocsSettings,
) -> Result<(Schema, usize), CliError> {
    let options = RunOptions {
        lock_timeout: Duration::from_secs(60),
        ..RunOptions::default()
    };
    let request = Request::Up {
        to: None,
        step: None,
        allow_out_of_order: true,
    };
    let label = format!("{}.{}", docs.history.schema, docs.history.table);
    match url.backend() {
        Backend::Postgres => {
            let conn = connect_postgres(url).await?;
            let driver = PostgresDriver::new(conn, docs.history.clone());
            Migrator::new(driver, set, options, label).run(&request).await?;
        }
        Backend::Sqlite => {
            let conn = connect_sqlite_with(url, Duration::from_secs(5), true).await?;
            let driver = SqliteDriver::new(conn, docs.history.clone());
            Migrator::new(driver, set, options, label).run(&request).await?;
        }
    }
    let read = underpin_schema::introspect_url(url, &docs.introspect)
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    Ok((read.schema, read.queries))
}

/// Writes documents whose text changed and removes stale generated files.
fn write(out: &Path, documents: &[Document], formats: &[Format]) -> Result<Vec<FileReport>, CliError> {
    let io_error = |path: &Path, action: &str, e: std::io::Error| {
        CliError::Io(format!(
            "{}: cannot {action}: {e}; check that the folder is writable or pass another --out",
            path.display()
        ))
    };
    // Read from the previous manifest, before this run replaces it.
    let stale = stale_files(out, documents, formats);
    let mut files = Vec::new();
    for document in documents {
        let path = out.join(&document.path);
        let current = std::fs::read(&path).ok();
        if current.is_some_and(|bytes| same_text(&bytes, &document.contents)) {
            files.push(FileReport {
                path: document.path.clone(),
                state: FileState::Unchanged,
                diff: None,
            });
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, "create the folder", e))?;
        }
        std::fs::write(&path, &document.contents).map_err(|e| io_error(&path, "write", e))?;
        files.push(FileReport {
            path: document.path.clone(),
            state: FileState::Written,
            diff: None,
        });
    }
    for stale in stale {
        let path = out.join(&stale);
        std::fs::remove_file(&path).map_err(|e| io_error(&path, "remove the stale file", e))?;
        files.push(FileReport {
            path: stale,
            state: FileState::Removed,
            diff: None,
        });
    }
    Ok(files)
}

/// Compares documents with the files on disk without writing anything.
fn compare(out: &Path, documents: &[Document], formats: &[Format]) -> Result<Vec<FileReport>, CliError> {
    let mut files = Vec::new();
    for document in documents {
        let path = out.join(&document.path);
        let (state, diff) = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (FileState::Missing, None),
            Err(e) => {
                return Err(CliError::Io(format!("{}: cannot read: {e}", path.display())));
            }
            Ok(bytes) if same_text(&bytes, &document.contents) => (FileState::Unchanged, None),
            Ok(bytes) => (
                FileState::Differs,
                Some(short_diff(
                    &document.path,
                    &String::from_utf8_lossy(&bytes),
                    &document.contents,
                )),
            ),
        };
        files.push(FileReport {
            path: document.path.clone(),
            state,
            diff,
        });
    }
    for stale in stale_files(out, documents, formats) {
        files.push(FileReport {
            path: stale,
            state: FileState::Stale,
            diff: None,
        });
    }
    Ok(files)
}

/// Compares a file on disk with a document, taking CRLF line ends as LF: a checkout with
/// `core.autocrlf` has the same documents.
fn same_text(on_disk: &[u8], expected: &str) -> bool {
    if on_disk == expected.as_bytes() {
        return true;
    }
    let Ok(text) = std::str::from_utf8(on_disk) else {
        return false;
    };
    text.contains("\r\n") && text.replace("\r\n", "\n") == expected
}

/// The maximum number of diff lines shown per file, because CI logs need the start of a
/// change, not all of it.
const MAX_DIFF_LINES: usize = 40;

/// The maximum number of characters shown of one diff line.
const MAX_DIFF_LINE_CHARS: usize = 200;

fn shorten_line(line: &str) -> String {
    let count = line.chars().count();
    if count <= MAX_DIFF_LINE_CHARS {
        return line.to_string();
    }
    let prefix: String = line.chars().take(MAX_DIFF_LINE_CHARS).collect();
    format!("{prefix}… ({} more characters)", count - MAX_DIFF_LINE_CHARS)
}

fn short_diff(path: &str, on_disk: &str, expected: &str) -> String {
    let diff = similar::TextDiff::from_lines(on_disk, expected);
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("{path} (committed)"),
            &format!("{path} (from the schema)"),
        )
        .to_string();
    // index.html and the JSON files keep long data on one line, and a CI log needs only its start.
    let lines: Vec<String> = text.lines().map(shorten_line).collect();
    let mut excerpt = lines[..lines.len().min(MAX_DIFF_LINES)].join("\n");
    if lines.len() > MAX_DIFF_LINES {
        excerpt.push_str(&format!("\n… {} more diff lines", lines.len() - MAX_DIFF_LINES));
    }
    excerpt.push('\n');
    excerpt
}

/// Returns the files the previous run's manifest lists that this run no longer writes, of
/// the requested formats only and still on disk, as sorted paths relative to `out`.
fn stale_files(out: &Path, documents: &[Document], formats: &[Format]) -> Vec<String> {
    let Ok(previous) = std::fs::read_to_string(out.join(MANIFEST)) else {
        return Vec::new();
    };
    let mut stale: Vec<String> = previous
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        // A listed path that climbs out of the folder was not written by underpin.
        .filter(|path| !path.split('/').any(|part| part == ".." || part.is_empty()))
        .filter(|path| format_of(path).is_some_and(|format| formats.contains(&format)))
        .filter(|path| !documents.iter().any(|document| document.path == *path))
        .filter(|path| out.join(path).is_file())
        .map(str::to_string)
        .collect();
    stale.sort();
    stale.dedup();
    stale
}
