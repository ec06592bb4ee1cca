//! HTTP tests of the token service and of the resource-side checks, written
//! to move into the main integration-test binary unchanged: each test builds
//! its own service over the development tenant (with a pre-generated key, so
//! no RSA generation per test) and a stand-in Graph route that does exactly
//! what the real doors must do: `verify` the header, `authorize` the
//! operation, map `AuthError` to Graph's envelope.
//!
//! Most tests run in process (`actix_web::test`). `oauth2_client_over_https`
//! runs a real `HttpServer` with the generated TLS certificate on
//! 127.0.0.1:0 and uses the `oauth2` crate as the client.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, ContentType};
use actix_web::http::{Method, StatusCode};
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::test_support::{self, ORIGIN};
use super::tokens::{self, ArtifactKind, AuthCode, DeviceCode, RefreshToken};
use super::well_known::{GRAPH_APP_ID, GRAPH_RESOURCE_URI, dev, directory_roles, permissions};
use super::{IdentityConfig, IdentityService, configure};
use crate::auth::{Operation, TokenVerifier};

const TENANT: &str = dev::TENANT_ID;
const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";
const REDIRECT: &str = "http://localhost:8400/callback";
const AUDIT_EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// A stand-in for a Graph door: GET reads, POST writes (and echoes the actor).
async fn audit_events(req: HttpRequest, verifier: web::Data<TokenVerifier>) -> HttpResponse {
    let operation = if req.method() == Method::GET { Operation::Read } else { Operation::Write };
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match verifier.verify(header).and_then(|p| p.authorize(operation).map(|()| p)) {
        Ok(_) if operation == Operation::Read => HttpResponse::Ok().json(json!({ "value": [] })),
        Ok(p) => {
            let a = p.actor();
            HttpResponse::Created().json(json!({ "actor": {
                "auditActorType": a.audit_actor_type, "applicationId": a.application_id,
                "applicationDisplayName": a.application_display_name,
                "servicePrincipalName": a.service_principal_name, "userId": a.user_id,
                "userPrincipalName": a.user_principal_name, "userPermissions": a.user_permissions,
            }}))
        }
        Err(e) => {
            let mut response = HttpResponse::build(e.status());
            if let Some(challenge) = e.www_authenticate() {
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            response.json(json!({ "error": { "code": e.code(), "message": e.message() } }))
        }
    }
}

/// The app the lead builds: identity routes plus a Graph route.
macro_rules! app {
    ($svc:expr) => {{
        let svc: IdentityService = $svc;
        test::init_service(
            App::new()
                .app_data(web::Data::new(svc.verifier()))
                .app_data(web::Data::new(svc.clone()))
                .configure(configure)
                .route(AUDIT_EVENTS, web::get().to(audit_events))
                .route(AUDIT_EVENTS, web::post().to(audit_events)),
        )
        .await
    }};
}

fn form(uri: &str, pairs: &[(&str, &str)]) -> test::TestRequest {
    test::TestRequest::post()
        .uri(uri)
        .insert_header(ContentType::form_url_encoded())
        .set_payload(serde_urlencoded::to_string(pairs).expect("form"))
}

fn token_uri(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/token")
}

async fn json_of<B: MessageBody>(resp: ServiceResponse<B>) -> Value {
    test::read_body_json(resp).await
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("jwt payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().expect("jwt header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64")).expect("json")
}

/// Checks the identity.md §7 error format and returns the body.
async fn expect_error<B: MessageBody>(
    resp: ServiceResponse<B>,
    status: u16,
    error: &str,
    code: u32,
) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status for {error}");
    let content_type =
        resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(content_type, "application/json; charset=utf-8");
    let body = json_of(resp).await;
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let description = body["error_description"].as_str().expect("description");
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
    let timestamp = body["timestamp"].as_str().expect("timestamp");
    assert!(
        timestamp.len() == 20 && timestamp.as_bytes()[10] == b' ' && timestamp.ends_with('Z'),
        "timestamp '{timestamp}' must look like 2016-01-09 02:02:12Z"
    );
    let tail = format!(
        "\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {timestamp}",
        body["trace_id"].as_str().expect("trace_id"),
        body["correlation_id"].as_str().expect("correlation_id"),
    );
    assert!(description.ends_with(&tail), "{description:?}");
    assert_eq!(body["error_uri"], format!("https://login.microsoftonline.com/error?code={code}"));
    body
}

async fn client_credentials_token(
    svc: IdentityService,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> String {
    let app = app!(svc);
    let resp = test::call_service(
        &app,
        form(
            &token_uri(TENANT),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", scope),
            ],
        )
        .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    json_of(resp).await["access_token"].as_str().expect("token").to_string()
}

fn pkce_pair() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string();
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize_uri(extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("client_id", dev::PUBLIC_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "DeviceManagementApps.Read.All openid profile offline_access"),
        ("state", "st-123"),
    ];
    pairs.extend_from_slice(extra);
    format!("/{TENANT}/oauth2/v2.0/authorize?{}", serde_urlencoded::to_string(&pairs).expect("query"))
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let query = location.split_once(['?', '#']).map(|(_, q)| q).unwrap_or_default();
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).expect("query").into_iter().collect()
}

fn location<B>(resp: &ServiceResponse<B>) -> String {
    resp.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).expect("Location").to_string()
}

