//! The GraphQL door at `/graphql`, over the same store, filter engine, write path and
//! permissions as the Graph REST surface.
//!
//! - `types`: the scalars `DateTime` and `UUID`; the object types are the domain's own
//!   (`domain::AuditEvent` and its parts derive `SimpleObject`).
//! - `inputs`: typed filters and orderings (converted into the same `odata::Filter`
//!   the `filter` argument parses to), and mutation inputs (converted into the Graph
//!   JSON body that REST validates).
//! - `query`, `mutation`, `subscription`: the three roots; `connection`: Relay paging
//!   on the store's keyset cursors, forwards and backwards; `nodes`: a page's events
//!   rendered to JSON from a plan of their selection; `loader`: batch loading.
//! - `json`: the HTTP door's responses, with those renderings copied in.
//! - `error`: `ApiError`/`AuthError` → `extensions.code`.
//! - `spec`: responses in the query's order, failed nullable fields `null` (async-graphql
//!   departs from the specification there).
//! - `http`: POST execution, the websocket (graphql-transport-ws), the explorer page.
//!
//! Every operation that touches events authorises the caller as REST does: queries
//! and subscriptions need read permission, mutations write permission. Introspection
//! needs no token (the schema is public: `schema/auditgraph.graphql`).

mod connection;
mod error;
mod explorer;
mod http;
mod inputs;
mod json;
pub(crate) mod limits;
mod loader;
mod mutation;
mod nodes;
mod query;
mod spec;
mod subscription;
mod types;

use actix_web::web;
use async_graphql::{Context, Schema, SchemaBuilder};

use crate::auth::{AuthError, Operation, Principal};
use crate::http::Caller;
use crate::state::AppState;

pub use error::ErrorCodes;
pub use http::configure;
pub use limits::{MAX_BATCH, MAX_SELECTIONS};

pub type AuditSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Deepest selection accepted. The schema has no cycles, so data queries stay under 7
/// levels; introspection (`ofType { ofType … }`, 14 levels in GraphiQL's query) is
/// what needs the headroom.
pub const MAX_DEPTH: usize = 16;
/// Largest complexity accepted: a field costs 1, and a connection's selection costs
/// once per requested edge, so one full page of whole events (about 40 per event at
/// `first: 1000`) fits, a few aliased pages do not.
pub const MAX_COMPLEXITY: usize = 50_000;
/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 50;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .extension(ErrorCodes)
        .extension(limits::Admission::default())
        .extension(spec::SpecResponse)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The executable schema, holding the application state its resolvers use.
pub fn schema(state: web::Data<AppState>) -> AuditSchema {
    builder().data(state).finish()
}

/// The schema in SDL: the contract kept in `schema/auditgraph.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<web::Data<AppState>>()
}

/// The caller, if it may perform `operation`: the same verification and rules as REST.
fn authorize(ctx: &Context<'_>, operation: Operation) -> Result<Principal, AuthError> {
    ctx.data_opt::<Caller>().cloned().unwrap_or_default().authorize(state(ctx), operation)
}
