//! Rendering reports as text for people or JSON for pipelines, from the same values.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
use owo_colors::OwoColorize;
use serde::Serialize;
use underpin_db::{Backend, ConnectError};
use underpin_migrate::driver::LockHolder;
use underpin_migrate::plan::PlanError;
use underpin_migrate::runner::RepairReport;
use underpin_migrate::{Direction, MigrateError, RunReport, SqlFailure, State, StatusReport};

use crate::cli::OutputFormat;
use crate::config::ConfigError;
use crate::docs::{DocsReport, FileState};
use crate::exit;
use crate::logging::redact;

/// An error that ends the binary with a non-zero exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Migrate(#[from] MigrateError),
    #[error("{0}")]
    Io(String),
    /// Ctrl-C or SIGTERM, after the command cleaned up what it had started.
    #[error("interrupted; {0}")]
    Interrupted(String),
    /// A run that failed after completing some steps.
    #[error("{error}")]
    Run {
        error: MigrateError,
        completed: Vec<underpin_migrate::runner::StepReport>,
    },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => exit::USAGE,
            CliError::Migrate(error) | CliError::Run { error, .. } => match error {
                MigrateError::Usage(_) | MigrateError::Plan(PlanError::UnknownVersion(_)) => exit::USAGE,
                _ => exit::FAILURE,
            },
            CliError::Interrupted(_) => exit::INTERRUPTED,
            _ => exit::FAILURE,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            CliError::Usage(_) => "usage",
            CliError::Config(_) => "config",
            CliError::Connect(_) => "connect",
            CliError::Migrate(error) | CliError::Run { error, .. } => error.kind(),
            CliError::Io(_) => "io",
            CliError::Interrupted(_) => "interrupted",
        }
    }
}

/// The output format and settings that reports are printed with.
pub struct Output {
    format: OutputFormat,
    quiet: bool,
    color: bool,
}

impl Output {
    pub fn new(format: OutputFormat, quiet: bool) -> Output {
        let color = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
        Output { format, quiet, color }
    }

    fn json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Prints to stdout, scrubbed; a closed pipe (`| head`) ends output quietly.
    fn print(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(redact(text).as_bytes());
        let _ = stdout.flush();
    }

