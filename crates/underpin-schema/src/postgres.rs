//! Reads a [`Schema`] from the PostgreSQL catalogs.
//!
//! A fixed set of bulk queries (module `catalog`) reads every object of the selected schemas,
//! whatever their number. This module joins the rows into the model by OID.
//!
//! All queries run in one read-only repeatable-read transaction, so they see one snapshot.
//! That transaction sets `search_path` to empty and fixes the other settings that change how
//! the server prints text (`SESSION_SETTINGS`), so types, defaults, expressions and view
//! queries print the same way whatever the role's settings. Names from `pg_catalog` print
//! unqualified (`integer`, `now()`) and every other name schema-qualified (`sop.quantity`,
//! `public.vector(384)`, `nextval('public.country_id_seq'::regclass)`). Time stamps print in
//! UTC.
//!
//! Partitions keep the keys, checks, indexes and triggers the catalog lists for them, but not
//! the foreign keys they inherit from their parent (`conparentid` set). Those repeat the
//! parent's key, and documents show partitions under their parent. The same filter drops the
//! extra rows PostgreSQL keeps for a foreign key that references a partitioned table, one per
//! referenced partition.

mod catalog;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::de::DeserializeOwned;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::model::*;
use crate::{IntrospectError, IntrospectOptions, Introspection};

use catalog::*;

/// Settings for the introspection transaction that make the deparsed text independent of the
/// role's and the session's settings. They fix how names print (`search_path`,
/// `quote_all_identifiers`) and how string literals print (`standard_conforming_strings`).
/// The rest fix constants, such as the `timestamptz` bounds of a partition, which print in
/// the session's time zone and date style, or `money` defaults.
const SESSION_SETTINGS: &str = "SET LOCAL search_path = ''; \
    SET LOCAL quote_all_identifiers = off; \
    SET LOCAL standard_conforming_strings = on; \
    SET LOCAL TimeZone = 'UTC'; \
    SET LOCAL DateStyle = 'ISO, YMD'; \
    SET LOCAL IntervalStyle = 'postgres'; \
    SET LOCAL extra_float_digits = 1; \
    SET LOCAL bytea_output = 'hex'; \
    SET LOCAL lc_monetary = 'C'";

/// Reads the schemas that `options` selects. The connection must not be inside a
/// transaction; it is left as it was found.
pub async fn introspect(
    conn: &mut PgConnection,
    options: &IntrospectOptions,
) -> Result<Introspection, IntrospectError> {
    let mut tx = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(|e| IntrospectError::query("starting a read-only transaction", &e))?;
    sqlx::raw_sql(SESSION_SETTINGS)
        .execute(&mut *tx)
        .await
        .map_err(|e| IntrospectError::query("setting the transaction's output settings", &e))?;

    let mut reader = Reader {
        conn: &mut tx,
        queries: 0,
    };
    let schema = read_schema(&mut reader, options).await?;
    let queries = reader.queries;

    // Nothing was written; ending with ROLLBACK also undoes SET LOCAL.
    tx.rollback()
        .await
        .map_err(|e| IntrospectError::query("ending the read-only transaction", &e))?;
    Ok(Introspection { schema, queries })
}

/// Sends catalog queries and counts them.
struct Reader<'c> {
    conn: &'c mut PgConnection,
    queries: usize,
}

impl Reader<'_> {
    /// Runs one catalog query that returns a JSON array as text, and decodes its rows.
    async fn rows<T: DeserializeOwned>(
        &mut self,
        step: &'static str,
        sql: String,
    ) -> Result<Vec<T>, IntrospectError> {
        self.queries += 1;
        let started = Instant::now();
        let row = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(|e| IntrospectError::query(step, &e))?;
        let text: Option<String> = row.try_get(0).map_err(|e| IntrospectError::Decode {
            step,
            message: e.to_string(),
        })?;
        let rows: Vec<T> = match text {
            None => Vec::new(),
            Some(text) => serde_json::from_str(&text).map_err(|e| IntrospectError::Decode {
                step,
                message: e.to_string(),
            })?,
        };
        tracing::debug!(step, rows = rows.len(), elapsed = ?started.elapsed(), "catalog query");
        Ok(rows)
    }
}

