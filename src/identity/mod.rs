//! The built-in Microsoft identity platform: a token service that issues
//! Graph access tokens to unmodified MSAL / azure-identity / @azure/identity /
//! `oauth2` clients, from the tenants of `crate::directory`.
//!
//! This module only *issues*. The resource side (`crate::auth`) never trusts
//! anything but a token whose signature it verified against the keys this
//! module publishes; `startup` hands it [`IdentityService::signing_key`].
//!
//! What lives where:
//! - `keys`: the RSA signing key in `{data_dir}/identity/signing-key.pem`.
//! - `routes`: the endpoint table ([`configure`]) and its shared helpers; one
//!   file per endpoint family: `discovery`, `token`, `authorize`, `device_code`.
//! - `tokens`, `scopes`, `errors`, `device`: token contents, scope rules,
//!   AADSTS errors and device-code state.
//!
//! State shared between processes that use one data directory: the signing
//! key, the CA, and device-code approvals (files). Authorization codes,
//! refresh tokens and device codes are self-contained signed artifacts, so any
//! such process can redeem them. Only two things are per process: the set of
//! already-redeemed authorization codes (so a code replayed against *another*
//! process would be accepted once more there) and the "approve after N polls"
//! counters.

mod authorize;
mod device;
mod device_code;
mod discovery;
mod errors;
mod html;
pub mod keys;
pub mod rotation;
mod routes;
pub mod scopes;
mod token;
pub mod tokens;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod verified;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;

pub use errors::TokenError;
pub use routes::configure;

use crate::directory::{AccessTokenClaims, Directory};
use device::{DeviceStatus, DeviceStore};
use keys::{KeyRing, SigningKey};
use scopes::{Audience, OwnHosts};

/// Settings of the token service.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The data directory; keys live in `identity/`, device codes in
    /// `identity/device-codes/`.
    pub data_dir: PathBuf,
    /// A TOML tenant file; `None` means the fixed development tenant.
    pub tenant_file: Option<PathBuf>,
    /// auditgraph's https origin, e.g. `https://localhost:5443`. Every URL in
    /// the discovery documents points here.
    pub https_origin: String,
    /// Access token lifetime (`expires_in`). Default 3599 s, like Entra.
    pub token_lifetime: Duration,
    /// Refresh token lifetime. Default 90 days.
    pub refresh_token_lifetime: Duration,
    /// Device code lifetime (`expires_in` of /devicecode). Default 900 s.
    pub device_code_lifetime: Duration,
    /// Poll interval announced for device codes. Default 5 s.
    pub device_code_interval: Duration,
    /// Approve a device code automatically once this many polls have been
    /// answered `authorization_pending` (0 = the first poll succeeds). The
    /// user is `auto_approve_user`, else the tenant's first user.
    pub device_code_auto_approve_after: Option<u32>,
    /// Sign this user (UPN) in without a form at /authorize.
    pub auto_approve_user: Option<String>,
    /// Sign the `login_hint` user in without a form when it names a user of
    /// the app's tenant. Default true (headless tests need no browser).
    pub login_hint_auto_approve: bool,
    /// Extra host names whose URL-derived scope (`https://<host>/.default`,
    /// as kiota derives it) means Graph. The origin's host, `localhost`,
    /// `127.0.0.1` and `::1` are always included, as is the request's host.
    pub extra_hosts: Vec<String>,
}

impl IdentityConfig {
    /// Defaults for everything but the data directory and origin.
    pub fn new(data_dir: impl Into<PathBuf>, https_origin: impl Into<String>) -> Self {
        Self {
            data_dir: data_dir.into(),
            tenant_file: None,
            https_origin: https_origin.into(),
            token_lifetime: Duration::from_secs(3599),
            refresh_token_lifetime: Duration::from_secs(90 * 24 * 3600),
            device_code_lifetime: Duration::from_secs(900),
            device_code_interval: Duration::from_secs(5),
            device_code_auto_approve_after: None,
            auto_approve_user: None,
            login_hint_auto_approve: true,
            extra_hosts: Vec::new(),
        }
    }
}

/// The token service: directory, signing key and per-process state. Cheap to
/// clone; register it as `web::Data<IdentityService>`.
#[derive(Clone)]
pub struct IdentityService {
    inner: Arc<Inner>,
}

