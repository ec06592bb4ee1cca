//! `audit_events`: one row per event, with its scalar properties.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// Storage key, assigned in insertion order. Child rows refer to it: an
    /// integer that grows keeps their B-trees append-only and a page's children
    /// side by side on disk, where the GUID `id` would scatter them.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The Graph key, as given.
    pub id: String,
    /// The Graph key folded: unique, so ids that differ only in case are one id,
    /// as Graph treats its GUID keys.
    pub id_ci: String,
    /// `activityDateTime` as 100 ns ticks since the Unix epoch, UTC.
    pub activity_ticks: i64,
    /// Lower-case hyphenated GUID.
    pub correlation_id: String,
    pub display_name: Option<String>,
    pub display_name_ci: String,
    pub component_name: Option<String>,
    pub component_name_ci: String,
    pub activity: Option<String>,
    pub activity_ci: String,
    pub activity_type: Option<String>,
    pub activity_type_ci: String,
    pub activity_operation_type: Option<String>,
    pub activity_operation_type_ci: String,
    pub activity_result: Option<String>,
    pub activity_result_ci: String,
    pub category: Option<String>,
    pub category_ci: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::audit_actor::Entity")]
    Actor,
    #[sea_orm(has_many = "super::audit_resource::Entity")]
    Resources,
}

impl Related<super::audit_actor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl Related<super::audit_resource::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Resources.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
