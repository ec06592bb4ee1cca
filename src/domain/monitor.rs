//! The Azure Monitor shapes of an event (spec azure-monitor.md), both ways: the
//! resource-log record that storage accounts and event hubs carry, the
//! `IntuneAuditLogs` Log Analytics row, the storage blob path, event-hub batching,
//! and the conversion of a record back into an event.
//!
//! The record follows the published Intune sample: top-level keys camelCase in the
//! sample's order, `properties` PascalCase with integer enums, `time` with 7
//! fractional digits, a US-culture `ActivityDate`, `"<null>"` in
//! `TargetDisplayNames`, and .NET's escaping of `<`, `>`, `&` and `'`.
//!
//! **Lossless extension.** The documented record drops several Graph fields, so
//! auditgraph appends a few PascalCase members after the documented ones (the
//! documented keys keep their order, which string-level KQL parsing relies on):
//!
//! - `properties`: `DisplayName`, `ActivityTypeName` (Graph's `activityType`;
//!   `ActivityType` is taken by the integer operation type), `ComponentName`,
//!   `Activity`;
//! - `Actor`: `IPAddress`, `ServicePrincipalName`, `RemoteUserId`,
//!   `UserRoleScopeTags` (`RemoteTenantId` travels as the documented `PartnerTenantId`);
//! - `Targets[]`: `Type` (the resource type). `TargetObjectIds[i]` is `resources[i].resourceId`.
//!
//! An enum value outside Intune's vocabulary (which real Intune never emits) is
//! written as its string instead of an integer, so nothing is lost. Reading
//! accepts real records without the extension: missing members fall back on the
//! documented fields (`operationName` for the display name and activity type).

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Map, Value, json};

use super::event::{AuditEvent, Ticks, format_graph_datetime};
use super::graph::{BodyError, parse_event};
use super::vocabulary::CATEGORIES;

/// The `ActivityType` enum of the export (Intune's operation types), numbered by
/// list position. The doc states no integers; this numbering is an assumption
/// (azure-monitor.md §10).
pub const OPERATION_TYPES: [&str; 8] =
    ["Create", "Delete", "Patch", "Action", "SetReference", "RemoveReference", "Get", "Search"];

/// The `ActorType` enum of the export: `Unknown = 0`, then list position (§3, §10).
pub const ACTOR_TYPES: [&str; 7] =
    ["Unknown", "ItPro", "IW", "System", "Partner", "Application", "GuestUser"];

/// `ActivityResultStatus` for "Success" (the doc's value; the published sample shows 0).
pub const RESULT_SUCCESS: i64 = 1;
/// `ActivityResultStatus` for any other result (not documented).
pub const RESULT_OTHER: i64 = 0;

/// The log category of every Intune audit record (and the LA `Category` column).
pub const LOG_CATEGORY: &str = "AuditLogs";
/// The storage container of the AuditLogs category.
pub const STORAGE_CONTAINER: &str = "insights-logs-auditlogs";
/// Largest event-hub message (the doc's Basic-tier figure), in bytes.
pub const EVENT_HUB_MAX_BYTES: usize = 256 * 1024;
/// Events of one event-hub window (Intune sends roughly 5-minute batches).
pub const EVENT_HUB_WINDOW_SECS: i64 = 5 * 60;

/// The tenant-service `resourceId` of Intune (azure-monitor.md §6, inferred).
pub fn default_resource_id(tenant_id: &str) -> String {
    format!("/TENANTS/{}/PROVIDERS/MICROSOFT.INTUNE", tenant_id.to_uppercase())
}

fn opt(value: &Option<String>) -> Value {
    value.as_deref().map_or(Value::Null, |s| Value::String(s.to_string()))
}

/// An integer when the value is in the vocabulary, else the string itself.
fn enum_value(vocabulary: &[&str], value: &Option<String>) -> Value {
    match value.as_deref() {
        None => Value::Null,
        Some(s) => {
            vocabulary.iter().position(|v| *v == s).map_or_else(|| Value::String(s.to_string()), |i| json!(i))
        }
    }
}

