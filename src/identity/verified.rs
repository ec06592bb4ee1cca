//! Tokens this service issues, through the resource side's checks (`auth`):
//! verification failures and permission rules.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;

use super::{IdentityService, test_support};
use crate::auth::*;
use crate::directory::AccessTokenClaims;
use crate::directory::well_known::{GRAPH_APP_ID, dev, directory_roles, intune, permissions};

fn service() -> IdentityService {
    test_support::service("auth")
}

/// The verifier `startup` builds: it trusts the token service's key.
fn verifier(svc: &IdentityService) -> TokenVerifier {
    let key = svc.signing_key();
    TokenVerifier::new(
        svc.directory().clone(),
        vec![TrustedKey::auditgraph(key.kid(), key.decoding_key().clone())],
    )
}

fn app_claims(svc: &IdentityService) -> AccessTokenClaims {
    let token = svc.issue_app_token(dev::TENANT_ID, dev::READER_CLIENT_ID, false).expect("token");
    decode_unverified(&token)
}

fn decode_unverified(token: &str) -> AccessTokenClaims {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Signs with an arbitrary PKCS#8 key and header.
fn sign_raw(pem: &str, header: jsonwebtoken::Header, claims: &AccessTokenClaims) -> String {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("pem");
    let der = key.to_pkcs1_der().expect("der");
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()))
        .expect("sign")
}

fn assert_invalid(result: Result<Principal, AuthError>, reason: &str) {
    match result {
        Err(AuthError::InvalidToken(r)) => {
            assert!(r.contains(reason), "expected '{reason}', got '{r}'")
        }
        other => panic!("expected InvalidToken({reason}), got {other:?}"),
    }
}

#[test]
fn valid_app_token_gives_principal() {
    let svc = service();
    let token = svc.issue_app_token(dev::TENANT_ID, dev::READER_CLIENT_ID, false).expect("token");
    let p = verifier(&svc).verify(Some(&bearer(&token))).expect("valid");
    assert_eq!(p.kind, PrincipalKind::Application);
    assert_eq!(p.tenant_id, dev::TENANT_ID);
    assert_eq!(p.app_id, dev::READER_CLIENT_ID);
    assert_eq!(p.object_id, dev::READER_OBJECT_ID);
    assert_eq!(p.roles, vec![permissions::DEVICE_MANAGEMENT_APPS_READ_ALL]);
    assert!(p.may_read());
    assert!(!p.may_write());
    // Both audience forms are accepted.
    let guid = svc.issue_app_token(dev::TENANT_ID, dev::READER_CLIENT_ID, true).expect("token");
    assert_eq!(verifier(&svc).verify(Some(&bearer(&guid))).expect("valid").audience, GRAPH_APP_ID);
}

#[test]
fn missing_and_empty_tokens() {
    let v = verifier(&service());
    assert_eq!(v.verify(None), Err(AuthError::MissingToken));
    assert_eq!(v.verify(Some("")), Err(AuthError::MissingToken));
    assert_eq!(v.verify(Some("Bearer ")), Err(AuthError::MissingToken));
    assert_eq!(v.verify(Some("Bearer")), Err(AuthError::MissingToken));
    assert_eq!(v.verify(Some("Basic dXNlcjpwYXNz")), Err(AuthError::MissingToken));
}

#[test]
fn malformed_tokens() {
    let v = verifier(&service());
    for token in ["abc", "a.b", "a.b.c", "e30.e30", "e30.e30.e30.e30.e30", "!!!.e30.", "W10.e30."] {
        assert_eq!(v.verify(Some(&bearer(token))), Err(AuthError::MalformedToken), "{token}");
    }
    assert_eq!(AuthError::MalformedToken.message(), "CompactToken parsing failed with error code: 80049217");
}

#[test]
fn alg_none_is_refused() {
    let svc = service();
    let claims = app_claims(&svc);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"));
    let token = format!("{header}.{payload}.");
    assert_invalid(verifier(&svc).verify(Some(&bearer(&token))), "alg 'none'");
}

#[test]
fn hmac_with_public_key_is_refused() {
    // The classic algorithm-confusion attack: HS256 keyed with public material.
    let svc = service();
    let claims = app_claims(&svc);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(svc.kid().to_string());
    let token = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(b"AQAB"))
        .expect("sign");
    assert_invalid(verifier(&svc).verify(Some(&bearer(&token))), "alg 'HS256'");
}

