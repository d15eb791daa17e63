//! `DataModel.md`: an overview, the Mermaid ER diagrams of [`crate::mermaid`], an index of
//! tables and one section per top-level table, then enums, domains, composite types,
//! sequences and extensions.
//!
//! A model whose document would pass [`PAGE_BUDGET`] is split: `DataModel.md` keeps the
//! overview, the index of tables and the types, and each diagram group gets a page
//! `DataModel/<group>.md` with its diagrams and table sections.
//!
//! The text comes from minijinja templates compiled into the crate. A file of the same name
//! in [`Options::template_dir`] replaces a built-in one, and any other file there is an error
//! (hidden files and subfolders aside: templates may include files from a subfolder). A
//! failing template is reported by the innermost file and line. `DataModel.md.j2` is the document,
//! and it includes `table.md.j2` per table and `types.md.j2`. `page.md.j2` is a page of a
//! split model, and it includes `table.md.j2` too. Templates get raw
//! text and escape it with the filters registered here, so a user template has the same
//! escaping at hand:
//!
//! | filter | for | escapes |
//! |---|---|---|
//! | `cell` | comments in table cells | line breaks to `<br>`, `\|` |
//! | `code` | types, defaults, definitions | a code span; line breaks to spaces, `\|` |
//! | `codes` | lists of names | `code` on each, joined by `, ` |
//! | `text` | names in running text | Markdown punctuation that would start markup |
//! | `link(page)` | a table reference | a link to its section, relative to `page` |
//! | `fenced("sql")` | view definitions | a fenced block longer than any backtick run |
//! | `block` | a table comment as Markdown | closes an unclosed fence, escapes unclosed HTML |
//! | `summary` | a comment in an index row | keeps the first paragraph, cut to 200 characters |

mod contain;
mod context;

use std::path::{Path, PathBuf};

use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use underpin_schema::Schema;

use crate::{Document, Error, Options, mermaid, text};

/// The document's file name.
pub const FILE_NAME: &str = "DataModel.md";

/// The size in bytes above which the document is split into pages. GitHub's repository
/// limits page states that it renders Markdown files of "generally less than 2 MB" and that complex
/// files may time out. Half of that is a margin chosen here, not a measured limit.
pub const PAGE_BUDGET: usize = 1_000_000;

/// The length, in characters, that the `summary` filter cuts a comment to by default.
const SUMMARY_CHARS: usize = 200;

/// Maximum number of characters of a template line quoted in an error message.
const QUOTED_LINE_CHARS: usize = 120;

/// The template that renders the document.
const MAIN_TEMPLATE: &str = "DataModel.md.j2";
/// The template that renders one page of a split model.
const PAGE_TEMPLATE: &str = "page.md.j2";

/// The built-in templates by file name.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "DataModel.md.j2",
        include_str!("markdown/templates/DataModel.md.j2"),
    ),
    ("page.md.j2", include_str!("markdown/templates/page.md.j2")),
    ("table.md.j2", include_str!("markdown/templates/table.md.j2")),
    ("types.md.j2", include_str!("markdown/templates/types.md.j2")),
];

/// Renders `DataModel.md`, and for a model too large for one document the pages under
/// `DataModel/`.
pub fn render(schema: &Schema, options: &Options) -> Result<Vec<Document>, Error> {
    let template_dir = options.template_dir.as_deref();
    if let Some(dir) = template_dir {
        check_template_dir(dir)?;
    }
    let environment = environment(template_dir.map(Path::to_path_buf));
    let render = |name: &str, context: Value| -> Result<String, Error> {
        let text = environment
            .get_template(name)
            .and_then(|template| template.render(context))
            .map_err(|error| template_error(&error, template_dir))?;
        Ok(finish(text))
    };

    let diagrams = mermaid::diagrams(schema, options);
    let whole = context::build(schema, &options.title, &diagrams, None);
    let document = render(MAIN_TEMPLATE, Value::from_serialize(&whole))?;
    if document.len() <= PAGE_BUDGET {
        return Ok(vec![Document::new(FILE_NAME, document)]);
    }

    let pages = context::Pages::new(schema, options.max_diagram_tables);
    let split = context::build(schema, &options.title, &diagrams, Some(&pages));
    let mut documents = vec![Document::new(
        FILE_NAME,
        render(MAIN_TEMPLATE, Value::from_serialize(&split))?,
    )];
    for page in &pages.list {
        let page_context = context::page_context(&split, page);
        let path = format!("{}/{}", context::PAGE_FOLDER, page.file_name);
        documents.push(Document::new(
            path,
            render(PAGE_TEMPLATE, Value::from_serialize(&page_context))?,
        ));
    }
    Ok(documents)
}

