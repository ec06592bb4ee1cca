//! What every request handler shares, created once at startup.

use crate::audit::Recorder;
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
}

impl AppState {
    /// The oldest instant still inside the retention window.
    pub fn retention_start(&self) -> Ticks {
        Ticks::from_datetime(self.clock.now() - chrono::Duration::days(i64::from(self.retention_days)))
    }
}
