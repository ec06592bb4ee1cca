//! The subscription root. `auditEventCreated` listens to the recorder's feed of
//! committed changes, so it hears every new event whichever door wrote it (REST,
//! GraphQL, import, seed), and decides delivery with `odata::eval`, the in-memory
//! evaluator that defines what the SQL filter means. `auditEventFeed` reads the
//! store in commit order instead, from a cursor, so a subscriber that reconnects
//! resumes where it stopped: nothing missed, nothing twice.

use std::time::Duration;

use actix_web::web;
use async_graphql::{Context, SimpleObject, Subscription};
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

/// An event of `auditEventFeed`, with the cursor to resume after it.
#[derive(SimpleObject)]
pub struct AuditEventFeedItem {
    /// Pass as `after` to resume the feed after this event (opaque).
    cursor: String,
    event: AuditEvent,
}

/// Events read from the store per step of a feed.
const FEED_PAGE: u64 = 200;
/// How often an idle feed looks at the store when nothing announced a change.
const FEED_POLL: Duration = Duration::from_millis(500);

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

    /// Every event committed after `after` (a cursor from an earlier item;
    /// without it, from now on) that matches `filter` and `where`, in commit
    /// order, each with its cursor. Reconnecting with the last cursor received
    /// resumes with nothing missed and nothing twice, whichever instance of a
    /// cluster serves it. An event replaced through PUT or PATCH comes again
    /// with its new content. Ends, with an UNAUTHENTICATED error, when the token expires.
    async fn audit_event_feed(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        filter: Option<String>,
        #[graphql(name = "where")] typed: Option<AuditEventFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AuditEventFeedItem>> + use<>> {
        let principal = authorize(ctx, Operation::Read)?;
        let filter = combined_filter(filter.as_deref(), typed.as_ref())?;
        let state = ctx.data_unchecked::<web::Data<AppState>>().clone();
        let start = match after.as_deref() {
            Some(cursor) => cursor.trim().parse::<i64>().ok().filter(|s| *s >= 0).ok_or_else(|| {
                coded(Code::BadUserInput, format!("'{cursor}' is not a cursor of auditEventFeed."))
            })?,
            None => state.store.max_seq().await.map_err(|e| coded(Code::Internal, format!("{e:#}")))?,
        };
        let left = (principal.expires_at - chrono::Utc::now()).to_std().unwrap_or_default();
        let expires = tokio::time::Instant::now().checked_add(left);
        // Any change announced here is a reason to look (the poll covers the rest).
        let changes = state.recorder.subscribe();
        let pending: std::collections::VecDeque<(i64, AuditEvent)> = Default::default();
        Ok(futures_util::stream::unfold(Some((start, pending, changes)), move |feed| {
            let filter = filter.clone();
            let state = state.clone();
            async move {
                let (mut last, mut pending, mut changes) = feed?;
                loop {
                    if let Some((seq, event)) = pending.pop_front() {
                        last = seq;
                        let visible =
                            Ticks::from_datetime(event.activity_date_time) >= state.retention_start();
                        if !visible || filter.as_ref().is_some_and(|f| !eval::matches(f, &event)) {
                            continue;
                        }
                        let item = AuditEventFeedItem { cursor: seq.to_string(), event };
                        return Some((Ok(item), Some((last, pending, changes))));
                    }
                    match state.store.events_after(last, FEED_PAGE).await {
                        Ok(events) if !events.is_empty() => {
                            pending.extend(events);
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => return Some((Err(coded(Code::Internal, format!("{e:#}"))), None)),
                    }
                    let wait = async {
                        tokio::select! {
                            _ = changes.recv() => {}
                            _ = tokio::time::sleep(FEED_POLL) => {}
                        }
                    };
                    match expires {
                        Some(at) => {
                            if tokio::time::timeout_at(at, wait).await.is_err() {
                                let expired = coded(
                                    Code::Unauthenticated,
                                    "The access token has expired: subscribe again with a new one, after the last cursor received.",
                                );
                                return Some((Err(expired), None));
                            }
                        }
                        None => wait.await,
                    }
                }
            }
        }))
    }
}
