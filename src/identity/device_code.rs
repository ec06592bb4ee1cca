//! The device code flow's endpoints: `/oauth2/v2.0/devicecode` starts it, and
//! `/devicelogin` is the page where a user enters the code and signs in. The
//! emulator's admin API approves or declines codes too (`emulator::device_codes`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::device::{DeviceEntry, DeviceStatus, DeviceStore};
use super::errors::{ErrorStamp, TokenError, json_body, no_store_headers};
use super::scopes::{self};
use super::tokens::{self, ArtifactKind, DeviceCode};
use super::{DeviceApprovalError, IdentityService, html};
use crate::directory::TenantScope;

use super::routes::{Params, now, own_hosts, param, parse_params, required, secs};
use super::token::blocking_failed;

pub(super) async fn devicecode(
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

pub(super) async fn start_device_flow(
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
    let device_code =
        tokens::seal(&svc.inner.keys.current(), ArtifactKind::DeviceCode, &claims).map_err(|e| {
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

pub(super) async fn devicelogin_get(req: HttpRequest) -> HttpResponse {
    let params = parse_params(req.query_string().as_bytes());
    html::device_login(None, param(&params, "otc").unwrap_or_default())
}

pub(super) async fn devicelogin_post(svc: web::Data<IdentityService>, body: web::Bytes) -> HttpResponse {
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