/// The inverse of [`enum_value`]; an integer outside the table keeps its digits.
fn enum_name(vocabulary: &[&str], value: Option<&Value>, field: &str) -> Result<Option<String>, BodyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(
            n.as_u64()
                .and_then(|i| vocabulary.get(i as usize))
                .map_or_else(|| n.to_string(), |s| s.to_string()),
        )),
        Some(_) => Err(BodyError(format!("'{field}' must be an integer, a string or null"))),
    }
}

/// `ActivityDate`: US culture, no zone, seconds (`12/21/2024 1:45:10 AM`).
pub fn activity_date(at: DateTime<Utc>) -> String {
    let (pm, hour) = at.hour12();
    format!(
        "{} {hour}:{:02}:{:02} {}",
        at.format("%-m/%-d/%Y"),
        at.minute(),
        at.second(),
        if pm { "PM" } else { "AM" }
    )
}

/// The record's `properties` object.
pub fn properties(e: &AuditEvent) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("ActivityDate".into(), Value::String(activity_date(e.activity_date_time)));
    p.insert(
        "ActivityResultStatus".into(),
        match e.activity_result.as_deref() {
            None => Value::Null,
            Some("Success") => json!(RESULT_SUCCESS),
            Some(_) => json!(RESULT_OTHER),
        },
    );
    p.insert("ActivityType".into(), enum_value(&OPERATION_TYPES, &e.activity_operation_type));
    p.insert("Actor".into(), e.actor.as_ref().map_or(Value::Null, |a| {
        let mut m = Map::new();
        m.insert("ActorType".into(), enum_value(&ACTOR_TYPES, &a.actor_type));
        m.insert("Application".into(), opt(&a.application_id));
        m.insert("ApplicationName".into(), opt(&a.application_display_name));
        m.insert(
            "IsDelegatedAdmin".into(),
            Value::Bool(a.remote_tenant_id.is_some() || a.actor_type.as_deref() == Some("Partner")),
        );
        let name = a.user_principal_name.as_ref().or(a.application_display_name.as_ref()).or(a.service_principal_name.as_ref());
        m.insert("Name".into(), opt(&name.cloned()));
        m.insert("ObjectId".into(), opt(&a.user_id));
        m.insert("PartnerTenantId".into(), opt(&a.remote_tenant_id));
        m.insert("UserPermissions".into(), json!(a.user_permissions));
        m.insert("UPN".into(), opt(&a.user_principal_name));
        // Extension (see the module docs).
        m.insert("IPAddress".into(), opt(&a.ip_address));
        m.insert("ServicePrincipalName".into(), opt(&a.service_principal_name));
        m.insert("RemoteUserId".into(), opt(&a.remote_user_id));
        let tags: Vec<Value> = a
            .user_role_scope_tags
            .iter()
            .map(|t| json!({"DisplayName": opt(&t.display_name), "RoleScopeTagId": opt(&t.role_scope_tag_id)}))
            .collect();
        m.insert("UserRoleScopeTags".into(), Value::Array(tags));
        Value::Object(m)
    }));
    p.insert("AdditionalDetails".into(), Value::String(String::new()));
    p.insert("AuditEventId".into(), Value::String(e.id.clone()));
    p.insert("Category".into(), enum_value(&CATEGORIES, &e.category));
    p.insert("RelationId".into(), Value::Null);
    p.insert(
        "TargetDisplayNames".into(),
        e.resources.iter().map(|r| r.display_name.as_deref().unwrap_or("<null>")).collect(),
    );
    p.insert("TargetObjectIds".into(), e.resources.iter().map(|r| opt(&r.resource_id)).collect());
    let targets = e
        .resources
        .iter()
        .map(|r| {
            let props: Vec<Value> = r
                .modified_properties
                .iter()
                .map(|m| json!({"Name": opt(&m.display_name), "Old": opt(&m.old_value), "New": opt(&m.new_value)}))
                .collect();
            json!({"ModifiedProperties": props, "Name": opt(&r.display_name), "Type": opt(&r.resource_type)})
        })
        .collect();
    p.insert("Targets".into(), Value::Array(targets));
    // Extension (see the module docs).
    p.insert("DisplayName".into(), opt(&e.display_name));
    p.insert("ActivityTypeName".into(), opt(&e.activity_type));
    p.insert("ComponentName".into(), opt(&e.component_name));
    p.insert("Activity".into(), opt(&e.activity));
    p
}

