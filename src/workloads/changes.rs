//! How Intune writes a change into its audit log (intune-workloads.md §2): the
//! `modifiedProperties` encoding of an object (PascalCase paths, string values,
//! `"<null>"`, US-culture dates, `$Collection.X[i]`), the diff of a patch, and
//! the events of each kind of call, with their activity type, display name,
//! category, component and resources.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::schema::{Assignments, EntitySet, Grammar, Kind, Prop, pascal};
use crate::domain::object::IntuneObject;
use crate::domain::{AuditActor, AuditEvent, AuditProperty, AuditResource};

/// The internal API version Intune lists on every create, patch, assign and
/// action (seen: `5025-09-01`, `5025-10-23`, …); the newest seen.
pub const API_VERSION: &str = "5025-10-23";
const API_VERSION_NAME: &str = "DeviceManagementAPIVersion";
const NULL: &str = "<null>";

/// Display names that are sentences rather than the activity type, by activity
/// type and (where it matters) the concrete resource type (§2.3).
const SENTENCES: &[(&str, Option<&str>, &str)] = &[
    ("Create MobileApp", None, "Create application."),
    ("Delete MobileApp", None, "Delete application."),
    (
        "Delete DeviceEnrollmentConfiguration",
        Some("DeviceEnrollmentLimitConfiguration"),
        "Deleting Device Enrollment Limit",
    ),
];

fn display_name(activity_type: &str, resource_type: &str) -> String {
    SENTENCES
        .iter()
        .find(|(t, r, _)| *t == activity_type && r.is_none_or(|r| r == resource_type))
        .map_or_else(|| activity_type.to_string(), |(_, _, s)| s.to_string())
}

/// `M/d/yyyy h:mm:ss tt`, UTC, as Intune's .NET backend formats dates.
fn us_date(text: &str) -> String {
    match crate::domain::graph::parse_datetime(text) {
        Some(at) => at.format("%-m/%-d/%Y %-I:%M:%S %p").to_string(),
        None => text.to_string(),
    }
}

/// A leaf value as Intune writes it.
fn render(kind: &Kind, value: &Value, scope_tags: bool) -> String {
    match value {
        Value::Null => NULL.into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => match kind {
            Kind::Enum(_) => pascal(s),
            Kind::DateTime => us_date(s),
            _ if scope_tags && s == "0" => "Default".into(),
            _ => s.clone(),
        },
        other => other.to_string(),
    }
}

/// The flattened properties of an object: scalar paths in property order, and
/// collection paths (`$Collection.…[i]`) apart, as Intune lists them last.
#[derive(Default)]
pub struct Leaves {
    pub scalars: Vec<(String, String)>,
    pub collections: Vec<(String, String)>,
    counters: HashMap<String, usize>,
}

impl Leaves {
    fn collection(&mut self, path: String, value: String) {
        let i = self.counters.entry(path.clone()).or_default();
        self.collections.push((format!("$Collection.{path}[{i}]"), value));
        *i += 1;
    }

    /// Walks `props` over `body`. `inside` is the collection path being listed, if any.
    pub fn walk(&mut self, props: &[&Prop], body: &Map<String, Value>, prefix: &str, inside: Option<&str>) {
        for prop in props {
            let name = format!("{prefix}{}", pascal(prop.name));
            let value = body.get(prop.name).unwrap_or(&Value::Null);
            self.leaf(prop, &name, value, inside);
        }
    }

    fn leaf(&mut self, prop: &Prop, name: &str, value: &Value, inside: Option<&str>) {
        let scope_tags = prop.name == "roleScopeTagIds";
        match (&prop.kind, value) {
            (Kind::Strings, Value::Array(items)) => {
                let path = inside.map_or_else(|| pascal(prop.name), |c| format!("{c}.{}", pascal(prop.name)));
                for item in items {
                    self.collection(path.clone(), render(&Kind::Str, item, scope_tags));
                }
            }
            (Kind::Complex(fields), Value::Object(map)) => {
                let props: Vec<&Prop> = fields.iter().collect();
                self.walk(&props, map, &format!("{name}."), inside);
            }
            (Kind::ComplexList(fields), Value::Array(items)) => {
                // Intune's grammar has one level below the collection
                // (`$Collection.X.Field[i]`): a list inside a list flattens into
                // the outermost one (`$Collection.RolePermissions.AllowedResourceActions[k]`).
                let path = inside.map_or_else(|| pascal(prop.name), str::to_string);
                let props: Vec<&Prop> = fields.iter().collect();
                for item in items.iter().filter_map(Value::as_object) {
                    self.walk(&props, item, "", Some(&path));
                }
            }
            (Kind::TypedList(_), Value::Array(items)) => {
                let path = pascal(prop.name);
                for item in items.iter().filter_map(Value::as_object) {
                    for (key, v) in item.iter().filter(|(k, _)| !k.starts_with('@')) {
                        self.collection(format!("{path}.{}", pascal(key)), render(&Kind::Str, v, false));
                    }
                }
            }
            (kind, value) => match inside {
                Some(c) => {
                    self.collection(format!("{c}.{}", pascal(prop.name)), render(kind, value, scope_tags))
                }
                None => self.scalars.push((name.to_string(), render(kind, value, scope_tags))),
            },
        }
    }

