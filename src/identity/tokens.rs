//! What the token service signs: Graph access tokens (shaped like Entra's v1
//! tokens, identity.md §9), v2 ID tokens, and auditgraph's own self-contained
//! artifacts (authorization codes, refresh tokens, device codes).
//!
//! Artifacts are JWTs signed with the same key but with their own `typ` and an
//! `aud` of the form `urn:auditgraph:<kind>`. The resource side accepts only
//! Graph audiences, so no artifact can ever pass as an access token; and any
//! process sharing the data directory (hence the key) can redeem them.

use chrono::{DateTime, TimeZone as _, Utc};
use jsonwebtoken::{Algorithm, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys::{KeyRing, SigningKey};
use super::scopes::{Audience, DelegatedScope};
use crate::directory::well_known::APP_TOKEN_WID;
use crate::directory::{AccessTokenClaims, AppRegistration, Tenant, User, v1_issuer};

/// Opaque random strings for `uti`, `aio` and `rh`, shaped like Entra's.
fn random_b64(bytes: usize) -> String {
    use base64::Engine as _;
    let data: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Claims of an app-only (client credentials) Graph token.
pub fn app_token_claims(
    tenant: &Tenant,
    app: &AppRegistration,
    audience: Audience,
    now: i64,
    lifetime: i64,
    client_capabilities: Option<Vec<String>>,
) -> AccessTokenClaims {
    let iss = v1_issuer(&tenant.id);
    AccessTokenClaims {
        aud: audience.as_str().to_string(),
        iss: iss.clone(),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        aio: Some(random_b64(48)),
        app_displayname: Some(app.display_name.clone()),
        appid: app.client_id.clone(),
        appidacr: Some("1".into()),
        idp: Some(iss),
        idtyp: Some("app".into()),
        oid: app.object_id.clone(),
        rh: Some(format!("0.{}", random_b64(36))),
        // Entra omits `roles` entirely when nothing is granted; Graph's app roles
        // are not ARM's (ARM authorises by role assignment, not by token).
        roles: (audience != Audience::Arm && !app.application_permissions.is_empty())
            .then(|| app.application_permissions.clone()),
        sub: app.object_id.clone(),
        tenant_region_scope: Some("WW".into()),
        tid: tenant.id.clone(),
        uti: Some(random_b64(16)),
        ver: "1.0".into(),
        wids: Some(vec![APP_TOKEN_WID.to_string()]),
        xms_cc: client_capabilities,
        xms_tcdt: Some(1_700_000_000),
        ..Default::default()
    }
}

/// Claims of a delegated (user) Graph token.
#[allow(clippy::too_many_arguments)]
pub fn user_token_claims(
    tenant: &Tenant,
    app: &AppRegistration,
    user: &User,
    scope: &DelegatedScope,
    now: i64,
    lifetime: i64,
    ipaddr: Option<String>,
    client_capabilities: Option<Vec<String>>,
) -> AccessTokenClaims {
    let iss = v1_issuer(&tenant.id);
    AccessTokenClaims {
        aud: scope.audience.as_str().to_string(),
        iss,
        iat: now,
        nbf: now,
        exp: now + lifetime,
        acr: Some("1".into()),
        aio: Some(random_b64(48)),
        amr: Some(vec!["pwd".into()]),
        app_displayname: Some(app.display_name.clone()),
        appid: app.client_id.clone(),
        appidacr: Some(if app.public_client { "0" } else { "1" }.into()),
        family_name: user.surname.clone(),
        given_name: user.given_name.clone(),
        idtyp: Some("user".into()),
        ipaddr,
        name: Some(user.display_name.clone()),
        oid: user.object_id.clone(),
        rh: Some(format!("0.{}", random_b64(36))),
        scp: Some(scope.scp()),
        // Entra's `sub` is pairwise (per app); derive it the same stable way.
        sub: pairwise_sub(&user.object_id, &app.client_id),
        tenant_region_scope: Some("WW".into()),
        tid: tenant.id.clone(),
        unique_name: Some(user.upn.clone()),
        upn: Some(user.upn.clone()),
        uti: Some(random_b64(16)),
        ver: "1.0".into(),
        wids: (!user.directory_roles.is_empty()).then(|| user.directory_roles.clone()),
        xms_cc: client_capabilities,
        xms_tcdt: Some(1_700_000_000),
        ..Default::default()
    }
}

fn pairwise_sub(object_id: &str, client_id: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{object_id}:{client_id}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..32])
}

/// A v2 ID token, returned when `openid` was requested. Its issuer is the v2
/// discovery issuer, i.e. auditgraph's own origin.
#[derive(Debug, Serialize)]
pub struct IdTokenClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub oid: String,
    pub preferred_username: String,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: &'static str,
}

