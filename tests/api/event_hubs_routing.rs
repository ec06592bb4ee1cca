//! Live routing to an event hub, on every backend: a diagnostic setting
//! through ARM names the hub, events written through Graph and the
//! workloads arrive as `{"records":[…]}` messages (the shape of
//! `export --format event-hub`), split at 256 KB, read with fe2o3-amqp's
//! client; another instance on the same database (a restart) reads the same
//! events at the same positions; retention removes old events but keeps the
//! partitions' numbering; the router's faults apply; ARM's errors.

use std::collections::HashMap;
use std::time::Duration;

use auditgraph::domain::graph::parse_event;
use fe2o3_amqp::types::messaging::Body;
use fe2o3_amqp::types::primitives::Value as Amqp;
use serde_json::{Value, json};

use crate::event_hubs::{Client, KEY, annotation, body_text, take};
use crate::helpers::{Backend, TestApp, days_ago, sample_event};
use crate::per_backend;
use crate::routing::{MONITORING, SETTINGS, VERSION, arm, arm_token};

const RULE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/auditgraph/authorizationRules/RootManageSharedAccessKey";
const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

async fn serve(backend: Backend, extra: &[&str]) -> Option<TestApp> {
    let mut flags = vec!["--eventhubs", "127.0.0.1:0", "--routing-window", "300s", "--throttling", "off"];
    flags.extend_from_slice(extra);
    TestApp::spawn(backend, &flags).await
}

async fn put_setting(app: &TestApp, name: &str, hub: Option<&str>) -> (u16, Value) {
    let token = arm_token(&app.address, MONITORING).await;
    let mut properties =
        json!({"eventHubAuthorizationRuleId": RULE_ID, "logs": [{"category": "AuditLogs", "enabled": true}]});
    if let Some(hub) = hub {
        properties["eventHubName"] = json!(hub);
    }
    arm(
        &app.address,
        Some(&token),
        "PUT",
        &format!("{SETTINGS}/{name}?{VERSION}"),
        Some(json!({"properties": properties})),
    )
    .await
}

