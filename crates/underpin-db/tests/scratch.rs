//! Scratch databases against real servers: a temporary database on the test server
//! (`UNDERPIN_TEST_PG_URL`), throwaway clusters from the PostgreSQL 15 and 18 binaries
//! (`UNDERPIN_TEST_PG15_BINDIR`, `UNDERPIN_TEST_PG18_BINDIR`), and SQLite files.
//! `bash scripts/test.sh -p underpin-db` sets all three variables.
//!
//! Each test checks removal from the outside: `pg_database` for a server database, `/proc`
//! for the postmaster and the processes working in the cluster folder, the file system for
//! folders. Tests that must control TMPDIR, panic in a process of their own, or signal the
//! process that creates a cluster run an ignored helper test of this binary in a child
//! process.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};
use underpin_db::{
    DatabaseUrl, ScratchDatabase, ScratchError, ScratchSource, connect_postgres, connect_sqlite, quote_ident,
};

const PG_URL_VAR: &str = "UNDERPIN_TEST_PG_URL";
const PG15_BINDIR_VAR: &str = "UNDERPIN_TEST_PG15_BINDIR";
const PG18_BINDIR_VAR: &str = "UNDERPIN_TEST_PG18_BINDIR";

/// Set in the child process that runs a helper test; its value is the helper's argument.
const CHILD_VAR: &str = "UNDERPIN_SCRATCH_TEST_CHILD";

/// Prefixes of the lines a helper prints; libtest prints `test NAME ... ` before them.
const CLUSTER_MARKER: &str = "scratch cluster: ";
const ERROR_MARKER: &str = "scratch error: ";
const INTERRUPT_MARKER: &str = "scratch helper received SIGINT";

fn required_env(name: &str, example: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set. Run the suite with `bash scripts/test.sh -p underpin-db`, which \
             sets it, or set it yourself, e.g. {name}={example}"
        ),
    }
}

fn admin_url() -> DatabaseUrl {
    let raw = required_env(PG_URL_VAR, "postgres://postgres@127.0.0.1:5432/postgres");
    DatabaseUrl::parse(&raw).unwrap_or_else(|e| panic!("{PG_URL_VAR}: {e}"))
}

fn pg15_bindir() -> PathBuf {
    PathBuf::from(required_env(PG15_BINDIR_VAR, "/usr/lib/postgresql/15/bin"))
}

fn pg18_bindir() -> PathBuf {
    PathBuf::from(required_env(
        PG18_BINDIR_VAR,
        "\"$(bash scripts/pg18-bindir.sh)\"",
    ))
}

fn local_cluster(bindir: &Path) -> ScratchSource {
    ScratchSource::LocalCluster {
        bindir: Some(bindir.to_path_buf()),
    }
}

/// Returns whether a database of this name exists on the admin URL's server.
async fn database_exists(name: &str) -> bool {
    let mut conn = connect_postgres(&admin_url()).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    count > 0
}

