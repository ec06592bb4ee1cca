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
            self.journal.clear();
        }
    }
}

/// Applies the cluster's newer control snapshots, every `POLL` (a shared store only).
pub fn spawn_sync(emulator: web::Data<Emulator>, store: Store, clock: Clock) {
    if !store.is_shared() {
        return;
    }
    tokio::spawn(async move {
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
    });
}
