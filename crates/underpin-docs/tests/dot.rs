//! `schema.dot`: structure checks for every documentation case, snapshots, and a parse by
//! Graphviz itself.

mod svg_support;

use std::process::Command;

use svg_support::{
    FIXTURES, document, fixture, generated_schema, markdown_comment_schema, render_one, required_env,
};
use underpin_docs::{Format, Options};
use underpin_schema::Schema;

fn dot(schema: &Schema) -> String {
    let documents = render_one(schema, Format::Dot, &Options::default());
    assert_eq!(documents.len(), 1, "DOT is one file");
    document(&documents, "schema.dot").contents.clone()
}

/// Returns the edge lines of a DOT file, trimmed.
fn edges(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.contains(" -> "))
        .collect()
}

/// Runs Graphviz's `dot -Tsvg` on `text` and returns the SVG, failing on any error or
/// warning (an unknown port is only a warning, and would mean an edge lost its row).
fn graphviz_svg(text: &str) -> String {
    let binary = required_env(
        "UNDERPIN_TEST_GRAPHVIZ_DOT",
        "Graphviz's dot binary (Debian package graphviz)",
    );
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = folder.path().join("schema.dot");
    std::fs::write(&path, text).expect("writing the DOT file");
    let output = Command::new(&binary)
        .arg("-Tsvg")
        .arg(&path)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {binary}: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "dot failed ({}): {stderr}\n{text}",
        output.status
    );
    assert!(stderr.trim().is_empty(), "dot warned: {stderr}\n{text}");
    String::from_utf8(output.stdout).expect("Graphviz writes UTF-8")
}

#[test]
fn graphviz_parses_every_fixture() {
    for name in FIXTURES {
        let svg = graphviz_svg(&dot(&fixture(name)));
        assert!(svg.contains("<svg"), "{name}: no SVG from dot");
    }
    graphviz_svg(&dot(&markdown_comment_schema()));
}

#[test]
fn sop_snapshot() {
    insta::assert_snapshot!("sop", dot(&fixture("sop")));
}

#[test]
fn case_snapshots() {
    for name in FIXTURES.iter().skip(1) {
        insta::assert_snapshot!(*name, dot(&fixture(name)));
    }
}

#[test]
fn sop_draws_every_foreign_key_once() {
    let schema = fixture("sop");
    let text = dot(&schema);
    let keys: usize = schema
        .top_level_tables()
        .map(|table| table.foreign_keys.len())
        .sum();
    assert!(keys > 20, "the sop fixture has {keys} foreign keys");
    assert_eq!(edges(&text).len(), keys);
    assert!(text.contains("subgraph cluster_1 {"));
    assert!(text.contains("label=<<B>sop</B>>"));
}

#[test]
fn d01_multiline_comment_stays_one_attribute() {
    let text = dot(&fixture("d01_comments"));
    let node = text
        .lines()
        .find(|line| line.trim_start().starts_with("\"public.invoice\" ["))
        .expect("the invoice node is on one line");
    assert!(
        node.contains(
            r#"tooltip="Invoices issued.\n\nOne row per invoice.\nAmounts in cents.\nLegacy | note.""#
        ),
        "{node}"
    );
    let svg = graphviz_svg(&text);
    assert!(
        svg.contains("Invoices issued.&#10;&#10;One row per invoice."),
        "{svg}"
    );
}

