//! A temporary database on a given PostgreSQL server.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Row};

use super::ScratchError;
use crate::connect::{connect_postgres, quote_ident, quote_literal};
use crate::url::{Backend, DatabaseUrl, Redactor};

/// How long opening the admin connection may take, because a connection to a host that
/// drops packets otherwise hangs for the operating system's TCP timeout (minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long dropping the database may take, after the connection is open.
const DROP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often CREATE DATABASE is tried while another session uses the template (55006).
const CREATE_ATTEMPTS: u32 = 5;

/// How often the pre-13 drop is tried while sessions still use the database (55006).
const DROP_ATTEMPTS: u32 = 5;

const RETRY_DELAY: Duration = Duration::from_millis(200);

/// `DROP DATABASE … WITH (FORCE)` exists since PostgreSQL 13.
const FORCE_DROP_VERSION: u32 = 130000;

/// A database this process created on a server, dropped when the guard goes.
#[derive(Debug)]
pub(super) struct ServerDatabase {
    admin: DatabaseUrl,
    name: String,
    /// Set once the database is dropped, so that `Drop` does not drop it again.
    dropped: bool,
}

impl ServerDatabase {
    /// Creates the database and returns its guard and URL.
    pub(super) async fn create(
        admin: &DatabaseUrl,
        template: Option<&str>,
    ) -> Result<(ServerDatabase, DatabaseUrl), ScratchError> {
        if admin.backend() != Backend::Postgres {
            return Err(ScratchError::NotPostgres {
                url: admin.redacted(),
                backend: admin.backend(),
            });
        }
        let mut conn =
            with_timeout(admin, "connecting to", CONNECT_TIMEOUT, connect_postgres(admin)).await??;

        // A name already taken (SQLSTATE 42P04) gets a new random part, so this never
        // adopts, and later drops, a database that someone else created.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let name = scratch_name();
            let url = url_for_database(admin, &name)?;
            let statement = create_statement(&name, template);
            match execute(&mut conn, &statement).await {
                Ok(()) => {
                    // The guard comes before the next await, so that a caller who cancels
                    // this future still drops the database.
                    let database = ServerDatabase {
                        admin: admin.clone(),
                        name,
                        dropped: false,
                    };
                    let _ = conn.close().await;
                    return Ok((database, url));
                }
                // 42501 also covers copying a template the role may not read, so the
                // role's attributes decide which error this is.
                Err(error) if sqlstate(&error).as_deref() == Some("42501") => {
                    return Err(match missing_createdb(&mut conn, admin, &name).await {
                        Some(missing) => missing,
                        None => statement_error(admin, &statement, &error),
                    });
                }
                Err(error)
                    if attempt < CREATE_ATTEMPTS
                        && matches!(sqlstate(&error).as_deref(), Some("42P04" | "55006")) =>
                {
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Err(error) => return Err(statement_error(admin, &statement, &error)),
            }
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database once. A failure is returned, not retried in `Drop`, so that an
    /// unreachable server does not cost the caller the timeouts twice.
    pub(super) async fn cleanup(mut self) -> Result<(), ScratchError> {
        self.dropped = true;
        drop_database(&self.admin, &self.name)
            .await
            .map_err(|error| drop_failed(&self.name, error))
    }
}

/// Drops the database on a thread of its own with a single-threaded Tokio runtime, because
/// `Drop` cannot await, and blocking on a new runtime from inside the caller's runtime
/// panics. The join makes the process wait for the drop, so a guard dropped at the end of
/// `main` still removes its database.
impl Drop for ServerDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let admin = self.admin.clone();
        let name = self.name.clone();
        let worker = std::thread::Builder::new()
            .name("underpin-scratch-drop".to_string())
            .spawn(move || -> Result<(), String> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a Tokio runtime: {e}"))?;
                runtime
                    .block_on(drop_database(&admin, &name))
                    .map_err(|error| drop_failed(&name, error).to_string())
            });
        let outcome = match worker {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err("the thread that drops it panicked".to_string())),
            Err(error) => Err(format!("cannot start a thread to drop it: {error}")),
        };
        if let Err(error) = outcome {
            tracing::warn!(database = %self.name, server = %self.admin, "{error}");
        }
    }
}

