//! A throwaway PostgreSQL cluster started from installed server binaries.
//!
//! initdb creates the cluster in a temporary folder, and the postmaster runs as a direct child
//! of this process, listening only on a Unix socket in that folder. Under root both run as the
//! system user `postgres`, switched to with `setuid`/`setgid` before `exec` (`Command::uid`)
//! rather than through `runuser`. That way the child is the postmaster itself, so its PID is
//! known without reading `postmaster.pid` and stays reserved until this process reaps it.
//! The module `child` starts every program in a process group of its own and with a
//! parent-death signal: SIGQUIT (immediate shutdown) for the postmaster, SIGKILL for the rest.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::child;
use super::folder::ScratchDir;
use super::{ScratchError, percent_encode_path, tail};
use crate::connect::connect_postgres;
use crate::url::DatabaseUrl;

/// The system user that runs initdb and the server when this process runs as root.
const SERVER_USER: &str = "postgres";

/// The superuser name that initdb creates (`-U`), independent of the user that runs initdb.
const SUPERUSER: &str = "postgres";

/// The server listens on no TCP address, so the port only names the socket file
/// `.s.PGSQL.<port>` in the cluster's own folder, and no other server can hold it there.
const PORT: u16 = 5432;

/// The folder in which Debian's packages install each major version's server binaries, as
/// `<major>/bin`.
const DEBIAN_PREFIX: &str = "/usr/lib/postgresql";

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How long the postmaster gets to exit after SIGQUIT, and then after SIGKILL.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest socket path PostgreSQL accepts, because Linux's `sun_path` has room for 108
/// bytes with the terminating NUL.
const SOCKET_PATH_MAX: usize = 107;

const LOG_TAIL_LINES: usize = 20;

/// The user and group that the server processes run as.
#[derive(Debug, Clone, Copy)]
struct Account {
    uid: u32,
    gid: u32,
}

/// A running cluster. Dropping it stops the server and removes the folder.
#[derive(Debug)]
pub(super) struct LocalCluster {
    /// The folder with the data directory (`data/`), the server log, the socket and the
    /// owner lock, or `None` once removed.
    dir: Option<ScratchDir>,
    /// The postmaster; `None` before it starts and after it has been reaped.
    server: Option<Child>,
    postgres: PathBuf,
    version: String,
}

impl LocalCluster {
    /// Creates and starts a cluster and returns it with the URL of its `postgres` database.
    pub(super) async fn start(bindir: Option<&Path>) -> Result<(LocalCluster, DatabaseUrl), ScratchError> {
        let bindir = find_bindir(bindir).await?;
        let initdb = require_binary(&bindir, "initdb")?;
        let postgres = require_binary(&bindir, "postgres")?;
        let account = server_account()?;
        let version = postgres_version(&postgres, account).await?;

        // From here on the guard exists, so an error below stops what runs and removes the folder.
        let dir = ScratchDir::create()?;
        let folder = dir.path().to_path_buf();
        let mut cluster = LocalCluster {
            dir: Some(dir),
            server: None,
            postgres: postgres.clone(),
            version,
        };
        if let Some(account) = account {
            std::os::unix::fs::chown(&folder, Some(account.uid), Some(account.gid))
                .map_err(|e| ScratchError::io("changing the owner to postgres of", &folder, e))?;
        }
        check_socket_path(&folder)?;
        let url = socket_url(&folder)?;

        run_initdb(&initdb, &folder, account).await?;
        cluster.server = Some(spawn_postgres(&postgres, &folder, account)?);
        cluster.wait_until_ready(&url).await?;
        tracing::debug!(folder = %folder.display(), version = %cluster.version, "started a scratch PostgreSQL cluster");
        Ok((cluster, url))
    }

    pub(super) fn folder(&self) -> Option<&Path> {
        self.dir.as_ref().map(ScratchDir::path)
    }

    pub(super) fn postmaster_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    pub(super) fn version(&self) -> &str {
        &self.version
    }

