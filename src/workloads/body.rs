//! Request bodies checked against the catalogue, with Intune's model-validation
//! texts (intune-workloads.md §4): an unknown property or type, an abstract type,
//! a value of the wrong kind. What passes comes back normalised (enum members in
//! Graph's casing, timestamps with 7 digits), so the store and the audit see one
//! spelling whatever the client sent.

use base64::Engine;
use serde_json::{Map, Value};

use super::error::WorkloadError;
use super::schema::{EntitySet, EntityType, Kind, Owner, Prop, TypedComplex};
use crate::domain::graph::parse_datetime;
use crate::domain::{format_graph_datetime, refuse_nul};

/// The assignment target types (`deviceAndAppManagementAssignmentTarget`'s derived types).
pub const TARGET_TYPES: &[&str] = &[
    "groupAssignmentTarget",
    "exclusionGroupAssignmentTarget",
    "allDevicesAssignmentTarget",
    "allLicensedUsersAssignmentTarget",
    "configurationManagerCollectionAssignmentTarget",
];
const TARGET_BASE: &str = "deviceAndAppManagementAssignmentTarget";

/// Intune's namespace in its validation texts.
fn qualified(name: &str) -> String {
    format!("microsoft.management.services.api.{name}")
}

fn unknown_property(name: &str, on: &str) -> WorkloadError {
    WorkloadError::ModelValidation(format!(
        "The property '{name}' does not exist on type '{}'. Make sure to only use property names that are defined by the type.",
        qualified(on)
    ))
}

pub fn abstract_class() -> WorkloadError {
    WorkloadError::ModelValidation("Cannot create an abstract class.".into())
}

/// `#microsoft.graph.x`, `microsoft.graph.x` → `x`.
pub fn type_name(annotation: &str) -> &str {
    let bare = annotation.strip_prefix('#').unwrap_or(annotation);
    bare.strip_prefix("microsoft.graph.").unwrap_or(bare)
}

/// The concrete type a create names, checked against the set.
pub fn create_type(
    set: &EntitySet,
    body: &Map<String, Value>,
    beta: bool,
) -> Result<&'static EntityType, WorkloadError> {
    let Some(given) = body.get("@odata.type") else {
        if set.is_abstract {
            return Err(abstract_class());
        }
        return Ok(&set.types[0]);
    };
    let given =
        given.as_str().ok_or_else(|| WorkloadError::BadRequest("@odata.type must be a string.".into()))?;
    let name = type_name(given);
    if name.eq_ignore_ascii_case(set.base_type) && set.is_abstract {
        return Err(abstract_class());
    }
    match set.concrete(name).filter(|t| beta || !t.beta_only) {
        Some(t) => Ok(t),
        None if name.eq_ignore_ascii_case(set.base_type) => Ok(&set.types[0]),
        None if super::catalogue::SETS.iter().any(|s| s.concrete(name).is_some()) => {
            Err(WorkloadError::ModelValidation(format!(
                "An entry with type '{}' was found, but it is not assignable to the expected type '{}'. The type specified in the entry must be equal to either the expected type or a derived type.",
                qualified(name),
                qualified(set.base_type)
            )))
        }
        None => Err(WorkloadError::ModelValidation(format!(
            "A type named '{given}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
        ))),
    }
}

/// What a body may set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Create,
    Update,
}

/// Checks an entity body: every key a property of the type (or an annotation),
/// every value of its kind. Server-owned properties are ignored, as Intune does;
/// on update, so are create-only ones. Returns the properties to set.
pub fn entity(
    props: &[&'static Prop],
    on: &str,
    body: &Map<String, Value>,
    purpose: Purpose,
) -> Result<Map<String, Value>, WorkloadError> {
    let mut out = Map::new();
    for (key, value) in body {
        if key.starts_with('@') || key.contains("@odata.") {
            continue;
        }
        let prop = props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(key))
            .ok_or_else(|| unknown_property(key, on))?;
        match (prop.owner, purpose) {
            (Owner::Server, _) | (Owner::CreateOnly, Purpose::Update) => continue,
            _ => {}
        }
        out.insert(prop.name.to_string(), value_of(prop, value)?);
    }
    Ok(out)
}

