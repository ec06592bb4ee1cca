//! The Graph JSON shape of an event, per API version, both ways: serialising for
//! responses (explicit nulls, 7-digit UTC times, v1.0 vs beta fields, `$select`)
//! and parsing request bodies with Graph-style validation messages.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::event::{
    AuditActor, AuditEvent, AuditProperty, AuditResource, RoleScopeTagInfo, format_graph_datetime,
    refuse_nul, truncate_to_ticks,
};
use crate::odata::SelectProperty;

/// Longest accepted value of a short string property, in characters (the store's
/// indexed column width).
pub const MAX_SHORT_TEXT: usize = entities::SHORT_TEXT_LEN as usize;
/// Longest accepted `oldValue`/`newValue`, in characters.
pub const MAX_LONG_TEXT: usize = 16_384;
const MAX_ID: usize = entities::ID_LEN as usize;

/// The full OData media type Graph sends with JSON bodies.
pub const JSON_CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// A Graph API version: `v1.0` or `beta` (also the `--version` of export).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiVersion {
    #[value(name = "v1.0")]
    V1,
    Beta,
}

impl ApiVersion {
    pub fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

fn opt(value: &Option<String>) -> Value {
    value.as_deref().map_or(Value::Null, |s| Value::String(s.to_string()))
}

fn actor_json(a: &AuditActor, version: ApiVersion) -> Value {
    let mut m = Map::new();
    if version == ApiVersion::Beta {
        m.insert("type".into(), opt(&a.actor_type));
    }
    m.insert("auditActorType".into(), opt(&a.actor_type));
    m.insert("userPermissions".into(), json!(a.user_permissions));
    m.insert("applicationId".into(), opt(&a.application_id));
    m.insert("applicationDisplayName".into(), opt(&a.application_display_name));
    m.insert("userPrincipalName".into(), opt(&a.user_principal_name));
    m.insert("servicePrincipalName".into(), opt(&a.service_principal_name));
    m.insert("ipAddress".into(), opt(&a.ip_address));
    m.insert("userId".into(), opt(&a.user_id));
    if version == ApiVersion::Beta {
        let tags: Vec<Value> = a
            .user_role_scope_tags
            .iter()
            .map(
                |t| json!({"displayName": opt(&t.display_name), "roleScopeTagId": opt(&t.role_scope_tag_id)}),
            )
            .collect();
        m.insert("userRoleScopeTags".into(), Value::Array(tags));
        m.insert("remoteTenantId".into(), opt(&a.remote_tenant_id));
        m.insert("remoteUserId".into(), opt(&a.remote_user_id));
    }
    Value::Object(m)
}

fn resource_json(r: &AuditResource, version: ApiVersion) -> Value {
    let mut m = Map::new();
    m.insert("displayName".into(), opt(&r.display_name));
    if version == ApiVersion::Beta {
        m.insert("type".into(), opt(&r.resource_type));
    }
    m.insert("auditResourceType".into(), opt(&r.resource_type));
    m.insert("resourceId".into(), opt(&r.resource_id));
    let props: Vec<Value> = r
        .modified_properties
        .iter()
        .map(|p| {
            json!({"displayName": opt(&p.display_name), "oldValue": opt(&p.old_value), "newValue": opt(&p.new_value)})
        })
        .collect();
    m.insert("modifiedProperties".into(), Value::Array(props));
    Value::Object(m)
}

/// The event as Graph serialises it: every property, nulls explicit, in the order
/// of real captures; with `select`, only the selected properties.
pub fn event_json(
    e: &AuditEvent,
    version: ApiVersion,
    select: Option<&[SelectProperty]>,
) -> Map<String, Value> {
    use SelectProperty as S;
    let wanted = |p: S| select.is_none_or(|s| s.contains(&p));
    let mut m = Map::new();
    let mut put = |p: S, name: &str, value: Value| {
        if wanted(p) {
            m.insert(name.to_string(), value);
        }
    };
    put(S::Id, "id", Value::String(e.id.clone()));
    put(S::DisplayName, "displayName", opt(&e.display_name));
    put(S::ComponentName, "componentName", opt(&e.component_name));
    put(S::Activity, "activity", opt(&e.activity));
    put(S::ActivityDateTime, "activityDateTime", Value::String(format_graph_datetime(e.activity_date_time)));
    put(S::ActivityType, "activityType", opt(&e.activity_type));
    put(S::ActivityOperationType, "activityOperationType", opt(&e.activity_operation_type));
    put(S::ActivityResult, "activityResult", opt(&e.activity_result));
    put(S::CorrelationId, "correlationId", Value::String(e.correlation_id.hyphenated().to_string()));
    put(S::Category, "category", opt(&e.category));
    put(S::Actor, "actor", e.actor.as_ref().map_or(Value::Null, |a| actor_json(a, version)));
    put(
        S::Resources,
        "resources",
        Value::Array(e.resources.iter().map(|r| resource_json(r, version)).collect()),
    );
    m
}

/// An event's whole Graph JSON, rendered once per version on first use: a page
/// of cached events is then spliced together from bytes instead of being built
/// as `Value` trees and serialised again on every request. Beside them, the most
/// recent rendering of a selection of its fields (GraphQL's), by the selection's name.
#[derive(Debug, Default)]
pub struct Rendered {
    whole: [std::sync::OnceLock<Box<RawValue>>; 2],
    selection: std::sync::Mutex<Option<(std::sync::Arc<str>, bytes::Bytes)>>,
}

impl Rendered {
    pub fn get(&self, e: &AuditEvent, version: ApiVersion) -> &RawValue {
        self.whole[version as usize].get_or_init(|| {
            serde_json::value::to_raw_value(&event_json(e, version, None)).expect("a JSON map serialises")
        })
    }

