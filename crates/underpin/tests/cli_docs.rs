//! `underpin docs` through the real binary: writing, `--check`, `--from-migrations` with each
//! kind of scratch database, `[docs]` settings, and secrets in errors.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const ALL_FILES: &[&str] = &[
    "DataModel.md",
    "schema.dbml",
    "schema.dot",
    "index.html",
    "schema.json",
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Creates a project with the quickstart's migrations.
fn quickstart() -> Project {
    let project = Project::new();
    let source = repo_root().join("examples/quickstart/migrations");
    for entry in std::fs::read_dir(&source).expect("read the quickstart migrations") {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), project.migrations_dir().join(entry.file_name())).unwrap();
    }
    project
}

fn sqlite_url(project: &Project) -> String {
    format!("sqlite:{}", project.path().join("app.db").display())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn file_states(outcome: &Outcome) -> Vec<(String, String)> {
    outcome.json()["files"]
        .as_array()
        .expect("files is an array")
        .iter()
        .map(|file| {
            (
                file["path"].as_str().unwrap().to_string(),
                file["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn second_run_changes_nothing() {
    let project = quickstart();
    let url = sqlite_url(&project);
    project.migrate(&url, &["up"]).expect_success();

    project
        .docs(&url, &[])
        .expect_success()
        .stdout_contains("docs: ")
        .stdout_contains("written");
    for file in ALL_FILES {
        assert!(
            project.path().join("docs").join(file).is_file(),
            "{file} was not written"
        );
    }
    let markdown = read(&project.path().join("docs/DataModel.md"));
    assert!(markdown.contains("notes"), "{markdown}");
    assert!(
        !markdown.contains("underpin_migrations"),
        "the history table is underpin's and stays out of the document"
    );
    assert!(project.path().join("docs/mermaid").is_dir());
    assert!(project.path().join("docs/svg").is_dir());

    let again = project.docs(&url, &["--report", "json"]);
    again.expect_success();
    let states = file_states(&again);
    assert!(!states.is_empty());
    assert!(
        states.iter().all(|(_, state)| state == "unchanged"),
        "a second run over the same schema changed files: {states:?}"
    );
}

#[test]
fn check_reports_edited_and_missing_files() {
    let project = quickstart();
    let url = sqlite_url(&project);
    project.migrate(&url, &["up"]).expect_success();
    project.docs(&url, &[]).expect_success();
    project
        .docs(&url, &["--check"])
        .expect_success()
        .stdout_contains("up to date");

    let markdown = project.path().join("docs/DataModel.md");
    let edited = format!("{}\nA line written by hand.\n", read(&markdown));
    std::fs::write(&markdown, &edited).unwrap();
    std::fs::remove_file(project.path().join("docs/schema.dbml")).unwrap();

    let check = project.docs(&url, &["--check"]);
    check
        .expect_code(3)
        .stdout_contains("differs  DataModel.md")
        .stdout_contains("-A line written by hand.")
        .stdout_contains("missing  schema.dbml")
        .stdout_contains("out of date");
    assert_eq!(read(&markdown), edited, "--check must not write");
    assert!(!project.path().join("docs/schema.dbml").exists());

    let json = project.docs(&url, &["--check", "--report", "json"]);
    json.expect_code(3);
    assert_eq!(json.json()["up_to_date"], false);
    let states = file_states(&json);
    assert!(
        states.contains(&("DataModel.md".into(), "differs".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("schema.dbml".into(), "missing".into())),
        "{states:?}"
    );

    project.docs(&url, &[]).expect_success();
    project.docs(&url, &["--check"]).expect_success();
}

#[test]
fn dropped_table_files_removed_others_kept() {
    let project = quickstart();
    let url = sqlite_url(&project);
    // One table per diagram, so each table has diagram files of its own.
    project.write("underpin.toml", "[docs]\nmax_diagram_tables = 1\n");
    project.native(
        "20300101000000_add_tags.sql",
        "CREATE TABLE tags (id integer PRIMARY KEY, label text NOT NULL);",
        Some("DROP TABLE tags;"),
    );
    project.migrate(&url, &["up"]).expect_success();
    project.run(&["docs", "--database-url", &url]).expect_success();
    assert!(project.path().join("docs/svg/main-3.svg").is_file());
    assert!(project.path().join("docs/mermaid/main-3.mmd").is_file());
    // Files of the project's own in the same folders are not underpin's to remove.
    project.write("docs/svg/architecture.svg", "<svg/>");
    project.write("docs/DataModel/notes.md", "# Notes\n");

    project.migrate(&url, &["down"]).expect_success();
    project
        .run(&["docs", "--database-url", &url, "--check"])
        .expect_code(3)
        .stdout_contains("stale    mermaid/main-3.mmd")
        .stdout_contains("stale    svg/main-3.svg");
    project
        .run(&["docs", "--database-url", &url])
        .expect_success()
        .stdout_contains("removed  svg/main-3.svg");
    assert!(!project.path().join("docs/svg/main-3.svg").exists());
    assert!(!project.path().join("docs/mermaid/main-3.mmd").exists());
    assert!(project.path().join("docs/svg/architecture.svg").is_file());
    assert!(project.path().join("docs/DataModel/notes.md").is_file());
    project
        .run(&["docs", "--database-url", &url, "--check"])
        .expect_success();
}

#[test]
fn crlf_checkout_is_up_to_date() {
    let project = quickstart();
    let url = sqlite_url(&project);
    project.migrate(&url, &["up"]).expect_success();
    project
        .run(&["docs", "--database-url", &url, "--format", "md,dbml"])
        .expect_success();
    // What git writes with core.autocrlf = true.
    let markdown = project.path().join("docs/DataModel.md");
    std::fs::write(&markdown, read(&markdown).replace('\n', "\r\n")).unwrap();
    project
        .run(&["docs", "--database-url", &url, "--format", "md,dbml", "--check"])
        .expect_success();
}

#[test]
fn schema_change_fails_check() {
    let project = quickstart();
    let url = sqlite_url(&project);
    project.migrate(&url, &["up"]).expect_success();
    project.docs(&url, &["--format", "md,dbml"]).expect_success();
    project.native(
        "20300101000000_add_tags.sql",
        "CREATE TABLE tags (id integer PRIMARY KEY, label text NOT NULL);",
        Some("DROP TABLE tags;"),
    );
    project.migrate(&url, &["up"]).expect_success();
    project
        .docs(&url, &["--format", "md,dbml", "--check"])
        .expect_code(3)
        .stdout_contains("differs  DataModel.md")
        .stdout_contains("+")
        .stdout_contains("tags");
}

#[test]
fn from_migrations_sqlite_matches_live() {
    let project = quickstart();
    let url = sqlite_url(&project);
    project.migrate(&url, &["up"]).expect_success();
    project.docs(&url, &[]).expect_success();
    // The same migrations applied to a scratch SQLite file give the same documents.
    project
        .docs(&url, &["--from-migrations", "--check"])
        .expect_success()
        .stdout_contains("read from the migrations");
}

const POSTGRES_MIGRATION: &str = "CREATE TABLE country (id serial PRIMARY KEY, iso2 char(2) NOT NULL UNIQUE);
CREATE TABLE city (id serial PRIMARY KEY, country_iso2 char(2) REFERENCES country (iso2));
COMMENT ON TABLE city IS 'Cities, by the country''s ISO code.';";

#[test]
fn from_migrations_scratch_server_matches_live() {
    let project = Project::new();
    project.native(
        "20260101000000_places.sql",
        POSTGRES_MIGRATION,
        Some("DROP TABLE city; DROP TABLE country;"),
    );
    let db = PgDb::create("docs_scratch");
    project.migrate(&db.url, &["up"]).expect_success();
    project
        .run(&["docs", "--database-url", &db.url, "--out", "docs"])
        .expect_success();
    let markdown = read(&project.path().join("docs/DataModel.md"));
    assert!(markdown.contains("country_iso2"), "{markdown}");

    let admin = pg_admin_url();
    project
        .run(&[
            "docs",
            "--from-migrations",
            "--scratch-url",
            &admin,
            "--out",
            "docs",
            "--check",
        ])
        .expect_success()
        .stdout_contains("read from the migrations");
}

#[test]
fn from_migrations_local_cluster() {
    let bindir_var = match std::env::var("UNDERPIN_TEST_SERVER").as_deref() {
        Ok("18") => "UNDERPIN_TEST_PG18_BINDIR",
        _ => "UNDERPIN_TEST_PG15_BINDIR",
    };
    let bindir = std::env::var(bindir_var).unwrap_or_else(|_| {
        panic!("{bindir_var} is not set; run the suite with `bash scripts/test.sh`, which sets it")
    });
    let project = Project::new();
    project.native(
        "20260101000000_places.sql",
        POSTGRES_MIGRATION,
        Some("DROP TABLE city; DROP TABLE country;"),
    );
    let outcome = project.run(&[
        "docs",
        "--from-migrations",
        "--pg-bindir",
        &bindir,
        "--out",
        "docs",
        "--format",
        "md,dbml",
        "--report",
        "json",
    ]);
    outcome.expect_success();
    assert_eq!(outcome.json()["source"], "migrations");
    let dbml = read(&project.path().join("docs/schema.dbml"));
    assert!(dbml.contains("country_iso2"), "{dbml}");
    assert!(dbml.contains("iso2"), "{dbml}");
}

#[test]
fn failing_migration_names_file() {
    let project = Project::new();
    project.native(
        "20260101000000_broken.sql",
        "CREATE TABLE broken (id int PRIMARY KEY",
        None,
    );
    project
        .run(&[
            "docs",
            "--from-migrations",
            "--scratch-url",
            &pg_admin_url(),
            "--out",
            "docs",
        ])
        .expect_code(1)
        .stderr_contains("20260101000000_broken.sql");
    assert!(
        !project.path().join("docs").exists(),
        "nothing is written after a failure"
    );
}

#[test]
fn sop_example_docs_are_current() {
    // The reference schema needs pgvector, which only the PostgreSQL 18 cluster has.
    if std::env::var("UNDERPIN_TEST_SERVER").as_deref() != Ok("18") {
        eprintln!("examples/sop needs pgvector: this test runs in the PostgreSQL 18 pass");
        return;
    }
    let sop = repo_root().join("examples/sop");
    let mut args = vec![
        "docs".to_string(),
        "--config".to_string(),
        sop.join("underpin.toml").display().to_string(),
        "--from-migrations".to_string(),
        "--scratch-url".to_string(),
        pg_admin_url(),
    ];
    if std::env::var_os("UNDERPIN_UPDATE_DOCS").is_none() {
        args.push("--check".to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = run_in(&sop, &args);
    assert!(
        outcome.code == Some(0),
        "examples/sop/docs no longer match the sop migrations. Regenerate them with \
         UNDERPIN_UPDATE_DOCS=1 in the PostgreSQL 18 pass of `bash scripts/test.sh -p underpin`, \
         or `underpin docs --config examples/sop/underpin.toml --from-migrations --scratch-url URL`.\n{}",
        outcome.stdout
    );
}

#[test]
fn config_docs_section_applies() {
    let project = quickstart();
    let url = sqlite_url(&project);
    project.migrate(&url, &["up"]).expect_success();
    project.write(
        "underpin.toml",
        "[docs]\nout = \"generated\"\nformats = [\"md\", \"mermaid\"]\ntitle = \"Quickstart model\"\n",
    );
    project.run(&["docs", "--database-url", &url]).expect_success();
    let markdown = read(&project.path().join("generated/DataModel.md"));
    assert!(markdown.contains("Quickstart model"), "{markdown}");
    assert!(project.path().join("generated/mermaid").is_dir());
    assert!(!project.path().join("generated/schema.dbml").exists());

    project.write(
        "underpin.toml",
        "[docs]\nout = \"generated\"\nformat = [\"md\"]\n",
    );
    project
        .run(&["docs", "--database-url", &url])
        .expect_code(2)
        .stderr_contains("underpin.toml:3")
        .stderr_contains("format");
}

#[test]
fn unknown_format_is_named() {
    let project = quickstart();
    project
        .run(&["docs", "--database-url", "sqlite::memory:", "--format", "md,pdf"])
        .expect_code(2)
        .stderr_contains("`pdf`")
        .stderr_contains("md, dbml, mermaid, dot, svg, html, json");
}

#[test]
fn passwords_stay_out_of_docs_errors() {
    let project = quickstart();
    let secret = "docs-Pa55word";
    let url = format!("postgres://someone:{secret}@127.0.0.1:{}/app", unused_port());
    let live = project.docs(&url, &[]);
    live.expect_code(1);
    let scratch = project.run(&["docs", "--from-migrations", "--scratch-url", &url, "-v"]);
    scratch.expect_code(1);
    let json = project.run(&["docs", "--database-url", &url, "--report", "json"]);
    for outcome in [&live, &scratch, &json] {
        assert!(
            !outcome.stdout.contains(secret) && !outcome.stderr.contains(secret),
            "the password leaked from {}:\n{}\n{}",
            outcome.command,
            outcome.stdout,
            outcome.stderr
        );
    }
    live.stderr_contains("127.0.0.1");
}

/// Starts `underpin docs --from-migrations` on a local cluster whose only migration sleeps,
/// in a process group of its own with the cluster's folder in a TMPDIR of the test's own.
fn start_slow_docs(project: &Project, temp: &Path) -> Spawned {
    let bindir = std::env::var("UNDERPIN_TEST_PG15_BINDIR").unwrap_or_else(|_| {
        panic!(
            "UNDERPIN_TEST_PG15_BINDIR is not set; run the suite with `bash scripts/test.sh`, which sets it"
        )
    });
    project.native("20260101000000_slow.sql", "SELECT pg_sleep(60);", None);
    // Under root the server runs as the postgres user, who must be able to enter it.
    std::fs::set_permissions(temp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut command = project.spawnable();
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.env("TMPDIR", temp).args([
        "docs",
        "--from-migrations",
        "--pg-bindir",
        &bindir,
        "--out",
        "docs",
    ]);
    Spawned::start(command, "underpin docs --from-migrations".to_string())
}

/// Waits until some entry of `temp` satisfies `ready`.
fn wait_for(temp: &Path, running: &mut Spawned, ready: impl Fn(&Path) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if std::fs::read_dir(temp)
            .unwrap()
            .flatten()
            .any(|entry| ready(&entry.path()))
        {
            return;
        }
        assert!(
            running.try_outcome().is_none(),
            "{}",
            running.wait(std::time::Duration::ZERO)
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the scratch cluster never got there"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn assert_interrupted_clean(mut running: Spawned, project: &Project, temp: &Path) {
    // Ctrl-C reaches every process of the terminal's group.
    running.signal_group("INT");
    let outcome = running.wait(std::time::Duration::from_secs(60));
    outcome.expect_code(130).stderr_contains("interrupted");
    let left: Vec<_> = std::fs::read_dir(temp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind after Ctrl-C: {left:?}");
    assert!(!project.path().join("docs").exists());
}

#[test]
fn interrupt_removes_local_cluster() {
    let project = Project::new();
    let temp = tempfile::tempdir().unwrap();
    let mut running = start_slow_docs(&project, temp.path());
    // The socket exists once the server is up and the slow migration can start.
    wait_for(temp.path(), &mut running, |folder| {
        folder.join(".s.PGSQL.5432").exists()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_interrupted_clean(running, &project, temp.path());
}

#[test]
fn interrupt_during_cluster_start_cleans_up() {
    let project = Project::new();
    let temp = tempfile::tempdir().unwrap();
    let mut running = start_slow_docs(&project, temp.path());
    // The folder appears before initdb runs; the signal lands while the cluster is made.
    wait_for(temp.path(), &mut running, |_| true);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_interrupted_clean(running, &project, temp.path());
}

#[test]
fn templates_replace_and_report_errors() {
    let project = quickstart();
    let url = sqlite_url(&project);
    project.migrate(&url, &["up"]).expect_success();
    project.write(
        "templates/table.md.j2",
        "### Table {{ table.name|text }} (house style)\n",
    );
    project
        .run(&[
            "docs",
            "--database-url",
            &url,
            "--format",
            "md",
            "--templates",
            "templates",
        ])
        .expect_success();
    let markdown = read(&project.path().join("docs/DataModel.md"));
    assert!(markdown.contains("### Table notes (house style)"), "{markdown}");

    project.write("templates/table.md.j2", "line one\n{% for x in %}\n");
    project
        .run(&[
            "docs",
            "--database-url",
            &url,
            "--format",
            "md",
            "--templates",
            "templates",
        ])
        .expect_code(2)
        .stderr_contains("table.md.j2")
        .stderr_contains("line 2");
}

#[test]
fn scratch_flags_need_from_migrations() {
    let project = quickstart();
    let url = sqlite_url(&project);
    project.migrate(&url, &["up"]).expect_success();
    project
        .run(&["docs", "--database-url", &url, "--scratch-url", "sqlite:"])
        .expect_code(2)
        .stderr_contains("--scratch-url applies only with --from-migrations");
    // An unset variable in scratch_url matters only when it is used.
    project.write(
        "underpin.toml",
        "[docs]\nscratch_url = \"${UNDERPIN_TEST_UNSET_SCRATCH}\"\n",
    );
    project.run(&["docs", "--database-url", &url]).expect_success();
    project
        .run(&["docs", "--database-url", &url, "--from-migrations"])
        .expect_code(2)
        .stderr_contains("UNDERPIN_TEST_UNSET_SCRATCH");
}
