//! Opening connections from a [`DatabaseUrl`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::url::{Backend, DatabaseUrl};

/// The `application_name` underpin reports to PostgreSQL, visible in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "underpin";

/// A connection that failed to open. The message never contains the password.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {url}: {reason}")]
pub struct ConnectError {
    pub url: String,
    pub reason: String,
}

impl ConnectError {
    fn new(url: &DatabaseUrl, source: &sqlx::Error) -> Self {
        let mut redactor = crate::url::Redactor::new();
        redactor.add_url(url);
        ConnectError {
            url: url.redacted(),
            reason: redactor.redact(&describe(source)).into_owned(),
        }
    }
}

/// Describes a connection error: the server's message with its SQLSTATE and the fix, or
/// the I/O error with a hint.
fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let fix = match code.as_str() {
                "3D000" => "; create the database (e.g. `createdb NAME`) or fix its name in the URL",
                "28P01" => "; check the user name and password",
                "28000" => "; check the user name, and that pg_hba.conf allows this user and host",
                "42501" => "; grant the user the privilege, or connect as a user who has it",
                "53300" => "; the server has no free connection slots, try again or raise max_connections",
                // PgBouncer rejects startup parameters it does not know, and sqlx sends
                // extra_float_digits.
                "08P01" if db.message().contains("unsupported startup parameter") => {
                    "; this is a pooler: add `ignore_startup_parameters = extra_float_digits` to its configuration (pgbouncer.ini)"
                }
                _ => "",
            };
            format!("{} (SQLSTATE {code}){fix}", db.message())
        }
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("{io}; is a server listening at that host and port?")
        }
        other => other.to_string(),
    }
}

/// Opens a PostgreSQL connection. Statement logging is off because migration scripts can be
/// megabytes long and tracing prints our own per-migration lines.
pub async fn connect_postgres(url: &DatabaseUrl) -> Result<PgConnection, ConnectError> {
    debug_assert_eq!(url.backend(), Backend::Postgres);
    let options = PgConnectOptions::from_str(url.expose())
        .map_err(|e| ConnectError::new(url, &e))?
        .application_name(APPLICATION_NAME)
        .disable_statement_logging();
    options.connect().await.map_err(|e| ConnectError::new(url, &e))
}

/// Opens (and creates when missing) a SQLite database. `busy_timeout` is how long a
/// writer waits for another process that holds the file's write lock. The journal mode is
/// left as the database has it: switching it needs an exclusive lock, which fails at once
/// while another process has the file open, and it is the application's choice.
pub async fn connect_sqlite(
    url: &DatabaseUrl,
    busy_timeout: Duration,
) -> Result<SqliteConnection, ConnectError> {
    connect_sqlite_with(url, busy_timeout, true).await
}

/// Opens a SQLite database; with `create` false a missing file is an error instead of a new
/// empty database.
pub async fn connect_sqlite_with(
    url: &DatabaseUrl,
    busy_timeout: Duration,
    create: bool,
) -> Result<SqliteConnection, ConnectError> {
    debug_assert_eq!(url.backend(), Backend::Sqlite);
    let options = SqliteConnectOptions::from_str(url.expose())
        .map_err(|e| ConnectError::new(url, &e))?
        .create_if_missing(create)
        .busy_timeout(busy_timeout)
        .foreign_keys(true)
        .disable_statement_logging();
    options.connect().await.map_err(|e| ConnectError::new(url, &e))
}

/// Quotes a string as a PostgreSQL literal that reads the same whatever the server's
/// `standard_conforming_strings` is: `E'…'` with `'` and `\` doubled, the rule libpq's
/// `PQescapeLiteral` follows. For text sent over the simple query protocol, which poolers
/// in transaction mode route correctly and which takes no bound parameters.
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    out.push_str("E'");
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Quotes an identifier for PostgreSQL or SQLite (both use `"…"` with `""` as the escape).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_escapes_quotes_and_backslashes() {
        assert_eq!(quote_literal("it's"), "E'it''s'");
        assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
        assert_eq!(quote_literal("é;--"), "E'é;--'");
    }

    #[test]
    fn ident_doubles_quotes() {
        assert_eq!(quote_ident("Schema \"History\""), "\"Schema \"\"History\"\"\"");
    }
}
