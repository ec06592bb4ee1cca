//! The store owns SQL: connecting to SQLite, PostgreSQL or MySQL/MariaDB (chosen by
//! URL at run time), migrating, the one write transaction, reads, and retention;
//! the Intune workloads' objects (`objects`), written with their audit events; and
//! live routing's settings, routes and outbox (`routing`); the secrets instances on
//! one database server share (`secrets`). On a SQLite file, event writes and a
//! page's keys go through SQLite's own API (`sqlite`), below sea-orm and sqlx.
//! Nothing outside this module builds a query.

mod cache;
mod feed;
mod filter;
pub mod floor;
mod hubs;
mod limits;
mod members;
mod objects;
mod order;
mod read;
mod routing;
mod rows;
mod secrets;
mod sqlite;
mod write;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;

pub use cache::CachedEvent;
pub use filter::condition;
pub use hubs::{Hub, HubEvent, NewHubEvent, PartitionHead, Position};
pub use members::Member;
pub use objects::ObjectWrite;
pub use order::{Cursor, SortValue, default_order, sort_values};
pub use read::{Page, PageRequest};
pub use routing::{Destination, Route};
pub use write::{BulkWrite, WriteError};

tokio::task_local! {
    /// Set in background chores, whose statements `statements_executed` leaves out.
    static UNCOUNTED: ();
}

/// Runs a background chore (routing, heartbeats, polling the cluster's
/// controls and feed) with its statements left out of
/// [`Store::statements_executed`], which counts what requests cost.
pub async fn uncounted<F: std::future::Future>(work: F) -> F::Output {
    UNCOUNTED.scope((), work).await
}