/// Checks an action's parameters (no annotations, nothing server-owned).
pub fn parameters(
    props: &[Prop],
    action: &str,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, WorkloadError> {
    let mut out = Map::new();
    for (key, value) in body {
        let prop = props.iter().find(|p| p.name.eq_ignore_ascii_case(key)).ok_or_else(|| {
            WorkloadError::BadRequest(format!("The parameter '{key}' in the request payload is not a valid parameter for the operation '{action}'."))
        })?;
        out.insert(prop.name.to_string(), value_of(prop, value)?);
    }
    Ok(out)
}

fn wrong(prop: &Prop, expected: &str, value: &Value) -> WorkloadError {
    WorkloadError::ModelValidation(format!(
        "Cannot convert the value {value} of property '{}' to the expected type '{expected}'.",
        prop.name
    ))
}

/// One value of `prop`'s kind, normalised.
pub fn value_of(prop: &Prop, value: &Value) -> Result<Value, WorkloadError> {
    let nullable = !matches!(prop.kind, Kind::Bool | Kind::Int | Kind::Strings);
    if value.is_null() {
        return if nullable {
            Ok(Value::Null)
        } else {
            Err(WorkloadError::ModelValidation(format!(
                "A null value was found for the property named '{}', which has the expected type that does not allow null values.",
                prop.name
            )))
        };
    }
    // Text is NUL-free, as everywhere text enters (`domain::refuse_nul`).
    if let Some(text) = value.as_str() {
        refuse_nul(text, || format!("The value of '{}'", prop.name)).map_err(WorkloadError::BadRequest)?;
    }
    Ok(match prop.kind {
        Kind::Str => value.as_str().map(|_| value.clone()).ok_or_else(|| wrong(prop, "Edm.String", value))?,
        Kind::Bool | Kind::OptBool => {
            value.as_bool().map(Value::Bool).ok_or_else(|| wrong(prop, "Edm.Boolean", value))?
        }
        Kind::Int | Kind::OptInt => value
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .map(Value::from)
            .ok_or_else(|| wrong(prop, "Edm.Int32", value))?,
        Kind::Enum(members) => {
            let text = value.as_str().ok_or_else(|| wrong(prop, "an enumeration member", value))?;
            let member = members.iter().find(|m| m.eq_ignore_ascii_case(text)).ok_or_else(|| {
                WorkloadError::ModelValidation(format!(
                    "The value '{text}' is not valid for the property '{}'. Valid values: {}.",
                    prop.name,
                    members.join(", ")
                ))
            })?;
            Value::String(member.to_string())
        }
        Kind::DateTime => {
            let text = value.as_str().ok_or_else(|| wrong(prop, "Edm.DateTimeOffset", value))?;
            let at = parse_datetime(text).ok_or_else(|| wrong(prop, "Edm.DateTimeOffset", value))?;
            Value::String(format_graph_datetime(crate::domain::truncate_to_ticks(at)))
        }
        Kind::Binary => {
            let text = value.as_str().ok_or_else(|| wrong(prop, "Edm.Binary", value))?;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| wrong(prop, "Edm.Binary", value))?;
            value.clone()
        }
        Kind::Strings => {
            let items = value.as_array().ok_or_else(|| wrong(prop, "Collection(Edm.String)", value))?;
            for item in items {
                let text = item.as_str().ok_or_else(|| wrong(prop, "Collection(Edm.String)", value))?;
                refuse_nul(text, || format!("An item of '{}'", prop.name))
                    .map_err(WorkloadError::BadRequest)?;
            }
            value.clone()
        }
        Kind::Complex(fields) => Value::Object(complex(fields, prop.name, value)?),
        Kind::ComplexList(fields) => {
            let items = value.as_array().ok_or_else(|| wrong(prop, "a collection", value))?;
            Value::Array(
                items
                    .iter()
                    .map(|v| complex(fields, prop.name, v).map(Value::Object))
                    .collect::<Result<_, _>>()?,
            )
        }
        Kind::TypedList(types) => {
            let items = value.as_array().ok_or_else(|| wrong(prop, "a collection", value))?;
            Value::Array(items.iter().map(|v| typed(types, v).map(Value::Object)).collect::<Result<_, _>>()?)
        }
    })
}

