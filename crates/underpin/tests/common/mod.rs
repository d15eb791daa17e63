//! Helpers shared by the CLI tests: a project folder with migration files, the `underpin`
//! binary run inside it, and scratch PostgreSQL databases and SQLite files that the tests
//! query directly to check what the binary reports.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::fmt;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};
use tempfile::TempDir;

/// The variable holding a PostgreSQL superuser URL. scripts/test.sh sets it.
pub const PG_URL_VAR: &str = "UNDERPIN_TEST_PG_URL";

/// How long one `underpin` command may run before the test kills it and fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Variables of the caller's environment that would change which database or log level
/// the binary picks.
const INHERITED_SETTINGS: &[&str] = &["DATABASE_URL", "UNDERPIN_ENV", "RUST_LOG"];

/// A temporary project folder holding `migrations/` and whatever else a test writes.
pub struct Project {
    dir: TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::Builder::new()
            .prefix("underpin-cli-")
            .tempdir()
            .expect("create a temporary project folder");
        std::fs::create_dir(dir.path().join("migrations")).expect("create migrations/");
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn migrations_dir(&self) -> PathBuf {
        self.path().join("migrations")
    }

    /// Writes `contents` to `relative` under the project, creating folders as needed.
    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the parent folder");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Writes a native migration `migrations/<file>` with an up and an optional down section.
    pub fn native(&self, file: &str, up: &str, down: Option<&str>) -> PathBuf {
        let mut text = format!("-- migrate:up\n{up}\n");
        if let Some(down) = down {
            text.push_str(&format!("\n-- migrate:down\n{down}\n"));
        }
        self.write(&format!("migrations/{file}"), &text)
    }

    /// Builds the binary's command with the project folder as working directory.
    pub fn command(&self) -> assert_cmd::Command {
        command_in(self.path())
    }

    /// Builds the command of [`Project::command`] as a std command, for tests that spawn
    /// processes and wait for them later.
    pub fn spawnable(&self) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("underpin"));
        command.current_dir(self.path());
        for name in INHERITED_SETTINGS {
            command.env_remove(name);
        }
        command
    }

    /// Starts `underpin ARGS…` in the project folder without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        let mut command = self.spawnable();
        command.args(args);
        Spawned::start(command, describe(args))
    }

    /// Runs `underpin ARGS…` in the project folder.
    pub fn run(&self, args: &[&str]) -> Outcome {
        run_in(self.path(), args)
    }

    /// Runs `underpin docs --database-url URL --out docs ARGS…` in the project folder.
    pub fn docs(&self, url: &str, args: &[&str]) -> Outcome {
        let mut all = vec!["docs", "--database-url", url, "--out", "docs"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Runs `underpin migrate --database-url URL ARGS…` in the project folder.
    pub fn migrate(&self, url: &str, args: &[&str]) -> Outcome {
        let mut all = vec!["migrate", "--database-url", url];
        all.extend_from_slice(args);
        self.run(&all)
    }
}

/// Builds the binary's command with `dir` as working directory and none of the caller's
/// database settings.
pub fn command_in(dir: &Path) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("underpin").expect("the underpin binary is built");
    command.current_dir(dir).timeout(COMMAND_TIMEOUT);
    for name in INHERITED_SETTINGS {
        command.env_remove(name);
    }
    command
}

/// Runs `underpin ARGS…` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Outcome {
    let mut command = command_in(dir);
    command.args(args);
    Outcome::from_output(describe(args), command.output().expect("run underpin"))
}

/// Runs a prepared command. `label` names it in failure messages.
pub fn run_command(command: &mut assert_cmd::Command, label: &str) -> Outcome {
    Outcome::from_output(label.to_string(), command.output().expect("run underpin"))
}

pub fn describe(args: &[&str]) -> String {
    format!("underpin {}", args.join(" "))
}

/// A running `underpin` process. Its output goes to files, so a chatty process never blocks
/// on a full pipe while the test waits for something else. Dropping it kills the process.
pub struct Spawned {
    label: String,
    child: Child,
    output_dir: TempDir,
    started: Instant,
}

impl Spawned {
    pub fn start(mut command: std::process::Command, label: String) -> Spawned {
        let output_dir = tempfile::tempdir().expect("create a folder for process output");
        let stdout = File::create(output_dir.path().join("stdout")).expect("create the stdout file");
        let stderr = File::create(output_dir.path().join("stderr")).expect("create the stderr file");
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {label}: {e}"));
        Spawned {
            label,
            child,
            output_dir,
            started: Instant::now(),
        }
    }

    /// When the process was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Returns the outcome if the process has exited, without waiting.
    pub fn try_outcome(&mut self) -> Option<Outcome> {
        let status = self.child.try_wait().expect("poll the process")?;
        Some(self.outcome(status.code()))
    }

