//! SQLite's own API (rusqlite), below sea-orm and sqlx, for a SQLite file's two
//! hot paths, where the driver cost more than the work:
//!
//! - **event writes**: [`super::BulkWrite`] writes what the ORM path
//!   (`write::insert_new`) writes, row for row (the same row builders, OR FAIL,
//!   content-addressed permission sets kept, the routing outbox), in one
//!   `BEGIN IMMEDIATE` transaction. Through sqlx a bulk load copied every value
//!   three times (the model, sea-query's `Value`, sqlx's argument buffer) and
//!   handed every statement to sqlx's connection thread: 1.75-2.26x the same
//!   rows through prepared statements on the calling thread (`floor`). Here a
//!   part of a load crosses to a blocking thread once and values bind borrowed.
//! - **page keys**: the one statement a cached page costs runs on the calling
//!   thread (see [`SqliteFile::keys`]), where sqlx would hand it to its
//!   connection's thread and back.
//!
//! The statements are sea-query's or built from the entities' names, with
//! every value bound. PostgreSQL, MySQL and in-memory SQLite stores keep the
//! ORM path for both.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use entities::{
    audit_actor as actor, audit_event as event, audit_permission_set as permission_set,
    audit_property as property, audit_resource as resource, routing_outbox as outbox, routing_route as route,
};
use rusqlite::types::{ToSqlOutput, ValueRef};
use sea_orm::{EntityName, EntityTrait, IdenStatic, Value};

use super::rows::{ChildRows, TableRows, event_rows};
use super::write::ROWS_AT_ONCE;
use crate::domain::{AuditEvent, fold};

/// A store's SQLite file: its write connection while no write holds it (writes
/// take turns, `Store::writes`), and read connections for [`SqliteFile::keys`].
#[derive(Debug)]
pub(super) struct SqliteFile {
    path: PathBuf,
    idle_writer: Mutex<Option<SqliteWriter>>,
    idle_readers: Mutex<Vec<rusqlite::Connection>>,
}

/// SQLite virtual-machine steps between two calls of the progress handler, and
/// calls a statement may take on the calling thread (see [`SqliteFile::keys`]):
/// ~200,000 steps, a millisecond or two here. A cached page's keys take a
/// few thousand; a `contains` scan of 1M events takes millions.
const STEPS_PER_CHECK: i32 = 1_000;
const INLINE_CHECKS: u32 = 200;
/// Read connections kept between statements: the threads that run them at once.
const IDLE_READERS: usize = 8;

impl SqliteFile {
    pub(super) fn new(path: &Path) -> Arc<Self> {
        Arc::new(SqliteFile {
            path: path.to_path_buf(),
            idle_writer: Mutex::new(None),
            idle_readers: Mutex::new(Vec::new()),
        })
    }

    /// Begins a write transaction on the kept connection (opened on first use).
    pub(super) async fn begin(self: &Arc<Self>) -> anyhow::Result<SqliteTxn> {
        let idle = self.idle_writer.lock().expect("SQLite writer slot poisoned").take();
        let path = self.path.clone();
        let writer = blocking(move || {
            let writer = match idle {
                Some(w) => w,
                None => SqliteWriter::open(&path)?,
            };
            // IMMEDIATE: the write lock now (waiting up to the busy timeout for
            // another process), not at the first INSERT after the id lookups.
            writer.conn.execute_batch("BEGIN IMMEDIATE").context("cannot begin transaction")?;
            Ok(writer)
        })
        .await?;
        Ok(SqliteTxn { writer: Some(writer), home: self.clone() })
    }