/// Returns the scratch databases this process created that still exist.
async fn leftover_databases() -> Vec<String> {
    let mut conn = connect_postgres(&admin_url()).await.unwrap();
    let pattern = format!("underpin\\_scratch\\_{}\\_%", std::process::id());
    sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
        .bind(pattern)
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

async fn admin_execute(sql: &str) {
    let mut conn = connect_postgres(&admin_url()).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Creates a table, writes a row and reads it back.
async fn round_trip_postgres(url: &DatabaseUrl) {
    let mut conn = connect_postgres(url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL); \
         INSERT INTO item VALUES (1, 'first')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let name: String = sqlx::query_scalar("SELECT name FROM item WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(name, "first");
    conn.close().await.unwrap();
}

async fn pg_text(url: &DatabaseUrl, sql: &'static str) -> String {
    let mut conn = connect_postgres(url).await.unwrap();
    let value: String = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    value
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Returns the processes whose working directory lies in `folder`. PostgreSQL's server
/// processes all work in the data directory, so this finds backends and auxiliary
/// processes that outlived the postmaster.
fn processes_working_in(folder: &Path) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(cwd) = std::fs::read_link(entry.path().join("cwd"))
            && cwd.starts_with(folder)
        {
            found.push(pid);
        }
    }
    found
}

/// Returns the real user id from /proc/PID/status.
fn process_uid(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .expect("a Uid line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn is_root() -> bool {
    process_uid(std::process::id()) == 0
}

/// Asserts that the cluster's server and folder are gone.
fn assert_cluster_removed(pid: u32, folder: &Path) {
    assert!(!process_exists(pid), "postmaster {pid} still runs");
    assert!(!folder.exists(), "{} still exists", folder.display());
    assert_eq!(
        processes_working_in(folder),
        Vec::<u32>::new(),
        "processes left in {}",
        folder.display()
    );
}

/// Runs the ignored helper test `name` of this test binary in a child process with TMPDIR
/// set to `tmpdir` and `CHILD_VAR` set to `argument`.
fn run_helper(name: &str, tmpdir: &Path, argument: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("TMPDIR", tmpdir)
        .env(CHILD_VAR, argument)
        .output()
        .unwrap()
}

/// A helper test running in a child process that leads a process group of its own, so that
/// a signal sent to that group reaches the helper and its children but not this process.
/// Its stdout lines arrive while it runs.
struct RunningHelper {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The stdout lines received so far.
    stdout: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl RunningHelper {
    /// Starts the ignored helper test `name` like `run_helper` does.
    fn spawn(name: &str, tmpdir: &Path, argument: &str) -> RunningHelper {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("TMPDIR", tmpdir)
            .env(CHILD_VAR, argument)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        RunningHelper {
            child,
            lines,
            stdout: Vec::new(),
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stdout line that contains `marker` and returns the text after it.
    fn wait_for_line(&mut self, marker: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.split_once(marker).map(|(_, rest)| rest.to_string());
                    self.stdout.push(line);
                    if let Some(rest) = found {
                        return rest;
                    }
                }
                Err(error) => panic!(
                    "the helper printed no line with {marker:?} ({error}); its stdout so far:\n{}",
                    self.stdout.join("\n")
                ),
            }
        }
    }

    /// Waits for the helper to exit and returns its status, whole stdout and stderr.
    fn finish(mut self) -> (ExitStatus, String, String) {
        let status = self.child.wait().unwrap();
        self.stdout.extend(self.lines.iter());
        let stderr = self.stderr.join().unwrap();
        (status, self.stdout.join("\n"), stderr)
    }
}

/// Returns the state letter from /proc/PID/stat (R, S, Z …), or `None` once the process is
/// reaped.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.trim_start().chars().next()
}

/// Returns whether the process runs, counting a zombie as exited: an orphan's zombie stays
/// in /proc until the process that adopted it reaps it.
fn process_running(pid: u32) -> bool {
    process_state(pid).is_some_and(|state| state != 'Z' && state != 'X')
}

/// Waits until a child of `parent` whose command name is `name` runs and returns its PID.
fn wait_for_child_named(parent: u32, name: &str, timeout: Duration) -> Option<u32> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let (Some((head, tail)), Some(open)) = (stat.rsplit_once(')'), stat.find('(')) else {
                continue;
            };
            let command = &head[open + 1..];
            let ppid = tail
                .split_whitespace()
                .nth(1)
                .and_then(|ppid| ppid.parse::<u32>().ok());
            if command == name && ppid == Some(parent) {
                return head[..open].trim().parse().ok();
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn send_signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers; every PID passed here belongs to a process that
    // this test started, directly or through a helper.
    let code = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        code,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// Parses a helper's `CLUSTER_MARKER` line into the postmaster PID and the folder.
fn parse_cluster_line(line: &str) -> (u32, PathBuf) {
    let (pid, folder) = line.split_once(' ').unwrap();
    (pid.parse().unwrap(), PathBuf::from(folder))
}

/// Creates a folder for a child's TMPDIR that the `postgres` user can traverse, since under
/// root the child's cluster runs as that user.
fn child_tmpdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("underpin-scratch-test-")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect()
}

// ---------------------------------------------------------------------------------------
// A temporary database on a server

#[tokio::test]
async fn server_database_create_use_cleanup() {
    let scratch = ScratchDatabase::create(&ScratchSource::server(admin_url()))
        .await
        .unwrap();
    let name = scratch.database_name().unwrap().to_string();
    assert!(
        name.starts_with(&format!("underpin_scratch_{}_", std::process::id())),
        "{name}"
    );
    assert!(database_exists(&name).await);
    assert_eq!(
        pg_text(scratch.url(), "SELECT current_database()::text").await,
        name
    );
    assert_eq!(scratch.folder(), None);
    assert_eq!(scratch.postmaster_pid(), None);

    round_trip_postgres(scratch.url()).await;
    scratch.cleanup().await.unwrap();

    assert!(!database_exists(&name).await, "{name} still exists");
}

#[tokio::test]
async fn server_database_from_template0() {
    let source = ScratchSource::Server {
        admin: admin_url(),
        template: Some("template0".to_string()),
    };
    let scratch = ScratchDatabase::create(&source).await.unwrap();
    let name = scratch.database_name().unwrap().to_string();
    // template0 has only the objects of initdb, so public has no tables.
    let tables = pg_text(
        scratch.url(),
        "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'",
    )
    .await;
    assert_eq!(tables, "0");
    scratch.cleanup().await.unwrap();
    assert!(!database_exists(&name).await);
}

#[tokio::test]
async fn server_missing_template_leaves_nothing() {
    let source = ScratchSource::Server {
        admin: admin_url(),
        template: Some("underpin_no_such_template".to_string()),
    };
    let error = ScratchDatabase::create(&source).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ScratchError::Statement { .. }), "{error:?}");
    assert!(message.contains("underpin_no_such_template"), "{message}");
    assert!(message.contains("3D000"), "{message}");
    assert_eq!(leftover_databases().await, Vec::<String>::new());
}

