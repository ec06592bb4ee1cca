//! The ARM door: Intune's diagnostic settings at
//! `/providers/microsoft.intune/diagnosticSettings[/{name}]?api-version=2017-04-01-preview`
//! (azure-monitor.md §1, live-routing.md §1.1), authorised by tokens for the ARM
//! audience and Azure RBAC actions, answering in ARM's error shape
//! `{"error":{"code","message"}}`. The settings themselves are `routing`'s.

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::auth::{AuthError, Principal, Resource};
use crate::http::{BodyError, Caller, read_body};
use crate::routing::settings::{self, API_VERSION, CATEGORIES, MAX_SETTINGS};
use crate::routing::{Router, RoutingError};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/providers/{tail:.*}", web::route().to(dispatch));
}

/// The one error of this door, answered in ARM's shape.
#[derive(Debug, thiserror::Error)]
enum ArmError {
    #[error("{0}")]
    Refused(RoutingError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<RoutingError> for ArmError {
    fn from(e: RoutingError) -> Self {
        ArmError::Refused(e)
    }
}

impl actix_web::ResponseError for ArmError {
    fn status_code(&self) -> StatusCode {
        match self {
            ArmError::Refused(e) => StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            ArmError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message) = match self {
            ArmError::Refused(e) => (e.code, e.message.clone()),
            ArmError::Internal(cause) => {
                tracing::error!(error = ?cause, "ARM request failed");
                ("InternalServerError", "The server encountered an internal error; see its log.".to_string())
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            response.insert_header((
                "www-authenticate",
                "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\"",
            ));
        }
        response.json(json!({"error": {"code": code, "message": message}}))
    }
}

fn refused(status: u16, code: &'static str, message: String) -> ArmError {
    ArmError::Refused(RoutingError { status, code, message })
}

/// What the path names, below `/providers/`.
enum Target {
    Settings,
    Setting(String),
    Categories,
}

fn target(tail: &str) -> Option<Target> {
    let segments: Vec<String> = tail
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let provider = segments.first()?;
    if !provider.eq_ignore_ascii_case("microsoft.intune") {
        return None;
    }
    match segments.get(1..)? {
        [set] if set.eq_ignore_ascii_case("diagnosticSettings") => Some(Target::Settings),
        [set, name] if set.eq_ignore_ascii_case("diagnosticSettings") => Some(Target::Setting(name.clone())),
        [set] if set.eq_ignore_ascii_case("diagnosticSettingsCategories") => Some(Target::Categories),
        _ => None,
    }
}

/// ARM's 401s and 403 (`AuthorizationFailed`, naming the action and scope).
fn authorize(req: &HttpRequest, state: &AppState, action: &str, scope: &str) -> Result<(), ArmError> {
    let principal = match &state.verifier {
        None => Principal::auth_disabled(),
        Some(verifier) => verifier.verify_for(Caller::of(req).authorization(), Resource::Arm).map_err(|e| match e {
            AuthError::MissingToken => refused(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.".into()),
            AuthError::InvalidToken(reason) if reason == "wrong audience" => refused(
                401,
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.".into(),
            ),
            _ => refused(401, "InvalidAuthenticationToken", "The access token is invalid.".into()),
        })?,
    };
    if !principal.may_azure(action) {
        return Err(refused(
            403,
            "AuthorizationFailed",
            format!(
                "The client '{id}' with object id '{id}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                id = principal.object_id
            ),
        ));
    }
    Ok(())
}

fn check_api_version(req: &HttpRequest) -> Result<(), ArmError> {
    let version = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v);
    match version.as_deref() {
        None | Some("") => Err(refused(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.".into(),
        )),
        Some(API_VERSION) => Ok(()),
        Some(other) => Err(refused(
            400,
            "InvalidApiVersionParameter",
            format!("The api-version '{other}' is invalid. The supported versions are '{API_VERSION}'."),
        )),
    }
}

async fn dispatch(
    req: HttpRequest,
    state: web::Data<AppState>,
    router: web::Data<std::sync::Arc<Router>>,
    body: web::Payload,
) -> Result<HttpResponse, ArmError> {
    let tail = req.match_info().get("tail").unwrap_or_default().to_string();
    let Some(target) = target(&tail) else {
        return Err(refused(
            404,
            "ResourceNotFound",
            format!("The resource '/providers/{tail}' was not found."),
        ));
    };
    let scope = format!("/providers/{tail}");
    let action = |verb: &str| format!("Microsoft.Intune/diagnosticsettings/{verb}");
    match (target, req.method().clone()) {
        (Target::Categories, Method::GET) => {
            authorize(&req, &state, &action("read"), &scope)?;
            check_api_version(&req)?;
            let value: Vec<Value> = CATEGORIES
                .iter()
                .map(|c| json!({"id": format!("/providers/microsoft.intune/diagnosticSettingsCategories/{c}"), "type": "microsoft.intune/diagnosticSettingsCategories", "name": c, "properties": {"categoryType": "Logs"}}))
                .collect();
            Ok(HttpResponse::Ok().json(json!({ "value": value })))
        }
        (Target::Settings, Method::GET) => {
            authorize(&req, &state, &action("read"), &scope)?;
            check_api_version(&req)?;
            let value: Vec<Value> =
                state.store.settings().await?.iter().map(|(name, p)| settings::resource(name, p)).collect();
            Ok(HttpResponse::Ok().json(json!({ "value": value })))
        }
        (Target::Setting(name), Method::GET) => {
            authorize(&req, &state, &action("read"), &scope)?;
            check_api_version(&req)?;
            match state.store.setting(&name).await? {
                Some((name, p)) => Ok(HttpResponse::Ok().json(settings::resource(&name, &p))),
                None => Err(not_found(&name)),
            }
        }
        (Target::Setting(name), Method::PUT) => {
            authorize(&req, &state, &action("write"), &scope)?;
            check_api_version(&req)?;
            settings::check_name(&name)?;
            let bytes = read_body(body, state.max_body_bytes).await.map_err(|e| match e {
                BodyError::TooLarge(limit) => refused(
                    413,
                    "RequestEntityTooLarge",
                    format!("The request content is larger than {limit} bytes."),
                ),
                BodyError::Unreadable => {
                    refused(400, "InvalidRequestContent", "The request content could not be read.".into())
                }
            })?;
            let body = crate::domain::graph::parse_json_body(&bytes).map_err(|e| {
                refused(
                    400,
                    "InvalidRequestContent",
                    e.duplicate_message().unwrap_or_else(|| {
                        "The request content was invalid and could not be deserialized.".into()
                    }),
                )
            })?;
            let (properties, destinations) = settings::check(&body, router.accounts())?;
            let others = state.store.settings().await?;
            if let Some(reused) = settings::reused_sink(&name, &properties, &others) {
                return Err(reused.into());
            }
            router.prepare(&destinations).await?;
            let put = state
                .store
                .put_setting(&name, &properties, &destinations, |others| {
                    if others >= MAX_SETTINGS {
                        Err(format!("The limit of {MAX_SETTINGS} diagnostic settings for this resource is reached; delete one first."))
                    } else {
                        Ok(())
                    }
                })
                .await?;
            put.map_err(|message| refused(400, "BadRequest", message))?;
            router.nudge();
            let (name, stored) = state.store.setting(&name).await?.unwrap_or((name, properties));
            Ok(HttpResponse::Ok().json(settings::resource(&name, &stored)))
        }
        (Target::Setting(name), Method::DELETE) => {
            authorize(&req, &state, &action("delete"), &scope)?;
            check_api_version(&req)?;
            if state.store.delete_setting(&name).await? {
                Ok(HttpResponse::Ok().finish())
            } else {
                Ok(HttpResponse::NoContent().finish())
            }
        }
        (_, method) => Err(refused(
            405,
            "MethodNotAllowed",
            format!("The requested resource does not support http method '{method}'."),
        )),
    }
}

fn not_found(name: &str) -> ArmError {
    refused(404, "ResourceNotFound", format!("The diagnostic setting '{name}' doesn't exist."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_case_insensitively() {
        assert!(matches!(target("microsoft.intune/diagnosticSettings"), Some(Target::Settings)));
        assert!(matches!(target("Microsoft.Intune/DiagnosticSettings/"), Some(Target::Settings)));
        assert!(
            matches!(target("microsoft.intune/diagnosticSettings/to%20siem"), Some(Target::Setting(n)) if n == "to siem")
        );
        assert!(matches!(target("microsoft.intune/diagnosticSettingsCategories"), Some(Target::Categories)));
        assert!(target("microsoft.insights/diagnosticSettings").is_none());
        assert!(target("microsoft.intune/diagnosticSettings/a/b").is_none());
    }
}
