//! auditgraph patch: how the HTTP/1 dispatcher answers what never reaches a
//! service (a request head it cannot parse or that is too large, a head that
//! does not arrive in time, its own broken state). Upstream answers these with an empty body; an
//! application that promises one error shape on every response installs a
//! [`Refusal`] responder once, at start-up.

use std::sync::OnceLock;

use crate::{body::BoxBody, error::ParseError, Response, StatusCode};

/// Why the dispatcher refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request line or a header is malformed (400).
    Malformed,
    /// The URI is not a valid URI, or is longer than `http::Uri` holds (400).
    Uri,
    /// The head is larger than the dispatcher buffers (431).
    HeadTooLarge,
    /// The head did not arrive within the client request timeout (408).
    Timeout,
    /// The dispatcher's own state went wrong (500).
    Internal,
}

impl Refusal {
    pub(crate) fn of(err: &ParseError) -> Self {
        match err {
            ParseError::TooLarge => Refusal::HeadTooLarge,
            ParseError::Uri(_) => Refusal::Uri,
            _ => Refusal::Malformed,
        }
    }

    /// The status upstream answers with.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Malformed | Refusal::Uri => StatusCode::BAD_REQUEST,
            Refusal::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Refusal::Timeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Builds the response to a refusal.
pub type Responder = fn(Refusal) -> Response<BoxBody>;

static RESPONDER: OnceLock<Responder> = OnceLock::new();

/// Installs the process's responder; the first one installed stays.
pub fn set_refusal_responder(responder: Responder) {
    let _ = RESPONDER.set(responder);
}

/// The response to send, split as the dispatcher sends it.
pub(crate) fn respond(refusal: Refusal) -> (Response<()>, BoxBody) {
    match RESPONDER.get() {
        Some(responder) => responder(refusal).into_parts(),
        None => (Response::with_body(refusal.status(), ()), BoxBody::new(())),
    }
}