    /// Stops the server and removes the folder on a blocking-pool thread, since both block
    /// (waiting for the postmaster to exit, deleting files).
    pub(super) async fn cleanup(self) -> Result<(), ScratchError> {
        let task = tokio::task::spawn_blocking(move || {
            let mut cluster = self;
            cluster.stop_and_remove()
        });
        match task.await {
            Ok(result) => result,
            Err(error) => Err(ScratchError::CleanupPanicked {
                message: error.to_string(),
            }),
        }
    }

    /// Polls until a connection succeeds, the server exits, or the timeout passes.
    async fn wait_until_ready(&mut self, url: &DatabaseUrl) -> Result<(), ScratchError> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.server_exit_status()? {
                return Err(ScratchError::ServerExited {
                    postgres: self.postgres.clone(),
                    status,
                    log_tail: self.log_tail(),
                });
            }

            // Until the server creates its socket the attempt fails with "No such file",
            // and while it starts up with SQLSTATE 57P03; both are worth another try.
            let last_error = match tokio::time::timeout(CONNECT_ATTEMPT_TIMEOUT, connect_postgres(url)).await
            {
                Ok(Ok(conn)) => {
                    use sqlx::Connection;
                    let _ = conn.close().await;
                    return Ok(());
                }
                Ok(Err(error)) => error.reason,
                Err(_) => format!(
                    "a connection attempt timed out after {}s",
                    CONNECT_ATTEMPT_TIMEOUT.as_secs()
                ),
            };

            if started.elapsed() >= READY_TIMEOUT {
                return Err(ScratchError::ServerNotReady {
                    postgres: self.postgres.clone(),
                    timeout: READY_TIMEOUT,
                    last_error,
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Returns how the postmaster exited, reaping it, or `None` while it runs.
    fn server_exit_status(&mut self) -> Result<Option<String>, ScratchError> {
        let Some(server) = self.server.as_mut() else {
            return Ok(Some("no process".to_string()));
        };
        let status = server
            .try_wait()
            .map_err(|e| ScratchError::io("waiting for the server", &self.postgres, e))?;
        if status.is_some() {
            self.server = None;
        }
        Ok(status.map(|status| status.to_string()))
    }

    fn log_tail(&self) -> String {
        let Some(folder) = self.folder() else {
            return String::new();
        };
        match std::fs::read(folder.join("server.log")) {
            Ok(bytes) => tail(&String::from_utf8_lossy(&bytes), LOG_TAIL_LINES),
            Err(error) => format!("(cannot read the server log: {error})"),
        }
    }

    /// Stops the server, then removes the folder even when stopping failed. Returns the
    /// first error and logs a second one.
    fn stop_and_remove(&mut self) -> Result<(), ScratchError> {
        let stopped = self.stop_server();
        let removed = match self.dir.take() {
            Some(dir) => dir.close(),
            None => Ok(()),
        };
        match (stopped, removed) {
            (Err(stop_error), Err(remove_error)) => {
                tracing::warn!(error = %remove_error, "could not remove a scratch cluster folder; remove it by hand");
                Err(stop_error)
            }
            (stopped, removed) => stopped.and(removed),
        }
    }

    /// Sends SIGQUIT, PostgreSQL's immediate shutdown: the postmaster makes its children
    /// quit and exits without a checkpoint, which a throwaway cluster does not need, but
    /// it still releases its shared memory. SIGKILL follows when that takes too long.
    fn stop_server(&mut self) -> Result<(), ScratchError> {
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        let pid = server.id();
        let wait_error = |e| ScratchError::io("waiting for the server", &self.postgres, e);
        if server.try_wait().map_err(wait_error)?.is_some() {
            return Ok(());
        }

        // SAFETY: kill(2) takes plain integers and touches no memory of this process. The
        // PID is this process's child, not yet reaped, so it cannot name another process.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGQUIT);
        }
        if wait_for_exit(&mut server, QUIT_TIMEOUT).map_err(wait_error)? {
            return Ok(());
        }

        tracing::warn!(
            pid,
            "the scratch PostgreSQL server ignored SIGQUIT; sending SIGKILL"
        );
        let _ = server.kill();
        if wait_for_exit(&mut server, KILL_TIMEOUT).map_err(wait_error)? {
            return Ok(());
        }
        Err(ScratchError::ServerDidNotStop {
            pid,
            timeout: QUIT_TIMEOUT + KILL_TIMEOUT,
        })
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Err(error) = self.stop_and_remove() {
            tracing::warn!(%error, "could not clean up a scratch PostgreSQL cluster");
        }
    }
}

/// Returns whether the child exited (and reaps it) within `timeout`.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> io::Result<bool> {
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        if started.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Picks the folder with the server binaries: `explicit`, else `pg_config --bindir`, else the
/// highest major version under /usr/lib/postgresql. An explicit folder is taken as given, so
/// that a wrong one is reported rather than replaced.
async fn find_bindir(explicit: Option<&Path>) -> Result<PathBuf, ScratchError> {
    if let Some(bindir) = explicit {
        return Ok(bindir.to_path_buf());
    }

    let mut searched = Vec::new();
    match pg_config_bindir().await {
        Ok(bindir) if has_server_binaries(&bindir) => return Ok(bindir),
        Ok(bindir) => searched.push(format!(
            "{} from `pg_config --bindir`, which has no initdb and postgres",
            bindir.display()
        )),
        Err(reason) => searched.push(format!("`pg_config --bindir`, which {reason}")),
    }
    match highest_debian_bindir() {
        Some(bindir) => Ok(bindir),
        None => {
            searched.push(format!("{DEBIAN_PREFIX}/<major>/bin"));
            Err(ScratchError::BinariesNotFound {
                searched: searched.join("; "),
            })
        }
    }
}

/// Runs `pg_config --bindir` from PATH; the error describes why it gave no folder.
async fn pg_config_bindir() -> Result<PathBuf, String> {
    let mut command = Command::new("pg_config");
    command.arg("--bindir");
    child::isolate(&mut command, libc::SIGKILL);
    let output = child::output(command).await.map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => "is not on PATH".to_string(),
        _ => format!("could not run: {error}"),
    })?;
    if !output.status.success() {
        return Err(format!("failed with {}", output.status));
    }
    let text =
        String::from_utf8(output.stdout).map_err(|_| "printed a path that is not UTF-8".to_string())?;
    Ok(PathBuf::from(text.trim()))
}