    /// The rendering of the selection named `name`: the kept one if it has that
    /// name, else `render`'s, which is then kept instead.
    pub fn selection(&self, name: &std::sync::Arc<str>, render: impl FnOnce() -> Vec<u8>) -> bytes::Bytes {
        if let Some((kept, json)) = &*self.selection.lock().expect("rendering poisoned")
            && kept == name
        {
            return json.clone();
        }
        let json = bytes::Bytes::from(render());
        *self.selection.lock().expect("rendering poisoned") = Some((name.clone(), json.clone()));
        json
    }
}

/// Why a request body was refused; the text is the Graph error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub String);

/// Why a JSON request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonBodyError {
    /// Not JSON at all (or truncated).
    Malformed,
    /// An object names a member twice: serde_json keeps the last one, so `{"id":"a",
    /// "id":"b"}` would create `b`; ODL refuses it, and so does every door here.
    Duplicate(String),
}

impl JsonBodyError {
    /// ODL's text for a duplicate member, or None for malformed JSON (each door
    /// words that its own way).
    pub fn duplicate_message(&self) -> Option<String> {
        match self {
            JsonBodyError::Malformed => None,
            JsonBodyError::Duplicate(name) => Some(format!(
                "Multiple properties with the name '{name}' were detected in a resource or a complex value. In OData, duplicate property names are not allowed."
            )),
        }
    }
}

/// Parses a JSON request body, refusing an object (at any depth) that names a
/// member twice. serde_json's own recursion limit applies.
pub fn parse_json_body(bytes: &[u8]) -> Result<Value, JsonBodyError> {
    use std::cell::RefCell;

    use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};

    /// Builds a `Value` like serde_json's own, noting the first duplicate member.
    #[derive(Clone, Copy)]
    struct Unique<'a>(&'a RefCell<Option<String>>);

    impl<'de> DeserializeSeed<'de> for Unique<'_> {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Unique<'_> {
        type Value = Value;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_string()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(self)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut members = Map::new();
            while let Some(name) = map.next_key::<String>()? {
                if members.contains_key(&name) {
                    *self.0.borrow_mut() = Some(name);
                    return Err(A::Error::custom("duplicate member"));
                }
                let value = map.next_value_seed(self)?;
                members.insert(name, value);
            }
            Ok(Value::Object(members))
        }
    }

    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Unique(&duplicate).deserialize(&mut deserializer).and_then(|value| {
        deserializer.end()?;
        Ok(value)
    });
    parsed.map_err(|_| match duplicate.into_inner() {
        Some(name) => JsonBodyError::Duplicate(name),
        None => JsonBodyError::Malformed,
    })
}

fn unknown(property: &str, type_name: &str) -> BodyError {
    BodyError(format!(
        "The property '{property}' does not exist on type 'microsoft.graph.{type_name}'. Make sure to only use property names that are defined by the type or mark the type as open type."
    ))
}

fn expected(property: &str, edm: &str, got: &Value) -> BodyError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    BodyError(format!("Invalid value for property '{property}': expected {edm}, found {kind}."))
}

fn string(obj: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>, BodyError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => Err(BodyError(format!(
            "The value of property '{key}' is longer than the limit of {max} characters."
        ))),
        Some(Value::String(s)) => {
            refuse_nul(s, || format!("The value of property '{key}'")).map_err(BodyError)?;
            Ok(Some(s.clone()))
        }
        Some(other) => Err(expected(key, "an Edm.String", other)),
    }
}

