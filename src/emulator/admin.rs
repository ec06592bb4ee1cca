//! The admin API under `/_auditgraph/` (README, "Emulator controls"):
//!
//! | Route | Does |
//! |---|---|
//! | `GET /_auditgraph/health` | version, backend, event count, emulator now |
//! | `POST /_auditgraph/reset` | empties the store (`{"count":N,"seed":S}` re-seeds), clears the journal, restores throttling and fault settings |
//! | `GET, POST /_auditgraph/clock` | shows, freezes, offsets, advances or resets "now" |
//! | `GET, DELETE /_auditgraph/requests` | the request journal |
//! | `GET, PATCH /_auditgraph/throttling` | throttling settings |
//! | `GET, PUT, POST, DELETE /_auditgraph/faults`, `DELETE …/faults/{id}` | fault rules |
//! | `POST /_auditgraph/identity/devicecodes/{user_code}/approve`, `…/decline` | settles a device code |
//! | `POST /_auditgraph/identity/keys/rotate` | rotates the token-signing key (every instance of a cluster) |
//!
//! [`gate`] guards every path under `/_auditgraph/`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::faults::{FaultSet, Rule};
use super::throttle::ThrottlePatch;
use super::{Emulator, identity};
use crate::clock::ClockMode;
use crate::domain::Ticks;
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let scope = super::routing::configure(web::scope("/_auditgraph"));
    cfg.service(
        scope
            .route("/health", web::get().to(health))
            .route("/reset", web::post().to(reset))
            .route("/clock", web::get().to(clock))
            .route("/clock", web::post().to(set_clock))
            .route("/requests", web::get().to(requests))
            .route("/requests", web::delete().to(clear_requests))
            .route("/throttling", web::get().to(throttling))
            .route("/throttling", web::patch().to(update_throttling))
            .route("/faults", web::get().to(faults))
            .route("/faults", web::put().to(replace_faults))
            .route("/faults", web::post().to(add_fault))
            .route("/faults", web::delete().to(clear_faults))
            .route("/faults/{id}", web::delete().to(remove_fault))
            .route("/identity/devicecodes/{user_code}/approve", web::post().to(identity::approve_device))
            .route("/identity/devicecodes/{user_code}/decline", web::post().to(identity::decline_device))
            .route("/identity/keys/rotate", web::post().to(identity::rotate_keys))
            .default_service(web::to(unknown)),
    );
}

/// Whether the router will see an admin path. Uses the path as the router
/// matches it (percent-decoded), so `/%5Fauditgraph/…` cannot slip past.
pub fn is_admin_path(req: &ServiceRequest) -> bool {
    let path = req.match_info().as_str();
    path == "/_auditgraph" || path.starts_with("/_auditgraph/")
}

/// Lets loopback peers through, and others only with the admin token. Only the
/// TCP peer counts: forwarding headers are the client's to forge.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !is_admin_path(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let loopback = req.peer_addr().is_some_and(|peer| match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    });
    let token = req.app_data::<web::Data<Emulator>>().and_then(|e| e.admin_token.clone());
    let presented =
        req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(crate::auth::bearer_token);
    let refusal = match (loopback, token, presented) {
        (true, _, _) => None,
        (false, Some(token), Some(presented)) if constant_time_eq(token.as_bytes(), presented.as_bytes()) => None,
        (false, Some(_), _) => Some(ApiError::Auth {
            status: StatusCode::UNAUTHORIZED,
            code: "Unauthorized",
            message: "The emulator's admin API needs the admin token (--admin-token) from a non-loopback address; a Graph token does not open it.".into(),
            www_authenticate: Some("Bearer realm=\"auditgraph-admin\"".into()),
        }),
        (false, None, _) => Some(ApiError::Auth {
            status: StatusCode::FORBIDDEN,
            code: "Forbidden",
            message: "The emulator's admin API answers loopback callers only; start auditgraph with --admin-token to reach it from elsewhere.".into(),
            www_authenticate: None,
        }),
    };
    match refusal {
        None => Ok(next.call(req).await?.map_into_left_body()),
        Some(e) => {
            tracing::warn!(peer = ?req.peer_addr(), path = req.path(), "admin API refused");
            Ok(req.error_response(e).map_into_right_body())
        }
    }
}

