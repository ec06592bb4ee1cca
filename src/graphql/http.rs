//! `/graphql` over HTTP and WebSocket.
//!
//! - POST executes a request (or a batch) given as JSON, within `--max-body-bytes`,
//!   the limits of `limits` (a batch: at most `MAX_BATCH` operations, their
//!   selections counted together) and the time budget `--graphql-timeout-ms`.
//! - GET with a WebSocket upgrade speaks graphql-transport-ws (or the older
//!   graphql-ws) for subscriptions; the token comes in `connection_init`'s payload
//!   (`{"Authorization": "Bearer …"}`), as browsers cannot set headers on a socket.
//! - GET from a browser serves the explorer; its assets live under `/graphql/assets/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use async_graphql::dataloader::DataLoader;
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{BatchRequest, BatchResponse, Data, ErrorExtensionValues, Response, ServerError};
use futures_util::StreamExt;
use serde_json::json;

use super::error::Code;
use super::limits::{MAX_BATCH, MAX_SELECTIONS, expanded_selections, too_many_selections};
use super::loader::EventLoader;
use super::{AuditSchema, explorer};
use crate::auth::Operation;
use crate::http::{BodyError, Caller, read_body};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/graphql").route(web::post().to(execute)).route(web::get().to(get)))
        .route("/graphql/assets/{file}", web::get().to(explorer::asset));
}

/// A request refused before any GraphQL execution (unreadable, too large, or not a
/// GraphQL request at all), in GraphQL's response shape.
fn rejected(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).content_type("application/json").body(
        json!({"errors": [{"message": message, "extensions": {"code": Code::BadUserInput.as_str()}}]})
            .to_string(),
    )
}

async fn execute(
    state: web::Data<AppState>,
    schema: web::Data<AuditSchema>,
    caller: Caller,
    body: web::Payload,
) -> HttpResponse {
    let bytes = match read_body(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(BodyError::Unreadable) => {
            return rejected(StatusCode::BAD_REQUEST, "The request body could not be read.");
        }
        Err(BodyError::TooLarge(limit)) => {
            return rejected(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The request body is larger than the limit of {limit} bytes."),
            );
        }
    };
    // Variables (and inputs) naming a member twice are refused, as REST bodies are.
    if let Err(e) = crate::domain::graph::parse_json_body(&bytes)
        && let Some(message) = e.duplicate_message()
    {
        return rejected(StatusCode::BAD_REQUEST, &message);
    }
    let mut request: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            return rejected(
                StatusCode::BAD_REQUEST,
                &format!(
                    "The body is not a GraphQL request (JSON with \"query\", and optionally \"variables\" and \"operationName\"): {e}"
                ),
            );
        }
    };
    if let BatchRequest::Batch(requests) = &mut request
        && let Err(message) = batch_within_limits(requests)
    {
        return rejected(StatusCode::BAD_REQUEST, &message);
    }
    let operations = match &request {
        BatchRequest::Single(_) => None,
        BatchRequest::Batch(requests) => Some(requests.len()),
    };
    // One loader per HTTP request: every `auditEvent(id:)` in it shares one batch.
    let loader = Arc::new(DataLoader::new(EventLoader { state: state.clone() }, tokio::spawn));
    let mut request = request.data(caller).data(loader).data(Arc::new(super::connection::Counts::default()));
    // Each operation its own plans (they are named by where their selection sets lie).
    for operation in request.iter_mut() {
        operation.data.insert(super::nodes::Plans::default());
        operation.data.insert(super::nodes::RawNodes);
    }
    // The budget ends the work itself (the future is dropped), not just the wait.
    let response = match tokio::time::timeout(state.graphql_timeout, schema.execute_batch(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(budget = ?state.graphql_timeout, "GraphQL request stopped at its time budget");
            timed_out(operations, state.graphql_timeout)
        }
    };
    HttpResponse::Ok().content_type("application/json").body(super::json::batch(&response))
}

/// A batch holds at most `MAX_BATCH` operations, and its operations together at
/// most `MAX_SELECTIONS` selections (each one alone is checked again, on every
/// transport, by `limits::Admission`).
fn batch_within_limits(requests: &mut [async_graphql::Request]) -> Result<(), String> {
    if requests.len() > MAX_BATCH {
        return Err(format!(
            "A batch holds at most {MAX_BATCH} operations; this one has {}.",
            requests.len()
        ));
    }
    let mut total: u64 = 0;
    for request in requests {
        // One that does not parse (or spreads a fragment into itself) is answered
        // with its own error when it runs.
        if let Ok(selections) =
            request.parsed_query().map_err(drop).and_then(|doc| expanded_selections(doc).map_err(drop))
        {
            total = total.saturating_add(selections);
        }
    }
    if total > MAX_SELECTIONS {
        return Err(too_many_selections("The batch", total));
    }
    Ok(())
}