    /// The first column of the rows `sql` returns, as integers (a page's keys).
    ///
    /// It runs on the calling thread, as the request's other work does: through
    /// sqlx, the hand-off to its connection's thread and back was the largest
    /// share of a cached page's cost. A statement that turns out not to be cheap
    /// (a scan, as `contains` makes) is stopped by SQLite's progress handler
    /// after [`INLINE_CHECKS`] checks and run again on a blocking thread, so it
    /// does not hold up the other requests this thread serves.
    pub(super) async fn keys(self: &Arc<Self>, sql: String, values: Vec<Value>) -> anyhow::Result<Vec<i64>> {
        let reader = self.reader()?;
        let mut checks = 0;
        reader.progress_handler(
            STEPS_PER_CHECK,
            Some(move || {
                checks += 1;
                checks > INLINE_CHECKS
            }),
        )?;
        let inline = query_keys(&reader, &sql, &values);
        reader.progress_handler(0, None::<fn() -> bool>)?;
        let keys = match inline {
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) => {
                let (reader, keys) = blocking(move || {
                    let keys = query_keys(&reader, &sql, &values);
                    Ok((reader, keys))
                })
                .await?;
                self.put_reader(reader);
                keys
            }
            done => {
                self.put_reader(reader);
                done
            }
        };
        keys.context("cannot read audit events")
    }

    fn reader(&self) -> anyhow::Result<rusqlite::Connection> {
        if let Some(reader) = self.idle_readers.lock().expect("SQLite readers poisoned").pop() {
            return Ok(reader);
        }
        let reader = rusqlite::Connection::open(&self.path)
            .with_context(|| format!("cannot open {} for reading", self.path.display()))?;
        reader.busy_timeout(super::BUSY_TIMEOUT)?;
        // As the pool's connections (see `Store::connect`); it only ever reads.
        reader.execute_batch(&format!(
            "PRAGMA query_only = ON; PRAGMA cache_size = {}; PRAGMA mmap_size = {}; PRAGMA temp_store = MEMORY;",
            super::CACHE_SIZE,
            super::MMAP_BYTES
        ))?;
        // Filters differ in shape (an `in` list's length is part of its text).
        reader.set_prepared_statement_cache_capacity(64);
        // A plan that does not depend on the bound values: SQLite (built with
        // STAT4) would otherwise prepare a cached statement again each time new
        // values are bound (14% of a cached page). The store keeps no STAT4
        // histograms (`analysis_limit`), so the plans are the same.
        reader.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        Ok(reader)
    }

    fn put_reader(&self, reader: rusqlite::Connection) {
        let mut idle = self.idle_readers.lock().expect("SQLite readers poisoned");
        if idle.len() < IDLE_READERS {
            idle.push(reader);
        }
    }
}

fn query_keys(conn: &rusqlite::Connection, sql: &str, values: &[Value]) -> rusqlite::Result<Vec<i64>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(bind_row(values), |row| row.get(0))?;
    rows.collect()
}

/// An open write transaction. Dropped uncommitted, it rolls back.
#[derive(Debug)]
pub(super) struct SqliteTxn {
    /// None while a part is being written on a blocking thread, or after a
    /// failure there (the connection then closed, which rolled it back).
    writer: Option<SqliteWriter>,
    home: Arc<SqliteFile>,
}

/// What one part of a write stored.
pub(super) struct Inserted {
    pub events: Vec<AuditEvent>,
    pub new_permission_sets: HashSet<String>,
}

impl SqliteTxn {
    /// Stores those of `events` whose id is neither stored nor repeated within
    /// them (see `BulkWrite::insert`); `stored_sets` are permission sets known
    /// to be stored.
    pub(super) async fn insert(
        &mut self,
        events: Vec<AuditEvent>,
        stored_sets: HashSet<String>,
    ) -> anyhow::Result<Inserted> {
        let writer = self.writer.take().context("an earlier part of this write failed")?;
        let (writer, inserted) = blocking(move || {
            let inserted = writer.insert(events, &stored_sets);
            Ok((writer, inserted))
        })
        .await?;
        self.writer = Some(writer);
        inserted
    }

    pub(super) async fn commit(mut self) -> anyhow::Result<()> {
        let writer = self.writer.take().context("an earlier part of this write failed")?;
        let writer = blocking(move || {
            writer.conn.execute_batch("COMMIT").context("commit failed")?;
            Ok(writer)
        })
        .await?;
        *self.home.idle_writer.lock().expect("SQLite writer slot poisoned") = Some(writer);
        Ok(())
    }
}

