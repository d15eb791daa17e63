//! `index.html`: one self-contained page whose embedded JSON carries every documentation case
//! intact, and which no comment can inject markup into. The browser test drives the page.

mod svg_support;

use serde_json::Value;
use svg_support::{
    FIXTURES, MARKDOWN_COMMENT, document, fixture, generated_schema, markdown_comment_schema, render_one,
};
use underpin_docs::{Format, Options, render};
use underpin_schema::Schema;

const DATA_OPEN: &str = "<script type=\"application/json\" id=\"model\">";

fn page(schema: &Schema) -> String {
    let documents = render_one(schema, Format::Html, &Options::default());
    assert_eq!(documents.len(), 1, "HTML is one file");
    document(&documents, "index.html").contents.clone()
}

/// Renders the page together with the SVG files, which it then links.
fn page_with_svg_files(schema: &Schema) -> String {
    let documents =
        render(schema, &[Format::Svg, Format::Html], &Options::default()).expect("rendering succeeds");
    document(&documents, "index.html").contents.clone()
}

/// Extracts the embedded JSON after checking that it is the only data element and contains
/// no `<`, which could end the element early.
fn data(html: &str) -> Value {
    assert_eq!(html.matches(DATA_OPEN).count(), 1);
    let start = html.find(DATA_OPEN).unwrap() + DATA_OPEN.len();
    let end = start
        + html[start..]
            .find("</script>")
            .expect("the data element is closed");
    let json = &html[start..end];
    assert!(!json.contains('<'), "raw < in the embedded JSON");
    serde_json::from_str(json).unwrap_or_else(|error| panic!("embedded JSON does not parse: {error}"))
}

fn table<'a>(data: &'a Value, schema: &str, name: &str) -> &'a Value {
    data["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|table| table["schema"] == schema && table["name"] == name)
        .unwrap_or_else(|| panic!("no table {schema}.{name} in the page data"))
}

/// Checks that the page loads nothing: no external scripts, styles, images or links, and no
/// URL but the SVG namespace.
fn assert_self_contained(html: &str) {
    // Text inside the data element is inert JSON, because `data` checks it contains no `<`.
    // The markup is everything around it, plus the diagrams that the script inserts.
    let start = html.find(DATA_OPEN).unwrap() + DATA_OPEN.len();
    let end = start + html[start..].find("</script>").unwrap();
    let markup = format!("{}{}", &html[..start], &html[end..]);
    for forbidden in [
        "<link", " src=", "@import", "url(", "<iframe", "<object", "<embed", "<img",
    ] {
        assert!(!markup.contains(forbidden), "the page contains {forbidden}");
    }
    for (position, _) in markup.match_indices("http") {
        let rest = &markup[position..];
        assert!(
            rest.starts_with("http-equiv"),
            "the page names a URL: {}",
            &rest[..rest.len().min(80)]
        );
    }
    assert!(
        markup.contains("default-src 'none'"),
        "the page has no Content-Security-Policy"
    );

    for group in data(html)["groups"].as_array().unwrap() {
        assert_inert_svg(group["svg"].as_str().unwrap());
    }
}

/// Checks that a diagram holds only drawing elements, with no links, sources or handlers.
fn assert_inert_svg(svg: &str) {
    let parsed =
        roxmltree::Document::parse(svg).unwrap_or_else(|error| panic!("a diagram is not XML: {error}"));
    for node in parsed.descendants().filter(roxmltree::Node::is_element) {
        let name = node.tag_name().name();
        assert!(
            matches!(name, "svg" | "title" | "style" | "g" | "rect" | "path" | "text"),
            "a diagram contains <{name}>"
        );
        for attribute in node.attributes() {
            let attribute = attribute.name();
            assert!(
                !attribute.starts_with("on") && !attribute.contains("href") && attribute != "src",
                "a diagram element has the attribute {attribute}"
            );
        }
    }
}

