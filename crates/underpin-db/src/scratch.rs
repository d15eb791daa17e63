//! Scratch databases: an empty database that lives as long as a guard and is then removed.
//!
//! `underpin docs --from-migrations` applies a project's migrations to a scratch database and
//! introspects it. Three kinds exist (see [`ScratchSource`]): a temporary database on a given
//! PostgreSQL server, a throwaway PostgreSQL cluster started from installed server binaries,
//! and a SQLite file in a temporary folder.
//!
//! Cleanup: call [`ScratchDatabase::cleanup`], which reports failures. A guard dropped without
//! it (an early return, an error, a panic that unwinds) cleans up synchronously in `Drop` and
//! logs failures with `tracing::warn!`. `Drop` blocks the calling thread while it works (for
//! a server database up to about a minute when the server does not respond).
//!
//! # What a killed process leaves behind
//!
//! No cleanup code runs when the process ends without unwinding (SIGKILL, for example from a
//! CI timeout or the OOM killer, `std::process::exit`, `panic = "abort"`). On Linux a local
//! cluster's programs still end, because they get a parent-death signal: the server shuts
//! down at once (SIGQUIT), initdb is killed. What stays is
//!
//! - for a server database: the database `underpin_scratch_<pid>_<8 hex digits>`, where
//!   `<pid>` is the process ID of the underpin that created it. List such databases with
//!   `SELECT datname FROM pg_database WHERE datname LIKE 'underpin\_scratch\_%'` and drop
//!   one with `DROP DATABASE … WITH (FORCE)` once its process has ended;
//! - for a local cluster or a SQLite file: the folder `underpin-scratch-<6 random
//!   characters>` in the temporary folder (TMPDIR, else /tmp), with the data directory and
//!   server log or the SQLite file. List them with `ls -d "${TMPDIR:-/tmp}"/underpin-scratch-*`.
//!   [`ScratchDatabase::remove_abandoned_folders`] removes those whose owner has ended and in
//!   which no server runs. Removing one by hand is safe once `data/postmaster.pid` is gone
//!   or names a process that no longer runs.
//!
//! Systems other than Linux have no parent-death signal, so there the server of a killed
//! process keeps running. `data/postmaster.pid` in its folder contains its process ID.

mod child;
mod cluster;
mod folder;
mod server;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::connect::ConnectError;
use crate::url::{Backend, DatabaseUrl, UrlError};

/// The kind of scratch database to create, with what each kind needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScratchSource {
    /// A temporary database `underpin_scratch_<pid>_<hex>` on the server that `admin`
    /// connects to. The role in `admin` needs the CREATEDB privilege (or is a superuser).
    /// `template` names the database to copy, e.g. `template0` for one without the objects
    /// an administrator added to `template1`. `None` takes the server's default, `template1`.
    Server {
        admin: DatabaseUrl,
        template: Option<String>,
    },

    /// A throwaway PostgreSQL cluster in a temporary folder, reachable only through a Unix
    /// socket in that folder. `bindir` is the folder holding `initdb` and `postgres`. Without
    /// it the folder that `pg_config --bindir` prints is used, else the highest version under
    /// `/usr/lib/postgresql/<major>/bin`. Under root the server runs as the system user
    /// `postgres`, because PostgreSQL refuses to run as root.
    LocalCluster { bindir: Option<PathBuf> },

    /// A SQLite file in a temporary folder. The file rather than `sqlite::memory:` because
    /// every connection to an in-memory URL opens a separate, empty database.
    Sqlite,
}

impl ScratchSource {
    /// Returns a source for a temporary database on the server of `admin`, copied from the
    /// server's default template.
    pub fn server(admin: DatabaseUrl) -> Self {
        ScratchSource::Server {
            admin,
            template: None,
        }
    }
}

