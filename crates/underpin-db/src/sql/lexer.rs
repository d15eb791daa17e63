//! Single-pass tokenizer over the bytes of a SQL script.
//!
//! The rules follow the PostgreSQL 15 scanner (`src/backend/parser/scan.l`, which psql's
//! `psqlscan.l` mirrors) and SQLite's `tokenize.c`, as far as they decide where a token ends.
//! Token values are never decoded, so lexing allocates nothing. Every token boundary falls on
//! an ASCII byte or the end of input, so slicing the source `str` at a boundary never panics.

use super::Dialect;

/// Kind of a token, as fine-grained as statement splitting and classification need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Whitespace,
    /// `--` up to, not including, the line break.
    LineComment,
    BlockComment,
    /// A `/*` comment whose closing `*/` is missing, so it runs to the end of input.
    UnterminatedBlockComment,
    /// An unquoted identifier or keyword.
    Word,
    /// `"…"` and `U&"…"`, plus `[…]` and `` `…` `` in SQLite.
    QuotedIdentifier,
    /// Any single-quoted literal: `'…'`, `E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`.
    String,
    /// `$$…$$` or `$tag$…$tag$` (PostgreSQL only).
    DollarString,
    Number,
    /// `$1` in PostgreSQL, `$name` in SQLite.
    Parameter,
    Semicolon,
    OpenParen,
    CloseParen,
    /// Operators and punctuation, one byte each.
    Other,
}

/// One token: its kind and its byte range in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// Returns whether the token is whitespace or a complete comment. An unterminated block
    /// comment is not trivia, so the statement that contains it reaches the server, which
    /// reports it, instead of being dropped without a word.
    pub(crate) fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// Returns the token's bytes within `source`.
    pub(crate) fn bytes<'a>(&self, source: &'a [u8]) -> &'a [u8] {
        &source[self.start..self.end]
    }

    /// Returns whether the token is the unquoted word `keyword`, ignoring ASCII case.
    pub(crate) fn is_keyword(&self, source: &[u8], keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.bytes(source).eq_ignore_ascii_case(keyword.as_bytes())
    }
}

