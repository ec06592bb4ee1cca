//! Identity and permissions end to end, against the real
//! server: the `oauth2` crate obtains tokens from auditgraph's token service
//! (client credentials, authorization code + PKCE, device code, refresh, ROPC)
//! over http and https and calls the Graph API with them; every 401 and 403
//! the API gives, with Graph's bodies and headers; the actor recorded from the
//! token; `--auth off`; discovery and keys on the https origin; a signing key
//! that survives a restart; tenant-file errors at startup; and the token
//! endpoint's error catalogue.
//!
//! Forged tokens are signed with the server's own key (read from
//! `{data_dir}/identity/signing-key.pem`), so that exactly one thing is wrong
//! with each; a re-signed copy of a genuine token is accepted, which shows the
//! forging itself is sound.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use auditgraph::config::{Cli, Command};
use auditgraph::startup::Application;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse as _, TokenUrl,
};
use reqwest012 as r12;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, NOACCESS, READER, TENANT, TestApp, WRITER, days_ago, sample_event};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";
const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const READ_ALL: &str = "DeviceManagementApps.Read.All";
const READWRITE_ALL: &str = "DeviceManagementApps.ReadWrite.All";

/// The development tenant's delegated side (README, "The development tenant").
const PUBLIC_CLIENT: &str = "00000000-0000-0000-0000-00000000a010";
const PASSWORD: &str = "Passw0rd!";
const ADMIN: &str = "admin@contoso.onmicrosoft.com";
const ADMIN_OID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000b001";
const INTUNE_ADMIN: &str = "intune.admin@contoso.onmicrosoft.com";
const AUDITOR: &str = "auditor@contoso.onmicrosoft.com";
const HELPDESK: &str = "helpdesk@contoso.onmicrosoft.com";
const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
const INTUNE_ADMINISTRATOR: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";
const REDIRECT: &str = "http://localhost:8400/callback";

/// Graph's 401 challenge, verbatim (identity.md §10); never a claims challenge.
const WWW_AUTHENTICATE: &str = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#;
const EMPTY: &str = "Access token is empty.";
const MALFORMED: &str = "CompactToken parsing failed with error code: 80049217";
const INVALID: &str = "Access token validation failure.";
const APP_READ_403: &str = "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementApps.Read.All, DeviceManagementApps.ReadWrite.All - Operation ID";
const APP_WRITE_403: &str = "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementApps.ReadWrite.All - Operation ID";
const USER_403: &str = "User is not authorized to perform this operation";

type PublicClient = BasicClient<EndpointSet, EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

async fn spawn(extra: &[&str]) -> TestApp {
    TestApp::spawn(Backend::Sqlite, extra).await.expect("SQLite is always available")
}

/// A reqwest 0.12 client (the one `oauth2` speaks) that never follows redirects.
fn plain() -> r12::Client {
    r12::Client::builder().redirect(r12::redirect::Policy::none()).build().expect("client")
}

/// Like [`plain`], but trusting nothing but the CA auditgraph wrote into the
/// data directory, with `localhost` pinned to the loopback listener.
fn tls(https_origin: &str, data_dir: &Path) -> r12::Client {
    let ca = std::fs::read(data_dir.join("tls/ca.pem")).expect("the local CA is {data_dir}/tls/ca.pem");
    r12::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(r12::Certificate::from_pem(&ca).expect("CA PEM"))
        .resolve("localhost", loopback(https_origin))
        .redirect(r12::redirect::Policy::none())
        .build()
        .expect("client")
}

fn loopback(origin: &str) -> std::net::SocketAddr {
    let port = origin.rsplit(':').next().and_then(|p| p.parse().ok()).expect("origin with a port");
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// A response, read whole.
struct Reply {
    status: u16,
    headers: r12::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }
}

