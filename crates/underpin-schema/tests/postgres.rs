//! PostgreSQL introspection against a real server: the documentation cases D01–D07, every
//! kind of object, settings that must not change the output, and examples/sop.

mod common;

use std::str::FromStr;
use std::time::Instant;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use underpin_db::DatabaseUrl;
use underpin_schema::{
    ForeignKeyAction, Generated, GeneratedKind, Identity, IntrospectError, IntrospectOptions, QualifiedName,
    TableKind, introspect_url, postgres,
};

use common::*;

/// `(columns, referenced table, referenced columns)` of a foreign key, for compact asserts.
type KeyShape = (Vec<String>, QualifiedName, Vec<String>);

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| name.to_string()).collect()
}

fn public(name: &str) -> QualifiedName {
    QualifiedName::new("public", name)
}

#[tokio::test]
async fn d01_comments_keep_every_line_break() {
    let url = database_with_fixture("d01", "d01_comments.sql").await;
    let schema = introspect(&url).await.schema;
    let invoice = table(&schema, "public.invoice");

    assert_eq!(
        invoice.comment.as_deref(),
        Some("Invoices issued.\n\nOne row per invoice.\r\nAmounts in cents.\rLegacy | note.")
    );
    assert_eq!(
        invoice.column("code").unwrap().comment.as_deref(),
        Some("Compare with `upper(code)`; legacy values may contain | or *")
    );
    assert_eq!(invoice.column("id").unwrap().comment, None);
    assert_eq!(schema.schemas.len(), 1);
    assert_eq!(schema.schemas[0].name, "public");
}

#[tokio::test]
async fn d03_partitions_point_at_their_parent() {
    let url = database_with_fixture("d03", "d03_partitions.sql").await;
    let schema = introspect(&url).await.schema;

    let reading = table(&schema, "public.reading");
    assert_eq!(reading.kind, TableKind::PartitionedTable);
    assert_eq!(reading.partition_key.as_deref(), Some("RANGE (taken_at)"));
    assert_eq!(reading.partition_of, None);

    let partitions: Vec<(&str, &str)> = schema
        .partitions_of(reading)
        .iter()
        .map(|partition| {
            (
                partition.name.as_str(),
                partition.partition_of.as_ref().unwrap().bound.as_str(),
            )
        })
        .collect();
    // Time stamps print in UTC whatever the session's time zone.
    assert_eq!(
        partitions,
        [
            (
                "reading_2024_01",
                "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')"
            ),
            (
                "reading_2024_02",
                "FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')"
            ),
            ("reading_default", "DEFAULT"),
        ]
    );

    let february = table(&schema, "public.reading_2024_02");
    assert_eq!(february.kind, TableKind::PartitionedTable);
    assert_eq!(february.partition_key.as_deref(), Some("LIST (sensor_id)"));
    let sub: Vec<(&str, &str)> = schema
        .partitions_of(february)
        .iter()
        .map(|partition| {
            (
                partition.name.as_str(),
                partition.partition_of.as_ref().unwrap().bound.as_str(),
            )
        })
        .collect();
    assert_eq!(
        sub,
        [
            ("reading_2024_02_low", "FOR VALUES IN (1, 2, 3)"),
            ("reading_2024_02_rest", "DEFAULT")
        ]
    );
    assert_eq!(
        table(&schema, "public.reading_2024_02_low")
            .partition_of
            .as_ref()
            .unwrap()
            .parent,
        public("reading_2024_02")
    );

    let top: Vec<&str> = schema
        .top_level_tables()
        .map(|table| table.name.as_str())
        .collect();
    assert_eq!(top, ["reading"]);
    assert_eq!(table(&schema, "public.reading_default").columns.len(), 3);
}

