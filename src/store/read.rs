//! Reads: a page of events in keyset order, one event, counts and distinct
//! activity types. A page costs a constant number of statements whatever its
//! size or position: one for its events' keys and, for those not in the event
//! cache, one for the events and one per child table.

use std::sync::Arc;

use anyhow::Context;
use entities::{
    audit_actor as actor, audit_event as event, audit_permission_set as permission_set,
    audit_property as property, audit_resource as resource,
};
use sea_orm::sea_query::{Condition, Query};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::cache::CachedEvent;
use super::order::{Cursor, after, order_terms, sort_values};
use super::rows::{self, ActorRow, EventRow, PermissionRow, PropertyRow, ResourceRow};
use super::{Store, filter};
use crate::domain::graph::Rendered;
use crate::domain::{AuditEvent, Ticks, fold};
use crate::odata::{Filter, OrderKey};

pub struct PageRequest<'a> {
    pub filter: Option<&'a Filter>,
    /// Resolved order (never empty; see `default_order`).
    pub order: &'a [OrderKey],
    pub after: Option<&'a Cursor>,
    pub offset: u64,
    pub limit: u64,
    /// Events before this instant are outside the retention window.
    pub not_before: Ticks,
    /// A walk through the whole log (an export): its events are read from the
    /// cache when there but not kept in it, so a scan of a million events neither
    /// evicts the events pages are serving nor pays for caching what it reads once.
    pub scan: bool,
}

pub struct Page {
    pub events: Vec<Arc<CachedEvent>>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
}

fn visible(filter: Option<&Filter>, not_before: Ticks) -> Condition {
    let mut condition = Condition::all().add(event::Column::ActivityTicks.gte(not_before.0));
    if let Some(f) = filter {
        condition = condition.add(filter::condition(f));
    }
    condition
}

impl Store {
    pub async fn page(&self, req: &PageRequest<'_>) -> anyhow::Result<Page> {
        // Events deleted between the keys and their rows are left out; a page
        // that lost all of them would end the paging early (no last event to
        // continue after), so its keys are read again.
        for _ in 0..3 {
            let (seqs, more) = self.page_keys(req).await?;
            let events = self.events_kept(&seqs, !req.scan).await?;
            if events.is_empty() && !seqs.is_empty() {
                continue;
            }
            let next = match (more, events.last()) {
                (true, Some(last)) => Some(sort_values(req.order, last)),
                _ => None,
            };
            return Ok(Page { events, next });
        }
        anyhow::bail!("the events of a page kept being deleted while it was read")
    }

    /// A page's keys, and whether more follow.
    async fn page_keys(&self, req: &PageRequest<'_>) -> anyhow::Result<(Vec<i64>, bool)> {
        // Only the keys: the indexes hold `seq` (SQLite's rowid, the others'
        // primary key), so this reads no table rows where an index covers the
        // filter and order.
        let mut query = event::Entity::find()
            .select_only()
            .column(event::Column::Seq)
            .filter(visible(req.filter, req.not_before));
        if let Some(cursor) = req.after {
            let condition = after(req.order, cursor).context("cursor does not fit the order")?;
            query = query.filter(condition);
        }
        for (column, direction) in order_terms(req.order) {
            query = query.order_by(column, direction);
        }
        if req.offset > 0 {
            query = query.offset(req.offset);
        }
        // One row more than asked tells whether a next page exists without a count.
        let query = query.limit(req.limit + 1);
        let mut seqs: Vec<i64> = match &self.sqlite {
            Some(file) => {
                let statement = query.build(DbBackend::Sqlite);
                self.count_statement();
                file.keys(statement.sql, statement.values.map(|v| v.0).unwrap_or_default()).await?
            }
            None => query.into_tuple().all(&self.db).await.context("cannot read audit events")?,
        };
        let more = seqs.len() as u64 > req.limit;
        seqs.truncate(req.limit as usize);
        Ok((seqs, more))
    }

    /// The stored events among `seqs`, whole, in the order of `seqs`: from the
    /// event cache, and the rest with one statement per table (then kept).
    pub async fn events_by_seq(&self, seqs: &[i64]) -> anyhow::Result<Vec<Arc<CachedEvent>>> {
        self.events_kept(seqs, true).await
    }

