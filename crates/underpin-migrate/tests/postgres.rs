//! Migrations against a real PostgreSQL: checksums, failures, no-transaction scripts, locks.

mod common;

use std::time::Duration;

use sqlx::Connection;
use underpin_db::connect_postgres;
use underpin_migrate::driver::{Driver, DriverError};
use underpin_migrate::{MigrateError, Request, State};

use common::*;

const GADGET: &str = "CREATE TABLE gadget (id bigint PRIMARY KEY, label text NOT NULL);\n";

#[tokio::test]
async fn line_endings_do_not_change_checksum() {
    // M01: LF, CRLF and lone-CR copies of an applied file are the same file; an edit is not.
    let url = fresh_pg_database("line_endings").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("0001_create_gadget.sql", GADGET)]);
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();

    for copy in [GADGET.replace('\n', "\r\n"), GADGET.replace('\n', "\r")] {
        write_files(dir.path(), &[("0001_create_gadget.sql", &copy)]);
        let report = pg_migrator(&url, dir.path()).await.status().await.unwrap();
        assert_eq!(report.migrations[0].state, State::Applied, "{copy:?}");
        assert!(report.issues.is_empty(), "{:?}", report.issues);
    }

    write_files(
        dir.path(),
        &[(
            "0001_create_gadget.sql",
            &GADGET.replace("label text", "label varchar(20)"),
        )],
    );
    let report = pg_migrator(&url, dir.path()).await.status().await.unwrap();
    assert_eq!(report.migrations[0].state, State::Modified);
    let issue = &report.issues[0].message;
    assert!(
        issue.contains("0001_create_gadget.sql") && issue.contains("version 1"),
        "{issue}"
    );

    let error = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    assert!(
        error.to_string().contains("edited after it was applied"),
        "{error}"
    );
}

#[tokio::test]
async fn byte_order_mark_is_dropped() {
    // M02: a leading BOM is not part of the script or its checksum; a U+FEFF in a string is data.
    let url = fresh_pg_database("bom").await;
    let dir = tempfile::tempdir().unwrap();
    let note =
        "ALTER TABLE gadget ADD COLUMN note text;\nINSERT INTO gadget VALUES (1, 'x\u{feff}y', 'n');\n";
    write_files(
        dir.path(),
        &[
            ("0001_create_gadget.sql", GADGET),
            ("0002_note.sql", &format!("\u{feff}{note}")),
        ],
    );
    let mut migrator = pg_migrator(&url, dir.path()).await;
    migrator.run(&up()).await.unwrap();
    assert_eq!(
        migrator.migrations()[1].checksum,
        underpin_migrate::checksum::checksum(note)
    );

    let label: String = pg_scalar(&url, "SELECT label FROM gadget WHERE id = 1").await;
    assert_eq!(label, "x\u{feff}y");
}

#[tokio::test]
async fn empty_migrations_apply_and_record() {
    // M03: zero-byte and comment-only files apply as no-ops and are recorded.
    let url = fresh_pg_database("empty").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("0001_empty.sql", ""),
            ("0002_comment.sql", "-- intentionally empty\n"),
        ],
    );
    let report = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    assert_eq!(report.steps.len(), 2);
    assert_eq!(
        pg_history(&url).await,
        vec![
            ("1".to_string(), "applied".to_string()),
            ("2".to_string(), "applied".to_string())
        ]
    );
}

#[tokio::test]
async fn failure_after_no_transaction_file_rolls_back() {
    // M11: a no-transaction file does not switch transactions off for the next file.
    let url = fresh_pg_database("m11").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("001_a.sql", "CREATE TABLE a (id int);\n"),
            (
                "002_a_idx.sql",
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n",
            ),
            ("003_b.sql", "CREATE TABLE b (id int);\nSELECT 1/0;\n"),
        ],
    );
    let error = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    let MigrateError::Sql(failure) = &error else {
        panic!("expected a SQL failure, got {error}")
    };
    assert_eq!(failure.version.as_str(), "3");
    assert!(failure.path.ends_with("003_b.sql"));
    assert_eq!(failure.server.message, "division by zero");
    assert_eq!(failure.server.code.as_deref(), Some("22012"));
    assert_eq!((failure.line, failure.statement, failure.statements), (2, 2, 2));

    let b: Option<String> = pg_scalar(&url, "SELECT to_regclass('b')::text").await;
    assert_eq!(b, None, "table b must not exist");
    assert_eq!(
        pg_history(&url).await,
        vec![
            ("1".to_string(), "applied".to_string()),
            ("2".to_string(), "applied".to_string())
        ]
    );
}