fn strings(obj: &Map<String, Value>, key: &str) -> Result<Vec<String>, BodyError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) if s.chars().count() <= MAX_SHORT_TEXT => {
                    refuse_nul(s, || format!("An entry of property '{key}'")).map_err(BodyError)?;
                    Ok(s.clone())
                }
                Value::String(_) => Err(BodyError(format!(
                    "An entry of property '{key}' is longer than the limit of {MAX_SHORT_TEXT} characters."
                ))),
                other => Err(expected(key, "a collection of Edm.String", other)),
            })
            .collect(),
        Some(other) => Err(expected(key, "a collection of Edm.String", other)),
    }
}

fn objects<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    edm: &str,
) -> Result<Vec<&'a Map<String, Value>>, BodyError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items.iter().map(|item| item.as_object().ok_or_else(|| expected(key, edm, item))).collect()
        }
        Some(other) => Err(expected(key, edm, other)),
    }
}

/// Rejects properties the type does not declare; `@odata.*` annotations are allowed.
fn only_known(obj: &Map<String, Value>, known: &[&str], type_name: &str) -> Result<(), BodyError> {
    match obj.keys().find(|k| !k.starts_with("@odata.") && !known.contains(&k.as_str())) {
        Some(k) => Err(unknown(k, type_name)),
        None => Ok(()),
    }
}

/// Reads `auditActorType`, falling back on the older `type` spelling clients still send.
fn type_field(obj: &Map<String, Value>, new_name: &str) -> Result<Option<String>, BodyError> {
    match string(obj, new_name, MAX_SHORT_TEXT)? {
        Some(value) => Ok(Some(value)),
        None => string(obj, "type", MAX_SHORT_TEXT),
    }
}

fn parse_actor(obj: &Map<String, Value>) -> Result<AuditActor, BodyError> {
    only_known(
        obj,
        &[
            "type",
            "auditActorType",
            "userPermissions",
            "applicationId",
            "applicationDisplayName",
            "userPrincipalName",
            "servicePrincipalName",
            "ipAddress",
            "userId",
            "remoteTenantId",
            "remoteUserId",
            "userRoleScopeTags",
        ],
        "auditActor",
    )?;
    let tags = objects(obj, "userRoleScopeTags", "a collection of microsoft.graph.roleScopeTagInfo")?
        .into_iter()
        .map(|t| {
            only_known(t, &["displayName", "roleScopeTagId"], "roleScopeTagInfo")?;
            Ok(RoleScopeTagInfo {
                display_name: string(t, "displayName", MAX_SHORT_TEXT)?,
                role_scope_tag_id: string(t, "roleScopeTagId", MAX_SHORT_TEXT)?,
            })
        })
        .collect::<Result<_, BodyError>>()?;
    Ok(AuditActor {
        actor_type: type_field(obj, "auditActorType")?,
        user_permissions: strings(obj, "userPermissions")?,
        application_id: string(obj, "applicationId", MAX_SHORT_TEXT)?,
        application_display_name: string(obj, "applicationDisplayName", MAX_SHORT_TEXT)?,
        user_principal_name: string(obj, "userPrincipalName", MAX_SHORT_TEXT)?,
        service_principal_name: string(obj, "servicePrincipalName", MAX_SHORT_TEXT)?,
        ip_address: string(obj, "ipAddress", MAX_SHORT_TEXT)?,
        user_id: string(obj, "userId", MAX_SHORT_TEXT)?,
        remote_tenant_id: string(obj, "remoteTenantId", MAX_SHORT_TEXT)?,
        remote_user_id: string(obj, "remoteUserId", MAX_SHORT_TEXT)?,
        user_role_scope_tags: tags,
    })
}

fn parse_resource(obj: &Map<String, Value>) -> Result<AuditResource, BodyError> {
    only_known(
        obj,
        &["displayName", "type", "auditResourceType", "resourceId", "modifiedProperties"],
        "auditResource",
    )?;
    let modified_properties =
        objects(obj, "modifiedProperties", "a collection of microsoft.graph.auditProperty")?
            .into_iter()
            .map(|p| {
                only_known(p, &["displayName", "oldValue", "newValue"], "auditProperty")?;
                Ok(AuditProperty {
                    display_name: string(p, "displayName", MAX_SHORT_TEXT)?,
                    old_value: string(p, "oldValue", MAX_LONG_TEXT)?,
                    new_value: string(p, "newValue", MAX_LONG_TEXT)?,
                })
            })
            .collect::<Result<_, BodyError>>()?;
    Ok(AuditResource {
        display_name: string(obj, "displayName", MAX_SHORT_TEXT)?,
        resource_type: type_field(obj, "auditResourceType")?,
        resource_id: string(obj, "resourceId", MAX_SHORT_TEXT)?,
        modified_properties,
    })
}

