//! In-memory evaluation of a checked [`Filter`] and the total order of `$orderby`.
//! This is the reference semantics: the SQL translator must return exactly the
//! rows `matches` accepts, in exactly the order `compare` gives.
//!
//! **Three-valued logic** (odata.md §3.7). A filter evaluates to true, false or null;
//! a row matches only on true.
//! - `field eq null` ⇔ field is null; `field ne null` ⇔ field is not null;
//!   `gt ge lt le` with a `null` literal are false.
//! - On a null field with a non-null literal: `eq` false, `ne` **true**,
//!   `gt ge lt le` false. So a comparison is never null.
//!   (SQL: `col_ci = v` becomes `col_ci IS NOT NULL AND col_ci = v`, `ne` becomes
//!   `col_ci IS NULL OR col_ci <> v`.)
//! - `in (…)` is the `or` of `eq` over its items: a `null` item matches a null field;
//!   `in ()` is false. Never null.
//! - `contains`/`startswith`/`endswith` on a null field are **null**, so
//!   `not(contains(category,'x'))` does not match a null category either. (SQL's
//!   `LIKE` on NULL behaves the same.)
//! - `and`/`or`/`not` are Kleene's: `false and null` = false, `true or null` = true,
//!   `not null` = null. (SQL's AND/OR/NOT.)
//! - `any(x: p)` is true when `p` is true for some element, `all(x: p)` when `p` is
//!   true for every element; a null `p` counts as not true. Both are never null:
//!   `any` on an empty collection is false, `all` on one is true, and an absent
//!   `actor` has no `userPermissions`. (SQL: `EXISTS(… WHERE p)` and
//!   `NOT EXISTS(… WHERE p IS NOT TRUE)`.)
//!
//! **Comparison of values.**
//! - Strings compare by [`fold`]ed value, for equality, ordering and the text
//!   functions alike, in code-point order (a binary collation on the folded column).
//! - `activityDateTime` compares by [`Ticks`]; `correlationId` by its lower-case
//!   hyphenated text, which is the same order as its bytes.

use std::cmp::Ordering;

use uuid::Uuid;

use super::ast::{
    ActorField, Collection, CompareOp, EventField, Field, Filter, Literal, OrderKey, PropertyField,
    ResourceField, TextFunc,
};
use crate::domain::{AuditEvent, AuditProperty, AuditResource, Ticks, fold};

/// Whether `event` satisfies `filter` (evaluates to true, not false or null).
pub fn matches(filter: &Filter, event: &AuditEvent) -> bool {
    let scope = Scope { event, resource: None, property: None, permission: None };
    evaluate(filter, scope) == Some(true)
}

/// The total order of `keys` over events.
///
/// - A string key sorts by `fold(value)`, a null value sorting as `""` (so nulls
///   come first ascending and last descending; null and `""` tie) — the behaviour of
///   the store's NOT NULL folded shadow columns.
/// - `activityDateTime` sorts by ticks, `correlationId` by its text (= its bytes).
/// - **Tiebreak:** the raw `id`, compared byte-wise (not folded), in the direction
///   of the *last* key: descending when the last key is `desc`, ascending when it is
///   `asc` or there are no keys. So the default `activityDateTime desc` continues as
///   `id desc`, and a keyset cursor over (last key, id) runs in one direction.
pub fn compare(keys: &[OrderKey], a: &AuditEvent, b: &AuditEvent) -> Ordering {
    let by_keys = keys.iter().fold(Ordering::Equal, |order, key| {
        order.then_with(|| {
            let order = compare_field(key.field, a, b);
            if key.descending { order.reverse() } else { order }
        })
    });
    by_keys.then_with(|| {
        let by_id = a.id.cmp(&b.id);
        if keys.last().is_some_and(|key| key.descending) { by_id.reverse() } else { by_id }
    })
}

fn compare_field(field: EventField, a: &AuditEvent, b: &AuditEvent) -> Ordering {
    match (event_value(field, a), event_value(field, b)) {
        (Value::Time(x), Value::Time(y)) => x.cmp(&y),
        (Value::Guid(x), Value::Guid(y)) => x.cmp(&y),
        (Value::Str(x), Value::Str(y)) => fold(x.unwrap_or("")).cmp(&fold(y.unwrap_or(""))),
        // One field always yields one kind of value.
        _ => Ordering::Equal,
    }
}

/// What a field reference currently points at: the event, plus the element each
/// enclosing lambda is visiting.
#[derive(Clone, Copy)]
struct Scope<'e> {
    event: &'e AuditEvent,
    resource: Option<&'e AuditResource>,
    property: Option<&'e AuditProperty>,
    permission: Option<&'e str>,
}

