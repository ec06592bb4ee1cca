//! Hostile input: requests built to exhaust the server, crash it or slip
//! past its rules. Each is answered quickly, in Graph's (or GraphQL's) shape, and
//! the server goes on serving and still stops when told to.

use std::process::Command;
use std::time::{Duration, Instant};

use auditgraph::domain::AuditEvent;
use auditgraph::domain::graph::parse_event;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::helpers::{days_ago, gql, sample_event};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

/// Fragments that each spread the previous one three times: 3^levels selections
/// from about 1 KB of text.
fn fragment_bomb(levels: usize) -> String {
    let mut query = format!("{{...L{levels}}} fragment L0 on Query{{__typename}}");
    for i in 1..=levels {
        query.push_str(&format!(" fragment L{i} on Query{{...L{p} ...L{p} ...L{p}}}", p = i - 1));
    }
    query
}

/// Posts `body` to `/graphql` without a token (none is needed to be refused).
async fn post_graphql(base: &str, body: &Value, timeout: Duration) -> reqwest::Result<(u16, Value)> {
    let response =
        reqwest::Client::new().post(format!("{base}/graphql")).json(body).timeout(timeout).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

fn events(n: usize) -> Vec<AuditEvent> {
    (0..n)
        .map(|i| {
            parse_event(
                &sample_event(&format!("ev-{i:05}"), &days_ago(1)),
                || unreachable!(),
                || unreachable!(),
            )
            .expect("valid event")
        })
        .collect()
}

async fn sqlite(extra: &[&str]) -> TestApp {
    TestApp::spawn(Backend::Sqlite, extra).await.expect("SQLite is always available")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_bomb_is_refused_at_once() {
    let app = sqlite(&[]).await;
    let started = Instant::now();
    let (status, body) =
        post_graphql(&app.address, &json!({"query": fragment_bomb(25)}), Duration::from_secs(10))
            .await
            .expect("an answer, not a frozen server");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(status, 200);
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("too large") && message.contains("5000"), "{message}");

    // A fragment that spreads itself is refused the same way (async-graphql's own
    // walks would follow it until its depth limit).
    let (_, body) = post_graphql(
        &app.address,
        &json!({"query": "{...A} fragment A on Query{...B} fragment B on Query{...A}"}),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");

    // Fragments used as intended still work.
    let (_, body) = post_graphql(
        &app.address,
        &json!({"query": "{...A} fragment A on Query{...B ...B} fragment B on Query{__typename}"}),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(body, json!({"data": {"__typename": "Query"}}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_stops_at_its_time_budget() {
    let app = sqlite(&["--graphql-timeout-ms", "1"]).await;
    app.insert(events(1000)).await;
    let page = "{ auditEvents(first: 1000) { totalCount nodes { id actor { userPrincipalName } resources { modifiedProperties { newValue } } } } }";
    let response = app.client.post(app.url("/graphql")).json(&json!({"query": page})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("time budget of 1 ms"), "{body}");

    // The budget is per request, in the request's own shape: a batch answers a batch.
    let batch = json!([{"query": page}, {"query": "{ __typename }"}]);
    let body: Value =
        app.client.post(app.url("/graphql")).json(&batch).send().await.unwrap().json().await.unwrap();
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(body[0]["errors"][0]["extensions"]["code"], "TIMEOUT", "{body}");
}

/// The binary, serving a fresh data directory on free ports.
struct Server {
    child: std::process::Child,
    base: String,
    _data_dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let data_dir = tempfile::tempdir().unwrap();
        let (child, base) = crate::helpers::spawn_binary(data_dir.path(), &["--no-demo"]);
        Server { child, base, _data_dir: data_dir }
    }

    /// SIGTERM, then the exit status if the process ends within `within`.
    fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_bombs_leave_the_server_serving_and_stoppable() {
    let mut server = Server::start();
    // More bombs than the server has workers, from clients that give up.
    let bombs: Vec<_> = (0..4)
        .map(|_| {
            let base = server.base.clone();
            tokio::spawn(async move {
                post_graphql(&base, &json!({"query": fragment_bomb(25)}), Duration::from_secs(3)).await
            })
        })
        .collect();
    for bomb in bombs {
        let (status, body) = bomb.await.unwrap().expect("each bomb is answered");
        assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (200, Some("BAD_USER_INPUT")));
    }
    let health = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200);

    let status = server.terminate(Duration::from_secs(20)).expect("SIGTERM stops the server");
    assert!(status.success(), "graceful exit: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_and_batches_count_in_the_limits() {
    let app = sqlite(&[]).await;
    let refused = |body: &Value, what: &str| {
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(what) && message.contains("limit of 5000"), "{message}");
    };
    let post = |body: Value| {
        let request = app.client.post(app.url("/graphql")).json(&body);
        async move {
            let started = Instant::now();
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
            (status, body)
        }
    };

    // 10,000 aliases of totalCount, 40,000 repeats of one field.
    let aliases: String =
        (0..10_000).map(|i| format!("a{i}: auditEvents(first: 0) {{ totalCount }} ")).collect();
    let (status, body) = post(json!({"query": format!("{{ {aliases} }}")})).await;
    assert_eq!(status, 200);
    refused(&body, "The query is too large: 20000 selections");
    // Within the limits, a count is made once per filter, however many aliases ask for it.
    let statements = |aliases: usize| {
        let query: String = (0..aliases)
            .map(|i| format!("a{i}: auditEvents(first: 1, filter: \"category eq 'Device'\") {{ n{i}: totalCount m{i}: totalCount }} "))
            .collect();
        let store = app.state.store.clone();
        async move {
            let before = store.statements_executed();
            let (status, body) = post(json!({"query": format!("{{ {query} }}")})).await;
            assert_eq!(status, 200, "{body}");
            assert!(body.get("errors").is_none(), "{body}");
            store.statements_executed() - before
        }
    };
    let one = statements(1).await;
    let many = statements(400).await;
    assert!(
        many <= one + 400 * (one - 1),
        "400 aliases: {many} statements, one alias {one}: the count is repeated"
    );
    let repeats = "totalCount ".repeat(40_000);
    let (_, body) = post(json!({"query": format!("{{ auditEvents {{ {repeats} }} }}")})).await;
    refused(&body, "The query is too large: 40001 selections");

    // A batch holds at most 50 operations, and counts its selections together:
    // 50 operations of 101 selections each are refused though each alone fits.
    let many: Vec<Value> = (0..20_000).map(|_| json!({"query": "{ __typename }"})).collect();
    let (status, body) = post(Value::Array(many)).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["message"], "A batch holds at most 50 operations; this one has 20000.");
    let hundred: String = (0..101).map(|i| format!("a{i}: __typename ")).collect();
    let wide = json!({"query": format!("{{ {hundred} }}")});
    let (status, body) = post(Value::Array(vec![wide.clone(); 50])).await;
    assert_eq!(status, 400);
    refused(&body, "The batch is too large: 5050 selections");
    let (status, body) = post(Value::Array(vec![wide.clone(); 49])).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(49));
    assert!(body[48]["errors"].is_null() && body[48]["data"]["a100"] == "Query", "{}", body[48]);
}

/// The `error.code` and `error.message` of a Graph error envelope.
fn graph_error(body: &Value) -> (&str, &str) {
    let error = &body["error"];
    assert!(error["innerError"]["request-id"].is_string(), "Graph's envelope: {body}");
    (error["code"].as_str().unwrap_or_default(), error["message"].as_str().unwrap_or_default())
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn long_in_lists_are_answered_alike_everywhere(app: TestApp) {
    let mut stored = events(40);
    for (i, event) in stored.iter_mut().enumerate() {
        event.category = (i % 10 != 0).then(|| format!("C{i:04}"));
    }
    app.insert(stored.clone()).await;
    let list = |n: usize| (0..n).map(|i| format!("'c{:04}'", i * 2)).collect::<Vec<_>>().join(",");
    let ids = |body: &Value| {
        let mut ids: Vec<String> =
            body["value"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        ids
    };

    // The limit, 1,000 values, with a null among them: the store and the in-memory
    // evaluator agree (even categories and the null ones).
    let filter = format!("category in ({},null)", list(999));
    let (status, body) = app.get_json(&format!("{EVENTS}?$top=1000&$filter={}", encode(&filter))).await;
    assert_eq!(status, 200, "{body}");
    let checked = auditgraph::odata::parse_filter(&filter).unwrap();
    let mut expected: Vec<String> = stored
        .iter()
        .filter(|e| auditgraph::odata::eval::matches(&checked, e))
        .map(|e| e.id.clone())
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 4 + 16, "the null categories and the even ones");
    assert_eq!(ids(&body), expected);
    let not_in = format!("not(category in ({}))", list(1000));
    let (status, body) = app.get_json(&format!("{EVENTS}?$top=1000&$filter={}", encode(&not_in))).await;
    assert_eq!((status, ids(&body).len()), (200, 24), "the odd and the null categories: {body}");

    // One more value, or 4,500 (which overflowed the stack and aborted the process),
    // is Graph's 400 on every backend.
    for n in [1001, 4500] {
        let filter = format!("category in ({})", list(n));
        let (status, body) = app.get_json(&format!("{EVENTS}?$filter={}", encode(&filter))).await;
        assert_eq!(status, 400, "{n}: {body}");
        let (code, message) = graph_error(&body);
        assert_eq!(code, "BadRequest");
        assert!(
            message.starts_with("Invalid filter clause: The expression holds more than 1000 values"),
            "{message}"
        );
    }

    // GraphQL's filter: the same rule.
    let filter = format!("category in ({})", list(10_000));
    let query = "query ($f: String) { auditEvents(filter: $f) { totalCount } }";
    let body: Value = gql(&app, query, json!({"f": filter})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let filter = format!("category in ({})", list(1000));
    let body: Value = gql(&app, query, json!({"f": filter})).await;
    assert_eq!(body["data"]["auditEvents"]["totalCount"], 16, "{body}");

    // 1,000 aliased auditEvent(id:) are one batch of 1,000 ids: found or NOT_FOUND.
    let fields: String =
        (0..1000).map(|i| format!("e{i}: auditEvent(id: \"ev-{i:05}\") {{ id }} ")).collect();
    let body: Value = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": format!("{{ {fields} }}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["e39"]["id"], "ev-00039", "{}", body["errors"][0]);
    assert!(body["data"]["e40"].is_null());
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 960);
    assert!(errors.iter().all(|e| e["extensions"]["code"] == "NOT_FOUND"), "{}", errors[0]);
}

async fn a_skip_beyond_int64_is_a_400(app: TestApp) {
    app.insert(events(3)).await;
    // The largest Edm.Int64 is a valid (empty) page on every backend…
    let (status, body) = app.get_json(&format!("{EVENTS}?$skip=9223372036854775807")).await;
    assert_eq!((status, body["value"].as_array().map(Vec::len)), (200, Some(0)), "{body}");
    // …one more dropped the connection (SQLite, PostgreSQL) or was served (MariaDB).
    for skip in ["9223372036854775808", "18446744073709551615", "99999999999999999999"] {
        let (status, body) = app.get_json(&format!("{EVENTS}?$skip={skip}")).await;
        assert_eq!(status, 400, "{skip}: {body}");
        assert_eq!(
            graph_error(&body),
            (
                "BadRequest",
                format!(
                    "Invalid value '{skip}' for $skip query option found. The $skip query option requires a non-negative integer value."
                )
                .as_str()
            )
        );
    }
}

async fn instants_outside_graphs_range_are_refused(app: TestApp) {
    for at in [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+00:01",
        "0000-06-01T00:00:00Z",
        "2024-06-30T23:59:60Z",
        "2024-06-30T23:59:60.5+02:00",
    ] {
        let (status, body) = app.post_json(EVENTS, &sample_event("out-of-range", at)).await;
        assert_eq!(status, 400, "{at}: {body}");
        let (code, message) = graph_error(&body);
        assert_eq!(code, "BadRequest");
        assert_eq!(
            message,
            format!(
                "Invalid value for property 'activityDateTime': '{at}' is not an Edm.DateTimeOffset between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.9999999Z, such as 2024-07-22T22:17:09.7552025Z."
            )
        );
    }
    assert_eq!(app.count().await, 0);

    // The last instant is stored and read back as written; a PATCH and a GraphQL
    // mutation meet the same rule.
    let last = "9999-12-31T23:59:59.9999999Z";
    let (status, body) =
        app.post_json(EVENTS, &sample_event("last", "9999-12-31T09:59:59.9999999-14:00")).await;
    assert_eq!((status, body["activityDateTime"].as_str()), (201, Some(last)), "{body}");
    let (_, body) = app.get_json(&format!("{EVENTS}/last")).await;
    assert_eq!(body["activityDateTime"], last);
    let (status, body) =
        app.patch_json(&format!("{EVENTS}/last"), &json!({"activityDateTime": "2024-12-31T23:59:60Z"})).await;
    assert_eq!(status, 400, "{body}");
    let mutation = "mutation($input: AuditEventInput!) { createAuditEvent(input: $input) { id } }";
    let input = json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "activityDateTime": "9999-12-31T23:59:59-01:00"});
    let body: Value = gql(&app, mutation, json!({"input": input})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(app.count().await, 1);
}

async fn nul_characters_are_a_400_everywhere(app: TestApp) {
    let nul = |body: &Value, status: u16, what: &str| {
        assert_eq!(status, 400, "{what}: {body}");
        let (code, message) = graph_error(body);
        assert_eq!(code, "BadRequest", "{what}");
        assert!(message.contains("contains a NUL character (U+0000)"), "{what}: {message}");
        message.to_string()
    };
    // Bodies: any text property, entries of lists included.
    let mut event = sample_event("has-nul", &days_ago(1));
    event["displayName"] = json!("Delete\u{0}application.");
    let (status, body) = app.post_json(EVENTS, &event).await;
    let message = nul(&body, status, "body");
    assert!(message.starts_with("The value of property 'displayName'"), "{message}");
    let mut event = sample_event("has-nul", &days_ago(1));
    event["actor"]["userPermissions"] = json!(["*", "\u{0}"]);
    let (status, body) = app.post_json(EVENTS, &event).await;
    nul(&body, status, "a list entry");
    let (status, _) = app.post_json(EVENTS, &sample_event("plain", &days_ago(1))).await;
    assert_eq!(status, 201);
    let (status, body) = app.patch_json(&format!("{EVENTS}/plain"), &json!({"category": "\u{0}"})).await;
    nul(&body, status, "a PATCH");

    // URLs: a $filter literal, an id, a function argument.
    for (what, path) in [
        ("$filter", format!("{EVENTS}?$filter=category%20eq%20%27%00%27")),
        ("$filter on $count", format!("{EVENTS}/$count?$filter=category%20eq%20%27a%00%27")),
        ("an id", format!("{EVENTS}/plain%00")),
        ("a key", format!("{EVENTS}(%27plain%00%27)")),
        ("a function argument", format!("{EVENTS}/getAuditActivityTypes(category=%27%00%27)")),
    ] {
        let (status, body) = app.get_json(&path).await;
        nul(&body, status, what);
    }
    let response = app.client.delete(app.url(&format!("{EVENTS}/plain%00"))).send().await.unwrap();
    let status = response.status().as_u16();
    nul(&response.json().await.unwrap(), status, "DELETE");

    // GraphQL: arguments, variables, typed filters, inputs.
    for (query, variables) in [
        (r#"{ auditEvent(id: "plain\u0000") { id } }"#, json!({})),
        ("query ($id: ID!) { auditEvent(id: $id) { id } }", json!({"id": "plain\u{0}"})),
        (r#"{ auditEvents(filter: "category eq '\u0000'") { totalCount } }"#, json!({})),
        (r#"{ auditEvents(where: {category: "\u0000"}) { totalCount } }"#, json!({})),
        (r#"{ auditActivityTypes(category: "\u0000") }"#, json!({})),
        (
            "mutation ($input: AuditEventInput!) { createAuditEvent(input: $input) { id } }",
            json!({"input": {"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "displayName": "\u{0}"}}),
        ),
    ] {
        let body: Value = gql(&app, query, variables).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{query}: {body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("NUL character"), "{query}: {body}");
    }
    assert_eq!(app.count().await, 1, "only the event without a NUL");
}

async fn duplicate_json_members_are_refused(app: TestApp) {
    let send = |method: reqwest::Method, path: String, body: String| {
        let request = app.client.request(method, app.url(&path)).header("content-type", "application/json");
        async move {
            let response = request.body(body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let duplicate = |body: &Value, status: u16, name: &str| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            graph_error(body),
            (
                "BadRequest",
                format!("Multiple properties with the name '{name}' were detected in a resource or a complex value. In OData, duplicate property names are not allowed.").as_str()
            )
        );
    };
    let event = sample_event("b", &days_ago(1)).to_string();
    let twice = event.replacen("{", r#"{"id":"a","#, 1);
    let (status, body) = send(reqwest::Method::POST, EVENTS.into(), twice).await;
    duplicate(&body, status, "id");
    let nested = event.replacen(r#""actor":{"#, r#""actor":{"ipAddress":"10.0.0.1","#, 1).replacen(
        r#""ipAddress":null"#,
        r#""ipAddress":"10.0.0.2""#,
        1,
    );
    let (status, body) = send(reqwest::Method::POST, EVENTS.into(), nested).await;
    duplicate(&body, status, "ipAddress");
    assert_eq!(app.count().await, 0);

    let (status, _) = send(reqwest::Method::POST, EVENTS.into(), event).await;
    assert_eq!(status, 201);
    let patch = r#"{"category":"Device","category":"Role"}"#.to_string();
    let (status, body) = send(reqwest::Method::PATCH, format!("{EVENTS}/b"), patch).await;
    duplicate(&body, status, "category");
    let (_, body) = app.get_json(&format!("{EVENTS}/b")).await;
    assert_eq!(body["category"], "Application");

    // GraphQL's variables the same way.
    let mutation = r#"{"query":"mutation ($input: AuditEventInput!) { createAuditEvent(input: $input) { id } }","variables":{"input":{"id":"c","id":"d","correlationId":"21e86a8c-3010-46a8-86b5-4580e432ff52"}}}"#;
    let (status, body) = send(reqwest::Method::POST, "/graphql".into(), mutation.into()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("name 'id'"), "{body}");
    assert_eq!(app.count().await, 1);
}

backend_tests!(
    long_in_lists_are_answered_alike_everywhere,
    a_skip_beyond_int64_is_a_400,
    instants_outside_graphs_range_are_refused,
    nul_characters_are_a_400_everywhere,
    duplicate_json_members_are_refused
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let body =
        json!({"displayName": "Sync device.", "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52"});
    let recorded_ip = |app: &TestApp, forwarded_for: &'static str| {
        let request = app
            .client
            .post(app.url(EVENTS))
            .header("x-forwarded-for", forwarded_for)
            .header("forwarded", "for=192.0.2.60")
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 201);
            let event: Value = response.json().await.unwrap();
            event["actor"]["ipAddress"].as_str().unwrap().to_string()
        }
    };
    // Any caller could claim any address.
    let app = sqlite(&[]).await;
    assert_eq!(recorded_ip(&app, "6.6.6.6").await, "127.0.0.1");

    // Behind a trusted proxy (here the loopback peer), the first address it did not
    // add itself: what the client claimed to the left of it is not believed.
    let app = sqlite(&["--trusted-proxy", "10.0.0.0/8,127.0.0.1"]).await;
    assert_eq!(recorded_ip(&app, "6.6.6.6, 198.51.100.7").await, "198.51.100.7");
    assert_eq!(recorded_ip(&app, "6.6.6.6, 198.51.100.7, 10.1.2.3").await, "198.51.100.7");
    // GraphQL records the same caller address.
    let mutation =
        "mutation ($input: AuditEventInput!) { createAuditEvent(input: $input) { actor { ipAddress } } }";
    let response: Value = app
        .client
        .post(app.url("/graphql"))
        .header("x-forwarded-for", "203.0.113.5")
        .json(&json!({"query": mutation, "variables": {"input": {"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52"}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["data"]["createAuditEvent"]["actor"]["ipAddress"], "203.0.113.5", "{response}");
}
