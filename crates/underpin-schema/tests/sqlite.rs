//! SQLite introspection on real database files.

use std::path::Path;

use sqlx::{Connection, SqliteConnection};
use underpin_db::DatabaseUrl;
use underpin_schema::{
    Dialect, ForeignKeyAction, Generated, GeneratedKind, IntrospectError, IntrospectOptions, QualifiedName,
    Schema, Table, TableKind, introspect_url,
};

const DDL: &str = r#"
CREATE TABLE country (
    id   INTEGER PRIMARY KEY,
    iso2 TEXT NOT NULL UNIQUE,
    name TEXT DEFAULT 'unnamed'
);
CREATE TABLE "City Block" (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    country_iso2  TEXT REFERENCES country (iso2) ON DELETE CASCADE ON UPDATE SET NULL,
    "Pop Count"   INT CHECK ("Pop Count" >= 0),
    double_pop    INT GENERATED ALWAYS AS ("Pop Count" * 2) VIRTUAL,
    triple_pop    INT AS ("Pop Count" * 3) STORED,
    created_at    TEXT NOT NULL DEFAULT (datetime('now')),
    CONSTRAINT city_country_id UNIQUE (country_iso2, id),
    CONSTRAINT city_pop_limit CHECK ("Pop Count" < 100000000)
);
CREATE TABLE account (
    company TEXT,
    code    TEXT,
    label   TEXT,
    CONSTRAINT account_pk PRIMARY KEY (code, company)
) WITHOUT ROWID;
CREATE TABLE ledger (
    company TEXT PRIMARY KEY,
    sales   TEXT,
    tax     TEXT,
    manager INTEGER,
    CONSTRAINT ledger_sales FOREIGN KEY (company, sales) REFERENCES account (company, code),
    FOREIGN KEY (company, tax) REFERENCES account DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (manager) REFERENCES ledger_manager (id)
);
CREATE TABLE ledger_manager (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES ledger_manager (id), legacy);
CREATE INDEX city_big ON "City Block" ("Pop Count" DESC) WHERE "Pop Count" > 10;
CREATE INDEX city_expr ON "City Block" (lower(country_iso2), id);
CREATE VIEW big_cities AS
    SELECT c.id, k.iso2 FROM "City Block" c JOIN country k ON k.iso2 = c.country_iso2;
CREATE TRIGGER city_insert AFTER INSERT ON "City Block" BEGIN SELECT 1; END;
CREATE TRIGGER big_cities_insert INSTEAD OF INSERT ON big_cities BEGIN SELECT 1; END;
CREATE VIRTUAL TABLE notes USING fts5(body);
CREATE TABLE underpin_migrations (version TEXT PRIMARY KEY);
ANALYZE;
"#;

/// Creates a database file with `ddl` and returns its URL.
async fn database(path: &Path, ddl: &str) -> DatabaseUrl {
    let url = DatabaseUrl::parse(&format!("sqlite:{}?mode=rwc", path.display())).unwrap();
    let mut conn = SqliteConnection::connect(url.expose()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(ddl.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    DatabaseUrl::parse(&format!("sqlite:{}", path.display())).unwrap()
}

fn without_history() -> IntrospectOptions {
    IntrospectOptions {
        schemas: Vec::new(),
        exclude_tables: vec!["underpin_migrations".to_string()],
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| name.to_string()).collect()
}

fn table<'a>(schema: &'a Schema, name: &str) -> &'a Table {
    schema
        .table_by_name("main", name)
        .unwrap_or_else(|| panic!("table {name} is missing"))
}

fn main_table(name: &str) -> QualifiedName {
    QualifiedName::new("main", name)
}