    fn print_json(&self, value: &impl Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(mut text) => {
                text.push('\n');
                self.print(&text);
            }
            Err(error) => eprintln!("error: cannot encode the report as JSON: {error}"),
        }
    }

    /// Prints advice for the error that follows on stderr, unless quiet.
    pub fn hint(&self, text: &str) {
        if !self.quiet {
            eprintln!("{}", redact(&format!("hint: {text}")));
        }
    }

    fn warn(&self, text: &str) {
        if !self.quiet {
            eprintln!("{}", redact(&format!("warning: {text}")));
        }
    }

    pub fn progress_bar(&self) -> Option<ProgressBar> {
        if !crate::migrate::progress_allowed(self.format, self.quiet) {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    }

    pub fn message(&self, text: &str, json: serde_json::Value) {
        if self.json() {
            self.print_json(&json);
        } else if !self.quiet {
            self.print(&format!("{text}\n"));
        }
    }

    pub fn created(&self, paths: &[PathBuf]) {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        self.message(
            &shown
                .iter()
                .map(|p| format!("created {p}"))
                .collect::<Vec<_>>()
                .join("\n"),
            serde_json::json!({ "created": shown }),
        );
    }

    /// Prints one finished step as it happens (text output only).
    pub fn step_done(
        &self,
        migration: &underpin_migrate::Migration,
        direction: Direction,
        duration: std::time::Duration,
        bar: Option<&ProgressBar>,
    ) {
        if self.json() || self.quiet {
            return;
        }
        let verb = match direction {
            Direction::Up => "applied",
            Direction::Down => "rolled back",
        };
        let script = match direction {
            Direction::Up => &migration.up,
            Direction::Down => migration.down.as_ref().unwrap_or(&migration.up),
        };
        let mode = if script.transaction {
            ""
        } else {
            ", no transaction"
        };
        let version = if self.color {
            migration.version.to_string().bold().to_string()
        } else {
            migration.version.to_string()
        };
        let line = format!(
            "{verb} {version} {} in {} ms{mode}",
            migration.name,
            duration.as_millis()
        );
        match bar {
            Some(bar) => bar.println(redact(&line)),
            None => self.print(&format!("{line}\n")),
        }
    }

    pub fn run_report(&self, report: &RunReport) {
        if self.json() {
            return self.print_json(report);
        }
        for warning in &report.warnings {
            self.warn(&warning.to_string());
        }
        if self.quiet {
            return;
        }
        let mut text = String::new();
        // Taking a free lock takes a few milliseconds; only a real wait is news.
        if report.waited_for_lock_ms >= 100 || report.lock_holder_seen.is_some() {
            let holder = report
                .lock_holder_seen
                .as_ref()
                .map(|h| format!(" held by {h}"))
                .unwrap_or_default();
            text.push_str(&format!(
                "waited {:.1} s for the migration lock{holder}\n",
                report.waited_for_lock_ms as f64 / 1000.0
            ));
        }
        if !report.done_by_another_runner.is_empty() {
            let count = report.done_by_another_runner.len();
            text.push_str(&match count {
                1 => "1 migration was applied by another runner meanwhile\n".to_string(),
                _ => format!("{count} migrations were applied by another runner meanwhile\n"),
            });
        }
        for step in &report.steps {
            let verb = match (report.dry_run, step.direction) {
                (true, Direction::Up) if step.resumed_at_statement.is_some() => "would resume",
                (true, Direction::Up) => "would apply",
                (true, Direction::Down) => "would roll back",
                (false, Direction::Up) => "applied",
                (false, Direction::Down) => "rolled back",
            };
            let mode = if step.transaction { "" } else { ", no transaction" };
            let resumed = step
                .resumed_at_statement
                .map(|s| format!(", from statement {s}"))
                .unwrap_or_default();
            if report.dry_run {
                text.push_str(&format!(
                    "{verb} {} {} ({}{mode}{resumed})\n",
                    step.version, step.name, step.file
                ));
                if let Some(sql) = &step.sql {
                    for line in sql.lines() {
                        text.push_str(&format!("    {line}\n"));
                    }
                }
            } else if let Some(statement) = step.resumed_at_statement {
                // The step itself printed as it finished; only the resume is news here.
                text.push_str(&format!(
                    "version {} resumed at statement {statement}\n",
                    step.version
                ));
            }
        }
        if report.steps.is_empty() {
            text.push_str(
                if report.waited_for_lock_ms > 0 || !report.done_by_another_runner.is_empty() {
                    "nothing to do: another runner already did it\n"
                } else {
                    "nothing to do\n"
                },
            );
        }
        self.print(&text);
    }

    pub fn status(&self, report: &StatusReport) {
        if self.json() {
            return self.print_json(report);
        }
        for warning in &report.warnings {
            self.warn(&warning.to_string());
        }
        if self.quiet {
            return;
        }
        let rows: Vec<[String; 4]> = report
            .migrations
            .iter()
            .map(|entry| {
                let applied_at = entry
                    .applied
                    .as_ref()
                    .map(|a| trim_timestamp(&a.applied_at))
                    .unwrap_or_default();
                let progress = entry
                    .applied
                    .as_ref()
                    .filter(|_| matches!(entry.state, State::Partial | State::Failed))
                    .and_then(|a| {
                        Some(format!(
                            " ({}/{} statements)",
                            a.statements_done?, a.statements_total?
                        ))
                    })
                    .unwrap_or_default();
                [
                    entry.version.to_string(),
                    entry.name.clone(),
                    format!("{}{progress}", entry.state.as_str()),
                    applied_at,
                ]
            })
            .collect();
        let header = ["VERSION", "NAME", "STATE", "APPLIED AT"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = String::new();
        let line = |cells: [&str; 4]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i == 3 {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
                }
            }
            out.trim_end().to_string() + "\n"
        };
        text.push_str(&line(header));
        for row in &rows {
            text.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
        }
        let applied = report
            .migrations
            .iter()
            .filter(|m| m.state == State::Applied)
            .count();
        // Each entry is counted once, so the parts add up to the total.
        let count = |state: State| report.migrations.iter().filter(|m| m.state == state).count();
        let named = |state: State| format!("{} {}", count(state), state.as_str().replace('_', " "));
        // Pending is what `up` would run, so the part that is unfinished or out of order is named.
        let unusual: Vec<String> = [State::Partial, State::Failed, State::OutOfOrder]
            .into_iter()
            .filter(|state| count(*state) > 0)
            .map(named)
            .collect();
        let pending = if unusual.is_empty() {
            format!("{} pending", report.pending)
        } else {
            format!("{} pending ({})", report.pending, unusual.join(", "))
        };
        let mut counts = vec![format!("{applied} applied"), pending];
        for state in [
            State::Modified,
            State::Missing,
            State::Baseline,
            State::BelowBaseline,
        ] {
            if count(state) > 0 {
                counts.push(named(state));
            }
        }
        text.push_str(&format!(
            "\n{} migration{}: {} ({} history table {})\n",
            report.migrations.len(),
            if report.migrations.len() == 1 { "" } else { "s" },
            counts.join(", "),
            report.backend,
            report.history_table
        ));
        for issue in &report.issues {
            text.push_str(&format!("problem: {}\n  fix: {}\n", issue.message, issue.fix));
        }
        self.print(&text);
    }

    pub fn validate(&self, report: &StatusReport) {
        if self.json() {
            return self.print_json(&serde_json::json!({ "ok": report.issues.is_empty(), "issues": report.issues, "warnings": report.warnings }));
        }
        for warning in &report.warnings {
            self.warn(&warning.to_string());
        }
        if report.issues.is_empty() {
            if !self.quiet {
                let count = report.migrations.len();
                let noun = if count == 1 { "migration" } else { "migrations" };
                self.print(&format!("ok: {count} {noun} checked, no problems\n"));
            }
            return;
        }
        let mut text = String::new();
        for issue in &report.issues {
            text.push_str(&format!("problem: {}\n  fix: {}\n", issue.message, issue.fix));
        }
        self.print(&text);
    }

    pub fn repair(&self, report: &RepairReport) {
        if self.json() {
            return self.print_json(report);
        }
        let mut text = String::new();
        for version in &report.checksums_updated {
            text.push_str(&format!("recorded the file of version {version} as it is now\n"));
        }
        for version in &report.rows_removed {
            text.push_str(&format!("removed the history row of version {version}\n"));
        }
        if text.is_empty() {
            text.push_str("nothing to repair\n");
        }
        self.print(&text);
    }

    pub fn lock(&self, backend: Backend, released: bool, holders: &[LockHolder]) {
        if self.json() {
            return self.print_json(
                &serde_json::json!({ "backend": backend, "released": released, "holders": holders }),
            );
        }
        let text = match (backend, holders.is_empty(), released) {
            (Backend::Sqlite, _, _) => {
                "SQLite has no migration lock to show: each migration takes the database's write lock for its own transaction, and SQLite releases it when the process ends\n".to_string()
            }
            (_, true, _) => "the migration lock is free\n".to_string(),
            (_, false, false) => holders.iter().map(|h| format!("held by {h}\n")).collect(),
            (_, false, true) => holders.iter().map(|h| format!("ended {h}; the lock is released\n")).collect(),
        };
        self.print(&text);
    }

    /// Prints an error: JSON on stdout with --format json, otherwise a diagnostic on stderr.
    pub fn docs(&self, report: &DocsReport) {
        if self.json() {
            self.print_json(report);
            return;
        }
        let count = |state: FileState| report.files.iter().filter(|f| f.state == state).count();
        let mut text = String::new();
        for file in &report.files {
            let label = match file.state {
                FileState::Unchanged => continue,
                FileState::Written => "wrote",
                FileState::Removed => "removed",
                FileState::Differs => "differs",
                FileState::Missing => "missing",
                FileState::Stale => "stale",
            };
            text.push_str(&format!("{label:<8} {}\n", file.path));
            if let Some(diff) = &file.diff {
                for line in diff.lines() {
                    text.push_str(&format!("    {line}\n"));
                }
            }
        }
        let read = format!(
            "{} tables, {} views, {} partitions, {} relations, read from the {}",
            report.tables, report.views, report.partitions, report.relations, report.source
        );
        if report.check && report.up_to_date {
            text.push_str(&format!(
                "{}: up to date, {} files match the schema ({read})\n",
                report.out,
                report.files.len()
            ));
        } else if report.check {
            let behind = report.files.len() - count(FileState::Unchanged);
            text.push_str(&format!(
                "{}: out of date, {behind} of {} files differ from the schema ({read}); run `underpin docs` and commit the result\n",
                report.out,
                report.files.len()
            ));
        } else if !self.quiet {
            text.push_str(&format!(
                "{}: {} written, {} unchanged, {} removed ({read})\n",
                report.out,
                count(FileState::Written),
                count(FileState::Unchanged),
                count(FileState::Removed)
            ));
        } else {
            return;
        }
        self.print(&text);
    }

    pub fn error(&self, error: &CliError) {
        if self.json() {
            let mut value =
                serde_json::json!({ "error": { "kind": error.kind(), "message": error.to_string() } });
            let migrate_error = match error {
                CliError::Migrate(error) | CliError::Run { error, .. } => Some(error),
                _ => None,
            };
            if let Some(MigrateError::Sql(failure)) = migrate_error {
                value["error"]["sql"] = serde_json::to_value(failure.as_ref()).unwrap_or_default();
            }
            if let Some(MigrateError::Load(load)) = migrate_error {
                value["error"]["problems"] = serde_json::to_value(&load.problems).unwrap_or_default();
                if !load.warnings.is_empty() {
                    value["error"]["warnings"] = serde_json::to_value(&load.warnings).unwrap_or_default();
                }
            }
            if let CliError::Run { completed, .. } = error {
                value["completed_steps"] = serde_json::to_value(completed).unwrap_or_default();
            }
            return self.print_json(&value);
        }
        if let CliError::Migrate(MigrateError::Load(load)) = error {
            for warning in &load.warnings {
                self.warn(&warning.to_string());
            }
        }
        let text = match error {
            CliError::Migrate(MigrateError::Sql(failure))
            | CliError::Run {
                error: MigrateError::Sql(failure),
                ..
            } => render_sql_failure(failure),
            other => format!("error: {other}\n"),
        };
        eprint!("{}", redact(&text));
    }
}