#[tokio::test]
async fn error_position_maps_into_file() {
    let url = fresh_pg_database("position").await;
    let dir = tempfile::tempdir().unwrap();
    let text = "-- migrate:up\nCREATE TABLE t (id int);\n\nCREATE TABLE u (\n  id int,\n  name txet\n);\n\n-- migrate:down\nDROP TABLE t;\n";
    write_files(dir.path(), &[("20240101000000_t.sql", text)]);
    let error = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    let MigrateError::Sql(failure) = &error else {
        panic!("{error}")
    };
    assert_eq!((failure.line, failure.column), (6, 8), "{failure}");
    assert_eq!(failure.server.code.as_deref(), Some("42704"));
    assert!(failure.server.message.contains("txet"));
    assert!(failure.advice.contains("rolled back"), "{}", failure.advice);
    let table: Option<String> = pg_scalar(&url, "SELECT to_regclass('t')::text").await;
    assert_eq!(table, None, "the first statement was rolled back with the second");
}

#[tokio::test]
async fn concurrent_builds_run_one_at_a_time() {
    // M12: both concurrent builds apply in autocommit; when the second fails, the error names
    // it and the invalid index it leaves, and history records 1 of 2 statements.
    let url = fresh_pg_database("m12").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "001_t.sql",
                "CREATE TABLE t (a int, b int);\nINSERT INTO t VALUES (1, 1), (2, 1);\n",
            ),
            (
                "002_idx.sql",
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_b_idx ON t (b);\n",
            ),
        ],
    );
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    let valid: i64 = pg_scalar(
        &url,
        "SELECT count(*) FROM pg_index WHERE indisvalid AND indrelid = 't'::regclass",
    )
    .await;
    assert_eq!(valid, 2);

    let url = fresh_pg_database("m12_fail").await;
    write_files(
        dir.path(),
        &[(
            "002_idx.sql",
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_b_key ON t (b);\n",
        )],
    );
    let error = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    let MigrateError::Sql(failure) = &error else {
        panic!("{error}")
    };
    assert_eq!((failure.statement, failure.statements, failure.line), (2, 2, 3));
    assert!(failure.advice.contains("INVALID index"), "{}", failure.advice);
    assert!(failure.advice.contains("resume from it"), "{}", failure.advice);
    let mut conn = connect_postgres(&url).await.unwrap();
    let (status, done, total): (String, i32, i32) = sqlx::query_as(
        "SELECT status, statements_done, statements_total FROM underpin_migrations WHERE version = '2'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((status.as_str(), done, total), ("partial", 1, 2));
}

#[tokio::test]
async fn partial_migration_resumes_after_fix() {
    let url = fresh_pg_database("resume").await;
    let dir = tempfile::tempdir().unwrap();
    let broken = "-- migrate:up transaction:false\nCREATE TABLE r1 (id int);\nCREATE TABLE r2 (id nosuchtype);\nCREATE TABLE r3 (id int);\n";
    write_files(dir.path(), &[("1_r.sql", broken)]);
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    let status = pg_migrator(&url, dir.path()).await.status().await.unwrap();
    assert_eq!(status.migrations[0].state, State::Partial);

    write_files(dir.path(), &[("1_r.sql", &broken.replace("nosuchtype", "int"))]);
    let report = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    assert_eq!(report.steps[0].resumed_at_statement, Some(2));
    let tables: i64 = pg_scalar(
        &url,
        "SELECT count(*) FROM pg_tables WHERE tablename IN ('r1', 'r2', 'r3')",
    )
    .await;
    assert_eq!(tables, 3);
    assert_eq!(
        pg_history(&url).await,
        vec![("1".to_string(), "applied".to_string())]
    );
}

