//! CORS for browser apps on another origin: preflights answered before
//! authentication, the headers clients read exposed, an allow-list honoured,
//! and never for the admin API.

use reqwest::Method;

use crate::helpers::{sample_event, sqlite};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";
const ORIGIN: &str = "http://localhost:3000";

async fn preflight(app: &crate::helpers::TestApp, path: &str, origin: &str) -> reqwest::Response {
    // No token: a browser sends none with a preflight.
    reqwest::Client::new()
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type, client-request-id")
        .send()
        .await
        .unwrap()
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn browser_apps_on_any_origin_may_call_graph_graphql_and_identity() {
    let app = sqlite(&[]).await;
    for path in [EVENTS, "/graphql", "/7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001/oauth2/v2.0/token"] {
        let response = preflight(&app, path, ORIGIN).await;
        assert_eq!(response.status(), 204, "{path}");
        assert_eq!(header(&response, "access-control-allow-origin"), Some(ORIGIN), "{path}");
        assert!(header(&response, "access-control-allow-methods").unwrap().contains("POST"), "{path}");
        assert_eq!(
            header(&response, "access-control-allow-headers"),
            Some("authorization, content-type, client-request-id"),
            "{path}"
        );
    }

    // The actual request: answered as usual, readable by the page.
    let created = app
        .client
        .post(app.url(EVENTS))
        .header("Origin", ORIGIN)
        .json(&sample_event("cors-1", &crate::helpers::days_ago(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "access-control-allow-origin"), Some(ORIGIN));
    let exposed = header(&created, "access-control-expose-headers").unwrap().to_ascii_lowercase();
    for name in ["request-id", "client-request-id", "location", "retry-after"] {
        assert!(exposed.contains(name), "{name} is not exposed: {exposed}");
    }
    // An error is readable too (a page must see Graph's 401 to sign in again).
    let refused = reqwest::Client::new().get(app.url(EVENTS)).header("Origin", ORIGIN).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(header(&refused, "access-control-allow-origin"), Some(ORIGIN));
}

#[tokio::test]
async fn the_admin_api_never_answers_cors() {
    let app = sqlite(&[]).await;
    let (status, _) = app.post_json(EVENTS, &sample_event("kept", &crate::helpers::days_ago(1))).await;
    assert_eq!(status, 201);
    let response = preflight(&app, "/_auditgraph/reset", ORIGIN).await;
    assert_eq!(response.headers().get("access-control-allow-origin"), None);
    assert_ne!(response.status(), 204);
    let health = reqwest::Client::new()
        .get(app.url("/_auditgraph/health"))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.headers().get("access-control-allow-origin"), None);
    // The preflight reset nothing: it never reached the admin API as a reset.
    assert_eq!(app.count().await, 1);
}

#[tokio::test]
async fn an_allow_list_leaves_other_origins_out() {
    let app = sqlite(&["--cors-origin", "https://dashboard.example, http://localhost:3000"]).await;
    let allowed = preflight(&app, EVENTS, ORIGIN).await;
    assert_eq!(allowed.status(), 204);
    assert_eq!(header(&allowed, "access-control-allow-origin"), Some(ORIGIN));
    let other = preflight(&app, EVENTS, "https://elsewhere.example").await;
    assert_eq!(other.headers().get("access-control-allow-origin"), None);
    let read =
        app.client.get(app.url(EVENTS)).header("Origin", "https://elsewhere.example").send().await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers().get("access-control-allow-origin"), None);
}
