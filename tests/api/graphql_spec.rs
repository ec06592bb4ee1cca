//! GraphQL responses as the specification executes them, read as a
//! client reads them: the raw body of a real HTTP request, its members in the
//! order they were written (serde_json's `preserve_order`).
//!
//! - A nullable field that fails is `null` in `data` (not left out), and a
//!   non-null one nulls its parent (here `data` itself).
//! - Response members come in the query's order (aliases and fragments included),
//!   not in the order the resolvers finished.
//! - `__schema { description }` is the schema's description (it has none), not
//!   the text of the built-in `__Schema` type.
//! - A page's events (resolved in one walk of their selection set) answer as
//!   `auditEvent(id:)` (resolved by the derived types) does, for every field the
//!   schema has, however the selection is spelled.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{TestApp, seed_filter_events, sqlite};

/// The raw body of a GraphQL request, and that body parsed in its own order.
async fn raw(app: &TestApp, query: &str) -> (String, Value) {
    let response =
        app.client.post(app.url("/graphql")).json(&json!({"query": query})).send().await.expect("request");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).expect("JSON");
    (text, body)
}

/// The member names of an object, in the order the body wrote them.
fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap_or_else(|| panic!("an object: {value}")).keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_nullable_field_is_null_and_a_failed_non_null_one_nulls_data() {
    let app = sqlite(&[]).await;

    // The issue's case: `auditEvent` is there, null, beside what did not fail.
    let (text, body) = raw(&app, r#"{ auditEvent(id: "x") { id } auditCategories }"#).await;
    assert_eq!(keys(&body["data"]), ["auditEvent", "auditCategories"], "{text}");
    assert_eq!(body["data"]["auditEvent"], Value::Null, "{text}");
    assert_eq!(body["errors"][0]["path"], json!(["auditEvent"]), "{text}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{text}");

    // Alone, it is still `{"auditEvent": null}`, not `"data": null`.
    let (text, body) = raw(&app, r#"{ auditEvent(id: "x") { id } }"#).await;
    assert_eq!(body["data"], json!({"auditEvent": null}), "{text}");
    assert!(text.contains(r#""data":{"auditEvent":null}"#), "{text}");

    // Aliases: each failed one is null in its own place.
    let (text, body) =
        raw(&app, r#"{ b: auditEvent(id: "y") { id } a: auditCategories c: auditEvent(id: "z") { id } }"#)
            .await;
    assert_eq!(keys(&body["data"]), ["b", "a", "c"], "{text}");
    assert_eq!((&body["data"]["b"], &body["data"]["c"]), (&Value::Null, &Value::Null), "{text}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{text}");

    // `auditEvents` is `AuditEventConnection!`: its failure nulls its parent, `data`.
    let (text, body) =
        raw(&app, r#"{ auditCategories auditEvents(filter: "nope eq") { totalCount } }"#).await;
    assert_eq!(body["data"], Value::Null, "{text}");
    assert!(text.contains(r#""data":null"#), "{text}");
    assert_eq!(body["errors"][0]["path"], json!(["auditEvents"]), "{text}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{text}");
}

// On every backend: which resolver finishes first depends on the store.
backend_tests!(members_come_in_the_query_order);

async fn members_come_in_the_query_order(app: TestApp) {
    seed_filter_events(&app).await;

    // The issue's case: the count finishes last, and is written first.
    for _ in 0..5 {
        let (text, body) = raw(
            &app,
            "{ auditEvents(first: 2) { totalCount nodes { id category } pageInfo { endCursor hasNextPage } } }",
        )
        .await;
        let connection = &body["data"]["auditEvents"];
        assert_eq!(keys(connection), ["totalCount", "nodes", "pageInfo"], "{text}");
        assert_eq!(keys(&connection["nodes"][0]), ["id", "category"], "{text}");
        assert_eq!(keys(&connection["pageInfo"]), ["endCursor", "hasNextPage"], "{text}");
    }

    // Root aliases, and fragments (named and inline) expanded where they stand; a
    // response key selected twice keeps its first place.
    let (text, body) = raw(
        &app,
        r#"{
            b: auditEvents(first: 1) { totalCount }
            a: auditCategories
            ...F
            c: auditEvent(id: "e1") { id ... on AuditEvent { category } displayName }
            ... { e: __typename }
            a: auditCategories
        }
        fragment F on Query { d: auditActivityTypes(category: "Device") b: auditEvents(first: 1) { nodes { id } } }"#,
    )
    .await;
    assert!(body.get("errors").is_none(), "{text}");
    assert_eq!(keys(&body["data"]), ["b", "a", "d", "c", "e"], "{text}");
    // `b`'s two selections merge, in their order.
    assert_eq!(keys(&body["data"]["b"]), ["totalCount", "nodes"], "{text}");
    assert_eq!(keys(&body["data"]["c"]), ["id", "category", "displayName"], "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_description_is_the_schemas_own() {
    let app = sqlite(&[]).await;
    let (text, body) = raw(&app, "{ __schema { description queryType { name } } }").await;
    assert!(body.get("errors").is_none(), "{text}");
    // schema/auditgraph.graphql gives the schema no description.
    assert_eq!(
        body["data"],
        json!({"__schema": {"description": null, "queryType": {"name": "Query"}}}),
        "{text}"
    );
    assert_eq!(keys(&body["data"]["__schema"]), ["description", "queryType"], "{text}");
    // The built-in type keeps its own text where the spec puts it.
    let (text, body) = raw(&app, r#"{ __type(name: "__Schema") { description } }"#).await;
    assert!(
        body["data"]["__type"]["description"].as_str().unwrap().starts_with("A GraphQL Schema"),
        "{text}"
    );
}

/// A document is parsed once and kept by its text; each request still gets its
/// own variables, `@skip` included (async-graphql drops skipped selections from
/// the request's copy of the document, never from the kept one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_document_answers_each_requests_variables() {
    let app = sqlite(&[]).await;
    seed_filter_events(&app).await;
    let query = "query($skip: Boolean!, $n: Int) { auditEvents(first: $n) { totalCount @skip(if: $skip) nodes { id } } }";
    let mut answers = Vec::new();
    for (skip, n) in [(true, 1), (false, 2), (true, 3), (false, 1)] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({"query": query, "variables": {"skip": skip, "n": n}}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        let page = &body["data"]["auditEvents"];
        assert_eq!(page.get("totalCount").is_none(), skip, "{body}");
        assert_eq!(page["nodes"].as_array().unwrap().len(), n, "{body}");
        answers.push(page.clone());
    }
    assert_ne!(answers[0], answers[2]);
}

/// Every field of `type_name` and, below it, of the object types it holds, as a
/// selection set built from introspection (so a field added later is in it).
async fn whole_selection(app: &TestApp, type_name: &str) -> String {
    let query = format!(
        r#"{{ __type(name: "{type_name}") {{ fields {{ name type {{ kind name ofType {{ kind name ofType {{ kind name ofType {{ kind name }} }} }} }} }} }} }}"#
    );
    let (_, body) = raw(app, &query).await;
    let mut selection = Vec::new();
    for field in body["data"]["__type"]["fields"].as_array().expect("fields") {
        let mut ty = &field["type"];
        while ty["name"].is_null() {
            ty = &ty["ofType"];
        }
        let name = field["name"].as_str().unwrap();
        if ty["kind"] == "OBJECT" {
            let inner = Box::pin(whole_selection(app, ty["name"].as_str().unwrap())).await;
            selection.push(format!("{name} {inner}"));
        } else {
            selection.push(name.to_string());
        }
    }
    format!("{{ {} }}", selection.join(" "))
}

#[tokio::test]
async fn page_nodes_answer_as_single_events() {
    let app = sqlite(&[]).await;
    let sample = crate::helpers::sample_event("whole", &crate::helpers::days_ago(1));
    let mut event = auditgraph::domain::graph::parse_event(&sample, String::new, chrono::Utc::now)
        .expect("a valid event");
    // Every field holds a value, so a field the walk missed shows as a difference.
    event.activity = Some("Delete".into());
    let actor = event.actor.as_mut().unwrap();
    actor.service_principal_name = Some("spn".into());
    actor.ip_address = Some("203.0.113.7".into());
    actor.remote_tenant_id = Some("remote-tenant".into());
    actor.remote_user_id = Some("remote-user".into());
    actor.user_role_scope_tags = vec![auditgraph::domain::RoleScopeTagInfo {
        display_name: Some("Default".into()),
        role_scope_tag_id: Some("0".into()),
    }];
    event.resources[0].modified_properties[0].old_value = Some("Calculator".into());
    app.insert(vec![event]).await;

    let whole = whole_selection(&app, "AuditEvent").await;
    // The same selection spelled as clients spell it: a named fragment, aliases,
    // `__typename`, inline fragments with and without a type, one key asked twice
    // with parts of its object, and a skipped field.
    let fields = "...Whole first: id at: activityDateTime __typename ... on AuditEvent { actor { userId __typename } } \
         ... { actor { ipAddress } resources { modifiedProperties { oldValue } } } \
         skipped: category @skip(if: true) kept: category @include(if: true)";
    let query = format!(
        "{{ one: auditEvent(id: \"whole\") {{ {fields} }} \
           page: auditEvents(first: 5) {{ nodes {{ {fields} }} edges {{ node {{ {fields} }} }} }} }} \
         fragment Whole on AuditEvent {whole}"
    );
    let (text, body) = raw(&app, &query).await;
    assert!(body.get("errors").is_none(), "{text}");
    let one = &body["data"]["one"];
    assert_eq!(one["actor"]["remoteUserId"], "remote-user", "the whole selection was asked: {one}");
    for node in [&body["data"]["page"]["nodes"][0], &body["data"]["page"]["edges"][0]["node"]] {
        assert_eq!(node, one);
        // And in the same order, member by member, all the way down.
        assert_eq!(node.to_string(), one.to_string());
    }
    assert!(one.get("skipped").is_none() && one["kept"] == "Application", "{one}");

    // Over a WebSocket, where async-graphql writes the response, the same answer.
    use crate::graphql_subscriptions::{connect_as, receive_json, send};
    let reader =
        crate::helpers::client_credentials(&reqwest::Client::new(), &app.address, crate::helpers::READER)
            .await;
    let mut socket = connect_as(&app, &reader).await;
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {"query": query}})).await;
    let next = receive_json(&mut socket).await;
    assert_eq!(next["type"], "next", "{next}");
    for node in
        [&next["payload"]["data"]["page"]["nodes"][0], &next["payload"]["data"]["page"]["edges"][0]["node"]]
    {
        assert_eq!(node.to_string(), one.to_string());
    }
}