#[tokio::test]
async fn server_cleanup_ends_open_sessions() {
    let scratch = ScratchDatabase::create(&ScratchSource::server(admin_url()))
        .await
        .unwrap();
    let name = scratch.database_name().unwrap().to_string();
    let mut open = connect_postgres(scratch.url()).await.unwrap();
    sqlx::raw_sql("SELECT 1").execute(&mut open).await.unwrap();

    scratch.cleanup().await.unwrap();

    assert!(!database_exists(&name).await);
    assert!(
        sqlx::raw_sql("SELECT 1").execute(&mut open).await.is_err(),
        "the session in the dropped database still answers"
    );
}

#[tokio::test]
async fn server_guard_drop_removes_database() {
    let scratch = ScratchDatabase::create(&ScratchSource::server(admin_url()))
        .await
        .unwrap();
    let name = scratch.database_name().unwrap().to_string();
    round_trip_postgres(scratch.url()).await;

    drop(scratch);

    assert!(!database_exists(&name).await, "{name} still exists");
}

#[test]
fn server_guard_drop_after_runtime_ends() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scratch = runtime
        .block_on(ScratchDatabase::create(&ScratchSource::server(admin_url())))
        .unwrap();
    let name = scratch.database_name().unwrap().to_string();
    drop(runtime);

    drop(scratch);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(!runtime.block_on(database_exists(&name)), "{name} still exists");
}

#[tokio::test]
async fn server_panic_in_user_code_removes_database() {
    let (sender, receiver) = std::sync::mpsc::channel();
    let task = tokio::spawn(async move {
        let scratch = ScratchDatabase::create(&ScratchSource::server(admin_url()))
            .await
            .unwrap();
        sender.send(scratch.database_name().unwrap().to_string()).unwrap();
        round_trip_postgres(scratch.url()).await;
        panic!("user code fails while the scratch database exists");
    });

    let joined = task.await;

    assert!(joined.unwrap_err().is_panic());
    let name = receiver.recv().unwrap();
    assert!(!database_exists(&name).await, "{name} still exists");
}

#[tokio::test]
async fn server_two_databases_do_not_collide() {
    let source = ScratchSource::server(admin_url());
    let (first, second) = tokio::join!(ScratchDatabase::create(&source), ScratchDatabase::create(&source));
    let (first, second) = (first.unwrap(), second.unwrap());
    let first_name = first.database_name().unwrap().to_string();
    let second_name = second.database_name().unwrap().to_string();
    assert_ne!(first_name, second_name);

    round_trip_postgres(first.url()).await;
    // The table exists in the first database only.
    let in_second = pg_text(second.url(), "SELECT (to_regclass('public.item') IS NULL)::text").await;
    assert_eq!(in_second, "true");
    round_trip_postgres(second.url()).await;

    first.cleanup().await.unwrap();
    assert!(!database_exists(&first_name).await);
    assert!(database_exists(&second_name).await);
    second.cleanup().await.unwrap();
    assert!(!database_exists(&second_name).await);
}

#[tokio::test]
async fn server_role_without_createdb_gets_clear_error() {
    let role = format!("underpin_nocreatedb_{}", std::process::id());
    let password = "Nc%40Secret-7781";
    admin_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(&role))).await;
    admin_execute(&format!(
        "CREATE ROLE {} LOGIN NOCREATEDB PASSWORD 'Nc@Secret-7781'",
        quote_ident(&role)
    ))
    .await;
    // The test servers trust every connection, so the password only has to stay out of
    // the message.
    let mut url = url::Url::parse(admin_url().expose()).unwrap();
    url.set_username(&role).unwrap();
    url.set_password(Some(password)).unwrap();
    let admin = DatabaseUrl::parse(url.as_str()).unwrap();

    let error = ScratchDatabase::create(&ScratchSource::server(admin))
        .await
        .unwrap_err();
    admin_execute(&format!("DROP ROLE {}", quote_ident(&role))).await;

    let message = error.to_string();
    assert!(matches!(error, ScratchError::MissingCreatedb { .. }), "{error:?}");
    assert!(message.contains("CREATEDB"), "{message}");
    assert!(
        message.contains(&format!("ALTER ROLE \"{role}\" CREATEDB")),
        "{message}"
    );
    assert!(message.contains("--pg-bindir"), "{message}");
    assert!(
        !message.contains("Nc%40Secret") && !message.contains("Nc@Secret"),
        "{message}"
    );
    assert!(!format!("{error:?}").contains("Secret-7781"), "{error:?}");
    assert_eq!(leftover_databases().await, Vec::<String>::new());
}

