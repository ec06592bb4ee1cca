//! Live routing to a storage account in a real Azurite, on every backend: a
//! diagnostic setting created through ARM, events from REST and the workloads
//! arriving in `PT1H.json` exactly once in the record shape `export` writes, a
//! destination that goes away and comes back, a deleted setting, the faults,
//! `kill -9` mid-delivery, and ARM's errors. Skipped where
//! `AUDITGRAPH_TEST_AZURITE_BIN` is unset (`.ci/run` installs and sets it).

use serde_json::{Value, json};

use crate::azurite::{AUDIT_CONTAINER, Azurite};
use crate::helpers::{Backend, TestApp, client_credentials, days_ago, sample_event};
use crate::per_backend;

pub(crate) const MONITORING: (&str, &str) = ("00000000-0000-0000-0000-00000000a005", "monitoring-secret");
pub(crate) const SETTINGS: &str = "/providers/microsoft.intune/diagnosticSettings";
pub(crate) const VERSION: &str = "api-version=2017-04-01-preview";
pub(crate) const STORAGE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1";
const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

/// An ARM token (client credentials, `https://management.azure.com/.default`).
pub(crate) async fn arm_token(address: &str, (id, secret): (&str, &str)) -> String {
    let response = reqwest::Client::new()
        .post(format!("{address}/{}/oauth2/v2.0/token", crate::helpers::TENANT))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
}

