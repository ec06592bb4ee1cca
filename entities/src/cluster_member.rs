//! `cluster_members`: the auditgraph instances serving this database, each
//! with its address and a heartbeat (so `/_auditgraph/health` can name who is
//! serving; a member whose heartbeat stopped is shown as gone, then forgotten).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cluster_members")]
pub struct Model {
    /// The instance's name (a GUID per start).
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance: String,
    /// Where it serves Graph, as its banner says.
    pub address: String,
    /// When it started and when it last said it was alive (wall clock, ticks).
    pub started_ticks: i64,
    pub heartbeat_ticks: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
