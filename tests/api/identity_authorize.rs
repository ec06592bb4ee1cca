//! Authorization code + PKCE through `/{tenant}/oauth2/v2.0/authorize`, with the
//! `oauth2` crate as the client, and refresh.

use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope, TokenResponse as _};
use serde_json::json;

use crate::helpers::{
    INTUNE_ADMIN, INTUNE_ADMINISTRATOR, INVALID, PUBLIC_CLIENT, READ_ALL, READWRITE_ALL, assert_401, bearer,
    call, jwt_part, oauth_error, plain, public_client, redirect_query, sample_without, sqlite,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_auth_code_with_pkce_s256_and_login_hint_then_refresh() {
    let app = sqlite(&[]).await;
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
