//! `audit_actors`: the actor of an event (at most one per event).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_actors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_seq: i64,
    /// `auditActorType` (beta also serves it as `type`).
    pub actor_type: Option<String>,
    pub actor_type_ci: String,
    pub application_id: Option<String>,
    pub application_id_ci: String,
    pub application_display_name: Option<String>,
    pub application_display_name_ci: String,
    pub user_principal_name: Option<String>,
    pub user_principal_name_ci: String,
    pub service_principal_name: Option<String>,
    pub service_principal_name_ci: String,
    pub ip_address: Option<String>,
    pub ip_address_ci: String,
    pub user_id: Option<String>,
    pub user_id_ci: String,
    pub remote_tenant_id: Option<String>,
    pub remote_tenant_id_ci: String,
    pub remote_user_id: Option<String>,
    pub remote_user_id_ci: String,
    /// The `audit_permission_sets` list of `userPermissions`; NULL when empty.
    pub permission_set: Option<String>,
    /// Beta `userRoleScopeTags` as a JSON array of `{displayName, roleScopeTagId}`;
    /// never filtered on, so it stays opaque.
    #[sea_orm(column_type = "Text")]
    pub user_role_scope_tags: String,
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
