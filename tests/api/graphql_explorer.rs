//! The GraphQL explorer (GraphiQL): served from the binary with its assets, and
//! running a query and a subscription in a headless Chromium that can reach
//! nothing but loopback.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{READER, client_credentials, days_ago, sample_event, seed_filter_events, sqlite};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explorer_page_and_assets_are_served_locally() {
    let app = sqlite(&[]).await;
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

    let app = sqlite(&[]).await;
    seed_filter_events(&app).await;
    let token = client_credentials(&reqwest::Client::new(), &app.address, READER).await;
    let browser = Browser::launch().await;
    let c = &browser.client;
    c.goto(&app.url("/graphql")).await.expect("open the explorer");
    // Signed in on the admin page in this tab (its sessionStorage session): the
    // explorer's headers carry that token, with nothing to type.
    c.execute(
        "sessionStorage.setItem('auditgraph.session', JSON.stringify({accessToken: arguments[0], expiresAt: Date.now() + 3600000}));",
        vec![json!(token)],
    )
    .await
    .expect("store the session");
    c.refresh().await.expect("reload the explorer");
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(".graphiql-query-editor .CodeMirror"))
        .await
        .expect("GraphiQL renders");
    let editors = c
        .execute(
            "return [...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror.getValue());",
            vec![],
        )
        .await
        .expect("read the editors");
    let editors: Vec<&str> = editors.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        editors.iter().any(|e| e.contains(&format!("Bearer {token}"))),
        "the headers carry the session's token: {editors:?}"
    );
    assert!(!editors.iter().any(|e| e.contains("<token>")), "no placeholder token: {editors:?}");

    let query =
        "{ auditEvents(where: { category: \"Device\" }, first: 10) { totalCount nodes { id category } } }";
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
    // Run again until it answers data (GraphiQL may still be settling).
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
