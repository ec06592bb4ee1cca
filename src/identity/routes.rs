//! The identity platform's HTTP endpoints (identity.md §1):
//!
//! | Route | Purpose |
//! |---|---|
//! | `GET /{tenant}/v2.0/.well-known/openid-configuration` | v2 discovery |
//! | `GET /{tenant}/.well-known/openid-configuration` | v1 discovery |
//! | `GET /{tenant}/discovery/v2.0/keys`, `/{tenant}/discovery/keys` | JWKS |
//! | `GET /{tenant}/discovery/instance` | instance discovery (`/common/...`) |
//! | `POST /{tenant}/oauth2/v2.0/token`, `/{tenant}/oauth2/token` (v1) | every grant |
//! | `GET, POST /{tenant}/oauth2/v2.0/authorize`, `/{tenant}/oauth2/authorize` | auth code |
//! | `POST /{tenant}/oauth2/v2.0/devicecode` | device code |
//! | `GET, POST /{tenant}/oauth2/v2.0/logout` | sign-out (no session: a redirect) |
//! | `GET, POST /devicelogin` | enter a device code and sign in |
//! | `POST /_auditgraph/identity/devicecodes/{user_code}/approve` and `/decline` | admin approval |
//! | `GET /{tenant}/userrealm/{username}` | home realm discovery (MSAL's ROPC asks first) |
//! | `GET /oidc/userinfo` | OIDC userinfo for a Graph token |
//!
//! `{tenant}` is a tenant id, its domain, `common`, `organizations` or
//! `consumers`. State comes from `web::Data<IdentityService>`. Handlers never
//! panic on input: every failure becomes the identity platform's error JSON
//! (token endpoints), a redirect with `error=` (authorize, once the redirect
//! URI is trusted) or a small HTML page.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use super::device::{DeviceEntry, DeviceStatus, DeviceStore};
use super::directory::{AppRegistration, Tenant, TenantScope, User};
use super::errors::{ErrorStamp, TokenError, json_body, no_store_headers};
use super::scopes::{self, OwnHosts};
use super::tokens::{self, ArtifactError, ArtifactKind, AuthCode, DeviceCode, RefreshToken};
use super::{DeviceApprovalError, IdentityService, html};

/// Registers every identity route. Register it before any catch-all route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{tenant}/v2.0/.well-known/openid-configuration", web::get().to(openid_configuration_v2))
        .route("/{tenant}/.well-known/openid-configuration", web::get().to(openid_configuration_v1))
        .route("/{tenant}/discovery/v2.0/keys", web::get().to(keys_v2))
        .route("/{tenant}/discovery/keys", web::get().to(keys_v1))
        .route("/{tenant}/discovery/instance", web::get().to(instance_discovery))
        .route("/{tenant}/oauth2/v2.0/token", web::post().to(token_v2))
        .route("/{tenant}/oauth2/v2.0/token", web::route().to(token_wrong_method))
        .route("/{tenant}/oauth2/token", web::post().to(token_v1))
        .route("/{tenant}/oauth2/token", web::route().to(token_wrong_method))
        .route("/{tenant}/oauth2/v2.0/authorize", web::get().to(authorize_get))
        .route("/{tenant}/oauth2/v2.0/authorize", web::post().to(authorize_post))
        .route("/{tenant}/oauth2/authorize", web::get().to(authorize_get))
        .route("/{tenant}/oauth2/authorize", web::post().to(authorize_post))
        .route("/{tenant}/oauth2/v2.0/devicecode", web::post().to(devicecode))
        .route("/{tenant}/oauth2/v2.0/logout", web::get().to(logout))
        .route("/{tenant}/oauth2/v2.0/logout", web::post().to(logout))
        .route("/{tenant}/oauth2/logout", web::get().to(logout))
        .route("/devicelogin", web::get().to(devicelogin_get))
        .route("/devicelogin", web::post().to(devicelogin_post))
        .route("/_auditgraph/identity/devicecodes/{user_code}/approve", web::post().to(approve_device))
        .route("/_auditgraph/identity/devicecodes/{user_code}/decline", web::post().to(decline_device))
        .route("/{tenant}/userrealm/{username}", web::get().to(user_realm))
        .route("/oidc/userinfo", web::get().to(userinfo));
}

