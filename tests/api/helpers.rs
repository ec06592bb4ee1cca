//! The test harness: a real auditgraph on a loopback port, over a fresh database
//! of the backend under test (SQLite always; PostgreSQL and MySQL/MariaDB when
//! `AUDITGRAPH_TEST_POSTGRES_URL` / `AUDITGRAPH_TEST_MYSQL_URL` name a server).

use std::sync::LazyLock;

use auditgraph::config::{Cli, Command};
use auditgraph::domain::AuditEvent;
use auditgraph::domain::graph::parse_event;
use auditgraph::startup::Application;
use auditgraph::state::AppState;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        auditgraph::telemetry::init(auditgraph::config::LogFormat::Pretty);
    }
});

/// The well-known development tenant and its apps (README, "The development tenant").
pub const TENANT: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001";
pub const READER: (&str, &str) = ("00000000-0000-0000-0000-00000000a001", "reader-secret");
pub const WRITER: (&str, &str) = ("00000000-0000-0000-0000-00000000a002", "writer-secret");
pub const NOACCESS: (&str, &str) = ("00000000-0000-0000-0000-00000000a003", "noaccess-secret");

pub struct TestApp {
    pub address: String,
    /// `https://localhost:{port}`: the https listener, whose certificate (from the
    /// local CA in `{data_dir}/tls/ca.pem`) names localhost.
    pub https_address: String,
    /// What `serve` prints at startup (`Application::banner`).
    pub banner: String,
    /// Sends the writer app's token with every request.
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    pub backend: Backend,
    pub database_url: String,
    _data_dir: tempfile::TempDir,
}

impl Backend {
    fn server_url(self) -> Option<String> {
        let var = match self {
            Backend::Sqlite => return Some(String::new()),
            Backend::Postgres => "AUDITGRAPH_TEST_POSTGRES_URL",
            Backend::MySql => "AUDITGRAPH_TEST_MYSQL_URL",
        };
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }

    /// A new, empty database on this backend, or None when it is not configured.
    /// A new, empty database on this backend (a file in `data_dir` for SQLite);
    /// None when the run has no server for it.
    pub async fn fresh_database(self, data_dir: &std::path::Path) -> Option<String> {
        let server = self.server_url()?;
        let name = format!("ag_test_{}", uuid::Uuid::new_v4().simple());
        Some(match self {
            Backend::Sqlite => format!("sqlite://{}?mode=rwc", data_dir.join("test.db").display()),
            Backend::Postgres | Backend::MySql => {
                let admin = Database::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("{self:?} at {server} is unreachable: {e}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                // The server URL names an existing database (…/postgres, …/test);
                // the test database replaces it.
                let (base, _) = server.rsplit_once('/').expect("URL with a database path");
                format!("{base}/{name}")
            }
        })
    }
}

/// A Graph token for an app of the development tenant, from the token endpoint.
pub async fn client_credentials(
    client: &reqwest::Client,
    address: &str,
    (id, secret): (&str, &str),
) -> String {
    let response = client
        .post(format!("{address}/{TENANT}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        ))
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), 200, "token endpoint");
    let body: Value = response.json().await.expect("token JSON");
    body["access_token"].as_str().expect("access_token").to_string()
}

impl TestApp {
    /// Serves an empty store (no demo data) with default settings and `extra` flags.
    pub async fn spawn(backend: Backend, extra: &[&str]) -> Option<TestApp> {
        LazyLock::force(&TRACING);
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = backend.fresh_database(data_dir.path()).await?;
        Some(TestApp::serve(backend, data_dir, database_url, extra).await)
    }

    /// A second instance serving this one's database, with its own data directory.
    pub async fn another_instance(&self, extra: &[&str]) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        TestApp::serve(self.backend, data_dir, self.database_url.clone(), extra).await
    }

    async fn serve(
        backend: Backend,
        data_dir: tempfile::TempDir,
        database_url: String,
        extra: &[&str],
    ) -> TestApp {
        let data_dir_arg = data_dir.path().display().to_string();
        let mut argv = vec!["auditgraph", "serve", "--https", "127.0.0.1:0", "--no-demo"];
        // A test may listen elsewhere (e.g. 0.0.0.0:0 to be reached from another address).
        if !extra.contains(&"--http") {
            argv.extend_from_slice(&["--http", "127.0.0.1:0"]);
        }
        argv.extend_from_slice(&["--data-dir", &data_dir_arg, "--database-url", &database_url]);
        argv.extend_from_slice(extra);
        let cli = <Cli as clap::Parser>::try_parse_from(&argv).expect("valid flags");
        let Some(Command::Serve(args)) = cli.command else { panic!("serve args") };
        let app = Application::build(args).await.expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let banner = app.banner().to_string();
        // The certificate names localhost, as the discovery documents do.
        let https_address = format!("https://localhost:{}", app.https_port());
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        let token = client_credentials(&reqwest::Client::new(), &address, WRITER).await;
        let mut headers = reqwest::header::HeaderMap::new();
        headers
            .insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header value"));
        let client = reqwest::Client::builder().default_headers(headers).build().expect("client");
        TestApp { address, https_address, banner, client, state, backend, database_url, _data_dir: data_dir }
    }

