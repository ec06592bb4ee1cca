//! The Intune workloads on `/v1.0` and `/beta` (intune-workloads.md §1, §3): a
//! thin door over `workloads::Workloads`. It resolves the URL to a set, an
//! object, a navigation or an action, reads the body and the query options,
//! and shapes the answer: lists with `@odata.nextLink` paging, `$count`,
//! `$select`, `$expand`, `$orderby`; 201 with the entity; 204 for PATCH,
//! DELETE and actions without a return type.

use std::cmp::Ordering;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::events::{json_body, json_response, origin};
use crate::domain::graph::ApiVersion;
use crate::domain::object::IntuneObject;
use crate::error::ApiError;
use crate::http::{Caller, RequestIds};
use crate::odata::objects::{ObjectQuery, compare};
use crate::state::AppState;
use crate::workloads::schema::EntitySet;
use crate::workloads::shape::{View, assignments_json, entity_json};
use crate::workloads::{Answer, WorkloadError, Workloads, catalogue};

/// What a workload URL names below its set.
enum Target<'s> {
    Collection,
    Count,
    Item(String),
    Navigation(String, &'s str),
    Assignment(String, String),
    Action(String, String),
}

/// The set a path names, if it is a workload path. Beta-only sets are unknown
/// segments on v1.0, as Graph answers.
pub fn find(version: ApiVersion, segments: &[String]) -> Result<Option<&'static EntitySet>, ApiError> {
    let (Some(singleton), Some(segment)) = (segments.first(), segments.get(1)) else {
        return Ok(None);
    };
    match catalogue::find(singleton, segment) {
        Some(set) if set.beta_only && version == ApiVersion::V1 => {
            Err(ApiError::UnknownSegment(segment.clone()))
        }
        found => Ok(found),
    }
}

fn target<'s>(segments: &'s [String]) -> Result<Target<'s>, ApiError> {
    let bare = |s: &'s str| s.strip_prefix("microsoft.graph.").unwrap_or(s);
    Ok(match segments {
        [] => Target::Collection,
        [count] if count == "$count" => Target::Count,
        [id] => Target::Item(id.clone()),
        [id, nav]
            if nav.eq_ignore_ascii_case("assignments")
                || nav.eq_ignore_ascii_case("scheduledActionsForRule") =>
        {
            Target::Navigation(id.clone(), nav)
        }
        [id, nav, aid] if nav.eq_ignore_ascii_case("assignments") => {
            Target::Assignment(id.clone(), aid.clone())
        }
        [id, action] => Target::Action(id.clone(), bare(action).to_string()),
        [_, _, extra, ..] => return Err(ApiError::UnknownSegment(extra.clone())),
    })
}

impl From<WorkloadError> for ApiError {
    fn from(e: WorkloadError) -> Self {
        let coded = |status: StatusCode, code: &'static str, message: String| ApiError::Coded {
            status,
            code,
            message,
        };
        match e {
            WorkloadError::ModelValidation(m) => coded(StatusCode::BAD_REQUEST, "ModelValidationFailure", m),
            WorkloadError::BadRequest(m) => ApiError::BadRequest(m),
            WorkloadError::NoRoute(m) => coded(StatusCode::BAD_REQUEST, "No method match route template", m),
            WorkloadError::NotFound { url } => {
                let activity = RequestIds::current().request_id;
                let text = format!(
                    "An error has occurred - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {activity} - Url: {url}"
                );
                coded(StatusCode::NOT_FOUND, "ResourceNotFound", crate::auth::intune_error_message(&text))
            }
            WorkloadError::Auth(e) => e.into(),
            WorkloadError::Write(e) => e.into(),
            WorkloadError::Internal(e) => ApiError::Internal(e),
        }
    }
}

