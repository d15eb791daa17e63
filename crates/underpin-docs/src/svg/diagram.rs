//! The content of one diagram (its tables, their drawn columns and its foreign keys), chosen
//! from the schema model for a diagram group or for one table's neighbourhood.

use std::collections::BTreeMap;

use underpin_schema::{ForeignKey, QualifiedName, Schema, Table, TableKind};

use crate::group::Group;

/// A table as one diagram draws it.
#[derive(Debug, Clone)]
pub struct DrawnTable<'a> {
    pub name: QualifiedName,
    /// `None` for a referenced table outside the model, known only from the key.
    pub table: Option<&'a Table>,
    pub columns: Vec<DrawnColumn<'a>>,
    /// Columns of the table that this diagram leaves out.
    pub hidden_columns: usize,
    /// Drawn for context only: a table of another group, or outside the model.
    pub external: bool,
    /// For a partitioned table, how many direct partitions it has.
    pub partitions: usize,
}

#[derive(Debug, Clone)]
pub struct DrawnColumn<'a> {
    pub name: &'a str,
    /// Empty when the column's table is outside the model.
    pub data_type: &'a str,
    pub nullable: bool,
    pub primary_key: bool,
    pub foreign_key: bool,
    pub unique: bool,
    pub comment: Option<&'a str>,
}

/// A foreign key drawn as an edge between the rows of one of its column pairs.
#[derive(Debug, Clone)]
pub struct DrawnRelation<'a> {
    pub from: usize,
    /// The row of the first referencing column; `None` draws to the header.
    pub from_row: Option<usize>,
    pub to: usize,
    pub to_row: Option<usize>,
    pub key: &'a ForeignKey,
    /// The position in the key of the column pair the edge is drawn between.
    pub pair: usize,
    /// Whether at most one referencing row can match a referenced row: the referencing
    /// columns are exactly the primary key or a unique constraint.
    pub one_to_one: bool,
    /// Whether a referencing column may be NULL, so a row may reference nothing.
    pub optional: bool,
}

#[derive(Debug, Clone)]
pub struct Diagram<'a> {
    pub title: String,
    pub tables: Vec<DrawnTable<'a>>,
    pub relations: Vec<DrawnRelation<'a>>,
}

/// Lookups over a schema shared by all diagrams of one render.
pub struct Catalog<'a> {
    schema: &'a Schema,
    by_name: BTreeMap<(&'a str, &'a str), &'a Table>,
    partition_counts: BTreeMap<(&'a str, &'a str), usize>,
    /// Foreign keys that reference each top-level table, held by top-level tables.
    incoming: BTreeMap<(&'a str, &'a str), Vec<(&'a Table, &'a ForeignKey)>>,
}

impl<'a> Catalog<'a> {
    pub fn new(schema: &'a Schema) -> Self {
        let by_name: BTreeMap<(&str, &str), &Table> = schema
            .tables
            .iter()
            .map(|table| ((table.schema.as_str(), table.name.as_str()), table))
            .collect();
        let mut partition_counts = BTreeMap::new();
        for table in &schema.tables {
            if let Some(of) = &table.partition_of {
                *partition_counts
                    .entry((of.parent.schema.as_str(), of.parent.name.as_str()))
                    .or_insert(0) += 1;
            }
        }
        let mut catalog = Catalog {
            schema,
            by_name,
            partition_counts,
            incoming: BTreeMap::new(),
        };
        let mut incoming: BTreeMap<(&str, &str), Vec<(&Table, &ForeignKey)>> = BTreeMap::new();
        for table in schema.top_level_tables() {
            for key in &table.foreign_keys {
                if let Some(target) = catalog.resolve(&key.referenced_table) {
                    incoming
                        .entry((target.schema.as_str(), target.name.as_str()))
                        .or_default()
                        .push((table, key));
                }
            }
        }
        catalog.incoming = incoming;
        catalog
    }

    pub fn schema(&self) -> &'a Schema {
        self.schema
    }

    pub fn table(&self, name: &QualifiedName) -> Option<&'a Table> {
        self.by_name
            .get(&(name.schema.as_str(), name.name.as_str()))
            .copied()
    }

    /// Finds the top-level table that diagrams draw for `name`: the table itself, or for a
    /// partition its outermost parent, since diagrams leave partitions out.
    pub fn resolve(&self, name: &QualifiedName) -> Option<&'a Table> {
        let mut table = self.table(name)?;
        // A bound on the walk guards against a malformed model whose parents form a cycle.
        for _ in 0..self.by_name.len() {
            match &table.partition_of {
                Some(of) => match self.table(&of.parent) {
                    Some(parent) => table = parent,
                    None => return Some(table),
                },
                None => return Some(table),
            }
        }
        Some(table)
    }

    fn partition_count(&self, table: &Table) -> usize {
        self.partition_counts
            .get(&(table.schema.as_str(), table.name.as_str()))
            .copied()
            .unwrap_or(0)
    }

    /// Foreign keys of other top-level tables that point at `table` (or at one of its
    /// partitions).
    pub fn incoming(&self, table: &'a Table) -> &[(&'a Table, &'a ForeignKey)] {
        self.incoming
            .get(&(table.schema.as_str(), table.name.as_str()))
            .map_or(&[], Vec::as_slice)
    }
}