    /// `Target.GroupId`, `Target.Type`, then the filter fields (§2.6, assignments).
    fn target(&mut self, name: &str, target: &Map<String, Value>) {
        if let Some(group) = target.get("groupId").and_then(Value::as_str) {
            self.scalars.push((format!("{name}.GroupId"), group.to_string()));
        }
        let ty =
            target.get("@odata.type").and_then(Value::as_str).map(super::body::type_name).unwrap_or_default();
        self.scalars.push((format!("{name}.Type"), pascal(ty)));
        for field in
            ["deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"]
        {
            let kind = if field.ends_with("Type") { Kind::Enum(&[]) } else { Kind::Str };
            self.scalars.push((
                format!("{name}.{}", pascal(field)),
                render(&kind, target.get(field).unwrap_or(&Value::Null), false),
            ));
        }
    }
}

fn created(name: &str, value: String) -> AuditProperty {
    AuditProperty { display_name: Some(name.into()), old_value: None, new_value: Some(value) }
}

fn api_version() -> AuditProperty {
    created(API_VERSION_NAME, API_VERSION.into())
}

/// The properties a create lists: every stored property but `DisplayName` and
/// the navigation values, `Id` first, the type's own before the base's, then
/// the API version and the collections (§2.6, "Create").
pub fn create_properties(set: &EntitySet, object: &IntuneObject) -> Vec<AuditProperty> {
    let ty = set.concrete(&object.odata_type).unwrap_or(&set.types[0]);
    let visible = |p: &&Prop| p.name != "displayName" && p.name != "id" && !set.hidden.contains(&p.name);
    let props: Vec<&Prop> = ty.props.iter().chain(set.base_props.iter()).filter(visible).collect();
    let mut leaves = Leaves::default();
    leaves.walk(&props, &object.body, "", None);
    let mut out = vec![created("Id", object.id.clone())];
    out.extend(leaves.scalars.into_iter().map(|(n, v)| created(&n, v)));
    out.push(api_version());
    leaves.collections.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(leaves.collections.into_iter().map(|(n, v)| created(&n, v)));
    out
}

/// The leaves of a patch that changed, old → new, plus the API version.
/// `LastModifiedDateTime` and `Version` are not listed (§2.6, "Patch").
pub fn patch_properties(set: &EntitySet, before: &IntuneObject, after: &IntuneObject) -> Vec<AuditProperty> {
    let ty = set.concrete(&after.odata_type).unwrap_or(&set.types[0]);
    let skip = ["displayName", "lastModifiedDateTime", "version"];
    let props: Vec<&Prop> = ty
        .props
        .iter()
        .chain(set.base_props.iter())
        .filter(|p| !skip.contains(&p.name) && !set.hidden.contains(&p.name))
        .collect();
    let flat = |o: &IntuneObject| {
        let mut leaves = Leaves::default();
        leaves.walk(&props, &o.body, "", None);
        leaves.scalars.into_iter().chain(leaves.collections).collect::<Vec<_>>()
    };
    diff(&flat(before), &flat(after))
}

/// Old → new per path; a path only on one side has only that side.
pub fn diff(old: &[(String, String)], new: &[(String, String)]) -> Vec<AuditProperty> {
    let old_map: HashMap<&str, &str> = old.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let new_map: HashMap<&str, &str> = new.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut out = Vec::new();
    for (name, value) in new {
        match old_map.get(name.as_str()) {
            Some(before) if before == value => {}
            before => out.push(AuditProperty {
                display_name: Some(name.clone()),
                old_value: before.map(|s| s.to_string()),
                new_value: Some(value.clone()),
            }),
        }
    }
    for (name, value) in old {
        if !new_map.contains_key(name.as_str()) {
            out.push(AuditProperty {
                display_name: Some(name.clone()),
                old_value: Some(value.clone()),
                new_value: None,
            });
        }
    }
    out.push(api_version());
    out
}

