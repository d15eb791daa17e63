//! Migrations behind a real PgBouncer in transaction mode, the pooler setup that breaks
//! session advisory locks and extended-protocol queries in other tools.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use sqlx::Connection;
use underpin_db::DatabaseUrl;
use underpin_migrate::MigrateError;
use underpin_migrate::driver::DriverError;

use common::*;

/// A PgBouncer process in front of the test server; stopped on drop.
struct Bouncer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Bouncer {
    fn start(server_host: &str, server_port: &str) -> Bouncer {
        let binary = std::env::var("UNDERPIN_TEST_PGBOUNCER").expect(
            "UNDERPIN_TEST_PGBOUNCER is not set; run the suite with `bash scripts/test.sh`, which installs PgBouncer",
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let config = format!(
            "[databases]\n* = host={server_host} port={server_port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {}\npool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 100\nignore_startup_parameters = extra_float_digits,application_name\nlogfile = {}\npidfile = {}\n",
            path("users.txt"),
            path("pgbouncer.log"),
            path("pgbouncer.pid")
        );
        std::fs::write(dir.path().join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        std::fs::write(dir.path().join("pgbouncer.ini"), config).unwrap();

        // PgBouncer refuses to run as root, like PostgreSQL.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        let mut command = if root {
            let _ = Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(dir.path())
                .status();
            let _ = Command::new("chmod").arg("755").arg(dir.path()).status();
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", &binary]);
            command
        } else {
            Command::new(&binary)
        };
        let child = command
            .arg(dir.path().join("pgbouncer.ini"))
            .spawn()
            .expect("start pgbouncer");
        // Built before waiting, so a failed start still stops the process on drop.
        let bouncer = Bouncer { child, dir, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return bouncer;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "pgbouncer did not listen on port {port}; log: {}",
            read(&bouncer.dir.path().join("pgbouncer.log"))
        );
    }

    fn url(&self, database: &str) -> DatabaseUrl {
        DatabaseUrl::parse(&format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)).unwrap()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Host, port and database of a `postgres://user@host:port/db` URL.
fn parts(url: &DatabaseUrl) -> (String, String, String) {
    let after_at = url.expose().rsplit_once('@').unwrap().1;
    let (host_port, database) = after_at.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
    (host.to_string(), port.to_string(), database.to_string())
}

/// Creates a database named after `label` and starts a PgBouncer in front of its server.
/// Returns the direct URL, the bouncer (stopped on drop) and the URL through it.
async fn behind_bouncer(label: &str) -> (DatabaseUrl, Bouncer, DatabaseUrl) {
    let direct = fresh_pg_database(label).await;
    let (host, port, database) = parts(&direct);
    let bouncer = Bouncer::start(&host, &port);
    let pooled = bouncer.url(&database);
    (direct, bouncer, pooled)
}

fn migrations(count: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    for n in 1..=count {
        let body = if n == count / 2 {
            format!(
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY t{}_idx ON t{} (id);\n",
                n - 1,
                n - 1
            )
        } else {
            format!("CREATE TABLE t{n} (id int);\nSELECT pg_sleep(0.02);\n")
        };
        write_files(&path, &[(&format!("{n}_m{n}.sql"), &body)]);
    }
    (dir, path)
}

#[tokio::test]
async fn concurrent_runners_behind_pgbouncer() {
    // M14 with a real pooler: runners share two server sessions. Each either applies under
    // the lock or stops with the pooler message; nothing is applied twice, nothing without
    // the lock, and no lock is left behind.
    let (direct, bouncer, pooled) = behind_bouncer("pgbouncer").await;
    let (_keep, dir) = migrations(12);

    let mut runs = Vec::new();
    for _ in 0..6 {
        let (pooled, dir) = (pooled.clone(), dir.clone());
        runs.push(async move {
            let mut migrator = pg_migrator_with(&pooled, &dir, options()).await;
            migrator.run(&up()).await
        });
    }
    let noise = async {
        let mut conn = sqlx::PgConnection::connect(pooled.expose()).await.unwrap();
        for _ in 0..40 {
            sqlx::raw_sql("BEGIN; SELECT pg_sleep(0.01); COMMIT;")
                .execute(&mut conn)
                .await
                .unwrap();
        }
    };
    let (results, ()) = tokio::join!(futures_join_all(runs), noise);

    for result in &results {
        match result {
            Ok(_) => {}
            Err(MigrateError::Driver(DriverError::LockNotHeld)) => {}
            Err(MigrateError::Driver(DriverError::LockTimeout { .. })) => {}
            Err(other) => panic!("unexpected failure behind the pooler: {other}"),
        }
    }

    // Nothing ran outside the lock: every table has its history row (the middle file only
    // builds an index).
    let history = pg_history(&direct).await;
    let tables: i64 = pg_scalar(
        &direct,
        "SELECT count(*) FROM pg_tables WHERE tablename ~ '^t[0-9]+$'",
    )
    .await;
    let index_rows = history.iter().filter(|(version, _)| version == "6").count() as i64;
    assert_eq!(tables, history.len() as i64 - index_rows, "{history:?}");

    // A lock left on a pooled session that stayed busy is the one thing a stopped run may
    // leave; `lock release` over a direct URL clears it, and a direct run finishes the set.
    let mut direct_migrator = pg_migrator(&direct, &dir).await;
    direct_migrator.release_lock().await.unwrap();
    direct_migrator.run(&up()).await.unwrap();
    let history = pg_history(&direct).await;
    assert_eq!(history.len(), 12, "{history:?}");
    assert!(
        history.iter().all(|(_, status)| status == "applied"),
        "{history:?}"
    );
    let locks: i64 = pg_scalar(
        &direct,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;
    assert_eq!(
        locks,
        0,
        "pgbouncer log: {}",
        read(&bouncer.dir.path().join("pgbouncer.log"))
    );
    drop(bouncer);
}

#[tokio::test]
async fn sequential_runs_behind_pgbouncer() {
    // Each run releases the lock and clears its owner token on the pooled session, so the
    // next run on that session takes the lock at once.
    let (direct, _bouncer, pooled) = behind_bouncer("pgbouncer_sequential").await;
    let (_keep, dir) = migrations(4);
    let mut options = options();
    options.lock_timeout = Duration::from_secs(3);
    for _ in 0..4 {
        let request = underpin_migrate::Request::Up {
            to: None,
            step: Some(1),
            allow_out_of_order: false,
        };
        let report = pg_migrator_with(&pooled, &dir, options.clone())
            .await
            .run(&request)
            .await
            .unwrap();
        assert_eq!(report.steps.len(), 1);
        assert_eq!(report.waited_for_lock_ms, 0);
    }
    assert_eq!(pg_history(&direct).await.len(), 4);
}

#[tokio::test]
async fn single_runner_behind_pgbouncer() {
    // Behind a transaction-mode pooler without other clients, a run applies everything and
    // leaves no lock: its statements keep landing on one server session.
    let (direct, _bouncer, pooled) = behind_bouncer("pgbouncer_single").await;
    let (_keep, dir) = migrations(6);
    let report = pg_migrator(&pooled, &dir).await.run(&up()).await.unwrap();
    assert_eq!(report.steps.len(), 6);
    let status = pg_migrator(&pooled, &dir).await.status().await.unwrap();
    assert_eq!(status.pending, 0);
    let locks: i64 = pg_scalar(
        &direct,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;
    assert_eq!(locks, 0);
}

/// Opens a pooled connection and a transaction on it, which keeps one server session for
/// this client until the transaction ends. Returns the connection and that session's pid.
async fn pinned_session(pooled: &DatabaseUrl) -> (sqlx::PgConnection, i32) {
    let mut conn = sqlx::PgConnection::connect(pooled.expose()).await.unwrap();
    let row = sqlx::raw_sql("BEGIN; SELECT pg_catalog.pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let pid: i32 = sqlx::Row::get(&row, 0);
    (conn, pid)
}

#[tokio::test]
async fn lock_released_on_busy_pooled_session() {
    // The session holding the lock is busy with another client's transaction while the
    // run ends, so every unlock on the run's own connection lands on the other session. The
    // driver then pins sessions with extra connections until it reaches the holder.
    use underpin_migrate::driver::Driver;

    let (direct, bouncer, pooled) = behind_bouncer("pgbouncer_busy_holder").await;
    let conn = underpin_db::connect_postgres(&pooled).await.unwrap();
    let mut driver = underpin_migrate::PostgresDriver::new(conn, underpin_migrate::HistoryTable::default())
        .with_reconnect(pooled.clone());
    driver.lock(Duration::from_secs(5)).await.unwrap();
    let holder: i32 = pg_scalar(
        &direct,
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;

    // Another client takes the holder's session into a transaction and keeps it there for
    // longer than the unlock retries on the run's own connection last.
    let mut others = Vec::new();
    let mut blocker = loop {
        let (conn, pid) = pinned_session(&pooled).await;
        if pid == holder {
            break conn;
        }
        others.push(conn);
    };
    for mut conn in others {
        sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
    }
    let release_blocker = async {
        tokio::time::sleep(Duration::from_secs(4)).await;
        sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    };

    let (unlocked, ()) = tokio::join!(driver.unlock(), release_blocker);

    unlocked.unwrap();
    let locks: i64 = pg_scalar(
        &direct,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;
    assert_eq!(
        locks,
        0,
        "pgbouncer log: {}",
        read(&bouncer.dir.path().join("pgbouncer.log"))
    );
}

/// Polls futures concurrently on the current task and returns their outputs in order.
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}
