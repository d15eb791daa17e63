//! Parsing of the facts that SQLite keeps only in the `CREATE` statements of `sqlite_schema`:
//! constraint names, check constraints, generated column expressions, foreign key
//! deferrability, the parts of a `CREATE INDEX`, trigger timing and events, and a view's query.
//!
//! The statements were accepted by SQLite, so a small tokenizer and a walk over the
//! parenthesized column list are enough; nothing here validates SQL.

/// A token of SQLite SQL. Whitespace and comments are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or a bare identifier.
    Word,
    /// `"name"`, `` `name` `` or `[name]`.
    QuotedIdentifier,
    /// `'text'` or a blob literal `x'00'`.
    String,
    Number,
    /// Any other character, or an operator such as `||`.
    Symbol,
}

impl Token<'_> {
    pub fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(keyword)
    }

    pub fn is_symbol(&self, symbol: &str) -> bool {
        self.kind == TokenKind::Symbol && self.text == symbol
    }

    /// Returns the identifier this token names, unquoted, or `None` for numbers and symbols.
    pub fn identifier(&self) -> Option<String> {
        match self.kind {
            TokenKind::Word => Some(self.text.to_string()),
            TokenKind::QuotedIdentifier => {
                let inner = &self.text[1..self.text.len() - 1];
                Some(match self.text.as_bytes()[0] {
                    b'"' => inner.replace("\"\"", "\""),
                    b'`' => inner.replace("``", "`"),
                    _ => inner.to_string(),
                })
            }
            // SQLite accepts a string literal where an identifier is expected.
            TokenKind::String if self.text.starts_with('\'') => {
                Some(self.text[1..self.text.len() - 1].replace("''", "'"))
            }
            _ => None,
        }
    }
}

pub fn tokenize(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = find_from(bytes, i, b"\n").map_or(bytes.len(), |end| end + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find_from(bytes, i + 2, b"*/").map_or(bytes.len(), |end| end + 2);
                continue;
            }
            b'\'' => {
                i = quoted_end(bytes, i, b'\'');
                TokenKind::String
            }
            b'x' | b'X' if bytes.get(i + 1) == Some(&b'\'') => {
                i = quoted_end(bytes, i + 1, b'\'');
                TokenKind::String
            }
            b'"' | b'`' => {
                i = quoted_end(bytes, i, c);
                TokenKind::QuotedIdentifier
            }
            b'[' => {
                i = find_from(bytes, i, b"]").map_or(bytes.len(), |end| end + 1);
                TokenKind::QuotedIdentifier
            }
            b'0'..=b'9' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                TokenKind::Number
            }
            _ if c == b'_' || c == b'$' || c.is_ascii_alphabetic() || c >= 0x80 => {
                while i < bytes.len()
                    && (bytes[i] == b'_'
                        || bytes[i] == b'$'
                        || bytes[i].is_ascii_alphanumeric()
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                TokenKind::Word
            }
            _ => {
                let two = bytes.get(i..i + 2);
                i += if matches!(
                    two,
                    Some(b"||" | b"<=" | b">=" | b"<>" | b"!=" | b"==" | b"<<" | b">>")
                ) {
                    2
                } else {
                    1
                };
                TokenKind::Symbol
            }
        };
        tokens.push(Token {
            kind,
            text: &sql[start..i],
            start,
            end: i,
        });
    }
    tokens
}

fn find_from(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|position| from + position)
}

/// Finds the end of a literal opened by `quote` at `open`. A doubled quote is an escaped one.
fn quoted_end(bytes: &[u8], open: usize, quote: u8) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Finds the index of the `)` that closes the `(` at `open`.
fn closing_paren(tokens: &[Token<'_>], open: usize) -> usize {
    let mut depth = 0usize;
    for (index, token) in tokens.iter().enumerate().skip(open) {
        if token.is_symbol("(") {
            depth += 1;
        } else if token.is_symbol(")") {
            depth -= 1;
            if depth == 0 {
                return index;
            }
        }
    }
    tokens.len()
}

/// Splits `tokens` at the commas outside parentheses.
fn split_top_level<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, token) in tokens.iter().enumerate() {
        if token.is_symbol("(") {
            depth += 1;
        } else if token.is_symbol(")") {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && token.is_symbol(",") {
            items.push(&tokens[start..index]);
            start = index + 1;
        }
    }
    if start < tokens.len() {
        items.push(&tokens[start..]);
    }
    items
}