struct Inner {
    config: IdentityConfig,
    origin: String,
    directory: Arc<Directory>,
    keys: KeyRing,
    own_hosts: OwnHosts,
    devices: DeviceStore,
    /// Redeemed authorization code ids → their expiry (unix seconds).
    redeemed_codes: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService")
            .field("origin", &self.inner.origin)
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

/// Why an admin approval of a device code failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceApprovalError {
    #[error("no pending device code '{0}'")]
    UnknownCode(String),
    #[error("device code '{0}' is {1:?}, not pending")]
    NotPending(String, String),
    #[error("device code '{0}' has expired")]
    Expired(String),
    #[error("no user '{0}' in the device code's tenant")]
    UnknownUser(String),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

impl IdentityService {
    /// Loads the directory and signing key (creating the key on first start)
    /// and the optional external JWKS. Fails on a bad tenant file, origin,
    /// auto-approve user or JWKS file.
    pub fn new(config: IdentityConfig) -> anyhow::Result<Self> {
        let origin = config.https_origin.trim().trim_end_matches('/').to_string();
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .with_context(|| format!("https origin '{origin}' must look like https://host[:port]"))?;
        if !origin.starts_with("https://") {
            tracing::warn!(%origin, "the identity origin is not https; MSAL and azure-identity will refuse it");
        }

        let directory = match &config.tenant_file {
            Some(path) => Directory::load(path)?,
            None => Directory::development(),
        };
        if let Some(upn) = &config.auto_approve_user {
            anyhow::ensure!(
                directory.tenants().iter().any(|t| t.user_by_upn(upn).is_some()),
                "auto-approve user '{upn}' is not a user of any tenant"
            );
        }
        let keys = KeyRing::load_or_create(&config.data_dir)?;

        let mut hosts: Vec<String> = vec![scopes::strip_port(host).to_string()];
        hosts.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
        hosts.extend(config.extra_hosts.iter().cloned());

        Ok(Self {
            inner: Arc::new(Inner {
                own_hosts: OwnHosts::new(hosts),
                devices: DeviceStore::new(&config.data_dir),
                origin,
                directory: Arc::new(directory),
                keys,
                redeemed_codes: Mutex::default(),
                config,
            }),
        })
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.inner.config
    }

    /// The origin without a trailing slash.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.inner.directory
    }

    /// The signing key's `kid`.
    pub fn kid(&self) -> String {
        self.inner.keys.current().kid().to_string()
    }

