//! Compliance policies, device configurations, enrollment configurations and
//! device management scripts (intune-workloads.md §3.1–3.3, §3.7).

use super::*;

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
        postable: false,
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
    read: grant(CONFIG_READ, "Microsoft.Intune_DeviceCompliancePolices"),
    write: grant(CONFIG_WRITE, "Microsoft.Intune_DeviceCompliancePolices"),
    service: "StatelessDeviceConfigurationFEService",
    hidden: &["assignments", "scheduledActionsForRule"],
    create_rule: CreateRule::ScheduledRules,
    ..SET
};

/// The `$filter` allow-list of every set but managed devices [INF].
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
        postable: true,
    }),
    actions: &[Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign }],
    category: "DeviceConfiguration",
    component: "DeviceConfiguration",
    read: grant(CONFIG_READ, "Microsoft.Intune_DeviceConfigurations"),
    write: grant(CONFIG_WRITE, "Microsoft.Intune_DeviceConfigurations"),
    service: "StatelessDeviceConfigurationFEService",
    hidden: &["assignments"],
    ..SET
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
        postable: true,
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
    read: grant(SERVICE_READ, "Microsoft.Intune_EnrollmentRestrictions"),
    write: grant(SERVICE_WRITE, "Microsoft.Intune_EnrollmentRestrictions"),
    service: "StatelessOnboardingFEService",
    hidden: &["assignments"],
    create_rule: CreateRule::NextPriority,
    ..SET
};

pub const SCRIPTS: EntitySet = EntitySet {
    segment: "deviceManagementScripts",
    singleton: Singleton::DeviceManagement,
    base_type: "deviceManagementScript",
    beta_only: true,
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
        postable: true,
    }),
    actions: &[Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign }],
    category: "DeviceConfiguration",
    component: "DeviceConfiguration",
    grammar: Grammar::CamelVerb,
    read: grant(SCRIPTS_READ, "Microsoft.Intune_DeviceConfigurations"),
    write: grant(SCRIPTS_WRITE, "Microsoft.Intune_DeviceConfigurations"),
    service: "StatelessDeviceConfigurationFEService",
    hidden: &["assignments"],
    ..SET
};
