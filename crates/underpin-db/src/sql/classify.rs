//! Transaction requirements of a statement, read from its leading keywords.
//!
//! The PostgreSQL list follows the server's `PreventInTransactionBlock` calls (PostgreSQL 15).
//! Each construct named here fails with "cannot run inside a transaction block" (SQLSTATE
//! 25001). Some refusals depend on an option: `CREATE SUBSCRIPTION` only with
//! `create_slot = true`, `DROP SUBSCRIPTION` only with a slot, `ALTER SUBSCRIPTION` only with
//! a refresh. Those statements are treated as refused whatever the option, because the
//! option's effective value is not visible in the text alone.

use super::lexer::{SignificantTokens, TokenKind};
use super::{Dialect, TxRequirement};

use TxRequirement::{Any, OutsideTransaction as Outside, TransactionControl as Control};

/// Classifies one statement as documented at [`super::classify`].
pub(crate) fn classify(statement: &str, dialect: Dialect) -> TxRequirement {
    let mut words = Words::new(statement, dialect);
    match dialect {
        Dialect::Postgres => postgres(&mut words),
        Dialect::Sqlite => sqlite(&mut words),
    }
}

/// Cursor over the significant tokens of one statement, compared as keywords.
struct Words<'a> {
    source: &'a [u8],
    tokens: std::iter::Peekable<SignificantTokens<'a>>,
}

impl<'a> Words<'a> {
    fn new(statement: &'a str, dialect: Dialect) -> Self {
        Words {
            source: statement.as_bytes(),
            tokens: SignificantTokens::new(statement, dialect).peekable(),
        }
    }

    /// Consumes the next token if it is one of `keywords`, returning which one.
    fn take_any<'k>(&mut self, keywords: &[&'k str]) -> Option<&'k str> {
        let token = self.tokens.peek()?;
        let found = keywords.iter().find(|k| token.is_keyword(self.source, k))?;
        self.tokens.next();
        Some(found)
    }

    /// Consumes the next token if it is `keyword`.
    fn take(&mut self, keyword: &str) -> bool {
        self.take_any(&[keyword]).is_some()
    }

    /// Consumes a parenthesized option list if one comes next, returning whether it names
    /// `keyword` at its top level.
    fn take_options_naming(&mut self, keyword: &str) -> bool {
        if self.tokens.peek().map(|t| t.kind) != Some(TokenKind::OpenParen) {
            return false;
        }
        self.tokens.next();
        let mut depth = 1u32;
        let mut named = false;
        for token in self.tokens.by_ref() {
            match token.kind {
                TokenKind::OpenParen => depth += 1,
                TokenKind::CloseParen if depth == 1 => break,
                TokenKind::CloseParen => depth -= 1,
                _ => named |= depth == 1 && token.is_keyword(self.source, keyword),
            }
        }
        named
    }

    /// Skips tokens up to and including the pair `first second`, returning whether it occurs.
    fn skip_past_pair(&mut self, first: &str, second: &str) -> bool {
        while let Some(token) = self.tokens.next() {
            if token.is_keyword(self.source, first) && self.take(second) {
                return true;
            }
        }
        false
    }

    /// Consumes the rest, returning whether the last token before any `;` is `keyword`.
    fn ends_with(&mut self, keyword: &str) -> bool {
        let source = self.source;
        let last = self
            .tokens
            .by_ref()
            .filter(|t| t.kind != TokenKind::Semicolon)
            .last();
        last.is_some_and(|token| token.is_keyword(source, keyword))
    }

    /// Returns whether no token other than `;` is left.
    fn at_end(&mut self) -> bool {
        self.tokens.peek().is_none_or(|t| t.kind == TokenKind::Semicolon)
    }
}

