//! Live routing beyond the happy path: the record shape against `export
//! --format storage`, each delivery fault, `kill -9` mid-delivery, and the ARM
//! door's errors and permissions.

use std::time::Duration;

use serde_json::{Value, json};

use crate::azurite::{AUDIT_CONTAINER, Azurite};
use crate::helpers::{
    ADMIN, Backend, HELPDESK, KillOnDrop, TestApp, WRITER, client_credentials, days_ago, plain, sample_event,
    spawn_binary, user_token,
};
use crate::per_backend;
use crate::routing::{MONITORING, SETTINGS, STORAGE_ID, VERSION, arm, arm_token, storage_setting};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";
/// Events in flight when the router is killed: several delivery batches.
const EVENTS_KILLED: u64 = 8000;

async fn put(address: &str, name: &str, body: Value) -> (u16, Value) {
    let token = arm_token(address, MONITORING).await;
    arm(address, Some(&token), "PUT", &format!("{SETTINGS}/{name}?{VERSION}"), Some(body)).await
}

async fn post_events(app: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        assert_eq!(app.post_json(EVENTS, &sample_event(&id, &days_ago(0))).await.0, 201);
        ids.push(id);
    }
    ids
}

fn ids(lines: &[Value]) -> Vec<String> {
    lines.iter().map(|l| l["properties"]["AuditEventId"].as_str().unwrap().to_string()).collect()
}

async fn serve(backend: Backend, azurite: &Azurite) -> Option<TestApp> {
    let flag = azurite.storage_account_flag();
    TestApp::spawn(backend, &["--storage-account", &flag, "--routing-window", "300s", "--throttling", "off"])
        .await
}

