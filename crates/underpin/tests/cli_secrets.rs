//! Database passwords never reach stdout or stderr: on success and on failure (connection
//! refused, SQL error, lock timeout), with trace logging, JSON logs and JSON output, whether
//! the URL comes from `--database-url`, `DATABASE_URL`, `underpin.toml` or `.env`.

mod common;

use std::time::{Duration, Instant};

use common::{Outcome, PgDb, Project, run_command, unused_port};

/// The password of URLs that point at a port where no server listens.
const REFUSED_PASSWORD: &str = "Sup3rS3cret";

/// The password of a real login role. The test clusters trust every connection, so the
/// server ignores it, but it is part of every URL the binary gets.
const ROLE_PASSWORD: &str = "Pw-9f8e7d";

/// Output settings each command runs with: default, trace logs, JSON logs, JSON reports.
const OUTPUT_MODES: &[&[&str]] = &[
    &[],
    &["-vvv"],
    &["-vvv", "--log-json"],
    &["--format", "json"],
    &["-vvv", "--log-json", "--format", "json"],
];

/// Every migrate subcommand that opens a database.
// NOTE: `baseline --version V` is missing because it panics in debug builds before it
// connects; cli_sqlite's ignored `baseline_adopts_existing_database` covers that bug.
const DATABASE_COMMANDS: &[&[&str]] = &[
    &["up"],
    &["up", "--dry-run"],
    &["down"],
    &["redo"],
    &["status"],
    &["validate"],
    &["repair"],
    &["lock", "status"],
    &["lock", "release"],
];

fn assert_hidden(outcome: &Outcome, secret: &str) {
    assert!(
        !outcome.stdout.contains(secret),
        "the password {secret:?} is in stdout\n{outcome}"
    );
    assert!(
        !outcome.stderr.contains(secret),
        "the password {secret:?} is in stderr\n{outcome}"
    );
}

/// `underpin migrate --database-url URL MODE… COMMAND…`.
fn migrate(project: &Project, url: &str, mode: &[&str], command: &[&str]) -> Outcome {
    let mut args = mode.to_vec();
    args.extend_from_slice(command);
    project.migrate(url, &args)
}

fn simple_project() -> Project {
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
    project
}

#[test]
fn connection_refused_hides_password() {
    let project = simple_project();
    let port = unused_port();
    let urls = [
        format!("postgres://postgres:{REFUSED_PASSWORD}@127.0.0.1:{port}/x"),
        format!("postgresql://postgres:{REFUSED_PASSWORD}@127.0.0.1:{port}/x?sslmode=disable"),
        format!("postgres://postgres@127.0.0.1:{port}/x?password={REFUSED_PASSWORD}"),
    ];

    for url in &urls {
        for mode in OUTPUT_MODES {
            for command in DATABASE_COMMANDS {
                let outcome = migrate(&project, url, mode, command);

                assert_hidden(&outcome, REFUSED_PASSWORD);
                outcome.expect_code(1);
                assert!(
                    outcome.stdout.contains("cannot connect") || outcome.stderr.contains("cannot connect"),
                    "no connection error\n{outcome}"
                );
                // The URL is shown, with the password masked.
                assert!(
                    outcome.stdout.contains("***") || outcome.stderr.contains("***"),
                    "the error does not show the masked URL\n{outcome}"
                );
            }
        }
    }
}

#[test]
fn invalid_url_hides_password() {
    let project = simple_project();
    let urls = [
        format!("postgres://postgres:{REFUSED_PASSWORD}@127.0.0.1:notaport/x"),
        format!("postgres://postgres:{REFUSED_PASSWORD}@127.0.0.1 :5432/x"),
        format!("mysql://root:{REFUSED_PASSWORD}@127.0.0.1/x"),
    ];

    for url in &urls {
        for mode in OUTPUT_MODES {
            let outcome = migrate(&project, url, mode, &["status"]);

            assert_hidden(&outcome, REFUSED_PASSWORD);
            outcome.expect_code(2);
        }
    }
}