    /// Sends a signal by name (`INT`, `TERM`) with kill(1) to the process group that the
    /// process leads, as Ctrl-C in a terminal does. Start the command with
    /// `process_group(0)` so the group contains the process and its children only.
    pub fn signal_group(&self, name: &str) {
        let group = format!("-{}", self.child.id());
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), "--", &group])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} -- {group} failed");
    }

    /// Ends the process with SIGKILL, as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        self.child.kill().expect("send SIGKILL");
    }

    /// Waits for the process to exit. After `timeout` it kills the process and fails the test.
    pub fn wait(&mut self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(outcome) = self.try_outcome() {
                return outcome;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {timeout:?}\n{}",
                    self.label,
                    self.outcome(None)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn outcome(&self, code: Option<i32>) -> Outcome {
        let read =
            |name: &str| std::fs::read_to_string(self.output_dir.path().join(name)).unwrap_or_default();
        Outcome {
            command: self.label.clone(),
            code,
            stdout: read("stdout"),
            stderr: read("stderr"),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What one run of the binary printed and how it exited.
pub struct Outcome {
    pub command: String,
    /// The exit code, or `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn from_output(command: String, output: Output) -> Outcome {
        Outcome {
            command,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with the full output unless the process exited with `expected`.
    pub fn expect_code(&self, expected: i32) -> &Outcome {
        assert_eq!(self.code, Some(expected), "unexpected exit code\n{self}");
        self
    }

    pub fn expect_success(&self) -> &Outcome {
        self.expect_code(0)
    }

    /// Parses stdout as exactly one JSON object, with nothing before or after it.
    pub fn json(&self) -> serde_json::Value {
        let value: serde_json::Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not exactly one JSON value: {e}\n{self}"));
        assert!(value.is_object(), "stdout is JSON but not an object\n{self}");
        value
    }

    pub fn stdout_contains(&self, needle: &str) -> &Outcome {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}\n{self}");
        self
    }

    pub fn stderr_contains(&self, needle: &str) -> &Outcome {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n{self}");
        self
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "exit code: {:?}", self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// Versions from a `--format json` run report's `steps` (or another array of steps).
pub fn step_versions(steps: &serde_json::Value) -> Vec<String> {
    steps
        .as_array()
        .unwrap_or_else(|| panic!("steps is not an array: {steps}"))
        .iter()
        .map(|step| {
            step["version"]
                .as_str()
                .expect("step.version is a string")
                .to_string()
        })
        .collect()
}

/// Strings of a JSON array, e.g. `done_by_another_runner`.
pub fn string_array(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|item| item.as_str().expect("array of strings").to_string())
        .collect()
}

/// Runs a future to completion on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start a tokio runtime")
        .block_on(future)
}

/// Finds a port on 127.0.0.1 in 59400-59499 on which nothing listens, for connection failures.
pub fn unused_port() -> u16 {
    // Binding succeeds only where no server listens. The offset spreads parallel tests out.
    let offset = std::process::id() % 100;
    (0..100)
        .map(|i| 59400 + ((offset + i) % 100) as u16)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("every port in 59400-59499 is taken")
}

/// Reads the superuser URL from `UNDERPIN_TEST_PG_URL` and fails the test when it is unset.
pub fn pg_admin_url() -> String {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{PG_URL_VAR} is not set. This test needs a PostgreSQL superuser URL such as \
             postgres://postgres@127.0.0.1:59432/postgres: run `bash scripts/test.sh -p underpin`, \
             or start a cluster with `bash scripts/pg-cluster.sh start /usr/lib/postgresql/15/bin \
             /tmp/DIR 59432` and export the URL it prints"
        ),
    }
}

static DATABASE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A scratch PostgreSQL database, dropped (with its owner role, if any) when this drops.
pub struct PgDb {
    pub name: String,
    /// Connects as the superuser, or as the owner role when there is one.
    pub url: String,
    admin_url: String,
    owner: Option<String>,
}

impl PgDb {
    /// Creates a database named after `label`, the process id and a counter, so tests that
    /// nextest runs in parallel never share one.
    pub fn create(label: &str) -> PgDb {
        let admin_url = pg_admin_url();
        let name = unique_name(label);
        admin_execute(&admin_url, &format!("CREATE DATABASE {name}"));
        PgDb {
            url: with_path(&admin_url, &name, None),
            name,
            admin_url,
            owner: None,
        }
    }

    /// Creates a login role with `password` and a database it owns; `url` connects as that
    /// role and contains the password. The test clusters trust every connection, so the
    /// server does not check the password, but it is still in every URL the binary gets.
    pub fn create_with_owner(label: &str, password: &str) -> PgDb {
        let admin_url = pg_admin_url();
        let name = unique_name(label);
        let role = format!("{name}_owner");
        admin_execute(
            &admin_url,
            &format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
        );
        admin_execute(&admin_url, &format!("CREATE DATABASE {name} OWNER {role}"));
        PgDb {
            url: with_path(&admin_url, &name, Some((&role, password))),
            name,
            admin_url,
            owner: Some(role),
        }
    }

    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The server's host and port, e.g. `127.0.0.1:59432`.
    pub fn host_port(&self) -> String {
        let url = url::Url::parse(&self.admin_url).expect("the admin URL parses");
        format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(5432)
        )
    }

    /// Runs SQL in this database as the superuser.
    pub fn execute(&self, sql: &str) {
        let url = with_path(&self.admin_url, &self.name, None);
        execute_on(&url, sql);
    }

    /// Queries this database as the superuser and returns the first column of every row as
    /// text (NULL becomes "NULL").
    pub fn strings(&self, sql: &str) -> Vec<String> {
        let url = with_path(&self.admin_url, &self.name, None);
        block_on(async {
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("connect to {}: {e}", self.name));
            let rows: Vec<Option<String>> = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.into_iter()
                .map(|value| value.unwrap_or_else(|| "NULL".to_string()))
                .collect()
        })
    }

    pub fn table_exists(&self, name: &str) -> bool {
        self.strings(&format!("SELECT (to_regclass('{name}') IS NOT NULL)::text")) == ["true"]
    }

    /// Checks that an index of that name exists and is valid (a failed concurrent build
    /// leaves an invalid one behind).
    pub fn valid_index_exists(&self, name: &str) -> bool {
        self.strings(&format!(
            "SELECT count(*)::text FROM pg_index WHERE indexrelid = to_regclass('{name}') AND indisvalid"
        )) == ["1"]
    }

    /// Asserts that a JSON value is an RFC 3339 timestamp, as `applied_at` must be.
    pub fn assert_rfc3339(value: &serde_json::Value, outcome: &Outcome) {
        let text = value
            .as_str()
            .unwrap_or_else(|| panic!("not a string: {value}\n{outcome}"));
        let parsed: Result<jiff::Timestamp, _> = text.parse();
        assert!(parsed.is_ok(), "`{text}` is not RFC 3339\n{outcome}");
    }

    /// Lists `version:status` of every history row in version order, or nothing when the
    /// history table does not exist.
    pub fn history(&self) -> Vec<String> {
        if !self.table_exists("public.underpin_migrations") {
            return Vec::new();
        }
        self.strings(
            "SELECT version || ':' || status FROM public.underpin_migrations ORDER BY length(version), version",
        )
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Panicking here while a failed test unwinds would abort the run, so failures are
        // only printed.
        let drop_database = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = block_on(try_execute(&self.admin_url, &drop_database)) {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
        if let Some(role) = &self.owner
            && let Err(error) = block_on(try_execute(
                &self.admin_url,
                &format!("DROP ROLE IF EXISTS {role}"),
            ))
        {
            eprintln!("could not drop test role {role}: {error}");
        }
    }
}

fn unique_name(label: &str) -> String {
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    let counter = DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("cli_{label}_{}_{counter}", std::process::id())
}

/// `admin_url` with another database and, optionally, another user and password.
fn with_path(admin_url: &str, database: &str, login: Option<(&str, &str)>) -> String {
    let mut url =
        url::Url::parse(admin_url).unwrap_or_else(|e| panic!("{PG_URL_VAR} is not a URL ({e}): {admin_url}"));
    url.set_path(database);
    if let Some((user, password)) = login {
        url.set_username(user).expect("the URL takes a user name");
        url.set_password(Some(password))
            .expect("the URL takes a password");
    }
    url.to_string()
}

fn admin_execute(admin_url: &str, sql: &str) {
    execute_on(admin_url, sql);
}

fn execute_on(url: &str, sql: &str) {
    if let Err(error) = block_on(try_execute(url, sql)) {
        panic!("{sql}: {error}");
    }
}

async fn try_execute(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await?;
    conn.close().await
}

/// Queries a SQLite file and returns the first column of every row as text.
pub fn sqlite_strings(path: &Path, sql: &str) -> Vec<String> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))
        .expect("a SQLite URL");
    block_on(async {
        let mut conn = sqlx::ConnectOptions::connect(&options)
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let rows: Vec<Option<String>> = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql} on {}: {e}", path.display()));
        rows.into_iter()
            .map(|value| value.unwrap_or_else(|| "NULL".to_string()))
            .collect()
    })
}

