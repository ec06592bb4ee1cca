//! Create, read, update, delete: status codes, defaults, merge semantics, and
//! that a refused write changes nothing.

use serde_json::{Value, json};

use crate::backend_tests;
use sea_orm::ConnectionTrait;

use crate::helpers::{Backend, TestApp, days_ago, sample_event};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

async fn create_get_patch_delete(app: TestApp) {
    // Create without id and time: both are assigned.
    let mut body = sample_event("ignored", &days_ago(1));
    let obj = body.as_object_mut().unwrap();
    obj.remove("id");
    obj.remove("activityDateTime");
    let before = chrono::Utc::now();
    let response = app.client.post(app.url(EVENTS)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "assigned id is a GUID: {id}");
    assert_eq!(location, app.url(&format!("{EVENTS}/{id}")));
    let at = chrono::DateTime::parse_from_rfc3339(created["activityDateTime"].as_str().unwrap()).unwrap();
    assert!((at.with_timezone(&chrono::Utc) - before).num_seconds().abs() < 60);

    let (status, fetched) = app.get_json(&format!("{EVENTS}/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["displayName"], "Delete application.");
    // OData key syntax reaches the same entity.
    let (status, _) = app.get_json(&format!("{EVENTS}('{id}')")).await;
    assert_eq!(status, 200);

    // PATCH merges: the actor keeps its other fields; resources are replaced whole.
    let (status, patched) = app
        .patch_json(
            &format!("{EVENTS}/{id}"),
            &json!({"activityResult": "Failure", "actor": {"ipAddress": "10.0.0.7"}, "resources": []}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["activityResult"], "Failure");
    assert_eq!(patched["actor"]["ipAddress"], "10.0.0.7");
    assert_eq!(patched["actor"]["userPrincipalName"], "it.admin@contoso.onmicrosoft.com");
    assert_eq!(patched["resources"], json!([]));
    assert_eq!(patched["activityDateTime"], created["activityDateTime"]);
    let (_, fetched) = app.get_json(&format!("{EVENTS}/{id}")).await;
    assert_eq!(fetched["actor"]["ipAddress"], "10.0.0.7");
    assert_eq!(fetched["resources"], json!([]));
    assert_eq!(app.child_rows().await, 1, "the replaced resources and properties are gone");
    // The older docs' `actor.type` spelling patches auditActorType.
    let (status, patched) =
        app.patch_json(&format!("{EVENTS}/{id}"), &json!({"actor": {"type": "Partner"}})).await;
    assert_eq!(status, 200);
    assert_eq!(patched["actor"]["auditActorType"], "Partner");
    assert_eq!(patched["actor"]["ipAddress"], "10.0.0.7");

    let response = app.client.delete(app.url(&format!("{EVENTS}/{id}"))).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    let (status, error) = app.get_json(&format!("{EVENTS}/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "ResourceNotFound");
    let nested: Value =
        serde_json::from_str(error["error"]["message"].as_str().unwrap()).expect("Intune _version 3 message");
    assert_eq!(nested["_version"], 3);
    let response = app.client.delete(app.url(&format!("{EVENTS}/{id}"))).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(app.count().await, 0);
    assert_eq!(app.child_rows().await, 0, "the actor went with its event");
}

async fn refused_writes_change_nothing(app: TestApp) {
    let (status, _) = app.post_json(EVENTS, &sample_event("keep", &days_ago(1))).await;
    assert_eq!(status, 201);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "createdDateTime": "x"}),
            "'createdDateTime' does not exist on type 'microsoft.graph.auditEvent'",
        ),
        (
            json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "actor": {"nickname": "x"}}),
            "'nickname' does not exist on type 'microsoft.graph.auditActor'",
        ),
        (
            json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "resources": [{"modifiedProperties": [{"bogus": 1}]}]}),
            "'bogus' does not exist on type 'microsoft.graph.auditProperty'",
        ),
        (json!({"displayName": "null correlation", "correlationId": null}), "'correlationId' cannot be null"),
        (json!({"correlationId": "not-a-guid"}), "is not an Edm.Guid"),
        (
            json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "activityDateTime": "yesterday"}),
            "is not an Edm.DateTimeOffset",
        ),
        (
            json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "category": 7}),
            "'category': expected an Edm.String, found a number",
        ),
        (
            json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "resources": {"a": 1}}),
            "'resources': expected a collection",
        ),
        (
            json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "displayName": "x".repeat(401)}),
            "longer than the limit of 400",
        ),
        (json!([1, 2]), "must be a JSON object"),
    ];
    for (body, message) in cases {
        let (status, error) = app.post_json(EVENTS, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["error"]["code"], "BadRequest");
        let text = error["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{text} should contain {message}");
    }
    // Malformed JSON.
    let response = app
        .client
        .post(app.url(EVENTS))
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().starts_with("Unable to read JSON request payload"));
    // Oversized body.
    let huge =
        json!({"correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52", "displayName": "x".repeat(2 << 20)});
    let (status, error) = app.post_json(EVENTS, &huge).await;
    assert_eq!(status, 413);
    assert_eq!(error["error"]["code"], "RequestEntityTooLarge");
    // An id that exists.
    let (status, error) = app.post_json(EVENTS, &sample_event("keep", &days_ago(2))).await;
    assert_eq!(status, 409);
    assert_eq!(error["error"]["code"], "Conflict");
    // PATCH with a bad value or a changed id.
    let (status, _) = app.patch_json(&format!("{EVENTS}/keep"), &json!({"activityDateTime": null})).await;
    assert_eq!(status, 400);
    let (status, _) = app.patch_json(&format!("{EVENTS}/keep"), &json!({"id": "other"})).await;
    assert_eq!(status, 400);
    let (status, _) = app.patch_json(&format!("{EVENTS}/missing"), &json!({"category": "Role"})).await;
    assert_eq!(status, 404);

    assert_eq!(app.count().await, 1);
    let (_, kept) = app.get_json(&format!("{EVENTS}/keep")).await;
    assert_eq!(kept, {
        let mut expected = sample_event("keep", kept["activityDateTime"].as_str().unwrap());
        expected.as_object_mut().unwrap().insert(
            "@odata.context".into(),
            json!(format!("{}/v1.0/$metadata#deviceManagement/auditEvents/$entity", app.address)),
        );
        expected
    });
}