#[tokio::test]
async fn down_redo_and_targets() {
    let url = fresh_pg_database("down").await;
    let dir = tempfile::tempdir().unwrap();
    let table =
        |n: u32| format!("-- migrate:up\nCREATE TABLE t{n} (id int);\n-- migrate:down\nDROP TABLE t{n};\n");
    let files: Vec<(String, String)> = (1..=4).map(|n| (format!("{n}_t{n}.sql"), table(n))).collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    write_files(dir.path(), &refs);

    let mut migrator = pg_migrator(&url, dir.path()).await;
    let to = |v: &str| Some(underpin_migrate::Version::parse(v).unwrap());
    let report = migrator
        .run(&Request::Up {
            to: to("2"),
            step: None,
            allow_out_of_order: false,
        })
        .await
        .unwrap();
    assert_eq!(report.steps.len(), 2);
    migrator
        .run(&Request::Up {
            to: None,
            step: Some(1),
            allow_out_of_order: false,
        })
        .await
        .unwrap();
    assert_eq!(pg_history(&url).await.len(), 3);

    let report = migrator.run(&Request::Redo).await.unwrap();
    assert_eq!(
        report
            .steps
            .iter()
            .map(|s| s.version.to_string())
            .collect::<Vec<_>>(),
        vec!["3", "3"]
    );
    migrator.run(&up()).await.unwrap();
    migrator
        .run(&Request::Down {
            to: to("2"),
            step: None,
            all: false,
        })
        .await
        .unwrap();
    assert_eq!(pg_history(&url).await.len(), 2);
    migrator
        .run(&Request::Down {
            to: None,
            step: None,
            all: false,
        })
        .await
        .unwrap();
    assert_eq!(pg_history(&url).await.len(), 1);
    migrator
        .run(&Request::Down {
            to: None,
            step: None,
            all: true,
        })
        .await
        .unwrap();
    assert!(pg_history(&url).await.is_empty());
    let left: i64 = pg_scalar(
        &url,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't_'",
    )
    .await;
    assert_eq!(left, 0);

    let error = migrator
        .run(&Request::Up {
            to: to("9"),
            step: None,
            allow_out_of_order: false,
        })
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("version 9 is not a migration"),
        "{error}"
    );
}

#[tokio::test]
async fn down_without_script_is_refused_before_running() {
    let url = fresh_pg_database("nodown").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "1_a.sql",
                "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n",
            ),
            ("2_b.sql", "CREATE TABLE b (id int);\n"),
        ],
    );
    let mut migrator = pg_migrator(&url, dir.path()).await;
    migrator.run(&up()).await.unwrap();
    let error = migrator
        .run(&Request::Down {
            to: None,
            step: None,
            all: true,
        })
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("2_b.sql (version 2) has no down script"),
        "{error}"
    );
    assert_eq!(pg_history(&url).await.len(), 2, "nothing was rolled back");
}

#[tokio::test]
async fn out_of_order_refused_unless_allowed() {
    let url = fresh_pg_database("order").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_a.sql", "SELECT 1;"), ("3_c.sql", "SELECT 3;")]);
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    write_files(dir.path(), &[("2_b.sql", "CREATE TABLE b (id int);")]);

    let error = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    assert!(error.to_string().contains("--allow-out-of-order"), "{error}");
    let request = Request::Up {
        to: None,
        step: None,
        allow_out_of_order: true,
    };
    let report = pg_migrator(&url, dir.path()).await.run(&request).await.unwrap();
    assert_eq!(report.steps[0].version.as_str(), "2");
}

