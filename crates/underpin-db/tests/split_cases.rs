//! Scripts from users' bug reports against peer migration tools, each with the outcome a
//! correct splitter gives.

use underpin_db::sql::{
    Dialect, LongIdentifier, TxRequirement, classify, long_identifiers, split_statements, unclosed,
};

const AUDIT_FUNCTION: &str =
    "CREATE OR REPLACE FUNCTION add_audit_col(target regclass) RETURNS void AS $body$
DECLARE
  tname text := quote_ident(target::text);
BEGIN
  EXECUTE 'ALTER TABLE ' || tname || ' ADD COLUMN IF NOT EXISTS audited_at timestamptz';
END;
$body$ LANGUAGE plpgsql;
SELECT add_audit_col('gadget');
";

fn texts(sql: &str) -> Vec<&str> {
    split_statements(sql, Dialect::Postgres)
        .into_iter()
        .map(|s| s.text)
        .collect()
}

#[test]
fn dollar_body_function_then_call() {
    let statements = texts(AUDIT_FUNCTION);
    assert_eq!(statements.len(), 2, "statements: {statements:#?}");
    assert!(statements[0].ends_with("$body$ LANGUAGE plpgsql;"));
    assert_eq!(statements[1], "SELECT add_audit_col('gadget');");
}

#[test]
fn dollar_body_variants_keep_two_statements() {
    let variants = [
        (
            "semicolon in line comment",
            "  tname text := quote_ident(target::text); -- split; here?",
        ),
        (
            "semicolon in block comment",
            "  /* ; not; a; boundary */ tname text := quote_ident(target::text);",
        ),
        (
            "nested block comment",
            "  /* outer /* inner; */ still; comment */ tname text := quote_ident(target::text);",
        ),
        (
            "apostrophe in comment",
            "  tname text := quote_ident(target::text); -- don't split here",
        ),
        (
            "escape string",
            "  tname text := quote_ident(target::text); note text := E'it\\'s; fine';",
        ),
        (
            "quoted identifier",
            "  \"odd;name\" text := quote_ident(target::text);",
        ),
        ("parameter", "  tname text := quote_ident($1::text);"),
    ];
    for (label, declaration) in variants {
        let script = AUDIT_FUNCTION.replace("  tname text := quote_ident(target::text);", declaration);
        assert_ne!(
            script, AUDIT_FUNCTION,
            "variant {label} did not change the script"
        );
        assert_eq!(texts(&script).len(), 2, "variant {label}:\n{script}");
    }
}

#[test]
fn dollar_body_variants_outside_the_body() {
    let variants = [
        ("semicolon in line comment", "-- first; second;\n"),
        ("semicolon in block comment", "/* a; b; */\n"),
        ("nested block comment", "/* a /* b; */ c; */\n"),
        ("apostrophe in comment", "-- don't split here\n"),
    ];
    for (label, prefix) in variants {
        let script = format!("{prefix}{AUDIT_FUNCTION}");
        assert_eq!(texts(&script).len(), 2, "variant {label}:\n{script}");
    }
    let with_strings = AUDIT_FUNCTION.replace(
        "SELECT add_audit_col('gadget');",
        "SELECT add_audit_col('gadget'), E'it\\'s; fine' AS \"odd;name\";",
    );
    assert_eq!(texts(&with_strings).len(), 2, "{with_strings}");
    let with_parameter = AUDIT_FUNCTION.replace(
        "SELECT add_audit_col('gadget');",
        "PREPARE q(regclass) AS SELECT add_audit_col($1);",
    );
    assert_eq!(texts(&with_parameter).len(), 2, "{with_parameter}");
}

#[test]
fn trigger_body_with_end_if_is_one_statement() {
    let script = "CREATE FUNCTION refuse_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.is_locked THEN RAISE EXCEPTION 'row % is locked', OLD.id; END IF; RETURN OLD;
END;
$$;";
    assert_eq!(texts(script), vec![script]);
}

#[test]
fn begin_atomic_function_then_table() {
    let script = "CREATE FUNCTION plus_one(n int) RETURNS int LANGUAGE sql IMMUTABLE\nBEGIN ATOMIC\n  SELECT n + 1;\nEND;\nCREATE TABLE after_plus_one (id int);";
    let statements = texts(script);
    assert_eq!(statements.len(), 2, "statements: {statements:#?}");
    assert!(statements[0].ends_with("END;"));
    assert_eq!(statements[1], "CREATE TABLE after_plus_one (id int);");
}

#[test]
fn return_form_function_then_statement() {
    let script = "CREATE FUNCTION lower_name(text) RETURNS text LANGUAGE SQL IMMUTABLE RETURN lower($1);\nSELECT lower_name('X');";
    assert_eq!(texts(script).len(), 2);
}

#[test]
fn begin_atomic_procedure_then_statement() {
    let script = "CREATE OR REPLACE PROCEDURE log_twice(msg text) LANGUAGE sql\nBEGIN ATOMIC\n  INSERT INTO log VALUES (msg);\n  INSERT INTO log VALUES (msg);\nEND;\nCALL log_twice('x');";
    let statements = texts(script);
    assert_eq!(statements.len(), 2, "statements: {statements:#?}");
    assert_eq!(statements[1], "CALL log_twice('x');");
}

#[test]
fn atomic_inside_function_name() {
    let script = "CREATE FUNCTION bump_atomic_total() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE totals SET n = n + 1;
END;
$$;
GRANT EXECUTE ON FUNCTION bump_atomic_total() TO PUBLIC;";
    assert_eq!(texts(script).len(), 2);
}

#[test]
fn atomic_inside_table_name() {
    assert_eq!(texts("CREATE TABLE atomic_log (id int); SELECT 1;").len(), 2);
}

