//! Loading folders: layouts, validation before any connection, and deterministic order.

mod common;

use underpin_db::sql::Dialect;
use underpin_migrate::checksum::checksum;
use underpin_migrate::source::SourceFile;
use underpin_migrate::{Format, LoadOptions, load_dir, load_files};

use common::write_files;

fn problems(dir: &std::path::Path) -> Vec<String> {
    match load_dir(dir, LoadOptions::default()) {
        Ok(set) => panic!("expected problems, loaded {} migrations", set.migrations.len()),
        Err(error) => error.problems.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn duplicate_versions_name_both_files() {
    // M04: two files with one version are rejected at load time, naming both.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("20240101000007_add_tags.sql", "CREATE TABLE tags (id int);"),
            ("20240101000007_add_flags.sql", "CREATE TABLE flags (id int);"),
        ],
    );
    let found = problems(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("20240101000007_add_tags.sql"), "{}", found[0]);
    assert!(found[0].contains("20240101000007_add_flags.sql"), "{}", found[0]);
    assert!(
        found[0].contains("duplicate version 20240101000007"),
        "{}",
        found[0]
    );
}

#[test]
fn leading_zeros_collide() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("0001_a.sql", "SELECT 1;"), ("1_b.sql", "SELECT 2;")],
    );
    assert!(problems(dir.path())[0].contains("duplicate version 1"));
}

#[test]
fn order_ignores_listing_order() {
    // M04: the order of files as listed must not change the result.
    let file = |name: &str, sql: &str| SourceFile {
        relative: name.to_string(),
        display: name.into(),
        contents: Ok(sql.as_bytes().to_vec()),
    };
    let forward = vec![
        file("9_nine.sql", "SELECT 9;"),
        file("10_ten.sql", "SELECT 10;"),
        file("2_two.sql", "SELECT 2;"),
    ];
    let mut backward = forward.clone();
    backward.reverse();
    let versions = |files| {
        load_files(files, LoadOptions::default())
            .unwrap()
            .migrations
            .iter()
            .map(|m| m.version.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(forward.clone()), vec!["2", "9", "10"]);
    assert_eq!(versions(forward), versions(backward));
}

#[test]
fn malformed_names_and_bad_bytes() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("create_users.sql", "CREATE TABLE users (id int);"),
            ("README.md", "# notes"),
        ],
    );
    std::fs::write(
        dir.path().join("20240101000000_latin1.sql"),
        b"SELECT 'caf\xe9';\n",
    )
    .unwrap();
    let found = problems(dir.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .any(|p| p.contains("create_users.sql") && p.contains("does not start with a version"))
    );
    let utf8 = found.iter().find(|p| p.contains("latin1")).unwrap();
    assert!(
        utf8.contains("not valid UTF-8") && utf8.contains("0xE9") && utf8.contains(":1:"),
        "{utf8}"
    );
}

#[test]
fn unknown_marker_option_names_line() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("1_x.sql", "-- migrate:up transaction:off\nSELECT 1;\n")],
    );
    let found = problems(dir.path());
    assert!(
        found[0].contains("1_x.sql:1") && found[0].contains("transaction:off"),
        "{found:?}"
    );
}

#[test]
fn concurrent_index_in_transaction_rejected() {
    // M09: statements that refuse a transaction block are stopped before connecting, with
    // file, line and how to mark the file no-transaction.
    let cases = [
        (
            "CREATE INDEX CONCURRENTLY gadget_label_idx ON gadget (label);",
            "CREATE INDEX CONCURRENTLY",
        ),
        (
            "DROP INDEX CONCURRENTLY gadget_label_idx;",
            "DROP INDEX CONCURRENTLY",
        ),
        ("REINDEX INDEX CONCURRENTLY gadget_label_idx;", "REINDEX"),
        ("VACUUM gadget;", "VACUUM"),
        ("CREATE DATABASE other;", "CREATE DATABASE"),
        ("ALTER SYSTEM SET work_mem = '64MB';", "ALTER SYSTEM"),
    ];
    for (sql, construct) in cases {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("-- migrate:up\nSELECT 1;\n{sql}\n\n-- migrate:down\nSELECT 1;\n");
        write_files(dir.path(), &[("20240101000000_gadget.sql", &text)]);
        let found = problems(dir.path());
        assert_eq!(found.len(), 1, "{sql}: {found:?}");
        assert!(
            found[0].contains("20240101000000_gadget.sql:3"),
            "{sql}: {}",
            found[0]
        );
        assert!(found[0].contains(construct), "{sql}: {}", found[0]);
        assert!(found[0].contains("transaction:false"), "{sql}: {}", found[0]);
    }
}