#[tokio::test]
async fn d04_foreign_key_to_unique_column() {
    let url = database_with_fixture("d04", "d04_unique_fk.sql").await;
    let schema = introspect(&url).await.schema;

    let city = table(&schema, "public.city");
    assert_eq!(city.foreign_keys.len(), 1);
    let key = &city.foreign_keys[0];
    assert_eq!(key.columns, names(&["country_iso2"]));
    assert_eq!(key.referenced_table, public("country"));
    assert_eq!(key.referenced_columns, names(&["iso2"]));
    assert_eq!(
        key.definition,
        "FOREIGN KEY (country_iso2) REFERENCES public.country(iso2)"
    );

    let country = table(&schema, "public.country");
    assert!(country.is_unique_column("iso2"));
    assert_eq!(country.unique_constraints[0].name, "country_iso2_key");
    let relations = schema.relations();
    assert_eq!(relations.len(), 1);
    assert_eq!(relations[0].to.map(|to| to.name.as_str()), Some("country"));

    // serial columns own their sequences.
    let sequence = schema.sequences.iter().find(|s| s.name == "city_id_seq").unwrap();
    assert_eq!(sequence.owned_by, Some((public("city"), "id".to_string())));
    assert_eq!(
        city.column("id").unwrap().default.as_deref(),
        Some("nextval('public.city_id_seq'::regclass)")
    );
}

#[tokio::test]
async fn d05_composite_keys_stay_separate() {
    let url = database_with_fixture("d05", "d05_composite_fks.sql").await;
    let schema = introspect(&url).await.schema;

    let settings = table(&schema, "public.ledger_settings");
    let shapes: Vec<KeyShape> = settings
        .foreign_keys
        .iter()
        .map(|key| {
            (
                key.columns.clone(),
                key.referenced_table.clone(),
                key.referenced_columns.clone(),
            )
        })
        .collect();
    let account = public("account");
    let target = names(&["company", "code"]);
    // Sorted by constraint name; each key lists its pairs in constraint order.
    assert_eq!(
        shapes,
        [
            (
                names(&["company", "clearing_code"]),
                account.clone(),
                target.clone()
            ),
            (names(&["company", "sales_code"]), account.clone(), target.clone()),
            (names(&["company", "tax_code"]), account.clone(), target.clone()),
        ]
    );
    let key_names: Vec<&str> = settings
        .foreign_keys
        .iter()
        .map(|key| key.name.as_str())
        .collect();
    assert_eq!(
        key_names,
        [
            "ledger_settings_company_clearing_code_fkey",
            "ledger_settings_company_sales_code_fkey",
            "ledger_settings_company_tax_code_fkey"
        ]
    );
    assert_eq!(schema.referenced_by(table(&schema, "public.account")).len(), 3);

    let employee = table(&schema, "public.employee");
    assert_eq!(employee.foreign_keys.len(), 1);
    assert_eq!(employee.foreign_keys[0].columns, names(&["reports_to"]));
    assert_eq!(employee.foreign_keys[0].referenced_table, public("employee"));
    assert_eq!(employee.foreign_keys[0].referenced_columns, names(&["id"]));
}

#[tokio::test]
async fn d06_names_as_the_catalog_spells_them() {
    let url = database_with_fixture("d06", "d06_awkward_names.sql").await;
    let schema = introspect(&url).await.schema;

    let schemas: Vec<&str> = schema.schemas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(schemas, ["public", "time"]);
    let tables: Vec<String> = schema
        .tables
        .iter()
        .map(|t| t.qualified_name().to_string())
        .collect();
    assert_eq!(
        tables,
        [
            "public.CamelCaseTable",
            "public.hyphen-table",
            "time.hyphenated-table"
        ]
    );

    let hyphen = table(&schema, "public.hyphen-table");
    let columns: Vec<(&str, &str)> = hyphen
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("id", "integer"),
            ("hyphen-column", "text"),
            ("offset", "integer"),
            ("tags", "character varying(50)[]"),
        ]
    );

    let camel = table(&schema, "public.CamelCaseTable");
    assert_eq!(camel.foreign_keys[0].name, "CamelCaseTable_hyphen-ref_fkey");
    assert_eq!(camel.foreign_keys[0].columns, names(&["hyphen-ref"]));
    assert_eq!(camel.foreign_keys[0].referenced_table, public("hyphen-table"));

    let time = table(&schema, "time.hyphenated-table");
    assert_eq!(time.foreign_keys[0].columns, names(&["CamelCase-ref"]));
    assert_eq!(time.foreign_keys[0].referenced_table, public("CamelCaseTable"));
    // Only the definitions, written for SQL, quote names.
    assert_eq!(
        time.foreign_keys[0].definition,
        "FOREIGN KEY (\"CamelCase-ref\") REFERENCES public.\"CamelCaseTable\"(id)"
    );
}

