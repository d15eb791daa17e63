//! Differential test of the PostgreSQL statement splitter against PostgreSQL itself.
//!
//! For every script in `tests/corpus/*.sql`:
//! 1. psql runs the script with `log_statement=all` and `client_min_messages=log`, so the
//!    server echoes every query psql sends as a `LOG:  statement:` line on stderr, prefixed
//!    with the script line where psql sent it. Our statement count must equal psql's, and
//!    each of our `;`-terminated statements must end on the line where psql sent its match.
//! 2. Each statement we return is prepared alone over the extended protocol, which rejects
//!    more than one statement, and must not fail with SQLSTATE 42601 (syntax error, which
//!    also covers "cannot insert multiple commands into a prepared statement").
//!
//! Needs `UNDERPIN_TEST_PG_URL`, a superuser URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`; the test creates and drops its own scratch
//! database. psql is taken from `UNDERPIN_TEST_PSQL`, else from `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqlSafeStr};
use underpin_db::sql::{Dialect, Statement, line_column, split_statements};

const MIN_SCRIPTS: usize = 25;

/// One corpus script: its path and its text.
struct Script {
    path: PathBuf,
    sql: String,
}

impl Script {
    fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn statements(&self) -> Vec<Statement<'_>> {
        split_statements(&self.sql, Dialect::Postgres)
    }
}

/// What psql sent for one script: the line of each query, and lines where the server
/// reported a syntax error before it could log the query.
#[derive(Debug, Default)]
struct PsqlRun {
    sent_lines: Vec<u32>,
    syntax_error_lines: Vec<u32>,
    stderr: String,
}

