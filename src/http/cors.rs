//! CORS, as Graph answers browser apps: any origin may call the Graph, GraphQL
//! and identity endpoints (or only the `--cors-origin` allow-list), preflights
//! are answered before authentication, throttling or faults, and the headers
//! clients read are exposed. Never for the emulator's `/_auditgraph/` routes,
//! which a page on another origin must not drive.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

/// Headers a browser script may read from a response.
const EXPOSED: &str = "request-id, client-request-id, Location, Retry-After, OData-Version, WWW-Authenticate";
/// How long a browser may cache a preflight (seconds).
const MAX_AGE: &str = "3600";
const METHODS: &str = "GET, POST, PATCH, PUT, DELETE, OPTIONS";

/// Which origins may call from a browser.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    /// `None`: any origin.
    allowed: Option<Vec<String>>,
}

impl CorsPolicy {
    /// From `--cors-origin` values: `*` (the default) allows any origin.
    pub fn new(origins: &[String]) -> CorsPolicy {
        let any = origins.is_empty() || origins.iter().any(|o| o.trim() == "*");
        let allowed =
            (!any).then(|| origins.iter().map(|o| o.trim().trim_end_matches('/').to_string()).collect());
        CorsPolicy { allowed }
    }

    fn allows(&self, origin: &str) -> bool {
        self.allowed.as_ref().is_none_or(|list| list.iter().any(|o| o.eq_ignore_ascii_case(origin)))
    }
}

/// The middleware: answers preflights and marks responses to allowed origins.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let policy = req.app_data::<web::Data<CorsPolicy>>().cloned();
    let admin = {
        let path = req.match_info().as_str();
        path == "/_auditgraph" || path.starts_with("/_auditgraph/")
    };
    let (Some(origin), Some(policy), false) = (origin, policy, admin) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if !policy.allows(&origin) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        let requested = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
        let mut response = HttpResponse::build(StatusCode::NO_CONTENT);
        response
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, METHODS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE));
        if let Some(requested) = requested {
            response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested));
        }
        let mut response = req.into_response(response.finish()).map_into_right_body();
        allow(response.headers_mut(), &origin);
        return Ok(response);
    }
    let mut response = next.call(req).await?.map_into_left_body();
    allow(response.headers_mut(), &origin);
    response.headers_mut().insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
    Ok(response)
}

fn allow(headers: &mut header::HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        // The answer depends on the Origin: shared caches must key on it.
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}
