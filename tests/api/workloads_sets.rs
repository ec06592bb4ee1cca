//! The other workloads over HTTP, on every backend (apps, enrollment,
//! configurations, RBAC, scope tags, scripts), the catalogue of activity types,
//! and the lists' query options.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::TestApp;
use crate::workloads::{
    DEVICES, EVENTS, GROUP_A, GROUP_B, POLICIES, admin, app_get, call, created, events_of, new_request_id,
    props, win10_policy,
};

const BETA: &str = "/beta/deviceManagement";

/// Creates on `path`, expecting 201; returns the entity and the one event it wrote.
async fn create(client: &reqwest::Client, app: &TestApp, path: &str, body: Value) -> (Value, Value) {
    let rid = new_request_id();
    let (status, entity) = call(client, app, "POST", path, Some(body), &rid).await;
    assert_eq!(status, 201, "{path}: {entity}");
    let events = events_of(app, &rid).await;
    assert_eq!(events.len(), 1, "{path}: {events:?}");
    (entity, events[0].clone())
}

async fn other_workloads(app: TestApp) {
    let client = admin(&app).await;
    // Mobile apps: sentences for display names, the app's own category.
    let apps = "/v1.0/deviceAppManagement/mobileApps";
    let (app_entity, event) = create(
        &client,
        &app,
        apps,
        json!({
            "@odata.type": "#microsoft.graph.win32LobApp", "displayName": "7-Zip", "publisher": "Igor Pavlov",
            "installCommandLine": "7z.exe /S", "applicableArchitectures": "x64",
            "installExperience": {"runAsAccount": "system"},
            "returnCodes": [{"returnCode": 0, "type": "success"}, {"returnCode": 3010, "type": "softReboot"}],
        }),
    )
    .await;
    assert_eq!(event["displayName"], "Create application.");
    assert_eq!(
        (event["category"].as_str(), event["componentName"].as_str()),
        (Some("Application"), Some("MobileApp"))
    );
    let p = props(&event["resources"][0]);
    assert_eq!(p["InstallExperience.RunAsAccount"], created("System"));
    assert_eq!(p["ApplicableArchitectures"], created("X64"));
    assert_eq!(p["$Collection.ReturnCodes.ReturnCode[1]"], created("3010"));
    assert_eq!(p["$Collection.ReturnCodes.Type[1]"], created("SoftReboot"));
    assert_eq!(p["PublishingState"], created("NotPublished"));
    let app_id = app_entity["id"].as_str().unwrap();
    let rid = new_request_id();
    let body = json!({"mobileAppAssignments": [{"@odata.type": "#microsoft.graph.mobileAppAssignment", "intent": "required",
        "target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}]});
    let (status, _) = call(&client, &app, "POST", &format!("{apps}/{app_id}/assign"), Some(body), &rid).await;
    assert_eq!(status, 204);
    let events = events_of(&app, &rid).await;
    assert_eq!(events[0]["activityType"], "Create MobileAppAssignment");
    let p = props(&events[0]["resources"][1]);
    assert_eq!(p["Intent"], created("Required"));
    assert_eq!(p["Target.Type"], created("AllLicensedUsersAssignmentTarget"));
    assert!(!p.contains_key("Target.GroupId"));
    let rid = new_request_id();
    let (status, _) = call(&client, &app, "DELETE", &format!("{apps}/{app_id}"), None, &rid).await;
    assert_eq!(status, 204);
    assert_eq!(events_of(&app, &rid).await[0]["displayName"], "Delete application.");
    // winGetApp is beta-only.
    let wingets = json!({"@odata.type": "#microsoft.graph.winGetApp", "displayName": "Calculator", "packageIdentifier": "9WZDNCRFHVN5"});
    let (status, reply) = call(&client, &app, "POST", apps, Some(wingets.clone()), &new_request_id()).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("ModelValidationFailure")), "{reply}");
    let (_, event) = create(&client, &app, "/beta/deviceAppManagement/mobileApps", wingets).await;
    assert_eq!(event["resources"][0]["auditResourceType"], "WinGetApp");

    // Enrollment configurations: `<guid>_Limit` ids, priorities, setPriority.
    let enrollment = "/v1.0/deviceManagement/deviceEnrollmentConfigurations";
    let limit = |name: &str| json!({"@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration", "displayName": name, "limit": 5});
    let (first, event) = create(&client, &app, enrollment, limit("Five devices")).await;
    assert!(first["id"].as_str().unwrap().ends_with("_Limit"), "{first}");
    assert_eq!(first["priority"], 1);
    assert_eq!(
        (event["category"].as_str(), event["componentName"].as_str()),
        (Some("Enrollment"), Some("Enrollment"))
    );
    let p = props(&event["resources"][0]);
    assert_eq!(p["DeviceEnrollmentConfigurationType"], created("Limit"));
    assert_eq!(p["Priority"], created("1"));
    assert_eq!(p["Limit"], created("5"));
    let (second, _) = create(&client, &app, enrollment, limit("Three devices")).await;
    assert_eq!(second["priority"], 2);
    let second_id = second["id"].as_str().unwrap();
    let rid = new_request_id();
    let (status, _) = call(
        &client,
        &app,
        "POST",
        &format!("{enrollment}/{second_id}/setPriority"),
        Some(json!({"priority": 1})),
        &rid,
    )
    .await;
    assert_eq!(status, 204);
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["activityType"], "setPriority DeviceEnrollmentConfiguration");
    assert_eq!(props(&events[0]["resources"][0])["Priority"], (json!("2"), json!("1")));
    let (_, moved) = app_get(&client, &app, &format!("{enrollment}/{}", first["id"].as_str().unwrap())).await;
    assert_eq!(moved["priority"], 2, "the others are renumbered");
    let default_limit = format!("{enrollment}/{}_DefaultLimit", crate::helpers::TENANT);
    let (status, reply) = call(&client, &app, "DELETE", &default_limit, None, &new_request_id()).await;
    assert_eq!(status, 400, "the defaults cannot be deleted: {reply}");
    let rid = new_request_id();
    let (status, _) =
        call(&client, &app, "DELETE", &format!("{enrollment}/{}", first["id"].as_str().unwrap()), None, &rid)
            .await;
    assert_eq!(status, 204);
    assert_eq!(events_of(&app, &rid).await[0]["displayName"], "Deleting Device Enrollment Limit");

    // Device configurations: OMA settings must be typed.
    let configurations = "/v1.0/deviceManagement/deviceConfigurations";
    let custom = |setting: Value| json!({"@odata.type": "#microsoft.graph.windows10CustomConfiguration", "displayName": "OMA", "omaSettings": [setting]});
    let (status, reply) = call(
        &client,
        &app,
        "POST",
        configurations,
        Some(custom(json!({"@odata.type": "#microsoft.graph.omaSetting", "omaUri": "./Device/x"}))),
        &new_request_id(),
    )
    .await;
    assert_eq!((status, reply["error"]["message"].as_str()), (400, Some("Cannot create an abstract class.")));
    let (_, event) = create(&client, &app, configurations, custom(json!({"@odata.type": "#microsoft.graph.omaSettingString",
        "displayName": "Camera", "omaUri": "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera", "value": "0"}))).await;
    assert_eq!(
        (event["category"].as_str(), event["componentName"].as_str()),
        (Some("DeviceConfiguration"), Some("DeviceConfiguration"))
    );
    assert_eq!(
        props(&event["resources"][0])["$Collection.OmaSettings.OmaUri[0]"],
        created("./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera")
    );

    // Intune RBAC: a role, an assignment bound to it; built-ins are read-only.
    let (role, event) = create(&client, &app, "/v1.0/deviceManagement/roleDefinitions", json!({
        "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition", "displayName": "Wipers",
        "rolePermissions": [{"resourceActions": [{"allowedResourceActions": ["Microsoft.Intune_RemoteTasks_Wipe"], "notAllowedResourceActions": []}]}],
    })).await;
    assert_eq!(
        (event["activityType"].as_str(), event["category"].as_str(), event["componentName"].as_str()),
        (Some("Create RoleDefinition"), Some("Role"), Some("RoleBasedAccessControl"))
    );
    assert_eq!(
        props(&event["resources"][0])["$Collection.RolePermissions.AllowedResourceActions[0]"],
        created("Microsoft.Intune_RemoteTasks_Wipe")
    );
    let role_id = role["id"].as_str().unwrap();
    let (_, event) = create(&client, &app, "/v1.0/deviceManagement/roleAssignments", json!({
        "displayName": "Wipers", "members": [GROUP_A], "resourceScopes": [GROUP_B],
        "roleDefinition@odata.bind": format!("https://graph.microsoft.com/v1.0/deviceManagement/roleDefinitions('{role_id}')"),
    })).await;
    let p = props(&event["resources"][0]);
    assert_eq!(p["RoleDefinitionId"], created(role_id));
    assert_eq!(p["$Collection.Members[0]"], created(GROUP_A));
    let (_, roles) = app_get(
        &client,
        &app,
        "/v1.0/deviceManagement/roleDefinitions?$filter=displayName eq 'Help Desk Operator'",
    )
    .await;
    let built_in = roles["value"][0]["id"].as_str().unwrap();
    let (status, _) = call(
        &client,
        &app,
        "PATCH",
        &format!("/v1.0/deviceManagement/roleDefinitions/{built_in}"),
        Some(json!({"description": "x"})),
        &new_request_id(),
    )
    .await;
    assert_eq!(status, 400);

    // Beta only: scope tags and scripts, with the scripts' camel-verb grammar.
    let (status, reply) = app_get(&client, &app, "/v1.0/deviceManagement/deviceManagementScripts").await;
    assert_eq!(
        (status, reply["error"]["message"].as_str()),
        (400, Some("Resource not found for the segment 'deviceManagementScripts'."))
    );
    let (tag, event) =
        create(&client, &app, &format!("{BETA}/roleScopeTags"), json!({"displayName": "Paris"})).await;
    assert_eq!(event["activityType"], "Create RoleScopeTag");
    let rid = new_request_id();
    let body = json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": GROUP_A}}]});
    let (status, reply) = call(
        &client,
        &app,
        "POST",
        &format!("{BETA}/roleScopeTags/{}/assign", tag["id"].as_str().unwrap()),
        Some(body),
        &rid,
    )
    .await;
    assert_eq!(status, 200, "scope-tag assign returns its assignments");
    assert_eq!(reply["value"][0]["target"]["groupId"], GROUP_A);
    assert_eq!(events_of(&app, &rid).await[0]["activityType"], "Create RoleScopeTagAutoAssignment");
    let (script, event) = create(&client, &app, &format!("{BETA}/deviceManagementScripts"), json!({
        "displayName": "Set wallpaper", "scriptContent": "V3JpdGUtSG9zdCAnaGkn", "runAsAccount": "system", "fileName": "w.ps1",
    })).await;
    assert_eq!(event["activityType"], "createDeviceManagementScript DeviceManagementScript");
    assert_eq!(
        (event["category"].as_str(), event["componentName"].as_str()),
        (Some("DeviceConfiguration"), Some("DeviceConfiguration"))
    );
    let rid = new_request_id();
    let body = json!({"deviceManagementScriptGroupAssignments": [{"targetGroupId": GROUP_B}]});
    let (status, _) = call(
        &client,
        &app,
        "POST",
        &format!("{BETA}/deviceManagementScripts/{}/assign", script["id"].as_str().unwrap()),
        Some(body),
        &rid,
    )
    .await;
    assert_eq!(status, 204);
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 1, "a script's assign is one Action event");
    assert_eq!(
        (events[0]["activityType"].as_str(), events[0]["activityOperationType"].as_str()),
        (Some("assignDeviceManagementScript DeviceManagementScript"), Some("Action"))
    );
    assert_eq!(props(&events[0]["resources"][0])["TargetGroupIDs"], created(GROUP_B));
    let (status, reply) = call(
        &client,
        &app,
        "POST",
        &format!("{BETA}/deviceManagementScripts"),
        Some(json!({"scriptContent": "not base64!"})),
        &new_request_id(),
    )
    .await;
    assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("ModelValidationFailure")), "{reply}");

    // getAuditActivityTypes knows every type the workloads write.
    for (category, activity) in [
        ("Compliance", "Create DeviceCompliancePolicyAssignment"),
        ("Device", "wipe ManagedDevice"),
        ("DeviceConfiguration", "assignDeviceManagementScript DeviceManagementScript"),
        ("Role", "Create RoleScopeTagAutoAssignment"),
    ] {
        let (_, types) =
            app.get_json(&format!("{EVENTS}/getAuditActivityTypes(category='{category}')")).await;
        assert!(types["value"].as_array().unwrap().contains(&json!(activity)), "{category}: {types}");
    }
}

