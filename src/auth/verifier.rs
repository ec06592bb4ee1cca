//! Bearer-token verification: turns an `Authorization` header into a
//! [`Principal`], or into the 401 Graph would give.
//!
//! Checks, in identity.md §10 order: compact-JWS shape, `alg` = RS256 (so
//! `none` and HMAC tokens are refused), signature against a trusted key
//! (auditgraph's, plus an optional external JWKS), `exp`/`nbf` with clock
//! skew, `aud` ∈ {Graph URI, Graph app id}, issuer, and `tid` = a tenant of
//! the directory. Intune role membership is read from the directory at
//! verification time, not from the token.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::{AuthError, Principal, PrincipalKind};
use crate::directory::Directory;
use crate::directory::well_known::{ARM_RESOURCE_URI, GRAPH_APP_ID, GRAPH_RESOURCE_URI};
use crate::directory::{AccessTokenClaims, v1_issuer};

/// Which API a token is for: its accepted `aud` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Microsoft Graph (every Graph door).
    Graph,
    /// Azure Resource Manager (the diagnostic settings door).
    Arm,
}

impl Resource {
    fn audiences(self) -> &'static [&'static str] {
        match self {
            Resource::Graph => &[GRAPH_RESOURCE_URI, GRAPH_APP_ID],
            // ARM accepts the resource with or without its trailing slash, and
            // the classic management resource `az` still asks for.
            Resource::Arm => &[
                ARM_RESOURCE_URI,
                "https://management.azure.com/",
                "https://management.core.windows.net",
                "https://management.core.windows.net/",
            ],
        }
    }
}

/// Who published a trusted key; decides which issuers it may sign for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// auditgraph's own signing key: issuer must be `https://sts.windows.net/{tid}/`.
    Auditgraph,
    /// A key from the external JWKS file: the v1 or v2 Entra issuer of `tid`.
    External,
}

/// The token of a bearer `Authorization` value: the one parsing rule of every
/// door. The scheme is case-insensitive (RFC 7235 §2.1), separated by
/// whitespace; `None` for another scheme or an empty token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let value = authorization.trim();
    let (scheme, token) = value.split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A public key the verifier accepts signatures from.
#[derive(Clone)]
pub struct TrustedKey {
    kid: Option<String>,
    key: DecodingKey,
    source: KeySource,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey").field("kid", &self.kid).field("source", &self.source).finish()
    }
}

impl TrustedKey {
    pub fn auditgraph(kid: &str, key: DecodingKey) -> Self {
        Self { kid: Some(kid.to_string()), key, source: KeySource::Auditgraph }
    }

    pub fn external(kid: Option<String>, key: DecodingKey) -> Self {
        Self { kid, key, source: KeySource::External }
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// Reads a JWKS file (`{"keys":[{"kty":"RSA","n":…,"e":…,"kid":…}, …]}`)
/// of an external issuer. Non-RSA keys are skipped; an RSA-less file is an error.
pub fn load_jwks_file(path: &Path) -> anyhow::Result<Vec<TrustedKey>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read JWKS file {}", path.display()))?;
    parse_jwks(&text).with_context(|| format!("invalid JWKS file {}", path.display()))
}

/// Parses JWKS text; see [`load_jwks_file`].
pub fn parse_jwks(text: &str) -> anyhow::Result<Vec<TrustedKey>> {
    let doc: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    let keys = doc.get("keys").and_then(|k| k.as_array()).context("no \"keys\" array")?;
    let mut out = Vec::new();
    for (i, jwk) in keys.iter().enumerate() {
        if jwk.get("kty").and_then(|v| v.as_str()) != Some("RSA") {
            continue;
        }
        let field = |name: &str| jwk.get(name).and_then(|v| v.as_str());
        let (Some(n), Some(e)) = (field("n"), field("e")) else {
            anyhow::bail!("key {i} has no n/e");
        };
        let key = DecodingKey::from_rsa_components(n, e)
            .with_context(|| format!("key {i} is not a valid RSA key"))?;
        out.push(TrustedKey::external(field("kid").map(String::from), key));
    }
    anyhow::ensure!(!out.is_empty(), "no RSA keys");
    Ok(out)
}

/// Verifies bearer tokens for every door (REST, GraphQL, subscriptions).
/// Clones share the trusted keys, so a key rotation reaches every door at once.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    directory: Arc<Directory>,
    keys: Arc<std::sync::RwLock<Arc<Vec<TrustedKey>>>>,
    leeway_secs: u64,
    /// Tokens whose signature and audience verified, with their claims: a
    /// client sends one token with every request, and checking its RS256
    /// signature again each time was a third of a cached page's CPU.
    /// By API, then token: a lookup borrows the request's token, never copies it.
    verified: Arc<std::sync::Mutex<HashMap<Resource, HashMap<String, Verified>>>>,
}

