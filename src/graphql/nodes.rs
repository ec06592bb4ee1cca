//! A connection's events, rendered straight to JSON from a plan of their selection.
//!
//! async-graphql resolves every field of a derived object as its own boxed future,
//! through each extension's `resolve` hook, into a `Value` tree of `IndexMap`s
//! that is then walked again and serialised: for a page of 50 whole events that
//! was most of a GraphQL page's cost (README, Benchmarks). An event's fields are
//! plain data that cannot fail, so [`Node`] answers differently (the same type in
//! the schema: it registers as `AuditEvent`):
//!
//! - its selection set is collected once per request into a [`Plan`] (the
//!   specification's CollectFields: fragments expanded in place, a response key's
//!   sub-selections merged, first occurrence first);
//! - each event is rendered from the plan as JSON once and kept with the event
//!   (`Rendered::selection`), named by the plan's text, so the next page that
//!   asks for the same fields copies bytes;
//! - the HTTP door, which writes responses itself (`super::json`), takes the
//!   rendering as it is (`Value::Binary`, which nothing else in this schema
//!   produces); other transports get it as a `Value`.
//!
//! `auditEvent(id:)` and subscriptions still resolve through the derived types,
//! and a test (`graphql_spec::page_nodes_answer_as_single_events`) holds the two
//! to the same answer for a selection of every field introspection lists, so a
//! field added to the domain types and not here fails it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value};

use crate::domain::format_graph_datetime;
use crate::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource, RoleScopeTagInfo};
use crate::store::CachedEvent;

/// An event of a connection page's `edges { node }`.
pub struct Node(pub Arc<CachedEvent>);

/// In a request's data when its response is written by `super::json`, which
/// takes a node's rendering as it is.
pub struct RawNodes;

/// A request's plans, by the selection set they were collected from.
#[derive(Default)]
pub struct Plans(Mutex<HashMap<usize, Arc<Plan>>>);

impl OutputType for Node {
    fn type_name() -> Cow<'static, str> {
        AuditEvent::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        AuditEvent::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        answer(ctx, &plan(ctx), &self.0)
    }
}

/// A connection's `nodes`, answered as one list (`[AuditEvent!]!`, as a `Vec`
/// registers): async-graphql would resolve each element as a future of its own.
pub struct Nodes(pub Vec<Arc<CachedEvent>>);

impl OutputType for Nodes {
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("[{}]", Node::qualified_type_name()))
    }

    fn qualified_type_name() -> String {
        format!("[{}]!", Node::qualified_type_name())
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Node::create_type_info(registry);
        Self::qualified_type_name()
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let plan = plan(ctx);
        Ok(Value::List(self.0.iter().map(|e| answer(ctx, &plan, e)).collect::<ServerResult<_>>()?))
    }
}

/// The plan of the selection set `ctx` is at, collected once per request.
fn plan(ctx: &ContextSelectionSet<'_>) -> Arc<Plan> {
    let set = &ctx.item.node;
    let collect = || Arc::new(Plan::collect::<AuditEvent>(ctx, &[set]));
    match ctx.data_opt::<Plans>() {
        // The address names the selection set for as long as the request runs.
        Some(plans) => plans
            .0
            .lock()
            .expect("plans poisoned")
            .entry(set as *const _ as usize)
            .or_insert_with(collect)
            .clone(),
        None => collect(),
    }
}

/// An event as `plan` selects it: its kept rendering, or a new one.
fn answer(ctx: &ContextSelectionSet<'_>, plan: &Plan, e: &CachedEvent) -> ServerResult<Value> {
    let json = e.rendered.selection(&plan.text, || {
        let mut out = Vec::with_capacity(2048);
        render(plan, &e.event, &mut out);
        out
    });
    if ctx.data_opt::<RawNodes>().is_some() {
        return Ok(Value::Binary(json));
    }
    serde_json::from_slice(&json).map_err(|e| ServerError::new(format!("an event rendered badly: {e}"), None))
}

