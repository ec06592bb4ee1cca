//! What a workload call can fail with, in the application's terms; the REST
//! door maps each to Graph's envelope (intune-workloads.md §4). A failed call
//! has changed nothing and written no audit event.

use crate::auth::AuthError;
use crate::store::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// 400 `ModelValidationFailure`: the body does not fit the model.
    #[error("{0}")]
    ModelValidation(String),
    /// 400 `BadRequest`: a rule of the service (one block action, a built-in).
    #[error("{0}")]
    BadRequest(String),
    /// 400 `No method match route template`: a route the real backend lacks.
    #[error("{0}")]
    NoRoute(String),
    /// 404 `ResourceNotFound`, quoting the Intune service URL of the object.
    #[error("{url}")]
    NotFound { url: String },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}
