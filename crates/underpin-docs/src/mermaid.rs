//! Mermaid `erDiagram` text: one diagram per group from [`crate::group`], written to
//! `mermaid/<group>.mmd` and embedded in `DataModel.md`.
//!
//! Mermaid accepts few characters in its words, so names are mapped:
//! - An entity gets an identifier of ASCII letters, digits and `_`, and an alias
//!   `id["display name"]` (Mermaid 10.5 and later) whenever the identifier differs from the
//!   name. Tables of other schemas are shown as `schema.name`.
//! - An attribute type or name that is not one word becomes one (`character varying(50)[]`
//!   becomes `character_varying_50_array`), and the attribute comment shows the real one.
//!   Column comments are left out: they would make every entity box as wide as its longest
//!   comment, and the table's section in `DataModel.md` shows them.
//! - A column declared without a type (SQLite allows it) gets the type `any`.
//! - Quoted text uses Mermaid's entity codes (`#quot;`, `#35;`) for the characters its
//!   lexer or its HTML labels would take as syntax.
//!
//! Mermaid refuses to render past its default limits: 50,000 characters of text
//! (`maxTextSize`, counted in UTF-16 code units) and 500 edges (`maxEdges`), both as of
//! Mermaid 11.17. GitHub is assumed to keep these defaults. A group whose text would pass
//! either limit is cut into parts, filled in group order.

use std::collections::{BTreeMap, BTreeSet};

use underpin_schema::{Column, ForeignKey, QualifiedName, Schema, Table};

use crate::group::{self, Group};
use crate::{Document, Error, Options, keys, text};

/// Mermaid's default `maxTextSize`, in UTF-16 code units.
pub const MAX_TEXT_SIZE: usize = 50_000;
/// Mermaid's default `maxEdges`.
pub const MAX_EDGES: usize = 500;
/// The text size a diagram is built to. The headroom below [`MAX_TEXT_SIZE`] leaves room for
/// whatever a host adds around the text, such as a configuration directive.
const TEXT_BUDGET: usize = MAX_TEXT_SIZE - 1_000;

/// Words the Mermaid ER lexer (10.9 and 11) reads as keywords outside an entity block,
/// compared case-insensitively: an entity named like one of them gets a trailing `_` in its
/// identifier (its alias still shows the real name).
const RESERVED_ENTITY_WORDS: &[&str] = &[
    "accdescr",
    "acctitle",
    "class",
    "classdef",
    "direction",
    "end",
    "erdiagram",
    "many",
    "o",
    "one",
    "only",
    "optionally",
    "style",
    "subgraph",
    "title",
    "to",
    "u",
    "zero",
];

/// Inside an entity block only the key markers are keywords.
const RESERVED_ATTRIBUTE_WORDS: &[&str] = &["fk", "pk", "uk"];

/// One `erDiagram`: a whole group, or one part of a group that was too large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagram {
    /// The group name, with `.1`, `.2`… appended when the group was cut into parts.
    pub name: String,
    /// The name of the group from [`crate::group`] that the diagram draws.
    pub group: String,
    /// The schema of the group.
    pub schema: String,
    /// 1-based part number and the number of parts of the group (1 and 1 when not cut).
    pub part: usize,
    pub parts: usize,
    /// The tables drawn with their columns, in drawing order.
    pub tables: Vec<QualifiedName>,
    /// The file name under `mermaid/`: the name with characters other than ASCII letters,
    /// digits, `.`, `_` and `-` replaced by `_`, made unique ignoring case.
    pub file_name: String,
    /// The diagram, starting with `erDiagram` and ending in a newline.
    pub text: String,
}

/// Renders one `mermaid/<group>.mmd` file per diagram.
pub fn render(schema: &Schema, options: &Options) -> Result<Vec<Document>, Error> {
    Ok(diagrams(schema, options)
        .into_iter()
        .map(|diagram| Document::new(format!("mermaid/{}", diagram.file_name), diagram.text))
        .collect())
}

