//! The GraphQL door end to end: queries with both filter styles (held to the REST
//! answers), Relay paging forwards and backwards, mutations through the one write
//! path, auth, limits, the statement count of a page and the SDL contract file.
//! Subscriptions are in `graphql_subscriptions`, the explorer in `graphql_explorer`.

use auditgraph::domain::AuditEvent;
use auditgraph::domain::graph::parse_event;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{
    Backend, CREATE, NOACCESS, READER, TestApp, WRITER, client_credentials, days_ago, gql, gql_as, no_errors,
    sample_event, seed_filter_events, sqlite,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

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
        json!({"displayName": "null correlation", "correlationId": null}),
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
    // The keys, the events not yet cached, four child tables, the count.
    assert!(costs[1] <= 7, "{costs:?}");

    // Events read before come from the event cache: only their keys are read.
    let before = statements(&app);
    no_errors(&gql(&app, &format!("{{ auditEvents(first: 50) {{ nodes {{ {full} }} }} }}"), json!({})).await);
    assert_eq!(statements(&app) - before, 1);

    // Many `auditEvent(id:)` fields share one batch: the keys, then those not
    // cached and their four child tables, at most (one read each would be 8+).
    let mut costs = Vec::new();
    for n in [1, 8] {
        let fields: String =
            (0..n).map(|i| format!("e{i}: auditEvent(id: \"s{i:02}\") {{ {full} }} ")).collect();
        let before = statements(&app);
        no_errors(&gql(&app, &format!("{{ {fields} }}"), json!({})).await);
        costs.push(statements(&app) - before);
    }
    assert!(costs.iter().all(|&cost| cost <= 6), "{costs:?}");
}

backend_tests!(
    queries_and_both_filter_styles,
    paging_forwards_and_backwards,
    mutations,
    a_page_costs_a_constant_number_of_statements
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_carry_codes() {
    let app = sqlite(&[]).await;
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
    let app = sqlite(&[]).await;
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
