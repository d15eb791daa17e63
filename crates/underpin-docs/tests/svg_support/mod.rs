//! Inputs shared by the DOT, SVG, HTML and browser tests: the fixture models, the Markdown
//! comment case built on one of them, and a generated large schema.

#![allow(dead_code)]

use std::path::PathBuf;

use underpin_docs::{Document, Format, Options, render};
use underpin_schema::{
    Column, Dialect, ForeignKey, ForeignKeyAction, Namespace, PrimaryKey, QualifiedName, Schema, Table,
    TableKind,
};

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"))
}

/// Reads a canonical JSON model from tests/fixtures.
pub fn fixture(name: &str) -> Schema {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not a schema model: {error}", path.display()))
}

/// The Markdown-in-comments case: a column comment with backticks, a pipe and an asterisk.
pub const MARKDOWN_COMMENT: &str = "Compare with `upper(code)`; legacy values may contain | or *";

/// The comments fixture, checked to carry [`MARKDOWN_COMMENT`] on `invoice.code`.
pub fn markdown_comment_schema() -> Schema {
    let schema = fixture("d01_comments");
    let comment = schema
        .tables
        .iter()
        .find(|table| table.name == "invoice")
        .and_then(|table| table.column("code"))
        .and_then(|column| column.comment.as_deref());
    assert_eq!(comment, Some(MARKDOWN_COMMENT), "the comments fixture changed");
    schema
}

/// The fixtures every format is checked on, by file name.
pub const FIXTURES: [&str; 6] = [
    "sop",
    "d01_comments",
    "d03_partitions",
    "d04_unique_fk",
    "d05_composite_fks",
    "d06_awkward_names",
];

pub fn render_one(schema: &Schema, format: Format, options: &Options) -> Vec<Document> {
    render(schema, &[format], options).unwrap_or_else(|error| panic!("rendering {format:?} failed: {error}"))
}

pub fn document<'a>(documents: &'a [Document], path: &str) -> &'a Document {
    documents
        .iter()
        .find(|document| document.path == path)
        .unwrap_or_else(|| {
            let paths: Vec<&str> = documents.iter().map(|document| document.path.as_str()).collect();
            panic!("no document {path}; rendered: {paths:?}")
        })
}

fn column(name: String, data_type: &str, nullable: bool) -> Column {
    Column {
        name,
        data_type: data_type.to_string(),
        nullable,
        default: None,
        identity: None,
        generated: None,
        comment: None,
    }
}

fn foreign_key(table: &str, column: &str, target: QualifiedName) -> ForeignKey {
    ForeignKey {
        name: format!("{table}_{column}_fkey"),
        columns: vec![column.to_string()],
        definition: format!(
            "FOREIGN KEY ({column}) REFERENCES {}.{}(id)",
            target.schema, target.name
        ),
        referenced_table: target,
        referenced_columns: vec!["id".to_string()],
        on_delete: ForeignKeyAction::NoAction,
        on_update: ForeignKeyAction::NoAction,
        deferrable: false,
        initially_deferred: false,
        comment: None,
    }
}

/// Generates a large schema in the shape of the benchmark: `schemas` schemas of
/// `tables_per_schema` tables with 10 columns each. Every table but the first of its schema
/// references one or two earlier tables of its schema, and every fifth table also
/// references a table of the previous schema. The same arguments give the same model.
pub fn generated_schema(schemas: usize, tables_per_schema: usize) -> Schema {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut below = |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % bound as u64) as usize
    };
    let mut model = Schema::empty(Dialect::Postgres);
    for s in 0..schemas {
        let schema_name = format!("s{s:02}");
        model.schemas.push(Namespace {
            name: schema_name.clone(),
            comment: None,
        });
        for t in 0..tables_per_schema {
            let name = format!("t{t:03}");
            let mut columns = vec![column("id".into(), "bigint", false)];
            let mut foreign_keys = Vec::new();
            let mut targets = Vec::new();
            if t > 0 {
                targets.push(QualifiedName::new(&schema_name, format!("t{:03}", below(t))));
                if below(2) == 0 {
                    targets.push(QualifiedName::new(&schema_name, format!("t{:03}", below(t))));
                }
            }
            if s > 0 && t % 5 == 0 {
                targets.push(QualifiedName::new(
                    format!("s{:02}", s - 1),
                    format!("t{:03}", below(tables_per_schema)),
                ));
            }
            for (number, target) in targets.into_iter().enumerate() {
                let column_name = format!("ref{number}_{}_{}_id", target.schema, target.name);
                columns.push(column(column_name.clone(), "bigint", number > 0));
                foreign_keys.push(foreign_key(&name, &column_name, target));
            }
            while columns.len() < 10 {
                let data_type = [
                    "text",
                    "integer",
                    "timestamp with time zone",
                    "numeric(12,2)",
                    "boolean",
                ][below(5)];
                columns.push(column(
                    format!("attribute_{}", columns.len()),
                    data_type,
                    below(3) == 0,
                ));
            }
            model.tables.push(Table {
                schema: schema_name.clone(),
                name: name.clone(),
                kind: TableKind::Table,
                comment: Some(format!("Generated table {t} of schema {s}.")),
                columns,
                primary_key: Some(PrimaryKey {
                    name: Some(format!("{name}_pkey")),
                    columns: vec!["id".into()],
                }),
                foreign_keys,
                unique_constraints: vec![],
                check_constraints: vec![],
                indexes: vec![],
                triggers: vec![],
                partition_key: None,
                partition_of: None,
                definition: None,
                depends_on: vec![],
            });
        }
    }
    model.normalize();
    model
}

/// Returns the environment variable a test needs, or panics with how to get it set.
pub fn required_env(name: &str, what: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: it names {what}. Run the tests through `bash scripts/test.sh`, which installs it and sets {name}")
    })
}
