//! Authorization code + PKCE through `/{tenant}/oauth2/v2.0/authorize`, and
//! refresh: with the `oauth2` crate as the client, and on the wire (the sign-in
//! form, redirected and page errors, response modes, the errors of redeeming a
//! code or a refresh token); sign-out and userinfo.

use std::collections::HashMap;

use auditgraph::identity::keys::SigningKey;
use auditgraph::identity::tokens::{self, ArtifactKind, AuthCode, RefreshToken};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope, TokenResponse as _};
use reqwest012 as r12;
use serde_json::json;
use sha2::Digest as _;

use crate::helpers::{
    ADMIN, ADMIN_OID, AUDITOR, GLOBAL_ADMINISTRATOR, GRAPH_APP_ID, HELPDESK, INTUNE_ADMIN,
    INTUNE_ADMINISTRATOR, INVALID, PASSWORD, PUBLIC_CLIENT, READ_ALL, READER, READWRITE_ALL, REDIRECT, Reply,
    TENANT, USER_403, assert_401, assert_403, assert_aadsts, bearer, call, jwt_part, now, oauth_error, plain,
    post_form, public_client, redirect_query, sample_without, sqlite, user_token,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";
const AUDITOR_OID: &str = "7d0f0a2c-1b1e-4c55-9a3e-2f5c0000b003";

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

// ---------------------------------------------------------------------------
// /authorize and the code on the wire
// ---------------------------------------------------------------------------

fn pkce_pair() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string();
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `/authorize` on `base` for the public client, to `REDIRECT`, with Read.All,
/// the OpenID scopes and state `st-123`, plus `extra`.
fn authorize_uri(base: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("client_id", PUBLIC_CLIENT),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "DeviceManagementApps.Read.All openid profile offline_access"),
        ("state", "st-123"),
    ];
    pairs.extend_from_slice(extra);
    format!("{base}/{TENANT}/oauth2/v2.0/authorize?{}", serde_urlencoded::to_string(&pairs).expect("query"))
}

fn query_of(location: &str) -> HashMap<String, String> {
    let query = location.split_once(['?', '#']).map(|(_, q)| q).unwrap_or_default();
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).expect("query").into_iter().collect()
}

fn location(reply: &Reply) -> String {
    reply.header("location").expect("Location").to_string()
}

