//! Helpers shared by the integration tests: scratch databases, fixtures and introspection.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor};
use underpin_db::sql::Dialect;
use underpin_db::{DatabaseUrl, connect_postgres};
use underpin_migrate::{HistoryTable, LoadOptions, Migrator, PostgresDriver, RunOptions, load_dir};
use underpin_schema::{IntrospectOptions, Introspection, Schema, introspect_url};

/// Returns the superuser URL of the server under test. scripts/test.sh sets it, once for
/// PostgreSQL 18 and once for 15.
pub fn pg_admin_url() -> String {
    std::env::var("UNDERPIN_TEST_PG_URL").expect(
        "UNDERPIN_TEST_PG_URL is not set; run the suite with `bash scripts/test.sh`, which starts a throwaway PostgreSQL",
    )
}

/// Returns the major version of the server under test: `UNDERPIN_TEST_SERVER` when scripts/test.sh
/// set it, otherwise asked from the server.
pub async fn server_major() -> u32 {
    let admin = pg_admin_url();
    if let Ok(value) = std::env::var("UNDERPIN_TEST_SERVER") {
        return value.parse().unwrap_or_else(|_| {
            panic!("UNDERPIN_TEST_SERVER is `{value}`, expected a major version such as 15")
        });
    }
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test server");
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    version.parse::<u32>().unwrap() / 10000
}

/// Creates an empty database named after the test and returns its URL.
pub async fn fresh_pg_database(name: &str) -> DatabaseUrl {
    let admin = pg_admin_url();
    let database = format!("t_{}_{}", name, std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test server");
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
    )))
    .await
    .unwrap();
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{database}\"")))
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').expect("the URL names a database");
    DatabaseUrl::parse(&format!("{base}/{database}")).unwrap()
}

/// Runs a script (several statements) in the database.
pub async fn pg_execute(url: &DatabaseUrl, sql: &str) {
    let mut conn = connect_postgres(url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}\nin:\n{sql}"));
}

/// Returns the folder of the SQL fixtures for the documentation cases.
pub fn sql_fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn sql_fixture(name: &str) -> String {
    let path = sql_fixture_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fresh database with one SQL fixture applied.
pub async fn database_with_fixture(test: &str, fixture: &str) -> DatabaseUrl {
    let url = fresh_pg_database(test).await;
    pg_execute(&url, &sql_fixture(fixture)).await;
    url
}

/// Reads every schema of the database.
pub async fn introspect(url: &DatabaseUrl) -> Introspection {
    introspect_with(url, &IntrospectOptions::default()).await
}

pub async fn introspect_with(url: &DatabaseUrl, options: &IntrospectOptions) -> Introspection {
    introspect_url(url, options)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Returns the migrations folder of examples/sop.
pub fn sop_migrations() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/sop/migrations")
}

/// Applies every migration in `dir` with the underpin-migrate library, keeping the history
/// in `public.underpin_migrations`.
pub async fn migrate_up(url: &DatabaseUrl, dir: &Path) {
    let set = load_dir(
        dir,
        LoadOptions {
            dialect: Dialect::Postgres,
            require_down: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let conn = connect_postgres(url).await.unwrap();
    let driver = PostgresDriver::new(conn, HistoryTable::default());
    let options = RunOptions {
        lock_timeout: Duration::from_secs(10),
        applied_by: "test@host".to_string(),
        ..RunOptions::default()
    };
    let mut migrator = Migrator::new(driver, set, options, "public.underpin_migrations".to_string());
    let request = underpin_migrate::Request::Up {
        to: None,
        step: None,
        allow_out_of_order: false,
    };
    migrator.run(&request).await.unwrap_or_else(|e| panic!("{e}"));
}

/// Returns options that read an example project without its migration history.
pub fn without_history() -> IntrospectOptions {
    IntrospectOptions {
        schemas: Vec::new(),
        exclude_tables: vec!["underpin_migrations".to_string()],
    }
}

pub fn table<'a>(schema: &'a Schema, qualified: &str) -> &'a underpin_schema::Table {
    let (schema_name, name) = qualified.split_once('.').expect("schema.name");
    schema
        .table_by_name(schema_name, name)
        .unwrap_or_else(|| panic!("table {qualified} is missing from the model"))
}
