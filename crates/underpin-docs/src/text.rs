//! Escaping for the text formats. Each function escapes only what would break the structure
//! around the text and keeps everything else as written, so Markdown in comments stays
//! Markdown.

/// Turns `\r\n` and lone `\r` into `\n`.
pub fn normalize_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Makes text safe for one cell of a Markdown table: every line break (`\n`, `\r\n`, `\r`)
/// becomes `<br>` and `|` becomes `\|`. Nothing else changes, so backticks, asterisks and
/// links keep working inside the cell.
pub fn markdown_cell(text: &str) -> String {
    let mut cell = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                cell.push_str("<br>");
            }
            '\n' => cell.push_str("<br>"),
            '|' => cell.push_str("\\|"),
            other => cell.push(other),
        }
    }
    cell
}

/// Returns the first paragraph of a comment on one line, for an index, with its lines joined
/// by spaces. A paragraph longer than `max_chars` characters is cut at the last space before
/// that (or at `max_chars` when that space is far back) and gets `…` appended. Later
/// paragraphs are left out without a mark.
pub fn summary(text: &str, max_chars: usize) -> String {
    let text = normalize_line_breaks(text);
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    if joined.chars().count() <= max_chars {
        return joined;
    }

    // One character of the budget goes to the ellipsis.
    let budget = max_chars.saturating_sub(1);
    let cut = joined
        .char_indices()
        .nth(budget)
        .map_or(joined.len(), |(position, _)| position);
    let head = &joined[..cut];
    let at_space = head
        .rfind(' ')
        .filter(|&space| head[..space].chars().count() >= budget / 2)
        .map_or(head, |space| &head[..space]);
    format!("{}…", at_space.trim_end())
}

/// Formats text as a Markdown code span that also fits in a table cell. The fence is longer
/// than any run of backticks inside, line breaks become spaces (a code span cannot hold
/// `<br>`), and `|` is escaped because GitHub splits table cells before it reads code spans.
pub fn markdown_code(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let flat = text.replace("\r\n", " ").replace(['\r', '\n'], " ");
    let fence = "`".repeat(longest_run(&flat, '`') + 1);
    // A space on each side keeps a leading or trailing backtick from joining the fence;
    // Markdown strips one such space from each end.
    let pad = if flat.starts_with('`') || flat.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", flat.replace('|', "\\|"))
}

/// Formats text as a fenced code block with an info string (`sql`): the fence is longer than
/// any run of backticks inside, and line breaks are normalized.
pub fn markdown_fenced(text: &str, info: &str) -> String {
    let body = normalize_line_breaks(text);
    let body = body.trim_end_matches('\n');
    let fence = "`".repeat(longest_run(body, '`').max(2) + 1);
    format!("{fence}{info}\n{body}\n{fence}")
}