#[tokio::test]
async fn server_unreachable_error_hides_password() {
    // A port on which nothing listens: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let admin = DatabaseUrl::parse(&format!(
        "postgres://postgres:Unreach%2FSecret99@127.0.0.1:{port}/postgres?sslmode=disable"
    ))
    .unwrap();

    let error = ScratchDatabase::create(&ScratchSource::server(admin))
        .await
        .unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, ScratchError::Connect(_)), "{error:?}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("postgres:***@"), "{message}");
    assert!(!message.contains("Secret99"), "{message}");
    assert!(!format!("{error:?}").contains("Secret99"), "{error:?}");
}

#[tokio::test]
async fn server_cleanup_right_after_create() {
    let scratch = ScratchDatabase::create(&ScratchSource::server(admin_url()))
        .await
        .unwrap();
    let name = scratch.database_name().unwrap().to_string();

    scratch.cleanup().await.unwrap();

    assert!(!database_exists(&name).await, "{name} still exists");
}

#[tokio::test]
async fn server_source_rejects_sqlite_url() {
    let admin = DatabaseUrl::parse("sqlite:app.db").unwrap();
    let error = ScratchDatabase::create(&ScratchSource::server(admin))
        .await
        .unwrap_err();
    assert!(matches!(error, ScratchError::NotPostgres { .. }), "{error:?}");
    assert!(error.to_string().contains("postgres://"), "{error}");
}

// ---------------------------------------------------------------------------------------
// A throwaway local cluster

/// Starts a cluster from `bindir`, checks how it runs, uses it, cleans up and checks that
/// nothing is left.
async fn cluster_lifecycle(bindir: &Path, major: &str) {
    let started = Instant::now();
    let scratch = ScratchDatabase::create(&local_cluster(bindir)).await.unwrap();
    let start_time = started.elapsed();

    let pid = scratch.postmaster_pid().unwrap();
    let folder = scratch.folder().unwrap().to_path_buf();
    assert!(process_exists(pid));
    assert!(folder.join("data").join("PG_VERSION").is_file());
    let version = scratch.server_version().unwrap();
    assert!(version.contains(&format!("PostgreSQL) {major}.")), "{version}");
    if is_root() {
        assert_ne!(process_uid(pid), 0, "the server runs as root");
    }
    assert_eq!(pg_text(scratch.url(), "SHOW listen_addresses").await, "");
    assert_eq!(pg_text(scratch.url(), "SHOW fsync").await, "off");
    assert_eq!(pg_text(scratch.url(), "SHOW server_encoding").await, "UTF8");
    assert!(
        pg_text(scratch.url(), "SHOW server_version")
            .await
            .starts_with(&format!("{major}."))
    );
    round_trip_postgres(scratch.url()).await;

    let stopping = Instant::now();
    scratch.cleanup().await.unwrap();
    let stop_time = stopping.elapsed();

    assert_cluster_removed(pid, &folder);
    eprintln!("PostgreSQL {major}: started in {start_time:?}, stopped and removed in {stop_time:?}");
}

#[tokio::test]
async fn cluster_pg15_create_use_cleanup() {
    cluster_lifecycle(&pg15_bindir(), "15").await;
}

#[tokio::test]
async fn cluster_pg18_create_use_cleanup() {
    cluster_lifecycle(&pg18_bindir(), "18").await;
}

#[tokio::test]
async fn cluster_guard_drop_stops_server() {
    let scratch = ScratchDatabase::create(&local_cluster(&pg15_bindir()))
        .await
        .unwrap();
    let pid = scratch.postmaster_pid().unwrap();
    let folder = scratch.folder().unwrap().to_path_buf();
    // A session that stays open while the guard drops.
    let mut open = connect_postgres(scratch.url()).await.unwrap();
    sqlx::raw_sql("SELECT 1").execute(&mut open).await.unwrap();

    drop(scratch);

    assert_cluster_removed(pid, &folder);
}

#[tokio::test]
async fn cluster_two_at_once_do_not_collide() {
    let source = local_cluster(&pg15_bindir());
    let (first, second) = tokio::join!(ScratchDatabase::create(&source), ScratchDatabase::create(&source));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_ne!(first.folder(), second.folder());
    assert_ne!(first.url(), second.url());

    round_trip_postgres(first.url()).await;
    let in_second = pg_text(second.url(), "SELECT (to_regclass('public.item') IS NULL)::text").await;
    assert_eq!(in_second, "true");

    let (first_pid, first_folder) = (
        first.postmaster_pid().unwrap(),
        first.folder().unwrap().to_path_buf(),
    );
    first.cleanup().await.unwrap();
    assert_cluster_removed(first_pid, &first_folder);
    // The second cluster still accepts queries after the first one is gone.
    round_trip_postgres(second.url()).await;
    let (second_pid, second_folder) = (
        second.postmaster_pid().unwrap(),
        second.folder().unwrap().to_path_buf(),
    );
    second.cleanup().await.unwrap();
    assert_cluster_removed(second_pid, &second_folder);
}