/// Sends `method url` with the raw `Authorization` value, if any.
async fn call(
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

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A JSON part of a compact JWT (0 = header, 1 = payload).
fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Graph's error envelope with its ids; returns `error.message`.
fn graph_error(reply: &Reply, status: u16, code: &str) -> String {
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
fn assert_401(reply: &Reply, message: &str, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {}", reply.body);
    assert_eq!(graph_error(reply, 401, "InvalidAuthenticationToken"), message, "{case}");
    assert_eq!(reply.header("www-authenticate"), Some(WWW_AUTHENTICATE), "{case}");
}

/// A 403 as Intune gives it: `error.message` is a `_version: 3` JSON document
/// whose Activity ID is the request id. Returns the document's `Message`.
fn assert_403(reply: &Reply, case: &str) -> String {
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

fn token_url(base: &str) -> TokenUrl {
    TokenUrl::new(format!("{base}/{TENANT}/oauth2/v2.0/token")).expect("token URL")
}

/// A confidential app's client-credentials token from `base`'s token endpoint.
async fn app_token(
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
fn public_client(base: &str, https_origin: &str) -> PublicClient {
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
async fn user_token(http: &r12::Client, base: &str, upn: &str, scopes: &[&str]) -> String {
    BasicClient::new(ClientId::new(PUBLIC_CLIENT.into()))
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
async fn redirect_query(
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
fn oauth_error<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    err: &RequestTokenError<RE, T>,
) -> Value {
    match err {
        RequestTokenError::ServerResponse(r) => serde_json::to_value(r).expect("error JSON"),
        other => panic!("expected an error response from the server, got {other:?}"),
    }
}

fn sample_without(id: &str, fields: &[&str]) -> Value {
    let mut event = sample_event(id, &days_ago(1));
    for field in fields {
        event.as_object_mut().unwrap().remove(*field);
    }
    event
}

/// A server on `data_dir` (for tests that need the directory before start,
/// or two servers on one directory): `(http base, https origin, banner)`.
async fn serve_in(data_dir: &Path, extra: &[&str]) -> anyhow::Result<(String, String, String)> {
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

// ---------------------------------------------------------------------------
// 1. The oauth2 crate as the client
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_client_credentials_with_secret_in_body_and_basic() {
    let app = spawn(&[]).await;
    let http = plain();
    for auth in [AuthType::RequestBody, AuthType::BasicAuth] {
        let label = format!("{auth:?}");
        let token = app_token(&http, &app.address, READER, auth.clone(), GRAPH_DEFAULT).await;
        assert!(token.refresh_token().is_none(), "{label}: client credentials return no refresh token");
        let lifetime = token.expires_in().expect("expires_in").as_secs();
        assert!((3500..=3600).contains(&lifetime), "{label}: {lifetime}");
        let access = token.access_token().secret();
        assert_eq!(jwt_part(access, 0)["alg"], "RS256");
        let claims = jwt_part(access, 1);
        assert_eq!(claims["aud"], "https://graph.microsoft.com", "{label}");
        assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT}/"));
        assert_eq!(claims["tid"], TENANT);
        assert_eq!(claims["appid"], READER.0);
        assert_eq!(claims["roles"], json!([READ_ALL]));
        assert_eq!(claims["idtyp"], "app");
        assert!(claims.get("scp").is_none(), "{claims}");
        let reply = call(&http, "GET", &app.url(EVENTS), Some(&bearer(access)), None).await;
        assert_eq!(reply.status, 200, "{label}: {}", reply.body);
        assert!(reply.body["value"].is_array(), "{}", reply.body);

        // The secret is checked on both paths.
        let err = BasicClient::new(ClientId::new(READER.0.into()))
            .set_client_secret(ClientSecret::new("writer-secret".into()))
            .set_token_uri(token_url(&app.address))
            .set_auth_type(auth)
            .exchange_client_credentials()
            .add_scope(Scope::new(GRAPH_DEFAULT.into()))
            .request_async(&http)
            .await
            .expect_err("another app's secret");
        let error = oauth_error(&err);
        assert_eq!(error["error"], "invalid_client", "{label}");
        assert!(error["error_description"].as_str().unwrap().starts_with("AADSTS7000215: "), "{error}");
    }

    // Graph named by its app id gives the GUID audience, which the API accepts too.
    let token =
        app_token(&http, &app.address, WRITER, AuthType::RequestBody, &format!("{GRAPH_APP_ID}/.default"))
            .await;
    let access = token.access_token().secret();
    assert_eq!(jwt_part(access, 1)["aud"], GRAPH_APP_ID);
    let reply =
        call(&http, "POST", &app.url(EVENTS), Some(&bearer(access)), Some(&sample_without("cc-1", &[])))
            .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_auth_code_with_pkce_s256_and_login_hint_then_refresh() {
    let app = spawn(&[]).await;
    let http = plain();
    let client = public_client(&app.address, &app.https_address);

    // Without login_hint (and no --auto-approve-user), /authorize wants a browser.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(READ_ALL.into()))
        .set_pkce_challenge(challenge)
        .url();
    let page = http.get(url).send().await.expect("authorize");
    assert_eq!(page.status(), 200, "a sign-in form, not a redirect");
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));

    // With login_hint the user is signed in at once: follow the redirect ourselves.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    assert_eq!(challenge.method().as_str(), "S256");
    let verifier_text = verifier.secret().clone();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes([READWRITE_ALL, "offline_access"].map(|s| Scope::new(s.into())))
        .add_extra_param("login_hint", INTUNE_ADMIN)
        .set_pkce_challenge(challenge)
        .url();
    let query = redirect_query(&http, url).await;
    assert_eq!(&query["state"], state.secret());
    let code = query["code"].clone();

    // A wrong verifier is refused (AADSTS50148)...
    let err = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(43)))
        .request_async(&http)
        .await
        .expect_err("PKCE mismatch");
    let error = oauth_error(&err);
    assert_eq!(error["error"], "invalid_grant");
    assert!(error["error_description"].as_str().unwrap().starts_with("AADSTS50148: "), "{error}");
    // ...the right one redeems the code.
    let token = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let access = token.access_token().secret().clone();
    let claims = jwt_part(&access, 1);
    assert_eq!(claims["upn"], INTUNE_ADMIN);
    assert_eq!(claims["idtyp"], "user");
    assert_eq!(claims["appid"], PUBLIC_CLIENT);
    assert!(claims["scp"].as_str().unwrap().split(' ').any(|s| s == READWRITE_ALL), "{claims}");
    assert_eq!(claims["wids"], json!([INTUNE_ADMINISTRATOR]));
    assert!(claims.get("roles").is_none(), "{claims}");
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&bearer(&access)), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply =
        call(&http, "POST", &app.url(EVENTS), Some(&bearer(&access)), Some(&sample_without("ac-1", &[])))
            .await;
    assert_eq!(reply.status, 201, "an Intune Administrator writes: {}", reply.body);

    // A code is redeemed once (AADSTS54005).
    let err = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier_text))
        .request_async(&http)
        .await
        .expect_err("second redemption");
    let error = oauth_error(&err);
    assert_eq!(error["error"], "invalid_grant");
    assert!(error["error_description"].as_str().unwrap().starts_with("AADSTS54005: "), "{error}");

    // The refresh token (offline_access) gives a fresh access token for the same user.
    let refresh = token.refresh_token().expect("offline_access gives a refresh token");
    let refreshed = client.exchange_refresh_token(refresh).request_async(&http).await.expect("refresh");
    let renewed = refreshed.access_token().secret();
    assert_ne!(renewed, &access);
    assert_eq!(jwt_part(renewed, 1)["upn"], INTUNE_ADMIN);
    assert!(refreshed.refresh_token().is_some());
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&bearer(renewed)), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // A refresh token is no Graph access token.
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&bearer(refresh.secret())), None).await;
    assert_401(&reply, INVALID, "refresh token as bearer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_over_https_with_auto_approve_user_trusting_the_local_ca() {
    let app = spawn(&["--auto-approve-user", AUDITOR]).await;
    let origin = &app.https_address;
    assert!(origin.starts_with("https://localhost:"), "{origin}");
    let ca = app.data_dir().join("tls/ca.pem");
    assert!(app.banner.contains(&ca.display().to_string()), "the banner prints the CA path:\n{}", app.banner);
    let https = tls(origin, app.data_dir());

    // Without the CA the listener is not trusted: the CA is what makes it work.
    let untrusting = r12::Client::builder()
        .tls_built_in_root_certs(false)
        .resolve("localhost", loopback(origin))
        .build()
        .unwrap();
    assert!(untrusting.get(format!("{origin}/healthz")).send().await.is_err());

    // Client credentials over https, secret via HTTP Basic.
    let token = app_token(&https, origin, READER, AuthType::BasicAuth, GRAPH_DEFAULT).await;
    let reply =
        call(&https, "GET", &format!("{origin}{EVENTS}"), Some(&bearer(token.access_token().secret())), None)
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body["@odata.context"].as_str().unwrap().starts_with(&format!("{origin}/v1.0/$metadata")),
        "{}",
        reply.body
    );

    // Authorization code + PKCE over https; no login_hint: the configured user signs in.
    let client = public_client(origin, origin);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(READ_ALL.into()))
        .set_pkce_challenge(challenge)
        .url();
    let query = redirect_query(&https, url).await;
    assert_eq!(&query["state"], state.secret());
    let token = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&https)
        .await
        .expect("code exchange over https");
    let access = token.access_token().secret();
    assert_eq!(jwt_part(access, 1)["upn"], AUDITOR);
    let reply = call(&https, "GET", &format!("{origin}{EVENTS}"), Some(&bearer(access)), None).await;
    assert_eq!(reply.status, 200, "the auditor reads: {}", reply.body);

    // login_hint still wins over the configured user.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(READ_ALL.into()))
        .add_extra_param("login_hint", ADMIN)
        .set_pkce_challenge(challenge)
        .url();
    let query = redirect_query(&https, url).await;
    let token = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&https)
        .await
        .expect("code exchange");
    assert_eq!(jwt_part(token.access_token().secret(), 1)["upn"], ADMIN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_device_code_approved_through_the_admin_call() {
    let app = spawn(&[]).await;
    let http = plain();
    let client = public_client(&app.address, &app.address);
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new(READWRITE_ALL.into()))
        .request_async(&http)
        .await
        .expect("device authorization");
    assert_eq!(details.verification_uri().as_str(), format!("{}/devicelogin", app.https_address));
    assert!(details.verification_uri_complete().is_none());
    assert_eq!(details.expires_in(), Duration::from_secs(900));
    let user_code = details.user_code().secret().clone();
    let approve = app.url(&format!("/_auditgraph/identity/devicecodes/{user_code}/approve"));

    // The client polls; instead of sleeping, the first pause approves the code.
    let pauses = AtomicU32::new(0);
    let token = client
        .exchange_device_access_token(&details)
        .request_async(
            &http,
            |_| {
                pauses.fetch_add(1, Ordering::SeqCst);
                let (http, approve) = (http.clone(), approve.clone());
                async move {
                    let reply = call(&http, "POST", &approve, None, Some(&json!({ "user": AUDITOR }))).await;
                    assert_eq!(reply.status, 200, "approve: {}", reply.body);
                }
            },
            Some(Duration::from_secs(30)),
        )
        .await
        .expect("device token");
    assert_eq!(pauses.load(Ordering::SeqCst), 1, "one authorization_pending, then the token");
    let access = token.access_token().secret();
    assert_eq!(jwt_part(access, 1)["upn"], AUDITOR);
    // The auditor holds an Intune role with Audit data - Read: reads, never writes.
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&bearer(access)), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply =
        call(&http, "POST", &app.url(EVENTS), Some(&bearer(access)), Some(&sample_without("dc-1", &[])))
            .await;
    assert!(assert_403(&reply, "auditor writes").starts_with(USER_403));

    // An approved code is good for one token, and cannot be approved again.
    let err = client
        .exchange_device_access_token(&details)
        .request_async(&http, |_| async {}, Some(Duration::from_secs(5)))
        .await
        .expect_err("second redemption");
    assert_eq!(oauth_error(&err)["error"], "bad_verification_code");
    let reply = call(&http, "POST", &approve, None, Some(&json!({ "user": ADMIN }))).await;
    assert_eq!((reply.status, &reply.body["error"]["code"]), (409, &json!("notPending")), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_device_code_auto_approved_after_polls() {
    let app = spawn(&["--device-code-auto-approve-after", "2", "--auto-approve-user", INTUNE_ADMIN]).await;
    let http = plain();
    let client = public_client(&app.address, &app.address);
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new(READ_ALL.into()))
        .request_async(&http)
        .await
        .expect("device authorization");
    let pauses = AtomicU32::new(0);
    let token = client
        .exchange_device_access_token(&details)
        .request_async(
            &http,
            |_| {
                pauses.fetch_add(1, Ordering::SeqCst);
                async {}
            },
            Some(Duration::from_secs(30)),
        )
        .await
        .expect("device token");
    assert_eq!(pauses.load(Ordering::SeqCst), 2, "two authorization_pending answers, then approval");
    let access = token.access_token().secret();
    assert_eq!(jwt_part(access, 1)["upn"], INTUNE_ADMIN);
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&bearer(access)), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