/// `operationName` and the LA `OperationName`: the display name (§9), falling back
/// on the activity type.
fn operation_name(e: &AuditEvent) -> Value {
    opt(&e.display_name.clone().or_else(|| e.activity_type.clone()).or_else(|| e.activity.clone()))
}

fn identity(e: &AuditEvent) -> Value {
    let a = e.actor.as_ref();
    opt(&a.and_then(|a| a.user_principal_name.clone().or_else(|| a.service_principal_name.clone())))
}

fn result_description(e: &AuditEvent) -> Value {
    match e.activity_result.as_deref() {
        None => Value::Null,
        Some("Success") => Value::String("Operation completed successfully.".into()),
        Some(_) => Value::String("Operation failed.".into()),
    }
}

/// One resource-log record, as storage blobs and event hubs carry it.
pub fn record(e: &AuditEvent, tenant_id: &str) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("time".into(), Value::String(format_graph_datetime(e.activity_date_time)));
    r.insert("tenantId".into(), Value::String(tenant_id.to_string()));
    r.insert("category".into(), Value::String(LOG_CATEGORY.into()));
    r.insert("operationName".into(), operation_name(e));
    r.insert("properties".into(), Value::Object(properties(e)));
    r.insert("resultType".into(), opt(&e.activity_result));
    r.insert("resultDescription".into(), result_description(e));
    r.insert("correlationId".into(), Value::String(e.correlation_id.hyphenated().to_string()));
    r.insert("identity".into(), identity(e));
    r
}

/// An `IntuneAuditLogs` row; `Properties` is the serialized `properties` JSON.
pub fn log_analytics_row(e: &AuditEvent, workspace_id: &str) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("TimeGenerated".into(), Value::String(format_graph_datetime(e.activity_date_time)));
    r.insert("OperationName".into(), operation_name(e));
    r.insert("Category".into(), Value::String(LOG_CATEGORY.into()));
    r.insert("ResultType".into(), opt(&e.activity_result));
    r.insert("ResultDescription".into(), result_description(e));
    r.insert("CorrelationId".into(), Value::String(e.correlation_id.hyphenated().to_string()));
    r.insert("Identity".into(), identity(e));
    r.insert("Properties".into(), Value::String(to_dotnet_json(&Value::Object(properties(e)))));
    r.insert("SourceSystem".into(), Value::String("Azure".into()));
    r.insert("Type".into(), Value::String("IntuneAuditLogs".into()));
    r.insert("TenantId".into(), Value::String(workspace_id.to_string()));
    r
}

/// Compact JSON escaped as .NET's System.Text.Json writes it: `<` becomes
/// `\u003c` (hence the spec's `"\u003cnull\u003e"`), likewise `>`, `&` and `'`.
/// These characters only ever occur inside strings, so escaping the text is safe.
pub fn to_dotnet_json(value: &Value) -> String {
    let text = value.to_string();
    if !text.contains(['<', '>', '&', '\'']) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\'' => out.push_str("\\u0027"),
            c => out.push(c),
        }
    }
    out
}

/// The blob that holds an event: one `PT1H.json` per hour (grouped here by the
/// event's time, since there is no separate "time received").
pub fn storage_blob_path(resource_id: &str, at: DateTime<Utc>) -> String {
    format!(
        "{STORAGE_CONTAINER}/resourceId={}/{}/m=00/PT1H.json",
        resource_id.trim_end_matches('/'),
        at.format("y=%Y/m=%m/d=%d/h=%H")
    )
}

/// The 5-minute event-hub window of an instant.
pub fn event_hub_window(at: DateTime<Utc>) -> i64 {
    Ticks::from_datetime(at).0.div_euclid(EVENT_HUB_WINDOW_SECS * 10_000_000)
}