type Params = HashMap<String, String>;

/// Parses `application/x-www-form-urlencoded` text; the last value of a
/// repeated key wins. Unparsable input yields no parameters, which then
/// surfaces as "missing parameter", as in Entra.
fn parse_params(bytes: &[u8]) -> Params {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .map(|pairs| pairs.into_iter().collect())
        .unwrap_or_default()
}

/// A non-empty, trimmed parameter.
fn param<'p>(params: &'p Params, name: &str) -> Option<&'p str> {
    params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, TokenError> {
    param(params, name).ok_or_else(|| TokenError::missing_parameter(name))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// `host[:port]` of the origin.
fn origin_authority(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, rest)| rest)
}

fn own_hosts(svc: &IdentityService, req: &HttpRequest) -> OwnHosts {
    svc.inner.own_hosts.with_request_host(Some(req.connection_info().host()))
}

/// Headers of Entra's discovery and key documents [OBS].
fn cached_json(value: &Value) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    builder
        .insert_header((header::CACHE_CONTROL, "max-age=86400, private"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    json_body(builder, value)
}

// ---------------------------------------------------------------------------
// Discovery and keys
// ---------------------------------------------------------------------------

/// For a known tenant, discovery names it by id; for the aliases it keeps the
/// alias in the endpoints and puts `{tenantid}` in the issuer, as Entra does.
fn discovery_segments(svc: &IdentityService, segment: &str) -> Option<(String, String)> {
    match svc.directory().resolve(segment)? {
        TenantScope::Tenant(t) => Some((t.id.clone(), t.id.clone())),
        TenantScope::Any => Some((segment.to_ascii_lowercase(), "{tenantid}".to_string())),
    }
}

async fn openid_configuration_v2(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let segment = path.into_inner();
    let Some((t, issuer_tid)) = discovery_segments(&svc, &segment) else {
        return TokenError::invalid_tenant(&segment).response(&ErrorStamp::from_request(&req));
    };
    let o = svc.origin();
    let doc = json!({
        "token_endpoint": format!("{o}/{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{o}/{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{o}/{issuer_tid}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{o}/oidc/userinfo"),
        "authorization_endpoint": format!("{o}/{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{o}/{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{o}/{t}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
            "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{o}/{t}/kerberos"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": origin_authority(o),
        "rbac_url": o,
    });
    cached_json(&doc)
}

async fn openid_configuration_v1(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let segment = path.into_inner();
    let Some((t, issuer_tid)) = discovery_segments(&svc, &segment) else {
        return TokenError::invalid_tenant(&segment).response(&ErrorStamp::from_request(&req));
    };
    let o = svc.origin();
    let doc = json!({
        "token_endpoint": format!("{o}/{t}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{o}/{t}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": format!("https://sts.windows.net/{issuer_tid}/"),
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{o}/{t}/oauth2/authorize"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{o}/{t}/oauth2/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name",
            "family_name", "nickname"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": origin_authority(o),
        "rbac_url": o,
    });
    cached_json(&doc)
}

async fn keys_v2(svc: web::Data<IdentityService>, path: web::Path<String>, req: HttpRequest) -> HttpResponse {
    let segment = path.into_inner();
    let Some((_, issuer_tid)) = discovery_segments(&svc, &segment) else {
        return TokenError::invalid_tenant(&segment).response(&ErrorStamp::from_request(&req));
    };
    let issuer = format!("{}/{issuer_tid}/v2.0", svc.origin());
    cached_json(&json!({ "keys": [svc.inner.key.jwk(Some(&issuer))] }))
}

async fn keys_v1(svc: web::Data<IdentityService>, path: web::Path<String>, req: HttpRequest) -> HttpResponse {
    let segment = path.into_inner();
    if discovery_segments(&svc, &segment).is_none() {
        return TokenError::invalid_tenant(&segment).response(&ErrorStamp::from_request(&req));
    }
    cached_json(&json!({ "keys": [svc.inner.key.jwk(None)] }))
}

/// Instance discovery [OBS shape]. Only clients that did not disable it call
/// this; MSAL Python calls Microsoft's host instead unless told otherwise.
async fn instance_discovery(svc: web::Data<IdentityService>, req: HttpRequest) -> HttpResponse {
    let params = parse_params(req.query_string().as_bytes());
    // The tenant is the first path segment of the authorization endpoint.
    let tenant = param(&params, "authorization_endpoint")
        .and_then(|url| url.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.split('/').nth(1))
        .filter(|t| !t.is_empty())
        .unwrap_or("common")
        .to_string();
    let o = svc.origin();
    let host = origin_authority(o);
    cached_json(&json!({
        "tenant_discovery_endpoint": format!("{o}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{ "preferred_network": host, "preferred_cache": host, "aliases": [host] }],
    }))
}

// ---------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------

async fn token_v2(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    token_endpoint(svc, path.into_inner(), req, body, false).await
}

/// The v1 endpoint: `resource=` instead of `scope=`, and numbers as strings.
async fn token_v1(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    token_endpoint(svc, path.into_inner(), req, body, true).await
}

async fn token_wrong_method(req: HttpRequest) -> HttpResponse {
    TokenError::post_required(req.method().as_str()).response(&ErrorStamp::from_request(&req))
}

async fn token_endpoint(
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
struct Grant<'a> {
    svc: &'a IdentityService,
    req: &'a HttpRequest,
    params: &'a Params,
    v1: bool,
    stamp: &'a ErrorStamp,
}

/// The client's credentials, from HTTP Basic or the body.
struct ClientAuth {
    client_id: Option<String>,
    /// Candidate secrets: Basic credentials are form-decoded per RFC 6749
    /// §2.3.1, but clients that skip the encoding are accepted too.
    secrets: Vec<String>,
    assertion: bool,
}

/// Everything a successful token response may carry.
#[derive(Default)]
struct Issued {
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
        self.svc.inner.key.sign(claims, typ).map_err(|e| {
            tracing::error!(error = %e, "cannot sign token");
            TokenError::server_error()
        })
    }

    fn seal<T: serde::Serialize>(&self, kind: ArtifactKind, claims: &T) -> Result<String, TokenError> {
        tokens::seal(&self.svc.inner.key, kind, claims).map_err(|e| {
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
        let claims: AuthCode = tokens::open(&self.svc.inner.key, ArtifactKind::AuthorizationCode, code)
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
        let claims: RefreshToken = tokens::open(&self.svc.inner.key, ArtifactKind::RefreshToken, presented)
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
        let claims: DeviceCode = tokens::open(&self.svc.inner.key, ArtifactKind::DeviceCode, presented)
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

fn blocking_failed(e: &dyn std::fmt::Display) -> TokenError {
    tracing::error!(error = %e, "device-code state I/O failed");
    TokenError::server_error()
}

/// HTTP Basic client credentials: `client_id` and candidate secrets.
fn basic_credentials(req: &HttpRequest) -> Option<(String, Vec<String>)> {
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
fn form_decode(text: &str) -> String {
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

// ---------------------------------------------------------------------------
// Device code
// ---------------------------------------------------------------------------

async fn devicecode(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let stamp = ErrorStamp::from_request(&req);
    let params = parse_params(&body);
    match start_device_flow(&svc, &path.into_inner(), &req, &params, &stamp).await {
        Ok(response) => response,
        Err(err) => err.response(&stamp),
    }
}

async fn start_device_flow(
    svc: &IdentityService,
    segment: &str,
    req: &HttpRequest,
    params: &Params,
    stamp: &ErrorStamp,
) -> Result<HttpResponse, TokenError> {
    let scope = svc.directory().resolve(segment).ok_or_else(|| TokenError::tenant_not_found(segment))?;
    let client_id = required(params, "client_id")?;
    let requested = required(params, "scope")?;
    let (tenant, app) = svc.directory().find_app(scope, client_id).ok_or_else(|| {
        let directory = match scope {
            TenantScope::Tenant(t) => t.display_name.clone(),
            TenantScope::Any => segment.to_string(),
        };
        TokenError::unknown_client(client_id, &directory)
    })?;
    scopes::delegated_scope(requested, app, &own_hosts(svc, req))?;

    let now = now();
    let lifetime = secs(svc.config().device_code_lifetime);
    let user_code = DeviceStore::new_user_code();
    let claims = DeviceCode {
        aud: tokens::artifact_audience(ArtifactKind::DeviceCode),
        tid: tenant.id.clone(),
        cid: app.client_id.clone(),
        scope: requested.to_string(),
        user_code: user_code.clone(),
        iat: now,
        exp: now + lifetime,
        jti: tokens::new_jti(),
    };
    let device_code = tokens::seal(&svc.inner.key, ArtifactKind::DeviceCode, &claims).map_err(|e| {
        tracing::error!(error = %e, "cannot sign device code");
        TokenError::server_error()
    })?;
    let entry = DeviceEntry {
        status: DeviceStatus::Pending,
        tenant_id: tenant.id.clone(),
        client_id: app.client_id.clone(),
        scope: requested.to_string(),
        expires: now + lifetime,
        user_object_id: None,
    };
    let store = svc.inner.devices.clone();
    let code = user_code.clone();
    web::block(move || store.create(&code, &entry))
        .await
        .map_err(|e| blocking_failed(&e))?
        .map_err(|e| blocking_failed(&*e))?;

    let verification_uri = format!("{}/devicelogin", svc.origin());
    let body = json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": lifetime,
        "interval": secs(svc.config().device_code_interval),
        "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."),
    });
    let mut builder = HttpResponse::Ok();
    no_store_headers(&mut builder, stamp);
    Ok(json_body(builder, &body))
}

async fn devicelogin_get(req: HttpRequest) -> HttpResponse {
    let params = parse_params(req.query_string().as_bytes());
    html::device_login(None, param(&params, "otc").unwrap_or_default())
}

async fn devicelogin_post(svc: web::Data<IdentityService>, body: web::Bytes) -> HttpResponse {
    let params = parse_params(&body);
    let code = param(&params, "otc").unwrap_or_default().to_string();
    let login = param(&params, "login").unwrap_or_default().to_string();
    let password = params.get("passwd").cloned().unwrap_or_default();
    let svc = svc.into_inner();
    let outcome = web::block(move || -> Result<String, String> {
        let normalised = DeviceStore::normalise_user_code(&code).ok_or("That code wasn't recognised.")?;
        let entry = svc
            .inner
            .devices
            .get(&normalised)
            .map_err(|_| "Something went wrong. Try again.")?
            .ok_or("That code wasn't recognised.")?;
        let tenant = svc.directory().tenant(&entry.tenant_id).ok_or("That code wasn't recognised.")?;
        let user = tenant
            .user_by_upn(&login)
            .filter(|u| u.password == password)
            .ok_or("Your account or password is incorrect.")?;
        svc.approve_device_code(&normalised, Some(&user.upn)).map_err(|e| match e {
            DeviceApprovalError::Expired(_) => "That code has expired.".to_string(),
            DeviceApprovalError::NotPending(..) => "That code was already used.".to_string(),
            _ => "That code wasn't recognised.".to_string(),
        })?;
        let app = tenant.app(&entry.client_id).map(|a| a.display_name.clone()).unwrap_or_default();
        Ok(format!(
            "You have signed in to the {app} application on your device. You may now close this window."
        ))
    })
    .await;
    match outcome {
        Ok(Ok(text)) => html::device_login(Some((&text, false)), ""),
        Ok(Err(text)) => html::device_login(Some((&text, true)), ""),
        Err(_) => html::device_login(Some(("Something went wrong. Try again.", true)), ""),
    }
}

/// The admin call that approves a device code: body `{"user": "<upn>"}` (JSON
/// or form); without a user, the auto-approve user or the tenant's first user.
async fn approve_device(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let user = requested_user(&body);
    settle_device(svc, path.into_inner(), user, true).await
}

async fn decline_device(svc: web::Data<IdentityService>, path: web::Path<String>) -> HttpResponse {
    settle_device(svc, path.into_inner(), None, false).await
}

fn requested_user(body: &[u8]) -> Option<String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        return map.get("user").or_else(|| map.get("upn")).and_then(|v| v.as_str()).map(String::from);
    }
    let params = parse_params(body);
    param(&params, "user").or_else(|| param(&params, "upn")).map(String::from)
}

async fn settle_device(
    svc: web::Data<IdentityService>,
    user_code: String,
    user: Option<String>,
    approve: bool,
) -> HttpResponse {
    let svc = svc.into_inner();
    let code = user_code.clone();
    let result = web::block(move || {
        if approve { svc.approve_device_code(&code, user.as_deref()) } else { svc.decline_device_code(&code) }
    })
    .await;
    let (status, body) = match result {
        Ok(Ok(upn)) => (
            StatusCode::OK,
            json!({
                "userCode": DeviceStore::normalise_user_code(&user_code).unwrap_or(user_code),
                "status": if approve { "approved" } else { "declined" },
                "user": if approve { Value::String(upn) } else { Value::Null },
            }),
        ),
        Ok(Err(e)) => {
            let (status, code) = match &e {
                DeviceApprovalError::UnknownCode(_) => (StatusCode::NOT_FOUND, "notFound"),
                DeviceApprovalError::NotPending(..) => (StatusCode::CONFLICT, "notPending"),
                DeviceApprovalError::Expired(_) => (StatusCode::GONE, "expired"),
                DeviceApprovalError::UnknownUser(_) => (StatusCode::BAD_REQUEST, "unknownUser"),
                DeviceApprovalError::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internalError"),
            };
            if status.is_server_error() {
                tracing::error!(error = %e, "device approval failed");
            }
            (status, json!({ "error": { "code": code, "message": e.to_string() } }))
        }
        Err(e) => {
            tracing::error!(error = %e, "device approval failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": { "code": "internalError", "message": "internal error" } }),
            )
        }
    };
    json_body(HttpResponse::build(status), &body)
}

// ---------------------------------------------------------------------------
// Authorize
// ---------------------------------------------------------------------------

async fn authorize_get(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let params = parse_params(req.query_string().as_bytes());
    authorize(&svc, &path.into_inner(), &req, params, None)
}

/// The sign-in form posts the original parameters back with the credentials.
async fn authorize_post(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut params = parse_params(&body);
    let login = params.remove("login").unwrap_or_default();
    let password = params.remove("passwd").unwrap_or_default();
    authorize(&svc, &path.into_inner(), &req, params, Some((login, password)))
}

/// Where and how to send the authorize result.
struct Reply<'p> {
    redirect_uri: &'p str,
    mode: &'p str,
    state: Option<&'p str>,
}

impl Reply<'_> {
    fn send(&self, mut fields: Vec<(String, String)>) -> HttpResponse {
        if let Some(state) = self.state {
            fields.push(("state".into(), state.to_string()));
        }
        if self.mode == "form_post" {
            return html::form_post(self.redirect_uri, &fields);
        }
        let encoded = serde_urlencoded::to_string(&fields).unwrap_or_default();
        let location = if self.mode == "fragment" {
            format!("{}#{encoded}", self.redirect_uri.split('#').next().unwrap_or_default())
        } else {
            let sep = if self.redirect_uri.contains('?') { '&' } else { '?' };
            format!("{}{sep}{encoded}", self.redirect_uri)
        };
        HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store, no-cache"))
            .finish()
    }

    fn error(&self, stamp: &ErrorStamp, error: &str, code: u32, description: &str) -> HttpResponse {
        let description = format!(
            "AADSTS{code}: {description}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            stamp.trace_id,
            stamp.correlation_id,
            stamp.time.format("%Y-%m-%d %H:%M:%SZ")
        );
        self.send(vec![
            ("error".into(), error.into()),
            ("error_description".into(), description),
            ("error_uri".into(), format!("https://login.microsoftonline.com/error?code={code}")),
        ])
    }
}