/// Creates `schemas` × `tables` tables of ten columns each. Every table after the first
/// schema references the table of the same number in the previous schema.
async fn generate_schema(url: &DatabaseUrl, schemas: usize, tables: usize) {
    let sql = format!(
        "DO $$
         BEGIN
           FOR s IN 1..{schemas} LOOP
             EXECUTE format('CREATE SCHEMA gen_%s', s);
             FOR t IN 1..{tables} LOOP
               EXECUTE format(
                 'CREATE TABLE gen_%s.table_%s (
                    id bigint PRIMARY KEY, parent_id bigint %s,
                    name text NOT NULL, note text, amount numeric(12, 2), qty integer DEFAULT 0,
                    created_at timestamptz NOT NULL DEFAULT now(), flag boolean, code varchar(20), data jsonb)',
                 s, t,
                 CASE WHEN s > 1 THEN format('REFERENCES gen_%s.table_%s (id)', s - 1, t) ELSE '' END);
             END LOOP;
           END LOOP;
         END $$"
    );
    pg_execute(url, &sql).await;
}

#[tokio::test]
async fn d07_query_count_is_independent_of_size() {
    let small = fresh_pg_database("d07_small").await;
    generate_schema(&small, 1, 10).await;
    let large = fresh_pg_database("d07_large").await;
    let started = Instant::now();
    generate_schema(&large, 20, 100).await;
    eprintln!("generated 2,000 tables in {:?}", started.elapsed());

    let small_read = introspect(&small).await;
    let started = Instant::now();
    let large_read = introspect(&large).await;
    eprintln!(
        "read 2,000 tables with {} queries in {:?}",
        large_read.queries,
        started.elapsed()
    );

    assert_eq!(small_read.schema.tables.len(), 10);
    assert_eq!(large_read.schema.tables.len(), 2000);
    assert_eq!(large_read.schema.schemas.len(), 20);
    let columns: usize = large_read.schema.tables.iter().map(|t| t.columns.len()).sum();
    assert_eq!(columns, 20_000);
    assert_eq!(large_read.schema.relations().len(), 1900);
    let cross_schema = large_read
        .schema
        .relations()
        .iter()
        .filter(|relation| relation.key.referenced_table.schema != relation.from.schema)
        .count();
    assert_eq!(cross_schema, 1900);

    assert_eq!(small_read.queries, large_read.queries);
    assert!(small_read.queries <= 15, "{} queries", small_read.queries);
}

