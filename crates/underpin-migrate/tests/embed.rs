//! `embed_migrations!` end to end: what the macro embeds from tests/fixtures/embed, and
//! `EmbeddedMigrations::run` against SQLite and PostgreSQL.
//!
//! The PostgreSQL test needs `UNDERPIN_TEST_PG_URL`, a superuser URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`. It creates and drops its own database.

use std::net::TcpListener;
use std::path::Path;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, SqliteConnection};
use underpin_db::{DatabaseUrl, connect_postgres, connect_sqlite};
use underpin_migrate::embed::{Dialect, EmbeddedMigrations};
use underpin_migrate::{
    Driver, HistoryTable, MigrateError, PostgresDriver, RunOptions, RunReport, SqliteDriver,
};

static FIXTURE: EmbeddedMigrations = underpin_migrate::embed_migrations!("tests/fixtures/embed");

const VERSIONS: [&str; 3] = ["20250301090000", "20250301090100", "20250301090200"];

const PASSWORD: &str = "s3cret-Pw";

#[test]
fn embeds_top_level_and_one_subfolder() {
    // The fixture also contains `.hidden.sql` and `notes/deeper/skipped.txt`, which must be left out.
    let names: Vec<&str> = FIXTURE.files().iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "20250301090000_create_items.sql",
            "20250301090100_create_item_tags.sql",
            "20250301090200_add_items_note.sql",
            "notes/about.txt",
        ]
    );
    assert_eq!(FIXTURE.dir(), "tests/fixtures/embed");
}

#[test]
fn embedded_bytes_match_files_on_disk() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/embed");
    for (relative, bytes) in FIXTURE.files() {
        let on_disk = std::fs::read(folder.join(relative))
            .unwrap_or_else(|e| panic!("cannot read {relative} of the fixture: {e}"));
        assert_eq!(*bytes, on_disk.as_slice(), "{relative}");
    }
}

#[test]
fn load_returns_three_migrations() {
    let set = FIXTURE.load(Dialect::Postgres).unwrap();
    let versions: Vec<&str> = set.migrations.iter().map(|m| m.version.as_str()).collect();
    assert_eq!(versions, VERSIONS);
    let names: Vec<&str> = set.migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["create_items", "create_item_tags", "add_items_note"]);
    assert_eq!(
        set.migrations[0].up.path,
        Path::new("tests/fixtures/embed/20250301090000_create_items.sql")
    );
    assert!(set.migrations.iter().all(|m| m.down.is_some()));
}

#[tokio::test]
async fn sqlite_second_run_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("embed.db").display());

    let first = FIXTURE.run(&url).await.unwrap();
    assert_eq!(step_versions(&first), VERSIONS);
    let second = FIXTURE.run(&url).await.unwrap();
    assert_eq!(step_versions(&second), Vec::<String>::new());

    // The column added by the last migration takes a value.
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    conn.execute("INSERT INTO items (id, name, note) VALUES (1, 'bolt', 'M6')")
        .await
        .unwrap();
    conn.execute("INSERT INTO item_tags (item_id, tag) VALUES (1, 'steel')")
        .await
        .unwrap();

    let history = sqlite_history(&url, HistoryTable::default()).await;
    assert_eq!(history, VERSIONS.map(|v| (v.to_string(), "applied".to_string())));
}

#[tokio::test]
async fn sqlite_run_with_custom_table_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("embed.db").display());
    let table = HistoryTable {
        table: "embedded_history".to_string(),
        ..HistoryTable::default()
    };
    let options = RunOptions {
        applied_by: "embed-test@ci".to_string(),
        ..RunOptions::default()
    };

    let report = FIXTURE.run_with(&url, options, table.clone()).await.unwrap();
    assert_eq!(step_versions(&report), VERSIONS);

    let sqlite_url = DatabaseUrl::parse(&url).unwrap();
    let conn = connect_sqlite(&sqlite_url, RunOptions::default().lock_timeout)
        .await
        .unwrap();
    let mut driver = SqliteDriver::new(conn, table);
    let rows = driver.read_history().await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|row| row.applied_by.contains("embed-test@ci")),
        "{rows:?}"
    );

    let conn = connect_sqlite(&sqlite_url, RunOptions::default().lock_timeout)
        .await
        .unwrap();
    let mut default_table = SqliteDriver::new(conn, HistoryTable::default());
    assert!(!default_table.history_exists().await.unwrap());
}

