//! An object's Graph JSON for one API version: `@odata.type` first, then its
//! properties in the type's order, beta-only ones on beta only, navigation
//! values only when expanded, `$select` honoured (intune-workloads.md §1.2–1.4).

use serde_json::{Map, Value};

use super::schema::{Assignments, EntitySet};
use crate::domain::object::IntuneObject;

/// How an object is being served.
#[derive(Debug, Clone, Copy, Default)]
pub struct View<'a> {
    pub beta: bool,
    pub select: Option<&'a [String]>,
    pub expand: &'a [&'static str],
    /// A GET by id (lists leave `detail_only` properties null).
    pub single: bool,
}

pub fn entity_json(set: &EntitySet, object: &IntuneObject, view: View<'_>) -> Map<String, Value> {
    let ty = set.concrete(&object.odata_type).unwrap_or(&set.types[0]);
    let mut out = Map::new();
    out.insert("@odata.type".into(), Value::String(format!("#microsoft.graph.{}", ty.name)));
    let selected =
        |name: &str| view.select.is_none_or(|s| s.iter().any(|n| n == "*" || n.eq_ignore_ascii_case(name)));
    for prop in set.props_of(ty, view.beta) {
        if set.hidden.contains(&prop.name) || set.internal.contains(&prop.name) || !selected(prop.name) {
            continue;
        }
        let value = if set.detail_only.contains(&prop.name) && !(view.single && view.select.is_some()) {
            Value::Null
        } else {
            object.body.get(prop.name).cloned().unwrap_or(Value::Null)
        };
        out.insert(prop.name.to_string(), value);
    }
    for name in view.expand {
        let value = match (*name, &set.assignments) {
            ("assignments", Some(kind)) => Value::Array(assignments_json(kind, object, view.beta)),
            _ => object.body.get(*name).cloned().unwrap_or(Value::Array(Vec::new())),
        };
        out.insert(name.to_string(), value);
    }
    out
}

/// The object's assignments as Graph serves them.
pub fn assignments_json(kind: &Assignments, object: &IntuneObject, beta: bool) -> Vec<Value> {
    let stored = object.body.get("assignments").and_then(Value::as_array).cloned().unwrap_or_default();
    stored
        .into_iter()
        .filter_map(|a| match a {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .map(|map| {
            let mut out = Map::new();
            out.insert("@odata.type".into(), Value::String(format!("#microsoft.graph.{}", kind.odata_type)));
            out.insert("id".into(), map.get("id").cloned().unwrap_or(Value::Null));
            for prop in kind.props.iter().filter(|p| beta || !p.beta) {
                out.insert(prop.name.into(), map.get(prop.name).cloned().unwrap_or(Value::Null));
            }
            out.insert("target".into(), map.get("target").cloned().unwrap_or(Value::Null));
            Value::Object(out)
        })
        .collect()
}