fn authorize(
    svc: &IdentityService,
    segment: &str,
    req: &HttpRequest,
    params: Params,
    submitted: Option<(String, String)>,
) -> HttpResponse {
    let stamp = ErrorStamp::from_request(req);
    let page_error = |status: StatusCode, err: TokenError| {
        html::error(status, err.code, &err.description, &stamp.trace_id, &stamp.correlation_id)
    };

    // Until the client and its redirect URI are known good, errors are pages:
    // redirecting to an unverified URI would make an open redirector.
    let Some(scope) = svc.directory().resolve(segment) else {
        return page_error(StatusCode::BAD_REQUEST, TokenError::tenant_not_found(segment));
    };
    let Some(client_id) = param(&params, "client_id") else {
        return page_error(StatusCode::BAD_REQUEST, TokenError::missing_parameter("client_id"));
    };
    let Some((tenant, app)) = svc.directory().find_app(scope, client_id) else {
        let directory = match scope {
            TenantScope::Tenant(t) => t.display_name.clone(),
            TenantScope::Any => segment.to_string(),
        };
        return page_error(StatusCode::BAD_REQUEST, TokenError::unknown_client(client_id, &directory));
    };
    let Some(redirect_uri) = param(&params, "redirect_uri") else {
        return page_error(StatusCode::BAD_REQUEST, TokenError::missing_parameter("redirect_uri"));
    };
    if !app.accepts_redirect_uri(redirect_uri) && !is_admin_page(req, app, redirect_uri) {
        let description = format!(
            "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
            app.client_id
        );
        return html::error(
            StatusCode::BAD_REQUEST,
            50011,
            &description,
            &stamp.trace_id,
            &stamp.correlation_id,
        );
    }

    let reply = Reply {
        redirect_uri,
        mode: match param(&params, "response_mode") {
            Some(m @ ("query" | "fragment" | "form_post")) => m,
            _ => "query",
        },
        state: param(&params, "state"),
    };
    if param(&params, "response_type") != Some("code") {
        return reply.error(
            &stamp,
            "unsupported_response_type",
            70005,
            "The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: code",
        );
    }
    let Some(requested) = param(&params, "scope") else {
        return reply.error(
            &stamp,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    if let Err(e) = scopes::delegated_scope(requested, app, &own_hosts(svc, req)) {
        return reply.error(&stamp, e.error, e.code, &e.description);
    }

    // PKCE: `plain` is assumed when the method is omitted (RFC 7636).
    let challenge = param(&params, "code_challenge");
    let method = challenge.map(|_| param(&params, "code_challenge_method").unwrap_or("plain"));
    if let (Some(challenge), Some(method)) = (challenge, method) {
        if method != "S256" && method != "plain" {
            return reply.error(&stamp, "invalid_request", 50149, "Invalid Code_Challenge_method parameter.");
        }
        let size_ok =
            if method == "S256" { challenge.len() == 43 } else { (43..=128).contains(&challenge.len()) };
        if !size_ok {
            return reply.error(
                &stamp,
                "invalid_request",
                501491,
                "Invalid size of Code_Challenge parameter.",
            );
        }
    }

    // Who signs in: the submitted form, then login_hint, then the configured user.
    let login_hint = param(&params, "login_hint");
    let user = match &submitted {
        Some((login, password)) => match tenant.user_by_upn(login).filter(|u| &u.password == password) {
            Some(user) => user,
            None => {
                return html::sign_in(
                    req.path(),
                    &form_fields(&params),
                    &app.display_name,
                    login,
                    Some(
                        "Your account or password is incorrect. If you don't remember your password, reset it now.",
                    ),
                );
            }
        },
        None => {
            let hinted = login_hint
                .filter(|_| svc.config().login_hint_auto_approve)
                .and_then(|upn| tenant.user_by_upn(upn));
            let configured =
                svc.config().auto_approve_user.as_deref().and_then(|upn| tenant.user_by_upn(upn));
            match hinted.or(configured) {
                Some(user) => user,
                None if param(&params, "prompt") == Some("none") => {
                    return reply.error(
                        &stamp,
                        "login_required",
                        50058,
                        "A silent sign-in request was sent but no user is signed in.",
                    );
                }
                None => {
                    return html::sign_in(
                        req.path(),
                        &form_fields(&params),
                        &app.display_name,
                        login_hint.unwrap_or_default(),
                        None,
                    );
                }
            }
        }
    };

    let now = now();
    let code = AuthCode {
        aud: tokens::artifact_audience(ArtifactKind::AuthorizationCode),
        tid: tenant.id.clone(),
        cid: app.client_id.clone(),
        oid: user.object_id.clone(),
        scope: requested.to_string(),
        redirect_uri: redirect_uri.to_string(),
        code_challenge: challenge.map(String::from),
        code_challenge_method: method.map(String::from),
        nonce: param(&params, "nonce").map(String::from),
        iat: now,
        // Entra's codes live about ten minutes.
        exp: now + 600,
        jti: tokens::new_jti(),
    };
    match tokens::seal(&svc.inner.key, ArtifactKind::AuthorizationCode, &code) {
        Ok(code) => {
            let mut fields = vec![("code".to_string(), code)];
            if param(&params, "client_info") == Some("1") {
                fields.push(("client_info".into(), tokens::client_info(user, tenant)));
            }
            fields.push(("session_state".into(), uuid::Uuid::new_v4().to_string()));
            reply.send(fields)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot sign authorization code");
            reply.error(&stamp, "server_error", 50000, "There was an error issuing an authorization code.")
        }
    }
}

/// Whether `uri` is auditgraph's own admin page (`/auditlogs`) on the origin
/// this request reached, for a public client. Loopback origins are accepted
/// anyway; this lets the page sign in when auditgraph is reached by another
/// name (`--http 0.0.0.0:5080` and a LAN address, a container's host name).
/// Only that one path on the very origin the browser is talking to qualifies,
/// so the code is still delivered to auditgraph itself, never elsewhere.
fn is_admin_page(req: &HttpRequest, app: &AppRegistration, uri: &str) -> bool {
    let info = req.connection_info();
    app.public_client && uri == format!("{}://{}/auditlogs", info.scheme(), info.host())
}

/// The authorize parameters as hidden form fields, sorted for stable pages.
fn form_fields(params: &Params) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    fields.sort();
    fields
}

// ---------------------------------------------------------------------------
// Logout and userinfo
// ---------------------------------------------------------------------------

/// There is no sign-in session to end: redirect back, or say goodbye.
async fn logout(req: HttpRequest, body: Option<web::Bytes>) -> HttpResponse {
    let mut params = parse_params(req.query_string().as_bytes());
    if let Some(body) = body {
        params.extend(parse_params(&body));
    }
    match param(&params, "post_logout_redirect_uri") {
        Some(uri) if uri.starts_with("http://") || uri.starts_with("https://") => {
            let location = match param(&params, "state") {
                Some(state) => {
                    let sep = if uri.contains('?') { '&' } else { '?' };
                    format!(
                        "{uri}{sep}{}",
                        serde_urlencoded::to_string([("state", state)]).unwrap_or_default()
                    )
                }
                None => uri.to_string(),
            };
            HttpResponse::Found().insert_header((header::LOCATION, location)).finish()
        }
        _ => html::signed_out(),
    }
}

/// Home realm discovery. MSAL asks before ROPC; every known user is
/// "Managed" (password checked here, no federation). Note that MSAL Python
/// builds this URL from the authority's host name without its port.
async fn user_realm(svc: web::Data<IdentityService>, path: web::Path<(String, String)>) -> HttpResponse {
    let (_, username) = path.into_inner();
    let domain = username.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
    let tenant =
        svc.directory().tenants().iter().find(|t| t.domain == domain || t.user_by_upn(&username).is_some());
    let body = match tenant {
        Some(t) => json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": t.domain,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        }),
        None => {
            json!({ "ver": "1.0", "account_type": "Unknown", "cloud_instance_name": "microsoftonline.com" })
        }
    };
    json_body(HttpResponse::Ok(), &body)
}

/// OIDC userinfo for a delegated Graph token (Graph serves this at
/// `/oidc/userinfo`; the discovery document points here).
async fn userinfo(svc: web::Data<IdentityService>, req: HttpRequest) -> HttpResponse {
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match svc.verifier().verify(authorization) {
        Ok(p) => p,
        Err(e) => {
            let mut builder = HttpResponse::build(e.status());
            if let Some(challenge) = e.www_authenticate() {
                builder.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            return json_body(builder, &json!({ "error": { "code": e.code(), "message": e.message() } }));
        }
    };
    let user = svc.directory().tenant(&principal.tenant_id).and_then(|t| t.user_by_id(&principal.object_id));
    let Some(user) = user.filter(|_| !principal.is_application()) else {
        return json_body(
            HttpResponse::Forbidden(),
            &json!({ "error": { "code": "Forbidden", "message": "userinfo needs a delegated token" } }),
        );
    };
    json_body(
        HttpResponse::Ok(),
        &json!({
            "sub": principal.object_id,
            "name": user.display_name,
            "family_name": user.surname,
            "given_name": user.given_name,
            "email": user.upn,
        }),
    )
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
