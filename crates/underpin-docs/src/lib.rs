//! Documents rendered from an [`underpin_schema::Schema`]: Markdown with Mermaid ER diagrams,
//! Mermaid files, DBML, DOT, SVG laid out here, a self-contained HTML page and tbls-compatible
//! JSON. Rendering is pure and deterministic: the same model and options give the same bytes.

use std::path::PathBuf;

use underpin_schema::Schema;

pub mod dbml;
pub mod dot;
pub mod group;
pub mod html;
pub mod markdown;
pub mod mermaid;
pub mod svg;
pub mod tbls;

mod keys;
mod text;

/// An output format of `underpin docs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Markdown,
    Dbml,
    Mermaid,
    Dot,
    Svg,
    Html,
    Json,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Markdown,
        Format::Dbml,
        Format::Mermaid,
        Format::Dot,
        Format::Svg,
        Format::Html,
        Format::Json,
    ];

    /// Returns the name used on the command line and in `underpin.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Dbml => "dbml",
            Format::Mermaid => "mermaid",
            Format::Dot => "dot",
            Format::Svg => "svg",
            Format::Html => "html",
            Format::Json => "json",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == name || (name == "markdown" && *format == Format::Markdown))
    }
}

/// Settings shared by the renderers.
#[derive(Debug, Clone)]
pub struct Options {
    /// The document title: the first heading in Markdown, the HTML page title, the DBML
    /// project name.
    pub title: String,
    /// A folder whose templates replace the built-in ones by file name (Markdown only).
    pub template_dir: Option<PathBuf>,
    /// The maximum number of tables one diagram draws before a schema is split into clusters.
    pub max_diagram_tables: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: "Data model".to_string(),
            template_dir: None,
            max_diagram_tables: 30,
        }
    }
}

/// One generated file: its path relative to the output folder, with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub path: String,
    pub contents: String,
}

impl Document {
    pub fn new(path: impl Into<String>, contents: impl Into<String>) -> Self {
        Document {
            path: path.into(),
            contents: contents.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user template that does not parse or fails to render.
    #[error("template {path}: {message}")]
    Template { path: String, message: String },
    #[error("cannot read template folder {path}: {message}")]
    TemplateDir { path: String, message: String },
}

/// Renders every requested format, in the order of [`Format::ALL`], documents of one format in
/// path order.
pub fn render(schema: &Schema, formats: &[Format], options: &Options) -> Result<Vec<Document>, Error> {
    let mut documents = Vec::new();
    for format in Format::ALL {
        if !formats.contains(&format) {
            continue;
        }
        let mut rendered = match format {
            Format::Markdown => markdown::render(schema, options)?,
            Format::Dbml => dbml::render(schema, options)?,
            Format::Mermaid => mermaid::render(schema, options)?,
            Format::Dot => dot::render(schema, options)?,
            Format::Svg => svg::render(schema, options)?,
            Format::Html => html::render(schema, options, formats.contains(&Format::Svg))?,
            Format::Json => tbls::render(schema, options)?,
        };
        rendered.sort_by(|a, b| a.path.cmp(&b.path));
        documents.extend(rendered);
    }
    Ok(documents)
}
