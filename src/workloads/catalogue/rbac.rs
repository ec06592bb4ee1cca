//! Intune RBAC: role definitions, role assignments, scope tags (intune-workloads.md §3.6).

use super::*;

const RESOURCE_ACTION: &[Prop] =
    &[p("allowedResourceActions", Strings), p("notAllowedResourceActions", Strings)];

pub const ROLE_DEFINITIONS: EntitySet = EntitySet {
    segment: "roleDefinitions",
    singleton: Singleton::DeviceManagement,
    base_type: "roleDefinition",
    base_props: &[
        server("id", Str),
        p("displayName", Str),
        p("description", Str),
        p("rolePermissions", ComplexList(&[p("resourceActions", ComplexList(RESOURCE_ACTION))])),
        server("isBuiltIn", Bool),
        beta("roleScopeTagIds", Strings),
    ],
    types: &[ty("deviceAndAppManagementRoleDefinition", &[]), ty("roleDefinition", &[])],
    category: "Role",
    component: "RoleBasedAccessControl",
    read: grant(RBAC_READ, "Microsoft.Intune_Roles"),
    write: grant(RBAC_WRITE, "Microsoft.Intune_Roles"),
    service: "StatelessRoleManagementFEService",
    ..SET
};

pub const ROLE_ASSIGNMENTS: EntitySet = EntitySet {
    segment: "roleAssignments",
    singleton: Singleton::DeviceManagement,
    base_type: "deviceAndAppManagementRoleAssignment",
    base_props: &[
        server("id", Str),
        p("displayName", Str),
        p("description", Str),
        p("members", Strings),
        p("resourceScopes", Strings),
        beta("scopeMembers", Strings),
        beta(
            "scopeType",
            Enum(&["resourceScope", "allDevices", "allLicensedUsers", "allDevicesAndLicensedUsers"]),
        ),
        beta("roleScopeTagIds", Strings),
        Prop { name: "roleDefinitionId", kind: Str, beta: false, owner: Owner::CreateOnly },
    ],
    types: &[ty("deviceAndAppManagementRoleAssignment", &[])],
    category: "Role",
    component: "RoleBasedAccessControl",
    read: grant(RBAC_READ, "Microsoft.Intune_Roles"),
    write: grant(RBAC_WRITE, "Microsoft.Intune_Roles"),
    service: "StatelessRoleManagementFEService",
    create_rule: CreateRule::BindRoleDefinition,
    internal: &["roleDefinitionId"],
    ..SET
};

pub const ROLE_SCOPE_TAGS: EntitySet = EntitySet {
    segment: "roleScopeTags",
    singleton: Singleton::DeviceManagement,
    base_type: "roleScopeTag",
    beta_only: true,
    base_props: &[server("id", Str), p("displayName", Str), p("description", Str), server("isBuiltIn", Bool)],
    types: &[ty("roleScopeTag", &[])],
    assignments: Some(Assignments {
        odata_type: "roleScopeTagAutoAssignment",
        props: &[],
        parameter: "assignments",
        parent_keyed: false,
        returns_value: true,
        postable: false,
    }),
    actions: &[Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign }],
    category: "Role",
    component: "RoleBasedAccessControl",
    read: grant(RBAC_READ, "Microsoft.Intune_Roles"),
    write: grant(
        &["DeviceManagementRBAC.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All"],
        "Microsoft.Intune_Roles",
    ),
    service: "StatelessRoleManagementFEService",
    hidden: &["assignments"],
    ..SET
};
