//! Property tests for the statement splitter: scripts built from a grammar of tricky tokens
//! split back into exactly the statements they were built from, and arbitrary input never
//! panics nor loses anything but whitespace, comments and empty statements.

use proptest::prelude::*;
use underpin_db::sql::{Dialect, line_column, split_statements};

/// Words that change where a statement ends; random identifiers avoid them so that only the
/// statement shapes built on purpose contain them.
const STRUCTURAL_WORDS: &[&str] = &[
    "atomic",
    "begin",
    "case",
    "create",
    "end",
    "explain",
    "function",
    "or",
    "procedure",
    "replace",
    "temp",
    "temporary",
    "trigger",
];

fn identifier() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_$]{0,8}".prop_filter("structural word", |w| !STRUCTURAL_WORDS.contains(&w.as_str()))
}

fn quoted_identifier() -> impl Strategy<Value = String> {
    "([a-z ;'$*/-]|\"\"){1,8}".prop_map(|body| format!("\"{body}\""))
}

fn string_literal() -> impl Strategy<Value = String> {
    "([a-z ;\"$*/-]|''){0,8}".prop_map(|body| format!("'{body}'"))
}

fn escape_string() -> impl Strategy<Value = String> {
    r#"([a-z ;"$]|''|\\'|\\\\){0,8}"#.prop_map(|body| format!("E'{body}'"))
}

fn dollar_string() -> impl Strategy<Value = String> {
    (
        "(|[a-z_][a-z0-9_]{0,4})",
        "([a-z ;'\"\n]|\\$|\\$\\$|\\$[a-z]\\$){0,12}",
    )
        .prop_map(|(tag, body)| (format!("${tag}$"), body))
        .prop_filter("body closes early", |(delimiter, body)| {
            format!("{body}{delimiter}").find(delimiter.as_str()) == Some(body.len())
        })
        .prop_map(|(delimiter, body)| format!("{delimiter}{body}{delimiter}"))
}

fn nested_comment() -> impl Strategy<Value = String> {
    let leaf = "[a-z ;'\"$]{0,6}".prop_map(|text| format!("/*{text}*/"));
    leaf.prop_recursive(3, 8, 2, |inner| {
        ("[a-z ;'\"]{0,4}", inner, "[a-z ;'\"]{0,4}").prop_map(|(a, nested, b)| format!("/*{a}{nested}{b}*/"))
    })
}

fn flat_comment() -> impl Strategy<Value = String> {
    "[a-z ;'\"$]{0,8}".prop_map(|text| format!("/*{text}*/"))
}

fn line_comment() -> impl Strategy<Value = String> {
    "[a-z ;'\"$*/]{0,8}".prop_map(|text| format!("--{text}\n"))
}

fn simple_token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,4}",
        prop::sample::select(vec!["+", "-", "*", "=", "::", ",", ".", "<>", "||"]).prop_map(String::from),
    ]
}

/// Generates a PostgreSQL token that may come first or last in a statement.
fn postgres_token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => identifier(),
        1 => quoted_identifier(),
        1 => string_literal(),
        1 => escape_string(),
        1 => dollar_string(),
        1 => "\\$[1-9][0-9]?",
        1 => simple_token(),
        1 => (identifier(), string_literal()).prop_map(|(a, b)| format!("({a} ; {b})")),
    ]
}

fn sqlite_token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => identifier(),
        1 => quoted_identifier(),
        1 => string_literal(),
        1 => "[a-z ;'\"]{0,6}".prop_map(|body| format!("[{body}]")),
        1 => "([a-z ;'\"]|``){0,6}".prop_map(|body| format!("`{body}`")),
        1 => "\\$[a-z][a-z0-9]{0,4}",
        1 => simple_token(),
    ]
}

/// Trivia placed between the tokens of a statement.
fn joiner(comment: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(" ".to_string()),
        1 => Just("\n".to_string()),
        1 => Just("\t".to_string()),
        1 => comment.prop_map(|c| format!(" {c} ")),
        1 => line_comment().prop_map(|c| format!(" {c}")),
    ]
}

