//! Errors as GraphQL clients see them: a message and `extensions.code`.
//!
//! Resolvers fail with the crate's own errors (`ApiError`, `AuthError`, `ODataError`,
//! `BodyError`); each maps to exactly one code here. async-graphql's
//! `custom-error-conversion` feature removes its blanket `From<impl Display>`, so an
//! error cannot reach a client without passing through this mapping. Errors the
//! request itself causes before any resolver runs (syntax, validation, the depth and
//! complexity limits, argument coercion) get `BAD_USER_INPUT` from [`ErrorCodes`].

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest, NextSubscribe};
use async_graphql::{ErrorExtensionValues, ErrorExtensions, Response};
use futures_util::stream::{BoxStream, StreamExt};

use crate::auth::AuthError;
use crate::domain::graph::BodyError;
use crate::error::ApiError;
use crate::odata::ODataError;

/// The value of `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// No token, or one that failed verification (REST's 401).
    Unauthenticated,
    /// A valid token without the permission or role needed (REST's 403).
    Forbidden,
    /// Anything wrong with the request: syntax, validation, limits, a filter, a body.
    BadUserInput,
    NotFound,
    /// The request ran out of its time budget (`--graphql-timeout-ms`) and was stopped.
    Timeout,
    /// Our fault; logged with its cause, never echoed.
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::NotFound => "NOT_FOUND",
            Code::Timeout => "TIMEOUT",
            Code::Internal => "INTERNAL_SERVER_ERROR",
        }
    }
}

pub fn coded(code: Code, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::EventNotFound(id) => {
                coded(Code::NotFound, format!("No audit event has the id '{id}'."))
            }
            ApiError::Auth { status, message, .. } => {
                let code = if status.as_u16() == 403 { Code::Forbidden } else { Code::Unauthenticated };
                coded(code, message)
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "GraphQL operation failed");
                coded(Code::Internal, "An internal server error has occurred.")
            }
            ApiError::BadRequest(_)
            | ApiError::OData(_)
            | ApiError::UnknownSegment(_)
            | ApiError::InvalidVersion(_)
            | ApiError::Conflict(_)
            | ApiError::MethodNotAllowed(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::Coded { .. } => coded(Code::BadUserInput, e.to_string()),
            // The emulator throttles and injects faults on the Graph routes only;
            // should a GraphQL path ever meet one, it says what happened.
            ApiError::Throttled(_) | ApiError::Fault { .. } => coded(Code::Internal, e.to_string()),
        }
    }
}

impl From<AuthError> for async_graphql::Error {
    fn from(e: AuthError) -> Self {
        tracing::info!(reason = %e, "GraphQL operation refused");
        let code = if e.status().as_u16() == 403 { Code::Forbidden } else { Code::Unauthenticated };
        coded(code, e.reason())
    }
}

impl From<ODataError> for async_graphql::Error {
    fn from(e: ODataError) -> Self {
        ApiError::OData(e).into()
    }
}

impl From<BodyError> for async_graphql::Error {
    fn from(e: BodyError) -> Self {
        ApiError::BadRequest(e.0).into()
    }
}

fn code_request_errors(mut response: Response) -> Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            extensions.set("code", Code::BadUserInput.as_str());
        }
    }
    response
}

/// Gives every error without a code `BAD_USER_INPUT`: resolvers always set one, so
/// what remains are the request's own faults, found before any resolver ran.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        code_request_errors(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(code_request_errors).boxed()
    }
}
