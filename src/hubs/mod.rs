//! auditgraph's Event Hubs namespace, below any door: hubs and partitions,
//! publishing (the router's `{"records":[…]}` messages and producers' events,
//! one code path), reading from a position, waking readers when a partition
//! grows, retention, and the epoch rule for exclusive readers
//! (live-routing.md §2.6–2.8). The AMQP door (`amqp`) serves it.
//!
//! Events are stored as encoded AMQP messages (`message`): the format of an
//! event hub's events, whoever sends them, so what a producer sent (its
//! properties, application properties, annotations) is what a consumer gets.

pub mod message;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::domain::{Ticks, fold};
use crate::store::{Hub, HubEvent, NewHubEvent, PartitionHead, Position, Store};

/// The namespace's key name: the one the official emulator's connection string names.
pub const KEY_NAME: &str = "RootManageSharedAccessKey";
/// The official emulator's well-known key, so connection strings are portable.
pub const DEFAULT_KEY: &str = "SAS_KEY_VALUE";
/// The largest event or batch a producer may send (the emulator's quota).
pub const MAX_MESSAGE_BYTES: u64 = 1024 * 1024;

/// How the namespace is configured (`serve --eventhubs…`).
#[derive(Debug, Clone)]
pub struct HubsConfig {
    /// Partitions of a hub created on demand.
    pub partitions: i32,
    /// How long events are kept.
    pub retention: Duration,
    pub key: String,
}

/// A hub as `/_auditgraph/routing` shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubStatus {
    pub name: String,
    pub partitions: Vec<PartitionStatus>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionStatus {
    pub id: String,
    pub begin_sequence_number: i64,
    pub last_sequence_number: i64,
    pub last_offset: String,
}

/// Where a publish goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A partition the producer named.
    Partition(i32),
    /// A partition chosen by hashing a key (the service's hash is not reproduced).
    Key(String),
    /// The next partition, round robin.
    Any,
}

/// Why a reader may not attach, or must stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochConflict(pub String);

struct Claim {
    id: u64,
    epoch: Option<i64>,
    stolen: Arc<Notify>,
}

type PartitionKey = (String, i32);

pub struct Namespace {
    store: Store,
    clock: Clock,
    config: HubsConfig,
    /// The last sequence number this process knows per partition: readers wait on it.
    heads: Mutex<HashMap<PartitionKey, watch::Sender<i64>>>,
    /// Readers per (hub, consumer group, partition), for the epoch rule.
    claims: Mutex<HashMap<(String, String, i32), Vec<Claim>>>,
    next_claim: AtomicU64,
    round_robin: AtomicUsize,
}

impl Namespace {
    pub fn new(store: Store, clock: Clock, config: HubsConfig) -> Arc<Namespace> {
        Arc::new(Namespace {
            store,
            clock,
            config,
            heads: Mutex::default(),
            claims: Mutex::default(),
            next_claim: AtomicU64::new(1),
            round_robin: AtomicUsize::new(0),
        })
    }

    pub fn config(&self) -> &HubsConfig {
        &self.config
    }

    /// Now, in whole milliseconds: enqueued times travel as AMQP timestamps
    /// (milliseconds), and a reader that starts after an event's enqueued time
    /// must not get that event back.
    fn now(&self) -> i64 {
        let ticks = Ticks::from_datetime(self.clock.now()).0;
        ticks - ticks.rem_euclid(10_000)
    }

    /// The hub of that name, created (with the configured partitions) if new.
    pub async fn ensure(&self, name: &str) -> anyhow::Result<Hub> {
        self.store.ensure_hub(name, self.config.partitions, self.now()).await
    }

    pub async fn hub(&self, name: &str) -> anyhow::Result<Option<Hub>> {
        self.store.hub(name).await
    }

    /// Every hub with its partitions' heads, for `/_auditgraph/routing`.
    pub async fn describe(&self) -> anyhow::Result<Vec<HubStatus>> {
        let mut out = Vec::new();
        for hub in self.store.hubs().await? {
            let mut partitions = Vec::new();
            for p in 0..hub.partitions {
                if let Some(head) = self.head(&hub, p).await? {
                    partitions.push(PartitionStatus {
                        id: p.to_string(),
                        begin_sequence_number: head.begin_seq,
                        last_sequence_number: head.last_seq,
                        last_offset: head.last_offset.to_string(),
                    });
                }
            }
            out.push(HubStatus { name: hub.name, partitions });
        }
        Ok(out)
    }

    pub async fn head(&self, hub: &Hub, partition: i32) -> anyhow::Result<Option<PartitionHead>> {
        self.store.partition_head(&hub.name, partition).await
    }

    /// Appends events to one partition of a hub (a batch stays together, as
    /// the service keeps it); returns the partition.
    pub async fn publish(
        &self,
        hub: &Hub,
        placement: &Placement,
        events: &[NewHubEvent],
    ) -> anyhow::Result<i32> {
        let partition = match placement {
            Placement::Partition(p) => *p,
            Placement::Key(key) => key_partition(key, hub.partitions),
            Placement::Any => {
                (self.round_robin.fetch_add(1, Ordering::Relaxed) % hub.partitions as usize) as i32
            }
        };
        anyhow::ensure!((0..hub.partitions).contains(&partition), "partition {partition} is out of range");
        if events.is_empty() {
            return Ok(partition);
        }
        let positions = self.store.append_events(&hub.name, partition, events, self.now()).await?;
        if let Some((last, _)) = positions.last() {
            self.head_sender(&hub.name, partition).send_replace(*last);
        }
        Ok(partition)
    }

