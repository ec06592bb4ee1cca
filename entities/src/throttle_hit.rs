//! `throttle_hits`: the requests each bucket admitted within its sliding
//! window (older ones are deleted as requests come).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "throttle_hits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bucket: String,
    /// When it was admitted (Unix milliseconds, the emulator's clock).
    pub at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
