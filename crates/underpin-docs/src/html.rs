//! `index.html`: one self-contained page to browse the schema offline.
//!
//! The page contains everything inline: its CSS, its script, the model as JSON in a
//! `<script type="application/json">` element, and the SVG of every diagram group inside that
//! JSON. It loads nothing from anywhere, and its Content-Security-Policy forbids it to, so it
//! works from `file://`. The script builds the table list, the search filter, the diagram view
//! and the detail panel from the JSON, writing names and comments only as text nodes, never as
//! markup. The search matches table names, column names and comments, and the list works
//! from the keyboard (arrow keys, Enter). The "open as file" link to a diagram's SVG file is
//! there only when the SVG files are rendered in the same run.

use std::collections::BTreeMap;

use serde::Serialize;
use underpin_schema::{ForeignKey, QualifiedName, Schema, Table};

use crate::svg::diagram::Catalog;
use crate::svg::group_diagrams;
use crate::{Document, Error, Options};

const STYLE: &str = include_str!("html/page.css");
const SCRIPT: &str = include_str!("html/page.js");

/// Renders `index.html`. With `svg_files`, the SVG files are written beside the page, and the
/// page links each diagram to its file.
pub fn render(schema: &Schema, options: &Options, svg_files: bool) -> Result<Vec<Document>, Error> {
    Ok(vec![Document::new(
        "index.html",
        page(schema, options, svg_files),
    )])
}

/// The JSON the page script reads.
#[derive(Serialize)]
struct PageData<'a> {
    title: &'a str,
    groups: Vec<GroupData>,
    tables: Vec<TableData<'a>>,
}

#[derive(Serialize)]
struct GroupData {
    name: String,
    schema: String,
    /// The path of the same diagram as a file, relative to the page, when the SVG files are
    /// written.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    svg: String,
}

#[derive(Serialize)]
struct TableData<'a> {
    #[serde(flatten)]
    table: &'a Table,
    /// The index of the diagram group that draws the table; `None` for partitions.
    group: Option<usize>,
    partitions: Vec<PartitionData<'a>>,
    referenced_by: Vec<ReferenceData<'a>>,
}

#[derive(Serialize)]
struct PartitionData<'a> {
    schema: &'a str,
    name: &'a str,
    bound: &'a str,
}

#[derive(Serialize)]
struct ReferenceData<'a> {
    schema: &'a str,
    name: &'a str,
    key: &'a ForeignKey,
}

