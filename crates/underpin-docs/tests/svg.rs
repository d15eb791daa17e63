//! SVG diagrams. Every document must be valid, self-contained XML without overlapping boxes,
//! and every edge must end at the rows of its columns. The documentation cases, file names
//! for any table name and snapshots follow.

mod svg_support;

use std::collections::BTreeSet;

use svg_support::{
    FIXTURES, MARKDOWN_COMMENT, document, fixture, generated_schema, markdown_comment_schema, render_one,
};
use underpin_docs::{Document, Format, Options};
use underpin_schema::Schema;

fn svgs(schema: &Schema, options: &Options) -> Vec<Document> {
    let documents = render_one(schema, Format::Svg, options);
    for document in &documents {
        assert!(
            document.path.starts_with("svg/") && document.path.ends_with(".svg"),
            "unexpected path {}",
            document.path
        );
    }
    documents
}

/// Parses an SVG document and checks that it is self-contained.
fn parse<'a>(document: &'a Document) -> roxmltree::Document<'a> {
    let text = &document.contents;
    let parsed = roxmltree::Document::parse(text)
        .unwrap_or_else(|error| panic!("{} is not well-formed XML: {error}\n{text}", document.path));
    let root = parsed.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{}", document.path);
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg"),
        "{}",
        document.path
    );
    for forbidden in [
        "href",
        "url(",
        "@import",
        "@font-face",
        "<image",
        "<script",
        "<foreignObject",
    ] {
        assert!(
            !text.contains(forbidden),
            "{} contains {forbidden}",
            document.path
        );
    }
    assert_eq!(
        text.matches("http").count(),
        1,
        "{} refers to something besides its namespace",
        document.path
    );
    parsed
}

#[derive(Debug, Clone)]
struct DrawnBox {
    schema: String,
    table: String,
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    columns: Vec<String>,
    external: bool,
}

fn translate(node: roxmltree::Node) -> (f64, f64) {
    let transform = node.attribute("transform").expect("table groups are translated");
    let inner = transform
        .strip_prefix("translate(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected transform {transform}"));
    let (x, y) = inner.split_once(',').expect("translate(x,y)");
    (x.parse().unwrap(), y.parse().unwrap())
}

fn number(node: roxmltree::Node, attribute: &str) -> f64 {
    node.attribute(attribute)
        .unwrap_or_else(|| panic!("{:?} has no {attribute}", node.tag_name()))
        .parse()
        .unwrap()
}

fn has_class(node: roxmltree::Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|classes| classes.split(' ').any(|candidate| candidate == class))
}

fn boxes(svg: &roxmltree::Document) -> Vec<DrawnBox> {
    svg.descendants()
        .filter(|node| node.tag_name().name() == "g" && has_class(*node, "table"))
        .map(|group| {
            let (x, y) = translate(group);
            let rect = group
                .children()
                .find(|child| has_class(*child, "box"))
                .expect("a table group has a box");
            DrawnBox {
                schema: group.attribute("data-schema").unwrap().to_string(),
                table: group.attribute("data-table").unwrap().to_string(),
                x,
                y,
                width: number(rect, "width"),
                height: number(rect, "height"),
                columns: group
                    .children()
                    .filter(|child| has_class(*child, "column"))
                    .map(|child| child.attribute("data-column").unwrap().to_string())
                    .collect(),
                external: has_class(group, "external"),
            }
        })
        .collect()
}

#[derive(Debug)]
struct DrawnEdge {
    from: (String, String, String),
    to: (String, String, String),
    key: String,
    start: (f64, f64),
    end: (f64, f64),
}

