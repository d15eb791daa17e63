//! The planner: from the loaded files, the history rows and a request, decide what to run.
//! Pure functions with no I/O, so every rule is tested without a database.

use std::collections::{HashMap, HashSet};

use crate::checksum::ALGORITHM;
use crate::history::{AppliedMigration, RowStatus};
use crate::migration::Migration;
use crate::version::Version;

/// The state of a migration, comparing its file with its history row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Applied,
    Pending,
    /// Applied, but the file's checksum differs from the recorded one.
    Modified,
    /// Applied, but the file is gone.
    Missing,
    /// Pending, with a version below the newest applied one.
    OutOfOrder,
    Failed,
    Partial,
    Baseline,
    /// Older than the baseline, so never run.
    BelowBaseline,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Modified => "modified",
            State::Missing => "missing",
            State::OutOfOrder => "out_of_order",
            State::Failed => "failed",
            State::Partial => "partial",
            State::Baseline => "baseline",
            State::BelowBaseline => "below_baseline",
        }
    }
}

/// One line of `status`: a file, a history row, or both.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusEntry {
    pub version: Version,
    pub name: String,
    pub state: State,
    pub file: Option<String>,
    #[serde(skip)]
    pub index: Option<usize>,
    pub applied: Option<AppliedMigration>,
}

/// A file, a history row or both, borrowed from the loaded set and the rows read. The
/// planner works on these, so a plan over thousands of applied migrations copies nothing.
struct Entry<'a> {
    version: &'a Version,
    state: State,
    index: Option<usize>,
    migration: Option<&'a Migration>,
    row: Option<&'a AppliedMigration>,
    /// The position of `row` in the history it was borrowed from.
    row_index: Option<usize>,
}

impl Entry<'_> {
    fn name(&self) -> &str {
        match (self.migration, self.row) {
            (Some(migration), _) => &migration.name,
            (None, Some(row)) => &row.name,
            (None, None) => "",
        }
    }

    fn file(&self) -> Option<String> {
        self.migration.map(|m| m.up.path.display().to_string())
    }

    fn to_status(&self) -> StatusEntry {
        StatusEntry {
            applied: self.row.cloned(),
            ..self.to_status_without_row()
        }
    }

    fn to_status_without_row(&self) -> StatusEntry {
        StatusEntry {
            version: self.version.clone(),
            name: self.name().to_string(),
            state: self.state,
            file: self.file(),
            index: self.index,
            applied: None,
        }
    }
}

/// Pairs files with history rows, sorted by version.
fn classify<'a>(migrations: &'a [Migration], history: &'a [AppliedMigration]) -> Vec<Entry<'a>> {
    let rows: HashMap<&Version, usize> = history
        .iter()
        .enumerate()
        .map(|(index, row)| (&row.version, index))
        .collect();
    let newest_complete = history
        .iter()
        .filter(|r| r.status.is_complete())
        .map(|r| &r.version)
        .max();
    let baseline = history
        .iter()
        .filter(|r| r.status == RowStatus::Baseline)
        .map(|r| &r.version)
        .max();

    let mut entries: Vec<Entry<'a>> = Vec::with_capacity(migrations.len().max(history.len()));
    entries.extend(migrations.iter().enumerate().map(|(index, migration)| {
        let row_index = rows.get(&migration.version).copied();
        let row = row_index.map(|index| &history[index]);
        let state = match row {
            Some(row) => row_state(row, Some(migration)),
            None if baseline.is_some_and(|b| migration.version <= *b) => State::BelowBaseline,
            None if newest_complete.is_some_and(|n| migration.version < *n) => State::OutOfOrder,
            None => State::Pending,
        };
        Entry {
            version: &migration.version,
            state,
            index: Some(index),
            migration: Some(migration),
            row,
            row_index,
        }
    }));

    let known: HashSet<&Version> = migrations.iter().map(|m| &m.version).collect();
    let missing = history
        .iter()
        .enumerate()
        .filter(|(_, row)| !known.contains(&row.version));
    entries.extend(missing.map(|(row_index, row)| Entry {
        version: &row.version,
        state: row_state(row, None),
        index: None,
        migration: None,
        row: Some(row),
        row_index: Some(row_index),
    }));
    entries.sort_by(|a, b| a.version.cmp(b.version));
    entries
}

/// Compares files with history. Entries come sorted by version.
pub fn status(migrations: &[Migration], history: &[AppliedMigration]) -> Vec<StatusEntry> {
    classify(migrations, history)
        .iter()
        .map(Entry::to_status)
        .collect()
}