// ---------------------------------------------------------------------------
// 2. Every 401
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_401_has_graphs_body_and_challenge() {
    let app = spawn(&[]).await;
    let http = plain();
    let list = app.url(EVENTS);
    let genuine = app_token(&http, &app.address, READER, AuthType::RequestBody, GRAPH_DEFAULT).await;
    let genuine = genuine.access_token().secret().clone();
    let kid = jwt_part(&genuine, 0)["kid"].as_str().expect("kid").to_string();
    let base = jwt_part(&genuine, 1);
    let key_pem =
        std::fs::read_to_string(app.data_dir().join("identity/signing-key.pem")).expect("the signing key");
    let rs256 = |pem: &str, kid: &str, claims: &Value| {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA PEM"))
            .expect("sign")
    };
    let with = |changes: Value| {
        let mut claims = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            claims[k.as_str()] = v.clone();
        }
        rs256(&key_pem, &kid, &claims)
    };
    let t = now();

    // Controls: the forging is sound, and the clock skew is small but real.
    for (case, token) in [
        ("re-signed genuine claims", with(json!({}))),
        (
            "expired a minute ago (within the skew)",
            with(json!({ "iat": t - 3600, "nbf": t - 3600, "exp": t - 60 })),
        ),
        ("valid in a minute (within the skew)", with(json!({ "nbf": t + 60 }))),
        ("GUID audience", with(json!({ "aud": GRAPH_APP_ID }))),
    ] {
        let reply = call(&http, "GET", &list, Some(&bearer(&token)), None).await;
        assert_eq!(reply.status, 200, "{case}: {}", reply.body);
    }

    // No token.
    for (case, header) in [
        ("no Authorization header", None),
        ("empty bearer", Some("Bearer")),
        ("blank bearer", Some("Bearer    ")),
        ("another scheme", Some("Basic dXNlcjpwYXNz")),
    ] {
        assert_401(&call(&http, "GET", &list, header, None).await, EMPTY, case);
    }

    // Not a compact JWT.
    let (h, p) = (genuine.split('.').next().unwrap(), genuine.split('.').nth(1).unwrap());
    for (case, token) in [
        ("opaque string", "not-a-token".to_string()),
        ("three garbage parts", "a.b.c".to_string()),
        ("two parts", format!("{h}.{p}")),
        ("four parts", format!("{genuine}.x")),
        ("payload not JSON", format!("{h}.{}.c2ln", b64(b"hello"))),
    ] {
        assert_401(&call(&http, "GET", &list, Some(&bearer(&token)), None).await, MALFORMED, case);
    }

    // Well-formed, but not valid.
    let other_key = auditgraph::identity::keys::generate_pem().expect("RSA key");
    let public_pem = {
        use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(&key_pem).expect("PKCS#8");
        rsa::RsaPublicKey::from(&private).to_public_key_pem(rsa::pkcs8::LineEnding::LF).expect("PEM")
    };
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &base, &EncodingKey::from_secret(public_pem.as_bytes())).unwrap()
    };
    let alg_none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "typ": "JWT" }).to_string().as_bytes()),
        b64(base.to_string().as_bytes())
    );
    let tampered = {
        let mut claims = base.clone();
        claims["roles"] = json!([READWRITE_ALL]);
        let parts: Vec<&str> = genuine.split('.').collect();
        format!("{}.{}.{}", parts[0], b64(claims.to_string().as_bytes()), parts[2])
    };
    let other_tenant = "11111111-2222-3333-4444-555555555555";
    let cases = [
        ("signed by another RSA key, our kid", rs256(&other_key, &kid, &base)),
        ("signed by another RSA key, its own kid", rs256(&other_key, "someone-elses-key", &base)),
        ("alg none", alg_none),
        ("HS256 keyed with our public key", hs256),
        ("expired", with(json!({ "iat": t - 7200, "nbf": t - 7200, "exp": t - 3600 }))),
        ("not yet valid", with(json!({ "nbf": t + 3600, "iat": t + 3600, "exp": t + 7200 }))),
        ("wrong audience", with(json!({ "aud": "https://management.azure.com" }))),
        ("an ID token's audience (the client id)", with(json!({ "aud": READER.0 }))),
        (
            "wrong tenant",
            with(json!({ "tid": other_tenant, "iss": format!("https://sts.windows.net/{other_tenant}/") })),
        ),
        ("wrong issuer", with(json!({ "iss": format!("https://sts.windows.net/{other_tenant}/") }))),
        ("tampered payload", tampered.clone()),
    ];
    for (case, token) in &cases {
        assert_401(&call(&http, "GET", &list, Some(&bearer(token)), None).await, INVALID, case);
    }

    // Writes are refused the same way, and change nothing.
    let event = sample_without("w-401", &[]);
    for (case, header) in [("no token", None), ("tampered token claiming ReadWrite", Some(bearer(&tampered)))]
    {
        let reply = call(&http, "POST", &list, header.as_deref(), Some(&event)).await;
        assert_401(&reply, if header.is_none() { EMPTY } else { INVALID }, case);
    }
    assert_eq!(app.count().await, 0);

    // Every Graph call but $metadata needs a token.
    let (status, _) = app.post_json(EVENTS, &sample_event("kept", &days_ago(1))).await;
    assert_eq!(status, 201);
    for (method, path) in [
        ("GET", format!("{EVENTS}/$count")),
        ("GET", format!("{EVENTS}/kept")),
        ("GET", format!("{EVENTS}/getAuditCategories()")),
        ("GET", format!("{EVENTS}/getAuditActivityTypes(category='Application')")),
        ("GET", "/beta/deviceManagement/auditEvents".to_string()),
        ("PATCH", format!("{EVENTS}/kept")),
        ("DELETE", format!("{EVENTS}/kept")),
    ] {
        let body = (method == "PATCH").then(|| json!({ "activityResult": "Failure" }));
        let reply = call(&http, method, &app.url(&path), None, body.as_ref()).await;
        assert_401(&reply, EMPTY, &format!("{method} {path}"));
    }
    let (status, kept) = app.get_json(&format!("{EVENTS}/kept")).await;
    assert_eq!((status, kept["activityResult"].as_str()), (200, Some("Success")));
    let reply = call(&http, "GET", &app.url("/v1.0/$metadata"), None, None).await;
    assert_eq!(reply.status, 200, "$metadata is public");
}