async fn get(http: &r12::Client, url: &str) -> Reply {
    call(http, "GET", url, None, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_code_with_pkce_s256_then_refresh() {
    let app = sqlite(&[]).await;
    let http = plain();
    let token_endpoint = format!("{}/{TENANT}/oauth2/v2.0/token", app.address);
    let (verifier, challenge) = pkce_pair();
    let uri = authorize_uri(
        &app.address,
        &[
            ("login_hint", AUDITOR),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("nonce", "n-1"),
            ("client_info", "1"),
        ],
    );
    let reply = get(&http, &uri).await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    let location = location(&reply);
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let q = query_of(&location);
    assert_eq!(q["state"], "st-123");
    let code = q["code"].clone();

    let redeem = |code: &str, verifier: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", PUBLIC_CLIENT.to_string()),
            ("code", code.to_string()),
            ("redirect_uri", REDIRECT.to_string()),
            ("code_verifier", verifier.to_string()),
            ("client_info", "1".to_string()),
        ]
    };
    // A wrong verifier fails without burning the code.
    let reply =
        post_form(&http, &token_endpoint, &redeem(&code, "wrong-verifier-wrong-verifier-wrong-verifier"))
            .await;
    assert_aadsts(&reply, 400, "invalid_grant", 50148, "wrong verifier");

    let reply = post_form(&http, &token_endpoint, &redeem(&code, &verifier)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.body;
    assert_eq!(body["scope"], "DeviceManagementApps.Read.All openid profile");
    assert!(
        body["refresh_token"].is_string() && body["id_token"].is_string() && body["client_info"].is_string(),
        "{body}"
    );
    let c = jwt_part(body["access_token"].as_str().expect("token"), 1);
    assert_eq!(c["idtyp"], "user");
    assert_eq!(c["aud"], GRAPH_APP_ID);
    assert_eq!(c["upn"], AUDITOR);
    assert_eq!(c["oid"], AUDITOR_OID);
    assert_eq!(c["scp"], "DeviceManagementApps.Read.All openid profile");
    assert_eq!(c["appid"], PUBLIC_CLIENT);
    assert!(c.get("wids").is_none(), "the auditor has no directory role");
    let id = jwt_part(body["id_token"].as_str().expect("id token"), 1);
    assert_eq!(id["aud"], PUBLIC_CLIENT);
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["iss"], format!("{}/{TENANT}/v2.0", app.https_address));

    // The token reads (the auditor holds Audit data - Read) but cannot write.
    let auth = bearer(body["access_token"].as_str().expect("token"));
    let reply = call(&http, "GET", &app.url(EVENTS), Some(&auth), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply =
        call(&http, "POST", &app.url(EVENTS), Some(&auth), Some(&sample_without("ac-2", &["actor"]))).await;
    assert!(assert_403(&reply, "the auditor writes").starts_with(USER_403));

    // Codes are single use.
    let reply = post_form(&http, &token_endpoint, &redeem(&code, &verifier)).await;
    assert_aadsts(&reply, 400, "invalid_grant", 54005, "second redemption");

    // Refresh, then refresh again with the rotated token.
    let refresh = |rt: &str, client: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", client.to_string()),
            ("refresh_token", rt.to_string()),
        ]
    };
    let rt = body["refresh_token"].as_str().expect("rt").to_string();
    let reply = post_form(&http, &token_endpoint, &refresh(&rt, PUBLIC_CLIENT)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let refreshed = reply.body;
    assert_eq!(jwt_part(refreshed["access_token"].as_str().expect("token"), 1)["upn"], AUDITOR);
    let rt2 = refreshed["refresh_token"].as_str().expect("rotated rt");
    let reply = post_form(&http, &token_endpoint, &refresh(rt2, PUBLIC_CLIENT)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Refresh errors: garbage, another client's token.
    let reply = post_form(&http, &token_endpoint, &refresh("garbage", PUBLIC_CLIENT)).await;
    assert_aadsts(&reply, 400, "invalid_grant", 9002313, "garbage refresh token");
    let reply = post_form(
        &http,
        &token_endpoint,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", READER.0),
            ("client_secret", READER.1),
            ("refresh_token", &rt),
        ],
    )
    .await;
    assert_aadsts(&reply, 400, "invalid_grant", 70000, "another client's refresh token");
    // An access token is not a refresh token.
    let at = refreshed["access_token"].as_str().expect("at");
    let reply = post_form(&http, &token_endpoint, &refresh(at, PUBLIC_CLIENT)).await;
    assert_aadsts(&reply, 400, "invalid_grant", 9002313, "access token as refresh token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_code_errors_and_plain_pkce() {
    let app = sqlite(&[]).await;
    let http = plain();
    let token_endpoint = format!("{}/{TENANT}/oauth2/v2.0/token", app.address);
    let key = SigningKey::load_or_create(app.data_dir()).expect("the server's key");
    let redeem = |code: &str, redirect: &str, verifier: Option<&str>| {
        let mut pairs = vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", PUBLIC_CLIENT.to_string()),
            ("code", code.to_string()),
            ("redirect_uri", redirect.to_string()),
        ];
        if let Some(v) = verifier {
            pairs.push(("code_verifier", v.to_string()));
        }
        pairs
    };

    // plain PKCE (method omitted means plain).
    let plain_pkce = "a-plain-verifier-that-is-at-least-forty-three-characters-long";
    let uri = authorize_uri(&app.address, &[("login_hint", ADMIN), ("code_challenge", plain_pkce)]);
    let code = query_of(&location(&get(&http, &uri).await))["code"].clone();
    let reply = post_form(&http, &token_endpoint, &redeem(&code, REDIRECT, None)).await;
    assert_aadsts(&reply, 400, "invalid_request", 900144, "no code_verifier");
    let reply =
        post_form(&http, &token_endpoint, &redeem(&code, "http://localhost:9999/other", Some(plain_pkce)))
            .await;
    assert_aadsts(&reply, 400, "invalid_grant", 500112, "another redirect_uri");
    let reply = post_form(&http, &token_endpoint, &redeem(&code, REDIRECT, Some(plain_pkce))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let c = jwt_part(reply.body["access_token"].as_str().expect("token"), 1);
    assert_eq!(c["wids"], json!([GLOBAL_ADMINISTRATOR]));

    // Garbage and expired codes.
    let reply = post_form(&http, &token_endpoint, &redeem("not-a-code", REDIRECT, None)).await;
    assert_aadsts(&reply, 400, "invalid_grant", 9002313, "garbage code");
    let now = now();
    let kind = ArtifactKind::AuthorizationCode;
    let expired = AuthCode {
        aud: tokens::artifact_audience(kind),
        tid: TENANT.into(),
        cid: PUBLIC_CLIENT.into(),
        oid: ADMIN_OID.into(),
        scope: READ_ALL.into(),
        redirect_uri: REDIRECT.into(),
        code_challenge: None,
        code_challenge_method: None,
        nonce: None,
        iat: now - 1200,
        exp: now - 600,
        jti: tokens::new_jti(),
    };
    let expired = tokens::seal(&key, kind, &expired).expect("seal");
    let reply = post_form(&http, &token_endpoint, &redeem(&expired, REDIRECT, None)).await;
    assert_aadsts(&reply, 400, "invalid_grant", 70008, "expired code");
    // A refresh token is not an authorization code.
    let kind = ArtifactKind::RefreshToken;
    let rt = RefreshToken {
        aud: tokens::artifact_audience(kind),
        tid: TENANT.into(),
        cid: PUBLIC_CLIENT.into(),
        oid: ADMIN_OID.into(),
        scope: "User.Read".into(),
        iat: now,
        exp: now + 600,
        jti: tokens::new_jti(),
    };
    let rt = tokens::seal(&key, kind, &rt).expect("seal");
    let reply = post_form(&http, &token_endpoint, &redeem(&rt, REDIRECT, None)).await;
    assert_aadsts(&reply, 400, "invalid_grant", 9002313, "refresh token as code");
    // An expired refresh token.
    let old = RefreshToken {
        aud: tokens::artifact_audience(kind),
        tid: TENANT.into(),
        cid: PUBLIC_CLIENT.into(),
        oid: ADMIN_OID.into(),
        scope: "User.Read".into(),
        iat: now - 100 * 86_400,
        exp: now - 10 * 86_400,
        jti: tokens::new_jti(),
    };
    let old = tokens::seal(&key, kind, &old).expect("seal");
    let reply = post_form(
        &http,
        &token_endpoint,
        &[("grant_type", "refresh_token"), ("client_id", PUBLIC_CLIENT), ("refresh_token", &old)],
    )
    .await;
    let body = assert_aadsts(&reply, 400, "invalid_grant", 700082, "expired refresh token");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("The refresh token has expired due to inactivity."),
        "{body}"
    );

    // A confidential client must authenticate when redeeming.
    let uri = format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?client_id={}&response_type=code&redirect_uri={}&scope=User.Read&login_hint={}",
        app.address, READER.0, "http%3A%2F%2Flocalhost%3A8400%2Fcallback", ADMIN
    );
    let code = query_of(&location(&get(&http, &uri).await))["code"].clone();
    let reply = post_form(
        &http,
        &token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", READER.0),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_aadsts(&reply, 401, "invalid_client", 7000218, "confidential client without its secret");
    let reply = post_form(
        &http,
        &token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", READER.0),
            ("client_secret", READER.1),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_sign_in_form_and_redirect_errors() {
    let app = sqlite(&[]).await;
    let http = plain();
    // No hint and no auto-approve user: the sign-in form.
    let reply = get(&http, &authorize_uri(&app.address, &[])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let page = reply.text();
    assert!(page.contains("name=\"passwd\"") && page.contains("value=\"st-123\""), "{page}");

    // Posting it: wrong password shows the form again, the right one redirects.
    let mut fields: Vec<(&str, &str)> = vec![
        ("client_id", PUBLIC_CLIENT),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "DeviceManagementApps.Read.All"),
        ("state", "st-123"),
        ("login", HELPDESK),
        ("passwd", "wrong"),
    ];
    let authorize = format!("{}/{TENANT}/oauth2/v2.0/authorize", app.address);
    let reply = post_form(&http, &authorize, &fields).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.text().contains("incorrect"), "{}", reply.text());
    fields.pop();
    fields.push(("passwd", PASSWORD));
    let reply = post_form(&http, &authorize, &fields).await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(query_of(&location(&reply)).contains_key("code"));

    // prompt=none without a user: login_required on the redirect.
    let reply = get(&http, &authorize_uri(&app.address, &[("prompt", "none")])).await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    let q = query_of(&location(&reply));
    assert_eq!(q["error"], "login_required");
    assert!(q["error_description"].starts_with("AADSTS50058: "), "{q:?}");
    assert_eq!(q["state"], "st-123");

    // Bad PKCE parameters and response types are redirected errors.
    let redirected_error = |uri: String| {
        let http = http.clone();
        async move { query_of(&location(&get(&http, &uri).await))["error"].clone() }
    };
    let uri = authorize_uri(
        &app.address,
        &[("login_hint", ADMIN), ("code_challenge", "short"), ("code_challenge_method", "S256")],
    );
    assert_eq!(redirected_error(uri).await, "invalid_request");
    let uri = authorize_uri(
        &app.address,
        &[("login_hint", ADMIN), ("code_challenge", &pkce_pair().1), ("code_challenge_method", "S512")],
    );
    assert_eq!(redirected_error(uri).await, "invalid_request");
    let uri = authorize_uri(&app.address, &[("login_hint", ADMIN)])
        .replace("response_type=code", "response_type=token");
    assert_eq!(redirected_error(uri).await, "unsupported_response_type");
    let uri = authorize_uri(&app.address, &[("login_hint", ADMIN)])
        .replace("scope=DeviceManagementApps.Read.All", "scope=api%3A%2F%2Fother%2Fread");
    assert_eq!(redirected_error(uri).await, "invalid_scope");

    // An unregistered redirect URI or unknown client is a page, never a redirect.
    let uri = authorize_uri(&app.address, &[]).replace("localhost%3A8400", "evil.example");
    let reply = get(&http, &uri).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.header("location").is_none());
    assert!(reply.text().contains("AADSTS50011"), "{}", reply.text());
    let uri = authorize_uri(&app.address, &[]).replace(PUBLIC_CLIENT, "11111111-1111-1111-1111-111111111111");
    let reply = get(&http, &uri).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.text().contains("AADSTS700016"), "{}", reply.text());

    // Fragment and form_post response modes.
    let reply =
        get(&http, &authorize_uri(&app.address, &[("login_hint", ADMIN), ("response_mode", "fragment")]))
            .await;
    assert!(location(&reply).starts_with(&format!("{REDIRECT}#code=")), "{}", location(&reply));
    let reply =
        get(&http, &authorize_uri(&app.address, &[("login_hint", ADMIN), ("response_mode", "form_post")]))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let page = reply.text();
    assert!(page.contains("name=\"code\"") && page.contains(&format!("action=\"{REDIRECT}\"")), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_auto_approves_configured_user() {
    let app = sqlite(&["--auto-approve-user", INTUNE_ADMIN]).await;
    let http = plain();
    let reply = get(&http, &authorize_uri(&app.address, &[])).await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    let code = query_of(&location(&reply))["code"].clone();
    // A public client without PKCE redeems its code too.
    let reply = post_form(
        &http,
        &format!("{}/{TENANT}/oauth2/v2.0/token", app.address),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_CLIENT),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(jwt_part(reply.body["access_token"].as_str().expect("token"), 1)["upn"], INTUNE_ADMIN);
}

// ---------------------------------------------------------------------------
// Sign-out and userinfo
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_userinfo() {
    let app = sqlite(&[]).await;
    let http = plain();
    let user = user_token(&http, &app.address, AUDITOR, &["User.Read"]).await;
    let logout = format!("{}/{TENANT}/oauth2/v2.0/logout", app.address);
    let reply =
        get(&http, &format!("{logout}?post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8400%2F&state=s"))
            .await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(location(&reply), "http://localhost:8400/?state=s");
    let reply = get(&http, &logout).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let userinfo = app.url("/oidc/userinfo");
    let reply = call(&http, "GET", &userinfo, Some(&bearer(&user)), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["email"], AUDITOR);
    assert_eq!(get(&http, &userinfo).await.status, 401);
}