/// Parses an Edm.DateTimeOffset as clients send it (any fraction length, any
/// offset), normalised to UTC at 100 ns precision. Every written instant passes
/// here (REST bodies, GraphQL's `DateTime`, import), so this is where Graph's
/// range holds: `None` for an instant outside years 0001–9999 in UTC (`9999-12-31T
/// 23:59:59-14:00` is in year 10000, which Graph's wire form cannot carry, so it
/// could not be exported and imported again), and for a leap second (`23:59:60`,
/// which .NET's DateTimeOffset refuses and chrono would move to the next minute).
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    if at.nanosecond() >= 1_000_000_000 {
        return None;
    }
    let at = truncate_to_ticks(at);
    (1..=9999).contains(&at.year()).then_some(at)
}

/// The one explanation of a refused DateTimeOffset, on every door.
pub fn datetime_expected(text: &str) -> String {
    format!(
        "'{text}' is not an Edm.DateTimeOffset between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.9999999Z, such as 2024-07-22T22:17:09.7552025Z."
    )
}

/// An instant as a value in Graph's wire form (UTC, 7 fractional digits, `Z`):
/// what the GraphQL door serves and accepts as its `DateTime` scalar (the
/// `ScalarType` impl is the door's, in `graphql::types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphDateTime(pub DateTime<Utc>);

impl serde::Serialize for GraphDateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_graph_datetime(self.0))
    }
}

/// A GUID as a value in Graph's wire form (hyphenated, lower case): the GraphQL
/// door's `UUID` scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphGuid(pub Uuid);

impl serde::Serialize for GraphGuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.hyphenated().to_string())
    }
}

/// The properties an auditEvent body may name.
pub(crate) const EVENT_PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "componentName",
    "actor",
    "activity",
    "activityDateTime",
    "activityType",
    "activityOperationType",
    "activityResult",
    "correlationId",
    "category",
    "resources",
];

/// Parses a Graph auditEvent object as a record (import, fixtures). `id` and
/// `activityDateTime` fall back on the given defaults when absent; `correlationId`
/// is required (a record carries the one it was written with).
pub fn parse_event(
    body: &Value,
    default_id: impl FnOnce() -> String,
    default_time: impl FnOnce() -> DateTime<Utc>,
) -> Result<AuditEvent, BodyError> {
    parse_event_with(body, default_id, default_time, || None)
}

/// Parses a create body (REST POST, the GraphQL mutation): as [`parse_event`], but an
/// absent `correlationId` takes `default_correlation` (the request's client request
/// id, as Graph defines it). An explicit `null` is still refused: it is non-nullable.
pub fn parse_new_event(
    body: &Value,
    default_id: impl FnOnce() -> String,
    default_time: impl FnOnce() -> DateTime<Utc>,
    default_correlation: impl FnOnce() -> Uuid,
) -> Result<AuditEvent, BodyError> {
    parse_event_with(body, default_id, default_time, || Some(default_correlation()))
}

