//! Starting the programs of a local cluster (pg_config, `postgres --version`, initdb and the
//! postmaster) so that they neither receive the terminal's signals nor outlive underpin.
//!
//! Each program gets a process group of its own, because a terminal sends Ctrl-C's SIGINT to
//! the whole foreground process group. underpin decides what happens then, so the signal must
//! not reach initdb or the server. On Linux, each program also gets a parent-death signal
//! (`PR_SET_PDEATHSIG`), so that it ends when underpin is killed without running any cleanup
//! code (SIGKILL, a CI timeout, the OOM killer).
//!
//! The kernel sends the parent-death signal when the thread that forked the child exits, not
//! when the process does. So every program here is forked on one thread that this module
//! starts and that never returns. Forked on a caller's short-lived thread, such as one of
//! Tokio's blocking-pool threads (which exit after ten seconds of idling), the server would
//! stop when that thread ends.

use std::io;
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, PoisonError, mpsc};

/// Work for the spawn thread.
type Job = Box<dyn FnOnce() + Send>;

/// The spawn thread's job queue, `None` until the first spawn starts the thread.
static SPAWN_QUEUE: Mutex<Option<mpsc::Sender<Job>>> = Mutex::new(None);

/// Prepares `command` for a child that runs in a process group of its own and gets
/// `death_signal` when underpin ends (on Linux). Set the user with `Command::uid` before or
/// after this call: std switches the user before it runs the hook that sets the
/// parent-death signal, which matters because a change of the effective user or group ID
/// clears that signal.
pub(super) fn isolate(command: &mut Command, death_signal: libc::c_int) {
    command.process_group(0);

    #[cfg(target_os = "linux")]
    {
        // Read before the fork, since in the child only getppid() is available.
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the hook runs in the forked child before exec, so it may make only
        // async-signal-safe calls. prctl(2), getppid(2) and _exit(2) are such calls,
        // last_os_error only reads errno, and nothing in the hook allocates.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // A parent that died between fork and prctl sends no signal anymore, and
                // the child now belongs to init or a subreaper.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    // NOTE: other systems have no parent-death signal, so there the programs keep running
    // when underpin is killed.
}

/// Starts `command`, prepared with [`isolate`], on the spawn thread.
pub(super) fn spawn(mut command: Command) -> io::Result<std::process::Child> {
    on_spawn_thread(move || command.spawn())?
}

/// Runs `command`, prepared with [`isolate`], to its end and collects its output. The
/// command is forked on the spawn thread and registered with the caller's Tokio runtime,
/// which must be running. Dropping the future kills the child.
pub(super) async fn output(command: Command) -> io::Result<Output> {
    let mut command = tokio::process::Command::from(command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let runtime = tokio::runtime::Handle::current();
    let child = on_spawn_thread(move || {
        let _context = runtime.enter();
        command.spawn()
    })??;
    child.wait_with_output().await
}

/// Runs `job` on the spawn thread, starting the thread on first use, and returns its result.
/// The caller blocks while the job runs, which for a spawn is the time of a fork and exec.
/// A job that panics returns an error, and the thread goes on serving later jobs.
fn on_spawn_thread<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    let (reply, result) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = reply.send(job());
    });

    let mut queue = SPAWN_QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
    let sender = match queue.as_ref() {
        Some(sender) => sender,
        None => {
            let (sender, jobs) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("underpin-scratch-spawn".to_string())
                .spawn(move || {
                    for job in jobs {
                        // The panic hook has printed the message, and the dropped reply
                        // channel reports the failure to the caller.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                })?;
            queue.insert(sender)
        }
    };
    sender
        .send(job)
        .map_err(|_| io::Error::other("the thread that starts scratch cluster programs has ended"))?;
    drop(queue);

    result
        .recv()
        .map_err(|_| io::Error::other("starting the program panicked (its panic message went to stderr)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the fields of /proc/PID/stat after the command name.
    fn stat_fields(pid: u32) -> Vec<String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let (_, after_name) = stat.rsplit_once(')').unwrap();
        after_name.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn child_leads_its_own_process_group() {
        let mut command = Command::new("sleep");
        command.arg("30");
        isolate(&mut command, libc::SIGKILL);
        let mut child = spawn(command).unwrap();

        // After the name: state, ppid, pgrp.
        let fields = stat_fields(child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(fields[1], std::process::id().to_string());
        assert_eq!(fields[2], child.id().to_string());
    }

    #[test]
    fn spawn_runs_on_one_lasting_thread() {
        let first = on_spawn_thread(|| std::thread::current().id()).unwrap();
        let second = std::thread::spawn(|| on_spawn_thread(|| std::thread::current().id()).unwrap())
            .join()
            .unwrap();
        assert_eq!(first, second);
        assert_ne!(first, std::thread::current().id());
    }

    #[test]
    fn panicking_job_leaves_thread_serving() {
        let error = on_spawn_thread(|| panic!("a job fails")).unwrap_err();
        assert!(error.to_string().contains("panicked"), "{error}");
        assert_eq!(on_spawn_thread(|| 7).unwrap(), 7);
    }

    #[tokio::test]
    async fn output_collects_stdout_and_status() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        isolate(&mut command, libc::SIGKILL);
        let output = output(command).await.unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
        assert_eq!(output.status.code(), Some(3));
    }
}
