//! The subscription root. `auditEventCreated` listens to the recorder's feed of
//! committed changes, so it hears every new event whichever door wrote it (REST,
//! GraphQL, import, seed), and decides delivery with `odata::eval`, the in-memory
//! evaluator that defines what the SQL filter means.

use actix_web::web;
use async_graphql::{Context, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::authorize;
use super::error::{Code, coded};
use super::inputs::{AuditEventFilter, combined_filter};
use crate::audit::Change;
use crate::auth::Operation;
use crate::domain::{AuditEvent, Ticks};
use crate::odata::eval;
use crate::state::AppState;

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Every event recorded from now on that matches `filter` (OData `$filter` text)
    /// and `where`, as soon as it is committed. A subscriber too slow to keep up
    /// receives an error naming how many events it missed, then continues. The
    /// subscription ends, with an UNAUTHENTICATED error, when its token expires.
    async fn audit_event_created(
        &self,
        ctx: &Context<'_>,
        filter: Option<String>,
        #[graphql(name = "where")] typed: Option<AuditEventFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AuditEvent>> + use<>> {
        let principal = authorize(ctx, Operation::Read)?;
        let filter = combined_filter(filter.as_deref(), typed.as_ref())?;
        let state = ctx.data_unchecked::<web::Data<AppState>>().clone();
        // A subscription outlives the request that opened it; it must not outlive
        // the token, which a new request would no longer get past.
        // (Already expired, but accepted within the clock skew: ends at once. Auth
        // off: its stand-in never expires, so no deadline.)
        let left = (principal.expires_at - chrono::Utc::now()).to_std().unwrap_or_default();
        let expires = tokio::time::Instant::now().checked_add(left);
        let changes = Some(state.recorder.subscribe());
        Ok(futures_util::stream::unfold(changes, move |changes| {
            let filter = filter.clone();
            let state = state.clone();
            async move {
                let mut changes = changes?;
                loop {
                    let received = match expires {
                        Some(at) => match tokio::time::timeout_at(at, changes.recv()).await {
                            Ok(received) => received,
                            Err(_) => {
                                let expired = coded(
                                    Code::Unauthenticated,
                                    "The access token has expired: subscribe again with a new one.",
                                );
                                return Some((Err(expired), None));
                            }
                        },
                        None => changes.recv().await,
                    };
                    let item = match received {
                        Ok(Change::Created(event)) => {
                            // As REST, never serve what is already outside the retention window.
                            let visible =
                                Ticks::from_datetime(event.activity_date_time) >= state.retention_start();
                            if !visible || filter.as_ref().is_some_and(|f| !eval::matches(f, &event)) {
                                continue;
                            }
                            Ok(event)
                        }
                        Ok(Change::Updated(_) | Change::Deleted(_)) => continue,
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "a GraphQL subscriber fell behind");
                            Err(coded(
                                Code::Internal,
                                format!("This subscription fell behind and missed {missed} events."),
                            ))
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    return Some((item, Some(changes)));
                }
            }
        }))
    }
}
