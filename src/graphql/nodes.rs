//! A connection's events, resolved in one synchronous walk of their selection set.
//!
//! async-graphql resolves every field of a derived object as its own boxed future,
//! through each extension's `resolve` hook, with a registry lookup for its type:
//! a page of 50 whole events is ~2,000 of those, the largest share of a GraphQL
//! page's cost (README, Benchmarks). An event's fields are plain data that cannot
//! fail, so [`Node`] answers them directly: the same type in the schema (it
//! registers as `AuditEvent`), the same values, in the query's order (the
//! specification's CollectFields: fragments expanded in place, a response key's
//! sub-selections merged, first occurrence first). `auditEvent(id:)` and
//! subscriptions still resolve through the derived types, and a test
//! (`graphql_spec::page_nodes_answer_as_single_events`) holds the two to the same
//! answer for a selection of every field introspection lists, so a field added to
//! the domain types and not here fails it.

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::indexmap::map::Entry;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};

use crate::domain::format_graph_datetime;
use crate::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource, RoleScopeTagInfo};
use crate::store::CachedEvent;

/// An event of a connection page (`nodes`, `edges { node }`).
pub struct Node(pub Arc<CachedEvent>);

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
        Ok(Walk { ctx }.object(&ctx.item.node, &self.0.event))
    }
}

/// A type whose fields the walk answers.
trait Plain: OutputType {
    /// The value of field `name` (`None` for a name the type does not have);
    /// `sub` walks the field's own selection set, for object-valued fields.
    fn field(&self, name: &str, sub: Sub<'_, '_>) -> Option<Value>;
}

/// One field's selection set, ready to walk an object or a list of them.
#[derive(Clone, Copy)]
struct Sub<'w, 'a> {
    walk: Walk<'w, 'a>,
    set: &'a SelectionSet,
}

impl Sub<'_, '_> {
    fn object<T: Plain>(self, value: &T) -> Value {
        self.walk.object(self.set, value)
    }

    fn optional<T: Plain>(self, value: Option<&T>) -> Value {
        value.map_or(Value::Null, |v| self.object(v))
    }

    fn list<T: Plain>(self, values: &[T]) -> Value {
        Value::List(values.iter().map(|v| self.object(v)).collect())
    }
}

/// The walk reads the request's fragments and the schema's interfaces through
/// the context's `query_env` and `schema_env`: public, though hidden from
/// async-graphql's documentation, and what its own `resolve_container` reads.
#[derive(Clone, Copy)]
struct Walk<'w, 'a> {
    ctx: &'w ContextSelectionSet<'a>,
}

impl<'w, 'a> Walk<'w, 'a> {
    fn object<T: Plain>(self, set: &'a SelectionSet, value: &T) -> Value {
        let mut out = IndexMap::with_capacity(set.items.len());
        self.collect(set, value, &mut out);
        Value::Object(out)
    }

    fn collect<T: Plain>(self, set: &'a SelectionSet, value: &T, out: &mut IndexMap<Name, Value>) {
        for selection in &set.items {
            let (condition, fragment_set) = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let answer = if name == "__typename" {
                        Some(Value::String(T::type_name().into_owned()))
                    } else {
                        value.field(name, Sub { walk: self, set: &field.selection_set.node })
                    };
                    // Validation admitted only the type's fields; a name the walk
                    // lacks is a walk that fell behind the type (a test guards it).
                    let answer = answer.unwrap_or(Value::Null);
                    merge(out, field.response_key().node.clone(), answer);
                    continue;
                }
                Selection::FragmentSpread(spread) => {
                    match self.ctx.query_env.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) => (
                            Some(&fragment.node.type_condition.node.on.node),
                            &fragment.node.selection_set.node,
                        ),
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
                    || self
                        .ctx
                        .schema_env
                        .registry
                        .implements
                        .get(T::type_name().as_ref())
                        .is_some_and(|interfaces| interfaces.contains(on.as_str()))
            });
            if applies {
                self.collect(fragment_set, value, out);
            }
        }
    }
}

/// One response key asked twice: objects merge (each asked for part of it), as
/// CollectFields groups the fields; otherwise the first answer stands.
fn merge(out: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    let into = match out.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(value);
            return;
        }
        Entry::Occupied(slot) => slot.into_mut(),
    };
    match (into, value) {
        (Value::Object(into), Value::Object(from)) => {
            for (k, v) in from {
                merge(into, k, v);
            }
        }
        (Value::List(into), Value::List(from)) => {
            for (into, from) in into.iter_mut().zip(from) {
                if let (Value::Object(into), Value::Object(from)) = (into, from) {
                    for (k, v) in from {
                        merge(into, k, v);
                    }
                }
            }
        }
        _ => {}
    }
}

fn text(value: &Option<String>) -> Value {
    value.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

impl Plain for AuditEvent {
    fn field(&self, name: &str, sub: Sub<'_, '_>) -> Option<Value> {
        Some(match name {
            "id" => Value::String(self.id.clone()),
            "displayName" => text(&self.display_name),
            "componentName" => text(&self.component_name),
            "actor" => sub.optional(self.actor.as_ref()),
            "activity" => text(&self.activity),
            "activityDateTime" => Value::String(format_graph_datetime(self.activity_date_time)),
            "activityType" => text(&self.activity_type),
            "activityOperationType" => text(&self.activity_operation_type),
            "activityResult" => text(&self.activity_result),
            "correlationId" => Value::String(self.correlation_id.hyphenated().to_string()),
            "category" => text(&self.category),
            "resources" => sub.list(&self.resources),
            _ => return None,
        })
    }
}

impl Plain for AuditActor {
    fn field(&self, name: &str, sub: Sub<'_, '_>) -> Option<Value> {
        Some(match name {
            "auditActorType" => text(&self.actor_type),
            "userPermissions" => {
                Value::List(self.user_permissions.iter().map(|p| Value::String(p.clone())).collect())
            }
            "applicationId" => text(&self.application_id),
            "applicationDisplayName" => text(&self.application_display_name),
            "userPrincipalName" => text(&self.user_principal_name),
            "servicePrincipalName" => text(&self.service_principal_name),
            "ipAddress" => text(&self.ip_address),
            "userId" => text(&self.user_id),
            "remoteTenantId" => text(&self.remote_tenant_id),
            "remoteUserId" => text(&self.remote_user_id),
            "userRoleScopeTags" => sub.list(&self.user_role_scope_tags),
            _ => return None,
        })
    }
}

impl Plain for RoleScopeTagInfo {
    fn field(&self, name: &str, _: Sub<'_, '_>) -> Option<Value> {
        Some(match name {
            "displayName" => text(&self.display_name),
            "roleScopeTagId" => text(&self.role_scope_tag_id),
            _ => return None,
        })
    }
}

impl Plain for AuditResource {
    fn field(&self, name: &str, sub: Sub<'_, '_>) -> Option<Value> {
        Some(match name {
            "displayName" => text(&self.display_name),
            "auditResourceType" => text(&self.resource_type),
            "resourceId" => text(&self.resource_id),
            "modifiedProperties" => sub.list(&self.modified_properties),
            _ => return None,
        })
    }
}

impl Plain for AuditProperty {
    fn field(&self, name: &str, _: Sub<'_, '_>) -> Option<Value> {
        Some(match name {
            "displayName" => text(&self.display_name),
            "oldValue" => text(&self.old_value),
            "newValue" => text(&self.new_value),
            _ => return None,
        })
    }
}
