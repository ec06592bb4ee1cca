//! The Intune workloads over HTTP, on every backend: each call's answer and the
//! exact audit event(s) it wrote (intune-workloads.md §2, §3), failed calls that
//! write nothing (the other sets and the lists: `workloads_sets`).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{HELPDESK, READER, TestApp, client_credentials, plain, user_token};

pub(crate) const INTUNE_ADMIN: (&str, &str) = ("00000000-0000-0000-0000-00000000a004", "intune-admin-secret");
pub(crate) const POLICIES: &str = "/v1.0/deviceManagement/deviceCompliancePolicies";
pub(crate) const DEVICES: &str = "/v1.0/deviceManagement/managedDevices";
pub(crate) const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";
pub(crate) const GROUP_A: &str = "0b3a4b9e-1111-4e5e-9d4f-5a6b7c8d9e0f";
pub(crate) const GROUP_B: &str = "0b3a4b9e-2222-4e5e-9d4f-5a6b7c8d9e0f";

/// A client for `app` sending `token`.
pub(crate) fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

pub(crate) async fn admin(app: &TestApp) -> reqwest::Client {
    bearer_client(&client_credentials(&reqwest::Client::new(), &app.address, INTUNE_ADMIN).await)
}

/// Sends `method path body` with a fixed `client-request-id`; returns status and JSON (Null when empty).
pub(crate) async fn call(
    client: &reqwest::Client,
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    request_id: &str,
) -> (u16, Value) {
    let mut request =
        client.request(method.parse().unwrap(), app.url(path)).header("client-request-id", request_id);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        },
    )
}

/// The audit events whose correlation id is `id`, oldest first.
pub(crate) async fn events_of(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, body) =
        app.get_json(&format!("{EVENTS}?$filter=correlationId eq {id}&$orderby=activityDateTime asc")).await;
    assert_eq!(status, 200, "{body}");
    body["value"].as_array().unwrap().clone()
}

/// A resource's modified properties by name: (oldValue, newValue).
pub(crate) fn props(resource: &Value) -> HashMap<String, (Value, Value)> {
    resource["modifiedProperties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (p["displayName"].as_str().unwrap().to_string(), (p["oldValue"].clone(), p["newValue"].clone()))
        })
        .collect()
}

pub(crate) fn created(value: &str) -> (Value, Value) {
    (Value::Null, json!(value))
}

pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn win10_policy(name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "displayName": name,
        "passwordRequired": true,
        "passwordMinimumLength": 12,
        "passwordRequiredType": "alphanumeric",
        "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
            {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": ""}]}],
    })
}

/// The fields every event of an app-only call by the intune-admin app shares.
fn assert_app_event(
    event: &Value,
    activity_type: &str,
    operation: &str,
    category: &str,
    component: &str,
    request_id: &str,
) {
    assert!(uuid::Uuid::parse_str(event["id"].as_str().unwrap()).is_ok(), "{event}");
    assert_eq!(event["activityType"], activity_type, "{event}");
    assert_eq!(event["activityOperationType"], operation);
    assert_eq!(event["activityResult"], "Success");
    assert_eq!(event["activity"], Value::Null);
    assert_eq!(event["category"], category);
    assert_eq!(event["componentName"], component);
    assert_eq!(event["correlationId"], request_id);
    assert_eq!(
        event["actor"],
        json!({
            "auditActorType": "Application",
            "userPermissions": [],
            "applicationId": INTUNE_ADMIN.0,
            "applicationDisplayName": "auditgraph-intune-admin",
            "userPrincipalName": null,
            "servicePrincipalName": "auditgraph-intune-admin",
            "ipAddress": null,
            "userId": null,
        })
    );
}