async fn unknown(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnknownSegment(req.path().trim_start_matches("/_auditgraph/").to_string()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn ok(body: Value) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(body.to_string())
}

/// Parses a JSON body; an empty body is `T::default()`.
pub(super) fn body<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let events = state.store.count(None, Ticks(i64::MIN)).await?;
    // The members whose heartbeat is recent (wall clock: the emulator clock may be frozen).
    let now = Utc::now();
    let alive = Ticks::from_datetime(now - chrono::Duration::seconds(crate::startup::HEARTBEAT_SECS * 3));
    let forget = Ticks::from_datetime(now - chrono::Duration::hours(1));
    let members: Vec<Value> = state
        .store
        .members(alive, forget)
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "instance": m.instance,
                "address": m.address,
                "startedAt": time(m.started.to_datetime()),
                "lastSeen": time(m.heartbeat.to_datetime()),
            })
        })
        .collect();
    Ok(ok(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": state.store.backend_name(),
        "instance": state.store.instance(),
        "members": members,
        "events": events,
        "now": time(state.clock.now()),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResetRequest {
    /// Events to seed after emptying the store.
    count: Option<u64>,
    /// The generator's seed (default 1): the same seed, count and range give
    /// identical events and ids.
    seed: Option<u64>,
    /// Range of the seeded events; default the year before the start of the
    /// emulator's current UTC day.
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

async fn reset(
    state: web::Data<AppState>,
    emulator: web::Data<Emulator>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: ResetRequest = body(&bytes)?;
    let (from, to) = crate::seed::default_range(request.from, request.to, state.clock.now());
    if from >= to {
        return Err(ApiError::bad_request("'from' must be before 'to'."));
    }
    let removed = state.store.clear().await?;
    let seeded = match request.count {
        Some(count) if count > 0 => {
            let seed = request.seed.unwrap_or(1);
            crate::seed::write_generated(&state.recorder, seed, count, from, to, &crate::seed::quiet)
                .await?
                .inserted
        }
        _ => 0,
    };
    // The Intune objects start over too: the built-ins and what the new history names.
    state.store.clear_objects().await?;
    crate::workloads::seed::ensure_objects(&state.store, state.clock.now()).await?;
    emulator.reset();
    emulator.share(&state.store, &state.clock).await?;
    tracing::info!(removed, seeded, "emulator reset");
    Ok(ok(json!({ "removed": removed, "seeded": seeded })))
}

fn clock_view(state: &AppState) -> Value {
    let (mode, offset) = match state.clock.mode() {
        ClockMode::System => ("system", None),
        ClockMode::Offset(by) => ("offset", Some(by.num_milliseconds() as f64 / 1000.0)),
        ClockMode::Frozen(_) => ("frozen", None),
    };
    json!({ "now": time(state.clock.now()), "mode": mode, "offsetSeconds": offset })
}

async fn clock(state: web::Data<AppState>) -> HttpResponse {
    ok(clock_view(&state))
}

/// Exactly one of the fields.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockRequest {
    /// Stop time at this instant.
    freeze_at: Option<DateTime<Utc>>,
    /// `true`: stop time where it is now.
    freeze: Option<bool>,
    /// Run time from real time plus this many seconds (negative: the past).
    offset_seconds: Option<f64>,
    /// Move now forward (or back) by this many seconds, frozen or not.
    advance_seconds: Option<f64>,
    /// `true`: back to real time.
    reset: Option<bool>,
}

fn seconds(value: f64) -> Result<Duration, ApiError> {
    // About ±3000 years: far beyond any useful clock, well inside chrono's range.
    if !value.is_finite() || value.abs() > 1e11 {
        return Err(ApiError::bad_request(format!("{value} is not a usable number of seconds.")));
    }
    Ok(Duration::milliseconds((value * 1000.0).round() as i64))
}

async fn set_clock(
    state: web::Data<AppState>,
    emulator: web::Data<Emulator>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: ClockRequest = body(&bytes)?;
    let clock = &state.clock;
    match request {
        ClockRequest {
            freeze_at: Some(at),
            freeze: None,
            offset_seconds: None,
            advance_seconds: None,
            reset: None,
        } => clock.freeze(at),
        ClockRequest {
            freeze_at: None,
            freeze: Some(true),
            offset_seconds: None,
            advance_seconds: None,
            reset: None,
        } => clock.freeze(clock.now()),
        ClockRequest {
            freeze_at: None,
            freeze: None,
            offset_seconds: Some(s),
            advance_seconds: None,
            reset: None,
        } => clock.offset(seconds(s)?),
        ClockRequest {
            freeze_at: None,
            freeze: None,
            offset_seconds: None,
            advance_seconds: Some(s),
            reset: None,
        } => clock.advance(seconds(s)?),
        ClockRequest {
            freeze_at: None,
            freeze: None,
            offset_seconds: None,
            advance_seconds: None,
            reset: Some(true),
        } => clock.reset(),
        _ => {
            return Err(ApiError::bad_request(
                "Send exactly one of: freezeAt (an instant), freeze: true, offsetSeconds, advanceSeconds, reset: true.",
            ));
        }
    }
    tracing::info!(now = %clock.now(), "emulator clock set");
    emulator.share(&state.store, clock).await?;
    Ok(ok(clock_view(&state)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestsQuery {
    /// `cluster`: every member's journal, each entry naming its instance.
    scope: Option<String>,
}

async fn requests(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    emulator: web::Data<Emulator>,
) -> Result<HttpResponse, ApiError> {
    let query: RequestsQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::bad_request("The only query parameter is scope=cluster."))?;
    let mine = |entries: Vec<super::journal::Entry>| -> Vec<Value> {
        entries
            .into_iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["instance"] = json!(state.store.instance());
                v
            })
            .collect()
    };
    match query.scope.as_deref() {
        None => Ok(ok(json!({ "value": mine(emulator.journal.entries()) }))),
        Some("cluster") => {
            let authorization = req.headers().get(actix_web::http::header::AUTHORIZATION).cloned();
            Ok(ok(
                json!({ "value": super::cluster::journal(&state.store, authorization, mine(emulator.journal.entries())).await? }),
            ))
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "scope '{other}' is not known; scope=cluster reads every member's journal."
        ))),
    }
}

