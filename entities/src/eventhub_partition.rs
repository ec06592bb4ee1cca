//! `eventhub_partitions`: each partition's log head. An append updates this
//! row first, which serialises appends to one partition across instances
//! (a row lock on PostgreSQL and MySQL) and keeps the last sequence number
//! and offset after retention has removed every event.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eventhub_partitions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub hub_ci: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub partition: i32,
    /// The last sequence number given out, -1 before the first event.
    pub last_seq: i64,
    /// The offset of the last event, -1 before the first event.
    pub last_offset: i64,
    /// The offset the next event gets: offsets count the bytes of the partition's messages.
    pub next_offset: i64,
    /// When the last event was enqueued (ticks), 0 before the first.
    pub last_enqueued_ticks: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
