//! The token endpoint (`/oauth2/v2.0/token` and v1's `/oauth2/token`): every
//! grant (client credentials, authorization code, refresh token, device code,
//! password) checked as Entra checks it, answered in its JSON.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use sha2::Digest as _;

use super::IdentityService;
use super::device::{DeviceEntry, DeviceStatus};
use super::errors::{ErrorStamp, TokenError, json_body, no_store_headers};
use super::scopes::{self};
use super::tokens::{self, ArtifactError, ArtifactKind, AuthCode, DeviceCode, RefreshToken};
use crate::directory::{AppRegistration, Tenant, TenantScope, User};

use super::routes::{Params, now, own_hosts, param, parse_params, required, secs};

pub(super) async fn token_v2(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    token_endpoint(svc, path.into_inner(), req, body, false).await
}

/// The v1 endpoint: `resource=` instead of `scope=`, and numbers as strings.
pub(super) async fn token_v1(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    token_endpoint(svc, path.into_inner(), req, body, true).await
}

pub(super) async fn token_wrong_method(req: HttpRequest) -> HttpResponse {
    TokenError::post_required(req.method().as_str()).response(&ErrorStamp::from_request(&req))
}

pub(super) async fn token_endpoint(
    svc: web::Data<IdentityService>,
    segment: String,
    req: HttpRequest,
    body: web::Bytes,
    v1: bool,
) -> HttpResponse {
    let stamp = ErrorStamp::from_request(&req);
    let mut params = parse_params(&body);
    if v1 && param(&params, "scope").is_none() {
        // v1 names a resource; its tokens carry what `/.default` would grant.
        if let Some(resource) = param(&params, "resource").map(|r| r.trim_end_matches('/').to_string()) {
            let delegated = param(&params, "grant_type").is_some_and(|g| g != "client_credentials");
            let scope = if delegated {
                format!("{resource}/.default openid offline_access")
            } else {
                format!("{resource}/.default")
            };
            params.insert("scope".into(), scope);
        }
    }
    let grant = Grant { svc: &svc, req: &req, params: &params, v1, stamp: &stamp };
    match grant.run(&segment).await {
        Ok(response) => response,
        Err(err) => {
            tracing::debug!(error = %err, tenant = %segment, "token request refused");
            err.response(&stamp)
        }
    }
}

/// One token request.
pub(super) struct Grant<'a> {
    svc: &'a IdentityService,
    req: &'a HttpRequest,
    params: &'a Params,
    v1: bool,
    stamp: &'a ErrorStamp,
}

/// The client's credentials, from HTTP Basic or the body.
pub(super) struct ClientAuth {
    client_id: Option<String>,
    /// Candidate secrets: Basic credentials are form-decoded per RFC 6749
    /// §2.3.1, but clients that skip the encoding are accepted too.
    secrets: Vec<String>,
    assertion: bool,
}

/// Everything a successful token response may carry.
#[derive(Default)]
pub(super) struct Issued {
    access_token: String,
    scope: Option<String>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    client_info: Option<String>,
    resource: Option<String>,
}

