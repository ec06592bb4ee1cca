//! The emulated Intune entity sets, as data (intune-workloads.md §3): their
//! types and properties (the CSDL's key settings), assignments, actions, audit
//! category and component, permissions and `$filter` allow-lists.
//!
//! Intune RBAC permission names follow Intune's own role definitions
//! (`Microsoft.Intune_<Resource>_<Operation>`, including Intune's spelling
//! `DeviceCompliancePolices`); which operation each call needs is the
//! emulator's reading of the admin center's permission list [INF].

use super::schema::Kind::*;
use super::schema::*;
use crate::auth::Grant;

// Graph permission names (permissions-reference), least privileged first.
const CONFIG_READ: &[&str] =
    &["DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All"];
const CONFIG_WRITE: &[&str] = &["DeviceManagementConfiguration.ReadWrite.All"];
const SERVICE_READ: &[&str] = &[
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
const SERVICE_WRITE: &[&str] =
    &["DeviceManagementServiceConfig.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All"];
const APPS_READ: &[&str] = &["DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"];
const APPS_WRITE: &[&str] = &["DeviceManagementApps.ReadWrite.All"];
const DEVICES_READ: &[&str] =
    &["DeviceManagementManagedDevices.Read.All", "DeviceManagementManagedDevices.ReadWrite.All"];
const DEVICES_WRITE: &[&str] = &["DeviceManagementManagedDevices.ReadWrite.All"];
const DEVICES_PRIVILEGED: &[&str] = &["DeviceManagementManagedDevices.PrivilegedOperations.All"];
const RBAC_READ: &[&str] = &["DeviceManagementRBAC.Read.All", "DeviceManagementRBAC.ReadWrite.All"];
const RBAC_WRITE: &[&str] = &["DeviceManagementRBAC.ReadWrite.All"];
const SCRIPTS_READ: &[&str] = &[
    "DeviceManagementScripts.Read.All",
    "DeviceManagementScripts.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
const SCRIPTS_WRITE: &[&str] =
    &["DeviceManagementScripts.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All"];

const fn grant(scopes: &'static [&'static str], intune: &'static str) -> Grant {
    Grant { scopes, intune }
}

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

const fn ty(name: &'static str, props: &'static [Prop]) -> EntityType {
    EntityType { name, beta_only: false, props, id_suffix: None, fixed: &[] }
}

const TARGET_ASSIGNMENT: &[Prop] =
    &[server_beta("source", Enum(&["direct", "policySets"])), server_beta("sourceId", Str)];
const REQUIRED_TYPES: &[&str] = &["deviceDefault", "alphanumeric", "numeric"];
const THREAT_LEVELS: &[&str] = &["unavailable", "secured", "low", "medium", "high", "notSet"];
const ANDROID_PASSWORD: &[&str] = &[
    "deviceDefault",
    "alphabetic",
    "alphanumeric",
    "alphanumericWithSymbols",
    "lowSecurityBiometric",
    "numeric",
    "numericComplex",
    "any",
];

const SCHEDULED_ACTION: &[Prop] = &[
    p(
        "actionType",
        Enum(&[
            "noAction",
            "notification",
            "block",
            "retire",
            "wipe",
            "removeResourceAccessProfiles",
            "pushNotification",
            "remoteLock",
        ]),
    ),
    p("gracePeriodHours", Int),
    p("notificationTemplateId", Str),
    p("notificationMessageCCList", Strings),
];
pub const SCHEDULED_RULE: &[Prop] = &[
    server("id", Str),
    p("ruleName", Str),
    p("scheduledActionConfigurations", ComplexList(SCHEDULED_ACTION)),
];

pub const COMPLIANCE: EntitySet = EntitySet {
    segment: "deviceCompliancePolicies",
    singleton: Singleton::DeviceManagement,
    base_type: "deviceCompliancePolicy",
    is_abstract: true,
    beta_only: false,
    creatable: true,
    base_props: stamped![Prop {
        name: "scheduledActionsForRule",
        kind: ComplexList(SCHEDULED_RULE),
        beta: false,
        owner: Owner::CreateOnly,
    }],
    types: &[
        ty(
            "windows10CompliancePolicy",
            &[
                p("passwordRequired", Bool),
                p("passwordBlockSimple", Bool),
                p("passwordMinimumLength", OptInt),
                p("passwordExpirationDays", OptInt),
                p("passwordRequiredType", Enum(REQUIRED_TYPES)),
                p("osMinimumVersion", Str),
                p("osMaximumVersion", Str),
                p("bitLockerEnabled", Bool),
                p("secureBootEnabled", Bool),
                p("codeIntegrityEnabled", Bool),
                p("storageRequireEncryption", Bool),
            ],
        ),
        ty(
            "iosCompliancePolicy",
            &[
                p("passcodeRequired", Bool),
                p("passcodeBlockSimple", Bool),
                p("passcodeMinimumLength", OptInt),
                p("passcodeRequiredType", Enum(REQUIRED_TYPES)),
                p("osMinimumVersion", Str),
                p("securityBlockJailbrokenDevices", Bool),
                p("deviceThreatProtectionEnabled", Bool),
                p("deviceThreatProtectionRequiredSecurityLevel", Enum(THREAT_LEVELS)),
            ],
        ),
        ty(
            "androidCompliancePolicy",
            &[
                p("passwordRequired", Bool),
                p("passwordMinimumLength", OptInt),
                p("passwordRequiredType", Enum(ANDROID_PASSWORD)),
                p("securityBlockJailbrokenDevices", Bool),
                p("storageRequireEncryption", Bool),
                p("minAndroidSecurityPatchLevel", Str),
            ],
        ),
        ty(
            "macOSCompliancePolicy",
            &[
                p("passwordRequired", Bool),
                p("passwordMinimumLength", OptInt),
                p("storageRequireEncryption", Bool),
                p("firewallEnabled", Bool),
                p("systemIntegrityProtectionEnabled", Bool),
                p("osMinimumVersion", Str),
            ],
        ),
    ],
    assignments: Some(Assignments {
        odata_type: "deviceCompliancePolicyAssignment",
        props: TARGET_ASSIGNMENT,
        parameter: "assignments",
        parent_keyed: true,
        returns_value: false,
    }),
    actions: &[
        Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign },
        Action {
            name: "scheduleActionsForRules",
            parameters: &[],
            grant: None,
            effect: Effect::ScheduleActions,
        },
    ],
    category: "Compliance",
    component: "DeviceCompliancePolicy",
    grammar: Grammar::Standard,
    read: grant(CONFIG_READ, "Microsoft.Intune_DeviceCompliancePolices"),
    write: grant(CONFIG_WRITE, "Microsoft.Intune_DeviceCompliancePolices"),
    service: "StatelessDeviceConfigurationFEService",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &["assignments", "scheduledActionsForRule"],
    internal: &[],
};