/// Returns `/usr/lib/postgresql/<major>/bin` for the highest major version that has the
/// server binaries, comparing versions numerically (10 above 9.6).
fn highest_debian_bindir() -> Option<PathBuf> {
    let entries = std::fs::read_dir(DEBIAN_PREFIX).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: Vec<u32> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            let bindir = entry.path().join("bin");
            has_server_binaries(&bindir).then_some((version, bindir))
        })
        .max()
        .map(|(_, bindir)| bindir)
}

fn has_server_binaries(bindir: &Path) -> bool {
    is_executable(&bindir.join("initdb")) && is_executable(&bindir.join("postgres"))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

fn require_binary(bindir: &Path, name: &str) -> Result<PathBuf, ScratchError> {
    let path = bindir.join(name);
    if is_executable(&path) {
        Ok(path)
    } else {
        Err(ScratchError::BinaryMissing {
            path,
            bindir: bindir.to_path_buf(),
        })
    }
}

/// Returns the account to run the server as: `None` to run it as this process's user, or
/// the `postgres` user when this process runs as root.
fn server_account() -> Result<Option<Account>, ScratchError> {
    // SAFETY: geteuid(2) takes no arguments, and POSIX specifies that it always succeeds.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Ok(None);
    }
    lookup_account(SERVER_USER)
        .map(Some)
        .ok_or(ScratchError::ServerUserMissing)
}