// ---------------------------------------------------------------------------
// 3. Every 403
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_without_the_permission_get_intunes_403() {
    let app = spawn(&[]).await;
    let http = plain();
    let (status, _) = app.post_json(EVENTS, &sample_event("e-1", &days_ago(1))).await;
    assert_eq!(status, 201);
    let (_, before) = app.get_json(&format!("{EVENTS}/e-1")).await;

    // No Intune permission at all: no reads.
    let noaccess = app_token(&http, &app.address, NOACCESS, AuthType::RequestBody, GRAPH_DEFAULT).await;
    let noaccess = bearer(noaccess.access_token().secret());
    assert!(jwt_part(&noaccess[7..], 1).get("roles").is_none(), "no roles claim when nothing is granted");
    for path in [
        EVENTS.to_string(),
        format!("{EVENTS}/e-1"),
        format!("{EVENTS}/$count"),
        format!("{EVENTS}/getAuditCategories()"),
    ] {
        let reply = call(&http, "GET", &app.url(&path), Some(&noaccess), None).await;
        let message = assert_403(&reply, &path);
        assert!(message.starts_with(APP_READ_403), "{path}: {message}");
    }
    let reply =
        call(&http, "POST", &app.url(EVENTS), Some(&noaccess), Some(&sample_event("e-2", &days_ago(1))))
            .await;
    assert!(assert_403(&reply, "noaccess POST").starts_with(APP_WRITE_403));

    // Read.All: reads, but every write is refused and changes nothing.
    let reader = app_token(&http, &app.address, READER, AuthType::RequestBody, GRAPH_DEFAULT).await;
    let reader = bearer(reader.access_token().secret());
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&reader), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let patch = json!({ "activityResult": "Failure" });
    for (method, path, body) in [
        ("POST", EVENTS.to_string(), Some(sample_event("e-3", &days_ago(1)))),
        ("POST", EVENTS.to_string(), Some(sample_without("", &["id", "actor"]))),
        ("PATCH", format!("{EVENTS}/e-1"), Some(patch.clone())),
        ("DELETE", format!("{EVENTS}/e-1"), None),
    ] {
        let reply = call(&http, method, &app.url(&path), Some(&reader), body.as_ref()).await;
        let message = assert_403(&reply, &format!("reader {method}"));
        assert!(message.starts_with(APP_WRITE_403), "{method}: {message}");
    }
    assert_eq!(app.count().await, 1);
    let (_, after) = app.get_json(&format!("{EVENTS}/e-1")).await;
    assert_eq!(before, after, "refused writes change nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegated_users_need_the_scope_and_an_intune_role() {
    let app = spawn(&[]).await;
    let http = plain();
    let (status, _) = app.post_json(EVENTS, &sample_event("e-1", &days_ago(1))).await;
    assert_eq!(status, 201);

    // (user, wids, may read, may write) with the ReadWrite scope.
    let cases = [
        (ADMIN, json!([GLOBAL_ADMINISTRATOR]), true, true),
        (INTUNE_ADMIN, json!([INTUNE_ADMINISTRATOR]), true, true),
        (AUDITOR, Value::Null, true, false),
        (HELPDESK, json!(["729827e3-9c14-49f7-bb1b-9608f156bbb8"]), false, false),
    ];
    for (upn, wids, may_read, may_write) in cases {
        let token = user_token(&http, &app.address, upn, &[READWRITE_ALL]).await;
        let claims = jwt_part(&token, 1);
        assert_eq!(claims["upn"], upn);
        assert_eq!(claims.get("wids").cloned().unwrap_or(Value::Null), wids, "{upn}");
        let auth = bearer(&token);
        let reads = [EVENTS.to_string(), format!("{EVENTS}/e-1"), format!("{EVENTS}/$count")];
        for path in &reads {
            let reply = call(&http, "GET", &app.url(path), Some(&auth), None).await;
            if may_read {
                assert_eq!(reply.status, 200, "{upn} GET {path}: {}", reply.body);
            } else {
                assert!(assert_403(&reply, &format!("{upn} GET {path}")).starts_with(USER_403));
            }
        }
        let created =
            call(&http, "POST", &app.url(EVENTS), Some(&auth), Some(&sample_without("", &["id"]))).await;
        let patched = call(
            &http,
            "PATCH",
            &app.url(&format!("{EVENTS}/e-1")),
            Some(&auth),
            Some(&json!({ "activityResult": "Failure" })),
        )
        .await;
        if may_write {
            assert_eq!(created.status, 201, "{upn} POST: {}", created.body);
            assert_eq!(patched.status, 200, "{upn} PATCH: {}", patched.body);
            let id = created.body["id"].as_str().unwrap();
            let deleted = call(&http, "DELETE", &app.url(&format!("{EVENTS}/{id}")), Some(&auth), None).await;
            assert_eq!(deleted.status, 204, "{upn} DELETE");
        } else {
            let before = app.count().await;
            for (what, reply) in [("POST", &created), ("PATCH", &patched)] {
                let message = assert_403(reply, &format!("{upn} {what}"));
                assert!(message.starts_with(USER_403), "{upn} {what}: {message}");
            }
            let deleted = call(&http, "DELETE", &app.url(&format!("{EVENTS}/e-1")), Some(&auth), None).await;
            assert!(assert_403(&deleted, &format!("{upn} DELETE")).starts_with(USER_403));
            assert_eq!(app.count().await, before);
        }
    }

    // The role is not enough without the scope: a Global Administrator whose
    // token carries Read.All reads but cannot write; with User.Read alone, nothing.
    let read_only = bearer(&user_token(&http, &app.address, ADMIN, &[READ_ALL]).await);
    assert_eq!(call(&http, "GET", &app.url(EVENTS), Some(&read_only), None).await.status, 200);
    let reply =
        call(&http, "POST", &app.url(EVENTS), Some(&read_only), Some(&sample_without("", &["id"]))).await;
    assert!(assert_403(&reply, "admin with Read.All writes").starts_with(USER_403));
    let no_scope = bearer(&user_token(&http, &app.address, ADMIN, &["User.Read"]).await);
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&no_scope), None).await;
    assert!(assert_403(&reply, "admin with User.Read reads").starts_with(USER_403));
}

