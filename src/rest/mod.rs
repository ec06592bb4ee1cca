//! The Graph REST surface on `/v1.0` and `/beta`: routing, envelopes, links. Handlers
//! are thin: parse the request, ask the store or the recorder, shape the answer.

mod events;
pub mod headers;
mod path;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/{version}/{tail:.*}", web::route().to(dispatch));
}

/// The client's address (without the port), as `actor.ipAddress` records it.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.connection_info().realip_remote_addr().map(|addr| {
        addr.parse::<std::net::SocketAddr>().map(|s| s.ip().to_string()).unwrap_or_else(|_| addr.to_string())
    })
}

/// Anything no route matched, in Graph's words.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let first = req.path().trim_start_matches('/').split('/').next().unwrap_or_default();
    Err(match path::version(first) {
        Ok(_) => ApiError::UnknownSegment(String::new()),
        Err(e) => e,
    })
}

async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.ping().await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#))
}

async fn dispatch(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = req.path().trim_start_matches('/');
    let mut segments: Vec<&str> = raw.split('/').collect();
    let version = path::version(segments.remove(0))?;
    if segments.last() == Some(&"") {
        segments.pop();
    }
    let target = path::resolve(&segments)?;
    events::handle(&req, &state, version, target, body).await
}
