//! The routing controls under `/_auditgraph/routing`: each route's state (lag,
//! last error, delivered and pending counts), "flush now", and the delivery
//! faults (live-routing.md §1.3).

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::admin::{body, ok};
use crate::error::ApiError;
use crate::routing::Router;
use crate::routing::faults::{FaultRules, Faults};

pub fn configure(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .route("/routing", web::get().to(status))
        .route("/routing/flush", web::post().to(flush))
        .route("/routing/faults", web::get().to(faults))
        .route("/routing/faults", web::put().to(replace_faults))
        .route("/routing/faults", web::delete().to(clear_faults))
}

async fn status(router: web::Data<Arc<Router>>) -> Result<HttpResponse, ApiError> {
    Ok(ok(json!({
        "windowSeconds": router.window().as_secs_f64(),
        "routes": router.status().await?,
        "eventHubs": router.hubs().describe().await?,
    })))
}

/// Delivers everything pending, then answers with the routes' state; a
/// destination that fails is a 502 naming it (its events stay pending).
async fn flush(router: web::Data<Arc<Router>>) -> Result<HttpResponse, ApiError> {
    let delivered = router.flush().await;
    let routes = router.status().await?;
    match delivered {
        Ok(()) => Ok(ok(json!({ "routes": routes }))),
        Err(e) => Ok(HttpResponse::BadGateway().content_type("application/json").body(
            json!({"error": {"code": "DeliveryFailed", "message": format!("{e:#}")}, "routes": routes})
                .to_string(),
        )),
    }
}

async fn faults(router: web::Data<Arc<Router>>) -> HttpResponse {
    ok(json!(router.faults.lock().expect("faults").rules))
}

async fn replace_faults(router: web::Data<Arc<Router>>, bytes: web::Bytes) -> Result<HttpResponse, ApiError> {
    let rules: FaultRules = body(&bytes)?;
    rules.check().map_err(ApiError::bad_request)?;
    *router.faults.lock().expect("faults") = Faults::new(rules.clone());
    Ok(ok(json!(rules)))
}

async fn clear_faults(router: web::Data<Arc<Router>>) -> HttpResponse {
    *router.faults.lock().expect("faults") = Faults::default();
    HttpResponse::NoContent().finish()
}