async fn flush(app: &TestApp) {
    let response = reqwest::Client::new().post(app.url("/_auditgraph/routing/flush")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Every message on every partition of a hub, from the start: (partition, sequence number, body).
async fn read_hub(app: &TestApp, hub: &str, expected_messages: usize) -> Vec<(usize, i64, String)> {
    let mut client = Client::connect(app.eventhubs.unwrap(), KEY).await.unwrap();
    let mut messages = Vec::new();
    let mut receivers = Vec::new();
    for p in 0..4 {
        receivers.push(
            client.receiver(&format!("{hub}/ConsumerGroups/$Default/Partitions/{p}"), None, None).await,
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while messages.len() < expected_messages && tokio::time::Instant::now() < deadline {
        for (p, receiver) in receivers.iter_mut().enumerate() {
            if let Ok(Ok(delivery)) =
                tokio::time::timeout(Duration::from_millis(100), receiver.recv::<Body<Amqp>>()).await
            {
                let seq = match annotation(&delivery, "x-opt-sequence-number") {
                    Amqp::Long(n) => n,
                    other => panic!("sequence number {other:?}"),
                };
                messages.push((p, seq, body_text(&delivery)));
            }
        }
    }
    client.close().await;
    assert_eq!(messages.len(), expected_messages, "messages on {hub}");
    messages
}

fn record_ids(messages: &[(usize, i64, String)]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|(_, _, body)| {
            let message: Value = serde_json::from_str(body).expect("a message is JSON");
            message["records"].as_array().expect("{\"records\":[…]}").clone()
        })
        .map(|r| r["properties"]["AuditEventId"].as_str().unwrap().to_string())
        .collect()
}

/// The records of `auditgraph export --format event-hub` on the test's database.
fn exported_records(app: &TestApp) -> Vec<Value> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_auditgraph"))
        .args(["export", "--format", "event-hub", "--database-url", &app.database_url, "--data-dir"])
        .arg(app.data_dir())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .flat_map(|line| serde_json::from_str::<Value>(line).unwrap()["records"].as_array().unwrap().clone())
        .collect()
}

async fn post_events(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("eh-{i}-{}", uuid::Uuid::new_v4());
        let (status, body) = app.post_json(EVENTS, &sample_event(&id, &days_ago(0))).await;
        assert_eq!(status, 201, "{body}");
        ids.push(id);
    }
    ids
}

async fn records_reach_the_hub_and_outlive_a_restart(backend: Backend) {
    let Some(app) = serve(backend, &[]).await else { return };
    let (status, body) = put_setting(&app, "to-siem", Some("intune-audit")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["properties"]["eventHubName"], "intune-audit");
    let mut ids = post_events(&app, 3).await;
    ids.push(crate::routing::create_compliance_policy(&app).await);
    flush(&app).await;
    // One window, one message holding all four records.
    let messages = read_hub(&app, "intune-audit", 1).await;
    assert_eq!(record_ids(&messages), ids);
    let message: Value = serde_json::from_str(&messages[0].2).unwrap();
    for (record, id) in message["records"].as_array().unwrap().iter().zip(&ids) {
        let (_, event) = app.get_json(&format!("{EVENTS}/{id}")).await;
        assert_eq!(record["category"], "AuditLogs");
        assert_eq!(record["correlationId"], event["correlationId"]);
        assert_eq!(record["properties"]["ActivityTypeName"], event["activityType"]);
    }
    // Each record is the one `export --format event-hub` writes (one code path).
    let exported = exported_records(&app);
    for record in message["records"].as_array().unwrap() {
        let id = &record["properties"]["AuditEventId"];
        let twin = exported.iter().find(|e| e["properties"]["AuditEventId"] == *id).expect("exported too");
        assert_eq!(record, twin);
    }
    // Another instance on the same database (as after a restart) reads the same event at the same place.
    let restarted = app.another_instance(&["--eventhubs", "127.0.0.1:0"]).await;
    assert_eq!(read_hub(&restarted, "intune-audit", 1).await, messages);
    // Names compare case-insensitively, as Azure's do.
    assert_eq!(read_hub(&restarted, "Intune-Audit", 1).await, messages);
}

async fn a_busy_window_is_split_at_256_kb_and_faults_apply(backend: Backend) {
    let Some(app) = serve(backend, &[]).await else { return };
    let (status, body) = put_setting(&app, "default-hub", None).await;
    assert_eq!(status, 200, "{body}");
    // Wide events: a long display name in each.
    let events: Vec<_> = (0..400)
        .map(|i| {
            let mut event = sample_event(&format!("big-{i:03}"), &days_ago(0));
            event["displayName"] = json!(format!("{i} {}", "x".repeat(390)));
            parse_event(&event, || unreachable!(), || unreachable!()).unwrap()
        })
        .collect();
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    app.insert(events).await;
    flush(&app).await;
    // No name: Azure Monitor's hub per category.
    let (_, routing) = app.get_json("/_auditgraph/routing").await;
    let published: i64 = routing["eventHubs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "insights-logs-auditlogs")
        .expect("the category's hub")["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["lastSequenceNumber"].as_i64().unwrap() + 1)
        .sum();
    assert!(published > 1, "400 wide events make more than one message: {routing}");
    let messages = read_hub(&app, "insights-logs-auditlogs", published as usize).await;
    assert!(messages.iter().all(|(_, _, body)| body.len() <= 256 * 1024), "every message within 256 KB");
    let mut got = record_ids(&messages);
    got.sort();
    assert_eq!(got, ids, "each record exactly once");
    // A duplicate fault sends a window's messages twice; consumers see both copies.
    let faults = json!({"seed": 3, "rules": [{"kind": "duplicate"}]});
    assert_eq!(arm(&app.address, None, "PUT", "/_auditgraph/routing/faults", Some(faults)).await.0, 200);
    let again = post_events(&app, 2).await;
    flush(&app).await;
    let all = read_hub(&app, "insights-logs-auditlogs", published as usize + 2).await;
    let copies = record_ids(&all).into_iter().fold(HashMap::<String, usize>::new(), |mut m, id| {
        *m.entry(id).or_default() += 1;
        m
    });
    assert!(again.iter().all(|id| copies[id] == 2), "{copies:?}");
}

async fn retention_drops_old_events_but_keeps_the_numbering(backend: Backend) {
    let Some(app) = serve(backend, &["--eventhubs-retention", "1h", "--eventhub", "kept"]).await else {
        return;
    };
    let mut client = Client::connect(app.eventhubs.unwrap(), KEY).await.unwrap();
    let mut sender = client.sender("kept/Partitions/0").await;
    for i in 0..3 {
        sender.send(format!("old {i}")).await.unwrap();
    }
    // Two hours later the three are past retention.
    let advanced = reqwest::Client::new()
        .post(app.url("/_auditgraph/clock"))
        .json(&json!({"advanceSeconds": 7200}))
        .send()
        .await
        .unwrap();
    assert_eq!(advanced.status(), 200);
    flush(&app).await;
    sender.send("new").await.unwrap();
    let mut reader = client.receiver("kept/ConsumerGroups/$Default/Partitions/0", None, None).await;
    let first = take(&mut reader, 1).await;
    assert_eq!(body_text(&first[0]), "new");
    assert_eq!(
        annotation(&first[0], "x-opt-sequence-number"),
        Amqp::Long(3),
        "numbering continues after the expired events"
    );
    let (_, routing) = app.get_json("/_auditgraph/routing").await;
    let partition = &routing["eventHubs"][0]["partitions"][0];
    assert_eq!(partition["beginSequenceNumber"], 3, "{routing}");
    assert_eq!(partition["lastSequenceNumber"], 3);
    client.close().await;
}

async fn arm_refuses_event_hub_destinations_it_cannot_use(backend: Backend) {
    let Some(app) = serve(backend, &[]).await else { return };
    let token = arm_token(&app.address, MONITORING).await;
    let put = |properties: Value| {
        let token = token.clone();
        let address = app.address.clone();
        async move {
            arm(
                &address,
                Some(&token),
                "PUT",
                &format!("{SETTINGS}/bad?{VERSION}"),
                Some(json!({"properties": properties})),
            )
            .await
        }
    };
    let logs = json!([{"category": "AuditLogs", "enabled": true}]);
    let cases = [
        (
            json!({"eventHubAuthorizationRuleId": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a", "logs": logs}),
            "authorization rule id",
        ),
        (
            json!({"eventHubAuthorizationRuleId": RULE_ID, "eventHubName": "-bad name", "logs": logs}),
            "not a valid event hub name",
        ),
        (
            json!({"eventHubName": "orphan", "workspaceId": "w", "logs": logs}),
            "needs 'properties.eventHubAuthorizationRuleId'",
        ),
    ];
    for (properties, expected) in cases {
        let (status, body) = put(properties.clone()).await;
        assert_eq!(status, 400, "{properties}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(expected), "{body}");
    }
    let (_, routing) = app.get_json("/_auditgraph/routing").await;
    assert_eq!(routing["eventHubs"], json!([]), "a refused setting creates no hub");
    assert_eq!(routing["routes"], json!([]));
    // A sink is the rule and the hub: two settings may send a category to two hubs of one namespace, not to one.
    assert_eq!(put_setting(&app, "first", Some("hub-a")).await.0, 200);
    assert_eq!(put_setting(&app, "second", Some("hub-b")).await.0, 200);
    let (status, body) = put_setting(&app, "third", Some("HUB-A")).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("already used in diagnostic setting 'first'"),
        "{body}"
    );
}

per_backend!(
    records_reach_the_hub_and_outlive_a_restart,
    a_busy_window_is_split_at_256_kb_and_faults_apply,
    retention_drops_old_events_but_keeps_the_numbering,
    arm_refuses_event_hub_destinations_it_cannot_use,
);