async fn clear_requests(emulator: web::Data<Emulator>) -> HttpResponse {
    emulator.journal.clear();
    HttpResponse::NoContent().finish()
}

fn throttling_view(emulator: &Emulator) -> Value {
    let config = emulator.throttle.config();
    let mut view = serde_json::to_value(&config).unwrap_or_default();
    view["effectiveLimits"] = serde_json::to_value(config.effective()).unwrap_or_default();
    view
}

async fn throttling(emulator: web::Data<Emulator>) -> HttpResponse {
    ok(throttling_view(&emulator))
}

async fn update_throttling(
    state: web::Data<AppState>,
    emulator: web::Data<Emulator>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let patch: ThrottlePatch = body(&bytes)?;
    emulator.throttle.update(patch).map_err(ApiError::BadRequest)?;
    emulator.share(&state.store, &state.clock).await?;
    Ok(ok(throttling_view(&emulator)))
}

async fn faults(emulator: web::Data<Emulator>) -> HttpResponse {
    ok(serde_json::to_value(emulator.faults.view()).unwrap_or_default())
}

async fn replace_faults(
    state: web::Data<AppState>,
    emulator: web::Data<Emulator>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let set: FaultSet = body(&bytes)?;
    let view = emulator.faults.replace(set).map_err(ApiError::BadRequest)?;
    emulator.share(&state.store, &state.clock).await?;
    Ok(ok(serde_json::to_value(view).unwrap_or_default()))
}

async fn add_fault(
    state: web::Data<AppState>,
    emulator: web::Data<Emulator>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let rule: Rule = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid fault rule: {e}")))?;
    let added = emulator.faults.add(rule).map_err(ApiError::BadRequest)?;
    emulator.share(&state.store, &state.clock).await?;
    Ok(HttpResponse::Created()
        .content_type("application/json")
        .body(serde_json::to_value(added).unwrap_or_default().to_string()))
}

async fn clear_faults(
    state: web::Data<AppState>,
    emulator: web::Data<Emulator>,
) -> Result<HttpResponse, ApiError> {
    let seed = emulator.faults.view().seed;
    // An empty set is always valid.
    let _ = emulator.faults.replace(FaultSet { seed, rules: Vec::new() });
    emulator.share(&state.store, &state.clock).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove_fault(
    state: web::Data<AppState>,
    emulator: web::Data<Emulator>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if emulator.faults.remove(&id) {
        emulator.share(&state.store, &state.clock).await?;
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::bad_request(format!("No fault rule with id '{id}'.")))
    }
}
