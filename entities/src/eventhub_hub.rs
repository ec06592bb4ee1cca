//! `eventhub_hubs`: the event hubs of auditgraph's one Event Hubs namespace,
//! created by a diagnostic setting that names one, or by `--eventhub`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eventhub_hubs")]
pub struct Model {
    /// The folded name (hub names compare case-insensitively, as in Azure).
    #[sea_orm(primary_key, auto_increment = false)]
    pub name_ci: String,
    pub name: String,
    pub partitions: i32,
    pub created_ticks: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
