//! The change feed across instances sharing a database server. On PostgreSQL each write
//! transaction announces the `seq`s of the events it created with
//! `pg_notify`, which PostgreSQL delivers to every listener when (and only if)
//! the transaction commits, in commit order; [`Store::watch`] turns the
//! announcements (this instance's too, so every instance hears the one commit
//! order) into their events. Payloads carry sequences, never events (NOTIFY
//! payloads are capped at 8,000 bytes).
//!
//! MySQL has no NOTIFY: there every instance polls the events' sequence
//! instead, re-reading a trailing window so that an event whose transaction
//! committed after a later-numbered one is still heard (once).
//!
//! A reader that resumes from a sequence ([`Store::events_after`]) needs
//! sequences to follow commit order, which concurrent writers on a server
//! database do not give by themselves: a transaction that creates events
//! first takes the row lock of `cluster_controls`' `event-order` row
//! ([`Store::take_event_order`]), held until it commits, and only then draws
//! its sequences. Writers of one instance already take turns; this makes the
//! instances of a cluster take turns at creating events too.

use anyhow::Context;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use super::Store;
use crate::domain::AuditEvent;

/// The channel every instance listens on.
const CHANNEL: &str = "auditgraph_events";
/// The `cluster_controls` row whose lock orders event-creating transactions.
const EVENT_ORDER: &str = "event-order";
/// Sequences per announcement, well inside the payload cap.
const SEQS_PER_NOTIFY: usize = 600;
/// How often MySQL instances poll, and how far back each poll looks again.
const POLL: std::time::Duration = std::time::Duration::from_millis(250);
const TRAIL: i64 = 1000;

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

    /// Makes this transaction's new events follow every committed one in
    /// sequence order (server databases; SQLite has one writer at a time).
    pub(super) async fn take_event_order(&self, txn: &DatabaseTransaction) -> anyhow::Result<()> {
        use entities::cluster_control as control;
        use sea_orm::sea_query::{Expr, ExprTrait};
        if !self.is_shared() {
            return Ok(());
        }
        let locked = control::Entity::update_many()
            .col_expr(control::Column::Version, Expr::col(control::Column::Version).add(1))
            .filter(control::Column::Name.eq(EVENT_ORDER))
            .exec(txn)
            .await
            .context("cannot take the event order lock")?;
        anyhow::ensure!(locked.rows_affected == 1, "the event order row is missing (run auditgraph migrate)");
        Ok(())
    }

    /// Creates the row [`Store::take_event_order`] locks, once.
    pub(super) async fn ensure_event_order(&self) -> anyhow::Result<()> {
        use entities::cluster_control as control;
        if !self.is_shared()
            || control::Entity::find_by_id(EVENT_ORDER.to_string()).one(&self.db).await?.is_some()
        {
            return Ok(());
        }
        let row = control::ActiveModel {
            name: sea_orm::ActiveValue::Set(EVENT_ORDER.to_string()),
            value: sea_orm::ActiveValue::Set(String::new()),
            version: sea_orm::ActiveValue::Set(0),
        };
        // Another instance may insert it first; either row will do.
        let _ = control::Entity::insert(row).exec_without_returning(&self.db).await;
        Ok(())
    }

    /// Up to `limit` events after sequence `after`, in sequence (= commit) order.
    pub async fn events_after(&self, after: i64, limit: u64) -> anyhow::Result<Vec<(i64, AuditEvent)>> {
        let seqs: Vec<i64> = entities::audit_event::Entity::find()
            .select_only()
            .column(entities::audit_event::Column::Seq)
            .filter(entities::audit_event::Column::Seq.gt(after))
            .order_by_asc(entities::audit_event::Column::Seq)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
            .context("cannot read events after a sequence")?;
        Ok(self.events_by_seq(&seqs).await?.iter().map(|e| (e.seq, e.event.clone())).collect())
    }

    /// Whether committed events reach this instance through [`Store::watch`]
    /// (a PostgreSQL store) rather than straight from its own writes.
    pub fn has_feed(&self) -> bool {
        matches!(self.backend(), DbBackend::Postgres | DbBackend::MySql)
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
        match self.backend() {
            DbBackend::Postgres => {}
            DbBackend::MySql => return self.poll(wanted, deliver).await,
            _ => return Ok(()),
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
            let mut seqs: Vec<i64> = list.split(',').filter_map(|s| s.parse().ok()).collect();
            seqs.sort_unstable();
            let events = self.events_by_seq(&seqs).await?;
            deliver(events.iter().map(|e| e.event.clone()).collect());
        }
    }

    /// MySQL's feed: new events in sequence order, a trailing window of
    /// sequences read again each time; nothing from before the watch began.
    async fn poll(
        &self,
        wanted: impl Fn() -> bool,
        mut deliver: impl FnMut(Vec<AuditEvent>),
    ) -> anyhow::Result<()> {
        let mut last = self.max_seq().await?;
        let floor = last;
        let mut heard = std::collections::BTreeSet::new();
        loop {
            tokio::time::sleep(POLL).await;
            if !wanted() {
                // Nobody listens: skip ahead rather than read what nobody hears.
                last = self.max_seq().await?;
                heard.clear();
                continue;
            }
            let seqs: Vec<i64> = entities::audit_event::Entity::find()
                .select_only()
                .column(entities::audit_event::Column::Seq)
                .filter(entities::audit_event::Column::Seq.gt((last - TRAIL).max(floor)))
                .order_by_asc(entities::audit_event::Column::Seq)
                .limit(5000)
                .into_tuple()
                .all(&self.db)
                .await
                .context("cannot poll for new events")?;
            let new: Vec<i64> = seqs.iter().copied().filter(|s| !heard.contains(s)).collect();
            if !new.is_empty() {
                let events = self.events_by_seq(&new).await?;
                deliver(events.iter().map(|e| e.event.clone()).collect());
                heard.extend(new);
            }
            last = last.max(seqs.last().copied().unwrap_or(last));
            heard = heard.split_off(&(last - TRAIL));
        }
    }

    /// The latest event's sequence (0 when there is none).
    pub async fn max_seq(&self) -> anyhow::Result<i64> {
        let max: Option<Option<i64>> = entities::audit_event::Entity::find()
            .select_only()
            .column_as(entities::audit_event::Column::Seq.max(), "max_seq")
            .into_tuple()
            .one(&self.db)
            .await
            .context("cannot read the latest sequence")?;
        Ok(max.flatten().unwrap_or(0))
    }
}
