//! The token endpoint (`/{tenant}/oauth2/v2.0/token`): client credentials
//! through the `oauth2` crate, the caching headers Entra sends, and the error
//! catalogue (identity.md §7).

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, Scope, TokenResponse as _};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, ADMIN_OID, GRAPH_APP_ID, GRAPH_DEFAULT, PUBLIC_CLIENT, READ_ALL, READER, REDIRECT, Reply, TENANT,
    WRITER, app_token, bearer, call, jwt_part, now, oauth_error, plain, public_client, redirect_query,
    sample_without, sqlite, token_url,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

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
