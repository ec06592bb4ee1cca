//! Why a request was refused, with Graph's exact status, code and message
//! (identity.md §10, graph-audit-events.md §5). The doors wrap these in their
//! own envelope: REST in Graph's `{"error":{code,message,innerError}}`,
//! GraphQL in `extensions.code`.

use actix_web::http::StatusCode;
use uuid::Uuid;

use super::PrincipalKind;
use crate::directory::well_known::permissions::{
    DEVICE_MANAGEMENT_APPS_READ_ALL, DEVICE_MANAGEMENT_APPS_READWRITE_ALL,
};

/// Graph's 401 challenge (identity.md §10), verbatim. Never a claims
/// challenge: kiota would retry with the decoded claims (CAE).
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"";

/// The Intune backend URL quoted in `_version: 3` messages when the door
/// gives none.
pub const DEFAULT_INTUNE_URL: &str = "https://fef.msua01.manage.microsoft.com/StatelessAuditingFEService/deviceManagement/auditEvents?api-version=2022-06-14";

/// What the caller tried to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// List, get, getAuditCategories, getAuditActivityTypes, subscriptions.
    Read,
    /// Create, update, delete.
    Write,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header, another scheme, or an empty bearer.
    #[error("no access token")]
    MissingToken,
    /// Not a compact JWS (three base64url parts with JSON header and payload).
    #[error("the access token is not a compact JWT")]
    MalformedToken,
    /// Signature, algorithm, lifetime, audience, issuer or tenant check failed.
    /// The string says which, for logs only; clients get Graph's generic text.
    #[error("access token validation failure: {0}")]
    InvalidToken(String),
    /// A valid token without the needed permission or Intune role.
    #[error("{} may not {:?} audit events", if .0.principal == PrincipalKind::Application { "application" } else { "user" }, .0.operation)]
    Forbidden(Forbidden),
}

/// Details of a 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    pub principal: PrincipalKind,
    pub operation: Operation,
    /// Intune's "Activity ID"; defaults to a fresh GUID. Doors may set the
    /// request id instead ([`AuthError::with_activity_id`]).
    pub activity_id: Uuid,
    /// Intune's "Url" (the backend URL of the call).
    pub url: String,
    /// The permissions that would do, when the call is not an auditEvents one.
    pub scopes: Option<&'static [&'static str]>,
}

impl AuthError {
    /// A 403 for `principal` attempting `operation`.
    pub fn forbidden(principal: PrincipalKind, operation: Operation) -> Self {
        AuthError::Forbidden(Forbidden {
            principal,
            operation,
            activity_id: Uuid::new_v4(),
            url: DEFAULT_INTUNE_URL.to_string(),
            scopes: None,
        })
    }

    /// The 403 of a workload call needing one of `scopes`, at Intune's `url`.
    pub fn forbidden_for(principal: PrincipalKind, scopes: &'static [&'static str], url: String) -> Self {
        AuthError::Forbidden(Forbidden {
            principal,
            operation: Operation::Write,
            activity_id: Uuid::new_v4(),
            url,
            scopes: Some(scopes),
        })
    }

    /// 401 or 403.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// Graph's `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Forbidden(_) => "Forbidden",
            _ => "InvalidAuthenticationToken",
        }
    }

    /// Graph's `error.message`. For 403 it is Intune's `_version: 3` JSON
    /// document serialised into a string, as real Intune responses carry.
    pub fn message(&self) -> String {
        match self {
            AuthError::Forbidden(f) => intune_error_message(&format!(
                "{} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {} - Url: {}",
                self.reason(),
                f.activity_id,
                f.url
            )),
            _ => self.reason(),
        }
    }

    /// The refusal in plain words: Graph's 401 texts, and for 403 the sentence
    /// Intune's `_version: 3` document wraps (doors without Intune's envelope, such
    /// as GraphQL, show this).
    pub fn reason(&self) -> String {
        match self {
            AuthError::MissingToken => "Access token is empty.".to_string(),
            AuthError::MalformedToken => "CompactToken parsing failed with error code: 80049217".to_string(),
            AuthError::InvalidToken(_) => "Access token validation failure.".to_string(),
            AuthError::Forbidden(Forbidden {
                principal: PrincipalKind::Application,
                scopes: Some(scopes),
                ..
            }) => {
                format!(
                    "Application is not authorized to perform this operation. Application must have one of the following scopes: {}",
                    scopes.join(", ")
                )
            }
            AuthError::Forbidden(f) => match (f.principal, f.operation) {
                (PrincipalKind::Application, Operation::Read) => format!(
                    "Application is not authorized to perform this operation. Application must have one of the following scopes: {DEVICE_MANAGEMENT_APPS_READ_ALL}, {DEVICE_MANAGEMENT_APPS_READWRITE_ALL}"
                ),
                (PrincipalKind::Application, Operation::Write) => format!(
                    "Application is not authorized to perform this operation. Application must have one of the following scopes: {DEVICE_MANAGEMENT_APPS_READWRITE_ALL}"
                ),
                (PrincipalKind::User, _) => "User is not authorized to perform this operation".to_string(),
            },
        }
    }

    /// The `WWW-Authenticate` header value for 401s; `None` for 403.
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            AuthError::Forbidden(_) => None,
            _ => Some(WWW_AUTHENTICATE),
        }
    }

    /// Sets Intune's Activity ID (e.g. to the request id). No effect on 401s.
    pub fn with_activity_id(mut self, id: Uuid) -> Self {
        if let AuthError::Forbidden(f) = &mut self {
            f.activity_id = id;
        }
        self
    }
}

/// Wraps `message` in Intune's nested `_version: 3` document
/// (graph-audit-events.md §5.2): `\r\n` line breaks, two-space indent, the
/// same keys in the same order. Reusable for Intune's 404/429/500 texts.
pub fn intune_error_message(message: &str) -> String {
    // serde_json escapes quotes and backslashes exactly as .NET does here.
    let quoted = serde_json::Value::String(message.to_string()).to_string();
    format!(
        "{{\r\n  \"_version\": 3,\r\n  \"Message\": {quoted},\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": \"{{}}\"\r\n}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_message_is_intune_version_3() {
        let id = Uuid::parse_str("9567c8a9-89e5-4fc7-bb4a-3558aa3df883").expect("uuid");
        let err = AuthError::forbidden(PrincipalKind::Application, Operation::Read).with_activity_id(id);
        let msg = err.message();
        assert!(msg.starts_with("{\r\n  \"_version\": 3,\r\n  \"Message\": \"Application is not authorized"));
        let doc: serde_json::Value = serde_json::from_str(&msg).expect("the message is JSON");
        assert_eq!(doc["_version"], 3);
        assert_eq!(
            doc["Message"],
            format!(
                "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementApps.Read.All, DeviceManagementApps.ReadWrite.All - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {id} - Url: {DEFAULT_INTUNE_URL}"
            )
        );
        assert_eq!(doc["HttpHeaders"], "{}");
        assert!(doc["RetryAfter"].is_null());
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        assert_eq!(err.www_authenticate(), None);
    }

    #[test]
    fn unauthorized_texts() {
        assert_eq!(AuthError::MissingToken.message(), "Access token is empty.");
        assert_eq!(
            AuthError::MalformedToken.message(),
            "CompactToken parsing failed with error code: 80049217"
        );
        assert_eq!(AuthError::InvalidToken("x".into()).message(), "Access token validation failure.");
        assert_eq!(AuthError::MissingToken.code(), "InvalidAuthenticationToken");
        assert!(!WWW_AUTHENTICATE.contains("claims"));
    }
}
