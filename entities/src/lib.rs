//! SeaORM entities and migrations for auditgraph's store.
//!
//! One audit event is spread over four tables: the event row, its actor (1:0..1),
//! its target resources (ordered) and each resource's modified properties
//! (ordered). The actor's permission list lives in a fifth, shared by every actor
//! with the same list. Every filterable string column has a `*_ci`
//! shadow column holding the case-folded value ('' when the value is NULL): the
//! case-insensitive comparisons and orderings of OData run on those, with a binary
//! collation, so all three backends answer identically. Times are BIGINT counts of
//! 100 ns ticks since the Unix epoch (Graph's precision, exact on every backend).
//!
//! The emulated Intune workloads keep their objects in a sixth, `intune_objects`,
//! one JSON document per object. Live routing keeps diagnostic settings, their
//! delivery routes and an outbox of undelivered events in `routing_*`; instances
//! sharing a database server hold their secrets alike in `shared_secrets`, and
//! name themselves with heartbeats in `cluster_members`. The Event Hubs endpoint
//! keeps its hubs, partition heads and events in `eventhub_*`. The database throttling
//! limiter keeps its windows in `throttle_*`.

pub mod audit_actor;
pub mod audit_event;
pub mod audit_permission_set;
pub mod audit_property;
pub mod audit_resource;
pub mod cluster_control;
pub mod cluster_member;
pub mod eventhub_event;
pub mod eventhub_hub;
pub mod eventhub_partition;
pub mod intune_object;
pub mod migration;
pub mod routing_outbox;
pub mod routing_route;
pub mod routing_setting;
pub mod shared_secret;
pub mod throttle_bucket;
pub mod throttle_hit;

pub mod prelude {
    pub use super::audit_actor::Entity as AuditActor;
    pub use super::audit_event::Entity as AuditEvent;
    pub use super::audit_permission_set::Entity as AuditPermissionSet;
    pub use super::audit_property::Entity as AuditProperty;
    pub use super::audit_resource::Entity as AuditResource;
}

/// Longest value, in characters, of an indexed or short string column.
pub const SHORT_TEXT_LEN: u32 = 400;
/// Longest event id, in characters.
pub const ID_LEN: u32 = 128;
/// Length of a permission-set fingerprint: 128 bits in hex.
pub const PERMISSION_SET_LEN: u32 = 32;