fn drawn_column<'a>(table: &'a Table, name: &'a str) -> DrawnColumn<'a> {
    let column = table.column(name);
    DrawnColumn {
        name,
        data_type: column.map_or("", |column| column.data_type.as_str()),
        nullable: column.is_none_or(|column| column.nullable),
        primary_key: table.is_primary_key_column(name),
        foreign_key: table.is_foreign_key_column(name),
        unique: table.is_unique_column(name),
        comment: column.and_then(|column| column.comment.as_deref()),
    }
}

fn full_table<'a>(catalog: &Catalog<'a>, table: &'a Table, external: bool) -> DrawnTable<'a> {
    DrawnTable {
        name: table.qualified_name(),
        table: Some(table),
        columns: table
            .columns
            .iter()
            .map(|column| drawn_column(table, &column.name))
            .collect(),
        hidden_columns: 0,
        external,
        partitions: catalog.partition_count(table),
    }
}

/// Draws a table with only its primary key and the columns named in `wanted`, in table order.
fn compact_table<'a>(
    catalog: &Catalog<'a>,
    table: &'a Table,
    wanted: &[&str],
    external: bool,
) -> DrawnTable<'a> {
    let columns: Vec<DrawnColumn> = table
        .columns
        .iter()
        .filter(|column| table.is_primary_key_column(&column.name) || wanted.contains(&column.name.as_str()))
        .map(|column| drawn_column(table, &column.name))
        .collect();
    DrawnTable {
        name: table.qualified_name(),
        table: Some(table),
        hidden_columns: table.columns.len() - columns.len(),
        columns,
        external,
        partitions: catalog.partition_count(table),
    }
}

/// Draws a referenced table that the model lacks from the columns the key names.
fn unknown_table<'a>(name: &QualifiedName, columns: &'a [String]) -> DrawnTable<'a> {
    DrawnTable {
        name: name.clone(),
        table: None,
        columns: columns
            .iter()
            .map(|column| DrawnColumn {
                name: column,
                data_type: "",
                nullable: true,
                primary_key: false,
                foreign_key: false,
                unique: false,
                comment: None,
            })
            .collect(),
        hidden_columns: 0,
        external: true,
        partitions: 0,
    }
}

/// Collects drawn tables by name, so each appears once however many keys reach it.
struct Builder<'a> {
    tables: Vec<DrawnTable<'a>>,
    index: BTreeMap<QualifiedName, usize>,
    relations: Vec<DrawnRelation<'a>>,
}

impl<'a> Builder<'a> {
    fn new() -> Self {
        Builder {
            tables: Vec::new(),
            index: BTreeMap::new(),
            relations: Vec::new(),
        }
    }

    fn add(&mut self, table: DrawnTable<'a>) -> usize {
        if let Some(&existing) = self.index.get(&table.name) {
            return existing;
        }
        self.index.insert(table.name.clone(), self.tables.len());
        self.tables.push(table);
        self.tables.len() - 1
    }

    /// Adds `wanted` columns to a compact table that is already drawn, keeping table order.
    fn widen(&mut self, position: usize, wanted: &[&'a str]) {
        let drawn = &mut self.tables[position];
        let Some(table) = drawn.table else { return };
        if drawn.hidden_columns == 0 {
            return;
        }
        let mut keep: Vec<&str> = drawn.columns.iter().map(|column| column.name).collect();
        keep.extend(wanted.iter().copied());
        drawn.columns = table
            .columns
            .iter()
            .filter(|column| keep.contains(&column.name.as_str()))
            .map(|column| drawn_column(table, &column.name))
            .collect();
        drawn.hidden_columns = table.columns.len() - drawn.columns.len();
    }

    fn relate(&mut self, from: usize, to: usize, key: &'a ForeignKey) {
        let row = |drawn: &DrawnTable, column: Option<&String>| {
            column.and_then(|name| drawn.columns.iter().position(|drawn| drawn.name == name))
        };
        let from_table = &self.tables[from];
        let one_to_one = from_table
            .table
            .is_some_and(|table| covers_unique_key(table, &key.columns));
        let optional = key.columns.iter().any(|name| {
            from_table
                .columns
                .iter()
                .find(|column| column.name == name)
                .is_none_or(|column| column.nullable)
        });
        let pair = from_table.table.map_or(0, |table| distinctive_pair(table, key));
        self.relations.push(DrawnRelation {
            from,
            from_row: row(&self.tables[from], key.columns.get(pair)),
            to,
            to_row: row(&self.tables[to], key.referenced_columns.get(pair)),
            key,
            pair,
            one_to_one,
            optional,
        });
    }

    fn finish(self, title: String) -> Diagram<'a> {
        Diagram {
            title,
            tables: self.tables,
            relations: self.relations,
        }
    }
}

