//! The emulator controls through the real server: reset, clock, journal, the
//! admin gate, throttling (both 429 forms, every Retry-After mode, early-retry
//! enforcement), each fault kind, and determinism under a seed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{NOACCESS, READER, TestApp, WRITER, client_credentials, sqlite};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";
const T0: &str = "2026-06-01T12:00:00Z";

/// Calls the admin API as a loopback client without any token.
async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = reqwest::Client::new().request(method, app.url(path));
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.expect("admin request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") })
}

async fn freeze(app: &TestApp, at: &str) {
    let (status, body) = admin(app, "POST", "/_auditgraph/clock", Some(json!({ "freezeAt": at }))).await;
    assert_eq!(status, 200, "{body}");
}

async fn advance(app: &TestApp, seconds: f64) {
    let (status, body) =
        admin(app, "POST", "/_auditgraph/clock", Some(json!({ "advanceSeconds": seconds }))).await;
    assert_eq!(status, 200, "{body}");
}

async fn throttling(app: &TestApp, patch: Value) {
    let (status, body) = admin(app, "PATCH", "/_auditgraph/throttling", Some(patch)).await;
    assert_eq!(status, 200, "{body}");
}

async fn faults(app: &TestApp, set: Value) {
    let (status, body) = admin(app, "PUT", "/_auditgraph/faults", Some(set)).await;
    assert_eq!(status, 200, "{body}");
}

async fn journal(app: &TestApp) -> Vec<Value> {
    let (status, body) = admin(app, "GET", "/_auditgraph/requests", None).await;
    assert_eq!(status, 200);
    body["value"].as_array().expect("value").clone()
}

/// An app's client: every request carries its Graph token.
async fn app_client(app: &TestApp, credentials: (&str, &str)) -> reqwest::Client {
    let token = client_credentials(&reqwest::Client::new(), &app.address, credentials).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header"));
    reqwest::Client::builder().default_headers(headers).build().expect("client")
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.expect("request")
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().expect("ASCII header").to_string())
}

async fn ids(app: &TestApp) -> Vec<String> {
    let pages = app.all_pages(&format!("{EVENTS}?$select=id&$orderby=id")).await;
    pages
        .iter()
        .flat_map(|p| p["value"].as_array().expect("value").iter())
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect()
}

// ---------------------------------------------------------------- reset

