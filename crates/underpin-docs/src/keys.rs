//! Cardinality facts of a foreign key, as diagrams and tbls JSON show them.

use std::collections::BTreeSet;

use underpin_schema::{ForeignKey, Table};

/// Returns whether at most one row can hold each value of the key's columns: the primary key, a
/// unique constraint or a unique index without predicate covers exactly those columns.
/// Then each referenced row has zero or one referencing rows; otherwise zero or more.
pub fn is_unique(table: &Table, key: &ForeignKey) -> bool {
    let columns: BTreeSet<&str> = key.columns.iter().map(String::as_str).collect();
    let same = |other: &[String]| {
        other.len() == columns.len() && other.iter().all(|name| columns.contains(name.as_str()))
    };
    table.primary_key.as_ref().is_some_and(|pk| same(&pk.columns))
        || table
            .unique_constraints
            .iter()
            .any(|unique| same(&unique.columns))
        || table
            .indexes
            .iter()
            .any(|index| index.unique && index.predicate.is_none() && same(&index.columns))
}

/// Returns whether a row may reference nothing: with any referencing column nullable, a row with a
/// NULL there escapes the constraint (MATCH SIMPLE, the default).
pub fn is_optional(table: &Table, key: &ForeignKey) -> bool {
    key.columns
        .iter()
        .any(|name| table.column(name).is_none_or(|column| column.nullable))
}

/// Returns whether the referencing columns all belong to the primary key, so that the referenced
/// row is part of the referencing row's identity (an identifying relationship).
pub fn is_identifying(table: &Table, key: &ForeignKey) -> bool {
    key.columns.iter().all(|name| table.is_primary_key_column(name))
}
