//! DataModel.md: snapshots of the reference schema and of every documentation case, the
//! escaping of comments, partitions, relations and user templates.

#[path = "mermaid/models.rs"]
mod models;

use std::fs;

use underpin_docs::{Error, Options, markdown};
use underpin_schema::Schema;

fn render(schema: &Schema) -> String {
    render_with(schema, &Options::default())
}

fn render_with(schema: &Schema, options: &Options) -> String {
    let documents = markdown::render(schema, options).expect("the built-in templates render");
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].path, "DataModel.md");
    documents[0].contents.clone()
}

/// Returns the lines of the section that starts with the heading for `qualified_name`, up to the
/// next table heading.
fn section<'a>(document: &'a str, qualified_name: &str) -> &'a str {
    let heading = format!("</a>{qualified_name}\n");
    let start = document
        .find(&heading)
        .unwrap_or_else(|| panic!("no section for {qualified_name}"));
    let rest = &document[start..];
    let end = rest[1..]
        .find("\n### ")
        .map_or(rest.len(), |position| position + 1);
    &rest[..end]
}

#[test]
fn sop_snapshot() {
    insta::assert_snapshot!("sop", render(&models::fixture("sop")));
}

#[test]
fn cases_snapshots() {
    for name in models::FIXTURES.iter().filter(|name| **name != "sop") {
        insta::assert_snapshot!(*name, render(&models::fixture(name)));
    }
}

#[test]
fn rendering_is_deterministic() {
    let schema = models::fixture("sop");
    assert_eq!(render(&schema), render(&schema));
}

#[test]
fn multi_line_comment_stays_in_one_cell() {
    let mut schema = models::fixture("d01_comments");
    let invoice = &mut schema.tables[0];
    invoice.columns[1].comment = invoice.comment.clone();
    let document = render(&schema);
    let row = "| code | `text` | no |  |  | Invoices issued.<br><br>One row per invoice.<br>Amounts in cents.<br>Legacy \\| note. |";
    assert!(document.contains(row), "column row missing in:\n{document}");
}

#[test]
fn index_row_shows_first_paragraph() {
    let document = render(&models::fixture("d01_comments"));
    let index_row = "| [public.invoice](#table-public-invoice) | table | 2 | Invoices issued. |";
    assert!(document.contains(index_row), "index row missing in:\n{document}");
}

#[test]
fn index_row_cuts_long_comment() {
    let mut schema = models::fixture("d01_comments");
    let long = format!("{} The end.", "Amounts in cents, net of tax.".repeat(20));
    schema.tables[0].comment = Some(format!(
        "{long}\nSecond line of the paragraph.\n\nSecond paragraph."
    ));
    let document = render(&schema);
    let row = document
        .lines()
        .find(|line| line.starts_with("| [public.invoice]"))
        .expect("an index row");
    let cell = row.rsplit(" | ").next().unwrap().trim_end_matches(" |");
    assert!(cell.ends_with('…'), "no ellipsis: {cell}");
    assert!(
        cell.chars().count() <= 200,
        "{} characters: {cell}",
        cell.chars().count()
    );
    assert!(cell.starts_with("Amounts in cents, net of tax.Amounts"), "{cell}");
    assert!(!row.contains("Second"), "later lines in: {row}");
    assert!(
        section(&document, "public.invoice")
            .contains("The end.\nSecond line of the paragraph.\n\nSecond paragraph."),
        "the section keeps the whole comment"
    );
}

#[test]
fn multi_line_comment_keeps_paragraphs_in_section() {
    let document = render(&models::fixture("d01_comments"));
    let section = section(&document, "public.invoice");
    assert!(
        section
            .contains("\n\nInvoices issued.\n\nOne row per invoice.\nAmounts in cents.\nLegacy | note.\n\n"),
        "paragraphs missing in:\n{section}"
    );
    assert!(!section.contains('\r'));
}

#[test]
fn markdown_in_comments_is_kept() {
    let document = render(&models::fixture("d01_comments"));
    let row = "| code | `text` | no |  |  | Compare with `upper(code)`; legacy values may contain \\| or * |";
    assert!(document.contains(row), "column row missing in:\n{document}");
}

#[test]
fn partitions_nest_under_parent() {
    let document = render(&models::fixture("d03_partitions"));
    assert_eq!(
        document.matches("<a id=").count(),
        1,
        "only the parent has a section"
    );
    let section = section(&document, "public.reading");
    assert!(section.contains("Kind: partitioned table, partition key `RANGE (taken_at)`"));
    let expected = "\
- `reading_2024_01`: `FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')`
- `reading_2024_02`: `FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')`, partition key `LIST (sensor_id)`
  - `reading_2024_02_low`: `FOR VALUES IN (1, 2, 3)`
  - `reading_2024_02_rest`: `DEFAULT`
- `reading_default`: `DEFAULT`
";
    assert!(
        section.contains(expected),
        "partition list missing in:\n{section}"
    );
}

