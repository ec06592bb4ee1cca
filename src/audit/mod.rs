//! The one write path. Every door that creates, changes or deletes events (REST,
//! GraphQL, import, seed, the Intune workloads) goes through [`Recorder`]: the store writes in one
//! transaction, and only what was committed is published to subscribers.

use tokio::sync::broadcast;

use crate::auth::Principal;
use crate::domain::{AuditActor, AuditEvent};
use crate::store::{Store, WriteError};

/// The caller as the actor of an event it creates without naming one (REST POST,
/// GraphQL create): an app as `Application`, a user as `ItPro`, from `ip_address`.
pub fn caller_actor(principal: &Principal, ip_address: Option<String>) -> AuditActor {
    let a = principal.actor();
    AuditActor {
        actor_type: a.audit_actor_type,
        user_permissions: a.user_permissions,
        application_id: a.application_id,
        application_display_name: a.application_display_name,
        user_principal_name: a.user_principal_name,
        service_principal_name: a.service_principal_name,
        ip_address,
        user_id: a.user_id,
        ..AuditActor::default()
    }
}

/// What a batch write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InsertOutcome {
    pub inserted: u64,
    /// Events whose id was already stored (left untouched).
    pub existing: u64,
}

/// A batch being created (see [`Recorder::bulk_create`]): nothing is stored or
/// published unless it commits.
pub struct BulkCreate<'a> {
    recorder: &'a Recorder,
    write: crate::store::BulkWrite<'a>,
    /// Stored events to publish after the commit (kept only for subscribers).
    stored: Vec<AuditEvent>,
}

impl BulkCreate<'_> {
    /// Adds events, skipping ids already stored (or added before).
    pub async fn add(&mut self, events: Vec<AuditEvent>) -> Result<InsertOutcome, WriteError> {
        let total = events.len() as u64;
        let stored = self.write.insert(events).await?;
        let outcome = InsertOutcome { inserted: stored.len() as u64, existing: total - stored.len() as u64 };
        if self.recorder.changes.receiver_count() > 0 {
            self.stored.extend(stored);
        }
        Ok(outcome)
    }

    pub async fn commit(self) -> Result<(), WriteError> {
        self.write.commit().await?;
        for e in self.stored {
            self.recorder.publish(Change::Created(e));
        }
        Ok(())
    }
}

/// What happened to an event, as published after commit.
#[derive(Debug, Clone)]
pub enum Change {
    Created(AuditEvent),
    Updated(AuditEvent),
    Deleted(String),
}

#[derive(Clone)]
pub struct Recorder {
    store: Store,
    changes: broadcast::Sender<Change>,
}

impl Recorder {
    pub fn new(store: Store) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Recorder { store, changes }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A live feed of committed changes (lagging receivers skip, never block writers).
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// On a shared store, feeds this instance's subscribers every event any
    /// instance commits, in one order (PostgreSQL's NOTIFY, MySQL's polling of
    /// the sequence), for as long as it runs; reconnects after a failure.
    pub async fn relay(&self) {
        loop {
            let relayed = self.store.watch(
                || self.changes.receiver_count() > 0,
                |events| {
                    for e in events {
                        self.publish_now(Change::Created(e));
                    }
                },
            );
            match relayed.await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "the change feed from other instances failed; reconnecting")
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    fn publish(&self, change: Change) {
        // Created events of a store with a feed are published by `relay`, in
        // commit order across instances.
        if matches!(change, Change::Created(_)) && self.store.has_feed() {
            return;
        }
        self.publish_now(change);
    }

    fn publish_now(&self, change: Change) {
        // No subscriber is not an error.
        let _ = self.changes.send(change);
    }

    pub async fn create(&self, event: AuditEvent) -> Result<AuditEvent, WriteError> {
        self.store.insert_one(&event).await?;
        self.publish(Change::Created(event.clone()));
        Ok(event)
    }

    /// Stores a batch atomically, skipping ids already stored.
    pub async fn create_batch(&self, events: Vec<AuditEvent>) -> Result<InsertOutcome, WriteError> {
        let mut batch = self.bulk_create().await?;
        let outcome = batch.add(events).await?;
        batch.commit().await?;
        Ok(outcome)
    }

    /// Begins a batch that is handed its events a part at a time and stored
    /// atomically (loads commit every so many events without holding them all).
    pub async fn bulk_create(&self) -> Result<BulkCreate<'_>, WriteError> {
        Ok(BulkCreate { recorder: self, write: self.store.bulk_write().await?, stored: Vec::new() })
    }

    /// Commits a change of Intune objects with its audit events, in one
    /// transaction, and publishes the events: how every workload call writes.
    pub async fn commit_objects(
        &self,
        write: crate::store::ObjectWrite<'_>,
        events: Vec<AuditEvent>,
    ) -> Result<(), WriteError> {
        write.commit(&events).await?;
        for e in events {
            self.publish(Change::Created(e));
        }
        Ok(())
    }

    /// Replaces an event whole; false when it does not exist.
    pub async fn update(&self, event: AuditEvent) -> Result<bool, WriteError> {
        let updated = self.store.replace(&event).await?;
        if updated {
            self.publish(Change::Updated(event));
        }
        Ok(updated)
    }

    pub async fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let deleted = self.store.delete(id).await?;
        if deleted {
            self.publish(Change::Deleted(id.to_string()));
        }
        Ok(deleted)
    }
}