/// Compares files with history and lists what is wrong between them, as `status` and
/// `validate` report it.
/// The history rows move into the entries instead of being copied, so a long history is not
/// held twice.
pub fn status_and_issues(
    migrations: &[Migration],
    history: Vec<AppliedMigration>,
    allow_out_of_order: bool,
) -> (Vec<StatusEntry>, Vec<Issue>) {
    let (mut status, row_indexes, issues) = {
        let entries = classify(migrations, &history);
        let issues = issues(&entries, allow_out_of_order);
        let status: Vec<StatusEntry> = entries.iter().map(Entry::to_status_without_row).collect();
        let row_indexes: Vec<Option<usize>> = entries.iter().map(|entry| entry.row_index).collect();
        (status, row_indexes, issues)
    };
    let mut rows: Vec<Option<AppliedMigration>> = history.into_iter().map(Some).collect();
    for (entry, index) in status.iter_mut().zip(row_indexes) {
        entry.applied = index.and_then(|index| rows[index].take());
    }
    (status, issues)
}

fn row_state(row: &AppliedMigration, file: Option<&Migration>) -> State {
    match (row.status, file) {
        (RowStatus::Baseline, _) => State::Baseline,
        (_, None) => State::Missing,
        (RowStatus::Failed, _) => State::Failed,
        (RowStatus::Partial, _) => State::Partial,
        (RowStatus::Applied, Some(migration)) => {
            // A checksum from another algorithm cannot be compared, so it is trusted.
            if row.checksum_algorithm == ALGORITHM && row.checksum != migration.checksum {
                State::Modified
            } else {
                State::Applied
            }
        }
    }
}

/// Something that `validate` reports and that stops `up` and `down`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    pub version: Version,
    pub state: State,
    pub message: String,
    pub fix: String,
}

/// Lists what is wrong between files and history.
fn issues(entries: &[Entry<'_>], allow_out_of_order: bool) -> Vec<Issue> {
    let newest = entries
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                State::Applied | State::Modified | State::Baseline | State::Missing
            )
        })
        .map(|e| e.version)
        .max();
    entries
        .iter()
        .filter_map(|entry| {
            let (message, fix) = match entry.state {
                State::Modified => (
                    format!(
                        "{} (version {}) was edited after it was applied",
                        entry.file().unwrap_or_default(),
                        entry.version
                    ),
                    "restore the applied text (see `git log -p` for the file), or put the change in a new migration; `underpin migrate repair` accepts the edit".to_string(),
                ),
                State::Missing => (
                    format!("version {} ({}) is applied but its file is missing", entry.version, entry.name()),
                    "restore the file from version control; `underpin migrate repair` forgets the row".to_string(),
                ),
                State::OutOfOrder if !allow_out_of_order => (
                    format!(
                        "{} (version {}) is pending but older than the newest applied version {}",
                        entry.file().unwrap_or_default(),
                        entry.version,
                        newest.map(|v| v.as_str()).unwrap_or("?")
                    ),
                    "give it a version newer than every applied one, or pass --allow-out-of-order to apply it anyway".to_string(),
                ),
                _ => return None,
            };
            Some(Issue { version: entry.version.clone(), state: entry.state, message, fix })
        })
        .collect()
}

/// A step to run; plans list them in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Run the up script of `migrations[index]`, starting at statement `resume_from`
    /// (0-based; non-zero only when resuming a partial no-transaction migration).
    Apply { index: usize, resume_from: u32 },
    /// Run the down script of `migrations[index]`.
    Revert { index: usize },
}

/// A request the planner turns into steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Up {
        to: Option<Version>,
        step: Option<usize>,
        allow_out_of_order: bool,
    },
    Down {
        to: Option<Version>,
        step: Option<usize>,
        all: bool,
    },
    Redo,
}

/// The reason no plan could be made. Nothing has run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{}", render_issues(.0))]
    Issues(Vec<Issue>),
    #[error("version {0} is not a migration in this folder; `underpin migrate status` lists them")]
    UnknownVersion(Version),
    #[error(
        "{file} (version {version}) has no down script, so it cannot be rolled back\n  fix: write {write}, or roll back fewer migrations (`down --to` a later version)"
    )]
    NoDown {
        version: Version,
        file: String,
        /// The down script's location in this layout.
        write: String,
    },
    #[error("version {version} is {}: {} of {} statements ran; finish it with `underpin migrate up` before rolling anything back", .state.as_str(), .done, .total)]
    Incomplete {
        version: Version,
        state: State,
        done: i32,
        total: i32,
    },
    #[error(
        "version {0} is the baseline; migrations up to it were never run by underpin, so they cannot be rolled back"
    )]
    BelowBaseline(Version),
    #[error("nothing is applied, so there is nothing to redo")]
    NothingToRedo,
    #[error("the down script of version {version} cannot run as written:\n{}", render_problems(.problems))]
    InvalidDown {
        version: Version,
        problems: Vec<crate::source::Problem>,
    },
}

