//! Live routing's tables: diagnostic settings, their routes (one per
//! destination) and the outbox of events each route still has to deliver.
//!
//! The outbox is written by the one write transaction ([`Store::enqueue`],
//! called from `write::insert_new`): an event is stored with a row per route,
//! or not at all, so nothing is routed that was not stored and nothing stored
//! escapes routing. A delivery deletes the rows it delivered, in one
//! transaction with the route's counters; a crash before that delivers the
//! batch again (at-least-once). A lease on the route row lets exactly one
//! instance deliver a route at a time when several share the database.

use anyhow::Context;
use entities::{routing_outbox as outbox, routing_route as route, routing_setting as setting};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::Value;

use super::Store;
use crate::domain::{AuditEvent, fold};

/// A route and its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub id: i64,
    /// The owning setting's name.
    pub setting: String,
    pub kind: String,
    pub target: String,
    pub delivered: i64,
    pub last_delivery_ticks: i64,
    pub last_error: Option<String>,
    pub failures: i32,
    pub stalled: bool,
    /// Events waiting in the outbox.
    pub pending: u64,
}

/// A destination a setting names: its kind (`storage`) and resource id.
pub type Destination = (String, String);

/// Rows per outbox INSERT (two columns each, far under every parameter limit).
const OUTBOX_ROWS: usize = 1000;

impl Store {
    pub async fn settings(&self) -> anyhow::Result<Vec<(String, Value)>> {
        let rows = setting::Entity::find().order_by_asc(setting::Column::NameCi).all(&self.db).await?;
        rows.into_iter()
            .map(|r| {
                Ok((r.name, serde_json::from_str(&r.properties).context("a stored setting is not JSON")?))
            })
            .collect()
    }

    pub async fn setting(&self, name: &str) -> anyhow::Result<Option<(String, Value)>> {
        let row = setting::Entity::find_by_id(fold(name)).one(&self.db).await?;
        row.map(|r| {
            Ok((r.name, serde_json::from_str(&r.properties).context("a stored setting is not JSON")?))
        })
        .transpose()
    }

    /// Creates or replaces a setting with its destinations, in one transaction.
    /// A destination it had before keeps its route (outbox, counters) and is no
    /// longer stalled, as saving a setting again un-sticks a real one; a
    /// destination it no longer names loses its route and outbox. `check` sees the
    /// number of other settings first and may refuse. Returns whether it is new.
    pub async fn put_setting(
        &self,
        name: &str,
        properties: &Value,
        destinations: &[Destination],
        check: impl FnOnce(usize) -> Result<(), String>,
    ) -> anyhow::Result<Result<bool, String>> {
        let (_turn, txn) = self.begin_write().await?;
        let others =
            setting::Entity::find().filter(setting::Column::NameCi.ne(fold(name))).count(&txn).await?;
        if let Err(refusal) = check(others as usize) {
            return Ok(Err(refusal));
        }
        let existed = setting::Entity::find_by_id(fold(name)).one(&txn).await?.is_some();
        let row = setting::ActiveModel {
            name_ci: Set(fold(name)),
            name: Set(name.to_string()),
            properties: Set(properties.to_string()),
        };
        if existed {
            setting::Entity::update(row).exec(&txn).await?;
        } else {
            setting::Entity::insert(row).exec(&txn).await?;
        }
        let routes = route::Entity::find().filter(route::Column::SettingCi.eq(fold(name))).all(&txn).await?;
        for r in &routes {
            if destinations.iter().any(|(kind, target)| *kind == r.kind && *target == r.target) {
                route::Entity::update_many()
                    .col_expr(route::Column::Stalled, Expr::value(false))
                    .filter(route::Column::Id.eq(r.id))
                    .exec(&txn)
                    .await?;
            } else {
                delete_route(&txn, r.id).await?;
            }
        }
        for (kind, target) in destinations {
            if !routes.iter().any(|r| r.kind == *kind && r.target == *target) {
                route::Entity::insert(route::ActiveModel {
                    setting_ci: Set(fold(name)),
                    kind: Set(kind.clone()),
                    target: Set(target.clone()),
                    delivered: Set(0),
                    last_delivery_ticks: Set(0),
                    last_error: Set(None),
                    failures: Set(0),
                    lease_owner: Set(None),
                    lease_until_ticks: Set(0),
                    stalled: Set(false),
                    ..Default::default()
                })
                .exec(&txn)
                .await?;
            }
        }
        txn.commit().await.context("commit failed")?;
        Ok(Ok(!existed))
    }

