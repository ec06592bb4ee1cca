//! The write transaction: an event is stored whole (event, actor, permissions,
//! resources, properties) or not at all. Callers go through `audit::Recorder`,
//! which validates first and publishes after commit.

use anyhow::Context;
use entities::{
    audit_actor as actor, audit_actor_permission as permission, audit_event as event,
    audit_property as property, audit_resource as resource,
};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, Statement, TransactionTrait, Value,
};

use super::Store;
use super::rows::{ChildRows, TableRows, event_rows};
use crate::domain::{AuditEvent, Ticks, fold};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("An audit event with id '{0}' already exists.")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// Rows per INSERT (and ids per lookup): enough to amortise a round trip, and
/// under every backend's parameter limit (20 columns x 128 = 2,560).
const ROWS_PER_STATEMENT: usize = 128;

/// Splits `total` rows into statement sizes: full statements, then powers of two.
/// Few distinct sizes means few distinct SQL texts, so every statement after the
/// first of its size is a prepared one from the connection's cache.
fn statement_sizes(mut total: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let n = match total {
            0 => return None,
            t if t >= ROWS_PER_STATEMENT => ROWS_PER_STATEMENT,
            t => 1 << t.ilog2(),
        };
        total -= n;
        Some(n)
    })
}

impl Store {
    /// The INSERT for `rows` rows of `columns` into `E`'s table, built once per shape.
    fn insert_sql<E: EntityTrait>(&self, columns: &'static [E::Column], rows: usize) -> std::sync::Arc<str> {
        let key = (E::default().table_name(), rows);
        let mut cache = self.insert_sql.lock().expect("insert SQL cache poisoned");
        cache
            .entry(key)
            .or_insert_with(|| {
                let mut insert = Query::insert();
                insert.into_table(E::default()).columns(columns.iter().copied());
                for _ in 0..rows {
                    insert.values_panic(columns.iter().map(|_| Expr::val(Value::Int(None))));
                }
                self.backend().build(&insert).sql.into()
            })
            .clone()
    }

    async fn insert_rows<E: EntityTrait>(&self, txn: &DatabaseTransaction, rows: TableRows<E::Column>) -> anyhow::Result<()> {
        let (width, total) = (rows.columns.len(), rows.len());
        let mut values = rows.values.into_iter();
        for n in statement_sizes(total) {
            let sql = self.insert_sql::<E>(rows.columns, n);
            let chunk: Vec<Value> = values.by_ref().take(n * width).collect();
            txn.execute_raw(Statement::from_sql_and_values(self.backend(), &*sql, chunk))
                .await
                .with_context(|| format!("cannot insert into {}", E::default().table_name()))?;
        }
        Ok(())
    }

