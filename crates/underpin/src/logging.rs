//! tracing setup: stderr, level from -q/-v or RUST_LOG, every line scrubbed of secrets.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::RwLock;

use tracing_subscriber::EnvFilter;
use underpin_db::Redactor;

static REDACTOR: RwLock<Option<Redactor>> = RwLock::new(None);

/// Scrubs secrets known to the process from text about to be printed.
pub fn redact(text: &str) -> Cow<'_, str> {
    match REDACTOR.read().ok().as_deref() {
        Some(Some(redactor)) => redactor.redact(text),
        _ => Cow::Borrowed(text),
    }
}

/// Registers the secrets to scrub; the first call wins.
pub fn set_redactor(redactor: Redactor) {
    if let Ok(mut slot) = REDACTOR.write()
        && slot.is_none()
    {
        *slot = Some(redactor);
    }
}

/// Adds the password of a URL that a command reads after the settings, such as a scratch
/// server's, to the secrets to scrub.
pub fn add_secret_url(url: &underpin_db::DatabaseUrl) {
    if let Ok(mut slot) = REDACTOR.write() {
        slot.get_or_insert_with(Redactor::new).add_url(url);
    }
}

/// A stderr writer that scrubs each write.
struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

pub fn init(quiet: bool, verbose: u8, json: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .with_ansi(!json && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false);
    let result = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(error) = result {
        eprintln!("warning: logging is off: {error}");
    }
}