#[test]
fn partitions_stay_out_of_diagrams() {
    let document = render(&models::fixture("d03_partitions"));
    let diagram_start = document.find("```mermaid").expect("a diagram");
    let diagram_end = diagram_start
        + document[diagram_start..]
            .find("\n```\n")
            .expect("a closed diagram");
    let diagram = &document[diagram_start..diagram_end];
    assert!(diagram.contains("  reading {"));
    assert!(
        !diagram.contains("reading_2024"),
        "partition drawn in:\n{diagram}"
    );
}

#[test]
fn foreign_key_to_unique_column_is_documented() {
    let document = render(&models::fixture("d04_unique_fk"));
    let city = section(&document, "public.city");
    assert!(city.contains(
        "| `city_country_iso2_fkey` | `country_iso2` | [public.country](#table-public-country) (`iso2`) | NO ACTION | NO ACTION |"
    ));
    let country = section(&document, "public.country");
    assert!(country.contains(
        "| [public.city](#table-public-city) | `city_country_iso2_fkey` | `country_iso2` | `iso2` | NO ACTION |"
    ));
    assert!(document.contains("city }o..o| country : \"country_iso2 → iso2\""));
}

#[test]
fn composite_foreign_keys_stay_separate() {
    let document = render(&models::fixture("d05_composite_fks"));
    let ledger = section(&document, "public.ledger_settings");
    for (name, column) in [
        ("ledger_settings_company_sales_code_fkey", "sales_code"),
        ("ledger_settings_company_tax_code_fkey", "tax_code"),
        ("ledger_settings_company_clearing_code_fkey", "clearing_code"),
    ] {
        let row = format!(
            "| `{name}` | `company`, `{column}` | [public.account](#table-public-account) (`company`, `code`) |"
        );
        assert!(ledger.contains(&row), "{row} missing in:\n{ledger}");
    }
    let account = section(&document, "public.account");
    assert_eq!(
        account
            .matches("| [public.ledger_settings](#table-public-ledger-settings) |")
            .count(),
        3
    );
    let employee = section(&document, "public.employee");
    assert!(employee.contains(
        "| `employee_reports_to_fkey` | `reports_to` | [public.employee](#table-public-employee) (`id`) |"
    ));
    assert!(employee.contains("| [public.employee](#table-public-employee) | `employee_reports_to_fkey` |"));
}

#[test]
fn awkward_names_appear_exactly() {
    let document = render(&models::fixture("d06_awkward_names"));
    for name in [
        "public.hyphen-table",
        "public.CamelCaseTable",
        "time.hyphenated-table",
    ] {
        section(&document, name);
    }
    let hyphen = section(&document, "public.hyphen-table");
    assert!(hyphen.contains("| hyphen-column | `text` |"));
    assert!(hyphen.contains("| offset | `integer` |"));
    assert!(hyphen.contains("| tags | `character varying(50)[]` |"));
    assert!(document.contains("(#table-time-hyphenated-table)"));
}

#[test]
fn hostile_names_are_escaped() {
    let document = render(&models::hostile_schema());
    // A name full of Markdown syntax appears escaped in the index and the heading.
    let escaped = "my schema.Tab\"le %% with \\`ticks\\` \\& \\<html\\> \\\\ \\#1;";
    assert!(document.contains(&format!("[{escaped}](#")), "index link missing");
    assert!(document.contains(&format!("</a>{escaped}\n")), "heading missing");
    // Each table row keeps its column count whatever the comment holds.
    for line in document.lines().filter(|line| line.starts_with("| col")) {
        let unescaped_pipes = line
            .match_indices('|')
            .filter(|(at, _)| !line[..*at].ends_with('\\'))
            .count();
        assert_eq!(unescaped_pipes, 7, "row with a broken cell: {line}");
    }
}

