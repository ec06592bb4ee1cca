//! The identity platform's controls. Key rotation:
//! `POST /_auditgraph/identity/keys/rotate` answers `{"kid": new, "kids": [all]}`.
//! Device-code approval, the admin's side of the device code flow:
//! `POST /_auditgraph/identity/devicecodes/{user_code}/approve` (body
//! `{"user": "<upn>"}`, JSON or form) and `…/decline`. A test approves the code
//! its client is polling for instead of typing it into `/devicelogin`.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::auth::TokenVerifier;
use crate::error::ApiError;
use crate::identity::{DeviceApprovalError, IdentityService};
use crate::state::AppState;

/// Rotates the signing key (every instance of a shared database follows).
pub(super) async fn rotate_keys(
    svc: web::Data<IdentityService>,
    verifier: web::Data<TokenVerifier>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let kids = crate::identity::rotation::rotate(&svc, &verifier, &state.store).await?;
    Ok(HttpResponse::Ok().json(json!({ "kid": kids[0], "kids": kids })))
}

/// The admin call that approves a device code: body `{"user": "<upn>"}` (JSON
/// or form); without a user, the auto-approve user or the tenant's first user.
pub(super) async fn approve_device(
    svc: web::Data<IdentityService>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let user = requested_user(&body);
    settle_device(svc, path.into_inner(), user, true).await
}

pub(super) async fn decline_device(svc: web::Data<IdentityService>, path: web::Path<String>) -> HttpResponse {
    settle_device(svc, path.into_inner(), None, false).await
}

fn requested_user(body: &[u8]) -> Option<String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        return map.get("user").or_else(|| map.get("upn")).and_then(|v| v.as_str()).map(String::from);
    }
    let params: HashMap<String, String> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map(|pairs| pairs.into_iter().collect())
        .unwrap_or_default();
    let param = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    param("user").or_else(|| param("upn")).map(String::from)
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
                "userCode": IdentityService::normalise_user_code(&user_code).unwrap_or(user_code),
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
    HttpResponse::build(status).content_type("application/json; charset=utf-8").body(body.to_string())
}
