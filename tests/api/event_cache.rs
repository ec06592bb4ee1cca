//! The event cache never serves what changed: pages read (and so cached) before
//! an update, a delete, a delete of the newest event and a create, a reset or
//! another instance's write show the change on the next read, in both API
//! versions and with `$select`. An export reads through it without evicting
//! what pages are serving.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, days_ago, sample_event};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

async fn page(app: &TestApp, path: &str) -> Vec<Value> {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{body}");
    body["value"].as_array().unwrap().clone()
}

fn ids(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["id"].as_str().unwrap()).collect()
}

fn named<'a>(events: &'a [Value], id: &str) -> &'a Value {
    events.iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("{id} is not on the page"))
}

async fn post(app: &TestApp, id: &str) {
    let (status, body) = app.post_json(EVENTS, &sample_event(id, &days_ago(1))).await;
    assert_eq!(status, 201, "{body}");
}

async fn a_cached_page_never_serves_a_changed_event(app: TestApp) {
    for i in 0..6 {
        post(&app, &format!("c{i}")).await;
    }
    let listed = format!("{EVENTS}?$orderby=id");
    // Read twice: the second page comes from the cache.
    assert_eq!(page(&app, &listed).await, page(&app, &listed).await);

    // An update is seen by the page and by the entity read.
    let (status, body) = app.patch_json(&format!("{EVENTS}/c1"), &json!({"displayName": "renamed"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(named(&page(&app, &listed).await, "c1")["displayName"], "renamed");
    assert_eq!(app.get_json(&format!("{EVENTS}/c1")).await.1["displayName"], "renamed");

    // A deleted event is gone.
    let deleted = app.client.delete(app.url(&format!("{EVENTS}/c2"))).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(ids(&page(&app, &listed).await), ["c0", "c1", "c3", "c4", "c5"]);
    assert_eq!(app.get(&format!("{EVENTS}/c2")).await.status(), 404);

    // The newest event read, deleted, and another created: were the deleted
    // one's storage key used again, the page would show the deleted event.
    post(&app, "c6").await;
    assert_eq!(ids(&page(&app, &listed).await), ["c0", "c1", "c3", "c4", "c5", "c6"]);
    let deleted = app.client.delete(app.url(&format!("{EVENTS}/c6"))).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    post(&app, "c7").await;
    assert_eq!(ids(&page(&app, &listed).await), ["c0", "c1", "c3", "c4", "c5", "c7"]);

    // One cached event serves both versions and any selection, each in its shape.
    let beta = page(&app, "/beta/deviceManagement/auditEvents?$orderby=id").await;
    assert!(named(&beta, "c0")["actor"].get("type").is_some(), "beta has actor.type");
    assert!(named(&page(&app, &listed).await, "c0")["actor"].get("type").is_none(), "v1.0 has not");
    let selected = page(&app, &format!("{listed}&$select=id,displayName")).await;
    assert_eq!(named(&selected, "c1").as_object().unwrap().len(), 2, "{selected:?}");
    assert_eq!(named(&selected, "c1")["displayName"], "renamed");

    // A reset empties the store; events created after it are the only ones.
    let reset = reqwest::Client::new().post(app.url("/_auditgraph/reset")).send().await.unwrap();
    assert_eq!(reset.status(), 200);
    assert!(page(&app, &listed).await.is_empty());
    post(&app, "after-reset").await;
    assert_eq!(ids(&page(&app, &listed).await), ["after-reset"]);
}

/// With several instances on one database, an instance's cached page shows
/// what another changed: keys are never reused there, and a change is a new key.
async fn another_instance_sees_every_change(a: TestApp) {
    if a.backend == Backend::Sqlite {
        return;
    }
    let b = a.another_instance(&[]).await;
    for i in 0..4 {
        post(&a, &format!("x{i}")).await;
    }
    let listed = format!("{EVENTS}?$orderby=id");
    assert_eq!(ids(&page(&a, &listed).await), ["x0", "x1", "x2", "x3"]);
    assert_eq!(ids(&page(&b, &listed).await), ["x0", "x1", "x2", "x3"]);

    let (status, body) = b.patch_json(&format!("{EVENTS}/x1"), &json!({"displayName": "by b"})).await;
    assert_eq!(status, 200, "{body}");
    let deleted = b.client.delete(b.url(&format!("{EVENTS}/x3"))).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    post(&b, "x4").await;

    let seen = page(&a, &listed).await;
    assert_eq!(ids(&seen), ["x0", "x1", "x2", "x4"]);
    assert_eq!(named(&seen, "x1")["displayName"], "by b");
    assert_eq!(a.get_json(&format!("{EVENTS}/x1")).await.1["displayName"], "by b");
    assert_eq!(a.get(&format!("{EVENTS}/x3")).await.status(), 404);
}

backend_tests!(a_cached_page_never_serves_a_changed_event, another_instance_sees_every_change);

/// An export walks the whole log through the cache without keeping what it
/// reads: the events pages are serving stay cached (a page of them costs its
/// one keys statement before and after).
#[tokio::test]
async fn an_export_leaves_the_cached_events_in_place() {
    let app = TestApp::spawn(Backend::Sqlite, &["--event-cache", "20"]).await.expect("SQLite");
    let events = (0..100)
        .map(|i| {
            let body = sample_event(&format!("x{i:03}"), &days_ago(1 + i % 30));
            auditgraph::domain::graph::parse_event(&body, String::new, chrono::Utc::now).unwrap()
        })
        .collect();
    app.insert(events).await;
    let first = format!("{EVENTS}?$top=10");
    let served = page(&app, &first).await;
    let statements = || app.state.store.statements_executed();

    let before = statements();
    assert_eq!(page(&app, &first).await, served);
    assert_eq!(statements() - before, 1, "a cached page reads only its keys");

    let response = app.client.get(app.url("/auditlogs/export?format=ndjson")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap().lines().count(), 100);

    let before = statements();
    assert_eq!(page(&app, &first).await, served);
    assert_eq!(statements() - before, 1, "the export evicted the events the page serves");
}