#[test]
fn hostile_comments_stay_in_their_section() {
    let document = render(&models::hostile_comments_schema());
    let count = models::HOSTILE_COMMENTS.len();
    for number in 1..=count {
        let section = section(&document, &format!("public.t{number}"));
        assert!(
            section.contains("| Column | Type |"),
            "the comment of t{number} swallowed its column table:\n{section}"
        );
    }
    assert!(section(&document, "public.zz_last").contains("| id | `integer` |"));

    let expected = [
        "Unclosed fence:\n```sql\nSELECT 1;\n```\n\n| Column |",
        "&lt;!-- draft, never closed\n\n| Column |",
        "Hidden details: &lt;details>\n\n<summary>More</summary>\n\n| Column |",
        "~~~~\ntilde fence\n~~~\n~~~~\n\n| Column |",
        "<div>\n&lt;span>open span\n</div>\n\n| Column |",
        "&lt;pre>\n\nraw\n\n| Column |",
        "> Quoted:\n> &lt;!-- comment\n\n| Column |",
        // Well-formed Markdown and HTML stay as written.
        "**Bold**, `<details>` in code and <details><summary>More</summary>Body</details>.\n\n| Column |",
    ];
    assert_eq!(expected.len(), count);
    for (number, text) in expected.iter().enumerate() {
        let section = section(&document, &format!("public.t{}", number + 1));
        assert!(section.contains(text), "{text:?} missing in:\n{section}");
    }
}

/// Resolves a link target relative to the document at `from`: `DataModel/a.md#x` from
/// `DataModel.md`, `b.md#x` or `../DataModel.md` from a page.
fn resolve(from: &str, target: &str) -> (String, String) {
    let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    if file.is_empty() {
        return (from.to_string(), anchor.to_string());
    }
    for part in file.split('/') {
        if part == ".." {
            parts.pop();
        } else {
            parts.push(part);
        }
    }
    (parts.join("/"), anchor.to_string())
}

#[test]
fn large_schema_is_split_into_pages() {
    let schema = models::large_schema();
    let documents = markdown::render(&schema, &Options::default()).unwrap();
    assert_eq!(documents[0].path, "DataModel.md");
    assert!(documents.len() > 1, "2,000 tables do not fit one document");
    for document in &documents {
        let size = document.contents.len();
        assert!(
            size <= markdown::PAGE_BUDGET,
            "{} has {size} bytes",
            document.path
        );
    }

    let sections: usize = documents
        .iter()
        .map(|document| document.contents.matches("\n### <a id=\"table-").count())
        .sum();
    assert_eq!(sections, 2_000, "every table has one section");
    assert_eq!(documents[0].contents.matches("\n### <a id=\"table-").count(), 0);
    assert!(
        documents[0]
            .contents
            .contains("| [s01](DataModel/s01.md) | s01 | 30 |")
    );
}

