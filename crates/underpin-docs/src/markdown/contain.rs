//! Keeps a comment that is inserted into `DataModel.md` as Markdown from changing the
//! document after it, while its Markdown (and balanced HTML) keeps working.
//!
//! Three things in a comment reach past its end:
//! - A fenced code block that is never closed turns the rest of the document into code.
//! - An HTML comment, processing instruction, declaration or CDATA section that is never
//!   closed, and a tag without its `>`, swallow the rest as raw HTML. The browser then reads
//!   `<!--` without `-->` as a comment to the end of the page.
//! - An element that is opened and not closed (`<details>`, `<div>`, `<b>`) contains
//!   everything after it once the browser builds the page, so `<details>` hides the rest.
//!
//! [`contain`] parses the comment with pulldown-cmark (CommonMark, with the GitHub
//! extensions GitHub renders) and finds those spots in the parser's HTML and code block
//! events, so text inside code spans and code blocks is never touched. It closes an unclosed
//! top-level fence at the end, and writes the `<` of an unclosed construct or of an unmatched
//! tag as `&lt;`, which shows `<` both in Markdown text and inside an HTML block.
//!
//! Escaping the `<` that starts an HTML block turns the block back into Markdown, which can
//! change how everything after it parses (the text an unclosed `<!--` swallowed may hold a
//! fence). So one parse applies its fixes only up to the first such one, and the comment is
//! parsed again until nothing is left to fix.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::text;

/// Maximum number of parses of one comment. Each parse that finds something fixes at least one
/// spot, and a comment usually needs two. A comment that still needs work after this many
/// parses (one with more unclosed HTML blocks in a row) is shown as a code block instead.
const MAX_PASSES: usize = 16;

/// Maximum length, in bytes, of the attributes read for one tag.
const MAX_TAG_BYTES: usize = 4_096;

/// HTML elements that have no end tag.
const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Returns the comment with unclosed fences closed and unclosed HTML escaped, line breaks
/// normalized to `\n` and no trailing line break.
pub fn contain(comment: &str) -> String {
    let mut current = text::normalize_line_breaks(comment);
    current.truncate(current.trim_end_matches('\n').len());
    for _ in 0..MAX_PASSES {
        let fixes = find_fixes(&current);
        if fixes.escapes.is_empty() && fixes.closing_fence.is_none() {
            return current;
        }
        current = escape_at(&current, &fixes.escapes);
        if let Some(fence) = fixes.closing_fence {
            current.push('\n');
            current.push_str(&fence);
        }
    }
    text::markdown_fenced(comment, "")
}

/// Fixes found by one parse.
#[derive(Debug, Default)]
struct Fixes {
    /// Byte offsets of `<` characters to write as `&lt;`, ascending.
    escapes: Vec<usize>,
    /// The fence that closes a top-level fenced code block left open at the end.
    closing_fence: Option<String>,
}

fn find_fixes(markdown: &str) -> Fixes {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM;
    let mut scanner = Scanner::default();
    let mut closing_fence = None;
    let mut block: Vec<(usize, &str)> = Vec::new();
    let mut depth = 0usize;

    for (event, range) in Parser::new_ext(markdown, options).into_offset_iter() {
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::List(_) | Tag::Item | Tag::FootnoteDefinition(_)) => {
                depth += 1;
            }
            Event::End(
                TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item | TagEnd::FootnoteDefinition,
            ) => {
                depth = depth.saturating_sub(1);
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) if depth == 0 => {
                closing_fence = unclosed_fence(&markdown[range]);
            }
            // The lines of an HTML block come one event each, without the container markers
            // (`> `) in front of them. They are scanned together, because a comment or a tag
            // can span lines.
            Event::Html(_) => {
                if block.is_empty() {
                    let line = &markdown[range.clone()];
                    scanner
                        .block_starts
                        .push(range.start + line.len() - line.trim_start().len());
                }
                block.push((range.start, &markdown[range]));
            }
            Event::End(TagEnd::HtmlBlock) => scanner.scan(&std::mem::take(&mut block)),
            Event::InlineHtml(_) => scanner.scan(&[(range.start, &markdown[range])]),
            _ => {}
        }
    }
    scanner.scan(&std::mem::take(&mut block));
    scanner.finish(closing_fence)
}