/// A scratch database that could not be created or removed. Messages never contain a
/// password: URLs appear redacted, and server messages pass through a [`crate::Redactor`].
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "a scratch database on a server needs a PostgreSQL URL, but {url} is a {backend} URL; \
         pass a postgres:// URL, or use a SQLite scratch file"
    )]
    NotPostgres { url: String, backend: Backend },

    #[error(transparent)]
    Url(#[from] UrlError),

    #[error(transparent)]
    Connect(#[from] ConnectError),

    #[error(
        "cannot create the scratch database {database} on {url}: role {role} lacks the \
         CREATEDB privilege. Grant it (`ALTER ROLE {role} CREATEDB`), connect as a role that \
         has it, or let underpin start a throwaway local cluster instead (--pg-bindir)"
    )]
    MissingCreatedb {
        url: String,
        /// The role, quoted as an identifier.
        role: String,
        database: String,
    },

    #[error(
        "could not drop the scratch database {database}: {cause}. Drop it by hand with \
         `DROP DATABASE {database} WITH (FORCE)`"
    )]
    DropFailed {
        /// The database, quoted as an identifier.
        database: String,
        cause: Box<ScratchError>,
    },

    #[error("`{statement}` failed on {url}: {reason}")]
    Statement {
        url: String,
        statement: String,
        reason: String,
    },

    #[error(
        "{action} {url} timed out after {}s; check that the server at that host and port answers",
        .timeout.as_secs()
    )]
    Timeout {
        url: String,
        action: &'static str,
        timeout: Duration,
    },

    #[error(
        "no PostgreSQL server binaries found (searched: {searched}). Install them (Debian: \
         apt-get install postgresql), or pass the folder that contains initdb and postgres \
         (--pg-bindir)"
    )]
    BinariesNotFound { searched: String },

    #[error(
        "{} is missing or not executable, so {} is not a PostgreSQL server bin folder such as \
         /usr/lib/postgresql/15/bin. Install PostgreSQL server binaries (Debian: apt-get install \
         postgresql), or pass the folder that contains initdb and postgres (--pg-bindir)",
        .path.display(), .bindir.display()
    )]
    BinaryMissing { path: PathBuf, bindir: PathBuf },

    #[error(
        "PostgreSQL refuses to run as root, and the system user `postgres` that would run it \
         instead does not exist. Install PostgreSQL's Debian package (apt-get install \
         postgresql), which creates it, create it with `useradd --system --user-group postgres`, \
         or run underpin as a user other than root"
    )]
    ServerUserMissing,

    #[error(
        "user postgres cannot run {}: {error}. Every folder above it must be searchable by \
         other users (chmod o+x), so it cannot lie under a home folder with mode 700",
        .path.display()
    )]
    ServerUserCannotRun { path: PathBuf, error: io::Error },

    #[error(
        "the Unix socket path {} is {length} bytes long, but the limit is {max} bytes; set \
         TMPDIR to a folder with a shorter path",
        .path.display()
    )]
    SocketPathTooLong {
        path: PathBuf,
        length: usize,
        max: usize,
    },

    #[error("{action} {} failed: {error}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: io::Error,
    },

    #[error(
        "{} exited with {status}{hint}. Its output ends with:\n{output}",
        .program.display()
    )]
    CommandFailed {
        program: PathBuf,
        status: String,
        /// A suggested fix, starting with "; ", or empty.
        hint: String,
        output: String,
    },

    #[error(
        "{} was stopped by {signal} before it finished{hint}. Its output ends with:\n{output}",
        .program.display()
    )]
    CommandStopped {
        program: PathBuf,
        /// The signal, e.g. "signal 9 (SIGKILL)".
        signal: String,
        /// A suggested fix, starting with "; ", or empty.
        hint: String,
        output: String,
    },

    #[error(
        "the PostgreSQL server {} exited with {status} before it accepted connections. Its log \
         ends with:\n{log_tail}",
        .postgres.display()
    )]
    ServerExited {
        postgres: PathBuf,
        status: String,
        log_tail: String,
    },

    #[error(
        "the PostgreSQL server {} did not accept connections within {}s (last error: \
         {last_error}). Its log ends with:\n{log_tail}",
        .postgres.display(), .timeout.as_secs()
    )]
    ServerNotReady {
        postgres: PathBuf,
        timeout: Duration,
        last_error: String,
        log_tail: String,
    },

    #[error(
        "the PostgreSQL server (postmaster PID {pid}) did not exit within {}s of SIGQUIT and \
         then SIGKILL; stop it with `kill -KILL {pid}`",
        .timeout.as_secs()
    )]
    ServerDidNotStop { pid: u32, timeout: Duration },

    #[error("the scratch database cleanup task panicked: {message}")]
    CleanupPanicked { message: String },
}