    /// Deletes a setting, its routes and their outbox; false when it does not exist.
    pub async fn delete_setting(&self, name: &str) -> anyhow::Result<bool> {
        let (_turn, txn) = self.begin_write().await?;
        let routes = route::Entity::find().filter(route::Column::SettingCi.eq(fold(name))).all(&txn).await?;
        for r in &routes {
            delete_route(&txn, r.id).await?;
        }
        let deleted = setting::Entity::delete_by_id(fold(name)).exec(&txn).await?;
        txn.commit().await.context("commit failed")?;
        Ok(deleted.rows_affected > 0)
    }

    /// Every route with its pending count.
    pub async fn routes(&self) -> anyhow::Result<Vec<Route>> {
        let settings = setting::Entity::find().all(&self.db).await?;
        // Every route's pending count in one statement (the worker asks each tick).
        let pending: Vec<(i64, i64)> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::RouteId)
            .column_as(outbox::Column::EventSeq.count(), "pending")
            .group_by(outbox::Column::RouteId)
            .into_tuple()
            .all(&self.db)
            .await
            .context("cannot count the routing outbox")?;
        let mut out = Vec::new();
        for r in route::Entity::find().order_by_asc(route::Column::Id).all(&self.db).await? {
            let pending = pending.iter().find(|(id, _)| *id == r.id).map_or(0, |(_, n)| *n as u64);
            let setting = settings
                .iter()
                .find(|s| s.name_ci == r.setting_ci)
                .map_or(r.setting_ci.clone(), |s| s.name.clone());
            out.push(Route {
                id: r.id,
                setting,
                kind: r.kind,
                target: r.target,
                delivered: r.delivered,
                last_delivery_ticks: r.last_delivery_ticks,
                last_error: r.last_error,
                failures: r.failures,
                stalled: r.stalled,
                pending,
            });
        }
        Ok(out)
    }

    /// Puts the events of a write transaction into every route's outbox.
    pub(super) async fn enqueue(&self, txn: &DatabaseTransaction, seqs: &[i64]) -> anyhow::Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let routes: Vec<i64> =
            route::Entity::find().select_only().column(route::Column::Id).into_tuple().all(txn).await?;
        let rows: Vec<(i64, i64)> = routes.iter().flat_map(|r| seqs.iter().map(move |s| (*r, *s))).collect();
        for chunk in rows.chunks(OUTBOX_ROWS) {
            let mut insert = Query::insert();
            insert.into_table(outbox::Entity).columns([outbox::Column::RouteId, outbox::Column::EventSeq]);
            for (r, s) in chunk {
                insert.values_panic([(*r).into(), (*s).into()]);
            }
            txn.execute(&insert).await.context("cannot write the routing outbox")?;
        }
        Ok(())
    }

    /// Takes (or renews) the delivery lease of a route for `owner` until
    /// `until`; false when another instance holds an unexpired one.
    pub async fn take_lease(&self, route_id: i64, owner: &str, now: i64, until: i64) -> anyhow::Result<bool> {
        let _turn = self.writes.lock().await;
        let done = route::Entity::update_many()
            .col_expr(route::Column::LeaseOwner, Expr::value(owner))
            .col_expr(route::Column::LeaseUntilTicks, Expr::value(until))
            .filter(route::Column::Id.eq(route_id))
            .filter(
                route::Column::LeaseUntilTicks
                    .lt(now)
                    .or(route::Column::LeaseOwner.eq(owner))
                    .or(route::Column::LeaseOwner.is_null()),
            )
            .exec(&self.db)
            .await
            .context("cannot take a routing lease")?;
        Ok(done.rows_affected > 0)
    }

    /// Gives a lease back, so another instance may deliver at once.
    pub async fn release_lease(&self, route_id: i64, owner: &str) -> anyhow::Result<()> {
        let _turn = self.writes.lock().await;
        route::Entity::update_many()
            .col_expr(route::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(route::Column::LeaseUntilTicks, Expr::value(0i64))
            .filter(route::Column::Id.eq(route_id))
            .filter(route::Column::LeaseOwner.eq(owner))
            .exec(&self.db)
            .await
            .context("cannot release a routing lease")?;
        Ok(())
    }

    /// The oldest `limit` events waiting for a route, with their `seq`.
    pub async fn outbox_batch(&self, route_id: i64, limit: u64) -> anyhow::Result<Vec<(i64, AuditEvent)>> {
        let seqs: Vec<i64> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::EventSeq)
            .filter(outbox::Column::RouteId.eq(route_id))
            .order_by_asc(outbox::Column::EventSeq)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
            .context("cannot read the routing outbox")?;
        let events = self.events_by_seq(&seqs).await?;
        // An event deleted since it was written has nothing left to deliver.
        let found: std::collections::HashSet<i64> = events.iter().map(|e| e.seq).collect();
        let gone: Vec<i64> = seqs.iter().copied().filter(|s| !found.contains(s)).collect();
        if !gone.is_empty() {
            self.delivered(route_id, &gone, 0, None).await?;
        }
        Ok(events.iter().map(|e| (e.seq, e.event.clone())).collect())
    }

    /// Records a delivered batch: its outbox rows go, the counters move, in one
    /// transaction. `at` is the delivery time (ticks); `count` how many to add
    /// to `delivered` (`None`: as many as `seqs`).
    pub async fn delivered(
        &self,
        route_id: i64,
        seqs: &[i64],
        at: i64,
        count: Option<i64>,
    ) -> anyhow::Result<()> {
        let _turn = self.writes.lock().await;
        let txn = self.db.begin().await.context("cannot begin transaction")?;
        for chunk in seqs.chunks(OUTBOX_ROWS) {
            outbox::Entity::delete_many()
                .filter(outbox::Column::RouteId.eq(route_id))
                .filter(outbox::Column::EventSeq.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
        let mut update = route::Entity::update_many()
            .col_expr(
                route::Column::Delivered,
                Expr::col(route::Column::Delivered).add(count.unwrap_or(seqs.len() as i64)),
            )
            .filter(route::Column::Id.eq(route_id));
        if at > 0 {
            update = update
                .col_expr(route::Column::LastDeliveryTicks, Expr::value(at))
                .col_expr(route::Column::LastError, Expr::value(Option::<String>::None))
                .col_expr(route::Column::Failures, Expr::value(0));
        }
        update.exec(&txn).await?;
        txn.commit().await.context("commit failed")?;
        Ok(())
    }

    /// Records a failed attempt.
    pub async fn delivery_failed(&self, route_id: i64, error: &str) -> anyhow::Result<()> {
        let _turn = self.writes.lock().await;
        route::Entity::update_many()
            .col_expr(route::Column::LastError, Expr::value(error))
            .col_expr(route::Column::Failures, Expr::col(route::Column::Failures).add(1))
            .filter(route::Column::Id.eq(route_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Stalls a route (a fault): it delivers nothing until its setting is saved again.
    pub async fn stall_route(&self, route_id: i64) -> anyhow::Result<bool> {
        let _turn = self.writes.lock().await;
        let done = route::Entity::update_many()
            .col_expr(route::Column::Stalled, Expr::value(true))
            .filter(route::Column::Id.eq(route_id))
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected > 0)
    }
}

async fn delete_route(txn: &DatabaseTransaction, id: i64) -> anyhow::Result<()> {
    outbox::Entity::delete_many().filter(outbox::Column::RouteId.eq(id)).exec(txn).await?;
    route::Entity::delete_by_id(id).exec(txn).await?;
    Ok(())
}
