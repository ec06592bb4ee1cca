//! Key material and TLS: the `oauth2` crate over https trusting nothing but the
//! local CA (client credentials, authorization code, refresh, device code), a
//! signing key and CA that survive a restart, and a user's certificate in place
//! of the local CA.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use oauth2::{
    AuthType, AuthorizationCode, CsrfToken, PkceCodeChallenge, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse as _,
};
use reqwest012 as r12;
use serde_json::json;

use crate::helpers::{
    ADMIN, AUDITOR, GRAPH_DEFAULT, READ_ALL, READER, TENANT, WRITER, app_token, bearer, call, jwt_part,
    loopback, plain, public_client, redirect_query, serve_in, sqlite, tls,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_over_https_with_auto_approve_user_trusting_the_local_ca() {
    let app = sqlite(&["--auto-approve-user", AUDITOR]).await;
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

    // Client credentials over https, secret via HTTP Basic...
    let token = app_token(&https, origin, READER, AuthType::BasicAuth, GRAPH_DEFAULT).await;
    assert!(token.refresh_token().is_none());
    let reply =
        call(&https, "GET", &format!("{origin}{EVENTS}"), Some(&bearer(token.access_token().secret())), None)
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body["@odata.context"].as_str().unwrap().starts_with(&format!("{origin}/v1.0/$metadata")),
        "{}",
        reply.body
    );
    // ...and in the body, with the scope kiota derives from the server's own URL.
    let token = app_token(&https, origin, READER, AuthType::RequestBody, &format!("{origin}/.default")).await;
    let reply =
        call(&https, "GET", &format!("{origin}{EVENTS}"), Some(&bearer(token.access_token().secret())), None)
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

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
        .add_scopes([READ_ALL, "offline_access"].map(|s| Scope::new(s.into())))
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
    let reply =
        call(&https, "GET", &format!("{origin}{EVENTS}"), Some(&bearer(token.access_token().secret())), None)
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The refresh token (offline_access) works over https too.
    let refreshed = client
        .exchange_refresh_token(token.refresh_token().expect("offline_access gives a refresh token"))
        .request_async(&https)
        .await
        .expect("refresh over https");
    let reply = call(
        &https,
        "GET",
        &format!("{origin}{EVENTS}"),
        Some(&bearer(refreshed.access_token().secret())),
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Device code over https, approved through the admin call while the client polls.
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new(READ_ALL.into()))
        .request_async(&https)
        .await
        .expect("device authorization over https");
    let approve =
        format!("{origin}/_auditgraph/identity/devicecodes/{}/approve", details.user_code().secret());
    let pauses = AtomicU32::new(0);
    let token = client
        .exchange_device_access_token(&details)
        .request_async(
            &https,
            |_| {
                // Instead of sleeping: approve after the first pending answer.
                pauses.fetch_add(1, Ordering::SeqCst);
                let (https, approve) = (https.clone(), approve.clone());
                async move {
                    let reply = call(&https, "POST", &approve, None, Some(&json!({ "user": AUDITOR }))).await;
                    assert_eq!(reply.status, 200, "approve: {}", reply.body);
                }
            },
            Some(Duration::from_secs(30)),
        )
        .await
        .expect("device token over https");
    assert_eq!(pauses.load(Ordering::SeqCst), 1, "one authorization_pending, then the token");
    let access = token.access_token().secret();
    assert_eq!(jwt_part(access, 1)["upn"], AUDITOR);
    let reply = call(&https, "GET", &format!("{origin}{EVENTS}"), Some(&bearer(access)), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
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