impl ScratchError {
    fn io(action: &'static str, path: &Path, error: io::Error) -> Self {
        ScratchError::Io {
            action,
            path: path.to_path_buf(),
            error,
        }
    }
}

/// A scratch database. [`url`](Self::url) connects to it. Call [`cleanup`](Self::cleanup)
/// when done; dropping the guard cleans up too, but can only log failures (see the module
/// documentation).
#[derive(Debug)]
pub struct ScratchDatabase {
    url: DatabaseUrl,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Server(server::ServerDatabase),
    LocalCluster(cluster::LocalCluster),
    Sqlite(SqliteFile),
}

impl ScratchDatabase {
    /// Creates an empty scratch database from `source`. On failure everything created so far
    /// (a database, a server process, a folder) is removed before the error returns.
    ///
    /// Do not cancel this future: await it, then call [`cleanup`](Self::cleanup). A server
    /// completes a CREATE DATABASE whose client went away, so cancelling while that statement
    /// runs leaves a database `underpin_scratch_<pid>_<hex>` without a guard to drop it. To
    /// react to Ctrl-C, record the signal and act on it once this returns.
    ///
    /// Any thread of a Tokio runtime with I/O and time enabled may call this. The local
    /// cluster's programs are started on a thread of this module that lasts as long as the
    /// process, because their parent-death signal fires when the thread that started them
    /// ends, and a caller's thread may end first (Tokio's blocking-pool threads do after ten
    /// seconds of idling).
    pub async fn create(source: &ScratchSource) -> Result<ScratchDatabase, ScratchError> {
        let (url, kind) = match source {
            ScratchSource::Server { admin, template } => {
                let (database, url) = server::ServerDatabase::create(admin, template.as_deref()).await?;
                (url, Kind::Server(database))
            }
            ScratchSource::LocalCluster { bindir } => {
                let (cluster, url) = cluster::LocalCluster::start(bindir.as_deref()).await?;
                (url, Kind::LocalCluster(cluster))
            }
            ScratchSource::Sqlite => {
                let (file, url) = SqliteFile::create()?;
                (url, Kind::Sqlite(file))
            }
        };
        tracing::debug!(url = %url, "created a scratch database");
        Ok(ScratchDatabase { url, kind })
    }

