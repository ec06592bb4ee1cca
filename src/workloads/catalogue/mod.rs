//! The emulated Intune entity sets, as data (intune-workloads.md §3): their
//! types and properties (the CSDL's key settings), assignments, actions, audit
//! category and component, permissions and `$filter` allow-lists.
//!
//! Intune RBAC permission names follow Intune's own role definitions
//! (`Microsoft.Intune_<Resource>_<Operation>`, including Intune's spelling
//! `DeviceCompliancePolices`); which operation each call needs is the
//! emulator's reading of the admin center's permission list [INF].
//!
//! One file per family: `policies` (compliance, configurations, enrollment,
//! scripts), `apps`, `devices`, `rbac`; here what they share.

/// Properties every policy-like base type starts with.
macro_rules! stamped {
    ($($extra:expr),* $(,)?) => {
        &[
            server("id", Str),
            p("displayName", Str),
            p("description", Str),
            $($extra,)*
            server("createdDateTime", DateTime),
            server("lastModifiedDateTime", DateTime),
            server("version", Int),
            beta("roleScopeTagIds", Strings),
        ]
    };
}

mod apps;
mod devices;
mod policies;
mod rbac;

pub use apps::MOBILE_APPS;
pub use devices::MANAGED_DEVICES;
pub use policies::{COMPLIANCE, CONFIGURATIONS, ENROLLMENT, SCHEDULED_RULE, SCRIPTS};
pub use rbac::{ROLE_ASSIGNMENTS, ROLE_DEFINITIONS, ROLE_SCOPE_TAGS};

use super::schema::Kind::*;
use super::schema::*;
use crate::auth::Grant;

// Graph permission names (permissions-reference), least privileged first.
pub(super) const CONFIG_READ: &[&str] =
    &["DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All"];
pub(super) const CONFIG_WRITE: &[&str] = &["DeviceManagementConfiguration.ReadWrite.All"];
pub(super) const SERVICE_READ: &[&str] = &[
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
pub(super) const SERVICE_WRITE: &[&str] =
    &["DeviceManagementServiceConfig.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All"];
pub(super) const APPS_READ: &[&str] =
    &["DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"];
pub(super) const APPS_WRITE: &[&str] = &["DeviceManagementApps.ReadWrite.All"];
pub(super) const DEVICES_READ: &[&str] =
    &["DeviceManagementManagedDevices.Read.All", "DeviceManagementManagedDevices.ReadWrite.All"];
pub(super) const DEVICES_WRITE: &[&str] = &["DeviceManagementManagedDevices.ReadWrite.All"];
pub(super) const DEVICES_PRIVILEGED: &[&str] = &["DeviceManagementManagedDevices.PrivilegedOperations.All"];
pub(super) const RBAC_READ: &[&str] =
    &["DeviceManagementRBAC.Read.All", "DeviceManagementRBAC.ReadWrite.All"];
pub(super) const RBAC_WRITE: &[&str] = &["DeviceManagementRBAC.ReadWrite.All"];
pub(super) const SCRIPTS_READ: &[&str] = &[
    "DeviceManagementScripts.Read.All",
    "DeviceManagementScripts.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
pub(super) const SCRIPTS_WRITE: &[&str] =
    &["DeviceManagementScripts.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All"];

pub(super) const fn grant(scopes: &'static [&'static str], intune: &'static str) -> Grant {
    Grant { scopes, intune }
}

pub(super) const fn ty(name: &'static str, props: &'static [Prop]) -> EntityType {
    EntityType { name, beta_only: false, props, id_suffix: None, fixed: &[] }
}

pub(super) const TARGET_ASSIGNMENT: &[Prop] =
    &[server_beta("source", Enum(&["direct", "policySets"])), server_beta("sourceId", Str)];
pub(super) const NAME_FILTERS: &[(&str, &[&str])] =
    &[("displayName", &["eq", "ne", "startswith", "contains"])];

/// What most sets are; each set names only what differs (`..SET`).
pub(super) const SET: EntitySet = EntitySet {
    segment: "",
    singleton: Singleton::DeviceManagement,
    base_type: "",
    is_abstract: false,
    beta_only: false,
    creatable: true,
    base_props: &[],
    types: &[],
    assignments: None,
    actions: &[],
    category: "",
    component: "",
    grammar: Grammar::Standard,
    read: grant(&[], ""),
    write: grant(&[], ""),
    service: "",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &[],
    internal: &[],
    create_rule: CreateRule::None,
    orderby: true,
};

/// Every emulated set.
pub const SETS: &[EntitySet] = &[
    COMPLIANCE,
    CONFIGURATIONS,
    ENROLLMENT,
    MOBILE_APPS,
    MANAGED_DEVICES,
    ROLE_DEFINITIONS,
    ROLE_ASSIGNMENTS,
    ROLE_SCOPE_TAGS,
    SCRIPTS,
];

/// The set a URL names under its singleton (segments compare case-insensitively).
pub fn find(singleton: &str, segment: &str) -> Option<&'static EntitySet> {
    SETS.iter().find(|s| {
        s.singleton.segment().eq_ignore_ascii_case(singleton) && s.segment.eq_ignore_ascii_case(segment)
    })
}