fn drop_failed(name: &str, error: ScratchError) -> ScratchError {
    ScratchError::DropFailed {
        database: quote_ident(name),
        cause: Box::new(error),
    }
}

/// Drops the database, ending the sessions still connected to it. Dropping a database that
/// is already gone succeeds.
async fn drop_database(admin: &DatabaseUrl, name: &str) -> Result<(), ScratchError> {
    let mut conn = with_timeout(admin, "connecting to", CONNECT_TIMEOUT, connect_postgres(admin)).await??;
    let version = conn.server_version_num().unwrap_or(0);
    let quoted = quote_ident(name);

    if version >= FORCE_DROP_VERSION {
        let statement = format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)");
        with_timeout(
            admin,
            "dropping the scratch database on",
            DROP_TIMEOUT,
            execute(&mut conn, &statement),
        )
        .await?
        .map_err(|e| statement_error(admin, &statement, &e))?;
        let _ = conn.close().await;
        return Ok(());
    }

    // NOTE: this path serves servers before 13, which the test suite does not run against.
    // Refusing new connections first keeps a client from slipping in between the
    // termination and the drop.
    let block = format!("ALTER DATABASE {quoted} WITH ALLOW_CONNECTIONS false");
    let terminate = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = {} AND pid <> pg_backend_pid()",
        quote_literal(name)
    );
    let drop = format!("DROP DATABASE IF EXISTS {quoted}");
    let steps = async {
        match execute(&mut conn, &block).await {
            Err(error) if sqlstate(&error).as_deref() == Some("3D000") => return Ok(()),
            other => other.map_err(|e| statement_error(admin, &block, &e))?,
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            execute(&mut conn, &terminate)
                .await
                .map_err(|e| statement_error(admin, &terminate, &e))?;
            match execute(&mut conn, &drop).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < DROP_ATTEMPTS && sqlstate(&error).as_deref() == Some("55006") => {
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Err(error) => return Err(statement_error(admin, &drop, &error)),
            }
        }
    };
    with_timeout(admin, "dropping the scratch database on", DROP_TIMEOUT, steps).await??;
    let _ = conn.close().await;
    Ok(())
}

/// Returns the error for a role without CREATEDB, naming the role, or `None` when the role
/// has CREATEDB or is a superuser.
async fn missing_createdb(conn: &mut PgConnection, admin: &DatabaseUrl, name: &str) -> Option<ScratchError> {
    let row = sqlx::raw_sql(
        "SELECT rolname::text, rolcreatedb OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *conn)
    .await
    .ok()?;
    let role: String = row.try_get(0).ok()?;
    let allowed: bool = row.try_get(1).ok()?;
    (!allowed).then(|| ScratchError::MissingCreatedb {
        url: admin.redacted(),
        role: quote_ident(&role),
        database: name.to_string(),
    })
}

fn create_statement(name: &str, template: Option<&str>) -> String {
    match template {
        Some(template) => format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(name),
            quote_ident(template)
        ),
        None => format!("CREATE DATABASE {}", quote_ident(name)),
    }
}

/// Returns `underpin_scratch_<pid>_<8 hex digits>`. The process id identifies the process
/// that left a database behind, and the random part keeps scratch databases of one process
/// apart.
fn scratch_name() -> String {
    format!("underpin_scratch_{}_{:08x}", std::process::id(), random_u32())
}

/// Returns a random number without a random-number crate: `RandomState` is seeded from the
/// operating system's random source once per thread and differs for each instance, and the
/// counter and clock vary the input too.
fn random_u32() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.finish() as u32
}