/// The `$filter` allow-list of every set but managed devices [INF].
const NAME_FILTERS: &[(&str, &[&str])] = &[("displayName", &["eq", "ne", "startswith", "contains"])];

const OMA_BASE: &[Prop] = &[p("displayName", Str), p("description", Str), p("omaUri", Str)];
const OMA_SETTINGS: &[TypedComplex] = &[
    TypedComplex { name: "omaSetting", props: OMA_BASE },
    TypedComplex {
        name: "omaSettingString",
        props: &[p("displayName", Str), p("description", Str), p("omaUri", Str), p("value", Str)],
    },
    TypedComplex {
        name: "omaSettingInteger",
        props: &[p("displayName", Str), p("description", Str), p("omaUri", Str), p("value", Int)],
    },
    TypedComplex {
        name: "omaSettingBoolean",
        props: &[p("displayName", Str), p("description", Str), p("omaUri", Str), p("value", Bool)],
    },
];

pub const CONFIGURATIONS: EntitySet = EntitySet {
    segment: "deviceConfigurations",
    singleton: Singleton::DeviceManagement,
    base_type: "deviceConfiguration",
    is_abstract: true,
    beta_only: false,
    creatable: true,
    base_props: stamped![server_beta("supportsScopeTags", Bool)],
    types: &[
        ty(
            "windows10GeneralConfiguration",
            &[
                p("passwordRequired", Bool),
                p("passwordMinimumLength", OptInt),
                p("passwordRequiredType", Enum(REQUIRED_TYPES)),
                p("cameraBlocked", Bool),
                p("screenCaptureBlocked", Bool),
                p("bluetoothBlocked", Bool),
                p("cortanaBlocked", Bool),
                p("storageRequireMobileDeviceEncryption", Bool),
                p("defenderRequireRealTimeMonitoring", Bool),
            ],
        ),
        ty(
            "iosGeneralDeviceConfiguration",
            &[
                p("passcodeRequired", Bool),
                p("passcodeMinimumLength", OptInt),
                p("cameraBlocked", Bool),
                p("screenCaptureBlocked", Bool),
                p("siriBlocked", Bool),
                p("appStoreBlocked", Bool),
            ],
        ),
        ty("windows10CustomConfiguration", &[p("omaSettings", TypedList(OMA_SETTINGS))]),
    ],
    assignments: Some(Assignments {
        odata_type: "deviceConfigurationAssignment",
        props: TARGET_ASSIGNMENT,
        parameter: "assignments",
        parent_keyed: true,
        returns_value: false,
    }),
    actions: &[Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign }],
    category: "DeviceConfiguration",
    component: "DeviceConfiguration",
    grammar: Grammar::Standard,
    read: grant(CONFIG_READ, "Microsoft.Intune_DeviceConfigurations"),
    write: grant(CONFIG_WRITE, "Microsoft.Intune_DeviceConfigurations"),
    service: "StatelessDeviceConfigurationFEService",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &["assignments"],
    internal: &[],
};

