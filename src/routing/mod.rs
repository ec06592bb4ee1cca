//! Live routing of the audit log to Azure Monitor destinations, as Intune's
//! diagnostic settings do it (azure-monitor.md, live-routing.md §1, §3).
//!
//! - `settings`: the ARM resource (checks, shape, the routes a setting opens);
//!   the ARM door (`arm`) serves it.
//! - The outbox: every committed event gets a row per route in its own write
//!   transaction (`store::routing`), so routing is at-least-once by construction.
//! - `worker`: the delivery loop (windows, leases, retries with back-off,
//!   `flush`), and the faults Azure Monitor shows consumers (`faults`).
//! - `storage`: the storage account destination (append blobs, Shared Key).

pub mod faults;
pub mod settings;
pub mod storage;
mod worker;

pub use worker::Router;

/// A refusal of the ARM door, in ARM's terms: status, `error.code`, `error.message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RoutingError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl RoutingError {
    pub fn bad_request(code: &'static str, message: String) -> Self {
        RoutingError { status: 400, code, message }
    }
}
