//! The `underpin` binary on SQLite files: exit codes, JSON status, dry runs, `migrate new`
//! and the README's quickstart. No server is needed.

mod common;

use common::{Project, assert_rfc3339, run_in, sqlite_execute, sqlite_history, sqlite_tables};

const DB: &str = "sqlite:app.db";

/// Three transactional migrations with down sections.
fn three_migrations(project: &Project) {
    project.native(
        "001_create_users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);",
        Some("DROP TABLE users;"),
    );
    project.native(
        "002_create_notes.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));",
        Some("DROP TABLE notes;"),
    );
    project.native(
        "003_add_pinned.sql",
        "ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;",
        Some("ALTER TABLE notes DROP COLUMN pinned;"),
    );
}

#[test]
fn exit_code_zero_on_success() {
    let project = Project::new();
    three_migrations(&project);

    project
        .migrate(DB, &["up"])
        .expect_success()
        .stdout_contains("applied 3 add_pinned");
    project.migrate(DB, &["status"]).expect_success();
    project.migrate(DB, &["status", "--exit-code"]).expect_success();
    project.migrate(DB, &["validate"]).expect_success();

    assert_eq!(
        sqlite_history(&project.path().join("app.db")),
        ["1:applied", "2:applied", "3:applied"]
    );
}

#[test]
fn unknown_flag_exits_two() {
    let project = Project::new();
    three_migrations(&project);

    let outcome = project.migrate(DB, &["up", "--no-such-flag"]);

    outcome.expect_code(2).stderr_contains("--no-such-flag");
    assert!(
        !project.path().join("app.db").exists(),
        "a usage error must not open the database\n{outcome}"
    );
}

#[test]
fn protected_env_rollback_exits_two() {
    let project = Project::new();
    three_migrations(&project);
    project.write(
        "underpin.toml",
        "[env.prod]\nurl = \"sqlite:prod.db\"\nprotected = true\n",
    );
    let db = project.path().join("prod.db");
    project.run(&["migrate", "--env", "prod", "up"]).expect_success();

    for command in [&["down"][..], &["down", "--all"], &["redo"]] {
        let mut args = vec!["migrate", "--env", "prod"];
        args.extend_from_slice(command);
        project
            .run(&args)
            .expect_code(2)
            .stderr_contains("protected")
            .stderr_contains("--allow-protected");
        assert_eq!(
            sqlite_history(&db),
            ["1:applied", "2:applied", "3:applied"],
            "`{}` in a protected environment changed history",
            command.join(" ")
        );
    }

    project
        .run(&["migrate", "--env", "prod", "down", "--allow-protected"])
        .expect_success()
        .stdout_contains("rolled back 3 add_pinned");
    assert_eq!(sqlite_history(&db), ["1:applied", "2:applied"]);
}

#[test]
fn status_exit_code_three_when_pending() {
    let project = Project::new();
    three_migrations(&project);

    project.migrate(DB, &["status", "--exit-code"]).expect_code(3);
    project.migrate(DB, &["up", "--step", "2"]).expect_success();
    project
        .migrate(DB, &["status", "--exit-code"])
        .expect_code(3)
        .stdout_contains("2 applied, 1 pending");
    // Without the flag, pending migrations are not a failure.
    project.migrate(DB, &["status"]).expect_success();

    project.migrate(DB, &["up"]).expect_success();
    project.migrate(DB, &["status", "--exit-code"]).expect_success();
}

#[test]
fn unknown_checksum_algorithm_warns_until_repaired() {
    // A row written by another checksum algorithm cannot be compared, so validate warns.
    let project = Project::new();
    three_migrations(&project);
    project.migrate(DB, &["up"]).expect_success();
    let db = project.path().join("app.db");
    sqlite_execute(
        &db,
        "UPDATE underpin_migrations SET checksum_algorithm = 'sha512-future' WHERE version = '2'",
    );
    project.native(
        "002_create_notes.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",
        Some("DROP TABLE notes;"),
    );

    let validate = project.migrate(DB, &["validate"]);
    validate
        .expect_success()
        .stderr_contains("version 2 was recorded with the checksum algorithm `sha512-future`")
        .stderr_contains("edits to the file are not detected");
    project
        .migrate(DB, &["repair"])
        .expect_success()
        .stdout_contains("recorded the file of version 2 as it is now");
    let after = project.migrate(DB, &["validate"]);
    after.expect_success();
    assert!(!after.stderr.contains("sha512-future"), "{after}");
}

