//! The binary itself: `seed` is deterministic, `serve` prints its banner, serves,
//! and stops cleanly on SIGTERM.

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_auditgraph");

fn run(args: &[&str]) -> std::process::Output {
    let output = Command::new(BIN).args(args).output().expect("run auditgraph");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Serves `data_dir` on a free port until dropped; returns the base URL.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start(data_dir: &std::path::Path, extra: &[&str]) -> Server {
        let mut flags = vec!["--auth", "off"];
        flags.extend_from_slice(extra);
        let (child, base) = crate::helpers::spawn_binary(data_dir, &flags);
        Server { child, base }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        self.child.wait().unwrap()
    }
}

async fn all_events(base: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let mut events = Vec::new();
    let mut next = Some(format!("{base}/beta/deviceManagement/auditEvents?$orderby=id"));
    while let Some(url) = next {
        let body: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        events.extend(body["value"].as_array().unwrap().iter().cloned());
        next = body.get("@odata.nextLink").map(|v| v.as_str().unwrap().to_string());
    }
    events
}

#[tokio::test]
async fn seed_is_deterministic_and_serve_stops_cleanly() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut contents = Vec::new();
    for dir in &dirs {
        let d = dir.path().to_str().unwrap();
        run(&[
            "seed",
            "--data-dir",
            d,
            "--count",
            "300",
            "--seed",
            "7",
            "--from",
            "2026-06-01T00:00:00Z",
            "--to",
            "2026-09-01T00:00:00Z",
        ]);
        let server = Server::start(dir.path(), &["--no-demo", "--retention-days", "36500"]);
        let health = reqwest::get(format!("{}/healthz", server.base)).await.unwrap();
        assert_eq!(health.status(), 200);
        contents.push(all_events(&server.base).await);
        let status = server.terminate();
        assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
    }
    assert_eq!(contents[0].len(), 300);
    assert_eq!(contents[0], contents[1], "same arguments, same events");

    // Another seed gives other events.
    let other = tempfile::tempdir().unwrap();
    let d = other.path().to_str().unwrap();
    run(&[
        "seed",
        "--data-dir",
        d,
        "--count",
        "300",
        "--seed",
        "8",
        "--from",
        "2026-06-01T00:00:00Z",
        "--to",
        "2026-09-01T00:00:00Z",
    ]);
    let server = Server::start(other.path(), &["--no-demo", "--retention-days", "36500"]);
    assert_ne!(all_events(&server.base).await, contents[0]);
    server.terminate();
}

async fn served_count(server: &Server) -> u64 {
    let url = format!("{}/v1.0/deviceManagement/auditEvents/$count", server.base);
    reqwest::get(url).await.unwrap().text().await.unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_empty_store_gets_the_demo_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--demo-events", "120"]);
    assert_eq!(served_count(&server).await, 120);
    server.terminate();
    // A second start finds data and does not seed again.
    let server = Server::start(dir.path(), &["--demo-events", "120"]);
    assert_eq!(served_count(&server).await, 120);
    server.terminate();
}

#[test]
fn migrate_and_purge_run_against_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let output = run(&["migrate", "--data-dir", d]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("schema is up to date"));
    run(&[
        "seed",
        "--data-dir",
        d,
        "--count",
        "50",
        "--seed",
        "1",
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        "2020-02-01T00:00:00Z",
    ]);
    // A load into a store with events keeps its indexes, so there is nothing to rebuild.
    let output = run(&[
        "seed",
        "--data-dir",
        d,
        "--count",
        "5",
        "--seed",
        "2",
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        "2020-02-01T00:00:00Z",
    ]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("building indexes"));
    let output = run(&["purge", "--data-dir", d, "--older-than", "30"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("purged 55 events"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The names of the indexes on the SQLite store in `dir`.
async fn sqlite_indexes(dir: &std::path::Path) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
    let url = format!("sqlite://{}?mode=rw", dir.join("auditgraph.db").display());
    let db = Database::connect(&url).await.unwrap();
    let sql = "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name";
    let rows = db.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql)).await.unwrap();
    let names = rows.iter().map(|r| r.try_get::<String>("", "name").unwrap()).collect();
    db.close().await.unwrap();
    names
}

#[tokio::test]
async fn a_bulk_load_leaves_every_index_and_migrate_restores_a_lost_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let expected: Vec<&str> = entities::migration::secondary_indexes().iter().map(|i| i.name).collect();

    // Seeding an empty SQLite store drops the secondary indexes and builds them at
    // the end, saying so (off a terminal, as plain lines).
    let output = run(&["seed", "--data-dir", d, "--count", "200", "--seed", "3"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("200/200 events (100%)"), "{stderr}");
    assert!(stderr.contains("building indexes and planner statistics…\ndone in "), "{stderr}");
    let indexes = sqlite_indexes(dir.path()).await;
    for name in &expected {
        assert!(indexes.iter().any(|i| i == name), "{name} missing after a seed: {indexes:?}");
    }

    // A load killed midway leaves an index missing; the next start (or migrate) rebuilds it.
    let url = format!("sqlite://{}?mode=rw", dir.path().join("auditgraph.db").display());
    let db = sea_orm::Database::connect(&url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&db, "DROP INDEX ix_events_category_time").await.unwrap();
    db.close().await.unwrap();
    assert!(!sqlite_indexes(dir.path()).await.iter().any(|i| i == "ix_events_category_time"));
    run(&["migrate", "--data-dir", d]);
    assert!(sqlite_indexes(dir.path()).await.iter().any(|i| i == "ix_events_category_time"));
}

#[tokio::test]
async fn stores_of_retired_pre_release_layouts_are_refused_with_what_to_do() {
    for retired in ["m20261125_000001_create_audit_tables", "m20261126_000001_create_audit_tables"] {
        refuses_retired_layout(retired).await;
    }
}

async fn refuses_retired_layout(version: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("auditgraph.db").display());
    let db = sea_orm::Database::connect(&url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        &format!(
            "CREATE TABLE seaql_migrations (version VARCHAR NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL);
             INSERT INTO seaql_migrations VALUES ('{version}', 0);"
        ),
    )
    .await
    .unwrap();
    db.close().await.unwrap();

    let output =
        Command::new(BIN).args(["migrate", "--data-dir", dir.path().to_str().unwrap()]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("pre-release auditgraph build ({version})"))
            && stderr.contains("auditgraph import"),
        "{stderr}"
    );
    let ours: Vec<String> =
        sqlite_indexes(dir.path()).await.into_iter().filter(|i| !i.starts_with("sqlite_")).collect();
    assert_eq!(ours, Vec::<String>::new(), "nothing was created");
}
