//! The HTML page in a real browser: headless Chromium driven by Playwright
//! (tests/browser/run.mjs) opens the generated page from file:// with the network off,
//! searches, clicks in the list, the diagram and the detail panel, and takes a screenshot.
//!
//! Needs UNDERPIN_TEST_BROWSER (the tests/browser folder after `npm ci`) and
//! UNDERPIN_TEST_CHROMIUM (the Chromium binary); `bash scripts/test.sh` sets both.

#[path = "mermaid/models.rs"]
mod models;
mod svg_support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use svg_support::{fixture, required_env};
use underpin_docs::{Format, Options, render};
use underpin_schema::Schema;

/// Writes the documents of `formats` for `schema` into `folder`.
fn write_site(schema: &Schema, formats: &[Format], folder: &Path) {
    let documents = render(schema, formats, &Options::default()).expect("rendering succeeds");
    for document in documents {
        let path = folder.join(&document.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, document.contents).unwrap();
    }
}

/// Runs the browser script with `steps` on the page for `schema`, written with its SVG files,
/// and returns its report.
fn browse(schema: &Schema, steps: Value, screenshot: Option<&Path>) -> Value {
    browse_site(schema, &[Format::Svg, Format::Html], steps, screenshot)
}

/// Runs the browser script with `steps` on the page for `schema`, written with the documents
/// of `formats`, and returns its report.
fn browse_site(schema: &Schema, formats: &[Format], steps: Value, screenshot: Option<&Path>) -> Value {
    let browser = required_env(
        "UNDERPIN_TEST_BROWSER",
        "the folder crates/underpin-docs/tests/browser with its npm packages installed (npm ci)",
    );
    let chromium = required_env(
        "UNDERPIN_TEST_CHROMIUM",
        "the Chromium binary (Debian package chromium)",
    );
    let folder = tempfile::tempdir().expect("a temporary folder");
    write_site(schema, formats, folder.path());
    let spec = json!({
        "page": folder.path().join("index.html"),
        "screenshot": screenshot,
        "colours": ["#1d2a3a", "#dde7f3", "#d9480f"],
        "steps": steps,
    });
    let spec_path = folder.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();

    let script = Path::new(&browser).join("run.mjs");
    let output = Command::new("node")
        .arg(&script)
        .arg(&spec_path)
        .env("UNDERPIN_TEST_CHROMIUM", &chromium)
        .output()
        .unwrap_or_else(|error| panic!("cannot run node {}: {error}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed ({}):\n{stderr}\n{stdout}",
        script.display(),
        output.status
    );
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("bad report ({error}):\n{stdout}"));

    assert_eq!(report["consoleErrors"], json!([]), "console errors");
    assert_eq!(report["pageErrors"], json!([]), "uncaught page errors");
    assert_eq!(
        report["externalRequests"],
        json!([]),
        "the page tried the network"
    );
    assert_eq!(report["dialogs"], json!([]), "the page opened a dialog");
    report
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is not an array"))
        .iter()
        .map(|item| item.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sop_search_click_and_screenshot() {
    let schema = fixture("sop");
    let shots = tempfile::tempdir().unwrap();
    let screenshot = shots.path().join("sop.png");
    let report = browse(
        &schema,
        json!([
            { "action": "search", "text": "demand" },
            { "action": "clickList", "index": 0 },
            { "action": "clickSvg", "schema": "sop", "table": "organizations" },
            { "action": "clickLink", "text": "sop.users" },
            { "action": "search", "text": "" },
        ]),
        Some(&screenshot),
    );
    let states = report["states"].as_array().unwrap();

    let loaded = &states[0];
    let top_level = schema.top_level_tables().count();
    assert_eq!(strings(&loaded["visibleList"]).len(), top_level);
    assert_eq!(loaded["diagramTables"], top_level);
    assert!(loaded["detailTitle"].is_null());

    // Tables named after the search come first, then those whose comments mention it.
    let searched = strings(&states[1]["visibleList"]);
    assert_eq!(
        searched,
        vec![
            "sop.demand_actuals",
            "sop.demand_forecastspartitioned table",
            "sop.consensus_planscomment",
            "sop.forecast_accuracymaterialized viewcomment",
            "sop.forecast_vs_actualviewcomment",
            "sop.product_familiescomment",
            "sop.supply_planscomment",
        ]
    );
    assert_eq!(states[1]["count"], format!("7 of {top_level} tables"));

    let clicked = &states[2];
    assert_eq!(clicked["detailTitle"], "sop.demand_actuals");
    assert_eq!(strings(&clicked["selectedBoxes"]), vec!["sop.demand_actuals"]);
    let actuals = schema.table_by_name("sop", "demand_actuals").unwrap();
    let relations = actuals.foreign_keys.len() + schema.referenced_by(actuals).len();
    assert!(relations >= 2);
    assert_eq!(clicked["relatedEdges"], relations, "highlighted edges");
    let headings = strings(&clicked["detailHeadings"]);
    for heading in ["Columns", "Primary key", "Foreign keys", "Indexes"] {
        assert!(
            headings.contains(&heading.to_string()),
            "{heading} missing from {headings:?}"
        );
    }

    let from_diagram = &states[3];
    assert_eq!(from_diagram["detailTitle"], "sop.organizations");
    assert_eq!(strings(&from_diagram["selectedBoxes"]), vec!["sop.organizations"]);
    assert!(strings(&from_diagram["detailHeadings"]).contains(&"Referenced by".to_string()));
    assert!(
        from_diagram["detailText"]
            .as_str()
            .unwrap()
            .contains("Tenants. Every planning row belongs to exactly one organization.")
    );

    assert_eq!(states[4]["detailTitle"], "sop.users");
    assert_eq!(strings(&states[5]["visibleList"]).len(), top_level);

    let shot = &report["screenshot"];
    assert_eq!(
        (shot["width"].as_u64(), shot["height"].as_u64()),
        (Some(1400), Some(900))
    );
    assert!(
        shot["distinctColours"].as_u64().unwrap() > 200,
        "a flat screenshot: {shot}"
    );
    assert!(
        shot["nonWhiteFraction"].as_f64().unwrap() > 0.1,
        "a mostly white screenshot: {shot}"
    );
    // The header bar, the table headers of the diagram and the selected table's outline.
    assert!(
        shot["colourCounts"]["#1d2a3a"].as_u64().unwrap() > 20_000,
        "no header bar: {shot}"
    );
    assert!(
        shot["colourCounts"]["#dde7f3"].as_u64().unwrap() > 5_000,
        "no table headers: {shot}"
    );
    assert!(
        shot["colourCounts"]["#d9480f"].as_u64().unwrap() > 300,
        "no selected table: {shot}"
    );
    assert!(screenshot.metadata().unwrap().len() > 10_000);
    if let Ok(folder) = std::env::var("UNDERPIN_TEST_SCREENSHOTS") {
        std::fs::copy(&screenshot, Path::new(&folder).join("sop.png")).expect("copying the screenshot");
    }
}

#[test]
fn d03_partitions_in_the_detail() {
    let report = browse(
        &fixture("d03_partitions"),
        json!([{ "action": "hash", "hash": "#table=public/reading" }]),
        None,
    );
    let state = &report["states"][1];
    assert_eq!(state["detailTitle"], "public.reading");
    assert_eq!(
        strings(&state["visibleList"]),
        vec!["public.readingpartitioned table"]
    );
    assert_eq!(state["diagramTables"], 1);
    let text = state["detailText"].as_str().unwrap();
    for expected in [
        "PARTITION BY RANGE (taken_at)",
        "reading_2024_01",
        "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')",
        "reading_default",
        "DEFAULT",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
}

#[test]
fn comment_markup_stays_text() {
    let mut schema = fixture("d04_unique_fk");
    let attack = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let city = schema
        .tables
        .iter_mut()
        .find(|table| table.name == "city")
        .unwrap();
    city.comment = Some(attack.to_string());
    city.columns[0].comment = Some(attack.to_string());
    let report = browse(
        &schema,
        json!([
            { "action": "clickSvg", "schema": "public", "table": "city" },
        ]),
        None,
    );
    let state = &report["states"][1];
    assert_eq!(state["detailTitle"], "public.city");
    assert_eq!(state["scriptElements"], 2, "a script element was injected");
    assert_eq!(state["imageElements"], 0, "an image element was injected");
    assert_eq!(state["detailText"].as_str().unwrap().matches(attack).count(), 2);
}

#[test]
fn d06_awkward_names_navigate() {
    let report = browse(
        &fixture("d06_awkward_names"),
        json!([
            { "action": "hash", "hash": "#table=time/hyphenated-table" },
            { "action": "clickSvg", "schema": "public", "table": "CamelCaseTable" },
            { "action": "search", "text": "hyphen" },
        ]),
        None,
    );
    let states = report["states"].as_array().unwrap();
    assert_eq!(states[1]["detailTitle"], "time.hyphenated-table");
    assert_eq!(states[1]["group"], "1");
    // The dashed box of another schema's table leads to that table and its diagram.
    assert_eq!(states[2]["detailTitle"], "public.CamelCaseTable");
    assert_eq!(states[2]["group"], "0");
    assert_eq!(
        strings(&states[2]["selectedBoxes"]),
        vec!["public.CamelCaseTable"]
    );
    assert_eq!(
        strings(&states[3]["visibleList"]),
        vec![
            "public.hyphen-table",
            "time.hyphenated-table",
            "public.CamelCaseTablecolumn hyphen-ref"
        ]
    );
}

#[test]
fn search_by_column_and_open_with_keyboard() {
    let schema = fixture("sop");
    let report = browse(
        &schema,
        json!([
            { "action": "search", "text": "Embedding" },
            { "action": "press", "key": "ArrowDown" },
            { "action": "press", "key": "Enter" },
            { "action": "search", "text": "horizon_months" },
            { "action": "press", "key": "Enter" },
            { "action": "search", "text": "one organization" },
            { "action": "press", "key": "ArrowDown" },
            { "action": "press", "key": "ArrowDown" },
            { "action": "press", "key": " " },
        ]),
        None,
    );
    let states = report["states"].as_array().unwrap();
    let top_level = schema.top_level_tables().count();

    assert_eq!(
        strings(&states[1]["visibleList"]),
        vec!["sop.document_chunkscolumn embedding"],
        "a column name finds its table, ignoring case"
    );
    assert_eq!(states[1]["count"], format!("1 of {top_level} tables"));
    assert_eq!(states[2]["focused"], "sop.document_chunkscolumn embedding");
    assert_eq!(states[3]["detailTitle"], "sop.document_chunks");

    assert_eq!(
        strings(&states[4]["visibleList"]),
        vec!["sop.scenarioscolumn horizon_months"]
    );
    assert_eq!(
        states[5]["detailTitle"], "sop.scenarios",
        "Enter in the search box opens the first table"
    );

    assert_eq!(
        strings(&states[6]["visibleList"]),
        vec!["sop.organizationscomment", "sop.userscomment"],
        "comments are searched too"
    );
    assert_eq!(states[8]["focused"], "sop.userscomment");
    assert_eq!(states[9]["detailTitle"], "sop.users");
    for (step, state) in states.iter().enumerate() {
        assert_eq!(
            state["tabStops"], 1,
            "step {step}: one list entry is reachable with Tab"
        );
    }
}

#[test]
fn page_without_svg_files_has_no_file_link() {
    let report = browse_site(
        &fixture("d04_unique_fk"),
        &[Format::Html],
        json!([
            { "action": "clickSvg", "schema": "public", "table": "city" },
        ]),
        None,
    );
    let states = report["states"].as_array().unwrap();
    assert!(
        states[0]["fileLink"].is_null(),
        "a link to an SVG file that is not written"
    );
    assert_eq!(states[1]["detailTitle"], "public.city");
}

#[test]
fn page_with_svg_files_links_them() {
    let report = browse(&fixture("d04_unique_fk"), json!([]), None);
    assert_eq!(report["states"][0]["fileLink"], "open as file");
}

#[test]
fn generated_columns_say_stored_or_virtual() {
    let report = browse(
        &models::generated_and_untyped_schema(),
        json!([{ "action": "clickSvg", "schema": "main", "table": "box" }]),
        None,
    );
    let state = &report["states"][1];
    assert_eq!(state["detailTitle"], "main.box");
    let text = state["detailText"].as_str().unwrap();
    for expected in [
        "generated as width * width (virtual)",
        "generated as width * 4 (stored)",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
}