#[tokio::test]
async fn every_kind_of_object_is_read() {
    let url = database_with_fixture("coverage", "coverage.sql").await;
    let schema = introspect(&url).await.schema;
    let shop = |name: &str| QualifiedName::new("shop", name);

    let schema_comment = schema.schemas.iter().find(|s| s.name == "shop").unwrap();
    assert_eq!(schema_comment.comment.as_deref(), Some("Orders and stock."));

    // Enum labels in sort order, not in creation order.
    assert_eq!(schema.enums.len(), 1);
    assert_eq!(
        schema.enums[0].values,
        names(&["new", "cancelled", "paid", "shipped"])
    );

    let price = &schema.domains[0];
    assert_eq!(price.data_type, "numeric(12,2)");
    assert!(!price.nullable);
    assert_eq!(price.default.as_deref(), Some("0"));
    let checks: Vec<(&str, &str)> = price
        .check_constraints
        .iter()
        .map(|c| (c.name.as_str(), c.definition.as_str()))
        .collect();
    assert_eq!(
        checks,
        [
            ("price_below_limit", "CHECK (VALUE < 1000000::numeric)"),
            ("price_not_negative", "CHECK (VALUE >= 0::numeric)"),
        ]
    );
    assert_eq!(
        price.check_constraints[1].comment.as_deref(),
        Some("Refunds are separate rows.")
    );

    let address = &schema.composite_types[0];
    let attributes: Vec<(&str, &str)> = address
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.data_type.as_str()))
        .collect();
    assert_eq!(
        attributes,
        [
            ("street", "text"),
            ("city", "character varying(80)"),
            ("zip", "character(5)")
        ]
    );
    assert_eq!(address.attributes[1].comment.as_deref(), Some("City name."));
    assert_eq!(
        schema.composite_types.len(),
        1,
        "table row types are not composite types"
    );

    let invoice = schema
        .sequences
        .iter()
        .find(|s| s.name == "invoice_number")
        .unwrap();
    assert_eq!(
        (
            invoice.data_type.as_str(),
            invoice.start,
            invoice.increment,
            invoice.min_value,
            invoice.max_value,
            invoice.cycle
        ),
        ("integer", 1000, 5, 10, 99999, true)
    );
    assert_eq!(invoice.owned_by, Some((shop("orders"), "invoice_no".to_string())));
    assert_eq!(invoice.comment.as_deref(), Some("Numbers for printed invoices."));

    let extensions: Vec<&str> = schema.extensions.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(extensions, ["btree_gist", "pg_trgm"]);
    assert_eq!(schema.extensions[1].comment.as_deref(), Some("trigram matching"));
    assert!(schema.table_by_name("public", "extension_owned").is_none());
    assert!(schema.enums.iter().all(|e| e.name != "extension_mood"));

    let customer = table(&schema, "shop.customer");
    let id = customer.column("id").unwrap();
    assert_eq!(id.identity, Some(Identity::ByDefault));
    assert_eq!(
        customer.column("tags").unwrap().data_type,
        "character varying(20)[]"
    );
    assert_eq!(customer.column("address").unwrap().data_type, "shop.address");
    assert_eq!(customer.column("Full Name").unwrap().data_type, "text");
    let unique = &customer.unique_constraints[0];
    assert!(unique.nulls_not_distinct);
    assert!(unique.deferrable);
    assert_eq!(unique.comment.as_deref(), Some("One account per address."));

    let orders = table(&schema, "shop.orders");
    let column_names: Vec<&str> = orders.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        column_names,
        [
            "id",
            "customer_id",
            "state",
            "total",
            "net",
            "invoice_no",
            "placed",
            "note"
        ]
    );
    assert_eq!(
        orders.column("net").unwrap().generated,
        Some(Generated {
            expression: "(total::numeric / 1.2)".into(),
            kind: GeneratedKind::Stored,
        })
    );
    assert_eq!(orders.column("net").unwrap().default, None);
    assert_eq!(
        orders.column("state").unwrap().default.as_deref(),
        Some("'new'::shop.order_state")
    );

    let key = &orders.foreign_keys[0];
    assert_eq!(key.on_update, ForeignKeyAction::Cascade);
    assert_eq!(key.on_delete, ForeignKeyAction::Restrict);
    assert!(key.deferrable);
    assert!(key.initially_deferred);

    let exclusion = orders
        .check_constraints
        .iter()
        .find(|c| c.name == "orders_no_overlap")
        .unwrap();
    assert_eq!(
        exclusion.definition,
        "EXCLUDE USING gist (customer_id WITH =, placed WITH &&)"
    );
    assert_eq!(
        exclusion.comment.as_deref(),
        Some("A customer places one order at a time.")
    );

    let index = |name: &str| orders.indexes.iter().find(|i| i.name == name).unwrap();
    let state = index("orders_state_idx");
    assert_eq!(state.columns, names(&["state"]));
    assert_eq!(state.include, names(&["total", "customer_id"]));
    assert_eq!(
        state.predicate.as_deref(),
        Some("state <> 'shipped'::shop.order_state")
    );
    assert_eq!(state.comment.as_deref(), Some("Open orders."));
    assert!(!state.unique);
    assert_eq!(index("orders_note_trgm").method, "gin");
    assert_eq!(
        index("orders_lower_note").columns,
        names(&["customer_id", "lower(note)"])
    );
    assert_eq!(index("orders_no_overlap").method, "gist");
    assert_eq!(
        index("orders_no_overlap").constraint.as_deref(),
        Some("orders_no_overlap")
    );
    assert!(index("orders_pkey").primary);

    let touch = orders.triggers.iter().find(|t| t.name == "orders_touch").unwrap();
    assert_eq!(
        (
            touch.timing.as_str(),
            touch.events.clone(),
            touch.level.as_str(),
            touch.function.as_str()
        ),
        ("BEFORE", names(&["INSERT", "UPDATE"]), "ROW", "shop.touch")
    );
    assert_eq!(touch.comment.as_deref(), Some("Keeps rows fresh."));
    let truncate = orders
        .triggers
        .iter()
        .find(|t| t.name == "orders_truncate")
        .unwrap();
    assert_eq!(
        (
            truncate.timing.as_str(),
            truncate.events.clone(),
            truncate.level.as_str()
        ),
        ("AFTER", names(&["DELETE", "TRUNCATE"]), "STATEMENT")
    );

    let line = table(&schema, "shop.order_line");
    let matched = line
        .foreign_keys
        .iter()
        .find(|k| k.name == "order_line_match")
        .unwrap();
    assert!(
        matched.definition.contains("MATCH FULL"),
        "{}",
        matched.definition
    );
    assert_eq!(matched.on_delete, ForeignKeyAction::SetNull);

    let view = table(&schema, "shop.open_orders");
    assert_eq!(view.kind, TableKind::View);
    assert!(view.definition.as_deref().unwrap().contains("FROM shop.orders o"));
    assert_eq!(view.depends_on, [shop("customer"), shop("orders")]);
    assert_eq!(view.comment.as_deref(), Some("Orders not yet shipped."));
    assert_eq!(view.triggers[0].timing, "INSTEAD OF");

    let totals = table(&schema, "shop.order_totals");
    assert_eq!(totals.kind, TableKind::MaterializedView);
    assert_eq!(totals.depends_on, [shop("open_orders")]);
    assert!(totals.indexes[0].unique);

    let remote = table(&schema, "shop.remote_stock");
    assert_eq!(remote.kind, TableKind::ForeignTable);
    assert!(!remote.column("sku").unwrap().nullable);

    // The partition neither repeats its parent's foreign key nor shows up as referenced.
    let event = table(&schema, "shop.event");
    assert_eq!(event.foreign_keys.len(), 1);
    assert!(table(&schema, "shop.event_2024").foreign_keys.is_empty());
    let log = table(&schema, "shop.event_log");
    assert_eq!(log.foreign_keys.len(), 1);
    assert_eq!(log.foreign_keys[0].referenced_table, shop("event"));
    assert_eq!(log.foreign_keys[0].referenced_columns, names(&["id", "at"]));
    assert!(table(&schema, "shop.event_2024").primary_key.is_some());
}

