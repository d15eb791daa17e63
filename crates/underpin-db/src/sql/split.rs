//! Statement boundaries: which `;` ends a statement.
//!
//! PostgreSQL follows psql (`src/fe_utils/psqlscan.l`, PostgreSQL 15): a `;` inside
//! parentheses does not end a statement, which keeps `CREATE RULE … DO (…; …)` whole, and in
//! `CREATE [OR REPLACE] FUNCTION|PROCEDURE` a `BEGIN ATOMIC … END` body is tracked, with
//! `CASE … END` counted inside it. psql counts every `BEGIN` word there. This splitter starts
//! a body only at the two words `BEGIN ATOMIC`, so a routine named `begin` does not swallow
//! the rest of the script.
//!
//! SQLite follows `sqlite3_complete()`: inside `CREATE [TEMP|TEMPORARY] TRIGGER`, only a `;`
//! that follows `; END` ends the statement. `CASE … END` never directly follows a `;`, and
//! SQLite accepts `end` as a column name, so counting `BEGIN`/`END` pairs there would be
//! wrong where this rule is not.

use super::lexer::{SignificantTokens, Token, TokenKind};
use super::position::LineCursor;
use super::{Dialect, Statement};

/// Splits `sql` into statements as documented at [`super::split_statements`].
pub(crate) fn split(sql: &str, dialect: Dialect) -> Vec<Statement<'_>> {
    let source = sql.as_bytes();
    let mut statements = Vec::new();
    let mut cursor = LineCursor::new(sql);
    let mut current: Option<(usize, usize)> = None;
    let mut boundary = Boundary::new(dialect);

    for token in SignificantTokens::new(sql, dialect) {
        if token.kind == TokenKind::Semicolon && current.is_none() {
            continue;
        }
        let start = current.map_or(token.start, |(start, _)| start);
        current = Some((start, token.end));
        if boundary.ends_statement(&token, source) {
            statements.push(statement_at(sql, start, token.end, &mut cursor));
            current = None;
            boundary = Boundary::new(dialect);
        }
    }

    if let Some((start, end)) = current {
        statements.push(statement_at(sql, start, end, &mut cursor));
    }
    statements
}

fn statement_at<'a>(sql: &'a str, start: usize, end: usize, cursor: &mut LineCursor<'_>) -> Statement<'a> {
    let (line, column) = cursor.position_at(start);
    Statement {
        text: &sql[start..end],
        start,
        line,
        column,
    }
}

/// How far the leading words of a statement match a header that changes where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    Start,
    Explain,
    Create,
    CreateOr,
    CreateOrReplace,
    /// `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (PostgreSQL).
    Routine,
    /// `[EXPLAIN [QUERY PLAN]] CREATE [TEMP|TEMPORARY] TRIGGER` (SQLite).
    Trigger,
    Other,
}

/// Progress of a SQLite trigger body towards its closing `; END ;`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TriggerPhase {
    Body,
    AfterSemicolon,
    AfterEnd,
}

/// Per-statement state that decides whether a `;` ends the statement.
struct Boundary {
    dialect: Dialect,
    header: Header,
    paren_depth: u32,
    /// Open `BEGIN ATOMIC` bodies plus `CASE` expressions inside them.
    body_depth: u32,
    /// The previous token was `BEGIN` in a routine header, outside any body.
    after_begin: bool,
    trigger: TriggerPhase,
}

impl Boundary {
    fn new(dialect: Dialect) -> Self {
        Boundary {
            dialect,
            header: Header::Start,
            paren_depth: 0,
            body_depth: 0,
            after_begin: false,
            trigger: TriggerPhase::Body,
        }
    }

    /// Feeds the next significant token and returns whether it is the `;` that ends the statement.
    fn ends_statement(&mut self, token: &Token, source: &[u8]) -> bool {
        let word = (token.kind == TokenKind::Word).then(|| token.bytes(source));
        self.header = self.header.advance(word, self.dialect);
        match self.dialect {
            Dialect::Postgres => self.postgres_ends(token, word),
            Dialect::Sqlite => self.sqlite_ends(token, word),
        }
    }

