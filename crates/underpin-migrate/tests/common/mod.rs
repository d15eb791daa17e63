//! Helpers shared by the integration tests: scratch databases and migration folders.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor};
use underpin_db::sql::Dialect;
use underpin_db::{DatabaseUrl, connect_postgres, connect_sqlite};
use underpin_migrate::{
    HistoryTable, LoadOptions, MigrationSet, Migrator, PostgresDriver, RunOptions, SqliteDriver, load_dir,
};

/// The superuser URL of the test server; scripts/test.sh sets it.
pub fn pg_admin_url() -> String {
    std::env::var("UNDERPIN_TEST_PG_URL").expect(
        "UNDERPIN_TEST_PG_URL is not set; run the suite with `bash scripts/test.sh`, which starts a throwaway PostgreSQL",
    )
}

/// The superuser URL of the PostgreSQL 18 server with pgvector; scripts/test.sh sets it.
pub fn pg18_admin_url() -> String {
    std::env::var("UNDERPIN_TEST_PG18_URL").expect(
        "UNDERPIN_TEST_PG18_URL is not set; run the suite with `bash scripts/test.sh`, which starts PostgreSQL 18 with pgvector",
    )
}

/// Creates an empty database named after the test and returns its URL.
pub async fn fresh_pg_database(name: &str) -> DatabaseUrl {
    fresh_database_on(&pg_admin_url(), name).await
}

/// Creates an empty database on the server of `admin` and returns its URL.
pub async fn fresh_database_on(admin: &str, name: &str) -> DatabaseUrl {
    let admin = admin.to_string();
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

/// Writes `files` into `dir` (created when missing), replacing what was there.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, contents) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, contents).unwrap();
    }
}

pub fn load(dir: &Path, dialect: Dialect) -> MigrationSet {
    load_dir(
        dir,
        LoadOptions {
            dialect,
            require_down: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn options() -> RunOptions {
    RunOptions {
        lock_timeout: Duration::from_secs(10),
        applied_by: "test@host".to_string(),
        ..RunOptions::default()
    }
}

pub async fn pg_migrator(url: &DatabaseUrl, dir: &Path) -> Migrator<'static, PostgresDriver> {
    pg_migrator_with(url, dir, options()).await
}

pub async fn pg_migrator_with(
    url: &DatabaseUrl,
    dir: &Path,
    options: RunOptions,
) -> Migrator<'static, PostgresDriver> {
    let conn = connect_postgres(url).await.unwrap();
    let driver = PostgresDriver::new(conn, HistoryTable::default()).with_reconnect(url.clone());
    Migrator::new(
        driver,
        load(dir, Dialect::Postgres),
        options,
        "public.underpin_migrations".to_string(),
    )
}

pub async fn sqlite_migrator(url: &DatabaseUrl, dir: &Path) -> Migrator<'static, SqliteDriver> {
    let conn = connect_sqlite(url, Duration::from_secs(10)).await.unwrap();
    let driver = SqliteDriver::new(conn, HistoryTable::default());
    Migrator::new(
        driver,
        load(dir, Dialect::Sqlite),
        options(),
        "underpin_migrations".to_string(),
    )
}

/// Runs one query returning a single value on a fresh connection.
pub async fn pg_scalar<T>(url: &DatabaseUrl, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut conn = connect_postgres(url).await.unwrap();
    sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// The versions in the history table, in order.
pub async fn pg_history(url: &DatabaseUrl) -> Vec<(String, String)> {
    let mut conn = connect_postgres(url).await.unwrap();
    sqlx::query_as("SELECT version, status FROM underpin_migrations ORDER BY version::numeric")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

pub fn up() -> underpin_migrate::Request {
    underpin_migrate::Request::Up {
        to: None,
        step: None,
        allow_out_of_order: false,
    }
}
