//! Crash tests: `kill -9` the real binary during an import and during
//! concurrent POSTs to a served SQLite store, then restart and check the invariants:
//! the store opens, every index is there, every event is whole (its resource and
//! property rows are present), every acknowledged (201) write is there, and a re-run
//! of the import completes with counts that add up.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::Value;

use crate::helpers::{days_ago, sample_event};

const BIN: &str = env!("CARGO_BIN_EXE_auditgraph");
const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

fn run(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).output().expect("run auditgraph");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{args:?}: {stderr}");
    stderr
}

fn kill9(child: &mut Child) {
    // `Child::kill` is SIGKILL on Unix: no handler, no flush, no rollback in process.
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Starts `serve` on a free port; returns the child and its base URL.
pub(crate) fn serve(data_dir: &Path) -> (Child, String) {
    crate::helpers::spawn_binary(data_dir, &["--auth", "off", "--no-demo", "--throttling", "off"])
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Every index the migrations define is present, and every event is whole: each
/// written event has exactly one resource with one property. Returns the events.
async fn check_store(data_dir: &Path) -> i64 {
    let url = format!("sqlite://{}?mode=rw", data_dir.join("auditgraph.db").display());
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'index'",
        ))
        .await
        .unwrap();
    let indexes: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "name").unwrap()).collect();
    for index in entities::migration::secondary_indexes() {
        assert!(indexes.iter().any(|i| i == index.name), "{} missing: {indexes:?}", index.name);
    }
    let events = count(&db, "SELECT COUNT(*) AS n FROM audit_events").await;
    let resources = count(&db, "SELECT COUNT(*) AS n FROM audit_resources").await;
    let properties = count(&db, "SELECT COUNT(*) AS n FROM audit_properties").await;
    let orphans = count(
        &db,
        "SELECT COUNT(*) AS n FROM audit_events e
         WHERE NOT EXISTS (SELECT 1 FROM audit_resources r WHERE r.event_seq = e.seq)",
    )
    .await;
    assert_eq!((resources, properties, orphans), (events, events, 0), "an event is not whole");
    let integrity = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA integrity_check"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(integrity.try_get_by_index::<String>(0).unwrap(), "ok");
    db.close().await.unwrap();
    events
}

/// The numbers of `imported N events, skipped M already present, rejected R …`.
fn report(stderr: &str) -> (i64, i64, i64) {
    let line = stderr.lines().rev().find(|l| l.contains("imported ")).unwrap_or_else(|| panic!("{stderr}"));
    let numbers: Vec<i64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

#[tokio::test]
async fn an_import_killed_midway_leaves_a_whole_store_and_a_rerun_completes_it() {
    const N: usize = 8_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let file = dir.path().join("events.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let at = days_ago(1);
    for i in 0..N {
        writeln!(out, "{}", sample_event(&format!("crash-{i:06}"), &at)).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    run(&["migrate", "--data-dir", d]);

    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(["import", file.to_str().unwrap(), "--batch-size", "200", "--data-dir", d])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some batches are in (the first committed rows), well before the end.
    let url = format!("sqlite://{}?mode=ro", dir.path().join("auditgraph.db").display());
    loop {
        assert!(child.try_wait().unwrap().is_none(), "the import finished before it could be killed");
        assert!(start.elapsed() < Duration::from_secs(30), "no batch was written in 30 s");
        let db = sea_orm::Database::connect(&url).await.unwrap();
        let n = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM audit_events",
            ))
            .await
            .ok()
            .flatten()
            .map(|r| r.try_get::<i64>("", "n").unwrap())
            .unwrap_or(0);
        db.close().await.ok();
        if n > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    kill9(&mut child);

    // The store opens, migrate restores what a bulk load dropped, every event is whole.
    run(&["migrate", "--data-dir", d]);
    let before = check_store(dir.path()).await;
    assert!(before > 0 && before < N as i64, "killed after {before} of {N} events");

    // A re-run completes: what was written is skipped, the rest imported.
    let stderr = run(&["import", file.to_str().unwrap(), "--batch-size", "200", "--data-dir", d]);
    let (imported, skipped, rejected) = report(&stderr);
    assert_eq!((imported + skipped, skipped, rejected), (N as i64, before, 0), "{stderr}");
    assert_eq!(check_store(dir.path()).await, N as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_concurrent_posts_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = serve(dir.path());
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let at = days_ago(1);
    let mut writers = Vec::new();
    for w in 0..6 {
        let (base, acknowledged, at) = (base.clone(), acknowledged.clone(), at.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0.. {
                let id = format!("post-{w}-{i:06}");
                let sent = client.post(format!("{base}{EVENTS}")).json(&sample_event(&id, &at)).send().await;
                match sent {
                    Ok(r) if r.status() == 201 => acknowledged.lock().unwrap().push(id),
                    Ok(r) => assert!(r.status().is_success(), "{id}: {}", r.status()),
                    // The server is gone.
                    Err(_) => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill9(&mut child);
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged: Vec<String> = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 20, "only {} writes before the kill", acknowledged.len());

    // Restart: the store opens and serves; every acknowledged write is there, whole.
    let (mut child, base) = serve(dir.path());
    let client = reqwest::Client::new();
    let mut stored = HashSet::new();
    let mut next = Some(format!("{base}{EVENTS}?$top=1000"));
    while let Some(url) = next {
        let body: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        for event in body["value"].as_array().unwrap() {
            let resources = event["resources"].as_array().unwrap();
            assert_eq!(resources.len(), 1, "{event}");
            assert_eq!(resources[0]["modifiedProperties"].as_array().unwrap().len(), 1, "{event}");
            assert!(stored.insert(event["id"].as_str().unwrap().to_string()), "duplicate {event}");
        }
        next = body.get("@odata.nextLink").map(|v| v.as_str().unwrap().to_string());
    }
    for id in &acknowledged {
        assert!(stored.contains(id), "{id} was acknowledged (201) but is gone after the crash");
    }
    // At most one write per writer was in flight unacknowledged.
    assert!(
        stored.len() <= acknowledged.len() + 6,
        "{} stored, {} acknowledged",
        stored.len(),
        acknowledged.len()
    );
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    child.wait().unwrap();
    assert_eq!(check_store(dir.path()).await, stored.len() as i64);
}