/// A selection set collected for one type: response keys in first-occurrence
/// order, each with its field and, for object-valued fields, the plan of their
/// merged sub-selections.
pub struct Plan {
    /// The plan as text (`key:field{...},...`): it names the renderings it makes.
    text: Arc<str>,
    fields: Vec<Planned>,
}

struct Planned {
    key: Name,
    name: Name,
    sub: Option<Plan>,
}

impl Plan {
    fn collect<T: Render>(ctx: &ContextSelectionSet<'_>, sets: &[&SelectionSet]) -> Plan {
        let mut grouped: Vec<(Name, Name, Vec<&SelectionSet>)> = Vec::new();
        for set in sets {
            gather::<T>(ctx, set, &mut grouped);
        }
        let mut text = String::new();
        let fields: Vec<Planned> = grouped
            .into_iter()
            .map(|(key, name, subs)| {
                let sub = T::plan(&name, ctx, &subs);
                if !text.is_empty() {
                    text.push(',');
                }
                text.push_str(&key);
                text.push(':');
                text.push_str(&name);
                if let Some(sub) = &sub {
                    text.push('{');
                    text.push_str(&sub.text);
                    text.push('}');
                }
                Planned { key, name, sub }
            })
            .collect();
        Plan { text: text.into(), fields }
    }
}

/// Adds `set`'s fields to `grouped`, fragments that apply to `T` expanded in place.
fn gather<'a, T: Render>(
    ctx: &'a ContextSelectionSet<'_>,
    set: &'a SelectionSet,
    grouped: &mut Vec<(Name, Name, Vec<&'a SelectionSet>)>,
) {
    for selection in &set.items {
        let (condition, fragment_set) = match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                let key = &field.response_key().node;
                let sub = &field.selection_set.node;
                match grouped.iter_mut().find(|(k, ..)| k == key) {
                    Some((.., subs)) => subs.push(sub),
                    None => grouped.push((key.clone(), field.name.node.clone(), vec![sub])),
                }
                continue;
            }
            Selection::FragmentSpread(spread) => {
                match ctx.query_env.fragments.get(&spread.node.fragment_name.node) {
                    Some(fragment) => {
                        (Some(&fragment.node.type_condition.node.on.node), &fragment.node.selection_set.node)
                    }
                    None => continue,
                }
            }
            Selection::InlineFragment(fragment) => (
                fragment.node.type_condition.as_ref().map(|c| &c.node.on.node),
                &fragment.node.selection_set.node,
            ),
        };
        let applies = condition.is_none_or(|on| {
            on.as_str() == T::type_name()
                || ctx
                    .schema_env
                    .registry
                    .implements
                    .get(T::type_name().as_ref())
                    .is_some_and(|interfaces| interfaces.contains(on.as_str()))
        });
        if applies {
            gather::<T>(ctx, fragment_set, grouped);
        }
    }
}

/// A type whose fields a plan renders.
trait Render: OutputType {
    /// Writes field `name`'s value as JSON (`sub`: its plan, for object-valued
    /// fields). Validation admitted only the type's fields; a name this lacks is
    /// written as null (a test guards against that).
    fn write(&self, name: &str, sub: Option<&Plan>, out: &mut Vec<u8>);

    /// The plan of field `name`'s merged selections, for object-valued fields
    /// (a type with none has no plans to make).
    fn plan(_name: &str, _ctx: &ContextSelectionSet<'_>, _sets: &[&SelectionSet]) -> Option<Plan> {
        None
    }
}

fn render<T: Render>(plan: &Plan, value: &T, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, field) in plan.fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, &field.key);
        out.push(b':');
        if field.name == "__typename" {
            string(out, &T::type_name());
        } else {
            value.write(&field.name, field.sub.as_ref(), out);
        }
    }
    out.push(b'}');
}

fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("a string serialises");
}

