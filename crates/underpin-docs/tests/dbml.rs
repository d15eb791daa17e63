//! schema.dbml: snapshots and the documentation cases.

#[path = "mermaid/models.rs"]
mod models;

use underpin_docs::{Options, dbml};
use underpin_schema::Schema;

fn render(schema: &Schema) -> String {
    let documents = dbml::render(schema, &Options::default()).expect("DBML rendering does not fail");
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].path, "schema.dbml");
    documents[0].contents.clone()
}

/// Returns the block that starts with `header` (`Table "public"."city" {`), up to its closing brace.
fn block<'a>(text: &'a str, header: &str) -> &'a str {
    let start = text
        .find(header)
        .unwrap_or_else(|| panic!("no {header} in:\n{text}"));
    let end = text[start..].find("\n}\n").expect("a closed block") + start + 3;
    &text[start..end]
}

#[test]
fn snapshots() {
    for name in models::FIXTURES {
        insta::assert_snapshot!(*name, render(&models::fixture(name)));
    }
}

#[test]
fn multi_line_comment_round_trips_escaped() {
    let text = render(&models::fixture("d01_comments"));
    let table = block(&text, "Table \"public\".\"invoice\" {");
    assert!(
        table.contains(
            "  Note: 'Invoices issued.\\n\\nOne row per invoice.\\r\\nAmounts in cents.\\rLegacy | note.'\n"
        ),
        "table note missing in:\n{table}"
    );
    assert!(table.contains(
        "  \"code\" text [not null, note: 'Compare with `upper(code)`; legacy values may contain | or *']\n"
    ));
}

#[test]
fn only_parent_of_partitions_is_a_table() {
    let text = render(&models::fixture("d03_partitions"));
    assert_eq!(
        text.matches("\nTable ").count(),
        1,
        "partitions became tables:\n{text}"
    );
    let table = block(&text, "Table \"public\".\"reading\" {");
    let note = concat!(
        "Partitioned by RANGE (taken_at).\\n\\nPartitions:\\n",
        "- reading_2024_01: FOR VALUES FROM (\\'2024-01-01 00:00:00+00\\') TO (\\'2024-02-01 00:00:00+00\\')\\n",
        "- reading_2024_02: FOR VALUES FROM (\\'2024-02-01 00:00:00+00\\') TO (\\'2024-03-01 00:00:00+00\\'), ",
        "partitioned by LIST (sensor_id)\\n",
        "  - reading_2024_02_low: FOR VALUES IN (1, 2, 3)\\n",
        "  - reading_2024_02_rest: DEFAULT\\n",
        "- reading_default: DEFAULT'",
    );
    assert!(table.contains(note), "partition note missing in:\n{table}");
}

#[test]
fn foreign_key_to_unique_column_is_a_ref() {
    let text = render(&models::fixture("d04_unique_fk"));
    assert!(text.contains(
        "Ref \"city_country_iso2_fkey\": \"public\".\"city\".\"country_iso2\" > \"public\".\"country\".\"iso2\"\n"
    ));
    assert!(
        block(&text, "Table \"public\".\"country\" {").contains("  \"iso2\" character(2) [not null, unique]")
    );
}

#[test]
fn composite_foreign_keys_are_separate_refs() {
    let text = render(&models::fixture("d05_composite_fks"));
    let refs: Vec<&str> = text.lines().filter(|line| line.starts_with("Ref ")).collect();
    assert_eq!(
        refs,
        vec![
            "Ref \"employee_reports_to_fkey\": \"public\".\"employee\".\"reports_to\" > \"public\".\"employee\".\"id\"",
            "Ref \"ledger_settings_company_clearing_code_fkey\": \"public\".\"ledger_settings\".(\"company\", \"clearing_code\") > \"public\".\"account\".(\"company\", \"code\")",
            "Ref \"ledger_settings_company_sales_code_fkey\": \"public\".\"ledger_settings\".(\"company\", \"sales_code\") > \"public\".\"account\".(\"company\", \"code\")",
            "Ref \"ledger_settings_company_tax_code_fkey\": \"public\".\"ledger_settings\".(\"company\", \"tax_code\") > \"public\".\"account\".(\"company\", \"code\")",
        ]
    );
    assert!(
        block(&text, "Table \"public\".\"account\" {")
            .contains("    (\"company\", \"code\") [pk, name: 'account_pkey']\n")
    );
}

#[test]
fn awkward_names_are_quoted_exactly() {
    let text = render(&models::fixture("d06_awkward_names"));
    let table = block(&text, "Table \"public\".\"hyphen-table\" {");
    assert!(table.contains("  \"hyphen-column\" text\n"));
    assert!(table.contains("  \"offset\" integer\n"));
    assert!(table.contains("  \"tags\" \"character varying(50)[]\"\n"));
    assert!(text.contains("Table \"time\".\"hyphenated-table\" {"));
    assert!(text.contains("Table \"public\".\"CamelCaseTable\" {"));
    assert!(text.contains("TableGroup \"time\" {\n  \"time\".\"hyphenated-table\"\n}"));
}

#[test]
fn unwritable_parts_are_named_in_comments() {
    let text = render(&models::hostile_schema());
    assert!(text.contains("// DBML has no views; left out: Quote\"d.résumé 日本\n"));
    assert!(text.contains("// Quote\"d.no columns is left out: a DBML table needs at least one column\n"));
    assert!(text.contains("// twin_b on my schema.Tab\"le %% with `ticks` & <html> \\ #1; is left out: another foreign key has the same columns and target\n"));
    assert!(text.contains("// to_outside on my schema.Tab\"le %% with `ticks` & <html> \\ #1; is left out: it references elsewhere.missing, which this file does not hold\n"));
    assert!(text.contains("  // the empty value '' is left out: DBML needs a name\n"));
    assert!(text.contains("Constraint has `tick`: CHECK ((\"col`umn\" <> \\'x`y\\'::text))"));
}

#[test]
fn sqlite_tables_need_no_schema() {
    let text = render(&models::as_sqlite(models::fixture("d05_composite_fks")));
    assert!(text.contains("Table \"account\" {"));
    assert!(text.contains(
        "Ref \"ledger_settings_company_sales_code_fkey\": \"ledger_settings\".(\"company\", \"sales_code\") > \"account\".(\"company\", \"code\")"
    ));
    assert!(text.contains("TableGroup \"main\" {\n  \"account\"\n  \"employee\"\n  \"ledger_settings\"\n}"));
    assert!(text.contains("database_type: 'SQLite'"));
}

#[test]
fn rendering_is_deterministic() {
    let schema = models::fixture("sop");
    assert_eq!(render(&schema), render(&schema));
}

#[test]
fn generated_column_says_stored_or_virtual() {
    let text = render(&models::generated_and_untyped_schema());
    let table = block(&text, "Table \"box\" {");
    assert!(
        table.contains("  \"area\" INTEGER [note: 'GENERATED ALWAYS AS (width * width) VIRTUAL']\n"),
        "virtual column missing in:\n{table}"
    );
    assert!(
        table.contains("  \"perimeter\" INTEGER [note: 'GENERATED ALWAYS AS (width * 4) STORED']\n"),
        "stored column missing in:\n{table}"
    );
}

#[test]
fn untyped_column_gets_type_any() {
    let text = render(&models::generated_and_untyped_schema());
    let table = block(&text, "Table \"box\" {");
    assert!(table.contains("  \"id\" any [pk]\n"), "key column in:\n{table}");
    assert!(table.contains("  \"legacy\" any\n"), "plain column in:\n{table}");
    assert!(!table.contains("\"\""), "an empty type in:\n{table}");
}