/// Returns the closing fence for a fenced code block (its source from the opening fence on)
/// that has none, or `None` when it is closed.
fn unclosed_fence(block: &str) -> Option<String> {
    let opening = block.trim_start_matches(' ');
    let marker = opening.chars().next()?;
    let length = opening.chars().take_while(|&c| c == marker).count();
    let mut lines = block.trim_end_matches('\n').lines();
    lines.next();
    let closed = lines.next_back().is_some_and(|last| {
        let last = last.trim_start_matches(' ');
        let run = last.chars().take_while(|&c| c == marker).count();
        run >= length && last[run * marker.len_utf8()..].trim().is_empty()
    });
    (!closed).then(|| marker.to_string().repeat(length))
}

/// The HTML of one comment, scanned piece by piece in document order.
#[derive(Debug, Default)]
struct Scanner {
    /// Open tags not yet matched by an end tag: lower-case name and the offset of the `<`,
    /// innermost last.
    open: Vec<(String, usize)>,
    /// Offsets of the `<` of unclosed constructs and of end tags that match nothing.
    escapes: Vec<usize>,
    /// Offsets of the `<` that starts each HTML block.
    block_starts: Vec<usize>,
    /// The last search for each end marker (`-->`, `?>`…): where it started and what it found.
    /// A marker missing after one position is missing after every later one, so the comments a
    /// long unclosed block holds cost one search, not one each.
    searches: Vec<(&'static str, usize, Option<usize>)>,
}

impl Scanner {
    /// Scans pieces of HTML, each a source offset and its text, read as one text. Pushes open
    /// tags, pops them at their end tag, and notes every `<` that starts something left
    /// unclosed or an end tag that matches nothing.
    fn scan(&mut self, pieces: &[(usize, &str)]) {
        if pieces.is_empty() {
            return;
        }
        let joined: String = pieces.iter().map(|(_, piece)| *piece).collect();
        let mut starts = Vec::with_capacity(pieces.len());
        let mut length = 0;
        for (_, piece) in pieces {
            starts.push(length);
            length += piece.len();
        }
        let offset_of = |position: usize| -> usize {
            let piece = starts.partition_point(|&start| start <= position) - 1;
            pieces[piece].0 + (position - starts[piece])
        };

        self.searches.clear();
        let mut position = 0;
        while let Some(found) = joined[position..].find('<') {
            let at = position + found;
            position = at + 1;
            match self.construct(&joined, at) {
                Construct::Text => {}
                Construct::Unclosed => self.escapes.push(offset_of(at)),
                Construct::Complete(length) => position = at + length,
                Construct::Open { name, length } => {
                    if !VOID_ELEMENTS.contains(&name.as_str()) {
                        self.open.push((name, offset_of(at)));
                    }
                    position = at + length;
                }
                Construct::End { name, length } => {
                    match self.open.iter().rposition(|(open, _)| *open == name) {
                        Some(index) => {
                            self.open.remove(index);
                        }
                        None => self.escapes.push(offset_of(at)),
                    }
                    position = at + length;
                }
            }
        }
    }

    /// Returns the fixes to apply now: every escape up to and including the first one that
    /// starts an HTML block. The closing fence comes only when there is no such escape,
    /// because the next parse may read everything after that escape differently.
    fn finish(mut self, closing_fence: Option<String>) -> Fixes {
        self.escapes.extend(self.open.iter().map(|(_, offset)| *offset));
        self.escapes.sort_unstable();
        self.escapes.dedup();
        let structural = self
            .escapes
            .iter()
            .position(|offset| self.block_starts.binary_search(offset).is_ok());
        match structural {
            Some(index) => {
                self.escapes.truncate(index + 1);
                Fixes {
                    escapes: self.escapes,
                    closing_fence: None,
                }
            }
            None => Fixes {
                escapes: self.escapes,
                closing_fence,
            },
        }
    }