// ---------------------------------------------------------------------------
// 4. The actor of an event created through the API
// ---------------------------------------------------------------------------

async fn api_writes_record_the_caller_as_actor(app: TestApp) {
    let http = plain();
    // An app: the harness's client carries the writer app's token.
    let (status, created) = app.post_json(EVENTS, &sample_without("by-app", &["actor"])).await;
    assert_eq!(status, 201, "{created}");
    let (_, stored) = app.get_json(&format!("{EVENTS}/by-app")).await;
    for actor in [&created["actor"], &stored["actor"]] {
        assert_eq!(actor["auditActorType"], "Application", "{actor}");
        assert_eq!(actor["applicationId"], WRITER.0);
        assert_eq!(actor["applicationDisplayName"], "auditgraph-writer");
        assert_eq!(actor["servicePrincipalName"], "auditgraph-writer");
        assert!(actor["userPrincipalName"].is_null(), "{actor}");
        assert!(actor["userId"].is_null(), "{actor}");
        assert_eq!(actor["userPermissions"], json!([]));
        assert_eq!(actor["ipAddress"], "127.0.0.1");
    }

    // A user: a Global Administrator through the public client.
    let token = user_token(&http, &app.address, ADMIN, &[READWRITE_ALL]).await;
    let reply = call(
        &http,
        "POST",
        &app.url(EVENTS),
        Some(&bearer(&token)),
        Some(&sample_without("by-user", &["actor"])),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let (_, stored) = app.get_json(&format!("{EVENTS}/by-user")).await;
    for actor in [&reply.body["actor"], &stored["actor"]] {
        assert_eq!(actor["auditActorType"], "ItPro", "{actor}");
        assert_eq!(actor["userPrincipalName"], ADMIN);
        assert_eq!(actor["userId"], ADMIN_OID);
        assert_eq!(actor["userPermissions"], json!(["*"]), "admins hold every Intune permission");
        assert_eq!(actor["applicationId"], PUBLIC_CLIENT);
        assert!(actor["servicePrincipalName"].is_null(), "{actor}");
    }

    // An actor in the body is kept (recorded events replay as they were).
    let (status, replayed) = app.post_json(EVENTS, &sample_event("replayed", &days_ago(1))).await;
    assert_eq!(status, 201);
    assert_eq!(replayed["actor"], sample_event("replayed", &days_ago(1))["actor"]);
}

backend_tests!(api_writes_record_the_caller_as_actor);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intune_role_permissions_from_a_tenant_file_decide_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let tenant_file = dir.path().join("tenants.toml");
    std::fs::write(
        &tenant_file,
        r#"
[[tenant]]
id = "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100"
domain = "fabrikam.onmicrosoft.com"

[[tenant.app]]
client_id = "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b202"
display_name = "fabrikam-automation"
secrets = ["automation-secret", { value = "rotated-out", expires = 2024-01-01T00:00:00Z }]
application_permissions = ["DeviceManagementApps.ReadWrite.All"]

[[tenant.app]]
client_id = "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b210"
display_name = "fabrikam-cli"
public_client = true
delegated_permissions = ["DeviceManagementApps.ReadWrite.All"]

[[tenant.user]]
upn = "operator@fabrikam.onmicrosoft.com"
object_id = "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b401"
password = "Op3rator!"

[[tenant.user]]
upn = "viewer@fabrikam.onmicrosoft.com"
password = "Op3rator!"

[[tenant.intune_role]]
display_name = "Audit Operator"
permissions = ["Microsoft.Intune_Audit_Read", "Microsoft.Intune_Audit_Write"]

[[tenant.intune_role]]
display_name = "Audit Reader"
permissions = ["Microsoft.Intune_Audit_Read"]

[[tenant.intune_role_assignment]]
role = "Audit Operator"
members = ["operator@fabrikam.onmicrosoft.com"]

[[tenant.intune_role_assignment]]
role = "Audit Reader"
members = ["viewer@fabrikam.onmicrosoft.com"]
"#,
    )
    .unwrap();
    let file = tenant_file.display().to_string();
    let (base, _, banner) = serve_in(dir.path(), &["--tenant-file", &file]).await.expect("starts");
    assert!(banner.contains(&file), "{banner}");
    let http = plain();
    let tenant = "fabrikam.onmicrosoft.com";
    let password = |upn: &str| {
        let http = http.clone();
        let (base, upn) = (base.clone(), upn.to_string());
        async move {
            let token = BasicClient::new(ClientId::new("3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b210".into()))
                .set_token_uri(TokenUrl::new(format!("{base}/{tenant}/oauth2/v2.0/token")).unwrap())
                .exchange_password(
                    &ResourceOwnerUsername::new(upn.clone()),
                    &ResourceOwnerPassword::new("Op3rator!".into()),
                )
                .add_scope(Scope::new(READWRITE_ALL.into()))
                .request_async(&http)
                .await
                .unwrap_or_else(|e| panic!("{upn}: {e:?}"));
            bearer(token.access_token().secret())
        }
    };
    let url = format!("{base}{EVENTS}");

    // An Intune role with Audit_Write writes; the event records the role's permissions.
    let operator = password("operator@fabrikam.onmicrosoft.com").await;
    let reply = call(&http, "POST", &url, Some(&operator), Some(&sample_without("op-1", &["actor"]))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let actor = &reply.body["actor"];
    assert_eq!(actor["auditActorType"], "ItPro");
    assert_eq!(actor["userPrincipalName"], "operator@fabrikam.onmicrosoft.com");
    assert_eq!(actor["userId"], "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b401");
    assert_eq!(
        actor["userPermissions"],
        json!(["Microsoft.Intune_Audit_Read", "Microsoft.Intune_Audit_Write"])
    );

    // Audit_Read alone: reads only.
    let viewer = password("viewer@fabrikam.onmicrosoft.com").await;
    assert_eq!(call(&http, "GET", &url, Some(&viewer), None).await.status, 200);
    let reply = call(&http, "POST", &url, Some(&viewer), Some(&sample_without("v-1", &["actor"]))).await;
    assert!(assert_403(&reply, "viewer writes").starts_with(USER_403));

    // The file's app: client credentials against the tenant's domain.
    let token = BasicClient::new(ClientId::new("3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b202".into()))
        .set_client_secret(ClientSecret::new("automation-secret".into()))
        .set_token_uri(TokenUrl::new(format!("{base}/{tenant}/oauth2/v2.0/token")).unwrap())
        .exchange_client_credentials()
        .add_scope(Scope::new(GRAPH_DEFAULT.into()))
        .request_async(&http)
        .await
        .expect("client credentials");
    let reply = call(
        &http,
        "POST",
        &url,
        Some(&bearer(token.access_token().secret())),
        Some(&sample_without("app-1", &["actor"])),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["actor"]["auditActorType"], "Application");
    assert_eq!(reply.body["actor"]["servicePrincipalName"], "fabrikam-automation");

    // An expired secret of the file's app: AADSTS7000222.
    let response = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b202"),
            ("client_secret", "rotated-out"),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (&body["error"], &body["error_codes"]),
        (&json!("invalid_client"), &json!([7000222])),
        "{body}"
    );

    // The development tenant is gone when a file is given.
    let response = http
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", WRITER.0),
            ("client_secret", WRITER.1),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error_codes"], json!([90002]), "tenant not found");
}

