//! The CSV shape of an event: one row per event, with the Intune admin center's
//! audit-log columns first (Date, Initiated by (actor), Application name,
//! Activity, Target(s), Category, Result), then the fields a script needs to join
//! or re-query (ids, types, the full targets as Graph JSON). Quoting is left to
//! the `csv` writer (RFC 4180).

use serde_json::Value;

use super::event::{AuditEvent, format_graph_datetime};
use super::graph::{ApiVersion, event_json};

/// The header row.
pub const HEADER: [&str; 16] = [
    "Date",
    "Initiated by (actor)",
    "Application name",
    "Activity",
    "Target(s)",
    "Category",
    "Result",
    "Id",
    "Activity type",
    "Operation type",
    "Component",
    "Correlation id",
    "Actor type",
    "Actor user id",
    "Application id",
    "Resources",
];

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// One row, in [`HEADER`] order. Absent values are empty cells.
pub fn row(e: &AuditEvent) -> [String; HEADER.len()] {
    let actor = e.actor.clone().unwrap_or_default();
    // The admin center shows the user, or the application for app-only actors.
    let initiated_by = actor
        .user_principal_name
        .clone()
        .or_else(|| actor.application_display_name.clone())
        .or_else(|| actor.service_principal_name.clone())
        .unwrap_or_default();
    let targets: Vec<&str> = e.resources.iter().filter_map(|r| r.display_name.as_deref()).collect();
    let resources = event_json(e, ApiVersion::V1, None).remove("resources").unwrap_or(Value::Null);
    [
        format_graph_datetime(e.activity_date_time),
        initiated_by,
        text(&actor.application_display_name),
        text(&e.display_name.clone().or_else(|| e.activity_type.clone())),
        targets.join("; "),
        text(&e.category),
        text(&e.activity_result),
        e.id.clone(),
        text(&e.activity_type),
        text(&e.activity_operation_type),
        text(&e.component_name),
        e.correlation_id.hyphenated().to_string(),
        text(&actor.actor_type),
        text(&actor.user_id),
        text(&actor.application_id),
        resources.to_string(),
    ]
}
