//! The token endpoint (`/{tenant}/oauth2/v2.0/token`, and the v1 `/oauth2/token`):
//! client credentials through the `oauth2` crate and on the wire (body and HTTP
//! Basic, tenant spellings, scope forms and audiences), the password grant, the
//! caching headers Entra sends, and the error catalogue (identity.md §7).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, Scope, TokenResponse as _};
use serde_json::json;

use crate::helpers::{
    ADMIN, ADMIN_OID, GRAPH_APP_ID, GRAPH_DEFAULT, HELPDESK, PASSWORD, PUBLIC_CLIENT, READ_ALL, READER,
    READWRITE_ALL, REDIRECT, Reply, TENANT, USER_403, WRITER, app_token, assert_403, assert_aadsts, bearer,
    call, jwt_part, now, oauth_error, plain, post_form, public_client, redirect_query, sample_without, send,
    sqlite, token_url,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";
const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
const READER_OID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000c001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_client_credentials_with_secret_in_body_and_basic() {
    let app = sqlite(&[]).await;
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

// ---------------------------------------------------------------------------
// Client credentials on the wire
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_with_secret_in_body() {
    let app = sqlite(&[]).await;
    let http = plain();
    let reply = post_form(
        &http,
        &format!("{}/{TENANT}/oauth2/v2.0/token", app.address),
        &[
            ("client_id", READER.0),
            ("scope", GRAPH_DEFAULT),
            ("client_secret", READER.1),
            ("grant_type", "client_credentials"),
            // What azure-identity adds; must be accepted and ignored.
            ("claims", r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#),
            ("x-client-SKU", "MSAL.Python"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for (name, value) in [
        ("cache-control", "no-store, no-cache"),
        ("pragma", "no-cache"),
        ("expires", "-1"),
        ("content-type", "application/json; charset=utf-8"),
    ] {
        assert_eq!(reply.header(name), Some(value), "{name}");
    }
    let body = &reply.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body.get("refresh_token").is_none() && body.get("scope").is_none(), "{body}");

    let token = body["access_token"].as_str().expect("token");
    let c = jwt_part(token, 1);
    assert_eq!(c["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(c["aud"], GRAPH_RESOURCE);
    assert_eq!(c["tid"], TENANT);
    assert_eq!(c["appid"], READER.0);
    assert_eq!(c["app_displayname"], "auditgraph-reader");
    assert_eq!(c["oid"], READER_OID);
    assert_eq!(c["sub"], READER_OID);
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["roles"], json!([READ_ALL]));
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["xms_cc"], json!(["CP1"]));
    assert!(c["uti"].is_string() && c["exp"].as_i64() > c["iat"].as_i64(), "{c}");
    assert!(c.get("scp").is_none(), "{c}");

    let reply = call(&http, "GET", &app.url(EVENTS), Some(&bearer(token)), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_with_http_basic_and_tenant_aliases() {
    let app = sqlite(&[]).await;
    let http = plain();
    // RFC 6749 §2.3.1: both parts form-encoded before base64.
    let basic = STANDARD.encode(format!("{}:{}", WRITER.0, WRITER.1));
    for tenant in [TENANT, "contoso.onmicrosoft.com", "common", "organizations"] {
        let reply = send(
            http.post(format!("{}/{tenant}/oauth2/v2.0/token", app.address))
                .header("authorization", format!("Basic {basic}"))
                .form(&[("grant_type", "client_credentials"), ("scope", GRAPH_DEFAULT)]),
        )
        .await;
        assert_eq!(reply.status, 200, "{tenant}: {}", reply.body);
        let c = jwt_part(reply.body["access_token"].as_str().expect("token"), 1);
        assert_eq!(c["tid"], TENANT, "{tenant}");
        assert_eq!(c["roles"], json!([READWRITE_ALL]), "{tenant}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_scope_forms_and_audiences() {
    let app = sqlite(&[]).await;
    let http = plain();
    let cases = [
        (GRAPH_DEFAULT, None, GRAPH_RESOURCE),
        ("00000003-0000-0000-c000-000000000000/.default", None, GRAPH_APP_ID),
        // kiota derives the scope from the request URL: any port of an own host.
        ("https://localhost:5443/.default", None, GRAPH_RESOURCE),
        ("http://127.0.0.1/.default", None, GRAPH_RESOURCE),
        ("https://localhost/.default", None, GRAPH_RESOURCE),
        ("http://auditgraph.internal:8080/.default", Some("auditgraph.internal:8080"), GRAPH_RESOURCE),
    ];
    for (scope, host, aud) in cases {
        let mut request = http.post(format!("{}/{TENANT}/oauth2/v2.0/token", app.address)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", READER.0),
            ("client_secret", READER.1),
            ("scope", scope),
        ]);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let reply = send(request).await;
        assert_eq!(reply.status, 200, "{scope}: {}", reply.body);
        assert_eq!(jwt_part(reply.body["access_token"].as_str().expect("token"), 1)["aud"], aud, "{scope}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_token_endpoint_takes_resource() {
    let app = sqlite(&[]).await;
    let reply = post_form(
        &plain(),
        &format!("{}/{TENANT}/oauth2/token", app.address),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", READER.0),
            ("client_secret", READER.1),
            ("resource", "https://graph.microsoft.com/"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["expires_in"], "3599");
    assert_eq!(body["resource"], GRAPH_RESOURCE);
    assert_eq!(jwt_part(body["access_token"].as_str().expect("token"), 1)["aud"], GRAPH_RESOURCE);
}

// ---------------------------------------------------------------------------
// Password (ROPC)
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_grant() {
    let app = sqlite(&[]).await;
    let http = plain();
    let token_endpoint = format!("{}/organizations/oauth2/v2.0/token", app.address);
    let ropc = |user: &str, password: &str| {
        vec![
            ("grant_type", "password".to_string()),
            ("client_id", PUBLIC_CLIENT.to_string()),
            ("username", user.to_string()),
            ("password", password.to_string()),
            (
                "scope",
                "https://graph.microsoft.com/DeviceManagementApps.ReadWrite.All offline_access".to_string(),
            ),
        ]
    };
    let reply = post_form(&http, &token_endpoint, &ropc(ADMIN, PASSWORD)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["scope"], "https://graph.microsoft.com/DeviceManagementApps.ReadWrite.All");
    assert!(body["refresh_token"].is_string() && body.get("id_token").is_none(), "{body}");
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(jwt_part(token, 1)["aud"], GRAPH_RESOURCE);

    // The Global Administrator may write; the actor is an ItPro.
    let reply = call(
        &http,
        "POST",
        &app.url(EVENTS),
        Some(&bearer(token)),
        Some(&sample_without("ropc-1", &["actor"])),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let actor = &reply.body["actor"];
    assert_eq!(actor["auditActorType"], "ItPro");
    assert_eq!(actor["userPrincipalName"], ADMIN);
    assert_eq!(actor["userId"], ADMIN_OID);
    assert_eq!(actor["userPermissions"], json!(["*"]));

    let reply = post_form(&http, &token_endpoint, &ropc(ADMIN, "wrong")).await;
    assert_aadsts(&reply, 400, "invalid_grant", 50126, "wrong password");
    let reply = post_form(&http, &token_endpoint, &ropc("ghost@contoso.onmicrosoft.com", PASSWORD)).await;
    assert_aadsts(&reply, 400, "invalid_grant", 50034, "unknown user");

    // The helpdesk user gets a token but no audit data.
    let reply = post_form(&http, &token_endpoint, &ropc(HELPDESK, PASSWORD)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let token = reply.body["access_token"].as_str().expect("token");
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&bearer(token)), None).await;
    assert!(assert_403(&reply, "helpdesk reads").starts_with(USER_403));
}

// ---------------------------------------------------------------------------
// Caching headers of the identity endpoints, as Entra sends them (identity.md §2, §6)
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_responses_keep_entras_cache_headers() {
    let app = sqlite(&[]).await;
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
    let app = sqlite(&[]).await;
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
                send(request).await
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
            format!("Application with identifier '{unknown_client}' was not found in the directory 'Contoso'."),
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
                "The provided value for scope {READ_ALL} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ),
        (
            "scope of another resource",
            post(
                token_endpoint.clone(),
                cc(READER.0, READER.1, "https://vault.azure.net/.default"),
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
        (
            "a confidential client without its secret",
            post(
                token_endpoint.clone(),
                vec![
                    ("grant_type", "client_credentials".into()),
                    ("client_id", READER.0.into()),
                    ("scope", GRAPH_DEFAULT.into()),
                ],
                None,
            )
            .await,
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
                .into(),
        ),
        (
            "a public client asking for client credentials without a secret",
            post(
                token_endpoint.clone(),
                vec![
                    ("grant_type", "client_credentials".into()),
                    ("client_id", PUBLIC_CLIENT.into()),
                    ("scope", GRAPH_DEFAULT.into()),
                ],
                None,
            )
            .await,
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
                .into(),
        ),
        (
            "missing client_id",
            post(
                token_endpoint.clone(),
                vec![
                    ("grant_type", "client_credentials".into()),
                    ("client_secret", READER.1.into()),
                    ("scope", GRAPH_DEFAULT.into()),
                ],
                None,
            )
            .await,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.".into(),
        ),
        (
            "unknown tenant named by its domain",
            post(
                format!("{}/fabrikam.onmicrosoft.com/oauth2/v2.0/token", app.address),
                cc(READER.0, READER.1, GRAPH_DEFAULT),
                None,
            )
            .await,
            400,
            "invalid_request",
            90002,
            "Tenant 'fabrikam.onmicrosoft.com' not found.".into(),
        ),
        (
            "a resource-qualified permission without /.default",
            post(
                token_endpoint.clone(),
                cc(READER.0, READER.1, "https://graph.microsoft.com/DeviceManagementApps.Read.All"),
                None,
            )
            .await,
            400,
            "invalid_scope",
            1002012,
            "The provided value for scope https://graph.microsoft.com/DeviceManagementApps.Read.All is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).".into(),
        ),
        (
            "/.default of an unknown resource",
            post(token_endpoint.clone(), cc(READER.0, READER.1, "https://foo.microsoft.com/.default"), None)
                .await,
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. The scope https://foo.microsoft.com/.default is not valid.".into(),
        ),
        (
            "GET on the token endpoint",
            send(http.get(&token_endpoint)).await,
            400,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests. Received a GET request.".into(),
        ),
        (
            "a client assertion (certificate credentials are not emulated)",
            post(
                token_endpoint.clone(),
                vec![
                    ("grant_type", "client_credentials".into()),
                    ("client_id", READER.0.into()),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
                    ("client_assertion", "x.y.z".into()),
                    ("scope", GRAPH_DEFAULT.into()),
                ],
                None,
            )
            .await,
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.".into(),
        ),
    ];
    for (case, reply, status, error, code, description) in cases {
        let body = assert_aadsts(&reply, status, error, code, case);
        let text = body["error_description"].as_str().expect("error_description");
        assert!(text.starts_with(&format!("AADSTS{code}: {description}")), "{case}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_id_echoes_client_request_id() {
    let app = sqlite(&[]).await;
    let id = "7c1bbd66-ba36-4bd3-8d22-e1d6e4e3f0a1";
    let reply = send(
        plain()
            .post(format!("{}/{TENANT}/oauth2/v2.0/token", app.address))
            .header("client-request-id", id)
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(reply.header("client-request-id"), Some(id));
    let body = assert_aadsts(&reply, 400, "invalid_request", 900144, "missing parameters");
    assert_eq!(body["correlation_id"], id);
}