const RESTRICTION: &[Prop] = &[
    p("platformBlocked", Bool),
    p("personalDeviceEnrollmentBlocked", Bool),
    p("osMinimumVersion", Str),
    p("osMaximumVersion", Str),
    beta("blockedManufacturers", Strings),
    beta("blockedSkus", Strings),
];

const ENROLLMENT_TYPES: &[&str] = &[
    "unknown",
    "limit",
    "platformRestrictions",
    "windowsHelloForBusiness",
    "defaultLimit",
    "defaultPlatformRestrictions",
    "defaultWindowsHelloForBusiness",
    "defaultWindows10EnrollmentCompletionPageConfiguration",
    "windows10EnrollmentCompletionPageConfiguration",
    "deviceComanagementAuthorityConfiguration",
    "singlePlatformRestriction",
];

pub const ENROLLMENT: EntitySet = EntitySet {
    segment: "deviceEnrollmentConfigurations",
    singleton: Singleton::DeviceManagement,
    base_type: "deviceEnrollmentConfiguration",
    is_abstract: true,
    beta_only: false,
    creatable: true,
    base_props: stamped![
        p("priority", Int),
        server_beta("deviceEnrollmentConfigurationType", Enum(ENROLLMENT_TYPES))
    ],
    types: &[
        EntityType {
            name: "deviceEnrollmentLimitConfiguration",
            beta_only: false,
            props: &[p("limit", Int)],
            id_suffix: Some("Limit"),
            fixed: &[("deviceEnrollmentConfigurationType", "limit")],
        },
        EntityType {
            name: "deviceEnrollmentPlatformRestrictionsConfiguration",
            beta_only: false,
            props: &[
                p("iosRestriction", Complex(RESTRICTION)),
                p("androidRestriction", Complex(RESTRICTION)),
                p("macOSRestriction", Complex(RESTRICTION)),
                p("windowsRestriction", Complex(RESTRICTION)),
                p("windowsMobileRestriction", Complex(RESTRICTION)),
            ],
            id_suffix: Some("PlatformRestrictions"),
            fixed: &[("deviceEnrollmentConfigurationType", "platformRestrictions")],
        },
        EntityType {
            name: "windows10EnrollmentCompletionPageConfiguration",
            beta_only: false,
            props: &[
                p("allowNonBlockingAppInstallation", Bool),
                beta("showInstallationProgress", Bool),
                beta("installProgressTimeoutInMinutes", Int),
                beta("customErrorMessage", Str),
                beta("allowDeviceResetOnInstallFailure", Bool),
                beta("allowLogCollectionOnInstallFailure", Bool),
                beta("blockDeviceSetupRetryByUser", Bool),
                beta("selectedMobileAppIds", Strings),
                beta("trackInstallProgressForAutopilotOnly", Bool),
                beta("disableUserStatusTrackingAfterFirstUser", Bool),
            ],
            id_suffix: Some("Windows10EnrollmentCompletionPageConfiguration"),
            fixed: &[("deviceEnrollmentConfigurationType", "windows10EnrollmentCompletionPageConfiguration")],
        },
    ],
    assignments: Some(Assignments {
        odata_type: "enrollmentConfigurationAssignment",
        props: TARGET_ASSIGNMENT,
        parameter: "enrollmentConfigurationAssignments",
        parent_keyed: true,
        returns_value: false,
    }),
    actions: &[
        Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign },
        Action {
            name: "setPriority",
            parameters: &[p("priority", Int)],
            grant: None,
            effect: Effect::SetPriority,
        },
    ],
    category: "Enrollment",
    component: "Enrollment",
    grammar: Grammar::Standard,
    read: grant(SERVICE_READ, "Microsoft.Intune_EnrollmentRestrictions"),
    write: grant(SERVICE_WRITE, "Microsoft.Intune_EnrollmentRestrictions"),
    service: "StatelessOnboardingFEService",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &["assignments"],
    internal: &[],
};

