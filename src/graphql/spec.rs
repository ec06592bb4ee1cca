//! Makes async-graphql 7.2.1's responses to queries and mutations follow the
//! GraphQL specification's execution rules ([`SpecResponse`]), which it departs
//! from in three ways:
//!
//! - **Order.** `resolver_utils::container::do_resolve_container` runs an object's
//!   fields as a `FuturesUnordered` and inserts each result into the object as it
//!   completes, so fields come back in completion order (`totalCount nodes
//!   pageInfo` as `nodes, pageInfo, totalCount`). The spec (CollectFields) orders
//!   them as the query does, fragments expanded in place, first occurrence of a
//!   response key winning.
//! - **Errors.** The same function hands a field's error to `add_error` and leaves
//!   the field out of its object (and makes an object whose every field failed
//!   `null`), whatever the field's type. The spec says an erroring field is `null`
//!   when nullable and otherwise makes its parent `null`, up to the nearest
//!   nullable position (or `data` itself).
//! - **`__schema { description }`** is a constant, the text describing the
//!   built-in `__Schema` type (`model/schema.rs`), where the spec wants the
//!   schema's own description. async-graphql's schemas cannot carry one, and
//!   `schema/auditgraph.graphql` declares none, so it is `null`.
//!
//! The extension keeps the executed document (from `parse_query`) and, once the
//! operation has run (`execute`), walks `data` along the operation's selections
//! and the schema's types: each object is rebuilt in the query's order, a field
//! that an error's `path` names and that is missing becomes `null` or nulls its
//! parent as its type says. The walk is bounded by the data and by the selections
//! `limits::Admission` already bounded. Each event of a subscription is rewritten
//! the same way (`subscribe`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextSubscribe,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{Name, PathSegment, Request, Response, ServerResult, Value, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

/// The extension; see the module documentation.
pub struct SpecResponse;

impl ExtensionFactory for SpecResponse {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SpecResponseExtension { seen: Arc::default() })
    }
}

/// What a request executes: its operation's name and its parsed document.
#[derive(Default)]
struct Seen {
    operation: Option<String>,
    document: Option<Arc<ExecutableDocument>>,
}

struct SpecResponseExtension {
    seen: Arc<Mutex<Seen>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for SpecResponseExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.seen.lock().expect("not poisoned").operation.clone_from(&request.operation_name);
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.seen.lock().expect("not poisoned").document = Some(Arc::new(document.clone()));
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let document = self.seen.lock().expect("not poisoned").document.clone();
        if let Some(document) = document {
            conform(&mut response, &document, operation_name, &ctx.schema_env.registry, false);
        }
        response
    }

    /// Each event of a subscription (a query or mutation sent as one has been
    /// conformed by `execute` already).
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let seen = self.seen.clone();
        let env = ctx.schema_env.clone();
        next.run(ctx, stream)
            .map(move |mut response| {
                let (document, operation) = {
                    let seen = seen.lock().expect("not poisoned");
                    (seen.document.clone(), seen.operation.clone())
                };
                if let Some(document) = document {
                    conform(&mut response, &document, operation.as_deref(), &env.registry, true);
                }
                response
            })
            .boxed()
    }
}

/// A step of a response path, comparable with the errors' paths.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    registry: &'a Registry,
    /// The paths of the errors, and every prefix of them.
    errored: HashSet<Vec<Step<'a>>>,
}

/// An object type's selection, collected once for every object of a list (and
/// kept for the objects below them): a page of 50 events collects each
/// selection set once, not 50 times.
struct Shape<'d> {
    fields: Vec<FieldShape<'d>>,
}

struct FieldShape<'d> {
    key: &'d str,
    name: &'d str,
    /// The field's type in the registry's notation (`None`: not in the registry).
    ty: Option<&'d str>,
    sets: Vec<&'d SelectionSet>,
    below: Option<Shape<'d>>,
}

