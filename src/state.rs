//! What every request handler shares, created once at startup.

use crate::audit::Recorder;
use crate::auth::{Operation, Principal, TokenVerifier};
use crate::clock::Clock;
use crate::domain::Ticks;
use crate::paging::PagingKey;
use crate::store::Store;

pub struct AppState {
    pub store: Store,
    pub recorder: Recorder,
    pub clock: Clock,
    pub paging_key: PagingKey,
    pub max_page_size: u64,
    pub retention_days: u32,
    pub max_body_bytes: usize,
    /// Overrides the request's own origin in links (`--public-base-url`).
    pub public_base_url: Option<String>,
    /// `None` when auth is off (`--auth off`).
    pub verifier: Option<TokenVerifier>,
}

impl AppState {
    /// The caller, if its token allows `operation`. With auth off, a stand-in
    /// application that may do anything.
    pub fn authorize(&self, authorization: Option<&str>, operation: Operation) -> Result<Principal, crate::auth::AuthError> {
        let Some(verifier) = &self.verifier else {
            return Ok(Principal::auth_disabled());
        };
        let principal = verifier.verify(authorization)?;
        principal.authorize(operation)?;
        Ok(principal)
    }

    /// The oldest instant still inside the retention window.
    pub fn retention_start(&self) -> Ticks {
        Ticks::from_datetime(self.clock.now() - chrono::Duration::days(i64::from(self.retention_days)))
    }
}