/// Returns the admin URL with its database replaced by `name`. Credentials and other query
/// parameters stay as written; a `dbname` parameter goes, because libpq and sqlx let it
/// override the path.
fn url_for_database(admin: &DatabaseUrl, name: &str) -> Result<DatabaseUrl, ScratchError> {
    let mut url = url::Url::parse(admin.expose()).map_err(|e| crate::url::UrlError {
        redacted: admin.redacted(),
        reason: e.to_string(),
    })?;
    url.set_path(&format!("/{name}"));

    // The raw query is filtered rather than rebuilt, since rebuilding would re-encode
    // spaces as `+`, which libpq reads as a plus sign.
    let query: Option<String> = url.query().map(|query| {
        query
            .split('&')
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or_default();
                !key.eq_ignore_ascii_case("dbname")
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    url.set_query(query.as_deref().filter(|query| !query.is_empty()));
    Ok(DatabaseUrl::parse(url.as_str())?)
}

async fn execute(conn: &mut PgConnection, statement: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(statement.to_string()))
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// Describes a failed statement with the server's message and SQLSTATE, scrubbed of the
/// admin URL's password.
fn statement_error(admin: &DatabaseUrl, statement: &str, error: &sqlx::Error) -> ScratchError {
    let mut redactor = Redactor::new();
    redactor.add_url(admin);
    let reason = match error {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|code| code.into_owned()).unwrap_or_default();
            let hint = match code.as_str() {
                "55006" => {
                    "; another session is connected to the template database, so end it or \
                     use another template (e.g. template0)"
                }
                "3D000" => "; check the template's name (template0 and template1 always exist)",
                _ => "",
            };
            format!("{} (SQLSTATE {code}){hint}", db.message())
        }
        other => other.to_string(),
    };
    ScratchError::Statement {
        url: admin.redacted(),
        statement: statement.to_string(),
        reason: redactor.redact(&reason).into_owned(),
    }
}

async fn with_timeout<T>(
    admin: &DatabaseUrl,
    action: &'static str,
    timeout: Duration,
    future: impl Future<Output = T>,
) -> Result<T, ScratchError> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| ScratchError::Timeout {
            url: admin.redacted(),
            action,
            timeout,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_differ_and_fit_an_identifier() {
        let first = scratch_name();
        let second = scratch_name();
        assert_ne!(first, second);
        assert!(first.starts_with(&format!("underpin_scratch_{}_", std::process::id())));
        // PostgreSQL truncates identifiers at 63 bytes.
        assert!(first.len() <= 63, "{first}");
    }

    #[test]
    fn url_for_database_keeps_credentials_and_query() {
        let admin = DatabaseUrl::parse("postgres://app:pw@db:5433/postgres?sslmode=require").unwrap();
        let url = url_for_database(&admin, "underpin_scratch_1_ab").unwrap();
        assert_eq!(
            url.expose(),
            "postgres://app:pw@db:5433/underpin_scratch_1_ab?sslmode=require"
        );
    }

    #[test]
    fn url_for_database_drops_dbname_parameter() {
        let admin = DatabaseUrl::parse("postgres://app@db/postgres?dbname=other&options=-c%20x%3D1").unwrap();
        let url = url_for_database(&admin, "scratch").unwrap();
        assert_eq!(url.expose(), "postgres://app@db/scratch?options=-c%20x%3D1");

        let only_dbname = DatabaseUrl::parse("postgres://app@db/postgres?DBNAME=other").unwrap();
        let url = url_for_database(&only_dbname, "scratch").unwrap();
        assert_eq!(url.expose(), "postgres://app@db/scratch");
    }

    #[test]
    fn url_for_database_keeps_socket_host() {
        let admin = DatabaseUrl::parse("postgres:///postgres?host=/run/postgresql&port=5433").unwrap();
        let url = url_for_database(&admin, "scratch").unwrap();
        assert_eq!(url.expose(), "postgres:///scratch?host=/run/postgresql&port=5433");
    }

    #[test]
    fn create_statement_quotes_names() {
        assert_eq!(create_statement("s", None), "CREATE DATABASE \"s\"");
        assert_eq!(
            create_statement("s", Some("tem\"plate")),
            "CREATE DATABASE \"s\" TEMPLATE \"tem\"\"plate\""
        );
    }
}