async fn writes_are_all_or_nothing(app: TestApp) {
    // A batch the database refuses half-way (an id longer than its column) is
    // refused whole.
    if app.backend == Backend::Sqlite {
        // SQLite does not enforce VARCHAR lengths: a trigger refuses the long id.
        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        db.execute_unprepared(
            "CREATE TRIGGER refuse_long_ids BEFORE INSERT ON audit_events WHEN length(NEW.id) > 256 \
             BEGIN SELECT RAISE(ABORT, 'id too long'); END",
        )
        .await
        .unwrap();
        db.close().await.unwrap();
    }
    let good = auditgraph::domain::graph::parse_event(
        &sample_event("batch-ok", &days_ago(1)),
        String::new,
        chrono::Utc::now,
    )
    .unwrap();
    let mut bad = good.clone();
    bad.id = "x".repeat(300);
    let result = app.state.recorder.create_batch(vec![good.clone(), bad]).await;
    assert!(result.is_err(), "{:?}", app.backend);
    assert_eq!(app.count().await, 0, "nothing half-written");
    assert_eq!(app.child_rows().await, 0, "nothing half-written");
    // A batch dropped before its commit leaves nothing either.
    let mut batch = app.state.recorder.bulk_create().await.unwrap();
    assert_eq!(batch.add(vec![good]).await.unwrap().inserted, 1);
    drop(batch);
    assert_eq!(app.count().await, 0, "an uncommitted batch was kept");
    // A repeated id within one batch is stored once and reported as existing.
    let event = auditgraph::domain::graph::parse_event(
        &sample_event("twice", &days_ago(1)),
        String::new,
        chrono::Utc::now,
    )
    .unwrap();
    let outcome = app.state.recorder.create_batch(vec![event.clone(), event.clone()]).await.unwrap();
    assert_eq!((outcome.inserted, outcome.existing), (1, 1));
    // A stored event ahead of a new one: the new one is stored whole, with its own children.
    let mut third = auditgraph::domain::graph::parse_event(
        &sample_event("third", &days_ago(1)),
        String::new,
        chrono::Utc::now,
    )
    .unwrap();
    third.resources[0].display_name = Some("third's target".into());
    third.actor.as_mut().unwrap().user_permissions = vec!["Microsoft.Intune_Audit_Read".into(), "*".into()];
    let outcome = app.state.recorder.create_batch(vec![event, third]).await.unwrap();
    assert_eq!((outcome.inserted, outcome.existing), (1, 1));
    let (_, got) = app.get_json(&format!("{EVENTS}/third")).await;
    assert_eq!(got["resources"][0]["displayName"], "third's target");
    assert_eq!(got["resources"][0]["modifiedProperties"].as_array().unwrap().len(), 1);
    assert_eq!(got["actor"]["userPermissions"], serde_json::json!(["Microsoft.Intune_Audit_Read", "*"]));
    let (_, twice) = app.get_json(&format!("{EVENTS}/twice")).await;
    assert_ne!(twice["resources"][0]["displayName"], "third's target");
    let events = app.count().await as i64;
    assert_eq!(app.child_rows().await, 3 * events, "an actor, a resource and a property each");
}

backend_tests!(create_get_patch_delete, refused_writes_change_nothing, writes_are_all_or_nothing);