#[test]
fn every_fixture_is_self_contained() {
    for name in FIXTURES {
        let html = page(&fixture(name));
        assert!(html.starts_with("<!DOCTYPE html>\n"), "{name}");
        assert_self_contained(&html);
        let data = data(&html);
        let schema = fixture(name);
        assert_eq!(
            data["tables"].as_array().unwrap().len(),
            schema.tables.len(),
            "{name}"
        );
    }
}

#[test]
fn comments_cannot_inject_markup() {
    let mut schema = fixture("d04_unique_fk");
    let attack = "<script>alert(1)</script></script><img src=x onerror=alert(2)><!--";
    schema.tables[0].comment = Some(attack.to_string());
    schema.tables[0].columns[0].comment = Some(attack.to_string());
    schema.tables[0].name = "</script>city".to_string();
    schema.normalize();
    let html = page(&schema);
    assert!(
        !html.contains("alert(1)</script>"),
        "the comment reached the page as markup"
    );
    assert!(!html.contains("<img"), "the comment reached the page as markup");
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "only the page's own script elements close"
    );
    assert_self_contained(&html);

    let data = data(&html);
    let city = table(&data, "public", "</script>city");
    assert_eq!(city["comment"], attack);
    assert_eq!(city["columns"][0]["comment"], attack);
    // The diagram SVG escapes the same text.
    assert_inert_svg(data["groups"][0]["svg"].as_str().unwrap());
}

#[test]
fn title_is_escaped() {
    let options = Options {
        title: "Tom & Jerry <b>".to_string(),
        ..Options::default()
    };
    let documents = render_one(&fixture("d04_unique_fk"), Format::Html, &options);
    let html = &documents[0].contents;
    assert!(html.contains("<title>Tom &amp; Jerry &lt;b&gt;</title>"));
    assert!(html.contains("<h1>Tom &amp; Jerry &lt;b&gt;</h1>"));
}

#[test]
fn d01_comment_is_embedded_exactly() {
    let data = data(&page(&fixture("d01_comments")));
    assert_eq!(
        table(&data, "public", "invoice")["comment"],
        "Invoices issued.\n\nOne row per invoice.\r\nAmounts in cents.\rLegacy | note."
    );
}