pub async fn handle(
    req: &HttpRequest,
    state: &AppState,
    version: ApiVersion,
    set: &'static EntitySet,
    rest: &[String],
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = Caller::of(req).principal(state)?;
    let calls = Workloads {
        recorder: &state.recorder,
        principal: &principal,
        now: crate::domain::truncate_to_ticks(state.clock.now()),
        correlation_id: RequestIds::current().correlation_id(),
        beta: version == ApiVersion::Beta,
    };
    let method = req.method().clone();
    let context = |suffix: &str| {
        format!(
            "{}/{}/$metadata#{}/{}{suffix}",
            origin(req, state),
            version.segment(),
            set.singleton.segment(),
            set.segment
        )
    };
    match (target(rest)?, method) {
        (Target::Collection, Method::GET) => list(req, state, &calls, set, &context("")).await,
        (Target::Count, Method::GET) => {
            let n = calls.list(set).await?.len();
            Ok(HttpResponse::Ok().content_type("text/plain;charset=utf-8").body(n.to_string()))
        }
        (Target::Collection, Method::POST) => {
            let object = calls.create(set, &json_body(state, body).await?).await?;
            let mut out = Map::new();
            out.insert("@odata.context".into(), Value::String(context("/$entity")));
            out.extend(entity_json(set, &object, View { beta: calls.beta, ..View::default() }));
            let location =
                format!("{}{}/{}", origin(req, state), req.path().trim_end_matches('/'), object.id);
            let mut response = json_response(StatusCode::CREATED, &Value::Object(out));
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&location) {
                response.headers_mut().insert(actix_web::http::header::LOCATION, value);
            }
            Ok(response)
        }
        (Target::Item(id), Method::GET) => {
            let query = ObjectQuery::parse(req.query_string(), &crate::workloads::profile(set))?;
            let object = calls.get(set, &id).await?;
            let view = View {
                beta: calls.beta,
                select: query.select.as_deref(),
                expand: &query.expand,
                single: true,
            };
            let mut out = Map::new();
            out.insert("@odata.context".into(), Value::String(context("/$entity")));
            out.extend(entity_json(set, &object, view));
            Ok(json_response(StatusCode::OK, &Value::Object(out)))
        }
        (Target::Item(id), Method::PATCH) => {
            calls.update(set, &id, &json_body(state, body).await?).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        (Target::Item(id), Method::DELETE) => {
            calls.delete(set, &id).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        (Target::Navigation(id, nav), Method::GET) => {
            let object = calls.get(set, &id).await?;
            let value = match (&set.assignments, nav.eq_ignore_ascii_case("assignments")) {
                (Some(kind), true) => assignments_json(kind, &object, calls.beta),
                (None, true) => return Err(ApiError::UnknownSegment(nav.to_string())),
                _ => object
                    .body
                    .get("scheduledActionsForRule")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            };
            let body = json!({"@odata.context": context(&format!("('{id}')/{nav}")), "value": value});
            Ok(json_response(StatusCode::OK, &body))
        }
        (Target::Navigation(id, nav), Method::POST) if nav.eq_ignore_ascii_case("assignments") => {
            let created = calls.add_assignment(set, &id, &json_body(state, body).await?).await?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        (Target::Assignment(id, aid), Method::GET) => {
            let object = calls.get(set, &id).await?;
            let kind =
                set.assignments.as_ref().ok_or_else(|| ApiError::UnknownSegment("assignments".into()))?;
            let found = assignments_json(kind, &object, calls.beta)
                .into_iter()
                .find(|a| a["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&aid)))
                .ok_or_else(|| ApiError::from(WorkloadError::NotFound { url: calls.url(set, Some(&id)) }))?;
            Ok(json_response(StatusCode::OK, &found))
        }
        (Target::Action(id, action), Method::POST) => {
            let body = json_body_or_empty(state, body).await?;
            match calls.action(set, &id, &action, &body).await? {
                Answer::NoContent => Ok(HttpResponse::NoContent().finish()),
                Answer::Value(value) => Ok(json_response(StatusCode::OK, &json!({"value": value}))),
            }
        }
        (_, method) => Err(ApiError::MethodNotAllowed(method.to_string())),
    }
}

/// An action's body: actions without parameters are often posted empty.
async fn json_body_or_empty(state: &AppState, body: web::Payload) -> Result<Value, ApiError> {
    let bytes = crate::http::read_body(body, state.max_body_bytes).await.map_err(|e| match e {
        crate::http::BodyError::TooLarge(limit) => ApiError::PayloadTooLarge(limit),
        crate::http::BodyError::Unreadable => ApiError::bad_request("The request body could not be read."),
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    crate::domain::graph::parse_json_body(&bytes).map_err(|_| ApiError::bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."))
}

/// The order of a list: `$orderby`'s keys, then the id (so pages never
/// repeat or skip an object); with no `$orderby`, the id alone.
fn order(keys: &[(String, bool)], a: &IntuneObject, b: &IntuneObject) -> Ordering {
    for (name, descending) in keys {
        let (x, y) = (a.body.get(name).unwrap_or(&Value::Null), b.body.get(name).unwrap_or(&Value::Null));
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => compare(x, y).unwrap_or(Ordering::Equal),
        };
        let o = if *descending { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    crate::domain::fold(&a.id).cmp(&crate::domain::fold(&b.id))
}

async fn list(
    req: &HttpRequest,
    state: &AppState,
    calls: &Workloads<'_>,
    set: &EntitySet,
    context: &str,
) -> Result<HttpResponse, ApiError> {
    let query = ObjectQuery::parse(req.query_string(), &crate::workloads::profile(set))?;
    let mut objects = calls.list(set).await?;
    if let Some(filter) = &query.filter {
        objects.retain(|o| filter.matches(&o.odata_type, &o.body));
    }
    // Intune ignores $orderby on managed devices (intune-workloads.md §1.4).
    let keys: &[(String, bool)] = if set.orderby { &query.orderby } else { &[] };
    objects.sort_by(|a, b| order(keys, a, b));
    let total = objects.len();
    let hash = crate::paging::text_hash(&[set.segment, &query.shape]);
    if let Some(token) = &query.skiptoken {
        let last: (Map<String, Value>, String) =
            state.paging_key.decode(token, &hash).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let cursor = IntuneObject {
            set: set.segment.into(),
            id: last.1,
            odata_type: String::new(),
            version: 0,
            body: last.0,
        };
        objects.retain(|o| order(keys, o, &cursor) == Ordering::Greater);
    }
    let limit = query.top.unwrap_or(state.max_page_size).min(state.max_page_size) as usize;
    let more = objects.len() > limit;
    objects.truncate(limit);
    let view =
        View { beta: calls.beta, select: query.select.as_deref(), expand: &query.expand, single: false };
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(context.to_string()));
    if query.count {
        out.insert("@odata.count".into(), json!(total));
    }
    if more && let Some(last) = objects.last() {
        let keyed: Map<String, Value> =
            keys.iter().map(|(k, _)| (k.clone(), last.body.get(k).cloned().unwrap_or(Value::Null))).collect();
        let token = state.paging_key.encode(&hash, &(keyed, last.id.clone()));
        out.insert(
            "@odata.nextLink".into(),
            Value::String(super::events::next_link_with(req, state, &query.passthrough, &token)),
        );
    }
    out.insert(
        "value".into(),
        Value::Array(objects.iter().map(|o| Value::Object(entity_json(set, o, view))).collect()),
    );
    Ok(json_response(StatusCode::OK, &Value::Object(out)))
}