const MIME: &[Prop] = &[p("type", Str), p("value", Binary)];
const APP_BASE: &[Prop] = &[
    server("id", Str),
    p("displayName", Str),
    p("description", Str),
    p("publisher", Str),
    p("largeIcon", Complex(MIME)),
    server("createdDateTime", DateTime),
    server("lastModifiedDateTime", DateTime),
    p("isFeatured", Bool),
    p("privacyInformationUrl", Str),
    p("informationUrl", Str),
    p("owner", Str),
    p("developer", Str),
    p("notes", Str),
    server("publishingState", Enum(&["notPublished", "processing", "published"])),
    beta("roleScopeTagIds", Strings),
    server_beta("isAssigned", Bool),
    server_beta("uploadState", Int),
    server_beta("dependentAppCount", Int),
    server_beta("supersedingAppCount", Int),
    server_beta("supersededAppCount", Int),
];

const RETURN_CODE: &[Prop] =
    &[p("returnCode", Int), p("type", Enum(&["failed", "success", "softReboot", "hardReboot", "retry"]))];

pub const MOBILE_APPS: EntitySet = EntitySet {
    segment: "mobileApps",
    singleton: Singleton::DeviceAppManagement,
    base_type: "mobileApp",
    is_abstract: true,
    beta_only: false,
    creatable: true,
    base_props: APP_BASE,
    types: &[
        ty(
            "win32LobApp",
            &[
                p("committedContentVersion", Str),
                p("fileName", Str),
                p("size", Int),
                p("installCommandLine", Str),
                p("uninstallCommandLine", Str),
                p("applicableArchitectures", Enum(&["none", "x86", "x64", "arm", "neutral", "arm64"])),
                p("minimumSupportedWindowsRelease", Str),
                p("setupFilePath", Str),
                p(
                    "installExperience",
                    Complex(&[
                        p("runAsAccount", Enum(&["system", "user"])),
                        p(
                            "deviceRestartBehavior",
                            Enum(&["basedOnReturnCode", "allow", "suppress", "force"]),
                        ),
                    ]),
                ),
                p("returnCodes", ComplexList(RETURN_CODE)),
                beta("displayVersion", Str),
                beta("allowAvailableUninstall", Bool),
            ],
        ),
        EntityType {
            name: "winGetApp",
            beta_only: true,
            props: &[
                p("packageIdentifier", Str),
                p("manifestHash", Str),
                p("installExperience", Complex(&[p("runAsAccount", Enum(&["system", "user"]))])),
            ],
            id_suffix: None,
            fixed: &[],
        },
        ty(
            "iosStoreApp",
            &[
                p("bundleId", Str),
                p("appStoreUrl", Str),
                p("applicableDeviceType", Complex(&[p("iPad", Bool), p("iPhoneAndIPod", Bool)])),
                p(
                    "minimumSupportedOperatingSystem",
                    Complex(&[
                        p("v8_0", Bool),
                        p("v9_0", Bool),
                        p("v10_0", Bool),
                        p("v11_0", Bool),
                        p("v12_0", Bool),
                        p("v13_0", Bool),
                        p("v14_0", Bool),
                        p("v15_0", Bool),
                    ]),
                ),
            ],
        ),
        EntityType {
            name: "androidManagedStoreApp",
            beta_only: true,
            props: &[
                p("packageId", Str),
                p("appIdentifier", Str),
                p("appStoreUrl", Str),
                p("isPrivate", Bool),
                p("isSystemApp", Bool),
            ],
            id_suffix: None,
            fixed: &[],
        },
        ty("webApp", &[p("appUrl", Str), p("useManagedBrowser", Bool)]),
    ],
    assignments: Some(Assignments {
        odata_type: "mobileAppAssignment",
        props: &[
            p("intent", Enum(&["available", "required", "uninstall", "availableWithoutEnrollment"])),
            p(
                "settings",
                Complex(&[
                    p("notifications", Enum(&["showAll", "showReboot", "hideAll"])),
                    p("deliveryOptimizationPriority", Enum(&["notConfigured", "foreground"])),
                ]),
            ),
        ],
        parameter: "mobileAppAssignments",
        parent_keyed: false,
        returns_value: false,
    }),
    actions: &[Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign }],
    category: "Application",
    component: "MobileApp",
    grammar: Grammar::Standard,
    read: grant(APPS_READ, "Microsoft.Intune_MobileApps"),
    write: grant(APPS_WRITE, "Microsoft.Intune_MobileApps"),
    service: "StatelessAppMetadataFEService",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &["assignments"],
    internal: &[],
};

