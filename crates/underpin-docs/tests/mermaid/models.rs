//! Models built in code for the tests that need more than the JSON fixtures: the canonical
//! fixtures by name, a large generated schema, and a schema of hostile names.

#![allow(dead_code)]

use std::path::Path;

use underpin_schema::{
    CheckConstraint, Column, Dialect, EnumType, ForeignKey, ForeignKeyAction, Generated, GeneratedKind,
    Index, Namespace, PrimaryKey, QualifiedName, Schema, Table, TableKind, UniqueConstraint,
};

/// The fixture names: the reference S&OP schema and the documentation cases.
pub const FIXTURES: &[&str] = &[
    "sop",
    "d01_comments",
    "d03_partitions",
    "d04_unique_fk",
    "d05_composite_fks",
    "d06_awkward_names",
];

/// Reads `tests/fixtures/<name>.json`.
pub fn fixture(name: &str) -> Schema {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let json = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&json)
        .unwrap_or_else(|error| panic!("{} is not a schema model: {error}", path.display()))
}

pub fn column(name: &str, data_type: &str, nullable: bool) -> Column {
    Column {
        name: name.into(),
        data_type: data_type.into(),
        nullable,
        default: None,
        identity: None,
        generated: None,
        comment: None,
    }
}

pub fn table(schema: &str, name: &str, columns: Vec<Column>) -> Table {
    Table {
        schema: schema.into(),
        name: name.into(),
        kind: TableKind::Table,
        comment: None,
        columns,
        primary_key: None,
        foreign_keys: vec![],
        unique_constraints: vec![],
        check_constraints: vec![],
        indexes: vec![],
        triggers: vec![],
        partition_key: None,
        partition_of: None,
        definition: None,
        depends_on: vec![],
    }
}

pub fn foreign_key(name: &str, columns: &[&str], target: (&str, &str), referenced: &[&str]) -> ForeignKey {
    ForeignKey {
        name: name.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        referenced_table: QualifiedName::new(target.0, target.1),
        referenced_columns: referenced.iter().map(|c| c.to_string()).collect(),
        on_delete: ForeignKeyAction::NoAction,
        on_update: ForeignKeyAction::NoAction,
        deferrable: false,
        initially_deferred: false,
        definition: format!(
            "FOREIGN KEY ({}) REFERENCES {}.{}",
            columns.join(", "),
            target.0,
            target.1
        ),
        comment: None,
    }
}

fn primary_key(name: &str, columns: &[&str]) -> Option<PrimaryKey> {
    Some(PrimaryKey {
        name: Some(name.into()),
        columns: columns.iter().map(|c| c.to_string()).collect(),
    })
}

/// Builds a SQLite model of one table, `main.box`, with a virtual and a stored generated
/// column, and two columns declared without a type (SQLite allows that), one of them a key.
pub fn generated_and_untyped_schema() -> Schema {
    let generated = |name: &str, expression: &str, kind| Column {
        generated: Some(Generated {
            expression: expression.into(),
            kind,
        }),
        ..column(name, "INTEGER", true)
    };
    let mut boxes = table(
        "main",
        "box",
        vec![
            column("id", "", false),
            column("width", "INTEGER", false),
            generated("area", "width * width", GeneratedKind::Virtual),
            generated("perimeter", "width * 4", GeneratedKind::Stored),
            column("legacy", "", true),
        ],
    );
    boxes.primary_key = Some(PrimaryKey {
        name: None,
        columns: vec!["id".into()],
    });
    let mut schema = Schema::empty(Dialect::Sqlite);
    schema.schemas.push(Namespace {
        name: "main".into(),
        comment: None,
    });
    schema.tables.push(boxes);
    schema
}

/// Table comments that would break the Markdown around them if inserted as they are: each
/// leaves a code fence, an HTML comment, a raw HTML block or an element open. The last one is
/// well-formed Markdown with HTML that must stay as it is.
pub const HOSTILE_COMMENTS: &[&str] = &[
    "Unclosed fence:\n```sql\nSELECT 1;",
    "<!-- draft, never closed",
    "Hidden details: <details>\n\n<summary>More</summary>",
    "~~~~\ntilde fence\n~~~",
    "<div>\n<span>open span\n</div>",
    "<pre>\n\nraw",
    "> Quoted:\n> <!-- comment",
    "**Bold**, `<details>` in code and <details><summary>More</summary>Body</details>.",
];