/// Shows `2026-12-04 20:31:07` instead of the full timestamp with fractions and zone.
fn trim_timestamp(text: &str) -> String {
    text.get(..19).unwrap_or(text).to_string()
}

/// The text to show excerpts from, and the offset of the script in it: the whole file when
/// it still contains the script where it was loaded from, else the script alone, shifted down
/// to its first line.
fn excerpt_source(failure: &SqlFailure) -> (String, usize) {
    if let Ok(raw) = std::fs::read_to_string(&failure.path) {
        let text = underpin_migrate::checksum::canonicalize(&raw);
        let offset: usize = text
            .split_inclusive('\n')
            .take(failure.source_first_line.saturating_sub(1) as usize)
            .map(str::len)
            .sum();
        if text[offset..].starts_with(&failure.source) {
            return (text, offset);
        }
    }
    let padding = "\n".repeat(failure.source_first_line.saturating_sub(1) as usize);
    let offset = padding.len();
    (format!("{padding}{}", failure.source), offset)
}

/// Renders a source-annotated report: the file, the line with a pointer, and the server's fields.
fn render_sql_failure(failure: &SqlFailure) -> String {
    let (text, offset) = excerpt_source(failure);
    let source = NamedSource::new(failure.path.display().to_string(), text);
    let (start, end) = failure.span;
    let label = LabeledSpan::at(
        offset + start..offset + end.max(start + 1),
        failure.server.message.clone(),
    );
    let code = failure
        .server
        .code
        .as_deref()
        .map(|code| format!(" (SQLSTATE {code})"))
        .unwrap_or_default();
    let mut diagnostic = MietteDiagnostic::new(format!(
        "migration {} {} ({}) failed at statement {} of {}{code}",
        failure.version,
        failure.name,
        failure.direction.as_str(),
        failure.statement,
        failure.statements
    ))
    .with_labels([label]);
    let mut help = Vec::new();
    if let Some(detail) = &failure.server.detail {
        help.push(format!("detail: {detail}"));
    }
    if let Some(hint) = &failure.server.hint {
        help.push(format!("hint: {hint}"));
    }
    if let Some(context) = &failure.server.context {
        help.push(format!("context: {context}"));
    }
    help.push(failure.advice.clone());
    diagnostic = diagnostic.with_help(help.join("\n"));

    let report = miette::Report::new(diagnostic).with_source_code(source);
    let theme = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(2);
    if handler.render_report(&mut out, report.as_ref()).is_err() {
        return format!("error: {failure}\n");
    }
    // The header names the file and position in a form editors and CI logs link.
    format!(
        "error: {}:{}:{}: {}\n{out}",
        failure.path.display(),
        failure.line,
        failure.column,
        failure.server.message
    )
}
