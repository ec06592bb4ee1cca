//! The subscription root. `auditEventCreated` listens to the recorder's feed of
//! committed changes, so it hears every new event whichever door wrote it (REST,
//! GraphQL, import, seed), and decides delivery with `odata::eval`, the in-memory
//! evaluator that defines what the SQL filter means.

use actix_web::web;
use async_graphql::{Context, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::error::{Code, coded};
use super::inputs::{AuditEventFilter, combined_filter};
use super::types::Event;
use super::authorize;
use crate::audit::Change;
use crate::auth::Operation;
use crate::domain::Ticks;
use crate::odata::eval;
use crate::state::AppState;

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Every event recorded from now on that matches `filter` (OData `$filter` text)
    /// and `where`, as soon as it is committed. A subscriber too slow to keep up
    /// receives an error naming how many events it missed, then continues.
    async fn audit_event_created(
        &self,
        ctx: &Context<'_>,
        filter: Option<String>,
        #[graphql(name = "where")] typed: Option<AuditEventFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Event>> + use<>> {
        authorize(ctx, Operation::Read)?;
        let filter = combined_filter(filter.as_deref(), typed.as_ref())?;
        let state = ctx.data_unchecked::<web::Data<AppState>>().clone();
        let changes = state.recorder.subscribe();
        Ok(futures_util::stream::unfold(changes, move |mut changes| {
            let filter = filter.clone();
            let state = state.clone();
            async move {
                loop {
                    let item = match changes.recv().await {
                        Ok(Change::Created(event)) => {
                            // As REST, never serve what is already outside the retention window.
                            let visible = Ticks::from_datetime(event.activity_date_time) >= state.retention_start();
                            if !visible || filter.as_ref().is_some_and(|f| !eval::matches(f, &event)) {
                                continue;
                            }
                            Ok(Event::from(&event))
                        }
                        Ok(Change::Updated(_) | Change::Deleted(_)) => continue,
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "a GraphQL subscriber fell behind");
                            Err(coded(Code::Internal, format!("This subscription fell behind and missed {missed} events.")))
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    return Some((item, changes));
                }
            }
        }))
    }
}
