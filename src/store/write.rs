//! The write transaction: an event is stored whole (event, actor, permissions,
//! resources, properties) or not at all, and deleted whole: children first, in the
//! same transaction, on every backend (SQLite does not enforce the cascading
//! foreign keys; see `Store::connect`). Callers go through `audit::Recorder`,
//! which validates first and publishes after commit.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use entities::{
    audit_actor as actor, audit_event as event, audit_permission_set as permission_set,
    audit_property as property, audit_resource as resource,
};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, Iterable, PrimaryKeyToColumn,
    QueryFilter, QueryResult, QuerySelect, Statement, TransactionTrait, Value,
};

use super::Store;
use super::rows::{ChildRows, TableRows, event_rows};
use crate::domain::{AuditEvent, Ticks, fold};

/// Whether new events go to the routing outbox and the change feed: created
/// events do; an event replaced whole (a PATCH) went there when it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Routed {
    Yes,
    No,
}

/// Permission sets a transaction wrote (see [`Store::commit`]).
#[must_use]
pub(super) struct NewPermissionSets(HashSet<String>);

/// Events whose rows a batch builds at a time (see `insert_batch`).
pub(super) const ROWS_AT_ONCE: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("An audit event with id '{0}' already exists.")]
    Conflict(String),
    /// An object changed by another writer since this one read it.
    #[error("The object '{0}' was changed by another request; read it again and retry.")]
    Changed(String),
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// One transaction storing events as they arrive: a load commits every so many
/// events (commits are what cost) without holding them all in memory first.
/// Dropped without [`BulkWrite::commit`], it rolls back whole.
pub struct BulkWrite<'a> {
    store: &'a Store,
    // Before the turn: fields drop in order, and a write dropped uncommitted rolls
    // back before the next writer may begin.
    txn: BulkTxn,
    _turn: tokio::sync::MutexGuard<'a, ()>,
    sets: NewPermissionSets,
}

/// A SQLite file's events go through SQLite's own API (see `sqlite`);
/// every other store's through the ORM.
enum BulkTxn {
    Orm(DatabaseTransaction),
    Sqlite(super::sqlite::SqliteTxn),
}

impl BulkWrite<'_> {
    /// Stores those of `events` whose id is neither stored (this transaction's
    /// earlier parts included) nor repeated within them; returns them.
    pub async fn insert(&mut self, events: Vec<AuditEvent>) -> Result<Vec<AuditEvent>, WriteError> {
        let txn = match &mut self.txn {
            BulkTxn::Orm(txn) => txn,
            BulkTxn::Sqlite(txn) => {
                let stored_sets =
                    self.store.stored_permission_sets.lock().expect("permission set cache poisoned").clone();
                let inserted = txn.insert(events, stored_sets).await?;
                self.sets.0.extend(inserted.new_permission_sets);
                return Ok(inserted.events);
            }
        };
        let folded: Vec<String> = events.iter().map(|e| fold(&e.id)).collect();
        let mut seen: HashSet<String> =
            self.store.stored_keys(txn, &folded).await?.into_iter().map(|(_, id)| id).collect();
        let new: Vec<AuditEvent> =
            events.into_iter().zip(folded).filter_map(|(e, id)| seen.insert(id).then_some(e)).collect();
        // Rows are built a slice at a time: only a slice's rows in memory at once.
        for slice in new.chunks(ROWS_AT_ONCE) {
            self.sets.0.extend(self.store.insert_new(txn, slice, Routed::Yes).await?.0);
        }
        Ok(new)
    }

    pub async fn commit(self) -> anyhow::Result<()> {
        match self.txn {
            BulkTxn::Orm(txn) => self.store.commit(txn, self.sets).await,
            BulkTxn::Sqlite(txn) => {
                txn.commit().await?;
                self.store.remember_permission_sets(self.sets);
                Ok(())
            }
        }
    }
}

/// Rows per INSERT (and ids per lookup): enough to amortise the hand-off to the
/// driver (512 loaded events 12% faster than 128; 1,024 no faster), and under
/// every backend's parameter limit (21 columns x 512 = 10,752).
const ROWS_PER_STATEMENT: usize = 512;