#[tokio::test]
async fn missing_file_blocks_and_repair_forgets_it() {
    let url = fresh_pg_database("missing").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_a.sql", "SELECT 1;"), ("2_b.sql", "SELECT 2;")]);
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    std::fs::remove_file(dir.path().join("2_b.sql")).unwrap();
    write_files(dir.path(), &[("1_a.sql", "SELECT 11;")]);

    let status = pg_migrator(&url, dir.path()).await.status().await.unwrap();
    let states: Vec<State> = status.migrations.iter().map(|m| m.state).collect();
    assert_eq!(states, vec![State::Modified, State::Missing]);
    let report = pg_migrator(&url, dir.path()).await.repair().await.unwrap();
    assert_eq!(report.checksums_updated.len(), 1);
    assert_eq!(report.rows_removed.len(), 1);
    let status = pg_migrator(&url, dir.path()).await.status().await.unwrap();
    assert!(status.issues.is_empty(), "{:?}", status.issues);
}

#[tokio::test]
async fn baseline_skips_older_migrations() {
    let url = fresh_pg_database("baseline").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("1_a.sql", "CREATE TABLE a (id int);"),
            ("2_b.sql", "CREATE TABLE b (id int);"),
            ("3_c.sql", "CREATE TABLE c (id int);"),
        ],
    );
    let mut migrator = pg_migrator(&url, dir.path()).await;
    migrator
        .baseline(&underpin_migrate::Version::parse("2").unwrap())
        .await
        .unwrap();
    let report = migrator.run(&up()).await.unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].version.as_str(), "3");
    let states: Vec<State> = migrator
        .status()
        .await
        .unwrap()
        .migrations
        .iter()
        .map(|m| m.state)
        .collect();
    assert_eq!(
        states,
        vec![State::BelowBaseline, State::Baseline, State::Applied]
    );
    assert!(
        migrator
            .baseline(&underpin_migrate::Version::parse("3").unwrap())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn lock_timeout_names_holder() {
    let url = fresh_pg_database("lock_timeout").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_a.sql", "SELECT 1;")]);
    let mut holder = pg_migrator(&url, dir.path()).await;
    holder.driver().lock(Duration::from_secs(1)).await.unwrap();

    let mut options = options();
    options.lock_timeout = Duration::from_millis(700);
    let error = pg_migrator_with(&url, dir.path(), options)
        .await
        .run(&up())
        .await
        .unwrap_err();
    let MigrateError::Driver(DriverError::LockTimeout {
        holder: Some(seen), ..
    }) = &error
    else {
        panic!("expected a lock timeout naming the holder, got {error}")
    };
    assert_eq!(seen.application.as_deref(), Some("underpin"));
    assert!(error.to_string().contains("lock status"), "{error}");

    let holders = pg_migrator(&url, dir.path()).await.lock_holders().await.unwrap();
    assert_eq!(holders.len(), 1);
    holder.driver().unlock().await.unwrap();
    assert!(
        pg_migrator(&url, dir.path())
            .await
            .lock_holders()
            .await
            .unwrap()
            .is_empty()
    );
}

/// Hands out another server session after the lock is taken, the way a transaction-mode
/// pooler does between transactions.
struct PooledDriver {
    inner: underpin_migrate::PostgresDriver,
    spare: Option<sqlx::PgConnection>,
}

impl PooledDriver {
    async fn new(url: &underpin_db::DatabaseUrl) -> PooledDriver {
        let conn = connect_postgres(url).await.unwrap();
        PooledDriver {
            inner: underpin_migrate::PostgresDriver::new(conn, underpin_migrate::HistoryTable::default()),
            spare: Some(connect_postgres(url).await.unwrap()),
        }
    }
}

impl Driver for PooledDriver {
    fn backend(&self) -> underpin_db::Backend {
        underpin_db::Backend::Postgres
    }
    async fn history_exists(&mut self) -> Result<bool, DriverError> {
        self.inner.history_exists().await
    }
    async fn ensure_history(&mut self) -> Result<(), DriverError> {
        self.inner.ensure_history().await
    }
    async fn read_history(
        &mut self,
    ) -> Result<Vec<underpin_migrate::history::AppliedMigration>, DriverError> {
        self.inner.read_history().await
    }
    async fn lock(&mut self, timeout: Duration) -> Result<underpin_migrate::driver::LockWait, DriverError> {
        let wait = self.inner.lock(timeout).await?;
        if let Some(mut other) = self.spare.take() {
            std::mem::swap(self.inner.connection(), &mut other);
            self.spare = Some(other);
        }
        Ok(wait)
    }
    async fn unlock(&mut self) -> Result<(), DriverError> {
        self.inner.unlock().await
    }
    async fn lock_holders(&mut self) -> Result<Vec<underpin_migrate::driver::LockHolder>, DriverError> {
        self.inner.lock_holders().await
    }
    async fn release_lock(&mut self) -> Result<Vec<underpin_migrate::driver::LockHolder>, DriverError> {
        self.inner.release_lock().await
    }
    async fn apply_in_transaction(
        &mut self,
        statements: &[&str],
        row: &underpin_migrate::driver::NewRow<'_>,
    ) -> Result<underpin_migrate::driver::StepOutcome, underpin_migrate::driver::ExecError> {
        self.inner.apply_in_transaction(statements, row).await
    }
    async fn revert_in_transaction(
        &mut self,
        statements: &[&str],
        version: &str,
    ) -> Result<underpin_migrate::driver::StepOutcome, underpin_migrate::driver::ExecError> {
        self.inner.revert_in_transaction(statements, version).await
    }
    async fn execute_autocommit(
        &mut self,
        statement: &str,
    ) -> Result<(), underpin_migrate::driver::ServerError> {
        self.inner.execute_autocommit(statement).await
    }
    async fn verify_lock(&mut self) -> Result<(), DriverError> {
        self.inner.verify_lock().await
    }
    async fn upsert_row(&mut self, row: &underpin_migrate::driver::NewRow<'_>) -> Result<(), DriverError> {
        self.inner.upsert_row(row).await
    }
    async fn delete_row(&mut self, version: &str) -> Result<(), DriverError> {
        self.inner.delete_row(version).await
    }
    async fn current_user(&mut self) -> Result<String, DriverError> {
        self.inner.current_user().await
    }
}

#[tokio::test]
async fn lock_and_work_on_different_sessions() {
    // M14: the lock is taken on one server session and the work lands on another, as a
    // transaction-mode pooler does: no hang, everything applied once, and the lock gone
    // once its session closes.
    let url = fresh_pg_database("pooler").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("1_a.sql", "CREATE TABLE a (id int);"),
            (
                "2_idx.sql",
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY a_idx ON a (id);\n",
            ),
        ],
    );
    let set = load(dir.path(), underpin_db::sql::Dialect::Postgres);
    let driver = PooledDriver::new(&url).await;
    let mut pooled =
        underpin_migrate::Migrator::new(driver, set, options(), "public.underpin_migrations".into());

    let run = tokio::time::timeout(Duration::from_secs(20), pooled.run(&up()))
        .await
        .expect("no hang");
    assert_eq!(run.unwrap().steps.len(), 2);
    assert_eq!(pg_history(&url).await.len(), 2);

    // The lock session was never reachable again; closing it releases the lock, and the
    // next run proceeds at once.
    drop(pooled);
    let report = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    assert_eq!(report.waited_for_lock_ms, 0);
}

