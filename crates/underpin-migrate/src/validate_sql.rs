//! Load-time checks of a script's statements: what cannot run inside a transaction, and
//! identifiers PostgreSQL would truncate.

use underpin_db::sql::{Dialect, TxRequirement, classify, long_identifiers, split_statements, unclosed};

use crate::migration::{Format, Script};
use crate::source::{Problem, Warning};

/// PostgreSQL's NAMEDATALEN is 64, so names keep at most 63 bytes and the rest is cut
/// silently.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Finds statements that cannot run the way the script is marked.
pub fn check_script(script: &Script, format: Format, dialect: Dialect) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut open_transaction: Option<u32> = None;
    // Built only when there is something to report: formatting a path for each of a
    // thousand clean files is a measurable part of a no-op `up`.
    let path = || script.path.display().to_string();

    // Statement by statement, an unclosed quote would let the statements before it run and
    // then fail. In one transaction the server rejects the whole script instead, and a
    // script written for `standard_conforming_strings = off` may look unclosed to the lexer.
    if !script.transaction
        && let Some(open) = unclosed(&script.sql, dialect)
    {
        problems.push(Problem {
            path: path(),
            line: Some(script.first_line + open.line - 1),
            message: format!(
                "the {} that starts at column {} is never closed, so it runs to the end of the script",
                open.kind, open.column
            ),
            fix: format!("add the closing {}, or remove the stray opening one", open.closer),
        });
    }

    for statement in split_statements(&script.sql, dialect) {
        let line = script.first_line + statement.line - 1;
        match classify(statement.text, dialect) {
            TxRequirement::Any => {}
            TxRequirement::OutsideTransaction(construct) => {
                if let Some(begin_line) = open_transaction {
                    problems.push(Problem {
                        path: path(),
                        line: Some(line),
                        message: format!(
                            "{construct} cannot run inside the transaction block opened on line {begin_line}"
                        ),
                        fix: format!(
                            "remove the BEGIN/COMMIT around it and {}",
                            format.no_transaction_fix()
                        ),
                    });
                } else if script.transaction {
                    problems.push(Problem {
                        path: path(),
                        line: Some(line),
                        message: format!("{construct} cannot run inside a transaction block, and this migration runs in one"),
                        fix: format.no_transaction_fix().to_string(),
                    });
                }
            }
            TxRequirement::TransactionControl(keyword) => {
                let opens = matches!(keyword, "BEGIN" | "START TRANSACTION");
                if script.transaction {
                    problems.push(Problem {
                        path: path(),
                        line: Some(line),
                        message: format!(
                            "{keyword} would end or nest the transaction underpin runs this migration in"
                        ),
                        fix: "remove it: each migration already runs in one transaction together with its history row".to_string(),
                    });
                }
                open_transaction = if opens { Some(line) } else { None };
            }
        }
    }
    problems
}

/// Warns about identifiers longer than PostgreSQL keeps. SQLite has no such limit.
pub fn long_identifier_warnings(script: &Script, dialect: Dialect) -> Vec<Warning> {
    if dialect != Dialect::Postgres {
        return Vec::new();
    }
    long_identifiers(&script.sql, dialect, MAX_IDENTIFIER_BYTES)
        .into_iter()
        .map(|found| Warning {
            path: script.path.display().to_string(),
            line: Some(script.first_line + found.line - 1),
            message: format!(
                "identifier `{}` is {} bytes long; PostgreSQL silently truncates names to {MAX_IDENTIFIER_BYTES} bytes, so two long names can collide (and `IF NOT EXISTS` then skips the second)",
                found.name, found.bytes
            ),
            fix: format!("shorten it to at most {MAX_IDENTIFIER_BYTES} bytes (UTF-8 bytes, not characters)"),
        })
        .collect()
}
