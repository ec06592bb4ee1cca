//! The emulator controls that SDK integration tests need:
//!
//! - the admin API under `/_auditgraph/` ([`admin`]): reset and re-seed, the
//!   clock, the request journal, throttling and fault settings, health; live
//!   routing's state, flush and delivery faults (`routing`);
//! - Intune's throttling ([`throttle`]) and fault injection ([`faults`]), one
//!   middleware in front of the Graph routes ([`graph_controls`]);
//! - the request journal ([`journal`]), one middleware around everything but
//!   the admin API ([`record`]).
//!
//! The admin API is reachable from loopback peers, and from elsewhere only with
//! the `--admin-token` (`Authorization: Bearer <admin token>`); a Graph token
//! never opens it ([`admin::gate`]). The settings are shared by the instances of
//! a shared database ([`cluster`]); the counters and the journal are per process.

pub mod admin;
mod cluster;
pub mod faults;
mod identity;
pub mod journal;
mod limiter;
mod routing;
pub mod throttle;

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use base64::Engine as _;

use crate::clock::Clock;
use crate::config::{EmulatorArgs, Switch};
use crate::error::ApiError;
use faults::{Fault, FaultSet, Faults};
use journal::{Entry, Journal};
use throttle::{Caller, Limits, Throttle, ThrottleConfig};

pub use admin::{configure, gate};
pub use cluster::spawn_sync;

/// The controls' state, shared by the middlewares and the admin API.
pub struct Emulator {
    pub throttle: Throttle,
    pub faults: Faults,
    pub journal: Journal,
    admin_token: Option<String>,
    /// What `POST /_auditgraph/reset` restores.
    initial_throttle: ThrottleConfig,
    initial_faults: FaultSet,
    /// Resets so far, and the version of the shared controls applied (`cluster`).
    resets: std::sync::atomic::AtomicU64,
    applied: std::sync::atomic::AtomicI64,
    /// When the latest reset was made (wall clock), wherever it was made.
    reset_at: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

impl Emulator {
    pub fn new(clock: Clock, args: &EmulatorArgs, store: &crate::store::Store) -> anyhow::Result<Emulator> {
        let throttle = ThrottleConfig {
            enabled: args.throttling == Switch::On,
            scale: args.throttle_scale,
            window_seconds: args.throttle_window_secs,
            format: args.throttle_format,
            retry_after: args.throttle_retry_after,
            enforce_retry_after: args.throttle_enforce_retry_after,
            limits: Limits::INTUNE,
        };
        let initial_faults = match &args.faults {
            None => FaultSet::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read the fault rules {}: {e}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("the fault rules {} are not valid: {e}", path.display()))?
            }
        };
        let faults = Faults::new(initial_faults.clone())
            .map_err(|e| anyhow::anyhow!("the fault rules are not valid: {e}"))?;
        Ok(Emulator {
            throttle: Throttle::new(
                clock,
                throttle.clone(),
                limiter::SharedLimiter::configure(args.redis_url.as_deref(), store)?,
            ),
            faults,
            journal: Journal::new(args.journal_size),
            admin_token: args.admin_token.clone().filter(|t| !t.is_empty()),
            initial_throttle: throttle,
            initial_faults,
            resets: Default::default(),
            applied: Default::default(),
            reset_at: Default::default(),
        })
    }

    /// Back to the start-up settings, with empty counters and journal.
    pub fn reset(&self) {
        self.throttle.replace(self.initial_throttle.clone());
        // Valid: it was accepted at start-up.
        let _ = self.faults.replace(self.initial_faults.clone());
        self.journal.clear();
        *self.reset_at.lock().expect("reset time") = Some(chrono::Utc::now());
        self.resets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What the emulator did to a request instead of serving it plainly; the
/// journal reads it from the request's extensions.
#[derive(Debug, Clone, Default)]
struct Injected(Vec<String>);

fn mark(req: &ServiceRequest, labels: &[String]) {
    let mut extensions = req.extensions_mut();
    match extensions.get_mut::<Injected>() {
        Some(Injected(all)) => all.extend_from_slice(labels),
        None => {
            extensions.insert(Injected(labels.to_vec()));
        }
    }
}

/// The caller's tenant and app, read from the bearer token *without* verifying
/// it: only to pick throttling counters (the handler verifies, and refuses a bad
/// token). Requests without a readable token share one anonymous caller.
fn caller(req: &ServiceRequest) -> Caller {
    /// The claims throttling buckets by; every other claim is skipped unread.
    #[derive(Default, serde::Deserialize)]
    struct Claims {
        tid: Option<String>,
        appid: Option<String>,
        azp: Option<String>,
    }
    let claims = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer_token)
        .and_then(|token| token.split('.').nth(1))
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Claims>(&bytes).ok())
        .unwrap_or_default();
    let app = claims.appid.filter(|a| !a.is_empty()).or(claims.azp).unwrap_or_default();
    Caller { tenant: claims.tid.unwrap_or_default(), app }
}

