//! The Graph REST surface on `/v1.0` and `/beta`: routing, envelopes, links. Handlers
//! are thin: parse the request, ask the store or the recorder, shape the answer.

mod events;
pub mod headers;
mod path;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz)).service(
        web::resource("/{version}/{tail:.*}")
            // Throttling and injected faults stand in front of every Graph route.
            .wrap(actix_web::middleware::from_fn(crate::emulator::graph_controls))
            .route(web::route().to(dispatch)),
    );
}

/// What the `empty-page` fault answers to a collection GET: no events, and a
/// nextLink to the very same request. `None` for any other request.
pub fn empty_page(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    if req.method() != actix_web::http::Method::GET {
        return None;
    }
    let mut segments: Vec<&str> = req.path().trim_start_matches('/').split('/').collect();
    let version = path::version(segments.remove(0)).ok()?;
    if segments.last() == Some(&"") {
        segments.pop();
    }
    match path::resolve(&segments).ok()? {
        path::Target::Events => Some(events::empty_page(req, state, version)),
        _ => None,
    }
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
