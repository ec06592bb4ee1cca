//! `audit_properties`: the modified properties of each target, in order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_properties")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_seq: i64,
    /// The `ordinal` of the resource this property belongs to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource_ordinal: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ordinal: i32,
    pub display_name: Option<String>,
    pub display_name_ci: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub old_value: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub old_value_ci: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub new_value: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub new_value_ci: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::audit_event::Entity",
        from = "Column::EventSeq",
        to = "super::audit_event::Column::Seq",
        on_delete = "Cascade"
    )]
    Event,
}

impl ActiveModelBehavior for ActiveModel {}