/// Builds a PostgreSQL model with one table per [`HOSTILE_COMMENTS`] entry, commented with
/// it, and a last table without a comment.
pub fn hostile_comments_schema() -> Schema {
    let mut schema = Schema::empty(Dialect::Postgres);
    schema.schemas.push(Namespace {
        name: "public".into(),
        comment: None,
    });
    for (number, comment) in HOSTILE_COMMENTS.iter().enumerate() {
        let mut item = table(
            "public",
            &format!("t{}", number + 1),
            vec![column("id", "integer", false)],
        );
        item.comment = Some(comment.to_string());
        schema.tables.push(item);
    }
    schema
        .tables
        .push(table("public", "zz_last", vec![column("id", "integer", false)]));
    schema
}

/// Turns a PostgreSQL model into the SQLite model of the same tables: one schema, `main`.
pub fn as_sqlite(mut schema: Schema) -> Schema {
    schema.dialect = Dialect::Sqlite;
    schema.schemas = vec![Namespace {
        name: "main".into(),
        comment: None,
    }];
    for table in &mut schema.tables {
        table.schema = "main".into();
        for key in &mut table.foreign_keys {
            key.referenced_table.schema = "main".into();
        }
    }
    for item in &mut schema.enums {
        item.schema = "main".into();
    }
    schema
}

/// Builds the large-schema case: 2,000 tables in 20 schemas, 10 columns each (20,000 columns), each
/// table referencing the one before it in its schema and every tenth table referencing a
/// table of the next schema.
pub fn large_schema() -> Schema {
    let mut schema = Schema::empty(Dialect::Postgres);
    for s in 1..=20 {
        let schema_name = format!("s{s:02}");
        schema.schemas.push(Namespace {
            name: schema_name.clone(),
            comment: Some(format!("Generated schema {s}")),
        });
        for t in 1..=100 {
            let name = format!("t{t:03}");
            let mut columns = vec![column("id", "bigint", false)];
            for c in 1..=7 {
                let mut extra = column(&format!("attribute_{c}"), "character varying(200)", true);
                extra.comment = Some(format!("Attribute {c} of {schema_name}.{name}"));
                columns.push(extra);
            }
            columns.push(column("previous_id", "bigint", true));
            columns.push(column("remote_id", "bigint", true));
            let mut table = table(&schema_name, &name, columns);
            table.primary_key = primary_key(&format!("{name}_pkey"), &["id"]);
            if t > 1 {
                let previous = format!("t{:03}", t - 1);
                table.foreign_keys.push(foreign_key(
                    &format!("{name}_previous_id_fkey"),
                    &["previous_id"],
                    (&schema_name, &previous),
                    &["id"],
                ));
            }
            if t % 10 == 0 {
                let next = format!("s{:02}", s % 20 + 1);
                table.foreign_keys.push(foreign_key(
                    &format!("{name}_remote_id_fkey"),
                    &["remote_id"],
                    (&next, &name),
                    &["id"],
                ));
            }
            schema.tables.push(table);
        }
    }
    schema.normalize();
    schema
}

/// Builds one schema of `tables` tables with `columns` commented columns each, every table
/// referencing the one before it: wide enough to pass Mermaid's text limit in one diagram.
pub fn wide_schema(tables: usize, columns: usize) -> Schema {
    let mut schema = Schema::empty(Dialect::Postgres);
    schema.schemas.push(Namespace {
        name: "wide".into(),
        comment: None,
    });
    for t in 0..tables {
        let name = format!("wide_table_{t:04}");
        let mut list = vec![
            column("id", "bigint", false),
            column("previous_id", "bigint", true),
        ];
        for c in 0..columns {
            let mut extra = column(&format!("measurement_{c:04}"), "numeric(18,3)", true);
            extra.comment = Some(format!(
                "Measurement {c} in the unit of the product, three decimals"
            ));
            list.push(extra);
        }
        let mut table = table("wide", &name, list);
        table.primary_key = primary_key(&format!("{name}_pkey"), &["id"]);
        if t > 0 {
            let previous = format!("wide_table_{:04}", t - 1);
            table.foreign_keys.push(foreign_key(
                &format!("{name}_previous_id_fkey"),
                &["previous_id"],
                ("wide", &previous),
                &["id"],
            ));
        }
        schema.tables.push(table);
    }
    schema.normalize();
    schema
}

