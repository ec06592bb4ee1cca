//! The Graph REST surface on `/v1.0` and `/beta`: routing, envelopes, links. Handlers
//! are thin: parse the request, ask the store or the recorder, shape the answer.

mod events;
mod forwarded;
pub mod headers;
mod path;

pub use forwarded::ProxyRange;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::graph::ApiVersion;
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
    let (version, segments) = split(req.path()).ok()?;
    match path::resolve(&segments).ok()? {
        path::Target::Events => Some(events::empty_page(req, state, version)),
        _ => None,
    }
}

/// The client's address (without the port), as `actor.ipAddress` records it: the
/// TCP peer, or what the `--trusted-proxy` proxies in front of it forwarded.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let trusted =
        req.app_data::<web::Data<AppState>>().map(|s| s.trusted_proxies.as_slice()).unwrap_or_default();
    forwarded::client_ip(req, trusted).map(|ip| ip.to_string())
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
