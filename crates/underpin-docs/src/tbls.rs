//! `schema.json` in the format of tbls (github.com/k1LoW/tbls, `schema.json` as its
//! `SchemaJSON` type writes it), so tools that read tbls output read ours.
//!
//! Fields follow tbls's published JSON schema (`spec/tbls.schema.json_schema.json`). Tables
//! are named `schema.table` (SQLite tables by name alone, as tbls does) and have columns,
//! indexes, constraints, triggers and a `def`. Relations carry cardinalities, and enums and
//! the driver follow.
//! tbls resolves every relation against `tables` when it loads a file and rejects one whose
//! table or column is missing, so relations are written only between tables that are in the
//! file. Partitions are not tables of their own here either: the parent's `def` lists them
//! as `CREATE TABLE … PARTITION OF` statements.

use std::collections::BTreeSet;

use serde::Serialize;
use underpin_schema::{Dialect, ForeignKey, Identity, QualifiedName, Schema, Table, TableKind};

use crate::text::sql_identifier;
use crate::{Document, Error, Options, keys};

/// The document's file name.
pub const FILE_NAME: &str = "schema.json";

#[derive(Debug, Serialize)]
struct SchemaJson {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    desc: Option<String>,
    tables: Vec<TableJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relations: Vec<RelationJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    enums: Vec<EnumJson>,
    driver: DriverJson,
}

#[derive(Debug, Serialize)]
struct TableJson {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    columns: Vec<ColumnJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    indexes: Vec<IndexJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    constraints: Vec<ConstraintJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    triggers: Vec<TriggerJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    def: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    referenced_tables: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ColumnJson {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
    nullable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_def: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Debug, Serialize)]
struct IndexJson {
    name: String,
    def: String,
    table: String,
    columns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Debug, Serialize)]
struct ConstraintJson {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    def: String,
    table: String,
    /// Empty for constraints other than foreign keys, as tbls writes it.
    referenced_table: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    columns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    referenced_columns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Debug, Serialize)]
struct TriggerJson {
    name: String,
    def: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Debug, Serialize)]
struct RelationJson {
    table: String,
    columns: Vec<String>,
    cardinality: &'static str,
    parent_table: String,
    parent_columns: Vec<String>,
    parent_cardinality: &'static str,
    def: String,
}

#[derive(Debug, Serialize)]
struct EnumJson {
    name: String,
    values: Vec<String>,
}

#[derive(Debug, Serialize)]
struct DriverJson {
    name: &'static str,
}

/// Renders `schema.json`.
pub fn render(schema: &Schema, options: &Options) -> Result<Vec<Document>, Error> {
    let document = schema_json(schema, options);
    let mut text = serde_json::to_string_pretty(&document).expect("plain structs always serialize");
    text.push('\n');
    Ok(vec![Document::new(FILE_NAME, text)])
}

fn schema_json(schema: &Schema, options: &Options) -> SchemaJson {
    let names = Names {
        dialect: schema.dialect,
    };
    let tables: Vec<&Table> = schema.top_level_tables().collect();
    let written: BTreeSet<QualifiedName> = tables.iter().map(|table| table.qualified_name()).collect();

    let described: Vec<String> = schema
        .schemas
        .iter()
        .filter_map(|namespace| Some(format!("{}: {}", namespace.name, namespace.comment.as_deref()?)))
        .collect();

    SchemaJson {
        name: options.title.clone(),
        desc: if described.is_empty() {
            None
        } else {
            Some(described.join("\n"))
        },
        tables: tables
            .iter()
            .map(|table| table_json(schema, table, &names))
            .collect(),
        relations: tables
            .iter()
            .flat_map(|table| table.foreign_keys.iter().map(move |key| (*table, key)))
            .filter(|(table, key)| resolvable(schema, &written, table, key))
            .map(|(table, key)| relation_json(table, key, &names))
            .collect(),
        enums: schema
            .enums
            .iter()
            .map(|item| EnumJson {
                name: names.object(&item.schema, &item.name),
                values: item.values.clone(),
            })
            .collect(),
        driver: DriverJson {
            name: match schema.dialect {
                Dialect::Postgres => "postgres",
                Dialect::Sqlite => "sqlite",
            },
        },
    }
}

/// Returns whether tbls can resolve the relation: both tables in the file, every column present.
fn resolvable(schema: &Schema, written: &BTreeSet<QualifiedName>, table: &Table, key: &ForeignKey) -> bool {
    let Some(parent) = schema.table(&key.referenced_table) else {
        return false;
    };
    written.contains(&key.referenced_table)
        && key.columns.iter().all(|name| table.column(name).is_some())
        && key
            .referenced_columns
            .iter()
            .all(|name| parent.column(name).is_some())
}

