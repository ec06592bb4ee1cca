//! The Graph API's side of identity, against the real server: every 401 and
//! 403 the API gives, with Graph's bodies and headers; the actor recorded from
//! the token; and `--auth off`.
//!
//! Forged tokens are signed with the server's own key (read from
//! `{data_dir}/identity/signing-key.pem`), so that exactly one thing is wrong
//! with each; a re-signed copy of a genuine token is accepted, which shows the
//! forging itself is sound.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::{AuthType, TokenResponse as _};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{
    ADMIN, ADMIN_OID, AUDITOR, EMPTY, GLOBAL_ADMINISTRATOR, GRAPH_APP_ID, GRAPH_DEFAULT, HELPDESK,
    INTUNE_ADMIN, INTUNE_ADMINISTRATOR, INVALID, MALFORMED, NOACCESS, PUBLIC_CLIENT, READ_ALL, READER,
    READWRITE_ALL, TestApp, USER_403, WRITER, app_token, assert_401, assert_403, bearer, call, days_ago,
    jwt_part, now, plain, sample_event, sample_without, sqlite, user_token,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

const APP_READ_403: &str = "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementApps.Read.All, DeviceManagementApps.ReadWrite.All - Operation ID (for customer support): ";
const APP_WRITE_403: &str = "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementApps.ReadWrite.All - Operation ID (for customer support): ";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------
// Every 401
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_401_has_graphs_body_and_challenge() {
    let app = sqlite(&[]).await;
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
// Every 403
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_without_the_permission_get_intunes_403() {
    let app = sqlite(&[]).await;
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
    let app = sqlite(&[]).await;
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
// The actor of an event created through the API
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

// ---------------------------------------------------------------------------
// --auth off
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_off_needs_no_token_and_the_banner_says_so() {
    let app = sqlite(&["--auth", "off"]).await;
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
    let secured = sqlite(&[]).await;
    assert!(!secured.banner.contains("AUTH IS OFF"), "{}", secured.banner);
    assert!(secured.banner.contains("grant_type=client_credentials"), "{}", secured.banner);
}
