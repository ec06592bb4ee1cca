//! Discovery: the OpenID configuration documents (v1 and v2), the signing keys
//! (JWKS), instance discovery, and home realm discovery (MSAL asks before ROPC).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::IdentityService;
use super::errors::{ErrorStamp, TokenError, json_body};
use crate::directory::TenantScope;

use super::routes::{cached_json, origin_authority, param, parse_params};

/// For a known tenant, discovery names it by id; for the aliases it keeps the
/// alias in the endpoints and puts `{tenantid}` in the issuer, as Entra does.
pub(super) fn discovery_segments(svc: &IdentityService, segment: &str) -> Option<(String, String)> {
    match svc.directory().resolve(segment)? {
        TenantScope::Tenant(t) => Some((t.id.clone(), t.id.clone())),
        TenantScope::Any => Some((segment.to_ascii_lowercase(), "{tenantid}".to_string())),
    }
}

pub(super) async fn openid_configuration_v2(
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

pub(super) async fn openid_configuration_v1(
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

pub(super) async fn keys_v2(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let segment = path.into_inner();
    let Some((_, issuer_tid)) = discovery_segments(&svc, &segment) else {
        return TokenError::invalid_tenant(&segment).response(&ErrorStamp::from_request(&req));
    };
    let issuer = format!("{}/{issuer_tid}/v2.0", svc.origin());
    let keys: Vec<_> = svc.inner.keys.keys().iter().map(|k| k.jwk(Some(&issuer))).collect();
    cached_json(&json!({ "keys": keys }))
}

pub(super) async fn keys_v1(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let segment = path.into_inner();
    if discovery_segments(&svc, &segment).is_none() {
        return TokenError::invalid_tenant(&segment).response(&ErrorStamp::from_request(&req));
    }
    let keys: Vec<_> = svc.inner.keys.keys().iter().map(|k| k.jwk(None)).collect();
    cached_json(&json!({ "keys": keys }))
}

/// Instance discovery [OBS shape]. Only clients that did not disable it call
/// this; MSAL Python calls Microsoft's host instead unless told otherwise.
pub(super) async fn instance_discovery(svc: web::Data<IdentityService>, req: HttpRequest) -> HttpResponse {
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

/// Home realm discovery. MSAL asks before ROPC; every known user is
/// "Managed" (password checked here, no federation). Note that MSAL Python
/// builds this URL from the authority's host name without its port.
pub(super) async fn user_realm(
    svc: web::Data<IdentityService>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
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
