//! The cluster: each instance's heartbeat and who is alive, and the emulator
//! controls every instance applies (one versioned snapshot per name).

use anyhow::Context;
use entities::{cluster_control as control, cluster_member as member};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use super::Store;
use crate::domain::Ticks;

/// An instance serving the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub instance: String,
    pub address: String,
    pub started: Ticks,
    pub heartbeat: Ticks,
}

impl Store {
    /// Records that this instance is alive at `now`, serving at `address`.
    pub async fn heartbeat(&self, address: &str, started: Ticks, now: Ticks) -> anyhow::Result<()> {
        // Writers take turns (see `write::begin_write`).
        let _turn = self.writes.lock().await;
        let row = member::ActiveModel {
            instance: Set(self.instance().to_string()),
            address: Set(address.to_string()),
            started_ticks: Set(started.0),
            heartbeat_ticks: Set(now.0),
        };
        member::Entity::insert(row)
            .on_conflict(
                OnConflict::column(member::Column::Instance)
                    .update_columns([member::Column::Address, member::Column::HeartbeatTicks])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .context("cannot record this instance's heartbeat")?;
        Ok(())
    }

    /// The members whose heartbeat is newer than `since`, oldest first; those
    /// older than `forget_before` are deleted.
    pub async fn members(&self, since: Ticks, forget_before: Ticks) -> anyhow::Result<Vec<Member>> {
        // Writers take turns (see `write::begin_write`).
        let _turn = self.writes.lock().await;
        member::Entity::delete_many()
            .filter(member::Column::HeartbeatTicks.lt(forget_before.0))
            .exec(&self.db)
            .await?;
        let rows = member::Entity::find()
            .filter(member::Column::HeartbeatTicks.gte(since.0))
            .order_by_asc(member::Column::StartedTicks)
            .all(&self.db)
            .await
            .context("cannot read the cluster's members")?;
        Ok(rows
            .into_iter()
            .map(|r| Member {
                instance: r.instance,
                address: r.address,
                started: Ticks(r.started_ticks),
                heartbeat: Ticks(r.heartbeat_ticks),
            })
            .collect())
    }
}

impl Store {
    /// Stores a new snapshot of the control `name`; returns its version.
    pub async fn put_control(&self, name: &str, value: &str) -> anyhow::Result<i64> {
        // Writers take turns (see `write::begin_write`).
        let _turn = self.writes.lock().await;
        let txn = self.db.begin().await.context("cannot begin transaction")?;
        let current = control::Entity::find_by_id(name.to_string()).one(&txn).await?;
        let version = current.as_ref().map_or(1, |c| c.version + 1);
        if current.is_some() {
            control::Entity::update_many()
                .col_expr(control::Column::Value, Expr::value(value))
                .col_expr(control::Column::Version, Expr::value(version))
                .filter(control::Column::Name.eq(name))
                .exec(&txn)
                .await?;
        } else {
            let row = control::ActiveModel {
                name: Set(name.to_string()),
                value: Set(value.to_string()),
                version: Set(version),
            };
            control::Entity::insert(row).exec_without_returning(&txn).await?;
        }
        txn.commit().await.context("cannot store a control")?;
        Ok(version)
    }

    /// Replaces the control `name` with what `change` makes of its current
    /// value (`None` when it has none), atomically: when another instance
    /// changed it meanwhile, `change` runs again on that value. Returns the
    /// stored value and its version.
    pub async fn update_control(
        &self,
        name: &str,
        change: impl Fn(Option<&str>) -> anyhow::Result<String>,
    ) -> anyhow::Result<(String, i64)> {
        loop {
            let current = self.control(name).await?;
            let value = change(current.as_ref().map(|(v, _)| v.as_str()))?;
            let _turn = self.writes.lock().await;
            let stored = match &current {
                Some((_, version)) => {
                    control::Entity::update_many()
                        .col_expr(control::Column::Value, Expr::value(value.as_str()))
                        .col_expr(control::Column::Version, Expr::value(version + 1))
                        .filter(control::Column::Name.eq(name))
                        .filter(control::Column::Version.eq(*version))
                        .exec(&self.db)
                        .await?
                        .rows_affected
                        == 1
                }
                None => {
                    let row = control::ActiveModel {
                        name: Set(name.to_string()),
                        value: Set(value.clone()),
                        version: Set(1),
                    };
                    // A concurrent first insert makes this one fail: then try again.
                    control::Entity::insert(row).exec_without_returning(&self.db).await.is_ok()
                }
            };
            if stored {
                return Ok((value, current.map_or(1, |(_, v)| v + 1)));
            }
        }
    }

    /// The latest snapshot of the control `name` and its version.
    pub async fn control(&self, name: &str) -> anyhow::Result<Option<(String, i64)>> {
        let row = control::Entity::find_by_id(name.to_string())
            .one(&self.db)
            .await
            .context("cannot read a control")?;
        Ok(row.map(|r| (r.value, r.version)))
    }
}
