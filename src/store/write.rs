//! The write transaction: an event is stored whole (event, actor, permissions,
//! resources, properties) or not at all. Callers go through `audit::Recorder`,
//! which validates first and publishes after commit.

use anyhow::Context;
use entities::{
    audit_actor as actor, audit_actor_permission as permission, audit_event as event,
    audit_property as property, audit_resource as resource,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait,
    QueryFilter, QuerySelect, TransactionTrait,
};

use super::Store;
use super::rows::EventRows;
use crate::domain::{AuditEvent, Ticks};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("An audit event with id '{0}' already exists.")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// Bound parameters per statement; under every backend's limit (SQLite 32766,
/// PostgreSQL and MySQL 65535).
const MAX_PARAMS: usize = 30_000;

async fn insert_chunked<A>(txn: &DatabaseTransaction, rows: Vec<A>, columns: usize) -> anyhow::Result<()>
where
    A: ActiveModelTrait + Send,
{
    let per_statement = (MAX_PARAMS / columns).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(txn)
            .await
            .context("insert failed")?;
    }
    Ok(())
}

async fn insert_rows(txn: &DatabaseTransaction, rows: EventRows) -> anyhow::Result<()> {
    insert_chunked(txn, rows.events, 18).await?;
    insert_chunked(txn, rows.actors, 20).await?;
    insert_chunked(txn, rows.permissions, 4).await?;
    insert_chunked(txn, rows.resources, 8).await?;
    insert_chunked(txn, rows.properties, 9).await?;
    Ok(())
}

impl Store {
    /// Stores one new event; an id that exists is a conflict and changes nothing.
    pub async fn insert_one(&self, e: &AuditEvent) -> Result<(), WriteError> {
        if self.insert_batch(vec![e.clone()]).await?.is_empty() {
            return Err(WriteError::Conflict(e.id.clone()));
        }
        Ok(())
    }

    /// Stores a batch in one transaction and returns the events it stored: those
    /// whose id is already stored (or repeats within the batch) are skipped, so
    /// importing twice adds nothing. Nothing is written on error.
    pub async fn insert_batch(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditEvent>, WriteError> {
        let txn = self.db.begin().await.context("cannot begin transaction")?;
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        let mut seen = std::collections::HashSet::new();
        for chunk in ids.chunks(MAX_PARAMS) {
            let found: Vec<String> = event::Entity::find()
                .select_only()
                .column(event::Column::Id)
                .filter(event::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(&txn)
                .await
                .context("cannot look up existing ids")?;
            seen.extend(found);
        }
        let new: Vec<AuditEvent> = events.into_iter().filter(|e| seen.insert(e.id.clone())).collect();
        let mut rows = EventRows::default();
        for e in &new {
            rows.push(e);
        }
        insert_rows(&txn, rows).await?;
        txn.commit().await.context("commit failed")?;
        Ok(new)
    }

    /// Replaces a stored event (same id) whole. Returns false when it does not exist.
    pub async fn replace(&self, e: &AuditEvent) -> Result<bool, WriteError> {
        let txn = self.db.begin().await.context("cannot begin transaction")?;
        let deleted = event::Entity::delete_by_id(e.id.clone())
            .exec(&txn)
            .await
            .context("delete failed")?;
        if deleted.rows_affected == 0 {
            return Ok(false);
        }
        // Children go with the event (ON DELETE CASCADE), then come back whole.
        let mut rows = EventRows::default();
        rows.push(e);
        insert_rows(&txn, rows).await?;
        txn.commit().await.context("commit failed")?;
        Ok(true)
    }

    /// Deletes one event and its children. Returns false when it does not exist.
    pub async fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let deleted = event::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await
            .context("delete failed")?;
        Ok(deleted.rows_affected > 0)
    }

    /// Deletes every event before `cutoff`; returns how many.
    pub async fn purge_before(&self, cutoff: Ticks) -> anyhow::Result<u64> {
        let deleted = event::Entity::delete_many()
            .filter(event::Column::ActivityTicks.lt(cutoff.0))
            .exec(&self.db)
            .await
            .context("purge failed")?;
        Ok(deleted.rows_affected)
    }

    /// Deletes every event.
    pub async fn clear(&self) -> anyhow::Result<u64> {
        // Children first: not every backend cascades a bulk delete cheaply.
        let txn = self.db.begin().await.context("cannot begin transaction")?;
        property::Entity::delete_many().exec(&txn).await?;
        resource::Entity::delete_many().exec(&txn).await?;
        permission::Entity::delete_many().exec(&txn).await?;
        actor::Entity::delete_many().exec(&txn).await?;
        let deleted = event::Entity::delete_many().exec(&txn).await?;
        txn.commit().await.context("commit failed")?;
        Ok(deleted.rows_affected)
    }
}
