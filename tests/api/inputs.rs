//! Inputs from clients and files as they come: create bodies without
//! the members a client may leave out, seeds that must repeat, the Graph
//! singleton and service document, and NDJSON with a bad line.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, days_ago, gql, no_errors, sample_event, sample_without};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

/// A POST without `correlationId` takes the request's client request id (Graph's
/// definition of the correlation id), the client's header or a new GUID.
async fn missing_correlation_id_is_the_client_request_id(app: TestApp) {
    let mut body = sample_without("with-header", &["correlationId"]);
    let sent = "5b0c7f4e-3d2a-4e8b-9c1d-0a1b2c3d4e5f";
    let response =
        app.client.post(app.url(EVENTS)).header("client-request-id", sent).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["correlationId"], sent);

    body["id"] = json!("without-header");
    let response = app.client.post(app.url(EVENTS)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let echoed = response.headers()["client-request-id"].to_str().unwrap().to_string();
    let created: Value = response.json().await.unwrap();
    let correlation = created["correlationId"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(correlation).is_ok(), "a GUID: {correlation}");
    assert_eq!(correlation, echoed, "the generated client request id");

    // The GraphQL mutation: the same default.
    let reply = gql(
        &app,
        "mutation($input: AuditEventInput!) { createAuditEvent(input: $input) { id correlationId } }",
        json!({"input": {"id": "graphql", "displayName": "Create thing."}}),
    )
    .await;
    no_errors(&reply);
    let correlation = reply["data"]["createAuditEvent"]["correlationId"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(correlation).is_ok(), "a GUID: {correlation}");

    // An explicit null is still refused: the property is non-nullable.
    body["id"] = json!("null");
    body["correlationId"] = Value::Null;
    let (status, error) = app.post_json(EVENTS, &body).await;
    assert_eq!(status, 400, "{error}");
}

const BIN: &str = env!("CARGO_BIN_EXE_auditgraph");

/// Runs the real binary on the SQLite store in `dir`; asserts success, returns
/// stdout and stderr.
fn run(dir: &std::path::Path, args: &[&str]) -> (String, String) {
    let output = std::process::Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run auditgraph");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{args:?}: {stderr}");
    (String::from_utf8(output.stdout).expect("UTF-8 output"), stderr)
}

fn auditgraph(dir: &std::path::Path, args: &[&str]) -> String {
    run(dir, args).0
}

/// `seed` with its default range gives the same events run after run (the range
/// ends at the start of the UTC day, not at the sub-second of the run).
#[test]
fn seed_with_the_default_range_is_deterministic() {
    let mut exports = Vec::new();
    for run in 0..2 {
        if run > 0 {
            // Apart by more than a second, as the runs that showed it.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        let dir = tempfile::tempdir().unwrap();
        auditgraph(dir.path(), &["seed", "--count", "50", "--seed", "42"]);
        exports.push(auditgraph(dir.path(), &["export", "--format", "ndjson"]));
    }
    assert_eq!(exports[0].lines().count(), 50);
    assert_eq!(exports[0], exports[1], "same arguments, same events");
}

/// `GET /{version}/deviceManagement` is the singleton and `GET /{version}/` the
/// OData service document, as Graph serves them (generic OData clients and
/// `device_management.get()` call them).
async fn the_singleton_and_the_service_document_are_served(app: TestApp) {
    for version in ["v1.0", "beta"] {
        let (status, body) = app.get_json(&format!("/{version}/deviceManagement")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["@odata.context"], app.url(&format!("/{version}/$metadata#deviceManagement")));
        assert_eq!(body["id"], "00000000-0000-0000-0000-000000000000");

        // The service document needs no token, as $metadata.
        let response = reqwest::get(app.url(&format!("/{version}/"))).await.unwrap();
        assert_eq!(response.status(), 200);
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["@odata.context"], app.url(&format!("/{version}/$metadata")));
        assert_eq!(
            document["value"],
            json!([{"name": "deviceManagement", "kind": "Singleton", "url": "deviceManagement"}])
        );
    }
    // The singleton needs a token, as its audit events do.
    let response = reqwest::get(app.url("/v1.0/deviceManagement")).await.unwrap();
    assert_eq!(response.status(), 401);
}

/// NDJSON: a line that ends inside its object (right after a member name) is
/// reported with its line and byte offset and skipped; the next line is read as
/// the record it is, under `--format ndjson` and `auto` alike.
#[test]
fn a_truncated_ndjson_line_loses_only_itself() {
    let first = sample_event("line-1", &days_ago(2)).to_string();
    let broken = r#"{"id": "broken", "activityDateTime": "#;
    let third = sample_event("line-3", &days_ago(1)).to_string();
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("events.ndjson");
    std::fs::write(&file, format!("{first}\n{broken}\n{third}\n")).unwrap();
    let broken_at = first.len() + 1;
    for format in ["ndjson", "auto"] {
        let dir = tempfile::tempdir().unwrap();
        let (_, report) = run(dir.path(), &["import", file.to_str().unwrap(), "--format", format]);
        assert!(
            report.contains(&format!("rejected record at line 2 (byte {broken_at})")),
            "{format}: {report}"
        );
        assert!(
            report.contains("imported 2 events, skipped 0 already present, rejected 1"),
            "{format}: {report}"
        );
        let exported = auditgraph(dir.path(), &["export", "--format", "ndjson"]);
        let ids: Vec<String> = exported
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["line-1", "line-3"], "{format}");
    }
}

backend_tests!(
    missing_correlation_id_is_the_client_request_id,
    the_singleton_and_the_service_document_are_served,
);
