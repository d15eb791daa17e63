//! The `underpin` binary on PostgreSQL: no-transaction migrations through every entry point,
//! a failure after a no-transaction migration, JSON status and dry runs. Each test creates
//! its own database on the server named by `UNDERPIN_TEST_PG_URL`.

mod common;

use common::{PgDb, Project, assert_rfc3339};

/// `001` creates a table, `002` builds an index on it concurrently (no transaction in both
/// directions), `003` creates another table, so `--to 2` has something to leave pending.
fn concurrent_index_project() -> Project {
    let project = Project::new();
    project.native(
        "001_create_t.sql",
        "CREATE TABLE t (id int);",
        Some("DROP TABLE t;"),
    );
    project.write(
        "migrations/002_index_t.sql",
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n\n\
         -- migrate:down transaction:false\nDROP INDEX CONCURRENTLY t_id_idx;\n",
    );
    project.native(
        "003_create_after.sql",
        "CREATE TABLE after_index (id int);",
        Some("DROP TABLE after_index;"),
    );
    project
}

/// Asserts that the history row of the concurrent index migration records 1 of 1 statements.
fn assert_index_row_complete(db: &PgDb) {
    assert_eq!(
        db.strings(
            "SELECT statements_done || '/' || statements_total FROM underpin_migrations WHERE version = '2'"
        ),
        ["1/1"]
    );
}

#[test]
fn no_transaction_applies_through_up() {
    let db = PgDb::create("notx_up");
    let project = concurrent_index_project();

    project
        .migrate(&db.url, &["up"])
        .expect_success()
        .stdout_contains("applied 2 index_t")
        .stdout_contains("no transaction");

    assert!(db.valid_index_exists("t_id_idx"));
    assert_eq!(db.history(), ["1:applied", "2:applied", "3:applied"]);
    assert_index_row_complete(&db);
}

#[test]
fn no_transaction_applies_through_up_step() {
    let db = PgDb::create("notx_step");
    let project = concurrent_index_project();

    project.migrate(&db.url, &["up", "--step", "1"]).expect_success();
    assert!(!db.valid_index_exists("t_id_idx"));
    assert_eq!(db.history(), ["1:applied"]);

    project
        .migrate(&db.url, &["up", "--step", "1"])
        .expect_success()
        .stdout_contains("applied 2 index_t");

    assert!(db.valid_index_exists("t_id_idx"));
    assert_eq!(db.history(), ["1:applied", "2:applied"]);
    assert_index_row_complete(&db);
}

#[test]
fn no_transaction_applies_through_up_to() {
    let db = PgDb::create("notx_to");
    let project = concurrent_index_project();

    project
        .migrate(&db.url, &["up", "--to", "2"])
        .expect_success()
        .stdout_contains("applied 2 index_t");

    assert!(db.valid_index_exists("t_id_idx"));
    assert!(!db.table_exists("after_index"), "--to 2 also applied 003");
    assert_eq!(db.history(), ["1:applied", "2:applied"]);
    assert_index_row_complete(&db);
}

#[test]
fn no_transaction_applies_through_redo() {
    let db = PgDb::create("notx_redo");
    let project = concurrent_index_project();
    project.migrate(&db.url, &["up", "--to", "2"]).expect_success();
    let oid_before = db.strings("SELECT 't_id_idx'::regclass::oid::text");

    project
        .migrate(&db.url, &["redo"])
        .expect_success()
        .stdout_contains("rolled back 2 index_t")
        .stdout_contains("applied 2 index_t");

    assert!(db.valid_index_exists("t_id_idx"));
    assert_ne!(
        db.strings("SELECT 't_id_idx'::regclass::oid::text"),
        oid_before,
        "redo did not rebuild the index"
    );
    assert_eq!(db.history(), ["1:applied", "2:applied"]);
    assert_index_row_complete(&db);
}