#[test]
fn cluster_panic_in_process_stops_server() {
    let tmpdir = child_tmpdir();

    let output = run_helper(
        "helper_start_cluster_then_panic",
        tmpdir.path(),
        &pg18_bindir().to_string_lossy(),
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the helper did not panic\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("user code fails"), "{stderr}");
    let line = stdout
        .lines()
        .find_map(|line| line.split_once(CLUSTER_MARKER).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("the helper printed no cluster line\n{stdout}\n{stderr}"));
    let (pid, folder) = line.split_once(' ').unwrap();
    let pid: u32 = pid.parse().unwrap();
    let folder = PathBuf::from(folder);
    assert!(folder.starts_with(tmpdir.path()), "{}", folder.display());
    assert_cluster_removed(pid, &folder);
    assert_eq!(entries(tmpdir.path()), Vec::<PathBuf>::new());
}

/// Started by `cluster_panic_in_process_stops_server` with the bindir in `CHILD_VAR`.
#[tokio::test]
#[ignore = "a helper that another test runs in a child process"]
async fn helper_start_cluster_then_panic() {
    let Ok(bindir) = std::env::var(CHILD_VAR) else {
        return;
    };
    let scratch = ScratchDatabase::create(&local_cluster(Path::new(&bindir)))
        .await
        .unwrap();
    println!(
        "{CLUSTER_MARKER}{} {}",
        scratch.postmaster_pid().unwrap(),
        scratch.folder().unwrap().display()
    );
    round_trip_postgres(scratch.url()).await;
    panic!("user code fails while the cluster runs");
}