#[tokio::test]
async fn same_ddl_gives_identical_json() {
    let first = database_with_fixture("same_a", "coverage.sql").await;
    let second = database_with_fixture("same_b", "coverage.sql").await;

    let once = introspect(&first).await.schema.to_canonical_json();
    let twice = introspect(&first).await.schema.to_canonical_json();
    let other = introspect(&second).await.schema.to_canonical_json();
    assert!(once == twice, "two reads of one database differ");
    assert!(once == other, "two databases with the same DDL differ");
    assert!(!once.contains(first.expose().rsplit('/').next().unwrap()));
}

#[tokio::test]
async fn role_with_empty_search_path() {
    let url = database_with_fixture("empty_path", "coverage.sql").await;
    pg_execute(&url, &sql_fixture("d03_partitions.sql")).await;
    let expected = introspect(&url).await.schema.to_canonical_json();

    let role = format!("t_empty_path_{}", std::process::id());
    pg_execute(
        &url,
        &format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; ALTER ROLE {role} SET search_path = ''"
        ),
    )
    .await;
    let options = PgConnectOptions::from_str(url.expose()).unwrap().username(&role);
    let mut conn = options.connect().await.unwrap();
    let path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(path, "\"\"");

    let read = postgres::introspect(&mut conn, &IntrospectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    conn.close().await.unwrap();
    pg_execute(&url, &format!("DROP ROLE {role}")).await;
    assert!(
        read.schema.to_canonical_json() == expected,
        "a role with an empty search_path reads a different model"
    );
}