#[test]
fn database_url_variable_hides_password() {
    let project = simple_project();
    let url = format!(
        "postgres://postgres:{REFUSED_PASSWORD}@127.0.0.1:{}/x",
        unused_port()
    );

    for mode in OUTPUT_MODES {
        for command in [&["up"][..], &["status"], &["lock", "status"]] {
            let mut args = vec!["migrate"];
            args.extend_from_slice(mode);
            args.extend_from_slice(command);
            let mut process = project.command();
            process.env("DATABASE_URL", &url).args(&args);

            let outcome = run_command(
                &mut process,
                &format!("DATABASE_URL=… underpin {}", args.join(" ")),
            );

            assert_hidden(&outcome, REFUSED_PASSWORD);
            outcome.expect_code(1);
        }
    }
}

#[test]
fn real_password_hidden_on_success() {
    let db = PgDb::create_with_owner("secret_ok", ROLE_PASSWORD);
    let project = simple_project();
    let commands: &[&[&str]] = &[
        &["up"],
        &["status"],
        &["validate"],
        &["repair"],
        &["lock", "status"],
        &["redo"],
        &["down", "--all"],
        &["up", "--dry-run"],
    ];

    for mode in OUTPUT_MODES {
        for command in commands {
            let outcome = migrate(&project, &db.url, mode, command);

            assert_hidden(&outcome, ROLE_PASSWORD);
            outcome.expect_success();
        }
    }

    // The runs really connected as the role whose password is in the URL.
    migrate(&project, &db.url, &[], &["up"]).expect_success();
    let owner = db.owner().expect("the database has an owner role");
    for applied_by in db.strings("SELECT applied_by FROM underpin_migrations") {
        assert!(applied_by.starts_with(owner), "applied_by = {applied_by:?}");
    }
}

#[test]
fn real_password_hidden_on_unknown_database() {
    let db = PgDb::create_with_owner("secret_nodb", ROLE_PASSWORD);
    let project = simple_project();
    let url = db.url.replace(&format!("/{}", db.name), "/no_such_database");

    for mode in OUTPUT_MODES {
        let outcome = migrate(&project, &url, mode, &["up"]);

        assert_hidden(&outcome, ROLE_PASSWORD);
        outcome.expect_code(1);
        assert!(
            outcome.stdout.contains("no_such_database") || outcome.stderr.contains("no_such_database"),
            "the error does not name the database\n{outcome}"
        );
    }
}

#[test]
fn real_password_hidden_on_sql_error() {
    let db = PgDb::create_with_owner("secret_sql", ROLE_PASSWORD);
    let transactional = Project::new();
    transactional.native("001_ok.sql", "CREATE TABLE ok (id int);", None);
    transactional.native("002_fail.sql", "CREATE TABLE half (id int);\nSELECT 1/0;", None);
    let other_db = PgDb::create_with_owner("secret_sql_notx", ROLE_PASSWORD);
    let no_transaction = Project::new();
    no_transaction.write(
        "migrations/001_fail.sql",
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY missing_idx ON no_such_table (id);\n",
    );

    for mode in OUTPUT_MODES {
        for (project, url) in [(&transactional, &db.url), (&no_transaction, &other_db.url)] {
            let outcome = migrate(project, url, mode, &["up"]);

            assert_hidden(&outcome, ROLE_PASSWORD);
            outcome.expect_code(1);

            // The failed no-transaction attempt is in history with its error message.
            let status = migrate(project, url, mode, &["status"]);
            assert_hidden(&status, ROLE_PASSWORD);
            status.expect_success();
        }
    }
    assert_eq!(db.history(), ["1:applied"]);
    assert_eq!(other_db.history(), ["1:failed"]);
}