/// Rewrites `response.data` as the specification's execution would have produced it.
pub(crate) fn conform(
    response: &mut Response,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    registry: &Registry,
    subscription: bool,
) {
    let operation = match (operation_name, &document.operations) {
        (Some(name), ops) => ops.iter().find(|(n, _)| n.map(Name::as_str) == Some(name)).map(|(_, op)| op),
        (None, ops) => ops.iter().next().map(|(_, op)| op),
    };
    let Some(operation) = operation else { return };
    let root = match operation.node.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => registry.subscription_type.as_deref(),
    };
    // Each operation is conformed by one hook only.
    if subscription != (operation.node.ty == OperationType::Subscription) {
        return;
    }
    let Some(root) = root else { return };
    let data = std::mem::take(&mut response.data);
    let conformed = {
        let mut walk = Walk { document, registry, errored: HashSet::new() };
        for error in &response.errors {
            let path: Vec<Step> = error
                .path
                .iter()
                .map(|s| match s {
                    PathSegment::Field(key) => Step::Key(key),
                    PathSegment::Index(i) => Step::Index(*i),
                })
                .collect();
            for end in 0..=path.len() {
                walk.errored.insert(path[..end].to_vec());
            }
        }
        let sets = [&operation.node.selection_set.node];
        walk.object(data, root, &sets, &mut None, &mut Vec::new())
    };
    // `data` is null when propagation reaches the root.
    response.data = conformed.unwrap_or(Value::Null);
}

/// A field's type in the registry's notation: `T`, `T!`, `[T]`, `[T!]!`, ….
enum Ty<'t> {
    Named(&'t str),
    List(&'t str),
}

fn split_type(ty: &str) -> (bool, Ty<'_>) {
    let (non_null, ty) = match ty.strip_suffix('!') {
        Some(inner) => (true, inner),
        None => (false, ty),
    };
    match ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(item) => (non_null, Ty::List(item)),
        None => (non_null, Ty::Named(ty)),
    }
}

