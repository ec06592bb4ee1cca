//! The soak (not in CI): the real binary over SQLite, on loopback, under
//! mixed load at saturation (POSTs, DELETEs, list pages with `$filter`/`$orderby`,
//! follow-up pages, single GETs and GraphQL queries) for `AUDITGRAPH_SOAK_SECS`
//! (600 by default), sampling the server's RSS. The store is kept bounded (each
//! writer deletes its oldest events beyond 300), so memory must stay flat: the mean RSS of
//! the last fifth of the run may exceed that of the second fifth (the first is the
//! warm-up) by at most 10 %. No request may get a 5xx.
//!
//! `cargo test --test api soak:: -- --ignored --nocapture`

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{days_ago, sample_event};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";
const CLIENTS: usize = 8;
const KEEP: usize = 300;

/// A field of `/proc/{pid}/status`, in KiB (`VmRSS`, `RssAnon`, `RssFile`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server is running");
    let line = status.lines().find(|l| l.starts_with(field)).expect("the field");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 10-minute soak: cargo test --test api soak:: -- --ignored --nocapture"]
async fn memory_stays_flat_under_mixed_load() {
    let secs: u64 = std::env::var("AUDITGRAPH_SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(600);
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = crate::crash::serve(dir.path());
    assert!(base.starts_with("http://127.0.0.1:"), "loopback only: {base}");
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let at = days_ago(1);

    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (base, stop, requests, at) = (base.clone(), stop.clone(), requests.clone(), at.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut mine = VecDeque::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let request = match n % 6 {
                    0 | 1 => {
                        let id = format!("soak-{c}-{n}");
                        mine.push_back(id.clone());
                        http.post(format!("{base}{EVENTS}")).json(&sample_event(&id, &at))
                    }
                    2 => match mine.len() > KEEP {
                        true => http.delete(format!("{base}{EVENTS}/{}", mine.pop_front().unwrap())),
                        false => http.get(format!("{base}{EVENTS}?$top=5")),
                    },
                    3 => http.get(format!(
                        "{base}{EVENTS}?$top=50&$filter=category eq 'Application' and resources/any(r:r/modifiedProperties/any(p:p/newValue eq 'Calc'))&$orderby=id desc"
                    )),
                    4 => match mine.back() {
                        Some(id) => http.get(format!("{base}{EVENTS}/{id}")),
                        None => http.get(format!("{base}{EVENTS}?$count=true&$top=1")),
                    },
                    _ => http.post(format!("{base}/graphql")).json(&json!({
                        "query": "{ auditEvents(first: 20) { nodes { id category resources { displayName } } pageInfo { hasNextPage } } }"
                    })),
                };
                let response = request.send().await.expect("the server answers");
                let status = response.status();
                let body = response.bytes().await.expect("a whole body");
                assert!(!status.is_server_error(), "{status}: {}", String::from_utf8_lossy(&body));
                requests.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(5).min(Duration::from_secs(secs.max(1)))).await;
        let rss = status_kib(pid, "VmRSS:");
        let done = requests.load(Ordering::Relaxed);
        // Anonymous memory (heap, SQLite's page cache) and file pages (the mapped database).
        let (anon, file) = (status_kib(pid, "RssAnon:"), status_kib(pid, "RssFile:"));
        eprintln!(
            "{:>5.0} s  RSS {rss:>8} KiB (anon {anon}, file {file})  {done} requests",
            start.elapsed().as_secs_f64()
        );
        samples.push(rss);
        if clients.iter().any(|c| c.is_finished()) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Flat: the mean of the last fifth against the mean of the fifth after the warm-up.
    // Single samples swing by up to 20 % (response buffers, SQLite's cache) and say
    // nothing about a leak; a leak moves the mean.
    assert!(samples.len() >= 5, "too short a soak for five windows: {} samples", samples.len());
    let fifth = samples.len() / 5;
    let mean = |window: &[u64]| window.iter().sum::<u64>() / window.len() as u64;
    let (after_warm_up, last) = (mean(&samples[fifth..2 * fifth]), mean(&samples[samples.len() - fifth..]));
    let peak = samples.iter().copied().max().unwrap();
    eprintln!(
        "mean RSS after the warm-up {after_warm_up} KiB, over the last fifth {last} KiB (peak {peak} KiB), {} requests",
        requests.load(Ordering::Relaxed)
    );
    assert!(last * 10 <= after_warm_up * 11, "RSS grew from {after_warm_up} KiB to {last} KiB (> 10 %)");
}