#[tokio::test]
async fn session_settings_change_nothing() {
    let url = database_with_fixture("settings", "coverage.sql").await;
    pg_execute(&url, &sql_fixture("d03_partitions.sql")).await;
    let expected = introspect(&url).await.schema.to_canonical_json();

    let mut conn = underpin_db::connect_postgres(&url).await.unwrap();
    let settings = "SET search_path = shop, public; SET TimeZone = 'America/New_York'; \
                    SET DateStyle = 'SQL, DMY'; SET quote_all_identifiers = on; \
                    SET standard_conforming_strings = off; SET extra_float_digits = -3";
    sqlx::raw_sql(settings).execute(&mut conn).await.unwrap();
    let read = postgres::introspect(&mut conn, &IntrospectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        read.schema.to_canonical_json() == expected,
        "session settings changed the model"
    );

    // The settings were changed for the introspection transaction only.
    let (path, zone): (String, String) =
        sqlx::query_as("SELECT current_setting('search_path'), current_setting('TimeZone')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(path, "shop, public");
    assert_eq!(zone, "America/New_York");
}

#[tokio::test]
async fn schema_filter_and_exclusions() {
    let url = database_with_fixture("filter", "d06_awkward_names.sql").await;
    pg_execute(
        &url,
        "CREATE TABLE public.underpin_migrations (version text PRIMARY KEY)",
    )
    .await;

    let only_time = introspect_with(
        &url,
        &IntrospectOptions {
            schemas: names(&["time"]),
            exclude_tables: Vec::new(),
        },
    )
    .await
    .schema;
    let tables: Vec<String> = only_time
        .tables
        .iter()
        .map(|t| t.qualified_name().to_string())
        .collect();
    assert_eq!(tables, ["time.hyphenated-table"]);
    assert_eq!(only_time.schemas.len(), 1);
    // A key into a schema that was not read still names its target.
    let relations = only_time.relations();
    assert_eq!(relations[0].key.referenced_table, public("CamelCaseTable"));
    assert!(relations[0].to.is_none());

    let without_history = introspect_with(&url, &without_history()).await.schema;
    assert!(
        without_history
            .table_by_name("public", "underpin_migrations")
            .is_none()
    );
    assert_eq!(without_history.tables.len(), 3);
    let qualified = introspect_with(
        &url,
        &IntrospectOptions {
            schemas: Vec::new(),
            exclude_tables: names(&["time.hyphenated-table", "other.hyphen-table"]),
        },
    )
    .await
    .schema;
    let tables: Vec<String> = qualified
        .tables
        .iter()
        .map(|t| t.qualified_name().to_string())
        .collect();
    assert_eq!(
        tables,
        [
            "public.CamelCaseTable",
            "public.hyphen-table",
            "public.underpin_migrations"
        ]
    );
}

#[tokio::test]
async fn missing_schema_is_an_error() {
    let url = database_with_fixture("missing_schema", "d04_unique_fk.sql").await;
    let error = introspect_url(
        &url,
        &IntrospectOptions {
            schemas: names(&["public", "nowhere"]),
            exclude_tables: Vec::new(),
        },
    )
    .await
    .unwrap_err();
    match &error {
        IntrospectError::SchemaNotFound { name, existing } => {
            assert_eq!(name, "nowhere");
            assert_eq!(existing, "public");
        }
        other => panic!("expected SchemaNotFound, got {other}"),
    }
    assert!(error.to_string().contains("`nowhere`"), "{error}");
}

#[tokio::test]
async fn connect_error_hides_the_password() {
    // Nothing listens on port 1 of the loopback interface.
    let url = DatabaseUrl::parse("postgres://app:Hunter2Secret@127.0.0.1:1/db").unwrap();
    let error = introspect_url(&url, &IntrospectOptions::default())
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(matches!(error, IntrospectError::Connect(_)), "{text}");
    assert!(!text.contains("Hunter2Secret"), "{text}");
}

#[tokio::test]
async fn virtual_generated_column_on_postgres_18() {
    if server_major().await < 18 {
        eprintln!("virtual generated columns need PostgreSQL 18; skipped");
        return;
    }
    let url = fresh_pg_database("virtual_generated").await;
    pg_execute(
        &url,
        "CREATE TABLE public.box (
             width integer NOT NULL,
             area_virtual integer GENERATED ALWAYS AS (width * width) VIRTUAL,
             area_default integer GENERATED ALWAYS AS (width * 2),
             area_stored integer GENERATED ALWAYS AS (width * 3) STORED
         );",
    )
    .await;
    let read = introspect(&url).await;
    let boxes = table(&read.schema, "public.box");

    let generated = |name: &str| boxes.column(name).unwrap().generated.clone();
    assert_eq!(
        generated("area_virtual"),
        Some(Generated {
            expression: "width * width".into(),
            kind: GeneratedKind::Virtual,
        })
    );
    // PostgreSQL 18 makes a generated column virtual unless it is declared STORED.
    assert_eq!(
        generated("area_default").map(|generated| generated.kind),
        Some(GeneratedKind::Virtual)
    );
    assert_eq!(
        generated("area_stored").map(|generated| generated.kind),
        Some(GeneratedKind::Stored)
    );
    assert_eq!(boxes.column("area_virtual").unwrap().default, None);
    assert_eq!(generated("width"), None);
}