/// Throttling, then faults, in front of the Graph routes.
pub async fn graph_controls(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(emulator) = req.app_data::<web::Data<Emulator>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let write = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    if let Some(throttled) = emulator.throttle.admit(&caller(&req), write).await {
        let label = if throttled.early_retry { "throttled-early-retry" } else { "throttled" };
        mark(&req, &[label.to_string()]);
        return Ok(req.error_response(ApiError::Throttled(throttled)));
    }

    // Rules see the path as routing does: percent-decoded, empty segments gone.
    let path = req.match_info().as_str().split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/");
    let decision = emulator.faults.decide(req.method().as_str(), &format!("/{path}"));
    if !decision.labels.is_empty() {
        mark(&req, &decision.labels);
    }
    if decision.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(decision.latency_ms)).await;
    }
    match decision.terminal {
        None => Ok(next.call(req).await?.map_into_boxed_body()),
        Some(Fault::Status { status, retry_after }) => {
            Ok(req.error_response(ApiError::Fault { status, retry_after }))
        }
        Some(Fault::Drop) => {
            // A body that fails before its first byte: the server gives up on the
            // connection, and the client sees it closed mid-response.
            let failing = futures_util::stream::once(async {
                Err::<web::Bytes, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "injected fault: drop",
                ))
            });
            Ok(req.into_response(HttpResponse::Ok().streaming(failing)))
        }
        Some(Fault::EmptyPage) => {
            // Only the Graph door knows which requests read a collection (and
            // how its pages look): it answers; other requests ignore the mark.
            req.extensions_mut().insert(EmptyPageFault);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Some(Fault::Latency { .. }) => unreachable!("latency is never terminal"),
    }
}

/// The mark of an `empty-page` fault on a request: a collection read answers
/// no events, and a nextLink to the very same request.
#[derive(Debug, Clone, Copy)]
pub struct EmptyPageFault;

/// Journals every request but the admin API's own.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let emulator = req.app_data::<web::Data<Emulator>>().cloned();
    let Some(emulator) = emulator.filter(|_| !admin::is_admin_path(&req)) else {
        return next.call(req).await;
    };
    let started = Instant::now();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut entry = Entry {
        seq: 0,
        time: chrono::Utc::now(),
        method: req.method().to_string(),
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        status: None,
        request_id: crate::http::RequestIds::current().request_id,
        client_request_id: header("client-request-id"),
        retry_attempt: header("retry-attempt"),
        duration_ms: 0,
        injected: Vec::new(),
    };
    let result = next.call(req).await;
    entry.duration_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(response) => {
            entry.injected = response.request().extensions().get::<Injected>().cloned().unwrap_or_default().0;
            let dropped = entry.injected.iter().any(|l| l == "drop");
            entry.status = (!dropped).then(|| response.status().as_u16());
        }
        Err(e) => entry.status = Some(e.as_response_error().status_code().as_u16()),
    }
    emulator.journal.record(entry);
    result
}