/// Builds the diagrams of every group, each within Mermaid's default limits.
pub fn diagrams(schema: &Schema, options: &Options) -> Vec<Diagram> {
    let tables: BTreeMap<(&str, &str), &Table> = schema
        .tables
        .iter()
        .map(|table| ((table.schema.as_str(), table.name.as_str()), table))
        .collect();
    let mut names_by_schema: BTreeMap<String, Names> = BTreeMap::new();
    let mut file_names = BTreeSet::new();
    let mut diagrams = Vec::new();

    for group in group::groups(schema, options.max_diagram_tables) {
        let names = names_by_schema
            .entry(group.schema.clone())
            .or_insert_with(|| Names::new(schema, &group.schema));
        let members: Vec<&Table> = group
            .tables
            .iter()
            .filter_map(|name| tables.get(&(name.schema.as_str(), name.name.as_str())).copied())
            .collect();

        let parts = split(&members, names);
        let count = parts.len();
        for (index, part) in parts.into_iter().enumerate() {
            let name = part_name(&group, index, count);
            let file_name = text::unique_file_name(&name, "mmd", &mut file_names);
            diagrams.push(Diagram {
                name,
                group: group.name.clone(),
                schema: group.schema.clone(),
                part: index + 1,
                parts: count,
                tables: part.iter().map(|table| table.qualified_name()).collect(),
                file_name,
                text: render_part(&part, names),
            });
        }
    }
    diagrams
}

fn part_name(group: &Group, index: usize, count: usize) -> String {
    if count == 1 {
        group.name.clone()
    } else {
        format!("{}.{}", group.name, index + 1)
    }
}

/// How much of a table a diagram shows. Only a table too large for a diagram of its own
/// gets less than everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Detail {
    Full,
    /// Only key columns.
    KeysOnly,
    /// No columns at all.
    NameOnly,
}

/// Cuts a group's tables into runs whose diagrams stay within the limits. The size of a
/// candidate part is over-estimated, because a table referenced before it joins the part is
/// also counted once as a bare entity. So a finished part exceeds the budget only when it
/// contains a single table, which [`render_part`] then shows with less detail.
fn split<'a>(members: &[&'a Table], names: &Names) -> Vec<Vec<&'a Table>> {
    let mut parts = Vec::new();
    let mut current: Vec<&Table> = Vec::new();
    let mut in_part: BTreeSet<QualifiedName> = BTreeSet::new();
    let mut size = units("erDiagram\n");
    let mut edges = 0;

    for &table in members {
        let entity = units(&entity_text(table, names, Detail::Full));
        let relations: Vec<String> = table
            .foreign_keys
            .iter()
            .map(|key| relation_line(table, key, names))
            .collect();
        let relation_size: usize = relations.iter().map(|line| units(line)).sum();
        let bare = |in_part: &BTreeSet<QualifiedName>| -> usize {
            let targets: BTreeSet<&QualifiedName> = table
                .foreign_keys
                .iter()
                .map(|key| &key.referenced_table)
                .collect();
            targets
                .into_iter()
                .filter(|target| !in_part.contains(*target) && **target != table.qualified_name())
                .map(|target| units(&bare_entity_text(target, names)))
                .sum()
        };

        let cost = entity + relation_size + bare(&in_part);
        if !current.is_empty() && (size + cost > TEXT_BUDGET || edges + relations.len() > MAX_EDGES) {
            parts.push(std::mem::take(&mut current));
            in_part.clear();
            size = units("erDiagram\n");
            edges = 0;
        }

        size += entity + relation_size + bare(&in_part);
        edges += relations.len();
        in_part.insert(table.qualified_name());
        for key in &table.foreign_keys {
            in_part.insert(key.referenced_table.clone());
        }
        current.push(table);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Renders one part. A part of one table that is still too large is rendered with less
/// detail, step by step, and its relationships are capped at the limits.
fn render_part(tables: &[&Table], names: &Names) -> String {
    let mut last = String::new();
    for detail in [Detail::Full, Detail::KeysOnly, Detail::NameOnly] {
        last = render_with(tables, names, detail);
        if units(&last) <= TEXT_BUDGET {
            return last;
        }
    }
    last
}

fn render_with(tables: &[&Table], names: &Names, detail: Detail) -> String {
    let members: BTreeSet<QualifiedName> = tables.iter().map(|table| table.qualified_name()).collect();
    let mut text = String::from("erDiagram\n");
    for table in tables {
        text.push_str(&entity_text(table, names, detail));
    }

    // Referenced tables outside this diagram appear without columns so the edge is drawn.
    let outside: BTreeSet<&QualifiedName> = tables
        .iter()
        .flat_map(|table| table.foreign_keys.iter().map(|key| &key.referenced_table))
        .filter(|target| !members.contains(*target))
        .collect();
    for target in outside {
        text.push_str(&bare_entity_text(target, names));
    }

    let relations: Vec<String> = tables
        .iter()
        .flat_map(|table| {
            table
                .foreign_keys
                .iter()
                .map(|key| relation_line(table, key, names))
        })
        .collect();
    let mut size = units(&text);
    for (drawn, line) in relations.iter().enumerate() {
        // Only a single table with hundreds of foreign keys gets here; the split keeps every
        // other part within both limits.
        if drawn == MAX_EDGES || size + units(line) > TEXT_BUDGET {
            text.push_str(&format!(
                "  %% {} more relationships left out to stay within Mermaid's limits\n",
                relations.len() - drawn
            ));
            break;
        }
        size += units(line);
        text.push_str(line);
    }
    text
}

fn entity_text(table: &Table, names: &Names, detail: Detail) -> String {
    let head = names.entity(&table.qualified_name());
    if table.columns.is_empty() || detail == Detail::NameOnly {
        let mut text = format!("  {head}\n");
        if !table.columns.is_empty() {
            text.push_str(&format!(
                "  %% {} columns left out to stay within Mermaid's limits\n",
                table.columns.len()
            ));
        }
        return text;
    }

    let mut text = format!("  {head} {{\n");
    let mut left_out = 0;
    for column in &table.columns {
        let markers = key_markers(table, &column.name);
        if detail == Detail::KeysOnly && markers.is_empty() {
            left_out += 1;
            continue;
        }
        text.push_str(&attribute_line(column, &markers));
    }
    if left_out > 0 {
        text.push_str(&format!(
            "    %% {left_out} columns without keys left out to stay within Mermaid's limits\n"
        ));
    }
    text.push_str("  }\n");
    text
}

fn key_markers(table: &Table, column: &str) -> Vec<&'static str> {
    let mut markers = Vec::new();
    if table.is_primary_key_column(column) {
        markers.push("PK");
    }
    if table.is_foreign_key_column(column) {
        markers.push("FK");
    }
    if table.is_unique_column(column) && !table.is_primary_key_column(column) {
        markers.push("UK");
    }
    markers
}

