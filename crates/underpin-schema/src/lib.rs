//! The schema model of a database and the code that reads it from PostgreSQL and SQLite
//! catalogs. Renderers (`underpin-docs`) and the code generator work from [`Schema`] alone.

pub mod model;
pub mod postgres;
pub mod sqlite;

pub use model::*;

use std::time::Duration;

use underpin_db::{Backend, ConnectError, DatabaseUrl, Redactor};

/// Options that select what introspection reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntrospectOptions {
    /// The schemas to read. Empty reads every schema except PostgreSQL's own (`pg_catalog`,
    /// `information_schema`, `pg_toast*`, `pg_temp_*`) and schemas that belong to an
    /// extension. SQLite has one schema, `main`.
    pub schemas: Vec<String>,
    /// Tables to leave out, as `name` (in any schema) or `schema.name`, for example the
    /// migration history table `underpin_migrations`. Their indexes, triggers and owned
    /// sequences go with them.
    pub exclude_tables: Vec<String>,
}

impl IntrospectOptions {
    /// Checks whether `schema.name` is one of [`IntrospectOptions::exclude_tables`].
    pub fn excludes(&self, schema: &str, name: &str) -> bool {
        self.exclude_tables
            .iter()
            .any(|pattern| match pattern.split_once('.') {
                Some((pattern_schema, pattern_name)) => pattern_schema == schema && pattern_name == name,
                None => pattern == name,
            })
    }
}

/// A schema read from a database, with the cost of reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    /// Normalized: every list in canonical order.
    pub schema: Schema,
    /// Catalog queries sent to the server. It depends on nothing but the dialect, never on
    /// how many objects the database holds. Transaction control (`BEGIN`, `SET LOCAL`,
    /// `COMMIT`) is not counted.
    pub queries: usize,
}

/// Reading a schema failed. No message contains a password.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    #[error(transparent)]
    Connect(#[from] ConnectError),

    /// A catalog query failed; `message` is the server's message with its SQLSTATE.
    #[error("introspection failed while {step}: {message}")]
    Query { step: &'static str, message: String },

    /// A catalog query returned something the model cannot hold: a bug in underpin, or a
    /// server that changed a catalog.
    #[error(
        "introspection read an unexpected catalog row while {step}: {message}; please report this with the server version"
    )]
    Decode { step: &'static str, message: String },

    #[error(
        "schema `{name}` does not exist in the database; check the schema names to read (existing schemas: {existing})"
    )]
    SchemaNotFound { name: String, existing: String },
}

impl IntrospectError {
    pub(crate) fn query(step: &'static str, error: &sqlx::Error) -> Self {
        let message = match error {
            sqlx::Error::Database(db) => match db.code() {
                Some(code) => format!("{} (SQLSTATE {code})", db.message()),
                None => db.message().to_string(),
            },
            other => other.to_string(),
        };
        IntrospectError::Query { step, message }
    }

    /// Masks every secret of `redactor` in the messages this error carries.
    fn redacted(self, redactor: &Redactor) -> Self {
        match self {
            IntrospectError::Query { step, message } => IntrospectError::Query {
                step,
                message: redactor.redact(&message).into_owned(),
            },
            IntrospectError::Decode { step, message } => IntrospectError::Decode {
                step,
                message: redactor.redact(&message).into_owned(),
            },
            other => other,
        }
    }
}

/// Connects to `url` and reads its schema with [`postgres::introspect`] or
/// [`sqlite::introspect`]. A SQLite file that does not exist is an error, not a new empty
/// database.
pub async fn introspect_url(
    url: &DatabaseUrl,
    options: &IntrospectOptions,
) -> Result<Introspection, IntrospectError> {
    let mut redactor = Redactor::new();
    redactor.add_url(url);

    let result = match url.backend() {
        Backend::Postgres => {
            let mut conn = underpin_db::connect_postgres(url).await?;
            postgres::introspect(&mut conn, options).await
        }
        Backend::Sqlite => {
            // Introspection only reads, so a writer holding the lock delays it only while
            // that writer commits.
            let mut conn = underpin_db::connect_sqlite_with(url, Duration::from_secs(5), false).await?;
            sqlite::introspect(&mut conn, options).await
        }
    };
    result.map_err(|error| error.redacted(&redactor))
}