#[test]
fn real_password_hidden_on_lock_timeout() {
    let db = PgDb::create_with_owner("secret_lock", ROLE_PASSWORD);
    let project = Project::new();
    project.native("001_sleep.sql", "SELECT pg_sleep(60);", None);
    project.write(
        "underpin.toml",
        &format!(
            "[env.app]\nurl = \"postgres://{owner}:${{TEST_DB_PASSWORD}}@{server}/{name}\"\n",
            owner = db.owner().expect("the database has an owner role"),
            server = db.host_port(),
            name = db.name,
        ),
    );
    let mut holder = project.spawn(&["migrate", "--database-url", &db.url, "-vvv", "up"]);
    wait_for_lock_holder(&project, &db.url);

    for mode in OUTPUT_MODES {
        let from_flag = migrate(&project, &db.url, mode, &["up", "--lock-timeout", "1"]);
        let mut args = vec!["migrate", "--env", "app"];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["up", "--lock-timeout", "1"]);
        let mut process = project.command();
        process.env("TEST_DB_PASSWORD", ROLE_PASSWORD).args(&args);
        let from_config = run_command(&mut process, &common::describe(&args));

        for outcome in [from_flag, from_config] {
            assert_hidden(&outcome, ROLE_PASSWORD);
            outcome.expect_code(1);
            assert!(
                outcome.stdout.contains("lock_timeout") || outcome.stderr.contains("timed out"),
                "no lock timeout reported\n{outcome}"
            );
        }
    }

    // Ending the holder's session fails the holder's run: one more failure path.
    for mode in [&["-vvv", "--log-json"][..], &["--format", "json"]] {
        let release = migrate(&project, &db.url, mode, &["lock", "release"]);
        assert_hidden(&release, ROLE_PASSWORD);
        release.expect_success();
    }
    let holder_outcome = holder.wait(Duration::from_secs(30));
    assert_hidden(&holder_outcome, ROLE_PASSWORD);
    holder_outcome.expect_code(1);
}

/// Polls `lock status` until some session holds the migration lock.
fn wait_for_lock_holder(project: &Project, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = project.migrate(url, &["--format", "json", "lock", "status"]);
        let report = status.expect_success().json();
        if report["holders"].as_array().is_some_and(|h| !h.is_empty()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no session took the migration lock within 30 s\n{status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn config_file_password_hidden() {
    let db = PgDb::create_with_owner("secret_config", ROLE_PASSWORD);
    let owner = db.owner().expect("the database has an owner role");
    let server = db.host_port();
    let project = simple_project();
    // broken/ contains the same migrations plus one that fails.
    for file in ["001_create_t.sql", "002_index_t.sql"] {
        let text = std::fs::read_to_string(project.migrations_dir().join(file)).unwrap();
        project.write(&format!("broken/{file}"), &text);
    }
    project.write("broken/003_fail.sql", "-- migrate:up\nSELECT 1/0;\n");
    project.write(
        "underpin.toml",
        &format!(
            "[env.app]\nurl = \"postgres://{owner}:${{TEST_DB_PASSWORD}}@{server}/{name}\"\n\n\
             [env.refused]\nurl = \"postgres://{owner}:${{TEST_DB_PASSWORD}}@127.0.0.1:{port}/{name}\"\n\n\
             [env.dotenv]\nurl = \"postgres://{owner}:${{UNDERPIN_CLI_TEST_DOTENV_PASSWORD}}@{server}/{name}\"\n",
            name = db.name,
            port = unused_port(),
        ),
    );
    project.write(
        ".env",
        &format!("UNDERPIN_CLI_TEST_DOTENV_PASSWORD={ROLE_PASSWORD}\n"),
    );
    let cases: &[(&[&str], i32)] = &[
        (&["--env", "app", "up"], 0),
        (&["--env", "app", "status"], 0),
        (&["--env", "app", "lock", "status"], 0),
        (&["--env", "app", "--dir", "broken", "up"], 1),
        (&["--env", "refused", "status"], 1),
        (&["--env", "refused", "up"], 1),
        (&["--env", "dotenv", "status"], 0),
        (&["--env", "dotenv", "--dir", "broken", "up"], 1),
        (&["--env", "dotenv", "down", "--all"], 0),
    ];

    for mode in OUTPUT_MODES {
        for (command, code) in cases {
            let mut args = vec!["migrate"];
            args.extend_from_slice(mode);
            args.extend_from_slice(command);
            let mut process = project.command();
            process.env("TEST_DB_PASSWORD", ROLE_PASSWORD).args(&args);

            let outcome = run_command(&mut process, &common::describe(&args));

            assert_hidden(&outcome, ROLE_PASSWORD);
            outcome.expect_code(*code);
        }
    }
}