/// Packs serialized records into `{"records":[…]}` messages: one per 5-minute
/// window, split so that no message exceeds [`EVENT_HUB_MAX_BYTES`]. A record
/// bigger than that on its own travels alone.
#[derive(Debug, Default)]
pub struct EventHubBatcher {
    window: Option<i64>,
    message: String,
    records: usize,
}

impl EventHubBatcher {
    const OPEN: &str = "{\"records\":[";
    const CLOSE: &str = "]}";

    /// Adds a record; returns the message it closed, if any.
    pub fn push(&mut self, window: i64, record: &str) -> Option<String> {
        let fits = self.message.len() + 1 + record.len() + Self::CLOSE.len() <= EVENT_HUB_MAX_BYTES;
        let done =
            if self.records > 0 && (self.window != Some(window) || !fits) { self.finish() } else { None };
        if self.records == 0 {
            self.message.push_str(Self::OPEN);
        } else {
            self.message.push(',');
        }
        self.message.push_str(record);
        self.records += 1;
        self.window = Some(window);
        done
    }

    /// Closes the message being built, if it holds any record.
    pub fn finish(&mut self) -> Option<String> {
        if self.records == 0 {
            return None;
        }
        self.records = 0;
        let mut message = std::mem::take(&mut self.message);
        message.push_str(Self::CLOSE);
        Some(message)
    }
}

/// Case-insensitive member lookup: top-level key casing varies between Azure
/// services (`resourceId`/`resourceid`), so readers tolerate either.
fn member<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn text_member(obj: &Map<String, Value>, key: &str) -> Value {
    match member(obj, key) {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(other @ (Value::Number(_) | Value::Bool(_))) => Value::String(other.to_string()),
        _ => Value::Null,
    }
}

/// Whether a JSON object looks like a resource-log record rather than a Graph event.
pub fn is_record(value: &Value) -> bool {
    value.as_object().is_some_and(|o| {
        member(o, "properties").is_some_and(Value::is_object)
            && (member(o, "time").is_some() || member(o, "operationName").is_some())
    })
}