    async fn events_kept(&self, seqs: &[i64], keep: bool) -> anyhow::Result<Vec<Arc<CachedEvent>>> {
        let mut found = self.cache.lookup(seqs);
        let missing: Vec<i64> =
            seqs.iter().zip(&found).filter(|(_, hit)| hit.is_none()).map(|(seq, _)| *seq).collect();
        if !missing.is_empty() {
            let rows = event::Entity::find()
                .filter(event::Column::Seq.is_in(missing.iter().copied()))
                .order_by_asc(event::Column::Seq)
                .into_partial_model::<EventRow>()
                .all(&self.db)
                .await
                .context("cannot read audit events")?;
            let keys: Vec<i64> = rows.iter().map(|r| r.seq).collect();
            let read: Vec<Arc<CachedEvent>> = keys
                .into_iter()
                .zip(self.with_children(rows).await?)
                .map(|(seq, event)| Arc::new(CachedEvent { seq, event, rendered: Rendered::default() }))
                .collect();
            if keep {
                self.cache.fill(&read);
            }
            let by_seq: std::collections::HashMap<i64, &Arc<CachedEvent>> =
                read.iter().map(|e| (e.seq, e)).collect();
            for (seq, slot) in seqs.iter().zip(found.iter_mut()) {
                if slot.is_none() {
                    *slot = by_seq.get(seq).map(|e| Arc::clone(e));
                }
            }
        }
        // An event deleted between the keys and their rows is left out.
        Ok(found.into_iter().flatten().collect())
    }

    pub async fn get(&self, id: &str, not_before: Ticks) -> anyhow::Result<Option<Arc<CachedEvent>>> {
        let seqs: Vec<i64> = event::Entity::find()
            .select_only()
            .column(event::Column::Seq)
            .filter(event::Column::IdCi.eq(fold(id)))
            .filter(event::Column::ActivityTicks.gte(not_before.0))
            .into_tuple()
            .all(&self.db)
            .await
            .context("cannot read audit event")?;
        Ok(self.events_by_seq(&seqs).await?.pop())
    }

    pub async fn count(&self, filter: Option<&Filter>, not_before: Ticks) -> anyhow::Result<u64> {
        event::Entity::find()
            .filter(visible(filter, not_before))
            .count(&self.db)
            .await
            .context("cannot count audit events")
    }

    /// Distinct activity types recorded for a category (case-insensitive).
    pub async fn activity_types(&self, category: &str) -> anyhow::Result<Vec<String>> {
        let types: Vec<Option<String>> = event::Entity::find()
            .select_only()
            .column(event::Column::ActivityType)
            .distinct()
            .filter(event::Column::CategoryCi.eq(fold(category)))
            .filter(event::Column::ActivityType.is_not_null())
            .order_by_asc(event::Column::ActivityType)
            .into_tuple()
            .all(&self.db)
            .await
            .context("cannot read activity types")?;
        Ok(types.into_iter().flatten().collect())
    }

    /// Loads the child rows of `rows` with one statement per child table.
    pub(super) async fn with_children(&self, rows: Vec<EventRow>) -> anyhow::Result<Vec<AuditEvent>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        // One after another: on a small machine four connections side by side cost
        // more in thread hand-offs than they save (measured with `bench`).
        let actors = async {
            actor::Entity::find()
                .filter(actor::Column::EventSeq.is_in(seqs.clone()))
                .into_partial_model::<ActorRow>()
                .all(&self.db)
                .await
                .context("cannot read actors")
        };
        let permissions = async {
            // The lists the page's actors name, each once, without waiting for
            // the actors themselves.
            let named = Query::select()
                .column(actor::Column::PermissionSet)
                .from(actor::Entity)
                .and_where(actor::Column::EventSeq.is_in(seqs.clone()))
                .to_owned();
            permission_set::Entity::find()
                .filter(permission_set::Column::PermissionSet.in_subquery(named))
                .order_by_asc(permission_set::Column::PermissionSet)
                .order_by_asc(permission_set::Column::Ordinal)
                .into_partial_model::<PermissionRow>()
                .all(&self.db)
                .await
                .context("cannot read actor permissions")
        };
        let resources = async {
            resource::Entity::find()
                .filter(resource::Column::EventSeq.is_in(seqs.clone()))
                .order_by_asc(resource::Column::EventSeq)
                .order_by_asc(resource::Column::Ordinal)
                .into_partial_model::<ResourceRow>()
                .all(&self.db)
                .await
                .context("cannot read resources")
        };
        let properties = async {
            property::Entity::find()
                .filter(property::Column::EventSeq.is_in(seqs.clone()))
                .order_by_asc(property::Column::EventSeq)
                .order_by_asc(property::Column::ResourceOrdinal)
                .order_by_asc(property::Column::Ordinal)
                .into_partial_model::<PropertyRow>()
                .all(&self.db)
                .await
                .context("cannot read modified properties")
        };
        let actors = actors.await?;
        let permissions = permissions.await?;
        let resources = resources.await?;
        let properties = properties.await?;
        rows::assemble(rows, actors, permissions, resources, properties)
    }
}
