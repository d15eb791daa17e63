//! schema.json: snapshots, the structure tbls's JSON schema prescribes, and the relation
//! check tbls runs when it loads a file.

#[path = "mermaid/models.rs"]
mod models;

use serde_json::{Map, Value};
use underpin_docs::{Options, tbls};
use underpin_schema::Schema;

fn render(schema: &Schema) -> String {
    let documents = tbls::render(schema, &Options::default()).expect("tbls rendering does not fail");
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].path, "schema.json");
    documents[0].contents.clone()
}

fn render_value(schema: &Schema) -> Value {
    serde_json::from_str(&render(schema)).expect("schema.json is JSON")
}

/// Field names per object, required ones first, from tbls's
/// `spec/tbls.schema.json_schema.json`, which allows no other fields.
const SHAPES: &[(&str, &[&str], &[&str])] = &[
    (
        "schema",
        &["tables"],
        &[
            "name",
            "desc",
            "relations",
            "functions",
            "enums",
            "driver",
            "labels",
            "viewpoints",
        ],
    ),
    (
        "table",
        &["name", "type", "columns"],
        &[
            "comment",
            "indexes",
            "constraints",
            "triggers",
            "def",
            "labels",
            "referenced_tables",
        ],
    ),
    (
        "column",
        &["name", "type", "nullable"],
        &["default", "extra_def", "labels", "comment"],
    ),
    ("index", &["name", "def", "table", "columns"], &["comment"]),
    (
        "constraint",
        &["name", "type", "def", "table"],
        &["referenced_table", "columns", "referenced_columns", "comment"],
    ),
    ("trigger", &["name", "def"], &["comment"]),
    (
        "relation",
        &["table", "columns", "parent_table", "parent_columns", "def"],
        &["cardinality", "parent_cardinality", "virtual"],
    ),
    ("enum", &["name", "values"], &[]),
    ("driver", &["name"], &["database_version", "meta"]),
];

const CARDINALITIES: &[&str] = &["zero_or_one", "exactly_one", "zero_or_more", "one_or_more", ""];

fn check_shape(object: &Value, shape: &str, path: &str) -> Map<String, Value> {
    let (_, required, optional) = SHAPES
        .iter()
        .find(|(name, _, _)| *name == shape)
        .expect("known shape");
    let map = object
        .as_object()
        .unwrap_or_else(|| panic!("{path} is not an object"))
        .clone();
    for field in *required {
        assert!(
            map.contains_key(*field),
            "{path} lacks the required field {field}"
        );
    }
    for field in map.keys() {
        assert!(
            required.contains(&field.as_str()) || optional.contains(&field.as_str()),
            "{path} has the field {field}, which tbls's schema does not allow"
        );
    }
    map
}

fn strings(value: &Value, path: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{path} is not an array"))
        .iter()
        .map(|item| {
            item.as_str()
                .unwrap_or_else(|| panic!("{path} holds a non-string"))
                .to_string()
        })
        .collect()
}

/// Checks the structure of a schema.json and the relation check of tbls's loader: every
/// relation's tables and columns exist.
fn check_document(document: &Value) {
    let root = check_shape(document, "schema", "the document");
    let tables = root["tables"].as_array().expect("tables is an array");
    let mut columns_by_table = std::collections::BTreeMap::new();
    for (position, table) in tables.iter().enumerate() {
        let path = format!("tables[{position}]");
        let map = check_shape(table, "table", &path);
        assert!(map["name"].is_string(), "{path}.name is not a string");
        assert!(map["type"].is_string(), "{path}.type is not a string");
        let mut names = Vec::new();
        for (number, column) in map["columns"]
            .as_array()
            .expect("columns is an array")
            .iter()
            .enumerate()
        {
            let column = check_shape(column, "column", &format!("{path}.columns[{number}]"));
            assert!(column["nullable"].is_boolean());
            assert!(column.get("default").is_none_or(|d| d.is_string() || d.is_null()));
            names.push(column["name"].as_str().unwrap().to_string());
        }
        for (kind, shape) in [
            ("indexes", "index"),
            ("constraints", "constraint"),
            ("triggers", "trigger"),
        ] {
            for (number, item) in map
                .get(kind)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let item = check_shape(item, shape, &format!("{path}.{kind}[{number}]"));
                if shape != "trigger" {
                    assert_eq!(
                        item["table"], map["name"],
                        "{path}.{kind}[{number}] names another table"
                    );
                }
            }
        }
        let name = map["name"].as_str().unwrap().to_string();
        assert!(
            columns_by_table.insert(name.clone(), names).is_none(),
            "table {name} appears twice"
        );
    }

    for (position, relation) in root
        .get("relations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("relations[{position}]");
        let map = check_shape(relation, "relation", &path);
        for field in ["cardinality", "parent_cardinality"] {
            let value = map.get(field).and_then(Value::as_str).unwrap_or("");
            assert!(CARDINALITIES.contains(&value), "{path}.{field} is {value}");
        }
        for (table_field, columns_field) in [("table", "columns"), ("parent_table", "parent_columns")] {
            let table = map[table_field].as_str().unwrap();
            let columns = columns_by_table
                .get(table)
                .unwrap_or_else(|| panic!("{path}.{table_field} {table} is not among the tables"));
            for column in strings(&map[columns_field], &format!("{path}.{columns_field}")) {
                assert!(
                    columns.contains(&column),
                    "{path}: {table} has no column {column}"
                );
            }
        }
    }
    for (position, item) in root
        .get("enums")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_shape(item, "enum", &format!("enums[{position}]"));
    }
    if let Some(driver) = root.get("driver") {
        check_shape(driver, "driver", "driver");
    }
}