fn joined(
    tokens: BoxedStrategy<String>,
    comment: BoxedStrategy<String>,
    count: std::ops::Range<usize>,
) -> BoxedStrategy<String> {
    prop::collection::vec((tokens, joiner(comment)), count)
        .prop_map(|parts| {
            let mut text = String::new();
            for (i, (token, joiner)) in parts.iter().enumerate() {
                if i > 0 {
                    text.push_str(joiner);
                }
                text.push_str(token);
            }
            text
        })
        .boxed()
}

fn postgres_statement() -> BoxedStrategy<String> {
    let plain = || joined(postgres_token().boxed(), nested_comment().boxed(), 1..6);
    let body_statements = prop::collection::vec(plain(), 1..4).prop_map(|parts| parts.join("; ") + ";");
    prop_oneof![
        4 => plain(),
        1 => (body_statements, any::<bool>(), any::<bool>()).prop_map(|(body, procedure, case)| {
            let kind = if procedure { "OR REPLACE PROCEDURE" } else { "FUNCTION" };
            let case = if case { "\n  SELECT CASE WHEN 1 = 1 THEN 2 END;" } else { "" };
            format!("CREATE {kind} f() LANGUAGE sql\nBEGIN ATOMIC\n  {body}{case}\nEND")
        }),
        1 => dollar_string().prop_map(|body| format!("CREATE FUNCTION g() RETURNS void AS {body} LANGUAGE plpgsql")),
    ]
    .boxed()
}

fn sqlite_statement() -> BoxedStrategy<String> {
    let plain = || joined(sqlite_token().boxed(), flat_comment().boxed(), 1..6);
    let body_statements = prop::collection::vec(plain(), 1..4).prop_map(|parts| parts.join("; ") + ";");
    prop_oneof![
        4 => plain(),
        1 => body_statements.prop_map(|body| format!("CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN\n  {body}\nEND")),
    ]
    .boxed()
}

/// Trivia and empty statements placed between statements.
fn separator(comment: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("\n\n".to_string()),
        Just(" ; ;\n".to_string()),
        comment.prop_map(|c| format!("{c}\n")),
        line_comment(),
    ]
    .boxed()
}

/// Generates a script and the (text, start) of each statement it was built from.
fn script(
    statement: BoxedStrategy<String>,
    comment: BoxedStrategy<String>,
) -> impl Strategy<Value = (String, Vec<(String, usize)>)> {
    let gap = separator(comment);
    (
        prop::collection::vec((gap.clone(), statement), 1..6),
        gap,
        any::<bool>(),
    )
        .prop_map(|(parts, tail, last_terminated)| {
            let mut script = String::new();
            let mut expected = Vec::new();
            let count = parts.len();
            for (i, (gap, statement)) in parts.into_iter().enumerate() {
                script.push_str(&gap);
                let terminated = i + 1 < count || last_terminated;
                let text = if terminated {
                    format!("{statement};")
                } else {
                    statement
                };
                expected.push((text.clone(), script.len()));
                script.push_str(&text);
            }
            if last_terminated {
                script.push_str(&tail);
            } else if !tail.contains(';') {
                // A space keeps a final `-` from joining a `--` comment in the tail.
                script.push(' ');
                script.push_str(&tail);
            }
            (script, expected)
        })
}

fn split_pairs(sql: &str, dialect: Dialect) -> Vec<(String, usize)> {
    split_statements(sql, dialect)
        .into_iter()
        .map(|s| (s.text.to_string(), s.start))
        .collect()
}

