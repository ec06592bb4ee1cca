//! The test harness: a real auditgraph on a loopback port, over a fresh database
//! of the backend under test (SQLite always; PostgreSQL and MySQL/MariaDB when
//! `AUDITGRAPH_TEST_POSTGRES_URL` / `AUDITGRAPH_TEST_MYSQL_URL` name a server).

use std::path::Path;
use std::sync::LazyLock;

use auditgraph::config::{Cli, Command};
use auditgraph::domain::AuditEvent;
use auditgraph::domain::graph::parse_event;
use auditgraph::startup::Application;
use auditgraph::state::AppState;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet,
    RedirectUrl, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse as _,
    TokenUrl,
};
use reqwest012 as r12;
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
        auditgraph::telemetry::init(auditgraph::telemetry::LogFormat::Pretty);
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
    /// The Event Hubs endpoint, when the test turned it on (`--eventhubs 127.0.0.1:0`).
    pub eventhubs: Option<std::net::SocketAddr>,
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
        // Off unless a test asks: hundreds of servers need no AMQP listener each.
        if !extra.contains(&"--eventhubs") {
            argv.extend_from_slice(&["--eventhubs", "off"]);
        }
        argv.extend_from_slice(&["--data-dir", &data_dir_arg, "--database-url", &database_url]);
        argv.extend_from_slice(extra);
        let cli = <Cli as clap::Parser>::try_parse_from(&argv).expect("valid flags");
        let Some(Command::Serve(args)) = cli.command else { panic!("serve args") };
        let app = Application::build(args).await.expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let banner = app.banner().to_string();
        let eventhubs = app.eventhubs_addr();
        // The certificate names localhost, as the discovery documents do.
        let https_address = format!("https://localhost:{}", app.https_port());
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        let token = client_credentials(&reqwest::Client::new(), &address, WRITER).await;
        let mut headers = reqwest::header::HeaderMap::new();
        headers
            .insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header value"));
        let client = reqwest::Client::builder().default_headers(headers).build().expect("client");
        TestApp {
            address,
            https_address,
            banner,
            client,
            state,
            backend,
            database_url,
            eventhubs,
            _data_dir: data_dir,
        }
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
// Identity (auth_graph and the identity_* files)
// ---------------------------------------------------------------------------

pub const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub const READ_ALL: &str = "DeviceManagementApps.Read.All";
pub const READWRITE_ALL: &str = "DeviceManagementApps.ReadWrite.All";

/// The development tenant's delegated side (README, "The development tenant").
pub const PUBLIC_CLIENT: &str = "00000000-0000-0000-0000-00000000a010";
pub const PASSWORD: &str = "Passw0rd!";
pub const ADMIN: &str = "admin@contoso.onmicrosoft.com";
pub const ADMIN_OID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000b001";
pub const INTUNE_ADMIN: &str = "intune.admin@contoso.onmicrosoft.com";
pub const AUDITOR: &str = "auditor@contoso.onmicrosoft.com";
pub const HELPDESK: &str = "helpdesk@contoso.onmicrosoft.com";
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const INTUNE_ADMINISTRATOR: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";
/// The public client's registered redirect URI.
pub const REDIRECT: &str = "http://localhost:8400/callback";

/// Graph's 401 challenge, verbatim (identity.md §10); never a claims challenge.
pub const WWW_AUTHENTICATE: &str = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#;
pub const EMPTY: &str = "Access token is empty.";
pub const MALFORMED: &str = "CompactToken parsing failed with error code: 80049217";
pub const INVALID: &str = "Access token validation failure.";
pub const USER_403: &str =
    "User is not authorized to perform this operation - Operation ID (for customer support): ";

pub type PublicClient = BasicClient<EndpointSet, EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A reqwest 0.12 client (the one `oauth2` speaks) that never follows redirects.
pub fn plain() -> r12::Client {
    r12::Client::builder().redirect(r12::redirect::Policy::none()).build().expect("client")
}

