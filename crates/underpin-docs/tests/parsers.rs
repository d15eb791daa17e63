//! The DBML and Mermaid outputs read by the parsers their readers use: `@dbml/core` and the
//! Mermaid ER parser (two releases), run by `tests/js-parsers/validate.mjs` under Node.js.
//!
//! `UNDERPIN_TEST_JS_PARSERS` names the js-parsers folder after `npm ci`; `bash
//! scripts/test.sh` installs it and sets the variable. With `UNDERPIN_TEST_KEEP_DOCS` set to
//! a folder, the generated files are written there and kept, for reading what a parser
//! rejected.

#[path = "mermaid/models.rs"]
mod models;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use underpin_docs::{Format, Options, render};
use underpin_schema::Schema;

/// The formats this test checks: Markdown (its Mermaid blocks), Mermaid files and DBML.
const FORMATS: &[Format] = &[Format::Markdown, Format::Mermaid, Format::Dbml];

fn parsers_dir() -> PathBuf {
    let dir = std::env::var_os("UNDERPIN_TEST_JS_PARSERS").unwrap_or_else(|| {
        panic!(
            "UNDERPIN_TEST_JS_PARSERS is not set. Run the tests with `bash scripts/test.sh`, which installs \
             crates/underpin-docs/tests/js-parsers with npm ci and sets it, or run `npm ci` in that folder \
             and set the variable to it"
        )
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("node_modules/@dbml/core").is_dir(),
        "{} has no node_modules/@dbml/core: run `npm ci` in it",
        dir.display()
    );
    dir
}

fn validate(files: &[PathBuf]) -> Output {
    let script = parsers_dir().join("validate.mjs");
    Command::new("node")
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|error| panic!("cannot run node {}: {error}", script.display()))
}

/// Writes every document of the checked formats under `dir/<name>/` and returns the files.
fn write_documents(dir: &Path, name: &str, schema: &Schema, options: &Options) -> Vec<PathBuf> {
    let kept = std::env::var_os("UNDERPIN_TEST_KEEP_DOCS").map(PathBuf::from);
    let dir = kept.as_deref().unwrap_or(dir);
    let documents = render(schema, FORMATS, options).expect("rendering succeeds");
    documents
        .into_iter()
        .map(|document| {
            let path = dir.join(name).join(&document.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, document.contents).unwrap();
            path
        })
        .collect()
}

fn assert_parses(files: &[PathBuf]) {
    let output = validate(files);
    assert!(
        output.status.success(),
        "the parsers rejected generated files:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn fixtures_parse() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for name in models::FIXTURES {
        files.extend(write_documents(
            dir.path(),
            name,
            &models::fixture(name),
            &Options::default(),
        ));
    }
    let sqlite = models::as_sqlite(models::fixture("d05_composite_fks"));
    files.extend(write_documents(
        dir.path(),
        "sqlite",
        &sqlite,
        &Options::default(),
    ));
    files.extend(write_documents(
        dir.path(),
        "generated_and_untyped",
        &models::generated_and_untyped_schema(),
        &Options::default(),
    ));
    let kinds: Vec<&str> = files
        .iter()
        .filter_map(|file| file.extension()?.to_str())
        .collect();
    for extension in ["md", "mmd", "dbml"] {
        assert!(kinds.contains(&extension), "no .{extension} file was written");
    }
    assert_parses(&files);
}

#[test]
fn hostile_names_parse() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_documents(
        dir.path(),
        "hostile",
        &models::hostile_schema(),
        &Options::default(),
    );
    assert_parses(&files);
}

#[test]
fn hostile_comments_keep_headings() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_documents(
        dir.path(),
        "hostile_comments",
        &models::hostile_comments_schema(),
        &Options::default(),
    );
    assert_parses(&files);
}

#[test]
fn large_schemas_parse() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = write_documents(dir.path(), "large", &models::large_schema(), &Options::default());
    let one_group = Options {
        max_diagram_tables: 0,
        ..Options::default()
    };
    files.extend(write_documents(
        dir.path(),
        "wide",
        &models::wide_schema(40, 150),
        &one_group,
    ));
    files.extend(write_documents(
        dir.path(),
        "oversized",
        &models::wide_schema(1, 3_000),
        &one_group,
    ));
    assert_parses(&files);
}

#[test]
fn validator_rejects_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    let broken = [
        (
            "broken.dbml",
            "Table \"public\".\"a\" {\n  \"id\" integer [pk\n}\n",
            "dbml:",
        ),
        (
            "broken.mmd",
            "erDiagram\n  a {\n    integer pk\n  }\n",
            "mermaid 11.17: Parse error",
        ),
        (
            "keyword.mmd",
            "erDiagram\n  one {\n    integer id\n  }\n",
            "mermaid 10.9: Parse error",
        ),
        (
            "broken.md",
            "# T\n\n```mermaid\nerDiagram\n  a ||--o{ : \"x\"\n```\n",
            "broken.md:5: mermaid 10.9: Parse error",
        ),
        (
            "fence.md",
            "# T\n\n## A\n\n```\ncode\n\n## B\n",
            "fence.md:8: markdown: this heading does not render",
        ),
        (
            "details.md",
            "# T\n\n## A\n\nSee <details>\n\n### B\n",
            "details.md:7: markdown: this heading does not render",
        ),
    ];
    let mut files = Vec::new();
    for (name, text, _) in &broken {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let output = validate(&files);
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "broken files must fail the validator:\n{report}"
    );
    for (name, _, expected) in &broken {
        let line = report
            .lines()
            .find(|line| line.contains(name))
            .unwrap_or_else(|| panic!("no problem reported for {name}:\n{report}"));
        assert!(
            report.contains(expected),
            "expected {expected:?} for {name}, got: {line}\n{report}"
        );
    }
}

#[test]
fn validator_rejects_oversized_diagram() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.mmd");
    let mut text = String::from("erDiagram\n  a {\n");
    for number in 0..2_000 {
        text.push_str(&format!("    integer column_number_{number}\n"));
    }
    text.push_str("  }\n");
    std::fs::write(&path, &text).unwrap();
    let output = validate(&[path]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("more than maxTextSize 50000"), "{report}");
}
