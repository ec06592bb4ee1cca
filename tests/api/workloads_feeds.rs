//! Where a workload's audit event goes once committed: REST at once, a GraphQL
//! query and a live subscription, the export download; who it names (the
//! portal's client); that the seeded history points at objects that exist; and
//! that no flag, setting or admin call stops the events.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::graphql_subscriptions::{connect_as, send};
use crate::helpers::{
    ADMIN, READER, TestApp, client_credentials, gql, no_errors, plain, sqlite, user_token_via,
};

const INTUNE_ADMIN: (&str, &str) = ("00000000-0000-0000-0000-00000000a004", "intune-admin-secret");
const PORTAL: &str = "5926fc8e-304e-4f59-8bed-58ca97cc39a4";
const POLICIES: &str = "/v1.0/deviceManagement/deviceCompliancePolicies";
const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

fn policy(name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.iosCompliancePolicy", "displayName": name, "passcodeRequired": true,
        "scheduledActionsForRule": [{"ruleName": "PasscodeRequired", "scheduledActionConfigurations": [{"actionType": "block"}]}],
    })
}

fn bearer(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// Creates a policy named `name`; returns its id and the request's correlation id.
async fn create_policy(client: &reqwest::Client, app: &TestApp, name: &str) -> (String, String) {
    let correlation = uuid::Uuid::new_v4().to_string();
    let response = client
        .post(app.url(POLICIES))
        .header("client-request-id", &correlation)
        .json(&policy(name))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_string(), correlation)
}