const fn remote(
    name: &'static str,
    intune: &'static str,
    parameters: &'static [Prop],
    state: Option<&'static str>,
) -> Action {
    Action {
        name,
        parameters,
        grant: Some(grant(DEVICES_PRIVILEGED, intune)),
        effect: Effect::DeviceAction(state),
    }
}

const DEVICE_ACTION_RESULT: &[Prop] = &[
    p("actionName", Str),
    p("actionState", Enum(&["none", "pending", "canceled", "active", "done", "failed", "notSupported"])),
    p("startDateTime", DateTime),
    p("lastUpdatedDateTime", DateTime),
];

pub const MANAGED_DEVICES: EntitySet = EntitySet {
    segment: "managedDevices",
    singleton: Singleton::DeviceManagement,
    base_type: "managedDevice",
    is_abstract: false,
    beta_only: false,
    creatable: false,
    base_props: &[
        server("id", Str),
        server("userId", Str),
        server("deviceName", Str),
        p("managedDeviceName", Str),
        p("managedDeviceOwnerType", Enum(&["unknown", "company", "personal"])),
        server(
            "managementState",
            Enum(&[
                "managed",
                "retirePending",
                "retireFailed",
                "wipePending",
                "wipeFailed",
                "unhealthy",
                "deletePending",
                "retireIssued",
                "wipeIssued",
                "wipeCanceled",
                "retireCanceled",
                "discovered",
            ]),
        ),
        server("enrolledDateTime", DateTime),
        server("lastSyncDateTime", DateTime),
        server("operatingSystem", Str),
        server(
            "complianceState",
            Enum(&[
                "unknown",
                "compliant",
                "noncompliant",
                "conflict",
                "error",
                "inGracePeriod",
                "configManager",
            ]),
        ),
        server("jailBroken", Str),
        server(
            "managementAgent",
            Enum(&[
                "eas",
                "mdm",
                "easMdm",
                "intuneClient",
                "easIntuneClient",
                "configurationManagerClient",
                "configurationManagerClientMdm",
                "configurationManagerClientMdmEas",
                "unknown",
                "jamf",
                "googleCloudDevicePolicyController",
            ]),
        ),
        server("osVersion", Str),
        server("azureADRegistered", OptBool),
        server("deviceEnrollmentType", Str),
        server("emailAddress", Str),
        server("azureADDeviceId", Str),
        server("deviceRegistrationState", Str),
        server("deviceCategoryDisplayName", Str),
        server("isSupervised", Bool),
        server("exchangeAccessState", Enum(&["none", "unknown", "allowed", "blocked", "quarantined"])),
        server("isEncrypted", Bool),
        server("userPrincipalName", Str),
        server("model", Str),
        server("manufacturer", Str),
        server("imei", Str),
        server("complianceGracePeriodExpirationDateTime", DateTime),
        server("serialNumber", Str),
        server("phoneNumber", Str),
        server("userDisplayName", Str),
        p("notes", Str),
        server("udid", Str),
        server("deviceActionResults", ComplexList(DEVICE_ACTION_RESULT)),
    ],
    types: &[ty("managedDevice", &[])],
    assignments: None,
    actions: &[
        remote(
            "wipe",
            "Microsoft.Intune_RemoteTasks_Wipe",
            &[
                p("keepEnrollmentData", OptBool),
                p("keepUserData", OptBool),
                p("persistEsimDataPlan", OptBool),
                p("macOsUnlockCode", Str),
                p("obliterationBehavior", Str),
                beta("useProtectedWipe", OptBool),
            ],
            Some("wipePending"),
        ),
        remote("retire", "Microsoft.Intune_RemoteTasks_Retire", &[], Some("retirePending")),
        remote("syncDevice", "Microsoft.Intune_RemoteTasks_SyncDevice", &[], None),
        remote("rebootNow", "Microsoft.Intune_RemoteTasks_RebootNow", &[], None),
        remote("remoteLock", "Microsoft.Intune_RemoteTasks_RemoteLock", &[], None),
        remote("resetPasscode", "Microsoft.Intune_RemoteTasks_ResetPasscode", &[], None),
        remote("shutDown", "Microsoft.Intune_RemoteTasks_ShutDown", &[], None),
        remote("locateDevice", "Microsoft.Intune_RemoteTasks_LocateDevice", &[], None),
        remote(
            "windowsDefenderScan",
            "Microsoft.Intune_RemoteTasks_WindowsDefender",
            &[p("quickScan", Bool)],
            None,
        ),
    ],
    category: "Device",
    component: "ManagedDevices",
    grammar: Grammar::Standard,
    read: grant(DEVICES_READ, "Microsoft.Intune_ManagedDevices"),
    write: grant(DEVICES_WRITE, "Microsoft.Intune_ManagedDevices"),
    service: "DeviceFE/StatelessDeviceFEService",
    // Verbatim from the CSDL descriptions (intune-workloads.md §3.5).
    filters: &[
        ("complianceState", &["eq", "or"]),
        ("deviceCategoryDisplayName", &["eq", "or"]),
        ("exchangeAccessState", &["eq", "or"]),
        ("imei", &["eq", "or"]),
        ("jailBroken", &["eq", "or"]),
        ("managementAgent", &["eq", "or"]),
        ("managementState", &["eq", "or"]),
        ("manufacturer", &["eq", "or"]),
        ("operatingSystem", &["eq", "or"]),
        ("serialNumber", &["eq", "or"]),
        ("deviceName", &["eq", "contains"]),
        ("model", &["eq", "contains"]),
        ("emailAddress", &["contains"]),
        ("osVersion", &["contains"]),
        ("phoneNumber", &["contains"]),
        ("userPrincipalName", &["eq", "ne"]),
        ("azureADDeviceId", &["eq"]),
        ("enrolledDateTime", &["lt", "gt"]),
        ("lastSyncDateTime", &["lt", "gt"]),
        ("complianceGracePeriodExpirationDateTime", &["lt", "gt"]),
    ],
    detail_only: &["notes", "udid"],
    hidden: &[],
    internal: &[],
};