fn text(out: &mut Vec<u8>, value: &Option<String>) {
    match value {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn list<T: Render>(out: &mut Vec<u8>, plan: Option<&Plan>, values: &[T]) {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        object(out, plan, Some(value));
    }
    out.push(b']');
}

fn object<T: Render>(out: &mut Vec<u8>, plan: Option<&Plan>, value: Option<&T>) {
    match (plan, value) {
        (Some(plan), Some(value)) => render(plan, value, out),
        _ => out.extend_from_slice(b"null"),
    }
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

impl Render for AuditEvent {
    fn write(&self, name: &str, sub: Option<&Plan>, out: &mut Vec<u8>) {
        match name {
            "id" => string(out, &self.id),
            "displayName" => text(out, &self.display_name),
            "componentName" => text(out, &self.component_name),
            "actor" => object(out, sub, self.actor.as_ref()),
            "activity" => text(out, &self.activity),
            "activityDateTime" => string(out, &format_graph_datetime(self.activity_date_time)),
            "activityType" => text(out, &self.activity_type),
            "activityOperationType" => text(out, &self.activity_operation_type),
            "activityResult" => text(out, &self.activity_result),
            "correlationId" => string(out, &self.correlation_id.hyphenated().to_string()),
            "category" => text(out, &self.category),
            "resources" => list(out, sub, &self.resources),
            _ => null(out),
        }
    }

    fn plan(name: &str, ctx: &ContextSelectionSet<'_>, sets: &[&SelectionSet]) -> Option<Plan> {
        match name {
            "actor" => Some(Plan::collect::<AuditActor>(ctx, sets)),
            "resources" => Some(Plan::collect::<AuditResource>(ctx, sets)),
            _ => None,
        }
    }
}

impl Render for AuditActor {
    fn write(&self, name: &str, sub: Option<&Plan>, out: &mut Vec<u8>) {
        match name {
            "auditActorType" => text(out, &self.actor_type),
            "userPermissions" => {
                out.push(b'[');
                for (i, p) in self.user_permissions.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    string(out, p);
                }
                out.push(b']');
            }
            "applicationId" => text(out, &self.application_id),
            "applicationDisplayName" => text(out, &self.application_display_name),
            "userPrincipalName" => text(out, &self.user_principal_name),
            "servicePrincipalName" => text(out, &self.service_principal_name),
            "ipAddress" => text(out, &self.ip_address),
            "userId" => text(out, &self.user_id),
            "remoteTenantId" => text(out, &self.remote_tenant_id),
            "remoteUserId" => text(out, &self.remote_user_id),
            "userRoleScopeTags" => list(out, sub, &self.user_role_scope_tags),
            _ => null(out),
        }
    }

    fn plan(name: &str, ctx: &ContextSelectionSet<'_>, sets: &[&SelectionSet]) -> Option<Plan> {
        (name == "userRoleScopeTags").then(|| Plan::collect::<RoleScopeTagInfo>(ctx, sets))
    }
}

impl Render for RoleScopeTagInfo {
    fn write(&self, name: &str, _: Option<&Plan>, out: &mut Vec<u8>) {
        match name {
            "displayName" => text(out, &self.display_name),
            "roleScopeTagId" => text(out, &self.role_scope_tag_id),
            _ => null(out),
        }
    }
}

impl Render for AuditResource {
    fn write(&self, name: &str, sub: Option<&Plan>, out: &mut Vec<u8>) {
        match name {
            "displayName" => text(out, &self.display_name),
            "auditResourceType" => text(out, &self.resource_type),
            "resourceId" => text(out, &self.resource_id),
            "modifiedProperties" => list(out, sub, &self.modified_properties),
            _ => null(out),
        }
    }

    fn plan(name: &str, ctx: &ContextSelectionSet<'_>, sets: &[&SelectionSet]) -> Option<Plan> {
        (name == "modifiedProperties").then(|| Plan::collect::<AuditProperty>(ctx, sets))
    }
}

impl Render for AuditProperty {
    fn write(&self, name: &str, _: Option<&Plan>, out: &mut Vec<u8>) {
        match name {
            "displayName" => text(out, &self.display_name),
            "oldValue" => text(out, &self.old_value),
            "newValue" => text(out, &self.new_value),
            _ => null(out),
        }
    }
}