#[test]
fn split_pages_link_to_existing_sections() {
    let documents = markdown::render(&models::large_schema(), &Options::default()).unwrap();
    let by_path: std::collections::BTreeMap<&str, &str> = documents
        .iter()
        .map(|document| (document.path.as_str(), document.contents.as_str()))
        .collect();

    let mut checked = 0;
    for document in &documents {
        for (start, _) in document.contents.match_indices("](") {
            let rest = &document.contents[start + 2..];
            let target = &rest[..rest.find(')').expect("a closed link")];
            let (file, anchor) = resolve(&document.path, target);
            let contents = by_path
                .get(file.as_str())
                .unwrap_or_else(|| panic!("{} links to missing {file}", document.path));
            if !anchor.is_empty() {
                assert!(
                    contents.contains(&format!("<a id=\"{anchor}\"></a>")),
                    "{} links to {target}, which has no such anchor",
                    document.path
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 4_000, "only {checked} links checked");
}

#[test]
fn user_template_replaces_built_in() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("table.md.j2"),
        "### {{ table.qualified_name|text }} has {{ table.columns|length }} columns\n\n",
    )
    .unwrap();
    let options = Options {
        template_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let document = render_with(&models::fixture("d05_composite_fks"), &options);
    assert!(document.contains("### public.account has 2 columns\n"));
    assert!(
        document.contains("## Overview"),
        "the built-in main template still renders"
    );
}

#[test]
fn broken_user_template_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("table.md.j2");
    fs::write(
        &path,
        "### {{ table.name }}\n\n{% for column in table.columns %}\n- {{ column.name }}\n",
    )
    .unwrap();
    let options = Options {
        template_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let error = markdown::render(&models::fixture("d05_composite_fks"), &options).unwrap_err();
    let Error::Template {
        path: reported,
        message,
    } = &error
    else {
        panic!("expected a template error, got {error:?}");
    };
    assert_eq!(reported, &path.display().to_string());
    assert!(message.starts_with("line 4: syntax error"), "message: {message}");
    assert!(
        message.contains("unexpected end of input"),
        "message should say what is wrong: {message}"
    );
}

#[test]
fn unknown_field_in_user_template_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("DataModel.md.j2");
    fs::write(&path, "# {{ title }}\n\n{{ tables[0].colums }}\n").unwrap();
    let options = Options {
        template_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let error = markdown::render(&models::fixture("d04_unique_fk"), &options).unwrap_err();
    let Error::Template {
        path: reported,
        message,
    } = &error
    else {
        panic!("expected a template error, got {error:?}");
    };
    assert_eq!(reported, &path.display().to_string());
    assert!(
        message.starts_with("line 3: undefined value"),
        "message: {message}"
    );
}

/// Renders d05_composite_fks with `table.md.j2` from the user's folder and returns the
/// reported file and message of the error.
fn included_template_error(source: &str) -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("table.md.j2");
    fs::write(&path, source).unwrap();
    let options = Options {
        template_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let error = markdown::render(&models::fixture("d05_composite_fks"), &options).unwrap_err();
    let Error::Template {
        path: reported,
        message,
    } = error
    else {
        panic!("expected a template error, got {error:?}");
    };
    (path.display().to_string(), reported, message)
}

#[test]
fn error_in_included_user_template_names_it() {
    let (path, reported, message) =
        included_template_error("### {{ table.name }}\n\n{{ table.nosuchfield.deeper }}\n");
    assert_eq!(reported, path, "message: {message}");
    assert!(
        message.starts_with("line 3: undefined value"),
        "message: {message}"
    );
    assert!(
        message.contains("`{{ table.nosuchfield.deeper }}`"),
        "the message quotes the line: {message}"
    );
    assert!(
        message.contains("included from built-in DataModel.md.j2, line "),
        "message: {message}"
    );
    assert!(
        !message.contains("could not render include"),
        "message: {message}"
    );
}

#[test]
fn unknown_filter_in_included_user_template_names_it() {
    let (path, reported, message) = included_template_error("### {{ table.name|shout }}\n");
    assert_eq!(reported, path, "message: {message}");
    assert!(
        message.starts_with("line 1: unknown filter"),
        "message: {message}"
    );
    assert!(
        message.contains("shout"),
        "the message names the filter: {message}"
    );
}

#[test]
fn unknown_template_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("tables.md.j2"), "### {{ table.name }}\n").unwrap();
    // Hidden files and subfolders (for a template's own includes) are not templates to check.
    fs::write(dir.path().join(".gitkeep"), "").unwrap();
    fs::create_dir(dir.path().join("partials")).unwrap();
    let options = Options {
        template_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let error = markdown::render(&models::fixture("d04_unique_fk"), &options).unwrap_err();
    let Error::Template { path, message } = &error else {
        panic!("expected a template error, got {error:?}");
    };
    assert_eq!(path, &dir.path().join("tables.md.j2").display().to_string());
    for known in ["DataModel.md.j2", "table.md.j2", "types.md.j2", "page.md.j2"] {
        assert!(message.contains(known), "{known} missing from: {message}");
    }
}

#[test]
fn user_template_includes_its_own_partial() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("partials")).unwrap();
    fs::write(
        dir.path().join("partials/name.j2"),
        "{{ table.qualified_name|text }}",
    )
    .unwrap();
    fs::write(
        dir.path().join("table.md.j2"),
        "### {% include \"partials/name.j2\" %}\n\n",
    )
    .unwrap();
    let options = Options {
        template_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let document = render_with(&models::fixture("d05_composite_fks"), &options);
    assert!(document.contains("### public.account\n"), "{document}");
}

#[test]
fn template_name_in_wrong_case_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("datamodel.md.j2"), "# x\n").unwrap();
    let options = Options {
        template_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let error = markdown::render(&models::fixture("d04_unique_fk"), &options).unwrap_err();
    assert!(
        error.to_string().contains("rename the file to DataModel.md.j2"),
        "error: {error}"
    );
}

#[test]
fn missing_template_dir_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        template_dir: Some(dir.path().join("missing")),
        ..Options::default()
    };
    let error = markdown::render(&models::fixture("d04_unique_fk"), &options).unwrap_err();
    assert!(matches!(error, Error::TemplateDir { .. }), "error: {error:?}");
}

#[test]
fn generated_column_says_stored_or_virtual() {
    let document = render(&models::generated_and_untyped_schema());
    assert!(
        document.contains("| area | `INTEGER` | yes | `GENERATED ALWAYS AS (width * width) VIRTUAL` |"),
        "virtual column missing in:\n{document}"
    );
    assert!(
        document.contains("| perimeter | `INTEGER` | yes | `GENERATED ALWAYS AS (width * 4) STORED` |"),
        "stored column missing in:\n{document}"
    );
}
