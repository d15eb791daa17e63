//! Reads a [`Schema`] from a SQLite database: tables, views, columns, keys, checks, indexes
//! and triggers of the `main` schema.
//!
//! Four queries read everything, each joining `sqlite_schema` with the pragma table-valued
//! functions for every table at once. What the pragmas do not report (constraint names, check
//! constraints, generated expressions, deferrable foreign keys, index expressions and
//! predicates, trigger timing, a view's query) comes from the `CREATE` statements that
//! SQLite keeps (module `ddl`).
//!
//! Left out: SQLite's own `sqlite_*` tables, and virtual tables with their shadow tables,
//! because reading a virtual table's columns fails when its module is not loaded.
//! Constraints the schema does not name get generated names: `fk_<table>_<n>` and
//! `ck_<table>_<n>`, numbered from 1 in the order the `CREATE TABLE` statement declares them.
//! A unique constraint without a name takes the name of the index SQLite builds for it
//! (`sqlite_autoindex_<table>_<n>`).

mod ddl;

use std::collections::BTreeMap;

use sqlx::sqlite::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlSafeStr};

use crate::model::*;
use crate::{IntrospectError, IntrospectOptions, Introspection};

use ddl::TableDdl;

/// The only schema read.
const MAIN: &str = "main";

/// The tables and views read: `sqlite_schema` rows of the main schema that are ordinary
/// tables or views. `CROSS JOIN` keeps SQLite from calling a pragma function on a virtual
/// table before this filter has left it out.
const RELATIONS: &str = "sqlite_schema s CROSS JOIN pragma_table_list tl \
    ON tl.schema = 'main' AND tl.name = s.name AND tl.type IN ('table', 'view')";
const NOT_INTERNAL: &str = "s.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

/// Reads the `main` schema. `options.schemas` may be empty or name `main` only.
pub async fn introspect(
    conn: &mut SqliteConnection,
    options: &IntrospectOptions,
) -> Result<Introspection, IntrospectError> {
    if let Some(other) = options.schemas.iter().find(|name| *name != MAIN) {
        return Err(IntrospectError::SchemaNotFound {
            name: other.clone(),
            existing: MAIN.to_string(),
        });
    }

    let objects: Vec<ObjectRow> = fetch(
        conn,
        "reading sqlite_schema",
        format!(
            "SELECT s.type AS kind, s.name, s.tbl_name AS table_name, s.sql, coalesce(tl.wr, 0) AS without_rowid
               FROM sqlite_schema s
               LEFT JOIN pragma_table_list tl ON tl.schema = 'main' AND tl.name = s.name
              WHERE {NOT_INTERNAL} AND (s.type IN ('index', 'trigger') OR tl.type IN ('table', 'view'))
              ORDER BY s.type, s.name"
        ),
    )
    .await?;
    let columns: Vec<ColumnRow> = fetch(
        conn,
        "reading columns",
        format!(
            "SELECT s.name AS table_name, c.name, c.type AS declared_type, c.\"notnull\" AS not_null,
                    c.dflt_value AS default_value, c.pk AS key_position, c.hidden
               FROM {RELATIONS} CROSS JOIN pragma_table_xinfo(s.name) c
              WHERE {NOT_INTERNAL}
              ORDER BY s.name, c.cid"
        ),
    )
    .await?;
    let foreign_keys: Vec<ForeignKeyRow> = fetch(
        conn,
        "reading foreign keys",
        format!(
            "SELECT s.name AS table_name, f.id, f.\"table\" AS referenced_table, f.\"from\" AS column_name,
                    f.\"to\" AS referenced_column, f.on_update, f.on_delete
               FROM {RELATIONS} CROSS JOIN pragma_foreign_key_list(s.name) f
              WHERE {NOT_INTERNAL}
              ORDER BY s.name, f.id, f.seq"
        ),
    )
    .await?;
    let index_columns: Vec<IndexColumnRow> = fetch(
        conn,
        "reading indexes",
        format!(
            "SELECT s.name AS table_name, il.name AS index_name, il.\"unique\" AS is_unique, il.origin,
                    x.seqno, x.cid, x.name AS column_name, si.sql
               FROM {RELATIONS} CROSS JOIN pragma_index_list(s.name) il CROSS JOIN pragma_index_xinfo(il.name) x
               LEFT JOIN sqlite_schema si ON si.type = 'index' AND si.name = il.name
              WHERE {NOT_INTERNAL} AND x.key = 1
              ORDER BY s.name, il.name, x.seqno"
        ),
    )
    .await?;

    let mut schema = Schema::empty(Dialect::Sqlite);
    schema.schemas = vec![Namespace {
        name: MAIN.to_string(),
        comment: None,
    }];
    schema.tables = Assembly::new(objects, columns, foreign_keys, index_columns)
        .tables()
        .into_iter()
        .filter(|table| !options.excludes(&table.schema, &table.name))
        .collect();
    schema.normalize();
    Ok(Introspection { schema, queries: 4 })
}