    /// The data directory: the SQLite file, `identity/signing-key.pem`, `tls/ca.pem`.
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.address, path_and_query)
    }

    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client.get(self.url(path_and_query)).send().await.expect("request")
    }

    pub async fn get_json(&self, path_and_query: &str) -> (u16, Value) {
        let response = self.get(path_and_query).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self.client.post(self.url(path)).json(body).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self.client.patch(self.url(path)).json(body).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Stores events through the write path (as seed and import do).
    pub async fn insert(&self, events: Vec<AuditEvent>) {
        self.state.recorder.create_batch(events).await.expect("insert events");
    }

    /// Follows nextLinks from `first` to the end; returns every page's body.
    pub async fn all_pages(&self, first: &str) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut next = Some(self.url(first));
        while let Some(url) = next {
            let response = self.client.get(&url).send().await.expect("request");
            assert_eq!(response.status().as_u16(), 200, "{url}");
            let body: Value = response.json().await.expect("JSON");
            next = body.get("@odata.nextLink").map(|l| l.as_str().expect("nextLink is a string").to_string());
            if next.is_some() {
                assert!(
                    !body["value"].as_array().unwrap().is_empty(),
                    "an empty page carries a nextLink: {url}"
                );
            }
            pages.push(body);
            assert!(pages.len() < 10_000, "paging does not end");
        }
        pages
    }

    pub async fn count(&self) -> u64 {
        let text = self.get("/v1.0/deviceManagement/auditEvents/$count").await.text().await.unwrap();
        text.parse().expect("count is an integer")
    }

    /// Rows in the tables that hang off events (actors, resources, properties),
    /// read straight from the database: deletes must take them along.
    pub async fn child_rows(&self) -> i64 {
        let db = Database::connect(&self.database_url).await.unwrap();
        let mut total = 0;
        for table in ["audit_actors", "audit_resources", "audit_properties"] {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COUNT(*) FROM {table}"),
                ))
                .await
                .unwrap()
                .unwrap();
            total += row.try_get_by_index::<i64>(0).unwrap();
        }
        db.close().await.unwrap();
        total
    }
}

/// A server over a fresh SQLite database (always available) with `extra` flags.
pub async fn sqlite(extra: &[&str]) -> TestApp {
    TestApp::spawn(Backend::Sqlite, extra).await.expect("SQLite is always available")
}

/// A Graph-shaped event as a client would POST it (an Intune app deletion).
pub fn sample_event(id: &str, at: &str) -> Value {
    json!({
        "id": id,
        "displayName": "Delete application.",
        "componentName": "MobileApp",
        "activity": null,
        "activityDateTime": at,
        "activityType": "Delete MobileApp",
        "activityOperationType": "Delete",
        "activityResult": "Success",
        "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52",
        "category": "Application",
        "actor": {
            "auditActorType": "ItPro",
            "userPermissions": ["*"],
            "applicationId": "5926fc8e-304e-4f59-8bed-58ca97cc39a4",
            "applicationDisplayName": "Microsoft Intune portal extension",
            "userPrincipalName": "it.admin@contoso.onmicrosoft.com",
            "servicePrincipalName": null,
            "ipAddress": null,
            "userId": "910ed5ca-4ecf-414c-a1be-d53511bfe1a5"
        },
        "resources": [{
            "displayName": "Windows Calculator",
            "auditResourceType": "WinGetApp",
            "resourceId": "df07f17c-2d58-42d9-8491-31d1a6c2a0b5",
            "modifiedProperties": [{"displayName": "Name", "oldValue": null, "newValue": "Calc"}]
        }]
    })
}

/// An ISO time `days` before now, with Graph's 7 digits.
pub fn days_ago(days: i64) -> String {
    auditgraph::domain::format_graph_datetime(chrono::Utc::now() - chrono::Duration::days(days))
}

// ---------------------------------------------------------------------------
// GraphQL (graphql, graphql_subscriptions, graphql_explorer)
// ---------------------------------------------------------------------------

/// The `createAuditEvent` mutation, with the fields the tests read.
pub const CREATE: &str = "mutation($input: AuditEventInput!) { createAuditEvent(input: $input) { id activityDateTime displayName actor { auditActorType applicationId userPrincipalName ipAddress } resources { resourceId } } }";

/// Posts a GraphQL request with the app's writer token; the HTTP status is always 200.
pub async fn gql(app: &TestApp, query: &str, variables: Value) -> Value {
    gql_as(app, &app.client, query, variables).await
}

/// Posts a GraphQL request as `client`; the HTTP status is always 200.
pub async fn gql_as(app: &TestApp, client: &reqwest::Client, query: &str, variables: Value) -> Value {
    let response = client
        .post(app.url("/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON body")
}

pub fn no_errors(body: &Value) {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
}

fn filter_event(
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

/// Six events over the last week for filter tests: e1, e2 and e6 are `Device`,
/// e3 and e4 `Application`, e5 `Role`.
pub async fn seed_filter_events(app: &TestApp) {
    app.insert(vec![
        filter_event("e1", 1, "Device", "Success", "alice@contoso.com", Some("r-1"), "Wipe laptop"),
        filter_event("e2", 2, "Device", "Failure", "bob@contoso.com", Some("r-2"), "Retire phone"),
        filter_event("e3", 3, "Application", "Success", "alice@contoso.com", Some("r-1"), "Delete MobileApp"),
        filter_event("e4", 4, "Application", "Failure", "carol@contoso.com", Some("r-3"), "Create MobileApp"),
        filter_event("e5", 5, "Role", "Success", "bob@contoso.com", None, "Assign role"),
        filter_event("e6", 6, "Device", "Success", "carol@contoso.com", Some("r-2"), "Sync device"),
    ])
    .await;
}

/// Defines one `#[tokio::test]` per backend for each listed test function
/// `async fn name(app: TestApp)`. Backends without a configured server are skipped.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite, &[]).await.unwrap();
                   super::$name(app).await
               } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres, &[]).await {
                       super::$name(app).await
                   }
               } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::MySql, &[]).await {
                       super::$name(app).await
                   }
               } )*
        }
    };
}
