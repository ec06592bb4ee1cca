//! `/deviceManagement/auditEvents` and its functions: list, get, create, update,
//! delete, `$count`, `getAuditCategories`, `getAuditActivityTypes`, `$metadata`, the
//! `deviceManagement` singleton and the service document.

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

use super::path::Target;
use crate::auth::{Operation, Principal};
use crate::domain::graph::JSON_CONTENT_TYPE;
use crate::domain::graph::{self, ApiVersion, event_json};
use crate::domain::vocabulary::CATEGORIES;
use crate::domain::{AuditActor, AuditEvent, truncate_to_ticks};
use crate::emulator::EmptyPageFault;
use crate::error::ApiError;
use crate::http::{BodyError, Caller, read_body};
use crate::odata::{QueryOptions, SelectProperty};
use crate::paging::query_hash;
use crate::state::AppState;
use crate::store::{PageRequest, default_order};

/// The CSDL served at `$metadata`, kept in `schema/` as contract files.
pub fn metadata(version: ApiVersion) -> &'static str {
    match version {
        ApiVersion::V1 => include_str!("../../schema/metadata-v1.0.xml"),
        ApiVersion::Beta => include_str!("../../schema/metadata-beta.xml"),
    }
}

pub async fn handle(
    req: &HttpRequest,
    state: &AppState,
    version: ApiVersion,
    target: Target,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let method = req.method().clone();
    let principal = match (&target, &method) {
        // As Graph's, the service description needs no token; the singleton is read
        // with the permission its audit events are.
        (Target::Metadata | Target::ServiceDocument, _) => None,
        (_, &Method::GET) => Some(authorize(req, state, Operation::Read)?),
        _ => Some(authorize(req, state, Operation::Write)?),
    };
    match (target, method) {
        (Target::Metadata, Method::GET) => {
            Ok(HttpResponse::Ok().content_type("application/xml").body(metadata(version)))
        }
        (Target::ServiceDocument, Method::GET) => Ok(service_document(req, state, version)),
        (Target::DeviceManagement, Method::GET) => Ok(device_management(req, state, version)),
        (Target::Events, Method::GET) if req.extensions().contains::<EmptyPageFault>() => {
            Ok(empty_page(req, state, version))
        }
        (Target::Events, Method::GET) => list(req, state, version).await,
        (Target::Events, Method::POST) => create(req, state, version, principal, body).await,
        (Target::Count, Method::GET) => count(req, state).await,
        (Target::Event(id), Method::GET) => get(req, state, version, &id).await,
        (Target::Event(id), Method::PATCH) => update(req, state, version, &id, body).await,
        (Target::Event(id), Method::DELETE) => delete(state, &id).await,
        (Target::Categories, Method::GET) => {
            Ok(strings(req, state, version, CATEGORIES.iter().map(|c| c.to_string()).collect()))
        }
        (Target::ActivityTypes(Some(category)), Method::GET) => {
            Ok(strings(req, state, version, state.activity_types(&category).await?))
        }
        (Target::ActivityTypes(None), Method::GET) => Err(ApiError::bad_request(
            "The parameter 'category' is missing: call getAuditActivityTypes(category='<category>').",
        )),
        (_, method) => Err(ApiError::MethodNotAllowed(method.to_string())),
    }
}

fn authorize(req: &HttpRequest, state: &AppState, operation: Operation) -> Result<Principal, ApiError> {
    Ok(Caller::of(req).authorize(state, operation)?)
}

/// Scheme, host and port clients reach us on: the configured public base URL, or
/// the request's own origin (clients follow nextLinks blindly, so never Graph's).
pub(super) fn origin(req: &HttpRequest, state: &AppState) -> String {
    match &state.public_base_url {
        Some(base) => base.clone(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

fn context_url(
    req: &HttpRequest,
    state: &AppState,
    version: ApiVersion,
    select: Option<&[SelectProperty]>,
    entity: bool,
) -> String {
    let mut url =
        format!("{}/{}/$metadata#deviceManagement/auditEvents", origin(req, state), version.segment());
    if let Some(select) = select {
        let names: Vec<&str> = select.iter().map(|p| p.odata_name()).collect();
        url.push_str(&format!("({})", names.join(",")));
    }
    if entity {
        url.push_str("/$entity");
    }
    url
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).content_type(JSON_CONTENT_TYPE).body(body.to_string())
}

/// Everything but unreserved characters is escaped, so a link re-sent verbatim
/// means the same thing to every client and server.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn next_link(req: &HttpRequest, state: &AppState, options: &QueryOptions, token: &str) -> String {
    next_link_with(req, state, &options.passthrough, token)
}

/// This request's URL with its parameters and `$skiptoken=token`.
pub(super) fn next_link_with(
    req: &HttpRequest,
    state: &AppState,
    passthrough: &[(String, String)],
    token: &str,
) -> String {
    let mut query: Vec<String> = passthrough
        .iter()
        .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, QUERY_VALUE)))
        .collect();
    query.push(format!("$skiptoken={token}"));
    format!("{}{}?{}", origin(req, state), req.path(), query.join("&"))
}

