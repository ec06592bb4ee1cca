//! `intune_objects`: the emulated Intune workloads' objects (policies, apps,
//! devices, roles, scripts), one row per object, keyed by entity set and folded id.
//!
//! One document table rather than one table per type: the seven entity sets have
//! some forty concrete types whose properties Graph adds to every few months, and
//! no workload query needs SQL over their settings (lists are a tenant's few
//! hundred policies or few thousand devices, filtered in memory by the OData
//! engine's object evaluator). What is typed is what every set shares and the
//! store itself orders or looks up by: the set, the id, the concrete type, the
//! parent (an assignment's policy) and the version that guards concurrent writes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "intune_objects")]
pub struct Model {
    /// The entity set's URL segment, e.g. `deviceCompliancePolicies`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub entity_set: String,
    /// The Graph key folded, so ids differing only in case are one object.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_ci: String,
    /// The Graph key, as created.
    pub id: String,
    /// The concrete type's name, e.g. `windows10CompliancePolicy`.
    pub odata_type: String,
    /// `version` of the object: raised by each write, checked by the next.
    pub version: i32,
    /// The object's properties as Graph JSON, including the navigation values
    /// Graph serves only on request (`assignments`, `scheduledActionsForRule`).
    pub document: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