/// What verifying a token's signature established, kept for its next use. The
/// checks that can change (the time window, whether the key is still trusted,
/// the tenant and its directory) are made again on every use.
#[derive(Debug, Clone)]
struct Verified {
    claims: AccessTokenClaims,
    kid: Option<String>,
    source: KeySource,
}

/// Verified tokens kept at most per API; its map starts over when full.
const VERIFIED_TOKENS: usize = 4_096;

impl TokenVerifier {
    /// Microsoft.IdentityModel's default clock skew.
    pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(300);

    pub fn new(directory: Arc<Directory>, keys: Vec<TrustedKey>) -> Self {
        Self {
            directory,
            keys: Arc::new(std::sync::RwLock::new(Arc::new(keys))),
            leeway_secs: Self::DEFAULT_CLOCK_SKEW.as_secs(),
            verified: Arc::default(),
        }
    }

    /// Trusts `own` as auditgraph's keys from now on, in place of the ones it
    /// had (after a rotation); external keys stay.
    pub fn trust_own_keys(&self, own: Vec<TrustedKey>) {
        let mut keys = self.keys.write().expect("trusted keys");
        let mut next = own;
        next.extend(keys.iter().filter(|k| k.source == KeySource::External).cloned());
        *keys = Arc::new(next);
    }

