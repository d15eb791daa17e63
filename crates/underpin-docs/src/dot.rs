//! `schema.dot`: the whole schema as one Graphviz digraph.
//!
//! Each top-level table is a node with an HTML-like table label: a header with the qualified
//! name and one row per column with its key markers, name and type. Schemas are clusters.
//! Each foreign key is one edge, from the row of its first column to the row of the first
//! referenced column. Composite keys carry a label with every column pair. Partitions are
//! left out: their parent stands for them.
//!
//! Node IDs are the qualified names when every part is a plain identifier, and generated
//! (`t1`, `t2`…) otherwise, because a DOT quoted string cannot carry every byte sequence of a
//! PostgreSQL name (a trailing backslash would escape the closing quote). Port IDs are
//! generated from column positions: `l3` on the left cell of row 3, `r3` on the right cell.
//! Names themselves appear only in labels, escaped for Graphviz's HTML-like labels.
//!
//! Text from the model is cut to [`MAX_TEXT_CHARS`] characters per tooltip or label cell, so a
//! long comment or name cannot make the file unreadable for Graphviz.

use std::collections::BTreeMap;
use std::fmt::Write;

use underpin_schema::{QualifiedName, Schema, Table};

use crate::svg::diagram::{Catalog, kind_label};
use crate::{Document, Error, Options};

const FONT: &str = "Helvetica,Arial,sans-serif";

/// Maximum number of characters of model text in one attribute value (a tooltip, a cell of a
/// label). Graphviz 2.43 rejects more than 16,384 bytes in a row without a backslash escape
/// in a quoted string, or without markup in an HTML-like label ("longer than 16384?"). At
/// 2,000 characters even escaped text stays under that: at most 6 bytes a character (`&quot;`).
const MAX_TEXT_CHARS: usize = 2_000;

pub fn render(schema: &Schema, options: &Options) -> Result<Vec<Document>, Error> {
    Ok(vec![Document::new("schema.dot", dot(schema, options))])
}

/// A node to write: a table of the model, or a referenced table outside it.
struct DotNode<'a> {
    id: String,
    name: QualifiedName,
    table: Option<&'a Table>,
    /// For a table outside the model: the referenced columns, which become its rows.
    referenced_columns: Vec<&'a str>,
}

impl DotNode<'_> {
    fn row_of(&self, column: &str) -> Option<usize> {
        match self.table {
            Some(table) => table
                .columns
                .iter()
                .position(|candidate| candidate.name == column),
            None => self
                .referenced_columns
                .iter()
                .position(|&candidate| candidate == column),
        }
        .map(|index| index + 1)
    }
}

