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