/// Line and column counted the obvious way: line breaks before the offset, characters since.
fn naive_line_column(sql: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(sql.len());
    while !sql.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &sql[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

/// Checks what must hold for any input: statements in order and inside the input, nothing
/// but trivia and `;` between them, each statement splitting back into itself, and positions
/// that match a naive count.
fn check_invariants(sql: &str, dialect: Dialect) -> Result<(), TestCaseError> {
    let statements = split_statements(sql, dialect);
    let mut previous_end = 0;
    for statement in &statements {
        prop_assert!(statement.start >= previous_end, "statements overlap in {sql:?}");
        let end = statement.start + statement.text.len();
        prop_assert_eq!(&sql[statement.start..end], statement.text);
        prop_assert!(!statement.text.is_empty());
        let gap = &sql[previous_end..statement.start];
        prop_assert!(
            split_statements(gap, dialect).is_empty(),
            "gap {gap:?} holds a statement in {sql:?}"
        );
        let again = split_pairs(statement.text, dialect);
        prop_assert_eq!(
            again,
            vec![(statement.text.to_string(), 0)],
            "resplitting a statement of {:?}",
            sql
        );
        prop_assert_eq!(
            (statement.line, statement.column),
            naive_line_column(sql, statement.start)
        );
        previous_end = end;
    }
    let tail = &sql[previous_end..];
    prop_assert!(
        split_statements(tail, dialect).is_empty(),
        "tail {tail:?} holds a statement in {sql:?}"
    );
    Ok(())
}

/// Appends `SELECT <opener><tail>` to a built script after a closing `;`, and checks that the
/// unclosed literal, identifier, body or comment turns everything after it into one final
/// statement while the statements before it stay as built.
fn check_unterminated(
    sql: &str,
    expected: &[(String, usize)],
    opener: &str,
    tail: &str,
    dialect: Dialect,
) -> Result<(), TestCaseError> {
    let mut expected = expected.to_vec();
    let mut script = sql.to_string();
    if let Some((text, start)) = expected.last_mut().filter(|(text, _)| !text.ends_with(';')) {
        script.truncate(*start + text.len());
        script.push(';');
        text.push(';');
    }
    script.push('\n');
    let start = script.len();
    script.push_str(&format!("SELECT {opener}{tail}"));
    expected.push((script[start..].to_string(), start));
    let actual = split_pairs(&script, dialect);
    prop_assert_eq!(actual, expected, "script:\n{}", script);
    Ok(())
}

fn tricky_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "BEGIN",
        "ATOMIC",
        "END",
        "CASE",
        "CREATE",
        "FUNCTION",
        "PROCEDURE",
        "TRIGGER",
        "OR",
        "REPLACE",
        ";",
        "$$",
        "$a$",
        "$1",
        "'",
        "''",
        "E'",
        "\\'",
        "\"",
        "[",
        "]",
        "`",
        "/*",
        "*/",
        "--",
        "\n",
        "\r",
        "(",
        ")",
        "é",
        "U&'",
        "x",
        " ",
        "foo$bar$",
        "\\",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn postgres_scripts_split_as_built((sql, expected) in script(postgres_statement(), nested_comment().boxed())) {
        prop_assert_eq!(split_pairs(&sql, Dialect::Postgres), expected, "script:\n{}", sql);
    }

    #[test]
    fn sqlite_scripts_split_as_built((sql, expected) in script(sqlite_statement(), flat_comment().boxed())) {
        prop_assert_eq!(split_pairs(&sql, Dialect::Sqlite), expected, "script:\n{}", sql);
    }

    #[test]
    fn built_scripts_keep_invariants((sql, _) in script(postgres_statement(), nested_comment().boxed())) {
        check_invariants(&sql, Dialect::Postgres)?;
    }

    #[test]
    fn arbitrary_text_keeps_invariants(sql in any::<String>()) {
        check_invariants(&sql, Dialect::Postgres)?;
        check_invariants(&sql, Dialect::Sqlite)?;
    }

    #[test]
    fn tricky_text_keeps_invariants(sql in tricky_text()) {
        check_invariants(&sql, Dialect::Postgres)?;
        check_invariants(&sql, Dialect::Sqlite)?;
    }

    #[test]
    fn unterminated_construct_runs_to_end(
        (sql, expected) in script(postgres_statement(), nested_comment().boxed()),
        opener in prop::sample::select(vec!["'", "E'", "U&'", "\"", "U&\"", "$$", "$t$", "/*"]),
        tail in "[a-z ;\n]{0,20}",
    ) {
        check_unterminated(&sql, &expected, opener, &tail, Dialect::Postgres)?;
    }

    #[test]
    fn sqlite_unterminated_construct_runs_to_end(
        (sql, expected) in script(sqlite_statement(), flat_comment().boxed()),
        opener in prop::sample::select(vec!["'", "\"", "[", "`", "/*"]),
        tail in "[a-z ;\n]{0,20}",
    ) {
        check_unterminated(&sql, &expected, opener, &tail, Dialect::Sqlite)?;
    }

    #[test]
    fn line_column_matches_naive_count(sql in "(\n|\r|é|日|a|\r\n){0,30}", offset in 0usize..80) {
        prop_assert_eq!(line_column(&sql, offset), naive_line_column(&sql, offset));
    }
}