#[test]
fn no_transaction_rolls_back_through_down() {
    let db = PgDb::create("notx_down");
    let project = concurrent_index_project();
    project.migrate(&db.url, &["up", "--to", "2"]).expect_success();

    project
        .migrate(&db.url, &["down"])
        .expect_success()
        .stdout_contains("rolled back 2 index_t");

    assert!(!db.table_exists("t_id_idx"), "the index is still there");
    assert!(db.table_exists("t"));
    assert_eq!(db.history(), ["1:applied"]);
}

/// `001` transactional, `002` no-transaction, `003` fails: the failure must roll back all of
/// `003`, because the no-transaction file before it must not switch transactions off.
fn failing_after_no_transaction() -> Project {
    let project = Project::new();
    project.native("001_create_a.sql", "CREATE TABLE a (id int);", None);
    project.write(
        "migrations/002_index_a.sql",
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n",
    );
    project.native("003_create_b.sql", "CREATE TABLE b (id int); SELECT 1/0;", None);
    project
}

#[test]
fn failure_after_no_transaction_rolls_back() {
    let db = PgDb::create("m11_text");
    let project = failing_after_no_transaction();

    let outcome = project.migrate(&db.url, &["up"]);

    outcome
        .expect_code(1)
        .stderr_contains("003_create_b.sql")
        .stderr_contains("division by zero");
    assert!(!db.table_exists("b"), "table b exists\n{outcome}");
    assert!(db.valid_index_exists("a_id_idx"));
    assert_eq!(db.history(), ["1:applied", "2:applied"], "{outcome}");
}

#[test]
fn failure_after_no_transaction_json() {
    let db = PgDb::create("m11_json");
    let project = failing_after_no_transaction();

    let outcome = project.migrate(&db.url, &["--format", "json", "up"]);

    outcome.expect_code(1);
    let report = outcome.json();
    let error = &report["error"];
    assert_eq!(error["kind"], "sql", "{outcome}");
    assert_eq!(error["sql"]["version"], "3", "{outcome}");
    assert_eq!(error["sql"]["server"]["code"], "22012", "{outcome}");
    assert_eq!(error["sql"]["server"]["message"], "division by zero", "{outcome}");
    assert_eq!(error["sql"]["statement"], 2, "{outcome}");
    assert_eq!(error["sql"]["transaction"], true, "{outcome}");
    assert!(
        error["sql"]["path"]
            .as_str()
            .is_some_and(|path| path.ends_with("003_create_b.sql")),
        "{outcome}"
    );
    assert!(!db.table_exists("b"));
    assert_eq!(db.history(), ["1:applied", "2:applied"], "{outcome}");
}

