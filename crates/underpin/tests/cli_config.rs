//! `underpin.toml` through the binary: `--env`, `${VAR}` interpolation, `.env` beside the
//! file, and errors that name the file and line. The environments point at SQLite files.

mod common;

use common::{Project, run_command, run_in, sqlite_history};

fn one_migration(project: &Project) {
    project.native(
        "001_create_items.sql",
        "CREATE TABLE items (id INTEGER);",
        Some("DROP TABLE items;"),
    );
}

#[test]
fn env_flag_picks_environment() {
    let project = Project::new();
    one_migration(&project);
    project.write(
        "underpin.toml",
        "default_env = \"dev\"\n\n[env.dev]\nurl = \"sqlite:dev.db\"\n\n[env.ci]\nurl = \"sqlite:ci.db\"\n",
    );
    let dev = project.path().join("dev.db");
    let ci = project.path().join("ci.db");

    project.run(&["migrate", "--env", "ci", "up"]).expect_success();

    assert_eq!(sqlite_history(&ci), ["1:applied"]);
    assert!(!dev.exists(), "--env ci also touched dev.db");

    // Without --env, default_env decides.
    project.run(&["migrate", "up"]).expect_success();
    assert_eq!(sqlite_history(&dev), ["1:applied"]);

    // UNDERPIN_ENV is the flag's environment variable.
    let mut command = project.command();
    command.env("UNDERPIN_ENV", "ci").args(["migrate", "down"]);
    let outcome = run_command(&mut command, "UNDERPIN_ENV=ci underpin migrate down");
    outcome.expect_success();
    assert_eq!(sqlite_history(&ci), Vec::<String>::new(), "{outcome}");
    assert_eq!(sqlite_history(&dev), ["1:applied"], "{outcome}");
}

#[test]
fn undefined_env_exits_two() {
    let project = Project::new();
    one_migration(&project);
    project.write("underpin.toml", "[env.dev]\nurl = \"sqlite:dev.db\"\n");

    project
        .run(&["migrate", "--env", "staging", "status"])
        .expect_code(2)
        .stderr_contains("staging")
        .stderr_contains("defined: dev");
}

#[test]
fn interpolation_reads_environment() {
    let project = Project::new();
    one_migration(&project);
    project.write(
        "underpin.toml",
        "[env.dev]\nurl = \"sqlite:${UNDERPIN_CLI_TEST_DB}_${UNDERPIN_CLI_TEST_SUFFIX:-main}.db\"\n",
    );

    let mut command = project.command();
    command
        .env("UNDERPIN_CLI_TEST_DB", "interpolated")
        .env_remove("UNDERPIN_CLI_TEST_SUFFIX")
        .args(["migrate", "--env", "dev", "up"]);
    let outcome = run_command(
        &mut command,
        "UNDERPIN_CLI_TEST_DB=interpolated underpin migrate --env dev up",
    );

    outcome.expect_success();
    assert_eq!(
        sqlite_history(&project.path().join("interpolated_main.db")),
        ["1:applied"],
        "{outcome}"
    );
}

#[test]
fn missing_variable_exits_two_naming_it() {
    let project = Project::new();
    one_migration(&project);
    project.write(
        "underpin.toml",
        "[env.prod]\nurl = \"postgres://deploy:${UNDERPIN_CLI_TEST_UNSET_PASSWORD}@127.0.0.1:1/app\"\n",
    );

    let mut command = project.command();
    command
        .env_remove("UNDERPIN_CLI_TEST_UNSET_PASSWORD")
        .args(["migrate", "--env", "prod", "status"]);
    let outcome = run_command(&mut command, "underpin migrate --env prod status");

    outcome
        .expect_code(2)
        .stderr_contains("UNDERPIN_CLI_TEST_UNSET_PASSWORD")
        .stderr_contains("env.prod.url");
}

#[test]
fn dotenv_beside_config_is_read() {
    let project = Project::new();
    one_migration(&project);
    project.write(
        "underpin.toml",
        "[migrate]\ndir = \"migrations\"\n\n[env.dev]\nurl = \"sqlite:${UNDERPIN_CLI_TEST_DOTENV_DB}\"\n",
    );
    project.write(".env", "UNDERPIN_CLI_TEST_DOTENV_DB=from_dotenv.db\n");
    let config = project.path().join("underpin.toml");
    // Another working directory proves the file is found beside the config, not in the
    // current directory.
    let elsewhere = tempfile::tempdir().unwrap();

    let outcome = run_in(
        elsewhere.path(),
        &[
            "migrate",
            "--config",
            config.to_str().unwrap(),
            "--env",
            "dev",
            "up",
        ],
    );

    outcome.expect_success();
    assert_eq!(
        sqlite_history(&project.path().join("from_dotenv.db")),
        ["1:applied"],
        "{outcome}"
    );
}

#[test]
fn unknown_key_names_file_and_line() {
    let cases = [
        (
            "[migrate]\ndir = \"migrations\"\nlock_timout = 5\n",
            3,
            "lock_timout",
        ),
        (
            "default_env = \"dev\"\ndefault_enviroment = \"x\"\n",
            2,
            "default_enviroment",
        ),
        (
            "[env.dev]\nurl = \"sqlite:dev.db\"\n\n[env.prod]\nurl = \"sqlite:prod.db\"\nprotect = true\n",
            6,
            "protect",
        ),
    ];
    for (text, line, key) in cases {
        let project = Project::new();
        one_migration(&project);
        project.write("underpin.toml", text);

        let outcome = project.run(&["migrate", "--config", "underpin.toml", "status"]);

        outcome
            .expect_code(2)
            .stderr_contains(&format!("underpin.toml:{line}"))
            .stderr_contains(key);
    }
}
