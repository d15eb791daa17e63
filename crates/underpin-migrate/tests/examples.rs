//! The example projects migrate up, all the way down, and up again.

mod common;

use std::path::PathBuf;

use underpin_db::DatabaseUrl;
use underpin_db::sql::Dialect;
use underpin_migrate::{Request, State};

use common::*;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .join("migrations")
}

fn down_all() -> Request {
    Request::Down {
        to: None,
        step: None,
        all: true,
    }
}

#[tokio::test]
async fn quickstart_round_trip_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::parse(&format!("sqlite:{}", dir.path().join("quickstart.db").display())).unwrap();
    let migrations = example("quickstart");
    assert_eq!(load(&migrations, Dialect::Sqlite).migrations.len(), 4);

    let mut migrator = sqlite_migrator(&url, &migrations).await;
    assert_eq!(migrator.run(&up()).await.unwrap().steps.len(), 4);
    let status = migrator.status().await.unwrap();
    assert!(status.migrations.iter().all(|m| m.state == State::Applied));
    assert_eq!(migrator.run(&down_all()).await.unwrap().steps.len(), 4);
    assert_eq!(migrator.run(&up()).await.unwrap().steps.len(), 4);
    assert!(migrator.run(&up()).await.unwrap().steps.is_empty());
}

#[tokio::test]
async fn sop_round_trip_on_postgres_18() {
    let url = fresh_database_on(&pg18_admin_url(), "sop").await;
    let migrations = example("sop");
    let set = load(&migrations, Dialect::Postgres);
    assert!(
        set.migrations.len() >= 12,
        "the reference schema has at least 12 migrations"
    );
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    let count = set.migrations.len();

    let mut migrator = pg_migrator(&url, &migrations).await;
    assert_eq!(migrator.run(&up()).await.unwrap().steps.len(), count);

    let hnsw: i64 = pg_scalar(
        &url,
        "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'hnsw' AND i.indisvalid",
    )
    .await;
    assert_eq!(hnsw, 1, "the HNSW index is built and valid");
    let partitioned: i64 =
        pg_scalar(&url, "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = 'demand_forecasts'").await;
    assert_eq!(partitioned, 1);
    let uncommented: Vec<String> = {
        let mut conn = underpin_db::connect_postgres(&url).await.unwrap();
        sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'sop' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
               AND obj_description(c.oid, 'pg_class') IS NULL",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
    };
    assert!(
        uncommented.is_empty(),
        "tables without COMMENT ON: {uncommented:?}"
    );

    assert_eq!(migrator.run(&down_all()).await.unwrap().steps.len(), count);
    let left: i64 = pg_scalar(&url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'sop'").await;
    assert_eq!(left, 0, "down --all removes the schema");
    assert_eq!(migrator.run(&up()).await.unwrap().steps.len(), count);
}