    /// `(seq, id_ci)` of the stored events among `folded_ids`.
    async fn stored_keys(&self, txn: &DatabaseTransaction, folded_ids: &[String]) -> anyhow::Result<Vec<(i64, String)>> {
        let mut found = Vec::with_capacity(folded_ids.len());
        let mut rest = folded_ids;
        for n in statement_sizes(folded_ids.len()) {
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let keys: Vec<(i64, String)> = event::Entity::find()
                .select_only()
                .column(event::Column::Seq)
                .column(event::Column::IdCi)
                .filter(event::Column::IdCi.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(txn)
                .await
                .context("cannot look up event ids")?;
            found.extend(keys);
        }
        Ok(found)
    }

    /// Writes `events` (none of them stored yet) with their children.
    async fn insert_new(&self, txn: &DatabaseTransaction, events: &[AuditEvent]) -> anyhow::Result<()> {
        self.insert_rows::<event::Entity>(txn, event_rows(events)).await?;
        let folded: Vec<String> = events.iter().map(|e| fold(&e.id)).collect();
        let seqs: std::collections::HashMap<String, i64> =
            self.stored_keys(txn, &folded).await?.into_iter().map(|(seq, id)| (id, seq)).collect();
        let mut children = ChildRows::default();
        for (e, id) in events.iter().zip(&folded) {
            let seq = *seqs.get(id).with_context(|| format!("event {} vanished while being written", e.id))?;
            children.push(seq, e);
        }
        self.insert_rows::<actor::Entity>(txn, children.actors).await?;
        self.insert_rows::<permission::Entity>(txn, children.permissions).await?;
        self.insert_rows::<resource::Entity>(txn, children.resources).await?;
        self.insert_rows::<property::Entity>(txn, children.properties).await?;
        Ok(())
    }

    /// Begins a write. Writes from this process take turns: SQLite has one writer
    /// at a time anyway, and a transaction that read before writing would fail
    /// rather than wait if another had written meanwhile.
    async fn begin_write(&self) -> anyhow::Result<(tokio::sync::MutexGuard<'_, ()>, DatabaseTransaction)> {
        let turn = self.writes.lock().await;
        let txn = self.db.begin().await.context("cannot begin transaction")?;
        Ok((turn, txn))
    }

    /// Stores one new event; an id that exists is a conflict and changes nothing.
    pub async fn insert_one(&self, e: &AuditEvent) -> Result<(), WriteError> {
        if self.insert_batch(vec![e.clone()]).await?.is_empty() {
            return Err(WriteError::Conflict(e.id.clone()));
        }
        Ok(())
    }

    /// Stores a batch in one transaction and returns the events it stored: those
    /// whose id is already stored (or repeats within the batch) are skipped, so
    /// importing twice adds nothing. Ids compare case-insensitively, as Graph's
    /// GUID keys do. Nothing is written on error.
    pub async fn insert_batch(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditEvent>, WriteError> {
        let (_turn, txn) = self.begin_write().await?;
        let folded: Vec<String> = events.iter().map(|e| fold(&e.id)).collect();
        let mut seen: std::collections::HashSet<String> =
            self.stored_keys(&txn, &folded).await?.into_iter().map(|(_, id)| id).collect();
        let new: Vec<AuditEvent> = events
            .into_iter()
            .zip(folded)
            .filter_map(|(e, id)| seen.insert(id).then_some(e))
            .collect();
        self.insert_new(&txn, &new).await?;
        txn.commit().await.context("commit failed")?;
        Ok(new)
    }

    /// Replaces a stored event (same id) whole. Returns false when it does not exist.
    pub async fn replace(&self, e: &AuditEvent) -> Result<bool, WriteError> {
        let (_turn, txn) = self.begin_write().await?;
        let deleted = event::Entity::delete_many()
            .filter(event::Column::IdCi.eq(fold(&e.id)))
            .exec(&txn)
            .await
            .context("delete failed")?;
        if deleted.rows_affected == 0 {
            return Ok(false);
        }
        // Children go with the event (ON DELETE CASCADE), then come back whole.
        self.insert_new(&txn, std::slice::from_ref(e)).await?;
        txn.commit().await.context("commit failed")?;
        Ok(true)
    }

    /// Deletes one event and its children. Returns false when it does not exist.
    pub async fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let _turn = self.writes.lock().await;
        let deleted = event::Entity::delete_many()
            .filter(event::Column::IdCi.eq(fold(id)))
            .exec(&self.db)
            .await
            .context("delete failed")?;
        Ok(deleted.rows_affected > 0)
    }

    /// Deletes every event before `cutoff`; returns how many.
    pub async fn purge_before(&self, cutoff: Ticks) -> anyhow::Result<u64> {
        let _turn = self.writes.lock().await;
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
        let (_turn, txn) = self.begin_write().await?;
        property::Entity::delete_many().exec(&txn).await?;
        resource::Entity::delete_many().exec(&txn).await?;
        permission::Entity::delete_many().exec(&txn).await?;
        actor::Entity::delete_many().exec(&txn).await?;
        let deleted = event::Entity::delete_many().exec(&txn).await?;
        txn.commit().await.context("commit failed")?;
        Ok(deleted.rows_affected)
    }
}