/// Like [`plain`], but trusting nothing but the CA auditgraph wrote into the
/// data directory, with `localhost` pinned to the loopback listener.
pub fn tls(https_origin: &str, data_dir: &Path) -> r12::Client {
    let ca = std::fs::read(data_dir.join("tls/ca.pem")).expect("the local CA is {data_dir}/tls/ca.pem");
    r12::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(r12::Certificate::from_pem(&ca).expect("CA PEM"))
        .resolve("localhost", loopback(https_origin))
        .redirect(r12::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn loopback(origin: &str) -> std::net::SocketAddr {
    let port = origin.rsplit(':').next().and_then(|p| p.parse().ok()).expect("origin with a port");
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: r12::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }

    /// The body as text (an HTML page, say).
    pub fn text(&self) -> String {
        match &self.body {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    async fn read(response: r12::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply { status, headers, body }
    }
}

/// Sends `method url` with the raw `Authorization` value, if any.
pub async fn call(
    http: &r12::Client,
    method: &str,
    url: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut request = http.request(method.parse().expect("method"), url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    Reply::read(response).await
}

/// Sends `request` and reads the reply whole.
pub async fn send(request: r12::RequestBuilder) -> Reply {
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    Reply::read(response).await
}

/// POSTs `form` as an `application/x-www-form-urlencoded` body.
pub async fn post_form<T: serde::Serialize + ?Sized>(http: &r12::Client, url: &str, form: &T) -> Reply {
    send(http.post(url).form(form)).await
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A JSON part of a compact JWT (0 = header, 1 = payload).
pub fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An identity platform error as Entra gives it (identity.md §7): status, `error`,
/// one error code, a description that starts with `AADSTS{code}: ` and ends with the
/// trace and correlation ids and the timestamp, and the error page's URI. Returns
/// the body for further checks.
pub fn assert_aadsts<'r>(reply: &'r Reply, status: u16, error: &str, code: u32, case: &str) -> &'r Value {
    let body = &reply.body;
    assert_eq!(reply.status, status, "{case}: {body}");
    assert_eq!(reply.header("content-type"), Some("application/json; charset=utf-8"), "{case}");
    assert_eq!(body["error"], error, "{case}: {body}");
    assert_eq!(body["error_codes"], json!([code]), "{case}: {body}");
    let description = body["error_description"].as_str().expect("error_description");
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{case}: {description}");
    let timestamp = body["timestamp"].as_str().expect("timestamp");
    assert!(
        timestamp.len() == 20
            && chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%SZ").is_ok(),
        "{case}: timestamp '{timestamp}' must look like 2016-01-09 02:02:12Z"
    );
    let (trace, correlation) = (
        body["trace_id"].as_str().expect("trace_id"),
        body["correlation_id"].as_str().expect("correlation_id"),
    );
    assert!(
        uuid::Uuid::parse_str(trace).is_ok() && uuid::Uuid::parse_str(correlation).is_ok(),
        "{case}: {body}"
    );
    assert!(
        description.ends_with(&format!(
            "\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
        )),
        "{case}: {description:?}"
    );
    assert_eq!(body["error_uri"], format!("https://login.microsoftonline.com/error?code={code}"), "{case}");
    body
}

/// Graph's error envelope with its ids; returns `error.message`.
pub fn graph_error(reply: &Reply, status: u16, code: &str) -> String {
    assert_eq!(reply.status, status, "{}", reply.body);
    let error = &reply.body["error"];
    assert_eq!(error["code"], code, "{}", reply.body);
    let inner = &error["innerError"];
    let request_id = inner["request-id"].as_str().expect("innerError.request-id");
    assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{request_id}");
    assert_eq!(reply.header("request-id"), Some(request_id), "the header and the body carry one request id");
    assert!(inner["client-request-id"].is_string(), "{}", reply.body);
    let date = inner["date"].as_str().expect("innerError.date");
    assert!(chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok(), "{date}");
    error["message"].as_str().expect("error.message").to_string()
}

/// A 401 as Graph gives it: code, exact message and the challenge header.
pub fn assert_401(reply: &Reply, message: &str, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {}", reply.body);
    assert_eq!(graph_error(reply, 401, "InvalidAuthenticationToken"), message, "{case}");
    assert_eq!(reply.header("www-authenticate"), Some(WWW_AUTHENTICATE), "{case}");
}

/// A 403 as Intune gives it: `error.message` is a `_version: 3` JSON document
/// whose Activity ID is the request id. Returns the document's `Message`.
pub fn assert_403(reply: &Reply, case: &str) -> String {
    assert_eq!(reply.status, 403, "{case}: {}", reply.body);
    let message = graph_error(reply, 403, "Forbidden");
    assert_eq!(reply.header("www-authenticate"), None, "{case}: a 403 is no challenge");
    let nested: Value = serde_json::from_str(&message)
        .unwrap_or_else(|e| panic!("{case}: message is not JSON ({e}): {message}"));
    assert_eq!(nested["_version"], 3, "{case}");
    assert_eq!(nested["CustomApiErrorPhrase"], "", "{case}");
    assert!(nested["RetryAfter"].is_null(), "{case}");
    assert_eq!(nested["HttpHeaders"], "{}", "{case}");
    let text = nested["Message"].as_str().expect("Message").to_string();
    let request_id = reply.body["error"]["innerError"]["request-id"].as_str().unwrap();
    assert!(text.contains(&format!(" - Activity ID: {request_id} - Url: https://")), "{case}: {text}");
    text
}

pub fn token_url(base: &str) -> TokenUrl {
    TokenUrl::new(format!("{base}/{TENANT}/oauth2/v2.0/token")).expect("token URL")
}

/// A confidential app's client-credentials token from `base`'s token endpoint.
pub async fn app_token(
    http: &r12::Client,
    base: &str,
    (id, secret): (&str, &str),
    auth: AuthType,
    scope: &str,
) -> BasicTokenResponse {
    BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(token_url(base))
        .set_auth_type(auth)
        .exchange_client_credentials()
        .add_scope(Scope::new(scope.into()))
        .request_async(http)
        .await
        .unwrap_or_else(|e| panic!("client credentials for {id}: {e:?}"))
}

/// The development tenant's public client, with every endpoint on `base`.
pub fn public_client(base: &str, https_origin: &str) -> PublicClient {
    BasicClient::new(ClientId::new(PUBLIC_CLIENT.into()))
        .set_auth_uri(AuthUrl::new(format!("{base}/{TENANT}/oauth2/v2.0/authorize")).expect("URL"))
        .set_token_uri(token_url(base))
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(format!("{https_origin}/{TENANT}/oauth2/v2.0/devicecode"))
                .expect("URL"),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("URL"))
}

/// A delegated token through ROPC (the password grant) and the public client.
pub async fn user_token(http: &r12::Client, base: &str, upn: &str, scopes: &[&str]) -> String {
    user_token_via(http, base, PUBLIC_CLIENT, upn, scopes).await
}

/// A delegated token through ROPC and the public client `client_id`.
pub async fn user_token_via(
    http: &r12::Client,
    base: &str,
    client_id: &str,
    upn: &str,
    scopes: &[&str],
) -> String {
    BasicClient::new(ClientId::new(client_id.into()))
        .set_token_uri(token_url(base))
        .exchange_password(
            &ResourceOwnerUsername::new(upn.into()),
            &ResourceOwnerPassword::new(PASSWORD.into()),
        )
        .add_scopes(scopes.iter().map(|s| Scope::new(s.to_string())))
        .request_async(http)
        .await
        .unwrap_or_else(|e| panic!("password grant for {upn}: {e:?}"))
        .access_token()
        .secret()
        .clone()
}

/// GETs an /authorize URL as a browser would and returns the query of the
/// redirect to `REDIRECT`, after checking it is one.
pub async fn redirect_query(
    http: &r12::Client,
    authorize_url: oauth2::url::Url,
) -> std::collections::HashMap<String, String> {
    let response = http.get(authorize_url.clone()).send().await.expect("authorize");
    assert_eq!(response.status(), 302, "{authorize_url}: {}", response.text().await.unwrap_or_default());
    let location = response.headers()["location"].to_str().expect("Location").to_string();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let url = oauth2::url::Url::parse(&location).expect("redirect URL");
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(!query.contains_key("error"), "{location}");
    query
}

/// The OAuth `error` and `error_description` of a failed token request.
pub fn oauth_error<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    err: &RequestTokenError<RE, T>,
) -> Value {
    match err {
        RequestTokenError::ServerResponse(r) => serde_json::to_value(r).expect("error JSON"),
        other => panic!("expected an error response from the server, got {other:?}"),
    }
}

/// [`sample_event`] without `fields` (e.g. without its actor, so that the
/// caller is recorded).
pub fn sample_without(id: &str, fields: &[&str]) -> Value {
    let mut event = sample_event(id, &days_ago(1));
    for field in fields {
        event.as_object_mut().unwrap().remove(*field);
    }
    event
}

/// A server on `data_dir` (for tests that need the directory before start,
/// or two servers on one directory): `(http base, https origin, banner)`.
pub async fn serve_in(data_dir: &Path, extra: &[&str]) -> anyhow::Result<(String, String, String)> {
    let dir = data_dir.display().to_string();
    let database = format!("sqlite://{}?mode=rwc", data_dir.join("test.db").display());
    let mut argv = vec![
        "auditgraph",
        "serve",
        "--http",
        "127.0.0.1:0",
        "--https",
        "127.0.0.1:0",
        "--no-demo",
        "--data-dir",
        &dir,
        "--database-url",
        &database,
    ];
    argv.extend_from_slice(extra);
    let cli = <Cli as clap::Parser>::try_parse_from(&argv)?;
    let Some(Command::Serve(args)) = cli.command else { anyhow::bail!("not serve") };
    let app = Application::build(args).await?;
    let http = format!("http://127.0.0.1:{}", app.port());
    let banner = app.banner().to_string();
    let https = format!("https://localhost:{}", app.https_port());
    tokio::spawn(app.run_until_stopped());
    Ok((http, https, banner))
}

/// Starts the real binary's `serve` over `data_dir` on free ports with `extra`
/// flags; returns the child and the base URL its banner names. The server's log
/// keeps being drained, so its writes never meet a closed pipe.
/// A child process killed when dropped, so a failing test leaves no server behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn_binary(data_dir: &Path, extra: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditgraph"))
        .args(["serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start server");
    let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let mut base = None;
    for line in lines.by_ref() {
        if let Some(rest) = line.expect("server log").trim().strip_prefix("Graph API") {
            base = Some(rest.trim().split("/v1.0").next().unwrap_or_default().to_string());
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    (child, base.expect("banner names the Graph URL"))
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

/// One test per backend for each `async fn name(backend: Backend)` (each starts
/// its own Azurite and server; an unconfigured backend is skipped inside).
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::Backend::Postgres).await } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::helpers::Backend::MySql).await } )*
        }
    };
}