fn attribute_line(column: &Column, markers: &[&str]) -> String {
    // Mermaid needs a type word. A SQLite column declared without a type (BLOB affinity)
    // stores every value as given, so `any` describes it without a note.
    let untyped = column.data_type.trim().is_empty();
    let type_word = if untyped {
        "any".to_string()
    } else {
        word(&column.data_type, WordKind::Type)
    };
    let name_word = word(&column.name, WordKind::Attribute);

    let mut notes = Vec::new();
    if name_word != column.name {
        notes.push(format!("name: {}", column.name));
    }
    if type_word != column.data_type && !untyped {
        notes.push(column.data_type.clone());
    }

    let mut line = format!("    {type_word} {name_word}");
    if !markers.is_empty() {
        line.push(' ');
        line.push_str(&markers.join(", "));
    }
    if !notes.is_empty() {
        line.push_str(&format!(" \"{}\"", quoted_text(&notes.join("; "))));
    }
    line.push('\n');
    line
}

fn bare_entity_text(name: &QualifiedName, names: &Names) -> String {
    format!("  {}\n", names.entity(name))
}

/// Formats one relationship per foreign key, from the referencing table to the referenced
/// one. The referencing side is `}o` (zero or more), or `|o` (zero or one) when the columns
/// are unique. The referenced side is `||` (one), or `o|` (zero or one) when a column is
/// nullable. The line is solid when the columns are part of the referencing primary key.
fn relation_line(table: &Table, key: &ForeignKey, names: &Names) -> String {
    let from = names.id(&table.qualified_name());
    let to = names.id(&key.referenced_table);
    let near = if keys::is_unique(table, key) { "|o" } else { "}o" };
    let far = if keys::is_optional(table, key) { "o|" } else { "||" };
    let line = if keys::is_identifying(table, key) {
        "--"
    } else {
        ".."
    };
    let label = relation_label(key, names.referenced_primary_key(&key.referenced_table));
    format!("  {from} {near}{line}{far} {to} : \"{}\"\n", quoted_text(&label))
}

/// Names the referencing columns, and the referenced ones too unless they are the
/// referenced table's primary key.
fn relation_label(key: &ForeignKey, referenced_primary_key: Option<&[String]>) -> String {
    let columns = key.columns.join(", ");
    if referenced_primary_key == Some(key.referenced_columns.as_slice()) {
        columns
    } else {
        format!("{columns} → {}", key.referenced_columns.join(", "))
    }
}