/// Runs SQL on a SQLite file.
pub fn sqlite_execute(path: &Path, sql: &str) {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))
        .expect("a SQLite URL");
    block_on(async {
        let mut conn = sqlx::ConnectOptions::connect(&options)
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql} on {}: {e}", path.display()));
    });
}

/// Lists the tables of a SQLite file, sorted, or nothing when the file does not exist.
pub fn sqlite_tables(path: &Path) -> Vec<String> {
    if !path.exists() {
        return Vec::new();
    }
    sqlite_strings(
        path,
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
    )
}

/// Asserts that a JSON value is an RFC 3339 timestamp, as `applied_at` must be.
pub fn assert_rfc3339(value: &serde_json::Value, outcome: &Outcome) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}\n{outcome}"));
    let parsed: Result<jiff::Timestamp, _> = text.parse();
    assert!(parsed.is_ok(), "`{text}` is not RFC 3339\n{outcome}");
}

/// Lists `version:status` of every history row of a SQLite file in version order.
pub fn sqlite_history(path: &Path) -> Vec<String> {
    if !sqlite_tables(path).iter().any(|t| t == "underpin_migrations") {
        return Vec::new();
    }
    sqlite_strings(
        path,
        "SELECT version || ':' || status FROM underpin_migrations ORDER BY length(version), version",
    )
}
