//! The algorithm: lock, make sure the history table exists, re-read history, plan, run each
//! step, unlock. Every SQL string it needs comes from the driver.

use std::time::{Duration, Instant};

use underpin_db::Backend;
use underpin_db::sql::{Dialect, Statement, TxRequirement, classify, split_statements};

use crate::checksum::{ALGORITHM, ProgressChecksum};
use crate::driver::{Driver, DriverError, ExecError, LockHolder, NewRow, StatementFailure, StepOutcome};
use crate::error::{Direction, MigrateError, SqlFailure};
use crate::history::{AppliedMigration, RowStatus};
use crate::migration::{Migration, Script};
use crate::plan::{self, Issue, Request, State, StatusEntry, Step};
use crate::source::{MigrationSet, Warning};
use crate::version::Version;

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How long to wait for another runner's lock.
    pub lock_timeout: Duration,
    pub allow_out_of_order: bool,
    /// Plan and print SQL, execute nothing, take no lock.
    pub dry_run: bool,
    /// Recorded in history beside the database user, e.g. `deploy@ci-runner-7`.
    pub applied_by: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            lock_timeout: Duration::from_secs(60),
            allow_out_of_order: false,
            dry_run: false,
            applied_by: default_applied_by(),
        }
    }
}

/// `user@host` of the process, for the history table.
pub fn default_applied_by() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    format!("{user}@{host}")
}

/// Progress of a run, for a progress bar or logs.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Planned {
        steps: usize,
    },
    Started {
        migration: &'a Migration,
        direction: Direction,
    },
    Finished {
        migration: &'a Migration,
        direction: Direction,
        duration: Duration,
    },
}

/// One executed (or, in a dry run, planned) step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    pub version: Version,
    pub name: String,
    pub direction: Direction,
    pub file: String,
    pub transaction: bool,
    pub statements: usize,
    /// 1-based statement a resumed no-transaction migration started from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_at_statement: Option<u32>,
    pub duration_ms: u64,
    /// The SQL that would run; only in dry runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

/// The report of `up`, `down` or `redo`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub command: &'static str,
    pub dry_run: bool,
    pub waited_for_lock_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_holder_seen: Option<LockHolder>,
    pub steps: Vec<StepReport>,
    /// Steps another runner completed while this one waited for the database.
    pub done_by_another_runner: Vec<Version>,
    pub warnings: Vec<Warning>,
}

/// The report of `status` and `validate`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    pub backend: Backend,
    pub history_table: String,
    pub migrations: Vec<StatusEntry>,
    pub pending: usize,
    pub issues: Vec<Issue>,
    pub warnings: Vec<Warning>,
}

/// The changes `repair` made.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RepairReport {
    pub checksums_updated: Vec<Version>,
    pub rows_removed: Vec<Version>,
}

/// A callback for [`Event`]s.
type Observer<'o> = Box<dyn FnMut(&Event<'_>) + Send + 'o>;

/// Runs migrations of one set against one database.
pub struct Migrator<'o, D: Driver> {
    driver: D,
    set: MigrationSet,
    options: RunOptions,
    history_table: String,
    observer: Option<Observer<'o>>,
    /// Steps the last run completed, also when it failed later.
    completed: Vec<StepReport>,
}

impl<'o, D: Driver> Migrator<'o, D> {
    pub fn new(driver: D, set: MigrationSet, options: RunOptions, history_table: String) -> Self {
        Migrator {
            driver,
            set,
            options,
            history_table,
            observer: None,
            completed: Vec::new(),
        }
    }