impl Drop for SqliteTxn {
    fn drop(&mut self) {
        // Quick: a WAL transaction's pages are discarded, nothing is undone on disk.
        if let Some(writer) = self.writer.take()
            && writer.conn.execute_batch("ROLLBACK").is_ok()
        {
            *self.home.idle_writer.lock().expect("SQLite writer slot poisoned") = Some(writer);
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work).await.context("a SQLite statement's thread stopped")?
}

#[derive(Debug)]
struct SqliteWriter {
    conn: rusqlite::Connection,
}

impl SqliteWriter {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("cannot open {} for writing", path.display()))?;
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        // As the pool's connections (see `Store::connect`), minus the memory map:
        // a writer appends, and mapped pages would only add to a load's memory.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;
             PRAGMA cache_size = {}; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 8192;",
            super::CACHE_SIZE
        ))
        .context("cannot configure the SQLite writer")?;
        Ok(SqliteWriter { conn })
    }

    fn insert(&self, events: Vec<AuditEvent>, stored_sets: &HashSet<String>) -> anyhow::Result<Inserted> {
        let conn = &self.conn;
        let mut seen = HashSet::with_capacity(events.len());
        let mut new = Vec::with_capacity(events.len());
        {
            let sql = format!(
                "SELECT 1 FROM \"{}\" WHERE \"{}\" = ?",
                event::Entity.table_name(),
                event::Column::IdCi.as_str()
            );
            let mut stored = conn.prepare_cached(&sql)?;
            for e in events {
                let id = fold(&e.id);
                if !seen.contains(&id) && !stored.exists([&id]).context("cannot look up event ids")? {
                    seen.insert(id);
                    new.push(e);
                }
            }
        }
        let routes: Vec<i64> = conn
            .prepare_cached(&format!(
                "SELECT \"{}\" FROM \"{}\"",
                route::Column::Id.as_str(),
                route::Entity.table_name()
            ))?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()
            .context("cannot read the routes")?;
        let mut new_permission_sets = HashSet::new();
        for slice in new.chunks(ROWS_AT_ONCE) {
            let events = event_rows(slice);
            let mut seqs = Vec::with_capacity(slice.len());
            {
                let mut insert = conn.prepare_cached(&insert_sql::<event::Entity, _>(&events))?;
                for row in events.values.chunks(events.columns.len()) {
                    insert.execute(bind_row(row)).context("cannot insert into audit_events")?;
                    seqs.push(conn.last_insert_rowid());
                }
            }
            drop(events);
            if !routes.is_empty() {
                let sql = format!(
                    "INSERT INTO \"{}\" (\"{}\", \"{}\") VALUES (?, ?)",
                    outbox::Entity.table_name(),
                    outbox::Column::RouteId.as_str(),
                    outbox::Column::EventSeq.as_str()
                );
                let mut enqueue = conn.prepare_cached(&sql)?;
                for route in &routes {
                    for seq in &seqs {
                        enqueue.execute([route, seq]).context("cannot write the routing outbox")?;
                    }
                }
            }
            let mut children = ChildRows::new(slice, stored_sets);
            for (seq, e) in seqs.iter().zip(slice) {
                children.push(*seq, e);
            }
            insert_rows::<permission_set::Entity, _>(conn, &children.permission_sets)?;
            insert_rows::<actor::Entity, _>(conn, &children.actors)?;
            insert_rows::<resource::Entity, _>(conn, &children.resources)?;
            insert_rows::<property::Entity, _>(conn, &children.properties)?;
            new_permission_sets.extend(children.new_permission_sets);
        }
        Ok(Inserted { events: new, new_permission_sets })
    }
}

