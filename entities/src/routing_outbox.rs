//! `routing_outbox`: the events each route still has to deliver, one row per
//! (route, event), written in the event's own transaction and deleted once the
//! destination has it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "routing_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub route_id: i64,
    /// The event's storage key (`audit_events.seq`), in commit order per writer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