/// Looks a user up through NSS (getpwnam_r), so users from LDAP or systemd work too.
fn lookup_account(name: &str) -> Option<Account> {
    let c_name = CString::new(name).ok()?;
    let mut buffer: Vec<libc::c_char> = vec![0; 4096];
    loop {
        // SAFETY: `passwd` consists of integers and pointers, for which all zero bits are valid.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the duration of the call, and `buffer.len()`
        // is the buffer's true size. Only the integer fields are read afterwards.
        let code = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut result,
            )
        };
        if code == libc::ERANGE && buffer.len() < 1 << 20 {
            buffer.resize(buffer.len() * 2, 0);
            continue;
        }
        if code != 0 || result.is_null() {
            return None;
        }
        return Some(Account {
            uid: entry.pw_uid,
            gid: entry.pw_gid,
        });
    }
}

/// Runs `postgres --version` as the server's user, which also proves that this user may
/// execute the binary. This and the other commands start in `/`, a folder every user may
/// enter, so that a failed `chdir` before `exec` cannot pass for an unreadable binary.
async fn postgres_version(postgres: &Path, account: Option<Account>) -> Result<String, ScratchError> {
    let mut command = Command::new(postgres);
    command.arg("--version").current_dir("/");
    if let Some(account) = account {
        command.uid(account.uid).gid(account.gid);
    }
    child::isolate(&mut command, libc::SIGKILL);
    let output = child::output(command)
        .await
        .map_err(|e| spawn_error(postgres, account, e))?;
    if !output.status.success() {
        return Err(stopped_by_signal(postgres, &output)
            .unwrap_or_else(|| command_failed(postgres, &output, String::new())));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Runs initdb into `folder/data` with the superuser `postgres` and trust authentication.
/// Other users are kept out by the socket folder's mode 700. UTF-8 with the C locale makes
/// the cluster behave the same on every machine, and fsync is off because the cluster is
/// thrown away. `LC_ALL=C` makes initdb's own messages English, which the error handling
/// below searches; it changes nothing in the cluster, whose locale `--locale` sets.
async fn run_initdb(initdb: &Path, folder: &Path, account: Option<Account>) -> Result<(), ScratchError> {
    let mut command = Command::new(initdb);
    command
        .arg("-D")
        .arg(folder.join("data"))
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .current_dir("/")
        .env("LC_ALL", "C");
    if let Some(account) = account {
        command.uid(account.uid).gid(account.gid);
    }
    child::isolate(&mut command, libc::SIGKILL);
    let output = child::output(command)
        .await
        .map_err(|e| spawn_error(initdb, account, e))?;
    if output.status.success() {
        return Ok(());
    }
    if let Some(stopped) = stopped_by_signal(initdb, &output) {
        return Err(stopped);
    }

    let text = output_text(&output);
    let denied = text.contains("Permission denied") || text.contains("Operation not permitted");
    let hint = match account {
        Some(_) if denied => format!(
            "; initdb runs as user {SERVER_USER}, who must be able to write to {}, so every \
             folder above it must be searchable by other users (chmod o+x), or set TMPDIR to \
             another folder",
            folder.display()
        ),
        _ => String::new(),
    };
    Err(command_failed(initdb, &output, hint))
}

/// Starts the postmaster with its log on stderr, written to `folder/server.log`. No TCP
/// address (`-h ''`), the socket in `folder` (`-k`), and durability off for speed. When
/// underpin ends without stopping it, the postmaster gets SIGQUIT and shuts down at once.
fn spawn_postgres(postgres: &Path, folder: &Path, account: Option<Account>) -> Result<Child, ScratchError> {
    let log_path = folder.join("server.log");
    let log = File::create(&log_path).map_err(|e| ScratchError::io("creating", &log_path, e))?;
    let log_copy = log
        .try_clone()
        .map_err(|e| ScratchError::io("opening", &log_path, e))?;

    let mut command = Command::new(postgres);
    command
        .arg("-D")
        .arg(folder.join("data"))
        .arg("-k")
        .arg(socket_directories_setting(folder)?)
        .args(["-h", "", "-p", &PORT.to_string()])
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_copy);
    if let Some(account) = account {
        command.uid(account.uid).gid(account.gid);
    }
    // Without a process group of its own, the server would get the terminal's Ctrl-C and
    // shut down by itself, leaving its folder behind. underpin stops it and removes the folder.
    child::isolate(&mut command, libc::SIGQUIT);
    child::spawn(command).map_err(|e| spawn_error(postgres, account, e))
}

/// Quotes the folder for `unix_socket_directories`, a comma-separated list in which a
/// double-quoted entry may contain commas and `""` stands for `"`.
fn socket_directories_setting(folder: &Path) -> Result<String, ScratchError> {
    let text = folder.to_str().ok_or_else(|| {
        ScratchError::io(
            "using",
            folder,
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the path is not valid UTF-8; set TMPDIR to a UTF-8 path",
            ),
        )
    })?;
    Ok(format!("\"{}\"", text.replace('"', "\"\"")))
}