#[test]
fn d02_markdown_comment_is_embedded_exactly() {
    let data = data(&page(&markdown_comment_schema()));
    let invoice = table(&data, "public", "invoice");
    let code = invoice["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|column| column["name"] == "code")
        .unwrap();
    assert_eq!(code["comment"], MARKDOWN_COMMENT);
}

#[test]
fn d03_partitions_are_listed_under_their_parent() {
    let data = data(&page(&fixture("d03_partitions")));
    let reading = table(&data, "public", "reading");
    assert_eq!(reading["partition_key"], "RANGE (taken_at)");
    let partitions: Vec<(&str, &str)> = reading["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|partition| {
            (
                partition["name"].as_str().unwrap(),
                partition["bound"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        partitions,
        vec![
            (
                "reading_2024_01",
                "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')"
            ),
            (
                "reading_2024_02",
                "FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')"
            ),
            ("reading_default", "DEFAULT"),
        ]
    );
    // The sub-partitions nest under their own parent partition.
    let nested = table(&data, "public", "reading_2024_02")["partitions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(nested, 2);
    // Partitions belong to no diagram; the parent does.
    assert_eq!(reading["group"], 0);
    assert!(table(&data, "public", "reading_2024_01")["group"].is_null());
    let svg = data["groups"][0]["svg"].as_str().unwrap();
    assert!(!svg.contains("reading_2024"));
}

#[test]
fn d04_relation_appears_from_both_ends() {
    let data = data(&page(&fixture("d04_unique_fk")));
    let key = &table(&data, "public", "city")["foreign_keys"][0];
    assert_eq!(key["columns"], serde_json::json!(["country_iso2"]));
    assert_eq!(key["referenced_table"]["name"], "country");
    assert_eq!(key["referenced_columns"], serde_json::json!(["iso2"]));
    let referenced_by = &table(&data, "public", "country")["referenced_by"];
    assert_eq!(referenced_by.as_array().unwrap().len(), 1);
    assert_eq!(referenced_by[0]["name"], "city");
    assert_eq!(
        referenced_by[0]["key"]["columns"],
        serde_json::json!(["country_iso2"])
    );
}

#[test]
fn d05_keys_stay_separate() {
    let data = data(&page(&fixture("d05_composite_fks")));
    let keys = table(&data, "public", "ledger_settings")["foreign_keys"]
        .as_array()
        .unwrap()
        .clone();
    let pairs: Vec<Value> = keys.iter().map(|key| key["columns"].clone()).collect();
    for code in ["sales_code", "tax_code", "clearing_code"] {
        assert!(
            pairs.contains(&serde_json::json!(["company", code])),
            "{code}: {pairs:?}"
        );
    }
    assert_eq!(
        table(&data, "public", "account")["referenced_by"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let employee = table(&data, "public", "employee");
    assert_eq!(
        employee["foreign_keys"][0]["referenced_table"]["name"],
        "employee"
    );
    assert_eq!(employee["referenced_by"][0]["name"], "employee");
}

#[test]
fn d06_names_are_exact() {
    let data = data(&page(&fixture("d06_awkward_names")));
    let hyphen = table(&data, "public", "hyphen-table");
    let columns: Vec<&str> = hyphen["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, vec!["id", "hyphen-column", "offset", "tags"]);
    assert_eq!(hyphen["columns"][3]["data_type"], "character varying(50)[]");
    table(&data, "time", "hyphenated-table");
    table(&data, "public", "CamelCaseTable");
    let data = self::data(&page_with_svg_files(&fixture("d06_awkward_names")));
    let files: Vec<&str> = data["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| group["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, vec!["svg/public.svg", "svg/time.svg"]);
}

#[test]
fn file_link_only_with_svg_files() {
    let schema = fixture("d04_unique_fk");
    let alone = page(&schema);
    assert!(
        !alone.contains("id=\"diagram-file\""),
        "a link to SVG files that are not written"
    );
    assert!(data(&alone)["groups"][0].get("file").is_none());

    let with_files = page_with_svg_files(&schema);
    assert!(with_files.contains("<a id=\"diagram-file\" href=\"#\">open as file</a>"));
    assert_eq!(data(&with_files)["groups"][0]["file"], "svg/public.svg");
}

#[test]
fn d07_large_schema_page() {
    let schema = generated_schema(20, 100);
    let html = page(&schema);
    let data = data(&html);
    assert_eq!(data["tables"].as_array().unwrap().len(), 2000);
    assert_eq!(data["groups"].as_array().unwrap().len(), 80);
    // NOTE: the bound is a sanity check on what one page embeds, not a measured browser limit.
    assert!(html.len() < 40_000_000, "the page is {} bytes", html.len());
}

#[test]
fn page_skeleton_snapshot() {
    // The data, style and script are large and covered above; the markup around them is
    // what a snapshot should guard.
    let html = page(&fixture("d05_composite_fks"));
    let start = html.find(DATA_OPEN).unwrap() + DATA_OPEN.len();
    let end = start + html[start..].find("</script>").unwrap();
    let mut skeleton = format!("{}…{}", &html[..start], &html[end..]);
    for (open, close) in [("<style>\n", "</style>"), ("<script>\n", "</script>")] {
        let from = skeleton.find(open).unwrap() + open.len();
        let to = from + skeleton[from..].find(close).unwrap();
        skeleton.replace_range(from..to, "…");
    }
    insta::assert_snapshot!("skeleton", skeleton);
}

#[test]
fn d05_data_snapshot() {
    let mut data = data(&page(&fixture("d05_composite_fks")));
    for group in data["groups"].as_array_mut().unwrap() {
        group["svg"] = Value::String("(covered by the SVG snapshots)".into());
    }
    insta::assert_json_snapshot!("d05_data", data);
}

#[test]
fn output_is_deterministic() {
    let schema = fixture("sop");
    assert_eq!(page(&schema), page(&schema));
}