    /// Changes the allowed clock skew for `exp`/`nbf`.
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.leeway_secs = skew.as_secs();
        self
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.directory
    }

    /// Verifies the raw `Authorization` header value (`None` when absent).
    pub fn verify(&self, authorization_header: Option<&str>) -> Result<Principal, AuthError> {
        self.verify_for(authorization_header, Resource::Graph)
    }

    /// Verifies a token for `resource`'s audience.
    pub fn verify_for(
        &self,
        authorization_header: Option<&str>,
        resource: Resource,
    ) -> Result<Principal, AuthError> {
        let token = authorization_header.and_then(bearer_token).ok_or(AuthError::MissingToken)?;
        self.verify_token_for(token, resource)
    }

    /// Verifies a bare Graph token (no `Bearer ` prefix).
    pub fn verify_token(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify_token_for(token, Resource::Graph)
    }

    fn verify_token_for(&self, token: &str, resource: Resource) -> Result<Principal, AuthError> {
        let known = self
            .verified
            .lock()
            .expect("verified tokens")
            .get(&resource)
            .and_then(|tokens| tokens.get(token))
            .cloned();
        if let Some(known) = known {
            return self.reuse(known);
        }
        let header = compact_header(token)?;
        let alg = header.get("alg").and_then(|v| v.as_str()).unwrap_or_default();
        if alg != "RS256" {
            return Err(AuthError::InvalidToken(format!("unsupported alg '{alg}'")));
        }
        let kid = header.get("kid").and_then(|v| v.as_str());
        let keys = self.keys.read().expect("trusted keys").clone();
        let candidates: Vec<&TrustedKey> = keys
            .iter()
            .filter(|k| match (kid, k.kid()) {
                (Some(wanted), Some(have)) => wanted == have,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(AuthError::InvalidToken(format!(
                "no trusted key with kid '{}'",
                kid.unwrap_or_default()
            )));
        }

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        validation.set_audience(resource.audiences());
        validation.set_required_spec_claims(&["exp", "aud"]);

        let mut last_error = String::from("bad signature");
        for key in candidates {
            match jsonwebtoken::decode::<AccessTokenClaims>(token, &key.key, &validation) {
                Ok(data) => {
                    let verified = Verified { claims: data.claims, kid: key.kid.clone(), source: key.source };
                    let principal = self.principal(verified.claims.clone(), key.source)?;
                    let mut known = self.verified.lock().expect("verified tokens");
                    let tokens = known.entry(resource).or_default();
                    if tokens.len() >= VERIFIED_TOKENS {
                        tokens.clear();
                    }
                    tokens.insert(token.to_string(), verified);
                    return Ok(principal);
                }
                // A signature from another key just means "try the next one".
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
                // Anything else was found after the signature verified.
                Err(e) => {
                    last_error = match e.kind() {
                        ErrorKind::ExpiredSignature => "expired".into(),
                        ErrorKind::ImmatureSignature => "not yet valid (nbf)".into(),
                        ErrorKind::InvalidAudience => "wrong audience".into(),
                        ErrorKind::MissingRequiredClaim(c) => format!("missing claim {c}"),
                        other => format!("{other:?}"),
                    };
                    break;
                }
            }
        }
        Err(AuthError::InvalidToken(last_error))
    }

    /// A token verified before: its time window and key are checked again (as
    /// `jsonwebtoken` checks them, with the same leeway), then its principal is
    /// built as for a new token.
    fn reuse(&self, known: Verified) -> Result<Principal, AuthError> {
        let still_trusted = self
            .keys
            .read()
            .expect("trusted keys")
            .iter()
            .any(|k| k.kid == known.kid && k.source == known.source);
        if !still_trusted {
            return Err(AuthError::InvalidToken(format!(
                "no trusted key with kid '{}'",
                known.kid.unwrap_or_default()
            )));
        }
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let leeway = self.leeway_secs as i64;
        if known.claims.exp < now - leeway {
            return Err(AuthError::InvalidToken("expired".into()));
        }
        if known.claims.nbf > now + leeway {
            return Err(AuthError::InvalidToken("not yet valid (nbf)".into()));
        }
        self.principal(known.claims, known.source)
    }

    fn principal(&self, claims: AccessTokenClaims, source: KeySource) -> Result<Principal, AuthError> {
        let tenant = self
            .directory
            .tenant(&claims.tid)
            .ok_or_else(|| AuthError::InvalidToken(format!("unknown tenant '{}'", claims.tid)))?;
        let issuer_ok = match source {
            KeySource::Auditgraph => claims.iss == v1_issuer(&tenant.id),
            KeySource::External => {
                claims.iss.eq_ignore_ascii_case(&v1_issuer(&tenant.id))
                    || claims.iss.eq_ignore_ascii_case(&format!(
                        "https://login.microsoftonline.com/{}/v2.0",
                        tenant.id
                    ))
            }
        };
        if !issuer_ok {
            return Err(AuthError::InvalidToken(format!("unexpected issuer '{}'", claims.iss)));
        }
        if claims.appid.is_empty() || claims.oid.is_empty() {
            return Err(AuthError::InvalidToken("missing appid or oid".into()));
        }

        let kind = match claims.idtyp.as_deref() {
            Some("app") => PrincipalKind::Application,
            Some("user") => PrincipalKind::User,
            _ if claims.scp.is_some() => PrincipalKind::User,
            _ => PrincipalKind::Application,
        };
        let app = tenant.app(&claims.appid);
        let app_display_name = claims.app_displayname.clone().or_else(|| app.map(|a| a.display_name.clone()));
        let mut principal = Principal {
            kind,
            tenant_id: tenant.id.clone(),
            app_id: claims.appid.clone(),
            app_display_name,
            object_id: claims.oid.clone(),
            user_principal_name: None,
            display_name: None,
            roles: claims.roles.clone().unwrap_or_default(),
            scopes: Vec::new(),
            directory_roles: claims.wids.clone().unwrap_or_default(),
            intune_permissions: Vec::new(),
            azure_actions: app.map(|a| a.azure_actions.clone()).unwrap_or_default(),
            audience: claims.aud.clone(),
            token_id: claims.uti.clone(),
            expires_at: chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(chrono::Utc::now),
        };
        if kind == PrincipalKind::User {
            let user = tenant.user_by_id(&claims.oid);
            principal.scopes =
                claims.scp.as_deref().unwrap_or_default().split_whitespace().map(String::from).collect();
            principal.user_principal_name =
                claims.upn.clone().or(claims.unique_name.clone()).or_else(|| user.map(|u| u.upn.clone()));
            principal.display_name = claims.name.clone().or_else(|| user.map(|u| u.display_name.clone()));
            principal.intune_permissions = tenant.intune_permissions_of(&claims.oid);
        }
        Ok(principal)
    }
}

/// Decodes the JOSE header of a compact JWS, or reports the token malformed:
/// exactly three dot-separated base64url parts whose first two are JSON objects.
fn compact_header(token: &str) -> Result<serde_json::Map<String, serde_json::Value>, AuthError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(AuthError::MalformedToken);
    }
    let json_object = |part: &str| -> Option<serde_json::Map<String, serde_json::Value>> {
        let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    };
    let header = json_object(parts[0]).ok_or(AuthError::MalformedToken)?;
    json_object(parts[1]).ok_or(AuthError::MalformedToken)?;
    if URL_SAFE_NO_PAD.decode(parts[2].trim_end_matches('=')).is_err() {
        return Err(AuthError::MalformedToken);
    }
    Ok(header)
}
