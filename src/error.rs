//! The one error type of the Graph surface, and its mapping to Graph's error
//! envelope: `{"error":{"code","message","innerError":{"date","request-id",
//! "client-request-id"}}}`. Handlers return `Result<_, ApiError>`; a 5xx is logged
//! with its cause and never echoed.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use chrono::{Duration, Utc};
use serde_json::json;

use crate::odata::ODataError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed request: the message is shown to the client as is.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    OData(#[from] ODataError),
    /// A path Graph does not know, below a valid version.
    #[error("Resource not found for the segment '{0}'.")]
    UnknownSegment(String),
    /// A first path segment that is not a Graph version.
    #[error("Invalid version: {0}")]
    InvalidVersion(String),
    /// An entity that does not exist (Intune answers in its `_version: 3` form).
    #[error("no audit event with id '{0}'")]
    EventNotFound(String),
    /// A create whose id is already stored.
    #[error("{0}")]
    Conflict(String),
    #[error("The requested resource does not support http method '{0}'.")]
    MethodNotAllowed(String),
    #[error("The request body is larger than the limit of {0} bytes.")]
    PayloadTooLarge(usize),
    /// A status and code of its own (the workloads' `ModelValidationFailure`,
    /// their Intune 404s); the message is shown as is.
    #[error("{message}")]
    Coded { status: StatusCode, code: &'static str, message: String },
    #[error("{message}")]
    Auth { status: StatusCode, code: &'static str, message: String, www_authenticate: Option<String> },
    /// Throttled by the emulator's Intune limits (spec graph-audit-events.md §6).
    #[error("Too many requests.")]
    Throttled(Throttled),
    /// A status the emulator's fault rules injected.
    #[error("injected fault {status}")]
    Fault { status: u16, retry_after: Option<u32> },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) | ApiError::UnknownSegment(_) => "BadRequest",
            ApiError::OData(e) if e.status == 406 => "NotAcceptable",
            ApiError::OData(_) => "BadRequest",
            ApiError::InvalidVersion(_) | ApiError::EventNotFound(_) => "ResourceNotFound",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::Conflict(_) => "Conflict",
            ApiError::PayloadTooLarge(_) => "RequestEntityTooLarge",
            ApiError::Auth { code, .. } | ApiError::Coded { code, .. } => code,
            ApiError::Throttled(_) => "TooManyRequests",
            ApiError::Fault { status, .. } => match status {
                502 => "BadGateway",
                503 => "ServiceUnavailable",
                504 => "GatewayTimeout",
                _ => "UnknownError",
            },
            ApiError::Internal(_) => "UnknownError",
        }
    }

    /// The text of `error.message`.
    pub fn message(&self) -> String {
        match self {
            ApiError::EventNotFound(_) => intune_message("An error has occurred"),
            ApiError::Internal(_) => intune_message("An internal server error has occurred"),
            ApiError::Throttled(t) => {
                let early = " The client retried before Retry-After elapsed, so its wait started over.";
                match (t.format, t.early_retry) {
                    (ThrottleFormat::Graph, false) => "Too many requests.".into(),
                    (ThrottleFormat::Graph, true) => format!("Too many requests.{early}"),
                    (ThrottleFormat::Intune, false) => intune_message("An error has occurred"),
                    (ThrottleFormat::Intune, true) => {
                        intune_message(&format!("An error has occurred.{early}"))
                    }
                }
            }
            ApiError::Fault { status: 503, .. } => {
                "The service is temporarily unavailable. Please retry.".into()
            }
            ApiError::Fault { status: 504, .. } => "The request timed out.".into(),
            ApiError::Fault { .. } => intune_message("An internal server error has occurred"),
            other => other.to_string(),
        }
    }
}

/// Intune's backend errors carry a JSON document serialised into `error.message`
/// (spec graph-audit-events.md §5.2); clients that parse it expect this layout.
pub fn intune_message(text: &str) -> String {
    let activity = crate::http::RequestIds::current().request_id;
    crate::auth::intune_error_message(&format!(
        "{text} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {activity} - Url: {}",
        crate::auth::DEFAULT_INTUNE_URL
    ))
}