#[tokio::test]
async fn corpus_matches_psql_and_server() {
    let admin_url = std::env::var("UNDERPIN_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "UNDERPIN_TEST_PG_URL is not set. Set it to a PostgreSQL superuser URL such as \
             postgres://postgres@127.0.0.1:5432/postgres; the test creates and drops its own \
             scratch database there."
        )
    });
    let psql = std::env::var("UNDERPIN_TEST_PSQL").unwrap_or_else(|_| "psql".to_string());
    let scripts = load_corpus();
    assert!(
        scripts.len() >= MIN_SCRIPTS,
        "expected at least {MIN_SCRIPTS} scripts in {}, found {}",
        corpus_dir().display(),
        scripts.len()
    );

    let database = format!("underpin_split_{}", std::process::id());
    let scratch_url = scratch_url(&admin_url, &database);
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to UNDERPIN_TEST_PG_URL: {e}"));
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
        )))
        .await
        .expect("drop a leftover scratch database");
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .await
        .expect("create the scratch database");

    let failures = check_all(&scripts, &psql, &scratch_url).await;

    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
        )))
        .await
        .expect("drop the scratch database");
    assert!(
        failures.is_empty(),
        "{} problem(s) in the corpus:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

async fn check_all(scripts: &[Script], psql: &str, scratch_url: &str) -> Vec<String> {
    let mut conn = match PgConnection::connect(scratch_url).await {
        Ok(conn) => conn,
        Err(e) => return vec![format!("cannot connect to the scratch database: {e}")],
    };
    let mut failures = Vec::new();
    for script in scripts {
        let schema = format!(
            "corpus_{}",
            script.name().replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        if let Err(e) = conn
            .execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
        {
            failures.push(format!(
                "{}: cannot create schema {schema}: {e}",
                script.path.display()
            ));
            continue;
        }
        match run_psql(psql, scratch_url, &schema, &script.path) {
            Ok(run) => failures.extend(compare_with_psql(script, &run)),
            Err(message) => failures.push(message),
        }
        failures.extend(prepare_each(&mut conn, script).await);
    }
    failures
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("corpus")
}

fn load_corpus() -> Vec<Script> {
    let dir = corpus_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("read a corpus entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let sql = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            Script { path, sql }
        })
        .collect()
}

fn scratch_url(admin_url: &str, database: &str) -> String {
    let mut url =
        url::Url::parse(admin_url).unwrap_or_else(|e| panic!("UNDERPIN_TEST_PG_URL is not a valid URL: {e}"));
    url.set_path(&format!("/{database}"));
    url.to_string()
}

fn run_psql(psql: &str, url: &str, schema: &str, path: &Path) -> Result<PsqlRun, String> {
    let output = Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose", "--echo-queries", "-d", url, "-f"])
        .arg(path)
        .env(
            "PGOPTIONS",
            format!("-c log_statement=all -c client_min_messages=log -c search_path={schema}"),
        )
        .output()
        .map_err(|e| {
            format!("cannot run psql ({psql}): {e}. Install the PostgreSQL client or set UNDERPIN_TEST_PSQL to its path.")
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(format!(
            "psql failed on {} with {}:\n{stderr}",
            path.display(),
            output.status
        ));
    }
    Ok(parse_psql_stderr(&stderr, path))
}

/// Reads the `psql:FILE:LINE: LOG:  00000: statement: …` and
/// `psql:FILE:LINE: ERROR:  42601: …` lines; continuation lines of a multi-line query never
/// start with the `psql:FILE:` prefix.
fn parse_psql_stderr(stderr: &str, path: &Path) -> PsqlRun {
    let prefix = format!("psql:{}:", path.display());
    let mut run = PsqlRun {
        stderr: stderr.to_string(),
        ..PsqlRun::default()
    };
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((number, message)) = rest.split_once(": ") else {
            continue;
        };
        let Ok(number) = number.parse::<u32>() else {
            continue;
        };
        if message.starts_with("LOG:  00000: statement: ") {
            run.sent_lines.push(number);
        } else if message.starts_with("ERROR:  42601:") {
            run.syntax_error_lines.push(number);
        }
    }
    run
}

fn compare_with_psql(script: &Script, run: &PsqlRun) -> Vec<String> {
    let path = script.path.display();
    let mut failures = Vec::new();
    for line in &run.syntax_error_lines {
        failures.push(format!(
            "{path}:{line}: psql's query failed with a syntax error (42601); corpus scripts must be valid PostgreSQL 15"
        ));
    }
    let statements = script.statements();
    let psql_count = run.sent_lines.len() + run.syntax_error_lines.len();
    if statements.len() != psql_count {
        failures.push(format!(
            "{path}: our splitter found {} statement(s), psql sent {psql_count}.\nOurs:\n{}\npsql stderr:\n{}",
            statements.len(),
            describe(&script.sql, &statements),
            run.stderr
        ));
        return failures;
    }
    if !run.syntax_error_lines.is_empty() {
        return failures;
    }
    for (statement, psql_line) in statements.iter().zip(&run.sent_lines) {
        let end_line = end_line(&script.sql, statement);
        if statement.text.ends_with(';') && end_line != *psql_line {
            failures.push(format!(
                "{path}:{}: our statement ends on line {end_line}, psql sent its statement at line {psql_line}:\n{}",
                statement.line, statement.text
            ));
        }
    }
    failures
}

fn end_line(sql: &str, statement: &Statement<'_>) -> u32 {
    line_column(sql, statement.start + statement.text.len() - 1).0
}

fn describe(sql: &str, statements: &[Statement<'_>]) -> String {
    statements
        .iter()
        .map(|s| format!("  [lines {}-{}] {}", s.line, end_line(sql, s), s.text))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn prepare_each(conn: &mut PgConnection, script: &Script) -> Vec<String> {
    let mut failures = Vec::new();
    for statement in script.statements() {
        let location = format!(
            "{}:{}:{}",
            script.path.display(),
            statement.line,
            statement.column
        );
        let sql = AssertSqlSafe(statement.text.to_string()).into_sql_str();
        match conn.prepare(sql).await {
            Ok(_) => {}
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42601") => {
                failures.push(format!(
                    "{location}: the server rejected our statement with 42601 ({}):\n{}",
                    error.message(),
                    statement.text
                ));
            }
            // Any other database error (undefined table, …) means the server parsed exactly
            // one statement, which is all this check is about.
            Err(sqlx::Error::Database(_)) => {}
            Err(other) => failures.push(format!(
                "{location}: preparing failed outside the server: {other}"
            )),
        }
    }
    failures
}
