//! `eventhub_events`: the events of every partition, kept for the retention
//! period. `message` is the AMQP bare message as the producer sent it (or as
//! the router built it), encoded; the broker's annotations (sequence number,
//! offset, enqueued time) are added when it is delivered.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eventhub_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub hub_ci: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub partition: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub offset: i64,
    pub enqueued_ticks: i64,
    pub partition_key: Option<String>,
    pub message: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
