//! Several `underpin migrate up` processes at once, and a runner killed mid-migration.
//! Exactly one process applies each migration. The others wait for the migration lock
//! (PostgreSQL) or the database's write lock (SQLite), and then find nothing left to do.

mod common;

use std::time::{Duration, Instant};

use common::{Outcome, PgDb, Project, Spawned, sqlite_history, sqlite_strings, step_versions, string_array};

const MIGRATION_COUNT: usize = 20;

/// Writes twenty migrations. The tenth sleeps 2 s, so every runner started at the same
/// moment reaches the lock while the first one still holds it.
fn twenty_migrations() -> Project {
    let project = Project::new();
    for n in 1..=MIGRATION_COUNT {
        let up = if n == 10 {
            "SELECT pg_sleep(2);".to_string()
        } else {
            format!("CREATE TABLE t{n} (id int);")
        };
        project.native(&format!("{n:03}_step{n}.sql"), &up, None);
    }
    project
}

fn all_versions() -> Vec<String> {
    (1..=MIGRATION_COUNT).map(|n| n.to_string()).collect()
}

/// Starts `count` processes of the same command back to back, then waits for all of them.
/// Returns each outcome with the time from its start to its exit, measured for all of them
/// at once so a slow first process does not inflate the others' times.
fn run_at_once(project: &Project, count: usize, args: &[&str]) -> Vec<(Outcome, Duration)> {
    let mut running: Vec<Spawned> = (0..count).map(|_| project.spawn(args)).collect();
    let mut finished: Vec<Option<(Outcome, Duration)>> = (0..count).map(|_| None).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while finished.iter().any(Option::is_none) {
        for (process, slot) in running.iter_mut().zip(finished.iter_mut()) {
            if slot.is_none()
                && let Some(outcome) = process.try_outcome()
            {
                *slot = Some((outcome, process.started().elapsed()));
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} processes still run after 120 s",
            finished.iter().filter(|slot| slot.is_none()).count()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    finished.into_iter().flatten().collect()
}

/// Asserts that history lists every version once, applied. The primary key rules out
/// duplicates, so this checks the count and that no row is failed or partial.
fn assert_history_complete(db: &PgDb) {
    let expected: Vec<String> = all_versions().iter().map(|v| format!("{v}:applied")).collect();
    assert_eq!(db.history(), expected);
    assert_eq!(
        db.strings("SELECT count(*)::text FROM underpin_migrations"),
        [MIGRATION_COUNT.to_string()]
    );
}

#[test]
fn two_runners_postgres() {
    let db = PgDb::create("two_runners");
    let project = twenty_migrations();

    let outcomes: Vec<Outcome> = run_at_once(&project, 2, &["migrate", "--database-url", &db.url, "up"])
        .into_iter()
        .map(|(outcome, _)| outcome)
        .collect();

    for outcome in &outcomes {
        outcome.expect_success();
    }
    let (appliers, waiters): (Vec<&Outcome>, Vec<&Outcome>) = outcomes
        .iter()
        .partition(|outcome| outcome.stdout.contains("applied 1 step1"));
    assert_eq!(
        appliers.len(),
        1,
        "expected one runner to apply everything\n{}\n{}",
        outcomes[0],
        outcomes[1]
    );
    assert_eq!(
        appliers[0]
            .stdout
            .lines()
            .filter(|line| line.starts_with("applied "))
            .count(),
        MIGRATION_COUNT,
        "{}",
        appliers[0]
    );
    waiters[0]
        .stdout_contains("waited ")
        .stdout_contains("for the migration lock held by server process")
        .stdout_contains("nothing to do: another runner already did it");
    assert_history_complete(&db);
}

#[test]
fn eight_runners_postgres() {
    let db = PgDb::create("eight_runners");
    let project = twenty_migrations();

    let outcomes = run_at_once(
        &project,
        8,
        &["migrate", "--database-url", &db.url, "--format", "json", "up"],
    );

    let mut appliers = 0;
    for (outcome, _) in &outcomes {
        let report = outcome.expect_success().json();
        let steps = step_versions(&report["steps"]);
        if steps.is_empty() {
            // The applier holds the lock for at least the 2 s of pg_sleep, and every runner
            // started at the same moment. The threshold is 1 s, not a few ms, because a run
            // that finds the lock free also reports a wait of 1-3 ms (see cli_postgres's
            // uncontended_run_reports_no_wait).
            let waited = report["waited_for_lock_ms"].as_u64().unwrap_or(0);
            assert!(
                waited >= 1000,
                "a runner that applied nothing reports a wait of {waited} ms\n{outcome}"
            );
            assert_eq!(
                report["lock_holder_seen"]["user"], "postgres",
                "a waiting runner does not name the lock holder\n{outcome}"
            );
            assert!(
                string_array(&report["done_by_another_runner"]).is_empty(),
                "with PostgreSQL's lock, a waiting runner plans only after the applier finished\n{outcome}"
            );
        } else {
            assert_eq!(steps, all_versions(), "{outcome}");
            appliers += 1;
        }
    }
    assert_eq!(appliers, 1, "expected exactly one runner to apply the migrations");
    assert_history_complete(&db);
}

#[test]
fn two_runners_sqlite() {
    let project = Project::new();
    // About a second of work in one write transaction (1.2 s measured with a debug build on
    // a 2-core machine), so the other process meets a locked file.
    project.native(
        "001_big.sql",
        "CREATE TABLE big (n INTEGER);\n\
         WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000000)\n\
         INSERT INTO big SELECT n FROM c;",
        None,
    );
    for n in 2..=5 {
        project.native(
            &format!("{n:03}_t{n}.sql"),
            &format!("CREATE TABLE t{n} (id INTEGER);"),
            None,
        );
    }
    let versions: Vec<String> = (1..=5).map(|n| n.to_string()).collect();

    let outcomes = run_at_once(
        &project,
        2,
        &[
            "migrate",
            "--database-url",
            "sqlite:app.db",
            "--format",
            "json",
            "up",
        ],
    );

    let mut applied = Vec::new();
    let mut big_ms = 0;
    for (outcome, _) in &outcomes {
        let report = outcome.expect_success().json();
        applied.extend(step_versions(&report["steps"]));
        for step in report["steps"].as_array().into_iter().flatten() {
            if step["version"] == "1" {
                big_ms = step["duration_ms"].as_u64().expect("duration_ms");
            }
        }
    }
    applied.sort_by_key(|v| v.parse::<u32>().unwrap());
    assert_eq!(
        applied, versions,
        "each version must be applied by exactly one process\n{}\n{}",
        outcomes[0].0, outcomes[1].0
    );
    // Both processes ran while the long migration held the write lock: the one that did
    // not apply it waited for the lock instead of failing at once.
    for (outcome, elapsed) in &outcomes {
        assert!(
            elapsed.as_millis() as u64 >= big_ms / 2,
            "a process ended after {elapsed:?}, while 001 took {big_ms} ms: the processes did not overlap\n{outcome}"
        );
    }
    let db = project.path().join("app.db");
    let expected: Vec<String> = versions.iter().map(|v| format!("{v}:applied")).collect();
    assert_eq!(sqlite_history(&db), expected);
    assert_eq!(
        sqlite_strings(&db, "SELECT CAST(count(*) AS TEXT) FROM big"),
        ["2000000"]
    );
}

/// Writes `001`, which creates a table, and `002`, which creates `killed_marker` and then
/// sleeps 30 s in the same transaction, long enough to kill the runner in the middle.
fn sleeping_project() -> Project {
    let project = Project::new();
    project.native("001_create_t.sql", "CREATE TABLE t (id int);", None);
    project.native(
        "002_sleep.sql",
        "CREATE TABLE killed_marker (id int);\nSELECT pg_sleep(30), 'not-for-lock-status';",
        None,
    );
    project
}

/// Starts `up`, checks after 2 s that `lock status` shows it, kills it with SIGKILL and
/// replaces `002` so a second run does not sleep. Returns when the runner is dead.
fn start_and_kill_runner(project: &Project, db: &PgDb) -> Instant {
    let mut runner = project.spawn(&["migrate", "--database-url", &db.url, "up"]);
    std::thread::sleep(Duration::from_secs(2));

    let status = project.migrate(&db.url, &["lock", "status"]);
    status
        .expect_success()
        .stdout_contains("held by server process ")
        .stdout_contains("(user postgres, application underpin");
    let json = project.migrate(&db.url, &["--format", "json", "lock", "status"]);
    let report = json.expect_success().json();
    let holders = report["holders"].as_array().expect("holders array");
    assert_eq!(holders.len(), 1, "{json}");
    assert!(holders[0]["pid"].as_i64().is_some_and(|pid| pid > 0), "{json}");
    assert_eq!(holders[0]["user"], "postgres", "{json}");
    assert_eq!(holders[0]["application"], "underpin", "{json}");
    // Only the statement's leading keywords are shown: the rest could carry a password.
    assert!(holders[0]["command"].is_string(), "{json}");
    assert!(!json.stdout.contains("not-for-lock-status"), "{json}");
    assert!(!status.stdout.contains("not-for-lock-status"), "{status}");

    runner.kill();
    let killed_at = Instant::now();
    let killed = runner.wait(Duration::from_secs(10));
    assert_eq!(
        killed.code, None,
        "the runner was not ended by the signal\n{killed}"
    );

    project.native("002_sleep.sql", "CREATE TABLE after_kill (id int);", None);
    killed_at
}

#[test]
fn interrupted_runner_exits_130_and_rolls_back() {
    // Ctrl-C and SIGTERM end the run with 130 and a message. The server rolls the running
    // migration back and frees the lock with the session.
    for signal in ["INT", "TERM"] {
        let db = PgDb::create(&format!("interrupted_{}", signal.to_lowercase()));
        let project = sleeping_project();
        let mut command = project.spawnable();
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command.args(["migrate", "--database-url", &db.url, "up"]);
        let running = Spawned::start(command, format!("underpin migrate up, then SIG{signal}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !db.table_exists("t") || db.strings("SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()") != ["1"] {
            assert!(Instant::now() < deadline, "the runner never reached the sleeping migration");
            std::thread::sleep(Duration::from_millis(50));
        }

        running.signal_group(signal);
        let mut running = running;
        let outcome = running.wait(Duration::from_secs(20));

        outcome
            .expect_code(130)
            .stderr_contains("interrupted; the database rolls back the running migration");
        assert_eq!(db.history(), ["1:applied"], "{outcome}");
        assert!(!db.table_exists("killed_marker"), "{outcome}");
        // The server notices the closed connection at its next client check (1 s).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = project.migrate(&db.url, &["lock", "status"]);
            if status
                .expect_success()
                .stdout
                .contains("the migration lock is free")
            {
                break;
            }
            assert!(Instant::now() < deadline, "the lock outlived the run\n{status}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn killed_runner_leaves_nothing_behind() {
    let db = PgDb::create("killed_runner");
    let project = sleeping_project();
    start_and_kill_runner(&project, &db);

    // Generous timeout: the dead session may keep the lock until its statement ends.
    let second = project.migrate(&db.url, &["--format", "json", "up", "--lock-timeout", "60"]);

    let report = second.expect_success().json();
    assert_eq!(
        step_versions(&report["steps"]),
        ["2"],
        "the killed run must have left no history row for 002\n{second}"
    );
    assert!(
        !db.table_exists("killed_marker"),
        "the killed migration's table survived"
    );
    assert!(db.table_exists("after_kill"));
    assert_eq!(db.history(), ["1:applied", "2:applied"]);
    project
        .migrate(&db.url, &["lock", "status"])
        .expect_success()
        .stdout_contains("the migration lock is free");
}

#[test]
fn killed_runner_lock_freed_promptly() {
    let db = PgDb::create("killed_promptly");
    let project = sleeping_project();
    let killed_at = start_and_kill_runner(&project, &db);

    let second = project.migrate(&db.url, &["up", "--lock-timeout", "60"]);

    second.expect_success();
    let waited = killed_at.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "the second run finished {waited:?} after the kill; the dead session held the lock that long\n{second}"
    );
    assert!(!db.table_exists("killed_marker"));
    assert_eq!(db.history(), ["1:applied", "2:applied"]);
}