fn dot(schema: &Schema, options: &Options) -> String {
    let catalog = Catalog::new(schema);
    let top_level: Vec<&Table> = schema.top_level_tables().collect();

    let mut nodes: Vec<DotNode> = Vec::new();
    let mut index: BTreeMap<QualifiedName, usize> = BTreeMap::new();
    for &table in &top_level {
        index.insert(table.qualified_name(), nodes.len());
        nodes.push(DotNode {
            id: node_id(&table.qualified_name(), nodes.len()),
            name: table.qualified_name(),
            table: Some(table),
            referenced_columns: Vec::new(),
        });
    }
    // Referenced tables that the model lacks still get a node, so no key is dropped.
    for &table in &top_level {
        for key in &table.foreign_keys {
            if catalog.resolve(&key.referenced_table).is_some() {
                continue;
            }
            let position = *index.entry(key.referenced_table.clone()).or_insert_with(|| {
                nodes.push(DotNode {
                    id: node_id(&key.referenced_table, nodes.len()),
                    name: key.referenced_table.clone(),
                    table: None,
                    referenced_columns: Vec::new(),
                });
                nodes.len() - 1
            });
            for column in &key.referenced_columns {
                if !nodes[position].referenced_columns.contains(&column.as_str()) {
                    nodes[position].referenced_columns.push(column);
                }
            }
        }
    }

    let mut out = String::with_capacity(2048 + 1024 * nodes.len());
    out.push_str("digraph {\n");
    let _ = writeln!(
        out,
        "  graph [rankdir=LR, fontname={font}, fontsize=14, labelloc=t, nodesep=0.4, ranksep=1.1, label=<{}>];",
        html(&options.title),
        font = quote(FONT)
    );
    let _ = writeln!(
        out,
        "  node [shape=plain, fontname={}, fontsize=11];",
        quote(FONT)
    );
    let _ = writeln!(
        out,
        "  edge [fontname={}, fontsize=9, color=\"#5b6b82\", arrowhead=normal, arrowsize=0.7];",
        quote(FONT)
    );

    let mut by_schema: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (position, node) in nodes.iter().enumerate() {
        by_schema
            .entry(node.name.schema.as_str())
            .or_default()
            .push(position);
    }
    for (cluster, (schema_name, members)) in by_schema.iter().enumerate() {
        let _ = writeln!(out, "\n  subgraph cluster_{} {{", cluster + 1);
        let _ = writeln!(
            out,
            "    label=<<B>{}</B>>; style=rounded; color=\"#8a98ad\"; fontsize=13;",
            html(schema_name)
        );
        for &position in members {
            write_node(&mut out, &catalog, &nodes[position]);
        }
        out.push_str("  }\n");
    }

    out.push('\n');
    for &table in &top_level {
        let from = &nodes[index[&table.qualified_name()]];
        for key in &table.foreign_keys {
            let target_name = catalog
                .resolve(&key.referenced_table)
                .map_or_else(|| key.referenced_table.clone(), Table::qualified_name);
            let to = &nodes[index[&target_name]];
            let from_port = key
                .columns
                .first()
                .and_then(|column| from.row_of(column))
                .map_or("h".to_string(), |row| format!("r{row}"));
            let to_port = key
                .referenced_columns
                .first()
                .and_then(|column| to.row_of(column))
                .map_or("h".to_string(), |row| format!("l{row}"));
            let mut attributes = vec![format!("tooltip={}", esc_string(&key.name))];
            if key.columns.len() > 1 {
                let pairs: Vec<String> = key
                    .columns
                    .iter()
                    .zip(&key.referenced_columns)
                    .map(|(column, referenced)| format!("{} → {}", html(column), html(referenced)))
                    .collect();
                attributes.push(format!("label=<{}>", pairs.join("<BR/>")));
            }
            let _ = writeln!(
                out,
                "  {}:{from_port}:e -> {}:{to_port}:w [{}];",
                quote(&from.id),
                quote(&to.id),
                attributes.join(", ")
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Returns the node ID for a table: its qualified name when both parts are plain identifiers,
/// so the dot between them cannot be confused with one inside a name, else `t<position + 1>`.
fn node_id(name: &QualifiedName, position: usize) -> String {
    let plain = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || character == '_')
    };
    if plain(&name.schema) && plain(&name.name) {
        name.to_string()
    } else {
        format!("t{}", position + 1)
    }
}

fn write_node(out: &mut String, catalog: &Catalog, node: &DotNode) {
    let (header_colour, border_style) = match node.table {
        Some(table) if table.kind.is_view() => ("#e4f1e0", ""),
        Some(_) => ("#dde7f3", ""),
        None => ("#eef0f3", " STYLE=\"dashed\""),
    };
    let mut label = format!(
        "<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"3\" COLOR=\"#8a98ad\"{border_style}>"
    );
    let mut header = format!("<B>{}</B>", html(&node.name.to_string()));
    if let Some(table) = node.table {
        if let Some(kind) = kind_label(table.kind) {
            let _ = write!(header, " <I>{}</I>", html(kind));
        }
        if let Some(key) = &table.partition_key {
            let partitions = catalog.schema().partitions_of(table).len();
            let _ = write!(
                header,
                "<BR/><FONT POINT-SIZE=\"9\">PARTITION BY {}, {partitions} partitions</FONT>",
                html(key)
            );
        }
    }
    let _ = write!(
        label,
        "<TR><TD PORT=\"h\" COLSPAN=\"3\" BGCOLOR=\"{header_colour}\">{header}</TD></TR>"
    );

    match node.table {
        Some(table) => {
            for (position, column) in table.columns.iter().enumerate() {
                let markers = markers(table, &column.name);
                write_row(
                    &mut label,
                    position + 1,
                    &markers,
                    &column.name,
                    &column.data_type,
                );
            }
            if table.columns.is_empty() {
                label.push_str("<TR><TD COLSPAN=\"3\"><I>no columns</I></TD></TR>");
            }
        }
        None => {
            for (position, column) in node.referenced_columns.iter().enumerate() {
                write_row(&mut label, position + 1, "", column, "");
            }
        }
    }
    label.push_str("</TABLE>");

    let mut attributes = vec![format!("label=<{label}>")];
    if let Some(comment) = node.table.and_then(|table| table.comment.as_deref()) {
        attributes.push(format!("tooltip={}", esc_string(comment)));
    }
    let _ = writeln!(out, "    {} [{}];", quote(&node.id), attributes.join(", "));
}

fn markers(table: &Table, column: &str) -> String {
    let mut markers = Vec::new();
    if table.is_primary_key_column(column) {
        markers.push("PK");
    }
    if table.is_foreign_key_column(column) {
        markers.push("FK");
    }
    if table.is_unique_column(column) && !table.is_primary_key_column(column) {
        markers.push("UQ");
    }
    markers.join(" ")
}

fn write_row(label: &mut String, row: usize, markers: &str, name: &str, data_type: &str) {
    // Graphviz rejects an empty <FONT> element, so empty cells stay bare.
    let styled = |text: &str, attributes: &str| {
        if text.is_empty() {
            String::new()
        } else {
            format!("<FONT {attributes}>{}</FONT>", html(text))
        }
    };
    let _ = write!(
        label,
        "<TR><TD PORT=\"l{row}\" ALIGN=\"LEFT\">{}</TD><TD ALIGN=\"LEFT\">{}</TD>\
         <TD PORT=\"r{row}\" ALIGN=\"RIGHT\">{}</TD></TR>",
        styled(markers, "POINT-SIZE=\"8\" COLOR=\"#3a6fb0\""),
        html(name),
        styled(data_type, "COLOR=\"#6b7789\"")
    );
}

/// Quotes text without quotes, backslashes or line breaks for DOT: the node IDs built above
/// and fixed attribute values. Names and titles go into HTML-like labels instead.
fn quote(text: &str) -> String {
    debug_assert!(!text.contains(['"', '\\', '\n', '\r']), "{text:?} needs escaping");
    format!("\"{text}\"")
}

/// Writes an escString attribute value (tooltips): quotes escaped, every kind of line break as
/// `\n`. Graphviz
/// (2.42) unescapes a tooltip twice, once when parsing the string and once when expanding
/// `\N`, `\G` and friends, so a literal backslash is written as four.
fn esc_string(text: &str) -> String {
    let text = shorten(text);
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\\\\\"),
            '\n' => out.push_str("\\n"),
            // CRLF and a lone CR are line breaks too.
            '\r' => {
                if characters.peek() != Some(&'\n') {
                    out.push_str("\\n");
                }
            }
            '\u{0}'..='\u{1f}' => out.push(' '),
            _ => out.push(character),
        }
    }
    out.push('"');
    out
}

/// Cuts text longer than [`MAX_TEXT_CHARS`] characters to that many and appends `…`.
fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
        None => text.into(),
    }
}

/// Escapes text for a Graphviz HTML-like label.
fn html(text: &str) -> String {
    let text = shorten(text);
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '\u{0}'..='\u{1f}' => out.push('\u{fffd}'),
            _ => out.push(character),
        }
    }
    out
}
