//! Mermaid files: snapshots, entity and relationship lines for the documentation cases, and
//! Mermaid's size limits on a large schema.

#[path = "mermaid/models.rs"]
mod models;

use underpin_docs::mermaid::{self, MAX_EDGES, MAX_TEXT_SIZE};
use underpin_docs::{Document, Options, markdown};
use underpin_schema::Schema;

fn files(schema: &Schema, options: &Options) -> Vec<Document> {
    mermaid::render(schema, options).expect("Mermaid rendering does not fail")
}

fn file<'a>(documents: &'a [Document], path: &str) -> &'a str {
    &documents
        .iter()
        .find(|document| document.path == path)
        .unwrap_or_else(|| {
            panic!(
                "no {path} among {:?}",
                documents.iter().map(|d| &d.path).collect::<Vec<_>>()
            )
        })
        .contents
}

fn relationship_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| line.contains(" : \""))
        .map(str::trim)
        .collect()
}

/// Collects every ```mermaid block of a Markdown document.
fn markdown_blocks(document: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in document.lines() {
        match &mut current {
            None if line == "```mermaid" => current = Some(String::new()),
            Some(block) if line == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn assert_within_limits(text: &str, what: &str) {
    let size = text.encode_utf16().count();
    assert!(
        size <= MAX_TEXT_SIZE,
        "{what} has {size} UTF-16 code units, over {MAX_TEXT_SIZE}"
    );
    let edges = relationship_lines(text).len();
    assert!(
        edges <= MAX_EDGES,
        "{what} has {edges} relationships, over {MAX_EDGES}"
    );
}

#[test]
fn snapshots() {
    for name in models::FIXTURES {
        let rendered: String = files(&models::fixture(name), &Options::default())
            .iter()
            .map(|document| format!("--- {} ---\n{}", document.path, document.contents))
            .collect();
        insta::assert_snapshot!(*name, rendered);
    }
}

#[test]
fn markdown_embeds_the_same_diagrams() {
    for name in models::FIXTURES {
        let schema = models::fixture(name);
        let files: Vec<String> = files(&schema, &Options::default())
            .into_iter()
            .map(|document| document.contents)
            .collect();
        let document = &markdown::render(&schema, &Options::default()).unwrap()[0].contents;
        assert_eq!(
            markdown_blocks(document),
            files,
            "{name}: blocks differ from the .mmd files"
        );
    }
}

#[test]
fn unique_foreign_key_draws_zero_or_one() {
    let documents = files(&models::fixture("d04_unique_fk"), &Options::default());
    let text = file(&documents, "mermaid/public.mmd");
    assert_eq!(
        relationship_lines(text),
        vec!["city }o..o| country : \"country_iso2 → iso2\""]
    );
    assert!(
        text.contains("    bpchar iso2 UK \"character(2)\"")
            || text.contains("    character_2 iso2 UK \"character(2)\"")
    );
}

#[test]
fn composite_foreign_keys_draw_one_line_each() {
    let documents = files(&models::fixture("d05_composite_fks"), &Options::default());
    let text = file(&documents, "mermaid/public.mmd");
    assert_eq!(
        relationship_lines(text),
        vec![
            "employee }o..o| employee : \"reports_to\"",
            "ledger_settings }o..o| account : \"company, clearing_code\"",
            "ledger_settings }o..o| account : \"company, sales_code\"",
            "ledger_settings }o..o| account : \"company, tax_code\"",
        ]
    );
}

#[test]
fn partitions_are_not_drawn() {
    let documents = files(&models::fixture("d03_partitions"), &Options::default());
    assert_eq!(documents.len(), 1);
    let text = file(&documents, "mermaid/public.mmd");
    assert!(text.contains("  reading {"));
    assert!(!text.contains("reading_2024"), "partition drawn in:\n{text}");
}

#[test]
fn awkward_names_are_mapped_and_shown() {
    let documents = files(&models::fixture("d06_awkward_names"), &Options::default());
    let public = file(&documents, "mermaid/public.mmd");
    assert!(public.contains("  CamelCaseTable {\n"));
    assert!(public.contains("  hyphen_table[\"hyphen-table\"] {\n"));
    assert!(public.contains("    text hyphen-column\n"));
    assert!(public.contains("    integer offset\n"));
    assert!(public.contains("    character_varying_50_array tags \"character varying(50)[]\"\n"));
    let time = file(&documents, "mermaid/time.mmd");
    assert!(time.contains("  hyphenated_table[\"hyphenated-table\"] {\n"));
    // The foreign key into schema public draws that table without columns.
    assert!(time.contains("  public__CamelCaseTable[\"public.CamelCaseTable\"]\n"));
    assert!(time.contains("hyphenated_table }o..o| public__CamelCaseTable : \"CamelCase-ref\""));
}

#[test]
fn hostile_names_keep_their_text() {
    let documents = files(&models::hostile_schema(), &Options::default());
    let all: String = documents
        .iter()
        .map(|document| document.contents.as_str())
        .collect();
    assert!(
        all.contains("  one_[\"one\"] {\n"),
        "keyword entity not renamed:\n{all}"
    );
    assert!(all.contains("  direction_[\"#100;irection\"] {\n"));
    assert!(
        all.contains("    pk_ pk_ \"name: pk; pk\"\n"),
        "key-marker column not renamed:\n{all}"
    );
    assert!(
        all.contains("    one one FK\n"),
        "attribute names may be entity keywords"
    );
    assert!(all.contains("    my_type col_umn \"name: col#quot;umn; my#quot;type\"\n"));
    assert!(all.contains("    my_type col_umn \"name: col#96;umn; my#96;type\"\n"));
    assert!(all.contains("    my_type col-umn FK \"my-type\"\n"));
    assert!(all.contains("  r_sum____[\"résumé 日本\"] {\n    text na_ve \"name: naïve\"\n"));
    for document in &documents {
        for line in document.contents.lines() {
            let quotes = line.matches('"').count();
            assert_eq!(quotes % 2, 0, "unbalanced quotes in {}: {line}", document.path);
        }
    }
}

#[test]
fn large_schema_stays_within_limits() {
    let schema = models::large_schema();
    let options = Options::default();
    let diagrams = mermaid::diagrams(&schema, &options);

    let mut drawn: Vec<String> = diagrams
        .iter()
        .flat_map(|diagram| diagram.tables.iter().map(|name| name.to_string()))
        .collect();
    drawn.sort();
    let mut expected: Vec<String> = schema
        .tables
        .iter()
        .map(|table| table.qualified_name().to_string())
        .collect();
    expected.sort();
    assert_eq!(
        drawn, expected,
        "every table is drawn with its columns exactly once"
    );

    for diagram in &diagrams {
        assert_within_limits(&diagram.text, &diagram.name);
        assert!(diagram.tables.len() <= options.max_diagram_tables);
    }
    let blocks: Vec<String> = markdown::render(&schema, &options)
        .unwrap()
        .iter()
        .flat_map(|document| markdown_blocks(&document.contents))
        .collect();
    assert_eq!(blocks.len(), diagrams.len());
    for (number, block) in blocks.iter().enumerate() {
        assert_within_limits(block, &format!("Markdown block {number}"));
    }
}

#[test]
fn wide_group_is_cut_into_parts() {
    let schema = models::wide_schema(40, 150);
    let options = Options {
        max_diagram_tables: 0,
        ..Options::default()
    };
    let diagrams = mermaid::diagrams(&schema, &options);
    assert!(
        diagrams.len() > 1,
        "one schema of {} tables should not fit one diagram",
        schema.tables.len()
    );
    for (number, diagram) in diagrams.iter().enumerate() {
        assert_within_limits(&diagram.text, &diagram.name);
        assert_eq!(diagram.name, format!("wide.{}", number + 1));
        assert_eq!((diagram.part, diagram.parts), (number + 1, diagrams.len()));
        assert_eq!(diagram.file_name, format!("wide.{}.mmd", number + 1));
    }
    let drawn: usize = diagrams.iter().map(|diagram| diagram.tables.len()).sum();
    assert_eq!(drawn, 40);

    // The first table of the second part references the last one of the first part, which
    // appears there without columns so the edge is drawn.
    let second = &diagrams[1];
    let first_of_second = &second.tables[0].name;
    let previous = diagrams[0].tables.last().unwrap().name.clone();
    assert!(
        second.text.contains(&format!("\n  {previous}\n")),
        "bare entity missing"
    );
    assert!(second.text.contains(&format!(
        "  {first_of_second} }}o..o| {previous} : \"previous_id\""
    )));
}

#[test]
fn oversized_table_keeps_its_keys() {
    let schema = models::wide_schema(1, 3_000);
    let diagrams = mermaid::diagrams(&schema, &Options::default());
    assert_eq!(diagrams.len(), 1);
    let text = &diagrams[0].text;
    assert_within_limits(text, "the single table");
    assert!(text.contains("    bigint id PK\n"));
    assert!(text.contains("%% 3001 columns without keys left out to stay within Mermaid's limits"));
}

#[test]
fn untyped_column_gets_type_any() {
    let documents = files(&models::generated_and_untyped_schema(), &Options::default());
    let text = file(&documents, "mermaid/main.mmd");
    assert!(text.contains("\n    any id PK\n"), "key column in:\n{text}");
    assert!(text.contains("\n    any legacy\n"), "plain column in:\n{text}");
    assert!(!text.contains("type_"), "a made-up type word in:\n{text}");
}