async fn read_schema(
    reader: &mut Reader<'_>,
    options: &IntrospectOptions,
) -> Result<Schema, IntrospectError> {
    let cte = namespace_cte(&options.schemas);

    let namespaces: Vec<NamespaceRow> = reader.rows("reading schemas", namespaces(&cte)).await?;
    check_requested_schemas(options, &namespaces, reader).await?;

    let relations: Vec<RelationRow> = reader.rows("reading tables and views", relations(&cte)).await?;
    let columns: Vec<ColumnRow> = reader.rows("reading columns", catalog::columns(&cte)).await?;
    let constraints: Vec<ConstraintRow> = reader
        .rows("reading constraints", catalog::constraints(&cte))
        .await?;
    let indexes: Vec<IndexRow> = reader.rows("reading indexes", catalog::indexes(&cte)).await?;
    let triggers: Vec<TriggerRow> = reader.rows("reading triggers", catalog::triggers(&cte)).await?;
    let dependencies: Vec<DependencyRow> = reader
        .rows("reading view dependencies", view_dependencies(&cte))
        .await?;
    let enums: Vec<EnumRow> = reader.rows("reading enum types", catalog::enums(&cte)).await?;
    let domains: Vec<DomainRow> = reader.rows("reading domains", catalog::domains(&cte)).await?;
    let composites: Vec<CompositeRow> = reader
        .rows("reading composite types", composite_types(&cte))
        .await?;
    let sequences: Vec<SequenceRow> = reader.rows("reading sequences", catalog::sequences(&cte)).await?;
    let extensions: Vec<ExtensionRow> = reader.rows("reading extensions", catalog::extensions()).await?;

    let tables = TableRows {
        relations,
        columns,
        constraints,
        indexes,
        triggers,
        dependencies,
    }
    .assemble()?;

    let mut schema = Schema::empty(Dialect::Postgres);
    schema.tables = tables
        .into_iter()
        .filter(|table| !options.excludes(&table.schema, &table.name))
        .collect();
    schema.enums = enums.into_iter().map(enum_type).collect();
    schema.domains = domains.into_iter().map(domain).collect();
    schema.composite_types = composites.into_iter().map(composite_type).collect();
    schema.sequences = sequences
        .into_iter()
        .map(sequence)
        .filter(|sequence| match &sequence.owned_by {
            Some((table, _)) => !options.excludes(&table.schema, &table.name),
            None => true,
        })
        .collect();
    schema.extensions = extensions.into_iter().map(extension).collect();
    schema.schemas = selected_namespaces(options, namespaces, &schema);
    schema.normalize();
    Ok(schema)
}

/// Fails when a schema named in the options does not exist, listing the schemas that do.
async fn check_requested_schemas(
    options: &IntrospectOptions,
    found: &[NamespaceRow],
    reader: &mut Reader<'_>,
) -> Result<(), IntrospectError> {
    let Some(missing) = options
        .schemas
        .iter()
        .find(|name| !found.iter().any(|row| &row.name == *name))
    else {
        return Ok(());
    };

    // Only on this error path, so the count of a successful read stays fixed.
    let all: Vec<NamespaceRow> = reader
        .rows("listing schemas", namespaces(&namespace_cte(&[])))
        .await?;
    let existing: Vec<&str> = all.iter().map(|row| row.name.as_str()).collect();
    Err(IntrospectError::SchemaNotFound {
        name: missing.clone(),
        existing: existing.join(", "),
    })
}

/// Picks the namespaces to list: every schema named in the options, or without names every
/// selected schema that contains at least one object of the model. Empty schemas such as a
/// bare `public` would only clutter documents.
fn selected_namespaces(
    options: &IntrospectOptions,
    rows: Vec<NamespaceRow>,
    schema: &Schema,
) -> Vec<Namespace> {
    let mut used: BTreeSet<&str> = BTreeSet::new();
    used.extend(schema.tables.iter().map(|t| t.schema.as_str()));
    used.extend(schema.enums.iter().map(|t| t.schema.as_str()));
    used.extend(schema.domains.iter().map(|t| t.schema.as_str()));
    used.extend(schema.composite_types.iter().map(|t| t.schema.as_str()));
    used.extend(schema.sequences.iter().map(|t| t.schema.as_str()));
    used.extend(schema.extensions.iter().map(|t| t.schema.as_str()));

    rows.into_iter()
        .filter(|row| !options.schemas.is_empty() || used.contains(row.name.as_str()))
        .map(|row| Namespace {
            name: row.name,
            comment: row.comment,
        })
        .collect()
}

/// The rows that make up tables, joined by the relation's OID.
struct TableRows {
    relations: Vec<RelationRow>,
    columns: Vec<ColumnRow>,
    constraints: Vec<ConstraintRow>,
    indexes: Vec<IndexRow>,
    triggers: Vec<TriggerRow>,
    dependencies: Vec<DependencyRow>,
}