#[test]
fn other_key_is_refused_even_with_our_kid() {
    let svc = service();
    let claims = app_claims(&svc);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(svc.kid().to_string());
    let forged = sign_raw(test_support::other_key_pem(), header, &claims);
    assert_invalid(verifier(&svc).verify(Some(&bearer(&forged))), "bad signature");

    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("someone-elses-key".into());
    let foreign = sign_raw(test_support::other_key_pem(), header, &claims);
    assert_invalid(verifier(&svc).verify(Some(&bearer(&foreign))), "no trusted key");

    // Tampering with the payload breaks our own signature too.
    let token = svc.sign_access_token(&claims).expect("token");
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let mut evil = claims.clone();
    evil.roles = Some(vec![permissions::DEVICE_MANAGEMENT_APPS_READWRITE_ALL.into()]);
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&evil).expect("json"));
    assert_invalid(verifier(&svc).verify(Some(&bearer(&parts.join(".")))), "bad signature");
}

#[test]
fn lifetime_checks_allow_small_skew() {
    let svc = service();
    let now = chrono::Utc::now().timestamp();
    let mut claims = app_claims(&svc);
    claims.iat = now - 7200;
    claims.nbf = now - 7200;
    claims.exp = now - 3600;
    let expired = svc.sign_access_token(&claims).expect("token");
    assert_invalid(verifier(&svc).verify(Some(&bearer(&expired))), "expired");

    claims.exp = now - 60; // within the 5-minute skew
    let recent = svc.sign_access_token(&claims).expect("token");
    assert!(verifier(&svc).verify(Some(&bearer(&recent))).is_ok());
    assert_invalid(
        verifier(&svc).with_clock_skew(std::time::Duration::ZERO).verify(Some(&bearer(&recent))),
        "expired",
    );

    claims.nbf = now + 3600;
    claims.exp = now + 7200;
    let future = svc.sign_access_token(&claims).expect("token");
    assert_invalid(verifier(&svc).verify(Some(&bearer(&future))), "nbf");
}

/// A token verified once is remembered, but its time window and its key are
/// checked on every use: it expires, and a key no longer trusted stops it.
#[test]
fn a_remembered_token_is_still_checked() {
    let svc = service();
    let now = chrono::Utc::now().timestamp();
    let mut claims = app_claims(&svc);
    claims.exp = now + 1;
    let short = bearer(&svc.sign_access_token(&claims).expect("token"));
    let verifier = verifier(&svc).with_clock_skew(std::time::Duration::ZERO);
    assert!(verifier.verify(Some(&short)).is_ok());
    assert!(verifier.verify(Some(&short)).is_ok(), "the second use is the remembered one");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_invalid(verifier.verify(Some(&short)), "expired");

    let token = bearer(&svc.issue_app_token(dev::TENANT_ID, dev::READER_CLIENT_ID, false).expect("token"));
    assert!(verifier.verify(Some(&token)).is_ok());
    verifier.trust_own_keys(Vec::new());
    assert_invalid(verifier.verify(Some(&token)), "no trusted key");
    // The audience is part of what was verified: the same token is not an ARM token.
    let verifier = self::verifier(&svc);
    assert!(verifier.verify(Some(&token)).is_ok());
    assert_invalid(verifier.verify_for(Some(&token), Resource::Arm), "audience");
}

#[test]
fn wrong_audience_is_refused() {
    let svc = service();
    let mut claims = app_claims(&svc);
    claims.aud = "https://management.azure.com".into();
    let token = svc.sign_access_token(&claims).expect("token");
    let err = verifier(&svc).verify(Some(&bearer(&token))).expect_err("wrong aud");
    assert_eq!(err.message(), "Access token validation failure.");
    assert_eq!(err.status(), actix_web::http::StatusCode::UNAUTHORIZED);
    assert_invalid(Err(err), "audience");
}

#[test]
fn unknown_tenant_and_wrong_issuer_are_refused() {
    let svc = service();
    let mut claims = app_claims(&svc);
    claims.tid = "11111111-2222-3333-4444-555555555555".into();
    claims.iss = crate::directory::v1_issuer(&claims.tid);
    let token = svc.sign_access_token(&claims).expect("token");
    assert_invalid(verifier(&svc).verify(Some(&bearer(&token))), "unknown tenant");

    let mut claims = app_claims(&svc);
    claims.iss = "https://sts.windows.net/11111111-2222-3333-4444-555555555555/".into();
    let token = svc.sign_access_token(&claims).expect("token");
    assert_invalid(verifier(&svc).verify(Some(&bearer(&token))), "issuer");
}

#[test]
fn external_jwks_keys_are_trusted() {
    let svc = service();
    let other =
        crate::identity::keys::SigningKey::from_pkcs8_pem(test_support::other_key_pem()).expect("key");
    let jwks = serde_json::json!({ "keys": [other.jwk(None)] }).to_string();
    let keys = parse_jwks(&jwks).expect("jwks");
    let external = TokenVerifier::new(svc.directory().clone(), keys);
    let mut claims = app_claims(&svc);
    claims.iss = format!("https://login.microsoftonline.com/{}/v2.0", dev::TENANT_ID);
    let token = other.sign(&claims, "JWT").expect("sign");
    assert!(external.verify(Some(&bearer(&token))).is_ok());
    // ...but not by the default verifier.
    assert_invalid(verifier(&svc).verify(Some(&bearer(&token))), "no trusted key");
}

