//! Mobile apps (intune-workloads.md §3.4).

use super::*;

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
        postable: true,
    }),
    actions: &[Action { name: "assign", parameters: &[], grant: None, effect: Effect::Assign }],
    category: "Application",
    component: "MobileApp",
    read: grant(APPS_READ, "Microsoft.Intune_MobileApps"),
    write: grant(APPS_WRITE, "Microsoft.Intune_MobileApps"),
    service: "StatelessAppMetadataFEService",
    hidden: &["assignments"],
    ..SET
};
