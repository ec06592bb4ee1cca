//! The delivery worker: every window, each route with pending events takes
//! its lease, reads its outbox oldest first, renders the resource-log records
//! (the shape `export` writes), hands them to the destination (appended to a
//! storage account's blobs, or published to an event hub as `{"records":[…]}`
//! messages of at most 256 KB), and only then deletes what it delivered. A failure leaves the outbox as it was, records
//! the error, and backs off (1, 2, 4 … 60 s); one route failing never holds up
//! another. `flush` delivers everything pending now.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, DurationRound, Utc};
use serde::Serialize;

use super::faults::{FaultKind, Faults};
use super::settings::{EVENT_HUB, STORAGE, storage_account_name};
use super::storage::{Accounts, BlobClient};
use crate::clock::Clock;
use crate::domain::monitor::{
    EventHubBatcher, default_resource_id, record, storage_blob_path, to_dotnet_json,
};
use crate::domain::{AuditEvent, Ticks, format_graph_datetime};
use crate::hubs::{Namespace, Placement, message};
use crate::store::{Destination, Route, Store};

/// Events per delivery attempt (a window with more delivers in several).
const BATCH: u64 = 2000;
/// How long a lease lasts; a delivery renews it per batch and releases it when
/// the outbox is empty. A crashed instance's lease blocks others this long.
const LEASE: Duration = Duration::from_secs(15);
/// After an hour turns, events of the past hour still go to its blob for this
/// long (azure-monitor.md §6: writes go to both blobs for a while).
const HOUR_GRACE: chrono::Duration = chrono::Duration::minutes(5);
/// The longest back-off between failed attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often event hub events past their retention are deleted.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// A route's state as `/_auditgraph/routing` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    pub setting: String,
    pub destination: String,
    pub target: String,
    pub delivered: i64,
    pub pending: u64,
    /// Events dropped by a fault (this instance).
    pub dropped: u64,
    pub last_delivery: Option<String>,
    pub last_error: Option<String>,
    pub failures: i32,
    pub stalled: bool,
    /// Seconds since the last delivery while events wait (0 when none wait).
    pub lag_seconds: f64,
}

pub struct Router {
    store: Store,
    clock: Clock,
    accounts: Accounts,
    blobs: BlobClient,
    hubs: Arc<Namespace>,
    window: Duration,
    tenant_id: String,
    /// The `resourceId=` segment of blob paths.
    resource_id: String,
    /// This process, as lease owner (the store's instance name).
    instance: String,
    /// One delivery pass at a time in this process (the loop or a flush).
    turn: tokio::sync::Mutex<()>,
    /// When each route was last attempted, by this process.
    attempts: Mutex<HashMap<i64, Instant>>,
    dropped: Mutex<HashMap<i64, u64>>,
    pub faults: Mutex<Faults>,
    wake: tokio::sync::Notify,
}

