//! The query root: events (a Relay connection, filtered by OData text and/or typed
//! conditions), one event by id, and the two vocabulary functions.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};

use super::connection::{AuditEventConnection, PageArgs};
use super::inputs::{AuditEventFilter, AuditEventOrder, combined_filter};
use super::loader::EventLoader;
use super::{DEFAULT_PAGE_SIZE, authorize, state};
use crate::auth::Operation;
use crate::domain::AuditEvent;
use crate::domain::vocabulary::CATEGORIES;
use crate::error::ApiError;
use crate::store::default_order;

pub struct Query;

#[Object]
impl Query {
    /// Events, newest first unless `orderBy` says otherwise. `filter` is OData
    /// `$filter` text (the REST syntax and messages); `where` is the same in typed
    /// form; given both, an event must match both. Page forwards with
    /// `first`/`after`, backwards with `last`/`before` (at most the server's maximum
    /// page size, 1000 by default; 50 when neither is given).
    #[graphql(
        complexity = "(first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize)).max(1) * child_complexity + 1"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<String>,
        #[graphql(name = "where")] typed: Option<AuditEventFilter>,
        order_by: Option<Vec<AuditEventOrder>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        authorize(ctx, Operation::Read)?;
        let state = state(ctx);
        let filter = combined_filter(filter.as_deref(), typed.as_ref())?;
        let order = match order_by {
            Some(keys) if !keys.is_empty() => keys.into_iter().map(Into::into).collect(),
            _ => default_order(),
        };
        let args = PageArgs::new(state, filter, order, (first, after), (last, before))?;
        Ok(args.load(state).await?)
    }

    /// One event. When no event has this id (or it left the retention window) the
    /// field is null with a NOT_FOUND error, as REST answers 404.
    async fn audit_event(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<AuditEvent>> {
        authorize(ctx, Operation::Read)?;
        let loader = ctx.data_unchecked::<Arc<DataLoader<EventLoader>>>();
        match loader.load_one(id.0.clone()).await {
            Ok(Some(event)) => Ok(Some(event)),
            Ok(None) => Err(ApiError::EventNotFound(id.0).into()),
            Err(e) => Err(ApiError::Internal(anyhow::anyhow!("{e:#}")).into()),
        }
    }

    /// The audit categories, in Intune's order (REST's `getAuditCategories`).
    async fn audit_categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<&'static str>> {
        authorize(ctx, Operation::Read)?;
        Ok(CATEGORIES.to_vec())
    }

    /// A category's activity types: Intune's catalogue and every type stored (REST's
    /// `getAuditActivityTypes`).
    async fn audit_activity_types(
        &self,
        ctx: &Context<'_>,
        category: String,
    ) -> async_graphql::Result<Vec<String>> {
        authorize(ctx, Operation::Read)?;
        Ok(state(ctx).activity_types(&category).await.map_err(ApiError::Internal)?)
    }
}
