//! The catalog queries of PostgreSQL introspection and the rows they return.
//!
//! Each query reads one kind of object for every selected schema at once and returns a single
//! text value: a JSON array with one object per row (`json_agg`), or NULL when there are no
//! rows. JSON keeps decoding independent of the wire format, so the queries go over the simple
//! query protocol, which transaction-mode poolers route correctly.
//!
//! Rules every query follows:
//! - Every catalog table, function and type is qualified with `pg_catalog`, so objects a user
//!   creates with the same names cannot change what is read.
//! - `"char"` catalog columns are cast to text, and OIDs to `int8` (JSON prints an OID as a
//!   string). OIDs only join rows in Rust; they never reach the model.
//! - Expressions and definitions come from the server's own deparsers (`format_type`,
//!   `pg_get_expr`, `pg_get_constraintdef`, …) with the pretty flag that `psql \d` uses.
//! - Objects that belong to an extension (`pg_depend.deptype = 'e'`) are left out.

use serde::Deserialize;
use underpin_db::quote_literal;

/// Builds the `WITH` clause that every query starts with: the selected schemas as
/// `ns (oid, nspname)`.
pub fn namespace_cte(schemas: &[String]) -> String {
    let filter = if schemas.is_empty() {
        // The pattern pg_toast covers pg_toast_temp_N as well. The pg_temp_N schemas hold the
        // temporary tables of sessions.
        "n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' \
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
         AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e \
                         WHERE e.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass \
                           AND e.objid = n.oid AND e.deptype = 'e')"
            .to_string()
    } else {
        let names: Vec<String> = schemas.iter().map(|name| quote_literal(name)).collect();
        format!(
            "n.nspname::pg_catalog.text = ANY (ARRAY[{}]::pg_catalog.text[])",
            names.join(", ")
        )
    };
    format!("WITH ns AS (SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n WHERE {filter})\n")
}

/// Wraps a row query so that it returns one JSON array as text.
fn as_json(cte: &str, rows: &str) -> String {
    format!("{cte}SELECT pg_catalog.json_agg(q)::pg_catalog.text FROM (\n{rows}\n) q")
}