/// Escapes text for a double-quoted Mermaid string. Mermaid turns `#name;` and `#123;` into
/// HTML entities, so characters its lexer stops at or switches state on (`"`, `%`, `\`,
/// `` ` ``, `~`) and characters its HTML labels would read as markup (`<`, `>`, `&`) are
/// written as entity codes, and `#` itself too. A line break becomes a space. The word `direction` gets its first letter as a code
/// because the lexer reads `direction TB` anywhere on a line as a layout statement.
pub fn quoted_text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let chars: Vec<char> = value.chars().collect();
    let mut position = 0;
    while position < chars.len() {
        let c = chars[position];
        match c {
            '"' => escaped.push_str("#quot;"),
            '#' => escaped.push_str("#35;"),
            '%' => escaped.push_str("#37;"),
            '\\' => escaped.push_str("#92;"),
            '<' => escaped.push_str("#lt;"),
            '>' => escaped.push_str("#gt;"),
            '&' => escaped.push_str("#amp;"),
            '`' => escaped.push_str("#96;"),
            '~' => escaped.push_str("#126;"),
            '\r' => {
                if chars.get(position + 1) == Some(&'\n') {
                    position += 1;
                }
                escaped.push(' ');
            }
            '\n' => escaped.push(' '),
            'd' | 'D' if starts_word(&chars, position, "direction") => {
                escaped.push_str(&format!("#{};", u32::from(c)));
            }
            other => escaped.push(other),
        }
        position += 1;
    }
    escaped
}

fn starts_word(chars: &[char], position: usize, word: &str) -> bool {
    let length = word.chars().count();
    chars.len() >= position + length
        && chars[position..position + length]
            .iter()
            .zip(word.chars())
            .all(|(a, b)| a.eq_ignore_ascii_case(&b))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WordKind {
    Type,
    Attribute,
    Entity,
}

/// Maps text to a word Mermaid 10 and 11 accept: ASCII letters, digits and `_` (attribute
/// names may also keep `-`), not starting with a digit and not a keyword. Text that is
/// already such a word is returned unchanged.
fn word(text: &str, kind: WordKind) -> String {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == '_' || (c == '-' && kind == WordKind::Attribute);
    let reserved = match kind {
        WordKind::Entity => RESERVED_ENTITY_WORDS,
        WordKind::Type | WordKind::Attribute => RESERVED_ATTRIBUTE_WORDS,
    };
    let is_reserved = |word: &str| reserved.contains(&word.to_ascii_lowercase().as_str());
    let starts_well = |word: &str| word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');

    if starts_well(text) && text.chars().all(allowed) && !is_reserved(text) {
        return text.to_string();
    }

    let mut mapped: String = if kind == WordKind::Type {
        // `varchar(50)[]` reads better as `varchar_50_array` than as `varchar_50___`.
        let source = text.replace("[]", " array");
        let parts: Vec<String> = source
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|part| !part.is_empty())
            .map(str::to_string)
            .collect();
        parts.join("_")
    } else {
        text.chars().map(|c| if allowed(c) { c } else { '_' }).collect()
    };
    if !starts_well(&mapped) {
        mapped.insert_str(0, if kind == WordKind::Type { "type_" } else { "x_" });
    }
    if is_reserved(&mapped) {
        mapped.push('_');
    }
    mapped
}

/// UTF-16 code units, the unit of Mermaid's `maxTextSize` (JavaScript's `String.length`).
fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Entity identifiers and display names for the diagrams of one schema's groups. They are
/// fixed for every table of the model and every referenced table, so a table has the same
/// identifier in every part and the size of a part is known before it is assembled.
struct Names {
    entities: BTreeMap<QualifiedName, Entity>,
}

struct Entity {
    id: String,
    display: String,
    primary_key: Option<Vec<String>>,
}

impl Names {
    fn new(schema: &Schema, home: &str) -> Names {
        let mut all: BTreeMap<QualifiedName, Option<&Table>> = BTreeMap::new();
        for table in &schema.tables {
            all.insert(table.qualified_name(), Some(table));
        }
        for table in &schema.tables {
            for key in &table.foreign_keys {
                all.entry(key.referenced_table.clone()).or_insert(None);
            }
        }

        let display = |name: &QualifiedName| {
            if name.schema == home {
                name.name.clone()
            } else {
                name.to_string()
            }
        };
        let base_id = |name: &QualifiedName| {
            if name.schema == home {
                word(&name.name, WordKind::Entity)
            } else {
                let schema = word(&name.schema, WordKind::Entity);
                word(&format!("{schema}__{}", name.name), WordKind::Entity)
            }
        };

        // Names that are already identifiers keep them; mapped names come second, so a
        // mapped `a-b` never takes `a_b` from a table really called `a_b`.
        let mut taken = BTreeSet::new();
        let mut ids = BTreeMap::new();
        for name in all.keys() {
            let id = base_id(name);
            if id == display(name) && taken.insert(id.clone()) {
                ids.insert(name.clone(), id);
            }
        }
        for name in all.keys() {
            if ids.contains_key(name) {
                continue;
            }
            let base = base_id(name);
            let mut id = base.clone();
            let mut number = 2;
            while !taken.insert(id.clone()) {
                id = format!("{base}_{number}");
                number += 1;
            }
            ids.insert(name.clone(), id);
        }

        let entities = all
            .into_iter()
            .map(|(name, table)| {
                let entity = Entity {
                    id: ids[&name].clone(),
                    display: display(&name),
                    primary_key: table
                        .and_then(|t| t.primary_key.as_ref())
                        .map(|pk| pk.columns.clone()),
                };
                (name, entity)
            })
            .collect();
        Names { entities }
    }

