//! Entity-relationship diagrams as SVG, laid out here without Graphviz.
//!
//! One file per diagram group, `svg/<group>.svg`, and when the schema has more top-level
//! tables than one diagram may draw, one neighbourhood diagram per table,
//! `svg/tables/<schema>.<table>.svg`: the table with the tables it references and those that
//! reference it. File names keep plain names and map any other name to a safe, unique stem
//! (see [`file_part`]).

pub mod diagram;
pub mod draw;
pub mod layout;
pub mod text;

use std::collections::BTreeSet;

use underpin_schema::{Schema, Table};

use crate::group::{Group, groups};
use crate::{Document, Error, Options};

use diagram::Catalog;

/// One rendered group diagram, for the HTML page and for `svg/<group>.svg`.
pub struct GroupDiagram {
    pub group: Group,
    /// The path relative to the output folder.
    pub path: String,
    pub svg: String,
}

pub fn render(schema: &Schema, options: &Options) -> Result<Vec<Document>, Error> {
    let catalog = Catalog::new(schema);
    let mut documents: Vec<Document> = group_diagrams(&catalog, options)
        .into_iter()
        .map(|diagram| Document::new(diagram.path, diagram.svg))
        .collect();

    let top_level: Vec<&Table> = schema.top_level_tables().collect();
    // A limit of 0 draws every schema whole, so no table needs a diagram of its own.
    if options.max_diagram_tables > 0 && top_level.len() > options.max_diagram_tables {
        let stems = unique_stems(
            top_level
                .iter()
                .map(|table| vec![table.schema.as_str(), table.name.as_str()]),
        );
        for (table, stem) in top_level.iter().zip(stems) {
            let drawing = draw::draw(&diagram::table_diagram(&catalog, table));
            documents.push(Document::new(format!("svg/tables/{stem}.svg"), drawing.svg));
        }
    }
    Ok(documents)
}

/// Draws every diagram group of the schema.
pub fn group_diagrams(catalog: &Catalog, options: &Options) -> Vec<GroupDiagram> {
    let groups = groups(catalog.schema(), options.max_diagram_tables);
    let stems = unique_stems(groups.iter().map(|group| vec![group.name.as_str()]));
    groups
        .into_iter()
        .zip(stems)
        .map(|(group, stem)| {
            let drawing = draw::draw(&diagram::group_diagram(catalog, &group));
            GroupDiagram {
                group,
                path: format!("svg/{stem}.svg"),
                svg: drawing.svg,
            }
        })
        .collect()
}

/// Maximum bytes of one name part in a file name, so that a whole file name stays well under
/// the 255-byte limit of common file systems.
const MAX_PART_BYTES: usize = 80;

/// Maps one name part to characters safe in file names and URLs on every common system.
///
/// Letters, digits, `_` and `-` are kept; anything else (including `.`, which separates the
/// parts) becomes `_`. A part that had to change, or that Windows reserves as a device name,
/// gets a hash of its original text appended, so that different names stay different.
pub fn file_part(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '_' || character == '-' {
                character
            } else {
                '_'
            }
        })
        .collect();
    let reserved = is_windows_device_name(&safe);
    let changed = safe != name || safe.is_empty() || safe.len() > MAX_PART_BYTES;
    if changed || reserved {
        safe.truncate(MAX_PART_BYTES);
        safe.push('-');
        safe.push_str(&format!("{:08x}", fnv1a(name.as_bytes()) as u32));
    }
    safe
}

fn is_windows_device_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(lower.as_str(), "con" | "prn" | "aux" | "nul")
        || ((lower.starts_with("com") || lower.starts_with("lpt"))
            && lower.len() == 4
            && lower.as_bytes()[3].is_ascii_digit())
}

/// FNV-1a, 64 bits: a fixed, portable hash, so file names do not change between builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// File stems for a list of names (each a list of parts joined by `.`), unique even on file
/// systems that ignore letter case: a stem already taken gets `-2`, `-3`… in input order.
pub fn unique_stems<'a>(names: impl Iterator<Item = Vec<&'a str>>) -> Vec<String> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut stems = Vec::new();
    for parts in names {
        let base = parts
            .iter()
            .map(|part| file_part(part))
            .collect::<Vec<_>>()
            .join(".");
        let mut stem = base.clone();
        let mut number = 2;
        while !taken.insert(stem.to_lowercase()) {
            stem = format!("{base}-{number}");
            number += 1;
        }
        stems.push(stem);
    }
    stems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_part_keeps_plain_names() {
        assert_eq!(file_part("user_roles"), "user_roles");
        assert_eq!(file_part("hyphen-table"), "hyphen-table");
    }

    #[test]
    fn file_part_maps_and_marks_unsafe_names() {
        let mapped = file_part("a/b c");
        assert!(mapped.starts_with("a_b_c-"), "{mapped}");
        assert_ne!(file_part("a.b"), file_part("a_b"));
        assert_ne!(file_part("a/b"), file_part("a\\b"));
        assert!(file_part("").starts_with("-"));
        assert!(file_part("con").starts_with("con-"));
        assert!(file_part(&"x".repeat(300)).len() <= MAX_PART_BYTES + 9);
    }

    #[test]
    fn unique_stems_ignore_case() {
        let stems = unique_stems([vec!["s", "Users"], vec!["s", "users"], vec!["s", "users-2"]].into_iter());
        assert_eq!(stems, vec!["s.Users", "s.users-2", "s.users-2-2"]);
    }

    #[test]
    fn unique_stems_separate_dotted_names() {
        let stems = unique_stems([vec!["a", "b.c"], vec!["a.b", "c"]].into_iter());
        assert_ne!(stems[0], stems[1]);
        assert!(stems.iter().all(|stem| stem.matches('.').count() == 1));
    }
}
