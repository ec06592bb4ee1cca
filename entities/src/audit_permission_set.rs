//! `audit_permission_sets`: the distinct `actor.userPermissions` lists, one row
//! per entry, in order. Actors name their list by `permission_set`, a fingerprint
//! of its contents: permissions come from roles, so a tenant has a few dozen
//! lists shared by millions of events, and each is stored once. Being
//! content-addressed, a list is written without a lookup (an existing one is left
//! as it is) and never deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_permission_sets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub permission_set: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ordinal: i32,
    pub permission: String,
    pub permission_ci: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