fn table<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|table| table["name"] == name)
        .unwrap_or_else(|| panic!("no table {name}"))
}

#[test]
fn snapshots() {
    for name in models::FIXTURES {
        insta::assert_snapshot!(*name, render(&models::fixture(name)));
    }
}

#[test]
fn structure_matches_tbls() {
    for name in models::FIXTURES {
        check_document(&render_value(&models::fixture(name)));
    }
    check_document(&render_value(&models::hostile_schema()));
    check_document(&render_value(&models::large_schema()));
}

#[test]
fn structure_check_catches_a_dangling_relation() {
    let mut document = render_value(&models::fixture("d04_unique_fk"));
    document["relations"][0]["parent_table"] = Value::from("public.nowhere");
    let outcome = std::panic::catch_unwind(|| check_document(&document));
    assert!(
        outcome.is_err(),
        "a relation to a missing table must fail the check"
    );
}

#[test]
fn comment_keeps_line_breaks() {
    let document = render_value(&models::fixture("d01_comments"));
    let invoice = table(&document, "public.invoice");
    assert_eq!(
        invoice["comment"],
        "Invoices issued.\n\nOne row per invoice.\r\nAmounts in cents.\rLegacy | note."
    );
    assert_eq!(
        invoice["columns"][1]["comment"],
        "Compare with `upper(code)`; legacy values may contain | or *"
    );
}

#[test]
fn partitions_are_listed_in_parent_def() {
    let document = render_value(&models::fixture("d03_partitions"));
    let tables = document["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 1, "partitions became tables");
    assert_eq!(
        tables[0]["def"],
        "-- public.reading PARTITION BY RANGE (taken_at)\n\
CREATE TABLE public.reading_2024_01 PARTITION OF public.reading FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00');\n\
CREATE TABLE public.reading_2024_02 PARTITION OF public.reading FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00') PARTITION BY LIST (sensor_id);\n\
CREATE TABLE public.reading_2024_02_low PARTITION OF public.reading_2024_02 FOR VALUES IN (1, 2, 3);\n\
CREATE TABLE public.reading_2024_02_rest PARTITION OF public.reading_2024_02 DEFAULT;\n\
CREATE TABLE public.reading_default PARTITION OF public.reading DEFAULT;"
    );
}

#[test]
fn foreign_key_to_unique_column_is_a_relation() {
    let document = render_value(&models::fixture("d04_unique_fk"));
    assert_eq!(
        document["relations"],
        serde_json::json!([{
            "table": "public.city",
            "columns": ["country_iso2"],
            "cardinality": "zero_or_more",
            "parent_table": "public.country",
            "parent_columns": ["iso2"],
            "parent_cardinality": "zero_or_one",
            "def": "FOREIGN KEY (country_iso2) REFERENCES public.country(iso2)"
        }])
    );
}

#[test]
fn composite_foreign_keys_are_separate_relations() {
    let document = render_value(&models::fixture("d05_composite_fks"));
    let relations: Vec<(String, Vec<String>, Vec<String>)> = document["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|relation| {
            (
                format!(
                    "{} -> {}",
                    relation["table"].as_str().unwrap(),
                    relation["parent_table"].as_str().unwrap()
                ),
                strings(&relation["columns"], "columns"),
                strings(&relation["parent_columns"], "parent_columns"),
            )
        })
        .collect();
    let pair = |from: &str, columns: &[&str], to: &[&str]| {
        (
            from.to_string(),
            columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            to.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        relations,
        vec![
            pair("public.employee -> public.employee", &["reports_to"], &["id"]),
            pair(
                "public.ledger_settings -> public.account",
                &["company", "clearing_code"],
                &["company", "code"]
            ),
            pair(
                "public.ledger_settings -> public.account",
                &["company", "sales_code"],
                &["company", "code"]
            ),
            pair(
                "public.ledger_settings -> public.account",
                &["company", "tax_code"],
                &["company", "code"]
            ),
        ]
    );
}

#[test]
fn awkward_names_are_kept() {
    let document = render_value(&models::fixture("d06_awkward_names"));
    let hyphen = table(&document, "public.hyphen-table");
    let columns: Vec<&str> = hyphen["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, vec!["id", "hyphen-column", "offset", "tags"]);
    assert_eq!(hyphen["columns"][3]["type"], "character varying(50)[]");
    table(&document, "time.hyphenated-table");
    table(&document, "public.CamelCaseTable");
}

#[test]
fn sqlite_tables_use_bare_names() {
    let document = render_value(&models::as_sqlite(models::fixture("d05_composite_fks")));
    check_document(&document);
    table(&document, "account");
    assert_eq!(document["relations"][1]["table"], "ledger_settings");
    assert_eq!(document["relations"][1]["parent_table"], "account");
    assert_eq!(document["driver"]["name"], "sqlite");
}

#[test]
fn rendering_is_deterministic() {
    let schema = models::fixture("sop");
    assert_eq!(render(&schema), render(&schema));
}

#[test]
fn generated_column_says_stored_or_virtual() {
    let schema = models::generated_and_untyped_schema();
    let document = render_value(&schema);
    check_document(&document);
    let columns = &table(&document, "box")["columns"];
    assert_eq!(columns[2]["name"], "area");
    assert_eq!(
        columns[2]["extra_def"],
        "GENERATED ALWAYS AS (width * width) VIRTUAL"
    );
    assert_eq!(columns[3]["name"], "perimeter");
    assert_eq!(columns[3]["extra_def"], "GENERATED ALWAYS AS (width * 4) STORED");
    assert!(columns[2].get("default").is_none());
}