async fn records_are_the_ones_export_writes(backend: Backend) {
    let Some(azurite) = Azurite::start() else { return };
    let Some(app) = serve(backend, &azurite).await else { return };
    assert_eq!(put(&app.address, "shape", storage_setting(STORAGE_ID)).await.0, 200);
    let written = post_events(&app, "shape", 3).await;
    assert_eq!(arm(&app.address, None, "POST", "/_auditgraph/routing/flush", None).await.0, 200);
    let lines = azurite.lines(AUDIT_CONTAINER).await;
    assert_eq!(ids(&lines), written);
    // `auditgraph export --format storage` writes the same records (one code path).
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_auditgraph"))
        .args(["export", "--format", "storage", "--database-url", &app.database_url, "--output"])
        .arg(out.path())
        .args(["--data-dir"])
        .arg(app.data_dir())
        .status()
        .unwrap();
    assert!(status.success());
    let mut exported = Vec::new();
    for entry in walk(out.path()) {
        for line in std::fs::read_to_string(entry).unwrap().lines() {
            exported.push(serde_json::from_str::<Value>(line).unwrap());
        }
    }
    for line in &lines {
        let id = &line["properties"]["AuditEventId"];
        let twin = exported.iter().find(|e| e["properties"]["AuditEventId"] == *id).expect("exported too");
        assert_eq!(line, twin);
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn each_fault_does_what_it_says(backend: Backend) {
    let Some(azurite) = Azurite::start() else { return };
    let Some(app) = serve(backend, &azurite).await else { return };
    let a = &app.address;
    assert_eq!(put(a, "faulty", storage_setting(STORAGE_ID)).await.0, 200);
    let faults = |rules: Value| {
        arm(a, None, "PUT", "/_auditgraph/routing/faults", Some(json!({"seed": 7, "rules": rules})))
    };
    let flush = || arm(a, None, "POST", "/_auditgraph/routing/flush", None);

    // Drop: acknowledged, never written.
    assert_eq!(faults(json!([{"kind": "drop"}])).await.0, 200);
    post_events(&app, "dropped", 2).await;
    let (status, body) = flush().await;
    assert_eq!(
        (status, body["routes"][0]["dropped"].as_u64(), body["routes"][0]["pending"].as_u64()),
        (200, Some(2), Some(0))
    );
    assert!(azurite.lines(AUDIT_CONTAINER).await.is_empty());

    // Duplicate: the whole batch twice.
    assert_eq!(faults(json!([{"kind": "duplicate"}])).await.0, 200);
    let twice = post_events(&app, "twice", 2).await;
    assert_eq!(flush().await.0, 200);
    let mut expected = twice.clone();
    expected.extend(twice.clone());
    assert_eq!(ids(&azurite.lines(AUDIT_CONTAINER).await), expected);

    // Unavailable for a while: refused, then caught up.
    assert_eq!(faults(json!([{"kind": "unavailable", "seconds": 1.5}])).await.0, 200);
    let late = post_events(&app, "late", 1).await;
    let (status, body) = flush().await;
    assert_eq!(status, 502, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("unavailable"), "{body}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(flush().await.0, 200);
    expected.extend(late);
    assert_eq!(ids(&azurite.lines(AUDIT_CONTAINER).await), expected);

    // Stall: nothing moves until the setting is saved again.
    assert_eq!(faults(json!([{"kind": "stall"}])).await.0, 200);
    let stuck = post_events(&app, "stuck", 1).await;
    let (_, body) = flush().await;
    assert_eq!(
        (body["routes"][0]["stalled"].as_bool(), body["routes"][0]["pending"].as_u64()),
        (Some(true), Some(1))
    );
    assert_eq!(arm(a, None, "DELETE", "/_auditgraph/routing/faults", None).await.0, 204);
    let (_, body) = flush().await;
    assert_eq!(body["routes"][0]["pending"], 1, "still stalled without a save");
    assert_eq!(put(a, "faulty", storage_setting(STORAGE_ID)).await.0, 200);
    let (_, body) = flush().await;
    assert_eq!(
        (body["routes"][0]["stalled"].as_bool(), body["routes"][0]["pending"].as_u64()),
        (Some(false), Some(0))
    );
    expected.extend(stuck);
    assert_eq!(ids(&azurite.lines(AUDIT_CONTAINER).await), expected);

    // Bad rules are refused whole.
    for bad in [
        json!([{"kind": "unavailable"}]),
        json!([{"kind": "drop", "probability": 2}]),
        json!([{"kind": "melt"}]),
    ] {
        assert_eq!(faults(bad.clone()).await.0, 400, "{bad}");
    }
}

async fn kill_9_mid_delivery_loses_nothing(backend: Backend) {
    let Some(azurite) = Azurite::start() else { return };
    let data = tempfile::tempdir().unwrap();
    let Some(database) = backend.fresh_database(data.path()).await else { return };
    let flag = azurite.storage_account_flag();
    let flags = [
        "--storage-account",
        flag.as_str(),
        "--routing-window",
        "300s",
        "--no-demo",
        "--database-url",
        &database,
    ];
    let (child, base) = spawn_binary(data.path(), &flags);
    let mut child = KillOnDrop(child);
    assert_eq!(put(&base, "crash", storage_setting(STORAGE_ID)).await.0, 200);
    // A re-seed goes through the write path: its events wait in the outbox.
    let (status, _) =
        arm(&base, None, "POST", "/_auditgraph/reset", Some(json!({"count": EVENTS_KILLED, "seed": 4})))
            .await;
    assert_eq!(status, 200);
    let flushing = tokio::spawn({
        let base = base.clone();
        // The kill cuts this request off: its answer does not matter.
        async move {
            reqwest::Client::new().post(format!("{base}/_auditgraph/routing/flush")).send().await.is_ok()
        }
    });
    // Killed once the first batch is delivered and more are on their way.
    for _ in 0..1000 {
        let (_, status) = arm(&base, None, "GET", "/_auditgraph/routing", None).await;
        if status["routes"][0]["delivered"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = std::process::Command::new("kill").args(["-9", &child.0.id().to_string()]).status();
    let _ = child.0.wait();
    let _ = flushing.await;
    let before = ids(&azurite.lines(AUDIT_CONTAINER).await).len();
    assert!(
        before < EVENTS_KILLED as usize,
        "the kill came after the whole delivery ({before} records); nothing was tested"
    );
    // Restarted on the same data: everything arrives, duplicates only from the batch in flight.
    let (child, base) = spawn_binary(data.path(), &flags);
    let child = KillOnDrop(child);
    // The killed instance's delivery lease blocks the route until it expires (15 s).
    let mut flushed = (0, Value::Null);
    for _ in 0..40 {
        flushed = arm(&base, None, "POST", "/_auditgraph/routing/flush", None).await;
        if flushed.0 == 200 {
            break;
        }
        assert!(
            flushed.1["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("another auditgraph instance"),
            "{}",
            flushed.1
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(flushed.0, 200, "{}", flushed.1);
    let delivered = ids(&azurite.lines(AUDIT_CONTAINER).await);
    let token = client_credentials(&reqwest::Client::new(), &base, WRITER).await;
    let mut stored = Vec::new();
    let mut next = Some(format!("{base}{EVENTS}?$select=id&$top=1000"));
    while let Some(url) = next {
        let page: Value =
            reqwest::Client::new().get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        stored
            .extend(page["value"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
        next = page["@odata.nextLink"].as_str().map(String::from);
    }
    assert_eq!(stored.len(), EVENTS_KILLED as usize);
    let mut unique = delivered.clone();
    unique.sort();
    unique.dedup();
    stored.sort();
    let missing = stored.iter().filter(|id| unique.binary_search(id).is_err()).count();
    let strangers = unique.iter().filter(|id| stored.binary_search(id).is_err()).count();
    assert_eq!(
        (missing, strangers),
        (0, 0),
        "every stored event delivered, nothing else ({} delivered, {} unique, {} stored, {before} before the kill)",
        delivered.len(),
        unique.len(),
        stored.len()
    );
    assert!(
        delivered.len() - unique.len() <= 2000,
        "duplicates beyond one batch: {}",
        delivered.len() - unique.len()
    );
    drop(child);
}

async fn arm_answers_as_arm(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &[]).await else { return };
    let a = app.address.as_str();
    let token = arm_token(a, MONITORING).await;
    let one = format!("{SETTINGS}/s1?{VERSION}");
    // (token, method, path, body, status, ARM error code)
    type Case<'a> = (Option<String>, &'a str, String, Option<Value>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (None, "GET", format!("{SETTINGS}?{VERSION}"), None, 401, "AuthenticationFailed"),
        (
            Some(client_credentials(&reqwest::Client::new(), a, WRITER).await),
            "GET",
            format!("{SETTINGS}?{VERSION}"),
            None,
            401,
            "InvalidAuthenticationTokenAudience",
        ),
        (
            Some(arm_token(a, WRITER).await),
            "PUT",
            one.clone(),
            Some(storage_setting(STORAGE_ID)),
            403,
            "AuthorizationFailed",
        ),
        (Some(token.clone()), "GET", SETTINGS.to_string(), None, 400, "MissingApiVersionParameter"),
        (
            Some(token.clone()),
            "GET",
            format!("{SETTINGS}?api-version=2021-05-01-preview"),
            None,
            400,
            "InvalidApiVersionParameter",
        ),
        (
            Some(token.clone()),
            "PUT",
            one.clone(),
            Some(
                json!({"properties": {"storageAccountId": STORAGE_ID, "logs": [{"category": "Everything", "enabled": true}]}}),
            ),
            400,
            "BadRequest",
        ),
        (
            Some(token.clone()),
            "PUT",
            one.clone(),
            Some(json!({"properties": {"logs": [{"category": "AuditLogs", "enabled": true}]}})),
            400,
            "BadRequest",
        ),
        (
            Some(token.clone()),
            "PUT",
            one.clone(),
            Some(storage_setting(
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/nosuch",
            )),
            400,
            "ResourceNotFound",
        ),
        (
            Some(token.clone()),
            "PUT",
            one.clone(),
            Some(json!({"properties": "no"})),
            400,
            "InvalidRequestContent",
        ),
        (Some(token.clone()), "GET", format!("{SETTINGS}/missing?{VERSION}"), None, 404, "ResourceNotFound"),
        (
            Some(token.clone()),
            "PUT",
            format!("{SETTINGS}/bad:name?{VERSION}"),
            Some(storage_setting(STORAGE_ID)),
            400,
            "InvalidResourceName",
        ),
        (Some(token.clone()), "PATCH", one.clone(), Some(json!({})), 405, "MethodNotAllowed"),
    ];
    for (token, method, path, body, status, code) in cases {
        let (got, reply) = arm(a, token.as_deref(), method, &path, body).await;
        assert_eq!((got, reply["error"]["code"].as_str()), (status, Some(code)), "{method} {path}: {reply}");
    }
    // Nothing was stored by the refused calls.
    let (_, list) = arm(a, Some(&token), "GET", &format!("{SETTINGS}?{VERSION}"), None).await;
    assert_eq!(list, json!({"value": []}));
    // Duplicate members in the body are refused, as ARM's JSON reader does.
    let response = reqwest::Client::new()
        .put(format!("{a}{one}"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"properties":{"storageAccountId":"x","storageAccountId":"y","logs":[]}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // A sink is not reused for one category; five settings at most.
    let workspace = |n: u32| json!({"properties": {"workspaceId": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w{n}"), "logs": [{"category": "AuditLogs", "enabled": true}]}});
    assert_eq!(put(a, "first", storage_setting(STORAGE_ID)).await.0, 200);
    let (status, reply) = put(a, "second", storage_setting(STORAGE_ID)).await;
    assert_eq!(status, 400, "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("already used"), "{reply}");
    for n in 0..4 {
        assert_eq!(put(a, &format!("w{n}"), workspace(n)).await.0, 200);
    }
    let (status, reply) = put(a, "sixth", workspace(9)).await;
    assert_eq!(status, 400, "{reply}");
    // Saving an existing one is not a sixth.
    assert_eq!(put(a, "w0", workspace(0)).await.0, 200);
    let (_, list) = arm(a, Some(&token), "GET", &format!("{SETTINGS}?{VERSION}"), None).await;
    assert_eq!(list["value"].as_array().unwrap().len(), 5);
    assert_eq!(list["value"][0]["type"], "microsoft.intune/diagnosticSettings");
    // Users: a Global Administrator may, the help desk may not.
    for (upn, status) in [(ADMIN, 200), (HELPDESK, 403)] {
        let token = user_token(&plain(), a, upn, &["https://management.azure.com/user_impersonation"]).await;
        let (got, reply) = arm(a, Some(&token), "GET", &format!("{SETTINGS}?{VERSION}"), None).await;
        assert_eq!(got, status, "{upn}: {reply}");
    }
    // Delete: 200, then 204 for what is gone.
    assert_eq!(arm(a, Some(&token), "DELETE", &format!("{SETTINGS}/w0?{VERSION}"), None).await.0, 200);
    assert_eq!(arm(a, Some(&token), "DELETE", &format!("{SETTINGS}/w0?{VERSION}"), None).await.0, 204);
}

per_backend!(
    records_are_the_ones_export_writes,
    each_fault_does_what_it_says,
    kill_9_mid_delivery_loses_nothing,
    arm_answers_as_arm
);
