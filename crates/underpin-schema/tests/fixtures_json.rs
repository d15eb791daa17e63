//! The canonical JSON files that the renderers in underpin-docs test against stay equal to
//! what introspection reads today. Set `UNDERPIN_UPDATE_FIXTURES=1` to rewrite them.
//!
//! Each file is generated on one server only, because the catalog prints some things
//! differently across major versions: the documentation cases on PostgreSQL 15 (the oldest
//! supported), examples/sop on PostgreSQL 18 (it needs pgvector). On the other server the
//! test checks nothing and prints why.

mod common;

use std::path::PathBuf;

use common::*;

fn json_fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../underpin-docs/tests/fixtures")
        .join(format!("{name}.json"))
}

/// Compares `json` with the stored file, or rewrites the file when asked to.
fn check_or_update(name: &str, json: &str) {
    let path = json_fixture_path(name);
    if std::env::var("UNDERPIN_UPDATE_FIXTURES").is_ok_and(|value| value == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, json).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; create it with UNDERPIN_UPDATE_FIXTURES=1",
            path.display()
        )
    });
    assert!(
        stored == json,
        "{} is out of date; rerun this test with UNDERPIN_UPDATE_FIXTURES=1 and review the diff",
        path.display()
    );
}

async fn check_case(fixture: &str, json_name: &str) {
    if server_major().await != 15 {
        eprintln!("{json_name}.json is generated on PostgreSQL 15; nothing to check on this server");
        return;
    }
    let url = database_with_fixture(json_name, fixture).await;
    let json = introspect(&url).await.schema.to_canonical_json();
    check_or_update(json_name, &json);
}

#[tokio::test]
async fn d01_comments_json() {
    check_case("d01_comments.sql", "d01_comments").await;
}

#[tokio::test]
async fn d03_partitions_json() {
    check_case("d03_partitions.sql", "d03_partitions").await;
}

#[tokio::test]
async fn d04_unique_fk_json() {
    check_case("d04_unique_fk.sql", "d04_unique_fk").await;
}

#[tokio::test]
async fn d05_composite_fks_json() {
    check_case("d05_composite_fks.sql", "d05_composite_fks").await;
}

#[tokio::test]
async fn d06_awkward_names_json() {
    check_case("d06_awkward_names.sql", "d06_awkward_names").await;
}

#[tokio::test]
async fn sop_json() {
    if server_major().await != 18 {
        eprintln!("sop.json is generated on PostgreSQL 18 with pgvector; nothing to check on this server");
        return;
    }
    let url = fresh_pg_database("sop_json").await;
    migrate_up(&url, &sop_migrations()).await;
    let json = introspect_with(&url, &without_history())
        .await
        .schema
        .to_canonical_json();
    check_or_update("sop", &json);
}
