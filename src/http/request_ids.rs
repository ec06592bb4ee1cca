//! Request ids, in one place: every response carries `request-id` and
//! `client-request-id` (the client's when sent), plus Graph's `OData-Version`.
//! The ids of the request being served are a task-local, so an error envelope,
//! the journal or an audit event can read them wherever they are made.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

tokio::task_local! {
    static CURRENT: RequestIds;
}

impl RequestIds {
    /// The ids of the request this task is serving (fresh ones outside a request).
    pub fn current() -> RequestIds {
        CURRENT.try_with(Clone::clone).unwrap_or_else(|_| {
            let id = uuid::Uuid::new_v4().to_string();
            RequestIds { request_id: id.clone(), client_request_id: id }
        })
    }

    /// The correlation id of what this request writes: Graph's client request id
    /// (the client's `client-request-id` when it is a GUID, else this request's new
    /// GUID, which the response echoes as `client-request-id` when none was sent).
    pub fn correlation_id(&self) -> uuid::Uuid {
        uuid::Uuid::parse_str(&self.client_request_id)
            .or_else(|_| uuid::Uuid::parse_str(&self.request_id))
            .unwrap_or_else(|_| uuid::Uuid::new_v4())
    }
}

pub async fn graph_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let ids = RequestIds { request_id, client_request_id };
    // Which instance answered: behind a load balancer, the operator's (and the
    // cluster tests') way to see who served a request.
    let instance = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .and_then(|state| HeaderValue::from_str(state.store.instance()).ok());
    let mut response = CURRENT.scope(ids.clone(), next.call(req)).await?;
    let headers = response.headers_mut();
    for (name, value) in [
        ("request-id", ids.request_id.as_str()),
        ("client-request-id", ids.client_request_id.as_str()),
        ("odata-version", "4.0"),
        ("x-auditgraph-version", env!("CARGO_PKG_VERSION")),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    if let Some(instance) = instance {
        headers.insert(HeaderName::from_static("x-auditgraph-instance"), instance);
    }
    // The identity endpoints set their own (token responses must not be stored).
    if !headers.contains_key(actix_web::http::header::CACHE_CONTROL) {
        headers.insert(actix_web::http::header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    Ok(response)
}
