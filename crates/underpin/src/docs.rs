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

/// Subfolders of the output folder that hold one generated file per group or table, with the
/// format that writes them. A file there that the schema no longer produces is stale:
/// `docs` removes it, `--check` reports it.
const MANAGED_FOLDERS: [(&str, &str, Format); 3] = [
    ("mermaid", ".mmd", Format::Mermaid),
    ("svg", ".svg", Format::Svg),
    // Large schemas get one Markdown page per diagram group beside DataModel.md.
    ("DataModel", ".md", Format::Markdown),
];

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
    pub tables: usize,
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
        let (schema, queries) = read_from_migrations(&docs, &settings).await?;
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
    let documents = underpin_docs::render(&schema, &docs.formats, &docs.options)
        .map_err(|e| CliError::Usage(e.to_string()))?;
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
        tables: schema.tables.len(),
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
        let name = name.trim();
        let format = Format::from_name(name).ok_or_else(|| {
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

    let mut history = HistoryTable::default();
    if let Some(name) = &config.migrate.table {
        history.table = name.clone();
    }
    if let Some(schema) = &config.migrate.schema {
        history.schema = schema.clone();
    }
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

    let migrations_dir = match (
        &global.dir,
        settings.env_dir.as_deref(),
        config.migrate.dir.as_deref(),
    ) {
        (Some(dir), _, _) => dir.clone(),
        (None, Some(dir), _) | (None, None, Some(dir)) => config.resolve(dir),
        (None, None, None) => config.resolve("migrations"),
    };
    let scratch_url = match (&args.scratch_url, &section.scratch_url) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(url)) => Some(crate::config::interpolate(url, "docs.scratch_url")?),
        (None, None) => None,
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
        from_migrations: args.from_migrations || section.from_migrations.unwrap_or(false),
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
async fn read_from_migrations(docs: &DocsSettings, settings: &Settings) -> Result<(Schema, usize), CliError> {
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

    let scratch = ScratchDatabase::create(&source)
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    // A signal stops the work, not the cleanup: the scratch database is removed either way.
    let outcome = tokio::select! {
        outcome = apply_and_read(scratch.url(), set, docs) => outcome,
        () = interrupted() => Err(CliError::Interrupted(
            "the scratch database was removed".to_string(),
        )),
    };
    let cleanup = scratch.cleanup().await;
    let read = outcome?;
    cleanup.map_err(|e| CliError::Io(e.to_string()))?;
    Ok(read)
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
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
    let mut files = Vec::new();
    for document in documents {
        let path = out.join(&document.path);
        let current = std::fs::read(&path).ok();
        if current.as_deref() == Some(document.contents.as_bytes()) {
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
    for stale in stale_files(out, documents, formats) {
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
            Ok(bytes) if bytes == document.contents.as_bytes() => (FileState::Unchanged, None),
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

/// The maximum number of diff lines shown per file, because CI logs need the start of a
/// change, not all of it.
const MAX_DIFF_LINES: usize = 40;

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
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= MAX_DIFF_LINES {
        return text;
    }
    let mut shown = lines[..MAX_DIFF_LINES].join("\n");
    shown.push_str(&format!("\n… {} more diff lines", lines.len() - MAX_DIFF_LINES));
    shown.push('\n');
    shown
}

/// Generated files in the managed folders of the requested formats that the documents no
/// longer include, as paths relative to `out` with `/` separators, sorted.
fn stale_files(out: &Path, documents: &[Document], formats: &[Format]) -> Vec<String> {
    let mut stale = Vec::new();
    for (folder, extension, format) in MANAGED_FOLDERS {
        if !formats.contains(&format) {
            continue;
        }
        collect_files(&out.join(folder), folder, extension, &mut stale);
    }
    stale.retain(|path| !documents.iter().any(|document| &document.path == path));
    stale.sort();
    stale
}

fn collect_files(dir: &Path, relative: &str, extension: &str, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{relative}/{name}");
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect_files(&entry.path(), &path, extension, found),
            Ok(kind) if kind.is_file() && name.ends_with(extension) => found.push(path),
            _ => {}
        }
    }
}
