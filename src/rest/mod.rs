//! The Graph REST surface on `/v1.0` and `/beta`: routing, envelopes, links. Handlers
//! are thin: parse the request, ask the store, the recorder or the workloads, shape
//! the answer. `events` serves auditEvents; `workloads` the Intune entity sets.

mod events;
mod path;
mod workloads;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::graph::ApiVersion;
use crate::error::ApiError;
use crate::state::AppState;

/// The Graph routes as clients spell them, registered before every other door:
/// a static prefix each, so a Graph request is routed without running a pattern
/// (the patterns of the doors before them were ~7% of a page's CPU).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
    for version in ["/v1.0", "/beta"] {
        cfg.service(
            web::scope(version)
                // Throttling and injected faults stand in front of every Graph route.
                .wrap(actix_web::middleware::from_fn(crate::emulator::graph_controls))
                .default_service(web::to(dispatch)),
        );
    }
}

/// Any other spelling of a version Graph accepts (`/V1.0/…`, `/%62eta/…`), after
/// every other door, whose `/{tenant}/…` patterns it would otherwise take.
pub fn configure_other_spellings(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/{version}/{tail:.*}")
            .wrap(actix_web::middleware::from_fn(crate::emulator::graph_controls))
            .route(web::route().to(dispatch)),
    );
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
    Ok(HttpResponse::Ok().content_type("application/json").body(r#"{"status":"ok"}"#))
}

async fn dispatch(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (version, segments) = split(req.path())?;
    let decoded = path::decoded(&segments)?;
    if let Some(set) = workloads::find(version, &decoded)? {
        return workloads::handle(&req, &state, version, set, &decoded[2..], body).await;
    }
    let target = path::resolve(&segments)?;
    events::handle(&req, &state, version, target, body).await
}

/// The version and the segments after it. Empty segments are ignored, as Graph
/// ignores them: kiota-python's base URL ends in `/`, so the Python SDK asks for
/// `/v1.0//deviceManagement/auditEvents`.
fn split(path: &str) -> Result<(ApiVersion, Vec<&str>), ApiError> {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let version = path::version(segments.next().unwrap_or_default())?;
    Ok((version, segments.collect()))
}