/// `method` on an ARM path with `token`; status and JSON (Null when empty).
pub(crate) async fn arm(
    address: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method.parse().unwrap(), format!("{address}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

pub(crate) fn storage_setting(storage_id: &str) -> Value {
    json!({"properties": {"storageAccountId": storage_id, "logs": [{"category": "AuditLogs", "enabled": true}]}})
}

/// Creates a compliance policy as the Intune admin app; returns the id of the audit event it wrote.
pub(crate) async fn create_compliance_policy(app: &TestApp) -> String {
    let admin =
        client_credentials(&reqwest::Client::new(), &app.address, crate::workloads::INTUNE_ADMIN).await;
    let policy = reqwest::Client::new()
        .post(app.url("/v1.0/deviceManagement/deviceCompliancePolicies"))
        .bearer_auth(admin)
        .json(&json!({"@odata.type": "#microsoft.graph.macOSCompliancePolicy", "displayName": "Mac",
            "scheduledActionsForRule": [{"ruleName": "r", "scheduledActionConfigurations": [{"actionType": "block"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(policy.status(), 201);
    let (_, created) =
        app.get_json(&format!("{EVENTS}?$filter=activityType eq 'Create DeviceCompliancePolicy'")).await;
    created["value"][0]["id"].as_str().unwrap().to_string()
}

/// A server on `backend` routing to `azurite`, with a long window (tests flush).
async fn serve(backend: Backend, azurite: &Azurite) -> Option<TestApp> {
    let flag = azurite.storage_account_flag();
    TestApp::spawn(backend, &["--storage-account", &flag, "--routing-window", "300s", "--throttling", "off"])
        .await
}

async fn put_setting(app: &TestApp, name: &str) {
    let token = arm_token(&app.address, MONITORING).await;
    let (status, body) = arm(
        &app.address,
        Some(&token),
        "PUT",
        &format!("{SETTINGS}/{name}?{VERSION}"),
        Some(storage_setting(STORAGE_ID)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn flush(app: &TestApp) -> (u16, Value) {
    let response = reqwest::Client::new().post(app.url("/_auditgraph/routing/flush")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Posts events through Graph; returns their ids in order.
async fn post_events(app: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}-{}", uuid::Uuid::new_v4());
        let (status, body) = app.post_json(EVENTS, &sample_event(&id, &days_ago(0))).await;
        assert_eq!(status, 201, "{body}");
        ids.push(id);
    }
    ids
}

/// The event ids of the delivered records, in blob then line order.
fn delivered_ids(lines: &[Value]) -> Vec<String> {
    lines.iter().map(|l| l["properties"]["AuditEventId"].as_str().unwrap().to_string()).collect()
}

async fn events_flow_to_storage_exactly_once(backend: Backend) {
    let Some(azurite) = Azurite::start() else { return };
    let Some(app) = serve(backend, &azurite).await else { return };
    let before = post_events(&app, "before", 2).await;
    put_setting(&app, "to-siem").await;
    let mut ids = post_events(&app, "rest", 3).await;
    // A workload change routes like any other event.
    ids.push(create_compliance_policy(&app).await);
    let (status, body) = flush(&app).await;
    assert_eq!(status, 200, "{body}");
    let lines = azurite.lines(AUDIT_CONTAINER).await;
    assert_eq!(delivered_ids(&lines), ids, "exactly the events written since the setting, once, in order");
    assert!(!delivered_ids(&lines).iter().any(|id| before.contains(id)));
    for (line, id) in lines.iter().zip(&ids) {
        let (_, event) = app.get_json(&format!("{EVENTS}/{id}")).await;
        assert_eq!(line["category"], "AuditLogs");
        assert_eq!(line["tenantId"], crate::helpers::TENANT);
        assert_eq!(line["time"], event["activityDateTime"]);
        assert_eq!(line["correlationId"], event["correlationId"]);
        assert_eq!(line["properties"]["ActivityTypeName"], event["activityType"]);
    }
    let names: Vec<String> = azurite.read_blobs(AUDIT_CONTAINER).await.into_iter().map(|(n, _)| n).collect();
    assert!(
        names.iter().all(|n| n.starts_with(
            "resourceId=/TENANTS/7D0F0A2C-1B1E-4C55-9A3E-2F5C00000001/PROVIDERS/MICROSOFT.INTUNE/y="
        ) && n.ends_with("/m=00/PT1H.json")),
        "{names:?}"
    );
    // The status says what happened; a second flush delivers nothing new.
    let routes = &body["routes"];
    assert_eq!(
        (routes[0]["delivered"].as_i64(), routes[0]["pending"].as_u64()),
        (Some(4), Some(0)),
        "{body}"
    );
    flush(&app).await;
    assert_eq!(azurite.lines(AUDIT_CONTAINER).await.len(), 4);
}

async fn a_destination_that_goes_away_loses_nothing(backend: Backend) {
    let Some(mut azurite) = Azurite::start() else { return };
    let Some(app) = serve(backend, &azurite).await else { return };
    put_setting(&app, "survives").await;
    let mut ids = post_events(&app, "up", 2).await;
    assert_eq!(flush(&app).await.0, 200);
    azurite.stop();
    ids.extend(post_events(&app, "down", 3).await);
    let (status, body) = flush(&app).await;
    assert_eq!(status, 502, "a destination that is down: {body}");
    assert_eq!(body["routes"][0]["pending"], 3);
    assert!(body["routes"][0]["lastError"].as_str().unwrap().contains("unreachable"), "{body}");
    // The server keeps serving meanwhile.
    assert_eq!(app.get(EVENTS).await.status(), 200);
    azurite.restart();
    let (status, body) = flush(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(delivered_ids(&azurite.lines(AUDIT_CONTAINER).await), ids);
    assert_eq!(body["routes"][0]["lastError"], Value::Null);
}

async fn a_deleted_setting_stops_delivery(backend: Backend) {
    let Some(azurite) = Azurite::start() else { return };
    let Some(app) = serve(backend, &azurite).await else { return };
    put_setting(&app, "short-lived").await;
    let ids = post_events(&app, "kept", 1).await;
    assert_eq!(flush(&app).await.0, 200);
    let token = arm_token(&app.address, MONITORING).await;
    let (status, _) =
        arm(&app.address, Some(&token), "DELETE", &format!("{SETTINGS}/short-lived?{VERSION}"), None).await;
    assert_eq!(status, 200);
    post_events(&app, "after", 2).await;
    let (status, body) = flush(&app).await;
    assert_eq!((status, body["routes"].clone()), (200, json!([])));
    assert_eq!(delivered_ids(&azurite.lines(AUDIT_CONTAINER).await), ids);
}

per_backend!(
    events_flow_to_storage_exactly_once,
    a_destination_that_goes_away_loses_nothing,
    a_deleted_setting_stops_delivery
);

/// Two instances on one database deliver each event once between them: the
/// route's lease lets one deliver while the other is told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once() {
    let Some(azurite) = Azurite::start() else { return };
    let Some(first) = serve(Backend::Postgres, &azurite).await else { return };
    let flag = azurite.storage_account_flag();
    let second = first
        .another_instance(&["--storage-account", &flag, "--routing-window", "300s", "--throttling", "off"])
        .await;
    put_setting(&first, "shared").await;
    let mut ids = post_events(&first, "one", 150).await;
    ids.extend(post_events(&second, "two", 150).await);
    let (a, b) = tokio::join!(flush(&first), flush(&second));
    for (status, body) in [&a, &b] {
        assert!(
            *status == 200
                || body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("another auditgraph instance"),
            "{status} {body}"
        );
    }
    // Whichever was told to wait, the route ends up delivered, once.
    for _ in 0..40 {
        if flush(&second).await.0 == 200 && flush(&first).await.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let mut delivered = delivered_ids(&azurite.lines(AUDIT_CONTAINER).await);
    assert_eq!(delivered.len(), 300, "each event once");
    delivered.sort();
    ids.sort();
    assert_eq!(delivered, ids);
}