#[tokio::test]
async fn lost_lock_stops_cleanly() {
    // When the session holding the lock ends mid-run, the next step rolls back and the
    // error names the cause and the fix.
    let url = fresh_pg_database("lost_lock").await;
    let database = url.expose().rsplit('/').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_a.sql", "CREATE TABLE a (id int);")]);
    let set = load(dir.path(), underpin_db::sql::Dialect::Postgres);
    let driver = PooledDriver::new(&url).await;
    let mut pooled =
        underpin_migrate::Migrator::new(driver, set, options(), "public.underpin_migrations".into());
    pooled.observe(|event| {
        if let underpin_migrate::Event::Planned { .. } = event {
            // The lock session is idle in the wrapper; end it as a pooler closing it would.
            let admin = pg_admin_url();
            let database = database.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                    sqlx::query(
                        // The timeout makes the call wait until the session has exited,
                        // so the step that follows cannot still see its lock.
                        "SELECT pg_terminate_backend(l.pid, 5000) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = $1)",
                    )
                    .bind(database)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                });
            })
            .join()
            .unwrap();
        }
    });
    let error = pooled.run(&up()).await.unwrap_err();
    assert!(
        matches!(error, MigrateError::Driver(DriverError::LockNotHeld)),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("lock was lost") && message.contains("direct, unpooled URL"),
        "{message}"
    );
    let a: Option<String> = pg_scalar(&url, "SELECT to_regclass('a')::text").await;
    assert_eq!(a, None, "the step rolled back");
    assert!(pg_history(&url).await.is_empty());
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let url = fresh_pg_database("dry_run").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "1_a.sql",
            "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n",
        )],
    );
    let mut options = options();
    options.dry_run = true;
    let report = pg_migrator_with(&url, dir.path(), options)
        .await
        .run(&up())
        .await
        .unwrap();
    assert_eq!(report.steps[0].sql.as_deref(), Some("CREATE TABLE a (id int);"));
    let history: Option<String> = pg_scalar(&url, "SELECT to_regclass('underpin_migrations')::text").await;
    assert_eq!(history, None);
}

