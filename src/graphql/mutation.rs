//! The mutation root: create, update, delete. Each is REST's POST, PATCH and DELETE:
//! write permission, the Graph body validation (`parse_event`/`patch_event`, fed the
//! JSON body the input stands for), and the one write path (`audit::Recorder`), so
//! subscribers hear of GraphQL writes as of any other.

use async_graphql::{Context, ID, Object};

use super::inputs::AuditEventInput;
use super::{authorize, state};
use crate::audit::caller_actor;
use crate::auth::Operation;
use crate::domain::graph::{parse_new_event, patch_event};
use crate::domain::{AuditEvent, truncate_to_ticks};
use crate::error::ApiError;
use crate::http::{Caller, RequestIds};

pub struct Mutation;

#[Object]
impl Mutation {
    /// Records an event. Without `actor`, the caller is the actor (as REST's POST).
    async fn create_audit_event(
        &self,
        ctx: &Context<'_>,
        input: AuditEventInput,
    ) -> async_graphql::Result<AuditEvent> {
        let principal = authorize(ctx, Operation::Write)?;
        let state = state(ctx);
        let now = truncate_to_ticks(state.clock.now());
        let mut event = parse_new_event(
            &input.to_json(),
            || uuid::Uuid::new_v4().to_string(),
            || now,
            || RequestIds::current().correlation_id(),
        )?;
        if event.actor.is_none() {
            let ip = ctx.data_opt::<Caller>().and_then(|c| c.ip_address()).map(str::to_string);
            event.actor = Some(caller_actor(&principal, ip));
        }
        let event = state.recorder.create(event).await.map_err(ApiError::from)?;
        Ok(event)
    }

    /// Changes an event: objects merge member by member, lists replace, `null`
    /// clears (as REST's PATCH).
    async fn update_audit_event(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: AuditEventInput,
    ) -> async_graphql::Result<AuditEvent> {
        authorize(ctx, Operation::Write)?;
        let state = state(ctx);
        let current = state.event(&id).await?;
        let updated = patch_event(&current, &input.to_json())?;
        if !state.recorder.update(updated.clone()).await.map_err(ApiError::from)? {
            return Err(ApiError::EventNotFound(id.0).into());
        }
        Ok(updated)
    }

    /// Deletes an event; answers its id.
    async fn delete_audit_event(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        authorize(ctx, Operation::Write)?;
        let state = state(ctx);
        state.event(&id).await?;
        if !state.recorder.delete(&id).await.map_err(ApiError::Internal)? {
            return Err(ApiError::EventNotFound(id.0).into());
        }
        Ok(id)
    }
}