const RESOURCE_ACTION: &[Prop] =
    &[p("allowedResourceActions", Strings), p("notAllowedResourceActions", Strings)];

pub const ROLE_DEFINITIONS: EntitySet = EntitySet {
    segment: "roleDefinitions",
    singleton: Singleton::DeviceManagement,
    base_type: "roleDefinition",
    is_abstract: false,
    beta_only: false,
    creatable: true,
    base_props: &[
        server("id", Str),
        p("displayName", Str),
        p("description", Str),
        p("rolePermissions", ComplexList(&[p("resourceActions", ComplexList(RESOURCE_ACTION))])),
        server("isBuiltIn", Bool),
        beta("roleScopeTagIds", Strings),
    ],
    types: &[ty("deviceAndAppManagementRoleDefinition", &[]), ty("roleDefinition", &[])],
    assignments: None,
    actions: &[],
    category: "Role",
    component: "RoleBasedAccessControl",
    grammar: Grammar::Standard,
    read: grant(RBAC_READ, "Microsoft.Intune_Roles"),
    write: grant(RBAC_WRITE, "Microsoft.Intune_Roles"),
    service: "StatelessRoleManagementFEService",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &[],
    internal: &[],
};

pub const ROLE_ASSIGNMENTS: EntitySet = EntitySet {
    segment: "roleAssignments",
    singleton: Singleton::DeviceManagement,
    base_type: "deviceAndAppManagementRoleAssignment",
    is_abstract: false,
    beta_only: false,
    creatable: true,
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
    assignments: None,
    actions: &[],
    category: "Role",
    component: "RoleBasedAccessControl",
    grammar: Grammar::Standard,
    read: grant(RBAC_READ, "Microsoft.Intune_Roles"),
    write: grant(RBAC_WRITE, "Microsoft.Intune_Roles"),
    service: "StatelessRoleManagementFEService",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &[],
    internal: &["roleDefinitionId"],
};

