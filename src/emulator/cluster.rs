//! The controls across instances sharing a database server: after each change
//! through the admin API, an instance stores a snapshot of its controls (the
//! clock, the throttling settings, the fault rules, the count of resets); every
//! instance polls it and applies a newer one, so a frozen clock, a fault rule
//! or a reset set through one instance takes effect on all within a poll.
//! Counters (throttling windows, how often a rule fired) stay per instance.

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Emulator;
use super::faults::FaultSet;
use super::throttle::ThrottleConfig;
use crate::clock::{Clock, ClockMode};
use crate::store::Store;

/// The row the snapshot lives in.
const NAME: &str = "emulator";
/// How soon another instance's change takes effect here.
const POLL: Duration = Duration::from_millis(500);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    clock: ClockSnapshot,
    throttling: ThrottleConfig,
    faults: FaultSet,
    resets: u64,
    /// When the latest reset was made: an instance that hears of it later keeps
    /// the journal entries of requests that arrived since (absent from older
    /// instances' snapshots: then the whole journal goes).
    #[serde(default)]
    reset_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "camelCase")]
enum ClockSnapshot {
    System,
    Offset { milliseconds: i64 },
    Frozen { at: DateTime<Utc> },
}

impl Emulator {
    /// Shares this instance's controls with the others (a shared store only).
    pub async fn share(&self, store: &Store, clock: &Clock) -> anyhow::Result<()> {
        if !store.is_shared() {
            return Ok(());
        }
        let view = self.faults.view();
        let snapshot = Snapshot {
            clock: match clock.mode() {
                ClockMode::System => ClockSnapshot::System,
                ClockMode::Offset(by) => ClockSnapshot::Offset { milliseconds: by.num_milliseconds() },
                ClockMode::Frozen(at) => ClockSnapshot::Frozen { at },
            },
            throttling: self.throttle.config(),
            faults: FaultSet { seed: view.seed, rules: view.rules.into_iter().map(|r| r.rule).collect() },
            resets: self.resets.load(Ordering::SeqCst),
            reset_at: *self.reset_at.lock().expect("reset time"),
        };
        let version = store.put_control(NAME, &serde_json::to_string(&snapshot)?).await?;
        self.applied.fetch_max(version, Ordering::SeqCst);
        Ok(())
    }

    fn apply(&self, clock: &Clock, snapshot: Snapshot) {
        clock.set_mode(match snapshot.clock {
            ClockSnapshot::System => ClockMode::System,
            ClockSnapshot::Offset { milliseconds } => {
                ClockMode::Offset(chrono::Duration::milliseconds(milliseconds))
            }
            ClockSnapshot::Frozen { at } => ClockMode::Frozen(at),
        });
        self.throttle.replace(snapshot.throttling);
        if let Err(e) = self.faults.replace(snapshot.faults) {
            tracing::warn!(error = %e, "the cluster's fault rules do not apply here");
        }
        if self.resets.swap(snapshot.resets, Ordering::SeqCst) != snapshot.resets {
            match snapshot.reset_at {
                Some(at) => self.journal.clear_before(at),
                None => self.journal.clear(),
            }
            *self.reset_at.lock().expect("reset time") = snapshot.reset_at;
        }
    }
}

/// The journals of every member, this instance's first, each entry naming its
/// instance, merged by time. A member that does not answer (it is stopping)
/// is left out; the caller's `Authorization` opens the others' admin API.
pub async fn journal(
    store: &Store,
    authorization: Option<actix_web::http::header::HeaderValue>,
    own: Vec<serde_json::Value>,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let now = Utc::now();
    let alive = crate::domain::Ticks::from_datetime(
        now - chrono::Duration::seconds(crate::startup::HEARTBEAT_SECS * 3),
    );
    let forget = crate::domain::Ticks::from_datetime(now - chrono::Duration::hours(1));
    let http = reqwest012::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let mut all = own;
    for member in store.members(alive, forget).await? {
        if member.instance == store.instance() {
            continue;
        }
        let mut request = http.get(format!("{}/_auditgraph/requests", member.address));
        if let Some(value) = &authorization {
            request = request.header("authorization", value.as_bytes());
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                let bytes = response.bytes().await.unwrap_or_default();
                let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                all.extend(body["value"].as_array().cloned().unwrap_or_default());
            }
            Ok(response) => {
                tracing::warn!(member = %member.address, status = %response.status(), "a member's journal was refused")
            }
            Err(e) => {
                tracing::warn!(member = %member.address, error = %e, "a member's journal is unreachable")
            }
        }
    }
    all.sort_by(|a, b| a["time"].as_str().unwrap_or_default().cmp(b["time"].as_str().unwrap_or_default()));
    Ok(all)
}

/// Applies the cluster's newer control snapshots, every `POLL` (a shared store only).
pub fn spawn_sync(emulator: web::Data<Emulator>, store: Store, clock: Clock) {
    if !store.is_shared() {
        return;
    }
    tokio::spawn(crate::store::uncounted(async move {
        loop {
            tokio::time::sleep(POLL).await;
            match store.control(NAME).await {
                Ok(Some((value, version))) if version > emulator.applied.load(Ordering::SeqCst) => {
                    match serde_json::from_str::<Snapshot>(&value) {
                        Ok(snapshot) => {
                            emulator.apply(&clock, snapshot);
                            emulator.applied.fetch_max(version, Ordering::SeqCst);
                            tracing::info!(version, "applied the cluster's emulator controls");
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the cluster's emulator controls are unreadable")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the cluster's emulator controls")
                }
            }
        }
    }));
}