fn page(schema: &Schema, options: &Options, svg_files: bool) -> String {
    let catalog = Catalog::new(schema);
    let diagrams = group_diagrams(&catalog, options);

    let mut group_of: BTreeMap<&QualifiedName, usize> = BTreeMap::new();
    for (index, diagram) in diagrams.iter().enumerate() {
        for name in &diagram.group.tables {
            group_of.insert(name, index);
        }
    }
    // Partitions and incoming keys by table, collected in one pass each: per-table searches
    // would be quadratic in the table count.
    let mut partitions: BTreeMap<(&str, &str), Vec<PartitionData>> = BTreeMap::new();
    let mut referenced_by: BTreeMap<(&str, &str), Vec<ReferenceData>> = BTreeMap::new();
    for table in &schema.tables {
        if let Some(of) = &table.partition_of {
            partitions
                .entry((of.parent.schema.as_str(), of.parent.name.as_str()))
                .or_default()
                .push(PartitionData {
                    schema: &table.schema,
                    name: &table.name,
                    bound: &of.bound,
                });
            // A partition's keys are copies of its parent's, already listed from the parent.
            continue;
        }
        for key in &table.foreign_keys {
            referenced_by
                .entry((
                    key.referenced_table.schema.as_str(),
                    key.referenced_table.name.as_str(),
                ))
                .or_default()
                .push(ReferenceData {
                    schema: &table.schema,
                    name: &table.name,
                    key,
                });
        }
    }
    let tables = schema
        .tables
        .iter()
        .map(|table| {
            let name = (table.schema.as_str(), table.name.as_str());
            TableData {
                table,
                group: group_of.get(&table.qualified_name()).copied(),
                partitions: partitions.remove(&name).unwrap_or_default(),
                referenced_by: referenced_by.remove(&name).unwrap_or_default(),
            }
        })
        .collect();
    let data = PageData {
        title: &options.title,
        groups: diagrams
            .into_iter()
            .map(|diagram| GroupData {
                name: diagram.group.name,
                schema: diagram.group.schema,
                file: svg_files.then_some(diagram.path),
                svg: diagram.svg,
            })
            .collect(),
        tables,
    };
    let json = serde_json::to_string(&data).expect("the page data always serializes");

    let title = escape_html(&options.title);
    let file_link = if svg_files {
        "<a id=\"diagram-file\" href=\"#\">open as file</a>"
    } else {
        ""
    };
    let mut html = String::with_capacity(json.len() + STYLE.len() + SCRIPT.len() + 2048);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No network access at all: the page must work offline, and a name or comment that
    // somehow became markup still could not load or send anything.
    html.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
    );
    html.push_str(&format!(
        "<title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n"
    ));
    html.push_str(&format!(
        "<header><h1>{title}</h1><span id=\"summary\"></span></header>\n\
         <main>\n\
         <nav id=\"sidebar\"><input id=\"search\" type=\"search\" placeholder=\"Filter tables and columns\" \
         aria-label=\"Filter tables by name, column or comment\" autocomplete=\"off\" aria-controls=\"table-list\">\
         <p id=\"count\"></p><ul id=\"table-list\" role=\"listbox\" aria-label=\"Tables\"></ul></nav>\n\
         <section id=\"diagram-panel\"><div class=\"toolbar\"><label>Diagram <select id=\"group-select\"></select></label>\
         <button id=\"zoom-out\" type=\"button\" title=\"Zoom out\">−</button>\
         <button id=\"zoom-reset\" type=\"button\" title=\"Actual size\">100%</button>\
         <button id=\"zoom-in\" type=\"button\" title=\"Zoom in\">+</button>\
         {file_link}</div><div id=\"diagram\"></div></section>\n\
         <aside id=\"detail\"><p class=\"hint\">Select a table in the list or in the diagram.</p></aside>\n\
         </main>\n\
         <noscript><p class=\"hint\">This page needs JavaScript to show the tables.</p></noscript>\n"
    ));
    html.push_str("<script type=\"application/json\" id=\"model\">");
    html.push_str(&escape_script_json(&json));
    html.push_str("</script>\n<script>\n");
    html.push_str(SCRIPT);
    html.push_str("</script>\n</body>\n</html>\n");
    html
}

/// Makes JSON safe inside a `<script>` element: `<`, `>` and `&` become `\u003c`-style
/// escapes, so no `</script>` or `<!--` can end or change the element, and U+2028 and U+2029
/// are escaped for older JavaScript parsers. Those characters only occur inside JSON strings,
/// where the escapes mean the same characters.
fn escape_script_json(json: &str) -> String {
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    let mut copied = 0;
    for (position, &byte) in bytes.iter().enumerate() {
        let replacement = match byte {
            b'<' => "\\u003c",
            b'>' => "\\u003e",
            b'&' => "\\u0026",
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
            0xe2 if bytes.get(position + 1) == Some(&0x80) && bytes.get(position + 2) == Some(&0xa8) => {
                "\\u2028"
            }
            0xe2 if bytes.get(position + 1) == Some(&0x80) && bytes.get(position + 2) == Some(&0xa9) => {
                "\\u2029"
            }
            _ => continue,
        };
        out.push_str(&json[copied..position]);
        out.push_str(replacement);
        copied = if byte == 0xe2 { position + 3 } else { position + 1 };
    }
    out.push_str(&json[copied..]);
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(character),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_element() {
        let json = serde_json::to_string("</script><!-- & \u{2028}").unwrap();
        let escaped = escape_script_json(&json);
        assert!(!escaped.contains('<'));
        assert!(!escaped.contains('>'));
        assert!(!escaped.contains('&'));
        let back: String = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, "</script><!-- & \u{2028}");
    }
}