/// Ends a rendered document with exactly one line break.
fn finish(mut text: String) -> String {
    let end = text.trim_end().len();
    text.truncate(end);
    text.push('\n');
    text
}

/// Rejects a template folder that is missing, and a file in it that is not named like a
/// built-in template, which would otherwise be ignored without a word. Hidden files and
/// subfolders are left alone: a user template may include its own files from a subfolder.
fn check_template_dir(dir: &Path) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|error| Error::TemplateDir {
        path: dir.display().to_string(),
        message: format!("{error}. Create the folder or leave the template folder setting out"),
    })?;
    let mut unknown = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        if is_dir || name.starts_with('.') || BUILT_IN.iter().any(|(built_in, _)| *built_in == name) {
            continue;
        }
        unknown.push((name, entry.path()));
    }
    // The same file is reported on every run, whatever order the folder lists it in.
    unknown.sort();
    let Some((name, path)) = unknown.into_iter().next() else {
        return Ok(());
    };

    let near_miss = BUILT_IN
        .iter()
        .find(|(built_in, _)| built_in.eq_ignore_ascii_case(&name));
    let message = match near_miss {
        Some((built_in, _)) => format!("template names are case-sensitive: rename the file to {built_in}"),
        None => {
            let known: Vec<&str> = BUILT_IN.iter().map(|(built_in, _)| *built_in).collect();
            format!(
                "not a template name. Name it after the template it replaces ({}), or move it into a \
                 subfolder if a template includes it",
                known.join(", ")
            )
        }
    };
    Err(Error::Template {
        path: path.display().to_string(),
        message,
    })
}

fn environment(template_dir: Option<PathBuf>) -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_trim_blocks(true);
    environment.set_lstrip_blocks(true);
    environment.set_keep_trailing_newline(true);
    environment.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    environment.set_loader(move |name| load_template(template_dir.as_deref(), name));

    environment.add_filter("cell", |value: Option<String>| {
        value.map(|value| text::markdown_cell(&value)).unwrap_or_default()
    });
    environment.add_filter("code", |value: Option<String>| {
        value.map(|value| text::markdown_code(&value)).unwrap_or_default()
    });
    environment.add_filter("codes", |values: Vec<String>| {
        values
            .iter()
            .map(|value| text::markdown_code(value))
            .collect::<Vec<_>>()
            .join(", ")
    });
    environment.add_filter("text", |value: Option<String>| {
        value.map(|value| text::markdown_text(&value)).unwrap_or_default()
    });
    environment.add_filter("summary", |value: Option<String>, max_chars: Option<usize>| {
        value
            .map(|value| text::summary(&value, max_chars.unwrap_or(SUMMARY_CHARS)))
            .unwrap_or_default()
    });
    environment.add_filter("block", |value: Option<String>| {
        value.map(|value| contain::contain(&value)).unwrap_or_default()
    });
    environment.add_filter("fenced", |value: String, info: String| {
        text::markdown_fenced(&value, &info)
    });
    environment.add_filter("link", link);
    environment
}

/// Loads a template from the user's folder, or else the built-in one of that name.
fn load_template(template_dir: Option<&Path>, name: &str) -> Result<Option<String>, minijinja::Error> {
    if let Some(dir) = template_dir {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(source) => return Ok(Some(source)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("cannot read {}: {error}", path.display()),
                ));
            }
        }
    }
    Ok(BUILT_IN
        .iter()
        .find(|(built_in, _)| *built_in == name)
        .map(|(_, source)| (*source).to_string()))
}