    /// Calls `observer` as steps start and finish.
    pub fn observe(&mut self, observer: impl FnMut(&Event<'_>) + Send + 'o) {
        self.observer = Some(Box::new(observer));
    }

    pub fn driver(&mut self) -> &mut D {
        &mut self.driver
    }

    /// Returns the layout of the migrations folder, if it had any files.
    pub fn format(&self) -> Option<crate::migration::Format> {
        self.set.format
    }

    /// Returns the steps the last `run` completed, including those before a failure.
    pub fn completed_steps(&self) -> &[StepReport] {
        &self.completed
    }

    pub fn migrations(&self) -> &[Migration] {
        &self.set.migrations
    }

    fn dialect(&self) -> Dialect {
        match self.driver.backend() {
            Backend::Postgres => Dialect::Postgres,
            Backend::Sqlite => Dialect::Sqlite,
        }
    }

    async fn history_if_exists(&mut self) -> Result<Vec<AppliedMigration>, MigrateError> {
        if self.driver.history_exists().await? {
            Ok(self.driver.read_history().await?)
        } else {
            Ok(Vec::new())
        }
    }

    /// Compares files and history; read-only, takes no lock.
    pub async fn status(&mut self) -> Result<StatusReport, MigrateError> {
        let history = self.history_if_exists().await?;
        let (migrations, mut issues) =
            plan::status_and_issues(&self.set.migrations, history, self.options.allow_out_of_order);
        issues.extend(migrations.iter().filter_map(|entry| self.edited_progress(entry)));
        issues.sort_by(|a, b| a.version.cmp(&b.version));
        let mut warnings = self.set.warnings.clone();
        warnings.extend(migrations.iter().filter_map(unknown_algorithm_warning));
        Ok(StatusReport {
            backend: self.driver.backend(),
            history_table: self.history_table.clone(),
            pending: migrations
                .iter()
                .filter(|m| {
                    matches!(
                        m.state,
                        State::Pending | State::OutOfOrder | State::Failed | State::Partial
                    )
                })
                .count(),
            migrations,
            issues,
            warnings,
        })
    }

    /// Returns the issue of a partial no-transaction migration whose statements that already
    /// ran were edited since. Resuming would skip the edits, so `up` rejects it.
    fn edited_progress(&self, entry: &StatusEntry) -> Option<Issue> {
        let (index, row) = (entry.index?, entry.applied.as_ref()?);
        let done = usize::try_from(row.statements_done?)
            .ok()
            .filter(|done| *done > 0)?;
        let ran = row.progress_checksum.as_deref()?;
        let migration = &self.set.migrations[index];
        let (progress, _) = current_progress(migration, done, self.dialect());
        (ran != progress).then(|| edited_progress_issue(migration, done))
    }

    /// Plans `request` and runs it under the lock (or only plans it in a dry run).
    pub async fn run(&mut self, request: &Request) -> Result<RunReport, MigrateError> {
        let command = match request {
            Request::Up { .. } => "up",
            Request::Down { .. } => "down",
            Request::Redo => "redo",
        };
        let mut report = RunReport {
            command,
            dry_run: self.options.dry_run,
            waited_for_lock_ms: 0,
            lock_holder_seen: None,
            steps: Vec::new(),
            done_by_another_runner: Vec::new(),
            warnings: self.set.warnings.clone(),
        };

        if self.options.dry_run {
            let history = self.history_if_exists().await?;
            let steps = plan::plan(&self.set.migrations, &history, request)?;
            report.steps = steps.iter().map(|step| self.dry_step(*step)).collect();
            return Ok(report);
        }

        // 1. Take the lock, so exactly one runner applies.
        let wait = self.driver.lock(self.options.lock_timeout).await?;
        report.waited_for_lock_ms = wait.waited.as_millis() as u64;
        report.lock_holder_seen = wait.holder;

        // 2. Do the work; 3. release the lock whatever happened, then report.
        self.completed.clear();
        let outcome = self.run_locked(request, &mut report).await;
        let released = self.driver.unlock().await;
        outcome?;
        released?;
        Ok(report)
    }

    async fn run_locked(&mut self, request: &Request, report: &mut RunReport) -> Result<(), MigrateError> {
        self.driver.ensure_history().await?;

        // History is read after the lock is held: a runner that waited sees what the
        // previous holder applied and finds nothing left to do.
        let history = self.driver.read_history_for_plan().await?;
        let steps = plan::plan(&self.set.migrations, &history, request)?;
        self.emit(Event::Planned { steps: steps.len() });

        for step in steps {
            let (index, direction) = match step {
                Step::Apply { index, .. } => (index, Direction::Up),
                Step::Revert { index } => (index, Direction::Down),
            };
            let started = Instant::now();
            self.emit_migration(index, direction, None);
            let outcome = match step {
                Step::Apply { index, resume_from } => {
                    let version = &self.set.migrations[index].version;
                    let ran_before = history
                        .iter()
                        .find(|row| &row.version == version)
                        .and_then(|row| row.progress_checksum.clone());
                    self.apply(index, resume_from, ran_before.as_deref()).await?
                }
                Step::Revert { index } => self.revert(index).await?,
            };
            let duration = started.elapsed();
            if outcome == StepOutcome::Done {
                self.emit_migration(index, direction, Some(duration));
            }

            let migration = &self.set.migrations[index];
            if outcome == StepOutcome::AlreadyDone {
                tracing::info!(version = %migration.version, "already done by another runner");
                report.done_by_another_runner.push(migration.version.clone());
                continue;
            }
            tracing::info!(
                version = %migration.version,
                name = %migration.name,
                direction = direction.as_str(),
                ms = duration.as_millis() as u64,
                "migration {}", if direction == Direction::Up { "applied" } else { "rolled back" }
            );
            let script = script_of(migration, direction);
            let step_report = StepReport {
                version: migration.version.clone(),
                name: migration.name.clone(),
                direction,
                file: script.path.display().to_string(),
                transaction: script.transaction,
                statements: split_statements(&script.sql, self.dialect()).len(),
                resumed_at_statement: match step {
                    Step::Apply { resume_from, .. } if resume_from > 0 => Some(resume_from + 1),
                    _ => None,
                },
                duration_ms: duration.as_millis() as u64,
                sql: None,
            };
            self.completed.push(step_report.clone());
            report.steps.push(step_report);
        }
        Ok(())
    }

    fn emit(&mut self, event: Event<'_>) {
        if let Some(observer) = self.observer.as_mut() {
            observer(&event);
        }
    }

    fn emit_migration(&mut self, index: usize, direction: Direction, finished: Option<Duration>) {
        if let Some(observer) = self.observer.as_mut() {
            let migration = &self.set.migrations[index];
            let event = match finished {
                None => Event::Started { migration, direction },
                Some(duration) => Event::Finished {
                    migration,
                    direction,
                    duration,
                },
            };
            observer(&event);
        }
    }

    fn dry_step(&self, step: Step) -> StepReport {
        let (index, direction, resume_from) = match step {
            Step::Apply { index, resume_from } => (index, Direction::Up, resume_from),
            Step::Revert { index } => (index, Direction::Down, 0),
        };
        let migration = &self.set.migrations[index];
        let script = script_of(migration, direction);
        let statements = split_statements(&script.sql, self.dialect());
        let sql = statements
            .iter()
            .skip(resume_from as usize)
            .map(|s| s.text)
            .collect::<Vec<_>>()
            .join("\n");
        StepReport {
            version: migration.version.clone(),
            name: migration.name.clone(),
            direction,
            file: script.path.display().to_string(),
            transaction: script.transaction,
            statements: statements.len(),
            resumed_at_statement: (resume_from > 0).then_some(resume_from + 1),
            duration_ms: 0,
            sql: Some(sql),
        }
    }

    async fn apply(
        &mut self,
        index: usize,
        resume_from: u32,
        ran_before: Option<&str>,
    ) -> Result<StepOutcome, MigrateError> {
        let dialect = self.dialect();
        let migration = &self.set.migrations[index];
        let statements = split_statements(&migration.up.sql, dialect);
        let texts: Vec<&str> = statements.iter().map(|s| s.text).collect();
        let total = texts.len() as i32;
        let row = |status, done: Option<i32>| NewRow {
            version: migration.version.as_str(),
            name: &migration.name,
            checksum: &migration.checksum,
            status,
            started: Instant::now(),
            applied_by: &self.options.applied_by,
            statements_done: done,
            statements_total: done.map(|_| total),
            progress_checksum: None,
            error: None,
        };

        if migration.up.transaction {
            let new_row = row(RowStatus::Applied, None);
            return match self.driver.apply_in_transaction(&texts, &new_row).await {
                Ok(outcome) => Ok(outcome),
                Err(ExecError::Driver(error)) => Err(error.into()),
                Err(ExecError::Statement(failure)) => Err(sql_failure(
                    migration,
                    Direction::Up,
                    &statements,
                    failure,
                    dialect,
                    0,
                )),
            };
        }

        // Resuming is only safe when the statements that ran are the ones in the file now.
        let resume = resume_from as usize;
        if resume > 0 && ran_before.is_some_and(|ran| ran != ProgressChecksum::of_prefix(&texts, resume)) {
            let issue = edited_progress_issue(migration, resume);
            return Err(MigrateError::Conflict(format!(
                "{}\n  fix: {}",
                issue.message, issue.fix
            )));
        }

        // No transaction: one statement at a time, progress recorded after each, so a
        // failure leaves a row with how far it got, and the next run resumes there.
        self.driver.verify_lock().await?;
        let started = Instant::now();
        let mut progress = ProgressChecksum::default();
        for statement in texts.iter().take(resume) {
            progress.push(statement);
        }
        for (index, statement) in texts.iter().enumerate().skip(resume) {
            if let Err(error) = self.driver.execute_autocommit(statement).await {
                let done = index as i32;
                let message = error.to_string();
                let ran = progress.hex();
                let status = if done == 0 {
                    RowStatus::Failed
                } else {
                    RowStatus::Partial
                };
                let failed = NewRow {
                    started,
                    progress_checksum: Some(&ran),
                    error: Some(&message),
                    ..row(status, Some(done))
                };
                self.driver.upsert_row(&failed).await?;
                let failure = StatementFailure { index, error };
                return Err(sql_failure(
                    migration,
                    Direction::Up,
                    &statements,
                    failure,
                    dialect,
                    index,
                ));
            }
            progress.push(statement);
            let done = index as i32 + 1;
            let status = if done == total {
                RowStatus::Applied
            } else {
                RowStatus::Partial
            };
            let ran = progress.hex();
            let recorded = NewRow {
                started,
                progress_checksum: Some(&ran),
                ..row(status, Some(done))
            };
            self.driver.upsert_row(&recorded).await?;
        }
        if total == 0 || resume_from as i32 >= total {
            let ran = progress.hex();
            let recorded = NewRow {
                started,
                progress_checksum: Some(&ran),
                ..row(RowStatus::Applied, Some(total))
            };
            self.driver.upsert_row(&recorded).await?;
        }
        Ok(StepOutcome::Done)
    }

    async fn revert(&mut self, index: usize) -> Result<StepOutcome, MigrateError> {
        let dialect = self.dialect();
        let migration = &self.set.migrations[index];
        let Some(down) = migration.down.as_ref() else {
            return Err(plan::PlanError::NoDown {
                version: migration.version.clone(),
                file: migration.up.path.display().to_string(),
                write: migration.down_location(),
            }
            .into());
        };
        let statements = split_statements(&down.sql, dialect);
        let texts: Vec<&str> = statements.iter().map(|s| s.text).collect();

        if down.transaction {
            return match self
                .driver
                .revert_in_transaction(&texts, migration.version.as_str())
                .await
            {
                Ok(outcome) => Ok(outcome),
                Err(ExecError::Driver(error)) => Err(error.into()),
                Err(ExecError::Statement(failure)) => Err(sql_failure(
                    migration,
                    Direction::Down,
                    &statements,
                    failure,
                    dialect,
                    0,
                )),
            };
        }

        self.driver.verify_lock().await?;
        for (index, statement) in texts.iter().enumerate() {
            if let Err(error) = self.driver.execute_autocommit(statement).await {
                let failure = StatementFailure { index, error };
                return Err(sql_failure(
                    migration,
                    Direction::Down,
                    &statements,
                    failure,
                    dialect,
                    index,
                ));
            }
        }
        self.driver.delete_row(migration.version.as_str()).await?;
        Ok(StepOutcome::Done)
    }

    /// Marks `version` as the baseline of a database that predates underpin. Requires an
    /// empty history; migrations up to `version` are never run.
    pub async fn baseline(&mut self, version: &Version) -> Result<(), MigrateError> {
        self.driver.lock(self.options.lock_timeout).await?;
        let outcome = self.baseline_locked(version).await;
        let released = self.driver.unlock().await;
        outcome?;
        Ok(released?)
    }

    async fn baseline_locked(&mut self, version: &Version) -> Result<(), MigrateError> {
        self.driver.ensure_history().await?;
        if !self.driver.read_history().await?.is_empty() {
            return Err(MigrateError::Usage(
                "the history table already has rows; baseline only applies to a database underpin has never migrated".to_string(),
            ));
        }
        let file = self.set.migrations.iter().find(|m| &m.version == version);
        let row = NewRow {
            version: version.as_str(),
            name: file.map(|m| m.name.as_str()).unwrap_or("baseline"),
            checksum: file.map(|m| m.checksum.as_str()).unwrap_or(""),
            status: RowStatus::Baseline,
            started: Instant::now(),
            applied_by: &self.options.applied_by,
            statements_done: None,
            statements_total: None,
            progress_checksum: None,
            error: None,
        };
        self.driver.upsert_row(&row).await?;
        Ok(())
    }

    /// Accepts edited files (stores their current checksums) and forgets rows whose files
    /// are gone or that failed before changing anything.
    pub async fn repair(&mut self) -> Result<RepairReport, MigrateError> {
        self.driver.lock(self.options.lock_timeout).await?;
        let outcome = self.repair_locked().await;
        let released = self.driver.unlock().await;
        let report = outcome?;
        released?;
        Ok(report)
    }

    async fn repair_locked(&mut self) -> Result<RepairReport, MigrateError> {
        self.driver.ensure_history().await?;
        let history = self.driver.read_history().await?;
        let mut report = RepairReport::default();
        for entry in plan::status(&self.set.migrations, &history) {
            let Some(row) = entry.applied.as_ref() else {
                continue;
            };
            match (entry.state, entry.index) {
                (State::Modified, Some(index)) => {
                    let migration = &self.set.migrations[index];
                    let updated = accepted_row(row, migration, &self.options.applied_by);
                    self.driver.upsert_row(&updated).await?;
                    report.checksums_updated.push(row.version.clone());
                }
                (State::Partial, Some(index)) if self.edited_progress(&entry).is_some() => {
                    // The statements that ran are taken to be the ones in the file now, so
                    // the next `up` resumes after them.
                    let migration = &self.set.migrations[index];
                    let done = row.statements_done.unwrap_or(0).max(0) as usize;
                    let (progress, total) = current_progress(migration, done, self.dialect());
                    let updated = NewRow {
                        statements_total: Some(total as i32),
                        progress_checksum: Some(&progress),
                        error: row.error.as_deref(),
                        ..accepted_row(row, migration, &self.options.applied_by)
                    };
                    self.driver.upsert_row(&updated).await?;
                    report.checksums_updated.push(row.version.clone());
                }
                (State::Applied, Some(index)) if row.checksum_algorithm != ALGORITHM => {
                    // The row's checksum cannot be compared, so the file as it is now is
                    // recorded with this version's algorithm.
                    let migration = &self.set.migrations[index];
                    let updated = accepted_row(row, migration, &self.options.applied_by);
                    self.driver.upsert_row(&updated).await?;
                    report.checksums_updated.push(row.version.clone());
                }
                (State::Missing, _) | (State::Failed, _) => {
                    self.driver.delete_row(row.version.as_str()).await?;
                    report.rows_removed.push(row.version.clone());
                }
                _ => {}
            }
        }
        Ok(report)
    }

    pub async fn lock_holders(&mut self) -> Result<Vec<LockHolder>, DriverError> {
        self.driver.lock_holders().await
    }

    pub async fn release_lock(&mut self) -> Result<Vec<LockHolder>, DriverError> {
        self.driver.release_lock().await
    }
}

/// Warns about an applied row whose checksum was made with an algorithm this version does not
/// know (a newer underpin's, say): edits to its file cannot be detected.
fn unknown_algorithm_warning(entry: &StatusEntry) -> Option<Warning> {
    let row = entry.applied.as_ref()?;
    if row.checksum_algorithm == ALGORITHM || entry.file.is_none() {
        return None;
    }
    Some(Warning {
        path: entry.file.clone().unwrap_or_default(),
        line: None,
        message: format!(
            "version {} was recorded with the checksum algorithm `{}`, which this version of underpin does not know, so edits to the file are not detected",
            entry.version, row.checksum_algorithm
        ),
        fix: format!(
            "run the underpin version that recorded it, or `underpin migrate repair` to record the file as it is now with `{ALGORITHM}`"
        ),
    })
}

/// Builds the history row that records `migration`'s current text in place of `row`'s, for
/// `repair` to accept an edit.
fn accepted_row<'a>(row: &'a AppliedMigration, migration: &'a Migration, applied_by: &'a str) -> NewRow<'a> {
    NewRow {
        version: row.version.as_str(),
        name: &migration.name,
        checksum: &migration.checksum,
        status: row.status,
        started: Instant::now() - Duration::from_millis(row.execution_ms.max(0) as u64),
        applied_by,
        statements_done: row.statements_done,
        statements_total: row.statements_total,
        progress_checksum: row.progress_checksum.as_deref(),
        error: None,
    }
}

