//! The cluster recipe (`scripts/cluster`): three instances behind HAProxy on
//! one PostgreSQL database. Paging through 5,000 events, each nextLink is
//! answered by another instance than the page before; a `kill -9` of one
//! instance loses no committed event and the others keep serving. Skipped
//! where HAProxy or PostgreSQL is missing (`.ci/run` installs HAProxy).

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, READER, client_credentials};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

/// A base port whose neighbours (base + 10·i, + 1) are free.
fn free_base_port() -> u16 {
    for _ in 0..50 {
        let base = 20_000 + (rand_port() % 2000) * 10;
        let ports = [base, base + 10, base + 11, base + 20, base + 21, base + 30, base + 31];
        if ports.iter().all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()) {
            return base;
        }
    }
    panic!("no free ports for the cluster");
}

fn rand_port() -> u16 {
    (uuid::Uuid::new_v4().as_u128() % 65_000) as u16
}

/// Stops the cluster when dropped, so a failing test leaves nothing running.
struct Running<'a>(&'a Path);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        cluster(&["stop"], self.0);
    }
}

fn cluster(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("scripts/cluster")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("AUDITGRAPH_BIN", env!("CARGO_BIN_EXE_auditgraph"))
        .output()
        .expect("scripts/cluster runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behind_a_balancer_act_as_one() {
    if Command::new("haproxy").arg("-v").output().is_err() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(database) = Backend::Postgres.fresh_database(dir.path()).await else { return };
    let port = free_base_port().to_string();
    let started =
        cluster(&["start", "--instances", "3", "--port", &port, "--database-url", &database], dir.path());
    let running = Running(dir.path());
    assert!(
        started.status.success(),
        "{}{}",
        String::from_utf8_lossy(&started.stdout),
        String::from_utf8_lossy(&started.stderr)
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let (status, _) = (
        http.post(format!("{base}/_auditgraph/reset"))
            .json(&json!({"count": 5000, "seed": 11}))
            .send()
            .await
            .unwrap()
            .status(),
        (),
    );
    assert_eq!(status, 200);
    // The other instances apply the reset within a poll (0.5 s), emptying their
    // journals then: requests they answer before that would vanish from them.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let token = client_credentials(&http, &base, READER).await;

    // Every page through the balancer: all 5,000 events once, each page from
    // another instance than the one that issued its nextLink.
    let mut ids = HashSet::new();
    let mut answered_by = Vec::new();
    let mut next = Some(format!("{base}{EVENTS}?$top=500&$select=id"));
    while let Some(url) = next {
        let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        answered_by.push(response.headers()["x-auditgraph-instance"].to_str().unwrap().to_string());
        let page: Value = response.json().await.unwrap();
        for e in page["value"].as_array().unwrap() {
            assert!(ids.insert(e["id"].as_str().unwrap().to_string()), "an event twice");
        }
        next = page["@odata.nextLink"].as_str().map(String::from);
        if let Some(link) = &next {
            assert!(link.starts_with(&base), "nextLinks point at the balancer: {link}");
        }
    }
    assert_eq!(ids.len(), 5000);
    assert!(
        answered_by.windows(2).all(|w| w[0] != w[1]),
        "consecutive pages by one instance: {answered_by:?}"
    );
    assert_eq!(answered_by.iter().collect::<HashSet<_>>().len(), 3, "{answered_by:?}");

    // The journal of the whole cluster: each entry names its instance.
    let journal: Value = http
        .get(format!("{base}/_auditgraph/requests?scope=cluster"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let instances: HashSet<&str> =
        journal["value"].as_array().unwrap().iter().map(|e| e["instance"].as_str().unwrap()).collect();
    assert_eq!(instances.len(), 3, "{instances:?}");

    // kill -9 one instance: the others keep serving (the balancer passes a
    // request the dead one cannot take to the next), and nothing committed is lost.
    let pids = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    let victim = pids.lines().next().unwrap().to_string();
    assert!(Command::new("kill").args(["-9", &victim]).status().unwrap().success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..6 {
        let response = http.get(format!("{base}{EVENTS}/$count")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "5000");
    }
    drop(running);
}