/// The answer to a request stopped at its time budget, in the request's shape.
fn timed_out(operations: Option<usize>, budget: Duration) -> BatchResponse {
    let response = || {
        let mut error = ServerError::new(
            format!(
                "The request did not complete within its time budget of {} ms and was stopped.",
                budget.as_millis()
            ),
            None,
        );
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", Code::Timeout.as_str());
        error.extensions = Some(extensions);
        Response::from_errors(vec![error])
    };
    match operations {
        None => BatchResponse::Single(response()),
        Some(n) => BatchResponse::Batch((0..n).map(|_| response()).collect()),
    }
}

async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    schema: web::Data<AuditSchema>,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return websocket(req, state, schema, body);
    }
    let accepts_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if accepts_html {
        return Ok(explorer::page(&req, &state));
    }
    Ok(rejected(
        StatusCode::METHOD_NOT_ALLOWED,
        "POST GraphQL requests to /graphql as JSON; GET serves the explorer to browsers, and subscriptions over a WebSocket (graphql-transport-ws).",
    ))
}

/// The `Authorization` value in a `connection_init` payload, whatever its case.
fn payload_authorization(payload: &serde_json::Value) -> Option<String> {
    payload
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, value)| value.as_str())
        .map(str::to_string)
}

/// Close reasons are limited to 123 bytes by the WebSocket protocol.
fn close_reason(text: &str) -> String {
    let mut end = text.len().min(123);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn websocket(
    req: HttpRequest,
    state: web::Data<AppState>,
    schema: web::Data<AuditSchema>,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let protocol = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| offered.split(',').find_map(|p| p.trim().parse::<WebSocketProtocols>().ok()))
        .ok_or_else(|| {
            actix_web::error::ErrorBadRequest("Offer the graphql-transport-ws (or graphql-ws) subprotocol.")
        })?;
    let (response, session, messages) =
        actix_ws::handle_with_protocols(&req, body, &[protocol.sec_websocket_protocol()])?;

    // A refused connection_init closes with 4403 Forbidden (graphql-transport-ws);
    // async-graphql closes with 1002, so remember the refusal and say it right.
    let refused = Arc::new(AtomicBool::new(false));
    let on_init = {
        let state = state.clone();
        let refused = refused.clone();
        let fallback = Caller::of(&req);
        move |payload: serde_json::Value| async move {
            let from_payload = payload_authorization(&payload);
            let caller = match from_payload {
                Some(authorization) => fallback.with_authorization(Some(authorization)),
                None => fallback,
            };
            if let Err(e) = caller.authorize(&state, Operation::Read) {
                refused.store(true, Ordering::SeqCst);
                tracing::info!(reason = %e, "GraphQL websocket refused");
                return Err(async_graphql::Error::new(e.reason()));
            }
            let mut data = Data::default();
            data.insert(caller);
            // Queries may come this way too: `auditEvent(id:)` loads through one.
            data.insert(Arc::new(DataLoader::new(EventLoader { state: state.clone() }, tokio::spawn)));
            Ok(data)
        }
    };

    // Client messages until it closes (or breaks the protocol), pings answered here.
    let pong_session = session.clone();
    let incoming = messages
        .aggregate_continuations()
        .max_continuation_size(state.max_body_bytes)
        .take_while(|m| std::future::ready(matches!(m, Ok(m) if !matches!(m, AggregatedMessage::Close(_)))))
        .filter_map(move |m| {
            let payload = match m {
                Ok(AggregatedMessage::Text(text)) => Some(text.into_bytes()),
                Ok(AggregatedMessage::Binary(bytes)) => Some(bytes),
                Ok(AggregatedMessage::Ping(bytes)) => {
                    let mut session = pong_session.clone();
                    actix_web::rt::spawn(async move { session.pong(&bytes).await });
                    None
                }
                _ => None,
            };
            std::future::ready(payload)
        });

    let schema = schema.get_ref().clone();
    actix_web::rt::spawn(async move {
        let mut session = session;
        let mut outgoing =
            std::pin::pin!(WebSocket::new(schema, incoming, protocol).on_connection_init(on_init));
        while let Some(message) = outgoing.next().await {
            match message {
                WsMessage::Text(text) => {
                    if session.text(text).await.is_err() {
                        return;
                    }
                }
                WsMessage::Close(code, reason) => {
                    let code = if refused.load(Ordering::SeqCst) { 4403 } else { code };
                    let reason =
                        CloseReason { code: CloseCode::from(code), description: Some(close_reason(&reason)) };
                    let _ = session.close(Some(reason)).await;
                    return;
                }
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_authorization_in_any_case() {
        for key in ["Authorization", "authorization", "AUTHORIZATION"] {
            assert_eq!(payload_authorization(&json!({key: "Bearer x"})).as_deref(), Some("Bearer x"));
        }
        assert_eq!(payload_authorization(&json!({"token": "x"})), None);
        assert_eq!(payload_authorization(&json!("Bearer x")), None);
    }

    #[test]
    fn close_reasons_fit_the_protocol_limit() {
        assert_eq!(close_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= 123 && long.starts_with(&cut));
    }
}
