//! Who is calling: the credentials and the address a request came with, read
//! the same way at every door, then checked by `auth` against the operation.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use crate::auth::{AuthError, Operation, Principal};
use crate::state::AppState;

/// The caller as the transport saw it: the `Authorization` value (a header over
/// HTTP, the `connection_init` payload over a WebSocket) and the peer address.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    authorization: Option<String>,
    ip_address: Option<String>,
}

impl Caller {
    /// The caller of an HTTP request.
    pub fn of(req: &HttpRequest) -> Caller {
        Caller {
            authorization: req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string),
            ip_address: client_ip(req),
        }
    }

    /// The same peer, with credentials that came another way (a WebSocket's
    /// `connection_init` payload).
    pub fn with_authorization(self, authorization: Option<String>) -> Caller {
        Caller { authorization, ..self }
    }

    /// The raw `Authorization` value, if any.
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The client's address (without the port), as `actor.ipAddress` records it.
    pub fn ip_address(&self) -> Option<&str> {
        self.ip_address.as_deref()
    }

    /// The caller's principal, if its token allows `operation`. With auth off,
    /// a stand-in application that may do anything.
    pub fn authorize(&self, state: &AppState, operation: Operation) -> Result<Principal, AuthError> {
        let principal = self.principal(state)?;
        principal.authorize(operation)?;
        Ok(principal)
    }

    /// The caller's principal from a verified token, before any permission
    /// check (the workloads check per call). With auth off, the stand-in.
    pub fn principal(&self, state: &AppState) -> Result<Principal, AuthError> {
        match &state.verifier {
            None => Ok(Principal::auth_disabled()),
            Some(verifier) => verifier.verify(self.authorization()),
        }
    }
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Ready<Result<Caller, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Caller::of(req)))
    }
}

/// The TCP peer, or what the `--trusted-proxy` proxies in front of it forwarded.
fn client_ip(req: &HttpRequest) -> Option<String> {
    let trusted =
        req.app_data::<web::Data<AppState>>().map(|s| s.trusted_proxies.as_slice()).unwrap_or_default();
    super::forwarded::client_ip(req, trusted).map(|ip| ip.to_string())
}