#[test]
fn explicit_begin_around_concurrent_build_rejected() {
    // M09: `BEGIN; CREATE INDEX CONCURRENTLY …; COMMIT;` fails in any file, even one
    // marked no-transaction.
    let dir = tempfile::tempdir().unwrap();
    let text = "-- migrate:up transaction:false\nBEGIN;\nCREATE INDEX CONCURRENTLY g_idx ON gadget (label);\nCOMMIT;\n";
    write_files(dir.path(), &[("20240101000000_gadget.sql", text)]);
    let found = problems(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(":3:") && found[0].contains("transaction block opened on line 2"),
        "{}",
        found[0]
    );

    let dir = tempfile::tempdir().unwrap();
    let text = "BEGIN;\nCREATE INDEX CONCURRENTLY g_idx ON gadget (label);\nCOMMIT;\n";
    write_files(dir.path(), &[("20240101000000_gadget.sql", text)]);
    let found = problems(dir.path());
    assert!(
        found.iter().any(|p| p.contains(":1:") && p.contains("BEGIN")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains(":2:") && p.contains("CREATE INDEX CONCURRENTLY")),
        "{found:?}"
    );
}

#[test]
fn no_transaction_fix_matches_layout() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("1_idx.up.sql", "CREATE INDEX CONCURRENTLY i ON t (c);"),
            ("1_idx.down.sql", "DROP INDEX i;"),
        ],
    );
    assert!(problems(dir.path())[0].contains("-- no-transaction"));

    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "2024-01-01-000000_idx/up.sql",
            "CREATE INDEX CONCURRENTLY i ON t (c);",
        )],
    );
    assert!(problems(dir.path())[0].contains("run_in_transaction = false"));
}

#[test]
fn long_identifiers_warn_with_line() {
    // M16: PostgreSQL truncates names over 63 bytes (bytes, not characters) silently.
    let dir = tempfile::tempdir().unwrap();
    let e32 = "é".repeat(32);
    let text = format!(
        "CREATE TABLE gadget_maintenance_schedule_entries_for_regional_warehouses_all_north (id int);\nCREATE TABLE IF NOT EXISTS gadget_maintenance_schedule_entries_for_regional_warehouses_all_south (id int);\nCREATE TABLE \"{e32}\" (id int);\nCREATE TABLE {} (id int);\n",
        "x".repeat(63)
    );
    write_files(dir.path(), &[("1_long.sql", &text)]);
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    let lines: Vec<Option<u32>> = set.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, vec![Some(1), Some(2), Some(3)], "{:?}", set.warnings);
    assert!(
        set.warnings[2].message.contains("64 bytes"),
        "{}",
        set.warnings[2]
    );
    assert!(set.warnings.iter().all(|w| w.path.ends_with("1_long.sql")));

    let sqlite = load_dir(
        dir.path(),
        LoadOptions {
            dialect: Dialect::Sqlite,
            require_down: false,
        },
    )
    .unwrap();
    assert!(sqlite.warnings.is_empty(), "SQLite has no such limit");
}

#[test]
fn four_layouts_detected() {
    let native = tempfile::tempdir().unwrap();
    write_files(
        native.path(),
        &[(
            "20240101000000_a.sql",
            "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n",
        )],
    );
    let pairs = tempfile::tempdir().unwrap();
    write_files(
        pairs.path(),
        &[
            ("20240101000000_a.up.sql", "CREATE TABLE a (id int);"),
            ("20240101000000_a.down.sql", "DROP TABLE a;"),
        ],
    );
    let diesel = tempfile::tempdir().unwrap();
    write_files(
        diesel.path(),
        &[
            ("2024-01-01-000000_a/up.sql", "CREATE TABLE a (id int);"),
            ("2024-01-01-000000_a/down.sql", "DROP TABLE a;"),
            (
                "2024-01-01-000000_a/metadata.toml",
                "run_in_transaction = false\n",
            ),
        ],
    );
    let flyway = tempfile::tempdir().unwrap();
    write_files(
        flyway.path(),
        &[
            ("V1.1__create_a.sql", "CREATE TABLE a (id int);"),
            ("U1.1__create_a.sql", "DROP TABLE a;"),
        ],
    );

    for (dir, format, version, transaction) in [
        (&native, Format::Native, "20240101000000", true),
        (&pairs, Format::Pairs, "20240101000000", true),
        (&diesel, Format::Diesel, "20240101000000", false),
        (&flyway, Format::Flyway, "1.1", true),
    ] {
        let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
        assert_eq!(set.format, Some(format));
        let migration = &set.migrations[0];
        assert_eq!(migration.version.as_str(), version, "{format:?}");
        assert_eq!(migration.up.sql.trim(), "CREATE TABLE a (id int);", "{format:?}");
        assert_eq!(
            migration.down.as_ref().unwrap().sql.trim(),
            "DROP TABLE a;",
            "{format:?}"
        );
        assert_eq!(migration.up.transaction, transaction, "{format:?}");
    }
}

