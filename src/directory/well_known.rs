//! Fixed identifiers shared by the token service and the resource-side checks:
//! Graph's resource ids, the permission names auditEvents accepts, Entra role
//! template ids, Intune RBAC permission names, and the development tenant.
//!
//! Everything here is a constant so that tests, README examples and the tenant
//! file all name the same things. Nothing in this module is random.

/// Graph's resource URI. Tokens requested with `https://graph.microsoft.com/.default`
/// carry this exact string as `aud`.
pub const GRAPH_RESOURCE_URI: &str = "https://graph.microsoft.com";

/// Azure Resource Manager's resource URI: `aud` of tokens for
/// `https://management.azure.com/.default` (the diagnostic settings API).
pub const ARM_RESOURCE_URI: &str = "https://management.azure.com";

/// Azure RBAC, as the ARM door checks it.
pub mod azure {
    /// The actions on Intune's diagnostic settings (resource-provider-operations).
    pub const DIAGNOSTIC_SETTINGS_ACTIONS: &[&str] = &[
        "Microsoft.Intune/diagnosticsettings/read",
        "Microsoft.Intune/diagnosticsettings/write",
        "Microsoft.Intune/diagnosticsettings/delete",
    ];
}

/// Graph's application (client) id. The other accepted `aud` form.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The undocumented directory role template id that real app-only Graph tokens
/// carry in `wids` (identity.md §9.3). Copied verbatim; never used for decisions.
pub const APP_TOKEN_WID: &str = "0997a1d0-0d1d-4acb-b408-d5ca73121e90";

/// Graph permission names (both application roles and delegated scopes use
/// the same names) that unlock `/deviceManagement/auditEvents`.
pub mod permissions {
    /// Read: list, get, getAuditCategories, getAuditActivityTypes.
    pub const DEVICE_MANAGEMENT_APPS_READ_ALL: &str = "DeviceManagementApps.Read.All";
    /// Read and write (create, update, delete).
    pub const DEVICE_MANAGEMENT_APPS_READWRITE_ALL: &str = "DeviceManagementApps.ReadWrite.All";
    /// The read-write permission of every emulated Intune workload, the most
    /// each one checks (intune-workloads.md §3).
    pub const WORKLOADS: &[&str] = &[
        "DeviceManagementConfiguration.ReadWrite.All",
        "DeviceManagementServiceConfig.ReadWrite.All",
        "DeviceManagementApps.ReadWrite.All",
        "DeviceManagementManagedDevices.ReadWrite.All",
        "DeviceManagementManagedDevices.PrivilegedOperations.All",
        "DeviceManagementRBAC.ReadWrite.All",
        "DeviceManagementScripts.ReadWrite.All",
    ];
    /// A harmless delegated scope, handy for tokens that must not unlock audit data.
    pub const USER_READ: &str = "User.Read";
}

/// Entra directory role template ids (identity.md §9.5, permissions-reference.md).
pub mod directory_roles {
    pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    /// Called "Intune Service Administrator" in older docs.
    pub const INTUNE_ADMINISTRATOR: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";
    pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    pub const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
    pub const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";
    pub const HELPDESK_ADMINISTRATOR: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";

    /// Display names accepted in the tenant file instead of template ids.
    pub const BY_NAME: &[(&str, &str)] = &[
        ("Global Administrator", GLOBAL_ADMINISTRATOR),
        ("Intune Administrator", INTUNE_ADMINISTRATOR),
        ("Intune Service Administrator", INTUNE_ADMINISTRATOR),
        ("Global Reader", GLOBAL_READER),
        ("Security Reader", SECURITY_READER),
        ("Reports Reader", REPORTS_READER),
        ("Helpdesk Administrator", HELPDESK_ADMINISTRATOR),
    ];

    /// Looks a role up by display name (case-insensitive).
    pub fn template_id_for(name: &str) -> Option<&'static str> {
        BY_NAME.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.trim())).map(|(_, id)| *id)
    }

    /// Roles whose holders may read (and write) Intune audit data without any
    /// Intune RBAC role (graph-audit-events.md §3, "Intune RBAC").
    pub const AUDIT_ADMIN_ROLES: &[&str] = &[GLOBAL_ADMINISTRATOR, INTUNE_ADMINISTRATOR];
}