#[test]
fn status_json_lists_states() {
    let db = PgDb::create("status_json");
    let project = concurrent_index_project();
    project.migrate(&db.url, &["up", "--to", "2"]).expect_success();

    let outcome = project.migrate(&db.url, &["status", "--format", "json"]);

    let report = outcome.expect_success().json();
    assert_rfc3339(&report["migrations"][0]["applied"]["applied_at"], &outcome);
    let entries: Vec<String> = report["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("no migrations array\n{outcome}"))
        .iter()
        .map(|entry| {
            format!(
                "{}:{}:{}",
                entry["version"].as_str().expect("version"),
                entry["name"].as_str().expect("name"),
                entry["state"].as_str().expect("state")
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            "1:create_t:applied",
            "2:index_t:applied",
            "3:create_after:pending"
        ],
        "{outcome}"
    );
    assert_eq!(report["backend"], "postgres", "{outcome}");
}

#[test]
fn dry_run_creates_no_history_table() {
    let db = PgDb::create("dry_run");
    let project = concurrent_index_project();

    let outcome = project.migrate(&db.url, &["up", "--dry-run"]);

    outcome
        .expect_success()
        .stdout_contains("would apply 1 create_t")
        .stdout_contains("CREATE TABLE t (id int);")
        .stdout_contains("would apply 2 index_t")
        .stdout_contains("no transaction")
        .stdout_contains("CREATE INDEX CONCURRENTLY t_id_idx ON t (id);");
    assert_eq!(
        db.strings("SELECT count(*)::text FROM pg_class WHERE relnamespace = 'public'::regnamespace"),
        ["0"],
        "the dry run created something in schema public\n{outcome}"
    );
    assert!(!db.table_exists("public.underpin_migrations"));

    // After a real run, a dry rollback leaves everything applied.
    project.migrate(&db.url, &["up"]).expect_success();
    project
        .migrate(&db.url, &["down", "--all", "--dry-run"])
        .expect_success()
        .stdout_contains("would roll back 2 index_t")
        .stdout_contains("DROP INDEX CONCURRENTLY t_id_idx;");
    assert_eq!(db.history(), ["1:applied", "2:applied", "3:applied"]);
    assert!(db.valid_index_exists("t_id_idx"));
}

#[test]
fn sql_error_exit_code_is_one() {
    let db = PgDb::create("sql_error");
    let project = Project::new();
    project.native(
        "001_broken.sql",
        "CREATE TABLE fine (id int);\nCREATE TABLE broken (id nosuchtype);",
        None,
    );

    project
        .migrate(&db.url, &["up"])
        .expect_code(1)
        .stderr_contains("001_broken.sql:3:")
        .stderr_contains("type \"nosuchtype\" does not exist");

    assert!(!db.table_exists("fine"));
    assert_eq!(db.history(), Vec::<String>::new());
}

#[test]
fn uncontended_run_reports_no_wait() {
    let db = PgDb::create("uncontended");
    let project = concurrent_index_project();
    project.migrate(&db.url, &["up"]).expect_success();

    let text = project.migrate(&db.url, &["up"]);
    let json = project.migrate(&db.url, &["--format", "json", "up"]);

    assert_eq!(
        text.expect_success().stdout,
        "nothing to do\n",
        "no other runner exists, yet the output says one did the work\n{text}"
    );
    let report = json.expect_success().json();
    assert_eq!(report["waited_for_lock_ms"], 0, "{json}");
    assert!(report.get("lock_holder_seen").is_none(), "{json}");
}

#[test]
fn lock_commands_work_without_a_valid_folder() {
    // An operator with only a URL, or a broken folder, can still inspect and free the lock.
    let db = PgDb::create("lock_no_folder");
    let project = Project::new();
    project
        .migrate(&db.url, &["lock", "status"])
        .expect_success()
        .stdout_contains("the migration lock is free");

    project.native("1_a.sql", "SELECT 1;", None);
    project.native("01_b.sql", "SELECT 2;", None);
    project.migrate(&db.url, &["validate"]).expect_code(1);
    project
        .migrate(&db.url, &["lock", "status"])
        .expect_success()
        .stdout_contains("the migration lock is free");
    project.migrate(&db.url, &["lock", "release"]).expect_success();
}

#[test]
fn status_names_partial_and_missing_down() {
    let db = PgDb::create("status_partial");
    let project = Project::new();
    project.write(
        "migrations/1_p.sql",
        "-- migrate:up transaction:false\nCREATE TABLE p (id int);\nSELECT nope;\nSELECT 1;\n",
    );
    project.migrate(&db.url, &["up"]).expect_code(1);

    project
        .migrate(&db.url, &["status"])
        .expect_success()
        .stdout_contains("1 migration: 0 applied, 1 pending (1 partial)");

    project.write(
        "migrations/1_p.sql",
        "-- migrate:up transaction:false\nCREATE TABLE p (id int);\nSELECT 1;\nSELECT 1;\n",
    );
    project.migrate(&db.url, &["up"]).expect_success();
    project
        .migrate(&db.url, &["down"])
        .expect_code(1)
        .stderr_contains("fix: write a `-- migrate:down` section with statements in");
}