#[test]
fn cluster_server_failure_reports_log_and_cleans_up() {
    // initdb of 15 with the server of 18: the data directory is valid, but the server
    // rejects it as made by another major version. The folder contains links to both.
    let bindir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(pg15_bindir().join("initdb"), bindir.path().join("initdb")).unwrap();
    std::os::unix::fs::symlink(pg18_bindir().join("postgres"), bindir.path().join("postgres")).unwrap();
    let tmpdir = child_tmpdir();

    let output = run_helper(
        "helper_start_cluster_expect_error",
        tmpdir.path(),
        &bindir.path().to_string_lossy(),
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the helper failed\n{stdout}\n{stderr}");
    let message = stdout
        .split_once(ERROR_MARKER)
        .map(|(_, message)| message)
        .unwrap_or_else(|| panic!("the helper printed no error\n{stdout}\n{stderr}"));
    assert!(message.contains("before it accepted connections"), "{message}");
    assert!(
        message.contains("database files are incompatible with server"),
        "{message}"
    );
    assert_eq!(entries(tmpdir.path()), Vec::<PathBuf>::new());
}

/// Started by `cluster_server_failure_reports_log_and_cleans_up` with the bindir in
/// `CHILD_VAR`; prints the error that the start returns.
#[tokio::test]
#[ignore = "a helper that another test runs in a child process"]
async fn helper_start_cluster_expect_error() {
    let Ok(bindir) = std::env::var(CHILD_VAR) else {
        return;
    };
    let error = ScratchDatabase::create(&local_cluster(Path::new(&bindir)))
        .await
        .expect_err("the start must fail");
    assert!(matches!(error, ScratchError::ServerExited { .. }), "{error:?}");
    println!("{ERROR_MARKER}{error}");
}

#[test]
fn cluster_initdb_ignores_terminal_interrupt() {
    let tmpdir = child_tmpdir();
    let helper = RunningHelper::spawn(
        "helper_start_cluster_while_interrupted",
        tmpdir.path(),
        &pg15_bindir().to_string_lossy(),
    );
    let initdb = wait_for_child_named(helper.pid(), "initdb", Duration::from_secs(30));

    // Ctrl-C in a terminal sends SIGINT to the whole foreground process group.
    send_signal(-(helper.pid() as i32), libc::SIGINT);

    let (status, stdout, stderr) = helper.finish();
    assert!(
        initdb.is_some(),
        "the helper started no initdb\n{stdout}\n{stderr}"
    );
    assert!(status.success(), "the helper failed\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(INTERRUPT_MARKER),
        "the SIGINT did not reach the helper\n{stdout}\n{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|line| line.split_once(CLUSTER_MARKER).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("the helper printed no cluster line\n{stdout}\n{stderr}"));
    let (pid, folder) = parse_cluster_line(line);
    assert_cluster_removed(pid, &folder);
    assert_eq!(entries(tmpdir.path()), Vec::<PathBuf>::new());
}

/// Started by `cluster_initdb_ignores_terminal_interrupt` with the bindir in `CHILD_VAR`.
/// Like the CLI, it handles SIGINT itself and acts on it only once `create` has returned.
#[tokio::test]
#[ignore = "a helper that another test runs in a child process"]
async fn helper_start_cluster_while_interrupted() {
    let Ok(bindir) = std::env::var(CHILD_VAR) else {
        return;
    };
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).unwrap();
    let scratch = ScratchDatabase::create(&local_cluster(Path::new(&bindir)))
        .await
        .unwrap();
    println!(
        "{CLUSTER_MARKER}{} {}",
        scratch.postmaster_pid().unwrap(),
        scratch.folder().unwrap().display()
    );
    round_trip_postgres(scratch.url()).await;
    if tokio::time::timeout(Duration::from_secs(10), interrupt.recv())
        .await
        .is_ok()
    {
        println!("{INTERRUPT_MARKER}");
    }
    scratch.cleanup().await.unwrap();
}

/// Returns whether the process has a handler for `signal`, from the SigCgt mask in
/// /proc/PID/status, in which bit N-1 stands for signal N.
fn catches_signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// Sends `signal` to the initdb that a helper runs, once initdb has installed its handler
/// for the signal if `after_handler`, and returns the error that the helper printed.
fn initdb_error_after_signal(signal: libc::c_int, after_handler: bool) -> String {
    let tmpdir = child_tmpdir();
    let helper = RunningHelper::spawn(
        "helper_start_cluster_print_error",
        tmpdir.path(),
        &pg15_bindir().to_string_lossy(),
    );
    let initdb = wait_for_child_named(helper.pid(), "initdb", Duration::from_secs(30));
    if let Some(initdb) = initdb {
        let started = Instant::now();
        while after_handler && !catches_signal(initdb, signal) && started.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        send_signal(initdb as i32, signal);
    }

    let (status, stdout, stderr) = helper.finish();
    assert!(
        initdb.is_some(),
        "the helper started no initdb\n{stdout}\n{stderr}"
    );
    assert!(status.success(), "the helper failed\n{stdout}\n{stderr}");
    assert_eq!(entries(tmpdir.path()), Vec::<PathBuf>::new());
    stdout
        .split_once(ERROR_MARKER)
        .map(|(_, message)| message.to_string())
        .unwrap_or_else(|| panic!("the helper printed no error\n{stdout}\n{stderr}"))
}

#[test]
fn cluster_initdb_killed_names_signal() {
    let message = initdb_error_after_signal(libc::SIGKILL, false);
    assert!(
        message.contains("initdb was stopped by signal 9 (SIGKILL)"),
        "{message}"
    );
    assert!(message.contains("run underpin again"), "{message}");
    assert!(!message.contains("chmod"), "{message}");
}

#[test]
fn cluster_initdb_caught_signal_names_it() {
    // Once its handlers are in place, initdb catches SIGTERM, removes what it made and
    // exits with status 1.
    let message = initdb_error_after_signal(libc::SIGTERM, true);
    assert!(
        message.contains("initdb was stopped by a signal that it caught"),
        "{message}"
    );
    assert!(message.contains("caught signal"), "{message}");
    assert!(!message.contains("chmod"), "{message}");
}

/// Started by the tests that stop initdb, with the bindir in `CHILD_VAR`; prints the error
/// that the start returns.
#[tokio::test]
#[ignore = "a helper that another test runs in a child process"]
async fn helper_start_cluster_print_error() {
    let Ok(bindir) = std::env::var(CHILD_VAR) else {
        return;
    };
    let error = ScratchDatabase::create(&local_cluster(Path::new(&bindir)))
        .await
        .expect_err("the start must fail");
    println!("{ERROR_MARKER}{error}");
}

#[test]
fn cluster_unreachable_tmpdir_names_permission_fix() {
    if !is_root() {
        // Only under root does another user, postgres, run initdb.
        eprintln!("skipped: the test runs as a user other than root");
        return;
    }
    // A TMPDIR of mode 700 owned by root, which the postgres user cannot enter.
    let tmpdir = child_tmpdir();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmpdir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();

    let output = run_helper(
        "helper_start_cluster_print_error",
        tmpdir.path(),
        &pg15_bindir().to_string_lossy(),
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the helper failed\n{stdout}\n{stderr}");
    let message = stdout
        .split_once(ERROR_MARKER)
        .map(|(_, message)| message)
        .unwrap_or_else(|| panic!("the helper printed no error\n{stdout}\n{stderr}"));
    assert!(message.contains("Permission denied"), "{message}");
    assert!(message.contains("chmod o+x"), "{message}");
    assert_eq!(entries(tmpdir.path()), Vec::<PathBuf>::new());
}

#[test]
fn cluster_server_dies_with_killed_owner() {
    let tmpdir = child_tmpdir();
    let mut helper = RunningHelper::spawn(
        "helper_start_cluster_then_wait",
        tmpdir.path(),
        &pg15_bindir().to_string_lossy(),
    );
    let (pid, folder) = parse_cluster_line(&helper.wait_for_line(CLUSTER_MARKER, Duration::from_secs(60)));
    assert!(process_running(pid), "postmaster {pid} does not run");
    // While its owner lives, the sweep leaves the folder alone.
    let removed = ScratchDatabase::remove_abandoned_folders(tmpdir.path(), Duration::ZERO).unwrap();
    assert_eq!(removed, Vec::<PathBuf>::new());

    // What a CI timeout does: SIGKILL, which runs no cleanup code.
    send_signal(helper.pid() as i32, libc::SIGKILL);
    let (status, _, _) = helper.finish();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );

    let started = Instant::now();
    while process_running(pid) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survived = process_running(pid);
    if survived {
        // The postmaster is a grandchild of this test, and nothing else would stop it.
        send_signal(pid as i32, libc::SIGKILL);
    }
    assert!(
        !survived,
        "postmaster {pid} still ran 10s after its owner was killed"
    );
    let started = Instant::now();
    while !processes_working_in(&folder).is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_working_in(&folder), Vec::<u32>::new());

    // SIGKILL leaves the folder, which the sweep finds because its owner is gone.
    assert!(folder.is_dir(), "{} is gone", folder.display());
    let removed = ScratchDatabase::remove_abandoned_folders(tmpdir.path(), Duration::ZERO).unwrap();
    assert_eq!(removed, vec![folder.clone()]);
    assert_eq!(entries(tmpdir.path()), Vec::<PathBuf>::new());
}