fn render_problems(problems: &[crate::source::Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("- {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_issues(issues: &[Issue]) -> String {
    let mut text = String::new();
    for (i, issue) in issues.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&format!("{}\n  fix: {}", issue.message, issue.fix));
    }
    text
}

/// Decides the steps for a request.
pub fn plan(
    migrations: &[Migration],
    history: &[AppliedMigration],
    request: &Request,
) -> Result<Vec<Step>, PlanError> {
    let entries = classify(migrations, history);
    match request {
        Request::Up {
            to,
            step,
            allow_out_of_order,
        } => plan_up(migrations, &entries, to.as_ref(), *step, *allow_out_of_order),
        Request::Down { to, step, all } => {
            let count = if *all || to.is_some() {
                None
            } else {
                Some(step.unwrap_or(1))
            };
            plan_down(migrations, &entries, to.as_ref(), count)
        }
        Request::Redo => {
            let down = plan_down(migrations, &entries, None, Some(1))?;
            let Some(Step::Revert { index }) = down.first().copied() else {
                return Err(PlanError::NothingToRedo);
            };
            Ok(vec![
                Step::Revert { index },
                Step::Apply {
                    index,
                    resume_from: 0,
                },
            ])
        }
    }
}

fn plan_up(
    migrations: &[Migration],
    entries: &[Entry<'_>],
    to: Option<&Version>,
    step: Option<usize>,
    allow_out_of_order: bool,
) -> Result<Vec<Step>, PlanError> {
    let problems = issues(entries, allow_out_of_order);
    if !problems.is_empty() {
        return Err(PlanError::Issues(problems));
    }
    if let Some(target) = to
        && !migrations.iter().any(|m| &m.version == target)
    {
        return Err(PlanError::UnknownVersion(target.clone()));
    }

    // Unfinished migrations come first: later ones may depend on them.
    let mut steps: Vec<(&Version, Step)> = Vec::new();
    for entry in entries {
        let Some(index) = entry.index else { continue };
        let resume_from = match entry.state {
            State::Failed | State::Partial => {
                entry.row.and_then(|row| row.statements_done).unwrap_or(0).max(0) as u32
            }
            State::Pending | State::OutOfOrder => 0,
            _ => continue,
        };
        steps.push((entry.version, Step::Apply { index, resume_from }));
    }
    let unfinished = |s: &(&Version, Step)| matches!(s.1, Step::Apply { resume_from, .. } if resume_from > 0);
    steps.sort_by_key(|s| !unfinished(s));

    Ok(steps
        .into_iter()
        .filter(|(version, _)| to.is_none_or(|target| *version <= target))
        .take(step.unwrap_or(usize::MAX))
        .map(|(_, step)| step)
        .collect())
}

fn plan_down(
    migrations: &[Migration],
    entries: &[Entry<'_>],
    to: Option<&Version>,
    count: Option<usize>,
) -> Result<Vec<Step>, PlanError> {
    if let Some(entry) = entries
        .iter()
        .find(|e| matches!(e.state, State::Failed | State::Partial))
    {
        let row = entry.row;
        return Err(PlanError::Incomplete {
            version: entry.version.clone(),
            state: entry.state,
            done: row.and_then(|r| r.statements_done).unwrap_or(0),
            total: row.and_then(|r| r.statements_total).unwrap_or(0),
        });
    }
    if let Some(target) = to
        && !entries.iter().any(|e| e.version == target)
    {
        return Err(PlanError::UnknownVersion(target.clone()));
    }

    let mut steps = Vec::new();
    for entry in entries.iter().rev() {
        if to.is_some_and(|target| entry.version <= target) || count.is_some_and(|n| steps.len() >= n) {
            break;
        }
        match entry.state {
            State::Applied => {}
            State::Modified | State::Missing => {
                return Err(PlanError::Issues(issues(std::slice::from_ref(entry), true)));
            }
            // Rolling back stops at the baseline: what lies below it was never run by underpin.
            State::Baseline if steps.is_empty() => {
                return Err(PlanError::BelowBaseline(entry.version.clone()));
            }
            State::Baseline => break,
            _ => continue,
        }
        let index = entry.index.expect("an applied entry with a file has an index");
        if !migrations[index].down_problems.is_empty() {
            return Err(PlanError::InvalidDown {
                version: entry.version.clone(),
                problems: migrations[index].down_problems.clone(),
            });
        }
        if migrations[index].down.is_none() {
            return Err(PlanError::NoDown {
                version: entry.version.clone(),
                file: migrations[index].up.path.display().to_string(),
                write: migrations[index].down_location(),
            });
        }
        steps.push(Step::Revert { index });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;
    use crate::migration::{Format, Script};

    fn migration(version: u32, down: bool) -> Migration {
        let script = |sql: &str| Script {
            sql: sql.to_string(),
            transaction: true,
            path: PathBuf::from(format!("{version}_m.sql")),
            first_line: 1,
        };
        Migration {
            version: Version::parse(&version.to_string()).unwrap(),
            name: format!("m{version}"),
            format: Format::Native,
            up: script("SELECT 1;"),
            down: down.then(|| script("SELECT 2;")),
            checksum: format!("sum{version}"),
            down_problems: Vec::new(),
        }
    }

    fn row(version: u32, status: RowStatus) -> AppliedMigration {
        AppliedMigration {
            version: Version::parse(&version.to_string()).unwrap(),
            name: format!("m{version}"),
            checksum: format!("sum{version}"),
            checksum_algorithm: ALGORITHM.to_string(),
            status,
            applied_at: String::new(),
            execution_ms: 0,
            applied_by: String::new(),
            statements_done: None,
            statements_total: None,
            progress_checksum: None,
            error: None,
        }
    }

    fn up() -> Request {
        Request::Up {
            to: None,
            step: None,
            allow_out_of_order: false,
        }
    }

    fn versions(migrations: &[Migration], steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|step| match step {
                Step::Apply { index, .. } => format!("+{}", migrations[*index].version),
                Step::Revert { index } => format!("-{}", migrations[*index].version),
            })
            .collect()
    }

    #[test]
    fn up_applies_pending_in_order() {
        let migrations = vec![migration(1, true), migration(2, true), migration(10, true)];
        let steps = plan(&migrations, &[row(1, RowStatus::Applied)], &up()).unwrap();
        assert_eq!(versions(&migrations, &steps), ["+2", "+10"]);
    }

    #[test]
    fn up_to_and_step_limit() {
        let migrations: Vec<_> = (1..=5).map(|v| migration(v, true)).collect();
        let to = Request::Up {
            to: Version::parse("3"),
            step: None,
            allow_out_of_order: false,
        };
        assert_eq!(
            versions(&migrations, &plan(&migrations, &[], &to).unwrap()),
            ["+1", "+2", "+3"]
        );
        let step = Request::Up {
            to: None,
            step: Some(2),
            allow_out_of_order: false,
        };
        assert_eq!(
            versions(&migrations, &plan(&migrations, &[], &step).unwrap()),
            ["+1", "+2"]
        );
    }

    #[test]
    fn partial_resumes_first() {
        let migrations = vec![migration(1, true), migration(2, true)];
        let mut partial = row(1, RowStatus::Partial);
        partial.statements_done = Some(3);
        let steps = plan(&migrations, &[partial], &up()).unwrap();
        assert_eq!(
            steps[0],
            Step::Apply {
                index: 0,
                resume_from: 3
            }
        );
        assert_eq!(
            steps[1],
            Step::Apply {
                index: 1,
                resume_from: 0
            }
        );
    }

    #[test]
    fn modified_and_missing_block_up() {
        let migrations = vec![migration(1, true)];
        let mut edited = row(1, RowStatus::Applied);
        edited.checksum = "other".into();
        let error = plan(&migrations, &[edited.clone(), row(2, RowStatus::Applied)], &up()).unwrap_err();
        let PlanError::Issues(issues) = error else {
            panic!("{error}")
        };
        let states: Vec<State> = issues.iter().map(|i| i.state).collect();
        assert_eq!(states, [State::Modified, State::Missing]);
    }

    #[test]
    fn other_algorithm_is_not_modified() {
        let migrations = vec![migration(1, true)];
        let mut old = row(1, RowStatus::Applied);
        old.checksum = "computed-another-way".into();
        old.checksum_algorithm = "sha256-raw".into();
        assert_eq!(status(&migrations, &[old])[0].state, State::Applied);
    }

    #[test]
    fn out_of_order_needs_flag() {
        let migrations = vec![migration(1, true), migration(2, true), migration(3, true)];
        let history = [row(1, RowStatus::Applied), row(3, RowStatus::Applied)];
        assert!(matches!(
            plan(&migrations, &history, &up()),
            Err(PlanError::Issues(_))
        ));
        let allowed = Request::Up {
            to: None,
            step: None,
            allow_out_of_order: true,
        };
        assert_eq!(
            versions(&migrations, &plan(&migrations, &history, &allowed).unwrap()),
            ["+2"]
        );
    }

    #[test]
    fn down_defaults_to_one_and_honours_targets() {
        let migrations: Vec<_> = (1..=4).map(|v| migration(v, true)).collect();
        let history: Vec<_> = (1..=4).map(|v| row(v, RowStatus::Applied)).collect();
        let down = |to: Option<&str>, step, all| Request::Down {
            to: to.and_then(Version::parse),
            step,
            all,
        };
        let plan_of = |request| versions(&migrations, &plan(&migrations, &history, &request).unwrap());
        assert_eq!(plan_of(down(None, None, false)), ["-4"]);
        assert_eq!(plan_of(down(None, Some(2), false)), ["-4", "-3"]);
        assert_eq!(plan_of(down(Some("2"), None, false)), ["-4", "-3"]);
        assert_eq!(plan_of(down(None, None, true)), ["-4", "-3", "-2", "-1"]);
        assert_eq!(plan_of(Request::Redo), ["-4", "+4"]);
    }

    #[test]
    fn down_without_script_fails_before_any_step() {
        let migrations = vec![migration(1, true), migration(2, false)];
        let history = [row(1, RowStatus::Applied), row(2, RowStatus::Applied)];
        let all = Request::Down {
            to: None,
            step: None,
            all: true,
        };
        assert!(matches!(
            plan(&migrations, &history, &all),
            Err(PlanError::NoDown { .. })
        ));
    }

    #[test]
    fn down_stops_at_baseline() {
        let migrations: Vec<_> = (1..=3).map(|v| migration(v, true)).collect();
        let history = [row(2, RowStatus::Baseline), row(3, RowStatus::Applied)];
        let all = Request::Down {
            to: None,
            step: None,
            all: true,
        };
        assert_eq!(
            versions(&migrations, &plan(&migrations, &history, &all).unwrap()),
            ["-3"]
        );
        let history = [row(2, RowStatus::Baseline)];
        assert!(matches!(
            plan(&migrations, &history, &all),
            Err(PlanError::BelowBaseline(_))
        ));
        assert_eq!(status(&migrations, &history)[0].state, State::BelowBaseline);
    }

    #[test]
    fn down_refused_while_partial() {
        let migrations = vec![migration(1, true), migration(2, true)];
        let history = [row(1, RowStatus::Applied), row(2, RowStatus::Partial)];
        let request = Request::Down {
            to: None,
            step: None,
            all: false,
        };
        assert!(matches!(
            plan(&migrations, &history, &request),
            Err(PlanError::Incomplete { .. })
        ));
    }

    proptest! {
        /// Applying what `up` plans and then what `down --all` plans ends where it started,
        /// and each step touches a migration in the right state.
        #[test]
        fn up_then_down_round_trips(
            versions in prop::collection::btree_set(1u32..500, 0..40),
            applied_count in 0usize..40,
        ) {
            let migrations: Vec<_> = versions.iter().map(|v| migration(*v, true)).collect();
            let applied = applied_count.min(migrations.len());
            let mut history: Vec<_> =
                versions.iter().take(applied).map(|v| row(*v, RowStatus::Applied)).collect();

            let steps = plan(&migrations, &history, &up()).unwrap();
            prop_assert_eq!(steps.len(), migrations.len() - applied);
            let mut previous: Option<&Version> = None;
            for step in &steps {
                let Step::Apply { index, resume_from } = *step else { panic!("up planned a revert") };
                prop_assert_eq!(resume_from, 0);
                let version = &migrations[index].version;
                prop_assert!(previous.is_none_or(|p| p < version), "versions ascend");
                prop_assert!(!history.iter().any(|r| &r.version == version), "not applied twice");
                previous = Some(version);
                history.push(row(version.as_str().parse().unwrap(), RowStatus::Applied));
            }
            prop_assert!(plan(&migrations, &history, &up()).unwrap().is_empty());

            let all = Request::Down { to: None, step: None, all: true };
            let steps = plan(&migrations, &history, &all).unwrap();
            prop_assert_eq!(steps.len(), migrations.len());
            for step in steps {
                let Step::Revert { index } = step else { panic!("down planned an apply") };
                let newest = history.iter().map(|r| r.version.clone()).max().unwrap();
                prop_assert_eq!(&migrations[index].version, &newest, "newest first");
                history.retain(|r| r.version != newest);
            }
            prop_assert!(history.is_empty());
        }
    }
}