/// A collection page, in the order Graph writes its members. Events are spliced
/// in as rendered JSON: a page of cached events is copied, not built again.
#[derive(serde::Serialize)]
struct PageBody<'a> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
    value: Vec<Cow<'a, RawValue>>,
}

async fn list(req: &HttpRequest, state: &AppState, version: ApiVersion) -> Result<HttpResponse, ApiError> {
    let options = QueryOptions::parse(req.query_string())?;
    let order = if options.orderby.is_empty() { default_order() } else { options.orderby.clone() };
    let hash = query_hash(options.filter.as_ref(), &order);
    let after = match &options.skiptoken {
        Some(token) => Some(
            state
                .paging_key
                .decode::<crate::store::Cursor>(token, &hash)
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
        None => None,
    };
    let limit = options.top.unwrap_or(state.max_page_size).min(state.max_page_size);
    let select = options.select.as_deref();
    let not_before = state.retention_start();
    let page = state
        .store
        .page(&PageRequest {
            filter: options.filter.as_ref(),
            order: &order,
            after: after.as_ref(),
            // $skip applies to the first page; later pages continue from the cursor.
            offset: if after.is_none() { options.skip.unwrap_or(0) } else { 0 },
            limit,
            not_before,
            scan: false,
        })
        .await?;

    let count = match options.count {
        true => Some(state.store.count(options.filter.as_ref(), not_before).await?),
        false => None,
    };
    let next_link = page.next.as_ref().map(|cursor| {
        let token = state.paging_key.encode(&hash, cursor);
        next_link(req, state, &options, &token)
    });
    let value = page
        .events
        .iter()
        .map(|e| match select {
            None => Cow::Borrowed(e.rendered.get(e, version)),
            Some(_) => Cow::Owned(
                serde_json::value::to_raw_value(&event_json(e, version, select)).expect("JSON serialises"),
            ),
        })
        .collect();
    let body = PageBody { context: context_url(req, state, version, select, false), count, next_link, value };
    // Sized up front: growing a page of ~70 KB by doubling copied it again and again.
    let members: usize = body.value.iter().map(|v| v.get().len() + 1).sum();
    let links = body.context.len() + body.next_link.as_ref().map_or(0, String::len);
    let mut bytes = Vec::with_capacity(members + links + 128);
    serde_json::to_writer(&mut bytes, &body).expect("a page serialises");
    Ok(HttpResponse::Ok().content_type(JSON_CONTENT_TYPE).body(bytes))
}

/// An empty page whose nextLink repeats the request (the `empty-page` fault).
fn empty_page(req: &HttpRequest, state: &AppState, version: ApiVersion) -> HttpResponse {
    let query = req.query_string();
    let link =
        format!("{}{}{}{query}", origin(req, state), req.path(), if query.is_empty() { "" } else { "?" });
    let body = json!({
        "@odata.context": context_url(req, state, version, None, false),
        "@odata.nextLink": link,
        "value": [],
    });
    json_response(StatusCode::OK, &body)
}

async fn count(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let options = QueryOptions::parse(req.query_string())?;
    let total = state.store.count(options.filter.as_ref(), state.retention_start()).await?;
    Ok(HttpResponse::Ok().content_type("text/plain;charset=utf-8").body(total.to_string()))
}

fn entity_response(
    req: &HttpRequest,
    state: &AppState,
    version: ApiVersion,
    status: StatusCode,
    event: &AuditEvent,
    select: Option<&[SelectProperty]>,
) -> HttpResponse {
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context_url(req, state, version, select, true)));
    body.extend(event_json(event, version, select));
    json_response(status, &Value::Object(body))
}