/// Started by `cluster_server_dies_with_killed_owner` with the bindir in `CHILD_VAR`; starts
/// a cluster, prints its postmaster and folder, and waits to be killed.
#[tokio::test]
#[ignore = "a helper that another test runs in a child process"]
async fn helper_start_cluster_then_wait() {
    let Ok(bindir) = std::env::var(CHILD_VAR) else {
        return;
    };
    let scratch = ScratchDatabase::create(&local_cluster(Path::new(&bindir)))
        .await
        .unwrap();
    round_trip_postgres(scratch.url()).await;
    println!(
        "{CLUSTER_MARKER}{} {}",
        scratch.postmaster_pid().unwrap(),
        scratch.folder().unwrap().display()
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    scratch.cleanup().await.unwrap();
}

#[tokio::test]
async fn cluster_missing_bindir_names_path_and_fix() {
    let bindir = PathBuf::from("/nonexistent/underpin/pg/bin");
    let error = ScratchDatabase::create(&local_cluster(&bindir))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ScratchError::BinaryMissing { .. }), "{error:?}");
    assert!(
        message.contains("/nonexistent/underpin/pg/bin/initdb"),
        "{message}"
    );
    assert!(message.contains("apt-get install postgresql"), "{message}");
    assert!(message.contains("--pg-bindir"), "{message}");
}

#[tokio::test]
async fn cluster_bindir_without_postgres_names_it() {
    let bindir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(pg15_bindir().join("initdb"), bindir.path().join("initdb")).unwrap();
    let error = ScratchDatabase::create(&local_cluster(bindir.path()))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&bindir.path().join("postgres").display().to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn cluster_without_bindir_finds_installed_binaries() {
    // On the test machines pg_config or the folder scan finds Debian's 15, but any version
    // that starts will do.
    let scratch = ScratchDatabase::create(&ScratchSource::LocalCluster { bindir: None })
        .await
        .unwrap();
    let (pid, folder) = (
        scratch.postmaster_pid().unwrap(),
        scratch.folder().unwrap().to_path_buf(),
    );
    assert!(scratch.server_version().unwrap().contains("PostgreSQL"));
    round_trip_postgres(scratch.url()).await;
    scratch.cleanup().await.unwrap();
    assert_cluster_removed(pid, &folder);
}

// ---------------------------------------------------------------------------------------
// Removing abandoned folders

/// Creates a folder `underpin-scratch-<suffix>` with an unlocked `owner.lock`, as a process
/// killed while it owned the folder leaves it.
fn abandoned_folder(parent: &Path, suffix: &str) -> PathBuf {
    let folder = parent.join(format!("underpin-scratch-{suffix}"));
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("owner.lock"), "").unwrap();
    folder
}

/// Returns the PID of a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id()
}