/// Removes a SQLite file and its WAL and shared-memory files, if there are any.
pub fn remove_sqlite_file(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Events the event cache keeps unless told otherwise (`--event-cache`): 200
/// pages of 50; 50-75 MB with their v1.0 renderings (README, Benchmarks).
pub const DEFAULT_EVENT_CACHE: usize = 10_000;

/// How long a SQLite statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Each SQLite connection's page cache: 64 MiB.
const CACHE_SIZE: &str = "-65536";
/// How much of a SQLite file each connection maps (256 MiB).
const MMAP_BYTES: u64 = 268_435_456;
/// The connection that builds indexes after a bulk load: sorts spill to files,
/// nothing is mapped, a 16 MiB cache (see `create_secondary_indexes`).
const LEAN_BUILD: [&str; 3] =
    ["PRAGMA temp_store = FILE", "PRAGMA mmap_size = 0", "PRAGMA cache_size = -16384"];

/// INSERT texts by (table, rows per statement).
type InsertSqlCache = HashMap<(&'static str, usize), Arc<str>>;

#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// Writers take turns (see `write::begin_write`).
    writes: Arc<tokio::sync::Mutex<()>>,
    /// INSERT texts by (table, rows), built once (see `write::insert_sql`).
    insert_sql: Arc<Mutex<InsertSqlCache>>,
    /// Permission sets known to be stored, so a write skips them (rewriting one
    /// would also lock its rows against other instances on MySQL). Sets are
    /// content-addressed and never deleted, so this can only be incomplete, never
    /// wrong: an unknown set is written again and the database keeps its copy.
    stored_permission_sets: Arc<Mutex<HashSet<String>>>,
    /// SQL statements executed so far through this store (all clones share it).
    statements: Arc<AtomicU64>,
    /// This process among the instances sharing the database (a new GUID per start).
    instance: Arc<str>,
    /// Events as read, by `seq` (see `cache` for why it is always right).
    cache: Arc<cache::EventCache>,
    /// A SQLite file's event writes and page keys, below the ORM (see `sqlite`).
    sqlite: Option<Arc<sqlite::SqliteFile>>,
}

impl Store {
    /// Connects to the database the URL names. SQLite files are created on demand
    /// and run in WAL mode, so readers never wait for the writer.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        Store::connect_with(url, 4).await
    }

    /// Connects for a command that does one thing at a time (`import`, `seed`,
    /// `export`): one pooled SQLite connection (events are written through the
    /// store's own writer, see `sqlite`), as its statements take turns anyway.
    /// Each pooled connection's page cache fills up over a long load or walk:
    /// with four, their 4 x 64 MiB were half of a 1M-event import's peak memory.
    pub async fn connect_for_command(url: &str) -> anyhow::Result<Store> {
        Store::connect_with(url, 1).await
    }

    async fn connect_with(url: &str, sqlite_connections: u32) -> anyhow::Result<Store> {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        let mut sqlite = None;
        if url.starts_with("sqlite:") {
            if let Some(path) = sqlite_file(url) {
                sqlite = Some(sqlite::SqliteFile::new(std::path::Path::new(&path)));
                if let Some(dir) = std::path::Path::new(&path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                options.max_connections(sqlite_connections);
            } else {
                // Every connection to `:memory:` would be a different, empty database.
                options.max_connections(1);
            }
            options.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(BUSY_TIMEOUT)
                    // Unenforced, as is SQLite's default: checking every child row
                    // against its event cost a fifth of a bulk load, and the one
                    // write path deletes children itself (see `write`).
                    .foreign_keys(false)
                    // Index pages stay in memory: 64 MiB of cache per connection
                    // and a memory map, instead of SQLite's 2 MiB default.
                    .pragma("cache_size", CACHE_SIZE)
                    // 16 KiB pages (new files only): fewer, fuller B-tree pages; a
                    // bulk load of 1M events took 85 s instead of 111 s with 4 KiB.
                    .pragma("page_size", "16384")
                    .pragma("mmap_size", MMAP_BYTES.to_string())
                    .pragma("temp_store", "memory")
                    // Index builds sort on a helper thread too (after a bulk
                    // load of 1M events: 14.4 s -> 11.3 s).
                    .pragma("threads", "2")
                    // Checkpoint every 128 MiB of WAL rather than 16: a page
                    // written by several commits is copied back once (the same
                    // load: 36.4 s -> 32.0 s of writing).
                    .pragma("wal_autocheckpoint", "8192")
                    // ANALYZE samples about 1,000 rows of each index instead of
                    // reading them all, as SQLite advises (it then skips the
                    // sqlite_stat4 histograms): indexes and statistics after a
                    // bulk load of 1M events, 17.2 s -> under 14 s; the benchmark's
                    // queries keep their plans and times.
                    .pragma("analysis_limit", "1000")
                    // Rows a query may run ahead of its reader (sqlx's default
                    // is 50): SQLite steps through a page's children while the
                    // caller decodes, with fewer wake-ups (first pages ~30%
                    // faster; an export of 1M events 82.7 s -> 76.3 s).
                    .row_buffer_size(4096)
            });
        } else {
            options.max_connections(10);
        }
        let mut db = Database::connect(options)
            .await
            .with_context(|| format!("cannot connect to the database at {}", redact(url)))?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| count_statement(&counter));
        Ok(Store {
            db,
            writes: Arc::default(),
            insert_sql: Arc::default(),
            stored_permission_sets: Arc::default(),
            statements,
            instance: uuid::Uuid::new_v4().to_string().into(),
            cache: Arc::new(cache::EventCache::new(DEFAULT_EVENT_CACHE)),
            sqlite,
        })
    }

    /// This store with an event cache of `capacity` events (0: none).
    pub fn with_event_cache(mut self, capacity: usize) -> Store {
        self.cache = Arc::new(cache::EventCache::new(capacity));
        self
    }

    /// How many SQL statements this store has executed: tests hold reads to a
    /// constant number of statements per page with it.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Counts a statement that does not go through sea-orm (see `sqlite`).
    fn count_statement(&self) {
        count_statement(&self.statements);
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The backend's name as users know it.
    pub fn backend_name(&self) -> &'static str {
        match self.backend() {
            DbBackend::Sqlite => "SQLite",
            DbBackend::Postgres => "PostgreSQL",
            DbBackend::MySql => "MySQL/MariaDB",
            _ => "unknown",
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.refuse_retired_schema().await?;
        entities::migration::Migrator::up(&self.db, None).await.context("database migration failed")?;
        self.ensure_event_order().await?;
        // A bulk load stopped midway leaves its store without secondary indexes.
        self.create_secondary_indexes(false).await
    }

    /// Starts a bulk load. On an empty SQLite store the secondary indexes go, so
    /// the load only appends, and [`Store::finish_bulk_load`] builds each once,
    /// from sorted keys: far cheaper than a million scattered inserts. Elsewhere
    /// (a store with events, or PostgreSQL and MySQL, which other instances may be
    /// serving) the indexes stay. Returns whether it dropped them.
    pub async fn start_bulk_load(&self) -> anyhow::Result<bool> {
        if self.backend() != DbBackend::Sqlite || !self.is_empty().await? {
            return Ok(false);
        }
        let _turn = self.writes.lock().await;
        for index in entities::migration::secondary_indexes() {
            let drop = sea_orm::sea_query::Index::drop().name(index.name).if_exists().to_owned();
            self.db.execute(&drop).await.with_context(|| format!("cannot drop index {}", index.name))?;
        }
        Ok(true)
    }

    /// Ends a bulk load: builds any missing secondary index and refreshes the
    /// planner's statistics.
    pub async fn finish_bulk_load(&self) -> anyhow::Result<()> {
        if self.backend() != DbBackend::Sqlite {
            return self.optimize().await;
        }
        self.create_secondary_indexes(true).await
    }

    /// Builds the secondary indexes a bulk load dropped, then (`analyze`) the
    /// planner's statistics, on one lean connection.
    async fn create_secondary_indexes(&self, analyze: bool) -> anyhow::Result<()> {
        if self.backend() != DbBackend::Sqlite {
            // Only SQLite loads ever drop them, and MySQL has no IF NOT EXISTS here.
            return Ok(());
        }
        let _turn = self.writes.lock().await;
        // One connection whose sorts spill to files and whose reads do not map
        // the file: building the indexes of a million events held ~750 MB of
        // in-memory temp files and 256 MB of mapped pages, more than the whole load.
        let mut connection = self.db.get_sqlite_connection_pool().acquire().await?;
        for pragma in LEAN_BUILD {
            sqlx::query(pragma).execute(&mut *connection).await?;
        }
        let built = async {
            for mut index in entities::migration::secondary_indexes() {
                index.statement.if_not_exists();
                let sql = index.statement.to_string(sea_orm::sea_query::SqliteQueryBuilder);
                // Our own index definitions: no user text in them.
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *connection)
                    .await
                    .with_context(|| format!("cannot build index {}", index.name))?;
            }
            // Unmapped too: ANALYZE through the 256 MiB map was the last peak of an
            // import (139 MB of mapped index pages).
            if analyze {
                sqlx::query("ANALYZE")
                    .execute(&mut *connection)
                    .await
                    .context("cannot refresh statistics")?;
            }
            anyhow::Ok(())
        }
        .await;
        // Back to the pool as the pool made it.
        sqlx::query("PRAGMA temp_store = MEMORY").execute(&mut *connection).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {CACHE_SIZE}")))
            .execute(&mut *connection)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA mmap_size = {MMAP_BYTES}")))
            .execute(&mut *connection)
            .await?;
        built
    }

    /// True when the store holds no event at all (retention aside).
    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        use sea_orm::{EntityTrait, QuerySelect};
        let any: Option<i64> = entities::audit_event::Entity::find()
            .select_only()
            .column(entities::audit_event::Column::Seq)
            .into_tuple()
            .one(&self.db)
            .await
            .context("cannot read audit events")?;
        Ok(any.is_none())
    }

    /// A database made by a pre-release build (child rows keyed by event GUID, then
    /// one row per actor permission) cannot be migrated in place; say so, rather
    /// than failing on a missing migration file.
    async fn refuse_retired_schema(&self) -> anyhow::Result<()> {
        const RETIRED: [&str; 2] =
            ["m20261125_000001_create_audit_tables", "m20261126_000001_create_audit_tables"];
        let sql =
            format!("SELECT version FROM seaql_migrations WHERE version IN ('{}')", RETIRED.join("', '"));
        // No migrations table yet means a new database.
        let Ok(rows) = self.db.query_all_raw(sea_orm::Statement::from_string(self.backend(), sql)).await
        else {
            return Ok(());
        };
        if let Some(row) = rows.first() {
            let retired: String = row.try_get_by_index(0).context("cannot read the migration table")?;
            anyhow::bail!(
                "this database has the layout of a pre-release auditgraph build ({retired}), which this version cannot read.\n\
                 Export its events with the build that made it (auditgraph export --format ndjson --output events.ndjson),\n\
                 then start this version on a new database (delete the data directory or pass another --database-url) and run auditgraph import events.ndjson."
            );
        }
        Ok(())
    }

    /// Refreshes the planner's statistics; worth it after a bulk load, so
    /// selective filters use their indexes.
    pub async fn optimize(&self) -> anyhow::Result<()> {
        let statement = match self.backend() {
            DbBackend::Sqlite => "ANALYZE",
            DbBackend::Postgres => {
                "ANALYZE audit_events, audit_actors, audit_permission_sets, audit_resources, audit_properties"
            }
            _ => {
                "ANALYZE TABLE audit_events, audit_actors, audit_permission_sets, audit_resources, audit_properties"
            }
        };
        self.db.execute_unprepared(statement).await.context("cannot refresh statistics")?;
        Ok(())
    }

    /// Answers once the database does.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.db.ping().await.context("database did not answer")
    }
}

fn count_statement(counter: &AtomicU64) {
    if UNCOUNTED.try_with(|_| ()).is_err() {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn sqlite_file(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_string())
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => {
                    format!("{}{}:***{}", &url[..scheme_end + 3], &credentials[..colon], &url[at..])
                }
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("mysql://root@h/db"), "mysql://root@h/db");
        assert_eq!(redact("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }

    #[test]
    fn finds_sqlite_files() {
        assert_eq!(sqlite_file("sqlite://d/a.db?mode=rwc").as_deref(), Some("d/a.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }
}
