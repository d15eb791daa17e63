//! `underpin migrate …`: resolve settings, open the database, run the migrator, render.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use underpin_db::sql::Dialect;
use underpin_db::{Backend, DatabaseUrl, connect_postgres, connect_sqlite_with};
use underpin_migrate::driver::LockHolder;
use underpin_migrate::{
    Driver, Event, HistoryTable, LoadOptions, MigrateError, MigrationSet, Migrator, PostgresDriver, Request,
    RunOptions, SqliteDriver, Version, load_dir,
};

use crate::cli::{GlobalArgs, LockCommand, MigrateArgs, MigrateCommand, OutputFormat};
use crate::exit;
use crate::render::{CliError, Output};
use crate::settings::Settings;

/// Everything a migrate command needs, resolved from flags, config and environment.
struct Context {
    url: Option<DatabaseUrl>,
    url_error: Option<CliError>,
    dir: PathBuf,
    table: HistoryTable,
    lock_timeout: Duration,
    allow_out_of_order: bool,
    require_down: bool,
    env_name: Option<String>,
    protected: bool,
}

/// The message on Ctrl-C or SIGTERM: the state an interrupted run leaves behind.
pub const INTERRUPTED: &str = "the database rolls back the running migration and frees the lock as the connection closes; a no-transaction migration keeps the statements that completed, and `underpin migrate up` resumes it";

pub async fn run(global: &GlobalArgs, args: MigrateArgs, output: &Output) -> Result<u8, CliError> {
    let context = resolve(global, &args)?;

    if let MigrateCommand::New { name, no_transaction } = &args.command {
        let created = crate::new::create(&context.dir, name, *no_transaction)?;
        output.created(&created);
        return Ok(exit::OK);
    }

    let url = match (context.url.clone(), context.url_error) {
        (Some(url), _) => url,
        (None, Some(error)) => return Err(error),
        (None, None) => unreachable!("resolve sets a URL or an error"),
    };
    let dialect = match url.backend() {
        Backend::Postgres => Dialect::Postgres,
        Backend::Sqlite => Dialect::Sqlite,
    };

    // Files are read and checked before any connection is opened. The lock commands never
    // need them, so an operator can inspect or free a lock without the folder, or while it
    // is broken.
    let set = if matches!(args.command, MigrateCommand::Lock { .. }) {
        MigrationSet::default()
    } else {
        load_dir(
            &context.dir,
            LoadOptions {
                dialect,
                require_down: context.require_down,
            },
        )
        .map_err(MigrateError::from)?
    };
    tracing::info!(
        dir = %context.dir.display(),
        migrations = set.migrations.len(),
        format = ?set.format,
        "loaded the migrations folder"
    );

    let rollback = matches!(
        args.command,
        MigrateCommand::Down { .. } | MigrateCommand::Redo { .. }
    );
    let allowed = match &args.command {
        MigrateCommand::Down {
            allow_protected,
            dry_run,
            ..
        }
        | MigrateCommand::Redo {
            allow_protected,
            dry_run,
        } => *allow_protected || *dry_run,
        _ => true,
    };
    if rollback && context.protected && !allowed {
        return Err(CliError::Usage(format!(
            "environment `{}` is protected, so rolling back is rejected; pass --allow-protected to roll back anyway",
            context.env_name.as_deref().unwrap_or("?")
        )));
    }

    let dry_run = matches!(
        args.command,
        MigrateCommand::Up { dry_run: true, .. }
            | MigrateCommand::Down { dry_run: true, .. }
            | MigrateCommand::Redo { dry_run: true, .. }
    );
    let options = RunOptions {
        lock_timeout: context.lock_timeout,
        allow_out_of_order: context.allow_out_of_order
            || matches!(
                args.command,
                MigrateCommand::Up {
                    allow_out_of_order: true,
                    ..
                } | MigrateCommand::Validate {
                    allow_out_of_order: true
                }
            ),
        dry_run,
        ..RunOptions::default()
    };
    let table_label = match url.backend() {
        Backend::Postgres => format!("{}.{}", context.table.schema, context.table.table),
        Backend::Sqlite => context.table.table.clone(),
    };

    match url.backend() {
        Backend::Postgres => {
            let conn = connect_postgres(&url).await?;
            tracing::info!(url = %url, "connected");
            let driver = PostgresDriver::new(conn, context.table.clone()).with_reconnect(url.clone());
            execute(
                Migrator::new(driver, set, options, table_label),
                args.command,
                output,
            )
            .await
        }
        Backend::Sqlite => {
            // Read-only commands must not leave an empty database behind a mistyped path: a
            // missing file reads as an empty in-memory database.
            let read_only = dry_run
                || matches!(
                    args.command,
                    MigrateCommand::Status { .. }
                        | MigrateCommand::Validate { .. }
                        | MigrateCommand::Lock { .. }
                );
            let missing = sqlite_path(&url).is_some_and(|path| !path.exists());
            let url = if read_only && missing {
                DatabaseUrl::parse("sqlite::memory:").expect("a valid URL")
            } else {
                url
            };
            let conn = connect_sqlite_with(&url, context.lock_timeout, !read_only).await?;
            let driver = SqliteDriver::new(conn, context.table.clone());
            execute(
                Migrator::new(driver, set, options, table_label),
                args.command,
                output,
            )
            .await
        }
    }
}