#[tokio::test]
async fn load_error_stops_before_connecting() {
    static BROKEN: EmbeddedMigrations = EmbeddedMigrations::new(
        "db/migrations",
        &[("create_items.sql", b"CREATE TABLE items (id int);\n")],
    );
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("never.db");

    let error = BROKEN
        .run(&format!("sqlite:{}", database.display()))
        .await
        .unwrap_err();
    let MigrateError::Load(load) = &error else {
        panic!("expected a load error, got {error}")
    };
    assert_eq!(load.problems[0].path, "db/migrations/create_items.sql");
    // Connecting would have created the file.
    assert!(!database.exists(), "{} was created", database.display());
}

#[tokio::test]
async fn invalid_url_error_hides_password() {
    let url = format!("mysql://app:{PASSWORD}@127.0.0.1/app");
    let error = FIXTURE.run(&url).await.unwrap_err();
    assert!(matches!(error, MigrateError::Connect(_)), "{error:?}");
    assert_eq!(error.kind(), "connect");

    let message = error.to_string();
    assert!(message.contains("invalid database URL"), "{message}");
    assert!(message.contains("app:***@127.0.0.1"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
}

#[tokio::test]
async fn refused_connection_error_hides_password() {
    let port = closed_local_port();
    let url = format!("postgres://app:{PASSWORD}@127.0.0.1:{port}/app");
    let error = FIXTURE.run(&url).await.unwrap_err();
    assert!(matches!(error, MigrateError::Connect(_)), "{error:?}");

    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "cannot connect to postgres://app:***@127.0.0.1:{port}/app"
        )),
        "{message}"
    );
    assert!(!message.contains(PASSWORD), "{message}");
    assert!(!format!("{error:?}").contains(PASSWORD), "{error:?}");
}

#[tokio::test]
async fn postgres_second_run_applies_nothing() {
    let admin_url = std::env::var("UNDERPIN_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "UNDERPIN_TEST_PG_URL is not set. Set it to a PostgreSQL superuser URL such as \
             postgres://postgres@127.0.0.1:5432/postgres (bash scripts/test.sh starts a throwaway \
             server and sets it); the test creates and drops its own database there."
        )
    });
    let database = format!("embed_test_{}", std::process::id());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to UNDERPIN_TEST_PG_URL: {e}"));
    let drop_database = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
    admin.execute(AssertSqlSafe(drop_database.clone())).await.unwrap();
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .await
        .unwrap();
    let url = PgConnectOptions::from_str(&admin_url)
        .expect("UNDERPIN_TEST_PG_URL parses")
        .database(&database)
        .to_url_lossy()
        .to_string();

    // Everything is gathered before the database is dropped, and checked afterwards, so a
    // failing check leaves no database behind.
    let first = FIXTURE.run(&url).await;
    let second = FIXTURE.run(&url).await;
    let insert = match PgConnection::connect(&url).await {
        Ok(mut conn) => conn
            .execute("INSERT INTO items (id, name, note) VALUES (1, 'bolt', 'M6')")
            .await
            .map(|_| ()),
        Err(error) => Err(error),
    };
    let history = pg_history(&url).await;
    admin.execute(AssertSqlSafe(drop_database)).await.unwrap();

    assert_eq!(step_versions(&first.unwrap()), VERSIONS);
    assert_eq!(step_versions(&second.unwrap()), Vec::<String>::new());
    insert.expect("the column added by the last migration takes a value");
    assert_eq!(history, VERSIONS.map(|v| (v.to_string(), "applied".to_string())));
}

fn step_versions(report: &RunReport) -> Vec<String> {
    report
        .steps
        .iter()
        .map(|step| step.version.as_str().to_string())
        .collect()
}

async fn sqlite_history(url: &str, table: HistoryTable) -> Vec<(String, String)> {
    let url = DatabaseUrl::parse(url).unwrap();
    let conn = connect_sqlite(&url, RunOptions::default().lock_timeout)
        .await
        .unwrap();
    history_pairs(&mut SqliteDriver::new(conn, table)).await
}

async fn pg_history(url: &str) -> Vec<(String, String)> {
    let url = DatabaseUrl::parse(url).unwrap();
    let conn = connect_postgres(&url).await.unwrap();
    history_pairs(&mut PostgresDriver::new(conn, HistoryTable::default())).await
}

async fn history_pairs(driver: &mut impl Driver) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = driver
        .read_history()
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.version.as_str().to_string(), row.status.as_str().to_string()))
        .collect();
    rows.sort();
    rows
}

/// Returns a port on 127.0.0.1, from the range these tests may use, where nothing listens.
fn closed_local_port() -> u16 {
    // Binding proves the port is free; the listener closes at the end of the statement.
    (58490..58500)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("one of the ports 58490-58499 on 127.0.0.1 is free")
}