async fn get(
    req: &HttpRequest,
    state: &AppState,
    version: ApiVersion,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let options = QueryOptions::parse(req.query_string())?;
    let event = state.event(id).await?;
    Ok(entity_response(req, state, version, StatusCode::OK, &event, options.select.as_deref()))
}

/// Reads the body within the size limit, as JSON.
pub(super) async fn json_body(state: &AppState, body: web::Payload) -> Result<Value, ApiError> {
    let bytes = read_body(body, state.max_body_bytes).await.map_err(|e| match e {
        BodyError::TooLarge(limit) => ApiError::PayloadTooLarge(limit),
        BodyError::Unreadable => ApiError::bad_request("The request body could not be read."),
    })?;
    graph::parse_json_body(&bytes).map_err(|e| {
        ApiError::bad_request(e.duplicate_message().unwrap_or_else(|| {
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.".into()
        }))
    })
}

/// The actor of an event created through the API: the caller, unless the body
/// names one (so recorded fixtures can be replayed as they were).
fn actor_of(req: &HttpRequest, principal: &Principal) -> AuditActor {
    crate::audit::caller_actor(principal, Caller::of(req).ip_address().map(str::to_string))
}

async fn create(
    req: &HttpRequest,
    state: &AppState,
    version: ApiVersion,
    principal: Option<Principal>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(state, body).await?;
    let now = truncate_to_ticks(state.clock.now());
    let mut event = graph::parse_new_event(
        &body,
        || uuid::Uuid::new_v4().to_string(),
        || now,
        || crate::http::RequestIds::current().correlation_id(),
    )
    .map_err(|e| ApiError::bad_request(e.0))?;
    if event.actor.is_none()
        && let Some(principal) = &principal
    {
        event.actor = Some(actor_of(req, principal));
    }
    let event = state.recorder.create(event).await?;
    let location = format!("{}{}/{}", origin(req, state), req.path().trim_end_matches('/'), event.id);
    let mut response = entity_response(req, state, version, StatusCode::CREATED, &event, None);
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(actix_web::http::header::LOCATION, value);
    }
    Ok(response)
}

async fn update(
    req: &HttpRequest,
    state: &AppState,
    version: ApiVersion,
    id: &str,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let patch = json_body(state, body).await?;
    let current = state.event(id).await?;
    let updated = graph::patch_event(&current, &patch).map_err(|e| ApiError::bad_request(e.0))?;
    if !state.recorder.update(updated.clone()).await? {
        return Err(ApiError::EventNotFound(id.to_string()));
    }
    Ok(entity_response(req, state, version, StatusCode::OK, &updated, None))
}

async fn delete(state: &AppState, id: &str) -> Result<HttpResponse, ApiError> {
    state.event(id).await?;
    if !state.recorder.delete(id).await? {
        return Err(ApiError::EventNotFound(id.to_string()));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The id Graph's `deviceManagement` singleton answers with (spec: undocumented; a
/// fixed all-zero GUID, the same for every tenant).
pub const DEVICE_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000000";

/// `GET /{version}/`: the OData service document, listing what the container of
/// `$metadata` holds (the `deviceManagement` singleton; auditgraph serves no entity set).
fn service_document(req: &HttpRequest, state: &AppState, version: ApiVersion) -> HttpResponse {
    let body = json!({
        "@odata.context": format!("{}/{}/$metadata", origin(req, state), version.segment()),
        "value": [{"name": "deviceManagement", "kind": "Singleton", "url": "deviceManagement"}],
    });
    json_response(StatusCode::OK, &body)
}

/// `GET /{version}/deviceManagement`: the singleton, with its id (its only
/// property in the CSDL served; `auditEvents` is a contained navigation).
fn device_management(req: &HttpRequest, state: &AppState, version: ApiVersion) -> HttpResponse {
    let body = json!({
        "@odata.context": format!("{}/{}/$metadata#deviceManagement", origin(req, state), version.segment()),
        "id": DEVICE_MANAGEMENT_ID,
    });
    json_response(StatusCode::OK, &body)
}

/// A function's `Collection(Edm.String)` answer.
fn strings(req: &HttpRequest, state: &AppState, version: ApiVersion, values: Vec<String>) -> HttpResponse {
    let body = json!({
        "@odata.context": format!("{}/{}/$metadata#Collection(Edm.String)", origin(req, state), version.segment()),
        "value": values,
    });
    json_response(StatusCode::OK, &body)
}
