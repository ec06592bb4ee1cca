//! `audit_resources`: the targets of an event, in order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_resources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_seq: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ordinal: i32,
    pub display_name: Option<String>,
    pub display_name_ci: String,
    /// `auditResourceType` (beta also serves it as `type`).
    pub resource_type: Option<String>,
    pub resource_type_ci: String,
    pub resource_id: Option<String>,
    pub resource_id_ci: String,
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

impl Related<super::audit_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Event.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