#[test]
fn native_sections_and_options() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "1_idx.sql",
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (c);\n\n-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY i;\n",
        )],
    );
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    let migration = &set.migrations[0];
    assert!(!migration.up.transaction);
    assert!(!migration.down.as_ref().unwrap().transaction);
    assert_eq!(migration.up.first_line, 2);
    assert_eq!(migration.down.as_ref().unwrap().first_line, 5);
}

#[test]
fn empty_migrations_have_pinned_checksums() {
    // M03: zero-byte and comment-only migrations load, and their checksums never change.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("1_empty.sql", ""), ("2_comment.sql", "-- intentionally empty\n")],
    );
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    assert_eq!(
        set.migrations[0].checksum,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        set.migrations[1].checksum,
        "022a7f42d76ffe4fdbca26e19829d271c4ffc6d5b5dd9f14c92df0e0b7923a5d"
    );
    assert_eq!(set.migrations[1].checksum, checksum("-- intentionally empty\n"));
}

#[test]
fn require_down_rejects_missing_down() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("1_a.sql", "-- migrate:up\nCREATE TABLE a (id int);\n")],
    );
    let error = load_dir(
        dir.path(),
        LoadOptions {
            dialect: Dialect::Postgres,
            require_down: true,
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("has no down script"), "{error}");
}

#[test]
fn empty_down_counts_as_missing() {
    // A down of only `-- Not reversible` would delete the history row and change nothing.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "1_a.sql",
            "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\n-- Not reversible\n",
        )],
    );
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    assert!(set.migrations[0].down.is_none());
}

#[test]
fn diesel_loose_files_are_not_migrations() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("2024-01-01-000000_a/up.sql", "CREATE TABLE a (id int);"),
            ("2024-01-01-000000_a/down.sql", "DROP TABLE a;"),
            ("data_seed.sql", "INSERT INTO a VALUES (1);"),
            ("README.md", "# migrations"),
        ],
    );
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    assert_eq!(set.format, Some(Format::Diesel));
    assert_eq!(set.migrations.len(), 1);
}

#[test]
fn broken_down_blocks_only_rollback() {
    // A down script that cannot run as marked is a warning at load time and stops only a
    // rollback of that migration.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "1_idx.sql",
            "-- migrate:up\nDROP INDEX i;\n-- migrate:down\nCREATE INDEX CONCURRENTLY i ON t (c);\n",
        )],
    );
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    assert_eq!(set.migrations[0].down_problems.len(), 1);
    assert!(
        set.warnings.iter().any(|w| w.line == Some(4)),
        "{:?}",
        set.warnings
    );

    let history = [underpin_migrate::history::AppliedMigration {
        version: set.migrations[0].version.clone(),
        name: "idx".into(),
        checksum: set.migrations[0].checksum.clone(),
        checksum_algorithm: underpin_migrate::checksum::ALGORITHM.into(),
        status: underpin_migrate::history::RowStatus::Applied,
        applied_at: String::new(),
        execution_ms: 0,
        applied_by: String::new(),
        statements_done: None,
        statements_total: None,
        progress_checksum: None,
        error: None,
    }];
    let request = underpin_migrate::Request::Down {
        to: None,
        step: None,
        all: false,
    };
    let error = underpin_migrate::plan::plan(&set.migrations, &history, &request).unwrap_err();
    assert!(error.to_string().contains("CREATE INDEX CONCURRENTLY"), "{error}");
}

#[test]
fn mixed_layouts_are_reported() {
    // One diesel-style folder must not hide the plain migration files beside it.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("20261201090000_create_users.sql", "CREATE TABLE users (id int);"),
            ("20261201090400_extra/up.sql", "SELECT 1;"),
        ],
    );
    let found = problems(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("20261201090000_create_users.sql") && found[0].contains("mixes two layouts"),
        "{}",
        found[0]
    );
}

#[test]
fn subfolders_outside_diesel_are_skipped_with_warning() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("2_b.sql", "SELECT 2;"),
            ("archive/1_a.sql", "SELECT 1;"),
            ("archive/notes.txt", "old"),
        ],
    );
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    assert_eq!(set.migrations.len(), 1);
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(
        set.warnings[0].message.contains("`archive`"),
        "{}",
        set.warnings[0]
    );
}