#[test]
fn validate_edited_file_exits_one() {
    let project = Project::new();
    three_migrations(&project);
    project.migrate(DB, &["up"]).expect_success();
    project.migrate(DB, &["validate"]).expect_success();

    project.native(
        "002_create_notes.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",
        Some("DROP TABLE notes;"),
    );
    let text = project.migrate(DB, &["validate"]);
    let json = project.migrate(DB, &["validate", "--format", "json"]);

    text.expect_code(1).stdout_contains("problem:");
    assert!(
        text.stdout.contains("002_create_notes.sql") || text.stdout.contains("version 2"),
        "validate does not name the edited migration\n{text}"
    );
    json.expect_code(1);
    let report = json.json();
    assert_eq!(report["ok"], false, "{json}");
    assert_eq!(report["issues"].as_array().map(Vec::len), Some(1), "{json}");

    // `status --exit-code` fails the same way, and the edit outranks a pending migration.
    project
        .migrate(DB, &["status"])
        .expect_success()
        .stdout_contains("3 migrations: 2 applied, 0 pending, 1 modified");
    project.migrate(DB, &["status", "--exit-code"]).expect_code(1);
    project.native("004_later.sql", "SELECT 1;", None);
    project.migrate(DB, &["status", "--exit-code"]).expect_code(1);
}

#[test]
fn sql_error_exits_one() {
    let project = Project::new();
    project.native("001_ok.sql", "CREATE TABLE ok (id INTEGER);", None);
    project.native(
        "002_broken.sql",
        "CREATE TABLE half (id INTEGER);\nINSERT INTO no_such_table VALUES (1);",
        None,
    );

    let outcome = project.migrate(DB, &["up"]);

    outcome
        .expect_code(1)
        .stderr_contains("002_broken.sql")
        .stderr_contains("no such table: no_such_table");
    let db = project.path().join("app.db");
    assert_eq!(sqlite_history(&db), ["1:applied"]);
    assert!(
        !sqlite_tables(&db).contains(&"half".to_string()),
        "the failed migration's first statement was not rolled back"
    );
}