    /// Returns the URL of the scratch database. A server database's URL carries the admin
    /// URL's credentials and query parameters. A local cluster's URL names the socket folder
    /// in its `host` query parameter.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Returns the name of the temporary database on a server, or `None` for the other kinds.
    pub fn database_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Server(database) => Some(database.name()),
            _ => None,
        }
    }

    /// Returns the temporary folder that cleanup removes, which contains the local cluster's
    /// data directory and socket or the SQLite file. `None` for a server database.
    pub fn folder(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Server(_) => None,
            Kind::LocalCluster(cluster) => cluster.folder(),
            Kind::Sqlite(file) => file.folder(),
        }
    }

    /// Returns the process id of the local cluster's postmaster, or `None` for the other kinds.
    pub fn postmaster_pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::LocalCluster(cluster) => cluster.postmaster_pid(),
            _ => None,
        }
    }

    /// Returns the local cluster's `postgres --version` output, e.g.
    /// `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`, or `None` for the other kinds.
    pub fn server_version(&self) -> Option<&str> {
        match &self.kind {
            Kind::LocalCluster(cluster) => Some(cluster.version()),
            _ => None,
        }
    }

    /// Removes the scratch database: drops the server database (terminating its sessions),
    /// or stops the local cluster and removes its folder, or removes the SQLite folder.
    pub async fn cleanup(self) -> Result<(), ScratchError> {
        let ScratchDatabase { url, kind } = self;
        match kind {
            Kind::Server(database) => database.cleanup().await?,
            Kind::LocalCluster(cluster) => cluster.cleanup().await?,
            Kind::Sqlite(file) => file.cleanup()?,
        }
        tracing::debug!(url = %url, "removed the scratch database");
        Ok(())
    }

    /// Removes the scratch folders `underpin-scratch-*` directly in `temp_dir` (usually
    /// [`std::env::temp_dir`]) that a killed process left behind, and returns them, sorted.
    /// It removes only a folder whose creator, a process of this effective user ID, has
    /// ended, whose lock file is older than `min_age`, and in which no PostgreSQL server
    /// runs. No server runs when `data/postmaster.pid` names no live process, the socket
    /// accepts no connection and no process works in the folder.
    ///
    /// `min_age` covers the instant between a folder's creation and its lock, so a minute is
    /// ample. Folders that cannot be checked or removed are skipped with a warning. Server
    /// databases are not swept, because the process ID in their name cannot show whether
    /// their creator still runs on another machine.
    pub fn remove_abandoned_folders(
        temp_dir: &Path,
        min_age: Duration,
    ) -> Result<Vec<PathBuf>, ScratchError> {
        folder::remove_abandoned(temp_dir, min_age)
    }
}

/// A SQLite scratch file. It lives in a folder of its own so that the journal, WAL and
/// shared-memory files SQLite creates beside it go with it.
struct SqliteFile {
    /// `None` once removed.
    dir: Option<folder::ScratchDir>,
}

impl SqliteFile {
    fn create() -> Result<(SqliteFile, DatabaseUrl), ScratchError> {
        let dir = folder::ScratchDir::create()?;
        let path = dir.path().join("scratch.db");
        let file = SqliteFile { dir: Some(dir) };
        let url = DatabaseUrl::parse(&format!("sqlite:{}", percent_encode_path(&path)?))?;
        Ok((file, url))
    }

    fn folder(&self) -> Option<&Path> {
        self.dir.as_ref().map(folder::ScratchDir::path)
    }

    fn cleanup(mut self) -> Result<(), ScratchError> {
        match self.dir.take() {
            Some(dir) => dir.close(),
            None => Ok(()),
        }
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take()
            && let Err(error) = dir.close()
        {
            tracing::warn!(%error, "could not remove a SQLite scratch folder; remove it by hand");
        }
    }
}

impl fmt::Debug for SqliteFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteFile")
            .field("folder", &self.folder())
            .finish()
    }
}

/// Percent-encodes a path for a URL, keeping `/` and the characters RFC 3986 leaves
/// unreserved. Spaces become `%20` rather than `+`, because libpq does not decode `+`.
fn percent_encode_path(path: &Path) -> Result<String, ScratchError> {
    let text = path.to_str().ok_or_else(|| {
        ScratchError::io(
            "using",
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the path is not valid UTF-8, so it cannot go into a URL; set TMPDIR to a UTF-8 path",
            ),
        )
    })?;
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(encoded)
}

/// Returns the last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_encoding_keeps_slashes_and_escapes_the_rest() {
        let encoded = percent_encode_path(Path::new("/tmp/a b/c%d?e#f+g/x.db")).unwrap();
        assert_eq!(encoded, "/tmp/a%20b/c%25d%3Fe%23f%2Bg/x.db");
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }
}