pub fn id_token_claims(
    issuer: String,
    tenant: &Tenant,
    app: &AppRegistration,
    user: &User,
    nonce: Option<String>,
    now: i64,
    lifetime: i64,
) -> IdTokenClaims {
    IdTokenClaims {
        aud: app.client_id.clone(),
        iss: issuer,
        iat: now,
        nbf: now,
        exp: now + lifetime,
        name: user.display_name.clone(),
        nonce,
        oid: user.object_id.clone(),
        preferred_username: user.upn.clone(),
        sub: pairwise_sub(&user.object_id, &app.client_id),
        tid: tenant.id.clone(),
        uti: random_b64(16),
        ver: "2.0",
    }
}

/// The `client_info` MSAL asks for (`client_info=1`): base64url JSON of the
/// user's home account ids.
pub fn client_info(user: &User, tenant: &Tenant) -> String {
    use base64::Engine as _;
    let json = serde_json::json!({ "uid": user.object_id, "utid": tenant.id }).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

// ---------------------------------------------------------------------------
// Artifacts
// ---------------------------------------------------------------------------

/// The kinds of self-contained artifacts; each has its own `aud` and `typ`.
#[derive(Debug, Clone, Copy)]
pub enum ArtifactKind {
    AuthorizationCode,
    RefreshToken,
    DeviceCode,
}

impl ArtifactKind {
    fn audience(self) -> &'static str {
        match self {
            ArtifactKind::AuthorizationCode => "urn:auditgraph:authorization_code",
            ArtifactKind::RefreshToken => "urn:auditgraph:refresh_token",
            ArtifactKind::DeviceCode => "urn:auditgraph:device_code",
        }
    }

    fn typ(self) -> &'static str {
        match self {
            ArtifactKind::AuthorizationCode => "ag-code",
            ArtifactKind::RefreshToken => "ag-rt",
            ArtifactKind::DeviceCode => "ag-dc",
        }
    }
}

/// An authorization code: everything the redemption must check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthCode {
    pub aud: String,
    pub tid: String,
    /// Client id.
    pub cid: String,
    /// User object id.
    pub oid: String,
    pub scope: String,
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshToken {
    pub aud: String,
    pub tid: String,
    pub cid: String,
    pub oid: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A device code; its user code keys the approval state in the data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceCode {
    pub aud: String,
    pub tid: String,
    pub cid: String,
    pub scope: String,
    pub user_code: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A new artifact id.
pub fn new_jti() -> String {
    random_b64(16)
}

pub fn artifact_audience(kind: ArtifactKind) -> String {
    kind.audience().to_string()
}

/// Signs an artifact.
pub fn seal<T: Serialize>(key: &SigningKey, kind: ArtifactKind, claims: &T) -> anyhow::Result<String> {
    key.sign(claims, kind.typ())
}

/// Why an artifact was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactError {
    /// Not ours, tampered with, or of another kind.
    Invalid,
    /// Ours but past `exp`; `issued_at` is its `iat`, for messages.
    Expired { issued_at: i64 },
}

#[derive(Deserialize)]
struct Times {
    #[serde(default)]
    iat: i64,
    exp: i64,
}

/// Verifies and decodes an artifact of `kind`. No clock leeway: artifacts
/// are checked by the same clock that issued them.
pub fn open<T: DeserializeOwned>(keys: &KeyRing, kind: ArtifactKind, text: &str) -> Result<T, ArtifactError> {
    let text = text.trim();
    let header = jsonwebtoken::decode_header(text).map_err(|_| ArtifactError::Invalid)?;
    if header.typ.as_deref() != Some(kind.typ()) {
        return Err(ArtifactError::Invalid);
    }
    // Signed with the key of its time: any key of the ring opens it.
    let key = header.kid.as_deref().and_then(|kid| keys.find(kid)).ok_or(ArtifactError::Invalid)?;
    // Expiry is checked by hand so that an expired artifact can still say
    // when it was issued.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.leeway = 0;
    validation.set_audience(&[kind.audience()]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    let value = jsonwebtoken::decode::<serde_json::Value>(text, key.decoding_key(), &validation)
        .map_err(|_| ArtifactError::Invalid)?
        .claims;
    let times: Times = serde_json::from_value(value.clone()).map_err(|_| ArtifactError::Invalid)?;
    if times.exp <= Utc::now().timestamp() {
        return Err(ArtifactError::Expired { issued_at: times.iat });
    }
    serde_json::from_value(value).map_err(|_| ArtifactError::Invalid)
}

/// Seconds since the epoch as a UTC time (for messages).
pub fn utc(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_else(Utc::now)
}
