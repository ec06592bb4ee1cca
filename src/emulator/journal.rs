//! The request journal: a ring buffer of the most recent requests (all but the
//! admin API's own), so SDK tests can assert what their client really sent:
//! how often it retried (`Retry-Attempt`), with which `client-request-id`, and
//! what the emulator injected. Newest entries push the oldest out.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// 1, 2, 3… in the order requests finished, since start (or the last clear): gaps show
    /// entries the ring buffer dropped.
    pub seq: u64,
    /// Wall-clock time the request arrived (not the emulator clock: the
    /// journal is about real client timing, such as retry delays).
    #[serde(with = "wire_time")]
    pub time: DateTime<Utc>,
    pub method: String,
    pub path: String,
    /// The raw query string, as sent (percent-encoded), without `?`.
    pub query: String,
    /// `None` when the connection was dropped on purpose (a `drop` fault).
    pub status: Option<u16>,
    pub request_id: String,
    /// The client's `client-request-id` header, when it sent one.
    pub client_request_id: Option<String>,
    /// The client's `Retry-Attempt` header (SDK retry handlers set it).
    pub retry_attempt: Option<String>,
    pub duration_ms: u64,
    /// What the emulator did instead of serving normally: `throttled`,
    /// `throttled-early-retry`, `status-503`, `latency`, `empty-page`, `drop`.
    pub injected: Vec<String>,
}

mod wire_time {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

pub struct Journal {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    entries: VecDeque<Entry>,
}

impl Journal {
    pub fn new(capacity: usize) -> Journal {
        Journal { capacity, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a finished request; `entry.seq` is assigned here.
    pub fn record(&self, mut entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.next_seq += 1;
        entry.seq = inner.next_seq;
        if inner.entries.len() == self.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back(entry);
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.iter().cloned().collect()
    }

    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    /// Drops the entries of requests that arrived before `at` (a reset made
    /// elsewhere, heard later: what arrived since stays).
    pub fn clear_before(&self, at: DateTime<Utc>) {
        self.lock().entries.retain(|e| e.time >= at);
    }
}
