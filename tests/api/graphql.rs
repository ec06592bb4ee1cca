//! The GraphQL door end to end: queries with both filter styles (held to the REST
//! answers), Relay paging forwards and backwards, mutations through the one write
//! path, subscriptions over graphql-transport-ws, auth, limits, the statement count
//! of a page, the SDL contract file, and the explorer in an offline browser.

use std::time::Duration;

use auditgraph::domain::AuditEvent;
use auditgraph::domain::graph::parse_event;
use futures_util::{SinkExt, StreamExt};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::backend_tests;
use crate::browser::Browser;
use crate::helpers::{
    Backend, NOACCESS, READER, TestApp, WRITER, client_credentials, days_ago, sample_event,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

/// Posts a GraphQL request with the app's writer token; the HTTP status is always 200.
async fn gql(app: &TestApp, query: &str, variables: Value) -> Value {
    gql_as(app, &app.client, query, variables).await
}

async fn gql_as(app: &TestApp, client: &reqwest::Client, query: &str, variables: Value) -> Value {
    let response = client
        .post(app.url("/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON body")
}

/// A client sending `token` (or nothing) as its bearer token.
fn client_with(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    }
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("an error with a code: {body}"))
}

fn no_errors(body: &Value) {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
}

fn event(
    id: &str,
    days: i64,
    category: &str,
    result: &str,
    upn: &str,
    resource: Option<&str>,
    name: &str,
) -> AuditEvent {
    let mut body = sample_event(id, &days_ago(days));
    body["category"] = json!(category);
    body["activityResult"] = json!(result);
    body["displayName"] = json!(name);
    body["activityType"] = json!(format!("{name} type"));
    body["actor"]["userPrincipalName"] = json!(upn);
    match resource {
        Some(r) => body["resources"][0]["resourceId"] = json!(r),
        None => body["resources"] = json!([]),
    }
    parse_event(&body, || unreachable!(), || unreachable!()).expect("valid event")
}

async fn seed_filter_events(app: &TestApp) {
    app.insert(vec![
        event("e1", 1, "Device", "Success", "alice@contoso.com", Some("r-1"), "Wipe laptop"),
        event("e2", 2, "Device", "Failure", "bob@contoso.com", Some("r-2"), "Retire phone"),
        event("e3", 3, "Application", "Success", "alice@contoso.com", Some("r-1"), "Delete MobileApp"),
        event("e4", 4, "Application", "Failure", "carol@contoso.com", Some("r-3"), "Create MobileApp"),
        event("e5", 5, "Role", "Success", "bob@contoso.com", None, "Assign role"),
        event("e6", 6, "Device", "Success", "carol@contoso.com", Some("r-2"), "Sync device"),
    ])
    .await;
}

