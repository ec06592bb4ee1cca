//! The identity platform's error JSON (identity.md §7): `error`,
//! `error_description` (starting `AADSTS<code>: ` and ending with the Trace ID,
//! Correlation ID and Timestamp lines), `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id`, `error_uri`, with the HTTP status Entra uses.
//!
//! Each constructor is one catalogue entry. Texts marked [OBS] in the spec are
//! copied verbatim from real responses; the others follow Entra's public error
//! list (reference-error-codes.md) and real captures seen in client issues.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// One token-service error, before it is stamped with ids and a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub status: StatusCode,
    /// The OAuth `error` value, e.g. `invalid_client`.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The text after `AADSTS<code>: `.
    pub description: String,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} AADSTS{}: {}", self.error, self.code, self.description)
    }
}

impl std::error::Error for TokenError {}

const BAD_REQUEST: StatusCode = StatusCode::BAD_REQUEST;
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;

impl TokenError {
    fn new(status: StatusCode, error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self { status, error, code, description: description.into() }
    }

    /// AADSTS900144 [OBS].
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// AADSTS900561: the token endpoint was called with GET.
    pub fn post_required(method: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_request",
            900561,
            format!("The endpoint only accepts POST requests. Received a {method} request."),
        )
    }

    /// AADSTS90002 [OBS].
    pub fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    /// The same AADSTS90002 as the discovery documents report it.
    pub fn invalid_tenant(tenant: &str) -> Self {
        Self { error: "invalid_tenant", ..Self::tenant_not_found(tenant) }
    }

    /// AADSTS700016 [OBS]: unknown client id.
    pub fn unknown_client(client_id: &str, directory: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// AADSTS7000215 [OBS]: wrong client secret.
    pub fn invalid_client_secret(client_id: &str) -> Self {
        Self::new(
            UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    /// AADSTS7000222 [OBS]: the secret matched but has expired.
    pub fn expired_client_secret(client_id: &str) -> Self {
        Self::new(
            UNAUTHORIZED,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
            ),
        )
    }

    /// AADSTS7000218: a confidential client sent no credential.
    pub fn missing_client_secret() -> Self {
        Self::new(
            UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    }

    /// AADSTS700025: a public client sent a credential.
    pub fn public_client_with_secret() -> Self {
        Self::new(
            UNAUTHORIZED,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        )
    }

    /// AADSTS700027: certificate / federated credentials are not emulated.
    pub fn client_assertion_not_supported() -> Self {
        Self::new(
            UNAUTHORIZED,
            "invalid_client",
            700027,
            "Client assertion failed signature validation. (auditgraph supports client secrets only, not certificate or federated credentials.)",
        )
    }

    /// AADSTS1002012 [OBS]: client credentials without a `/.default` scope.
    pub fn scope_not_default(scope: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    }

    /// AADSTS70011 [SRC]: a scope naming an unknown resource, or an invalid mix.
    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    }

    /// AADSTS70003.
    pub fn unsupported_grant_type(grant_type: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        )
    }

    /// AADSTS9002313: a code or refresh token that is not one of ours.
    pub fn malformed_grant() -> Self {
        Self::new(BAD_REQUEST, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    }

    /// AADSTS70000: a valid grant presented by the wrong client or tenant.
    pub fn grant_mismatch() -> Self {
        Self::new(BAD_REQUEST, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
    }

    /// AADSTS70008: an expired authorization code.
    pub fn expired_code() -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        )
    }

    /// AADSTS54005: an authorization code presented twice.
    pub fn code_already_redeemed() -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        )
    }

    /// AADSTS50148: PKCE verifier does not match the challenge.
    pub fn pkce_mismatch() -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_grant",
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
        )
    }

    /// AADSTS500112: `redirect_uri` at redemption differs from the authorize request.
    pub fn redirect_uri_mismatch(given: &str, expected: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_grant",
            500112,
            format!(
                "The reply address '{given}' does not match the reply address '{expected}' provided when requesting Authorization code."
            ),
        )
    }

    /// AADSTS700082: an expired refresh token.
    pub fn expired_refresh_token(issued: DateTime<Utc>, lifetime_days: i64) -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_grant",
            700082,
            format!(
                "The refresh token has expired due to inactivity. The token was issued on {}.0000000Z and was inactive for {lifetime_days}.00:00:00.",
                issued.format("%Y-%m-%dT%H:%M:%S")
            ),
        )
    }

    /// AADSTS50126 (ROPC and the sign-in form).
    pub fn invalid_credentials() -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        )
    }

    /// AADSTS50034: the user does not exist in the tenant.
    pub fn unknown_user(directory: &str) -> Self {
        Self::new(
            BAD_REQUEST,
            "invalid_grant",
            50034,
            format!(
                "The user account {{EUII Hidden}} does not exist in the {directory} directory. To sign into this application, the account must be added to the directory."
            ),
        )
    }

    /// AADSTS70016: device code not yet approved; clients keep polling.
    pub fn authorization_pending() -> Self {
        Self::new(
            BAD_REQUEST,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )
    }

    /// AADSTS65004: the device code was declined.
    pub fn authorization_declined() -> Self {
        Self::new(BAD_REQUEST, "authorization_declined", 65004, "User declined to consent to access the app.")
    }

    /// AADSTS70020 [OBS]: the device code has expired.
    pub fn device_code_expired() -> Self {
        Self::new(
            BAD_REQUEST,
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        )
    }

    /// AADSTS70018: a device code that is not one of ours, or already used.
    pub fn bad_verification_code() -> Self {
        Self::new(
            BAD_REQUEST,
            "bad_verification_code",
            70018,
            "The provided value for the input parameter 'device_code' is not valid.",
        )
    }

    /// AADSTS50000: something failed on our side (key I/O, signing).
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            "There was an error issuing a token or an authorization code.",
        )
    }

    /// The JSON body and headers, stamped with the request's ids.
    pub fn response(&self, stamp: &ErrorStamp) -> HttpResponse {
        let timestamp = stamp.time.format("%Y-%m-%d %H:%M:%SZ").to_string();
        let body = ErrorBody {
            error: self.error,
            error_description: format!(
                "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
                self.code, self.description, stamp.trace_id, stamp.correlation_id, timestamp
            ),
            error_codes: [self.code],
            timestamp: &timestamp,
            trace_id: &stamp.trace_id,
            correlation_id: &stamp.correlation_id,
            error_uri: format!("https://login.microsoftonline.com/error?code={}", self.code),
        };
        let mut response = HttpResponse::build(self.status);
        no_store_headers(&mut response, stamp);
        json_body(response, &body)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: &'a str,
    trace_id: &'a str,
    correlation_id: &'a str,
    error_uri: String,
}