#[test]
fn classify_constructs() {
    let outside = [
        "CREATE INDEX CONCURRENTLY gadget_label_idx ON gadget (label);",
        "DROP INDEX CONCURRENTLY gadget_label_idx;",
        "REINDEX INDEX CONCURRENTLY gadget_label_idx;",
        "VACUUM gadget;",
        "CREATE DATABASE scratch;",
        "ALTER SYSTEM SET work_mem = '64MB';",
    ];
    for sql in outside {
        assert!(
            matches!(
                classify(sql, Dialect::Postgres),
                TxRequirement::OutsideTransaction(_)
            ),
            "{sql}"
        );
    }
    let control = ["BEGIN;", "COMMIT;"];
    for sql in control {
        assert!(
            matches!(
                classify(sql, Dialect::Postgres),
                TxRequirement::TransactionControl(_)
            ),
            "{sql}"
        );
    }
    assert_eq!(
        classify("CREATE TABLE gadget (id int);", Dialect::Postgres),
        TxRequirement::Any
    );
    assert_eq!(
        classify(
            "CREATE INDEX concurrently_idx ON t (concurrently)",
            Dialect::Postgres
        ),
        TxRequirement::Any
    );
}

#[test]
fn classify_explicit_transaction_around_concurrent_index() {
    let script = "BEGIN; CREATE INDEX CONCURRENTLY gadget_label_idx ON gadget (label); COMMIT;";
    let requirements: Vec<TxRequirement> = split_statements(script, Dialect::Postgres)
        .iter()
        .map(|s| classify(s.text, Dialect::Postgres))
        .collect();
    assert_eq!(
        requirements,
        vec![
            TxRequirement::TransactionControl("BEGIN"),
            TxRequirement::OutsideTransaction("CREATE INDEX CONCURRENTLY"),
            TxRequirement::TransactionControl("COMMIT"),
        ]
    );
}

#[test]
fn long_identifier_over_63_bytes() {
    let script = "CREATE TABLE gadget_maintenance_schedule_entries_for_regional_warehouses_all_north (id int);\n\
                  CREATE TABLE IF NOT EXISTS gadget_maintenance_schedule_entries_for_regional_warehouses_all_south (id int);";
    let found = long_identifiers(script, Dialect::Postgres, 63);
    assert_eq!(
        found,
        vec![
            LongIdentifier {
                name: "gadget_maintenance_schedule_entries_for_regional_warehouses_all_north".into(),
                bytes: 69,
                line: 1,
                column: 14,
            },
            LongIdentifier {
                name: "gadget_maintenance_schedule_entries_for_regional_warehouses_all_south".into(),
                bytes: 69,
                line: 2,
                column: 28,
            },
        ]
    );
}

#[test]
fn long_identifier_counts_bytes_not_characters() {
    let name = "é".repeat(32);
    for script in [
        format!("CREATE TABLE {name} (id int);"),
        format!("CREATE TABLE \"{name}\" (id int);"),
    ] {
        let found = long_identifiers(&script, Dialect::Postgres, 63);
        assert_eq!(found.len(), 1, "{script}");
        assert_eq!(found[0].name, name);
        assert_eq!(found[0].bytes, 64);
        assert_eq!((found[0].line, found[0].column), (1, 14));
    }
}

#[test]
fn long_identifier_63_bytes_not_reported() {
    let name = "a".repeat(63);
    let script = format!("CREATE TABLE {name} (id int); CREATE TABLE \"{name}\" (id int);");
    assert!(long_identifiers(&script, Dialect::Postgres, 63).is_empty());
}

#[test]
fn long_identifier_quoted_escapes_unescaped() {
    let name = format!("{}\"\"x", "a".repeat(62));
    let script = format!("CREATE TABLE \"{name}\" (id int);");
    let found = long_identifiers(&script, Dialect::Postgres, 63);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, format!("{}\"x", "a".repeat(62)));
    assert_eq!(found[0].bytes, 64);
}

/// What is left open, and the line and column where it starts.
type Opening = Option<(&'static str, u32, u32)>;

#[test]
fn unclosed_tokens_are_found_where_they_open() {
    let cases: &[(&str, Dialect, Opening)] = &[
        (
            "SELECT 1;\nSELECT 'abc;\n",
            Dialect::Postgres,
            Some(("string literal", 2, 8)),
        ),
        (
            "SELECT E'it\\'s;\n",
            Dialect::Postgres,
            Some(("string literal", 1, 8)),
        ),
        (
            "CREATE TABLE \"t (id int);",
            Dialect::Postgres,
            Some(("quoted identifier", 1, 14)),
        ),
        (
            "DO $x$ BEGIN NULL; END $y$;",
            Dialect::Postgres,
            Some(("dollar-quoted body", 1, 4)),
        ),
        (
            "SELECT 1; /* note /* nested */",
            Dialect::Postgres,
            Some(("block comment", 1, 11)),
        ),
        (
            "SELECT [a FROM t;",
            Dialect::Sqlite,
            Some(("quoted identifier", 1, 8)),
        ),
        // Closed ones, and openers inside comments, literals and bodies.
        ("SELECT 'it''s', E'a\\'b', \"q\"\"q\";", Dialect::Postgres, None),
        ("-- it's\nSELECT 1; /* don't */", Dialect::Postgres, None),
        (
            "DO $$ BEGIN RAISE NOTICE 'it''s'; END $$;",
            Dialect::Postgres,
            None,
        ),
        ("SELECT $1, 'x' || $tag$;$tag$;", Dialect::Postgres, None),
        ("SELECT 1;", Dialect::Postgres, None),
    ];
    for (sql, dialect, expected) in cases {
        let found = unclosed(sql, *dialect).map(|u| (u.kind, u.line, u.column));
        assert_eq!(found, *expected, "{sql:?}");
    }
}