async fn event_of(app: &TestApp, correlation: &str) -> Value {
    let (status, body) = app.get_json(&format!("{EVENTS}?$filter=correlationId eq {correlation}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "{body}");
    body["value"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_events_reach_every_door() {
    let app = sqlite(&[]).await;
    let admin = bearer(&client_credentials(&reqwest::Client::new(), &app.address, INTUNE_ADMIN).await);
    let reader = client_credentials(&reqwest::Client::new(), &app.address, READER).await;
    let mut socket = connect_as(&app, &reader).await;
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {"query":
        "subscription { auditEventCreated(filter: \"category eq 'Compliance'\") { id activityType correlationId resources { resourceId } } }"}})).await;
    // The subscription listens a moment after `subscribe`: create until one is heard.
    let mut heard = None;
    for attempt in 0..40 {
        let (id, correlation) = create_policy(&admin, &app, &format!("Probe {attempt}")).await;
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(500), socket.next()).await
        {
            let message: Value = serde_json::from_str(&text).unwrap();
            let delivered = &message["payload"]["data"]["auditEventCreated"];
            if delivered["correlationId"] == correlation.as_str() {
                heard = Some((id, correlation, delivered.clone()));
                break;
            }
        }
    }
    let (id, correlation, delivered) = heard.expect("the subscription delivered a workload event");
    assert_eq!(delivered["activityType"], "Create DeviceCompliancePolicy");
    assert_eq!(delivered["resources"][0]["resourceId"], id.as_str());
    let rest = event_of(&app, &correlation).await;
    assert_eq!(rest["id"], delivered["id"]);
    // A GraphQL query finds the same event.
    let body = gql(&app, &format!("{{ auditEvents(filter: \"correlationId eq {correlation}\", first: 5) {{ nodes {{ id activityType category componentName }} }} }}"), json!({})).await;
    no_errors(&body);
    assert_eq!(
        body["data"]["auditEvents"]["nodes"],
        json!([{"id": rest["id"], "activityType": "Create DeviceCompliancePolicy", "category": "Compliance", "componentName": "DeviceCompliancePolicy"}])
    );
    // And the admin page's export download.
    let url = format!("/auditlogs/export?format=ndjson&$filter=correlationId%20eq%20{correlation}");
    let response = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["id"], rest["id"]);
    assert_eq!(lines[0]["resources"][0]["modifiedProperties"], rest["resources"][0]["modifiedProperties"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_the_portal_client_read_as_the_portal() {
    let app = sqlite(&[]).await;
    let token = user_token_via(
        &plain(),
        &app.address,
        PORTAL,
        ADMIN,
        &["DeviceManagementConfiguration.ReadWrite.All"],
    )
    .await;
    let (_, correlation) = create_policy(&bearer(&token), &app, "Through the portal").await;
    let actor = &event_of(&app, &correlation).await["actor"];
    assert_eq!(
        actor,
        &json!({
            "auditActorType": "ItPro",
            "userPermissions": ["*"],
            "applicationId": PORTAL,
            "applicationDisplayName": "Microsoft Intune portal extension",
            "userPrincipalName": ADMIN,
            "servicePrincipalName": null,
            "ipAddress": null,
            "userId": crate::helpers::ADMIN_OID,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_history_points_at_objects_that_exist() {
    let app = sqlite(&[]).await;
    let response = reqwest::Client::new()
        .post(app.url("/_auditgraph/reset"))
        .json(&json!({"count": 2000, "seed": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let admin = bearer(&client_credentials(&reqwest::Client::new(), &app.address, INTUNE_ADMIN).await);
    // Every resource of an emulated type names an object of its set.
    let sets = [
        ("ManagedDevice", "/v1.0/deviceManagement/managedDevices"),
        ("Windows10CompliancePolicy", POLICIES),
        ("Win32LobApp", "/v1.0/deviceAppManagement/mobileApps"),
        ("Windows10GeneralConfiguration", "/v1.0/deviceManagement/deviceConfigurations"),
    ];
    for (resource_type, set) in sets {
        let pages = app
            .all_pages(&format!(
                "{EVENTS}?$filter=resources/any(r:r/auditResourceType eq '{resource_type}')&$select=resources"
            ))
            .await;
        let mut ids: Vec<String> = pages
            .iter()
            .flat_map(|p| p["value"].as_array().unwrap().clone())
            .flat_map(|e| e["resources"].as_array().unwrap().clone())
            .filter(|r| r["auditResourceType"] == resource_type)
            .map(|r| r["resourceId"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert!(!ids.is_empty(), "the seeded history names some {resource_type}");
        for id in ids {
            let response = admin.get(app.url(&format!("{set}/{id}"))).send().await.unwrap();
            assert_eq!(response.status(), 200, "{resource_type} {id} does not exist");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditing_has_no_switch() {
    // No serve flag mentions turning auditing off.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_auditgraph"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let flags: Vec<&str> = help
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("--"))
        .filter_map(|l| l.split([' ', '=', ',']).next())
        .collect();
    assert!(flags.len() > 10, "{help}");
    assert!(
        !flags.iter().any(|f| f.to_ascii_lowercase().contains("audit")),
        "a flag about auditing: {flags:?}"
    );
    // Every emulator control at once: the event is still written, at the emulator's clock.
    let app = sqlite(&[]).await;
    let control = reqwest::Client::new();
    let frozen = "2026-03-04T09:15:02Z";
    for (method, path, body) in [
        ("POST", "/_auditgraph/clock", json!({"freezeAt": frozen})),
        ("PATCH", "/_auditgraph/throttling", json!({"enabled": true})),
        ("PUT", "/_auditgraph/faults", json!({"rules": []})),
        ("POST", "/_auditgraph/reset", json!({"count": 0})),
    ] {
        let response =
            control.request(method.parse().unwrap(), app.url(path)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{method} {path}: {}", response.text().await.unwrap());
    }
    let admin = bearer(&client_credentials(&reqwest::Client::new(), &app.address, INTUNE_ADMIN).await);
    let (_, correlation) = create_policy(&admin, &app, "Still audited").await;
    let event = event_of(&app, &correlation).await;
    assert_eq!(event["activityDateTime"], "2026-03-04T09:15:02.0000000Z");
    let props: Vec<&Value> = event["resources"][0]["modifiedProperties"].as_array().unwrap().iter().collect();
    assert!(
        props.iter().any(|p| p["displayName"] == "CreatedDateTime" && p["newValue"] == "3/4/2026 9:15:02 AM"),
        "{props:?}"
    );
}
