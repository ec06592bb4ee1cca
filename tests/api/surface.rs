//! Envelopes, headers, shapes per version, functions and `$metadata`.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, days_ago, sample_event};

async fn list_has_graph_envelope_and_headers(app: TestApp) {
    let at = days_ago(3);
    let (status, _) = app.post_json("/v1.0/deviceManagement/auditEvents", &sample_event("e-1", &at)).await;
    assert_eq!(status, 201);

    let response = app
        .client
        .get(app.url("/v1.0/deviceManagement/auditEvents"))
        .header("client-request-id", "my-correlation-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(
        headers["content-type"],
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
    );
    assert_eq!(headers["odata-version"], "4.0");
    assert_eq!(headers["client-request-id"], "my-correlation-42");
    assert!(uuid::Uuid::parse_str(headers["request-id"].to_str().unwrap()).is_ok());
    assert!(headers.contains_key("date"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["@odata.context"],
        format!("{}/v1.0/$metadata#deviceManagement/auditEvents", app.address)
    );
    assert!(body.get("@odata.nextLink").is_none());
    assert!(body.get("@odata.count").is_none());
    let expected = sample_event("e-1", &at);
    assert_eq!(body["value"], json!([expected]), "v1.0 shape with explicit nulls");

    // Without a client-request-id, the request id is echoed in both headers.
    let response = app.get("/v1.0/deviceManagement/auditEvents").await;
    assert_eq!(response.headers()["client-request-id"], response.headers()["request-id"]);
}

async fn beta_adds_type_and_beta_only_actor_fields(app: TestApp) {
    let mut event = sample_event("e-beta", &days_ago(1));
    event["actor"]["remoteTenantId"] = json!("t-remote");
    event["actor"]["userRoleScopeTags"] = json!([{"displayName": "Default", "roleScopeTagId": "0"}]);
    let (status, created) = app.post_json("/beta/deviceManagement/auditEvents", &event).await;
    assert_eq!(status, 201, "{created}");

    let (_, v1) = app.get_json("/v1.0/deviceManagement/auditEvents/e-beta").await;
    assert_eq!(
        v1["@odata.context"],
        format!("{}/v1.0/$metadata#deviceManagement/auditEvents/$entity", app.address)
    );
    assert!(v1["actor"].get("type").is_none());
    assert!(v1["actor"].get("remoteTenantId").is_none());
    assert!(v1["resources"][0].get("type").is_none());
    assert_eq!(v1["actor"]["auditActorType"], "ItPro");

    let (_, beta) = app.get_json("/beta/deviceManagement/auditEvents/e-beta").await;
    assert_eq!(beta["actor"]["type"], "ItPro");
    assert_eq!(beta["actor"]["auditActorType"], "ItPro");
    assert_eq!(beta["actor"]["remoteTenantId"], "t-remote");
    assert_eq!(beta["actor"]["remoteUserId"], Value::Null);
    assert_eq!(
        beta["actor"]["userRoleScopeTags"],
        json!([{"displayName": "Default", "roleScopeTagId": "0"}])
    );
    assert_eq!(beta["resources"][0]["type"], "WinGetApp");
    assert_eq!(beta["resources"][0]["auditResourceType"], "WinGetApp");
}

async fn datetimes_round_trip_with_100ns_precision(app: TestApp) {
    let base = chrono::Utc::now() - chrono::Duration::days(2);
    let day = base.format("%Y-%m-%d").to_string();
    for (id, sent, served) in [
        ("t1", format!("{day}T22:17:09.7552025Z"), format!("{day}T22:17:09.7552025Z")),
        ("t2", format!("{day}T22:17:09Z"), format!("{day}T22:17:09.0000000Z")),
        ("t3", format!("{day}T22:17:09.123456789Z"), format!("{day}T22:17:09.1234567Z")),
        ("t4", format!("{day}T23:00:00.5+02:00"), format!("{day}T21:00:00.5000000Z")),
    ] {
        let (status, created) =
            app.post_json("/v1.0/deviceManagement/auditEvents", &sample_event(id, &sent)).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["activityDateTime"], served.as_str());
        let (_, fetched) = app.get_json(&format!("/v1.0/deviceManagement/auditEvents/{id}")).await;
        assert_eq!(fetched["activityDateTime"], served.as_str(), "{:?}", app.backend);
    }
    // Exact equality through $filter: the stored value is the served value.
    let (_, body) = app
        .get_json(&format!(
            "/v1.0/deviceManagement/auditEvents?$filter=activityDateTime eq {day}T22:17:09.7552025Z"
        ))
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert_eq!(body["value"][0]["id"], "t1");
}