/// Builds the condition that an object of catalog `class` with OID `oid` belongs to no
/// extension.
fn not_extension_member(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_catalog.pg_depend x \
         WHERE x.classid = 'pg_catalog.{class}'::pg_catalog.regclass AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

/// Builds a `LEFT JOIN` of the comment of an object, as `{alias}.description`.
fn comment_join(alias: &str, class: &str, oid: &str, subid: &str) -> String {
    format!(
        "LEFT JOIN pg_catalog.pg_description {alias} ON {alias}.objoid = {oid} \
         AND {alias}.classoid = 'pg_catalog.{class}'::pg_catalog.regclass AND {alias}.objsubid = {subid}"
    )
}

/// The relation kinds the model documents: tables, partitioned tables, views, materialized
/// views and foreign tables.
const RELKINDS: &str = "('r', 'p', 'v', 'm', 'f')";

pub fn namespaces(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT ns.nspname AS name, d.description AS comment FROM ns {}",
            comment_join("d", "pg_namespace", "ns.oid", "0")
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct NamespaceRow {
    pub name: String,
    pub comment: Option<String>,
}

pub fn relations(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT c.oid::pg_catalog.int8 AS oid, ns.nspname AS schema, c.relname AS name,
       c.relkind::pg_catalog.text AS kind, d.description AS comment,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partition_key,
       pn.nspname AS parent_schema, pc.relname AS parent_name,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid, true) END AS partition_bound,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid, true) END AS definition
  FROM pg_catalog.pg_class c
  JOIN ns ON ns.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
  LEFT JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
  LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
  {comment}
 WHERE c.relkind IN {RELKINDS} AND {member}",
            comment = comment_join("d", "pg_class", "c.oid", "0"),
            member = not_extension_member("pg_class", "c.oid"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct RelationRow {
    pub oid: i64,
    pub schema: String,
    pub name: String,
    pub kind: String,
    pub comment: Option<String>,
    pub partition_key: Option<String>,
    pub parent_schema: Option<String>,
    pub parent_name: Option<String>,
    pub partition_bound: Option<String>,
    pub definition: Option<String>,
}

pub fn columns(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT a.attrelid::pg_catalog.int8 AS table_oid, a.attnum::pg_catalog.int4 AS position,
       a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS data_type,
       NOT a.attnotnull AS nullable, a.attidentity::pg_catalog.text AS identity,
       a.attgenerated::pg_catalog.text AS generated_kind,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) AS expression,
       d.description AS comment
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN ns ON ns.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  {comment}
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN {RELKINDS}",
            comment = comment_join("d", "pg_class", "a.attrelid", "a.attnum"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct ColumnRow {
    pub table_oid: i64,
    pub position: i32,
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    /// `a` (always), `d` (by default) or empty.
    pub identity: String,
    /// `s` (stored), `v` (virtual, PostgreSQL 18) or empty.
    pub generated_kind: String,
    /// The default, or for a generated column its expression.
    pub expression: Option<String>,
    pub comment: Option<String>,
}

/// Builds a subquery that returns the names of the columns of relation `rel` listed in the
/// `int2[]` array `keys`, in array order. An `ARRAY(…)` subquery costs less per row than
/// `json_agg`, and `json_agg` of the outer row prints it as a JSON array all the same.
fn column_names(keys: &str, rel: &str) -> String {
    format!(
        "ARRAY(SELECT ka.attname
           FROM pg_catalog.unnest({keys}) WITH ORDINALITY k(attnum, ord)
           JOIN pg_catalog.pg_attribute ka ON ka.attrelid = {rel} AND ka.attnum = k.attnum
          ORDER BY k.ord)"
    )
}

pub fn constraints(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT con.conrelid::pg_catalog.int8 AS table_oid, con.conname AS name,
       con.contype::pg_catalog.text AS kind,
       pg_catalog.pg_get_constraintdef(con.oid, true) AS definition,
       con.condeferrable AS deferrable, con.condeferred AS deferred,
       {columns} AS columns,
       fn.nspname AS referenced_schema, fc.relname AS referenced_table,
       {referenced} AS referenced_columns,
       con.confupdtype::pg_catalog.text AS on_update, con.confdeltype::pg_catalog.text AS on_delete,
       d.description AS comment
  FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
  JOIN ns ON ns.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
  LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
  {comment}
 WHERE con.contype IN ('p', 'u', 'f', 'c', 'x')
   AND (con.contype <> 'f' OR con.conparentid = 0)
   AND c.relkind IN {RELKINDS}",
            columns = column_names("con.conkey", "con.conrelid"),
            referenced = column_names("con.confkey", "con.confrelid"),
            comment = comment_join("d", "pg_constraint", "con.oid", "0"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct ConstraintRow {
    pub table_oid: i64,
    pub name: String,
    /// `p`, `u`, `f`, `c` or `x`.
    pub kind: String,
    pub definition: String,
    pub deferrable: bool,
    pub deferred: bool,
    pub columns: Option<Vec<String>>,
    pub referenced_schema: Option<String>,
    pub referenced_table: Option<String>,
    pub referenced_columns: Option<Vec<String>>,
    pub on_update: String,
    pub on_delete: String,
    pub comment: Option<String>,
}

pub fn indexes(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT i.indrelid::pg_catalog.int8 AS table_oid, ic.relname AS name, am.amname AS method,
       i.indisunique AS is_unique, i.indisprimary AS is_primary,
       ARRAY(SELECT CASE WHEN k.attnum = 0
                         THEN pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::pg_catalog.int4, true)
                         ELSE ka.attname::pg_catalog.text END
               FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
               LEFT JOIN pg_catalog.pg_attribute ka ON ka.attrelid = i.indrelid AND ka.attnum = k.attnum
              WHERE k.ord <= i.indnkeyatts
              ORDER BY k.ord) AS columns,
       ARRAY(SELECT ka.attname
               FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_catalog.pg_attribute ka ON ka.attrelid = i.indrelid AND ka.attnum = k.attnum
              WHERE k.ord > i.indnkeyatts
              ORDER BY k.ord) AS include,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       con.conname AS constraint_name,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
       d.description AS comment
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN ns ON ns.oid = c.relnamespace
  JOIN pg_catalog.pg_am am ON am.oid = ic.relam
  LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid
        AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
  {comment}
 WHERE c.relkind IN {RELKINDS}",
            comment = comment_join("d", "pg_class", "i.indexrelid", "0"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct IndexRow {
    pub table_oid: i64,
    pub name: String,
    pub method: String,
    pub is_unique: bool,
    pub is_primary: bool,
    pub columns: Option<Vec<String>>,
    pub include: Option<Vec<String>>,
    pub predicate: Option<String>,
    pub constraint_name: Option<String>,
    pub definition: String,
    pub comment: Option<String>,
}

pub fn triggers(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT t.tgrelid::pg_catalog.int8 AS table_oid, t.tgname AS name,
       t.tgtype::pg_catalog.int4 AS type_bits, pn.nspname AS function_schema, p.proname AS function_name,
       pg_catalog.pg_get_triggerdef(t.oid, true) AS definition, d.description AS comment
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN ns ON ns.oid = c.relnamespace
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
  {comment}
 WHERE NOT t.tgisinternal AND c.relkind IN {RELKINDS}",
            comment = comment_join("d", "pg_trigger", "t.oid", "0"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct TriggerRow {
    pub table_oid: i64,
    pub name: String,
    /// `pg_trigger.tgtype`: the bits of `TRIGGER_TYPE_*` in PostgreSQL's `catalog/pg_trigger.h`.
    pub type_bits: i32,
    pub function_schema: String,
    pub function_name: String,
    pub definition: String,
    pub comment: Option<String>,
}

pub fn enums(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT ns.nspname AS schema, t.typname AS name,
       (SELECT pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder)
          FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) AS labels,
       d.description AS comment
  FROM pg_catalog.pg_type t
  JOIN ns ON ns.oid = t.typnamespace
  {comment}
 WHERE t.typtype = 'e' AND {member}",
            comment = comment_join("d", "pg_type", "t.oid", "0"),
            member = not_extension_member("pg_type", "t.oid"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct EnumRow {
    pub schema: String,
    pub name: String,
    /// NULL for an enum without labels.
    pub labels: Option<Vec<String>>,
    pub comment: Option<String>,
}

pub fn domains(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT ns.nspname AS schema, t.typname AS name,
       pg_catalog.format_type(t.typbasetype, t.typtypmod) AS data_type,
       NOT t.typnotnull AS nullable,
       pg_catalog.pg_get_expr(t.typdefaultbin, 0, true) AS default_value,
       (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                 'name', dc.conname,
                 'definition', pg_catalog.pg_get_constraintdef(dc.oid, true),
                 'comment', dcd.description))
          FROM pg_catalog.pg_constraint dc
          {check_comment}
         WHERE dc.contypid = t.oid AND dc.contype = 'c') AS checks,
       d.description AS comment
  FROM pg_catalog.pg_type t
  JOIN ns ON ns.oid = t.typnamespace
  {comment}
 WHERE t.typtype = 'd' AND {member}",
            check_comment = comment_join("dcd", "pg_constraint", "dc.oid", "0"),
            comment = comment_join("d", "pg_type", "t.oid", "0"),
            member = not_extension_member("pg_type", "t.oid"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct DomainRow {
    pub schema: String,
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    pub default_value: Option<String>,
    pub checks: Option<Vec<CheckRow>>,
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CheckRow {
    pub name: String,
    pub definition: String,
    pub comment: Option<String>,
}

/// Standalone composite types (`CREATE TYPE … AS (…)`). The row types every table has are
/// not listed: their relation's `relkind` is not `c`.
pub fn composite_types(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT ns.nspname AS schema, t.typname AS name,
       (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                 'name', a.attname,
                 'data_type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                 'comment', ad.description) ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a
          {attribute_comment}
         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes,
       d.description AS comment
  FROM pg_catalog.pg_type t
  JOIN ns ON ns.oid = t.typnamespace
  JOIN pg_catalog.pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
  {comment}
 WHERE t.typtype = 'c' AND {member}",
            attribute_comment = comment_join("ad", "pg_class", "a.attrelid", "a.attnum"),
            comment = comment_join("d", "pg_type", "t.oid", "0"),
            member = not_extension_member("pg_type", "t.oid"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct CompositeRow {
    pub schema: String,
    pub name: String,
    pub attributes: Option<Vec<AttributeRow>>,
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AttributeRow {
    pub name: String,
    pub data_type: String,
    pub comment: Option<String>,
}

/// Sequences with the column that owns them: `deptype` `a` links a `serial` or `OWNED BY`
/// sequence to its column, `i` an identity column's sequence.
pub fn sequences(cte: &str) -> String {
    as_json(
        cte,
        &format!(
            "SELECT ns.nspname AS schema, c.relname AS name,
       pg_catalog.format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart AS start, s.seqincrement AS increment, s.seqmin AS min_value, s.seqmax AS max_value,
       s.seqcycle AS cycle,
       own.owner_schema, own.owner_table, own.owner_column,
       d.description AS comment
  FROM pg_catalog.pg_sequence s
  JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN ns ON ns.oid = c.relnamespace
  LEFT JOIN LATERAL (
       SELECT tn.nspname AS owner_schema, tc.relname AS owner_table, ta.attname AS owner_column
         FROM pg_catalog.pg_depend dep
         JOIN pg_catalog.pg_class tc ON tc.oid = dep.refobjid
         JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
         JOIN pg_catalog.pg_attribute ta ON ta.attrelid = dep.refobjid AND ta.attnum = dep.refobjsubid
        WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.objid = c.oid
          AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
          AND dep.deptype IN ('a', 'i')
        LIMIT 1) own ON true
  {comment}
 WHERE {member}",
            comment = comment_join("d", "pg_class", "c.oid", "0"),
            member = not_extension_member("pg_class", "c.oid"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct SequenceRow {
    pub schema: String,
    pub name: String,
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cycle: bool,
    pub owner_schema: Option<String>,
    pub owner_table: Option<String>,
    pub owner_column: Option<String>,
    pub comment: Option<String>,
}

/// Reads every extension of the database except those installed into `pg_catalog`
/// (`plpgsql`, which every database has), whatever schemas were selected. An extension serves
/// the whole database, and columns in any schema may use its types.
pub fn extensions() -> String {
    as_json(
        "",
        &format!(
            "SELECT e.extname AS name, n.nspname AS schema, e.extversion AS version, d.description AS comment
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
  {comment}
 WHERE n.nspname <> 'pg_catalog'",
            comment = comment_join("d", "pg_extension", "e.oid", "0"),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct ExtensionRow {
    pub name: String,
    pub schema: String,
    pub version: String,
    pub comment: Option<String>,
}

/// Reads the relations each view and materialized view reads, from the dependencies of its
/// rewrite rule (`deptype` `n`). A view's rule also depends on the view itself, which is
/// left out.
pub fn view_dependencies(cte: &str) -> String {
    as_json(
        cte,
        "SELECT DISTINCT r.ev_class::pg_catalog.int8 AS view_oid, rn.nspname AS schema, rc.relname AS name
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
  JOIN ns ON ns.oid = v.relnamespace
  JOIN pg_catalog.pg_depend dep ON dep.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
       AND dep.objid = r.oid AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND dep.deptype = 'n'
  JOIN pg_catalog.pg_class rc ON rc.oid = dep.refobjid
  JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE v.relkind IN ('v', 'm') AND dep.refobjid <> r.ev_class",
    )
}

#[derive(Debug, Deserialize)]
pub struct DependencyRow {
    pub view_oid: i64,
    pub schema: String,
    pub name: String,
}