fn complex(fields: &[Prop], name: &str, value: &Value) -> Result<Map<String, Value>, WorkloadError> {
    let object = value
        .as_object()
        .ok_or_else(|| WorkloadError::ModelValidation(format!("The property '{name}' expects an object.")))?;
    let props: Vec<&Prop> = fields.iter().collect();
    let mut out = Map::new();
    for (key, v) in object {
        if key.starts_with('@') {
            continue;
        }
        let prop = props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(key))
            .ok_or_else(|| unknown_property(key, name))?;
        if prop.owner == Owner::Server {
            continue;
        }
        out.insert(prop.name.to_string(), value_of(prop, v)?);
    }
    Ok(out)
}

/// An item of a collection of derived complex values: typed, not abstract.
fn typed(types: &[TypedComplex], value: &Value) -> Result<Map<String, Value>, WorkloadError> {
    let object =
        value.as_object().ok_or_else(|| WorkloadError::ModelValidation("Expected an object.".into()))?;
    let base = &types[0];
    let Some(given) = object.get("@odata.type").and_then(Value::as_str) else {
        // An untyped item is read as the abstract base, which has no `value`.
        complex(base.props, base.name, value)?;
        return Err(abstract_class());
    };
    let name = type_name(given);
    if name.eq_ignore_ascii_case(base.name) {
        return Err(abstract_class());
    }
    let ty = types[1..].iter().find(|t| t.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
        WorkloadError::ModelValidation(format!(
            "A type named '{given}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
        ))
    })?;
    let mut out = Map::new();
    out.insert("@odata.type".into(), Value::String(format!("#microsoft.graph.{}", ty.name)));
    out.extend(complex(ty.props, ty.name, value)?);
    Ok(out)
}

/// An assignment target: a derived type, with `groupId` where the type has one.
pub fn target(value: &Value) -> Result<Map<String, Value>, WorkloadError> {
    let object = value
        .as_object()
        .ok_or_else(|| WorkloadError::ModelValidation("The property 'target' expects an object.".into()))?;
    let Some(given) = object.get("@odata.type").and_then(Value::as_str) else {
        return Err(abstract_class());
    };
    let name = type_name(given);
    if name.eq_ignore_ascii_case(TARGET_BASE) {
        return Err(abstract_class());
    }
    let ty = TARGET_TYPES.iter().find(|t| t.eq_ignore_ascii_case(name)).ok_or_else(|| {
        WorkloadError::ModelValidation(format!(
            "A type named '{given}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
        ))
    })?;
    let grouped = ty.to_ascii_lowercase().contains("group") || ty.starts_with("configurationManager");
    let mut out = Map::new();
    out.insert("@odata.type".into(), Value::String(format!("#microsoft.graph.{ty}")));
    for (key, v) in object {
        match key.as_str() {
            "@odata.type" => {}
            "groupId" | "collectionId" if grouped => {
                let id = v.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                    WorkloadError::ModelValidation(format!(
                        "The property '{key}' of a {ty} must be a non-empty string."
                    ))
                })?;
                out.insert(key.clone(), Value::String(id.to_ascii_lowercase()));
            }
            "deviceAndAppManagementAssignmentFilterId" => {
                out.insert(key.clone(), v.as_str().map_or(Value::Null, |s| Value::String(s.into())));
            }
            "deviceAndAppManagementAssignmentFilterType" => {
                let filter_type = Prop {
                    name: "deviceAndAppManagementAssignmentFilterType",
                    kind: Kind::Enum(&["none", "include", "exclude"]),
                    beta: false,
                    owner: Owner::Client,
                };
                out.insert(key.clone(), value_of(&filter_type, v)?);
            }
            other => return Err(unknown_property(other, ty)),
        }
    }
    if grouped && !out.contains_key("groupId") && !out.contains_key("collectionId") {
        return Err(WorkloadError::ModelValidation(format!("A {ty} needs a groupId.")));
    }
    out.entry("deviceAndAppManagementAssignmentFilterId").or_insert(Value::Null);
    out.entry("deviceAndAppManagementAssignmentFilterType").or_insert(Value::String("none".into()));
    Ok(out)
}

/// The default of a property a create left out (`Nullable="false"` kinds).
pub fn default_of(prop: &Prop) -> Value {
    match prop.kind {
        Kind::Bool => Value::Bool(false),
        Kind::Int => Value::from(0),
        Kind::Strings if prop.name == "roleScopeTagIds" => Value::Array(vec![Value::String("0".into())]),
        Kind::Strings | Kind::ComplexList(_) | Kind::TypedList(_) => Value::Array(Vec::new()),
        Kind::Enum(members) => Value::String(members[0].to_string()),
        _ => Value::Null,
    }
}