    /// Reads the markup that starts at the `<` at `at` in `text`, the way an HTML parser
    /// reads it. The forms are CommonMark's raw HTML (spec 0.31.2, section 6.6).
    fn construct(&mut self, text: &str, at: usize) -> Construct {
        let rest = &text[at..];
        if let Some(after) = rest.strip_prefix("<!--") {
            // `<!-->` and `<!--->` are complete (empty) comments.
            if after.starts_with('>') {
                return Construct::Complete(5);
            }
            if after.starts_with("->") {
                return Construct::Complete(6);
            }
            return self.closed_by(text, at, 4, "-->");
        }
        if rest.starts_with("<?") {
            return self.closed_by(text, at, 2, "?>");
        }
        if rest.starts_with("<![CDATA[") {
            return self.closed_by(text, at, 9, "]]>");
        }
        if rest
            .strip_prefix("<!")
            .is_some_and(|after| after.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            return self.closed_by(text, at, 2, ">");
        }
        tag(rest)
    }

    /// Finds `marker` after the construct's opening (`opening` bytes from `at`).
    fn closed_by(&mut self, text: &str, at: usize, opening: usize, marker: &'static str) -> Construct {
        let from = at + opening;
        let cached = self
            .searches
            .iter()
            .find(|(cached, start, _)| *cached == marker && *start <= from)
            .and_then(|&(_, _, found)| match found {
                None => Some(None),
                Some(end) if end >= from => Some(Some(end)),
                Some(_) => None,
            });
        let found = match cached {
            Some(found) => found,
            None => {
                let found = text
                    .get(from..)
                    .and_then(|rest| rest.find(marker))
                    .map(|end| from + end);
                self.searches.retain(|(cached, _, _)| *cached != marker);
                self.searches.push((marker, from, found));
                found
            }
        };
        match found {
            Some(end) => Construct::Complete(end + marker.len() - at),
            None => Construct::Unclosed,
        }
    }
}

/// The markup that a `<` starts, with its length in bytes where it is complete.
#[derive(Debug, PartialEq, Eq)]
enum Construct {
    /// Not markup: `a < b`, `<3`, an autolink's `<https:`.
    Text,
    /// A comment, processing instruction, declaration, CDATA section or tag without its end.
    Unclosed,
    /// A comment, processing instruction, declaration, CDATA section or self-closing tag.
    Complete(usize),
    Open {
        name: String,
        length: usize,
    },
    End {
        name: String,
        length: usize,
    },
}

/// Reads the tag that starts `text`, which begins with `<`.
fn tag(text: &str) -> Construct {
    let (closing, name_start) = if text.starts_with("</") {
        (true, 2)
    } else {
        (false, 1)
    };
    let name_length = tag_name_length(&text[name_start..]);
    if name_length == 0 {
        return Construct::Text;
    }
    let name = text[name_start..name_start + name_length].to_ascii_lowercase();
    let after_name = name_start + name_length;
    let next = text[after_name..].chars().next();
    if !next.is_none_or(|c| c.is_ascii_whitespace() || c == '>' || (c == '/' && !closing)) {
        // `<a:b` (an autolink) or `<x=` is not a tag.
        return Construct::Text;
    }
    let Some(end) = tag_end(&text[after_name..]) else {
        return Construct::Unclosed;
    };
    let length = after_name + end + 1;
    if closing {
        Construct::End { name, length }
    } else if text[..length - 1].ends_with('/') {
        Construct::Complete(length)
    } else {
        Construct::Open { name, length }
    }
}

/// Returns the length of the tag name at the start of `text`: an ASCII letter, then letters,
/// digits and `-`.
fn tag_name_length(text: &str) -> usize {
    if !text.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return 0;
    }
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(text.len())
}