// ---------------------------------------------------------------------------
// Discovery and keys
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn discovery_points_at_own_origin_for_every_tenant_spelling() {
    let app = app!(test_support::service("disco"));
    for segment in [TENANT, dev::TENANT_DOMAIN, "common", "organizations"] {
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/{segment}/v2.0/.well-known/openid-configuration"))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK, "{segment}");
        assert_eq!(
            resp.headers().get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"max-age=86400, private"[..])
        );
        let doc = json_of(resp).await;
        for key in [
            "token_endpoint",
            "jwks_uri",
            "authorization_endpoint",
            "device_authorization_endpoint",
            "end_session_endpoint",
            "issuer",
            "userinfo_endpoint",
        ] {
            let url = doc[key].as_str().expect(key);
            assert!(url.starts_with(&format!("{ORIGIN}/")), "{key} = {url}");
        }
        let expected_segment = if segment == dev::TENANT_DOMAIN { TENANT } else { segment };
        assert_eq!(doc["token_endpoint"], format!("{ORIGIN}/{expected_segment}/oauth2/v2.0/token"));
        assert_eq!(doc["msgraph_host"], "localhost:5443");
    }
    let doc = json_of(
        test::call_service(
            &app,
            test::TestRequest::get().uri("/common/v2.0/.well-known/openid-configuration").to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(doc["issuer"], format!("{ORIGIN}/{{tenantid}}/v2.0"));

    let v1 = json_of(
        test::call_service(
            &app,
            test::TestRequest::get().uri(&format!("/{TENANT}/.well-known/openid-configuration")).to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(v1["token_endpoint"], format!("{ORIGIN}/{TENANT}/oauth2/token"));

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration")
            .to_request(),
    )
    .await;
    let body = expect_error(resp, 400, "invalid_tenant", 90002).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("Tenant 'fabrikam.onmicrosoft.com' not found.")
    );
}

#[actix_web::test]
async fn jwks_in_every_spelling_publishes_the_signing_key() {
    let svc = test_support::service("jwks");
    let kid = svc.kid().to_string();
    let app = app!(svc.clone());
    for path in [
        format!("/{TENANT}/discovery/v2.0/keys"),
        "/common/discovery/v2.0/keys".into(),
        format!("/{TENANT}/discovery/keys"),
        "/common/discovery/keys".into(),
    ] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(&path).to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let jwks = json_of(resp).await;
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], kid.as_str());
        assert_eq!(key["x5t"], kid.as_str());
        assert_eq!(key["e"], "AQAB");
        assert!(key["x5c"][0].as_str().is_some_and(|c| c.len() > 500));
        assert_eq!(key.get("issuer").is_some(), path.contains("v2.0"), "{path}");
    }
    let jwks = json_of(
        test::call_service(
            &app,
            test::TestRequest::get().uri(&format!("/{TENANT}/discovery/v2.0/keys")).to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(jwks["keys"][0]["issuer"], format!("{ORIGIN}/{TENANT}/v2.0"));

    // The token's kid is the published one.
    let token = client_credentials_token(svc, dev::READER_CLIENT_ID, dev::READER_SECRET, GRAPH_DEFAULT).await;
    assert_eq!(header_of(&token)["kid"], kid.as_str());
    assert_eq!(header_of(&token)["alg"], "RS256");
}

#[actix_web::test]
async fn instance_discovery_answers_with_own_host() {
    let app = app!(test_support::service("instance"));
    let uri = format!(
        "/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
        "https%3A%2F%2Flocalhost%3A5443%2F7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001%2Foauth2%2Fv2.0%2Fauthorize"
    );
    let doc = json_of(test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await).await;
    assert_eq!(
        doc["tenant_discovery_endpoint"],
        format!("{ORIGIN}/{TENANT}/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(doc["metadata"][0]["aliases"], json!(["localhost:5443"]));
}

// ---------------------------------------------------------------------------
// Client credentials
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn client_credentials_with_secret_in_body() {
    let app = app!(test_support::service("cc-body"));
    let resp = test::call_service(
        &app,
        form(
            &token_uri(TENANT),
            &[
                ("client_id", dev::READER_CLIENT_ID),
                ("scope", GRAPH_DEFAULT),
                ("client_secret", dev::READER_SECRET),
                ("grant_type", "client_credentials"),
                // What azure-identity adds; must be accepted and ignored.
                ("claims", r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#),
                ("x-client-SKU", "MSAL.Python"),
            ],
        )
        .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    for (name, value) in [
        ("cache-control", "no-store, no-cache"),
        ("pragma", "no-cache"),
        ("expires", "-1"),
        ("content-type", "application/json; charset=utf-8"),
    ] {
        assert_eq!(resp.headers().get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
    }
    let body = json_of(resp).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body.get("refresh_token").is_none() && body.get("scope").is_none(), "{body}");

    let token = body["access_token"].as_str().expect("token");
    let c = claims_of(token);
    assert_eq!(c["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(c["aud"], GRAPH_RESOURCE_URI);
    assert_eq!(c["tid"], TENANT);
    assert_eq!(c["appid"], dev::READER_CLIENT_ID);
    assert_eq!(c["app_displayname"], "auditgraph-reader");
    assert_eq!(c["oid"], dev::READER_OBJECT_ID);
    assert_eq!(c["sub"], dev::READER_OBJECT_ID);
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["roles"], json!([permissions::DEVICE_MANAGEMENT_APPS_READ_ALL]));
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["xms_cc"], json!(["CP1"]));
    assert!(c["uti"].is_string() && c["exp"].as_i64() > c["iat"].as_i64());
    assert!(c.get("scp").is_none());

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(AUDIT_EVENTS)
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[actix_web::test]
async fn client_credentials_with_http_basic_and_tenant_aliases() {
    let app = app!(test_support::service("cc-basic"));
    // RFC 6749 §2.3.1: both parts form-encoded before base64.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        dev::WRITER_CLIENT_ID,
        dev::WRITER_SECRET
    ));
    for tenant in [TENANT, dev::TENANT_DOMAIN, "common", "organizations"] {
        let resp = test::call_service(
            &app,
            form(&token_uri(tenant), &[("grant_type", "client_credentials"), ("scope", GRAPH_DEFAULT)])
                .insert_header((header::AUTHORIZATION, format!("Basic {basic}")))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK, "{tenant}");
        let c = claims_of(json_of(resp).await["access_token"].as_str().expect("token"));
        assert_eq!(c["tid"], TENANT);
        assert_eq!(c["roles"], json!([permissions::DEVICE_MANAGEMENT_APPS_READWRITE_ALL]));
    }
}

#[actix_web::test]
async fn client_credentials_scope_forms_and_audiences() {
    let app = app!(test_support::service("cc-scopes"));
    let cases = [
        (GRAPH_DEFAULT, None, GRAPH_RESOURCE_URI),
        ("00000003-0000-0000-c000-000000000000/.default", None, GRAPH_APP_ID),
        // kiota derives the scope from the request URL.
        ("https://localhost:5443/.default", None, GRAPH_RESOURCE_URI),
        ("http://127.0.0.1/.default", None, GRAPH_RESOURCE_URI),
        ("https://localhost/.default", None, GRAPH_RESOURCE_URI),
        ("http://auditgraph.internal:8080/.default", Some("auditgraph.internal:8080"), GRAPH_RESOURCE_URI),
    ];
    for (scope, host, aud) in cases {
        let mut req = form(
            &token_uri(TENANT),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", dev::READER_CLIENT_ID),
                ("client_secret", dev::READER_SECRET),
                ("scope", scope),
            ],
        );
        if let Some(host) = host {
            req = req.insert_header((header::HOST, host));
        }
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{scope}");
        assert_eq!(
            claims_of(json_of(resp).await["access_token"].as_str().expect("token"))["aud"],
            aud,
            "{scope}"
        );
    }
}

#[actix_web::test]
async fn token_endpoint_errors() {
    let app = app!(test_support::service("errors"));
    let cc = |tenant: &str, pairs: &[(&str, &str)]| {
        let mut all = vec![("grant_type", "client_credentials")];
        all.extend_from_slice(pairs);
        form(&token_uri(tenant), &all).to_request()
    };
    let reader = [
        ("client_id", dev::READER_CLIENT_ID),
        ("client_secret", dev::READER_SECRET),
        ("scope", GRAPH_DEFAULT),
    ];

    // Wrong secret.
    let resp = test::call_service(
        &app,
        cc(
            TENANT,
            &[("client_id", dev::READER_CLIENT_ID), ("client_secret", "nope"), ("scope", GRAPH_DEFAULT)],
        ),
    )
    .await;
    let body = expect_error(resp, 401, "invalid_client", 7000215).await;
    assert!(body["error_description"].as_str().unwrap_or_default().contains(&format!(
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
        dev::READER_CLIENT_ID
    )));
    // Missing secret for a confidential app.
    let resp = test::call_service(
        &app,
        cc(TENANT, &[("client_id", dev::READER_CLIENT_ID), ("scope", GRAPH_DEFAULT)]),
    )
    .await;
    expect_error(resp, 401, "invalid_client", 7000218).await;
    // A public client cannot use client credentials, with or without a secret.
    let resp = test::call_service(
        &app,
        cc(TENANT, &[("client_id", dev::PUBLIC_CLIENT_ID), ("scope", GRAPH_DEFAULT)]),
    )
    .await;
    expect_error(resp, 401, "invalid_client", 7000218).await;
    let resp = test::call_service(
        &app,
        cc(TENANT, &[("client_id", dev::PUBLIC_CLIENT_ID), ("client_secret", "x"), ("scope", GRAPH_DEFAULT)]),
    )
    .await;
    expect_error(resp, 401, "invalid_client", 700025).await;
    // Unknown client.
    let resp = test::call_service(
        &app,
        cc(
            TENANT,
            &[
                ("client_id", "11111111-1111-1111-1111-111111111111"),
                ("client_secret", "x"),
                ("scope", GRAPH_DEFAULT),
            ],
        ),
    )
    .await;
    let body = expect_error(resp, 400, "unauthorized_client", 700016).await;
    assert!(body["error_description"].as_str().unwrap_or_default().contains("Application with identifier '11111111-1111-1111-1111-111111111111' was not found in the directory 'Contoso'."));
    // Unknown tenant.
    let resp = test::call_service(&app, cc("fabrikam.onmicrosoft.com", &reader)).await;
    expect_error(resp, 400, "invalid_request", 90002).await;
    // Missing parameters.
    let resp = test::call_service(&app, form(&token_uri(TENANT), &reader).to_request()).await;
    let body = expect_error(resp, 400, "invalid_request", 900144).await;
    assert!(
        body["error_description"].as_str().unwrap_or_default().starts_with(
            "AADSTS900144: The request body must contain the following parameter: 'grant_type'."
        )
    );
    let resp = test::call_service(
        &app,
        cc(TENANT, &[("client_id", dev::READER_CLIENT_ID), ("client_secret", dev::READER_SECRET)]),
    )
    .await;
    let body = expect_error(resp, 400, "invalid_request", 900144).await;
    assert!(body["error_description"].as_str().unwrap_or_default().contains("'scope'"));
    let resp = test::call_service(
        &app,
        cc(TENANT, &[("client_secret", dev::READER_SECRET), ("scope", GRAPH_DEFAULT)]),
    )
    .await;
    expect_error(resp, 400, "invalid_request", 900144).await;
    // Bad scopes.
    let resp = test::call_service(
        &app,
        cc(
            TENANT,
            &[
                ("client_id", dev::READER_CLIENT_ID),
                ("client_secret", dev::READER_SECRET),
                ("scope", "https://graph.microsoft.com/DeviceManagementApps.Read.All"),
            ],
        ),
    )
    .await;
    let body = expect_error(resp, 400, "invalid_scope", 1002012).await;
    assert!(body["error_description"].as_str().unwrap_or_default().contains("Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."));
    let resp = test::call_service(
        &app,
        cc(
            TENANT,
            &[
                ("client_id", dev::READER_CLIENT_ID),
                ("client_secret", dev::READER_SECRET),
                ("scope", "https://foo.microsoft.com/.default"),
            ],
        ),
    )
    .await;
    let body = expect_error(resp, 400, "invalid_scope", 70011).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("The scope https://foo.microsoft.com/.default is not valid.")
    );
    // Unsupported grant.
    let resp = test::call_service(
        &app,
        form(&token_uri(TENANT), &[("grant_type", "implicit"), ("client_id", dev::READER_CLIENT_ID)])
            .to_request(),
    )
    .await;
    expect_error(resp, 400, "unsupported_grant_type", 70003).await;
    // GET on the token endpoint.
    let resp = test::call_service(&app, test::TestRequest::get().uri(&token_uri(TENANT)).to_request()).await;
    expect_error(resp, 400, "invalid_request", 900561).await;
    // Certificate credentials are not emulated.
    let resp = test::call_service(
        &app,
        cc(
            TENANT,
            &[
                ("client_id", dev::READER_CLIENT_ID),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", "x.y.z"),
                ("scope", GRAPH_DEFAULT),
            ],
        ),
    )
    .await;
    expect_error(resp, 401, "invalid_client", 700027).await;
}

#[actix_web::test]
async fn correlation_id_echoes_client_request_id() {
    let app = app!(test_support::service("corr"));
    let id = "7c1bbd66-ba36-4bd3-8d22-e1d6e4e3f0a1";
    let resp = test::call_service(
        &app,
        form(&token_uri(TENANT), &[("grant_type", "client_credentials")])
            .insert_header(("client-request-id", id))
            .to_request(),
    )
    .await;
    assert_eq!(resp.headers().get("client-request-id").and_then(|v| v.to_str().ok()), Some(id));
    let body = expect_error(resp, 400, "invalid_request", 900144).await;
    assert_eq!(body["correlation_id"], id);
}

#[actix_web::test]
async fn expired_secret_from_tenant_file() {
    let dir = test_support::data_dir("expired-secret");
    let file = dir.join("tenants.toml");
    std::fs::write(&file, include_str!("tenant.example.toml")).expect("write tenant file");
    let mut config = IdentityConfig::new(dir, ORIGIN);
    config.tenant_file = Some(file);
    let app = app!(IdentityService::new(config).expect("service"));
    let pairs = |secret: &'static str| {
        form(
            "/fabrikam.onmicrosoft.com/oauth2/v2.0/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b201"),
                ("client_secret", secret),
                ("scope", GRAPH_DEFAULT),
            ],
        )
        .to_request()
    };
    expect_error(test::call_service(&app, pairs("rotated-out")).await, 401, "invalid_client", 7000222).await;
    let resp = test::call_service(&app, pairs("siem-secret")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let c = claims_of(json_of(resp).await["access_token"].as_str().expect("token"));
    assert_eq!(c["tid"], "3f2a1b0c-0d9e-4f8a-b7c6-d5e4f3a2b100");
}

