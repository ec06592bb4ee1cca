//! The change feed across instances sharing a PostgreSQL database: each write
//! transaction announces the `seq`s of the events it created with
//! `pg_notify`, which PostgreSQL delivers to every listener when (and only if)
//! the transaction commits, in commit order; [`Store::watch`] turns the
//! announcements (this instance's too, so every instance hears the one commit
//! order) into their events. Payloads carry sequences, never events (NOTIFY
//! payloads are capped at 8,000 bytes).
//!
//! MySQL has no NOTIFY; instances on MySQL/MariaDB hear only their own writes
//! (see the README).

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};

use super::Store;
use crate::domain::AuditEvent;

/// The channel every instance listens on.
const CHANNEL: &str = "auditgraph_events";
/// Sequences per announcement, well inside the payload cap.
const SEQS_PER_NOTIFY: usize = 600;

impl Store {
    /// This process, as it names itself to other instances.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Announces new events from inside their write transaction (PostgreSQL only).
    pub(super) async fn announce(&self, txn: &DatabaseTransaction, seqs: &[i64]) -> anyhow::Result<()> {
        if self.backend() != DbBackend::Postgres {
            return Ok(());
        }
        for chunk in seqs.chunks(SEQS_PER_NOTIFY) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let payload = format!("{}|{}", self.instance, list.join(","));
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            ))
            .await
            .context("cannot announce new events")?;
        }
        Ok(())
    }

    /// Whether committed events reach this instance through [`Store::watch`]
    /// (a PostgreSQL store) rather than straight from its own writes.
    pub fn has_feed(&self) -> bool {
        self.backend() == DbBackend::Postgres
    }

    /// Hands `deliver` the events every instance commits, in commit order, for
    /// as long as it runs (PostgreSQL; elsewhere it returns at once), reading
    /// them only while `wanted` says someone listens. What is committed while
    /// the connection is down is not replayed.
    pub async fn watch(
        &self,
        wanted: impl Fn() -> bool,
        mut deliver: impl FnMut(Vec<AuditEvent>),
    ) -> anyhow::Result<()> {
        if self.backend() != DbBackend::Postgres {
            return Ok(());
        }
        let pool = self.db.get_postgres_connection_pool();
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.context("cannot LISTEN")?;
        listener.listen(CHANNEL).await.context("cannot LISTEN")?;
        loop {
            let notification = listener.recv().await.context("the change feed's connection failed")?;
            let Some((_instance, list)) = notification.payload().split_once('|') else { continue };
            if !wanted() {
                continue;
            }
            let seqs: Vec<i64> = list.split(',').filter_map(|s| s.parse().ok()).collect();
            let events = self.events_by_seq(&seqs).await?;
            deliver(events.into_iter().map(|(_, e)| e).collect());
        }
    }
}