/// Iterator over all tokens of a script, trivia included.
pub(crate) struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    dialect: Dialect,
    /// Set by a scanner that reaches the end of input without the token's closing quote.
    ran_out: std::cell::Cell<bool>,
    /// The last token that was never closed, so it runs to the end of input.
    unclosed: Option<Token>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(source: &'a str, dialect: Dialect) -> Self {
        Lexer {
            bytes: source.as_bytes(),
            pos: 0,
            dialect,
            ran_out: std::cell::Cell::new(false),
            unclosed: None,
        }
    }

    /// Returns the token that was never closed (a literal, quoted identifier, dollar-quoted
    /// body or block comment), once the iterator has reached it.
    pub(crate) fn unclosed(&self) -> Option<Token> {
        self.unclosed
    }

    /// Notes that a scanner ran out of input before the closing quote, and returns the end.
    fn end_of_input(&self) -> usize {
        self.ran_out.set(true);
        self.bytes.len()
    }

    fn peek(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    fn is_postgres(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// Scans the token that starts at `start`, returning its kind and end offset.
    fn scan_token(&self, start: usize) -> (TokenKind, usize) {
        let byte = self.bytes[start];
        let next = self.peek(start + 1);
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => self.scan_whitespace(start),
            b'-' if next == Some(b'-') => (TokenKind::LineComment, self.line_end(start + 2)),
            b'/' if next == Some(b'*') => self.scan_block_comment(start + 2),
            b'\'' => (TokenKind::String, self.scan_string(start + 1, false)),
            b'"' => (TokenKind::QuotedIdentifier, self.scan_delimited(start + 1, b'"')),
            b'[' if !self.is_postgres() => (TokenKind::QuotedIdentifier, self.scan_bracket(start)),
            b'`' if !self.is_postgres() => {
                (TokenKind::QuotedIdentifier, self.scan_delimited(start + 1, b'`'))
            }
            b'$' => self.scan_dollar(start),
            b';' => (TokenKind::Semicolon, start + 1),
            b'(' => (TokenKind::OpenParen, start + 1),
            b')' => (TokenKind::CloseParen, start + 1),
            b'0'..=b'9' => (TokenKind::Number, self.scan_number(start)),
            _ if is_identifier_start(byte) => self.scan_word_or_prefixed(start),
            _ => (TokenKind::Other, start + 1),
        }
    }

    fn scan_whitespace(&self, start: usize) -> (TokenKind, usize) {
        let length = self.bytes[start..]
            .iter()
            .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
            .count();
        (TokenKind::Whitespace, start + length)
    }

    /// Returns the offset of the line break that ends a `--` comment. PostgreSQL ends such a
    /// comment at `\n` or `\r`, SQLite at `\n` only.
    fn line_end(&self, from: usize) -> usize {
        let postgres = self.is_postgres();
        let rest = &self.bytes[from..];
        let length = rest
            .iter()
            .position(|&b| b == b'\n' || (postgres && b == b'\r'))
            .unwrap_or(rest.len());
        from + length
    }

    /// Scans a block comment whose `/*` ends just before `from`. PostgreSQL nests block
    /// comments, SQLite ends one at the first `*/`.
    fn scan_block_comment(&self, from: usize) -> (TokenKind, usize) {
        let nested = self.is_postgres();
        let mut depth = 1usize;
        let mut i = from;
        while i + 1 < self.bytes.len() {
            match (self.bytes[i], self.bytes[i + 1]) {
                (b'*', b'/') => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return (TokenKind::BlockComment, i);
                    }
                }
                (b'/', b'*') if nested => {
                    depth += 1;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        (TokenKind::UnterminatedBlockComment, self.bytes.len())
    }

    /// Scans a single-quoted literal whose opening quote ends just before `from`, returning
    /// the offset after its closing quote (or the end of input). `''` is a quote inside the
    /// literal. With `backslash_escapes` (PostgreSQL `E'…'`), `\` escapes the next byte.
    fn scan_string(&self, from: usize, backslash_escapes: bool) -> usize {
        let mut i = from;
        loop {
            let Some(found) = self.bytes[i..]
                .iter()
                .position(|&b| b == b'\'' || (backslash_escapes && b == b'\\'))
            else {
                return self.end_of_input();
            };
            let at = i + found;
            if self.bytes[at] == b'\\' {
                i = (at + 2).min(self.bytes.len());
            } else if self.peek(at + 1) == Some(b'\'') {
                i = at + 2;
            } else if let Some(resume) = self.string_continuation(at + 1, backslash_escapes) {
                i = resume;
            } else {
                return at + 1;
            }
        }
    }

    /// Finds where an `E'…'` literal continues after its closing quote. PostgreSQL joins two
    /// literals separated only by whitespace that contains a line break, and the second part
    /// is scanned in the first part's mode, so `\'` there is still an escaped quote. For other
    /// literals the join does not change where tokens end, so it is ignored.
    ///
    /// psql 15 reads a file line by line and loses the join when the line break ends a line,
    /// so it scans the second part as a plain literal and can cut the statement elsewhere than
    /// the server does. This lexer follows the server.
    fn string_continuation(&self, from: usize, backslash_escapes: bool) -> Option<usize> {
        if !backslash_escapes {
            return None;
        }
        let mut i = from;
        let mut saw_line_break = false;
        loop {
            match self.peek(i)? {
                b' ' | b'\t' | 0x0c => i += 1,
                b'\n' | b'\r' => {
                    saw_line_break = true;
                    i += 1;
                }
                b'-' if self.peek(i + 1) == Some(b'-') => i = self.line_end(i + 2),
                b'\'' if saw_line_break => return Some(i + 1),
                _ => return None,
            }
        }
    }

    /// Scans a quoted identifier closed by `quote`, where a doubled `quote` stands for itself.
    fn scan_delimited(&self, from: usize, quote: u8) -> usize {
        let mut i = from;
        loop {
            let Some(found) = self.bytes[i..].iter().position(|&b| b == quote) else {
                return self.end_of_input();
            };
            let at = i + found;
            if self.peek(at + 1) == Some(quote) {
                i = at + 2;
            } else {
                return at + 1;
            }
        }
    }

    /// Scans a SQLite `[identifier]`, which has no escape for `]`.
    fn scan_bracket(&self, start: usize) -> usize {
        match self.bytes[start..].iter().position(|&b| b == b']') {
            Some(found) => start + found + 1,
            None => self.end_of_input(),
        }
    }

    fn scan_dollar(&self, start: usize) -> (TokenKind, usize) {
        let next = self.peek(start + 1);
        if !self.is_postgres() {
            // SQLite reads `$name` as a bound parameter. A lone `$` is not valid SQL there.
            let end = self.identifier_end(start + 1);
            let kind = if end > start + 1 {
                TokenKind::Parameter
            } else {
                TokenKind::Other
            };
            return (kind, end);
        }
        if next.is_some_and(|b| b.is_ascii_digit()) {
            let digits = self.bytes[start + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            return (TokenKind::Parameter, start + 1 + digits);
        }
        match self.dollar_delimiter_end(start) {
            Some(delimiter_end) => {
                let delimiter = &self.bytes[start..delimiter_end];
                (
                    TokenKind::DollarString,
                    self.dollar_body_end(delimiter_end, delimiter),
                )
            }
            // `$abc` without a closing `$` is no delimiter, and PostgreSQL keeps only the `$`.
            None => (TokenKind::Other, start + 1),
        }
    }

    /// Returns the end of a `$tag$` delimiter starting at `start`, if one starts there. The
    /// tag follows identifier rules but may not contain `$` or start with a digit.
    fn dollar_delimiter_end(&self, start: usize) -> Option<usize> {
        let tag_start = start + 1;
        let first = self.peek(tag_start)?;
        if first == b'$' {
            return Some(tag_start + 1);
        }
        if !is_identifier_start(first) {
            return None;
        }
        let tag_length = self.bytes[tag_start..]
            .iter()
            .take_while(|&&b| is_identifier_start(b) || b.is_ascii_digit())
            .count();
        let close = tag_start + tag_length;
        (self.peek(close) == Some(b'$')).then_some(close + 1)
    }

    /// Returns the offset after the closing `delimiter` of a dollar-quoted body, or the end
    /// of input when the body is never closed.
    fn dollar_body_end(&self, from: usize, delimiter: &[u8]) -> usize {
        let mut i = from;
        while let Some(found) = self.bytes[i..].iter().position(|&b| b == b'$') {
            let at = i + found;
            if self.bytes[at..].starts_with(delimiter) {
                return at + delimiter.len();
            }
            i = at + 1;
        }
        self.end_of_input()
    }

    /// Scans a numeric literal, taking any letters, digits, `_` and `.` glued to it so that
    /// junk such as `1abc` stays one token, as it is one error for the server.
    fn scan_number(&self, start: usize) -> usize {
        let length = self.bytes[start..]
            .iter()
            .take_while(|&&b| b == b'.' || (b != b'$' && is_identifier_continue(b)))
            .count();
        start + length
    }

    fn identifier_end(&self, from: usize) -> usize {
        let length = self.bytes[from..]
            .iter()
            .take_while(|&&b| is_identifier_continue(b))
            .count();
        from + length
    }

    /// Scans a word, or a literal whose prefix looks like the start of a word (`E'`, `B'`,
    /// `X'`, `N'`, `U&'`, `U&"`).
    fn scan_word_or_prefixed(&self, start: usize) -> (TokenKind, usize) {
        let first = self.bytes[start].to_ascii_lowercase();
        let next = self.peek(start + 1);
        let postgres = self.is_postgres();
        if next == Some(b'\'') {
            match first {
                b'e' if postgres => return (TokenKind::String, self.scan_string(start + 2, true)),
                b'b' | b'n' if postgres => return (TokenKind::String, self.scan_string(start + 2, false)),
                b'x' => return (TokenKind::String, self.scan_string(start + 2, false)),
                _ => {}
            }
        }
        if postgres && first == b'u' && next == Some(b'&') {
            match self.peek(start + 2) {
                Some(b'\'') => return (TokenKind::String, self.scan_string(start + 3, false)),
                Some(b'"') => {
                    return (TokenKind::QuotedIdentifier, self.scan_delimited(start + 3, b'"'));
                }
                _ => {}
            }
        }
        (TokenKind::Word, self.identifier_end(start + 1))
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let start = self.pos;
        self.ran_out.set(false);
        let (kind, end) = self.scan_token(start);
        debug_assert!(end > start, "a token must consume input");
        self.pos = end;
        let token = Token { kind, start, end };
        if self.ran_out.get() || kind == TokenKind::UnterminatedBlockComment {
            self.unclosed = Some(token);
        }
        Some(token)
    }
}

/// Returns whether `byte` can start an unquoted identifier. Both dialects accept any non-ASCII
/// byte, so a multi-byte UTF-8 character never splits across tokens.
fn is_identifier_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

/// Returns whether `byte` can continue an unquoted identifier. Both dialects allow `$` there.
fn is_identifier_continue(byte: u8) -> bool {
    is_identifier_start(byte) || byte.is_ascii_digit() || byte == b'$'
}

/// Iterator over the tokens that are not trivia.
pub(crate) struct SignificantTokens<'a>(Lexer<'a>);

impl<'a> SignificantTokens<'a> {
    pub(crate) fn new(source: &'a str, dialect: Dialect) -> Self {
        SignificantTokens(Lexer::new(source, dialect))
    }
}

impl Iterator for SignificantTokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        self.0.by_ref().find(|token| !token.is_trivia())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str, dialect: Dialect) -> Vec<(TokenKind, &str)> {
        Lexer::new(source, dialect)
            .filter(|t| t.kind != TokenKind::Whitespace)
            .map(|t| (t.kind, &source[t.start..t.end]))
            .collect()
    }

    use TokenKind::*;

    #[test]
    fn plain_string_keeps_backslash_ordinary() {
        let tokens = kinds(r"SELECT 'C:\dir\'; x", Dialect::Postgres);
        assert_eq!(tokens[1], (String, r"'C:\dir\'"));
        assert_eq!(tokens[2], (Semicolon, ";"));
    }

    #[test]
    fn escape_string_backslash_quote() {
        let tokens = kinds(r"E'it\'s; fine' e'\\' x", Dialect::Postgres);
        assert_eq!(tokens[0], (String, r"E'it\'s; fine'"));
        assert_eq!(tokens[1], (String, r"e'\\'"));
        assert_eq!(tokens[2], (Word, "x"));
    }

    #[test]
    fn escape_string_continues_after_line_break() {
        let source = "E'a'\n  '\\'; still inside' ;";
        let tokens = kinds(source, Dialect::Postgres);
        assert_eq!(tokens[0], (String, "E'a'\n  '\\'; still inside'"));
        assert_eq!(tokens[1], (Semicolon, ";"));
    }

    #[test]
    fn escape_string_no_continuation_on_same_line() {
        let tokens = kinds("E'a' 'b'", Dialect::Postgres);
        assert_eq!(tokens, vec![(String, "E'a'"), (String, "'b'")]);
    }

    #[test]
    fn doubled_quotes_stay_inside() {
        let tokens = kinds(r#"'it''s' "odd""name" "a;b""#, Dialect::Postgres);
        assert_eq!(
            tokens,
            vec![
                (String, "'it''s'"),
                (QuotedIdentifier, r#""odd""name""#),
                (QuotedIdentifier, r#""a;b""#)
            ]
        );
    }

    #[test]
    fn prefixed_literals() {
        let tokens = kinds(r#"B'01' X'ff' N'n' U&'\0041' U&"d;" u&x"#, Dialect::Postgres);
        assert_eq!(tokens[0], (String, "B'01'"));
        assert_eq!(tokens[1], (String, "X'ff'"));
        assert_eq!(tokens[2], (String, "N'n'"));
        assert_eq!(tokens[3], (String, r"U&'\0041'"));
        assert_eq!(tokens[4], (QuotedIdentifier, r#"U&"d;""#));
        assert_eq!(tokens[5], (Word, "u"));
    }

    #[test]
    fn word_ending_in_e_is_no_escape_string() {
        let tokens = kinds(r"type'a\'", Dialect::Postgres);
        assert_eq!(tokens, vec![(Word, "type"), (String, r"'a\'")]);
    }

    #[test]
    fn dollar_quotes_and_parameters() {
        let tokens = kinds("$$a;b$$ $body$ $$ ; $body$ $1 $é$x$é$", Dialect::Postgres);
        assert_eq!(tokens[0], (DollarString, "$$a;b$$"));
        assert_eq!(tokens[1], (DollarString, "$body$ $$ ; $body$"));
        assert_eq!(tokens[2], (Parameter, "$1"));
        assert_eq!(tokens[3], (DollarString, "$é$x$é$"));
    }

    #[test]
    fn dollar_inside_identifier_is_no_tag() {
        let tokens = kinds("foo$bar$ ;", Dialect::Postgres);
        assert_eq!(tokens, vec![(Word, "foo$bar$"), (Semicolon, ";")]);
    }

    #[test]
    fn dollar_tag_cannot_start_with_digit() {
        let tokens = kinds("$1abc$", Dialect::Postgres);
        assert_eq!(tokens[0], (Parameter, "$1"));
        assert_eq!(tokens[1], (Word, "abc$"));
    }

    #[test]
    fn dollar_body_skips_other_tags() {
        let tokens = kinds("$a$ $ab$ $$ $b$ $a$;", Dialect::Postgres);
        assert_eq!(tokens[0], (DollarString, "$a$ $ab$ $$ $b$ $a$"));
        assert_eq!(tokens[1], (Semicolon, ";"));
    }

    #[test]
    fn unterminated_dollar_body_runs_to_end() {
        let tokens = kinds("$x$ ; $y$", Dialect::Postgres);
        assert_eq!(tokens, vec![(DollarString, "$x$ ; $y$")]);
    }

    #[test]
    fn postgres_block_comments_nest() {
        let tokens = kinds("/* a /* b; */ c' */ x", Dialect::Postgres);
        assert_eq!(tokens, vec![(BlockComment, "/* a /* b; */ c' */"), (Word, "x")]);
    }

    #[test]
    fn sqlite_block_comments_do_not_nest() {
        let tokens = kinds("/* a /* b */ x", Dialect::Sqlite);
        assert_eq!(tokens, vec![(BlockComment, "/* a /* b */"), (Word, "x")]);
    }

    #[test]
    fn unterminated_block_comment_is_not_trivia() {
        let mut lexer = Lexer::new("/* open", Dialect::Postgres);
        let token = lexer.next().unwrap();
        assert_eq!(token.kind, UnterminatedBlockComment);
        assert!(!token.is_trivia());
    }

    #[test]
    fn line_comment_stops_at_line_break() {
        let tokens = kinds("-- don't; split\nx --", Dialect::Postgres);
        assert_eq!(
            tokens,
            vec![(LineComment, "-- don't; split"), (Word, "x"), (LineComment, "--")]
        );
    }

    #[test]
    fn operator_before_comment() {
        let tokens = kinds("1+/*;*/2", Dialect::Postgres);
        assert_eq!(
            tokens,
            vec![
                (Number, "1"),
                (Other, "+"),
                (BlockComment, "/*;*/"),
                (Number, "2")
            ]
        );
    }

    #[test]
    fn sqlite_quoted_identifiers() {
        let tokens = kinds("[a;b] `c``;` \"d\"\"\" $name", Dialect::Sqlite);
        assert_eq!(
            tokens,
            vec![
                (QuotedIdentifier, "[a;b]"),
                (QuotedIdentifier, "`c``;`"),
                (QuotedIdentifier, "\"d\"\"\""),
                (Parameter, "$name"),
            ]
        );
    }

    #[test]
    fn sqlite_has_no_escape_strings() {
        let tokens = kinds(r"E'a\'; x", Dialect::Sqlite);
        assert_eq!(
            tokens,
            vec![(Word, "E"), (String, r"'a\'"), (Semicolon, ";"), (Word, "x")]
        );
    }

    #[test]
    fn non_ascii_words_stay_whole() {
        let source = "é日本 ü";
        let tokens = kinds(source, Dialect::Postgres);
        assert_eq!(tokens, vec![(Word, "é日本"), (Word, "ü")]);
    }
}