/// Ids REST answers for a `$filter`, in its (default) order.
async fn rest_ids(app: &TestApp, filter: &str) -> Vec<String> {
    let (status, body) = app
        .get_json(&format!("{EVENTS}?$select=id&$filter={}", utf8_percent_encode(filter, NON_ALPHANUMERIC)))
        .await;
    assert_eq!(status, 200, "{body}");
    body["value"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

/// Ids `auditEvents(<args>)` answers, in its order.
async fn gql_ids(app: &TestApp, args: &str) -> Vec<String> {
    let body =
        gql(app, &format!("{{ auditEvents({args}, first: 100) {{ nodes {{ id }} }} }}"), json!({})).await;
    no_errors(&body);
    body["data"]["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

async fn queries_and_both_filter_styles(app: TestApp) {
    seed_filter_events(&app).await;

    // The whole shape, as Graph names and formats it.
    let body = gql(
        &app,
        r#"query($id: ID!) { auditEvent(id: $id) {
            id displayName componentName activity activityDateTime activityType activityOperationType
            activityResult correlationId category
            actor { auditActorType userPermissions applicationId applicationDisplayName userPrincipalName
                    servicePrincipalName ipAddress userId remoteTenantId remoteUserId
                    userRoleScopeTags { displayName roleScopeTagId } }
            resources { displayName auditResourceType resourceId modifiedProperties { displayName oldValue newValue } }
        } }"#,
        json!({"id": "e1"}),
    )
    .await;
    no_errors(&body);
    let (_, rest) = app.get_json(&format!("{EVENTS}/e1")).await;
    let e = &body["data"]["auditEvent"];
    for field in [
        "id",
        "displayName",
        "componentName",
        "activity",
        "activityDateTime",
        "activityType",
        "activityOperationType",
        "activityResult",
        "correlationId",
        "category",
    ] {
        assert_eq!(e[field], rest[field], "{field}");
    }
    assert!(e["activityDateTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(e["actor"]["userPrincipalName"], "alice@contoso.com");
    assert_eq!(e["actor"]["userPermissions"], json!(["*"]));
    assert_eq!(
        e["resources"],
        rest["resources"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|r| {
                        json!({
                            "displayName": r["displayName"], "auditResourceType": r["auditResourceType"],
                            "resourceId": r["resourceId"], "modifiedProperties": r["modifiedProperties"],
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .map(Value::from)
            .unwrap()
    );

    // `filter` is REST's $filter: same answers, same order.
    for filter in [
        "category eq 'Device'",
        "activityResult ne 'Success' or actor/userPrincipalName eq 'bob@contoso.com'",
        "resources/any(r: r/resourceId eq 'r-2')",
        "startswith(displayName, 'delete')",
    ] {
        let args = format!("filter: {}", Value::String(filter.into()));
        assert_eq!(gql_ids(&app, &args).await, rest_ids(&app, filter).await, "{filter}");
    }

    // `where` means the OData it stands for (case-insensitively, like $filter).
    let from = days_ago(4);
    let to = days_ago(1);
    let text = "contains(displayName,'mobileapp') or contains(activity,'mobileapp') or contains(activityType,'mobileapp') or contains(componentName,'mobileapp') or resources/any(r: contains(r/displayName,'mobileapp'))";
    let cases = [
        (r#"where: { category: "device" }"#.to_string(), "category eq 'Device'".to_string()),
        (r#"where: { activityResult: "Failure" }"#.into(), "activityResult eq 'Failure'".into()),
        (r#"where: { activityOperationType: "delete" }"#.into(), "activityOperationType eq 'Delete'".into()),
        (
            r#"where: { activityType: "Sync device type" }"#.into(),
            "activityType eq 'Sync device type'".into(),
        ),
        (
            r#"where: { actorUserPrincipalName: "ALICE@contoso.com" }"#.into(),
            "actor/userPrincipalName eq 'alice@contoso.com'".into(),
        ),
        (r#"where: { resourceId: "r-1" }"#.into(), "resources/any(r: r/resourceId eq 'r-1')".into()),
        (r#"where: { textContains: "mobileapp" }"#.into(), text.into()),
        (
            format!(r#"where: {{ activityDateTime: {{ from: "{from}", to: "{to}" }} }}"#),
            format!("activityDateTime ge {from} and activityDateTime lt {to}"),
        ),
        (
            r#"where: { category: "Device", activityResult: "Success" }"#.into(),
            "category eq 'Device' and activityResult eq 'Success'".into(),
        ),
    ];
    for (args, odata) in cases {
        let expected = rest_ids(&app, &odata).await;
        assert!(!expected.is_empty(), "{odata} selects something");
        assert_eq!(gql_ids(&app, &args).await, expected, "{args}");
    }

    // Both at once: an event must match both.
    let both = gql_ids(&app, r#"filter: "activityResult eq 'Success'", where: { category: "Device" }"#).await;
    assert_eq!(both, vec!["e1", "e6"]);

    // Filter errors are REST's, as BAD_USER_INPUT.
    let (status, rest_error) = app.get_json(&format!("{EVENTS}?$filter=createdDateTime%20eq%201")).await;
    assert_eq!(status, 400);
    let body =
        gql(&app, r#"{ auditEvents(filter: "createdDateTime eq 1") { totalCount } }"#, json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["message"], rest_error["error"]["message"]);

    // totalCount ignores paging; the vocabulary functions answer as REST's.
    let body = gql(&app, r#"{ auditEvents(first: 1, where: { category: "Device" }) { totalCount nodes { id } } auditCategories auditActivityTypes(category: "Device") }"#, json!({})).await;
    no_errors(&body);
    assert_eq!(body["data"]["auditEvents"]["totalCount"], 3);
    assert_eq!(body["data"]["auditCategories"].as_array().unwrap().len(), 21);
    assert_eq!(body["data"]["auditCategories"][4], "Device");
    let (_, rest_types) = app.get_json(&format!("{EVENTS}/getAuditActivityTypes(category='Device')")).await;
    assert_eq!(body["data"]["auditActivityTypes"], rest_types["value"]);
    assert!(body["data"]["auditActivityTypes"].as_array().unwrap().contains(&json!("Wipe laptop type")));

    // One missing event: null and NOT_FOUND, the others still answer.
    let body =
        gql(&app, r#"{ a: auditEvent(id: "e2") { id } b: auditEvent(id: "nope") { id } }"#, json!({})).await;
    assert_eq!(body["data"]["a"]["id"], "e2");
    assert!(body["data"]["b"].is_null());
    assert_eq!(code(&body), "NOT_FOUND");
    assert_eq!(body["errors"][0]["path"], json!(["b"]));
}

/// Follows `first`/`after` to the end; returns the ids and every pageInfo.
async fn page_forwards(app: &TestApp, args: &str, size: usize) -> (Vec<String>, Vec<Value>) {
    let (mut ids, mut infos, mut after) = (Vec::new(), Vec::new(), Value::Null);
    loop {
        let body = gql(
            app,
            &format!("query($after: String) {{ auditEvents({args} first: {size}, after: $after) {{ edges {{ cursor node {{ id }} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"),
            json!({"after": after}),
        )
        .await;
        no_errors(&body);
        let connection = &body["data"]["auditEvents"];
        let edges = connection["edges"].as_array().unwrap();
        ids.extend(edges.iter().map(|e| e["node"]["id"].as_str().unwrap().to_string()));
        let info = connection["pageInfo"].clone();
        assert_eq!(info["endCursor"], edges.last().map_or(Value::Null, |e| e["cursor"].clone()));
        infos.push(info.clone());
        if info["hasNextPage"] != true {
            return (ids, infos);
        }
        assert_eq!(edges.len(), size, "a page with a next page is full");
        after = info["endCursor"].clone();
        assert!(infos.len() < 50);
    }
}

/// Follows `last`/`before` back to the start; returns the ids in the connection's order.
async fn page_backwards(app: &TestApp, size: usize, mut before: Value) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    loop {
        let body = gql(
            app,
            &format!("query($before: String) {{ auditEvents(last: {size}, before: $before) {{ edges {{ cursor node {{ id }} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"),
            json!({"before": before}),
        )
        .await;
        no_errors(&body);
        let connection = &body["data"]["auditEvents"];
        let page: Vec<String> = connection["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(connection["pageInfo"]["hasNextPage"], !before.is_null());
        ids.splice(0..0, page);
        if connection["pageInfo"]["hasPreviousPage"] != true {
            return ids;
        }
        before = connection["pageInfo"]["startCursor"].clone();
        assert!(ids.len() < 1000);
    }
}

async fn paging_forwards_and_backwards(app: TestApp) {
    // Ties on the time exercise the id tiebreak.
    let at = |d| days_ago(d);
    let times = [at(1), at(2), at(2), at(3), at(3), at(3), at(4)];
    let events: Vec<AuditEvent> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            parse_event(&sample_event(&format!("p{i}"), t), || unreachable!(), || unreachable!()).unwrap()
        })
        .collect();
    app.insert(events).await;
    let expected = rest_ids(&app, "category eq 'Application'").await;
    assert_eq!(expected.len(), 7);

    let (forwards, infos) = page_forwards(&app, "", 3).await;
    assert_eq!(forwards, expected);
    assert_eq!(infos.len(), 3);
    assert_eq!(infos[0]["hasPreviousPage"], false);
    assert_eq!(infos[1]["hasPreviousPage"], true);

    // Backwards from the end gives the same sequence.
    assert_eq!(page_backwards(&app, 3, Value::Null).await, expected);
    // …and from any cursor, what lies before it.
    let body = gql(&app, "{ auditEvents(first: 4) { edges { cursor } } }", json!({})).await;
    let fourth = body["data"]["auditEvents"]["edges"][3]["cursor"].clone();
    assert_eq!(page_backwards(&app, 2, fourth).await, expected[..3]);

    // Ascending is the exact reverse (the id tiebreak flips with the last key).
    let (ascending, _) =
        page_forwards(&app, "orderBy: [{field: ACTIVITY_DATE_TIME, direction: ASC}],", 2).await;
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(ascending, reversed);
    let (by_id, _) = page_forwards(&app, "orderBy: [{field: ID, direction: DESC}],", 5).await;
    let mut ids = expected.clone();
    ids.sort();
    ids.reverse();
    assert_eq!(by_id, ids);

    // Refusals: too large, both directions, negative, a cursor of another query.
    let max = app.state.max_page_size;
    for (args, needle) in [
        (format!("first: {}", max + 1), "more than the largest page".to_string()),
        ("first: 2, last: 2".into(), "not both".into()),
        ("last: -1".into(), "must not be negative".into()),
        ("first: 2, after: \"garbage\"".into(), "not valid for this query".into()),
    ] {
        let body = gql(&app, &format!("{{ auditEvents({args}) {{ totalCount }} }}"), json!({})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{args}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(&needle), "{args}: {body}");
    }
    let body = gql(
        &app,
        r#"query($c: String) { auditEvents(filter: "category eq 'Device'", after: $c) { totalCount } }"#,
        json!({"c": fourth_cursor(&app).await}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

async fn fourth_cursor(app: &TestApp) -> Value {
    let body = gql(app, "{ auditEvents(first: 4) { edges { cursor } } }", json!({})).await;
    body["data"]["auditEvents"]["edges"][3]["cursor"].clone()
}

const CREATE: &str = "mutation($input: AuditEventInput!) { createAuditEvent(input: $input) { id activityDateTime displayName actor { auditActorType applicationId userPrincipalName ipAddress } resources { resourceId } } }";
const UPDATE: &str = "mutation($id: ID!, $input: AuditEventInput!) { updateAuditEvent(id: $id, input: $input) { id activityResult displayName actor { userPrincipalName ipAddress } resources { resourceId } } }";
const DELETE: &str = "mutation($id: ID!) { deleteAuditEvent(id: $id) }";

async fn mutations(app: TestApp) {
    // Without an actor, the caller is recorded (the writer app), as REST does.
    let body = gql(&app, CREATE, json!({"input": {"displayName": "Delete MobileApp", "category": "Application", "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52"}})).await;
    no_errors(&body);
    let created = &body["data"]["createAuditEvent"];
    let id = created["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(created["actor"]["auditActorType"], "Application");
    assert_eq!(created["actor"]["applicationId"], WRITER.0);
    let (status, rest) = app.get_json(&format!("{EVENTS}/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(rest["activityDateTime"], created["activityDateTime"]);

    // A whole event, as REST's body would carry it.
    let mut full = sample_event("m-1", &days_ago(1));
    full["actor"].as_object_mut().unwrap().retain(|_, v| !v.is_null());
    full.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    let body = gql(&app, CREATE, json!({"input": full})).await;
    no_errors(&body);
    assert_eq!(
        body["data"]["createAuditEvent"]["actor"]["userPrincipalName"],
        "it.admin@contoso.onmicrosoft.com"
    );
    assert_eq!(
        body["data"]["createAuditEvent"]["resources"][0]["resourceId"],
        "df07f17c-2d58-42d9-8491-31d1a6c2a0b5"
    );

    // The same validation and messages as REST.
    for input in [
        json!({"displayName": "no correlation"}),
        json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "id": ""}),
        json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "displayName": "x".repeat(5000)}),
    ] {
        let (status, rest) = app.post_json(EVENTS, &input).await;
        assert_eq!(status, 400, "{input}");
        let body = gql(&app, CREATE, json!({"input": input})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["message"], rest["error"]["message"]);
    }
    let body = gql(&app, CREATE, json!({"input": {"correlationId": "not-a-guid"}})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("is not an Edm.Guid"), "{body}");
    let body = gql(
        &app,
        CREATE,
        json!({"input": {"id": "m-1", "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52"}}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("already exists"), "{body}");

    // Update merges objects, replaces lists, and null clears (REST's PATCH).
    let body = gql(&app, UPDATE, json!({"id": "m-1", "input": {"actor": {"ipAddress": "10.0.0.7"}, "resources": [], "displayName": null, "activityResult": "Failure"}})).await;
    no_errors(&body);
    let updated = &body["data"]["updateAuditEvent"];
    assert_eq!(
        updated["actor"],
        json!({"userPrincipalName": "it.admin@contoso.onmicrosoft.com", "ipAddress": "10.0.0.7"})
    );
    assert_eq!(updated["resources"], json!([]));
    assert!(updated["displayName"].is_null());
    let (_, rest) = app.get_json(&format!("{EVENTS}/m-1")).await;
    assert_eq!(rest["activityResult"], "Failure");
    assert_eq!(rest["actor"]["ipAddress"], "10.0.0.7");
    assert!(rest["displayName"].is_null());
    let body = gql(&app, UPDATE, json!({"id": "m-1", "input": {"id": "other"}})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT");

    // Delete; then the event is gone for both doors.
    let body = gql(&app, DELETE, json!({"id": "m-1"})).await;
    no_errors(&body);
    assert_eq!(body["data"]["deleteAuditEvent"], "m-1");
    let (status, _) = app.get_json(&format!("{EVENTS}/m-1")).await;
    assert_eq!(status, 404);
    for (query, vars) in [(DELETE, json!({"id": "m-1"})), (UPDATE, json!({"id": "m-1", "input": {}}))] {
        let body = gql(&app, query, vars).await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
    }
    assert_eq!(app.count().await, 1);
}

async fn a_page_costs_a_constant_number_of_statements(app: TestApp) {
    let events: Vec<AuditEvent> = (0..60)
        .map(|i| {
            parse_event(
                &sample_event(&format!("s{i:02}"), &days_ago(1 + i % 9)),
                || unreachable!(),
                || unreachable!(),
            )
            .unwrap()
        })
        .collect();
    app.insert(events).await;
    let full = "id activityDateTime actor { userPrincipalName userPermissions } resources { resourceId modifiedProperties { displayName newValue } }";
    let statements = |app: &TestApp| app.state.store.statements_executed();

    let mut costs = Vec::new();
    for size in [5, 50] {
        let before = statements(&app);
        let body = gql(
            &app,
            &format!("{{ auditEvents(first: {size}) {{ totalCount edges {{ node {{ {full} }} }} }} }}"),
            json!({}),
        )
        .await;
        no_errors(&body);
        assert_eq!(body["data"]["auditEvents"]["edges"].as_array().unwrap().len(), size);
        costs.push(statements(&app) - before);
    }
    assert_eq!(costs[0], costs[1], "a page's statements do not grow with its size: {costs:?}");
    // The events, four child tables, the count.
    assert!(costs[1] <= 6, "{costs:?}");

    // Without child fields, no child reads.
    let before = statements(&app);
    no_errors(&gql(&app, "{ auditEvents(first: 50) { nodes { id } } }", json!({})).await);
    assert_eq!(statements(&app) - before, 1);

    // Many `auditEvent(id:)` fields share one batch.
    let mut costs = Vec::new();
    for n in [1, 8] {
        let fields: String =
            (0..n).map(|i| format!("e{i}: auditEvent(id: \"s{i:02}\") {{ {full} }} ")).collect();
        let before = statements(&app);
        no_errors(&gql(&app, &format!("{{ {fields} }}"), json!({})).await);
        costs.push(statements(&app) - before);
    }
    assert_eq!(costs[0], costs[1], "{costs:?}");
}

backend_tests!(
    queries_and_both_filter_styles,
    paging_forwards_and_backwards,
    mutations,
    a_page_costs_a_constant_number_of_statements
);

async fn sqlite() -> TestApp {
    TestApp::spawn(Backend::Sqlite, &[]).await.expect("SQLite is always available")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_carry_codes() {
    let app = sqlite().await;
    let events = "{ auditEvents { totalCount } }";
    let anonymous = client_with(None);
    let body = gql_as(&app, &anonymous, events, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    assert_eq!(body["errors"][0]["message"], "Access token is empty.");
    let body = gql_as(&app, &client_with(Some("not-a-jwt")), events, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");

    let noaccess = client_credentials(&reqwest::Client::new(), &app.address, NOACCESS).await;
    let body = gql_as(&app, &client_with(Some(&noaccess)), events, json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("DeviceManagementApps.Read.All"),
        "{body}"
    );

    // A reader reads, and may not write: nothing is stored.
    let reader = client_with(Some(&client_credentials(&reqwest::Client::new(), &app.address, READER).await));
    no_errors(&gql_as(&app, &reader, events, json!({})).await);
    let body = gql_as(
        &app,
        &reader,
        CREATE,
        json!({"input": {"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52"}}),
    )
    .await;
    assert_eq!(code(&body), "FORBIDDEN");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("DeviceManagementApps.ReadWrite.All"),
        "{body}"
    );
    assert_eq!(app.count().await, 0);

    // The schema is public: introspection needs no token.
    let body = gql_as(&app, &anonymous, "{ __schema { queryType { name } } __typename }", json!({})).await;
    no_errors(&body);
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");

    // With auth off, no token is needed.
    let open = TestApp::spawn(Backend::Sqlite, &["--auth", "off"]).await.unwrap();
    no_errors(&gql_as(&open, &anonymous, events, json!({})).await);
}

/// graphql-js's `getIntrospectionQuery()`, which GraphiQL sends.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_depth_complexity_and_size() {
    let app = sqlite().await;
    no_errors(&gql(&app, INTROSPECTION, json!({})).await);

    let mut deep = "name".to_string();
    for _ in 0..20 {
        deep = format!("ofType {{ {deep} }}");
    }
    let body = gql(&app, &format!("{{ __schema {{ types {{ {deep} }} }} }}"), json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("nested too deep"), "{body}");
    assert!(body["data"].is_null());

    let page = "auditEvents(first: 1000) { nodes { id displayName componentName activity activityDateTime activityType activityOperationType activityResult correlationId category actor { auditActorType userPermissions applicationId applicationDisplayName userPrincipalName servicePrincipalName ipAddress userId remoteTenantId remoteUserId } resources { displayName auditResourceType resourceId modifiedProperties { displayName oldValue newValue } } } }";
    no_errors(&gql(&app, &format!("{{ {page} }}"), json!({})).await);
    let body = gql(&app, &format!("{{ a: {page} b: {page} }}"), json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("too complex"), "{body}");

    // Syntax errors and unknown fields are the request's fault too.
    for query in ["{ auditEvents(", "{ auditEvents { nope } }"] {
        assert_eq!(code(&gql(&app, query, json!({})).await), "BAD_USER_INPUT", "{query}");
    }
    // Not JSON, or over the body limit: GraphQL's shape, with the HTTP status.
    let response = app.client.post(app.url("/graphql")).body("nope").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT");
    let huge = json!({"query": format!("{{ __typename }} #{}", "x".repeat(app.state.max_body_bytes))});
    let response = app.client.post(app.url("/graphql")).json(&huge).send().await.unwrap();
    assert_eq!(response.status(), 413);
}

/// A graphql-transport-ws connection to `/graphql`.
type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Socket {
    let mut request = app.url("/graphql").replacen("http", "ws", 1).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("websocket");
    assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-transport-ws");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

/// The next protocol message (text frames only).
async fn receive(socket: &mut Socket) -> Message {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

async fn receive_json(socket: &mut Socket) -> Value {
    match receive(socket).await {
        Message::Text(text) => serde_json::from_str(&text).expect("JSON message"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_deliver_events_from_every_door() {
    let app = sqlite().await;
    let reader = client_credentials(&reqwest::Client::new(), &app.address, READER).await;
    let mut socket = connect(&app).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {reader}")}}),
    )
    .await;
    assert_eq!(receive_json(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { auditEventCreated(filter: \"category eq 'Device'\") { id category activityDateTime } }"}}),
    )
    .await;
    let device = |id: &str| {
        let mut e = sample_event(id, &days_ago(1));
        e["category"] = json!("Device");
        e
    };
    // The subscription starts listening a moment after `subscribe`: probe until it
    // hears one, then read on to the newest probe, so none is left in flight.
    let mut listening = false;
    for attempt in 0..40 {
        let newest = format!("probe-{attempt}");
        app.insert(vec![parse_event(&device(&newest), || unreachable!(), || unreachable!()).unwrap()]).await;
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(500), socket.next()).await
        {
            let mut message: Value = serde_json::from_str(&text).unwrap();
            while message["payload"]["data"]["auditEventCreated"]["id"] != newest.as_str() {
                assert!(
                    message["payload"]["data"]["auditEventCreated"]["id"]
                        .as_str()
                        .unwrap()
                        .starts_with("probe-"),
                    "{message}"
                );
                message = receive_json(&mut socket).await;
            }
            listening = true;
            break;
        }
    }
    assert!(listening, "the subscription never delivered a probe");
    let (status, _) = app.post_json(EVENTS, &sample_event("not-device", &days_ago(1))).await;
    assert_eq!(status, 201);
    let (status, _) = app.post_json(EVENTS, &device("via-rest")).await;
    assert_eq!(status, 201);
    let mut input = device("via-graphql");
    input.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    input["actor"].as_object_mut().unwrap().retain(|_, v| !v.is_null());
    no_errors(&gql(&app, CREATE, json!({"input": input})).await);
    let imported = parse_event(&device("via-import"), || unreachable!(), || unreachable!()).unwrap();
    app.insert(vec![imported]).await;
    // Outside the retention window: never served, so never delivered.
    app.insert(vec![
        parse_event(&device("too-old"), || unreachable!(), || unreachable!())
            .map(|mut e| {
                e.activity_date_time -= chrono::Duration::days(400);
                e
            })
            .unwrap(),
    ])
    .await;

    for expected in ["via-rest", "via-graphql", "via-import"] {
        let message = receive_json(&mut socket).await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], "1");
        assert_eq!(message["payload"]["data"]["auditEventCreated"]["id"], expected, "{message}");
        assert_eq!(message["payload"]["data"]["auditEventCreated"]["category"], "Device");
    }
    send(&mut socket, json!({"id": "1", "type": "complete"})).await;
    socket.close(None).await.ok();

    // A bad filter is refused on subscribe, with REST's message.
    let mut socket = connect(&app).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {reader}")}}),
    )
    .await;
    assert_eq!(receive_json(&mut socket).await["type"], "connection_ack");
    send(&mut socket, json!({"id": "2", "type": "subscribe", "payload": {"query": "subscription { auditEventCreated(filter: \"nope eq 1\") { id } }"}})).await;
    let message = receive_json(&mut socket).await;
    assert_eq!(message["type"], "next", "{message}");
    let error = &message["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert!(error["message"].as_str().unwrap().starts_with("Invalid filter clause:"), "{message}");
    assert_eq!(receive_json(&mut socket).await["type"], "complete");
    // So is an invalid document (async-graphql answers `next` with errors, not `error`).
    send(&mut socket, json!({"id": "3", "type": "subscribe", "payload": {"query": "subscription { nope }"}}))
        .await;
    let message = receive_json(&mut socket).await;
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connection_init_needs_a_token() {
    let app = sqlite().await;
    let noaccess = client_credentials(&reqwest::Client::new(), &app.address, NOACCESS).await;
    for payload in [
        json!({}),
        json!({"Authorization": "Bearer not-a-jwt"}),
        json!({"Authorization": format!("Bearer {noaccess}")}),
    ] {
        let mut socket = connect(&app).await;
        send(&mut socket, json!({"type": "connection_init", "payload": payload})).await;
        match receive(&mut socket).await {
            Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4403, "{payload}: {frame:?}"),
            other => panic!("{payload}: expected a 4403 close, got {other:?}"),
        }
    }
}

/// `token` re-signed with the server's own key, expiring `seconds` from now.
fn expiring_in(app: &TestApp, token: &str, seconds: i64) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let part = |i: usize| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
    };
    let mut claims = part(1);
    claims["exp"] = json!(chrono::Utc::now().timestamp() + seconds);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.kid = part(0)["kid"].as_str().map(String::from);
    let pem = std::fs::read_to_string(app.data_dir().join("identity/signing-key.pem")).unwrap();
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_ends_when_its_token_expires() {
    let app = sqlite().await;
    let reader = client_credentials(&reqwest::Client::new(), &app.address, READER).await;
    let short_lived = expiring_in(&app, &reader, 3);
    let mut socket = connect(&app).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {short_lived}")}}),
    )
    .await;
    assert_eq!(receive_json(&mut socket).await["type"], "connection_ack");
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { auditEventCreated { id } }"}})).await;

    let expired = receive_json(&mut socket).await;
    assert_eq!(expired["type"], "next", "{expired}");
    assert_eq!(expired["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{expired}");
    assert!(expired["payload"]["errors"][0]["message"].as_str().unwrap().contains("expired"), "{expired}");
    assert_eq!(receive_json(&mut socket).await, json!({"id": "1", "type": "complete"}));
}

#[test]
fn the_schema_file_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/auditgraph.graphql");
    let exported = format!(
        "# The GraphQL contract of auditgraph's /graphql, exported from src/graphql.\n# A test fails when the code and this file differ; regenerate with\n#   AUDITGRAPH_UPDATE_SCHEMA=1 cargo test --test api graphql::the_schema_file_matches_the_code\n\n{}",
        auditgraph::graphql::sdl()
    );
    if std::env::var("AUDITGRAPH_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &exported).expect("write the schema file");
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == exported,
        "{} differs from the schema the code defines: review the change, then regenerate it with AUDITGRAPH_UPDATE_SCHEMA=1 cargo test --test api graphql::the_schema_file_matches_the_code",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explorer_page_and_assets_are_served_locally() {
    let app = sqlite().await;
    let page =
        reqwest::Client::new().get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    for src in [
        "/graphql/assets/graphiql.min.js",
        "/graphql/assets/graphiql.min.css",
        "/graphql/assets/react.production.min.js",
        "/graphql/assets/react-dom.production.min.js",
        "/graphql/assets/graphql-ws.min.js",
    ] {
        assert!(html.contains(src), "{src}");
        let asset = reqwest::Client::new().get(app.url(src)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{src}");
        assert!(asset.bytes().await.unwrap().len() > 5_000, "{src}");
    }
    // Every script and stylesheet comes from this server (or is inline data).
    for attribute in ["src=\"", "href=\""] {
        for value in html.split(attribute).skip(1) {
            assert!(
                value.starts_with('/') || value.starts_with("data:"),
                "{attribute}{}",
                &value[..value.len().min(60)]
            );
        }
    }
    let missing = reqwest::Client::new().get(app.url("/graphql/assets/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 400);
    // Not a browser, not a websocket: a GraphQL-shaped pointer to POST.
    let response = reqwest::Client::new().get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explorer_runs_a_query_in_an_offline_browser() {
    use fantoccini::Locator;

    let app = sqlite().await;
    seed_filter_events(&app).await;
    let token = client_credentials(&reqwest::Client::new(), &app.address, READER).await;
    let browser = Browser::launch().await;
    let c = &browser.client;
    c.goto(&app.url("/graphql")).await.expect("open the explorer");
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(".graphiql-query-editor .CodeMirror"))
        .await
        .expect("GraphiQL renders");

    // Type into GraphiQL's editors (CodeMirror keeps its instance on the element).
    let query =
        "{ auditEvents(where: { category: \"Device\" }, first: 10) { totalCount nodes { id category } } }";
    c.execute(
        r#"const editors = [...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror);
           const headers = editors.find(cm => cm.getValue().includes('Bearer <token>'));
           headers.setValue(JSON.stringify({Authorization: 'Bearer ' + arguments[0]}));"#,
        vec![json!(token)],
    )
    .await
    .expect("fill in the headers");
    // Clears the response pane, so a stale answer is never read as the new one.
    let run = |query: &'static str| async move {
        c.execute(
            r#"document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(arguments[0]);
               const r = document.querySelector('.graphiql-response .CodeMirror'); if (r) r.CodeMirror.setValue('');"#,
            vec![json!(query)],
        )
        .await
        .expect("fill in the query");
        c.find(Locator::Css(".graphiql-execute-button"))
            .await
            .expect("run button")
            .click()
            .await
            .expect("run");
    };
    let response = || async {
        let text = c
            .execute("const r = document.querySelector('.graphiql-response .CodeMirror'); return r ? r.CodeMirror.getValue() : '';", vec![])
            .await
            .expect("read the response");
        text.as_str().and_then(|t| serde_json::from_str::<Value>(t).ok()).unwrap_or(Value::Null)
    };
    // GraphiQL takes in edited headers a moment after the editor changes: until then
    // a run goes out with the placeholder token, so run again until it answers data.
    let mut result = Value::Null;
    for _ in 0..10 {
        run(query).await;
        for _ in 0..50 {
            result = response().await;
            if !result.is_null() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !result["data"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    browser.screenshot("graphql-explorer").await;
    assert_eq!(result["data"]["auditEvents"]["totalCount"], 3, "{result}");
    let ids: Vec<&str> = result["data"]["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e1", "e2", "e6"]);

    // Everything the page loaded came from this server.
    let loaded =
        c.execute("return performance.getEntriesByType('resource').map(e => e.name);", vec![]).await.unwrap();
    let loaded = loaded.as_array().unwrap();
    assert!(loaded.len() >= 5, "{loaded:?}");
    for url in loaded {
        assert!(url.as_str().unwrap().starts_with(&app.address), "loaded from elsewhere: {url}");
    }

    // A subscription through the page: the headers travel in connection_init, and an
    // event created through REST shows up in the response pane.
    run("subscription { auditEventCreated(where: { category: \"Device\" }) { id category } }").await;
    let mut delivered = Value::Null;
    for attempt in 0..40 {
        // Events keep coming until one arrives, so the test need not know when the
        // socket is ready.
        let mut body = sample_event(&format!("live-{attempt}"), &days_ago(1));
        body["category"] = json!("Device");
        let (status, _) = app.post_json(EVENTS, &body).await;
        assert_eq!(status, 201);
        tokio::time::sleep(Duration::from_millis(250)).await;
        delivered = response().await;
        if !delivered["data"]["auditEventCreated"].is_null() {
            break;
        }
    }
    browser.screenshot("graphql-explorer-subscription").await;
    assert_eq!(delivered["data"]["auditEventCreated"]["category"], "Device", "{delivered}");
    assert!(
        delivered["data"]["auditEventCreated"]["id"].as_str().unwrap().starts_with("live-"),
        "{delivered}"
    );
    browser.close().await;
}