#[tokio::test]
async fn sop_example_on_postgres_18() {
    if server_major().await < 18 {
        eprintln!("examples/sop needs pgvector, which only the PostgreSQL 18 test server has; skipped");
        return;
    }
    let url = fresh_pg_database("sop").await;
    migrate_up(&url, &sop_migrations()).await;
    let read = introspect_with(&url, &without_history()).await;
    let schema = &read.schema;
    let sop = |name: &str| QualifiedName::new("sop", name);

    assert!(read.queries <= 15);
    assert!(schema.table_by_name("public", "underpin_migrations").is_none());
    let schemas: Vec<&str> = schema.schemas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(schemas, ["public", "sop"], "public holds the vector extension");
    assert_eq!(schema.extensions.len(), 1);
    assert_eq!(schema.extensions[0].name, "vector");

    let forecasts = table(schema, "sop.demand_forecasts");
    assert_eq!(forecasts.kind, TableKind::PartitionedTable);
    assert_eq!(forecasts.partition_key.as_deref(), Some("RANGE (period_start)"));
    assert_eq!(schema.partitions_of(forecasts).len(), 13);
    assert_eq!(forecasts.foreign_keys.len(), 4);
    assert!(
        schema
            .partitions_of(forecasts)
            .iter()
            .all(|partition| partition.foreign_keys.is_empty())
    );

    let chunks = table(schema, "sop.document_chunks");
    assert_eq!(
        chunks.column("embedding").unwrap().data_type,
        "public.vector(384)"
    );
    assert_eq!(
        chunks.column("char_count").unwrap().generated,
        Some(Generated {
            expression: "char_length(content)".into(),
            kind: GeneratedKind::Stored,
        })
    );
    let hnsw = chunks.indexes.iter().find(|i| i.method == "hnsw").unwrap();
    assert_eq!(hnsw.name, "document_chunks_embedding_hnsw_idx");
    assert!(hnsw.comment.is_some());

    let roles = table(schema, "sop.user_roles");
    let granted_by = roles
        .foreign_keys
        .iter()
        .find(|k| k.name == "user_roles_granted_by_fkey")
        .unwrap();
    assert_eq!(granted_by.columns, names(&["organization_id", "granted_by"]));
    assert_eq!(granted_by.referenced_columns, names(&["organization_id", "id"]));
    assert_eq!(granted_by.on_delete, ForeignKeyAction::SetNull);
    assert!(granted_by.definition.ends_with("ON DELETE SET NULL (granted_by)"));
    assert_eq!(roles.triggers[0].function, "sop.write_audit_row");

    let users = table(schema, "sop.users");
    let email = users
        .indexes
        .iter()
        .find(|i| i.name == "users_organization_id_email_key")
        .unwrap();
    assert_eq!(email.columns, names(&["organization_id", "lower(email)"]));

    let accuracy = table(schema, "sop.forecast_accuracy");
    assert_eq!(accuracy.kind, TableKind::MaterializedView);
    assert_eq!(accuracy.depends_on, [sop("forecast_vs_actual"), sop("products")]);
    assert_eq!(
        table(schema, "sop.forecast_vs_actual").depends_on,
        [sop("demand_actuals"), sop("demand_forecasts")]
    );

    let domains: Vec<&str> = schema.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(domains, ["planning_month", "quantity", "sku"]);
    let enums: Vec<&str> = schema.enums.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(enums, ["app_role", "plan_status", "supply_kind"]);
    assert_eq!(schema.sequences.len(), 3, "one per identity column");

    // Every table and view of the example has a comment, and so does every column of a
    // table that is not a partition.
    for table in schema.top_level_tables() {
        assert!(table.comment.is_some(), "{} has no comment", table.name);
        for column in &table.columns {
            assert!(
                column.comment.is_some(),
                "{}.{} has no comment",
                table.name,
                column.name
            );
        }
    }
}