    /// The key every token this service issues now is signed with.
    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.inner.keys.current()
    }

    /// Every key it signs or signed with: the resource side trusts their public halves.
    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// Signs arbitrary access-token claims with the service key. For tests
    /// that need expired, wrong-audience or otherwise crafted tokens.
    pub fn sign_access_token(&self, claims: &AccessTokenClaims) -> anyhow::Result<String> {
        self.inner.keys.current().sign(claims, "JWT")
    }

    /// Signs an auditgraph artifact (authorization code, refresh token,
    /// device code; see [`tokens`]). For tests that need expired or foreign
    /// artifacts.
    pub fn seal_artifact<T: serde::Serialize>(
        &self,
        kind: tokens::ArtifactKind,
        claims: &T,
    ) -> anyhow::Result<String> {
        tokens::seal(&self.inner.keys.current(), kind, claims)
    }

    /// Mints an app-only token without HTTP (for tests and tooling).
    /// `audience_graph_app_id` picks the GUID `aud` form.
    pub fn issue_app_token(
        &self,
        tenant: &str,
        client_id: &str,
        audience_graph_app_id: bool,
    ) -> anyhow::Result<String> {
        let (t, app) = self.find_app(tenant, client_id)?;
        let audience = if audience_graph_app_id { Audience::GraphAppId } else { Audience::GraphUri };
        let claims = tokens::app_token_claims(
            t,
            app,
            audience,
            chrono::Utc::now().timestamp(),
            self.lifetime_secs(),
            None,
        );
        self.sign_access_token(&claims)
    }

    /// Mints a delegated token without HTTP. `scope` is a delegated scope
    /// string such as `"DeviceManagementApps.Read.All"`.
    pub fn issue_user_token(
        &self,
        tenant: &str,
        client_id: &str,
        upn: &str,
        scope: &str,
    ) -> anyhow::Result<String> {
        let (t, app) = self.find_app(tenant, client_id)?;
        let user = t.user_by_upn(upn).with_context(|| format!("no user '{upn}' in tenant {}", t.id))?;
        let scope = scopes::delegated_scope(scope, app, &self.inner.own_hosts)?;
        let claims = tokens::user_token_claims(
            t,
            app,
            user,
            &scope,
            chrono::Utc::now().timestamp(),
            self.lifetime_secs(),
            None,
            None,
        );
        self.sign_access_token(&claims)
    }

    /// Approves a pending device code for `upn` (the admin call behind
    /// `POST /_auditgraph/identity/devicecodes/{user_code}/approve`).
    pub fn approve_device_code(
        &self,
        user_code: &str,
        upn: Option<&str>,
    ) -> Result<String, DeviceApprovalError> {
        self.settle_device_code(user_code, upn, true)
    }

    /// Declines a pending device code.
    /// A user code in its canonical form (`ABCD-EFGH`), if it is one.
    pub fn normalise_user_code(user_code: &str) -> Option<String> {
        DeviceStore::normalise_user_code(user_code)
    }

    pub fn decline_device_code(&self, user_code: &str) -> Result<String, DeviceApprovalError> {
        self.settle_device_code(user_code, None, false)
    }

    fn settle_device_code(
        &self,
        user_code: &str,
        upn: Option<&str>,
        approve: bool,
    ) -> Result<String, DeviceApprovalError> {
        let code = DeviceStore::normalise_user_code(user_code)
            .ok_or_else(|| DeviceApprovalError::UnknownCode(user_code.to_string()))?;
        let mut entry =
            self.inner.devices.get(&code)?.ok_or_else(|| DeviceApprovalError::UnknownCode(code.clone()))?;
        if entry.status != DeviceStatus::Pending {
            return Err(DeviceApprovalError::NotPending(code, format!("{:?}", entry.status).to_lowercase()));
        }
        if entry.expires < chrono::Utc::now().timestamp() {
            return Err(DeviceApprovalError::Expired(code));
        }
        let tenant = self
            .inner
            .directory
            .tenant(&entry.tenant_id)
            .ok_or_else(|| DeviceApprovalError::UnknownCode(code.clone()))?;
        let upn_out;
        if approve {
            let user = match upn.or(self.inner.config.auto_approve_user.as_deref()) {
                Some(upn) => tenant
                    .user_by_upn(upn)
                    .ok_or_else(|| DeviceApprovalError::UnknownUser(upn.to_string()))?,
                None => {
                    tenant.users.first().ok_or_else(|| DeviceApprovalError::UnknownUser(String::new()))?
                }
            };
            entry.status = DeviceStatus::Approved;
            entry.user_object_id = Some(user.object_id.clone());
            upn_out = user.upn.clone();
        } else {
            entry.status = DeviceStatus::Declined;
            upn_out = String::new();
        }
        self.inner.devices.put(&code, &entry)?;
        Ok(upn_out)
    }

    fn find_app(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> anyhow::Result<(&crate::directory::Tenant, &crate::directory::AppRegistration)> {
        let scope =
            self.inner.directory.resolve(tenant).with_context(|| format!("unknown tenant '{tenant}'"))?;
        self.inner
            .directory
            .find_app(scope, client_id)
            .with_context(|| format!("no app '{client_id}' in tenant '{tenant}'"))
    }

    fn lifetime_secs(&self) -> i64 {
        i64::try_from(self.inner.config.token_lifetime.as_secs()).unwrap_or(3599)
    }

    /// Records an authorization code as redeemed; false if it already was.
    fn redeem_code_once(&self, jti: &str, exp: i64) -> bool {
        let now = chrono::Utc::now().timestamp();
        let mut redeemed = self.inner.redeemed_codes.lock().unwrap_or_else(|p| p.into_inner());
        redeemed.retain(|_, expiry| *expiry >= now);
        redeemed.insert(jti.to_string(), exp).is_none()
    }
}