impl From<crate::store::WriteError> for ApiError {
    fn from(e: crate::store::WriteError) -> Self {
        match e {
            crate::store::WriteError::Conflict(_) | crate::store::WriteError::Changed(_) => {
                ApiError::Conflict(e.to_string())
            }
            crate::store::WriteError::Database(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        tracing::info!(reason = %e, "request refused");
        // Intune's 403 quotes an Activity ID: make it this request's id.
        let e = match uuid::Uuid::parse_str(&crate::http::RequestIds::current().request_id) {
            Ok(id) => e.with_activity_id(id),
            Err(_) => e,
        };
        ApiError::Auth {
            status: e.status(),
            code: e.code(),
            message: e.message(),
            www_authenticate: e.www_authenticate().map(str::to_string),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::UnknownSegment(_) => StatusCode::BAD_REQUEST,
            ApiError::OData(e) => StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            ApiError::InvalidVersion(_) | ApiError::EventNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Auth { status, .. } | ApiError::Coded { status, .. } => *status,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Fault { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::Auth { www_authenticate: Some(value), .. } = self
            && let Ok(value) = HeaderValue::from_str(value)
        {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        let retry_after = match self {
            ApiError::Throttled(t) => t.retry_after_header(),
            ApiError::Fault { retry_after, .. } => retry_after.map(|s| s.to_string()),
            _ => None,
        };
        if let Some(value) = retry_after {
            response.insert_header((header::RETRY_AFTER, value));
        }
        let mut body = envelope(self.code(), &self.message());
        // Model-validation errors repeat their message first in `innerError`.
        if self.code() == "ModelValidationFailure"
            && let Some(inner) = body["error"]["innerError"].as_object_mut()
        {
            let mut with_message = serde_json::Map::new();
            with_message.insert("message".into(), serde_json::Value::String(self.message()));
            with_message.extend(std::mem::take(inner));
            *inner = with_message;
        }
        response.content_type(crate::domain::graph::JSON_CONTENT_TYPE).body(body.to_string())
    }
}

/// The Graph error envelope, carrying the ids of the request being answered.
pub fn envelope(code: &str, message: &str) -> serde_json::Value {
    envelope_for(&crate::http::RequestIds::current(), code, message)
}

/// The envelope for a response made outside a request's task.
pub fn envelope_for(ids: &crate::http::RequestIds, code: &str, message: &str) -> serde_json::Value {
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            }
        }
    })
}

/// How a 429 body reads (spec graph-audit-events.md §5.2, §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThrottleFormat {
    /// Intune's: `error.message` is a `_version: 3` JSON document (what auditEvents returns).
    Intune,
    /// The Graph gateway's: "Too many requests."
    Graph,
}

/// What a 429's `Retry-After` header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryAfterMode {
    /// Whole seconds, at least 1 (every SDK parses it).
    Seconds,
    /// No header at all, as real Intune auditEvents 429s were seen.
    Absent,
    /// Seconds with a fraction (`19.500`): a chaos option; kiota-python fails on it.
    Fractional,
}

/// A refusal: how long the client should wait, and how to say it.
#[derive(Debug, Clone)]
pub struct Throttled {
    pub wait: Duration,
    /// The client came back before its previous wait was over (enforcement on).
    pub early_retry: bool,
    pub format: ThrottleFormat,
    pub retry_after: RetryAfterMode,
}

impl Throttled {
    /// The `Retry-After` header value, if the mode sends one.
    pub fn retry_after_header(&self) -> Option<String> {
        let millis = self.wait.num_milliseconds().max(1);
        match self.retry_after {
            RetryAfterMode::Absent => None,
            // Rounded up, and never 0: kiota-python treats "0" as "no header".
            RetryAfterMode::Seconds => Some(((millis + 999) / 1000).max(1).to_string()),
            RetryAfterMode::Fractional => Some(format!("{}.{:03}", millis / 1000, millis % 1000)),
        }
    }
}