// ---------------------------------------------------------------------------
// 5. --auth off
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_off_needs_no_token_and_the_banner_says_so() {
    let app = spawn(&["--auth", "off"]).await;
    assert!(app.banner.contains("!!! AUTH IS OFF"), "{}", app.banner);
    assert!(app.banner.contains("anyone who reaches this port may read and write"), "{}", app.banner);
    let http = plain();
    let reply = call(&http, "POST", &app.url(EVENTS), None, Some(&sample_without("open", &["actor"]))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["actor"]["auditActorType"], "Application");
    assert_eq!(reply.body["actor"]["applicationDisplayName"], "auditgraph (auth off)");
    for header in [None, Some("Bearer not-a-token")] {
        let reply = call(&http, "GET", &app.url(EVENTS), header, None).await;
        assert_eq!(reply.status, 200, "{header:?}: {}", reply.body);
        assert_eq!(reply.body["value"].as_array().unwrap().len(), 1);
    }
    let reply = call(&http, "DELETE", &app.url(&format!("{EVENTS}/open")), None, None).await;
    assert_eq!(reply.status, 204);

    // With auth on (the default) the banner says nothing of the kind.
    let secured = spawn(&[]).await;
    assert!(!secured.banner.contains("AUTH IS OFF"), "{}", secured.banner);
    assert!(secured.banner.contains("grant_type=client_credentials"), "{}", secured.banner);
}

// ---------------------------------------------------------------------------
// 6. Discovery, keys, and a key that survives restarts
// ---------------------------------------------------------------------------