/// Escapes a name for Markdown inline text (headings, link text, cells): the characters
/// that start emphasis, code, links, HTML or entities get a backslash, and so does `|`.
/// An `_` between two letters or digits cannot start emphasis on GitHub, so `user_roles`
/// stays as it is.
pub fn markdown_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut escaped = String::with_capacity(text.len());
    for (position, &c) in chars.iter().enumerate() {
        let needs_escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '~' | '|' | '&' | '#' | '!' => true,
            '_' => {
                let before = position.checked_sub(1).map(|p| chars[p]);
                let after = chars.get(position + 1).copied();
                !(before.is_some_and(char::is_alphanumeric) && after.is_some_and(char::is_alphanumeric))
            }
            _ => false,
        };
        if needs_escape {
            escaped.push('\\');
        }
        if c == '\r' || c == '\n' {
            escaped.push(' ');
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Turns text into a lower-case ASCII identifier for anchors: letters and digits are kept,
/// and every other run of characters becomes one `-`.
pub fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let trimmed = slug.trim_matches('-');
    if trimmed.is_empty() {
        "x".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Turns a name into a file name with the given extension: characters other than ASCII
/// letters, digits, `.`, `_` and `-` become `_`, and a number is appended when the name is
/// already in `taken`, compared ignoring case.
pub fn unique_file_name(
    name: &str,
    extension: &str,
    taken: &mut std::collections::BTreeSet<String>,
) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A leading dot would hide the file on Unix.
    let stem = if stem.starts_with('.') {
        format!("_{stem}")
    } else {
        stem
    };
    let mut candidate = stem.clone();
    let mut number = 2;
    // Case-insensitive file systems (macOS, Windows) would merge `Sales` and `sales`.
    while !taken.insert(candidate.to_lowercase()) {
        candidate = format!("{stem}_{number}");
        number += 1;
    }
    format!("{candidate}.{extension}")
}

fn longest_run(text: &str, wanted: char) -> usize {
    let mut longest = 0;
    let mut current = 0;
    for c in text.chars() {
        if c == wanted {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    longest
}

/// Quotes an identifier unless it is lower case letters, digits and `_`, not starting with a
/// digit. NOTE: reserved words such as `user` stay unquoted; the text is for reading.
pub fn sql_identifier(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table comment of the multi-line comment case: `\n`, `\r\n` and `\r` and a pipe.
    const INVOICE_COMMENT: &str =
        "Invoices issued.\n\nOne row per invoice.\r\nAmounts in cents.\rLegacy | note.";

    #[test]
    fn cell_turns_every_line_break_into_br() {
        assert_eq!(
            markdown_cell(INVOICE_COMMENT),
            "Invoices issued.<br><br>One row per invoice.<br>Amounts in cents.<br>Legacy \\| note."
        );
    }

    #[test]
    fn cell_keeps_markdown_and_escapes_pipe() {
        let comment = "Compare with `upper(code)`; legacy values may contain | or *";
        assert_eq!(
            markdown_cell(comment),
            "Compare with `upper(code)`; legacy values may contain \\| or *"
        );
    }

    #[test]
    fn cell_leaves_other_characters_alone() {
        let text = "a <b> & _c_ **d** [e](f) \\ #g";
        assert_eq!(markdown_cell(text), text);
    }

    #[test]
    fn normalize_keeps_paragraphs() {
        assert_eq!(
            normalize_line_breaks(INVOICE_COMMENT),
            "Invoices issued.\n\nOne row per invoice.\nAmounts in cents.\nLegacy | note."
        );
    }

    #[test]
    fn summary_is_the_first_paragraph() {
        assert_eq!(summary(INVOICE_COMMENT, 200), "Invoices issued.");
        assert_eq!(
            summary("\n\nFirst line\r\nsecond line.\n\nMore.", 200),
            "First line second line."
        );
        assert_eq!(summary("Short.", 200), "Short.");
        assert_eq!(summary("", 200), "");
    }

    #[test]
    fn summary_cuts_long_text_at_a_space() {
        let long = "word ".repeat(100);
        let cut = summary(&long, 200);
        assert!(cut.chars().count() <= 200, "{} characters", cut.chars().count());
        assert!(cut.ends_with("word…"), "{cut}");

        let unbroken = "x".repeat(300);
        let cut = summary(&unbroken, 200);
        assert_eq!(cut, format!("{}…", "x".repeat(199)));

        // Characters, not bytes: a cut never splits a multi-byte character.
        let accented = "é".repeat(300);
        assert_eq!(summary(&accented, 10), format!("{}…", "é".repeat(9)));
    }

    #[test]
    fn code_span_fits_in_a_cell() {
        assert_eq!(
            markdown_code("character varying(50)[]"),
            "`character varying(50)[]`"
        );
        assert_eq!(markdown_code("a || b"), "`a \\|\\| b`");
        assert_eq!(markdown_code("x\r\ny"), "`x y`");
        assert_eq!(markdown_code("say `hi`"), "`` say `hi` ``");
        assert_eq!(markdown_code("`x`"), "`` `x` ``");
        assert_eq!(markdown_code(""), "");
    }

    #[test]
    fn fenced_block_outgrows_backticks_inside() {
        assert_eq!(markdown_fenced("SELECT 1;\n", "sql"), "```sql\nSELECT 1;\n```");
        assert_eq!(
            markdown_fenced("a\n````\nb", "sql"),
            "`````sql\na\n````\nb\n`````"
        );
        assert_eq!(markdown_fenced("a\r\nb", ""), "```\na\nb\n```");
    }

    #[test]
    fn text_escapes_structure_only() {
        assert_eq!(markdown_text("sop.user_roles"), "sop.user_roles");
        assert_eq!(markdown_text("hyphen-table"), "hyphen-table");
        assert_eq!(markdown_text("_private"), "\\_private");
        assert_eq!(markdown_text("a*b|c"), "a\\*b\\|c");
        assert_eq!(markdown_text("<x>"), "\\<x\\>");
    }

    #[test]
    fn file_names_are_safe_and_unique() {
        let mut taken = std::collections::BTreeSet::new();
        assert_eq!(unique_file_name("sales", "mmd", &mut taken), "sales.mmd");
        assert_eq!(unique_file_name("Sales", "mmd", &mut taken), "Sales_2.mmd");
        assert_eq!(unique_file_name("a/b c", "md", &mut taken), "a_b_c.md");
        assert_eq!(unique_file_name(".hidden", "md", &mut taken), "_.hidden.md");
    }

    #[test]
    fn slug_is_lower_ascii_with_dashes() {
        assert_eq!(slug("time.hyphenated-table"), "time-hyphenated-table");
        assert_eq!(slug("public.CamelCaseTable"), "public-camelcasetable");
        assert_eq!(slug("résumé"), "r-sum");
        assert_eq!(slug("--"), "x");
    }
}