fn postgres(words: &mut Words<'_>) -> TxRequirement {
    let Some(first) = words.take_any(&[
        "begin", "start", "commit", "end", "abort", "rollback", "prepare", "vacuum", "create", "drop",
        "alter", "reindex", "cluster", "discard",
    ]) else {
        return Any;
    };
    match first {
        "begin" if words.take("atomic") => Any,
        "begin" => Control("BEGIN"),
        "start" if words.take("transaction") => Control("START TRANSACTION"),
        "commit" if words.take("prepared") => Control("COMMIT PREPARED"),
        "commit" => Control("COMMIT"),
        "end" => Control("END"),
        "abort" => Control("ABORT"),
        "rollback" => postgres_rollback(words),
        "prepare" if words.take("transaction") => Control("PREPARE TRANSACTION"),
        "vacuum" => Outside("VACUUM"),
        "create" => postgres_create(words),
        "drop" => postgres_drop(words),
        "alter" => postgres_alter(words),
        "reindex" => postgres_reindex(words),
        "cluster" => postgres_cluster(words),
        "discard" if words.take("all") => Outside("DISCARD ALL"),
        _ => Any,
    }
}

fn postgres_rollback(words: &mut Words<'_>) -> TxRequirement {
    if words.take("prepared") {
        return Control("ROLLBACK PREPARED");
    }
    words.take_any(&["work", "transaction"]);
    if words.take("to") {
        Any
    } else {
        Control("ROLLBACK")
    }
}

fn postgres_create(words: &mut Words<'_>) -> TxRequirement {
    words.take("unique");
    match words.take_any(&["index", "database", "tablespace", "subscription"]) {
        Some("index") if words.take("concurrently") => Outside("CREATE INDEX CONCURRENTLY"),
        Some("database") => Outside("CREATE DATABASE"),
        Some("tablespace") => Outside("CREATE TABLESPACE"),
        Some("subscription") => Outside("CREATE SUBSCRIPTION"),
        _ => Any,
    }
}

fn postgres_drop(words: &mut Words<'_>) -> TxRequirement {
    match words.take_any(&["index", "database", "tablespace", "subscription"]) {
        Some("index") if words.take("concurrently") => Outside("DROP INDEX CONCURRENTLY"),
        Some("database") => Outside("DROP DATABASE"),
        Some("tablespace") => Outside("DROP TABLESPACE"),
        Some("subscription") => Outside("DROP SUBSCRIPTION"),
        _ => Any,
    }
}

fn postgres_alter(words: &mut Words<'_>) -> TxRequirement {
    match words.take_any(&["system", "database", "table", "subscription"]) {
        Some("system") => Outside("ALTER SYSTEM"),
        Some("database") if words.skip_past_pair("set", "tablespace") => {
            Outside("ALTER DATABASE SET TABLESPACE")
        }
        Some("table") if words.skip_past_pair("detach", "partition") && words.ends_with("concurrently") => {
            Outside("ALTER TABLE DETACH PARTITION CONCURRENTLY")
        }
        Some("subscription") => postgres_alter_subscription(words),
        _ => Any,
    }
}

/// Treats `REFRESH PUBLICATION` as refused, and `SET|ADD|DROP PUBLICATION` too because they
/// refresh by default.
fn postgres_alter_subscription(words: &mut Words<'_>) -> TxRequirement {
    words.tokens.next();
    if words.take("refresh") {
        return Outside("ALTER SUBSCRIPTION REFRESH PUBLICATION");
    }
    if words.take_any(&["set", "add", "drop"]).is_some() && words.take("publication") {
        return Outside("ALTER SUBSCRIPTION PUBLICATION with refresh");
    }
    Any
}

fn postgres_reindex(words: &mut Words<'_>) -> TxRequirement {
    let concurrent_option = words.take_options_naming("concurrently");
    match words.take_any(&["schema", "database", "system", "index", "table"]) {
        Some("schema") => Outside("REINDEX SCHEMA"),
        Some("database") => Outside("REINDEX DATABASE"),
        Some("system") => Outside("REINDEX SYSTEM"),
        Some(_) if concurrent_option || words.take("concurrently") => Outside("REINDEX CONCURRENTLY"),
        _ => Any,
    }
}

/// `CLUSTER` without a table name reclusters every table, each in its own transaction.
fn postgres_cluster(words: &mut Words<'_>) -> TxRequirement {
    words.take_options_naming("verbose");
    words.take("verbose");
    if words.at_end() { Outside("CLUSTER") } else { Any }
}

