//! The emulated Intune workloads (intune-workloads.md): compliance policies,
//! device configurations, enrollment configurations, mobile apps, managed
//! devices, Intune RBAC and device management scripts, each change audited in
//! the same transaction as Intune audits it.
//!
//! - `schema`: the type language; `catalogue`: the sets, as data in it.
//! - `body`: request bodies checked against the catalogue; `shape`: Graph JSON.
//! - `changes`: the audit encoding of a change (modified properties, events).
//! - `service`, `actions`: the calls (authorise, validate, write with events).
//! - `seed`: the tenant's objects when there are none: built-ins, the history's.
//!
//! Nothing here knows HTTP: the REST door (`rest::workloads`) parses URLs and
//! shapes answers.

mod actions;
pub mod body;
pub mod catalogue;
pub mod changes;
mod error;
pub mod schema;
pub mod seed;
mod service;
pub mod shape;

pub use actions::Answer;
pub use error::WorkloadError;
pub use service::Workloads;

use schema::EntitySet;

/// The `$filter`/`$expand` profile of a set's lists.
pub fn profile(set: &EntitySet) -> crate::odata::objects::Profile {
    let expandable: &'static [&'static str] = set.hidden;
    crate::odata::objects::Profile {
        type_name: set.base_type,
        filters: set.filters,
        isof: set.filters.iter().all(|(name, _)| *name == "displayName"),
        expandable,
    }
}

/// Every activity type the workloads can write, with its category
/// (`getAuditActivityTypes` serves them).
pub fn activity_types() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for set in catalogue::SETS {
        let noun = set.declared();
        let verb = |operation: &str| match set.grammar {
            schema::Grammar::Standard => format!("{operation} {noun}"),
            schema::Grammar::CamelVerb => format!("{}{noun} {noun}", lower_first(operation)),
        };
        for operation in ["Create", "Patch", "Delete"] {
            if operation != "Create" || set.creatable {
                out.push((set.category, verb(operation)));
            }
        }
        for action in set.actions {
            if action.effect == schema::Effect::Assign && set.grammar == schema::Grammar::Standard {
                let assignment = schema::pascal(set.assignments.map_or("", |a| a.odata_type));
                for operation in ["Create", "Patch", "Delete"] {
                    out.push((set.category, format!("{operation} {assignment}")));
                }
            } else {
                out.push((set.category, verb(action.name)));
            }
        }
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}