/// Decodes a row of one of the catalog queries by column name.
trait FromCatalogRow: Sized {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error>;
}

async fn fetch<T: FromCatalogRow>(
    conn: &mut SqliteConnection,
    step: &'static str,
    sql: String,
) -> Result<Vec<T>, IntrospectError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql).into_sql_str())
        .fetch_all(conn)
        .await
        .map_err(|e| IntrospectError::query(step, &e))?;
    rows.iter()
        .map(T::from_row)
        .collect::<Result<_, _>>()
        .map_err(|e| IntrospectError::Decode {
            step,
            message: e.to_string(),
        })
}

/// Implements [`FromCatalogRow`] for a struct whose field names are the query's column names.
macro_rules! from_catalog_row {
    ($row_type:ident { $($field:ident),* $(,)? }) => {
        impl FromCatalogRow for $row_type {
            fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
                Ok($row_type {
                    $($field: row.try_get(stringify!($field))?,)*
                })
            }
        }
    };
}

from_catalog_row!(ObjectRow {
    kind,
    name,
    table_name,
    sql,
    without_rowid
});
from_catalog_row!(ColumnRow {
    table_name,
    name,
    declared_type,
    not_null,
    default_value,
    key_position,
    hidden
});
from_catalog_row!(ForeignKeyRow {
    table_name,
    id,
    referenced_table,
    column_name,
    referenced_column,
    on_update,
    on_delete
});
from_catalog_row!(IndexColumnRow {
    table_name,
    index_name,
    is_unique,
    origin,
    seqno,
    cid,
    column_name,
    sql
});

#[derive(Debug)]
struct ObjectRow {
    /// `table`, `view`, `index` or `trigger`.
    kind: String,
    name: String,
    table_name: String,
    sql: Option<String>,
    without_rowid: bool,
}

#[derive(Debug)]
struct ColumnRow {
    table_name: String,
    name: String,
    declared_type: String,
    not_null: bool,
    default_value: Option<String>,
    /// Position in the primary key from 1, or 0.
    key_position: i64,
    /// 0 for an ordinary column, 2 for a virtual and 3 for a stored generated column.
    hidden: i64,
}

#[derive(Debug)]
struct ForeignKeyRow {
    table_name: String,
    id: i64,
    referenced_table: String,
    column_name: String,
    /// NULL when the key references the primary key without naming its columns.
    referenced_column: Option<String>,
    on_update: String,
    on_delete: String,
}

#[derive(Debug)]
struct IndexColumnRow {
    table_name: String,
    index_name: String,
    is_unique: bool,
    /// `c` (CREATE INDEX), `u` (UNIQUE constraint) or `pk` (PRIMARY KEY).
    origin: String,
    seqno: i64,
    /// The column's position, -1 for the rowid, -2 for an expression.
    cid: i64,
    column_name: Option<String>,
    sql: Option<String>,
}

/// The rows of the four queries, grouped by table.
struct Assembly {
    objects: Vec<ObjectRow>,
    columns: BTreeMap<String, Vec<ColumnRow>>,
    foreign_keys: BTreeMap<String, Vec<ForeignKeyRow>>,
    index_columns: BTreeMap<String, Vec<IndexColumnRow>>,
}