async fn compliance_policy_lifecycle(app: TestApp) {
    let client = admin(&app).await;
    // Create: 201 with the entity; server-set fields stamped.
    let rid = new_request_id();
    let (status, policy) =
        call(&client, &app, "POST", POLICIES, Some(win10_policy("Win - Baseline")), &rid).await;
    assert_eq!(status, 201, "{policy}");
    let id = policy["id"].as_str().unwrap().to_string();
    assert_eq!(policy["@odata.type"], "#microsoft.graph.windows10CompliancePolicy");
    assert_eq!(policy["version"], 1);
    assert_eq!(policy["createdDateTime"], policy["lastModifiedDateTime"]);
    assert!(policy.get("roleScopeTagIds").is_none(), "v1.0 has no roleScopeTagIds: {policy}");
    assert!(policy.get("scheduledActionsForRule").is_none(), "only served when expanded");
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_app_event(
        event,
        "Create DeviceCompliancePolicy",
        "Create",
        "Compliance",
        "DeviceCompliancePolicy",
        &rid,
    );
    assert_eq!(event["displayName"], "Create DeviceCompliancePolicy");
    assert_eq!(event["activityDateTime"], policy["createdDateTime"]);
    let resources = event["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0]["displayName"], "Win - Baseline");
    assert_eq!(resources[0]["auditResourceType"], "Windows10CompliancePolicy");
    assert_eq!(resources[0]["resourceId"], id.as_str());
    let p = props(&resources[0]);
    assert_eq!(p["Id"], created(&id));
    assert_eq!(p["PasswordRequired"], created("True"));
    assert_eq!(p["PasswordMinimumLength"], created("12"));
    assert_eq!(p["PasswordRequiredType"], created("Alphanumeric"));
    assert_eq!(p["OsMinimumVersion"], created("<null>"));
    assert_eq!(p["Version"], created("1"));
    assert_eq!(p["$Collection.RoleScopeTagIds[0]"], created("Default"));
    assert_eq!(p["DeviceManagementAPIVersion"], created("5025-10-23"));
    assert!(!p.contains_key("DisplayName"), "the name travels in the resource");
    let created_at =
        chrono::DateTime::parse_from_rfc3339(policy["createdDateTime"].as_str().unwrap()).unwrap();
    assert_eq!(p["CreatedDateTime"], created(&created_at.format("%-m/%-d/%Y %-I:%M:%S %p").to_string()));

    // PATCH lists only what changed, old → new; version goes up.
    let rid = new_request_id();
    let patch = json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "passwordMinimumLength": 14, "description": "tighter", "passwordRequired": true});
    let (status, body) = call(&client, &app, "PATCH", &format!("{POLICIES}/{id}"), Some(patch), &rid).await;
    assert_eq!((status, body), (204, Value::Null));
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 1);
    assert_app_event(
        &events[0],
        "Patch DeviceCompliancePolicy",
        "Patch",
        "Compliance",
        "DeviceCompliancePolicy",
        &rid,
    );
    let p = props(&events[0]["resources"][0]);
    let expected: HashMap<String, (Value, Value)> = [
        ("PasswordMinimumLength".to_string(), (json!("12"), json!("14"))),
        ("Description".to_string(), (json!("<null>"), json!("tighter"))),
        ("DeviceManagementAPIVersion".to_string(), created("5025-10-23")),
    ]
    .into();
    assert_eq!(p, expected);
    // A second change under the same client request id shares its correlation id.
    let (status, _) = call(
        &client,
        &app,
        "PATCH",
        &format!("{POLICIES}/{id}"),
        Some(json!({"passwordBlockSimple": true})),
        &rid,
    )
    .await;
    assert_eq!(status, 204);
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["correlationId"], events[0]["correlationId"]);
    assert_eq!(props(&events[1]["resources"][0])["PasswordBlockSimple"], (json!("False"), json!("True")));
    let (_, fetched) = app_get(&client, &app, &format!("{POLICIES}/{id}")).await;
    assert_eq!(fetched["version"], 3);
    assert_eq!(fetched["passwordMinimumLength"], 14);

    // Assign: one event per assignment added, two resources each; one request id
    // shared by the events of one call.
    let assign = |groups: &[&str]| {
        json!({"assignments": groups.iter().map(|g| json!({
            "@odata.type": "#microsoft.graph.deviceCompliancePolicyAssignment",
            "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g}})).collect::<Vec<_>>()})
    };
    let rid = new_request_id();
    let (status, _) = call(
        &client,
        &app,
        "POST",
        &format!("{POLICIES}/{id}/assign"),
        Some(assign(&[GROUP_A, GROUP_B])),
        &rid,
    )
    .await;
    assert_eq!(status, 204);
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 2, "{events:?}");
    for event in &events {
        assert_app_event(
            event,
            "Create DeviceCompliancePolicyAssignment",
            "Create",
            "Compliance",
            "DeviceCompliancePolicy",
            &rid,
        );
        let resources = event["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 2);
        assert_eq!(resources[0]["resourceId"], id.as_str());
        assert_eq!(resources[0]["modifiedProperties"], json!([]));
        assert_eq!(resources[1]["displayName"], "<null>");
        assert_eq!(resources[1]["auditResourceType"], "DeviceCompliancePolicyAssignment");
        let group = props(&resources[1])["Target.GroupId"].1.as_str().unwrap().to_string();
        assert_eq!(resources[1]["resourceId"], format!("{id}_{group}"));
        let p = props(&resources[1]);
        assert_eq!(p["Target.Type"], created("GroupAssignmentTarget"));
        assert_eq!(p["Target.DeviceAndAppManagementAssignmentFilterType"], created("None"));
        assert_eq!(p["Target.DeviceAndAppManagementAssignmentFilterId"], created("<null>"));
        assert_eq!(p["Id"], created(&format!("{id}_{group}")));
        assert_eq!(p["DeviceManagementAPIVersion"], created("5025-10-23"));
    }
    let (_, listed) = app_get(&client, &app, &format!("{POLICIES}/{id}/assignments")).await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 2);
    // Keeping A and dropping B writes one Delete, with the old values.
    let rid = new_request_id();
    let (status, _) =
        call(&client, &app, "POST", &format!("{POLICIES}/{id}/assign"), Some(assign(&[GROUP_A])), &rid).await;
    assert_eq!(status, 204);
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["activityType"], "Delete DeviceCompliancePolicyAssignment");
    assert_eq!(props(&events[0]["resources"][1])["Target.GroupId"], (json!(GROUP_B), Value::Null));

    // Delete: 204, then 404 in Intune's shape; the event names what was deleted.
    let rid = new_request_id();
    let (status, _) = call(&client, &app, "DELETE", &format!("{POLICIES}/{id}"), None, &rid).await;
    assert_eq!(status, 204);
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 1);
    assert_app_event(
        &events[0],
        "Delete DeviceCompliancePolicy",
        "Delete",
        "Compliance",
        "DeviceCompliancePolicy",
        &rid,
    );
    assert_eq!(events[0]["resources"][0]["displayName"], "Win - Baseline");
    assert_eq!(events[0]["resources"][0]["modifiedProperties"], json!([]));
    let (status, body) = app_get(&client, &app, &format!("{POLICIES}/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("StatelessDeviceConfigurationFEService"),
        "{body}"
    );
}

pub(crate) async fn app_get(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, Value) {
    call(client, app, "GET", path, None, &new_request_id()).await
}

async fn failed_calls_write_nothing(app: TestApp) {
    let client = admin(&app).await;
    let (_, devices) = app_get(&client, &app, DEVICES).await;
    let device = devices["value"][0]["id"].as_str().unwrap().to_string();
    let before = app.count().await;
    let (_, policies_before) = app_get(&client, &app, POLICIES).await;
    let missing = "00000000-0000-0000-0000-0000000000ff";
    let mut untyped = win10_policy("x");
    untyped.as_object_mut().unwrap().remove("@odata.type");
    let mut two_blocks = win10_policy("x");
    two_blocks["scheduledActionsForRule"][0]["scheduledActionConfigurations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"actionType": "block", "gracePeriodHours": 24}));
    let mut unknown = win10_policy("x");
    unknown["bogus"] = json!(1);
    let nul = win10_policy("NUL \u{0} inside");
    let cases: Vec<(&str, String, Option<Value>, u16, &str)> = vec![
        ("POST", POLICIES.into(), Some(untyped), 400, "ModelValidationFailure"),
        ("POST", POLICIES.into(), Some(unknown), 400, "ModelValidationFailure"),
        ("POST", POLICIES.into(), Some(two_blocks), 400, "BadRequest"),
        (
            "POST",
            POLICIES.into(),
            Some(json!({"@odata.type": "#microsoft.graph.win32LobApp"})),
            400,
            "ModelValidationFailure",
        ),
        ("POST", POLICIES.into(), Some(json!("not an object")), 400, "BadRequest"),
        ("POST", POLICIES.into(), Some(nul), 400, "BadRequest"),
        (
            "PATCH",
            format!("{POLICIES}/{missing}"),
            Some(json!({"description": "x"})),
            404,
            "ResourceNotFound",
        ),
        ("DELETE", format!("{POLICIES}/{missing}"), None, 404, "ResourceNotFound"),
        ("POST", format!("{DEVICES}/{missing}/wipe"), Some(json!({})), 404, "ResourceNotFound"),
        ("POST", format!("{DEVICES}/{device}/windowsDefenderScan"), Some(json!({})), 400, "BadRequest"),
        (
            "POST",
            format!("{DEVICES}/{device}/wipe"),
            Some(json!({"keepUserData": "no"})),
            400,
            "ModelValidationFailure",
        ),
        ("POST", DEVICES.into(), Some(json!({"deviceName": "x"})), 400, "No method match route template"),
        (
            "POST",
            format!("{POLICIES}/{missing}/assignments"),
            Some(json!({})),
            400,
            "No method match route template",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, reply) = call(&client, &app, method, &path, body.clone(), &new_request_id()).await;
        assert_eq!(
            (got, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {body:?}: {reply}"
        );
    }
    let (_, reply) =
        call(&client, &app, "POST", POLICIES, Some(json!({"displayName": "no type"})), &new_request_id())
            .await;
    assert_eq!(reply["error"]["message"], "Cannot create an abstract class.");
    assert_eq!(reply["error"]["innerError"]["message"], "Cannot create an abstract class.");
    // No permission: the reader app (auditEvents only) and a help-desk user
    // whose Intune role has no wipe.
    let reader = bearer_client(&client_credentials(&reqwest::Client::new(), &app.address, READER).await);
    let (status, reply) =
        call(&reader, &app, "POST", POLICIES, Some(win10_policy("x")), &new_request_id()).await;
    assert_eq!(status, 403, "{reply}");
    assert!(
        reply["error"]["message"].as_str().unwrap().contains("DeviceManagementConfiguration.ReadWrite.All"),
        "{reply}"
    );
    let helpdesk = bearer_client(
        &user_token(
            &plain(),
            &app.address,
            HELPDESK,
            &["DeviceManagementManagedDevices.PrivilegedOperations.All"],
        )
        .await,
    );
    let (status, reply) = call(
        &helpdesk,
        &app,
        "POST",
        &format!("{DEVICES}/{device}/wipe"),
        Some(json!({})),
        &new_request_id(),
    )
    .await;
    assert_eq!(status, 403, "{reply}");
    assert_eq!(app.count().await, before, "a failed call wrote an event");
    let (_, policies_after) = app_get(&client, &app, POLICIES).await;
    assert_eq!(policies_after["value"], policies_before["value"]);
    let (_, still) = app_get(&client, &app, &format!("{DEVICES}/{device}")).await;
    assert_eq!(still["managementState"], "managed");
}

async fn device_actions(app: TestApp) {
    let client = admin(&app).await;
    let (_, devices) = app_get(&client, &app, DEVICES).await;
    let device = devices["value"][0].clone();
    let id = device["id"].as_str().unwrap();
    let rid = new_request_id();
    let (status, _) = call(
        &client,
        &app,
        "POST",
        &format!("{DEVICES}/{id}/wipe"),
        Some(json!({"keepUserData": false})),
        &rid,
    )
    .await;
    assert_eq!(status, 204);
    let events = events_of(&app, &rid).await;
    assert_eq!(events.len(), 1);
    assert_app_event(&events[0], "wipe ManagedDevice", "Action", "Device", "ManagedDevices", &rid);
    let resource = &events[0]["resources"][0];
    assert_eq!(resource["auditResourceType"], "ManagedDevice");
    assert_eq!(resource["displayName"], device["deviceName"]);
    assert_eq!(resource["resourceId"], id);
    let expected: HashMap<String, (Value, Value)> = [
        ("AzureADDeviceId".to_string(), created(device["azureADDeviceId"].as_str().unwrap())),
        ("DeviceManagementAPIVersion".to_string(), created("5025-10-23")),
    ]
    .into();
    assert_eq!(props(resource), expected, "the action's parameters are not recorded");
    let (_, after) = app_get(&client, &app, &format!("{DEVICES}/{id}")).await;
    assert_eq!(after["managementState"], "wipePending");
    assert_eq!(after["deviceActionResults"][0]["actionName"], "wipe");
    assert_eq!(after["deviceActionResults"][0]["actionState"], "pending");

    // Every remote action writes its `<action> ManagedDevice` event.
    for action in
        ["retire", "syncDevice", "rebootNow", "remoteLock", "resetPasscode", "shutDown", "locateDevice"]
    {
        let rid = new_request_id();
        let (status, reply) =
            call(&client, &app, "POST", &format!("{DEVICES}/{id}/{action}"), None, &rid).await;
        assert_eq!(status, 204, "{action}: {reply}");
        let events = events_of(&app, &rid).await;
        assert_eq!(events.len(), 1, "{action}");
        assert_eq!(events[0]["activityType"], format!("{action} ManagedDevice"));
    }
    let rid = new_request_id();
    let (status, _) = call(
        &client,
        &app,
        "POST",
        &format!("{DEVICES}/{id}/windowsDefenderScan"),
        Some(json!({"quickScan": true})),
        &rid,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(events_of(&app, &rid).await[0]["activityType"], "windowsDefenderScan ManagedDevice");

    // A user acts as ItPro: the help-desk role allows a reboot.
    let token = user_token(
        &plain(),
        &app.address,
        HELPDESK,
        &["DeviceManagementManagedDevices.PrivilegedOperations.All"],
    )
    .await;
    let rid = new_request_id();
    let (status, reply) =
        call(&bearer_client(&token), &app, "POST", &format!("{DEVICES}/{id}/rebootNow"), None, &rid).await;
    assert_eq!(status, 204, "{reply}");
    let actor = &events_of(&app, &rid).await[0]["actor"];
    assert_eq!(actor["auditActorType"], "ItPro");
    assert_eq!(actor["userPrincipalName"], HELPDESK);
    assert_eq!(actor["applicationId"], crate::helpers::PUBLIC_CLIENT);
    assert!(
        actor["userPermissions"]
            .as_array()
            .unwrap()
            .contains(&json!("Microsoft.Intune_RemoteTasks_RebootNow")),
        "{actor}"
    );

    // PATCH of the writable device fields; delete.
    let rid = new_request_id();
    let (status, _) = call(
        &client,
        &app,
        "PATCH",
        &format!("{DEVICES}/{id}"),
        Some(json!({"notes": "sent for repair"})),
        &rid,
    )
    .await;
    assert_eq!(status, 204);
    let p = props(&events_of(&app, &rid).await[0]["resources"][0]);
    assert_eq!(p["Notes"], (json!("<null>"), json!("sent for repair")));
    let rid = new_request_id();
    let (status, _) = call(&client, &app, "DELETE", &format!("{DEVICES}/{id}"), None, &rid).await;
    assert_eq!(status, 204);
    assert_eq!(events_of(&app, &rid).await[0]["activityType"], "Delete ManagedDevice");
}

backend_tests!(compliance_policy_lifecycle, failed_calls_write_nothing, device_actions);