/// Intune RBAC permission names, in the `Microsoft.Intune_<Resource>_<Action>`
/// form Intune's role definitions use.
pub mod intune {
    /// "Audit data - Read": the permission the Intune docs name for reviewing audit logs.
    pub const AUDIT_READ: &str = "Microsoft.Intune_Audit_Read";
    /// Emulator extension, NOT a real Intune permission: Intune audit events are
    /// written by the service itself, so no real role can create them. auditgraph
    /// lets a delegated user write events through the API only when one of their
    /// Intune roles grants this (or `*`), besides Global/Intune Administrators.
    pub const AUDIT_WRITE: &str = "Microsoft.Intune_Audit_Write";
    /// Wildcard meaning every permission; what real events show for admins.
    pub const ALL: &str = "*";
}

/// The fixed development tenant that exists when no tenant file is given,
/// documented the way Azurite documents its development account.
pub mod dev {
    pub const TENANT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001";
    pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
    pub const TENANT_DISPLAY_NAME: &str = "Contoso";

    pub const READER_CLIENT_ID: &str = "00000000-0000-0000-0000-00000000a001";
    pub const READER_SECRET: &str = "reader-secret";
    pub const READER_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000c001";
    pub const WRITER_CLIENT_ID: &str = "00000000-0000-0000-0000-00000000a002";
    pub const WRITER_SECRET: &str = "writer-secret";
    pub const WRITER_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000c002";
    pub const NOACCESS_CLIENT_ID: &str = "00000000-0000-0000-0000-00000000a003";
    pub const NOACCESS_SECRET: &str = "noaccess-secret";
    pub const NOACCESS_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000c003";
    /// "auditgraph-intune-admin": every Intune workload permission (app-only), for
    /// scripts and SDK apps that manage the emulated Intune.
    pub const INTUNE_ADMIN_CLIENT_ID: &str = "00000000-0000-0000-0000-00000000a004";
    pub const INTUNE_ADMIN_SECRET: &str = "intune-admin-secret";
    pub const INTUNE_ADMIN_APP_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000c004";
    /// "auditgraph-monitoring": may manage Intune's diagnostic settings through
    /// ARM (`Microsoft.Intune/diagnosticsettings/*`), nothing on Graph.
    pub const MONITORING_CLIENT_ID: &str = "00000000-0000-0000-0000-00000000a005";
    pub const MONITORING_SECRET: &str = "monitoring-secret";
    pub const MONITORING_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000c005";
    /// The Microsoft Intune portal extension, the admin center's client: events
    /// written through it carry its id and name, as real portal changes do.
    pub const PORTAL_CLIENT_ID: &str = "5926fc8e-304e-4f59-8bed-58ca97cc39a4";
    pub const PORTAL_CLIENT_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000c011";
    pub const PUBLIC_CLIENT_ID: &str = "00000000-0000-0000-0000-00000000a010";
    pub const PUBLIC_CLIENT_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000c010";

    /// Every development user has this password.
    pub const PASSWORD: &str = "Passw0rd!";
    pub const ADMIN_UPN: &str = "admin@contoso.onmicrosoft.com";
    pub const ADMIN_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000b001";
    pub const INTUNE_ADMIN_UPN: &str = "intune.admin@contoso.onmicrosoft.com";
    pub const INTUNE_ADMIN_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000b002";
    pub const AUDITOR_UPN: &str = "auditor@contoso.onmicrosoft.com";
    pub const AUDITOR_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000b003";
    pub const HELPDESK_UPN: &str = "helpdesk@contoso.onmicrosoft.com";
    pub const HELPDESK_OBJECT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000b004";

    /// Intune role "Audit Reader" (Audit data - Read), assigned to the auditor.
    pub const AUDIT_READER_ROLE_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000d001";
    pub const AUDIT_READER_ASSIGNMENT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000e001";
    /// Intune role "Help Desk Operator" (devices, no audit data), assigned to helpdesk.
    pub const HELP_DESK_OPERATOR_ROLE_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000d002";
    pub const HELP_DESK_OPERATOR_ASSIGNMENT_ID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000e002";
}