async fn reset_empties_or_reseeds_deterministically(app: TestApp) {
    freeze(&app, T0).await;
    let (status, body) =
        admin(&app, "POST", "/_auditgraph/reset", Some(json!({ "count": 40, "seed": 9 }))).await;
    assert_eq!((status, body), (200, json!({ "removed": 0, "seeded": 40 })));
    let first = ids(&app).await;
    assert_eq!(first.len(), 40);
    let newest = app.get_json(&format!("{EVENTS}?$top=1")).await.1;
    assert!(newest["value"][0]["activityDateTime"].as_str().unwrap() <= "2026-06-01T12:00:00.0000000Z");

    // A created event goes, and the same seed brings back the same events.
    let (status, _) = app
        .post_json(
            EVENTS,
            &json!({ "category": "Device", "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52" }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) =
        admin(&app, "POST", "/_auditgraph/reset", Some(json!({ "count": 40, "seed": 9 }))).await;
    assert_eq!((status, body), (200, json!({ "removed": 41, "seeded": 40 })));
    assert_eq!(ids(&app).await, first);

    // Another seed, other events; an empty body empties the store.
    admin(&app, "POST", "/_auditgraph/reset", Some(json!({ "count": 40, "seed": 10 }))).await;
    assert_ne!(ids(&app).await, first);
    let (status, body) = admin(&app, "POST", "/_auditgraph/reset", None).await;
    assert_eq!((status, body), (200, json!({ "removed": 40, "seeded": 0 })));
    assert_eq!(app.count().await, 0);

    let (status, body) = admin(&app, "POST", "/_auditgraph/reset", Some(json!({ "cuont": 3 }))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "BadRequest");
}

crate::backend_tests!(reset_empties_or_reseeds_deterministically);

/// Every event of the default range is served, at any hour: the range's first
/// day lies inside the retention window even late in the day (it once began
/// 365 days before today's start, a day the window had already left).
#[tokio::test]
async fn the_default_range_stays_inside_the_retention_all_day() {
    let app = sqlite(&[]).await;
    // A Tuesday, a minute before midnight: a year before it is a working day.
    freeze(&app, "2026-06-02T23:59:00Z").await;
    let (status, body) =
        admin(&app, "POST", "/_auditgraph/reset", Some(json!({ "count": 3000, "seed": 3 }))).await;
    assert_eq!((status, body), (200, json!({ "removed": 0, "seeded": 3000 })));
    assert_eq!(ids(&app).await.len(), 3000);
}

#[tokio::test]
async fn reset_clears_the_journal_and_restores_start_up_settings() {
    let app = sqlite(&["--throttle-scale", "0.5"]).await;
    app.get(EVENTS).await;
    throttling(&app, json!({ "enabled": false, "format": "graph" })).await;
    faults(&app, json!({ "rules": [{ "fault": "drop" }] })).await;
    assert!(!journal(&app).await.is_empty());

    admin(&app, "POST", "/_auditgraph/reset", None).await;
    assert!(journal(&app).await.is_empty());
    let (_, settings) = admin(&app, "GET", "/_auditgraph/throttling", None).await;
    assert_eq!(settings["enabled"], true);
    assert_eq!(settings["format"], "intune");
    assert_eq!(
        settings["effectiveLimits"],
        json!({ "tenantAny": 1000, "appAny": 500, "tenantWrite": 100, "appWrite": 50 })
    );
    let (_, rules) = admin(&app, "GET", "/_auditgraph/faults", None).await;
    assert_eq!(rules["rules"], json!([]));
    assert_eq!(app.get(EVENTS).await.status(), 200);
}

// ---------------------------------------------------------------- clock

#[tokio::test]
async fn the_clock_drives_defaults_and_retention() {
    let app = sqlite(&[]).await;
    let (status, body) = admin(&app, "GET", "/_auditgraph/clock", None).await;
    assert_eq!((status, &body["mode"]), (200, &json!("system")));

    freeze(&app, T0).await;
    let (_, created) = app
        .post_json(
            EVENTS,
            &json!({ "category": "Device", "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52" }),
        )
        .await;
    assert_eq!(created["activityDateTime"], "2026-06-01T12:00:00.0000000Z");
    let (_, health) = admin(&app, "GET", "/_auditgraph/health", None).await;
    assert_eq!(health["now"], "2026-06-01T12:00:00.000000Z");

    // 364 days on, the event is still served; 366 days on, retention hides it.
    advance(&app, 364.0 * 86400.0).await;
    assert_eq!(app.count().await, 1);
    let (status, body) =
        admin(&app, "POST", "/_auditgraph/clock", Some(json!({ "advanceSeconds": 2.0 * 86400.0 }))).await;
    assert_eq!(
        (status, &body["mode"], &body["now"]),
        (200, &json!("frozen"), &json!("2027-06-02T12:00:00.000000Z"))
    );
    assert_eq!(app.count().await, 0);

    // An offset runs from real time.
    let (_, body) = admin(&app, "POST", "/_auditgraph/clock", Some(json!({ "offsetSeconds": -86400 }))).await;
    assert_eq!((&body["mode"], &body["offsetSeconds"]), (&json!("offset"), &json!(-86400.0)));
    let now: chrono::DateTime<chrono::Utc> = body["now"].as_str().unwrap().parse().unwrap();
    let behind = chrono::Utc::now() - now;
    assert!(behind > chrono::Duration::hours(23) && behind < chrono::Duration::hours(25), "{behind}");

    let (_, body) = admin(&app, "POST", "/_auditgraph/clock", Some(json!({ "reset": true }))).await;
    assert_eq!(body["mode"], "system");
    assert_eq!(app.count().await, 1);

    for bad in [json!({}), json!({ "freeze": true, "reset": true }), json!({ "freezeAt": "yesterday" })] {
        let (status, body) = admin(&app, "POST", "/_auditgraph/clock", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
}

// ---------------------------------------------------------------- journal

#[tokio::test]
async fn the_journal_records_what_clients_sent() {
    let app = sqlite(&["--journal-size", "3"]).await;
    admin(&app, "DELETE", "/_auditgraph/requests", None).await; // the harness's token request
    let response = app
        .client
        .get(app.url(&format!("{EVENTS}?$top=5&$filter=category%20eq%20%27Device%27")))
        .header("client-request-id", "11111111-2222-3333-4444-555555555555")
        .header("Retry-Attempt", "2")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let request_id = header(&response, "request-id").expect("request-id");
    admin(&app, "GET", "/_auditgraph/health", None).await;

    let entries = journal(&app).await;
    // The admin API's own calls are not journaled.
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["path"], EVENTS);
    assert_eq!(entry["query"], "$top=5&$filter=category%20eq%20%27Device%27");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["clientRequestId"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(entry["retryAttempt"], "2");
    assert_eq!(entry["requestId"], request_id.as_str());
    assert_eq!(entry["injected"], json!([]));
    assert!(entry["time"].as_str().unwrap().ends_with('Z'));

    // A ring buffer: the newest three remain, numbered in order.
    for _ in 0..4 {
        app.get(&format!("{EVENTS}/nope")).await;
    }
    let entries = journal(&app).await;
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert!(entries.iter().all(|e| e["status"] == 404 && e["clientRequestId"].is_null()));

    let (status, _) = admin(&app, "DELETE", "/_auditgraph/requests", None).await;
    assert_eq!(status, 204);
    assert!(journal(&app).await.is_empty());
}

// ---------------------------------------------------------------- admin gate

/// An address of this machine that is not loopback (the one a default route uses).
fn non_loopback_ip() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
    // No packet is sent: connecting a UDP socket only picks the local address.
    socket.connect("192.0.2.1:9").expect("a route to a non-loopback network");
    let ip = socket.local_addr().expect("local address").ip();
    assert!(!ip.is_loopback() && !ip.is_unspecified(), "no non-loopback address: {ip}");
    ip
}

fn remote_url(app: &TestApp, path: &str) -> String {
    let port = app.address.rsplit(':').next().expect("port");
    format!("http://{}:{port}{path}", non_loopback_ip())
}

#[tokio::test]
async fn the_admin_api_answers_loopback_only_by_default() {
    let app = sqlite(&["--http", "0.0.0.0:0"]).await;
    let plain = reqwest::Client::new();
    assert_eq!(get(&plain, &app.url("/_auditgraph/health")).await.status(), 200);

    let reader = app_client(&app, READER).await;
    for (client, path) in [
        (&plain, "/_auditgraph/health"),
        (&reader, "/_auditgraph/health"),  // a Graph token does not open it
        (&plain, "/%5Fauditgraph/health"), // nor an encoded path
        (&plain, "/_auditgraph/identity/devicecodes/ABCD-EFGH/approve"),
    ] {
        let response = client.post(remote_url(&app, path)).send().await.expect("request");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "Forbidden");
        assert!(body["error"]["message"].as_str().unwrap().contains("--admin-token"), "{body}");
    }
    // Not a reset: the store is as it was, and Graph itself is open to the network.
    let response = get(&reader, &remote_url(&app, EVENTS)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_admin_token_opens_the_admin_api_to_other_hosts() {
    let app = sqlite(&["--http", "0.0.0.0:0", "--admin-token", "let-me-in"]).await;
    let url = remote_url(&app, "/_auditgraph/health");
    let plain = reqwest::Client::new();
    let graph_token = client_credentials(&plain, &app.address, WRITER).await;
    for authorization in [None, Some(format!("Bearer {graph_token}")), Some("Bearer let-me-i".to_string())] {
        let mut request = plain.get(&url);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(
            header(&response, "www-authenticate").as_deref(),
            Some("Bearer realm=\"auditgraph-admin\"")
        );
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "Unauthorized");
    }
    let response = plain.get(&url).bearer_auth("let-me-in").send().await.expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
    // Loopback needs no token.
    assert_eq!(admin(&app, "GET", "/_auditgraph/health", None).await.0, 200);
}

// ---------------------------------------------------------------- throttling

#[tokio::test]
async fn intune_limits_apply_per_app_and_per_tenant_in_intune_form() {
    // 0.002 × Intune's numbers: 2 requests per app, 4 per tenant, 1 write per app.
    let app = sqlite(&["--throttle-scale", "0.002"]).await;
    let (_, settings) = admin(&app, "GET", "/_auditgraph/throttling", None).await;
    assert_eq!(
        settings["limits"],
        json!({ "tenantAny": 2000, "appAny": 1000, "tenantWrite": 200, "appWrite": 100 })
    );
    assert_eq!(
        settings["effectiveLimits"],
        json!({ "tenantAny": 4, "appAny": 2, "tenantWrite": 1, "appWrite": 1 })
    );
    freeze(&app, T0).await;
    let url = app.url(EVENTS);
    let reader = app_client(&app, READER).await;
    let writer = app_client(&app, WRITER).await;
    let noaccess = app_client(&app, NOACCESS).await;

    assert_eq!(get(&reader, &url).await.status(), 200);
    assert_eq!(get(&reader, &url).await.status(), 200);
    let throttled = get(&reader, &url).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(header(&throttled, "retry-after").as_deref(), Some("20"));
    assert!(header(&throttled, "content-type").unwrap().starts_with("application/json"));
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    let message: Value =
        serde_json::from_str(body["error"]["message"].as_str().unwrap()).expect("_version 3 JSON");
    assert_eq!(message["_version"], 3);
    assert!(message["Message"].as_str().unwrap().starts_with("An error has occurred - Operation ID"));
    assert!(body["error"]["innerError"]["request-id"].is_string());

    // Another app has its own budget, but the tenant's (4) is then spent for everyone.
    assert_eq!(get(&writer, &url).await.status(), 200);
    assert_eq!(get(&writer, &url).await.status(), 200);
    let third_app = get(&noaccess, &url).await;
    assert_eq!(third_app.status(), 429, "the tenant limit comes before the permission check");

    // The window is the emulator clock's: 20 seconds later everyone may read again.
    advance(&app, 19.0).await;
    let late = get(&reader, &url).await;
    assert_eq!((late.status().as_u16(), header(&late, "retry-after")), (429, Some("1".into())));
    advance(&app, 1.0).await;
    assert_eq!(get(&reader, &url).await.status(), 200);
    assert_eq!(get(&noaccess, &url).await.status(), 403);

    // Writes have their own, smaller limit.
    advance(&app, 20.0).await;
    let create = json!({ "category": "Device", "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52" });
    assert_eq!(writer.post(&url).json(&create).send().await.unwrap().status(), 201);
    let second = writer.post(&url).json(&create).send().await.unwrap();
    assert_eq!(second.status(), 429);
    assert_eq!(get(&writer, &url).await.status(), 200, "the write limit does not stop reads");

    let labels: Vec<Value> = journal(&app).await.iter().map(|e| e["injected"].clone()).collect();
    assert_eq!(labels.iter().filter(|l| **l == json!(["throttled"])).count(), 4, "{labels:?}");
}

#[tokio::test]
async fn the_graph_form_and_every_retry_after_mode() {
    let app = sqlite(&[]).await;
    freeze(&app, T0).await;
    throttling(&app, json!({ "limits": { "appAny": 1 }, "format": "graph", "retryAfter": "absent" })).await;
    let reader = app_client(&app, READER).await;
    let url = app.url(EVENTS);
    assert_eq!(get(&reader, &url).await.status(), 200);
    let throttled = get(&reader, &url).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(header(&throttled, "retry-after"), None);
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    assert_eq!(body["error"]["message"], "Too many requests.");

    // Changing the settings restarts the windows.
    throttling(&app, json!({ "retryAfter": "fractional", "windowSeconds": 10 })).await;
    assert_eq!(get(&reader, &url).await.status(), 200);
    advance(&app, 0.25).await;
    let throttled = get(&reader, &url).await;
    assert_eq!(header(&throttled, "retry-after").as_deref(), Some("9.750"));

    throttling(&app, json!({ "retryAfter": "seconds" })).await;
    assert_eq!(get(&reader, &url).await.status(), 200);
    advance(&app, 0.25).await;
    assert_eq!(header(&get(&reader, &url).await, "retry-after").as_deref(), Some("10"), "rounded up");

    for bad in [
        json!({ "scale": 0 }),
        json!({ "windowSeconds": 0 }),
        json!({ "retryAfter": "never" }),
        json!({ "limit": 1 }),
    ] {
        let (status, body) = admin(&app, "PATCH", "/_auditgraph/throttling", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
}

#[tokio::test]
async fn an_early_retry_is_throttled_again_when_enforced() {
    let app = sqlite(&[]).await;
    freeze(&app, T0).await;
    let reader = app_client(&app, READER).await;
    let url = app.url(EVENTS);

    // Without enforcement, only the count matters: at T+20 the slot is free again.
    throttling(&app, json!({ "limits": { "appAny": 1 } })).await;
    assert_eq!(get(&reader, &url).await.status(), 200);
    assert_eq!(get(&reader, &url).await.status(), 429);
    advance(&app, 19.0).await;
    assert_eq!(get(&reader, &url).await.status(), 429);
    advance(&app, 1.0).await;
    assert_eq!(get(&reader, &url).await.status(), 200);

    // With enforcement, the retry at T+19 restarts the wait: T+20 is still too early.
    throttling(&app, json!({ "enforceRetryAfter": true })).await;
    assert_eq!(get(&reader, &url).await.status(), 200);
    assert_eq!(header(&get(&reader, &url).await, "retry-after").as_deref(), Some("20"));
    advance(&app, 19.0).await;
    let early = get(&reader, &url).await;
    assert_eq!((early.status().as_u16(), header(&early, "retry-after")), (429, Some("20".into())));
    let message = early.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("retried before Retry-After elapsed"), "{message}");
    advance(&app, 1.0).await;
    assert_eq!(get(&reader, &url).await.status(), 429, "still inside the restarted wait");
    // A patient client (it waits the full Retry-After it was given) gets through.
    advance(&app, 20.0).await;
    assert_eq!(get(&reader, &url).await.status(), 200);

    let labels: Vec<Value> = journal(&app).await.iter().map(|e| e["injected"].clone()).collect();
    assert_eq!(labels.iter().filter(|l| **l == json!(["throttled-early-retry"])).count(), 2, "{labels:?}");
}

#[tokio::test]
async fn throttling_can_be_off() {
    let app = sqlite(&["--throttling", "off", "--throttle-scale", "0.001"]).await;
    freeze(&app, T0).await;
    for _ in 0..5 {
        assert_eq!(app.get(EVENTS).await.status(), 200);
    }
    throttling(&app, json!({ "enabled": true })).await;
    assert_eq!(app.get(EVENTS).await.status(), 200);
    assert_eq!(app.get(EVENTS).await.status(), 429);
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn status_faults_answer_in_graphs_envelope() {
    let app = sqlite(&[]).await;
    faults(
        &app,
        json!({ "rules": [
            { "path": "*/auditEvents/$count", "fault": "status", "status": 500 },
            { "method": "GET", "path": "/v1.0/deviceManagement/auditEvents", "nth": 2, "fault": "status", "status": 503, "retryAfter": 3 },
            { "method": "POST", "fault": "status", "status": 504, "times": 1 },
        ] }),
    )
    .await;
    let count = app.get(&format!("{EVENTS}/$count")).await;
    assert_eq!(count.status(), 500);
    let body: Value = count.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UnknownError");
    assert!(body["error"]["message"].as_str().unwrap().contains("An internal server error has occurred"));

    assert_eq!(app.get(EVENTS).await.status(), 200);
    let unavailable = app.get(EVENTS).await;
    assert_eq!((unavailable.status().as_u16(), header(&unavailable, "retry-after")), (503, Some("3".into())));
    assert_eq!(unavailable.json::<Value>().await.unwrap()["error"]["code"], "ServiceUnavailable");
    assert_eq!(app.get(EVENTS).await.status(), 200, "nth fires once");
    assert_eq!(app.get(&format!("/beta{}", &EVENTS[5..])).await.status(), 200, "the path is exact");

    let create = json!({ "category": "Device", "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52" });
    let (status, body) = app.post_json(EVENTS, &create).await;
    assert_eq!((status, &body["error"]["code"]), (504, &json!("GatewayTimeout")));
    assert_eq!(app.post_json(EVENTS, &create).await.0, 201, "times: 1");

    let (_, view) = admin(&app, "GET", "/_auditgraph/faults", None).await;
    let counters: Vec<(u64, u64)> = view["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["matched"].as_u64().unwrap(), r["fired"].as_u64().unwrap()))
        .collect();
    assert_eq!(counters, [(1, 1), (3, 1), (2, 1)]);
    let statuses: Vec<Value> =
        journal(&app).await.iter().map(|e| json!([e["status"], e["injected"]])).collect();
    assert!(statuses.contains(&json!([503, ["status-503"]])), "{statuses:?}");

    for bad in [
        json!({ "fault": "status", "status": 404 }),
        json!({ "fault": "explode" }),
        json!({ "probability": 2, "fault": "drop" }),
    ] {
        let (status, body) = admin(&app, "POST", "/_auditgraph/faults", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let app = sqlite(&[]).await;
    let (status, rule) = admin(
        &app,
        "POST",
        "/_auditgraph/faults",
        Some(json!({ "method": "GET", "fault": "latency", "ms": 400 })),
    )
    .await;
    assert_eq!(status, 201);
    let started = Instant::now();
    assert_eq!(app.get(EVENTS).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());

    let (status, _) =
        admin(&app, "DELETE", &format!("/_auditgraph/faults/{}", rule["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 204);
    let started = Instant::now();
    app.get(EVENTS).await;
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn an_empty_page_still_carries_a_next_link() {
    let app = sqlite(&[]).await;
    admin(&app, "POST", "/_auditgraph/reset", Some(json!({ "count": 5 }))).await;
    faults(&app, json!({ "rules": [{ "nth": 1, "fault": "empty-page" }] })).await;
    let path = format!("{EVENTS}?$top=3&$count=true");
    let (status, page) = app.get_json(&path).await;
    assert_eq!(status, 200);
    assert_eq!(page["value"], json!([]));
    assert_eq!(page["@odata.context"], app.url("/v1.0/$metadata#deviceManagement/auditEvents"));
    let next = page["@odata.nextLink"].as_str().expect("a nextLink on the empty page");
    assert_eq!(next, app.url(&path));
    // Following it gives the real page.
    let response = app.client.get(next).send().await.unwrap();
    let real: Value = response.json().await.unwrap();
    assert_eq!((real["value"].as_array().unwrap().len(), &real["@odata.count"]), (3, &json!(5)));

    // Only collection reads get an empty page; the rule lets others through.
    faults(&app, json!({ "rules": [{ "fault": "empty-page" }] })).await;
    assert_eq!(app.count().await, 5);
}

#[tokio::test]
async fn a_dropped_connection_gives_the_client_no_response() {
    let app = sqlite(&[]).await;
    faults(&app, json!({ "rules": [{ "nth": 1, "fault": "drop" }] })).await;
    admin(&app, "DELETE", "/_auditgraph/requests", None).await;
    let outcome = match app.client.get(app.url(EVENTS)).send().await {
        Err(e) => Err(e),
        Ok(response) => response.bytes().await.map(|_| ()),
    };
    assert!(outcome.is_err(), "the client saw a complete response");
    assert_eq!(app.get(EVENTS).await.status(), 200, "the next request is served");
    let entries = journal(&app).await;
    assert_eq!(entries[0]["status"], Value::Null);
    assert_eq!(entries[0]["injected"], json!(["drop"]));
    assert_eq!(entries[1]["status"], 200);
}

#[tokio::test]
async fn probabilistic_faults_repeat_under_a_seed() {
    let app = sqlite(&[]).await;
    let run = |seed: u64| {
        let app = &app;
        async move {
            faults(
                app,
                json!({ "seed": seed, "rules": [{ "probability": 0.5, "fault": "status", "status": 503 }] }),
            )
            .await;
            let mut statuses = Vec::new();
            for _ in 0..32 {
                statuses.push(app.get(EVENTS).await.status().as_u16());
            }
            statuses
        }
    };
    let first = run(42).await;
    let failures = first.iter().filter(|s| **s == 503).count();
    assert!((6..=26).contains(&failures), "{failures} of 32 at p = 0.5: {first:?}");
    assert_eq!(run(42).await, first);
    assert_ne!(run(43).await, first);
    // A reset restarts the dice too.
    run(42).await;
    admin(&app, "POST", "/_auditgraph/reset", None).await;
    faults(&app, json!({ "seed": 42, "rules": [{ "probability": 0.5, "fault": "status", "status": 503 }] }))
        .await;
    let mut again = Vec::new();
    for _ in 0..32 {
        again.push(app.get(EVENTS).await.status().as_u16());
    }
    assert_eq!(again, first);
}

#[tokio::test]
async fn fault_rules_load_from_a_file_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    std::fs::write(
        &file,
        r#"{"seed": 5, "rules": [{"path": "*/$count", "fault": "status", "status": 503}]}"#,
    )
    .unwrap();
    let app = sqlite(&["--faults", file.to_str().unwrap()]).await;
    assert_eq!(app.get(&format!("{EVENTS}/$count")).await.status(), 503);
    assert_eq!(app.get(EVENTS).await.status(), 200);
    let (_, view) = admin(&app, "GET", "/_auditgraph/faults", None).await;
    assert_eq!(view["seed"], 5);

    std::fs::write(&file, r#"{"rules": [{"fault": "status", "status": 200}]}"#).unwrap();
    let argv = [
        "auditgraph",
        "serve",
        "--faults",
        file.to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
        "--https",
        "127.0.0.1:0",
        "--no-demo",
    ];
    let cli = <auditgraph::config::Cli as clap::Parser>::try_parse_from(argv).unwrap();
    let Some(auditgraph::config::Command::Serve(args)) = cli.command else { panic!("serve") };
    let error =
        auditgraph::startup::Application::build(args).await.err().expect("invalid rules stop start-up");
    assert!(error.to_string().contains("5xx"), "{error}");
}

#[tokio::test]
async fn health_and_unknown_admin_routes() {
    let app = sqlite(&[]).await;
    let (status, body) = admin(&app, "GET", "/_auditgraph/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["status"], &body["backend"], &body["events"]),
        (&json!("ok"), &json!("SQLite"), &json!(0))
    );
    let (status, body) = admin(&app, "GET", "/_auditgraph/nothing-here", None).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("BadRequest")));
    assert!(app.banner.contains("/_auditgraph/health"), "{}", app.banner);
}
