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

    // Versions compare case-insensitively and percent-decoded, as Graph's do.
    for spelling in ["/V1.0", "/Beta", "/%62eta"] {
        let (status, body) = app.get_json(&format!("{spelling}/deviceManagement/auditEvents?$top=1")).await;
        assert_eq!(status, 200, "{spelling}: {body}");
    }

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

/// Sends raw bytes (what no HTTP client library would send) and reads the answer
/// until the server closes; a reset after the answer (the server stops reading
/// an oversized head) ends the read, not the test.
async fn raw_exchange(app: &TestApp, request: Vec<u8>) -> (u16, Vec<(String, String)>, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(crate::helpers::loopback(&app.address)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sending = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let read = async {
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), read).await.expect("the server answers");
    drop(sending.await);
    let text = String::from_utf8(answer).expect("a UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("a whole answer: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("a JSON body: {text:?}"));
    (status, headers, body)
}

/// What the HTTP layer refuses before any handler runs is in Graph's envelope
/// too (issue 14, item 17): an over-long URI, an oversized head, bytes a URL may
/// not hold, a head that never completes.
#[tokio::test]
async fn requests_the_http_layer_refuses_are_graph_shaped() {
    let app = crate::helpers::sqlite(&[]).await;
    let long_uri = format!(
        "GET /v1.0/deviceManagement/auditEvents?$filter=id%20eq%20%27{}%27 HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    let big_token = format!(
        "GET /v1.0/deviceManagement/auditEvents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        "t".repeat(1 << 20)
    );
    let many_headers: String = (0..100).map(|i| format!("x-h{i}: {i}\r\n")).collect();
    let many_headers = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n");
    let control = b"GET /v1.0/deviceManagement/auditEvents?$top=1\x01 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let non_ascii = "GET /v1.0/deviceManagement/auditEvents?$search=\"é\" HTTP/1.1\r\nHost: x\r\n\r\n"
        .as_bytes()
        .to_vec();
    let cases: [(&str, Vec<u8>, u16, &str, &str); 5] = [
        ("a 70 KB URI", long_uri.into_bytes(), 400, "BadRequest", "65,534 bytes"),
        ("a 1 MB token", big_token.into_bytes(), 431, "RequestHeaderFieldsTooLarge", "131,072 bytes"),
        ("100 headers", many_headers.into_bytes(), 431, "RequestHeaderFieldsTooLarge", "96 headers"),
        ("a control byte in the URL", control, 400, "BadRequest", ""),
        ("raw non-ASCII in the URL", non_ascii, 400, "BadRequest", ""),
    ];
    for (case, request, status, code, mentions) in cases {
        let (got, headers, body) = raw_exchange(&app, request).await;
        assert_eq!(got, status, "{case}: {body}");
        let message = assert_envelope(&body, code);
        assert!(message.contains(mentions), "{case}: {message}");
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert!(header("content-type").is_some_and(|v| v.starts_with("application/json")), "{case}");
        assert_eq!(header("request-id"), body["error"]["innerError"]["request-id"].as_str(), "{case}");
    }

    // A head that never completes: 408 once the client request timeout (5 s) passes.
    let (status, _, body) = raw_exchange(&app, b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec()).await;
    assert_eq!(status, 408);
    assert_envelope(&body, "RequestTimeout");

    // The server goes on serving.
    assert_eq!(app.get("/healthz").await.status(), 200);
}