fn sqlite(words: &mut Words<'_>) -> TxRequirement {
    let Some(first) = words.take_any(&[
        "begin", "commit", "end", "rollback", "vacuum", "attach", "detach", "pragma",
    ]) else {
        return Any;
    };
    match first {
        "begin" => Control("BEGIN"),
        "commit" => Control("COMMIT"),
        "end" => Control("END"),
        "rollback" => {
            words.take("transaction");
            if words.take("to") {
                Any
            } else {
                Control("ROLLBACK")
            }
        }
        "vacuum" => Outside("VACUUM"),
        "attach" => Outside("ATTACH"),
        "detach" => Outside("DETACH"),
        "pragma" => sqlite_pragma(words),
        _ => Any,
    }
}

/// Setting `journal_mode` to WAL fails inside a transaction, and setting `foreign_keys` there
/// is silently ignored. Reading either pragma is harmless.
fn sqlite_pragma(words: &mut Words<'_>) -> TxRequirement {
    let Some(first) = words.tokens.next() else {
        return Any;
    };
    let mut name = first;
    if words.tokens.peek().is_some_and(|t| t.bytes(words.source) == b".") {
        words.tokens.next();
        let Some(after_schema) = words.tokens.next() else {
            return Any;
        };
        name = after_schema;
    }
    if words.at_end() {
        return Any;
    }
    if name.is_keyword(words.source, "foreign_keys") {
        Outside("PRAGMA foreign_keys")
    } else if name.is_keyword(words.source, "journal_mode") {
        Outside("PRAGMA journal_mode")
    } else {
        Any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> TxRequirement {
        classify(sql, Dialect::Postgres)
    }

    fn lite(sql: &str) -> TxRequirement {
        classify(sql, Dialect::Sqlite)
    }

    #[test]
    fn postgres_outside_transaction() {
        let cases = [
            (
                "CREATE INDEX CONCURRENTLY i ON t (a);",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "create unique index concurrently if not exists i on t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            ("DROP INDEX CONCURRENTLY IF EXISTS i;", "DROP INDEX CONCURRENTLY"),
            ("REINDEX INDEX CONCURRENTLY i;", "REINDEX CONCURRENTLY"),
            ("REINDEX (VERBOSE, CONCURRENTLY) TABLE t;", "REINDEX CONCURRENTLY"),
            ("REINDEX DATABASE app;", "REINDEX DATABASE"),
            ("REINDEX SYSTEM;", "REINDEX SYSTEM"),
            ("REINDEX SCHEMA public;", "REINDEX SCHEMA"),
            ("VACUUM (ANALYZE) t;", "VACUUM"),
            ("vacuum", "VACUUM"),
            ("CREATE DATABASE x;", "CREATE DATABASE"),
            ("DROP DATABASE IF EXISTS x WITH (FORCE);", "DROP DATABASE"),
            (
                "ALTER DATABASE x SET TABLESPACE fast;",
                "ALTER DATABASE SET TABLESPACE",
            ),
            ("CREATE TABLESPACE fast LOCATION '/ssd';", "CREATE TABLESPACE"),
            ("DROP TABLESPACE fast;", "DROP TABLESPACE"),
            ("ALTER SYSTEM SET work_mem = '64MB';", "ALTER SYSTEM"),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'host=a' PUBLICATION p;",
                "CREATE SUBSCRIPTION",
            ),
            ("DROP SUBSCRIPTION s;", "DROP SUBSCRIPTION"),
            (
                "ALTER SUBSCRIPTION s REFRESH PUBLICATION;",
                "ALTER SUBSCRIPTION REFRESH PUBLICATION",
            ),
            (
                "ALTER SUBSCRIPTION s SET PUBLICATION p;",
                "ALTER SUBSCRIPTION PUBLICATION with refresh",
            ),
            (
                "ALTER TABLE m DETACH PARTITION m_2020 CONCURRENTLY;",
                "ALTER TABLE DETACH PARTITION CONCURRENTLY",
            ),
            (
                "ALTER TABLE IF EXISTS ONLY s.m DETACH PARTITION \"s\".p concurrently",
                "ALTER TABLE DETACH PARTITION CONCURRENTLY",
            ),
            ("CLUSTER;", "CLUSTER"),
            ("CLUSTER VERBOSE", "CLUSTER"),
            ("DISCARD ALL;", "DISCARD ALL"),
            (
                "/* why */ -- note\n  Create Index\nConcurrently i ON t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
        ];
        for (sql, construct) in cases {
            assert_eq!(pg(sql), Outside(construct), "statement: {sql}");
        }
    }

    #[test]
    fn postgres_transaction_control() {
        let cases = [
            ("BEGIN;", "BEGIN"),
            ("begin isolation level serializable", "BEGIN"),
            ("BEGIN WORK;", "BEGIN"),
            ("START TRANSACTION READ ONLY;", "START TRANSACTION"),
            ("COMMIT;", "COMMIT"),
            ("COMMIT AND CHAIN;", "COMMIT"),
            ("END;", "END"),
            ("ROLLBACK;", "ROLLBACK"),
            ("ROLLBACK WORK AND NO CHAIN", "ROLLBACK"),
            ("ABORT;", "ABORT"),
            ("COMMIT PREPARED 'x';", "COMMIT PREPARED"),
            ("ROLLBACK PREPARED 'x';", "ROLLBACK PREPARED"),
            ("PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION"),
        ];
        for (sql, construct) in cases {
            assert_eq!(pg(sql), Control(construct), "statement: {sql}");
        }
    }

    #[test]
    fn postgres_runs_anywhere() {
        let cases = [
            "CREATE INDEX concurrently_idx ON t (concurrently);",
            "CREATE INDEX i ON t (a);",
            "CREATE TABLE concurrently_log (id int);",
            "DROP INDEX i;",
            "REINDEX TABLE t;",
            "ROLLBACK TO SAVEPOINT s;",
            "ROLLBACK WORK TO s;",
            "SAVEPOINT s;",
            "PREPARE q AS SELECT 1;",
            "BEGIN ATOMIC SELECT 1; END;",
            "ANALYZE t;",
            "ALTER DATABASE x SET default_tablespace = fast;",
            "ALTER TABLE m DETACH PARTITION m_2020;",
            "ALTER TABLE m ADD COLUMN concurrently_flag bool;",
            "CLUSTER t USING t_pkey;",
            "DISCARD PLANS;",
            "SELECT 'VACUUM';",
            "\"vacuum\";",
            "-- VACUUM\nSELECT 1;",
            "",
        ];
        for sql in cases {
            assert_eq!(pg(sql), Any, "statement: {sql}");
        }
    }

    #[test]
    fn sqlite_requirements() {
        let cases = [
            ("BEGIN;", Control("BEGIN")),
            ("BEGIN IMMEDIATE TRANSACTION;", Control("BEGIN")),
            ("begin exclusive", Control("BEGIN")),
            ("COMMIT TRANSACTION;", Control("COMMIT")),
            ("END;", Control("END")),
            ("ROLLBACK;", Control("ROLLBACK")),
            ("ROLLBACK TRANSACTION TO SAVEPOINT s;", Any),
            ("ROLLBACK TO s;", Any),
            ("VACUUM;", Outside("VACUUM")),
            ("VACUUM INTO 'copy.db';", Outside("VACUUM")),
            ("ATTACH DATABASE 'a.db' AS a;", Outside("ATTACH")),
            ("DETACH a;", Outside("DETACH")),
            ("PRAGMA foreign_keys = ON;", Outside("PRAGMA foreign_keys")),
            ("PRAGMA main.journal_mode = WAL;", Outside("PRAGMA journal_mode")),
            ("PRAGMA foreign_keys;", Any),
            ("PRAGMA user_version = 3;", Any),
            ("CREATE INDEX i ON t (a);", Any),
        ];
        for (sql, expected) in cases {
            assert_eq!(lite(sql), expected, "statement: {sql}");
        }
    }
}
