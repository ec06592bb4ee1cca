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
//! | `GET /{tenant}/userrealm/{username}` | home realm discovery (MSAL's ROPC asks first) |
//! | `GET /oidc/userinfo` | OIDC userinfo for a Graph token |
//!
//! `{tenant}` is a tenant id, its domain, `common`, `organizations` or
//! `consumers`. State comes from `web::Data<IdentityService>`. Handlers never
//! panic on input: every failure becomes the identity platform's error JSON
//! (token endpoints), a redirect with `error=` (authorize, once the redirect
//! URI is trusted) or a small HTML page.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::IdentityService;
use super::authorize::{authorize_get, authorize_post, logout, userinfo};
use super::device_code::{devicecode, devicelogin_get, devicelogin_post};
use super::discovery::{
    instance_discovery, keys_v1, keys_v2, openid_configuration_v1, openid_configuration_v2, user_realm,
};
use super::errors::{TokenError, json_body};
use super::scopes::OwnHosts;
use super::token::{token_v1, token_v2, token_wrong_method};

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
        .route("/{tenant}/userrealm/{username}", web::get().to(user_realm))
        .route("/oidc/userinfo", web::get().to(userinfo));
}

pub(super) type Params = HashMap<String, String>;

/// Parses `application/x-www-form-urlencoded` text; the last value of a
/// repeated key wins. Unparsable input yields no parameters, which then
/// surfaces as "missing parameter", as in Entra.
pub(super) fn parse_params(bytes: &[u8]) -> Params {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .map(|pairs| pairs.into_iter().collect())
        .unwrap_or_default()
}

/// A non-empty, trimmed parameter.
pub(super) fn param<'p>(params: &'p Params, name: &str) -> Option<&'p str> {
    params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

pub(super) fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, TokenError> {
    param(params, name).ok_or_else(|| TokenError::missing_parameter(name))
}

pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(super) fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// `host[:port]` of the origin.
pub(super) fn origin_authority(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, rest)| rest)
}

pub(super) fn own_hosts(svc: &IdentityService, req: &HttpRequest) -> OwnHosts {
    svc.inner.own_hosts.with_request_host(Some(req.connection_info().host()))
}

/// Headers of Entra's discovery and key documents [OBS].
pub(super) fn cached_json(value: &Value) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    builder
        .insert_header((header::CACHE_CONTROL, "max-age=86400, private"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    json_body(builder, value)
}