fn table_json(schema: &Schema, table: &Table, names: &Names) -> TableJson {
    let table_name = names.table(table);
    TableJson {
        name: table_name.clone(),
        kind: match table.kind {
            TableKind::Table | TableKind::PartitionedTable => "BASE TABLE",
            TableKind::View => "VIEW",
            TableKind::MaterializedView => "MATERIALIZED VIEW",
            TableKind::ForeignTable => "FOREIGN TABLE",
        },
        comment: table.comment.clone(),
        columns: table
            .columns
            .iter()
            .map(|column| ColumnJson {
                name: column.name.clone(),
                data_type: column.data_type.clone(),
                nullable: column.nullable,
                default: column.default.clone(),
                extra_def: match (&column.identity, &column.generated) {
                    (Some(Identity::Always), _) => Some("GENERATED ALWAYS AS IDENTITY".into()),
                    (Some(Identity::ByDefault), _) => Some("GENERATED BY DEFAULT AS IDENTITY".into()),
                    (None, Some(generated)) => Some(generated.to_sql()),
                    (None, None) => None,
                },
                comment: column.comment.clone(),
            })
            .collect(),
        indexes: table
            .indexes
            .iter()
            .map(|index| IndexJson {
                name: index.name.clone(),
                def: index.definition.clone(),
                table: table_name.clone(),
                columns: index_columns(table, &index.columns),
                comment: index.comment.clone(),
            })
            .collect(),
        constraints: constraints(table, &table_name, names),
        triggers: table
            .triggers
            .iter()
            .map(|trigger| TriggerJson {
                name: trigger.name.clone(),
                def: trigger.definition.clone(),
                comment: trigger.comment.clone(),
            })
            .collect(),
        def: definition(schema, table, names),
        referenced_tables: table
            .depends_on
            .iter()
            .map(|name| names.object(&name.schema, &name.name))
            .collect(),
    }
}

fn constraints(table: &Table, table_name: &str, names: &Names) -> Vec<ConstraintJson> {
    let mut list = Vec::new();
    if let Some(key) = &table.primary_key {
        let columns: Vec<String> = key.columns.iter().map(|name| sql_identifier(name)).collect();
        list.push(ConstraintJson {
            // tbls writes `-` for a constraint without a name (SQLite).
            name: key.name.clone().unwrap_or_else(|| "-".into()),
            kind: "PRIMARY KEY",
            def: format!("PRIMARY KEY ({})", columns.join(", ")),
            table: table_name.to_string(),
            referenced_table: String::new(),
            columns: key.columns.clone(),
            referenced_columns: Vec::new(),
            comment: None,
        });
    }
    for key in &table.foreign_keys {
        list.push(ConstraintJson {
            name: key.name.clone(),
            kind: "FOREIGN KEY",
            def: key.definition.clone(),
            table: table_name.to_string(),
            referenced_table: names.object(&key.referenced_table.schema, &key.referenced_table.name),
            columns: key.columns.clone(),
            referenced_columns: key.referenced_columns.clone(),
            comment: key.comment.clone(),
        });
    }
    for unique in &table.unique_constraints {
        list.push(ConstraintJson {
            name: unique.name.clone(),
            kind: "UNIQUE",
            def: unique.definition.clone(),
            table: table_name.to_string(),
            referenced_table: String::new(),
            columns: unique.columns.clone(),
            referenced_columns: Vec::new(),
            comment: unique.comment.clone(),
        });
    }
    for check in &table.check_constraints {
        let exclusion = check
            .definition
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("EXCLUDE");
        list.push(ConstraintJson {
            name: check.name.clone(),
            kind: if exclusion { "EXCLUSION" } else { "CHECK" },
            def: check.definition.clone(),
            table: table_name.to_string(),
            referenced_table: String::new(),
            columns: columns_in(table, &check.definition),
            referenced_columns: Vec::new(),
            comment: check.comment.clone(),
        });
    }
    list
}

/// Builds the `def` of a view (its `CREATE` statement, as tbls writes it) or of a partitioned
/// table (its key, then one `CREATE TABLE … PARTITION OF` per partition, sub-partitions after
/// their parent).
fn definition(schema: &Schema, table: &Table, names: &Names) -> Option<String> {
    let name = names.sql(table);
    match table.kind {
        TableKind::View | TableKind::MaterializedView => {
            let keyword = if table.kind == TableKind::View {
                "VIEW"
            } else {
                "MATERIALIZED VIEW"
            };
            let query = table.definition.as_deref()?.trim_end().trim_end_matches(';');
            Some(format!("CREATE {keyword} {name} AS (\n{query}\n)"))
        }
        _ => {
            let key = table.partition_key.as_deref()?;
            let mut lines = vec![format!("-- {name} PARTITION BY {key}")];
            partition_statements(schema, table, names, &mut lines, 0);
            Some(lines.join("\n"))
        }
    }
}

