//! Diagnostic settings as ARM takes and serves them (azure-monitor.md §1,
//! live-routing.md §1.1): the `properties` checked (categories, destinations,
//! limits), the ARM resource shape, and the routes a setting opens.

use serde_json::{Map, Value, json};

use super::RoutingError;
use super::storage::Accounts;
use crate::hubs::{category_hub, valid_hub_name};
use crate::store::Destination;

/// The only version clients use (no public spec exists for Intune's settings).
pub const API_VERSION: &str = "2017-04-01-preview";
/// Intune's log categories; `AuditLogs` carries auditgraph's events.
pub const CATEGORIES: &[&str] = &["AuditLogs", "OperationalLogs", "DeviceComplianceOrg", "Devices"];
/// The category that carries audit events.
pub const AUDIT_LOGS: &str = "AuditLogs";
/// At most five settings per resource.
pub const MAX_SETTINGS: usize = 5;
/// The route kind of a storage account destination.
pub const STORAGE: &str = "storage";
/// The route kind of an event hub destination (its target is the hub's name).
pub const EVENT_HUB: &str = "eventhub";

/// The ARM resource of a setting.
pub fn resource(name: &str, properties: &Value) -> Value {
    json!({
        "id": format!("/providers/microsoft.intune/diagnosticSettings/{name}"),
        "type": "microsoft.intune/diagnosticSettings",
        "name": name,
        "properties": properties,
    })
}

/// A setting's name: ARM's rules for resource names (1–260 characters, none of `<>*%&:\?/#`, no control).
pub fn check_name(name: &str) -> Result<(), RoutingError> {
    let bad = name.is_empty()
        || name.chars().count() > 260
        || name.chars().any(|c| c.is_control() || "<>*%&:\\?/#".contains(c))
        || name.ends_with(['.', ' ']);
    if bad {
        return Err(RoutingError::bad_request(
            "InvalidResourceName",
            format!(
                "The resource name '{name}' is invalid. It must be 1 to 260 characters, without <>*%&:\\?/# or control characters, and must not end with a period or space."
            ),
        ));
    }
    Ok(())
}

fn text_field<'v>(properties: &'v Map<String, Value>, name: &str) -> Result<Option<&'v str>, RoutingError> {
    match properties.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(RoutingError::bad_request(
            "InvalidRequestContent",
            format!("'properties.{name}' must be a string."),
        )),
    }
}

/// The `{}` segments of an ARM resource id shaped like `shape` (the fixed
/// words compare case-insensitively, as ARM ids do), if it has that shape.
fn id_segments<'a>(id: &'a str, shape: &[&str]) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    if parts.len() != shape.len() {
        return None;
    }
    let mut values = Vec::new();
    for (part, word) in parts.into_iter().zip(shape) {
        match *word {
            "{}" if !part.is_empty() => values.push(part),
            "{}" => return None,
            fixed if part.eq_ignore_ascii_case(fixed) => {}
            _ => return None,
        }
    }
    Some(values)
}

/// The storage account a `storageAccountId` names.
pub fn storage_account_name(id: &str) -> Option<&str> {
    const SHAPE: [&str; 8] = [
        "subscriptions",
        "{}",
        "resourceGroups",
        "{}",
        "providers",
        "Microsoft.Storage",
        "storageAccounts",
        "{}",
    ];
    id_segments(id, &SHAPE).map(|v| v[2])
}

/// The namespace an `eventHubAuthorizationRuleId` names
/// (`/subscriptions/…/resourceGroups/…/providers/Microsoft.EventHub/namespaces/NS/authorizationRules/RULE`).
/// auditgraph serves one namespace, whatever its name in the id.
pub fn event_hub_namespace(id: &str) -> Option<&str> {
    const SHAPE: [&str; 10] = [
        "subscriptions",
        "{}",
        "resourceGroups",
        "{}",
        "providers",
        "Microsoft.EventHub",
        "namespaces",
        "{}",
        "authorizationRules",
        "{}",
    ];
    id_segments(id, &SHAPE).map(|v| v[2])
}

