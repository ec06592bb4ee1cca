//! The raw-SQLite floor that `bench` measures bulk loads against: the same
//! events' rows, built by the same row builders, into a file with the store's
//! own schema, through SQLite's prepared single-row INSERTs (rusqlite: no ORM,
//! no driver thread, no bound-value copies), one transaction per batch; then the
//! same secondary indexes and `ANALYZE`. What only the write path does (the
//! "already stored?" lookup, the routing outbox, the change feed's bookkeeping)
//! is left out: the ratio to this floor is what the write path costs.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::Store;
use super::rows::{ChildRows, event_rows};
use super::sqlite::{bind_row, insert_rows, insert_sql};
use crate::domain::AuditEvent;

/// What the floor measured.
#[derive(Debug, Default)]
pub struct Floor {
    pub events: u64,
    /// Building rows, inserting and committing.
    pub writing: Duration,
    /// The secondary indexes and statistics, after the load.
    pub indexing: Duration,
}

/// Creates a fresh file at `path` with the store's schema (its migrations), minus
/// the secondary indexes a bulk load into an empty store drops.
pub async fn prepare(path: &Path) -> anyhow::Result<()> {
    super::remove_sqlite_file(path);
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display())).await?;
    store.migrate().await?;
    store.start_bulk_load().await?;
    store.db.close_by_ref().await.context("cannot close the floor's file")?;
    Ok(())
}

/// Loads `batches` into the file [`prepare`] made, one transaction each, then
/// builds its indexes. Blocking: run it on a thread of its own.
pub fn load(path: &Path, batches: impl Iterator<Item = Vec<AuditEvent>>) -> anyhow::Result<Floor> {
    let mut db = rusqlite::Connection::open(path).context("cannot open the floor's file")?;
    // The pool's settings (see `Store::connect`).
    db.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = {}; PRAGMA temp_store = MEMORY; PRAGMA threads = 2;
         PRAGMA wal_autocheckpoint = 8192; PRAGMA analysis_limit = 1000;",
        super::CACHE_SIZE
    ))?;
    let mut floor = Floor::default();
    let mut stored_sets = HashSet::new();
    for batch in batches {
        let started = Instant::now();
        let txn = db.transaction()?;
        let events = event_rows(&batch);
        let mut seqs = Vec::with_capacity(batch.len());
        {
            let mut insert = txn.prepare_cached(&insert_sql::<entities::audit_event::Entity, _>(&events))?;
            for row in events.values.chunks(events.columns.len()) {
                insert.execute(bind_row(row))?;
                seqs.push(txn.last_insert_rowid());
            }
        }
        let mut children = ChildRows::new(&batch, &stored_sets);
        for (seq, e) in seqs.iter().zip(&batch) {
            children.push(*seq, e);
        }
        insert_rows::<entities::audit_permission_set::Entity, _>(&txn, &children.permission_sets)?;
        insert_rows::<entities::audit_actor::Entity, _>(&txn, &children.actors)?;
        insert_rows::<entities::audit_resource::Entity, _>(&txn, &children.resources)?;
        insert_rows::<entities::audit_property::Entity, _>(&txn, &children.properties)?;
        let new_sets = std::mem::take(&mut children.new_permission_sets);
        txn.commit()?;
        stored_sets.extend(new_sets);
        floor.events += batch.len() as u64;
        floor.writing += started.elapsed();
    }
    let started = Instant::now();
    // As `create_secondary_indexes` builds them.
    for pragma in super::LEAN_BUILD {
        db.execute_batch(pragma)?;
    }
    for index in entities::migration::secondary_indexes() {
        db.execute_batch(&index.statement.to_string(sea_orm::sea_query::SqliteQueryBuilder))
            .with_context(|| format!("cannot build index {}", index.name))?;
    }
    db.execute_batch("ANALYZE")?;
    floor.indexing = started.elapsed();
    Ok(floor)
}
