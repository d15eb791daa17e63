//! Ctrl-C and SIGTERM for commands that clean up or explain before they exit with 130.

use std::future::Future;

use crate::render::CliError;

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment `listen` returns.
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn listen() -> Result<Signals, CliError> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| CliError::Io(format!("cannot listen for {name}: {e}")))
        };
        Ok(Signals {
            interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
            terminate: listen(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    /// Completes when either signal arrives (or arrived since `listen`).
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    /// Returns whether a signal arrived since `listen`, without waiting.
    pub fn arrived(&mut self) -> bool {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let pending = std::pin::pin!(self.recv());
        pending.poll(&mut context).is_ready()
    }
}