/// Checks a PUT body; returns the `properties` to store (normalised) and the
/// routes they open (a destination that will carry audit events).
pub fn check(body: &Value, accounts: &Accounts) -> Result<(Value, Vec<Destination>), RoutingError> {
    let invalid = |m: &str| RoutingError::bad_request("InvalidRequestContent", m.to_string());
    let properties = body
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("The request content must be an object with 'properties'."))?;
    let logs = properties
        .get("logs")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("'properties.logs' must be an array of {category, enabled}."))?;
    let mut normalised_logs = Vec::new();
    let mut audit_enabled = false;
    for log in logs {
        let category = log
            .get("category")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Every log needs a 'category'."))?;
        let known = CATEGORIES.iter().find(|c| c.eq_ignore_ascii_case(category)).ok_or_else(|| {
            RoutingError::bad_request(
                "BadRequest",
                format!(
                    "Category '{category}' is not supported. Supported categories: {}.",
                    CATEGORIES.join(", ")
                ),
            )
        })?;
        let enabled = log
            .get("enabled")
            .and_then(Value::as_bool)
            .ok_or_else(|| invalid("Every log needs 'enabled' (true or false)."))?;
        if normalised_logs.iter().any(|l: &Value| l["category"] == *known) {
            return Err(RoutingError::bad_request(
                "BadRequest",
                format!("Category '{known}' is listed twice."),
            ));
        }
        audit_enabled |= enabled && *known == AUDIT_LOGS;
        let retention = log.get("retentionPolicy").cloned().unwrap_or(json!({"enabled": false, "days": 0}));
        normalised_logs.push(json!({"category": known, "enabled": enabled, "retentionPolicy": retention}));
    }
    let storage = text_field(properties, "storageAccountId")?;
    let workspace = text_field(properties, "workspaceId")?;
    let event_hub_rule = text_field(properties, "eventHubAuthorizationRuleId")?;
    let event_hub = text_field(properties, "eventHubName")?;
    if storage.is_none() && workspace.is_none() && event_hub_rule.is_none() {
        return Err(RoutingError::bad_request(
            "BadRequest",
            "A diagnostic setting needs a destination: storageAccountId, eventHubAuthorizationRuleId or workspaceId.".into(),
        ));
    }
    let mut destinations = Vec::new();
    if let Some(id) = storage {
        let name = storage_account_name(id).ok_or_else(|| {
            invalid(&format!("'{id}' is not a storage account id (/subscriptions/…/resourceGroups/…/providers/Microsoft.Storage/storageAccounts/NAME)."))
        })?;
        if !accounts.knows(name) {
            return Err(RoutingError::bad_request(
                "ResourceNotFound",
                format!(
                    "The storage account '{name}' could not be found. Configure it with --storage-account {name}=CONNECTION_STRING."
                ),
            ));
        }
        if audit_enabled {
            destinations.push((STORAGE.to_string(), id.to_string()));
        }
    }
    if let Some(id) = event_hub_rule {
        if event_hub_namespace(id).is_none() {
            return Err(invalid(&format!(
                "'{id}' is not an event hub authorization rule id (/subscriptions/…/resourceGroups/…/providers/Microsoft.EventHub/namespaces/NAMESPACE/authorizationRules/RULE)."
            )));
        }
        // Without a name, Azure Monitor makes a hub per category.
        let hub = event_hub.map_or_else(|| category_hub(AUDIT_LOGS), str::to_string);
        if !valid_hub_name(&hub) {
            return Err(invalid(&format!(
                "'{hub}' is not a valid event hub name: 1 to 256 letters, digits, periods, hyphens and underscores, starting and ending with a letter or digit."
            )));
        }
        if audit_enabled {
            destinations.push((EVENT_HUB.to_string(), hub));
        }
    } else if event_hub.is_some() {
        return Err(invalid("'properties.eventHubName' needs 'properties.eventHubAuthorizationRuleId'."));
    }
    let stored = json!({
        "storageAccountId": storage,
        "eventHubAuthorizationRuleId": event_hub_rule,
        "eventHubName": event_hub,
        "workspaceId": workspace,
        "logs": normalised_logs,
        "metrics": [],
    });
    Ok((stored, destinations))
}

/// A destination another setting already uses for one of the same enabled
/// categories (Azure refuses to reuse a sink per category and resource).
pub fn reused_sink(name: &str, properties: &Value, others: &[(String, Value)]) -> Option<RoutingError> {
    let enabled = |p: &Value| -> Vec<String> {
        p["logs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["enabled"] == true)
            .filter_map(|l| l["category"].as_str().map(String::from))
            .collect()
    };
    let mine = enabled(properties);
    for (other, theirs) in others.iter().filter(|(n, _)| !n.eq_ignore_ascii_case(name)) {
        for field in ["storageAccountId", "eventHubAuthorizationRuleId", "workspaceId"] {
            let (Some(a), Some(b)) = (properties[field].as_str(), theirs[field].as_str()) else { continue };
            // An event hub sink is the rule and the hub: other hubs of one namespace are other sinks.
            let hub = |p: &Value| {
                p["eventHubName"].as_str().map_or_else(|| category_hub(AUDIT_LOGS), str::to_lowercase)
            };
            if !a.eq_ignore_ascii_case(b)
                || (field == "eventHubAuthorizationRuleId" && hub(properties) != hub(theirs))
            {
                continue;
            }
            if let Some(category) = enabled(theirs).into_iter().find(|c| mine.contains(c)) {
                return Some(RoutingError::bad_request(
                    "BadRequest",
                    format!(
                        "Data sink '{a}' is already used in diagnostic setting '{other}' for category '{category}'. Data sinks can't be reused in different settings on the same category for the same resource."
                    ),
                ));
            }
        }
    }
    None
}