#[tokio::test]
async fn history_table_name_and_schema_configurable() {
    let url = fresh_pg_database("custom_table").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_a.sql", "SELECT 1;")]);
    let conn = connect_postgres(&url).await.unwrap();
    let table = underpin_migrate::HistoryTable {
        schema: "ops".into(),
        table: "Schema History".into(),
    };
    let driver = underpin_migrate::PostgresDriver::new(conn, table);
    let set = load(dir.path(), underpin_db::sql::Dialect::Postgres);
    let mut migrator = underpin_migrate::Migrator::new(driver, set, options(), "ops.Schema History".into());
    migrator.run(&up()).await.unwrap();
    let count: i64 = pg_scalar(&url, "SELECT count(*) FROM ops.\"Schema History\"").await;
    assert_eq!(count, 1);
}

#[tokio::test]
async fn resume_rejected_after_prefix_edit() {
    // Statements that already ran were edited: resuming would skip the edit.
    let url = fresh_pg_database("resume_edit").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "1_a.sql",
            "-- migrate:up transaction:false\nCREATE TABLE a (id int);\nSELECT nope;\n",
        )],
    );
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    write_files(
        dir.path(),
        &[(
            "1_a.sql",
            "-- migrate:up transaction:false\nCREATE TABLE a (id int, email text);\nSELECT 1;\n",
        )],
    );
    // `validate` reports it before anything runs.
    let report = pg_migrator(&url, dir.path()).await.status().await.unwrap();
    let messages: Vec<&str> = report.issues.iter().map(|issue| issue.message.as_str()).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].contains("stopped after statement 1 of an earlier text"),
        "{messages:?}"
    );
    let error = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    assert!(error.to_string().contains("have been edited since"), "{error}");
    assert_eq!(
        pg_history(&url).await,
        vec![("1".to_string(), "partial".to_string())]
    );

    // `repair` accepts the edited statements as the ones that ran, and `up` then resumes after them.
    let repaired = pg_migrator(&url, dir.path()).await.repair().await.unwrap();
    assert_eq!(repaired.checksums_updated.len(), 1, "{repaired:?}");
    let report = pg_migrator(&url, dir.path()).await.status().await.unwrap();
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    let run = pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    assert_eq!(run.steps[0].resumed_at_statement, Some(2));
    assert_eq!(
        pg_history(&url).await,
        vec![("1".to_string(), "applied".to_string())]
    );
}