fn parse_event_with(
    body: &Value,
    default_id: impl FnOnce() -> String,
    default_time: impl FnOnce() -> DateTime<Utc>,
    default_correlation: impl FnOnce() -> Option<Uuid>,
) -> Result<AuditEvent, BodyError> {
    let obj = body.as_object().ok_or_else(|| {
        BodyError("The request body must be a JSON object (a microsoft.graph.auditEvent).".into())
    })?;
    only_known(obj, EVENT_PROPERTIES, "auditEvent")?;
    if let Some(t) = obj.get("@odata.type") {
        let name = t.as_str().unwrap_or_default().trim_start_matches('#');
        if name != "microsoft.graph.auditEvent" {
            return Err(BodyError(format!(
                "A type named '{name}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
            )));
        }
    }
    let id = match string(obj, "id", MAX_ID)? {
        Some(id) if id.trim().is_empty() => {
            return Err(BodyError("The property 'id' cannot be empty.".into()));
        }
        Some(id) => id,
        None => default_id(),
    };
    let activity_date_time = match obj.get("activityDateTime") {
        None => default_time(),
        Some(Value::String(s)) => parse_datetime(s).ok_or_else(|| {
            BodyError(format!("Invalid value for property 'activityDateTime': {}", datetime_expected(s)))
        })?,
        Some(Value::Null) => {
            return Err(BodyError("The property 'activityDateTime' cannot be null.".into()));
        }
        Some(other) => return Err(expected("activityDateTime", "an Edm.DateTimeOffset string", other)),
    };
    let correlation_id = match obj.get("correlationId") {
        Some(Value::String(s)) => Uuid::parse_str(s).map_err(|_| {
            BodyError(format!("Invalid value for property 'correlationId': '{s}' is not an Edm.Guid."))
        })?,
        None => default_correlation().ok_or_else(|| {
            BodyError("The property 'correlationId' is required and cannot be null.".into())
        })?,
        Some(Value::Null) => {
            return Err(BodyError("The property 'correlationId' cannot be null.".into()));
        }
        Some(other) => return Err(expected("correlationId", "an Edm.Guid string", other)),
    };
    let actor = match obj.get("actor") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => Some(parse_actor(a)?),
        Some(other) => return Err(expected("actor", "a microsoft.graph.auditActor object", other)),
    };
    let resources = objects(obj, "resources", "a collection of microsoft.graph.auditResource")?
        .into_iter()
        .map(parse_resource)
        .collect::<Result<_, _>>()?;
    Ok(AuditEvent {
        id,
        display_name: string(obj, "displayName", MAX_SHORT_TEXT)?,
        component_name: string(obj, "componentName", MAX_SHORT_TEXT)?,
        actor,
        activity: string(obj, "activity", MAX_SHORT_TEXT)?,
        activity_date_time,
        activity_type: string(obj, "activityType", MAX_SHORT_TEXT)?,
        activity_operation_type: string(obj, "activityOperationType", MAX_SHORT_TEXT)?,
        activity_result: string(obj, "activityResult", MAX_SHORT_TEXT)?,
        correlation_id,
        category: string(obj, "category", MAX_SHORT_TEXT)?,
        resources,
    })
}

/// PATCH semantics: objects merge member by member (so `{"actor":{"ipAddress":…}}`
/// keeps the rest of the actor), anything else replaces. An explicit `null` clears.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (key, value) in p {
                match t.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge_patch(existing, value)
                    }
                    _ => {
                        t.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Applies a Graph PATCH body to a stored event, with the same validation as create.
pub fn patch_event(current: &AuditEvent, patch: &Value) -> Result<AuditEvent, BodyError> {
    let obj = patch.as_object().ok_or_else(|| {
        BodyError("The request body must be a JSON object (a microsoft.graph.auditEvent).".into())
    })?;
    if let Some(id) = obj.get("id")
        && id.as_str() != Some(current.id.as_str())
    {
        return Err(BodyError("The property 'id' cannot be changed.".into()));
    }
    // Beta carries every stored field, so merging into it loses nothing. The
    // duplicated `type` members would shadow a patched `auditActorType`, so drop them.
    let mut merged = Value::Object(event_json(current, ApiVersion::Beta, None));
    strip_type_aliases(&mut merged);
    let mut patch = patch.clone();
    // A client of the older docs patches `actor.type`; it means auditActorType.
    if let Some(actor) = patch.get_mut("actor").and_then(Value::as_object_mut)
        && !actor.contains_key("auditActorType")
        && let Some(value) = actor.remove("type")
    {
        actor.insert("auditActorType".into(), value);
    }
    merge_patch(&mut merged, &patch);
    parse_event(&merged, || current.id.clone(), || current.activity_date_time)
}

fn strip_type_aliases(event: &mut Value) {
    if let Some(actor) = event.get_mut("actor").and_then(Value::as_object_mut) {
        actor.remove("type");
    }
    if let Some(resources) = event.get_mut("resources").and_then(Value::as_array_mut) {
        for r in resources.iter_mut().filter_map(Value::as_object_mut) {
            r.remove("type");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_refuse_duplicate_members_at_any_depth() {
        assert_eq!(
            parse_json_body(br#"{"id":"a","n":[1,2.5,true,null,{"x":"y"}],"o":{"id":"b"}}"#),
            Ok(json!({"id":"a","n":[1,2.5,true,null,{"x":"y"}],"o":{"id":"b"}}))
        );
        assert_eq!(parse_json_body(br#"{"id":"a","id":"b"}"#), Err(JsonBodyError::Duplicate("id".into())));
        assert_eq!(
            parse_json_body(br#"{"actor":{"ipAddress":"1","ipAddress":"2"}}"#),
            Err(JsonBodyError::Duplicate("ipAddress".into()))
        );
        assert_eq!(parse_json_body(br#"[{"a":1},{"a":1,"a":2}]"#), Err(JsonBodyError::Duplicate("a".into())));
        for malformed in [&b"{"[..], b"{\"a\":1} x", b"", b"{\"a\" 1}"] {
            assert_eq!(parse_json_body(malformed), Err(JsonBodyError::Malformed));
        }
    }
}