/// Finds the `>` that ends a tag's attributes, skipping quoted attribute values. Attributes
/// longer than [`MAX_TAG_BYTES`] count as unterminated: escaping such a tag only shows it as
/// text, and the limit keeps a comment full of unterminated quotes from costing time
/// quadratic in its length.
fn tag_end(attributes: &str) -> Option<usize> {
    let mut quote = None;
    for (position, c) in attributes
        .char_indices()
        .take_while(|(position, _)| *position < MAX_TAG_BYTES)
    {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '>') => return Some(position),
            _ => {}
        }
    }
    None
}

/// Writes the `<` at each offset as `&lt;`.
fn escape_at(text: &str, offsets: &[usize]) -> String {
    let mut out = String::with_capacity(text.len() + offsets.len() * 3);
    let mut copied = 0;
    for &offset in offsets {
        debug_assert_eq!(text.as_bytes()[offset], b'<');
        out.push_str(&text[copied..offset]);
        out.push_str("&lt;");
        copied = offset + 1;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the byte range of each fenced code block of `markdown`.
    fn fenced_blocks(markdown: &str) -> Vec<std::ops::Range<usize>> {
        Parser::new(markdown)
            .into_offset_iter()
            .filter_map(|(event, range)| {
                matches!(event, Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_)))).then_some(range)
            })
            .collect()
    }

    /// Appends what the template writes after a comment, and checks that it still parses as a
    /// heading of its own.
    fn assert_contained(comment: &str) -> String {
        let contained = contain(comment);
        let document = format!("{contained}\n\n## After\n");
        let headings: Vec<String> = Parser::new_ext(&document, Options::ENABLE_TABLES)
            .into_offset_iter()
            .filter(|(event, _)| matches!(event, Event::Start(Tag::Heading { .. })))
            .map(|(_, range)| document[range].trim_end().to_string())
            .collect();
        assert!(
            headings.contains(&"## After".to_string()),
            "the heading after {comment:?} (contained as {contained:?}) is lost: {headings:?}"
        );
        contained
    }

    #[test]
    fn plain_markdown_is_unchanged() {
        for comment in [
            "Invoices issued.\n\nOne row per invoice.",
            "Compare with `upper(code)`; *legacy* values may contain | or <",
            "- a\n- b\n\n> quoted",
            "```sql\nSELECT 1;\n```",
            "~~~~\n```\n~~~~",
            "a <b>bold</b> and <br> and <img src=\"x.png\"/> and <!-- note -->",
            "<details>\n<summary>More</summary>\n\nHidden *text*.\n\n</details>",
            "see <https://example.com/a?b=c> and a < b > c",
            "`<details>` in code and\n\n    <!-- indented code",
        ] {
            assert_eq!(assert_contained(comment), comment, "{comment:?} changed");
        }
    }

    #[test]
    fn unclosed_fences_are_closed() {
        assert_eq!(
            assert_contained("Example:\n```sql\nSELECT 1;"),
            "Example:\n```sql\nSELECT 1;\n```"
        );
        assert_eq!(assert_contained("~~~~\ncode\n~~~"), "~~~~\ncode\n~~~\n~~~~");
        assert_eq!(assert_contained("```\n"), "```\n```");
        let contained = assert_contained("  ````\n```\nstill code");
        assert!(contained.ends_with("\n````"), "{contained:?}");
        assert_eq!(fenced_blocks(&contained).len(), 1);
    }

    #[test]
    fn fence_in_list_item_left_alone() {
        let comment = "- item\n\n  ```\n  code";
        assert_eq!(assert_contained(comment), comment);
    }

    #[test]
    fn unclosed_html_comment_is_escaped() {
        assert_eq!(assert_contained("<!-- draft"), "&lt;!-- draft");
        assert_eq!(
            assert_contained("Text.\n\n<!--\n## Not a heading"),
            "Text.\n\n&lt;!--\n## Not a heading"
        );
        assert_eq!(assert_contained("> <!-- quoted"), "> &lt;!-- quoted");
        assert_eq!(assert_contained("<?php\necho 1;"), "&lt;?php\necho 1;");
        assert_eq!(assert_contained("<![CDATA[\nx"), "&lt;![CDATA[\nx");
        assert_eq!(assert_contained("<!DOCTYPE html"), "&lt;!DOCTYPE html");
    }

    #[test]
    fn unclosed_elements_are_escaped() {
        assert_eq!(assert_contained("<details>\nHidden."), "&lt;details>\nHidden.");
        assert_eq!(
            assert_contained("Note: <details> opens here."),
            "Note: &lt;details> opens here."
        );
        assert_eq!(assert_contained("<pre>\n\nx"), "&lt;pre>\n\nx");
        assert_eq!(assert_contained("<div class=\"a\n\nb"), "&lt;div class=\"a\n\nb");
        assert_eq!(assert_contained("a <b>bold"), "a &lt;b>bold");
        assert_eq!(assert_contained("stray </div> end"), "stray &lt;/div> end");
        // Only the inner, unmatched one goes.
        assert_eq!(
            assert_contained("<div>\n<span>\n</div>"),
            "<div>\n&lt;span>\n</div>"
        );
    }

    #[test]
    fn uncovered_markdown_is_checked_again() {
        // The unclosed comment swallowed a fence and a tag; both surface once it is escaped.
        let contained = assert_contained("<!--\n<details>\n\n```\ncode");
        assert_eq!(contained, "&lt;!--\n&lt;details>\n\n```\ncode\n```");
    }

    #[test]
    fn code_uncovered_later_is_not_escaped() {
        // The second `<!--` swallows the rest; once it is escaped, the third is code again.
        assert_eq!(
            assert_contained("```\n<!--\n```\n<!--\n```\n<!--\n```"),
            "```\n<!--\n```\n&lt;!--\n```\n<!--\n```"
        );
    }

    #[test]
    fn too_many_passes_give_code_block() {
        let comment = "<!--\n".repeat(MAX_PASSES + 4);
        let contained = assert_contained(&comment);
        assert!(contained.starts_with("```\n<!--\n"), "{contained:?}");
        assert_eq!(fenced_blocks(&contained).len(), 1);
    }

    #[test]
    fn line_breaks_are_normalized() {
        assert_eq!(assert_contained("a\r\nb\rc\n\n"), "a\nb\nc");
    }

    fn construct(text: &str) -> Construct {
        Scanner::default().construct(text, 0)
    }

    #[test]
    fn construct_reads_html_forms() {
        assert_eq!(construct("<!---->x"), Construct::Complete(7));
        assert_eq!(construct("<!-->"), Construct::Complete(5));
        assert_eq!(construct("<!-- a --> b"), Construct::Complete(10));
        assert_eq!(construct("<? x ?>"), Construct::Complete(7));
        assert_eq!(construct("<!DOCTYPE html>"), Construct::Complete(15));
        assert_eq!(construct("<![CDATA[ x ]]>"), Construct::Complete(15));
        assert_eq!(construct("<br/>"), Construct::Complete(5));
        assert_eq!(
            construct("<a href='>'>"),
            Construct::Open {
                name: "a".into(),
                length: 12
            }
        );
        assert_eq!(
            construct("</DIV >"),
            Construct::End {
                name: "div".into(),
                length: 7
            }
        );
        assert_eq!(construct("<3"), Construct::Text);
        assert_eq!(construct("<https://x>"), Construct::Text);
        assert_eq!(construct("<a"), Construct::Unclosed);
    }
}