fn check_socket_path(folder: &Path) -> Result<(), ScratchError> {
    let socket = folder.join(format!(".s.PGSQL.{PORT}"));
    let length = socket.as_os_str().len();
    if length > SOCKET_PATH_MAX {
        return Err(ScratchError::SocketPathTooLong {
            path: socket,
            length,
            max: SOCKET_PATH_MAX,
        });
    }
    Ok(())
}

/// Returns the URL of the cluster's `postgres` database through the socket in `folder`. The
/// socket goes in the `host` query parameter because `postgres://postgres@/postgres`, with
/// an empty host after `@`, is not a valid URL for the `url` crate that sqlx and
/// [`DatabaseUrl`] parse with. libpq reads the same form.
fn socket_url(folder: &Path) -> Result<DatabaseUrl, ScratchError> {
    let host = percent_encode_path(folder)?;
    let raw = format!("postgres:///postgres?host={host}&port={PORT}&user={SUPERUSER}&sslmode=disable");
    Ok(DatabaseUrl::parse(&raw)?)
}

fn spawn_error(program: &Path, account: Option<Account>, error: io::Error) -> ScratchError {
    if account.is_some() && error.kind() == io::ErrorKind::PermissionDenied {
        return ScratchError::ServerUserCannotRun {
            path: program.to_path_buf(),
            error,
        };
    }
    ScratchError::io("running", program, error)
}

fn output_text(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

fn command_failed(program: &Path, output: &Output, hint: String) -> ScratchError {
    ScratchError::CommandFailed {
        program: program.to_path_buf(),
        status: output.status.to_string(),
        hint,
        output: tail(&output_text(output), LOG_TAIL_LINES),
    }
}

/// Returns the error for a program that a signal ended, or `None` when none did. Besides a
/// program killed by a signal, this covers initdb that caught one. The initdb of PostgreSQL
/// 15 and 18 catches SIGHUP, SIGINT, SIGQUIT and SIGTERM (SigCgt in /proc/PID/status), and
/// then prints "caught signal", removes what it made and exits with status 1.
fn stopped_by_signal(program: &Path, output: &Output) -> Option<ScratchError> {
    let text = output_text(output);
    let (signal, sent) = match output.status.signal() {
        Some(number) => {
            let name = signal_name(number);
            let signal = match name {
                Some(name) => format!("signal {number} ({name})"),
                None => format!("signal {number}"),
            };
            (signal, name.is_some_and(|name| SENT_SIGNALS.contains(&name)))
        }
        None if text
            .lines()
            .any(|line| line.trim_end().ends_with("caught signal")) =>
        {
            (
                "a signal that it caught (SIGHUP, SIGINT, SIGQUIT or SIGTERM)".to_string(),
                true,
            )
        }
        None => return None,
    };
    let hint = if sent {
        "; another process sent it (a timeout, the OOM killer, a service manager or `kill`), so \
         run underpin again once that is over"
            .to_string()
    } else {
        String::new()
    };
    Some(ScratchError::CommandStopped {
        program: program.to_path_buf(),
        signal,
        hint,
        output: tail(&text, LOG_TAIL_LINES),
    })
}

/// Signals that other processes send to end a program, as opposed to those of a crash.
const SENT_SIGNALS: [&str; 5] = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGTERM"];

fn signal_name(number: libc::c_int) -> Option<&'static str> {
    let name = match number {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    };
    Some(name)
}