#[tokio::test]
async fn sqlite_file_is_read_completely() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(&dir.path().join("shop.db"), DDL).await;
    let read = introspect_url(&url, &without_history()).await.unwrap();
    let schema = &read.schema;

    assert_eq!(read.queries, 4);
    assert_eq!(schema.dialect, Dialect::Sqlite);
    assert_eq!(schema.schemas.len(), 1);
    assert_eq!(schema.schemas[0].name, "main");
    let tables: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    // No sqlite_* tables (ANALYZE created sqlite_stat1), no virtual table or its shadow
    // tables, no history table.
    assert_eq!(
        tables,
        [
            "City Block",
            "account",
            "big_cities",
            "country",
            "ledger",
            "ledger_manager"
        ]
    );

    let country = table(schema, "country");
    let id = country.column("id").unwrap();
    assert_eq!(id.data_type, "INTEGER");
    assert!(!id.nullable, "an INTEGER PRIMARY KEY is the rowid");
    assert!(!country.column("iso2").unwrap().nullable);
    assert_eq!(
        country.column("name").unwrap().default.as_deref(),
        Some("'unnamed'")
    );
    assert_eq!(country.unique_constraints[0].columns, names(&["iso2"]));
    assert_eq!(country.unique_constraints[0].name, "sqlite_autoindex_country_1");
    assert_eq!(country.primary_key.as_ref().unwrap().name, None);

    let city = table(schema, "City Block");
    let columns: Vec<&str> = city.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        columns,
        [
            "id",
            "country_iso2",
            "Pop Count",
            "double_pop",
            "triple_pop",
            "created_at"
        ]
    );
    assert_eq!(
        city.column("double_pop").unwrap().generated,
        Some(Generated {
            expression: "\"Pop Count\" * 2".into(),
            kind: GeneratedKind::Virtual,
        })
    );
    assert_eq!(
        city.column("triple_pop").unwrap().generated,
        Some(Generated {
            expression: "\"Pop Count\" * 3".into(),
            kind: GeneratedKind::Stored,
        })
    );
    assert_eq!(
        city.column("created_at").unwrap().default.as_deref(),
        Some("datetime('now')")
    );
    let key = &city.foreign_keys[0];
    assert_eq!(key.name, "fk_City Block_1");
    assert_eq!(key.columns, names(&["country_iso2"]));
    assert_eq!(key.referenced_table, main_table("country"));
    assert_eq!(key.referenced_columns, names(&["iso2"]));
    assert_eq!(key.on_delete, ForeignKeyAction::Cascade);
    assert_eq!(key.on_update, ForeignKeyAction::SetNull);
    assert_eq!(
        key.definition,
        "FOREIGN KEY (country_iso2) REFERENCES country (iso2) ON UPDATE SET NULL ON DELETE CASCADE"
    );
    assert_eq!(city.unique_constraints[0].name, "city_country_id");
    let checks: Vec<(&str, &str)> = city
        .check_constraints
        .iter()
        .map(|c| (c.name.as_str(), c.definition.as_str()))
        .collect();
    assert_eq!(
        checks,
        [
            ("city_pop_limit", "CHECK (\"Pop Count\" < 100000000)"),
            ("ck_City Block_1", "CHECK (\"Pop Count\" >= 0)"),
        ]
    );

    let index = |name: &str| city.indexes.iter().find(|i| i.name == name).unwrap();
    assert_eq!(index("city_big").columns, names(&["Pop Count"]));
    assert_eq!(index("city_big").predicate.as_deref(), Some("\"Pop Count\" > 10"));
    assert_eq!(index("city_expr").columns, names(&["lower(country_iso2)", "id"]));
    assert_eq!(index("city_expr").predicate, None);
    let backing = city.indexes.iter().find(|i| i.constraint.is_some()).unwrap();
    assert!(backing.unique);
    assert_eq!(backing.constraint.as_deref(), Some("city_country_id"));
    assert_eq!(backing.columns, names(&["country_iso2", "id"]));

    let trigger = &city.triggers[0];
    assert_eq!(
        (
            trigger.timing.as_str(),
            trigger.events.clone(),
            trigger.level.as_str()
        ),
        ("AFTER", names(&["INSERT"]), "ROW")
    );
    assert!(trigger.definition.starts_with("CREATE TRIGGER city_insert"));

    let account = table(schema, "account");
    let key = account.primary_key.as_ref().unwrap();
    assert_eq!(key.name.as_deref(), Some("account_pk"));
    assert_eq!(
        key.columns,
        names(&["code", "company"]),
        "key order, not column order"
    );
    assert!(
        !account.column("company").unwrap().nullable,
        "WITHOUT ROWID keys are NOT NULL"
    );
    let primary = account.indexes.iter().find(|i| i.primary).unwrap();
    assert_eq!(primary.constraint.as_deref(), Some("account_pk"));

    let ledger = table(schema, "ledger");
    assert!(
        ledger.column("company").unwrap().nullable,
        "SQLite lets a rowid table's key hold NULL"
    );
    let keys: Vec<(&str, Vec<String>, Vec<String>, bool)> = ledger
        .foreign_keys
        .iter()
        .map(|k| {
            (
                k.name.as_str(),
                k.columns.clone(),
                k.referenced_columns.clone(),
                k.deferrable,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            (
                "fk_ledger_2",
                names(&["company", "tax"]),
                names(&["code", "company"]),
                true
            ),
            ("fk_ledger_3", names(&["manager"]), names(&["id"]), false),
            (
                "ledger_sales",
                names(&["company", "sales"]),
                names(&["company", "code"]),
                false
            ),
        ]
    );
    assert!(ledger.foreign_keys[0].initially_deferred);
    assert_eq!(
        ledger.foreign_keys[1].referenced_table,
        main_table("ledger_manager")
    );

    let manager = table(schema, "ledger_manager");
    assert_eq!(
        manager.foreign_keys[0].referenced_table,
        main_table("ledger_manager")
    );
    // A column declared without a type keeps an empty type; the renderers decide what to show.
    let legacy = manager.column("legacy").unwrap();
    assert_eq!(legacy.data_type, "");
    assert!(legacy.nullable);

    let view = table(schema, "big_cities");
    assert_eq!(view.kind, TableKind::View);
    assert_eq!(
        view.definition.as_deref(),
        Some("SELECT c.id, k.iso2 FROM \"City Block\" c JOIN country k ON k.iso2 = c.country_iso2")
    );
    assert_eq!(view.depends_on, [main_table("City Block"), main_table("country")]);
    assert_eq!(view.columns.len(), 2);
    assert_eq!(view.triggers[0].timing, "INSTEAD OF");
}