/// Builds a schema whose names and text break naive escaping. It has Mermaid keywords as
/// table and column names, quotes, backslashes, percent signs, HTML and line breaks. It also
/// has a column per punctuation character, a table without columns, a foreign key to a table
/// outside the model and two identical foreign keys.
pub fn hostile_schema() -> Schema {
    let mut schema = Schema::empty(Dialect::Postgres);
    for name in ["public", "my schema", "Quote\"d"] {
        schema.schemas.push(Namespace {
            name: name.into(),
            comment: Some("direction TB\n%%{init: {\"theme\": \"dark\"}}%%".into()),
        });
    }

    let mut keywords = Vec::new();
    for name in [
        "one",
        "end",
        "u",
        "to",
        "class",
        "style",
        "direction",
        "erDiagram",
        "title",
        "Many",
    ] {
        let mut columns = vec![column("id", "integer", false)];
        for key in ["pk", "FK", "uk", "one", "to"] {
            columns.push(column(key, key, true));
        }
        let mut keyword = table("public", name, columns);
        keyword.primary_key = primary_key(&format!("{name}_pkey"), &["id"]);
        keywords.push(keyword);
    }
    // Every keyword table references the next, so relationship lines name them all.
    for position in 0..keywords.len() {
        let next = keywords[(position + 1) % keywords.len()].name.clone();
        keywords[position].foreign_keys.push(foreign_key(
            "same_name_fkey",
            &["one"],
            ("public", &next),
            &["id"],
        ));
    }
    schema.tables.extend(keywords);

    let punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let mut columns = vec![column("id", "integer", false)];
    for (position, c) in punctuation.chars().enumerate() {
        let mut odd = column(&format!("col{c}umn"), &format!("my{c}type"), true);
        odd.comment = Some(format!(
            "comment with {c} and line\r\nbreaks\rand\n\nparagraphs {position}"
        ));
        odd.default = Some(format!("'it''s {c}'::text"));
        columns.push(odd);
    }
    let mut awkward = table("my schema", "Tab\"le %% with `ticks` & <html> \\ #1;", columns);
    awkward.comment = Some("Comment with ''' triple quotes, \\ backslash, `code` and\r\n| pipes |".into());
    awkward.primary_key = primary_key("awkward_pkey", &["id"]);
    awkward.foreign_keys.push(foreign_key(
        "to_outside",
        &["col-umn"],
        ("elsewhere", "missing"),
        &["id"],
    ));
    awkward
        .foreign_keys
        .push(foreign_key("twin_a", &["col.umn"], ("public", "one"), &["id"]));
    awkward
        .foreign_keys
        .push(foreign_key("twin_b", &["col.umn"], ("public", "one"), &["id"]));
    awkward.foreign_keys.push(foreign_key(
        "self \"ref\"",
        &["col;umn"],
        ("my schema", &awkward.name.clone()),
        &["id"],
    ));
    awkward.unique_constraints.push(UniqueConstraint {
        name: "awkward_key".into(),
        columns: vec!["col|umn".into(), "col'umn".into()],
        nulls_not_distinct: false,
        deferrable: false,
        definition: "UNIQUE (\"col|umn\", \"col'umn\")".into(),
        comment: None,
    });
    awkward.check_constraints.push(CheckConstraint {
        name: "has `tick`".into(),
        definition: "CHECK ((\"col`umn\" <> 'x`y'::text))".into(),
        comment: None,
    });
    awkward.indexes.push(Index {
        name: "awkward_expression".into(),
        method: "btree".into(),
        unique: false,
        primary: false,
        columns: vec!["lower(\"col'umn\")".into(), "col\"umn".into()],
        include: vec![],
        predicate: Some("(id > 0)".into()),
        constraint: None,
        definition: "CREATE INDEX awkward_expression ON ...".into(),
        comment: Some("index 'comment'".into()),
    });
    schema.tables.push(awkward);

    schema.tables.push(table("Quote\"d", "no columns", vec![]));
    let mut unicode = table("Quote\"d", "résumé 日本", vec![column("naïve", "text", true)]);
    unicode.kind = TableKind::View;
    unicode.definition = Some(" SELECT 'x' AS \"naïve\";".into());
    schema.tables.push(unicode);

    schema.enums.push(EnumType {
        schema: "public".into(),
        name: "mood \"quoted\"".into(),
        values: vec![
            "it's".into(),
            "say \"hi\"".into(),
            "back\\slash".into(),
            "".into(),
        ],
        comment: Some("Enum comment\nwith two lines".into()),
    });
    schema.normalize();
    schema
}
