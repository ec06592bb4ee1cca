//! Several instances on one database server behave as one: with data
//! directories of their own, they share the token-signing key, the paging key
//! and the development CA through the database, so a token, a nextLink or the
//! CA of one works on every other (SQLite is one process's file: not shared).

use crate::backend_tests;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, READER, TENANT, TestApp, client_credentials, days_ago, jwt_part, sample_event, tls,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

async fn instances_share_their_secrets(app: TestApp) {
    if app.backend == Backend::Sqlite {
        return;
    }
    let other = app.another_instance(&[]).await;
    for file in ["identity/signing-key.pem", "paging.key", "tls/ca.pem", "tls/ca-key.pem"] {
        let read = |dir: &std::path::Path| std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(read(app.data_dir()), read(other.data_dir()), "{file} differs");
    }
    // A token the first issued is accepted by the second.
    let response = app.client.get(other.url(EVENTS)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // A nextLink of the first, followed on the second.
    for i in 0..15 {
        assert_eq!(
            app.post_json(EVENTS, &sample_event(&format!("shared-{i:02}"), &days_ago(1))).await.0,
            201
        );
    }
    let (_, first) = app.get_json(&format!("{EVENTS}?$top=10&$orderby=id")).await;
    let link = first["@odata.nextLink"].as_str().unwrap().replacen(&app.address, &other.address, 1);
    let (status, rest) = other.get_json(link.strip_prefix(&other.address).unwrap()).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["value"].as_array().unwrap().len(), 5);
    // The second's https listener is trusted through the first's CA.
    let health = tls(&other.https_address, app.data_dir())
        .get(format!("{}/_auditgraph/health", other.https_address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// A GraphQL subscription held on one instance hears, in commit order, the
/// events written through another (PostgreSQL's NOTIFY carries the sequences).
async fn subscriptions_hear_other_instances(a: TestApp) {
    use crate::graphql_subscriptions::{connect_as, receive_json, send};
    use futures_util::StreamExt;
    use serde_json::json;
    use tokio_tungstenite::tungstenite::Message;

    if a.backend == Backend::Sqlite {
        return;
    }
    let b = a.another_instance(&[]).await;
    let reader =
        crate::helpers::client_credentials(&reqwest::Client::new(), &a.address, crate::helpers::READER).await;
    let mut socket = connect_as(&a, &reader).await;
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { auditEventCreated { id } }"}})).await;
    let created = |id: &str| sample_event(id, &days_ago(0));
    // The subscription listens a moment after `subscribe`: probe through B until A hears one.
    let mut heard = false;
    for attempt in 0..40 {
        let probe = format!("probe-{attempt}");
        assert_eq!(b.post_json(EVENTS, &created(&probe)).await.0, 201);
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(std::time::Duration::from_millis(500), socket.next()).await
        {
            let mut message: serde_json::Value = serde_json::from_str(&text).unwrap();
            while message["payload"]["data"]["auditEventCreated"]["id"] != probe.as_str() {
                message = receive_json(&mut socket).await;
            }
            heard = true;
            break;
        }
    }
    assert!(heard, "A's subscription never heard an event written through B");
    let written = ["via-b-1", "via-a", "via-b-2", "via-b-3"];
    for id in written {
        let through = if id == "via-a" { &a } else { &b };
        assert_eq!(through.post_json(EVENTS, &created(id)).await.0, 201);
    }
    let mut received = Vec::new();
    while received.len() < written.len() {
        let message = receive_json(&mut socket).await;
        received.push(message["payload"]["data"]["auditEventCreated"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(received, written, "every event once, in commit order");
}

/// `/_auditgraph/health` names the instance answering and the members alive.
async fn health_names_the_members(app: TestApp) {
    let health = |t: &TestApp| {
        let url = t.url("/_auditgraph/health");
        async move {
            reqwest::Client::new().get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap()
        }
    };
    let mine = health(&app).await["instance"].as_str().unwrap().to_string();
    let mut expected = vec![mine.clone()];
    let other = if app.backend == Backend::Sqlite {
        None
    } else {
        let other = app.another_instance(&[]).await;
        expected.push(health(&other).await["instance"].as_str().unwrap().to_string());
        Some(other)
    };
    let mut seen = Vec::new();
    for _ in 0..50 {
        let body = health(&app).await;
        assert_eq!(body["instance"], mine.as_str());
        seen = body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["instance"].as_str().unwrap().to_string())
            .collect();
        if expected.iter().all(|e| seen.contains(e)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(expected.iter().all(|e| seen.contains(e)), "members {seen:?}, expected {expected:?}");
    drop(other);
}

/// After a rotation a new key signs, on every instance (the others follow
/// within a poll), and tokens signed before still verify everywhere.
async fn a_rotated_key_signs_everywhere_and_earlier_tokens_still_verify(app: TestApp) {
    let shared = app.backend != Backend::Sqlite;
    let other = if shared { Some(app.another_instance(&[]).await) } else { None };
    let http = reqwest::Client::new();
    let before = client_credentials(&http, &app.address, READER).await;
    let old_kid = jwt_part(&before, 0)["kid"].as_str().unwrap().to_string();
    let rotated: Value =
        http.post(app.url("/_auditgraph/identity/keys/rotate")).send().await.unwrap().json().await.unwrap();
    let kid = rotated["kid"].as_str().unwrap().to_string();
    assert_ne!(kid, old_kid);
    assert_eq!(rotated["kids"], json!([kid, old_kid]), "the new key first, the replaced one kept");
    let jwks: Value = http
        .get(app.url(&format!("/{TENANT}/discovery/v2.0/keys")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let published: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(published, [kid.as_str(), old_kid.as_str()]);
    let after = client_credentials(&http, &app.address, READER).await;
    assert_eq!(jwt_part(&after, 0)["kid"], kid.as_str());
    let status = |base: String, token: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}{EVENTS}")).bearer_auth(token).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(status(app.address.clone(), before.clone()).await, 200, "a token from before the rotation");
    assert_eq!(status(app.address.clone(), after.clone()).await, 200);
    let keys = std::fs::read_to_string(app.data_dir().join("identity/signing-key.pem")).unwrap();
    assert_eq!(keys.matches("BEGIN PRIVATE KEY").count(), 2, "the key file keeps the history");
    let Some(other) = other else { return };
    // The other instance takes the rotation within a poll: it accepts the new key's tokens and signs with it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while status(other.address.clone(), after.clone()).await != 200 {
        assert!(std::time::Instant::now() < deadline, "the other instance never trusted the rotated key");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status(other.address.clone(), before.clone()).await, 200);
    let from_other = client_credentials(&http, &other.address, READER).await;
    assert_eq!(jwt_part(&from_other, 0)["kid"], kid.as_str());
    assert_eq!(status(app.address.clone(), from_other).await, 200);
    // An instance that starts later signs with the rotated key too.
    let late = app.another_instance(&[]).await;
    let from_late = client_credentials(&http, &late.address, READER).await;
    assert_eq!(jwt_part(&from_late, 0)["kid"], kid.as_str());
    assert_eq!(status(late.address.clone(), before).await, 200);
}

/// Opens `auditEventFeed` (after `after`, if given) on `app` as the reader app.
async fn open_feed(app: &TestApp, after: Option<&str>) -> crate::graphql_subscriptions::Socket {
    use crate::graphql_subscriptions::{connect_as, send};
    let reader = client_credentials(&reqwest::Client::new(), &app.address, READER).await;
    let mut socket = connect_as(app, &reader).await;
    let query = "subscription($after: String) { auditEventFeed(after: $after) { cursor event { id } } }";
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"after": after}}}),
    )
    .await;
    socket
}

/// The next `n` (id, cursor) pairs of a feed.
async fn next_items(socket: &mut crate::graphql_subscriptions::Socket, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while out.len() < n {
        let message = crate::graphql_subscriptions::receive_json(socket).await;
        let item = &message["payload"]["data"]["auditEventFeed"];
        assert!(item.is_object(), "{message}");
        out.push((
            item["event"]["id"].as_str().unwrap().to_string(),
            item["cursor"].as_str().unwrap().to_string(),
        ));
    }
    out
}

/// A feed subscriber that reconnects, to the same instance or another, with
/// the last cursor it received gets every event committed since, once, in
/// commit order, and then the live ones; concurrent writers on two instances
/// land in one order that a replay from the start repeats.
async fn a_feed_resumes_after_its_cursor_on_any_instance(a: TestApp) {
    let b = if a.backend == Backend::Sqlite { None } else { Some(a.another_instance(&[]).await) };
    let b_ref = b.as_ref().unwrap_or(&a);
    let post = |app: &TestApp, id: &str| {
        let (client, url, body) = (app.client.clone(), app.url(EVENTS), sample_event(id, &days_ago(0)));
        async move { assert_eq!(client.post(url).json(&body).send().await.unwrap().status(), 201) }
    };
    for id in ["first-1", "first-2", "first-3"] {
        post(b_ref, id).await;
    }
    let mut feed = open_feed(&a, Some("0")).await;
    let first = next_items(&mut feed, 3).await;
    let ids: Vec<&str> = first.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["first-1", "first-2", "first-3"]);
    drop(feed);
    // Written while nobody listens, through both instances.
    post(&a, "gap-1").await;
    post(b_ref, "gap-2").await;
    let mut resumed = open_feed(b_ref, Some(&first[2].1)).await;
    let gap: Vec<String> = next_items(&mut resumed, 2).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(gap, ["gap-1", "gap-2"], "nothing missed, nothing twice");
    // Then live, with concurrent writers on both instances.
    let writers: Vec<_> = (0..10)
        .map(|i| {
            let app = if i % 2 == 0 { &a } else { b_ref };
            post(app, &format!("live-{i}"))
        })
        .collect();
    futures_util::future::join_all(writers).await;
    let live = next_items(&mut resumed, 10).await;
    let mut seen: Vec<&str> = live.iter().map(|(id, _)| id.as_str()).collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..10)
            .map(|i| format!("live-{i}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    // A replay from the start gives the same commit order the live feed gave.
    let mut replay = open_feed(&a, Some("0")).await;
    let all = next_items(&mut replay, 15).await;
    assert_eq!(&all[5..], &live[..], "live and replayed order agree");
    let cursors: Vec<i64> = all.iter().map(|(_, c)| c.parse().unwrap()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    // A cursor that is not one is refused in GraphQL's terms.
    let mut bad = open_feed(&a, Some("yesterday")).await;
    let message = crate::graphql_subscriptions::receive_json(&mut bad).await;
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{message}");
    assert_eq!(message["payload"]["data"], Value::Null, "{message}");
}

backend_tests!(
    a_feed_resumes_after_its_cursor_on_any_instance,
    instances_share_their_secrets,
    health_names_the_members,
    subscriptions_hear_other_instances,
    a_rotated_key_signs_everywhere_and_earlier_tokens_still_verify,
);

/// A frozen clock, a fault rule and a reset set through one instance take
/// effect on the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_apply_to_every_instance() {
    use serde_json::{Value, json};
    let Some(a) = TestApp::spawn(Backend::Postgres, &[]).await else { return };
    let b = a.another_instance(&[]).await;
    let admin = |t: &TestApp, method: &str, path: &str, body: Option<Value>| {
        let mut request = reqwest::Client::new().request(method.parse().unwrap(), t.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (
                status,
                if text.is_empty() { Value::Null } else { serde_json::from_str::<Value>(&text).unwrap() },
            )
        }
    };
    // Poll `check` on B until it holds (a poll is 0.5 s).
    async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
        for _ in 0..60 {
            if check().await {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{what} never took effect on the other instance");
    }
    let frozen = "2026-03-04T09:15:02Z";
    assert_eq!(admin(&a, "POST", "/_auditgraph/clock", Some(json!({"freezeAt": frozen}))).await.0, 200);
    eventually("the frozen clock", || async {
        admin(&b, "GET", "/_auditgraph/clock", None).await.1["mode"] == "frozen"
    })
    .await;
    let (_, clock) = admin(&b, "GET", "/_auditgraph/clock", None).await;
    assert!(clock["now"].as_str().unwrap().starts_with("2026-03-04T09:15:02"), "{clock}");

    let rule = json!({"rules": [{"method": "GET", "path": EVENTS, "fault": "status", "status": 503}]});
    assert_eq!(admin(&a, "PUT", "/_auditgraph/faults", Some(rule)).await.0, 200);
    eventually("the fault rule", || async { b.get(EVENTS).await.status() == 503 }).await;
    assert_eq!(admin(&a, "DELETE", "/_auditgraph/faults", None).await.0, 204);
    eventually("clearing the rules", || async { b.get(EVENTS).await.status() == 200 }).await;

    // A reset through A empties B's journal too, of the requests that came
    // before it: one B serves just after it, before B hears of it, stays.
    assert!(!admin(&b, "GET", "/_auditgraph/requests", None).await.1["value"].as_array().unwrap().is_empty());
    assert_eq!(admin(&a, "POST", "/_auditgraph/reset", None).await.0, 200);
    assert_eq!(b.get(&format!("{EVENTS}?$top=3")).await.status(), 200);
    eventually("the reset", || async {
        let journal = admin(&b, "GET", "/_auditgraph/requests", None).await.1;
        let queries: Vec<&str> =
            journal["value"].as_array().unwrap().iter().map(|e| e["query"].as_str().unwrap()).collect();
        queries == ["$top=3"]
    })
    .await;
}

/// With a shared limiter (`--redis-url`), Intune's limits hold across the
/// cluster: the reads one app may make in a window are admitted once between
/// the instances, and the next is a 429 whichever instance it reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_cluster_wide_with_redis() {
    let Some(redis_url) = std::env::var("AUDITGRAPH_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        return;
    };
    // Empty the limiter's windows of earlier runs.
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg("auditgraph:throttle:*").query_async(&mut connection).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut connection).await.unwrap();
    }
    // Intune's 1,000 reads per app per 20 s, scaled to 10.
    let flags = ["--redis-url", redis_url.as_str(), "--throttle-scale", "0.01"];
    let Some(a) = TestApp::spawn(Backend::Postgres, &flags).await else { return };
    let b = a.another_instance(&flags).await;
    let reader =
        crate::helpers::client_credentials(&reqwest::Client::new(), &a.address, crate::helpers::READER).await;
    let get = |t: &TestApp| {
        let request = reqwest::Client::new().get(t.url(EVENTS)).bearer_auth(&reader);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    for i in 0..10 {
        let through = if i % 2 == 0 { &a } else { &b };
        assert_eq!(get(through).await, 200, "read {i} of 10 in the window");
    }
    assert_eq!(get(&a).await, 429, "the 11th read through A");
    assert_eq!(get(&b).await, 429, "the 11th read through B");
}

/// Without Redis, a shared database is the limiter: the same windows, once
/// across the instances (PostgreSQL and MariaDB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_cluster_wide_with_the_database() {
    for backend in [Backend::Postgres, Backend::MySql] {
        // Intune's 1,000 reads per app per 20 s, scaled to 10.
        let flags = ["--throttle-scale", "0.01"];
        let Some(a) = TestApp::spawn(backend, &flags).await else { continue };
        let b = a.another_instance(&flags).await;
        let reader =
            crate::helpers::client_credentials(&reqwest::Client::new(), &a.address, crate::helpers::READER)
                .await;
        let get = |t: &TestApp| {
            let request = reqwest::Client::new().get(t.url(EVENTS)).bearer_auth(&reader);
            async move { request.send().await.unwrap() }
        };
        for i in 0..10 {
            let through = if i % 2 == 0 { &a } else { &b };
            assert_eq!(get(through).await.status(), 200, "{backend:?}: read {i} of 10 in the window");
        }
        for through in [&a, &b] {
            let refused = get(through).await;
            assert_eq!(refused.status(), 429, "{backend:?}: the 11th read");
            let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=20).contains(&wait), "{backend:?}: Retry-After {wait}");
        }
        // Another app has windows of its own.
        let writer =
            crate::helpers::client_credentials(&reqwest::Client::new(), &a.address, crate::helpers::WRITER)
                .await;
        let other = reqwest::Client::new().get(b.url(EVENTS)).bearer_auth(writer).send().await.unwrap();
        assert_eq!(other.status(), 200, "{backend:?}");
    }
}

/// A shared limiter that is down fails open to this process's own windows:
/// reads are still admitted up to the limit, then refused, never a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_falls_back_to_the_process_when_redis_is_down() {
    let flags = ["--redis-url", "redis://127.0.0.1:1", "--throttle-scale", "0.01"];
    let app = TestApp::spawn(Backend::Sqlite, &flags).await.unwrap();
    let reader =
        crate::helpers::client_credentials(&reqwest::Client::new(), &app.address, crate::helpers::READER)
            .await;
    let get = || reqwest::Client::new().get(app.url(EVENTS)).bearer_auth(&reader).send();
    for i in 0..10 {
        assert_eq!(get().await.unwrap().status(), 200, "read {i} of 10");
    }
    assert_eq!(get().await.unwrap().status(), 429);
    // The journal's only scope is the cluster.
    let response =
        reqwest::Client::new().get(app.url("/_auditgraph/requests?scope=galaxy")).send().await.unwrap();
    assert_eq!(response.status(), 400);
}