impl<'a> Walk<'a> {
    /// The response keys of `sets` in the spec's order, each with its fields'
    /// names and sub-selections (fragments expanded where they stand). Type
    /// conditions are not checked: the schema has no interfaces or unions, so a
    /// fragment that passed validation applies to the object it is spread in.
    fn collect(
        &self,
        sets: &[&'a SelectionSet],
        fields: &mut IndexMap<&'a str, (&'a str, Vec<&'a SelectionSet>)>,
        fragments: &mut Vec<&'a str>,
    ) {
        for set in sets {
            for item in &set.items {
                match &item.node {
                    Selection::Field(field) => {
                        let key = field.node.response_key().node.as_str();
                        let entry = fields.entry(key).or_insert((field.node.name.node.as_str(), Vec::new()));
                        entry.1.push(&field.node.selection_set.node);
                    }
                    Selection::InlineFragment(inline) => {
                        self.collect(&[&inline.node.selection_set.node], fields, fragments)
                    }
                    Selection::FragmentSpread(spread) => {
                        let name = spread.node.fragment_name.node.as_str();
                        // Each fragment once per object, as CollectFields does.
                        if fragments.contains(&name) {
                            continue;
                        }
                        fragments.push(name);
                        if let Some(fragment) = self.document.fragments.get(name) {
                            self.collect(&[&fragment.node.selection_set.node], fields, fragments);
                        }
                    }
                }
            }
        }
    }

    /// The fields `sets` select on an object of type `type_name`, in order.
    fn shape(&self, type_name: &str, sets: &[&'a SelectionSet]) -> Shape<'a> {
        let mut fields = IndexMap::new();
        self.collect(sets, &mut fields, &mut Vec::new());
        let meta = self.registry.types.get(type_name);
        let fields = fields
            .into_iter()
            .map(|(key, (name, sets))| FieldShape {
                key,
                name,
                ty: match name {
                    "__typename" => Some("String!"),
                    _ => meta.and_then(|m| m.field_by_name(name)).map(|f| f.ty.as_str()),
                },
                sets,
                below: None,
            })
            .collect();
        Shape { fields }
    }

    /// The object of type `type_name` at `path`, rebuilt; `None` when it must be
    /// null because a non-null field of it failed. `shape` is its selection,
    /// collected here if no object before it did.
    fn object(
        &self,
        value: Value,
        type_name: &str,
        sets: &[&'a SelectionSet],
        shape: &mut Option<Shape<'a>>,
        path: &mut Vec<Step<'a>>,
    ) -> Option<Value> {
        let mut given = match value {
            Value::Object(map) => map,
            // async-graphql makes an object whose fields all failed null: an
            // error below this path tells it from a null the resolver returned.
            Value::Null if self.errored.iter().any(|p| p.len() > path.len() && p.starts_with(path)) => {
                IndexMap::new()
            }
            other => return Some(other),
        };
        let shape = shape.get_or_insert_with(|| self.shape(type_name, sets));
        // Already in the query's order with every field there (as `nodes::Node`
        // answers): only the values below need a look, the object stays as it is.
        let in_order = given.len() == shape.fields.len()
            && given.keys().zip(&shape.fields).all(|(key, field)| key.as_str() == field.key);
        if in_order && type_name != "__Schema" {
            for (value, field) in given.values_mut().zip(&mut shape.fields) {
                let Some(ty) = field.ty else { continue };
                path.push(Step::Key(field.key));
                let completed = self.value(std::mem::take(value), ty, &field.sets, &mut field.below, path);
                path.pop();
                *value = completed?;
            }
            return Some(Value::Object(given));
        }
        let mut taken = vec![false; given.len()];
        let mut out = IndexMap::with_capacity(given.len());
        for field in &mut shape.fields {
            path.push(Step::Key(field.key));
            // The response's own key (a shared `Name`) is reused, not allocated again.
            let found = given.get_index_of(field.key).and_then(|i| {
                taken[i] = true;
                given.get_index_mut(i).map(|(key, value)| (key.clone(), std::mem::take(value)))
            });
            let completed = match found {
                // The spec's __Schema.description: the schema's own, and it has none.
                Some((key, _)) if type_name == "__Schema" && field.name == "description" => {
                    Some((key, Value::Null))
                }
                Some((key, value)) => match field.ty {
                    Some(ty) => self.value(value, ty, &field.sets, &mut field.below, path).map(|v| (key, v)),
                    None => Some((key, value)),
                },
                // Left out because it failed: null, or a null parent if it may not be.
                // (An error below it, in a list's element, left out the whole list.)
                None if self.errored.contains(path.as_slice()) => match field.ty.map(split_type) {
                    Some((true, _)) => None,
                    _ => Some((Name::new(field.key), Value::Null)),
                },
                // Left out by @skip/@include, or a fragment that does not apply.
                None => {
                    path.pop();
                    continue;
                }
            };
            path.pop();
            let (key, value) = completed?;
            out.insert(key, value);
        }
        // Anything not found in the selections keeps its place after them.
        out.extend(given.into_iter().zip(taken).filter(|(_, taken)| !taken).map(|(entry, _)| entry));
        Some(Value::Object(out))
    }

    /// A value of type `ty` at `path`; `None` when it is (or must become) null
    /// where its type forbids it. `below` is the selection of the objects in it,
    /// shared by a list's elements.
    fn value(
        &self,
        value: Value,
        ty: &str,
        sets: &[&'a SelectionSet],
        below: &mut Option<Shape<'a>>,
        path: &mut Vec<Step<'a>>,
    ) -> Option<Value> {
        let (non_null, inner) = split_type(ty);
        let completed = match (inner, value) {
            (Ty::List(item), Value::List(items)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut failed = false;
                for (i, element) in items.into_iter().enumerate() {
                    path.push(Step::Index(i));
                    match self.value(element, item, sets, below, path) {
                        Some(element) => out.push(element),
                        None => failed = true,
                    }
                    path.pop();
                }
                if failed { Value::Null } else { Value::List(out) }
            }
            (Ty::Named(name), value) if sets.iter().any(|s| !s.items.is_empty()) => {
                self.object(value, name, sets, below, path).unwrap_or(Value::Null)
            }
            (_, value) => value,
        };
        if non_null && completed == Value::Null { None } else { Some(completed) }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_graphql::{EmptyMutation, Object, Result, Schema, Subscription};
    use futures_util::{Stream, StreamExt};
    use serde_json::json;

    use super::SpecResponse;

    struct Root;
    struct Item;

    #[Object]
    impl Root {
        async fn slow(&self) -> i32 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            1
        }
        async fn fast(&self) -> i32 {
            2
        }
        async fn maybe(&self) -> Result<Option<i32>> {
            Err("maybe failed".into())
        }
        async fn must(&self) -> Result<i32> {
            Err("must failed".into())
        }
        async fn item(&self) -> Option<Item> {
            Some(Item)
        }
        async fn items(&self) -> Vec<Item> {
            vec![Item, Item]
        }
    }

    #[Object]
    impl Item {
        async fn ok(&self) -> i32 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            3
        }
        async fn bad(&self) -> Result<i32> {
            Err("bad failed".into())
        }
        async fn soft(&self) -> Result<Option<i32>> {
            Err("soft failed".into())
        }
    }

    struct Events;

    #[Subscription]
    impl Events {
        async fn item(&self) -> impl Stream<Item = Item> {
            futures_util::stream::iter([Item, Item])
        }
    }

    fn schema() -> Schema<Root, EmptyMutation, Events> {
        Schema::build(Root, EmptyMutation, Events).extension(SpecResponse).finish()
    }

    async fn run(query: &str) -> serde_json::Value {
        serde_json::to_value(schema().execute(query).await).unwrap()
    }

    /// The body's `data` as text, so that member order counts.
    async fn data(query: &str) -> String {
        run(query).await["data"].to_string()
    }

    #[tokio::test]
    async fn orders_as_the_query_does() {
        assert_eq!(data("{ slow fast }").await, r#"{"slow":1,"fast":2}"#);
        assert_eq!(
            data("{ item { ok __typename } fast }").await,
            r#"{"item":{"ok":3,"__typename":"Item"},"fast":2}"#
        );
        assert_eq!(
            data("{ a: slow ...F b: fast } fragment F on Root { c: fast a: slow }").await,
            r#"{"a":1,"c":2,"b":2}"#
        );
    }

    #[tokio::test]
    async fn a_failed_field_is_null_or_nulls_its_parent() {
        assert_eq!(data("{ maybe fast }").await, r#"{"maybe":null,"fast":2}"#);
        assert_eq!(data("{ maybe }").await, r#"{"maybe":null}"#);
        assert_eq!(data("{ fast must }").await, "null");
        assert_eq!(
            data("{ items { soft ok } }").await,
            r#"{"items":[{"soft":null,"ok":3},{"soft":null,"ok":3}]}"#
        );
        // `bad: Int!` nulls its `Item`; `item` may be null, `items: [Item!]!` may not.
        assert_eq!(data("{ item { ok bad } fast }").await, r#"{"item":null,"fast":2}"#);
        assert_eq!(data("{ fast items { ok bad } }").await, "null");
        // Every error is still reported.
        assert_eq!(run("{ fast items { ok bad } }").await["errors"].as_array().unwrap().len(), 2);
        assert_eq!(run("{ item { bad } }").await["errors"][0]["path"], json!(["item", "bad"]));
    }

    #[tokio::test]
    async fn conforms_each_event_of_a_subscription() {
        let events: Vec<String> = schema()
            .execute_stream(
                async_graphql::Request::new("subscription S { item { soft ok __typename } }")
                    .operation_name("S"),
            )
            .map(|response| serde_json::to_value(response).unwrap()["data"].to_string())
            .collect()
            .await;
        assert_eq!(events, [r#"{"item":{"soft":null,"ok":3,"__typename":"Item"}}"#; 2]);
        // A query sent as a subscription is conformed once, by `execute`.
        let events: Vec<String> = schema()
            .execute_stream("{ maybe slow fast }")
            .map(|response| serde_json::to_value(response).unwrap()["data"].to_string())
            .collect()
            .await;
        assert_eq!(events, [r#"{"maybe":null,"slow":1,"fast":2}"#]);
    }

    #[tokio::test]
    async fn the_schema_has_no_description() {
        assert_eq!(
            data("{ __schema { description queryType { name } } }").await,
            r#"{"__schema":{"description":null,"queryType":{"name":"Root"}}}"#
        );
    }
}