fn coordinates(text: &str) -> Vec<(f64, f64)> {
    text.split(|character: char| character.is_ascii_alphabetic() || character == ' ')
        .filter(|part| part.contains(','))
        .map(|pair| {
            let (x, y) = pair.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

fn drawn_edges(svg: &roxmltree::Document) -> Vec<DrawnEdge> {
    svg.descendants()
        .filter(|node| has_class(*node, "relation"))
        .map(|group| {
            let path = group
                .children()
                .find(|child| has_class(*child, "edge"))
                .expect("a relation has an edge path");
            let d = path.attribute("d").unwrap();
            let points = coordinates(d);
            // The last step may be a horizontal line, whose end has the previous y.
            let mut end = *points.last().unwrap();
            if let Some(tail) = d.rsplit(' ').next().and_then(|last| last.strip_prefix('H')) {
                end = (tail.parse().unwrap(), points.last().unwrap().1);
            }
            let attribute = |name: &str| group.attribute(name).unwrap().to_string();
            DrawnEdge {
                from: (
                    attribute("data-from-schema"),
                    attribute("data-from"),
                    attribute("data-from-column"),
                ),
                to: (
                    attribute("data-to-schema"),
                    attribute("data-to"),
                    attribute("data-to-column"),
                ),
                key: attribute("data-key"),
                start: points[0],
                end,
            }
        })
        .collect()
}

fn assert_no_overlaps(path: &str, drawn: &[DrawnBox]) {
    for (i, a) in drawn.iter().enumerate() {
        for b in &drawn[i + 1..] {
            let overlap =
                a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
            assert!(
                !overlap,
                "{path}: {}.{} and {}.{} overlap",
                a.schema, a.table, b.schema, b.table
            );
        }
    }
}

const HEADER: f64 = 28.0;
const ROW: f64 = 20.0;

/// Checks that an edge end lies on the left or right side of the box of `table`, at the
/// centre of the row of `column`.
fn assert_at_row(
    path: &str,
    drawn: &[DrawnBox],
    (schema, table, column): &(String, String, String),
    point: (f64, f64),
) {
    let target = drawn
        .iter()
        .find(|candidate| &candidate.schema == schema && &candidate.table == table)
        .unwrap_or_else(|| panic!("{path}: no box for {schema}.{table}"));
    let row = target
        .columns
        .iter()
        .position(|name| name == column)
        .unwrap_or_else(|| panic!("{path}: {schema}.{table} draws no row {column}"));
    let expected_y = target.y + HEADER + ROW * row as f64 + ROW / 2.0;
    let on_side = (point.0 - target.x).abs() < 0.06 || (point.0 - target.x - target.width).abs() < 0.06;
    assert!(
        on_side,
        "{path}: edge end {point:?} is not on a side of {schema}.{table}"
    );
    assert!(
        (point.1 - expected_y).abs() < 0.06,
        "{path}: edge end {point:?} is not at row {column} (y {expected_y}) of {schema}.{table}"
    );
}

/// Every structural check on one SVG document; returns its boxes and edges.
fn check(document: &Document) -> (Vec<DrawnBox>, Vec<DrawnEdge>) {
    let svg = parse(document);
    let drawn = boxes(&svg);
    let edges = drawn_edges(&svg);
    assert_no_overlaps(&document.path, &drawn);
    for edge in &edges {
        assert_at_row(&document.path, &drawn, &edge.from, edge.start);
        assert_at_row(&document.path, &drawn, &edge.to, edge.end);
    }
    (drawn, edges)
}

fn concatenated(documents: &[Document]) -> String {
    documents
        .iter()
        .map(|document| format!("=== {}\n{}", document.path, document.contents))
        .collect()
}

#[test]
fn every_fixture_is_valid_and_checked() {
    for name in FIXTURES {
        let documents = svgs(&fixture(name), &Options::default());
        assert!(!documents.is_empty(), "{name}: no SVG");
        for document in &documents {
            check(document);
        }
    }
}

#[test]
fn sop_snapshot() {
    insta::assert_snapshot!("sop", concatenated(&svgs(&fixture("sop"), &Options::default())));
}

#[test]
fn case_snapshots() {
    for name in FIXTURES.iter().skip(1) {
        insta::assert_snapshot!(*name, concatenated(&svgs(&fixture(name), &Options::default())));
    }
}

#[test]
fn sop_draws_every_key_at_its_rows() {
    let schema = fixture("sop");
    let documents = svgs(&schema, &Options::default());
    assert_eq!(documents.len(), 1, "sop fits one diagram");
    let (drawn, edges) = check(document(&documents, "svg/sop.svg"));
    let top_level: Vec<_> = schema.top_level_tables().collect();
    assert_eq!(drawn.len(), top_level.len());
    let keys: BTreeSet<String> = top_level
        .iter()
        .flat_map(|table| table.foreign_keys.iter().map(|key| key.name.clone()))
        .collect();
    let drawn_keys: BTreeSet<String> = edges.iter().map(|edge| edge.key.clone()).collect();
    assert_eq!(drawn_keys, keys);
    assert_eq!(edges.len(), keys.len());
}

#[test]
fn fifty_tables_do_not_overlap() {
    let schema = generated_schema(1, 50);
    let options = Options {
        max_diagram_tables: 50,
        ..Options::default()
    };
    let documents = svgs(&schema, &options);
    let (drawn, edges) = check(document(&documents, "svg/s00.svg"));
    assert_eq!(drawn.len(), 50);
    assert!(edges.len() >= 49);
}

#[test]
fn d01_multiline_comment_is_a_tooltip() {
    let documents = svgs(&fixture("d01_comments"), &Options::default());
    let svg = parse(document(&documents, "svg/public.svg"));
    let title = svg
        .descendants()
        .find(|node| {
            node.tag_name().name() == "title"
                && node.text().is_some_and(|text| text.starts_with("public.invoice"))
        })
        .expect("the invoice box has a tooltip");
    // XML parsers turn CRLF and lone CR into LF.
    assert_eq!(
        title.text().unwrap(),
        "public.invoice\n\nInvoices issued.\n\nOne row per invoice.\nAmounts in cents.\nLegacy | note."
    );
}

#[test]
fn d02_markdown_comment_is_kept_as_text() {
    let documents = svgs(&markdown_comment_schema(), &Options::default());
    let svg = parse(document(&documents, "svg/public.svg"));
    let expected = format!("code text NOT NULL\n\n{MARKDOWN_COMMENT}");
    assert!(
        svg.descendants()
            .any(|node| node.tag_name().name() == "title" && node.text() == Some(expected.as_str())),
        "no column tooltip {expected:?}"
    );
}

#[test]
fn d03_draws_the_parent_only() {
    let documents = svgs(&fixture("d03_partitions"), &Options::default());
    let document = document(&documents, "svg/public.svg");
    let (drawn, _) = check(document);
    let names: Vec<&str> = drawn.iter().map(|table| table.table.as_str()).collect();
    assert_eq!(names, vec!["reading"]);
    assert!(document.contents.contains(">partitioned, 3 partitions</text>"));
}

#[test]
fn d04_unique_column_edge() {
    let documents = svgs(&fixture("d04_unique_fk"), &Options::default());
    let (_, edges) = check(document(&documents, "svg/public.svg"));
    assert_eq!(edges.len(), 1);
    let edge = &edges[0];
    assert_eq!(edge.from, ("public".into(), "city".into(), "country_iso2".into()));
    assert_eq!(edge.to, ("public".into(), "country".into(), "iso2".into()));
}

#[test]
fn d05_composite_keys_and_self_reference() {
    let documents = svgs(&fixture("d05_composite_fks"), &Options::default());
    let (_, edges) = check(document(&documents, "svg/public.svg"));
    let mut from_settings: Vec<(&str, &str)> = edges
        .iter()
        .filter(|edge| edge.from.1 == "ledger_settings")
        .map(|edge| (edge.from.2.as_str(), edge.to.2.as_str()))
        .collect();
    from_settings.sort();
    // Each key is drawn from the column that distinguishes it, not from the shared company.
    assert_eq!(
        from_settings,
        vec![
            ("clearing_code", "code"),
            ("sales_code", "code"),
            ("tax_code", "code")
        ]
    );
    let employee: Vec<_> = edges.iter().filter(|edge| edge.from.1 == "employee").collect();
    assert_eq!(employee.len(), 1);
    assert_eq!(
        employee[0].from,
        ("public".into(), "employee".into(), "reports_to".into())
    );
    assert_eq!(employee[0].to, ("public".into(), "employee".into(), "id".into()));
}

#[test]
fn d06_awkward_names_and_file_names() {
    let schema = fixture("d06_awkward_names");
    let documents = svgs(&schema, &Options::default());
    let paths: Vec<&str> = documents.iter().map(|document| document.path.as_str()).collect();
    assert_eq!(paths, vec!["svg/public.svg", "svg/time.svg"]);
    let time = document(&documents, "svg/time.svg");
    let (drawn, edges) = check(time);
    // The key into another schema draws its target as a dashed context box.
    let camel = drawn
        .iter()
        .find(|table| table.table == "CamelCaseTable")
        .unwrap();
    assert!(camel.external);
    assert_eq!(edges[0].from.2, "CamelCase-ref");
    let public = document(&documents, "svg/public.svg");
    for text in [
        ">public.hyphen-table<",
        ">hyphen-column<",
        ">offset<",
        ">character varying(50)[]<",
    ] {
        assert!(public.contents.contains(text), "{text} missing");
    }

    // A limit below the table count turns on the per-table diagrams.
    let options = Options {
        max_diagram_tables: 1,
        ..Options::default()
    };
    let tables: Vec<String> = svgs(&schema, &options)
        .into_iter()
        .map(|document| document.path)
        .filter(|path| path.starts_with("svg/tables/"))
        .collect();
    assert_eq!(
        tables,
        vec![
            "svg/tables/public.CamelCaseTable.svg",
            "svg/tables/public.hyphen-table.svg",
            "svg/tables/time.hyphenated-table.svg"
        ]
    );
}

#[test]
fn file_names_are_safe_and_unique() {
    let mut schema = fixture("d04_unique_fk");
    let template = schema.tables[1].clone();
    for name in [
        "a/b",
        "a\\b",
        "a.b",
        "a b",
        "A b",
        "..",
        "",
        "con",
        "tábla",
        "x".repeat(300).as_str(),
        "City",
    ] {
        let mut table = template.clone();
        table.name = name.to_string();
        schema.tables.push(table);
    }
    schema.normalize();
    let options = Options {
        max_diagram_tables: 2,
        ..Options::default()
    };
    let documents = svgs(&schema, &options);
    let mut seen = BTreeSet::new();
    for document in &documents {
        let file = document.path.rsplit('/').next().unwrap();
        assert!(
            file.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')),
            "unsafe file name {file}"
        );
        assert!(!file.starts_with('.'), "hidden file name {file}");
        assert!(file.len() < 200, "long file name {file}");
        assert!(
            seen.insert(document.path.to_lowercase()),
            "{} is not unique ignoring case",
            document.path
        );
        check(document);
    }
    let per_table = documents
        .iter()
        .filter(|document| document.path.starts_with("svg/tables/"))
        .count();
    assert_eq!(per_table, schema.tables.len());
}

#[test]
fn d07_large_schema_splits_into_readable_diagrams() {
    let schema = generated_schema(20, 100);
    let options = Options::default();
    let documents = svgs(&schema, &options);
    let groups: Vec<&Document> = documents
        .iter()
        .filter(|document| !document.path.starts_with("svg/tables/"))
        .collect();
    let tables = documents.len() - groups.len();
    assert_eq!(tables, 2000, "one neighbourhood diagram per table");
    assert_eq!(
        groups.len(),
        20 * 4,
        "100 tables per schema split into groups of at most 30"
    );
    for document in &groups {
        let (drawn, _) = check(document);
        let own = drawn.iter().filter(|table| !table.external).count();
        assert!(
            own <= options.max_diagram_tables,
            "{} draws {own} tables",
            document.path
        );
    }
    for document in documents
        .iter()
        .filter(|document| document.path.starts_with("svg/tables/"))
        .step_by(37)
    {
        check(document);
    }
}

#[test]
fn neighbourhood_shows_linked_tables() {
    let schema = fixture("sop");
    let options = Options {
        max_diagram_tables: 5,
        ..Options::default()
    };
    let documents = svgs(&schema, &options);
    let (drawn, edges) = check(document(&documents, "svg/tables/sop.scenarios.svg"));
    let names: BTreeSet<&str> = drawn.iter().map(|table| table.table.as_str()).collect();
    for expected in [
        "scenarios",
        "organizations",
        "users",
        "demand_forecasts",
        "supply_plans",
    ] {
        assert!(names.contains(expected), "{expected} missing from {names:?}");
    }
    assert!(
        edges
            .iter()
            .all(|edge| edge.from.1 == "scenarios" || edge.to.1 == "scenarios")
    );
}

#[test]
fn zero_limit_draws_schemas_whole() {
    let options = Options {
        max_diagram_tables: 0,
        ..Options::default()
    };
    let documents = svgs(&generated_schema(2, 40), &options);
    let paths: Vec<&str> = documents.iter().map(|document| document.path.as_str()).collect();
    assert_eq!(paths, vec!["svg/s00.svg", "svg/s01.svg"]);
}

#[test]
fn output_is_deterministic() {
    let schema = generated_schema(2, 40);
    assert_eq!(
        svgs(&schema, &Options::default()),
        svgs(&schema, &Options::default())
    );
}