    fn id(&self, name: &QualifiedName) -> &str {
        &self.entities[name].id
    }

    /// Formats the identifier, with the alias that shows the real name when they differ.
    fn entity(&self, name: &QualifiedName) -> String {
        let entity = &self.entities[name];
        if entity.id == entity.display {
            entity.id.clone()
        } else {
            format!("{}[\"{}\"]", entity.id, quoted_text(&entity.display))
        }
    }

    fn referenced_primary_key(&self, name: &QualifiedName) -> Option<&[String]> {
        self.entities[name].primary_key.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_pass_through() {
        assert_eq!(word("integer", WordKind::Type), "integer");
        assert_eq!(word("user_id", WordKind::Attribute), "user_id");
        assert_eq!(word("hyphen-column", WordKind::Attribute), "hyphen-column");
        assert_eq!(word("CamelCaseTable", WordKind::Entity), "CamelCaseTable");
    }

    #[test]
    fn types_become_one_word() {
        assert_eq!(
            word("character varying(50)[]", WordKind::Type),
            "character_varying_50_array"
        );
        assert_eq!(
            word("timestamp with time zone", WordKind::Type),
            "timestamp_with_time_zone"
        );
        assert_eq!(word("numeric(12,2)", WordKind::Type), "numeric_12_2");
        assert_eq!(word("\"MyType\"", WordKind::Type), "MyType");
        assert_eq!(word("vector(1536)", WordKind::Type), "vector_1536");
        assert_eq!(word("2d", WordKind::Type), "type_2d");
    }

    #[test]
    fn names_avoid_keywords() {
        assert_eq!(word("pk", WordKind::Attribute), "pk_");
        assert_eq!(word("UK", WordKind::Type), "UK_");
        assert_eq!(word("title", WordKind::Attribute), "title");
        assert_eq!(word("one", WordKind::Entity), "one_");
        assert_eq!(word("End", WordKind::Entity), "End_");
        assert_eq!(word("hyphen-table", WordKind::Entity), "hyphen_table");
        assert_eq!(word("-x", WordKind::Attribute), "x_-x");
        assert_eq!(word("a b", WordKind::Attribute), "a_b");
    }

    #[test]
    fn quoted_text_uses_entity_codes() {
        assert_eq!(
            quoted_text("Invoices issued.\n\nOne row per invoice.\r\nAmounts in cents.\rLegacy | note."),
            "Invoices issued.  One row per invoice. Amounts in cents. Legacy | note."
        );
        assert_eq!(
            quoted_text("say \"hi\" #1 100% a\\b"),
            "say #quot;hi#quot; #35;1 100#37; a#92;b"
        );
        assert_eq!(quoted_text("<b> & c"), "#lt;b#gt; #amp; c");
        assert_eq!(quoted_text("Direction TB"), "#68;irection TB");
        assert_eq!(
            quoted_text("Compare with `upper(code)`; legacy values may contain | or *"),
            "Compare with #96;upper(code)#96;; legacy values may contain | or *"
        );
        assert_eq!(quoted_text("a ~ b"), "a #126; b");
    }

    #[test]
    fn label_names_referenced_columns_unless_primary_key() {
        let key = ForeignKey {
            name: "city_country_iso2_fkey".into(),
            columns: vec!["country_iso2".into()],
            referenced_table: QualifiedName::new("public", "country"),
            referenced_columns: vec!["iso2".into()],
            on_delete: underpin_schema::ForeignKeyAction::NoAction,
            on_update: underpin_schema::ForeignKeyAction::NoAction,
            deferrable: false,
            initially_deferred: false,
            definition: String::new(),
            comment: None,
        };
        let id = vec!["id".to_string()];
        assert_eq!(relation_label(&key, Some(&id)), "country_iso2 → iso2");
        let iso2 = vec!["iso2".to_string()];
        assert_eq!(relation_label(&key, Some(&iso2)), "country_iso2");
    }
}
