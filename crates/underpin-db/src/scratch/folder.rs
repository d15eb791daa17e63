//! The temporary folders `underpin-scratch-*` of local clusters and SQLite files, and the
//! removal of those that a killed process left behind.
//!
//! Each folder contains a file `owner.lock` on which the process that created the folder
//! holds an exclusive `flock(2)` lock for the folder's lifetime. The kernel releases the lock
//! when that process ends in any way, SIGKILL included, so a lock that another process can
//! take marks a folder whose owner is gone.

use std::fs::{File, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use super::{ScratchError, cluster};

/// The start of every scratch folder's name, to which `tempfile` appends six random
/// characters.
pub(super) const PREFIX: &str = "underpin-scratch-";

const LOCK_FILE: &str = "owner.lock";

/// A scratch folder in TMPDIR, mode 700, locked while this value lives.
#[derive(Debug)]
pub(super) struct ScratchDir {
    // Declared before `lock`, so that a dropped value removes the folder first and
    // releases the lock after.
    dir: TempDir,
    /// `None` when the file system refused the lock (see [`ScratchDir::create`]).
    lock: Option<File>,
}

impl ScratchDir {
    /// Creates the folder and its locked `owner.lock`. When the file system does not support
    /// `flock`, the lock file is removed again and the folder stays without one, which the
    /// sweep never removes, rather than failing the scratch database.
    pub(super) fn create() -> Result<ScratchDir, ScratchError> {
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir()
            .map_err(|e| ScratchError::io("creating a folder in", &std::env::temp_dir(), e))?;
        let path = dir.path().join(LOCK_FILE);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ScratchError::io("creating", &path, e))?;

        let lock = match file.try_lock() {
            Ok(()) => Some(file),
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "could not lock the scratch folder's lock file, so remove_abandoned_folders will skip the folder");
                drop(file);
                std::fs::remove_file(&path).map_err(|e| ScratchError::io("removing", &path, e))?;
                None
            }
        };
        Ok(ScratchDir { dir, lock })
    }

    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Removes the folder and everything in it, then releases the lock.
    pub(super) fn close(self) -> Result<(), ScratchError> {
        let ScratchDir { dir, lock } = self;
        let path = dir.path().to_path_buf();
        let removed = dir
            .close()
            .map_err(|e| ScratchError::io("removing the scratch folder", &path, e));
        drop(lock);
        removed
    }
}

/// Removes the folders `underpin-scratch-*` directly in `temp_dir` whose owner has ended and
/// returns them, sorted. A folder is removed only when all of these are true:
///
/// - it is a folder, not a symbolic link;
/// - it contains `owner.lock`, created by a process of this effective user ID at least
///   `min_age` ago, and that lock can be taken, so the process that created it is gone;
/// - no PostgreSQL server runs in it: `data/postmaster.pid` names no live process, its
///   socket accepts no connection, and no process has its working directory inside it.
///
/// `min_age` covers the moment between the creation of a lock file and its lock; a minute
/// is ample. A folder that cannot be checked or removed is skipped with a warning.
pub(super) fn remove_abandoned(temp_dir: &Path, min_age: Duration) -> Result<Vec<PathBuf>, ScratchError> {
    let entries = std::fs::read_dir(temp_dir).map_err(|e| ScratchError::io("listing", temp_dir, e))?;
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ScratchError::io("listing", temp_dir, e))?;
        let is_scratch = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(PREFIX));
        if !is_scratch {
            continue;
        }

        let folder = entry.path();
        match remove_if_abandoned(&folder, min_age) {
            Ok(true) => removed.push(folder),
            Ok(false) => {}
            Err(error) => tracing::warn!(
                folder = %folder.display(),
                %error,
                "could not check or remove a scratch folder that may be abandoned; remove it by hand if no underpin uses it"
            ),
        }
    }
    removed.sort();
    Ok(removed)
}

/// Removes `folder` if the conditions of [`remove_abandoned`] hold, and returns whether it did.
fn remove_if_abandoned(folder: &Path, min_age: Duration) -> io::Result<bool> {
    // symlink_metadata rather than metadata, so that a link named like a scratch folder
    // cannot point the removal elsewhere.
    if !std::fs::symlink_metadata(folder)?.is_dir() {
        return Ok(false);
    }

    let lock_path = folder.join(LOCK_FILE);
    let lock = match File::open(&lock_path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    };
    let lock_metadata = lock.metadata()?;
    // SAFETY: geteuid(2) takes no arguments, and POSIX specifies that it always succeeds.
    let euid = unsafe { libc::geteuid() };
    if !lock_metadata.is_file() || lock_metadata.uid() != euid {
        return Ok(false);
    }
    let age = lock_metadata.modified()?.elapsed().unwrap_or_default();
    if age < min_age {
        return Ok(false);
    }

    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        Err(TryLockError::Error(error)) => return Err(error),
    }
    // Another sweep may have removed the folder between the open and the lock, leaving this
    // process a lock on a deleted file. The path must still name the locked file.
    match std::fs::symlink_metadata(&lock_path) {
        Ok(current) if current.dev() == lock_metadata.dev() && current.ino() == lock_metadata.ino() => {}
        Ok(_) => return Ok(false),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    }

    if cluster::server_may_run(folder) {
        return Ok(false);
    }
    std::fs::remove_dir_all(folder)?;
    tracing::info!(folder = %folder.display(), "removed a scratch folder whose owner had ended");
    Ok(true)
}
