//! The Event Hubs namespace's tables: hubs, each partition's head, and the
//! partitions' events (see `entities::eventhub_*`).
//!
//! An append is one transaction: it moves the partition's head (the row
//! lock serialises appends to a partition across instances) and inserts the
//! events with the sequence numbers and offsets the head gave out, so a
//! partition never has a gap or a duplicate number, and a crash leaves either
//! all of an append or none of it.

use anyhow::Context;
use entities::{eventhub_event as event, eventhub_hub as hub, eventhub_partition as partition};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Store;
use crate::domain::fold;

/// A hub of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    pub name: String,
    pub partitions: i32,
    pub created_ticks: i64,
}

/// A partition's state, as `$management` READ reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionHead {
    /// The oldest sequence number still retained (the next one when none is).
    pub begin_seq: i64,
    /// -1 before the first event.
    pub last_seq: i64,
    pub last_offset: i64,
    pub last_enqueued_ticks: i64,
    pub empty: bool,
}

/// An event of a partition, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubEvent {
    pub seq: i64,
    pub offset: i64,
    pub enqueued_ticks: i64,
    pub partition_key: Option<String>,
    /// The encoded AMQP message.
    pub message: Vec<u8>,
}

/// An event to append: its partition key and encoded message.
pub type NewHubEvent = (Option<String>, Vec<u8>);

/// Where a reader starts, by one of the event's positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Seq(i64),
    Offset(i64),
    EnqueuedTicks(i64),
}

