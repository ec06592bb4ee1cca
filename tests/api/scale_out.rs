//! Several instances on one database server behave as one: with data
//! directories of their own, they share the token-signing key, the paging key
//! and the development CA through the database, so a token, a nextLink or the
//! CA of one works on every other (SQLite is one process's file: not shared).

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, days_ago, sample_event, tls};

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

backend_tests!(instances_share_their_secrets);