impl<'a> Grant<'a> {
    async fn run(&self, segment: &str) -> Result<HttpResponse, TokenError> {
        let scope =
            self.svc.directory().resolve(segment).ok_or_else(|| TokenError::tenant_not_found(segment))?;
        let grant_type = required(self.params, "grant_type")?;
        match grant_type {
            "client_credentials" => self.client_credentials(scope, segment),
            "authorization_code" => self.authorization_code(scope, segment),
            "refresh_token" => self.refresh_token(scope, segment),
            "password" => self.password(scope, segment),
            "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => {
                self.device_code(scope, segment).await
            }
            other => Err(TokenError::unsupported_grant_type(other)),
        }
    }

    fn client_auth(&self) -> ClientAuth {
        let mut auth = ClientAuth {
            client_id: param(self.params, "client_id").map(String::from),
            secrets: param(self.params, "client_secret").map(String::from).into_iter().collect(),
            assertion: param(self.params, "client_assertion").is_some(),
        };
        if let Some((id, secrets)) = basic_credentials(self.req) {
            auth.client_id = Some(id);
            auth.secrets = secrets;
        }
        auth
    }

    /// Finds and authenticates the client. Confidential apps must present a
    /// valid secret; public clients must not present one, and may not use
    /// grants that need a confidential client (`confidential_grant`).
    fn authenticate(
        &self,
        scope: TenantScope<'a>,
        segment: &str,
        confidential_grant: bool,
    ) -> Result<(&'a Tenant, &'a AppRegistration), TokenError> {
        let auth = self.client_auth();
        let client_id =
            auth.client_id.as_deref().ok_or_else(|| TokenError::missing_parameter("client_id"))?;
        let (tenant, app) = self.svc.inner.directory.find_app(scope, client_id).ok_or_else(|| {
            let directory = match scope {
                TenantScope::Tenant(t) => t.display_name.clone(),
                TenantScope::Any => segment.to_string(),
            };
            TokenError::unknown_client(client_id, &directory)
        })?;
        if auth.assertion {
            return Err(TokenError::client_assertion_not_supported());
        }
        if app.public_client {
            if !auth.secrets.is_empty() {
                return Err(TokenError::public_client_with_secret());
            }
            if confidential_grant {
                return Err(TokenError::missing_client_secret());
            }
            return Ok((tenant, app));
        }
        if auth.secrets.is_empty() {
            return Err(TokenError::missing_client_secret());
        }
        // A secret that is valid wins over an expired copy of the same value.
        let now = chrono::Utc::now();
        let mut matching =
            app.secrets.iter().filter(|s| auth.secrets.iter().any(|given| given == &s.value)).peekable();
        if matching.peek().is_none() {
            return Err(TokenError::invalid_client_secret(&app.client_id));
        }
        if matching.any(|s| s.expires.is_none_or(|e| e > now)) {
            Ok((tenant, app))
        } else {
            Err(TokenError::expired_client_secret(&app.client_id))
        }
    }

    /// `xms_cc` from the `claims` parameter azure-identity sends (CP1).
    fn client_capabilities(&self) -> Option<Vec<String>> {
        let claims: Value = serde_json::from_str(param(self.params, "claims")?).ok()?;
        let values = claims.pointer("/access_token/xms_cc/values")?.as_array()?;
        let caps: Vec<String> = values.iter().filter_map(|v| v.as_str().map(String::from)).collect();
        (!caps.is_empty()).then_some(caps)
    }

    fn sign<T: serde::Serialize>(&self, claims: &T, typ: &str) -> Result<String, TokenError> {
        self.svc.inner.keys.current().sign(claims, typ).map_err(|e| {
            tracing::error!(error = %e, "cannot sign token");
            TokenError::server_error()
        })
    }

    fn seal<T: serde::Serialize>(&self, kind: ArtifactKind, claims: &T) -> Result<String, TokenError> {
        tokens::seal(&self.svc.inner.keys.current(), kind, claims).map_err(|e| {
            tracing::error!(error = %e, "cannot sign artifact");
            TokenError::server_error()
        })
    }

    fn lifetime(&self) -> i64 {
        secs(self.svc.config().token_lifetime)
    }

    fn respond(&self, issued: Issued) -> HttpResponse {
        let lifetime = self.lifetime();
        let mut body = Map::new();
        body.insert("token_type".into(), "Bearer".into());
        if let Some(scope) = issued.scope {
            body.insert("scope".into(), scope.into());
        }
        if self.v1 {
            // v1 answers with numbers in strings.
            let now = now();
            body.insert("expires_in".into(), lifetime.to_string().into());
            body.insert("ext_expires_in".into(), lifetime.to_string().into());
            body.insert("expires_on".into(), (now + lifetime).to_string().into());
            body.insert("not_before".into(), now.to_string().into());
            if let Some(resource) = issued.resource {
                body.insert("resource".into(), resource.into());
            }
        } else {
            body.insert("expires_in".into(), lifetime.into());
            body.insert("ext_expires_in".into(), lifetime.into());
        }
        body.insert("access_token".into(), issued.access_token.into());
        for (name, value) in [
            ("refresh_token", issued.refresh_token),
            ("id_token", issued.id_token),
            ("client_info", issued.client_info),
        ] {
            if let Some(v) = value {
                body.insert(name.into(), v.into());
            }
        }
        let mut builder = HttpResponse::Ok();
        no_store_headers(&mut builder, self.stamp);
        json_body(builder, &Value::Object(body))
    }

    fn client_credentials(&self, scope: TenantScope<'a>, segment: &str) -> Result<HttpResponse, TokenError> {
        // Parameter checks come before client authentication, as in Entra.
        let auth = self.client_auth();
        if auth.client_id.is_none() {
            return Err(TokenError::missing_parameter("client_id"));
        }
        let requested = required(self.params, "scope")?;
        let (tenant, app) = self.authenticate(scope, segment, true)?;
        let audience = scopes::client_credentials_audience(requested, &own_hosts(self.svc, self.req))?;
        let claims = tokens::app_token_claims(
            tenant,
            app,
            audience,
            now(),
            self.lifetime(),
            self.client_capabilities(),
        );
        let access_token = self.sign(&claims, "JWT")?;
        Ok(self.respond(Issued {
            access_token,
            resource: Some(audience.as_str().to_string()),
            ..Issued::default()
        }))
    }

    /// Issues the delegated token set: access token, plus a refresh token
    /// when `offline_access` was requested (or on refresh), plus an ID token
    /// when `openid` was requested.
    fn issue_delegated(
        &self,
        tenant: &Tenant,
        app: &AppRegistration,
        user: &User,
        scope_text: &str,
        nonce: Option<String>,
        always_refresh: bool,
    ) -> Result<HttpResponse, TokenError> {
        let scope = scopes::delegated_scope(scope_text, app, &own_hosts(self.svc, self.req))?;
        let now = now();
        let ipaddr = self.req.peer_addr().map(|a| a.ip().to_string());
        let claims = tokens::user_token_claims(
            tenant,
            app,
            user,
            &scope,
            now,
            self.lifetime(),
            ipaddr,
            self.client_capabilities(),
        );
        let access_token = self.sign(&claims, "JWT")?;
        let refresh_token = if scope.offline_access || always_refresh {
            let rt = RefreshToken {
                aud: tokens::artifact_audience(ArtifactKind::RefreshToken),
                tid: tenant.id.clone(),
                cid: app.client_id.clone(),
                oid: user.object_id.clone(),
                scope: scope_text.to_string(),
                iat: now,
                exp: now + secs(self.svc.config().refresh_token_lifetime),
                jti: tokens::new_jti(),
            };
            Some(self.seal(ArtifactKind::RefreshToken, &rt)?)
        } else {
            None
        };
        let id_token = if scope.openid {
            let issuer = format!("{}/{}/v2.0", self.svc.origin(), tenant.id);
            let claims = tokens::id_token_claims(issuer, tenant, app, user, nonce, now, self.lifetime());
            Some(self.sign(&claims, "JWT")?)
        } else {
            None
        };
        let client_info =
            (param(self.params, "client_info") == Some("1")).then(|| tokens::client_info(user, tenant));
        Ok(self.respond(Issued {
            access_token,
            scope: Some(scope.response_scope()),
            refresh_token,
            id_token,
            client_info,
            resource: Some(scope.audience.as_str().to_string()),
        }))
    }

    fn authorization_code(&self, scope: TenantScope<'a>, segment: &str) -> Result<HttpResponse, TokenError> {
        let code = required(self.params, "code")?;
        let redirect_uri = required(self.params, "redirect_uri")?;
        let (tenant, app) = self.authenticate(scope, segment, false)?;
        let claims: AuthCode = tokens::open(&self.svc.inner.keys, ArtifactKind::AuthorizationCode, code)
            .map_err(|e| match e {
                ArtifactError::Invalid => TokenError::malformed_grant(),
                ArtifactError::Expired { .. } => TokenError::expired_code(),
            })?;
        if !claims.cid.eq_ignore_ascii_case(&app.client_id) || claims.tid != tenant.id {
            return Err(TokenError::grant_mismatch());
        }
        if claims.redirect_uri != redirect_uri {
            return Err(TokenError::redirect_uri_mismatch(redirect_uri, &claims.redirect_uri));
        }
        if let Some(challenge) = &claims.code_challenge {
            let verifier = required(self.params, "code_verifier")?;
            let matches = match claims.code_challenge_method.as_deref() {
                Some("S256") => {
                    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes())) == *challenge
                }
                _ => verifier == challenge,
            };
            if !matches {
                return Err(TokenError::pkce_mismatch());
            }
        }
        if !self.svc.redeem_code_once(&claims.jti, claims.exp) {
            return Err(TokenError::code_already_redeemed());
        }
        let user = tenant.user_by_id(&claims.oid).ok_or_else(|| TokenError::unknown_user(&tenant.id))?;
        self.issue_delegated(tenant, app, user, &claims.scope, claims.nonce.clone(), false)
    }

    fn refresh_token(&self, scope: TenantScope<'a>, segment: &str) -> Result<HttpResponse, TokenError> {
        let presented = required(self.params, "refresh_token")?;
        let (tenant, app) = self.authenticate(scope, segment, false)?;
        let lifetime_days = secs(self.svc.config().refresh_token_lifetime) / 86_400;
        let claims: RefreshToken = tokens::open(&self.svc.inner.keys, ArtifactKind::RefreshToken, presented)
            .map_err(|e| match e {
                ArtifactError::Invalid => TokenError::malformed_grant(),
                ArtifactError::Expired { issued_at } => {
                    TokenError::expired_refresh_token(tokens::utc(issued_at), lifetime_days)
                }
            })?;
        if !claims.cid.eq_ignore_ascii_case(&app.client_id) || claims.tid != tenant.id {
            return Err(TokenError::grant_mismatch());
        }
        let user = tenant.user_by_id(&claims.oid).ok_or_else(|| TokenError::unknown_user(&tenant.id))?;
        // A refresh may ask for a different (consented) scope; default to the original.
        let scope_text = param(self.params, "scope").unwrap_or(&claims.scope).to_string();
        self.issue_delegated(tenant, app, user, &scope_text, None, true)
    }

    fn password(&self, scope: TenantScope<'a>, segment: &str) -> Result<HttpResponse, TokenError> {
        let username = required(self.params, "username")?;
        let password = self
            .params
            .get("password")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| TokenError::missing_parameter("password"))?;
        let requested = required(self.params, "scope")?;
        let (tenant, app) = self.authenticate(scope, segment, false)?;
        let user = tenant.user_by_upn(username).ok_or_else(|| TokenError::unknown_user(&tenant.id))?;
        if &user.password != password {
            return Err(TokenError::invalid_credentials());
        }
        self.issue_delegated(tenant, app, user, requested, None, false)
    }

    async fn device_code(&self, scope: TenantScope<'a>, segment: &str) -> Result<HttpResponse, TokenError> {
        // v2 calls it device_code; the v1 endpoint calls it code.
        let presented = param(self.params, "device_code")
            .or_else(|| param(self.params, "code"))
            .ok_or_else(|| TokenError::missing_parameter("device_code"))?;
        let (tenant, app) = self.authenticate(scope, segment, false)?;
        let claims: DeviceCode = tokens::open(&self.svc.inner.keys, ArtifactKind::DeviceCode, presented)
            .map_err(|e| match e {
                ArtifactError::Invalid => TokenError::bad_verification_code(),
                ArtifactError::Expired { .. } => TokenError::device_code_expired(),
            })?;
        if !claims.cid.eq_ignore_ascii_case(&app.client_id) || claims.tid != tenant.id {
            return Err(TokenError::bad_verification_code());
        }

        let store = self.svc.inner.devices.clone();
        let user_code = claims.user_code.clone();
        let auto_after = self.svc.config().device_code_auto_approve_after;
        let svc = self.svc.clone();
        // File I/O runs on the blocking pool.
        let entry = web::block(move || -> anyhow::Result<Option<DeviceEntry>> {
            let Some(entry) = store.get(&user_code)? else {
                return Ok(None);
            };
            if entry.status == DeviceStatus::Pending
                && let Some(after) = auto_after
                && store.count_poll(&user_code) >= after
            {
                svc.approve_device_code(&user_code, None).map_err(anyhow::Error::from)?;
                return store.get(&user_code);
            }
            Ok(Some(entry))
        })
        .await
        .map_err(|e| blocking_failed(&e))?
        .map_err(|e| blocking_failed(&*e))?
        .ok_or_else(TokenError::bad_verification_code)?;

        match entry.status {
            DeviceStatus::Pending => Err(TokenError::authorization_pending()),
            DeviceStatus::Declined => Err(TokenError::authorization_declined()),
            DeviceStatus::Redeemed => Err(TokenError::bad_verification_code()),
            DeviceStatus::Approved => {
                let user = entry
                    .user_object_id
                    .as_deref()
                    .and_then(|oid| tenant.user_by_id(oid))
                    .ok_or_else(|| TokenError::unknown_user(&tenant.id))?;
                let response = self.issue_delegated(tenant, app, user, &claims.scope, None, false)?;
                let store = self.svc.inner.devices.clone();
                let user_code = claims.user_code.clone();
                let redeemed = DeviceEntry { status: DeviceStatus::Redeemed, ..entry };
                web::block(move || store.put(&user_code, &redeemed))
                    .await
                    .map_err(|e| blocking_failed(&e))?
                    .map_err(|e| blocking_failed(&*e))?;
                Ok(response)
            }
        }
    }
}

pub(super) fn blocking_failed(e: &dyn std::fmt::Display) -> TokenError {
    tracing::error!(error = %e, "device-code state I/O failed");
    TokenError::server_error()
}

/// HTTP Basic client credentials: `client_id` and candidate secrets.
pub(super) fn basic_credentials(req: &HttpRequest) -> Option<(String, Vec<String>)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let mut secrets = vec![form_decode(secret)];
    if secrets[0] != secret {
        secrets.push(secret.to_string());
    }
    Some((form_decode(id), secrets))
}

/// `application/x-www-form-urlencoded` decoding of one component; malformed
/// escapes are kept literally.
pub(super) fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a%2Bb+c"), "a+b c");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        assert_eq!(form_decode("%41"), "A");
    }
}
