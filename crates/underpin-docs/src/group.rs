//! Splitting a schema into diagram groups small enough to read and to render.
//!
//! A diagram of 2,000 tables is unreadable, and GitHub rejects Mermaid blocks past its text
//! limit. Tables are grouped per schema. A schema with more tables than the limit is cut into
//! clusters that keep tables joined by foreign keys together: the key graph is walked breadth
//! first from the best-connected table, and the walk is cut into runs of at most `max_tables`.
//! NOTE: adding one table can shift the cut points, so later groups change members.
//! Partitions never form part of a group: diagrams draw their parent only.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use underpin_schema::{QualifiedName, Schema, Table};

/// One diagram's worth of tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// A name usable in file names and anchors: the schema name, with `-2`, `-3`… appended
    /// when the schema is split.
    pub name: String,
    pub schema: String,
    /// In drawing order.
    pub tables: Vec<QualifiedName>,
}

/// Groups the top-level tables of `schema`. With `max_tables` 0 every schema is one group.
pub fn groups(schema: &Schema, max_tables: usize) -> Vec<Group> {
    let mut by_schema: BTreeMap<&str, Vec<&Table>> = BTreeMap::new();
    for table in schema.top_level_tables() {
        by_schema.entry(&table.schema).or_default().push(table);
    }
    let mut groups = Vec::new();
    for (schema_name, tables) in by_schema {
        if max_tables == 0 || tables.len() <= max_tables {
            groups.push(Group {
                name: schema_name.to_string(),
                schema: schema_name.to_string(),
                tables: tables.iter().map(|table| table.qualified_name()).collect(),
            });
            continue;
        }
        let ordered = connected_order(&tables);
        for (number, chunk) in ordered.chunks(max_tables).enumerate() {
            let name = if number == 0 {
                schema_name.to_string()
            } else {
                format!("{schema_name}-{}", number + 1)
            };
            groups.push(Group {
                name,
                schema: schema_name.to_string(),
                tables: chunk.to_vec(),
            });
        }
    }
    groups
}

/// Orders tables so that those joined by foreign keys within the schema sit next to each
/// other: breadth first from the table with the most links, neighbours by name, then the
/// next unvisited table with the most links.
fn connected_order(tables: &[&Table]) -> Vec<QualifiedName> {
    let names: BTreeSet<QualifiedName> = tables.iter().map(|t| t.qualified_name()).collect();
    let mut neighbours: BTreeMap<QualifiedName, BTreeSet<QualifiedName>> =
        names.iter().map(|name| (name.clone(), BTreeSet::new())).collect();
    for table in tables {
        let from = table.qualified_name();
        for key in &table.foreign_keys {
            let to = &key.referenced_table;
            if to == &from || !names.contains(to) {
                continue;
            }
            neighbours.entry(from.clone()).or_default().insert(to.clone());
            neighbours.entry(to.clone()).or_default().insert(from.clone());
        }
    }

    // Most links first; the name breaks ties so the order is stable.
    let mut starts: Vec<&QualifiedName> = names.iter().collect();
    starts.sort_by(|a, b| neighbours[*b].len().cmp(&neighbours[*a].len()).then(a.cmp(b)));

    let mut visited = BTreeSet::new();
    let mut order = Vec::with_capacity(names.len());
    for start in starts {
        if !visited.insert(start.clone()) {
            continue;
        }
        let mut queue = VecDeque::from([start.clone()]);
        while let Some(name) = queue.pop_front() {
            for next in &neighbours[&name] {
                if visited.insert(next.clone()) {
                    queue.push_back(next.clone());
                }
            }
            order.push(name);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use underpin_schema::{Column, Dialect, ForeignKey, ForeignKeyAction, TableKind};

    fn table(schema: &str, name: &str, references: &[&str]) -> Table {
        Table {
            schema: schema.into(),
            name: name.into(),
            kind: TableKind::Table,
            comment: None,
            columns: vec![Column {
                name: "id".into(),
                data_type: "integer".into(),
                nullable: false,
                default: None,
                identity: None,
                generated: None,
                comment: None,
            }],
            primary_key: None,
            foreign_keys: references
                .iter()
                .map(|target| ForeignKey {
                    name: format!("{name}_{target}_fkey"),
                    columns: vec!["id".into()],
                    referenced_table: QualifiedName::new(schema, *target),
                    referenced_columns: vec!["id".into()],
                    on_delete: ForeignKeyAction::NoAction,
                    on_update: ForeignKeyAction::NoAction,
                    deferrable: false,
                    initially_deferred: false,
                    definition: String::new(),
                    comment: None,
                })
                .collect(),
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

    fn names(group: &Group) -> Vec<&str> {
        group.tables.iter().map(|name| name.name.as_str()).collect()
    }

    #[test]
    fn one_group_per_schema_under_the_limit() {
        let mut schema = Schema::empty(Dialect::Postgres);
        schema.tables = vec![table("b", "x", &[]), table("a", "y", &[]), table("a", "z", &[])];
        let groups = groups(&schema, 10);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (groups[0].name.as_str(), names(&groups[0])),
            ("a", vec!["y", "z"])
        );
        assert_eq!((groups[1].name.as_str(), names(&groups[1])), ("b", vec!["x"]));
    }

    #[test]
    fn large_schema_splits_along_foreign_keys() {
        let mut schema = Schema::empty(Dialect::Postgres);
        // Two clusters, interleaved by name: a1-a2-a3 and b1-b2-b3.
        schema.tables = vec![
            table("s", "a1", &[]),
            table("s", "a2", &["a1"]),
            table("s", "a3", &["a1"]),
            table("s", "b1", &[]),
            table("s", "b2", &["b1"]),
            table("s", "b3", &["b2"]),
        ];
        let groups = groups(&schema, 3);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].name, "s");
        assert_eq!(groups[1].name, "s-2");
        assert_eq!(names(&groups[0]), vec!["a1", "a2", "a3"]);
        assert_eq!(names(&groups[1]), vec!["b2", "b1", "b3"]);
    }

    #[test]
    fn partitions_are_left_out() {
        let mut schema = Schema::empty(Dialect::Postgres);
        let mut partition = table("s", "reading_2024_01", &[]);
        partition.partition_of = Some(underpin_schema::PartitionOf {
            parent: QualifiedName::new("s", "reading"),
            bound: "DEFAULT".into(),
        });
        schema.tables = vec![table("s", "reading", &[]), partition];
        assert_eq!(names(&groups(&schema, 0)[0]), vec!["reading"]);
    }
}