#[tokio::test]
async fn validate_accepts_partial_with_untouched_prefix() {
    // Only the statements after the failure changed: resuming runs the fixed text.
    let url = fresh_pg_database("resume_fixed").await;
    let dir = tempfile::tempdir().unwrap();
    let first = "-- migrate:up transaction:false\nCREATE TABLE a (id int);\nSELECT nope;\n";
    write_files(dir.path(), &[("1_a.sql", first)]);
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap_err();
    let fixed = "-- migrate:up transaction:false\nCREATE TABLE a (id int);\nSELECT 1;\n";
    write_files(dir.path(), &[("1_a.sql", fixed)]);
    let report = pg_migrator(&url, dir.path()).await.status().await.unwrap();
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    assert_eq!(
        pg_history(&url).await,
        vec![("1".to_string(), "applied".to_string())]
    );
}

#[tokio::test]
async fn session_settings_reset_between_migrations() {
    // One run and several --step 1 runs give the same schema, and SET ROLE in a migration
    // does not apply to the history write.
    let url = fresh_pg_database("session_reset").await;
    let role = format!("migration_owner_{}", std::process::id());
    let mut admin = connect_postgres(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role}; GRANT CREATE, USAGE ON SCHEMA public TO {role}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("1_a.sql", "CREATE SCHEMA app;\nSET search_path TO app;\n"),
            ("2_b.sql", "CREATE TABLE t (id int);\n"),
            (
                "3_c.sql",
                &format!("SET ROLE {role};\nCREATE TABLE owned (id int);\n"),
            ),
        ],
    );
    pg_migrator(&url, dir.path()).await.run(&up()).await.unwrap();
    let schema: String = pg_scalar(
        &url,
        "SELECT schemaname::text FROM pg_tables WHERE tablename = 't'",
    )
    .await;
    assert_eq!(schema, "public");
    let owner: String = pg_scalar(
        &url,
        "SELECT tableowner::text FROM pg_tables WHERE tablename = 'owned'",
    )
    .await;
    assert_eq!(owner, role);
    assert_eq!(pg_history(&url).await.len(), 3);
}

/// Creates a login role named `prefix` plus the process id that may not create schemas in
/// `url`'s database, runs `grants` (with `{role}` replaced by its name), and returns a URL
/// that connects as it.
async fn restricted_role(
    url: &underpin_db::DatabaseUrl,
    prefix: &str,
    grants: &str,
) -> underpin_db::DatabaseUrl {
    let role = format!("{prefix}_{}", std::process::id());
    let database = url.expose().rsplit('/').next().unwrap().to_string();
    let grants = grants.replace("{role}", &role);
    let mut admin = connect_postgres(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; REVOKE CREATE ON DATABASE \"{database}\" FROM PUBLIC; {grants}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    underpin_db::DatabaseUrl::parse(&url.expose().replacen("postgres@", &format!("{role}@"), 1)).unwrap()
}

#[tokio::test]
async fn first_up_without_create_on_database() {
    // A role that may create tables in public, but not schemas, can run the first `up`.
    let url = fresh_pg_database("no_create_db").await;
    let app_url = restricted_role(&url, "app", "GRANT USAGE, CREATE ON SCHEMA public TO {role}").await;
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_a.sql", "CREATE TABLE a (id int);")]);
    pg_migrator(&app_url, dir.path()).await.run(&up()).await.unwrap();
    assert_eq!(pg_history(&url).await.len(), 1);
}

#[tokio::test]
async fn no_schema_create_names_grant() {
    let url = fresh_pg_database("no_create_schema").await;
    let app_url = restricted_role(
        &url,
        "reader",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO {role}",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_a.sql", "CREATE TABLE a (id int);")]);

    let error = pg_migrator(&app_url, dir.path())
        .await
        .run(&up())
        .await
        .unwrap_err();

    let message = error.to_string();
    assert!(
        message.contains("creating the history table failed: [42501]"),
        "{message}"
    );
    assert!(
        message.contains("GRANT CREATE ON SCHEMA \"public\" TO <role>"),
        "{message}"
    );
}
