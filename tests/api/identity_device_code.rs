//! The device code flow (`/devicecode`, polling the token endpoint): with the
//! `oauth2` crate as the client, approved through the emulator's admin call or
//! automatically after a number of polls; and on the wire (the start answer,
//! pending, approval errors, decline, expiry, start errors, the /devicelogin page).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use auditgraph::identity::keys::SigningKey;
use auditgraph::identity::tokens::{self, ArtifactKind, DeviceCode};
use oauth2::{Scope, StandardDeviceAuthorizationResponse, TokenResponse as _};
use reqwest012 as r12;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, AUDITOR, INTUNE_ADMIN, PASSWORD, PUBLIC_CLIENT, READ_ALL, READWRITE_ALL, Reply, TENANT, USER_403,
    assert_403, assert_aadsts, bearer, call, jwt_part, now, oauth_error, plain, post_form, public_client,
    sample_without, sqlite,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_device_code_approved_through_the_admin_call() {
    let app = sqlite(&[]).await;
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
    let app = sqlite(&["--device-code-auto-approve-after", "2", "--auto-approve-user", INTUNE_ADMIN]).await;
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
// The device code flow on the wire
// ---------------------------------------------------------------------------

/// Starts a device flow for the public client; returns the JSON answer.
async fn start_device(http: &r12::Client, base: &str, scope: &str) -> Value {
    let reply = post_form(
        http,
        &format!("{base}/{TENANT}/oauth2/v2.0/devicecode"),
        &[("client_id", PUBLIC_CLIENT), ("scope", scope)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// One poll of the token endpoint with `device_code`.
async fn poll(http: &r12::Client, base: &str, device_code: &str) -> Reply {
    post_form(
        http,
        &format!("{base}/{TENANT}/oauth2/v2.0/token"),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", PUBLIC_CLIENT),
            ("device_code", device_code),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_admin_approval() {
    let app = sqlite(&[]).await;
    let http = plain();
    let base = app.address.as_str();
    let start = start_device(&http, base, "DeviceManagementApps.Read.All offline_access").await;
    let user_code = start["user_code"].as_str().expect("user_code").to_string();
    let device_code = start["device_code"].as_str().expect("device_code").to_string();
    assert_eq!(start["verification_uri"], format!("{}/devicelogin", app.https_address));
    assert_eq!(start["expires_in"], 900);
    assert_eq!(start["interval"], 5);
    assert!(start["message"].as_str().unwrap_or_default().contains(&user_code), "{start}");
    assert!(start.get("verification_uri_complete").is_none(), "{start}");

    let reply = poll(&http, base, &device_code).await;
    assert_aadsts(&reply, 400, "authorization_pending", 70016, "before approval");

    let approve = |code: &str, body: Value| {
        let (http, url) =
            (http.clone(), app.url(&format!("/_auditgraph/identity/devicecodes/{code}/approve")));
        async move { call(&http, "POST", &url, None, Some(&body)).await }
    };
    assert_eq!(approve("NOSUCHCODE", json!({})).await.status, 404);
    assert_eq!(approve(&user_code, json!({"user": "ghost@contoso.onmicrosoft.com"})).await.status, 400);
    let reply = approve(&user_code.to_lowercase(), json!({"user": AUDITOR})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user"], AUDITOR);
    assert_eq!(approve(&user_code, json!({})).await.status, 409);

    let reply = poll(&http, base, &device_code).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["refresh_token"].is_string(), "{}", reply.body);
    assert_eq!(jwt_part(reply.body["access_token"].as_str().expect("token"), 1)["upn"], AUDITOR);
    // Used up.
    let reply = poll(&http, base, &device_code).await;
    assert_aadsts(&reply, 400, "bad_verification_code", 70018, "used up");
    let reply = poll(&http, base, "garbage").await;
    assert_aadsts(&reply, 400, "bad_verification_code", 70018, "garbage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_decline_expiry_and_auto_approval() {
    let app = sqlite(&["--device-code-auto-approve-after", "1", "--auto-approve-user", ADMIN]).await;
    let http = plain();
    let base = app.address.as_str();
    // One pending answer, then approved as the configured user.
    let start = start_device(&http, base, "DeviceManagementApps.Read.All").await;
    let device_code = start["device_code"].as_str().expect("device_code").to_string();
    let reply = poll(&http, base, &device_code).await;
    assert_aadsts(&reply, 400, "authorization_pending", 70016, "first poll");
    let reply = poll(&http, base, &device_code).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(jwt_part(reply.body["access_token"].as_str().expect("token"), 1)["upn"], ADMIN);

    // Declined.
    let start = start_device(&http, base, "DeviceManagementApps.Read.All").await;
    let decline = app.url(&format!(
        "/_auditgraph/identity/devicecodes/{}/decline",
        start["user_code"].as_str().expect("code")
    ));
    let reply = call(&http, "POST", &decline, None, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = poll(&http, base, start["device_code"].as_str().expect("dc")).await;
    assert_aadsts(&reply, 400, "authorization_declined", 65004, "declined");

    // Expired.
    let key = SigningKey::load_or_create(app.data_dir()).expect("the server's key");
    let now = now();
    let kind = ArtifactKind::DeviceCode;
    let expired = DeviceCode {
        aud: tokens::artifact_audience(kind),
        tid: TENANT.into(),
        cid: PUBLIC_CLIENT.into(),
        scope: "User.Read".into(),
        user_code: "BCDFGHJKL".into(),
        iat: now - 1000,
        exp: now - 100,
        jti: tokens::new_jti(),
    };
    let expired = tokens::seal(&key, kind, &expired).expect("seal");
    let reply = poll(&http, base, &expired).await;
    assert_aadsts(&reply, 400, "expired_token", 70020, "expired");

    // Starting errors.
    let devicecode = format!("{base}/{TENANT}/oauth2/v2.0/devicecode");
    let reply = post_form(&http, &devicecode, &[("client_id", PUBLIC_CLIENT)]).await;
    assert_aadsts(&reply, 400, "invalid_request", 900144, "no scope");
    let reply = post_form(
        &http,
        &devicecode,
        &[("client_id", "11111111-1111-1111-1111-111111111111"), ("scope", "User.Read")],
    )
    .await;
    assert_aadsts(&reply, 400, "unauthorized_client", 700016, "unknown client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devicelogin_page_approves_with_password() {
    let app = sqlite(&[]).await;
    let http = plain();
    let base = app.address.as_str();
    let start = start_device(&http, base, "DeviceManagementApps.Read.All").await;
    let user_code = start["user_code"].as_str().expect("user_code");
    let page = app.url("/devicelogin");
    let reply = call(&http, "GET", &page, None, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let sign_in = |password: &'static str| {
        let (http, page) = (http.clone(), page.clone());
        let form =
            [("otc", user_code.to_string()), ("login", INTUNE_ADMIN.into()), ("passwd", password.into())];
        async move { post_form(&http, &page, &form).await.text() }
    };
    let text = sign_in("wrong").await;
    assert!(text.contains("incorrect"), "{text}");
    let text = sign_in(PASSWORD).await;
    assert!(text.contains("You have signed in"), "{text}");
    let reply = poll(&http, base, start["device_code"].as_str().expect("dc")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(jwt_part(reply.body["access_token"].as_str().expect("token"), 1)["upn"], INTUNE_ADMIN);
}