/// A single-row INSERT of `rows`' columns, as the ORM path's: OR FAIL (the
/// transaction is rolled back whole on failure, so SQLite need not keep a
/// statement journal), and content-addressed rows that exist left as they are.
pub(super) fn insert_sql<E: EntityTrait, C: IdenStatic>(rows: &TableRows<C>) -> String {
    let columns: Vec<String> = rows.columns.iter().map(|c| format!("\"{}\"", c.as_str())).collect();
    let marks = vec!["?"; columns.len()].join(", ");
    let verb = if rows.keep_stored { "INSERT OR IGNORE" } else { "INSERT OR FAIL" };
    format!("{verb} INTO \"{}\" ({}) VALUES ({marks})", E::default().table_name(), columns.join(", "))
}

/// Inserts `rows` one prepared statement execution each.
pub(super) fn insert_rows<E: EntityTrait, C: IdenStatic>(
    conn: &rusqlite::Connection,
    rows: &TableRows<C>,
) -> anyhow::Result<()> {
    if rows.values.is_empty() {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(&insert_sql::<E, C>(rows))?;
    for row in rows.values.chunks(rows.columns.len()) {
        insert
            .execute(bind_row(row))
            .with_context(|| format!("cannot insert into {}", E::default().table_name()))?;
    }
    Ok(())
}

/// One row of the row builders' output, bound borrowed.
pub(super) fn bind_row(row: &[Value]) -> impl rusqlite::Params + '_ {
    rusqlite::params_from_iter(row.iter().map(Bind))
}

/// A bound value, borrowed from the row builders' output.
struct Bind<'a>(&'a Value);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let integer = |n: Option<i64>| n.map_or(ValueRef::Null, ValueRef::Integer);
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Bool(b) => integer(b.map(i64::from)),
            Value::TinyInt(n) => integer(n.map(i64::from)),
            Value::SmallInt(n) => integer(n.map(i64::from)),
            Value::Int(n) => integer(n.map(i64::from)),
            Value::BigInt(n) => integer(*n),
            Value::TinyUnsigned(n) => integer(n.map(i64::from)),
            Value::SmallUnsigned(n) => integer(n.map(i64::from)),
            Value::Unsigned(n) => integer(n.map(i64::from)),
            Value::BigUnsigned(n) => integer(
                n.map(i64::try_from)
                    .transpose()
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
            ),
            Value::Double(n) => n.map_or(ValueRef::Null, ValueRef::Real),
            Value::String(s) => s.as_deref().map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => b.as_deref().map_or(ValueRef::Null, ValueRef::Blob),
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("no SQLite binding for {other:?}").into(),
                ));
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement past the calling thread's budget is answered whole, from the
    /// blocking thread it is run again on.
    #[tokio::test]
    async fn a_statement_past_the_budget_still_answers_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x INTEGER);
             WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000)
             INSERT INTO t SELECT x FROM n;",
        )
        .unwrap();
        let file = SqliteFile::new(&path);
        // A scan of 100,000 rows: several times the budget.
        let steps = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = steps.clone();
        conn.progress_handler(
            STEPS_PER_CHECK,
            Some(move || {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                false
            }),
        )
        .unwrap();
        let scan = "SELECT x FROM t WHERE x % ? = 0 ORDER BY x";
        let all: i64 = conn.query_row("SELECT count(*) FROM t WHERE x % 7 = 0", [], |r| r.get(0)).unwrap();
        assert!(
            steps.load(std::sync::atomic::Ordering::Relaxed) > u64::from(INLINE_CHECKS),
            "not past the budget"
        );
        let keys = file.keys(scan.into(), vec![Value::BigInt(Some(7))]).await.unwrap();
        assert_eq!(keys.len() as i64, all);
        assert_eq!(keys.first(), Some(&7));
        assert_eq!(keys.last(), Some(&99_995));
        // A cheap one answers on the calling thread, from a kept connection.
        let keys = file.keys("SELECT x FROM t WHERE x < ?".into(), vec![Value::Int(Some(4))]).await.unwrap();
        assert_eq!(keys, [1, 2, 3]);
    }
}