pub const ROLE_SCOPE_TAGS: EntitySet = EntitySet {
    segment: "roleScopeTags",
    singleton: Singleton::DeviceManagement,
    base_type: "roleScopeTag",
    is_abstract: false,
    beta_only: true,
    creatable: true,
    base_props: &[server("id", Str), p("displayName", Str), p("description", Str), server("isBuiltIn", Bool)],
    types: &[ty("roleScopeTag", &[])],
    assignments: Some(Assignments {
        odata_type: "roleScopeTagAutoAssignment",
        props: &[],
        parameter: "assignments",
        parent_keyed: false,
        returns_value: true,
    }),
    actions: &[Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign }],
    category: "Role",
    component: "RoleBasedAccessControl",
    grammar: Grammar::Standard,
    read: grant(RBAC_READ, "Microsoft.Intune_Roles"),
    write: grant(
        &["DeviceManagementRBAC.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All"],
        "Microsoft.Intune_Roles",
    ),
    service: "StatelessRoleManagementFEService",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &["assignments"],
    internal: &[],
};

pub const SCRIPTS: EntitySet = EntitySet {
    segment: "deviceManagementScripts",
    singleton: Singleton::DeviceManagement,
    base_type: "deviceManagementScript",
    is_abstract: false,
    beta_only: true,
    creatable: true,
    base_props: &[
        server("id", Str),
        p("displayName", Str),
        p("description", Str),
        p("scriptContent", Binary),
        p("runAsAccount", Enum(&["system", "user"])),
        p("enforceSignatureCheck", Bool),
        p("fileName", Str),
        p("runAs32Bit", Bool),
        server("createdDateTime", DateTime),
        server("lastModifiedDateTime", DateTime),
        beta("roleScopeTagIds", Strings),
    ],
    types: &[ty("deviceManagementScript", &[])],
    assignments: Some(Assignments {
        odata_type: "deviceManagementScriptAssignment",
        props: &[],
        parameter: "deviceManagementScriptAssignments",
        parent_keyed: true,
        returns_value: false,
    }),
    actions: &[Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign }],
    category: "DeviceConfiguration",
    component: "DeviceConfiguration",
    grammar: Grammar::CamelVerb,
    read: grant(SCRIPTS_READ, "Microsoft.Intune_DeviceConfigurations"),
    write: grant(SCRIPTS_WRITE, "Microsoft.Intune_DeviceConfigurations"),
    service: "StatelessDeviceConfigurationFEService",
    filters: NAME_FILTERS,
    detail_only: &[],
    hidden: &["assignments"],
    internal: &[],
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