/// Returns whether a PostgreSQL server may still run in the scratch folder `folder`: its
/// `data/postmaster.pid` names a live process, its socket accepts a connection, or a process
/// works in the folder, as every server process does in its data directory. A check that
/// cannot be made counts as a running server.
pub(super) fn server_may_run(folder: &Path) -> bool {
    postmaster_may_run(folder) || socket_may_accept(folder) || process_works_in(folder)
}

fn postmaster_may_run(folder: &Path) -> bool {
    let text = match std::fs::read_to_string(folder.join("data").join("postmaster.pid")) {
        Ok(text) => text,
        Err(error) => return error.kind() != io::ErrorKind::NotFound,
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|line| line.trim().parse::<libc::pid_t>().ok())
        .filter(|pid| *pid > 0)
    else {
        return true;
    };
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks that the process exists.
    let code = unsafe { libc::kill(pid, 0) };
    code == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn socket_may_accept(folder: &Path) -> bool {
    match std::os::unix::net::UnixStream::connect(folder.join(format!(".s.PGSQL.{PORT}"))) {
        Ok(_) => true,
        Err(error) => !matches!(
            error.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
        ),
    }
}

/// Looks for a process whose working directory lies in `folder`, through /proc.
/// NOTE: without /proc (systems other than Linux) every folder counts as in use.
fn process_works_in(folder: &Path) -> bool {
    // Working directories in /proc are canonical paths, and TMPDIR may contain a link.
    let Ok(folder) = std::fs::canonicalize(folder) else {
        return true;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let is_process = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()));
        // Only another user's process hides its cwd. The sweep considers only this user's
        // folders, whose servers run as this user, or as postgres under root, who can read
        // every cwd.
        is_process && std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&folder))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url_is_a_postgres_url_without_secrets() {
        let url = socket_url(Path::new("/tmp/underpin-scratch-x y")).unwrap();
        assert_eq!(
            url.expose(),
            "postgres:///postgres?host=/tmp/underpin-scratch-x%20y&port=5432&user=postgres&sslmode=disable"
        );
        assert_eq!(url.redacted(), url.expose());
    }

    #[test]
    fn socket_url_parses_as_sqlx_socket_options() {
        use std::str::FromStr;
        let url = socket_url(Path::new("/tmp/underpin-scratch-x y")).unwrap();
        let options = sqlx::postgres::PgConnectOptions::from_str(url.expose()).unwrap();
        assert_eq!(
            options.get_socket(),
            Some(&PathBuf::from("/tmp/underpin-scratch-x y"))
        );
        assert_eq!(options.get_port(), PORT);
        assert_eq!(options.get_username(), SUPERUSER);
        assert_eq!(options.get_database(), Some("postgres"));
    }

    #[test]
    fn empty_host_after_userinfo_is_rejected() {
        // The reason socket_url puts the folder in a query parameter.
        assert!(DatabaseUrl::parse("postgres://postgres@/postgres?host=/tmp").is_err());
    }

    #[test]
    fn socket_directories_setting_quotes() {
        assert_eq!(
            socket_directories_setting(Path::new("/tmp/a,\"b")).unwrap(),
            "\"/tmp/a,\"\"b\""
        );
    }

    #[test]
    fn long_socket_path_is_rejected() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(100)));
        let error = check_socket_path(&long).unwrap_err();
        assert!(error.to_string().contains("TMPDIR"), "{error}");
        assert!(check_socket_path(Path::new("/tmp/underpin-scratch-abc")).is_ok());
    }

    #[test]
    fn root_lookup_finds_uid_zero() {
        let account = lookup_account("root").expect("every Unix system has root");
        assert_eq!(account.uid, 0);
        assert!(lookup_account("underpin-no-such-user").is_none());
    }
}