/// Picks the column pair a composite key is drawn from: the first whose referencing column
/// takes part in the fewest foreign keys of the table. Multi-tenant schemas start most keys
/// with the tenant column, and drawing them all from that one row would hide which column
/// each key is about.
fn distinctive_pair(table: &Table, key: &ForeignKey) -> usize {
    let uses = |column: &String| {
        table
            .foreign_keys
            .iter()
            .filter(|other| other.columns.contains(column))
            .count()
    };
    (0..key.columns.len().min(key.referenced_columns.len()))
        .min_by_key(|&position| (uses(&key.columns[position]), position))
        .unwrap_or(0)
}

/// Returns whether `columns` are, as a set, the primary key or the columns of a unique
/// constraint.
fn covers_unique_key(table: &Table, columns: &[String]) -> bool {
    let same =
        |other: &[String]| other.len() == columns.len() && other.iter().all(|name| columns.contains(name));
    table.primary_key.as_ref().is_some_and(|key| same(&key.columns))
        || table
            .unique_constraints
            .iter()
            .any(|constraint| same(&constraint.columns))
}

fn key_columns(key: &ForeignKey) -> Vec<&str> {
    key.referenced_columns.iter().map(String::as_str).collect()
}

/// Builds the diagram of one group: its tables in full, and all their foreign keys. A key
/// that leaves the group is drawn to a compact copy of its target, so each key appears in
/// exactly one group diagram, the one of the table that owns it.
pub fn group_diagram<'a>(catalog: &Catalog<'a>, group: &Group) -> Diagram<'a> {
    let mut builder = Builder::new();
    let members: Vec<&'a Table> = group
        .tables
        .iter()
        .filter_map(|name| catalog.table(name))
        .collect();
    for &table in &members {
        builder.add(full_table(catalog, table, false));
    }

    for &table in &members {
        let from = builder.index[&table.qualified_name()];
        for key in &table.foreign_keys {
            let to = match catalog.resolve(&key.referenced_table) {
                Some(target) => match builder.index.get(&target.qualified_name()) {
                    Some(&position) => {
                        builder.widen(position, &key_columns(key));
                        position
                    }
                    None => builder.add(compact_table(catalog, target, &key_columns(key), true)),
                },
                None => builder.add(unknown_table(&key.referenced_table, &key.referenced_columns)),
            };
            builder.relate(from, to, key);
        }
    }
    builder.finish(format!("{} ({})", group.name, group.schema))
}

/// Builds the neighbourhood diagram of one table: the table in full, and the tables it
/// references and that reference it, compact, with only the keys that join them to it.
///
/// NOTE: every linked table is drawn. For a table referenced by thousands of others the
/// diagram stays correct but becomes very tall (2,000 referencing tables give about
/// 14,000 x 69,000 px), because each long edge takes a slot in every layer it crosses.
pub fn table_diagram<'a>(catalog: &Catalog<'a>, table: &'a Table) -> Diagram<'a> {
    let mut builder = Builder::new();
    let focus = builder.add(full_table(catalog, table, false));

    for key in &table.foreign_keys {
        let to = match catalog.resolve(&key.referenced_table) {
            Some(target) if target.qualified_name() == table.qualified_name() => focus,
            Some(target) => match builder.index.get(&target.qualified_name()) {
                Some(&position) => {
                    builder.widen(position, &key_columns(key));
                    position
                }
                None => builder.add(compact_table(catalog, target, &key_columns(key), false)),
            },
            None => builder.add(unknown_table(&key.referenced_table, &key.referenced_columns)),
        };
        builder.relate(focus, to, key);
    }

    for &(holder, key) in catalog.incoming(table) {
        if holder.qualified_name() == table.qualified_name() {
            continue;
        }
        let columns: Vec<&str> = key.columns.iter().map(String::as_str).collect();
        let from = match builder.index.get(&holder.qualified_name()) {
            Some(&position) => {
                builder.widen(position, &columns);
                position
            }
            None => builder.add(compact_table(catalog, holder, &columns, false)),
        };
        builder.relate(from, focus, key);
    }
    builder.finish(table.qualified_name().to_string())
}

/// Returns the word the table header shows for kinds other than a plain table.
pub fn kind_label(kind: TableKind) -> Option<&'static str> {
    match kind {
        TableKind::Table => None,
        TableKind::PartitionedTable => Some("partitioned"),
        TableKind::View => Some("view"),
        TableKind::MaterializedView => Some("materialized view"),
        TableKind::ForeignTable => Some("foreign table"),
    }
}