    fn head_sender(&self, hub: &str, partition: i32) -> watch::Sender<i64> {
        self.heads
            .lock()
            .expect("heads")
            .entry((fold(hub), partition))
            .or_insert_with(|| watch::channel(-1).0)
            .clone()
    }

    /// Changes whenever this process appends to the partition. Appends by other
    /// instances sharing the database are not announced: readers also poll.
    pub fn watch(&self, hub: &Hub, partition: i32) -> watch::Receiver<i64> {
        self.head_sender(&hub.name, partition).subscribe()
    }

    /// The first sequence number a reader starting at `position` gets.
    pub async fn start(
        &self,
        hub: &Hub,
        partition: i32,
        position: Position,
        inclusive: bool,
    ) -> anyhow::Result<i64> {
        self.store.first_seq(&hub.name, partition, position, inclusive).await
    }

    pub async fn read(
        &self,
        hub: &Hub,
        partition: i32,
        from: i64,
        limit: u64,
    ) -> anyhow::Result<Vec<HubEvent>> {
        self.store.read_events(&hub.name, partition, from, limit).await
    }

    /// Deletes events older than the retention period.
    pub async fn expire(&self) -> anyhow::Result<u64> {
        let retention =
            chrono::Duration::from_std(self.config.retention).unwrap_or(chrono::Duration::days(1));
        self.store.expire_hub_events(Ticks::from_datetime(self.clock.now() - retention).0).await
    }

    /// Registers a reader of a partition under the epoch rule: a reader with
    /// an epoch takes the partition from every reader with a lower or equal
    /// epoch and from readers without one; a reader is refused while one with
    /// a higher epoch (or, without an epoch, any epoch reader) holds it.
    /// The claim lasts as long as the returned guard.
    pub fn claim(
        self: &Arc<Self>,
        hub: &Hub,
        group: &str,
        partition: i32,
        epoch: Option<i64>,
    ) -> Result<ClaimGuard, EpochConflict> {
        let key = (fold(&hub.name), fold(group), partition);
        let mut claims = self.claims.lock().expect("claims");
        let holders = claims.entry(key.clone()).or_default();
        let highest = holders.iter().filter_map(|c| c.epoch).max();
        match (epoch, highest) {
            (Some(mine), Some(theirs)) if theirs > mine => {
                return Err(EpochConflict(format!(
                    "Receiver with epoch {mine} cannot be created: a receiver with a higher epoch {theirs} exists on partition {partition} of consumer group '{group}'."
                )));
            }
            (None, Some(theirs)) => {
                return Err(EpochConflict(format!(
                    "A receiver without an epoch cannot be created: a receiver with epoch {theirs} exists on partition {partition} of consumer group '{group}'."
                )));
            }
            _ => {}
        }
        if let Some(mine) = epoch {
            for stolen in holders.drain(..) {
                tracing::debug!(epoch = mine, "an event hub reader was replaced by one with a higher epoch");
                stolen.stolen.notify_one();
            }
        }
        let id = self.next_claim.fetch_add(1, Ordering::Relaxed);
        let stolen = Arc::new(Notify::new());
        holders.push(Claim { id, epoch, stolen: stolen.clone() });
        Ok(ClaimGuard { namespace: self.clone(), key, id, stolen, epoch })
    }
}

/// A reader's hold on a partition; dropping it lets the partition go.
pub struct ClaimGuard {
    namespace: Arc<Namespace>,
    key: (String, String, i32),
    id: u64,
    stolen: Arc<Notify>,
    epoch: Option<i64>,
}

impl ClaimGuard {
    /// Completes when a reader with a higher epoch took the partition.
    pub async fn stolen(&self) {
        self.stolen.notified().await
    }

    pub fn epoch(&self) -> Option<i64> {
        self.epoch
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let mut claims = self.namespace.claims.lock().expect("claims");
        if let Some(holders) = claims.get_mut(&self.key) {
            holders.retain(|c| c.id != self.id);
            if holders.is_empty() {
                claims.remove(&self.key);
            }
        }
    }
}

/// The partition of a key: FNV-1a over its bytes (stable across runs and
/// instances; the service's own hash is not public).
pub fn key_partition(key: &str, partitions: i32) -> i32 {
    let hash =
        key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % partitions.max(1) as u64) as i32
}

/// The default hub of a category when a setting names none (`insights-logs-<category>`).
pub fn category_hub(category: &str) -> String {
    format!("insights-logs-{}", category.to_ascii_lowercase())
}

/// A hub name as Event Hubs allows: 1–256 letters, digits, `.`, `_`, `-`,
/// starting and ending with a letter or digit.
pub fn valid_hub_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    (1..=256).contains(&name.len())
        && name.chars().all(|c| ok(c) || ".-_".contains(c))
        && name.starts_with(ok)
        && name.ends_with(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_and_stay_put() {
        let parts: Vec<i32> = (0..64).map(|i| key_partition(&format!("device-{i}"), 4)).collect();
        for p in 0..4 {
            assert!(parts.contains(&p), "partition {p} never chosen: {parts:?}");
        }
        assert_eq!(key_partition("device-42", 4), key_partition("device-42", 4));
    }

    #[test]
    fn hub_names() {
        assert!(valid_hub_name("insights-logs-auditlogs"));
        assert!(valid_hub_name("a"));
        assert!(!valid_hub_name(""));
        assert!(!valid_hub_name("-a"));
        assert!(!valid_hub_name("a/b"));
        assert!(!valid_hub_name(&"a".repeat(257)));
        assert_eq!(category_hub("AuditLogs"), "insights-logs-auditlogs");
    }
}