impl Store {
    /// Creates a hub with its partitions unless one of that name exists;
    /// returns the hub as stored (an existing hub keeps its partition count).
    pub async fn ensure_hub(&self, name: &str, partitions: i32, now: i64) -> anyhow::Result<Hub> {
        if let Some(hub) = self.hub(name).await? {
            return Ok(hub);
        }
        let created: anyhow::Result<()> = async {
            let (_turn, txn) = self.begin_write().await?;
            hub::Entity::insert(hub::ActiveModel {
                name_ci: Set(fold(name)),
                name: Set(name.to_string()),
                partitions: Set(partitions),
                created_ticks: Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
            partition::Entity::insert_many((0..partitions).map(|p| partition::ActiveModel {
                hub_ci: Set(fold(name)),
                partition: Set(p),
                last_seq: Set(-1),
                last_offset: Set(-1),
                next_offset: Set(0),
                last_enqueued_ticks: Set(0),
            }))
            .exec_without_returning(&txn)
            .await?;
            txn.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = created {
            // Another instance may have created it first (its key is taken).
            return self.hub(name).await?.ok_or(e).context("cannot create an event hub");
        }
        self.hub(name).await?.context("an event hub vanished as it was created")
    }

    pub async fn hub(&self, name: &str) -> anyhow::Result<Option<Hub>> {
        Ok(hub::Entity::find_by_id(fold(name)).one(&self.db).await?.map(hub_of))
    }

    pub async fn hubs(&self) -> anyhow::Result<Vec<Hub>> {
        Ok(hub::Entity::find()
            .order_by_asc(hub::Column::NameCi)
            .all(&self.db)
            .await?
            .into_iter()
            .map(hub_of)
            .collect())
    }

    /// Appends events to a partition in one transaction; returns each one's
    /// (sequence number, offset). Offsets count the bytes of the partition's
    /// messages, as the service's byte offsets do.
    pub async fn append_events(
        &self,
        hub: &str,
        partition: i32,
        events: &[NewHubEvent],
        now: i64,
    ) -> anyhow::Result<Vec<(i64, i64)>> {
        let hub_ci = fold(hub);
        let (_turn, txn) = self.begin_write().await?;
        let count = events.len() as i64;
        let bytes: i64 = events.iter().map(|(_, m)| m.len() as i64).sum();
        let key = || {
            partition::Entity::update_many()
                .filter(partition::Column::HubCi.eq(hub_ci.clone()))
                .filter(partition::Column::Partition.eq(partition))
        };
        // Move the head first: the UPDATE locks the row, so a concurrent
        // append on another instance waits here and then sees this one's head.
        let moved = key()
            .col_expr(partition::Column::LastSeq, Expr::col(partition::Column::LastSeq).add(count))
            .col_expr(partition::Column::NextOffset, Expr::col(partition::Column::NextOffset).add(bytes))
            .col_expr(partition::Column::LastEnqueuedTicks, Expr::value(now))
            .exec(&txn)
            .await
            .context("cannot move the partition's head")?;
        anyhow::ensure!(moved.rows_affected == 1, "the event hub '{hub}' has no partition {partition}");
        let head = partition::Entity::find_by_id((hub_ci.clone(), partition))
            .one(&txn)
            .await?
            .context("a partition vanished during an append")?;
        let mut offset = head.next_offset - bytes;
        let mut positions = Vec::with_capacity(events.len());
        let mut rows = Vec::with_capacity(events.len());
        for (seq, (partition_key, message)) in (head.last_seq - count + 1..).zip(events) {
            positions.push((seq, offset));
            rows.push(event::ActiveModel {
                hub_ci: Set(hub_ci.clone()),
                partition: Set(partition),
                seq: Set(seq),
                offset: Set(offset),
                enqueued_ticks: Set(now),
                partition_key: Set(partition_key.clone()),
                message: Set(message.clone()),
            });
            offset += message.len() as i64;
        }
        let last_offset = positions.last().map_or(head.last_offset, |(_, o)| *o);
        key()
            .col_expr(partition::Column::LastOffset, Expr::value(last_offset))
            .exec(&txn)
            .await
            .context("cannot move the partition's head")?;
        // A few rows per statement: messages reach 1 MiB, and MySQL caps a packet.
        for chunk in rows.chunks(16) {
            event::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await
                .context("cannot store event hub events")?;
        }
        txn.commit().await.context("commit failed")?;
        Ok(positions)
    }

    pub async fn partition_head(&self, hub: &str, partition: i32) -> anyhow::Result<Option<PartitionHead>> {
        let Some(head) = partition::Entity::find_by_id((fold(hub), partition)).one(&self.db).await? else {
            return Ok(None);
        };
        let begin: Option<i64> = event::Entity::find()
            .select_only()
            .column(event::Column::Seq)
            .filter(event::Column::HubCi.eq(fold(hub)))
            .filter(event::Column::Partition.eq(partition))
            .order_by_asc(event::Column::Seq)
            .limit(1)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(Some(PartitionHead {
            begin_seq: begin.unwrap_or(head.last_seq + 1),
            last_seq: head.last_seq,
            last_offset: head.last_offset,
            last_enqueued_ticks: head.last_enqueued_ticks,
            empty: begin.is_none(),
        }))
    }

    /// The first sequence number after (or at, when `inclusive`) a position:
    /// where a reader starting there begins. Past the end, the next one to come.
    pub async fn first_seq(
        &self,
        hub: &str,
        partition: i32,
        position: Position,
        inclusive: bool,
    ) -> anyhow::Result<i64> {
        let (column, value) = match position {
            Position::Seq(seq) => return Ok(if inclusive { seq } else { seq + 1 }),
            Position::Offset(offset) => (event::Column::Offset, offset),
            Position::EnqueuedTicks(ticks) => (event::Column::EnqueuedTicks, ticks),
        };
        let condition = if inclusive { column.gte(value) } else { column.gt(value) };
        let found: Option<i64> = event::Entity::find()
            .select_only()
            .column(event::Column::Seq)
            .filter(event::Column::HubCi.eq(fold(hub)))
            .filter(event::Column::Partition.eq(partition))
            .filter(condition)
            .order_by_asc(event::Column::Seq)
            .limit(1)
            .into_tuple()
            .one(&self.db)
            .await?;
        match found {
            Some(seq) => Ok(seq),
            None => Ok(self.partition_head(hub, partition).await?.map_or(0, |h| h.last_seq + 1)),
        }
    }

    /// Up to `limit` events from sequence number `from` on, in order.
    pub async fn read_events(
        &self,
        hub: &str,
        partition: i32,
        from: i64,
        limit: u64,
    ) -> anyhow::Result<Vec<HubEvent>> {
        let rows = event::Entity::find()
            .filter(event::Column::HubCi.eq(fold(hub)))
            .filter(event::Column::Partition.eq(partition))
            .filter(event::Column::Seq.gte(from))
            .order_by_asc(event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await
            .context("cannot read event hub events")?;
        Ok(rows
            .into_iter()
            .map(|r| HubEvent {
                seq: r.seq,
                offset: r.offset,
                enqueued_ticks: r.enqueued_ticks,
                partition_key: r.partition_key,
                message: r.message,
            })
            .collect())
    }

    /// Deletes the events enqueued before `cutoff` (ticks), the retention
    /// period's end; returns how many went.
    pub async fn expire_hub_events(&self, cutoff: i64) -> anyhow::Result<u64> {
        let _turn = self.writes.lock().await;
        let done = event::Entity::delete_many()
            .filter(event::Column::EnqueuedTicks.lt(cutoff))
            .exec(&self.db)
            .await
            .context("cannot expire event hub events")?;
        Ok(done.rows_affected)
    }
}

fn hub_of(row: hub::Model) -> Hub {
    Hub { name: row.name, partitions: row.partitions, created_ticks: row.created_ticks }
}