/// Converts a resource-log record (or an event-hub/storage record of the same
/// shape) back into an event, with the Graph validation of [`parse_event`].
pub fn parse_record(value: &Value) -> Result<AuditEvent, BodyError> {
    let obj =
        value.as_object().ok_or_else(|| BodyError("a resource-log record must be a JSON object".into()))?;
    let props = match member(obj, "properties") {
        Some(Value::Object(p)) => p,
        // Log Analytics rows carry the same object serialized in a string.
        Some(Value::String(s)) => {
            let parsed: Value =
                serde_json::from_str(s).map_err(|e| BodyError(format!("'Properties' is not JSON: {e}")))?;
            return parse_record(&json!({
                "time": member(obj, "time").or_else(|| member(obj, "TimeGenerated")).cloned(),
                "operationName": member(obj, "operationName").cloned(),
                "resultType": member(obj, "resultType").cloned(),
                "correlationId": member(obj, "correlationId").cloned(),
                "properties": parsed,
            }));
        }
        _ => return Err(BodyError("the record has no 'properties' object".into())),
    };
    let id = match member(props, "AuditEventId") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(BodyError("'properties.AuditEventId' is required".into())),
    };
    let time = match member(obj, "time").or_else(|| member(obj, "TimeGenerated")) {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(BodyError("'time' is required".into())),
    };
    let operation = text_member(obj, "operationName");
    // Present (even null) means authoritative: written by auditgraph's extension.
    let extension =
        |key: &str, fallback: &Value| member(props, key).cloned().unwrap_or_else(|| fallback.clone());

    let actor = match member(props, "Actor") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(a)) => {
            let tags: Vec<Value> = match member(a, "UserRoleScopeTags") {
                Some(Value::Array(tags)) => tags
                    .iter()
                    .map(|t| {
                        let t = t.as_object().cloned().unwrap_or_default();
                        json!({"displayName": text_member(&t, "DisplayName"), "roleScopeTagId": text_member(&t, "RoleScopeTagId")})
                    })
                    .collect(),
                _ => Vec::new(),
            };
            json!({
                "auditActorType": enum_name(&ACTOR_TYPES, member(a, "ActorType"), "Actor.ActorType")?,
                "userPermissions": member(a, "UserPermissions").cloned().unwrap_or(Value::Null),
                "applicationId": text_member(a, "Application"),
                "applicationDisplayName": text_member(a, "ApplicationName"),
                "userPrincipalName": text_member(a, "UPN"),
                "servicePrincipalName": text_member(a, "ServicePrincipalName"),
                "ipAddress": text_member(a, "IPAddress"),
                "userId": text_member(a, "ObjectId"),
                "remoteTenantId": text_member(a, "PartnerTenantId"),
                "remoteUserId": text_member(a, "RemoteUserId"),
                "userRoleScopeTags": tags,
            })
        }
        Some(_) => return Err(BodyError("'properties.Actor' must be an object".into())),
    };

    let ids = member(props, "TargetObjectIds").and_then(Value::as_array);
    let names = member(props, "TargetDisplayNames").and_then(Value::as_array);
    let targets = member(props, "Targets").and_then(Value::as_array);
    let count = [targets.map(Vec::len), ids.map(Vec::len), names.map(Vec::len)]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
    let mut resources = Vec::with_capacity(count);
    for i in 0..count {
        let target = targets.and_then(|t| t.get(i)).and_then(Value::as_object);
        let display_name = match target.and_then(|t| member(t, "Name")) {
            Some(name) => name.clone(),
            None => match names.and_then(|n| n.get(i)) {
                Some(Value::String(s)) if s != "<null>" => Value::String(s.clone()),
                _ => Value::Null,
            },
        };
        let modified: Vec<Value> = match target.and_then(|t| member(t, "ModifiedProperties")) {
            Some(Value::Array(props)) => props
                .iter()
                .map(|p| {
                    let p = p.as_object().cloned().unwrap_or_default();
                    json!({"displayName": text_member(&p, "Name"), "oldValue": text_member(&p, "Old"), "newValue": text_member(&p, "New")})
                })
                .collect(),
            _ => Vec::new(),
        };
        resources.push(json!({
            "displayName": display_name,
            "auditResourceType": target.map_or(Value::Null, |t| text_member(t, "Type")),
            "resourceId": ids.and_then(|ids| ids.get(i)).cloned().unwrap_or(Value::Null),
            "modifiedProperties": modified,
        }));
    }

    let result = match member(obj, "resultType") {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(_) => Value::Null,
        None => match member(props, "ActivityResultStatus").and_then(Value::as_i64) {
            Some(RESULT_SUCCESS) => json!("Success"),
            Some(_) => json!("Failure"),
            None => Value::Null,
        },
    };
    let graph = json!({
        "id": id,
        "displayName": extension("DisplayName", &operation),
        "componentName": extension("ComponentName", &Value::Null),
        "activity": extension("Activity", &Value::Null),
        "activityDateTime": time,
        "activityType": extension("ActivityTypeName", &operation),
        "activityOperationType": enum_name(&OPERATION_TYPES, member(props, "ActivityType"), "ActivityType")?,
        "activityResult": result,
        "correlationId": member(obj, "correlationId").cloned().unwrap_or(Value::Null),
        "category": enum_name(&CATEGORIES, member(props, "Category"), "Category")?,
        "actor": actor,
        "resources": resources,
    });
    parse_event(&graph, || id.clone(), Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::graph::{ApiVersion, event_json};

    fn sample() -> AuditEvent {
        let page: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/graph-v1-page-real-shape.json")).unwrap();
        parse_event(&page["value"][1], String::new, Utc::now).unwrap()
    }

    #[test]
    fn record_has_the_documented_shape() {
        let e = sample();
        let r = record(&e, "t");
        let keys: Vec<&str> = r.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "time",
                "tenantId",
                "category",
                "operationName",
                "properties",
                "resultType",
                "resultDescription",
                "correlationId",
                "identity"
            ]
        );
        assert_eq!(r["time"], "2024-08-09T18:29:00.7023255Z");
        let p = &r["properties"];
        assert_eq!(p["ActivityDate"], "8/9/2024 6:29:00 PM");
        assert_eq!(p["Category"], 1, "Enrollment");
        assert_eq!(p["ActivityType"], 0, "Create");
        assert_eq!(p["Actor"]["ActorType"], 1, "ItPro");
        assert_eq!(p["ActivityResultStatus"], RESULT_SUCCESS);
        assert_eq!(p["Targets"][0]["ModifiedProperties"][0]["Old"], Value::Null);
    }

    #[test]
    fn record_round_trips_every_field() {
        let mut e = sample();
        e.category = Some("SomethingNew".into());
        e.resources[0].display_name = None;
        let actor = e.actor.as_mut().unwrap();
        actor.remote_tenant_id = Some("rt".into());
        actor.remote_user_id = Some("ru".into());
        actor.user_role_scope_tags = vec![crate::domain::RoleScopeTagInfo {
            display_name: Some("Default".into()),
            role_scope_tag_id: Some("0".into()),
        }];
        let text = to_dotnet_json(&Value::Object(record(&e, "t")));
        assert!(text.contains("\\u003cnull\\u003e"), "{text}");
        let back = parse_record(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(event_json(&back, ApiVersion::Beta, None), event_json(&e, ApiVersion::Beta, None));
    }

    #[test]
    fn a_bare_intune_record_reads_back() {
        let text = r#"{"time":"2024-12-21T01:45:10.1234000Z","tenantId":"b53a","category":"AuditLogs",
          "operationName":"Update ClientCertificate","properties":{"ActivityDate":"12/21/2024 1:45:10 AM",
          "ActivityResultStatus":0,"ActivityType":1,"Actor":{"ActorType":2,"Application":null,"ApplicationName":null,
          "IsDelegatedAdmin":true,"Name":"Alexandra Rodriguez","ObjectId":"432f","PartnerTenantId":"1111",
          "UserPermissions":["*"],"UPN":"alex@example.com"},"AdditionalDetails":"","AuditEventId":"654321aa",
          "Category":1,"RelationId":null,"TargetDisplayNames":["\u003cnull\u003e"],"TargetObjectIds":["4F3B"],
          "Targets":[{"ModifiedProperties":[{"Name":"deviceID","Old":null,"New":"1234"}],"Name":"Certificate"}]},
          "resultType":"Success","resultDescription":"Operation completed successfully.",
          "correlationId":"98765432-0000-4000-8000-000000000000","identity":"alex@example.com"}"#;
        let e = parse_record(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(e.id, "654321aa");
        assert_eq!(e.activity_type.as_deref(), Some("Update ClientCertificate"));
        assert_eq!(e.activity_operation_type.as_deref(), Some("Delete"));
        assert_eq!(e.category.as_deref(), Some("Enrollment"));
        let actor = e.actor.unwrap();
        assert_eq!(actor.actor_type.as_deref(), Some("IW"));
        assert_eq!(actor.remote_tenant_id.as_deref(), Some("1111"));
        assert_eq!(e.resources[0].display_name.as_deref(), Some("Certificate"));
        assert_eq!(e.resources[0].resource_id.as_deref(), Some("4F3B"));
    }

    #[test]
    fn storage_paths_and_event_hub_messages() {
        let at = DateTime::parse_from_rfc3339("2025-01-07T14:59:59.1Z").unwrap().with_timezone(&Utc);
        assert_eq!(
            storage_blob_path(&default_resource_id("abc"), at),
            "insights-logs-auditlogs/resourceId=/TENANTS/ABC/PROVIDERS/MICROSOFT.INTUNE/y=2025/m=01/d=07/h=14/m=00/PT1H.json"
        );
        let mut b = EventHubBatcher::default();
        let big = format!("\"{}\"", "x".repeat(100_000));
        assert!(b.push(1, &big).is_none());
        assert!(b.push(1, &big).is_none());
        let full = b.push(1, &big).expect("third record overflows");
        assert!(full.len() <= EVENT_HUB_MAX_BYTES);
        let closed = b.push(2, "1").expect("a new window closes the message");
        assert_eq!(serde_json::from_str::<Value>(&closed).unwrap()["records"].as_array().unwrap().len(), 1);
        assert_eq!(b.finish().as_deref(), Some("{\"records\":[1]}"));
    }
}
