//! Inputs from clients and files as they come (issue 14): create bodies without
//! the members a client may leave out, seeds that must repeat, the Graph
//! singleton and service document, and NDJSON with a bad line.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, gql, no_errors, sample_without};

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

backend_tests!(missing_correlation_id_is_the_client_request_id);
