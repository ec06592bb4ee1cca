//! Every error is Graph-shaped: unknown routes, wrong methods, bad query options.

use serde_json::Value;

use crate::backend_tests;
use crate::helpers::TestApp;

fn assert_envelope(body: &Value, code: &str) -> String {
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    let inner = &error["innerError"];
    assert!(inner["request-id"].is_string());
    assert!(inner["client-request-id"].is_string());
    assert!(
        chrono::NaiveDateTime::parse_from_str(inner["date"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S").is_ok()
    );
    error["message"].as_str().unwrap().to_string()
}

async fn unknown_routes_and_methods(app: TestApp) {
    let (status, body) = app.get_json("/v2.0/deviceManagement/auditEvents").await;
    assert_eq!(status, 404);
    assert_eq!(assert_envelope(&body, "ResourceNotFound"), "Invalid version: v2.0");

    let (status, body) = app.get_json("/v1.0/deviceManagement/auditEvents/abc/extra").await;
    assert_eq!(status, 400);
    assert_eq!(assert_envelope(&body, "BadRequest"), "Resource not found for the segment 'extra'.");

    let (status, body) = app.get_json("/v1.0/users").await;
    assert_eq!(status, 400);
    assert_eq!(assert_envelope(&body, "BadRequest"), "Resource not found for the segment 'users'.");

    let (status, body) = app.get_json("/nothing-here").await;
    assert_eq!(status, 404);
    assert_envelope(&body, "ResourceNotFound");

    let response =
        app.client.put(app.url("/v1.0/deviceManagement/auditEvents")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        assert_envelope(&body, "MethodNotAllowed"),
        "The requested resource does not support http method 'PUT'."
    );

    // The client's correlation id reaches the error body too.
    let response =
        app.client.get(app.url("/v1.0/users")).header("client-request-id", "abc-123").send().await.unwrap();
    let request_id = response.headers()["request-id"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["innerError"]["client-request-id"], "abc-123");
    assert_eq!(body["error"]["innerError"]["request-id"], request_id.as_str());
}

async fn bad_query_options(app: TestApp) {
    let cases = [
        (
            "$filter=createdDateTime ge 2021-01-01T00:00:00Z",
            400,
            "Invalid filter clause: Could not find a property named 'createdDateTime' on type 'microsoft.graph.auditEvent'.",
        ),
        (
            "$filter=activityDateTime ge '2021-01-01T00:00:00Z'",
            400,
            "Invalid filter clause: A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'.",
        ),
        // A raw '+' in an offset arrives as a space, and fails as Graph's does.
        (
            "$filter=activityDateTime ge 2021-01-01T00:00:00+02:00",
            400,
            "Invalid filter clause: The DateTimeOffset text '2021-01-01T00:00:00' should be in format",
        ),
        (
            "$filter=category eq",
            400,
            "Invalid filter clause: Expression expected at position 11 in 'category eq'.",
        ),
        ("$search=device", 400, ""),
        ("$expand=actor", 400, ""),
        ("$top=abc", 400, "Invalid value 'abc' for $top query option found."),
        (
            "$top=1&$top=2",
            400,
            "Query option '$top' was specified more than once, but it must be specified at most once.",
        ),
        ("$select=nope", 400, "Could not find a property named 'nope' on type 'microsoft.graph.auditEvent'."),
        (
            "$orderby=nope desc",
            400,
            "Could not find a property named 'nope' on type 'microsoft.graph.auditEvent'.",
        ),
        ("$skiptoken=forged", 400, "The $skiptoken is not valid for this request"),
        ("$format=xml", 406, ""),
    ];
    for (query, status, message) in cases {
        let (got, body) = app.get_json(&format!("/v1.0/deviceManagement/auditEvents?{query}")).await;
        assert_eq!(got, status, "{query}: {body}");
        let text = assert_envelope(&body, if status == 406 { "NotAcceptable" } else { "BadRequest" });
        assert!(text.starts_with(message), "{query}: '{text}' should start with '{message}'");
    }
    // The %2B spelling of the same offset is fine.
    let (status, _) = app
        .get_json(
            "/v1.0/deviceManagement/auditEvents?$filter=activityDateTime%20ge%202021-01-01T00:00:00%2B02:00",
        )
        .await;
    assert_eq!(status, 200);
}

backend_tests!(unknown_routes_and_methods, bad_query_options);