#[test]
fn status_json_is_one_object() {
    let project = Project::new();
    three_migrations(&project);
    project.migrate(DB, &["up", "--step", "2"]).expect_success();

    let outcome = project.migrate(DB, &["status", "--format", "json"]);

    let report = outcome.expect_success().json();
    assert_rfc3339(&report["migrations"][0]["applied"]["applied_at"], &outcome);
    let migrations = report["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("no migrations array\n{outcome}"));
    let rows: Vec<(String, String, String)> = migrations
        .iter()
        .map(|entry| {
            let field = |key: &str| {
                entry[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("entry lacks string `{key}`: {entry}\n{outcome}"))
                    .to_string()
            };
            (field("version"), field("name"), field("state"))
        })
        .collect();
    let expected = [
        ("1", "create_users", "applied"),
        ("2", "create_notes", "applied"),
        ("3", "add_pinned", "pending"),
    ]
    .map(|(v, n, s)| (v.to_string(), n.to_string(), s.to_string()));
    assert_eq!(rows, expected, "{outcome}");
    assert_eq!(report["pending"], 1, "{outcome}");
}

#[test]
fn dry_run_up_changes_nothing() {
    let project = Project::new();
    three_migrations(&project);
    let db = project.path().join("app.db");

    let outcome = project.migrate(DB, &["up", "--dry-run"]);

    outcome
        .expect_success()
        .stdout_contains("would apply 1 create_users")
        .stdout_contains("would apply 3 add_pinned")
        .stdout_contains("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);")
        .stdout_contains("ALTER TABLE notes ADD COLUMN pinned");
    assert_eq!(
        sqlite_tables(&db),
        Vec::<String>::new(),
        "a dry run created tables\n{outcome}"
    );

    let json = project.migrate(DB, &["up", "--dry-run", "--format", "json"]);
    let report = json.expect_success().json();
    assert_eq!(report["dry_run"], true, "{json}");
    assert_eq!(common::step_versions(&report["steps"]), ["1", "2", "3"]);
    assert!(
        report["steps"][0]["sql"]
            .as_str()
            .is_some_and(|sql| sql.contains("CREATE TABLE users")),
        "the JSON dry run lacks the SQL\n{json}"
    );
    assert_eq!(sqlite_tables(&db), Vec::<String>::new());
}

#[test]
fn dry_run_creates_no_sqlite_file() {
    let project = Project::new();
    three_migrations(&project);

    for args in [&["up", "--dry-run"][..], &["status"], &["validate"]] {
        let outcome = project.migrate(DB, args);

        outcome.expect_success();
        let created: Vec<String> = std::fs::read_dir(project.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("app.db"))
            .collect();
        assert!(
            created.is_empty(),
            "`{}` created {created:?}; a mistyped path would leave an empty database behind\n{outcome}",
            args.join(" ")
        );
    }
}

#[test]
fn dry_run_down_changes_nothing() {
    let project = Project::new();
    three_migrations(&project);
    let db = project.path().join("app.db");
    project.migrate(DB, &["up"]).expect_success();

    project
        .migrate(DB, &["down", "--all", "--dry-run"])
        .expect_success()
        .stdout_contains("would roll back 3 add_pinned")
        .stdout_contains("ALTER TABLE notes DROP COLUMN pinned;")
        .stdout_contains("would roll back 1 create_users")
        .stdout_contains("DROP TABLE users;");
    project
        .migrate(DB, &["redo", "--dry-run"])
        .expect_success()
        .stdout_contains("would roll back 3 add_pinned")
        .stdout_contains("would apply 3 add_pinned");

    assert_eq!(sqlite_history(&db), ["1:applied", "2:applied", "3:applied"]);
    assert_eq!(sqlite_tables(&db), ["notes", "underpin_migrations", "users"]);
}

#[test]
fn baseline_adopts_existing_database() {
    let project = Project::new();
    three_migrations(&project);
    let db = project.path().join("app.db");
    // A database that predates underpin: the first two migrations' tables exist.
    project.migrate(DB, &["up", "--to", "2"]).expect_success();
    common::sqlite_execute(&db, "DROP TABLE underpin_migrations");

    let outcome = project.migrate(DB, &["baseline", "--version", "2"]);

    outcome
        .expect_success()
        .stdout_contains("baseline set at version 2");
    assert_eq!(sqlite_history(&db), ["2:baseline"]);
    project
        .migrate(DB, &["up"])
        .expect_success()
        .stdout_contains("applied 3 add_pinned");
    assert_eq!(sqlite_history(&db), ["2:baseline", "3:applied"]);
}

#[test]
fn log_lines_plain_when_piped() {
    let project = Project::new();
    three_migrations(&project);

    let outcome = project.migrate(DB, &["-v", "up"]);

    outcome.expect_success().stderr_contains("migration applied");
    assert!(
        !outcome.stderr.contains('\u{1b}'),
        "stderr is a pipe, yet the log lines contain escape sequences\n{outcome}"
    );
}

#[test]
fn new_in_empty_folder_creates_native_file() {
    let project = Project::new();

    let outcome = project.run(&["migrate", "new", "add orders"]);

    outcome.expect_success().stdout_contains("created ");
    let names = file_names(&project.migrations_dir());
    assert_eq!(names.len(), 1, "expected one file: {names:?}\n{outcome}");
    let name = &names[0];
    let (version, rest) = name.split_at(14);
    assert!(
        version.bytes().all(|b| b.is_ascii_digit()),
        "`{name}` does not start with a 14-digit timestamp"
    );
    assert_eq!(rest, "_add_orders.sql");
    let text = std::fs::read_to_string(project.migrations_dir().join(name)).unwrap();
    assert!(text.contains("-- migrate:up\n"), "{name}:\n{text}");
    assert!(text.contains("-- migrate:down\n"), "{name}:\n{text}");
    // The new file must load: status lists it as pending.
    project
        .migrate(DB, &["status"])
        .expect_success()
        .stdout_contains("add_orders");
}

#[test]
fn new_no_transaction_marks_both_sections() {
    let project = Project::new();

    project
        .run(&["migrate", "new", "index_orders", "--no-transaction"])
        .expect_success();

    let names = file_names(&project.migrations_dir());
    assert_eq!(names.len(), 1, "{names:?}");
    let text = std::fs::read_to_string(project.migrations_dir().join(&names[0])).unwrap();
    assert!(text.contains("-- migrate:up transaction:false"), "{text}");
    assert!(text.contains("-- migrate:down transaction:false"), "{text}");
}

#[test]
fn new_in_sqlx_folder_creates_pair() {
    let project = Project::new();
    project.write(
        "migrations/20240101000000_init.up.sql",
        "CREATE TABLE items (id INTEGER);\n",
    );
    project.write("migrations/20240101000000_init.down.sql", "DROP TABLE items;\n");

    let outcome = project.run(&["migrate", "new", "add_price"]);

    outcome.expect_success();
    let names = file_names(&project.migrations_dir());
    assert_eq!(
        names.len(),
        4,
        "expected the old pair and a new pair: {names:?}\n{outcome}"
    );
    let new: Vec<&String> = names.iter().filter(|n| n.contains("add_price")).collect();
    assert_eq!(new.len(), 2, "{names:?}");
    let up = new[1];
    let down = new[0];
    assert!(down.ends_with("_add_price.down.sql"), "{names:?}");
    assert!(up.ends_with("_add_price.up.sql"), "{names:?}");
    let version = up.trim_end_matches("_add_price.up.sql");
    assert_eq!(down.trim_end_matches("_add_price.down.sql"), version);
    assert!(
        version.len() == 14 && version > "20240101000000",
        "the new version `{version}` does not sort after the existing one"
    );
    // The folder still loads as one sqlx set with both migrations.
    project
        .migrate(DB, &["status"])
        .expect_success()
        .stdout_contains("2 migrations: 0 applied, 2 pending");
}

#[test]
fn new_keeps_unpadded_and_flyway_numbering() {
    let sqlx = Project::new();
    sqlx.write("migrations/1_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    sqlx.run(&["migrate", "new", "b"]).expect_success();
    let names = file_names(&sqlx.migrations_dir());
    assert!(names.contains(&"2_b.up.sql".to_string()), "{names:?}");

    let flyway = Project::new();
    flyway.write("migrations/V1__a.sql", "CREATE TABLE a (id INTEGER);\n");
    flyway.write("migrations/V1.1__b.sql", "CREATE TABLE b (id INTEGER);\n");
    flyway.write("migrations/V2__c.sql", "CREATE TABLE c (id INTEGER);\n");
    flyway.run(&["migrate", "new", "d"]).expect_success();
    let names = file_names(&flyway.migrations_dir());
    assert!(names.contains(&"V3__d.sql".to_string()), "{names:?}");

    // diesel's dashed timestamps are no sequence: the new migration must sort after them.
    let diesel = Project::new();
    diesel.write(
        "migrations/2024-07-30-140000_a/up.sql",
        "CREATE TABLE a (id INTEGER);\n",
    );
    diesel.write("migrations/2024-07-30-140000_a/down.sql", "DROP TABLE a;\n");
    diesel.migrate(DB, &["up"]).expect_success();
    diesel.run(&["migrate", "new", "b"]).expect_success();
    diesel.migrate(DB, &["up"]).expect_success();
    diesel
        .migrate(DB, &["status"])
        .expect_success()
        .stdout_contains("2 migrations: 2 applied, 0 pending");
}

#[test]
fn new_in_sequence_folder_continues_numbering() {
    let project = Project::new();
    project.native("0001_first.sql", "CREATE TABLE first (id INTEGER);", None);
    project.native("0002_second.sql", "CREATE TABLE second (id INTEGER);", None);

    project.run(&["migrate", "new", "third"]).expect_success();

    assert!(
        project.migrations_dir().join("0003_third.sql").is_file(),
        "{:?}",
        file_names(&project.migrations_dir())
    );
}

#[test]
fn quickstart_applies_four_migrations() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart");
    let project = Project::new();
    std::fs::copy(
        example.join("underpin.toml"),
        project.path().join("underpin.toml"),
    )
    .expect("copy examples/quickstart/underpin.toml");
    for entry in std::fs::read_dir(example.join("migrations")).expect("read the quickstart migrations") {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), project.migrations_dir().join(entry.file_name())).unwrap();
    }
    let config = project.path().join("underpin.toml");
    let config = config.to_str().unwrap();
    // The README runs the command from the repository root, not the project folder.
    let elsewhere = tempfile::tempdir().unwrap();

    let up = run_in(elsewhere.path(), &["migrate", "--config", config, "up"]);
    let status = run_in(elsewhere.path(), &["migrate", "--config", config, "status"]);

    up.expect_success()
        .stdout_contains("applied 20261201090300 add_notes_pinned");
    status
        .expect_success()
        .stdout_contains("4 migrations: 4 applied, 0 pending");
    assert_eq!(
        sqlite_history(&project.path().join("quickstart.db")),
        [
            "20261201090000:applied",
            "20261201090100:applied",
            "20261201090200:applied",
            "20261201090300:applied"
        ]
    );
    assert!(
        std::fs::read_dir(elsewhere.path()).unwrap().next().is_none(),
        "the run wrote into the working directory instead of beside the config file"
    );
}

/// File names in a folder, sorted.
fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn load_error_shows_warnings_too() {
    let project = Project::new();
    project.native("1_a.sql", "SELECT 1;", None);
    project.native("01_b.sql", "SELECT 2;", None);
    project.write("migrations/2_c.SQL", "SELECT 3;");

    let text = project.migrate(DB, &["validate"]);
    text.expect_code(1)
        .stderr_contains("warning: ")
        .stderr_contains("ends in `.SQL`")
        .stderr_contains("duplicate version 1");
    let json = project.migrate(DB, &["--format", "json", "validate"]);
    let report = json.expect_code(1).json();
    assert_eq!(
        report["error"]["warnings"].as_array().map(Vec::len),
        Some(1),
        "{json}"
    );
}