    fn postgres_ends(&mut self, token: &Token, word: Option<&[u8]>) -> bool {
        let after_begin = std::mem::take(&mut self.after_begin);
        match token.kind {
            TokenKind::OpenParen => self.paren_depth = self.paren_depth.saturating_add(1),
            TokenKind::CloseParen => self.paren_depth = self.paren_depth.saturating_sub(1),
            TokenKind::Semicolon => return self.paren_depth == 0 && self.body_depth == 0,
            TokenKind::Word if self.header == Header::Routine && self.paren_depth == 0 => {
                self.track_routine_body(word.unwrap_or_default(), after_begin);
            }
            _ => {}
        }
        false
    }

    fn track_routine_body(&mut self, word: &[u8], after_begin: bool) {
        if self.body_depth == 0 {
            if after_begin && word.eq_ignore_ascii_case(b"atomic") {
                self.body_depth = 1;
            }
            self.after_begin = word.eq_ignore_ascii_case(b"begin");
        } else if word.eq_ignore_ascii_case(b"begin") || word.eq_ignore_ascii_case(b"case") {
            self.body_depth = self.body_depth.saturating_add(1);
        } else if word.eq_ignore_ascii_case(b"end") {
            self.body_depth -= 1;
        }
    }

    fn sqlite_ends(&mut self, token: &Token, word: Option<&[u8]>) -> bool {
        if self.header != Header::Trigger {
            return token.kind == TokenKind::Semicolon;
        }
        let is_end = word.is_some_and(|w| w.eq_ignore_ascii_case(b"end"));
        self.trigger = match (self.trigger, token.kind) {
            (TriggerPhase::AfterEnd, TokenKind::Semicolon) => return true,
            (_, TokenKind::Semicolon) => TriggerPhase::AfterSemicolon,
            (TriggerPhase::AfterSemicolon, _) if is_end => TriggerPhase::AfterEnd,
            _ => TriggerPhase::Body,
        };
        false
    }
}

