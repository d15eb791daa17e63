//! SQL scripts as statements: a lexer that finds where each statement ends, the transaction
//! requirement of a statement, and identifiers that PostgreSQL would truncate.
//!
//! Everything here works on the script text alone, in one pass over its bytes, and never talks
//! to a database.

mod classify;
mod identifiers;
mod lexer;
mod position;
mod split;

/// SQL dialect whose lexical rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement text from its first token through its terminating `;` (if any), comments inside kept.
    pub text: &'a str,
    /// Byte offset of `text` in the input.
    pub start: usize,
    /// 1-based line and column (column in characters) where `text` starts.
    pub line: u32,
    pub column: u32,
}

/// Splits a script into statements. Empty statements and comment/whitespace-only pieces are dropped.
///
/// A `;` inside a string, quoted identifier, dollar-quoted body or comment does not end a
/// statement. For PostgreSQL, neither does a `;` inside parentheses or inside the
/// `BEGIN ATOMIC … END` body of `CREATE [OR REPLACE] FUNCTION|PROCEDURE`, as in psql. For
/// SQLite, a `CREATE TRIGGER … BEGIN … END;` is one statement. An unterminated string, identifier,
/// body or block comment runs to the end of input and so ends up in the last statement, where
/// the server reports it. A statement without a closing `;` ends at its last token, so a
/// trailing comment is not part of it.
pub fn split_statements(sql: &str, dialect: Dialect) -> Vec<Statement<'_>> {
    split::split(sql, dialect)
}

/// Converts a byte offset in `sql` to 1-based (line, column-in-characters).
///
/// Lines end at `\n`. An offset past the end is clamped to the end, and an offset inside a
/// multi-byte character points at that character.
pub fn line_column(sql: &str, byte_offset: usize) -> (u32, u32) {
    position::LineCursor::new(sql).position_at(byte_offset)
}

/// Transaction requirement of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxRequirement {
    /// Runs anywhere.
    Any,
    /// Refuses to run inside a transaction block; the str names the construct, e.g. "CREATE INDEX CONCURRENTLY".
    ///
    /// SQLite's `PRAGMA foreign_keys = …` is included although SQLite does not refuse it:
    /// inside a transaction it silently has no effect.
    OutsideTransaction(&'static str),
    /// Starts or ends a transaction itself, e.g. "BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION", "END".
    TransactionControl(&'static str),
}

/// Classifies one statement (as returned by split_statements) by its leading keyword tokens, ignoring comments and case.
pub fn classify(statement: &str, dialect: Dialect) -> TxRequirement {
    classify::classify(statement, dialect)
}

/// A string literal, quoted identifier, dollar-quoted body or block comment that a script
/// never closes, with where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclosed {
    /// `string literal`, `quoted identifier`, `dollar-quoted body` or `block comment`.
    pub kind: &'static str,
    /// The text that closes it: `'`, a quote, `$tag$` or `*/`.
    pub closer: &'static str,
    /// 1-based line and column (in characters) of its opening quote or `/*`.
    pub line: u32,
    pub column: u32,
}

/// Finds a literal, quoted identifier, dollar-quoted body or block comment that the script
/// never closes. It runs to the end of the script, and the server rejects the statement.
pub fn unclosed(sql: &str, dialect: Dialect) -> Option<Unclosed> {
    // Only these bytes open something that needs closing, so most scripts are skipped here.
    if !sql
        .bytes()
        .any(|b| matches!(b, b'\'' | b'"' | b'$' | b'/' | b'[' | b'`'))
    {
        return None;
    }
    let mut lexer = lexer::Lexer::new(sql, dialect);
    for _ in lexer.by_ref() {}
    let token = lexer.unclosed()?;
    let (kind, closer) = match token.kind {
        lexer::TokenKind::String => ("string literal", "`'`"),
        lexer::TokenKind::QuotedIdentifier => ("quoted identifier", "quote"),
        lexer::TokenKind::DollarString => ("dollar-quoted body", "`$tag$`"),
        lexer::TokenKind::UnterminatedBlockComment => ("block comment", "`*/`"),
        _ => return None,
    };
    let (line, column) = line_column(sql, token.start);
    Some(Unclosed {
        kind,
        closer,
        line,
        column,
    })
}

/// Identifier longer than a byte limit, with where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongIdentifier {
    /// The name as written for an unquoted word, unescaped for a quoted identifier.
    pub name: String,
    /// Length of `name` in UTF-8 bytes.
    pub bytes: usize,
    /// 1-based line and column (in characters) of the identifier's first byte, quotes included.
    pub line: u32,
    pub column: u32,
}

/// Identifiers (unquoted words that are not keywords, and "quoted" identifiers, unescaped) longer than `max_bytes` UTF-8 bytes.
///
/// Keywords here are the words that can never name a column (PostgreSQL's reserved and
/// type-or-function-name keywords). Names inside strings and dollar-quoted function bodies
/// are not checked.
pub fn long_identifiers(sql: &str, dialect: Dialect, max_bytes: usize) -> Vec<LongIdentifier> {
    identifiers::find_long(sql, dialect, max_bytes)
}
