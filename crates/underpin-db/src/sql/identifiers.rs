//! Identifiers longer than a byte limit (PostgreSQL truncates names to 63 bytes without error).

use super::lexer::{Lexer, Token, TokenKind};
use super::position::LineCursor;
use super::{Dialect, LongIdentifier};

/// Words that can never name a table or column unquoted: PostgreSQL 15's reserved keywords
/// and its type-and-function-name keywords. No keyword is longer than 17 bytes, so for the
/// usual limit of 63 bytes the list never changes the result.
const RESERVED_WORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Finds identifiers over `max_bytes` as documented at [`super::long_identifiers`].
pub(crate) fn find_long(sql: &str, dialect: Dialect, max_bytes: usize) -> Vec<LongIdentifier> {
    let mut cursor = LineCursor::new(sql);
    let mut found = Vec::new();
    for token in Lexer::new(sql, dialect) {
        // A name's bytes never exceed its token's bytes, so short tokens are skipped unread.
        if token.end - token.start <= max_bytes {
            continue;
        }
        let Some(name) = identifier_name(sql, &token) else {
            continue;
        };
        if name.len() > max_bytes {
            let (line, column) = cursor.position_at(token.start);
            let bytes = name.len();
            found.push(LongIdentifier {
                name,
                bytes,
                line,
                column,
            });
        }
    }
    found
}

/// Returns the name a token stands for, if it is an identifier.
fn identifier_name(sql: &str, token: &Token) -> Option<String> {
    let text = &sql[token.start..token.end];
    match token.kind {
        TokenKind::Word if !is_reserved(text) => Some(text.to_owned()),
        TokenKind::QuotedIdentifier => Some(unquote(text)),
        _ => None,
    }
}

fn is_reserved(word: &str) -> bool {
    RESERVED_WORDS
        .iter()
        .any(|reserved| word.eq_ignore_ascii_case(reserved))
}

/// Removes the quotes of `"…"`, `U&"…"`, `[…]` or `` `…` `` and undoes doubled closing
/// quotes. A missing closing quote is tolerated.
fn unquote(text: &str) -> String {
    let (body, close, unicode) =
        if let Some(rest) = text.strip_prefix("U&\"").or_else(|| text.strip_prefix("u&\"")) {
            (rest, '"', true)
        } else {
            let mut chars = text.chars();
            let close = match chars.next() {
                Some('[') => ']',
                Some(open) => open,
                None => return String::new(),
            };
            (chars.as_str(), close, false)
        };
    let body = body.strip_suffix(close).unwrap_or(body);
    let name = match close {
        ']' => body.to_owned(),
        _ => body.replace(&format!("{close}{close}"), &close.to_string()),
    };
    if unicode {
        decode_unicode_escapes(&name)
    } else {
        name
    }
}

/// Decodes the `\XXXX`, `\+XXXXXX` and `\\` escapes of a `U&"…"` identifier. An escape that
/// does not form a valid character is kept as written.
// NOTE: a `UESCAPE 'c'` clause after the identifier, which changes the escape character, and
// UTF-16 surrogate pairs are not decoded, so such names are measured as written.
fn decode_unicode_escapes(body: &str) -> String {
    let mut decoded = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find('\\') {
        decoded.push_str(&rest[..at]);
        rest = &rest[at..];
        let (character, consumed) = unicode_escape(rest);
        match character {
            Some(character) => decoded.push(character),
            None => decoded.push_str(&rest[..consumed]),
        }
        rest = &rest[consumed..];
    }
    decoded.push_str(rest);
    decoded
}

/// Reads one escape at the start of `text` (which starts with `\`), returning the character
/// and the bytes it spans.
fn unicode_escape(text: &str) -> (Option<char>, usize) {
    if text[1..].starts_with('\\') {
        return (Some('\\'), 2);
    }
    let (digits_start, digit_count) = if text[1..].starts_with('+') {
        (2, 6)
    } else {
        (1, 4)
    };
    let digits = text.get(digits_start..digits_start + digit_count);
    let code = digits
        .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|d| u32::from_str_radix(d, 16).ok())
        .and_then(char::from_u32);
    match code {
        Some(character) => (Some(character), digits_start + digit_count),
        None => (None, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_double_quotes() {
        assert_eq!(unquote(r#""a""b""#), r#"a"b"#);
    }

    #[test]
    fn unquote_unterminated() {
        assert_eq!(unquote(r#""abc"#), "abc");
    }

    #[test]
    fn unquote_sqlite_forms() {
        assert_eq!(unquote("[a]]"), "a]");
        assert_eq!(unquote("`a``b`"), "a`b");
    }

    #[test]
    fn unquote_unicode_escapes() {
        assert_eq!(unquote(r#"U&"d\0061t\+000061""#), "data");
        assert_eq!(unquote(r#"u&"\\x""#), r"\x");
        assert_eq!(unquote(r#"U&"bad\zz""#), r"bad\zz");
    }

    #[test]
    fn reserved_words_are_skipped() {
        let found = find_long("SELECT concurrently FROM tablesample_x", Dialect::Postgres, 3);
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["tablesample_x"]);
    }

    #[test]
    fn strings_and_comments_are_no_identifiers() {
        let long = "x".repeat(70);
        let sql = format!("SELECT '{long}', $${long}$$ /* {long} */ -- {long}\n");
        assert!(find_long(&sql, Dialect::Postgres, 63).is_empty());
    }
}