async fn functions_answer_in_every_spelling(app: TestApp) {
    for path in ["getAuditCategories", "getAuditCategories()", "microsoft.graph.getAuditCategories()"] {
        let (status, body) = app.get_json(&format!("/v1.0/deviceManagement/auditEvents/{path}")).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["@odata.context"], format!("{}/v1.0/$metadata#Collection(Edm.String)", app.address));
        let categories = body["value"].as_array().unwrap();
        assert_eq!(categories.len(), 21);
        assert_eq!(categories[0], "Other");
        assert_eq!(categories[20], "DeviceInventory");
    }
    // A category of our own: only the stored activity types answer.
    for (id, activity_type) in [("f1", "Delete Widget"), ("f2", "Create Widget"), ("f3", "Create Widget")] {
        let mut e = sample_event(id, &days_ago(1));
        e["category"] = json!("Widgets");
        e["activityType"] = json!(activity_type);
        app.post_json("/v1.0/deviceManagement/auditEvents", &e).await;
    }
    for path in [
        "getAuditActivityTypes(category='Widgets')",
        "microsoft.graph.getAuditActivityTypes(category='widgets')",
        "getAuditActivityTypes(category=%27Widgets%27)",
    ] {
        let (status, body) = app.get_json(&format!("/beta/deviceManagement/auditEvents/{path}")).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["value"], json!(["Create Widget", "Delete Widget"]), "{path}");
    }
    // A known category: Intune's catalogue and the stored types together.
    let mut stored = sample_event("f4", &days_ago(1));
    stored["activityType"] = json!("Frobnicate MobileApp");
    app.post_json("/v1.0/deviceManagement/auditEvents", &stored).await;
    let (_, body) = app
        .get_json("/v1.0/deviceManagement/auditEvents/getAuditActivityTypes(category='Application')")
        .await;
    let types: Vec<&str> = body["value"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(types.contains(&"Frobnicate MobileApp"), "{types:?}");
    assert!(types.contains(&"Delete MobileApp"), "{types:?}");
    let mut sorted = types.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(types, sorted);
    let (_, body) = app
        .get_json("/v1.0/deviceManagement/auditEvents/getAuditActivityTypes(category='NoSuchCategory')")
        .await;
    assert_eq!(body["value"], json!([]));
}

async fn count_segment_is_plain_text_and_honours_filter(app: TestApp) {
    for (i, category) in ["Device", "Device", "Role"].iter().enumerate() {
        let mut e = sample_event(&format!("c{i}"), &days_ago(1));
        e["category"] = json!(category);
        app.post_json("/v1.0/deviceManagement/auditEvents", &e).await;
    }
    let response = app.get("/v1.0/deviceManagement/auditEvents/$count").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(response.text().await.unwrap(), "3");
    let response = app.get("/v1.0/deviceManagement/auditEvents/$count?$filter=category eq 'device'").await;
    assert_eq!(response.text().await.unwrap(), "2");
}

async fn metadata_declares_every_served_property(app: TestApp) {
    app.post_json("/beta/deviceManagement/auditEvents", &sample_event("m1", &days_ago(1))).await;
    for version in ["v1.0", "beta"] {
        let response = app.get(&format!("/{version}/$metadata")).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/xml"));
        let csdl = response.text().await.unwrap();
        let on_disk =
            std::fs::read_to_string(format!("{}/schema/metadata-{version}.xml", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        assert_eq!(csdl, on_disk);
        let (_, event) = app.get_json(&format!("/{version}/deviceManagement/auditEvents/m1")).await;
        let mut names: Vec<String> = Vec::new();
        collect_keys(&event, &mut names);
        for name in names.iter().filter(|n| !n.starts_with('@')) {
            assert!(
                csdl.contains(&format!("Name=\"{name}\"")),
                "{version} serves '{name}' but $metadata lacks it"
            );
        }
    }
}

fn collect_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect_keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, out)),
        _ => {}
    }
}

async fn health_answers_once_the_database_does(app: TestApp) {
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

backend_tests!(
    list_has_graph_envelope_and_headers,
    beta_adds_type_and_beta_only_actor_fields,
    datetimes_round_trip_with_100ns_precision,
    functions_answer_in_every_spelling,
    count_segment_is_plain_text_and_honours_filter,
    metadata_declares_every_served_property,
    health_answers_once_the_database_does,
);

/// kiota-python's base URL ends in `/`, so the Python SDK requests
/// `/v1.0//deviceManagement/auditEvents`: Graph ignores the empty segment.
#[tokio::test]
async fn empty_path_segments_are_ignored() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite, &[]).await.expect("SQLite");
    let (status, body) = app.get_json("/v1.0//deviceManagement/auditEvents?$top=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get("/beta//deviceManagement//auditEvents/$count").await.text().await.unwrap(), "0");
}
