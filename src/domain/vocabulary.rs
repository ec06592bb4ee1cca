//! Intune's value vocabularies that Graph serves as plain strings.

/// `getAuditCategories`: the 21 categories in the order of Intune's enum
/// (Other = 0 … DeviceInventory = 20; spec graph-audit-events.md §4.1).
pub const CATEGORIES: [&str; 21] = [
    "Other",
    "Enrollment",
    "Compliance",
    "DeviceConfiguration",
    "Device",
    "Application",
    "EBookManagement",
    "ConditionalAccess",
    "OnPremiseAccess",
    "Role",
    "SoftwareUpdates",
    "DeviceSetupConfiguration",
    "DeviceIntent",
    "DeviceIntentSetting",
    "DeviceSecurity",
    "GroupPolicyAnalytics",
    "AssignmentFilter",
    "RemoteHelp",
    "OrganizationalMessage",
    "EndpointPrivilegeMgmt",
    "DeviceInventory",
];