#[test]
fn sweep_removes_abandoned_folders_only() {
    let parent = tempfile::tempdir().unwrap();
    let plain = abandoned_folder(parent.path(), "plain");
    let stale_pid = abandoned_folder(parent.path(), "stalepid");
    std::fs::create_dir(stale_pid.join("data")).unwrap();
    std::fs::write(
        stale_pid.join("data").join("postmaster.pid"),
        format!("{}\n/tmp/data\n", dead_pid()),
    )
    .unwrap();
    let unlocked = parent.path().join("underpin-scratch-nolock");
    std::fs::create_dir(&unlocked).unwrap();
    let other_name = parent.path().join("other-scratch");
    std::fs::create_dir(&other_name).unwrap();
    std::fs::write(other_name.join("owner.lock"), "").unwrap();
    let target = tempfile::tempdir().unwrap();
    std::fs::write(target.path().join("owner.lock"), "").unwrap();
    let link = parent.path().join("underpin-scratch-link");
    std::os::unix::fs::symlink(target.path(), &link).unwrap();

    let young = ScratchDatabase::remove_abandoned_folders(parent.path(), Duration::from_secs(3600)).unwrap();
    let removed = ScratchDatabase::remove_abandoned_folders(parent.path(), Duration::ZERO).unwrap();

    assert_eq!(
        young,
        Vec::<PathBuf>::new(),
        "folders younger than min_age were removed"
    );
    assert_eq!(removed, vec![plain.clone(), stale_pid.clone()]);
    assert!(!plain.exists());
    assert!(!stale_pid.exists());
    assert!(unlocked.is_dir(), "a folder without owner.lock was removed");
    assert!(other_name.is_dir(), "a folder with another name was removed");
    assert!(link.symlink_metadata().is_ok(), "the link was removed");
    assert!(
        target.path().join("owner.lock").is_file(),
        "the link's target was emptied"
    );
}

#[test]
fn sweep_keeps_folder_of_live_owner() {
    let parent = tempfile::tempdir().unwrap();
    let folder = abandoned_folder(parent.path(), "owned");
    // flock locks belong to an open file, so a second open in this process conflicts too.
    let owner = std::fs::File::open(folder.join("owner.lock")).unwrap();
    owner.try_lock().unwrap();

    let removed = ScratchDatabase::remove_abandoned_folders(parent.path(), Duration::ZERO).unwrap();

    assert_eq!(removed, Vec::<PathBuf>::new());
    assert!(folder.join("owner.lock").is_file());
}

#[test]
fn sweep_keeps_folder_with_running_server() {
    let parent = tempfile::tempdir().unwrap();
    // A postmaster.pid that names a running process, this one.
    let with_pid = abandoned_folder(parent.path(), "livepid");
    std::fs::create_dir(with_pid.join("data")).unwrap();
    std::fs::write(
        with_pid.join("data").join("postmaster.pid"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    // A socket that accepts connections.
    let with_socket = abandoned_folder(parent.path(), "socket");
    let _listener = std::os::unix::net::UnixListener::bind(with_socket.join(".s.PGSQL.5432")).unwrap();
    // A process working in the folder, as a backend outliving its postmaster would.
    let with_process = abandoned_folder(parent.path(), "process");
    let mut worker = Command::new("sleep")
        .arg("30")
        .current_dir(&with_process)
        .spawn()
        .unwrap();

    let removed = ScratchDatabase::remove_abandoned_folders(parent.path(), Duration::ZERO);
    let _ = worker.kill();
    let _ = worker.wait();

    assert_eq!(removed.unwrap(), Vec::<PathBuf>::new());
    assert!(with_pid.join("owner.lock").is_file());
    assert!(with_socket.join("owner.lock").is_file());
    assert!(with_process.join("owner.lock").is_file());
}

#[tokio::test]
async fn sweep_missing_folder_names_it() {
    let error =
        ScratchDatabase::remove_abandoned_folders(Path::new("/nonexistent/underpin-tmp"), Duration::ZERO)
            .unwrap_err();
    assert!(error.to_string().contains("/nonexistent/underpin-tmp"), "{error}");
}

// ---------------------------------------------------------------------------------------
// SQLite

async fn round_trip_sqlite(url: &DatabaseUrl) {
    let mut conn = connect_sqlite(url, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO item VALUES (1, 'first')")
        .execute(&mut conn)
        .await
        .unwrap();
    let name: String = sqlx::query_scalar("SELECT name FROM item WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(name, "first");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_create_use_cleanup() {
    let scratch = ScratchDatabase::create(&ScratchSource::Sqlite).await.unwrap();
    let folder = scratch.folder().unwrap().to_path_buf();
    round_trip_sqlite(scratch.url()).await;
    assert!(folder.join("scratch.db").is_file());
    // A second connection reads the first one's table, which an in-memory URL would not allow.
    let mut conn = connect_sqlite(scratch.url(), std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM item")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
    conn.close().await.unwrap();

    scratch.cleanup().await.unwrap();

    assert!(!folder.exists(), "{} still exists", folder.display());
}

#[tokio::test]
async fn sqlite_guard_drop_removes_folder() {
    let scratch = ScratchDatabase::create(&ScratchSource::Sqlite).await.unwrap();
    let folder = scratch.folder().unwrap().to_path_buf();
    round_trip_sqlite(scratch.url()).await;

    drop(scratch);

    assert!(!folder.exists(), "{} still exists", folder.display());
}