impl Assembly {
    fn new(
        objects: Vec<ObjectRow>,
        columns: Vec<ColumnRow>,
        foreign_keys: Vec<ForeignKeyRow>,
        index_columns: Vec<IndexColumnRow>,
    ) -> Self {
        let mut assembly = Assembly {
            objects,
            columns: BTreeMap::new(),
            foreign_keys: BTreeMap::new(),
            index_columns: BTreeMap::new(),
        };
        for row in columns {
            assembly
                .columns
                .entry(row.table_name.clone())
                .or_default()
                .push(row);
        }
        for row in foreign_keys {
            assembly
                .foreign_keys
                .entry(row.table_name.clone())
                .or_default()
                .push(row);
        }
        for row in index_columns {
            assembly
                .index_columns
                .entry(row.table_name.clone())
                .or_default()
                .push(row);
        }
        assembly
    }

    fn tables(&self) -> Vec<Table> {
        let mut tables: Vec<Table> = self
            .objects
            .iter()
            .filter(|object| object.kind == "table" || object.kind == "view")
            .map(|object| self.table(object))
            .collect();

        for trigger in self.objects.iter().filter(|object| object.kind == "trigger") {
            if let Some(table) = tables.iter_mut().find(|table| table.name == trigger.table_name) {
                table.triggers.push(self::trigger(trigger));
            }
        }
        tables
    }

    fn table(&self, object: &ObjectRow) -> Table {
        let sql = object.sql.as_deref().unwrap_or_default();
        let is_view = object.kind == "view";
        let ddl = if is_view {
            TableDdl::default()
        } else {
            ddl::parse_create_table(sql)
        };
        let columns = self
            .columns
            .get(&object.name)
            .map(Vec::as_slice)
            .unwrap_or_default();

        let mut table = Table {
            schema: MAIN.to_string(),
            name: object.name.clone(),
            kind: if is_view {
                TableKind::View
            } else {
                TableKind::Table
            },
            comment: None,
            columns: columns
                .iter()
                .map(|row| column(row, columns, &ddl, object))
                .collect(),
            primary_key: primary_key(columns, &ddl),
            foreign_keys: self.foreign_keys(object, &ddl),
            unique_constraints: Vec::new(),
            check_constraints: check_constraints(&object.name, &ddl),
            indexes: Vec::new(),
            triggers: Vec::new(),
            partition_key: None,
            partition_of: None,
            definition: None,
            depends_on: Vec::new(),
        };
        if is_view {
            let (query, relations) = ddl::parse_create_view(sql);
            table.definition = Some(query);
            table.depends_on = relations
                .iter()
                .filter_map(|name| self.relation_named(name))
                .map(|name| QualifiedName::new(MAIN, name))
                .collect();
        }
        self.add_indexes(&mut table, &ddl);
        table
    }

    /// Finds the table or view called `name` and returns its name as the catalog spells it.
    /// SQLite matches names without regard to ASCII case.
    fn relation_named(&self, name: &str) -> Option<&str> {
        self.objects
            .iter()
            .find(|object| {
                (object.kind == "table" || object.kind == "view") && object.name.eq_ignore_ascii_case(name)
            })
            .map(|object| object.name.as_str())
    }

    fn primary_key_columns(&self, table: &str) -> Vec<String> {
        let mut key: Vec<&ColumnRow> = self
            .columns
            .get(table)
            .map(|rows| rows.iter().filter(|row| row.key_position > 0).collect())
            .unwrap_or_default();
        key.sort_by_key(|row| row.key_position);
        key.into_iter().map(|row| row.name.clone()).collect()
    }