/// Every string in `doc` that looks like a URL.
fn urls(doc: &Value, out: &mut Vec<String>) {
    match doc {
        Value::String(s) if s.contains("://") => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| urls(v, out)),
        Value::Object(map) => map.values().for_each(|v| urls(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_on_https_points_at_its_origin_and_jwks_matches_tokens() {
    let app = spawn(&[]).await;
    let origin = app.https_address.clone();
    let https = tls(&origin, app.data_dir());

    for tenant in [TENANT, "contoso.onmicrosoft.com", "common", "organizations"] {
        for path in [
            format!("/{tenant}/v2.0/.well-known/openid-configuration"),
            format!("/{tenant}/.well-known/openid-configuration"),
        ] {
            let reply = call(&https, "GET", &format!("{origin}{path}"), None, None).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            let doc = &reply.body;
            for key in ["authorization_endpoint", "token_endpoint", "issuer", "jwks_uri"] {
                assert!(doc[key].is_string(), "{path}: {key} missing");
            }
            let mut found = Vec::new();
            urls(doc, &mut found);
            for url in &found {
                let allowed = url.starts_with(&format!("{origin}/"))
                    || url == &origin
                    || url.starts_with("https://sts.windows.net/");
                assert!(allowed, "{path}: {url} does not point at {origin}");
            }
            assert!(!doc.to_string().contains("login.microsoftonline.com"), "{path}: {doc}");
            assert_eq!(doc["msgraph_host"], origin.trim_start_matches("https://"));
        }
    }
    let reply =
        call(&https, "GET", &format!("{origin}/{TENANT}/v2.0/.well-known/openid-configuration"), None, None)
            .await;
    let doc = reply.body;
    assert_eq!(doc["token_endpoint"], format!("{origin}/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(doc["device_authorization_endpoint"], format!("{origin}/{TENANT}/oauth2/v2.0/devicecode"));

    // Instance discovery (for clients that do not disable it) names this origin too.
    let authorize = format!("{origin}/{TENANT}/oauth2/v2.0/authorize");
    let url =
        format!("{origin}/common/discovery/instance?api-version=1.1&authorization_endpoint={authorize}");
    let reply = call(&https, "GET", &url, None, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["tenant_discovery_endpoint"],
        format!("{origin}/{TENANT}/v2.0/.well-known/openid-configuration")
    );

    // The JWKS publishes the key whose kid is in every token header, and verifies it.
    let jwks = call(&https, "GET", doc["jwks_uri"].as_str().unwrap(), None, None).await.body;
    let token = app_token(&https, &origin, READER, AuthType::RequestBody, GRAPH_DEFAULT).await;
    let token = token.access_token().secret().clone();
    let header = jwt_part(&token, 0);
    let keys = jwks["keys"].as_array().expect("keys");
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("kid {} not in {jwks}", header["kid"]));
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["x5t"], jwk["kid"]);
    assert_eq!(header["x5t"], header["kid"]);
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://graph.microsoft.com"]);
    validation.set_issuer(&[format!("https://sts.windows.net/{TENANT}/")]);
    jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .expect("the token verifies with the published key");
    for tenant in ["common", "contoso.onmicrosoft.com"] {
        let other =
            call(&https, "GET", &format!("{origin}/{tenant}/discovery/v2.0/keys"), None, None).await.body;
        assert_eq!(other["keys"][0]["kid"], jwk["kid"], "{tenant}");
        let v1 = call(&https, "GET", &format!("{origin}/{tenant}/discovery/keys"), None, None).await.body;
        assert_eq!(v1["keys"][0]["kid"], jwk["kid"], "{tenant} (v1)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signing_key_and_ca_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (first, first_https, _) = serve_in(dir.path(), &[]).await.expect("first start");
    let key_file = dir.path().join("identity/signing-key.pem");
    let key_pem = std::fs::read(&key_file).expect("the key is in {data_dir}/identity/signing-key.pem");
    let ca_pem = std::fs::read(dir.path().join("tls/ca.pem")).expect("CA");
    let http = plain();
    let token = app_token(&http, &first, WRITER, AuthType::RequestBody, GRAPH_DEFAULT).await;
    let token = token.access_token().secret().clone();
    let kid = jwt_part(&token, 0)["kid"].clone();
    let jwks = |https_origin: String| {
        let client = tls(&https_origin, dir.path());
        async move {
            call(&client, "GET", &format!("{https_origin}/{TENANT}/discovery/v2.0/keys"), None, None)
                .await
                .body
        }
    };
    assert_eq!(jwks(first_https).await["keys"][0]["kid"], kid);

    // A second process on the same data directory (a restart, as far as files go).
    let (second, second_https, _) = serve_in(dir.path(), &[]).await.expect("second start");
    assert_eq!(std::fs::read(&key_file).unwrap(), key_pem, "the key file is reused, not replaced");
    assert_eq!(std::fs::read(dir.path().join("tls/ca.pem")).unwrap(), ca_pem, "the CA is reused");
    assert_eq!(jwks(second_https).await["keys"][0]["kid"], kid, "same kid after the restart");
    let reply = call(&http, "GET", &format!("{second}{EVENTS}"), Some(&bearer(&token)), None).await;
    assert_eq!(reply.status, 200, "a token issued before the restart is still valid: {}", reply.body);
    let renewed = app_token(&http, &second, WRITER, AuthType::RequestBody, GRAPH_DEFAULT).await;
    assert_eq!(jwt_part(renewed.access_token().secret(), 0)["kid"], kid);
}

// ---------------------------------------------------------------------------
// 7. A malformed tenant file stops startup
// ---------------------------------------------------------------------------

#[test]
fn a_malformed_tenant_file_stops_startup_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // A TOML syntax error on line 4.
        (
            "syntax.toml",
            "[[tenant]]\nid = \"3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100\"\n\ndomain = fabrikam\n",
            "line 4, column 10: ",
        ),
        // Valid TOML, but a client id that is no GUID, on line 6.
        (
            "semantic.toml",
            "[[tenant]]\nid = \"3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100\"\ndomain = \"fabrikam.onmicrosoft.com\"\n\n[[tenant.app]]\nclient_id = \"not-a-guid\"\ndisplay_name = \"x\"\nsecrets = [\"s\"]\n",
            "line 6, column 13: client_id 'not-a-guid' is not a GUID",
        ),
    ];
    for (name, text, line) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let data = dir.path().join(format!("data-{name}"));
        let database = format!("sqlite://{}?mode=rwc", dir.path().join(format!("{name}.db")).display());
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_auditgraph"))
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--https",
                "127.0.0.1:0",
                "--no-demo",
                "--database-url",
                &database,
            ])
            .arg("--data-dir")
            .arg(&data)
            .arg("--tenant-file")
            .arg(&file)
            .env_remove("AUDITGRAPH_AUTH")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run auditgraph");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().ok();
                panic!("{name}: auditgraph started despite a malformed tenant file");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{name}: {stderr}");
        let expected = format!("{}: {line}", file.display());
        assert!(stderr.contains(&expected), "{name}: the error should name '{expected}':\n{stderr}");
    }
}