impl TableRows {
    fn assemble(self) -> Result<Vec<Table>, IntrospectError> {
        let mut tables: BTreeMap<i64, Table> = BTreeMap::new();
        for row in self.relations {
            let oid = row.oid;
            tables.insert(oid, table(row)?);
        }

        // Rows of relations that are not in the map belong to objects left out (extension
        // members), so they are skipped.
        let mut columns = self.columns;
        columns.sort_by_key(|row| (row.table_oid, row.position));
        for row in columns {
            if let Some(table) = tables.get_mut(&row.table_oid) {
                table.columns.push(column(row)?);
            }
        }

        for row in self.constraints {
            if let Some(table) = tables.get_mut(&row.table_oid) {
                add_constraint(table, row)?;
            }
        }

        for row in self.indexes {
            if let Some(table) = tables.get_mut(&row.table_oid) {
                table.indexes.push(index(row));
            }
        }

        for row in self.triggers {
            if let Some(table) = tables.get_mut(&row.table_oid) {
                table.triggers.push(trigger(row));
            }
        }

        for row in self.dependencies {
            if let Some(table) = tables.get_mut(&row.view_oid) {
                table.depends_on.push(QualifiedName::new(row.schema, row.name));
            }
        }

        Ok(tables.into_values().collect())
    }
}

fn decode_error(step: &'static str, message: String) -> IntrospectError {
    IntrospectError::Decode { step, message }
}

fn table(row: RelationRow) -> Result<Table, IntrospectError> {
    let kind = match row.kind.as_str() {
        "r" => TableKind::Table,
        "p" => TableKind::PartitionedTable,
        "v" => TableKind::View,
        "m" => TableKind::MaterializedView,
        "f" => TableKind::ForeignTable,
        other => {
            return Err(decode_error(
                "reading tables and views",
                format!("relation {}.{} has relkind `{other}`", row.schema, row.name),
            ));
        }
    };
    let partition_of = match (row.parent_schema, row.parent_name) {
        (Some(schema), Some(name)) => Some(PartitionOf {
            parent: QualifiedName::new(schema, name),
            bound: row.partition_bound.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Table {
        schema: row.schema,
        name: row.name,
        kind,
        comment: row.comment,
        columns: Vec::new(),
        primary_key: None,
        foreign_keys: Vec::new(),
        unique_constraints: Vec::new(),
        check_constraints: Vec::new(),
        indexes: Vec::new(),
        triggers: Vec::new(),
        partition_key: row.partition_key,
        partition_of,
        definition: row.definition,
        depends_on: Vec::new(),
    })
}

fn column(row: ColumnRow) -> Result<Column, IntrospectError> {
    let identity = match row.identity.as_str() {
        "" => None,
        "a" => Some(Identity::Always),
        "d" => Some(Identity::ByDefault),
        other => {
            return Err(decode_error(
                "reading columns",
                format!("column {} has attidentity `{other}`", row.name),
            ));
        }
    };
    // A generated column keeps its expression where other columns keep their default.
    let kind = match row.generated_kind.as_str() {
        "" => None,
        "s" => Some(GeneratedKind::Stored),
        "v" => Some(GeneratedKind::Virtual),
        other => {
            return Err(decode_error(
                "reading columns",
                format!("column {} has attgenerated `{other}`", row.name),
            ));
        }
    };
    let (default, generated) = match kind {
        None => (row.expression, None),
        Some(kind) => (
            None,
            row.expression.map(|expression| Generated { expression, kind }),
        ),
    };
    Ok(Column {
        name: row.name,
        data_type: row.data_type,
        nullable: row.nullable,
        default,
        identity,
        generated,
        comment: row.comment,
    })
}

fn add_constraint(table: &mut Table, row: ConstraintRow) -> Result<(), IntrospectError> {
    let columns = row.columns.unwrap_or_default();
    match row.kind.as_str() {
        "p" => {
            table.primary_key = Some(PrimaryKey {
                name: Some(row.name),
                columns,
            })
        }
        "u" => table.unique_constraints.push(UniqueConstraint {
            name: row.name,
            columns,
            nulls_not_distinct: row.definition.starts_with("UNIQUE NULLS NOT DISTINCT"),
            deferrable: row.deferrable,
            definition: row.definition,
            comment: row.comment,
        }),
        "c" | "x" => table.check_constraints.push(CheckConstraint {
            name: row.name,
            definition: row.definition,
            comment: row.comment,
        }),
        "f" => {
            let referenced_table = QualifiedName::new(
                row.referenced_schema.unwrap_or_default(),
                row.referenced_table.unwrap_or_default(),
            );
            table.foreign_keys.push(ForeignKey {
                name: row.name,
                columns,
                referenced_table,
                referenced_columns: row.referenced_columns.unwrap_or_default(),
                on_delete: action(&row.on_delete)?,
                on_update: action(&row.on_update)?,
                deferrable: row.deferrable,
                initially_deferred: row.deferred,
                definition: row.definition,
                comment: row.comment,
            });
        }
        other => {
            return Err(decode_error(
                "reading constraints",
                format!("constraint {} has contype `{other}`", row.name),
            ));
        }
    }
    Ok(())
}

/// Maps `pg_constraint.confupdtype` / `confdeltype`.
fn action(code: &str) -> Result<ForeignKeyAction, IntrospectError> {
    Ok(match code {
        "a" => ForeignKeyAction::NoAction,
        "r" => ForeignKeyAction::Restrict,
        "c" => ForeignKeyAction::Cascade,
        "n" => ForeignKeyAction::SetNull,
        "d" => ForeignKeyAction::SetDefault,
        other => {
            return Err(decode_error(
                "reading constraints",
                format!("foreign key action `{other}`"),
            ));
        }
    })
}

fn index(row: IndexRow) -> Index {
    Index {
        name: row.name,
        method: row.method,
        unique: row.is_unique,
        primary: row.is_primary,
        columns: row.columns.unwrap_or_default(),
        include: row.include.unwrap_or_default(),
        predicate: row.predicate,
        constraint: row.constraint_name,
        definition: row.definition,
        comment: row.comment,
    }
}

// Bits of pg_trigger.tgtype, from PostgreSQL's src/include/catalog/pg_trigger.h.
const TRIGGER_TYPE_ROW: i32 = 1 << 0;
const TRIGGER_TYPE_BEFORE: i32 = 1 << 1;
const TRIGGER_TYPE_INSERT: i32 = 1 << 2;
const TRIGGER_TYPE_DELETE: i32 = 1 << 3;
const TRIGGER_TYPE_UPDATE: i32 = 1 << 4;
const TRIGGER_TYPE_TRUNCATE: i32 = 1 << 5;
const TRIGGER_TYPE_INSTEAD: i32 = 1 << 6;

fn trigger(row: TriggerRow) -> Trigger {
    let bits = row.type_bits;
    let timing = if bits & TRIGGER_TYPE_INSTEAD != 0 {
        "INSTEAD OF"
    } else if bits & TRIGGER_TYPE_BEFORE != 0 {
        "BEFORE"
    } else {
        "AFTER"
    };
    let events = [
        (TRIGGER_TYPE_INSERT, "INSERT"),
        (TRIGGER_TYPE_UPDATE, "UPDATE"),
        (TRIGGER_TYPE_DELETE, "DELETE"),
        (TRIGGER_TYPE_TRUNCATE, "TRUNCATE"),
    ]
    .into_iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, event)| event.to_string())
    .collect();
    let level = if bits & TRIGGER_TYPE_ROW != 0 {
        "ROW"
    } else {
        "STATEMENT"
    };
    Trigger {
        name: row.name,
        timing: timing.to_string(),
        events,
        level: level.to_string(),
        function: format!("{}.{}", row.function_schema, row.function_name),
        definition: row.definition,
        comment: row.comment,
    }
}