/// Returns the progress checksum of the first `done` statements of the migration's up script
/// as the file is now, and how many statements the script has.
fn current_progress(migration: &Migration, done: usize, dialect: Dialect) -> (String, usize) {
    let statements = split_statements(&migration.up.sql, dialect);
    let texts: Vec<&str> = statements.iter().map(|s| s.text).collect();
    (ProgressChecksum::of_prefix(&texts, done), texts.len())
}

/// Builds the issue for a partial no-transaction migration whose first `done` statements ran
/// and no longer match the file.
fn edited_progress_issue(migration: &Migration, done: usize) -> Issue {
    Issue {
        version: migration.version.clone(),
        state: State::Partial,
        message: format!(
            "{} (version {}) stopped after statement {done} of an earlier text, and statements 1 to {done} have been edited since, so resuming would skip the edits",
            migration.up.path.display(),
            migration.version
        ),
        fix: "restore the text of those statements, or run `underpin migrate repair` to accept the edit when what already ran matches the new text".to_string(),
    }
}

fn script_of(migration: &Migration, direction: Direction) -> &Script {
    match direction {
        Direction::Up => &migration.up,
        Direction::Down => migration.down.as_ref().unwrap_or(&migration.up),
    }
}

/// Builds the error for a failed statement, mapping the server's cursor back into the file.
fn sql_failure(
    migration: &Migration,
    direction: Direction,
    statements: &[Statement<'_>],
    failure: StatementFailure,
    dialect: Dialect,
    done: usize,
) -> MigrateError {
    let script = script_of(migration, direction);
    let statement = &statements[failure.index];
    let offset_in_statement = failure
        .error
        .position
        .and_then(|position| statement.text.char_indices().nth(position.saturating_sub(1)))
        .map(|(offset, _)| offset)
        .unwrap_or(0);
    let start = statement.start + offset_in_statement;
    let end = script.sql[start..]
        .find(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == '(')
        .map(|len| start + len.max(1))
        .unwrap_or(script.sql.len());
    let (line, column) = script.file_position(start);

    let advice = failure_advice(script, statement, dialect, done, statements.len(), direction);
    MigrateError::Sql(Box::new(SqlFailure {
        version: migration.version.clone(),
        name: migration.name.clone(),
        direction,
        path: script.path.clone(),
        line,
        column,
        statement: failure.index + 1,
        statements: statements.len(),
        server: failure.error,
        transaction: script.transaction,
        advice,
        source: script.sql.clone(),
        source_first_line: script.first_line,
        span: (start, end.max(start)),
    }))
}

/// "Statement 1" or "Statements 1 to N", for advice texts.
fn statements_ran(done: usize) -> String {
    match done {
        0 => "No statement".to_string(),
        1 => "Statement 1".to_string(),
        n => format!("Statements 1 to {n}"),
    }
}

fn failure_advice(
    script: &Script,
    statement: &Statement<'_>,
    dialect: Dialect,
    done: usize,
    total: usize,
    direction: Direction,
) -> String {
    if script.transaction {
        return "The migration's transaction was rolled back: nothing of it was applied. Fix the statement and run the command again.".to_string();
    }
    let mut advice = match direction {
        Direction::Up if done == 0 => format!(
            "This migration runs without a transaction. None of its {total} statements ran (history status: failed). Fix the statement and run `underpin migrate up` again."
        ),
        Direction::Up => format!(
            "This migration runs without a transaction. {} of {total} ran and {} applied (history status: partial). Fix statement {} and run `underpin migrate up` to resume from it.",
            statements_ran(done),
            if done == 1 { "stays" } else { "stay" },
            done + 1
        ),
        Direction::Down => format!(
            "This down script runs without a transaction. {} of {total} ran; history still lists the migration as applied. Fix the script (statements that already ran must be safe to run again, e.g. `IF EXISTS`) and run `underpin migrate down` again.",
            statements_ran(done)
        ),
    };
    if let TxRequirement::OutsideTransaction(construct) = classify(statement.text, dialect)
        && construct.contains("CONCURRENTLY")
        && construct.starts_with("CREATE")
    {
        advice.push_str(
            " A failed concurrent index build leaves an INVALID index behind, and `IF NOT EXISTS` would then skip it: find it with `SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid` and drop it with `DROP INDEX CONCURRENTLY` before retrying.",
        );
    }
    advice
}