/// `None` is OData's null.
fn evaluate(filter: &Filter, scope: Scope<'_>) -> Option<bool> {
    match filter {
        Filter::And(l, r) => match (evaluate(l, scope), evaluate(r, scope)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Filter::Or(l, r) => match (evaluate(l, scope), evaluate(r, scope)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Filter::Not(inner) => evaluate(inner, scope).map(|b| !b),
        Filter::Compare { field, op, value } => Some(test(field_value(*field, scope), *op, value)),
        Filter::In { field, values } => {
            let current = field_value(*field, scope);
            Some(values.iter().any(|value| test(current, CompareOp::Eq, value)))
        }
        Filter::Text { func, field, value } => match field_value(*field, scope) {
            Value::Str(Some(text)) => Some(text_matches(*func, text, value)),
            Value::Str(None) => None,
            _ => Some(false),
        },
        Filter::Any { collection, predicate } => Some(
            elements(*collection, scope)
                .iter()
                .any(|&element| predicate.as_ref().is_none_or(|p| evaluate(p, element) == Some(true))),
        ),
        Filter::All { collection, predicate } => Some(
            elements(*collection, scope).iter().all(|&element| evaluate(predicate, element) == Some(true)),
        ),
        Filter::Constant(b) => Some(*b),
    }
}

/// The scopes a lambda over `collection` visits, one per element.
fn elements<'e>(collection: Collection, scope: Scope<'e>) -> Vec<Scope<'e>> {
    match collection {
        Collection::Resources => {
            scope.event.resources.iter().map(|resource| Scope { resource: Some(resource), ..scope }).collect()
        }
        Collection::ModifiedProperties => scope
            .resource
            .map(|resource| resource.modified_properties.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|property| Scope { property: Some(property), ..scope })
            .collect(),
        Collection::ActorUserPermissions => scope
            .event
            .actor
            .as_ref()
            .map(|actor| actor.user_permissions.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|permission| Scope { permission: Some(permission), ..scope })
            .collect(),
    }
}

#[derive(Debug, Clone, Copy)]
enum Value<'e> {
    Str(Option<&'e str>),
    Time(Ticks),
    Guid(Uuid),
}

fn event_value(field: EventField, event: &AuditEvent) -> Value<'_> {
    let text = Option::as_deref;
    Value::Str(match field {
        EventField::ActivityDateTime => {
            return Value::Time(Ticks::from_datetime(event.activity_date_time));
        }
        EventField::CorrelationId => return Value::Guid(event.correlation_id),
        EventField::Id => Some(event.id.as_str()),
        EventField::DisplayName => text(&event.display_name),
        EventField::ComponentName => text(&event.component_name),
        EventField::Activity => text(&event.activity),
        EventField::ActivityType => text(&event.activity_type),
        EventField::ActivityOperationType => text(&event.activity_operation_type),
        EventField::ActivityResult => text(&event.activity_result),
        EventField::Category => text(&event.category),
    })
}

fn field_value(field: Field, scope: Scope<'_>) -> Value<'_> {
    match field {
        Field::Event(f) => event_value(f, scope.event),
        Field::Actor(f) => Value::Str(scope.event.actor.as_ref().and_then(|actor| {
            match f {
                ActorField::ActorType => &actor.actor_type,
                ActorField::ApplicationId => &actor.application_id,
                ActorField::ApplicationDisplayName => &actor.application_display_name,
                ActorField::UserPrincipalName => &actor.user_principal_name,
                ActorField::ServicePrincipalName => &actor.service_principal_name,
                ActorField::IpAddress => &actor.ip_address,
                ActorField::UserId => &actor.user_id,
                ActorField::RemoteTenantId => &actor.remote_tenant_id,
                ActorField::RemoteUserId => &actor.remote_user_id,
            }
            .as_deref()
        })),
        Field::Resource(f) => Value::Str(scope.resource.and_then(|resource| {
            match f {
                ResourceField::DisplayName => &resource.display_name,
                ResourceField::ResourceType => &resource.resource_type,
                ResourceField::ResourceId => &resource.resource_id,
            }
            .as_deref()
        })),
        Field::Property(f) => Value::Str(scope.property.and_then(|property| {
            match f {
                PropertyField::DisplayName => &property.display_name,
                PropertyField::OldValue => &property.old_value,
                PropertyField::NewValue => &property.new_value,
            }
            .as_deref()
        })),
        Field::Permission => Value::Str(scope.permission),
    }
}

/// `value op literal` under the null rules in the module doc.
fn test(value: Value<'_>, op: CompareOp, literal: &Literal) -> bool {
    let order = match (value, literal) {
        (value, Literal::Null) => {
            let is_null = matches!(value, Value::Str(None));
            return match op {
                CompareOp::Eq => is_null,
                CompareOp::Ne => !is_null,
                _ => false,
            };
        }
        (Value::Str(None), _) => return op == CompareOp::Ne,
        (Value::Str(Some(a)), Literal::String(b)) => fold(a).cmp(&fold(b)),
        (Value::Time(a), Literal::DateTime(b)) => a.cmp(b),
        (Value::Guid(a), Literal::Guid(b)) => a.cmp(b),
        // The checker never pairs a field with a literal of another type.
        _ => return false,
    };
    match op {
        CompareOp::Eq => order == Ordering::Equal,
        CompareOp::Ne => order != Ordering::Equal,
        CompareOp::Gt => order == Ordering::Greater,
        CompareOp::Ge => order != Ordering::Less,
        CompareOp::Lt => order == Ordering::Less,
        CompareOp::Le => order != Ordering::Greater,
    }
}

fn text_matches(func: TextFunc, text: &str, pattern: &str) -> bool {
    let (text, pattern) = (fold(text), fold(pattern));
    match func {
        TextFunc::Contains => text.contains(&pattern),
        TextFunc::StartsWith => text.starts_with(&pattern),
        TextFunc::EndsWith => text.ends_with(&pattern),
    }
}
