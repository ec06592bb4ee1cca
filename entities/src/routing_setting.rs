//! `routing_settings`: Intune's diagnostic settings (the ARM resource
//! `microsoft.intune/diagnosticSettings/{name}`), one row per setting, its
//! `properties` kept as ARM served them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "routing_settings")]
pub struct Model {
    /// The name folded: ARM names are case-insensitive.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name_ci: String,
    pub name: String,
    /// The setting's `properties` as JSON.
    pub properties: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
