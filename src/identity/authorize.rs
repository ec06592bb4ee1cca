//! Authorize and sign-in: `/oauth2/v2.0/authorize` (authorization code with
//! PKCE, the sign-in form it shows), logout, and OIDC userinfo.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::errors::{ErrorStamp, TokenError, json_body};
use super::scopes::{self};
use super::tokens::{self, ArtifactKind, AuthCode};
use super::{IdentityService, html};
use crate::auth::TokenVerifier;
use crate::directory::{AppRegistration, TenantScope};
use crate::http::Caller;

use super::routes::{Params, now, own_hosts, param, parse_params};

pub(super) async fn authorize_get(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let params = parse_params(req.query_string().as_bytes());
    authorize(&svc, &path.into_inner(), &req, params, None)
}

/// The sign-in form posts the original parameters back with the credentials.
pub(super) async fn authorize_post(
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
pub(super) struct Reply<'p> {
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

pub(super) fn authorize(
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
    match tokens::seal(&svc.inner.keys.current(), ArtifactKind::AuthorizationCode, &code) {
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
pub(super) fn is_admin_page(req: &HttpRequest, app: &AppRegistration, uri: &str) -> bool {
    let info = req.connection_info();
    app.public_client && uri == format!("{}://{}/auditlogs", info.scheme(), info.host())
}

/// The authorize parameters as hidden form fields, sorted for stable pages.
pub(super) fn form_fields(params: &Params) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    fields.sort();
    fields
}

/// There is no sign-in session to end: redirect back, or say goodbye.
pub(super) async fn logout(req: HttpRequest, body: Option<web::Bytes>) -> HttpResponse {
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

/// OIDC userinfo for a delegated Graph token (Graph serves this at
/// `/oidc/userinfo`; the discovery document points here).
pub(super) async fn userinfo(
    svc: web::Data<IdentityService>,
    verifier: web::Data<TokenVerifier>,
    caller: Caller,
) -> HttpResponse {
    let principal = match verifier.verify(caller.authorization()) {
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
