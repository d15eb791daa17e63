//! The schema model: what introspection reads and every renderer draws from.
//!
//! Values are plain data. Text that the catalog formats (types, defaults, expressions, index
//! and view definitions) is kept as the server printed it, so documents show what `psql \d`
//! shows. [`Schema::normalize`] puts every list in a fixed order; introspection calls it, so
//! two reads of the same database give equal values and byte-identical JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The database a model was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// A whole database: everything in the schemas that introspection was asked to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub dialect: Dialect,
    /// Namespaces, with their comments. SQLite has one, `main`.
    pub schemas: Vec<Namespace>,
    pub tables: Vec<Table>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub composite_types: Vec<CompositeType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<Sequence>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
}

/// A schema-qualified object name, exactly as the catalog spells it (never quoted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for QualifiedName {
    /// `schema.name`, unquoted: for people, not for SQL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    Table,
    /// `PARTITION BY`: stores no rows itself. See [`Table::partition_key`].
    PartitionedTable,
    View,
    MaterializedView,
    ForeignTable,
}

impl TableKind {
    /// Views and materialized views, whose rows come from a query.
    pub fn is_view(self) -> bool {
        matches!(self, Self::View | Self::MaterializedView)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub kind: TableKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// In the table's column order.
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<PrimaryKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique_constraints: Vec<UniqueConstraint>,
    /// Check constraints, and on PostgreSQL exclusion constraints, each with its definition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_constraints: Vec<CheckConstraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// For a partitioned table, the key as `pg_get_partkeydef` prints it: `RANGE (taken_at)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    /// For a partition: its parent and bound. A partition may itself be partitioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<PartitionOf>,
    /// For views and materialized views: the query, as the server prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// For views and materialized views: the tables and views the query reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<QualifiedName>,
}

impl Table {
    pub fn qualified_name(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// Returns whether the column is part of the primary key.
    pub fn is_primary_key_column(&self, column: &str) -> bool {
        self.primary_key
            .as_ref()
            .is_some_and(|key| key.columns.iter().any(|name| name == column))
    }

    /// Returns whether the column is among the referencing columns of any foreign key.
    pub fn is_foreign_key_column(&self, column: &str) -> bool {
        self.foreign_keys
            .iter()
            .any(|key| key.columns.iter().any(|name| name == column))
    }

    /// Returns whether a unique constraint or unique index covers exactly this one column.
    pub fn is_unique_column(&self, column: &str) -> bool {
        let single = |columns: &[String]| columns.len() == 1 && columns[0] == column;
        self.unique_constraints
            .iter()
            .any(|constraint| single(&constraint.columns))
            || self
                .indexes
                .iter()
                .any(|index| index.unique && index.predicate.is_none() && single(&index.columns))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The type as the catalog formats it: `character varying(50)[]`, `timestamp with time zone`.
    pub data_type: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// For a `GENERATED ALWAYS AS (...)` column: its expression and whether it is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Generated>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The generation clause of a generated column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generated {
    /// The expression, as the catalog prints it, without the parentheses of the clause.
    pub expression: String,
    pub kind: GeneratedKind,
}

impl Generated {
    /// Formats the clause as SQL writes it: `GENERATED ALWAYS AS (price * 2) STORED`.
    pub fn to_sql(&self) -> String {
        format!("GENERATED ALWAYS AS ({}) {}", self.expression, self.kind.as_sql())
    }
}

/// Whether a generated column's value is written to disk or computed on every read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratedKind {
    /// Computed when the row is written, and stored like any other column.
    Stored,
    /// Computed when the row is read, taking no space. PostgreSQL has it from version 18
    /// (where it is the default), SQLite from 3.31 (also the default there).
    Virtual,
}

impl GeneratedKind {
    /// Returns the SQL keyword: `STORED` or `VIRTUAL`.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Stored => "STORED",
            Self::Virtual => "VIRTUAL",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    Always,
    ByDefault,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryKey {
    /// The constraint name; SQLite has none unless the schema names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// In key order.
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// The constraint name; on SQLite a generated `fk_<table>_<n>` when the schema names none.
    pub name: String,
    /// Referencing columns, in constraint order, paired by position with `referenced_columns`.
    pub columns: Vec<String>,
    pub referenced_table: QualifiedName,
    pub referenced_columns: Vec<String>,
    pub on_delete: ForeignKeyAction,
    pub on_update: ForeignKeyAction,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deferrable: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub initially_deferred: bool,
    /// The constraint as `pg_get_constraintdef` prints it, or rebuilt for SQLite.
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForeignKeyAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl ForeignKeyAction {
    /// Returns the SQL words: `NO ACTION`, `SET NULL`.
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::NoAction => "NO ACTION",
            Self::Restrict => "RESTRICT",
            Self::Cascade => "CASCADE",
            Self::SetNull => "SET NULL",
            Self::SetDefault => "SET DEFAULT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniqueConstraint {
    pub name: String,
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nulls_not_distinct: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deferrable: bool,
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckConstraint {
    pub name: String,
    /// `CHECK ((quantity >= 0))` or `EXCLUDE USING gist (...)`, as the server prints it.
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    /// `btree`, `hash`, `gin`, `gist`, `brin`, `hnsw`…; SQLite indexes are `btree`.
    pub method: String,
    pub unique: bool,
    /// Whether the index backs the primary key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary: bool,
    /// Key columns in order; an expression key appears as its expression text.
    pub columns: Vec<String>,
    /// `INCLUDE` columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// The `WHERE` clause of a partial index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    /// The constraint this index backs (primary key, unique or exclusion), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    /// The full `CREATE INDEX` statement as the server prints it.
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    /// `BEFORE`, `AFTER` or `INSTEAD OF`.
    pub timing: String,
    /// `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`, in that order.
    pub events: Vec<String>,
    /// `ROW` or `STATEMENT`.
    pub level: String,
    /// The function it calls, schema-qualified; empty on SQLite, where the body is inline.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub function: String,
    /// The `CREATE TRIGGER` statement.
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOf {
    pub parent: QualifiedName,
    /// `FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')` or `DEFAULT`.
    pub bound: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    pub schema: String,
    pub name: String,
    /// In sort order (`enumsortorder`), which is the order comparisons use.
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub schema: String,
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_constraints: Vec<CheckConstraint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeType {
    pub schema: String,
    pub name: String,
    /// Attributes in order, with their types as the catalog formats them.
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cycle: bool,
    /// The column that owns it (`serial`, identity, `OWNED BY`): table and column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<(QualifiedName, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub name: String,
    pub schema: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// One foreign key seen from both ends: what renderers draw as an edge.
#[derive(Debug, Clone, Copy)]
pub struct Relation<'a> {
    pub from: &'a Table,
    pub key: &'a ForeignKey,
    /// The referenced table, when it is in the model (it may live in a schema not read).
    pub to: Option<&'a Table>,
}

impl Schema {
    pub fn empty(dialect: Dialect) -> Self {
        Self {
            dialect,
            schemas: Vec::new(),
            tables: Vec::new(),
            enums: Vec::new(),
            domains: Vec::new(),
            composite_types: Vec::new(),
            sequences: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// Puts every list into its canonical order: objects by schema and name, columns and
    /// attributes by position (kept as read), keys by name, index and constraint lists by
    /// name. Orders that carry meaning (columns, key columns, enum values) are left alone.
    pub fn normalize(&mut self) {
        self.schemas.sort_by(|a, b| a.name.cmp(&b.name));
        self.tables
            .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        for table in &mut self.tables {
            table.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
            table.unique_constraints.sort_by(|a, b| a.name.cmp(&b.name));
            table.check_constraints.sort_by(|a, b| a.name.cmp(&b.name));
            table.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            table.triggers.sort_by(|a, b| a.name.cmp(&b.name));
            table.depends_on.sort();
            table.depends_on.dedup();
        }
        self.enums
            .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        self.domains
            .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        for domain in &mut self.domains {
            domain.check_constraints.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self.composite_types
            .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        self.sequences
            .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        self.extensions.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// Serializes the canonical JSON snapshot: normalized, pretty-printed, ending in a newline.
    /// The same schema gives the same bytes.
    pub fn to_canonical_json(&self) -> String {
        let mut normalized = self.clone();
        normalized.normalize();
        let mut text = serde_json::to_string_pretty(&normalized).expect("the schema model always serializes");
        text.push('\n');
        text
    }

    pub fn table(&self, name: &QualifiedName) -> Option<&Table> {
        self.table_by_name(&name.schema, &name.name)
    }

    pub fn table_by_name(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|table| table.schema == schema && table.name == name)
    }

    /// Returns every foreign key of every table, in table then constraint order.
    pub fn relations(&self) -> Vec<Relation<'_>> {
        let index = self.index_by_name();
        self.tables
            .iter()
            .flat_map(|table| {
                table.foreign_keys.iter().map(|key| Relation {
                    from: table,
                    key,
                    to: index
                        .get(&(
                            key.referenced_table.schema.as_str(),
                            key.referenced_table.name.as_str(),
                        ))
                        .map(|&position| &self.tables[position]),
                })
            })
            .collect()
    }

    /// Returns the foreign keys that point at `table`, each with the table that declares it.
    pub fn referenced_by(&self, table: &Table) -> Vec<(&Table, &ForeignKey)> {
        self.tables
            .iter()
            .flat_map(|from| from.foreign_keys.iter().map(move |key| (from, key)))
            .filter(|(_, key)| {
                key.referenced_table.schema == table.schema && key.referenced_table.name == table.name
            })
            .collect()
    }

    /// Returns the direct partitions of a partitioned table, by name.
    pub fn partitions_of(&self, parent: &Table) -> Vec<&Table> {
        self.tables
            .iter()
            .filter(|table| {
                table
                    .partition_of
                    .as_ref()
                    .is_some_and(|of| of.parent.schema == parent.schema && of.parent.name == parent.name)
            })
            .collect()
    }

    /// Tables that documents draw and list at the top level: everything but partitions,
    /// which appear under their parent.
    pub fn top_level_tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.iter().filter(|table| table.partition_of.is_none())
    }

    fn index_by_name(&self) -> BTreeMap<(&str, &str), usize> {
        self.tables
            .iter()
            .enumerate()
            .map(|(position, table)| ((table.schema.as_str(), table.name.as_str()), position))
            .collect()
    }
}