/// Events per transaction when purging: bounded, so a purge of millions neither
/// holds the write lock for long nor builds a huge transaction.
const PURGE_BATCH: u64 = 1000;

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
    fn insert_sql<E: EntityTrait>(&self, table: &TableRows<E::Column>, rows: usize) -> std::sync::Arc<str> {
        let (columns, keep_stored) = (table.columns, table.keep_stored);
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
                if keep_stored {
                    let key: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
                    insert.on_conflict(OnConflict::columns(key.clone()).do_nothing_on(key).to_owned());
                }
                if !table.returning.is_empty() {
                    insert.returning(Query::returning().columns(table.returning.iter().copied()));
                }
                let sql = self.backend().build(&insert).sql;
                match self.backend() {
                    // A failing statement fails its transaction, which is rolled back
                    // whole; OR FAIL spares SQLite the statement journal it keeps to
                    // undo just the statement (a tenth of a bulk load).
                    DbBackend::Sqlite if !keep_stored => {
                        sql.replacen("INSERT INTO", "INSERT OR FAIL INTO", 1).into()
                    }
                    _ => sql.into(),
                }
            })
            .clone()
    }

    /// Inserts `rows`; returns their `returning` columns (no rows without them).
    async fn insert_rows<E: EntityTrait>(
        &self,
        txn: &DatabaseTransaction,
        mut rows: TableRows<E::Column>,
    ) -> anyhow::Result<Vec<QueryResult>> {
        let (width, total) = (rows.columns.len(), rows.len());
        let mut returned = Vec::new();
        let mut values = std::mem::take(&mut rows.values).into_iter();
        for n in statement_sizes(total) {
            let sql = self.insert_sql::<E>(&rows, n);
            let chunk: Vec<Value> = values.by_ref().take(n * width).collect();
            let statement = Statement::from_sql_and_values(self.backend(), &*sql, chunk);
            let failed = || format!("cannot insert into {}", E::default().table_name());
            if rows.returning.is_empty() {
                txn.execute_raw(statement).await.with_context(failed)?;
            } else {
                returned.extend(txn.query_all_raw(statement).await.with_context(failed)?);
            }
        }
        Ok(returned)
    }

    /// Inserts the rows of `events` (none of them stored yet); returns each one's
    /// `seq` by folded id. PostgreSQL and SQLite return them from the INSERT;
    /// MySQL cannot, so there the ids are looked up afterwards.
    async fn insert_events(
        &self,
        txn: &DatabaseTransaction,
        events: &[AuditEvent],
    ) -> anyhow::Result<HashMap<String, i64>> {
        let mut rows = event_rows(events);
        if self.backend() == DbBackend::MySql {
            self.insert_rows::<event::Entity>(txn, rows).await?;
            let folded: Vec<String> = events.iter().map(|e| fold(&e.id)).collect();
            return Ok(self
                .stored_keys(txn, &folded)
                .await?
                .into_iter()
                .map(|(seq, id)| (id, seq))
                .collect());
        }
        rows.returning = &[event::Column::Seq, event::Column::IdCi];
        self.insert_rows::<event::Entity>(txn, rows)
            .await?
            .iter()
            .map(|row| Ok((row.try_get_by_index::<String>(1)?, row.try_get_by_index::<i64>(0)?)))
            .collect::<Result<_, sea_orm::DbErr>>()
            .context("cannot read the keys of new events")
    }

    /// `(seq, id_ci)` of the stored events among `folded_ids`.
    async fn stored_keys(
        &self,
        txn: &DatabaseTransaction,
        folded_ids: &[String],
    ) -> anyhow::Result<Vec<(i64, String)>> {
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

    /// Writes `events` (none of them stored yet) with their children. Returns the
    /// permission sets it wrote, to be remembered once the transaction commits.
    pub(super) async fn insert_new(
        &self,
        txn: &DatabaseTransaction,
        events: &[AuditEvent],
        routed: Routed,
    ) -> anyhow::Result<NewPermissionSets> {
        if !events.is_empty() {
            self.take_event_order(txn).await?;
        }
        let seqs = self.insert_events(txn, events).await?;
        if routed == Routed::Yes {
            let mut keys: Vec<i64> = seqs.values().copied().collect();
            keys.sort_unstable();
            self.enqueue(txn, &keys).await?;
            self.announce(txn, &keys).await?;
        }
        let stored_sets = self.stored_permission_sets.lock().expect("permission set cache poisoned").clone();
        let mut children = ChildRows::new(events, &stored_sets);
        for e in events {
            let seq = *seqs
                .get(&fold(&e.id))
                .with_context(|| format!("event {} vanished while being written", e.id))?;
            children.push(seq, e);
        }
        self.insert_rows::<permission_set::Entity>(txn, children.permission_sets).await?;
        self.insert_rows::<actor::Entity>(txn, children.actors).await?;
        self.insert_rows::<resource::Entity>(txn, children.resources).await?;
        self.insert_rows::<property::Entity>(txn, children.properties).await?;
        Ok(NewPermissionSets(children.new_permission_sets))
    }

    /// Commits a write and remembers the permission sets it stored.
    pub(super) async fn commit(
        &self,
        txn: DatabaseTransaction,
        sets: NewPermissionSets,
    ) -> anyhow::Result<()> {
        txn.commit().await.context("commit failed")?;
        self.remember_permission_sets(sets);
        Ok(())
    }

    fn remember_permission_sets(&self, sets: NewPermissionSets) {
        self.stored_permission_sets.lock().expect("permission set cache poisoned").extend(sets.0);
    }

    /// The `seq` of up to `limit` events matching `condition`.
    async fn seqs_where(
        &self,
        txn: &DatabaseTransaction,
        condition: impl sea_orm::sea_query::IntoCondition,
        limit: u64,
    ) -> anyhow::Result<Vec<i64>> {
        event::Entity::find()
            .select_only()
            .column(event::Column::Seq)
            .filter(condition)
            .limit(limit)
            .into_tuple()
            .all(txn)
            .await
            .context("cannot look up events")
    }

    /// Deletes the events `seqs` with their children.
    async fn delete_seqs(&self, txn: &DatabaseTransaction, seqs: &[i64]) -> anyhow::Result<u64> {
        if seqs.is_empty() {
            return Ok(0);
        }
        let seqs = || seqs.iter().copied();
        property::Entity::delete_many().filter(property::Column::EventSeq.is_in(seqs())).exec(txn).await?;
        resource::Entity::delete_many().filter(resource::Column::EventSeq.is_in(seqs())).exec(txn).await?;
        actor::Entity::delete_many().filter(actor::Column::EventSeq.is_in(seqs())).exec(txn).await?;
        let deleted = event::Entity::delete_many()
            .filter(event::Column::Seq.is_in(seqs()))
            .exec(txn)
            .await
            .context("delete failed")?;
        Ok(deleted.rows_affected)
    }

    /// Begins a write. Writes from this process take turns: SQLite has one writer
    /// at a time anyway, and a transaction that read before writing would fail
    /// rather than wait if another had written meanwhile.
    pub(super) async fn begin_write(
        &self,
    ) -> anyhow::Result<(tokio::sync::MutexGuard<'_, ()>, DatabaseTransaction)> {
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
        let mut write = self.bulk_write().await?;
        let new = write.insert(events).await?;
        write.commit().await?;
        Ok(new)
    }

    /// Begins a transaction that stores events a part at a time (see [`BulkWrite`]).
    pub async fn bulk_write(&self) -> anyhow::Result<BulkWrite<'_>> {
        let sets = NewPermissionSets(HashSet::new());
        if let Some(file) = &self.sqlite {
            let turn = self.writes.lock().await;
            let txn = BulkTxn::Sqlite(file.begin().await?);
            return Ok(BulkWrite { store: self, _turn: turn, txn, sets });
        }
        let (turn, txn) = self.begin_write().await?;
        Ok(BulkWrite { store: self, _turn: turn, txn: BulkTxn::Orm(txn), sets })
    }

    /// Replaces a stored event (same id) whole. Returns false when it does not exist.
    pub async fn replace(&self, e: &AuditEvent) -> Result<bool, WriteError> {
        let (_turn, txn) = self.begin_write().await?;
        let seqs = self.seqs_where(&txn, event::Column::IdCi.eq(fold(&e.id)), 1).await?;
        if self.delete_seqs(&txn, &seqs).await? == 0 {
            return Ok(false);
        }
        let sets = self.insert_new(&txn, std::slice::from_ref(e), Routed::No).await?;
        self.commit(txn, sets).await?;
        Ok(true)
    }

    /// Deletes one event and its children. Returns false when it does not exist.
    pub async fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let (_turn, txn) = self.begin_write().await?;
        let seqs = self.seqs_where(&txn, event::Column::IdCi.eq(fold(id)), 1).await?;
        let deleted = self.delete_seqs(&txn, &seqs).await?;
        txn.commit().await.context("commit failed")?;
        Ok(deleted > 0)
    }

    /// Deletes every event before `cutoff`, a batch of whole events per
    /// transaction; returns how many.
    pub async fn purge_before(&self, cutoff: Ticks) -> anyhow::Result<u64> {
        let mut purged = 0;
        loop {
            let (_turn, txn) = self.begin_write().await?;
            let old = event::Column::ActivityTicks.lt(cutoff.0);
            let seqs = self.seqs_where(&txn, old, PURGE_BATCH).await?;
            purged += self.delete_seqs(&txn, &seqs).await?;
            txn.commit().await.context("commit failed")?;
            if (seqs.len() as u64) < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    /// Deletes every event. Permission sets stay (see `audit_permission_set`).
    pub async fn clear(&self) -> anyhow::Result<u64> {
        let (_turn, txn) = self.begin_write().await?;
        property::Entity::delete_many().exec(&txn).await?;
        resource::Entity::delete_many().exec(&txn).await?;
        actor::Entity::delete_many().exec(&txn).await?;
        entities::routing_outbox::Entity::delete_many().exec(&txn).await?;
        let deleted = event::Entity::delete_many().exec(&txn).await?;
        txn.commit().await.context("commit failed")?;
        Ok(deleted.rows_affected)
    }
}
