//! `routing_routes`: one delivery route per (setting, destination), with its
//! delivery state: counts, the last error, and the lease that lets exactly one
//! instance deliver it at a time.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "routing_routes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The owning setting's folded name.
    pub setting_ci: String,
    /// `storage` (the event hub destination comes later).
    pub kind: String,
    /// The destination's resource id, as the setting names it.
    pub target: String,
    /// Events delivered so far.
    pub delivered: i64,
    /// When the last batch was delivered (ticks), 0 when none yet.
    pub last_delivery_ticks: i64,
    pub last_error: Option<String>,
    /// Failed attempts since the last success (drives the back-off).
    pub failures: i32,
    /// The instance holding the delivery lease, and until when (ticks).
    pub lease_owner: Option<String>,
    pub lease_until_ticks: i64,
    /// A stalled route delivers nothing until its setting is saved again (a fault).
    pub stalled: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