/// Reads the identifiers of a parenthesized list that starts at `open`, each the first token
/// of its item (`a COLLATE nocase DESC` gives `a`).
fn identifier_list(tokens: &[Token<'_>], open: usize) -> Vec<String> {
    let close = closing_paren(tokens, open);
    split_top_level(&tokens[open + 1..close.min(tokens.len())])
        .into_iter()
        .filter_map(|item| item.first().and_then(Token::identifier))
        .collect()
}

/// Copies the source text from the start of token `first` to the end of token `last`.
fn span(sql: &str, tokens: &[Token<'_>], first: usize, last: usize) -> String {
    sql[tokens[first].start..tokens[last].end].to_string()
}

/// The constraints and generated columns that a `CREATE TABLE` statement declares.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TableDdl {
    /// The name of the primary key constraint, when `CONSTRAINT name PRIMARY KEY` names it.
    pub primary_key_name: Option<String>,
    pub unique: Vec<UniqueClause>,
    pub checks: Vec<CheckClause>,
    pub foreign_keys: Vec<ForeignKeyClause>,
    /// Column name and expression of each generated column.
    pub generated: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct UniqueClause {
    pub name: Option<String>,
    pub columns: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct CheckClause {
    pub name: Option<String>,
    /// `CHECK (…)` as written.
    pub definition: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ForeignKeyClause {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub referenced_table: String,
    pub deferrable: bool,
    pub initially_deferred: bool,
}

/// Reads the parts of a `CREATE TABLE` statement that no pragma reports.
pub fn parse_create_table(sql: &str) -> TableDdl {
    let tokens = tokenize(sql);
    let mut ddl = TableDdl::default();
    let Some(open) = tokens.iter().position(|token| token.is_symbol("(")) else {
        return ddl;
    };
    let close = closing_paren(&tokens, open);
    let body = &tokens[open + 1..close.min(tokens.len())];
    for item in split_top_level(body) {
        let Some(first) = item.first() else { continue };
        let is_table_constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
            .iter()
            .any(|keyword| first.is_keyword(keyword));
        if is_table_constraint {
            read_table_constraint(sql, item, &mut ddl);
        } else {
            read_column_definition(sql, item, &mut ddl);
        }
    }
    ddl
}

fn read_table_constraint(sql: &str, item: &[Token<'_>], ddl: &mut TableDdl) {
    let (name, at) = constraint_name(item, 0);
    let Some(keyword) = item.get(at) else { return };
    if keyword.is_keyword("PRIMARY") {
        ddl.primary_key_name = name;
    } else if keyword.is_keyword("UNIQUE") {
        if let Some(open) = find_symbol(item, at, "(") {
            ddl.unique.push(UniqueClause {
                name,
                columns: identifier_list(item, open),
            });
        }
    } else if keyword.is_keyword("CHECK") {
        if let Some(open) = find_symbol(item, at, "(") {
            let close = closing_paren(item, open).min(item.len() - 1);
            ddl.checks.push(CheckClause {
                name,
                definition: span(sql, item, at, close),
            });
        }
    } else if keyword.is_keyword("FOREIGN")
        && let Some(open) = find_symbol(item, at, "(")
    {
        let columns = identifier_list(item, open);
        let after = closing_paren(item, open) + 1;
        if let Some(clause) = references_clause(item, after, name, columns) {
            ddl.foreign_keys.push(clause);
        }
    }
}

/// Reads `name type … constraints` of one column.
fn read_column_definition(sql: &str, item: &[Token<'_>], ddl: &mut TableDdl) {
    let Some(column) = item[0].identifier() else {
        return;
    };
    let mut index = 1;
    let mut pending_name: Option<String> = None;
    while index < item.len() {
        let token = &item[index];
        if token.is_keyword("CONSTRAINT") {
            pending_name = item.get(index + 1).and_then(Token::identifier);
            index += 2;
            continue;
        }
        if token.is_keyword("PRIMARY") {
            ddl.primary_key_name = pending_name.take().or(ddl.primary_key_name.take());
        } else if token.is_keyword("UNIQUE") {
            ddl.unique.push(UniqueClause {
                name: pending_name.take(),
                columns: vec![column.clone()],
            });
        } else if token.is_keyword("CHECK") {
            if let Some(open) = find_symbol(item, index, "(") {
                let close = closing_paren(item, open).min(item.len() - 1);
                ddl.checks.push(CheckClause {
                    name: pending_name.take(),
                    definition: span(sql, item, index, close),
                });
                index = close;
            }
        } else if token.is_keyword("REFERENCES") {
            if let Some(clause) = references_clause(item, index, pending_name.take(), vec![column.clone()]) {
                ddl.foreign_keys.push(clause);
            }
        } else if token.is_keyword("AS") && item.get(index + 1).is_some_and(|next| next.is_symbol("(")) {
            // `[GENERATED ALWAYS] AS (expr)` is the only place where `AS (` occurs in a column
            // definition.
            let close = closing_paren(item, index + 1).min(item.len() - 1);
            if close > index + 2 {
                ddl.generated
                    .push((column.clone(), span(sql, item, index + 2, close - 1)));
            }
            index = close;
        } else if token.is_symbol("(") {
            // A type's arguments or a parenthesized default: nothing to read inside.
            index = closing_paren(item, index);
        } else if ["NOT", "NULL", "DEFAULT", "COLLATE"]
            .iter()
            .any(|keyword| token.is_keyword(keyword))
        {
            // `CONSTRAINT name NOT NULL` names a constraint that the model does not hold.
            pending_name = None;
        }
        index += 1;
    }
}

/// `CONSTRAINT name` at `at`: the name and the index of the token after it.
fn constraint_name(item: &[Token<'_>], at: usize) -> (Option<String>, usize) {
    if item.get(at).is_some_and(|token| token.is_keyword("CONSTRAINT")) {
        (item.get(at + 1).and_then(Token::identifier), at + 2)
    } else {
        (None, at)
    }
}

fn find_symbol(item: &[Token<'_>], from: usize, symbol: &str) -> Option<usize> {
    (from..item.len()).find(|&index| item[index].is_symbol(symbol))
}

/// Reads `REFERENCES table [(cols)] [ON …] [DEFERRABLE INITIALLY DEFERRED]` from `at`.
fn references_clause(
    item: &[Token<'_>],
    at: usize,
    name: Option<String>,
    columns: Vec<String>,
) -> Option<ForeignKeyClause> {
    let references = (at..item.len()).find(|&index| item[index].is_keyword("REFERENCES"))?;
    let referenced_table = item.get(references + 1)?.identifier()?;

    // The clause ends where the next column constraint starts.
    let ends_clause = [
        "CONSTRAINT",
        "PRIMARY",
        "UNIQUE",
        "CHECK",
        "DEFAULT",
        "COLLATE",
        "GENERATED",
        "AS",
        "NULL",
    ];
    let mut deferrable = false;
    let mut initially_deferred = false;
    let mut index = references + 2;
    while index < item.len() {
        let token = &item[index];
        if token.is_symbol("(") {
            index = closing_paren(item, index) + 1;
            continue;
        }
        let previous_is_not = index > 0 && item[index - 1].is_keyword("NOT");
        if token.is_keyword("NOT") && item.get(index + 1).is_some_and(|next| next.is_keyword("NULL")) {
            break;
        }
        if ends_clause.iter().any(|keyword| token.is_keyword(keyword)) && !previous_is_not {
            // `ON DELETE SET NULL` and `SET DEFAULT` belong to the clause.
            let after_set = index > 0 && item[index - 1].is_keyword("SET");
            if !after_set {
                break;
            }
        }
        if token.is_keyword("DEFERRABLE") {
            deferrable = !previous_is_not;
        }
        if token.is_keyword("INITIALLY") {
            initially_deferred = item
                .get(index + 1)
                .is_some_and(|next| next.is_keyword("DEFERRED"));
        }
        index += 1;
    }
    Some(ForeignKeyClause {
        name,
        columns,
        referenced_table,
        deferrable,
        initially_deferred: deferrable && initially_deferred,
    })
}

/// The parts of a `CREATE INDEX` statement that `pragma_index_xinfo` does not report.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IndexDdl {
    /// The text of each indexed term, in order: a column name or an expression, without
    /// `COLLATE`, `ASC` or `DESC`.
    pub terms: Vec<String>,
    /// The text after `WHERE` of a partial index.
    pub predicate: Option<String>,
}

pub fn parse_create_index(sql: &str) -> IndexDdl {
    let tokens = tokenize(sql);
    let Some(on) = tokens.iter().position(|token| token.is_keyword("ON")) else {
        return IndexDdl::default();
    };
    let Some(open) = find_symbol(&tokens, on, "(") else {
        return IndexDdl::default();
    };
    let close = closing_paren(&tokens, open).min(tokens.len());
    let terms = split_top_level(&tokens[open + 1..close])
        .into_iter()
        .filter(|term| !term.is_empty())
        .map(|term| {
            let end = term
                .iter()
                .position(|token| {
                    ["COLLATE", "ASC", "DESC"]
                        .iter()
                        .any(|keyword| token.is_keyword(keyword))
                })
                .unwrap_or(term.len())
                .max(1);
            span(sql, term, 0, end - 1)
        })
        .collect();
    let predicate = tokens
        .iter()
        .skip(close + 1)
        .position(|token| token.is_keyword("WHERE"))
        .map(|offset| close + 1 + offset)
        .filter(|&at| at + 1 < tokens.len())
        .map(|at| {
            let last = tokens.len() - 1 - usize::from(tokens[tokens.len() - 1].is_symbol(";"));
            span(sql, &tokens, at + 1, last)
        });
    IndexDdl { terms, predicate }
}

/// Timing and events of a `CREATE TRIGGER` statement.
#[derive(Debug, PartialEq, Eq)]
pub struct TriggerDdl {
    pub timing: &'static str,
    pub event: &'static str,
}

pub fn parse_create_trigger(sql: &str) -> TriggerDdl {
    let tokens = tokenize(sql);
    let before_on = tokens
        .iter()
        .position(|token| token.is_keyword("ON"))
        .unwrap_or(tokens.len());
    let head = &tokens[..before_on];
    let has = |keyword: &str| head.iter().any(|token| token.is_keyword(keyword));

    // SQLite runs a trigger without a timing keyword BEFORE the statement.
    let timing = if has("INSTEAD") {
        "INSTEAD OF"
    } else if has("AFTER") {
        "AFTER"
    } else {
        "BEFORE"
    };
    let event = if has("INSERT") {
        "INSERT"
    } else if has("UPDATE") {
        "UPDATE"
    } else {
        "DELETE"
    };
    TriggerDdl { timing, event }
}

/// Returns the query of a `CREATE VIEW … AS query` statement and the relations it names
/// after `FROM` or `JOIN`.
pub fn parse_create_view(sql: &str) -> (String, Vec<String>) {
    let tokens = tokenize(sql);
    let Some(as_index) = tokens.iter().position(|token| token.is_keyword("AS")) else {
        return (sql.to_string(), Vec::new());
    };
    let query = sql[tokens.get(as_index + 1).map_or(sql.len(), |token| token.start)..]
        .trim()
        .to_string();

    // NOTE: only a name right after FROM or JOIN counts, so `b` in `FROM a, b` is missed.
    let mut relations = Vec::new();
    for index in as_index..tokens.len() {
        if !(tokens[index].is_keyword("FROM") || tokens[index].is_keyword("JOIN")) {
            continue;
        }
        // `schema.name` names the relation after the dot.
        let name_at = if tokens.get(index + 2).is_some_and(|token| token.is_symbol(".")) {
            index + 3
        } else {
            index + 1
        };
        if let Some(name) = tokens.get(name_at).and_then(Token::identifier) {
            relations.push(name);
        }
    }
    (query, relations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_keeps_quoted_names_whole() {
        let tokens = tokenize("CREATE TABLE \"a \"\"b\"\" c\" ([x y], `z`) -- done\n");
        let names: Vec<String> = tokens.iter().filter_map(Token::identifier).collect();
        assert_eq!(names, ["CREATE", "TABLE", "a \"b\" c", "x y", "z"]);
    }

    #[test]
    fn table_constraints_are_read() {
        let ddl = parse_create_table(
            "CREATE TABLE line (
               id INTEGER,
               order_id INTEGER NOT NULL CONSTRAINT line_order REFERENCES orders (id) ON DELETE CASCADE,
               qty INTEGER CHECK (qty > 0),
               total REAL GENERATED ALWAYS AS (qty * (price + 1)) STORED,
               price REAL DEFAULT (0.0),
               CONSTRAINT line_pk PRIMARY KEY (id),
               CONSTRAINT line_sku UNIQUE (order_id, qty),
               CONSTRAINT positive_price CHECK (price >= 0),
               FOREIGN KEY (order_id, qty) REFERENCES other (a, b) DEFERRABLE INITIALLY DEFERRED
             ) WITHOUT ROWID",
        );
        assert_eq!(ddl.primary_key_name.as_deref(), Some("line_pk"));
        assert_eq!(
            ddl.unique,
            [UniqueClause {
                name: Some("line_sku".into()),
                columns: vec!["order_id".into(), "qty".into()]
            }]
        );
        assert_eq!(
            ddl.checks,
            [
                CheckClause {
                    name: None,
                    definition: "CHECK (qty > 0)".into()
                },
                CheckClause {
                    name: Some("positive_price".into()),
                    definition: "CHECK (price >= 0)".into()
                }
            ]
        );
        assert_eq!(
            ddl.generated,
            [("total".to_string(), "qty * (price + 1)".to_string())]
        );
        assert_eq!(
            ddl.foreign_keys,
            [
                ForeignKeyClause {
                    name: Some("line_order".into()),
                    columns: vec!["order_id".into()],
                    referenced_table: "orders".into(),
                    deferrable: false,
                    initially_deferred: false,
                },
                ForeignKeyClause {
                    name: None,
                    columns: vec!["order_id".into(), "qty".into()],
                    referenced_table: "other".into(),
                    deferrable: true,
                    initially_deferred: true,
                }
            ]
        );
    }

    #[test]
    fn constraint_name_belongs_to_the_next_clause_only() {
        let ddl = parse_create_table("CREATE TABLE t (a INT CONSTRAINT a_set NOT NULL REFERENCES u, b INT)");
        assert_eq!(ddl.foreign_keys[0].name, None);
        assert_eq!(ddl.foreign_keys[0].columns, ["a"]);
    }

    #[test]
    fn not_deferrable_is_not_deferrable() {
        let ddl = parse_create_table(
            "CREATE TABLE t (a INT REFERENCES u ON DELETE SET NULL NOT DEFERRABLE INITIALLY DEFERRED NOT NULL)",
        );
        assert!(!ddl.foreign_keys[0].deferrable);
        assert!(!ddl.foreign_keys[0].initially_deferred);
    }

    #[test]
    fn index_terms_and_predicate() {
        let ddl = parse_create_index(
            "CREATE UNIQUE INDEX i ON t (lower(email) COLLATE nocase DESC, \"org id\") WHERE deleted_at IS NULL",
        );
        assert_eq!(ddl.terms, ["lower(email)", "\"org id\""]);
        assert_eq!(ddl.predicate.as_deref(), Some("deleted_at IS NULL"));
        assert_eq!(parse_create_index("CREATE INDEX i ON t (a)").predicate, None);
    }

    #[test]
    fn trigger_timing_and_event() {
        let ddl = parse_create_trigger("CREATE TRIGGER t INSTEAD OF UPDATE OF a ON v BEGIN SELECT 1; END");
        assert_eq!(
            ddl,
            TriggerDdl {
                timing: "INSTEAD OF",
                event: "UPDATE"
            }
        );
        let ddl = parse_create_trigger("CREATE TRIGGER t DELETE ON x BEGIN SELECT 1; END");
        assert_eq!(ddl.timing, "BEFORE");
        assert_eq!(ddl.event, "DELETE");
    }

    #[test]
    fn view_query_and_relations() {
        let (query, relations) = parse_create_view(
            "CREATE VIEW v (a) AS SELECT a FROM main.\"order\" o JOIN line ON line.o = o.id",
        );
        assert_eq!(query, "SELECT a FROM main.\"order\" o JOIN line ON line.o = o.id");
        assert_eq!(relations, ["order", "line"]);
    }
}
