//! Concurrency: writers POSTing events one by one while readers page
//! through the list, on every configured backend. Every write is acknowledged and
//! present once, no page is a 5xx, and no traversal sees an event twice.
//!
//! CI runs 4 writers × 50 events (about 5 s a backend here); the size is
//! `AUDITGRAPH_CONCURRENCY_WRITERS=8 AUDITGRAPH_CONCURRENCY_EVENTS=2000 cargo test --test api concurrency::`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;

use crate::helpers::{Backend, TestApp, sample_event};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

fn size(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Follows `@odata.nextLink` from the first page; every page must be a 200.
/// Returns the ids seen, refusing a duplicate within the traversal.
async fn traverse(client: &reqwest::Client, first: String) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let response = client.get(&url).send().await.expect("page");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "{url}: {body}");
        for event in body["value"].as_array().unwrap() {
            let id = event["id"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "{id} twice in one traversal (at {url})");
            ids.push(id);
        }
        next = body.get("@odata.nextLink").and_then(Value::as_str).map(String::from);
    }
    ids
}

async fn writers_and_readers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &["--throttling", "off"]).await else { return };
    let app = Arc::new(app);
    let writers = size("AUDITGRAPH_CONCURRENCY_WRITERS", 4);
    let per_writer = size("AUDITGRAPH_CONCURRENCY_EVENTS", 50);
    let base = chrono::Utc::now() - chrono::Duration::days(1);
    let done = Arc::new(AtomicBool::new(false));
    let traversals = Arc::new(AtomicUsize::new(0));

    let mut readers = Vec::new();
    for query in ["$top=50", "$top=37&$orderby=id", "$top=64&$filter=category eq 'Application'"] {
        let (app, done, traversals) = (app.clone(), done.clone(), traversals.clone());
        readers.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                traverse(&app.client, app.url(&format!("{EVENTS}?{query}"))).await;
                traversals.fetch_add(1, Ordering::Relaxed);
                // Readers page all the time, but leave the writers (and CI) some CPU.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }));
    }
    let mut tasks = Vec::new();
    for w in 0..writers {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let id = format!("cc-{w:02}-{i:05}");
                // Interleaved times, so every writer lands all over the default order.
                let at = base - chrono::Duration::milliseconds((i * writers + w) as i64);
                let at = at.format("%Y-%m-%dT%H:%M:%S%.6f0Z").to_string();
                let response = app.client.post(app.url(EVENTS)).json(&sample_event(&id, &at)).send().await;
                let response = response.expect("POST");
                let status = response.status();
                assert_eq!(status, 201, "{id}: {}", response.text().await.unwrap_or_default());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    assert!(traversals.load(Ordering::Relaxed) > 0);

    // Every write is there exactly once, in either order.
    let expected: HashSet<String> =
        (0..writers).flat_map(|w| (0..per_writer).map(move |i| format!("cc-{w:02}-{i:05}"))).collect();
    for query in ["$top=999", "$top=500&$orderby=id"] {
        let ids = traverse(&app.client, app.url(&format!("{EVENTS}?{query}"))).await;
        let ours: HashSet<String> = ids.into_iter().filter(|id| id.starts_with("cc-")).collect();
        assert_eq!(ours.len(), expected.len(), "{query}");
        assert_eq!(ours, expected, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readers_on_sqlite() {
    writers_and_readers(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readers_on_postgres() {
    writers_and_readers(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readers_on_mysql() {
    writers_and_readers(Backend::MySql).await
}