impl Router {
    pub fn new(
        store: Store,
        clock: Clock,
        accounts: Accounts,
        hubs: Arc<Namespace>,
        window: Duration,
        tenant_id: String,
        resource_id: Option<String>,
    ) -> anyhow::Result<Router> {
        let instance = store.instance().to_string();
        Ok(Router {
            store,
            clock,
            accounts,
            blobs: BlobClient::new()?,
            hubs,
            window,
            resource_id: resource_id.unwrap_or_else(|| default_resource_id(&tenant_id)),
            tenant_id,
            instance,
            turn: tokio::sync::Mutex::new(()),
            attempts: Mutex::default(),
            dropped: Mutex::default(),
            faults: Mutex::default(),
            wake: tokio::sync::Notify::new(),
        })
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    pub fn hubs(&self) -> &Namespace {
        &self.hubs
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Makes what a setting's destinations need before it is saved: the
    /// event hubs it names (Azure requires a destination to exist first;
    /// auditgraph's namespace creates hubs on demand).
    pub async fn prepare(&self, destinations: &[Destination]) -> anyhow::Result<()> {
        for (kind, target) in destinations {
            if kind == EVENT_HUB {
                self.hubs.ensure(target).await?;
            }
        }
        Ok(())
    }

    /// Runs the delivery loop until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let tick = self.window.min(Duration::from_secs(1));
        let mut expired = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = self.wake.notified() => {}
            }
            if let Err(e) = self.pass(false).await {
                tracing::warn!(error = %format!("{e:#}"), "routing pass failed");
            }
            if expired.elapsed() >= EXPIRE_EVERY {
                expired = Instant::now();
                if let Err(e) = self.hubs.expire().await {
                    tracing::warn!(error = %format!("{e:#}"), "expiring event hub events failed; will retry");
                }
            }
        }
    }

    /// Delivers everything pending now, ignoring windows and back-off, and
    /// deletes the event hub events past their retention.
    pub async fn flush(&self) -> anyhow::Result<()> {
        self.hubs.expire().await?;
        self.pass(true).await
    }

    /// Wakes the loop (a setting changed).
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    fn due(&self, route: &Route) -> bool {
        let wait = if route.failures > 0 {
            let backoff = Duration::from_secs(1u64 << route.failures.clamp(0, 6) as u32).min(MAX_BACKOFF);
            backoff.max(self.window.min(MAX_BACKOFF))
        } else {
            self.window
        };
        // A route first seen starts its window now: events wait a window, as Intune batches them.
        self.attempts.lock().expect("attempts").entry(route.id).or_insert_with(Instant::now).elapsed() >= wait
    }

    async fn pass(&self, force: bool) -> anyhow::Result<()> {
        let _turn = self.turn.lock().await;
        for route in self.store.routes().await? {
            if !(route.kind == STORAGE || route.kind == EVENT_HUB)
                || route.stalled
                || route.pending == 0
                || !(force || self.due(&route))
            {
                continue;
            }
            self.attempts.lock().expect("attempts").insert(route.id, Instant::now());
            match self.deliver(&route).await {
                Ok(()) => {}
                Err(e) => {
                    let message = format!("{e:#}");
                    tracing::warn!(setting = %route.setting, target = %route.target, error = %message, "delivery failed");
                    self.blobs.forget();
                    self.store.delivery_failed(route.id, &message).await?;
                    if force {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Delivers a route's whole outbox, batch by batch.
    async fn deliver(&self, route: &Route) -> anyhow::Result<()> {
        loop {
            let now = self.clock.now();
            let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
            if !self
                .store
                .take_lease(
                    route.id,
                    &self.instance,
                    Ticks::from_datetime(now).0,
                    Ticks::from_datetime(until).0,
                )
                .await?
            {
                anyhow::bail!(
                    "another auditgraph instance is delivering this route (its lease lasts up to {} s)",
                    LEASE.as_secs()
                );
            }
            let batch = self.store.outbox_batch(route.id, BATCH).await?;
            if batch.is_empty() {
                self.store.release_lease(route.id, &self.instance).await?;
                return Ok(());
            }
            let seqs: Vec<i64> = batch.iter().map(|(s, _)| *s).collect();
            let fault = self.faults.lock().expect("faults").draw(&route.setting);
            match fault {
                Some(FaultKind::Unavailable) => {
                    anyhow::bail!("the destination refuses deliveries (an injected 'unavailable' fault)")
                }
                Some(FaultKind::Stall) => {
                    self.store.stall_route(route.id).await?;
                    return Ok(());
                }
                Some(FaultKind::Drop) => {
                    *self.dropped.lock().expect("dropped").entry(route.id).or_default() += seqs.len() as u64;
                    self.store.delivered(route.id, &seqs, Ticks::from_datetime(now).0, Some(0)).await?;
                    continue;
                }
                Some(FaultKind::Duplicate) | None => {}
            }
            let copies = if fault == Some(FaultKind::Duplicate) { 2 } else { 1 };
            match route.kind.as_str() {
                STORAGE => self.append_blobs(route, &batch, now, copies).await?,
                _ => self.publish(route, &batch, copies).await?,
            }
            self.store.delivered(route.id, &seqs, Ticks::from_datetime(now).0, None).await?;
            tracing::debug!(setting = %route.setting, events = seqs.len(), "delivered");
        }
    }

    /// Appends a batch's records to the hourly blobs of a storage account.
    async fn append_blobs(
        &self,
        route: &Route,
        batch: &[(i64, AuditEvent)],
        now: DateTime<Utc>,
        copies: usize,
    ) -> anyhow::Result<()> {
        let name =
            storage_account_name(&route.target).context("the route's storage account id is malformed")?;
        let account = self.accounts.get(name).with_context(|| {
            format!("the storage account '{name}' is no longer configured (--storage-account)")
        })?;
        let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (_, event) in batch {
            let path = storage_blob_path(&self.resource_id, blob_hour(event.activity_date_time, now));
            let line = blobs.entry(path).or_default();
            serde_json::to_writer(&mut *line, &serde_json::Value::Object(record(event, &self.tenant_id)))?;
            line.push(b'\n');
        }
        for (path, bytes) in &blobs {
            let (container, blob) = path.split_once('/').context("a blob path has its container first")?;
            for _ in 0..copies {
                self.blobs.append(account, container, blob, bytes).await?;
            }
        }
        Ok(())
    }

    /// Publishes a batch's records to an event hub: the whole delivery is one
    /// window, so one `{"records":[…]}` message, split where it would pass 256 KB
    /// (the batcher `export --format event-hub` uses); messages go round robin.
    async fn publish(&self, route: &Route, batch: &[(i64, AuditEvent)], copies: usize) -> anyhow::Result<()> {
        let hub = self.hubs.ensure(&route.target).await?;
        let mut batcher = EventHubBatcher::default();
        let mut messages = Vec::new();
        for (_, event) in batch {
            let record = to_dotnet_json(&serde_json::Value::Object(record(event, &self.tenant_id)));
            messages.extend(batcher.push(0, &record));
        }
        messages.extend(batcher.finish());
        for body in messages {
            let event = (None, message::data_message(body.into_bytes()));
            for _ in 0..copies {
                self.hubs.publish(&hub, &Placement::Any, std::slice::from_ref(&event)).await?;
            }
        }
        Ok(())
    }

    /// Every route's state.
    pub async fn status(&self) -> anyhow::Result<Vec<RouteStatus>> {
        let now = self.clock.now();
        let dropped = self.dropped.lock().expect("dropped").clone();
        Ok(self
            .store
            .routes()
            .await?
            .into_iter()
            .map(|r| {
                let last = (r.last_delivery_ticks > 0).then(|| Ticks(r.last_delivery_ticks).to_datetime());
                let lag = match (r.pending, last) {
                    (0, _) => 0.0,
                    (_, Some(at)) => (now - at).num_milliseconds().max(0) as f64 / 1000.0,
                    // Waiting for the first delivery: no lag measured yet.
                    (_, None) => 0.0,
                };
                RouteStatus {
                    setting: r.setting,
                    destination: r.kind,
                    target: r.target,
                    delivered: r.delivered,
                    pending: r.pending,
                    dropped: dropped.get(&r.id).copied().unwrap_or(0),
                    last_delivery: last.map(format_graph_datetime),
                    last_error: r.last_error,
                    failures: r.failures,
                    stalled: r.stalled,
                    lag_seconds: lag,
                }
            })
            .collect())
    }
}

/// The hour whose `PT1H.json` receives an event delivered at `now`: blobs
/// are grouped by time received, except that for a grace period after the
/// hour turns the past hour's events still go to the past hour's blob.
pub fn blob_hour(event_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let floor = |t: DateTime<Utc>| t.duration_trunc(chrono::Duration::hours(1)).unwrap_or(t);
    floor(event_at).clamp(floor(now - HOUR_GRACE), floor(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn blobs_by_time_received_with_a_grace_period() {
        // Delivered within the hour: its own hour.
        assert_eq!(
            blob_hour(at("2026-12-06T10:20:00Z"), at("2026-12-06T10:25:00Z")),
            at("2026-12-06T10:00:00Z")
        );
        // Just after the hour turns, the past hour's event goes to the past hour's blob.
        assert_eq!(
            blob_hour(at("2026-12-06T09:59:00Z"), at("2026-12-06T10:02:00Z")),
            at("2026-12-06T09:00:00Z")
        );
        // Later, or for an older backlog, the hour it was received.
        assert_eq!(
            blob_hour(at("2026-12-06T09:59:00Z"), at("2026-12-06T10:06:00Z")),
            at("2026-12-06T10:00:00Z")
        );
        assert_eq!(
            blob_hour(at("2026-12-01T03:00:00Z"), at("2026-12-06T10:02:00Z")),
            at("2026-12-06T09:00:00Z")
        );
        // A future event (a moved clock) goes to the current hour.
        assert_eq!(
            blob_hour(at("2026-12-07T00:00:00Z"), at("2026-12-06T10:02:00Z")),
            at("2026-12-06T10:00:00Z")
        );
    }
}