impl Header {
    /// Moves the header match on by one significant token, whose text is `word` if it is a word.
    fn advance(self, word: Option<&[u8]>, dialect: Dialect) -> Header {
        if matches!(self, Header::Routine | Header::Trigger | Header::Other) {
            return self;
        }
        let Some(word) = word else {
            return Header::Other;
        };
        let is = |keyword: &str| word.eq_ignore_ascii_case(keyword.as_bytes());
        match (dialect, self) {
            (_, Header::Start) if is("create") => Header::Create,
            (Dialect::Sqlite, Header::Start) if is("explain") => Header::Explain,
            (Dialect::Sqlite, Header::Explain) if is("query") || is("plan") => Header::Explain,
            (Dialect::Sqlite, Header::Explain) if is("create") => Header::Create,
            (Dialect::Sqlite, Header::Create) if is("temp") || is("temporary") => Header::Create,
            (Dialect::Sqlite, Header::Create) if is("trigger") => Header::Trigger,
            (Dialect::Postgres, Header::Create) if is("or") => Header::CreateOr,
            (Dialect::Postgres, Header::CreateOr) if is("replace") => Header::CreateOrReplace,
            (Dialect::Postgres, Header::Create | Header::CreateOrReplace)
                if is("function") || is("procedure") =>
            {
                Header::Routine
            }
            _ => Header::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, dialect: Dialect) -> Vec<&str> {
        split(sql, dialect).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn empty_and_trivia_pieces_dropped() {
        let sql = " ;; -- only a comment\n ; /* c */ ;";
        assert!(texts(sql, Dialect::Postgres).is_empty());
    }

    #[test]
    fn last_statement_without_semicolon_ends_at_last_token() {
        let sql = "SELECT 1; SELECT 2 -- trailing\n";
        assert_eq!(texts(sql, Dialect::Postgres), vec!["SELECT 1;", "SELECT 2"]);
    }

    #[test]
    fn leading_comment_not_in_text() {
        let sql = "-- header\n/* x */ SELECT /* kept */ 1;";
        let statements = split(sql, Dialect::Postgres);
        assert_eq!(statements[0].text, "SELECT /* kept */ 1;");
        assert_eq!((statements[0].line, statements[0].column), (2, 9));
    }

    #[test]
    fn semicolon_in_parentheses_keeps_rule_whole() {
        let sql = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1;";
        assert_eq!(texts(sql, Dialect::Postgres).len(), 2);
    }

    #[test]
    fn unbalanced_close_paren_does_not_hide_semicolons() {
        assert_eq!(texts("SELECT 1); SELECT 2;", Dialect::Postgres).len(), 2);
    }

    #[test]
    fn begin_atomic_with_case_inside() {
        let sql = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\n\
                   BEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT 3;";
        let statements = texts(sql, Dialect::Postgres);
        assert_eq!(statements.len(), 2);
        assert!(statements[0].ends_with("END;"));
    }

    #[test]
    fn begin_atomic_ignored_outside_routines() {
        let sql = "SELECT 'BEGIN ATOMIC'; BEGIN; CREATE TABLE atomic (begin int); COMMIT;";
        assert_eq!(texts(sql, Dialect::Postgres).len(), 4);
    }

    #[test]
    fn routine_named_begin_is_no_body() {
        let sql = "CREATE FUNCTION begin() RETURNS int LANGUAGE sql RETURN 1; SELECT 1;";
        assert_eq!(texts(sql, Dialect::Postgres).len(), 2);
    }

    #[test]
    fn quoted_begin_atomic_is_no_body() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql \"begin\" atomic; SELECT 1;";
        assert_eq!(texts(sql, Dialect::Postgres).len(), 2);
    }

    #[test]
    fn unterminated_constructs_run_to_end() {
        for sql in [
            "SELECT 'open; SELECT 2;",
            "SELECT $$ open; SELECT 2;",
            "SELECT \"x; SELECT 2;",
            "SELECT 1 /* x; SELECT 2;",
        ] {
            let statements = texts(sql, Dialect::Postgres);
            assert_eq!(statements, vec![sql], "input: {sql}");
        }
    }

    #[test]
    fn unterminated_comment_alone_is_kept() {
        assert_eq!(
            texts("SELECT 1; /* open", Dialect::Postgres),
            vec!["SELECT 1;", "/* open"]
        );
    }

    #[test]
    fn sqlite_trigger_is_one_statement() {
        let sql = "CREATE TEMP TRIGGER IF NOT EXISTS trg AFTER INSERT ON t BEGIN\n\
                   UPDATE t SET end = CASE WHEN new.x THEN 1 END;\n  INSERT INTO log VALUES (1);\nEND;\nSELECT 1;";
        let statements = texts(sql, Dialect::Sqlite);
        assert_eq!(statements.len(), 2);
        assert!(statements[0].ends_with("END;"));
    }

    #[test]
    fn sqlite_explain_create_trigger() {
        let sql = "EXPLAIN QUERY PLAN CREATE TRIGGER trg BEFORE DELETE ON t BEGIN SELECT 1; END; SELECT 2;";
        assert_eq!(texts(sql, Dialect::Sqlite).len(), 2);
    }

    #[test]
    fn sqlite_begin_end_outside_trigger() {
        assert_eq!(texts("BEGIN; SELECT 1; END;", Dialect::Sqlite).len(), 3);
    }

    #[test]
    fn sqlite_splits_inside_parentheses() {
        assert_eq!(texts("SELECT (1; SELECT 2);", Dialect::Sqlite).len(), 2);
    }

    #[test]
    fn sqlite_dollar_is_a_parameter() {
        assert_eq!(texts("SELECT $a; SELECT $$;", Dialect::Sqlite).len(), 2);
    }

    #[test]
    fn positions_count_characters() {
        let sql = "SELECT 'é';  SELECT 1;\n  SELECT 2;";
        let statements = split(sql, Dialect::Postgres);
        let positions: Vec<(usize, u32, u32)> =
            statements.iter().map(|s| (s.start, s.line, s.column)).collect();
        assert_eq!(positions, vec![(0, 1, 1), (14, 1, 14), (26, 2, 3)]);
    }
}