// ---------------------------------------------------------------------------
// Caching headers of the identity endpoints, as Entra sends them (identity.md §2, §6)
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_responses_keep_entras_cache_headers() {
    let app = spawn(&[]).await;
    let http = plain();
    let token_endpoint = format!("{}/{TENANT}/oauth2/v2.0/token", app.address);
    let form = |secret: &str| {
        format!(
            "grant_type=client_credentials&client_id={}&client_secret={secret}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
            READER.0
        )
    };
    let mut failures = Vec::new();
    for (case, secret, status) in [("token", READER.1, 200), ("token error", "wrong", 401)] {
        let response = http
            .post(&token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(secret))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{case}");
        // Tokens must never be cached (RFC 6749 §5.1: no-store).
        for (name, want) in
            [("cache-control", "no-store, no-cache"), ("pragma", "no-cache"), ("expires", "-1")]
        {
            let got = response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
            if got.as_deref() != Some(want) {
                failures.push(format!("{case}: {name} is {got:?}, want {want:?}"));
            }
        }
    }
    for path in
        [format!("/{TENANT}/v2.0/.well-known/openid-configuration"), format!("/{TENANT}/discovery/v2.0/keys")]
    {
        let response = http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let got = response.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string());
        if got.as_deref() != Some("max-age=86400, private") {
            failures.push(format!("{path}: cache-control is {got:?}, want \"max-age=86400, private\""));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------
// The token endpoint's error catalogue, on the real server
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_errors_follow_the_catalogue() {
    let app = spawn(&[]).await;
    let http = plain();
    let token_endpoint = format!("{}/{TENANT}/oauth2/v2.0/token", app.address);
    let post =
        |url: String, form: Vec<(&'static str, String)>, basic: Option<(&'static str, &'static str)>| {
            let http = http.clone();
            async move {
                let mut request = http.post(&url).form(&form);
                if let Some((id, secret)) = basic {
                    request = request.basic_auth(id, Some(secret));
                }
                let response = request.send().await.expect("token request");
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body: Value = response.json().await.expect("JSON error");
                Reply { status, headers, body }
            }
        };
    let cc = |id: &str, secret: &str, scope: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", id.to_string()),
            ("client_secret", secret.to_string()),
            ("scope", scope.to_string()),
        ]
    };

    // A code for PKCE and expiry cases.
    let client = public_client(&app.address, &app.address);
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(READ_ALL.into()))
        .add_extra_param("login_hint", ADMIN)
        .set_pkce_challenge(challenge)
        .url();
    let code = redirect_query(&http, url).await["code"].clone();
    let key =
        auditgraph::identity::keys::SigningKey::load_or_create(app.data_dir()).expect("the server's key");
    let kind = auditgraph::identity::tokens::ArtifactKind::AuthorizationCode;
    let expired_code = auditgraph::identity::tokens::seal(
        &key,
        kind,
        &auditgraph::identity::tokens::AuthCode {
            aud: auditgraph::identity::tokens::artifact_audience(kind),
            tid: TENANT.into(),
            cid: PUBLIC_CLIENT.into(),
            oid: ADMIN_OID.into(),
            scope: READ_ALL.into(),
            redirect_uri: REDIRECT.into(),
            code_challenge: None,
            code_challenge_method: None,
            nonce: None,
            iat: now() - 7200,
            exp: now() - 3600,
            jti: auditgraph::identity::tokens::new_jti(),
        },
    )
    .expect("seal");
    let redeem = |code: &str, verifier: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", PUBLIC_CLIENT.to_string()),
            ("code", code.to_string()),
            ("redirect_uri", REDIRECT.to_string()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_string()));
        }
        form
    };
    let password = |upn: &str, password: &str| {
        vec![
            ("grant_type", "password".to_string()),
            ("client_id", PUBLIC_CLIENT.to_string()),
            ("username", upn.to_string()),
            ("password", password.to_string()),
            ("scope", READ_ALL.to_string()),
        ]
    };

    let unknown_client = "00000000-0000-0000-0000-00000000dead";
    let unknown_tenant = "11111111-2222-3333-4444-555555555555";
    let cases: Vec<(&str, Reply, u16, &str, u32, String)> = vec![
        (
            "wrong secret in the body",
            post(token_endpoint.clone(), cc(READER.0, "nope", GRAPH_DEFAULT), None).await,
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                READER.0
            ),
        ),
        (
            "wrong secret via HTTP Basic",
            post(
                token_endpoint.clone(),
                vec![("grant_type", "client_credentials".into()), ("scope", GRAPH_DEFAULT.into())],
                Some((READER.0, "nope")),
            )
            .await,
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided.".into(),
        ),
        (
            "unknown client",
            post(token_endpoint.clone(), cc(unknown_client, "x", GRAPH_DEFAULT), None).await,
            400,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{unknown_client}' was not found in the directory"),
        ),
        (
            "unknown tenant",
            post(
                format!("{}/{unknown_tenant}/oauth2/v2.0/token", app.address),
                cc(READER.0, READER.1, GRAPH_DEFAULT),
                None,
            )
            .await,
            400,
            "invalid_request",
            90002,
            format!("Tenant '{unknown_tenant}' not found."),
        ),
        (
            "missing grant_type",
            post(token_endpoint.clone(), vec![("client_id", READER.0.into())], None).await,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.".into(),
        ),
        (
            "missing scope",
            post(
                token_endpoint.clone(),
                vec![
                    ("grant_type", "client_credentials".into()),
                    ("client_id", READER.0.into()),
                    ("client_secret", READER.1.into()),
                ],
                None,
            )
            .await,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.".into(),
        ),
        (
            "scope without /.default",
            post(token_endpoint.clone(), cc(READER.0, READER.1, READ_ALL), None).await,
            400,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {READ_ALL} is not valid. Client credential flows must have a scope value with /.default suffixed"
            ),
        ),
        (
            "scope of another resource",
            post(
                token_endpoint.clone(),
                cc(READER.0, READER.1, "https://management.azure.com/.default"),
                None,
            )
            .await,
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.".into(),
        ),
        (
            "unsupported grant type",
            post(
                token_endpoint.clone(),
                vec![("grant_type", "implicit".into()), ("client_id", READER.0.into())],
                None,
            )
            .await,
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type 'implicit'.".into(),
        ),
        (
            "a code that is not one",
            post(token_endpoint.clone(), redeem("not-a-code", Some(&"v".repeat(43))), None).await,
            400,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.".into(),
        ),
        (
            "an expired code",
            post(token_endpoint.clone(), redeem(&expired_code, None), None).await,
            400,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired".into(),
        ),
        (
            "PKCE verifier mismatch",
            post(token_endpoint.clone(), redeem(&code, Some(&"v".repeat(43))), None).await,
            400,
            "invalid_grant",
            50148,
            "The code_verifier does not match the code_challenge".into(),
        ),
        (
            "wrong password",
            post(token_endpoint.clone(), password(ADMIN, "wrong"), None).await,
            400,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.".into(),
        ),
        (
            "a public client sending a secret",
            post(token_endpoint.clone(), cc(PUBLIC_CLIENT, "x", GRAPH_DEFAULT), None).await,
            401,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.".into(),
        ),
    ];
    for (case, reply, status, error, code, description) in cases {
        assert_eq!(reply.status, status, "{case}: {}", reply.body);
        let body = &reply.body;
        assert_eq!(body["error"], error, "{case}: {body}");
        assert_eq!(body["error_codes"], json!([code]), "{case}");
        let text = body["error_description"].as_str().expect("error_description");
        assert!(text.starts_with(&format!("AADSTS{code}: {description}")), "{case}: {text}");
        let timestamp = body["timestamp"].as_str().expect("timestamp");
        assert!(
            chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%SZ").is_ok(),
            "{case}: {timestamp}"
        );
        let (trace, correlation) =
            (body["trace_id"].as_str().unwrap(), body["correlation_id"].as_str().unwrap());
        assert!(
            uuid::Uuid::parse_str(trace).is_ok() && uuid::Uuid::parse_str(correlation).is_ok(),
            "{case}: {body}"
        );
        assert!(
            text.ends_with(&format!(
                "\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
            )),
            "{case}: {text:?}"
        );
        assert_eq!(
            body["error_uri"],
            format!("https://login.microsoftonline.com/error?code={code}"),
            "{case}"
        );
        assert!(reply.header("content-type").unwrap().starts_with("application/json"), "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_certificate_replaces_the_local_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mine = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert_path = dir.path().join("mine.pem");
    let key_path = dir.path().join("mine.key");
    std::fs::write(&cert_path, mine.cert.pem()).unwrap();
    std::fs::write(&key_path, mine.signing_key.serialize_pem()).unwrap();
    let (_, https, banner) = serve_in(
        dir.path(),
        &["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()],
    )
    .await
    .expect("serves with the user's certificate");
    assert!(!dir.path().join("tls/ca.pem").exists(), "no local CA is created");
    assert!(!banner.contains("trust "), "no CA to trust: {banner}");
    let client = r12::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(r12::Certificate::from_pem(mine.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", loopback(&https))
        .build()
        .unwrap();
    let response =
        client.get(format!("{https}/v1.0/$metadata")).send().await.expect("TLS with the user's certificate");
    assert_eq!(response.status(), 200);
}
