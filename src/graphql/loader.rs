//! Batch loading of events by id. Every `auditEvent(id:)` of one request (aliases,
//! or several operations of a batch) is answered by one store page over
//! `id in (…)`: the events statement plus one per child table, however many ids.
//! async-graphql's `DataLoader` hands over at most 1,000 ids at a time, the bound
//! `$filter` puts on its values, so the `IN` list stays one of that size.
//! (A connection's page already reads its children in one statement per table.)

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::web;
use async_graphql::dataloader::Loader;

use crate::domain::AuditEvent;
use crate::odata::{EventField, Field, Filter, Literal};
use crate::state::AppState;
use crate::store::{PageRequest, default_order};

pub struct EventLoader {
    pub state: web::Data<AppState>,
}

impl Loader<String> for EventLoader {
    type Value = AuditEvent;
    type Error = Arc<anyhow::Error>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, AuditEvent>, Self::Error> {
        let filter = Filter::In {
            field: Field::Event(EventField::Id),
            values: ids.iter().cloned().map(Literal::String).collect(),
        };
        // `in` compares ids case-insensitively, as `$filter` does; ids differing only
        // in case are rare, so one page of the usual maximum holds every match.
        let limit = (ids.len() as u64).max(self.state.max_page_size);
        let page = self
            .state
            .store
            .page(&PageRequest {
                filter: Some(&filter),
                order: &default_order(),
                after: None,
                offset: 0,
                limit,
                not_before: self.state.retention_start(),
                scan: false,
            })
            .await
            .map_err(Arc::new)?;
        // Keyed by the exact id, so `auditEvent(id:)` matches ids exactly, as REST's GET does.
        Ok(page.events.iter().map(|e| (e.id.clone(), e.event.clone())).collect())
    }
}