// ---------------------------------------------------------------------------
// Authorization code + PKCE, refresh
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn auth_code_with_pkce_s256_then_refresh() {
    let app = app!(test_support::service("authcode"));
    let (verifier, challenge) = pkce_pair();
    let uri = authorize_uri(&[
        ("login_hint", dev::AUDITOR_UPN),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("nonce", "n-1"),
        ("client_info", "1"),
    ]);
    let resp = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = location(&resp);
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let q = query_of(&location);
    assert_eq!(q["state"], "st-123");
    let code = q["code"].clone();

    let redeem = |code: &str, verifier: &str| {
        form(
            &token_uri(TENANT),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", dev::PUBLIC_CLIENT_ID),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
                ("client_info", "1"),
            ],
        )
        .to_request()
    };
    // A wrong verifier fails without burning the code.
    expect_error(
        test::call_service(&app, redeem(&code, "wrong-verifier-wrong-verifier-wrong-verifier")).await,
        400,
        "invalid_grant",
        50148,
    )
    .await;

    let resp = test::call_service(&app, redeem(&code, &verifier)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_of(resp).await;
    assert_eq!(body["scope"], "DeviceManagementApps.Read.All openid profile");
    assert!(
        body["refresh_token"].is_string() && body["id_token"].is_string() && body["client_info"].is_string()
    );
    let c = claims_of(body["access_token"].as_str().expect("token"));
    assert_eq!(c["idtyp"], "user");
    assert_eq!(c["aud"], GRAPH_APP_ID);
    assert_eq!(c["upn"], dev::AUDITOR_UPN);
    assert_eq!(c["oid"], dev::AUDITOR_OBJECT_ID);
    assert_eq!(c["scp"], "DeviceManagementApps.Read.All openid profile");
    assert_eq!(c["appid"], dev::PUBLIC_CLIENT_ID);
    assert!(c.get("wids").is_none(), "the auditor has no directory role");
    let id = claims_of(body["id_token"].as_str().expect("id token"));
    assert_eq!(id["aud"], dev::PUBLIC_CLIENT_ID);
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["iss"], format!("{ORIGIN}/{TENANT}/v2.0"));

    // The token reads (the auditor holds Audit data - Read) but cannot write.
    let bearer = format!("Bearer {}", body["access_token"].as_str().expect("token"));
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(AUDIT_EVENTS)
            .insert_header((header::AUTHORIZATION, bearer.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(AUDIT_EVENTS)
            .insert_header((header::AUTHORIZATION, bearer))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Codes are single use.
    expect_error(test::call_service(&app, redeem(&code, &verifier)).await, 400, "invalid_grant", 54005).await;

    // Refresh, then refresh again with the rotated token.
    let refresh = |rt: &str, client: &str| {
        form(
            &token_uri(TENANT),
            &[("grant_type", "refresh_token"), ("client_id", client), ("refresh_token", rt)],
        )
        .to_request()
    };
    let rt = body["refresh_token"].as_str().expect("rt").to_string();
    let resp = test::call_service(&app, refresh(&rt, dev::PUBLIC_CLIENT_ID)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let refreshed = json_of(resp).await;
    assert_eq!(claims_of(refreshed["access_token"].as_str().expect("token"))["upn"], dev::AUDITOR_UPN);
    let rt2 = refreshed["refresh_token"].as_str().expect("rotated rt");
    assert_eq!(test::call_service(&app, refresh(rt2, dev::PUBLIC_CLIENT_ID)).await.status(), StatusCode::OK);

    // Refresh errors: garbage, another client's token.
    expect_error(
        test::call_service(&app, refresh("garbage", dev::PUBLIC_CLIENT_ID)).await,
        400,
        "invalid_grant",
        9002313,
    )
    .await;
    let resp = test::call_service(
        &app,
        form(
            &token_uri(TENANT),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", dev::READER_CLIENT_ID),
                ("client_secret", dev::READER_SECRET),
                ("refresh_token", &rt),
            ],
        )
        .to_request(),
    )
    .await;
    expect_error(resp, 400, "invalid_grant", 70000).await;
    // An access token is not a refresh token.
    expect_error(
        test::call_service(
            &app,
            refresh(refreshed["access_token"].as_str().expect("at"), dev::PUBLIC_CLIENT_ID),
        )
        .await,
        400,
        "invalid_grant",
        9002313,
    )
    .await;
}

#[actix_web::test]
async fn auth_code_errors_and_plain_pkce() {
    let svc = test_support::service("authcode-errors");
    let sealer = svc.clone();
    let app = app!(svc);
    let redeem = |code: &str, redirect: &str, verifier: Option<&str>| {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("client_id", dev::PUBLIC_CLIENT_ID),
            ("code", code),
            ("redirect_uri", redirect),
        ];
        if let Some(v) = verifier {
            pairs.push(("code_verifier", v));
        }
        form(&token_uri(TENANT), &pairs).to_request()
    };

    // plain PKCE (method omitted means plain).
    let plain = "a-plain-verifier-that-is-at-least-forty-three-characters-long";
    let uri = authorize_uri(&[("login_hint", dev::ADMIN_UPN), ("code_challenge", plain)]);
    let code =
        query_of(&location(&test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await))
            ["code"]
            .clone();
    expect_error(
        test::call_service(&app, redeem(&code, REDIRECT, None)).await,
        400,
        "invalid_request",
        900144,
    )
    .await;
    expect_error(
        test::call_service(&app, redeem(&code, "http://localhost:9999/other", Some(plain))).await,
        400,
        "invalid_grant",
        500112,
    )
    .await;
    let resp = test::call_service(&app, redeem(&code, REDIRECT, Some(plain))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let c = claims_of(json_of(resp).await["access_token"].as_str().expect("token"));
    assert_eq!(c["wids"], json!([directory_roles::GLOBAL_ADMINISTRATOR]));

    // Garbage and expired codes.
    expect_error(
        test::call_service(&app, redeem("not-a-code", REDIRECT, None)).await,
        400,
        "invalid_grant",
        9002313,
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let expired = AuthCode {
        aud: tokens::artifact_audience(ArtifactKind::AuthorizationCode),
        tid: TENANT.into(),
        cid: dev::PUBLIC_CLIENT_ID.into(),
        oid: dev::ADMIN_OBJECT_ID.into(),
        scope: "DeviceManagementApps.Read.All".into(),
        redirect_uri: REDIRECT.into(),
        code_challenge: None,
        code_challenge_method: None,
        nonce: None,
        iat: now - 1200,
        exp: now - 600,
        jti: tokens::new_jti(),
    };
    let expired = sealer.seal_artifact(ArtifactKind::AuthorizationCode, &expired).expect("seal");
    expect_error(
        test::call_service(&app, redeem(&expired, REDIRECT, None)).await,
        400,
        "invalid_grant",
        70008,
    )
    .await;
    // A refresh token is not an authorization code.
    let rt = RefreshToken {
        aud: tokens::artifact_audience(ArtifactKind::RefreshToken),
        tid: TENANT.into(),
        cid: dev::PUBLIC_CLIENT_ID.into(),
        oid: dev::ADMIN_OBJECT_ID.into(),
        scope: "User.Read".into(),
        iat: now,
        exp: now + 600,
        jti: tokens::new_jti(),
    };
    let rt = sealer.seal_artifact(ArtifactKind::RefreshToken, &rt).expect("seal");
    expect_error(test::call_service(&app, redeem(&rt, REDIRECT, None)).await, 400, "invalid_grant", 9002313)
        .await;
    // An expired refresh token.
    let old = RefreshToken {
        aud: tokens::artifact_audience(ArtifactKind::RefreshToken),
        tid: TENANT.into(),
        cid: dev::PUBLIC_CLIENT_ID.into(),
        oid: dev::ADMIN_OBJECT_ID.into(),
        scope: "User.Read".into(),
        iat: now - 100 * 86_400,
        exp: now - 10 * 86_400,
        jti: tokens::new_jti(),
    };
    let old = sealer.seal_artifact(ArtifactKind::RefreshToken, &old).expect("seal");
    let resp = test::call_service(
        &app,
        form(
            &token_uri(TENANT),
            &[("grant_type", "refresh_token"), ("client_id", dev::PUBLIC_CLIENT_ID), ("refresh_token", &old)],
        )
        .to_request(),
    )
    .await;
    let body = expect_error(resp, 400, "invalid_grant", 700082).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("The refresh token has expired due to inactivity.")
    );

    // A confidential client must authenticate when redeeming.
    let uri = format!(
        "/{TENANT}/oauth2/v2.0/authorize?client_id={}&response_type=code&redirect_uri={}&scope=User.Read&login_hint={}",
        dev::READER_CLIENT_ID,
        "http%3A%2F%2Flocalhost%3A8400%2Fcallback",
        dev::ADMIN_UPN
    );
    let code =
        query_of(&location(&test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await))
            ["code"]
            .clone();
    let resp = test::call_service(
        &app,
        form(
            &token_uri(TENANT),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", dev::READER_CLIENT_ID),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .to_request(),
    )
    .await;
    expect_error(resp, 401, "invalid_client", 7000218).await;
    let resp = test::call_service(
        &app,
        form(
            &token_uri(TENANT),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", dev::READER_CLIENT_ID),
                ("client_secret", dev::READER_SECRET),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[actix_web::test]
async fn authorize_sign_in_form_and_redirect_errors() {
    let app = app!(test_support::service("authorize"));
    // No hint and no auto-approve user: the sign-in form.
    let uri = authorize_uri(&[]);
    let resp = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = String::from_utf8(test::read_body(resp).await.to_vec()).expect("utf8");
    assert!(page.contains("name=\"passwd\"") && page.contains("value=\"st-123\""));

    // Posting it: wrong password shows the form again, the right one redirects.
    let mut fields: Vec<(&str, &str)> = vec![
        ("client_id", dev::PUBLIC_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "DeviceManagementApps.Read.All"),
        ("state", "st-123"),
        ("login", dev::HELPDESK_UPN),
        ("passwd", "wrong"),
    ];
    let post =
        |fields: &[(&str, &str)]| form(&format!("/{TENANT}/oauth2/v2.0/authorize"), fields).to_request();
    let resp = test::call_service(&app, post(&fields)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(String::from_utf8_lossy(&test::read_body(resp).await).contains("incorrect"));
    fields.pop();
    fields.push(("passwd", dev::PASSWORD));
    let resp = test::call_service(&app, post(&fields)).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(query_of(&location(&resp)).contains_key("code"));

    // prompt=none without a user: login_required on the redirect.
    let resp = test::call_service(
        &app,
        test::TestRequest::get().uri(&authorize_uri(&[("prompt", "none")])).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let q = query_of(&location(&resp));
    assert_eq!(q["error"], "login_required");
    assert!(q["error_description"].starts_with("AADSTS50058: "));
    assert_eq!(q["state"], "st-123");

    // Bad PKCE parameters and response types are redirected errors.
    let q = query_of(&location(
        &test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&authorize_uri(&[
                    ("login_hint", dev::ADMIN_UPN),
                    ("code_challenge", "short"),
                    ("code_challenge_method", "S256"),
                ]))
                .to_request(),
        )
        .await,
    ));
    assert_eq!(q["error"], "invalid_request");
    let q = query_of(&location(
        &test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&authorize_uri(&[
                    ("login_hint", dev::ADMIN_UPN),
                    ("code_challenge", &pkce_pair().1),
                    ("code_challenge_method", "S512"),
                ]))
                .to_request(),
        )
        .await,
    ));
    assert_eq!(q["error"], "invalid_request");
    let uri =
        authorize_uri(&[("login_hint", dev::ADMIN_UPN)]).replace("response_type=code", "response_type=token");
    let q =
        query_of(&location(&test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await));
    assert_eq!(q["error"], "unsupported_response_type");
    let uri = authorize_uri(&[("login_hint", dev::ADMIN_UPN)])
        .replace("scope=DeviceManagementApps.Read.All", "scope=api%3A%2F%2Fother%2Fread");
    let q =
        query_of(&location(&test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await));
    assert_eq!(q["error"], "invalid_scope");

    // An unregistered redirect URI or unknown client is a page, never a redirect.
    let uri = authorize_uri(&[]).replace("localhost%3A8400", "evil.example");
    let resp = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get(header::LOCATION).is_none());
    assert!(String::from_utf8_lossy(&test::read_body(resp).await).contains("AADSTS50011"));
    let uri = authorize_uri(&[]).replace(dev::PUBLIC_CLIENT_ID, "11111111-1111-1111-1111-111111111111");
    let resp = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&test::read_body(resp).await).contains("AADSTS700016"));

    // Fragment and form_post response modes.
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&authorize_uri(&[("login_hint", dev::ADMIN_UPN), ("response_mode", "fragment")]))
            .to_request(),
    )
    .await;
    assert!(location(&resp).starts_with(&format!("{REDIRECT}#code=")));
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&authorize_uri(&[("login_hint", dev::ADMIN_UPN), ("response_mode", "form_post")]))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
    assert!(page.contains("name=\"code\"") && page.contains(&format!("action=\"{REDIRECT}\"")));
}

