//! What actix-http refuses before any service runs: a head it cannot parse
//! (control or non-ASCII bytes in the URL, a malformed header), a URI longer
//! than `http::Uri`'s 65,534 bytes, a head over 128 KiB or 96 headers, a head
//! that does not arrive in time. Those answers are in Graph's envelope too,
//! through the hook auditgraph's patch adds to actix-http (vendor/actix-http).

use actix_http::body::BoxBody;
use actix_http::h1::Refusal;
use actix_web::http::header::{HeaderName, HeaderValue};

use super::RequestIds;

/// Installs the responder for the whole process (once; later calls keep it).
pub fn install_refusals() {
    actix_http::h1::set_refusal_responder(respond);
}

fn respond(refusal: Refusal) -> actix_http::Response<BoxBody> {
    let (code, message) = match refusal {
        Refusal::Uri => (
            "BadRequest",
            "The request URL is not valid: it is longer than 65,534 bytes, or holds bytes a URL may not \
             (percent-encode spaces, control characters and non-ASCII text).",
        ),
        Refusal::Malformed => (
            "BadRequest",
            "The request could not be read: its request line or a header is malformed \
             (control characters, or non-ASCII bytes where HTTP allows none).",
        ),
        Refusal::HeadTooLarge => (
            "RequestHeaderFieldsTooLarge",
            "The request's URL and headers together exceed 131,072 bytes, or it sends more than 96 headers.",
        ),
        Refusal::Timeout => ("RequestTimeout", "The request's headers did not arrive in time."),
        Refusal::Internal => ("UnknownError", "The request could not be read."),
    };
    let fresh = uuid::Uuid::new_v4().to_string();
    let ids = RequestIds { request_id: fresh.clone(), client_request_id: fresh };
    let body = crate::error::envelope_for(&ids, code, message).to_string();
    let mut response = actix_http::Response::with_body(refusal.status(), BoxBody::new(body));
    let headers = response.headers_mut();
    headers.insert(
        actix_web::http::header::CONTENT_TYPE,
        HeaderValue::from_static(crate::domain::graph::JSON_CONTENT_TYPE),
    );
    let id = HeaderValue::from_str(&ids.request_id).expect("a GUID is a header value");
    for name in ["request-id", "client-request-id"] {
        headers.insert(HeaderName::from_static(name), id.clone());
    }
    response
}