fn partition_statements(
    schema: &Schema,
    parent: &Table,
    names: &Names,
    lines: &mut Vec<String>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    for partition in schema.partitions_of(parent) {
        let bound = partition
            .partition_of
            .as_ref()
            .map(|of| of.bound.as_str())
            .unwrap_or("");
        let bound = if bound.eq_ignore_ascii_case("DEFAULT") {
            "DEFAULT".to_string()
        } else {
            bound.to_string()
        };
        let mut line = format!(
            "CREATE TABLE {} PARTITION OF {} {bound}",
            names.sql(partition),
            names.sql(parent)
        );
        if let Some(key) = &partition.partition_key {
            line.push_str(&format!(" PARTITION BY {key}"));
        }
        line.push(';');
        lines.push(line);
        partition_statements(schema, partition, names, lines, depth + 1);
    }
}

fn relation_json(table: &Table, key: &ForeignKey, names: &Names) -> RelationJson {
    RelationJson {
        table: names.table(table),
        columns: key.columns.clone(),
        cardinality: if keys::is_unique(table, key) {
            "zero_or_one"
        } else {
            "zero_or_more"
        },
        parent_table: names.object(&key.referenced_table.schema, &key.referenced_table.name),
        parent_columns: key.referenced_columns.clone(),
        parent_cardinality: if keys::is_optional(table, key) {
            "zero_or_one"
        } else {
            "exactly_one"
        },
        def: key.definition.clone(),
    }
}

/// Lists the table's columns that `expression` mentions, bare or double-quoted, in table order.
/// An expression that is itself a column name gives that column.
fn columns_in(table: &Table, expression: &str) -> Vec<String> {
    if table.column(expression).is_some() {
        return vec![expression.to_string()];
    }
    table
        .columns
        .iter()
        .filter(|column| mentions(expression, &column.name))
        .map(|column| column.name.clone())
        .collect()
}

fn mentions(expression: &str, name: &str) -> bool {
    if expression.contains(&format!("\"{}\"", name.replace('"', "\"\""))) {
        return true;
    }
    let is_identifier_char = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    expression.match_indices(name).any(|(start, _)| {
        let before = expression[..start].chars().next_back();
        let after = expression[start + name.len()..].chars().next();
        !before.is_some_and(|c| is_identifier_char(c) || c == '"')
            && !after.is_some_and(|c| is_identifier_char(c) || c == '"')
    })
}

/// Lists the columns an index covers: its key columns, and those its expressions mention.
fn index_columns(table: &Table, keys: &[String]) -> Vec<String> {
    let mut columns = Vec::new();
    for key in keys {
        for name in columns_in(table, key) {
            if !columns.contains(&name) {
                columns.push(name);
            }
        }
    }
    columns
}

/// Table names as tbls writes them: `schema.name`, or the name alone for SQLite.
struct Names {
    dialect: Dialect,
}

impl Names {
    fn table(&self, table: &Table) -> String {
        self.object(&table.schema, &table.name)
    }

    fn object(&self, schema: &str, name: &str) -> String {
        if self.dialect == Dialect::Sqlite && schema == "main" {
            name.to_string()
        } else {
            format!("{schema}.{name}")
        }
    }

    /// Formats the name for SQL text, each part quoted when needed.
    fn sql(&self, table: &Table) -> String {
        if self.dialect == Dialect::Sqlite && table.schema == "main" {
            sql_identifier(&table.name)
        } else {
            format!(
                "{}.{}",
                sql_identifier(&table.schema),
                sql_identifier(&table.name)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_finds_whole_identifiers() {
        assert!(mentions("CHECK ((quantity >= 0))", "quantity"));
        assert!(!mentions("CHECK ((quantity_max >= 0))", "quantity"));
        assert!(mentions(
            "CHECK ((\"hyphen-column\" <> ''::text))",
            "hyphen-column"
        ));
        assert!(!mentions("CHECK ((\"Quantity\" > 0))", "quantity"));
    }

    #[test]
    fn sql_identifiers_quote_when_needed() {
        assert_eq!(sql_identifier("users"), "users");
        assert_eq!(sql_identifier("CamelCaseTable"), "\"CamelCaseTable\"");
        assert_eq!(sql_identifier("hyphen-table"), "\"hyphen-table\"");
        assert_eq!(sql_identifier("a\"b"), "\"a\"\"b\"");
    }
}