async fn lists_filter_page_select_and_expand(app: TestApp) {
    let client = admin(&app).await;
    let before =
        app_get(&client, &app, &format!("{POLICIES}?$count=true")).await.1["@odata.count"].as_u64().unwrap();
    for name in ["Alpha", "Beta", "Gamma"] {
        create(&client, &app, POLICIES, win10_policy(&format!("Filtered {name}"))).await;
    }
    let (_, page) = app_get(&client, &app, &format!("{POLICIES}?$filter=startswith(displayName,'filtered ')&$top=2&$count=true&$orderby=displayName desc")).await;
    assert_eq!(page["@odata.count"], 3);
    let names: Vec<&str> =
        page["value"].as_array().unwrap().iter().map(|p| p["displayName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Filtered Gamma", "Filtered Beta"]);
    let next = page["@odata.nextLink"].as_str().unwrap();
    let (status, rest) =
        call(&client, &app, "GET", next.strip_prefix(&app.address).unwrap(), None, &new_request_id()).await;
    assert_eq!(status, 200);
    assert_eq!(rest["value"].as_array().unwrap().len(), 1);
    assert_eq!(rest["value"][0]["displayName"], "Filtered Alpha");
    assert!(rest.get("@odata.nextLink").is_none());
    let (_, all) = app_get(&client, &app, &format!("{POLICIES}?$count=true")).await;
    assert_eq!(all["@odata.count"].as_u64().unwrap(), before + 3);
    let (_, typed) = app_get(&client, &app, &format!("{POLICIES}?$filter=isof('microsoft.graph.windows10CompliancePolicy') and displayName eq 'Filtered Beta'")).await;
    assert_eq!(typed["value"].as_array().unwrap().len(), 1);
    let id = typed["value"][0]["id"].as_str().unwrap();
    // $select, $expand, and the beta-only properties on beta.
    let (_, selected) = app_get(&client, &app, &format!("{POLICIES}/{id}?$select=displayName,version")).await;
    let keys: Vec<&String> = selected.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["@odata.context", "@odata.type", "displayName", "version"]);
    let (_, expanded) = app_get(&client, &app, &format!("{POLICIES}/{id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations),assignments")).await;
    assert_eq!(
        expanded["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"],
        "block"
    );
    assert_eq!(expanded["assignments"], json!([]));
    let (_, beta) =
        app_get(&client, &app, &format!("/beta/deviceManagement/deviceCompliancePolicies/{id}")).await;
    assert_eq!(beta["roleScopeTagIds"], json!(["0"]));
    // Managed devices: the CSDL's allow-list, `or` on one property only.
    let (_, windows) = app_get(
        &client,
        &app,
        &format!("{DEVICES}?$filter=operatingSystem eq 'Windows' or operatingSystem eq 'iOS'"),
    )
    .await;
    assert!(windows["value"].as_array().unwrap().len() >= 8, "the development users' devices: {windows}");
    let (_, lpt) = app_get(
        &client,
        &app,
        &format!("{DEVICES}?$filter=contains(deviceName,'lpt-') and operatingSystem eq 'windows'"),
    )
    .await;
    assert!(
        lpt["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["deviceName"].as_str().unwrap().starts_with("LPT-"))
    );
    assert!(!lpt["value"].as_array().unwrap().is_empty());
    for refused in [
        format!("{DEVICES}?$filter=operatingSystem eq 'Windows' or deviceName eq 'x'"),
        format!("{DEVICES}?$filter=startswith(deviceName,'x')"),
        format!("{DEVICES}?$filter=osVersion eq '10'"),
        format!("{POLICIES}?$filter=version eq 1"),
        format!("{POLICIES}?$expand=nothing"),
    ] {
        let (status, reply) = app_get(&client, &app, &refused).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (400, Some("BadRequest")),
            "{refused}: {reply}"
        );
    }
    let (_, list) = app_get(&client, &app, &format!("{DEVICES}?$top=1")).await;
    assert_eq!(list["value"][0]["udid"], Value::Null, "detail-only properties are null in lists");
}

backend_tests!(other_workloads, lists_filter_page_select_and_expand);