#[test]
fn large_folder_loads_in_order() {
    // Hundreds of files load in version order with their whole text.
    let dir = tempfile::tempdir().unwrap();
    for n in 1..=600 {
        std::fs::write(
            dir.path().join(format!("{n}_m{n}.sql")),
            format!("CREATE TABLE t{n} (id int);\n"),
        )
        .unwrap();
    }
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    let versions: Vec<String> = set.migrations.iter().map(|m| m.version.to_string()).collect();
    let expected: Vec<String> = (1..=600).map(|n| n.to_string()).collect();
    assert_eq!(versions, expected);
    assert_eq!(set.migrations[599].up.sql, "CREATE TABLE t600 (id int);\n");
}

#[test]
fn special_and_dangling_files_are_problems() {
    // A FIFO would block the read and /dev/zero never ends: neither is opened.
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_ok.sql", "SELECT 1;")]);
    let fifo = dir.path().join("2_fifo.sql");
    let mkfifo = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(mkfifo.success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("3_zero.sql")).unwrap();
    std::os::unix::fs::symlink("gone.sql", dir.path().join("4_dangling.sql")).unwrap();

    let found = problems(dir.path());

    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[0].contains("2_fifo.sql: cannot read the file: not a regular file"),
        "{found:?}"
    );
    assert!(
        found[1].contains("3_zero.sql: cannot read the file: not a regular file"),
        "{found:?}"
    );
    assert!(
        found[2].contains("4_dangling.sql: cannot read the file"),
        "{found:?}"
    );
    assert!(
        found[2].contains("symbolic link points at an existing file"),
        "{found:?}"
    );
}

#[test]
fn unclosed_quote_in_no_transaction_migration() {
    // Statement by statement, the first statement would run before the second failed.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "1_a.sql",
            "-- migrate:up transaction:false\nCREATE TABLE a (id int);\nSELECT $x$ never closed;\n",
        )],
    );
    let found = problems(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("1_a.sql:3: the dollar-quoted body that starts at column 8 is never closed"),
        "{found:?}"
    );
    assert!(found[0].contains("add the closing `$tag$`"), "{found:?}");

    // In one transaction the server rejects the whole script, so nothing is reported.
    write_files(
        dir.path(),
        &[("1_a.sql", "CREATE TABLE a (id int);\nSELECT 'open;\n")],
    );
    load_dir(dir.path(), LoadOptions::default()).unwrap();
}

#[test]
fn folder_errors_name_their_own_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = load_dir(&dir.path().join("nope"), LoadOptions::default()).unwrap_err();
    assert!(missing.problems[0].fix.starts_with("create it"), "{missing}");

    let file = dir.path().join("file.sql");
    std::fs::write(&file, "SELECT 1;").unwrap();
    let not_folder = load_dir(&file, LoadOptions::default()).unwrap_err();
    assert!(
        not_folder.problems[0]
            .fix
            .contains("must name a folder, not a file"),
        "{not_folder}"
    );
}

#[test]
fn upper_case_extension_warns() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("1_a.sql", "SELECT 1;"), ("2_b.SQL", "SELECT 2;")]);
    let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
    assert_eq!(set.migrations.len(), 1);
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(
        set.warnings[0].message.contains("ends in `.SQL`"),
        "{:?}",
        set.warnings
    );
}

#[test]
fn down_location_follows_the_layout() {
    let cases = [
        (
            vec![("1_a.sql", "CREATE TABLE a (id int);")],
            "a `-- migrate:down` section with statements in",
        ),
        (vec![("1_a.up.sql", "CREATE TABLE a (id int);")], "1_a.down.sql"),
        (
            vec![("V1.1__add_a.sql", "CREATE TABLE a (id int);")],
            "U1.1__add_a.sql",
        ),
        (
            vec![("2024-01-01-000000_a/up.sql", "CREATE TABLE a (id int);")],
            "2024-01-01-000000_a/down.sql",
        ),
    ];
    for (files, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &files);
        let set = load_dir(dir.path(), LoadOptions::default()).unwrap();
        let location = set.migrations[0].down_location();
        assert!(location.contains(expected), "{files:?}: {location}");
    }
}

#[test]
fn load_error_keeps_warnings() {
    // Fixing the problems must not reveal warnings that were there all along.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("1_a.sql", "SELECT 1;"),
            ("01_b.sql", "SELECT 2;"),
            ("2_c.SQL", "SELECT 3;"),
        ],
    );
    let error = load_dir(dir.path(), LoadOptions::default()).unwrap_err();
    assert_eq!(error.problems.len(), 1, "{error}");
    assert_eq!(error.warnings.len(), 1, "{:?}", error.warnings);
    assert!(
        error.warnings[0].message.contains("ends in `.SQL`"),
        "{:?}",
        error.warnings
    );
}