async fn execute<D: Driver>(
    mut migrator: Migrator<'_, D>,
    command: MigrateCommand,
    output: &Output,
) -> Result<u8, CliError> {
    let request = match &command {
        MigrateCommand::Up {
            to,
            step,
            allow_out_of_order,
            ..
        } => Some(Request::Up {
            to: to
                .as_deref()
                .map(|v| parse_version(v, migrator.format()))
                .transpose()?,
            step: step.map(|n| n as usize),
            allow_out_of_order: *allow_out_of_order,
        }),
        MigrateCommand::Down { to, step, all, .. } => Some(Request::Down {
            to: to
                .as_deref()
                .map(|v| parse_version(v, migrator.format()))
                .transpose()?,
            step: step.map(|n| n as usize),
            all: *all,
        }),
        MigrateCommand::Redo { .. } => Some(Request::Redo),
        _ => None,
    };

    if let Some(request) = request {
        // Each finished step prints at once, so a run that fails later still shows what it
        // changed.
        let bar = output.progress_bar();
        let observed_bar = bar.clone();
        migrator.observe(move |event| match event {
            Event::Planned { steps } => {
                if let Some(bar) = &observed_bar {
                    bar.set_length(*steps as u64);
                }
            }
            Event::Started { migration, direction } => {
                if let Some(bar) = &observed_bar {
                    bar.set_message(format!(
                        "{} {} {}",
                        direction.as_str(),
                        migration.version,
                        migration.name
                    ));
                }
            }
            Event::Finished {
                migration,
                direction,
                duration,
            } => {
                output.step_done(migration, *direction, *duration, observed_bar.as_ref());
                if let Some(bar) = &observed_bar {
                    bar.inc(1);
                }
            }
        });
        let result = migrator.run(&request).await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let report = result.map_err(|error| CliError::Run {
            error,
            completed: migrator.completed_steps().to_vec(),
        })?;
        output.run_report(&report);
        return Ok(exit::OK);
    }

    match command {
        MigrateCommand::Status { exit_code } => {
            let report = migrator.status().await?;
            output.status(&report);
            // What `validate` rejects outranks what is merely pending: `up` would stop on it.
            Ok(match (exit_code, report.issues.is_empty(), report.pending) {
                (false, _, _) => exit::OK,
                (true, false, _) => exit::FAILURE,
                (true, true, 0) => exit::OK,
                (true, true, _) => exit::PENDING,
            })
        }
        MigrateCommand::Validate { .. } => {
            let report = migrator.status().await?;
            output.validate(&report);
            Ok(if report.issues.is_empty() {
                exit::OK
            } else {
                exit::FAILURE
            })
        }
        MigrateCommand::Baseline { version } => {
            let version = parse_version(&version, migrator.format())?;
            migrator.baseline(&version).await?;
            output.message(
                &format!("baseline set at version {version}; older migrations will not run"),
                serde_json::json!({ "baseline": version }),
            );
            Ok(exit::OK)
        }
        MigrateCommand::Repair => {
            let report = migrator.repair().await?;
            output.repair(&report);
            Ok(exit::OK)
        }
        MigrateCommand::Lock { command } => {
            let backend = migrator.driver().backend();
            let holders: Vec<LockHolder> = match command {
                LockCommand::Status => migrator.lock_holders().await.map_err(MigrateError::from)?,
                LockCommand::Release => migrator.release_lock().await.map_err(MigrateError::from)?,
            };
            output.lock(backend, matches!(command, LockCommand::Release), &holders);
            Ok(exit::OK)
        }
        _ => unreachable!("run commands return above"),
    }
}

/// Parses a version given on the command line, in the folder's own spelling (diesel
/// folders may use `2024-07-30-140000-0000`).
fn parse_version(text: &str, format: Option<underpin_migrate::Format>) -> Result<Version, CliError> {
    let parsed = match format {
        Some(underpin_migrate::Format::Diesel) => Version::parse_diesel(text),
        _ => Version::parse(text),
    };
    parsed.ok_or_else(|| {
        CliError::Usage(format!(
            "`{text}` is not a version; use the digits at the start of the file name, e.g. 20240101000007"
        ))
    })
}

fn resolve(global: &GlobalArgs, args: &MigrateArgs) -> Result<Context, CliError> {
    let settings = Settings::resolve(global)?;
    let dir = settings.migrations_dir(global);
    let table = settings.history_table(args.table.as_deref(), args.schema.as_deref());
    let Settings {
        config,
        env_name,
        protected,
        url,
        url_error,
        ..
    } = settings;

    Ok(Context {
        url,
        url_error,
        dir,
        table,
        lock_timeout: Duration::from_secs(args.lock_timeout.or(config.migrate.lock_timeout).unwrap_or(60)),
        allow_out_of_order: config.migrate.allow_out_of_order.unwrap_or(false),
        require_down: config.migrate.require_down.unwrap_or(false),
        protected,
        env_name,
    })
}

/// Returns the file a SQLite URL names, or `None` for in-memory databases.
fn sqlite_path(url: &DatabaseUrl) -> Option<PathBuf> {
    let raw = url.expose();
    let path = raw
        .strip_prefix("sqlite://")
        .or_else(|| raw.strip_prefix("sqlite:"))
        .unwrap_or(raw);
    let file = path.split('?').next().unwrap_or(path);
    if file.is_empty() || file.starts_with(':') {
        return None;
    }
    Some(PathBuf::from(file))
}

/// Returns whether progress bars may draw, which needs a terminal on stderr and text output.
pub fn progress_allowed(format: OutputFormat, quiet: bool) -> bool {
    format == OutputFormat::Text && !quiet && std::io::stderr().is_terminal()
}