    fn foreign_keys(&self, object: &ObjectRow, ddl: &TableDdl) -> Vec<ForeignKey> {
        let Some(rows) = self.foreign_keys.get(&object.name) else {
            return Vec::new();
        };
        let mut groups: BTreeMap<i64, Vec<&ForeignKeyRow>> = BTreeMap::new();
        for row in rows {
            groups.entry(row.id).or_default().push(row);
        }

        // The pragma numbers keys in reverse declaration order, so walking the ids downwards
        // meets them in the order the clauses were declared.
        let mut used = vec![false; ddl.foreign_keys.len()];
        let mut keys = Vec::new();
        for (position, rows) in groups.values().rev().enumerate() {
            let first = rows[0];
            let columns: Vec<String> = rows.iter().map(|row| row.column_name.clone()).collect();
            let clause = ddl.foreign_keys.iter().enumerate().position(|(index, clause)| {
                !used[index]
                    && clause
                        .referenced_table
                        .eq_ignore_ascii_case(&first.referenced_table)
                    && clause.columns.len() == columns.len()
                    && clause
                        .columns
                        .iter()
                        .zip(&columns)
                        .all(|(a, b)| a.eq_ignore_ascii_case(b))
            });
            if let Some(index) = clause {
                used[index] = true;
            }
            let clause = clause.map(|index| &ddl.foreign_keys[index]);

            let referenced_table = self
                .relation_named(&first.referenced_table)
                .unwrap_or(&first.referenced_table);
            let referenced_columns = if rows.iter().all(|row| row.referenced_column.is_some()) {
                rows.iter()
                    .filter_map(|row| row.referenced_column.clone())
                    .collect()
            } else {
                self.primary_key_columns(referenced_table)
            };
            let name = clause
                .and_then(|clause| clause.name.clone())
                .unwrap_or_else(|| format!("fk_{}_{}", object.name, position + 1));
            let mut key = ForeignKey {
                name,
                columns,
                referenced_table: QualifiedName::new(MAIN, referenced_table),
                referenced_columns,
                on_delete: action(&first.on_delete),
                on_update: action(&first.on_update),
                deferrable: clause.is_some_and(|clause| clause.deferrable),
                initially_deferred: clause.is_some_and(|clause| clause.initially_deferred),
                definition: String::new(),
                comment: None,
            };
            key.definition = foreign_key_definition(&key);
            keys.push(key);
        }
        keys
    }

    fn add_indexes(&self, table: &mut Table, ddl: &TableDdl) {
        let Some(rows) = self.index_columns.get(&table.name) else {
            return;
        };
        let mut by_index: BTreeMap<&str, Vec<&IndexColumnRow>> = BTreeMap::new();
        for row in rows {
            by_index.entry(row.index_name.as_str()).or_default().push(row);
        }

        for (name, rows) in by_index {
            let first = rows[0];
            let parsed = first
                .sql
                .as_deref()
                .map(ddl::parse_create_index)
                .unwrap_or_default();
            let columns: Vec<String> = rows
                .iter()
                .map(|row| match (row.cid, &row.column_name) {
                    (-1, _) => "rowid".to_string(),
                    (_, Some(column)) => column.clone(),
                    _ => parsed.terms.get(row.seqno as usize).cloned().unwrap_or_default(),
                })
                .collect();

            let constraint = match first.origin.as_str() {
                "pk" => ddl.primary_key_name.clone(),
                "u" => {
                    let constraint_name = unique_constraint_name(name, &columns, ddl);
                    table.unique_constraints.push(UniqueConstraint {
                        name: constraint_name.clone(),
                        definition: format!("UNIQUE ({})", identifier_list(&columns)),
                        columns: columns.clone(),
                        nulls_not_distinct: false,
                        deferrable: false,
                        comment: None,
                    });
                    Some(constraint_name)
                }
                _ => None,
            };

            // Indexes SQLite builds for a constraint have no statement of their own.
            let definition = first.sql.clone().unwrap_or_else(|| {
                format!(
                    "CREATE UNIQUE INDEX {} ON {} ({})",
                    quote_if_needed(name),
                    quote_if_needed(&table.name),
                    identifier_list(&columns)
                )
            });
            table.indexes.push(Index {
                name: name.to_string(),
                method: "btree".to_string(),
                unique: first.is_unique,
                primary: first.origin == "pk",
                columns,
                include: Vec::new(),
                predicate: parsed.predicate,
                constraint,
                definition,
                comment: None,
            });
        }
    }
}