/// Formats a table reference (`name`, and `anchor` and `page` when it has a section) as a
/// link to its section, relative to the page being rendered (`from`, none for the document).
fn link(value: Value, from: Option<String>) -> Result<String, minijinja::Error> {
    let name = value.get_attr("name")?;
    let name = name.as_str().ok_or_else(|| {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "link expects a table reference with a name",
        )
    })?;
    let anchor = value.get_attr("anchor")?;
    let Some(anchor) = anchor.as_str() else {
        return Ok(text::markdown_text(name));
    };
    let page = value.get_attr("page")?;
    let target = match (page.as_str(), from.as_deref()) {
        (None, _) => format!("#{anchor}"),
        (Some(page), Some(from)) if page == from => format!("#{anchor}"),
        (Some(page), Some(_)) => format!("{page}#{anchor}"),
        (Some(page), None) => format!("{}/{page}#{anchor}", context::PAGE_FOLDER),
    };
    Ok(format!("[{}]({target})", text::markdown_text(name)))
}

/// Names the file, line and cause of a failed template: the user's file when one was loaded
/// from the template folder, the built-in one otherwise. An error inside an included template
/// arrives wrapped ("could not render include"), the included template's error as its source,
/// so the innermost template is reported, followed by where it was included from.
fn template_error(error: &minijinja::Error, template_dir: Option<&Path>) -> Error {
    let chain = minijinja_chain(error);
    let cause = chain[chain.len() - 1];
    let located: Vec<&minijinja::Error> = chain
        .iter()
        .copied()
        .filter(|error| error.name().is_some())
        .collect();
    let innermost = located.last().copied().unwrap_or(error);
    let (path, is_user_file) = template_path(innermost.name().unwrap_or(MAIN_TEMPLATE), template_dir);

    let mut message = String::new();
    if let Some(line) = innermost.line() {
        message.push_str(&format!("line {line}: "));
    }
    message.push_str(&cause.kind().to_string());
    if let Some(detail) = cause.detail() {
        message.push_str(&format!(": {detail}"));
    }
    if let Some(source) = std::error::Error::source(cause) {
        message.push_str(&format!(": {source}"));
    }
    // "undefined value" alone does not say which one, so the failed line is quoted.
    if let Some(line) = failed_line(innermost) {
        message.push_str(&format!(" in `{line}`"));
    }

    for outer in located.iter().rev().skip(1) {
        let (outer_path, _) = template_path(outer.name().unwrap_or(MAIN_TEMPLATE), template_dir);
        match outer.line() {
            Some(line) => message.push_str(&format!(" (included from {outer_path}, line {line})")),
            None => message.push_str(&format!(" (included from {outer_path})")),
        }
    }
    if is_user_file {
        message.push_str(". Fix the template, or delete it to use the built-in one");
    }
    Error::Template { path, message }
}

/// Lists the minijinja errors of an error's source chain, outermost first.
fn minijinja_chain(error: &minijinja::Error) -> Vec<&minijinja::Error> {
    let mut chain = vec![error];
    let mut current: &dyn std::error::Error = error;
    while let Some(source) = current.source() {
        if let Some(inner) = source.downcast_ref::<minijinja::Error>() {
            chain.push(inner);
        }
        current = source;
    }
    chain
}

/// Returns the path to report for a template, and whether it is the user's file.
fn template_path(name: &str, template_dir: Option<&Path>) -> (String, bool) {
    let user_file = template_dir
        .map(|dir| dir.join(name))
        .filter(|path| path.is_file());
    match user_file {
        Some(path) => (path.display().to_string(), true),
        None => (format!("built-in {name}"), false),
    }
}

/// Returns the template line an error points at, trimmed and cut to [`QUOTED_LINE_CHARS`].
fn failed_line(error: &minijinja::Error) -> Option<String> {
    let source = error.template_source()?;
    let line = source.lines().nth(error.line()?.checked_sub(1)?)?.trim();
    if line.is_empty() {
        return None;
    }
    let quoted: String = line.chars().take(QUOTED_LINE_CHARS).collect();
    if quoted.len() < line.len() {
        Some(format!("{quoted}…"))
    } else {
        Some(quoted)
    }
}