#[test]
fn d01_backslashes_and_quotes_survive_graphviz() {
    let mut schema = fixture("d01_comments");
    schema.tables[0].comment = Some(r#"Matches \d+ and \N, says "hi"."#.to_string());
    let svg = graphviz_svg(&dot(&schema));
    assert!(svg.contains(r"Matches \d+ and \N, says &quot;hi&quot;."), "{svg}");
}

#[test]
fn long_texts_are_cut_for_graphviz() {
    let mut schema = fixture("d01_comments");
    let comment = "A comment without a line break. ".repeat(1_900);
    assert!(comment.len() > 60_000);
    schema.tables[0].comment = Some(comment.clone());
    // SQLite takes names of any length.
    schema.tables[0].columns[1].name = "c".repeat(20_000);
    let text = dot(&schema);

    let svg = graphviz_svg(&text);
    assert!(
        svg.contains("A comment without a line break."),
        "no tooltip in the SVG"
    );
    assert!(
        text.contains(&format!("tooltip=\"{}…\"", &comment[..2_000])),
        "the tooltip is not cut to 2,000 characters"
    );
    let name = format!(">{}…<", "c".repeat(2_000));
    assert!(text.contains(&name), "the column name is not cut");
}

#[test]
fn d02_markdown_comment_parses() {
    // DOT labels carry names and types; the column comment must simply not break the file.
    let text = dot(&markdown_comment_schema());
    assert!(text.contains("\"public.invoice\""));
    graphviz_svg(&text);
}

#[test]
fn d03_draws_the_parent_only() {
    let text = dot(&fixture("d03_partitions"));
    assert!(text.contains("\"public.reading\" [label=<"), "{text}");
    assert!(!text.contains("reading_2024"), "a partition was drawn:\n{text}");
    assert!(
        !text.contains("reading_default"),
        "a partition was drawn:\n{text}"
    );
    assert!(
        text.contains("PARTITION BY RANGE (taken_at), 3 partitions"),
        "{text}"
    );
}

#[test]
fn d04_unique_column_edge_joins_the_right_rows() {
    let text = dot(&fixture("d04_unique_fk"));
    // country_iso2 is column 2 of city, iso2 column 2 of country.
    assert_eq!(
        edges(&text),
        vec![r#""public.city":r2:e -> "public.country":l2:w [tooltip="city_country_iso2_fkey"];"#]
    );
    assert!(text.contains(r##"<TD PORT="r2" ALIGN="RIGHT"><FONT COLOR="#6b7789">character(2)</FONT></TD>"##));
}

#[test]
fn d05_composite_keys_stay_separate() {
    let text = dot(&fixture("d05_composite_fks"));
    let from_settings: Vec<&str> = edges(&text)
        .into_iter()
        .filter(|line| line.starts_with("\"public.ledger_settings\""))
        .collect();
    assert_eq!(from_settings.len(), 3, "{text}");
    for code in ["sales_code", "tax_code", "clearing_code"] {
        let label = format!("label=<company → company<BR/>{code} → code>");
        assert_eq!(
            from_settings.iter().filter(|line| line.contains(&label)).count(),
            1,
            "no edge labelled {label}:\n{text}"
        );
    }
    // Every edge leaves from the first key column, company, row 1.
    assert!(
        from_settings
            .iter()
            .all(|line| line.contains(r#""public.ledger_settings":r1:e -> "public.account":l1:w"#))
    );
    let self_reference: Vec<&str> = edges(&text)
        .into_iter()
        .filter(|line| line.starts_with("\"public.employee\""))
        .collect();
    assert_eq!(
        self_reference,
        vec![r#""public.employee":r2:e -> "public.employee":l1:w [tooltip="employee_reports_to_fkey"];"#]
    );
}

#[test]
fn d06_awkward_names_are_labels_not_ids() {
    let text = dot(&fixture("d06_awkward_names"));
    for label in [
        "<B>public.CamelCaseTable</B>",
        "<B>public.hyphen-table</B>",
        "<B>time.hyphenated-table</B>",
        "<B>time</B>",
        ">hyphen-column<",
        ">offset<",
        "character varying(50)[]",
    ] {
        assert!(text.contains(label), "{label} missing:\n{text}");
    }
    // Names that are not plain identifiers get generated node IDs.
    assert!(!text.contains("\"public.hyphen-table\""));
    assert_eq!(edges(&text).len(), 2);
    let svg = graphviz_svg(&text);
    assert!(
        svg.contains("time.hyphenated&#45;table") || svg.contains("time.hyphenated-table"),
        "{svg}"
    );
}

#[test]
fn d07_large_schema_keeps_every_key() {
    let schema = generated_schema(20, 100);
    let text = dot(&schema);
    let keys: usize = schema.tables.iter().map(|table| table.foreign_keys.len()).sum();
    assert_eq!(edges(&text).len(), keys);
    assert_eq!(text.matches("subgraph cluster_").count(), 20);
}

#[test]
fn output_is_deterministic() {
    let schema = fixture("sop");
    assert_eq!(dot(&schema), dot(&schema));
}
