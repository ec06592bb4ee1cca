//! Relay connections over the store's keyset paging, in both directions.
//!
//! An edge's cursor is the REST `$skiptoken` of the position just after it: the
//! event's sort values and id, HMAC-signed and bound to the filter and order, so a
//! cursor works on every instance sharing the paging key and is refused (as
//! BAD_USER_INPUT) with another filter or order.
//!
//! Forwards (`first`/`after`) is the store's page as is. Backwards (`last`/`before`)
//! reads the page after `before` in the reversed order (every key, and so the `id`
//! tiebreak, flipped), then reverses the rows: keyset paging stays exact and costs
//! the same in both directions, with no offset.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};

use super::nodes::{Node, Nodes};
use super::{DEFAULT_PAGE_SIZE, state};
use crate::error::ApiError;
use crate::odata::{Filter, OrderKey};
use crate::paging::query_hash;
use crate::state::AppState;
use crate::store::{CachedEvent, Cursor, PageRequest, sort_values};

/// What a client asked of a connection, checked.
pub struct PageArgs {
    pub filter: Option<Filter>,
    pub order: Vec<OrderKey>,
    pub size: u64,
    pub backwards: bool,
    /// The decoded `after` (forwards) or `before` (backwards) cursor.
    pub from: Option<Cursor>,
}

impl PageArgs {
    /// Checks the Relay arguments. `first`/`after` page forwards, `last`/`before`
    /// backwards; mixing the two directions is refused rather than half-honoured.
    pub fn new(
        state: &AppState,
        filter: Option<Filter>,
        order: Vec<OrderKey>,
        (first, after): (Option<i32>, Option<String>),
        (last, before): (Option<i32>, Option<String>),
    ) -> Result<PageArgs, ApiError> {
        let backwards = last.is_some() || before.is_some();
        if backwards && (first.is_some() || after.is_some()) {
            return Err(ApiError::bad_request(
                "Page forwards with first/after or backwards with last/before, not both at once.",
            ));
        }
        let (count, name, cursor) = if backwards { (last, "last", before) } else { (first, "first", after) };
        let size = match count {
            None => DEFAULT_PAGE_SIZE.min(state.max_page_size),
            Some(n) if n < 0 => {
                return Err(ApiError::bad_request(format!("'{name}' must not be negative (it is {n}).")));
            }
            Some(n) if n as u64 > state.max_page_size => {
                return Err(ApiError::bad_request(format!(
                    "'{name}' is {n}, more than the largest page, {}.",
                    state.max_page_size
                )));
            }
            Some(n) => n as u64,
        };
        let hash = query_hash(filter.as_ref(), &order);
        let from = match cursor {
            Some(token) => Some(
                state
                    .paging_key
                    .decode(&token, &hash)
                    .map_err(|_| ApiError::bad_request(format!("The cursor '{token}' is not valid for this query: it was altered, or it belongs to another filter or order.")))?,
            ),
            None => None,
        };
        Ok(PageArgs { filter, order, size, backwards, from })
    }

    /// Reads the page and builds the connection.
    pub async fn load(self, state: &AppState) -> Result<AuditEventConnection, ApiError> {
        let read_order: Vec<OrderKey> = if self.backwards {
            self.order.iter().map(|k| OrderKey { field: k.field, descending: !k.descending }).collect()
        } else {
            self.order.clone()
        };
        let page = state
            .store
            .page(&PageRequest {
                filter: self.filter.as_ref(),
                order: &read_order,
                after: self.from.as_ref(),
                offset: 0,
                limit: self.size,
                not_before: state.retention_start(),
                scan: false,
            })
            .await?;
        let mut events = page.events;
        let more = page.next.is_some();
        // Rows before the cursor, nearest first; reversed, they are in the client's order.
        let (has_previous_page, has_next_page) = if self.backwards {
            events.reverse();
            (more, self.from.is_some())
        } else {
            (self.from.is_some(), more)
        };
        let cursors =
            Arc::new(Cursors { hash: query_hash(self.filter.as_ref(), &self.order), order: self.order });
        let page_info = PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor: events.first().map(|e| cursors.of(state, e)),
            end_cursor: events.last().map(|e| cursors.of(state, e)),
        };
        Ok(AuditEventConnection { events, cursors, page_info, filter: self.filter })
    }
}

/// What an edge's cursor is made from; each one is signed only if asked for.
struct Cursors {
    hash: String,
    order: Vec<OrderKey>,
}

impl Cursors {
    fn of(&self, state: &AppState, e: &CachedEvent) -> String {
        state.paging_key.encode(&self.hash, &sort_values(&self.order, e))
    }
}

/// The counts one request has made, by filter: aliases of `totalCount` (or of
/// a connection with the same filter) cost one count statement, not one each.
#[derive(Default)]
pub struct Counts(std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::OnceCell<u64>>>>);

impl Counts {
    fn of(&self, filter: Option<&Filter>) -> Arc<tokio::sync::OnceCell<u64>> {
        let key = format!("{filter:?}");
        self.0.lock().expect("counts").entry(key).or_default().clone()
    }
}

/// A page of events (Relay connection).
pub struct AuditEventConnection {
    events: Vec<Arc<CachedEvent>>,
    cursors: Arc<Cursors>,
    page_info: PageInfo,
    filter: Option<Filter>,
}

#[Object]
impl AuditEventConnection {
    async fn edges(&self) -> Vec<AuditEventEdge> {
        self.events
            .iter()
            .map(|e| AuditEventEdge { event: e.clone(), cursors: self.cursors.clone() })
            .collect()
    }

    /// The events of `edges`, without cursors.
    async fn nodes(&self) -> Nodes {
        Nodes(self.events.clone())
    }

    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many events match the filters, on every page (one extra count statement,
    /// only when selected; once per filter in a request, however often it is asked).
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let state = state(ctx);
        let count = || async {
            state.store.count(self.filter.as_ref(), state.retention_start()).await.map_err(ApiError::Internal)
        };
        Ok(match ctx.data_opt::<Arc<Counts>>() {
            Some(counts) => *counts.of(self.filter.as_ref()).get_or_try_init(count).await?,
            None => count().await?,
        })
    }
}

pub struct AuditEventEdge {
    event: Arc<CachedEvent>,
    cursors: Arc<Cursors>,
}

#[Object]
impl AuditEventEdge {
    /// Opaque; pass it as `after` (or `before`) to continue from this event.
    async fn cursor(&self, ctx: &Context<'_>) -> String {
        self.cursors.of(state(ctx), &self.event)
    }

    async fn node(&self) -> Node {
        Node(self.event.clone())
    }
}

/// Relay's page information. With `first`/`after`, `hasPreviousPage` is true when
/// `after` was given; with `last`/`before`, `hasNextPage` is true when `before` was.
#[derive(SimpleObject)]
pub struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}