#[tokio::test]
async fn sqlite_history_table_is_kept_unless_excluded() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(&dir.path().join("history.db"), DDL).await;
    let read = introspect_url(&url, &IntrospectOptions::default()).await.unwrap();
    assert!(read.schema.table_by_name("main", "underpin_migrations").is_some());
    let excluded = IntrospectOptions {
        schemas: Vec::new(),
        exclude_tables: vec!["main.underpin_migrations".to_string()],
    };
    let read = introspect_url(&url, &excluded).await.unwrap();
    assert!(read.schema.table_by_name("main", "underpin_migrations").is_none());
}

#[tokio::test]
async fn sqlite_same_ddl_gives_identical_json() {
    let dir = tempfile::tempdir().unwrap();
    let first = database(&dir.path().join("a.db"), DDL).await;
    let second = database(&dir.path().join("b.db"), DDL).await;
    let one = introspect_url(&first, &without_history())
        .await
        .unwrap()
        .schema
        .to_canonical_json();
    let two = introspect_url(&second, &without_history())
        .await
        .unwrap()
        .schema
        .to_canonical_json();
    assert!(one == two, "two files with the same DDL differ");
    assert!(!one.contains("a.db"));
}

#[tokio::test]
async fn sqlite_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    let url = DatabaseUrl::parse(&format!("sqlite:{}", path.display())).unwrap();
    let error = introspect_url(&url, &IntrospectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, IntrospectError::Connect(_)), "{error}");
    assert!(!path.exists(), "introspection created the file");
}

#[tokio::test]
async fn sqlite_has_only_main() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(
        &dir.path().join("main.db"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY);",
    )
    .await;
    let options = IntrospectOptions {
        schemas: vec!["main".to_string()],
        exclude_tables: Vec::new(),
    };
    assert_eq!(
        introspect_url(&url, &options).await.unwrap().schema.tables.len(),
        1
    );

    let options = IntrospectOptions {
        schemas: vec!["public".to_string()],
        exclude_tables: Vec::new(),
    };
    let error = introspect_url(&url, &options).await.unwrap_err();
    assert!(
        matches!(&error, IntrospectError::SchemaNotFound { name, .. } if name == "public"),
        "{error}"
    );
}