/// An assignment's properties: its target, `Id`, its own fields, the API version.
pub fn assignment_properties(kind: &Assignments, assignment: &Map<String, Value>) -> Vec<(String, String)> {
    let mut leaves = Leaves::default();
    if let Some(Value::Object(target)) = assignment.get("target") {
        leaves.target("Target", target);
    }
    leaves
        .scalars
        .push(("Id".into(), assignment.get("id").and_then(Value::as_str).unwrap_or_default().into()));
    let props: Vec<&Prop> = kind.props.iter().collect();
    leaves.walk(&props, assignment, "", None);
    leaves.scalars.into_iter().chain(leaves.collections).collect()
}

/// What every event of one call shares.
pub struct EventContext {
    pub actor: AuditActor,
    pub correlation_id: Uuid,
    pub at: DateTime<Utc>,
}

/// A resource naming an object.
pub fn resource(object: &IntuneObject, properties: Vec<AuditProperty>) -> AuditResource {
    AuditResource {
        display_name: Some(object.display_name().unwrap_or(NULL).to_string()),
        resource_type: Some(pascal(&object.odata_type)),
        resource_id: Some(object.id.clone()),
        modified_properties: properties,
    }
}

impl EventContext {
    /// One event: `operation` is `Create`, `Patch`, `Delete` or an action's
    /// name (whose operation type is `Action`); `noun` the declared type.
    pub fn event(
        &self,
        set: &EntitySet,
        operation: &str,
        noun: &str,
        resources: Vec<AuditResource>,
    ) -> AuditEvent {
        let operation_type = match operation {
            "Create" | "Patch" | "Delete" => operation.to_string(),
            _ => "Action".to_string(),
        };
        // Scripts spell the verb camelCase before the noun (§2.2); an
        // action's name is verbatim either way.
        let activity_type = match set.grammar {
            Grammar::Standard => format!("{operation} {noun}"),
            Grammar::CamelVerb => format!("{}{noun} {noun}", super::lower_first(operation)),
        };
        let first_type = resources.first().and_then(|r| r.resource_type.clone()).unwrap_or_default();
        AuditEvent {
            id: Uuid::new_v4().to_string(),
            display_name: Some(display_name(&activity_type, &first_type)),
            component_name: Some(set.component.to_string()),
            actor: Some(self.actor.clone()),
            activity: None,
            activity_date_time: self.at,
            activity_type: Some(activity_type),
            activity_operation_type: Some(operation_type),
            activity_result: Some("Success".into()),
            correlation_id: self.correlation_id,
            category: Some(set.category.to_string()),
            resources,
        }
    }

    /// An assignment change (§2.5): the parent with no properties, then the
    /// assignment, `"<null>"`-named, with its properties.
    pub fn assignment_event(
        &self,
        set: &EntitySet,
        kind: &Assignments,
        operation: &str,
        parent: &IntuneObject,
        assignment_id: &str,
        properties: Vec<AuditProperty>,
    ) -> AuditEvent {
        let noun = pascal(kind.odata_type);
        let resources = vec![
            resource(parent, Vec::new()),
            AuditResource {
                display_name: Some(NULL.into()),
                resource_type: Some(noun.clone()),
                resource_id: Some(assignment_id.to_string()),
                modified_properties: properties,
            },
        ];
        self.event(set, operation, &noun, resources)
    }
}

/// Properties of an assignment event from its leaves: created (old null),
/// deleted (new null) or changed.
pub fn assignment_change(
    old: Option<&[(String, String)]>,
    new: Option<&[(String, String)]>,
) -> Vec<AuditProperty> {
    match (old, new) {
        (None, Some(new)) => {
            let mut out: Vec<AuditProperty> = new.iter().map(|(n, v)| created(n, v.clone())).collect();
            out.push(api_version());
            out
        }
        (Some(old), None) => old
            .iter()
            .map(|(n, v)| AuditProperty {
                display_name: Some(n.clone()),
                old_value: Some(v.clone()),
                new_value: None,
            })
            .collect(),
        (Some(old), Some(new)) => diff(old, new),
        (None, None) => Vec::new(),
    }
}

/// The API version alone, plus `extra` (actions list context, never parameters).
pub fn action_properties(extra: Vec<(String, String)>) -> Vec<AuditProperty> {
    let mut out: Vec<AuditProperty> = extra.into_iter().map(|(n, v)| created(&n, v)).collect();
    out.push(api_version());
    out
}