fn user(svc: &IdentityService, upn: &str, scope: &str) -> Principal {
    let token = svc.issue_user_token(dev::TENANT_ID, dev::PUBLIC_CLIENT_ID, upn, scope).expect("token");
    verifier(svc).verify(Some(&bearer(&token))).expect("valid user token")
}

#[test]
fn delegated_rules_follow_intune_rbac() {
    let svc = service();
    let read = permissions::DEVICE_MANAGEMENT_APPS_READ_ALL;
    let write = permissions::DEVICE_MANAGEMENT_APPS_READWRITE_ALL;

    let admin = user(&svc, dev::ADMIN_UPN, write);
    assert_eq!(admin.kind, PrincipalKind::User);
    assert_eq!(admin.directory_roles, vec![directory_roles::GLOBAL_ADMINISTRATOR]);
    assert!(admin.may_read() && admin.may_write());

    let intune_admin = user(&svc, dev::INTUNE_ADMIN_UPN, read);
    assert!(intune_admin.may_read() && !intune_admin.may_write());

    let auditor = user(&svc, dev::AUDITOR_UPN, write);
    assert_eq!(auditor.intune_permissions, vec![intune::AUDIT_READ]);
    assert!(auditor.may_read(), "Audit data - Read grants reads");
    assert!(!auditor.may_write(), "...but not writes");

    let helpdesk = user(&svc, dev::HELPDESK_UPN, write);
    assert!(!helpdesk.may_read() && !helpdesk.may_write());
    let err = helpdesk.authorize_read().expect_err("403");
    assert_eq!(err.code(), "Forbidden");
    assert!(err.message().contains("User is not authorized to perform this operation"));

    // The scope is needed too, even for a Global Administrator.
    let admin_no_scope = user(&svc, dev::ADMIN_UPN, permissions::USER_READ);
    assert!(!admin_no_scope.may_read());
}

#[test]
fn app_403_names_accepted_scopes() {
    let svc = service();
    let token = svc.issue_app_token(dev::TENANT_ID, dev::NOACCESS_CLIENT_ID, false).expect("token");
    let p = verifier(&svc).verify(Some(&bearer(&token))).expect("valid");
    assert!(p.roles.is_empty());
    let err = p.authorize_read().expect_err("403");
    assert!(err.message().contains(
        "Application must have one of the following scopes: DeviceManagementApps.Read.All, DeviceManagementApps.ReadWrite.All"
    ));
    let reader = svc.issue_app_token(dev::TENANT_ID, dev::READER_CLIENT_ID, false).expect("token");
    let err =
        verifier(&svc).verify(Some(&bearer(&reader))).expect("valid").authorize_write().expect_err("403");
    assert!(err.message().contains("one of the following scopes: DeviceManagementApps.ReadWrite.All - "));
}

#[test]
fn actors() {
    let svc = service();
    let token = svc.issue_app_token(dev::TENANT_ID, dev::WRITER_CLIENT_ID, false).expect("token");
    let app = verifier(&svc).verify(Some(&bearer(&token))).expect("valid").actor();
    assert_eq!(app.audit_actor_type.as_deref(), Some("Application"));
    assert_eq!(app.application_id.as_deref(), Some(dev::WRITER_CLIENT_ID));
    assert_eq!(app.application_display_name.as_deref(), Some("auditgraph-writer"));
    assert_eq!(app.service_principal_name.as_deref(), Some("auditgraph-writer"));
    assert_eq!(app.user_principal_name, None);

    let auditor = user(&svc, dev::AUDITOR_UPN, permissions::DEVICE_MANAGEMENT_APPS_READ_ALL).actor();
    assert_eq!(auditor.audit_actor_type.as_deref(), Some("ItPro"));
    assert_eq!(auditor.user_id.as_deref(), Some(dev::AUDITOR_OBJECT_ID));
    assert_eq!(auditor.user_principal_name.as_deref(), Some(dev::AUDITOR_UPN));
    assert_eq!(auditor.user_permissions, vec![intune::AUDIT_READ]);
    assert_eq!(auditor.application_id.as_deref(), Some(dev::PUBLIC_CLIENT_ID));

    let admin = user(&svc, dev::ADMIN_UPN, permissions::DEVICE_MANAGEMENT_APPS_READ_ALL).actor();
    assert_eq!(admin.user_permissions, vec!["*"]);
}
