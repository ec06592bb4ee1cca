//! What every request handler shares, created once at startup.

use crate::audit::Recorder;
use crate::auth::TokenVerifier;
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
    /// How long one GraphQL request over HTTP may run (`--graphql-timeout-ms`).
    pub graphql_timeout: std::time::Duration,
    /// Proxies whose forwarding headers name the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<crate::http::ProxyRange>,
    /// Overrides the request's own origin in links (`--public-base-url`).
    pub public_base_url: Option<String>,
    /// `None` when auth is off (`--auth off`).
    pub verifier: Option<TokenVerifier>,
}

impl AppState {
    /// A category's activity types: Intune's catalogue, every type the workloads
    /// write, and whatever the store
    /// holds, sorted and deduplicated (`getAuditActivityTypes`, REST and GraphQL).
    pub async fn activity_types(&self, category: &str) -> anyhow::Result<Vec<String>> {
        let mut types = crate::seed::activity_types(category);
        types.extend(
            crate::workloads::activity_types()
                .into_iter()
                .filter(|(c, _)| c.eq_ignore_ascii_case(category))
                .map(|(_, t)| t),
        );
        types.extend(self.store.activity_types(category).await?);
        types.sort();
        types.dedup();
        Ok(types)
    }

    /// The event with this id inside the retention window, or Graph's not-found.
    pub async fn event(&self, id: &str) -> Result<crate::domain::AuditEvent, crate::error::ApiError> {
        self.store
            .get(id, self.retention_start())
            .await?
            .map(|e| e.event.clone())
            .ok_or_else(|| crate::error::ApiError::EventNotFound(id.to_string()))
    }

    /// The oldest instant still inside the retention window.
    pub fn retention_start(&self) -> Ticks {
        Ticks::from_datetime(self.clock.now() - chrono::Duration::days(i64::from(self.retention_days)))
    }
}