fn enum_type(row: EnumRow) -> EnumType {
    EnumType {
        schema: row.schema,
        name: row.name,
        values: row.labels.unwrap_or_default(),
        comment: row.comment,
    }
}

fn domain(row: DomainRow) -> Domain {
    Domain {
        schema: row.schema,
        name: row.name,
        data_type: row.data_type,
        nullable: row.nullable,
        default: row.default_value,
        check_constraints: row
            .checks
            .unwrap_or_default()
            .into_iter()
            .map(|check| CheckConstraint {
                name: check.name,
                definition: check.definition,
                comment: check.comment,
            })
            .collect(),
        comment: row.comment,
    }
}

fn composite_type(row: CompositeRow) -> CompositeType {
    CompositeType {
        schema: row.schema,
        name: row.name,
        attributes: row
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|attribute| Attribute {
                name: attribute.name,
                data_type: attribute.data_type,
                comment: attribute.comment,
            })
            .collect(),
        comment: row.comment,
    }
}

fn sequence(row: SequenceRow) -> Sequence {
    let owned_by = match (row.owner_schema, row.owner_table, row.owner_column) {
        (Some(schema), Some(table), Some(column)) => Some((QualifiedName::new(schema, table), column)),
        _ => None,
    };
    Sequence {
        schema: row.schema,
        name: row.name,
        data_type: row.data_type,
        start: row.start,
        increment: row.increment,
        min_value: row.min_value,
        max_value: row.max_value,
        cycle: row.cycle,
        owned_by,
        comment: row.comment,
    }
}

fn extension(row: ExtensionRow) -> Extension {
    Extension {
        name: row.name,
        schema: row.schema,
        version: row.version,
        comment: row.comment,
    }
}