#[actix_web::test]
async fn authorize_auto_approves_configured_user() {
    let app =
        app!(test_support::service_with("auto-user", |c| c.auto_approve_user =
            Some(dev::INTUNE_ADMIN_UPN.into())));
    let resp = test::call_service(&app, test::TestRequest::get().uri(&authorize_uri(&[])).to_request()).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let code = query_of(&location(&resp))["code"].clone();
    let resp = test::call_service(
        &app,
        form(
            &token_uri(TENANT),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", dev::PUBLIC_CLIENT_ID),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .to_request(),
    )
    .await;
    assert_eq!(
        claims_of(json_of(resp).await["access_token"].as_str().expect("token"))["upn"],
        dev::INTUNE_ADMIN_UPN
    );
}

// ---------------------------------------------------------------------------
// Password (ROPC)
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn password_grant() {
    let app = app!(test_support::service("ropc"));
    let ropc = |user: &str, password: &str| {
        form(
            &token_uri("organizations"),
            &[
                ("grant_type", "password"),
                ("client_id", dev::PUBLIC_CLIENT_ID),
                ("username", user),
                ("password", password),
                ("scope", "https://graph.microsoft.com/DeviceManagementApps.ReadWrite.All offline_access"),
            ],
        )
        .to_request()
    };
    let resp = test::call_service(&app, ropc(dev::ADMIN_UPN, dev::PASSWORD)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_of(resp).await;
    assert_eq!(body["scope"], "https://graph.microsoft.com/DeviceManagementApps.ReadWrite.All");
    assert!(body["refresh_token"].is_string() && body.get("id_token").is_none());
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(claims_of(token)["aud"], GRAPH_RESOURCE_URI);

    // The Global Administrator may write; the actor is an ItPro.
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(AUDIT_EVENTS)
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let actor = json_of(resp).await["actor"].clone();
    assert_eq!(actor["auditActorType"], "ItPro");
    assert_eq!(actor["userPrincipalName"], dev::ADMIN_UPN);
    assert_eq!(actor["userId"], dev::ADMIN_OBJECT_ID);
    assert_eq!(actor["userPermissions"], json!(["*"]));

    expect_error(test::call_service(&app, ropc(dev::ADMIN_UPN, "wrong")).await, 400, "invalid_grant", 50126)
        .await;
    expect_error(
        test::call_service(&app, ropc("ghost@contoso.onmicrosoft.com", dev::PASSWORD)).await,
        400,
        "invalid_grant",
        50034,
    )
    .await;

    // The helpdesk user gets a token but no audit data.
    let token =
        json_of(test::call_service(&app, ropc(dev::HELPDESK_UPN, dev::PASSWORD)).await).await["access_token"]
            .as_str()
            .expect("token")
            .to_string();
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(AUDIT_EVENTS)
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = json_of(resp).await;
    assert_eq!(body["error"]["code"], "Forbidden");
    let inner: Value =
        serde_json::from_str(body["error"]["message"].as_str().expect("message")).expect("nested JSON");
    assert!(
        inner["Message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("User is not authorized to perform this operation - Operation ID")
    );
}

// ---------------------------------------------------------------------------
// Device code
// ---------------------------------------------------------------------------

/// Starts a device flow for the public client; evaluates to the JSON answer.
macro_rules! start_device {
    ($app:expr, $scope:expr) => {{
        let resp = test::call_service(
            $app,
            form(
                &format!("/{TENANT}/oauth2/v2.0/devicecode"),
                &[("client_id", dev::PUBLIC_CLIENT_ID), ("scope", $scope)],
            )
            .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        json_of(resp).await
    }};
}

fn poll(device_code: &str) -> test::TestRequest {
    form(
        &token_uri(TENANT),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", dev::PUBLIC_CLIENT_ID),
            ("device_code", device_code),
        ],
    )
}

#[actix_web::test]
async fn device_code_admin_approval() {
    let app = app!(test_support::service("device"));
    let start = start_device!(&app, "DeviceManagementApps.Read.All offline_access");
    let user_code = start["user_code"].as_str().expect("user_code").to_string();
    let device_code = start["device_code"].as_str().expect("device_code").to_string();
    assert_eq!(start["verification_uri"], format!("{ORIGIN}/devicelogin"));
    assert_eq!(start["expires_in"], 900);
    assert_eq!(start["interval"], 5);
    assert!(start["message"].as_str().unwrap_or_default().contains(&user_code));
    assert!(start.get("verification_uri_complete").is_none());

    expect_error(
        test::call_service(&app, poll(&device_code).to_request()).await,
        400,
        "authorization_pending",
        70016,
    )
    .await;

    let approve = |code: &str, body: Value| {
        test::TestRequest::post()
            .uri(&format!("/_auditgraph/identity/devicecodes/{code}/approve"))
            .set_json(body)
            .to_request()
    };
    assert_eq!(
        test::call_service(&app, approve("NOSUCHCODE", json!({}))).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        test::call_service(&app, approve(&user_code, json!({"user": "ghost@contoso.onmicrosoft.com"})))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let resp =
        test::call_service(&app, approve(&user_code.to_lowercase(), json!({"user": dev::AUDITOR_UPN}))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json_of(resp).await["user"], dev::AUDITOR_UPN);
    assert_eq!(test::call_service(&app, approve(&user_code, json!({}))).await.status(), StatusCode::CONFLICT);

    let resp = test::call_service(&app, poll(&device_code).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_of(resp).await;
    assert!(body["refresh_token"].is_string());
    assert_eq!(claims_of(body["access_token"].as_str().expect("token"))["upn"], dev::AUDITOR_UPN);
    // Used up.
    expect_error(
        test::call_service(&app, poll(&device_code).to_request()).await,
        400,
        "bad_verification_code",
        70018,
    )
    .await;
    expect_error(
        test::call_service(&app, poll("garbage").to_request()).await,
        400,
        "bad_verification_code",
        70018,
    )
    .await;
}

#[actix_web::test]
async fn device_code_decline_expiry_and_auto_approval() {
    let svc = test_support::service_with("device-auto", |c| {
        c.device_code_auto_approve_after = Some(1);
        c.auto_approve_user = Some(dev::ADMIN_UPN.into());
    });
    let sealer = svc.clone();
    let app = app!(svc);
    // One pending answer, then approved as the configured user.
    let start = start_device!(&app, "DeviceManagementApps.Read.All");
    let device_code = start["device_code"].as_str().expect("device_code").to_string();
    expect_error(
        test::call_service(&app, poll(&device_code).to_request()).await,
        400,
        "authorization_pending",
        70016,
    )
    .await;
    let resp = test::call_service(&app, poll(&device_code).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        claims_of(json_of(resp).await["access_token"].as_str().expect("token"))["upn"],
        dev::ADMIN_UPN
    );

    // Declined.
    let start = start_device!(&app, "DeviceManagementApps.Read.All");
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&format!(
                "/_auditgraph/identity/devicecodes/{}/decline",
                start["user_code"].as_str().expect("code")
            ))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    expect_error(
        test::call_service(&app, poll(start["device_code"].as_str().expect("dc")).to_request()).await,
        400,
        "authorization_declined",
        65004,
    )
    .await;

    // Expired.
    let now = chrono::Utc::now().timestamp();
    let expired = DeviceCode {
        aud: tokens::artifact_audience(ArtifactKind::DeviceCode),
        tid: TENANT.into(),
        cid: dev::PUBLIC_CLIENT_ID.into(),
        scope: "User.Read".into(),
        user_code: "BCDFGHJKL".into(),
        iat: now - 1000,
        exp: now - 100,
        jti: tokens::new_jti(),
    };
    let expired = sealer.seal_artifact(ArtifactKind::DeviceCode, &expired).expect("seal");
    expect_error(test::call_service(&app, poll(&expired).to_request()).await, 400, "expired_token", 70020)
        .await;

    // Starting errors.
    let resp = test::call_service(
        &app,
        form(&format!("/{TENANT}/oauth2/v2.0/devicecode"), &[("client_id", dev::PUBLIC_CLIENT_ID)])
            .to_request(),
    )
    .await;
    expect_error(resp, 400, "invalid_request", 900144).await;
    let resp = test::call_service(
        &app,
        form(
            &format!("/{TENANT}/oauth2/v2.0/devicecode"),
            &[("client_id", "11111111-1111-1111-1111-111111111111"), ("scope", "User.Read")],
        )
        .to_request(),
    )
    .await;
    expect_error(resp, 400, "unauthorized_client", 700016).await;
}

#[actix_web::test]
async fn devicelogin_page_approves_with_password() {
    let app = app!(test_support::service("devicelogin"));
    let start = start_device!(&app, "DeviceManagementApps.Read.All");
    let user_code = start["user_code"].as_str().expect("user_code");
    let resp = test::call_service(&app, test::TestRequest::get().uri("/devicelogin").to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = |password: &str| {
        form("/devicelogin", &[("otc", user_code), ("login", dev::INTUNE_ADMIN_UPN), ("passwd", password)])
            .to_request()
    };
    let text = String::from_utf8_lossy(&test::read_body(test::call_service(&app, page("wrong")).await).await)
        .into_owned();
    assert!(text.contains("incorrect"), "{text}");
    let text =
        String::from_utf8_lossy(&test::read_body(test::call_service(&app, page(dev::PASSWORD)).await).await)
            .into_owned();
    assert!(text.contains("You have signed in"), "{text}");
    let resp = test::call_service(&app, poll(start["device_code"].as_str().expect("dc")).to_request()).await;
    assert_eq!(
        claims_of(json_of(resp).await["access_token"].as_str().expect("token"))["upn"],
        dev::INTUNE_ADMIN_UPN
    );
}

// ---------------------------------------------------------------------------
// Resource side over HTTP, v1 endpoint, logout, userinfo
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn graph_route_401_and_403() {
    let svc = test_support::service("resource");
    let noaccess = svc.issue_app_token(TENANT, dev::NOACCESS_CLIENT_ID, false).expect("token");
    let reader = svc.issue_app_token(TENANT, dev::READER_CLIENT_ID, false).expect("token");
    let writer = svc.issue_app_token(TENANT, dev::WRITER_CLIENT_ID, true).expect("token");
    let app = app!(svc);
    let call = |method: Method, auth: Option<String>| {
        let mut req = test::TestRequest::default().method(method).uri(AUDIT_EVENTS);
        if let Some(a) = auth {
            req = req.insert_header((header::AUTHORIZATION, a));
        }
        req.to_request()
    };

    let resp = test::call_service(&app, call(Method::GET, None)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .expect("challenge")
        .to_string();
    assert_eq!(challenge, crate::auth::WWW_AUTHENTICATE);
    let body = json_of(resp).await;
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(body["error"]["message"], "Access token is empty.");

    let body =
        json_of(test::call_service(&app, call(Method::GET, Some("Bearer not-a-jwt".into()))).await).await;
    assert_eq!(body["error"]["message"], "CompactToken parsing failed with error code: 80049217");

    let resp = test::call_service(&app, call(Method::GET, Some(format!("Bearer {noaccess}")))).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().get(header::WWW_AUTHENTICATE).is_none());
    let body = json_of(resp).await;
    let inner: Value =
        serde_json::from_str(body["error"]["message"].as_str().expect("message")).expect("nested JSON");
    assert_eq!(inner["_version"], 3);
    assert!(inner["Message"].as_str().unwrap_or_default().starts_with(
        "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementApps.Read.All, DeviceManagementApps.ReadWrite.All - Operation ID (for customer support): "
    ));

    assert_eq!(
        test::call_service(&app, call(Method::GET, Some(format!("Bearer {reader}")))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        test::call_service(&app, call(Method::POST, Some(format!("Bearer {reader}")))).await.status(),
        StatusCode::FORBIDDEN
    );
    let resp = test::call_service(&app, call(Method::POST, Some(format!("Bearer {writer}")))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let actor = json_of(resp).await["actor"].clone();
    assert_eq!(actor["auditActorType"], "Application");
    assert_eq!(actor["applicationId"], dev::WRITER_CLIENT_ID);
    assert_eq!(actor["servicePrincipalName"], "auditgraph-writer");
    assert!(actor["userPrincipalName"].is_null());
}

#[actix_web::test]
async fn v1_token_endpoint_takes_resource() {
    let app = app!(test_support::service("v1"));
    let resp = test::call_service(
        &app,
        form(
            &format!("/{TENANT}/oauth2/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", dev::READER_CLIENT_ID),
                ("client_secret", dev::READER_SECRET),
                ("resource", "https://graph.microsoft.com/"),
            ],
        )
        .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_of(resp).await;
    assert_eq!(body["expires_in"], "3599");
    assert_eq!(body["resource"], GRAPH_RESOURCE_URI);
    assert_eq!(claims_of(body["access_token"].as_str().expect("token"))["aud"], GRAPH_RESOURCE_URI);
}

#[actix_web::test]
async fn user_realm_discovery() {
    let app = app!(test_support::service("realm"));
    let uri = format!("/common/userrealm/{}?api-version=1.0", dev::AUDITOR_UPN);
    let body = json_of(test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await).await;
    assert_eq!(body["account_type"], "Managed");
    assert_eq!(body["domain_name"], dev::TENANT_DOMAIN);
    let body = json_of(
        test::call_service(&app, test::TestRequest::get().uri("/common/userrealm/a@b.example").to_request())
            .await,
    )
    .await;
    assert_eq!(body["account_type"], "Unknown");
}

#[actix_web::test]
async fn logout_and_userinfo() {
    let svc = test_support::service("logout");
    let user =
        svc.issue_user_token(TENANT, dev::PUBLIC_CLIENT_ID, dev::AUDITOR_UPN, "User.Read").expect("token");
    let app = app!(svc);
    let resp = test::call_service(&app, test::TestRequest::get().uri(&format!("/{TENANT}/oauth2/v2.0/logout?post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8400%2F&state=s")).to_request()).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location(&resp), "http://localhost:8400/?state=s");
    let resp = test::call_service(
        &app,
        test::TestRequest::get().uri(&format!("/{TENANT}/oauth2/v2.0/logout")).to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/oidc/userinfo")
            .insert_header((header::AUTHORIZATION, format!("Bearer {user}")))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json_of(resp).await["email"], dev::AUDITOR_UPN);
    assert_eq!(
        test::call_service(&app, test::TestRequest::get().uri("/oidc/userinfo").to_request()).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

// ---------------------------------------------------------------------------
// A real server over HTTPS, with the oauth2 crate as the client
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn oauth2_client_over_https() {
    // oauth2 5 speaks reqwest 0.12; the dependency is renamed `reqwest012`
    // so that it can sit beside the main crate's reqwest 0.13.
    use oauth2::basic::BasicClient;
    use oauth2::{
        AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl,
        PkceCodeChallenge, RedirectUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse as _,
        TokenUrl,
    };
    use reqwest012 as reqwest;

    // Arrange: TLS material and a server on a free port.
    let data_dir = test_support::data_dir("https");
    let tls = super::load_or_create_tls(&data_dir, None).expect("tls");
    let ca_pem = std::fs::read(tls.ca_pem_path.as_ref().expect("ca path")).expect("ca");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let origin = format!("https://localhost:{port}");
    let svc = IdentityService::new(IdentityConfig::new(data_dir, &origin)).expect("service");
    let verifier = web::Data::new(svc.verifier());
    let data = web::Data::new(svc);
    let server = actix_web::HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .app_data(data.clone())
            .configure(configure)
            .route(AUDIT_EVENTS, web::get().to(audit_events))
    })
    .workers(1)
    .listen_rustls_0_23(listener, tls.server_config)
    .expect("listen")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).expect("ca cert"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let list_events = |token: String| {
        let http = http.clone();
        let url = format!("{origin}{AUDIT_EVENTS}");
        async move { http.get(url).bearer_auth(token).send().await.expect("GET").status() }
    };
    let token_url = TokenUrl::new(format!("{origin}/{TENANT}/oauth2/v2.0/token")).expect("url");

    // Client credentials, secret via HTTP Basic (the crate's default)...
    let reader = BasicClient::new(ClientId::new(dev::READER_CLIENT_ID.into()))
        .set_client_secret(ClientSecret::new(dev::READER_SECRET.into()))
        .set_token_uri(token_url.clone());
    let token = reader
        .exchange_client_credentials()
        .add_scope(Scope::new(GRAPH_DEFAULT.into()))
        .request_async(&http)
        .await
        .expect("client credentials");
    assert!(token.refresh_token().is_none());
    assert_eq!(list_events(token.access_token().secret().clone()).await, reqwest::StatusCode::OK);
    // ...and in the body.
    let token = reader
        .clone()
        .set_auth_type(AuthType::RequestBody)
        .exchange_client_credentials()
        .add_scope(Scope::new(format!("{origin}/.default")))
        .request_async(&http)
        .await
        .expect("client credentials (body)");
    assert_eq!(list_events(token.access_token().secret().clone()).await, reqwest::StatusCode::OK);

    // Authorization code + PKCE, auto-approved through login_hint.
    let public = BasicClient::new(ClientId::new(dev::PUBLIC_CLIENT_ID.into()))
        .set_auth_uri(AuthUrl::new(format!("{origin}/{TENANT}/oauth2/v2.0/authorize")).expect("url"))
        .set_token_uri(token_url)
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(format!("{origin}/{TENANT}/oauth2/v2.0/devicecode")).expect("url"),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("url"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = public
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("DeviceManagementApps.Read.All".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_extra_param("login_hint", dev::ADMIN_UPN)
        .set_pkce_challenge(challenge)
        .url();
    let resp = http.get(authorize_url).send().await.expect("authorize");
    assert_eq!(resp.status(), reqwest::StatusCode::FOUND);
    let redirect =
        oauth2::url::Url::parse(resp.headers()[reqwest::header::LOCATION].to_str().expect("location"))
            .expect("url");
    let param = |name: &str| {
        redirect.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).expect(name)
    };
    assert_eq!(param("state"), *state.secret());
    let token = public
        .exchange_code(AuthorizationCode::new(param("code")))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert!(token.refresh_token().is_some());
    assert_eq!(list_events(token.access_token().secret().clone()).await, reqwest::StatusCode::OK);
    let refreshed = public
        .exchange_refresh_token(token.refresh_token().expect("rt"))
        .request_async(&http)
        .await
        .expect("refresh");
    assert_eq!(list_events(refreshed.access_token().secret().clone()).await, reqwest::StatusCode::OK);

    // Device code, approved through the admin call while the client polls.
    let details: StandardDeviceAuthorizationResponse = public
        .exchange_device_code()
        .add_scope(Scope::new("DeviceManagementApps.Read.All".into()))
        .request_async(&http)
        .await
        .expect("device authorization");
    let approve =
        format!("{origin}/_auditgraph/identity/devicecodes/{}/approve", details.user_code().secret());
    let approver = http.clone();
    let polls = std::cell::Cell::new(0);
    let token = public
        .exchange_device_access_token(&details)
        .request_async(
            &http,
            |_| {
                // Instead of sleeping: approve after the first pending answer.
                polls.set(polls.get() + 1);
                let (approver, approve) = (approver.clone(), approve.clone());
                async move {
                    let resp = approver
                        .post(approve)
                        .json(&json!({ "user": dev::AUDITOR_UPN }))
                        .send()
                        .await
                        .expect("approve");
                    assert!(resp.status().is_success());
                }
            },
            None,
        )
        .await
        .expect("device token");
    assert_eq!(polls.get(), 1);
    assert_eq!(claims_of(token.access_token().secret())["upn"], dev::AUDITOR_UPN);
    assert_eq!(list_events(token.access_token().secret().clone()).await, reqwest::StatusCode::OK);

    // An error surfaces through the crate as a server response.
    let err = BasicClient::new(ClientId::new(dev::READER_CLIENT_ID.into()))
        .set_client_secret(ClientSecret::new("wrong".into()))
        .set_token_uri(TokenUrl::new(format!("{origin}/{TENANT}/oauth2/v2.0/token")).expect("url"))
        .exchange_client_credentials()
        .add_scope(Scope::new(GRAPH_DEFAULT.into()))
        .request_async(&http)
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(err, oauth2::RequestTokenError::ServerResponse(ref r) if r.error().as_ref() == "invalid_client"),
        "{err:?}"
    );

    handle.stop(true).await;
}
