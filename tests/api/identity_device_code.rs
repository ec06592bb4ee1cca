//! The device code flow (`/devicecode`, polling the token endpoint) with the
//! `oauth2` crate as the client: approval through the emulator's admin call,
//! and automatic approval after a number of polls.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use oauth2::{Scope, StandardDeviceAuthorizationResponse, TokenResponse as _};
use serde_json::json;

use crate::helpers::{
    ADMIN, AUDITOR, INTUNE_ADMIN, READ_ALL, READWRITE_ALL, USER_403, assert_403, bearer, call, jwt_part,
    oauth_error, plain, public_client, sample_without, sqlite,
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