fn column(row: &ColumnRow, columns: &[ColumnRow], ddl: &TableDdl, object: &ObjectRow) -> Column {
    let kind = match row.hidden {
        2 => Some(GeneratedKind::Virtual),
        3 => Some(GeneratedKind::Stored),
        _ => None,
    };
    let generated = kind.and_then(|kind| {
        ddl.generated
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&row.name))
            .map(|(_, expression)| Generated {
                expression: expression.clone(),
                kind,
            })
    });

    // A rowid table's single `INTEGER PRIMARY KEY` column is the rowid, which is never NULL;
    // a WITHOUT ROWID table enforces NOT NULL on its whole key. Other key columns of a rowid
    // table accept NULL unless declared NOT NULL.
    let key_size = columns.iter().filter(|column| column.key_position > 0).count();
    let is_rowid = !object.without_rowid
        && key_size == 1
        && row.key_position == 1
        && row.declared_type.eq_ignore_ascii_case("INTEGER");
    let key_not_null = object.without_rowid && row.key_position > 0;

    Column {
        name: row.name.clone(),
        data_type: row.declared_type.clone(),
        nullable: !(row.not_null || is_rowid || key_not_null),
        default: row.default_value.clone(),
        identity: None,
        generated,
        comment: None,
    }
}

fn primary_key(columns: &[ColumnRow], ddl: &TableDdl) -> Option<PrimaryKey> {
    let mut key: Vec<&ColumnRow> = columns.iter().filter(|row| row.key_position > 0).collect();
    if key.is_empty() {
        return None;
    }
    key.sort_by_key(|row| row.key_position);
    Some(PrimaryKey {
        name: ddl.primary_key_name.clone(),
        columns: key.into_iter().map(|row| row.name.clone()).collect(),
    })
}

fn check_constraints(table: &str, ddl: &TableDdl) -> Vec<CheckConstraint> {
    ddl.checks
        .iter()
        .enumerate()
        .map(|(position, check)| CheckConstraint {
            name: check
                .name
                .clone()
                .unwrap_or_else(|| format!("ck_{table}_{}", position + 1)),
            definition: check.definition.clone(),
            comment: None,
        })
        .collect()
}

/// Returns the name the `CREATE TABLE` statement gives the unique constraint on `columns`,
/// or else the name of its index.
fn unique_constraint_name(index: &str, columns: &[String], ddl: &TableDdl) -> String {
    ddl.unique
        .iter()
        .find(|clause| {
            clause.columns.len() == columns.len()
                && clause
                    .columns
                    .iter()
                    .zip(columns)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        })
        .and_then(|clause| clause.name.clone())
        .unwrap_or_else(|| index.to_string())
}

fn trigger(object: &ObjectRow) -> Trigger {
    let sql = object.sql.clone().unwrap_or_default();
    let parsed = ddl::parse_create_trigger(&sql);
    Trigger {
        name: object.name.clone(),
        timing: parsed.timing.to_string(),
        events: vec![parsed.event.to_string()],
        // SQLite has row-level triggers only.
        level: "ROW".to_string(),
        function: String::new(),
        definition: sql,
        comment: None,
    }
}

/// Maps the action words of `pragma_foreign_key_list`.
fn action(words: &str) -> ForeignKeyAction {
    match words.to_ascii_uppercase().as_str() {
        "CASCADE" => ForeignKeyAction::Cascade,
        "RESTRICT" => ForeignKeyAction::Restrict,
        "SET NULL" => ForeignKeyAction::SetNull,
        "SET DEFAULT" => ForeignKeyAction::SetDefault,
        _ => ForeignKeyAction::NoAction,
    }
}

/// `FOREIGN KEY (a) REFERENCES t (b) ON DELETE CASCADE`, in the form PostgreSQL prints, with
/// NO ACTION left out.
fn foreign_key_definition(key: &ForeignKey) -> String {
    let mut text = format!(
        "FOREIGN KEY ({}) REFERENCES {} ({})",
        identifier_list(&key.columns),
        quote_if_needed(&key.referenced_table.name),
        identifier_list(&key.referenced_columns)
    );
    for (event, action) in [("UPDATE", key.on_update), ("DELETE", key.on_delete)] {
        if action != ForeignKeyAction::NoAction {
            text.push_str(&format!(" ON {event} {}", action.as_sql()));
        }
    }
    if key.deferrable {
        text.push_str(" DEFERRABLE");
        if key.initially_deferred {
            text.push_str(" INITIALLY DEFERRED");
        }
    }
    text
}

fn identifier_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| quote_if_needed(name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Quotes a name unless it is a plain lower-case identifier.
fn quote_if_needed(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        underpin_db::quote_ident(name)
    }
}