/// Per-request ids: `trace_id` is fresh; `correlation_id` echoes the client's
/// `client-request-id` (as Entra does) or is fresh too.
#[derive(Debug, Clone)]
pub struct ErrorStamp {
    pub trace_id: String,
    pub correlation_id: String,
    pub time: DateTime<Utc>,
    client_request_id: Option<String>,
}

impl ErrorStamp {
    pub fn from_request(req: &HttpRequest) -> Self {
        let client_request_id = req
            .headers()
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .map(|u| u.hyphenated().to_string());
        Self {
            trace_id: Uuid::new_v4().to_string(),
            correlation_id: client_request_id.clone().unwrap_or_else(|| Uuid::new_v4().to_string()),
            time: Utc::now(),
            client_request_id,
        }
    }
}

/// The caching headers Entra's token endpoint sends on every answer [OBS].
pub fn no_store_headers(response: &mut actix_web::HttpResponseBuilder, stamp: &ErrorStamp) {
    response
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .insert_header((header::EXPIRES, HeaderValue::from_static("-1")))
        .insert_header(("x-ms-request-id", stamp.trace_id.clone()));
    if let Some(id) = &stamp.client_request_id {
        response.insert_header(("client-request-id", id.clone()));
    }
}

/// Serialises `value` as `application/json; charset=utf-8`, the content type
/// Entra sends (actix's `.json()` omits the charset).
pub fn json_body<T: Serialize>(mut builder: actix_web::HttpResponseBuilder, value: &T) -> HttpResponse {
    match serde_json::to_string(value) {
        Ok(text) => builder.content_type("application/json; charset=utf-8").body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise identity response");
            HttpResponse::InternalServerError().finish()
        }
    }
}
