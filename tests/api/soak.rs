//! The soak (issue 14; not in CI): the real binary over SQLite, on loopback, under
//! mixed load at saturation (POSTs, DELETEs, list pages with `$filter`/`$orderby`,
//! follow-up pages, single GETs and GraphQL queries) for `AUDITGRAPH_SOAK_SECS`
//! (600 by default), sampling the server's RSS. The store is kept bounded (each
//! writer deletes its oldest events beyond 300), so memory must stay flat: no
//! sample after the warm-up (the first fifth) may exceed the warm-up's last by
//! more than 10 %. No request may get a 5xx.
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

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server is running");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
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
    let warm_up = Duration::from_secs(secs / 5);
    let mut baseline = None;
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(5).min(Duration::from_secs(secs.max(1)))).await;
        let rss = rss_kib(pid);
        let done = requests.load(Ordering::Relaxed);
        eprintln!("{:>5.0} s  {rss:>8} KiB  {done} requests", start.elapsed().as_secs_f64());
        if start.elapsed() < warm_up {
            baseline = Some(rss);
        } else {
            samples.push(rss);
        }
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

    let baseline = baseline.expect("a sample during the warm-up");
    let peak = samples.iter().copied().max().unwrap_or(baseline);
    eprintln!("warm-up {baseline} KiB, peak after {peak} KiB, {} requests", requests.load(Ordering::Relaxed));
    assert!(peak * 10 <= baseline * 11, "RSS grew from {baseline} KiB to {peak} KiB (> 10 %)");
}
